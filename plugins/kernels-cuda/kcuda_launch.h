/* Kernel launch and dynamic shared memory, spelled through macros so the same
 * .cu files also compile as plain C++ against the CPU emulator of
 * tests/kernels-cuda/emu (KCUDA_EMU), which runs every CUDA thread as a
 * coroutine and lets CI without a GPU check the kernels' index arithmetic,
 * barriers and shuffles against kernels-cpu. */
#ifndef SIEVE_KCUDA_LAUNCH_H
#define SIEVE_KCUDA_LAUNCH_H

#ifdef KCUDA_EMU
#include "cuda_emu.h"
#define KLAUNCH(k, grid, block, smem, stream, ...) \
    kcuda_emu_launch(dim3(grid), dim3(block), (smem), [&]() { k(__VA_ARGS__); })
#define KDYN_SMEM(name) float *name = kcuda_emu_dyn_smem()
#else
#define KLAUNCH(k, grid, block, smem, stream, ...) k<<<(grid), (block), (smem), (stream)>>>(__VA_ARGS__)
#define KDYN_SMEM(name) extern __shared__ float name[]
#endif

#endif
