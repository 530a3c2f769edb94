/* A CPU emulator for the CUDA subset kernels-cuda uses, so its .cu files
 * compile as plain C++ (KCUDA_EMU) and run in CI without a GPU: every CUDA
 * thread of a block is a coroutine (ucontext) on one OS thread; __syncthreads
 * and warp shuffles switch between them, shared memory is one buffer per
 * block (blocks run one after another), dynamic shared memory starts as NaN.
 * A barrier that not every live thread reaches, or a shuffle with lanes that
 * have exited, aborts with a message: on a GPU those would hang or be
 * undefined. What it cannot show: timing, races between blocks, the memory
 * model, real device limits beyond the few it checks (block size, grid y/z,
 * shared memory). Test-only code; never part of the plugin. */
#ifndef SIEVE_CUDA_EMU_H
#define SIEVE_CUDA_EMU_H

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>

#undef __global__
#undef __device__
#undef __host__
#undef __shared__
#undef __forceinline__
#undef __launch_bounds__
#define __global__
#define __device__
#define __host__
#define __shared__ static
#define __forceinline__ inline
#define __launch_bounds__(...)

using std::max;
using std::min;

uint3 &kcuda_emu_tid(void);
const uint3 &kcuda_emu_bid(void);
const dim3 &kcuda_emu_bdim(void);
const dim3 &kcuda_emu_gdim(void);
#define threadIdx (kcuda_emu_tid())
#define blockIdx (kcuda_emu_bid())
#define blockDim (kcuda_emu_bdim())
#define gridDim (kcuda_emu_gdim())

void __syncthreads(void);
float __shfl_sync(unsigned mask, float v, int src_lane);
float __shfl_xor_sync(unsigned mask, float v, int lane_mask);

static inline float __int_as_float(int i)
{
    float f;
    std::memcpy(&f, &i, sizeof f);
    return f;
}

static inline unsigned __float_as_uint(float f)
{
    unsigned u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

/* Runs body once per thread of every block of grid, blocks in order. */
void kcuda_emu_launch(dim3 grid, dim3 block, size_t smem, const std::function<void()> &body);
/* The running block's dynamic shared memory. */
float *kcuda_emu_dyn_smem(void);

#endif
