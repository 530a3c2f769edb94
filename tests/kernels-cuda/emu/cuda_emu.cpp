/* The CUDA emulator's scheduler and the CUDA runtime functions kernels-cuda
 * calls, over host memory (see cuda_emu.h). Single-threaded by design: one
 * launch at a time, coroutines switched only at barriers and shuffles. */
#include "cuda_emu.h"

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <setjmp.h>
#include <ucontext.h>
#include <vector>

namespace {

enum { READY, WAIT_BLOCK, WAIT_WARP, DONE };
constexpr size_t STACK = 64 * 1024;

/* Up to 1024 coroutines live for the whole process, each on its own stack,
 * started once through makecontext/swapcontext; every later switch uses
 * _setjmp/_longjmp, which skip ucontext's signal-mask system calls (the
 * emulator's cost is mostly these switches). */
struct ethread {
    ucontext_t ctx;
    jmp_buf env;
    uint3 tid;
    int state;
    bool started;
};

/* The launch in progress (test-only emulator: one at a time). */
struct emu_state {
    ucontext_t sched;
    jmp_buf sched_env;
    ethread th[1024];
    std::vector<char> stacks;
    std::vector<float> dyn, slots;
    uint3 bid;
    dim3 bdim, gdim;
    const std::function<void()> *body;
    int cur;
} S;

void die(const char *what)
{
    std::fprintf(stderr, "cuda-emu: block (%u,%u,%u) of grid (%u,%u,%u): %s\n", S.bid.x, S.bid.y,
                 S.bid.z, S.gdim.x, S.gdim.y, S.gdim.z, what);
    std::abort();
}

/* A thread's whole life: run the body for each block it is given. */
void entry()
{
    for (;;) {
        (*S.body)();
        S.th[S.cur].state = DONE;
        if (!_setjmp(S.th[S.cur].env)) _longjmp(S.sched_env, 1);
    }
}

void wait(int state)
{
    S.th[S.cur].state = state;
    if (!_setjmp(S.th[S.cur].env)) _longjmp(S.sched_env, 1);
}

__attribute__((noinline)) void resume(int i)
{
    S.cur = i;
    if (_setjmp(S.sched_env)) return;   /* back from the thread */
    ethread &t = S.th[i];
    if (t.started) _longjmp(t.env, 1);
    t.started = true;
    swapcontext(&S.sched, &t.ctx);
}

/* Prepares coroutine i to start in entry() on its own stack. */
__attribute__((noinline)) void make_thread(int i)
{
    ethread &t = S.th[i];
    getcontext(&t.ctx);
    t.ctx.uc_stack.ss_sp = S.stacks.data() + (size_t)i * STACK;
    t.ctx.uc_stack.ss_size = STACK;
    t.ctx.uc_link = nullptr;
    makecontext(&t.ctx, entry, 0);
}

/* Runs one block to completion. */
void run_block(int nt)
{
    for (int i = 0; i < nt; i++) {
        ethread &t = S.th[i];
        t.tid = uint3{(unsigned)i, 0, 0};
        t.state = READY;
        if (!t.started) make_thread(i);
    }
    for (;;) {
        for (int i = 0; i < nt; i++)
            if (S.th[i].state == READY) resume(i);
        int live = 0, at_block = 0;
        bool released = false;
        for (int w = 0; w * 32 < nt; w++) {
            int waiting = 0, done = 0, lanes = std::min(32, nt - w * 32);
            for (int l = 0; l < lanes; l++) {
                int s = S.th[w * 32 + l].state;
                waiting += s == WAIT_WARP;
                done += s == DONE;
            }
            if (waiting && waiting + done == lanes) {
                if (done) die("a warp shuffle with lanes that have exited");
                for (int l = 0; l < lanes; l++) S.th[w * 32 + l].state = READY;
                released = true;
            }
        }
        for (int i = 0; i < nt; i++) {
            live += S.th[i].state != DONE;
            at_block += S.th[i].state == WAIT_BLOCK;
        }
        if (live == 0) return;
        if (released) continue;
        if (at_block == live) {
            for (int i = 0; i < nt; i++)
                if (S.th[i].state == WAIT_BLOCK) S.th[i].state = READY;
            continue;
        }
        die("deadlock: threads wait at different barriers (divergent __syncthreads or shuffle)");
    }
}

}  // namespace

uint3 &kcuda_emu_tid(void) { return S.th[S.cur].tid; }
const uint3 &kcuda_emu_bid(void) { return S.bid; }
const dim3 &kcuda_emu_bdim(void) { return S.bdim; }
const dim3 &kcuda_emu_gdim(void) { return S.gdim; }
float *kcuda_emu_dyn_smem(void) { return S.dyn.data(); }

void __syncthreads(void) { wait(WAIT_BLOCK); }

float __shfl_sync(unsigned mask, float v, int src_lane)
{
    if (mask != 0xffffffffu) die("partial shuffle masks are not emulated");
    int me = S.cur, base = me - (me & 31);
    S.slots[me] = v;
    wait(WAIT_WARP);
    float r = S.slots[base + (src_lane & 31)];
    wait(WAIT_WARP);   /* nobody overwrites a slot before every lane has read */
    return r;
}

float __shfl_xor_sync(unsigned mask, float v, int lane_mask)
{
    return __shfl_sync(mask, v, (S.cur & 31) ^ lane_mask);
}

void kcuda_emu_launch(dim3 grid, dim3 block, size_t smem, const std::function<void()> &body)
{
    int nt = (int)(block.x * block.y * block.z);
    if (block.y != 1 || block.z != 1 || nt < 1 || nt > 1024) die("block size");
    if (grid.x < 1 || grid.y < 1 || grid.z < 1 || grid.y > 65535 || grid.z > 65535) die("grid size");
    if (smem > 227 * 1024) die("dynamic shared memory above the 227 KB of sm_90");
    if (S.stacks.empty()) S.stacks.resize(1024 * STACK);   /* never moves afterwards */
    S.slots.assign((size_t)nt, 0.0f);
    S.bdim = block;
    S.gdim = grid;
    S.body = &body;
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++) {
                S.bid = uint3{x, y, z};
                S.dyn.assign(smem / sizeof(float) + 1, NAN);   /* unwritten shared memory reads NaN */
                run_block(nt);
            }
}

/* ---- the CUDA runtime calls of ctx_mem.c, plugin.c, rowops.cu, attention.cu ---- */
extern "C" {
cudaError_t cudaGetDeviceCount(int *count)
{
    *count = 1;
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int) { return cudaSuccess; }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned int)
{
    *s = reinterpret_cast<cudaStream_t>(&S);
    return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaGetLastError(void) { return cudaSuccess; }
const char *cudaGetErrorName(cudaError_t) { return "cudaErrorEmulated"; }
const char *cudaGetErrorString(cudaError_t) { return "emulated CUDA error"; }
cudaError_t cudaMalloc(void **p, size_t n)
{
    *p = std::aligned_alloc(256, (n + 255) / 256 * 256);
    if (!*p) return cudaErrorMemoryAllocation;
    std::memset(*p, 0x7f, n);   /* garbage, as cudaMalloc gives */
    return cudaSuccess;
}
cudaError_t cudaFree(void *p)
{
    std::free(p);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *p, int v, size_t n, cudaStream_t)
{
    std::memset(p, v, n);
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, enum cudaMemcpyKind, cudaStream_t)
{
    std::memmove(dst, src, n);
    return cudaSuccess;
}
cudaError_t cudaFuncSetAttribute(const void *, enum cudaFuncAttribute, int) { return cudaSuccess; }
}
