/* Row-wise and element-wise CUDA kernels: residual add, RMSNorm, RoPE,
 * SwiGLU, embedding, log-softmax, cross-entropy, their backward passes, AdamW,
 * and the f32 -> bf16 conversion the bf16 GEMM mode uses.
 *
 * A per-row kernel gives each row one block of RT threads; a row's sums run
 * in an order fixed by RT and the row length alone (per-thread strided sums,
 * then a butterfly over the warp, then over the warps), so a row's result
 * does not depend on how many rows come in the same call (batch invariance),
 * and every run gives the same bits. Column sums over rows (RMSNorm's dw,
 * embedding's dtable) run without atomics, in row order or in fixed chunks,
 * for the same reason. Formulas follow kernels-cpu term by term. */
#include "kcuda.h"
#include "kcuda_launch.h"

#include <math.h>
#include <stdint.h>

#define RT 256           /* threads per row block */
#define EW_MAX_BLOCKS 65535u

static __device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

static __device__ __forceinline__ float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* The block's total (blockDim.x == RT), returned to every thread. sh: RT/32 floats. */
static __device__ float block_sum(float v, float *sh)
{
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    v = warp_sum(v);
    __syncthreads();   /* an earlier call may still be reading sh */
    if (lane == 0) sh[w] = v;
    __syncthreads();
    return warp_sum(lane < RT / 32 ? sh[lane] : 0.0f);
}

static __device__ float block_max(float v, float *sh)
{
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) sh[w] = v;
    __syncthreads();
    return warp_max(lane < RT / 32 ? sh[lane] : -INFINITY);
}

static unsigned ew_blocks(size_t n)
{
    size_t b = (n + RT - 1) / RT;
    return b > EW_MAX_BLOCKS ? EW_MAX_BLOCKS : (unsigned)(b ? b : 1);
}

#define EW_LOOP(i, n) \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (size_t)gridDim.x * blockDim.x)

#define LAUNCHED(kc, what) kcuda_check((kc), cudaGetLastError(), (what))

