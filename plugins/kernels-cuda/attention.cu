/* Causal grouped-query attention on the GPU, flash style (online softmax over
 * key tiles, never a Tq x Tk score matrix), forward and backward, in f32.
 *
 * Layout of the work: one warp per query row (forward, dq) or per key row
 * (dk, dv); a block holds AW = 8 such warps of the same sequence and head,
 * which share the key (or query) tiles staged in shared memory. Lane l of a
 * warp scores element l of the 32-row tile, then the warp walks the tile's
 * rows in order, adding each row's weight times that row into its
 * accumulator (lanes split the head dimension: element lane + 32 r).
 * Shared tiles that lanes read row-wise are padded to hd + 1 floats per row,
 * so the 32 lanes hit 32 different banks.
 *
 * Order: key tiles start at absolute position 0 and are visited in order, so
 * a query row's arithmetic depends only on its own query and the keys it sees:
 * the same alone or in a batch, with or without a KV cache. The backward pass
 * recomputes scores from q, k and the forward's lse (no stored probabilities)
 * and writes every dq, dk, dv row from one warp, so it needs no atomics and
 * every run gives the same bits. Head sizes up to 256 (LLaMA uses 64 or 128).
 *
 * Document masking (attention_doc): with pos given, a query at row index a
 * with in-document position p sees keys a-p .. a only; tiles wholly before
 * that are skipped, lanes before it score nothing. pos == NULL is the
 * causal kernel itself. */
#include "kcuda.h"
#include "kcuda_launch.h"

#include <math.h>
#include <stdint.h>

#define AW 8          /* warps (rows) per block */
#define KT 32         /* rows per shared tile: one per lane */
#define AT (AW * 32)  /* threads per block */
#define ATT_MAXHD 256

#define LAUNCHED(kc, what) kcuda_check((kc), cudaGetLastError(), (what))

static __device__ __forceinline__ float wsum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