/* ---- conversions ---- */
__global__ void to_bf16_k(uint16_t *dst, const float *src, size_t n)
{
    EW_LOOP(i, n) {
        uint32_t b = __float_as_uint(src[i]);
        if ((b & 0x7fffffffu) > 0x7f800000u) dst[i] = (uint16_t)((b >> 16) | 0x40u); /* quiet NaN */
        else dst[i] = (uint16_t)((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
    }
}

void kcuda_to_bf16(sieve_kctx *kc, uint16_t *dst, const float *src, size_t n)
{
    if (!n) return;
    KLAUNCH(to_bf16_k, ew_blocks(n), RT, 0, kc->stream, dst, src, n);
    LAUNCHED(kc, "bf16 conversion");
}

__global__ void fill_nan_k(float *p, size_t n)
{
    EW_LOOP(i, n) p[i] = __int_as_float(0x7fc00000);
}

void kcuda_fill_nan(sieve_kctx *kc, float *p, size_t n)
{
    if (!n || !p) return;
    KLAUNCH(fill_nan_k, ew_blocks(n), RT, 0, kc->stream, p, n);
    LAUNCHED(kc, "fill");
}

/* ---- matmul in a fixed order (batch_invariant) ----
 * 16 x 16 outputs per block, K in tiles of 16 taken in order; each thread
 * adds its products one k at a time, so element (m, n) is the same sequence
 * of f32 operations whatever M is. */
#define FT 16
__global__ void mm_fixed_k(float *out, const float *in, const float *w, int M, int N, int K,
                           int accumulate)
{
    __shared__ float a[FT][FT + 1], b[FT][FT + 1];
    int tx = threadIdx.x % FT, ty = threadIdx.x / FT;
    int m = blockIdx.y * FT + ty, n = blockIdx.x * FT + tx;
    int wn = blockIdx.x * FT + ty;   /* the w row this thread stages */
    float s = 0.0f;
    for (int k0 = 0; k0 < K; k0 += FT) {
        a[ty][tx] = m < M && k0 + tx < K ? in[(size_t)m * K + k0 + tx] : 0.0f;
        b[ty][tx] = wn < N && k0 + tx < K ? w[(size_t)wn * K + k0 + tx] : 0.0f;
        __syncthreads();
        int kn = min(FT, K - k0);
        for (int k = 0; k < kn; k++) s = fmaf(a[ty][k], b[tx][k], s);
        __syncthreads();
    }
    if (m < M && n < N) {
        size_t o = (size_t)m * N + n;
        out[o] = accumulate ? out[o] + s : s;
    }
}

void kcuda_matmul_fixed_order(sieve_kctx *kc, float *out, const float *in, const float *w,
                              int M, int N, int K, int accumulate)
{
    if (M <= 0 || N <= 0) return;
    if ((M + FT - 1) / FT > 65535) {
        kcuda_fail(kc, "matmul (batch_invariant): more than 1048560 rows");
        return;
    }
    dim3 g((N + FT - 1) / FT, (M + FT - 1) / FT);
    KLAUNCH(mm_fixed_k, g, FT * FT, 0, kc->stream, out, in, w, M, N, K, accumulate);
    LAUNCHED(kc, "matmul (batch_invariant)");
}

/* ---- add ---- */
__global__ void add_k(float *out, const float *a, const float *b, size_t n)
{
    EW_LOOP(i, n) out[i] = a[i] + b[i];
}

void kcuda_add(sieve_kctx *kc, float *out, const float *a, const float *b, size_t n)
{
    if (!n) return;
    KLAUNCH(add_k, ew_blocks(n), RT, 0, kc->stream, out, a, b, n);
    LAUNCHED(kc, "add");
}

/* ---- rmsnorm: out = in * rstd * w, rstd = 1/sqrt(mean(in^2) + eps) ---- */
__global__ void rms_k(float *out, float *rstd, const float *in, const float *w, int D, float eps)
{
    __shared__ float sh[RT / 32];
    size_t m = blockIdx.x;
    const float *x = in + m * D;
    float *o = out + m * D;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < D; i += RT) ss += x[i] * x[i];
    ss = block_sum(ss, sh);
    float r = (float)(1.0 / sqrt((double)ss / D + (double)eps));
    if (rstd && threadIdx.x == 0) rstd[m] = r;
    for (int i = threadIdx.x; i < D; i += RT) o[i] = (x[i] * r) * w[i];
}

void kcuda_rmsnorm(sieve_kctx *kc, float *out, float *rstd, const float *in,
                   const float *w, int M, int D, float eps)
{
    if (M <= 0) return;
    KLAUNCH(rms_k, M, RT, 0, kc->stream, out, rstd, in, w, D, eps);
    LAUNCHED(kc, "rmsnorm");
}

/* ---- rope: rotate-half, angles in double; sign -1 rotates back (backward) ---- */
__global__ void rope_k(float *x, const int32_t *pos, int nh, int hd, float theta, float sign)
{
    __shared__ float cs[512], sn[512];
    int half = hd / 2;
    size_t m = blockIdx.x;
    double p = (double)pos[m];
    for (int i = threadIdx.x; i < half; i += RT) {
        double inv = pow((double)theta, -2.0 * i / hd);
        double ang = p * inv;
        cs[i] = (float)cos(ang);
        sn[i] = sign * (float)sin(ang);
    }
    __syncthreads();
    float *row = x + m * (size_t)nh * hd;
    for (int j = threadIdx.x; j < nh * half; j += RT) {
        float *v = row + (size_t)(j / half) * hd;
        int i = j % half;
        float x0 = v[i], x1 = v[i + half];
        v[i] = x0 * cs[i] - x1 * sn[i];
        v[i + half] = x1 * cs[i] + x0 * sn[i];
    }
}

static void rope_launch(sieve_kctx *kc, float *x, const int32_t *pos, int M, int nh, int hd,
                        float theta, float sign, const char *what)
{
    if (M <= 0 || nh <= 0) return;
    if (hd > 1024 || hd % 2) {   /* the model rejects such configs first */
        kcuda_fail(kc, "rope: head size must be even and at most 1024");
        return;
    }
    KLAUNCH(rope_k, M, RT, 0, kc->stream, x, pos, nh, hd, theta, sign);
    LAUNCHED(kc, what);
}

void kcuda_rope(sieve_kctx *kc, float *x, const int32_t *pos, int M, int nh, int hd,
                float theta)
{
    rope_launch(kc, x, pos, M, nh, hd, theta, 1.0f, "rope");
}

void kcuda_rope_backward(sieve_kctx *kc, float *dx, const int32_t *pos, int M, int nh,
                         int hd, float theta)
{
    rope_launch(kc, dx, pos, M, nh, hd, theta, -1.0f, "rope_backward");
}

/* ---- swiglu ---- */
__global__ void swiglu_k(float *out, const float *gate, const float *up, size_t n)
{
    EW_LOOP(i, n) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void kcuda_swiglu(sieve_kctx *kc, float *out, const float *gate, const float *up,
                  int M, int F)
{
    size_t n = (size_t)(M > 0 ? M : 0) * (size_t)(F > 0 ? F : 0);
    if (!n) return;
    KLAUNCH(swiglu_k, ew_blocks(n), RT, 0, kc->stream, out, gate, up, n);
    LAUNCHED(kc, "swiglu");
}

/* dg = dout * u * s * (1 + g (1 - s)), du = dout * g * s, s = sigmoid(g) */
__global__ void swiglu_b_k(float *dg, float *du, const float *dout, const float *gate,
                           const float *up, size_t n)
{
    EW_LOOP(i, n) {
        float g = gate[i], u = up[i], d = dout[i];
        float s = 1.0f / (1.0f + expf(-g));
        dg[i] = d * u * s * (1.0f + g * (1.0f - s));
        du[i] = d * g * s;
    }
}

void kcuda_swiglu_backward(sieve_kctx *kc, float *dgate, float *dup, const float *dout,
                           const float *gate, const float *up, int M, int F)
{
    size_t n = (size_t)(M > 0 ? M : 0) * (size_t)(F > 0 ? F : 0);
    if (!n) return;
    KLAUNCH(swiglu_b_k, ew_blocks(n), RT, 0, kc->stream, dgate, dup, dout, gate, up, n);
    LAUNCHED(kc, "swiglu_backward");
}

/* ---- embedding ---- */
__global__ void embed_k(float *out, const int32_t *ids, const float *table, int D, int V)
{
    size_t m = blockIdx.x;
    int id = ids[m];
    float *o = out + m * D;
    const float *t = table + (size_t)(id >= 0 && id < V ? id : 0) * D;
    for (int i = threadIdx.x; i < D; i += RT) o[i] = id >= 0 && id < V ? t[i] : 0.0f;
}

void kcuda_embedding(sieve_kctx *kc, float *out, const int32_t *ids, const float *table,
                     int M, int D, int V)
{
    if (M <= 0 || D <= 0) return;
    KLAUNCH(embed_k, M, RT, 0, kc->stream, out, ids, table, D, V);
    LAUNCHED(kc, "embedding");
}

/* dtable[ids[m]] += dout[m]: thread i owns column i and walks the rows in
 * order (as kernels-cpu does), so repeated ids add up without atomics and in
 * a fixed order. */
#define EMB_T 128
__global__ void embed_b_k(float *__restrict__ dtable, const float *__restrict__ dout,
                          const int32_t *__restrict__ ids, int M, int D, int V)
{
    int i = blockIdx.x * EMB_T + threadIdx.x;
    if (i >= D) return;
    for (int m = 0; m < M; m++) {
        int id = ids[m];
        if (id < 0 || id >= V) continue;
        dtable[(size_t)id * D + i] += dout[(size_t)m * D + i];
    }
}

void kcuda_embedding_backward(sieve_kctx *kc, float *dtable, const float *dout,
                              const int32_t *ids, int M, int D, int V)
{
    if (M <= 0 || D <= 0) return;
    KLAUNCH(embed_b_k, (D + EMB_T - 1) / EMB_T, EMB_T, 0, kc->stream, dtable, dout, ids, M, D, V);
    LAUNCHED(kc, "embedding_backward");
}

/* ---- log-softmax and cross-entropy: one block per vocabulary row ---- */
static __device__ float row_lse(const float *x, int V, float *sh)
{
    float mx = -INFINITY;
    for (int i = threadIdx.x; i < V; i += RT) mx = fmaxf(mx, x[i]);
    mx = block_max(mx, sh);
    if (!isfinite(mx)) return mx;
    float s = 0.0f;
    for (int i = threadIdx.x; i < V; i += RT) s += expf(x[i] - mx);
    s = block_sum(s, sh);
    return mx + logf(s);
}

__global__ void log_softmax_k(float *out, const float *logits, int V)
{
    __shared__ float sh[RT / 32];
    size_t m = blockIdx.x;
    const float *x = logits + m * V;
    float *o = out + m * V;
    float l = row_lse(x, V, sh);
    for (int i = threadIdx.x; i < V; i += RT) o[i] = x[i] - l;
}

void kcuda_log_softmax(sieve_kctx *kc, float *out, const float *logits, int M, int V)
{
    if (M <= 0 || V <= 0) return;
    KLAUNCH(log_softmax_k, M, RT, 0, kc->stream, out, logits, V);
    LAUNCHED(kc, "log_softmax");
}

__global__ void ce_k(float *logprob, float *lse, const float *logits, const int32_t *targets,
                     int V)
{
    __shared__ float sh[RT / 32];
    size_t m = blockIdx.x;
    const float *x = logits + m * V;
    int t = targets[m];
    float l = t >= 0 || lse ? row_lse(x, V, sh) : 0.0f;
    if (threadIdx.x == 0) {
        if (lse) lse[m] = l;
        if (logprob) logprob[m] = t >= 0 && t < V ? x[t] - l : 0.0f;
    }
}

void kcuda_cross_entropy(sieve_kctx *kc, float *logprob, float *lse, const float *logits,
                         const int32_t *targets, int M, int V)
{
    if (M <= 0 || V <= 0 || (!logprob && !lse)) return;
    KLAUNCH(ce_k, M, RT, 0, kc->stream, logprob, lse, logits, targets, V);
    LAUNCHED(kc, "cross_entropy");
}

/* scale_out = 1 / (rows with a target in [0, V)), 0 when none: one block. */
__global__ void ce_count_k(float *scale_out, const int32_t *targets, int M, int V)
{
    __shared__ float sh[RT / 32];
    float c = 0.0f;   /* exact: per-thread counts stay far below 2^24 */
    for (int m = threadIdx.x; m < M; m += RT) c += targets[m] >= 0 && targets[m] < V;
    c = block_sum(c, sh);
    if (threadIdx.x == 0) *scale_out = c > 0.0f ? 1.0f / c : 0.0f;
}

/* dlogits = scale * (softmax - onehot(target)); rows without a target get 0 */
__global__ void ce_b_k(float *dl, const float *logits, const float *lse, const int32_t *targets,
                       const float *scale, const float *def_scale, int V)
{
    size_t m = blockIdx.x;
    float *d = dl + m * V;
    const float *x = logits + m * V;
    int t = targets[m];
    if (t < 0 || t >= V) {
        for (int i = threadIdx.x; i < V; i += RT) d[i] = 0.0f;
        return;
    }
    float s = scale ? scale[m] : *def_scale, l = lse[m];
    for (int i = threadIdx.x; i < V; i += RT) {
        float g = s * expf(x[i] - l);
        d[i] = i == t ? g - s : g;
    }
}

void kcuda_cross_entropy_backward(sieve_kctx *kc, float *dlogits, const float *logits,
                                  const float *lse, const int32_t *targets,
                                  const float *scale, int M, int V)
{
    if (M <= 0 || V <= 0) return;
    float *def = NULL;
    if (!scale) {
        def = (float *)kcuda_scratch(kc, sizeof(float));
        if (!def) return;
        KLAUNCH(ce_count_k, 1, RT, 0, kc->stream, def, targets, M, V);
        LAUNCHED(kc, "cross_entropy_backward (count)");
    }
    KLAUNCH(ce_b_k, M, RT, 0, kc->stream, dlogits, logits, lse, targets, scale, def, V);
    LAUNCHED(kc, "cross_entropy_backward");
}

/* ---- rmsnorm backward ----
 * dx = r * (dy*w) - x * r^3 * mean(dy*w*x);  dw += sum_m dy * x * r.
 * dw: rows in chunks of RMSB_ROWS, one partial per (chunk, column) summed in
 * row order, then the partials in chunk order: fixed for a given M. */
#define RMSB_ROWS 64

__global__ void rms_b_dw_part_k(float *part, const float *dout, const float *in,
                                const float *rstd, int M, int D)
{
    int i = blockIdx.x * RT + threadIdx.x;
    if (i >= D) return;
    int m0 = blockIdx.y * RMSB_ROWS, m1 = m0 + RMSB_ROWS < M ? m0 + RMSB_ROWS : M;
    float s = 0.0f;
    for (int m = m0; m < m1; m++) {
        size_t o = (size_t)m * D + i;
        s += dout[o] * (in[o] * rstd[m]);
    }
    part[(size_t)blockIdx.y * D + i] = s;
}

__global__ void rms_b_dw_sum_k(float *dw, const float *part, int chunks, int D)
{
    int i = blockIdx.x * RT + threadIdx.x;
    if (i >= D) return;
    float s = 0.0f;
    for (int c = 0; c < chunks; c++) s += part[(size_t)c * D + i];
    dw[i] += s;
}

__global__ void rms_b_dx_k(float *din, const float *dout, const float *in, const float *w,
                           const float *rstd, int D)
{
    __shared__ float sh[RT / 32];
    size_t m = blockIdx.x;
    const float *dy = dout + m * D, *x = in + m * D;
    float *dx = din + m * D;
    float r = rstd[m];
    float dot = 0.0f;
    for (int i = threadIdx.x; i < D; i += RT) dot += (dy[i] * w[i]) * x[i];
    dot = block_sum(dot, sh);
    float c = dot / D * r * r * r;
    for (int i = threadIdx.x; i < D; i += RT) dx[i] = r * (dy[i] * w[i]) - c * x[i];
}

void kcuda_rmsnorm_backward(sieve_kctx *kc, float *din, float *dw, const float *dout,
                            const float *in, const float *w, const float *rstd,
                            int M, int D)
{
    if (M <= 0 || D <= 0) return;
    /* dw first: din may alias dout (stream order keeps the reads first). */
    if (dw) {
        int chunks = (M + RMSB_ROWS - 1) / RMSB_ROWS;
        float *part = (float *)kcuda_scratch(kc, (size_t)chunks * D * sizeof(float));
        if (!part) return;
        dim3 g((D + RT - 1) / RT, chunks);
        KLAUNCH(rms_b_dw_part_k, g, RT, 0, kc->stream, part, dout, in, rstd, M, D);
        LAUNCHED(kc, "rmsnorm_backward (dw partials)");
        KLAUNCH(rms_b_dw_sum_k, (D + RT - 1) / RT, RT, 0, kc->stream, dw, part, chunks, D);
        LAUNCHED(kc, "rmsnorm_backward (dw)");
    }
    if (din) {
        KLAUNCH(rms_b_dx_k, M, RT, 0, kc->stream, din, dout, in, w, rstd, D);
        LAUNCHED(kc, "rmsnorm_backward (din)");
    }
}

/* ---- adamw (torch.optim.AdamW), bias corrections c1, c2 from the host ---- */
__global__ void adamw_k(float *p, const float *g, float *m, float *v, size_t n, float lr,
                        float b1, float b2, float eps, float wd, float c1, float c2)
{
    EW_LOOP(i, n) {
        float gi = g[i];
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float mh = mi / c1, vh = vi / c2;
        p[i] -= lr * (mh / (sqrtf(vh) + eps) + wd * p[i]);
    }
}

void kcuda_adamw(sieve_kctx *kc, float *params, const float *grads, float *m, float *v,
                 size_t n, float lr, float beta1, float beta2, float eps,
                 float weight_decay, int step)
{
    if (!n) return;
    /* The same float expressions as kernels-cpu. */
    float c1 = 1.0f - powf(beta1, (float)step), c2 = 1.0f - powf(beta2, (float)step);
    KLAUNCH(adamw_k, ew_blocks(n), RT, 0, kc->stream, params, grads, m, v, n, lr, beta1, beta2, eps,
                                                 weight_decay, c1, c2);
    LAUNCHED(kc, "adamw");
}