static __device__ __forceinline__ float wmax(float v)
{
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* sum_c a[c] * b[c] over hd floats, sequentially (one lane's dot product). */
static __device__ __forceinline__ float dotf(const float *a, const float *b, int hd)
{
    float s = 0.0f;
    for (int c = 0; c < hd; c++) s += a[c] * b[c];
    return s;
}

/* Shared memory (floats): key tile [KT][hd+1], value tile [KT][hd+1], and
 * per warp its query row [hd] (and, backward, its dout row [hd]). */
static size_t fwd_smem(int hd) { return sizeof(float) * ((size_t)2 * KT * (hd + 1) + (size_t)AW * hd); }
static size_t dq_smem(int hd) { return sizeof(float) * ((size_t)2 * KT * (hd + 1) + (size_t)2 * AW * hd); }
static size_t dkv_smem(int hd) { return sizeof(float) * ((size_t)2 * KT * (hd + 1) + 2 * KT + (size_t)2 * AW * hd); }

/* First key a query at row index a sees, from its in-document position
 * (NULL pos: 0; padding, p < 0: only itself). */
static __device__ __forceinline__ int doc_start(const int32_t *pos, size_t qi, int a)
{
    if (!pos) return 0;
    int p = pos[qi];
    return p < 0 ? a : p > a ? 0 : a - p;
}

struct att_args {
    float *out, *lse;
    const float *q, *k, *v;
    const int32_t *pos;
    int B, Tq, Tk, H, KV, hd;
    size_t kv_bstride;
    float scale;
};

/* grid (ceil(Tq/AW), H, B); warp w of block x handles query t = x*AW + w. */
template <int NR>
__global__ void __launch_bounds__(AT) att_fwd_k(att_args a)
{
    KDYN_SMEM(sm);
    const int hd = a.hd, hp = hd + 1, lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    const int b = blockIdx.z, h = blockIdx.y, g = h / (a.H / a.KV);
    const int off = a.Tk - a.Tq;                       /* query t sees keys 0 .. off + t */
    const int t = blockIdx.x * AW + w;
    const int t_last = min((int)(blockIdx.x + 1) * AW, a.Tq) - 1;
    const int nk_block = off + t_last + 1;             /* keys any warp here needs */
    const int nkeys = off + t + 1;
    const bool live = t < a.Tq;
    float *Ks = sm, *Vs = Ks + KT * hp, *Qs = Vs + KT * hp + w * hd;
    const size_t rs = (size_t)a.KV * hd;               /* floats between positions */
    const float *kbase = a.k + (size_t)b * a.kv_bstride + (size_t)g * hd;
    const float *vbase = a.v + (size_t)b * a.kv_bstride + (size_t)g * hd;
    const size_t qrow = (((size_t)b * a.Tq + (live ? t : 0)) * a.H + h) * hd;
    const int k0 = live ? doc_start(a.pos, (size_t)b * a.Tq + t, off + t) : 0;
    if (live)
        for (int c = lane; c < hd; c += 32) Qs[c] = a.q[qrow + c];
    float acc[NR];
#pragma unroll
    for (int r = 0; r < NR; r++) acc[r] = 0.0f;
    float m = -INFINITY, l = 0.0f;
    for (int kb = 0; kb < nk_block; kb += KT) {
        __syncthreads();   /* the previous tile is consumed (and Qs is written) */
        for (int i = threadIdx.x; i < KT * hd; i += AT) {
            int j = i / hd, c = i % hd, key = kb + j;
            bool in = key < nk_block;
            Ks[j * hp + c] = in ? kbase[(size_t)key * rs + c] : 0.0f;
            Vs[j * hp + c] = in ? vbase[(size_t)key * rs + c] : 0.0f;
        }
        __syncthreads();
        if (!live || kb >= nkeys || kb + KT <= k0) continue;
        const int n = min(KT, nkeys - kb);
        const bool in = lane < n && kb + lane >= k0;
        float s = in ? dotf(Qs, Ks + lane * hp, hd) * a.scale : -INFINITY;
        float mnew = fmaxf(m, wmax(s));
        float corr = m == -INFINITY ? 0.0f : expf(m - mnew);
        float p = in ? expf(s - mnew) : 0.0f;
        l = l * corr + wsum(p);
#pragma unroll
        for (int r = 0; r < NR; r++) acc[r] *= corr;
        for (int j = 0; j < n; j++) {
            float pj = __shfl_sync(0xffffffffu, p, j);
            const float *vr = Vs + j * hp;
#pragma unroll
            for (int r = 0; r < NR; r++) {
                int c = lane + 32 * r;
                if (c < hd) acc[r] += pj * vr[c];
            }
        }
        m = mnew;
    }
    if (!live) return;
    float inv = 1.0f / l;
#pragma unroll
    for (int r = 0; r < NR; r++) {
        int c = lane + 32 * r;
        if (c < hd) a.out[qrow + c] = acc[r] * inv;
    }
    if (a.lse && lane == 0) a.lse[((size_t)b * a.H + h) * a.Tq + t] = m + logf(l);
}

struct attb_args {
    float *dq, *dk, *dv, *Dt;
    const float *dout, *out, *lse, *q, *k, *v;
    const int32_t *pos;
    int B, Tq, Tk, H, KV, hd;
    size_t kv_bstride;
    float scale;
};

/* Dt[b,h,t] = sum_c dout * out over the head dimension; one warp per row. */
__global__ void __launch_bounds__(AT) att_dt_k(attb_args a)
{
    const int lane = threadIdx.x & 31;
    const size_t row = (size_t)blockIdx.x * AW + (threadIdx.x >> 5);   /* (b, t, h) */
    const size_t rows = (size_t)a.B * a.Tq * a.H;
    if (row >= rows) return;
    const float *o = a.out + row * a.hd, *d = a.dout + row * a.hd;
    float s = 0.0f;
    for (int c = lane; c < a.hd; c += 32) s += d[c] * o[c];
    s = wsum(s);
    int h = (int)(row % a.H);
    size_t bt = row / a.H, b = bt / a.Tq, t = bt % a.Tq;
    if (lane == 0) a.Dt[(b * a.H + h) * a.Tq + t] = s;
}

/* dq: grid (ceil(Tq/AW), H, B), warp per query row, like the forward:
 *   p = exp(q.k scale - lse), ds = p (dout.v - Dt) scale, dq = sum ds k. */
template <int NR>
__global__ void __launch_bounds__(AT) att_dq_k(attb_args a)
{
    KDYN_SMEM(sm);
    const int hd = a.hd, hp = hd + 1, lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    const int b = blockIdx.z, h = blockIdx.y, g = h / (a.H / a.KV);
    const int off = a.Tk - a.Tq;
    const int t = blockIdx.x * AW + w;
    const int t_last = min((int)(blockIdx.x + 1) * AW, a.Tq) - 1;
    const int nk_block = off + t_last + 1, nkeys = off + t + 1;
    const bool live = t < a.Tq;
    float *Ks = sm, *Vs = Ks + KT * hp, *Qs = Vs + KT * hp + w * hd, *dOs = Vs + KT * hp + AW * hd + w * hd;
    const size_t rs = (size_t)a.KV * hd;
    const float *kbase = a.k + (size_t)b * a.kv_bstride + (size_t)g * hd;
    const float *vbase = a.v + (size_t)b * a.kv_bstride + (size_t)g * hd;
    const size_t qrow = (((size_t)b * a.Tq + (live ? t : 0)) * a.H + h) * hd;
    const int k0 = live ? doc_start(a.pos, (size_t)b * a.Tq + t, off + t) : 0;
    float lse = 0.0f, Dt = 0.0f;
    if (live) {
        for (int c = lane; c < hd; c += 32) {
            Qs[c] = a.q[qrow + c];
            dOs[c] = a.dout[qrow + c];
        }
        lse = a.lse[((size_t)b * a.H + h) * a.Tq + t];
        Dt = a.Dt[((size_t)b * a.H + h) * a.Tq + t];
    }
    float acc[NR];
#pragma unroll
    for (int r = 0; r < NR; r++) acc[r] = 0.0f;
    for (int kb = 0; kb < nk_block; kb += KT) {
        __syncthreads();
        for (int i = threadIdx.x; i < KT * hd; i += AT) {
            int j = i / hd, c = i % hd, key = kb + j;
            bool in = key < nk_block;
            Ks[j * hp + c] = in ? kbase[(size_t)key * rs + c] : 0.0f;
            Vs[j * hp + c] = in ? vbase[(size_t)key * rs + c] : 0.0f;
        }
        __syncthreads();
        if (!live || kb >= nkeys || kb + KT <= k0) continue;
        const int n = min(KT, nkeys - kb);
        float ds = 0.0f;
        if (lane < n && kb + lane >= k0) {
            float p = expf(dotf(Qs, Ks + lane * hp, hd) * a.scale - lse);
            ds = p * (dotf(dOs, Vs + lane * hp, hd) - Dt) * a.scale;
        }
        for (int j = 0; j < n; j++) {
            float dj = __shfl_sync(0xffffffffu, ds, j);
            const float *kr = Ks + j * hp;
#pragma unroll
            for (int r = 0; r < NR; r++) {
                int c = lane + 32 * r;
                if (c < hd) acc[r] += dj * kr[c];
            }
        }
    }
    if (!live) return;
#pragma unroll
    for (int r = 0; r < NR; r++) {
        int c = lane + 32 * r;
        if (c < hd) a.dq[qrow + c] = acc[r];
    }
}

/* dk, dv: grid (ceil(Tk/AW), KV, B), warp per key row j of KV head g; walks
 * every query head of the group, then query tiles in order:
 *   dk += sum ds q,  dv += sum p dout   (then added into dk, dv). */
template <int NR>
__global__ void __launch_bounds__(AT) att_dkv_k(attb_args a)
{
    KDYN_SMEM(sm);
    const int hd = a.hd, hp = hd + 1, lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    const int b = blockIdx.z, g = blockIdx.y, rep = a.H / a.KV;
    const int off = a.Tk - a.Tq;                     /* key j is seen by queries t >= j - off */
    const int j = blockIdx.x * AW + w;
    const bool live = j < a.Tk;
    const int t_first = max(0, (int)blockIdx.x * AW - off);
    float *Qt = sm, *dOt = Qt + KT * hp, *lse_t = dOt + KT * hp, *Dt_t = lse_t + KT;
    float *Kw = Dt_t + KT + w * hd, *Vw = Dt_t + KT + AW * hd + w * hd;
    const size_t kvrow = (size_t)b * a.kv_bstride + ((size_t)(live ? j : 0) * a.KV + g) * hd;
    if (live)
        for (int c = lane; c < hd; c += 32) {
            Kw[c] = a.k[kvrow + c];
            Vw[c] = a.v[kvrow + c];
        }
    float dk[NR], dv[NR];
#pragma unroll
    for (int r = 0; r < NR; r++) dk[r] = dv[r] = 0.0f;
    for (int h = g * rep; h < (g + 1) * rep; h++) {
        for (int tb = t_first; tb < a.Tq; tb += KT) {
            __syncthreads();
            for (int i = threadIdx.x; i < KT * hd; i += AT) {
                int r = i / hd, c = i % hd, t = tb + r;
                bool in = t < a.Tq;
                size_t row = (((size_t)b * a.Tq + (in ? t : 0)) * a.H + h) * hd;
                Qt[r * hp + c] = in ? a.q[row + c] : 0.0f;
                dOt[r * hp + c] = in ? a.dout[row + c] : 0.0f;
            }
            for (int r = threadIdx.x; r < KT; r += AT) {
                int t = tb + r;
                size_t li = ((size_t)b * a.H + h) * a.Tq + (t < a.Tq ? t : 0);
                lse_t[r] = t < a.Tq ? a.lse[li] : 0.0f;
                Dt_t[r] = t < a.Tq ? a.Dt[li] : 0.0f;
            }
            __syncthreads();
            if (!live) continue;
            const int t = tb + lane;
            const bool sees = t < a.Tq && j <= off + t &&
                              j >= doc_start(a.pos, (size_t)b * a.Tq + t, off + t);
            float p = 0.0f, ds = 0.0f;
            if (sees) {
                p = expf(dotf(Kw, Qt + lane * hp, hd) * a.scale - lse_t[lane]);
                ds = p * (dotf(Vw, dOt + lane * hp, hd) - Dt_t[lane]) * a.scale;
            }
            const int n = min(KT, a.Tq - tb);
            for (int i = 0; i < n; i++) {
                float pi = __shfl_sync(0xffffffffu, p, i), di = __shfl_sync(0xffffffffu, ds, i);
                const float *qr = Qt + i * hp, *dr = dOt + i * hp;
#pragma unroll
                for (int r = 0; r < NR; r++) {
                    int c = lane + 32 * r;
                    if (c < hd) {
                        dk[r] += di * qr[c];
                        dv[r] += pi * dr[c];
                    }
                }
            }
        }
    }
    if (!live) return;
#pragma unroll
    for (int r = 0; r < NR; r++) {
        int c = lane + 32 * r;
        if (c < hd) {
            a.dk[kvrow + c] += dk[r];
            a.dv[kvrow + c] += dv[r];
        }
    }
}

/* Kernels whose shared memory passes the default 48 KB must opt in. */
template <typename F>
static bool smem_ok(sieve_kctx *kc, F *fn, size_t bytes, const char *what)
{
    if (bytes <= 48 * 1024) return true;
    cudaError_t e = cudaFuncSetAttribute((const void *)fn, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         (int)bytes);
    kcuda_check(kc, e, what);
    return e == cudaSuccess;
}

template <int NR>
static void fwd_launch(sieve_kctx *kc, const att_args &a)
{
    dim3 grid((a.Tq + AW - 1) / AW, a.H, a.B);
    size_t sm = fwd_smem(a.hd);
    if (!smem_ok(kc, att_fwd_k<NR>, sm, "attention: shared memory")) return;
    KLAUNCH(att_fwd_k<NR>, grid, AT, sm, kc->stream, a);
    LAUNCHED(kc, "attention");
}

static bool shapes_ok(sieve_kctx *kc, int B, int Tq, int Tk, int H, int KV, int hd,
                      const char *what)
{
    if (B <= 0 || Tq <= 0 || hd <= 0) return false;   /* nothing to do */
    if (KV <= 0 || H % KV || Tk < Tq || hd > ATT_MAXHD || H > 65535 || B > 65535) {
        kcuda_fail(kc, what);
        return false;
    }
    return true;
}

void kcuda_attention(sieve_kctx *kc, float *out, float *lse, const float *q,
                     const float *k, const float *v, int B, int Tq, int Tk,
                     int H, int KV, int hd, size_t kv_bstride)
{
    kcuda_attention_doc(kc, out, lse, q, k, v, NULL, B, Tq, Tk, H, KV, hd, kv_bstride);
}

void kcuda_attention_doc(sieve_kctx *kc, float *out, float *lse, const float *q,
                         const float *k, const float *v, const int32_t *pos, int B, int Tq,
                         int Tk, int H, int KV, int hd, size_t kv_bstride)
{
    if (!shapes_ok(kc, B, Tq, Tk, H, KV, hd,
                   "attention: unsupported shape (needs H % KV == 0, Tk >= Tq, head size <= 256)")) {
        if (B > 0 && Tq > 0 && H > 0 && hd > 0) kcuda_fill_nan(kc, out, (size_t)B * Tq * H * hd);
        return;
    }
    att_args a = {out, lse, q, k, v, pos, B, Tq, Tk, H, KV, hd, kv_bstride,
                  1.0f / sqrtf((float)hd)};
    if (hd <= 32) fwd_launch<1>(kc, a);
    else if (hd <= 64) fwd_launch<2>(kc, a);
    else if (hd <= 128) fwd_launch<4>(kc, a);
    else fwd_launch<8>(kc, a);
}

template <int NR>
static void bwd_launch(sieve_kctx *kc, const attb_args &a)
{
    size_t sq = dq_smem(a.hd), skv = dkv_smem(a.hd);
    if (!smem_ok(kc, att_dq_k<NR>, sq, "attention_backward: shared memory") ||
        !smem_ok(kc, att_dkv_k<NR>, skv, "attention_backward: shared memory"))
        return;
    KLAUNCH(att_dq_k<NR>, dim3((a.Tq + AW - 1) / AW, a.H, a.B), AT, sq, kc->stream, a);
    LAUNCHED(kc, "attention_backward (dq)");
    KLAUNCH(att_dkv_k<NR>, dim3((a.Tk + AW - 1) / AW, a.KV, a.B), AT, skv, kc->stream, a);
    LAUNCHED(kc, "attention_backward (dk, dv)");
}

void kcuda_attention_backward(sieve_kctx *kc, float *dq, float *dk, float *dv,
                              const float *dout, const float *out, const float *lse,
                              const float *q, const float *k, const float *v, int B,
                              int Tq, int Tk, int H, int KV, int hd, size_t kv_bstride)
{
    kcuda_attention_doc_backward(kc, dq, dk, dv, dout, out, lse, q, k, v, NULL, B, Tq, Tk, H,
                                 KV, hd, kv_bstride);
}

void kcuda_attention_doc_backward(sieve_kctx *kc, float *dq, float *dk, float *dv,
                                  const float *dout, const float *out, const float *lse,
                                  const float *q, const float *k, const float *v,
                                  const int32_t *pos, int B, int Tq, int Tk, int H, int KV,
                                  int hd, size_t kv_bstride)
{
    if (!shapes_ok(kc, B, Tq, Tk, H, KV, hd,
                   "attention_backward: unsupported shape (needs H % KV == 0, Tk >= Tq, "
                   "head size <= 256)"))
        return;
    size_t rows = (size_t)B * Tq * H;
    float *Dt = (float *)kcuda_scratch(kc, rows * sizeof(float));
    if (!Dt) return;
    attb_args a = {dq, dk, dv, Dt, dout, out, lse, q, k, v, pos, B, Tq, Tk, H, KV, hd,
                   kv_bstride, 1.0f / sqrtf((float)hd)};
    KLAUNCH(att_dt_k, (unsigned)((rows + AW - 1) / AW), AT, 0, kc->stream, a);
    LAUNCHED(kc, "attention_backward (dout . out)");
    if (hd <= 32) bwd_launch<1>(kc, a);
    else if (hd <= 64) bwd_launch<2>(kc, a);
    else if (hd <= 128) bwd_launch<4>(kc, a);
    else bwd_launch<8>(kc, a);
}
