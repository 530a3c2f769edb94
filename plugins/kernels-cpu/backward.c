/* Backward kernels of the CPU vtable (training): matmul, RMSNorm, RoPE,
 * attention, SwiGLU, embedding and softmax cross-entropy.
 *
 * Determinism: every output element is reduced in an order fixed by the
 * shapes and the thread count alone, so two runs with the same `threads`
 * give the same bits (what resume-equals-uninterrupted needs). Parameter
 * gradients (dw) that reduce over rows are summed by one thread in row order
 * (rmsnorm, embedding) or inside one BLAS call per block of output rows
 * (matmul); attention gives each (sequence, KV head) pair to one thread, so
 * the query heads sharing a KV head add into dk/dv in a fixed order. */
#include "kcpu.h"
#include "vexp.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- matmul: out[M,N] = in[M,K] w[N,K]^T ---- */
typedef struct {
    float *din, *dw;
    const float *dout, *in, *w;
    int M, N, K;
    float beta_din;
} mmb_arg;

/* din rows [lo, hi) = dout[lo:hi, :] . w */
static void mmb_din(void *arg, long lo, long hi)
{
    const mmb_arg *a = arg;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(hi - lo), a->K, a->N, 1.0f,
                a->dout + lo * a->N, a->N, a->w, a->K, a->beta_din, a->din + lo * a->K, a->K);
}

/* dw rows [lo, hi) += dout[:, lo:hi]^T . in */
static void mmb_dw(void *arg, long lo, long hi)
{
    const mmb_arg *a = arg;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(hi - lo), a->K, a->M, 1.0f,
                a->dout + lo, a->N, a->in, a->K, 1.0f, a->dw + lo * a->K, a->K);
}

void kcpu_matmul_backward(sieve_kctx *kc, float *din, float *dw, const float *dout,
                          const float *in, const float *w, int M, int N, int K,
                          int accumulate_din)
{
    if (M <= 0 || N <= 0 || K <= 0) return;
    mmb_arg a = {din, dw, dout, in, w, M, N, K, accumulate_din ? 1.0f : 0.0f};
    if (din) kcpu_for_rows(kc, M, 16, mmb_din, &a);
    if (dw) kcpu_for_rows(kc, N, 16, mmb_dw, &a);
}

/* ---- rmsnorm: y = x * r * w, r = 1/sqrt(mean(x^2) + eps) ----
 * dx = r * (dy*w) - x * r^3 * mean(dy*w*x);  dw += sum_m dy * x * r */
typedef struct {
    float *din;
    const float *dout, *in, *w, *rstd;
    int D;
} rmsb_arg;

static void rmsb_rows(void *arg, long lo, long hi)
{
    const rmsb_arg *a = arg;
    int D = a->D;
    for (long m = lo; m < hi; m++) {
        const float *dy = a->dout + m * D, *x = a->in + m * D;
        float *dx = a->din + m * D;
        float r = a->rstd[m];
        double dot = 0.0;
        for (int i = 0; i < D; i++) dot += (double)(dy[i] * a->w[i]) * x[i];
        float c = (float)(dot / D) * r * r * r;
        for (int i = 0; i < D; i++) dx[i] = r * (dy[i] * a->w[i]) - c * x[i];
    }
}

void kcpu_rmsnorm_backward(sieve_kctx *kc, float *din, float *dw, const float *dout,
                           const float *in, const float *w, const float *rstd, int M, int D)
{
    if (M <= 0) return;
    /* dw first: din may alias dout. Row order, one thread: fixed sums. */
    if (dw) {
        for (long m = 0; m < M; m++) {
            const float *dy = dout + m * D, *x = in + m * D;
            float r = rstd[m];
            for (int i = 0; i < D; i++) dw[i] += dy[i] * (x[i] * r);
        }
    }
    if (din) {
        rmsb_arg a = {din, dout, in, w, rstd, D};
        kcpu_for_rows(kc, M, 16, rmsb_rows, &a);
    }
}

/* rope_backward lives with the forward in rope.c: it is the inverse rotation. */


/* ---- swiglu: out = silu(g) * u ----
 * dg = dout * u * s * (1 + g (1 - s)), du = dout * g * s, s = sigmoid(g) */
typedef struct { float *dg, *du; const float *dout, *g, *u; } swib_arg;

static void swib_body(void *arg, long lo, long hi)
{
    const swib_arg *a = arg;
    long i = lo;
    for (; i + 8 <= hi; i += 8) {
        v8f g = v8f_load(a->g + i), u = v8f_load(a->u + i), d = v8f_load(a->dout + i);
        v8f s = 1.0f / (1.0f + simd_exp8(-g));
        v8f_store(a->dg + i, d * u * s * (1.0f + g * (1.0f - s)));
        v8f_store(a->du + i, d * g * s);
    }
    for (; i < hi; i++) {
        float g = a->g[i], u = a->u[i], d = a->dout[i];
        float s = 1.0f / (1.0f + simd_expf(-g));
        a->dg[i] = d * u * s * (1.0f + g * (1.0f - s));
        a->du[i] = d * g * s;
    }
}

void kcpu_swiglu_backward(sieve_kctx *kc, float *dgate, float *dup, const float *dout,
                          const float *gate, const float *up, int M, int F)
{
    swib_arg a = {dgate, dup, dout, gate, up};
    kcpu_for_rows(kc, (long)M * F, 1 << 14, swib_body, &a);
}

/* ---- embedding: dtable[ids[m]] += dout[m], rows in order ---- */
void kcpu_embedding_backward(sieve_kctx *kc, float *dtable, const float *dout,
                             const int32_t *ids, int M, int D, int V)
{
    (void)kc;
    for (int m = 0; m < M; m++) {
        int id = ids[m];
        if (id < 0 || id >= V) continue;
        float *row = dtable + (long)id * D;
        const float *g = dout + (long)m * D;
        for (int i = 0; i < D; i++) row[i] += g[i];
    }
}

/* ---- cross-entropy: dlogits = scale * (softmax - onehot) ---- */
typedef struct {
    float *dl;
    const float *logits, *lse, *scale;
    const int32_t *tgt;
    int V;
    float def_scale;
} ceb_arg;

static void ceb_rows(void *arg, long lo, long hi)
{
    const ceb_arg *a = arg;
    int V = a->V;
    for (long m = lo; m < hi; m++) {
        float *d = a->dl + m * V;
        const float *x = a->logits + m * V;
        int t = a->tgt[m];
        if (t < 0 || t >= V) {
            memset(d, 0, (size_t)V * sizeof *d);
            continue;
        }
        float s = a->scale ? a->scale[m] : a->def_scale;
        v8f vl = v8f_set1(a->lse[m]), vs = v8f_set1(s);
        int i = 0;
        for (; i + 8 <= V; i += 8) v8f_store(d + i, vs * simd_exp8(v8f_load(x + i) - vl));
        for (; i < V; i++) d[i] = s * simd_expf(x[i] - a->lse[m]);
        d[t] -= s;
    }
}

void kcpu_cross_entropy_backward(sieve_kctx *kc, float *dlogits, const float *logits,
                                 const float *lse, const int32_t *targets, const float *scale,
                                 int M, int V)
{
    if (M <= 0) return;
    int count = 0;
    if (!scale)
        for (int m = 0; m < M; m++) count += targets[m] >= 0 && targets[m] < V;
    ceb_arg a = {dlogits, logits, lse, scale, targets, V, count ? 1.0f / (float)count : 0.0f};
    kcpu_for_rows(kc, M, 1, ceb_rows, &a);
}

/* ---- attention ----
 * Per (sequence b, KV head g), one task: for each query head h of the group
 * and each block of QB queries [t0, t1) (keys 0 .. Tk-Tq+t1-1), with BLAS:
 *   S  = Q K^T (scaled), P = exp(S - lse) on the causal triangle, else 0
 *   dP = dO V^T,  Dt = rowsum(dO * O),  dS = P (dP - Dt) * scale
 *   dQ = dS K,  dK += dS^T Q,  dV += P^T dO
 * The lse of the forward makes P exact without a second pass. Under
 * attention_doc a query row also masks keys before its document's start;
 * the GEMMs of a block start at the block's earliest visible key. */
#define ATTB_QB 64

typedef struct {
    float *dq, *dk, *dv;
    const float *dout, *out, *lse, *q, *k, *v;
    const int32_t *pos;   /* [B*Tq] position in the document, or NULL (causal) */
    int B, Tq, Tk, H, KV, hd;
    size_t kv_bstride;
    float scale;
} attb_job;

static void attb_task(void *arg, int task)
{
    const attb_job *j = arg;
    int b = task / j->KV, g = task % j->KV, rep = j->H / j->KV, hd = j->hd;
    int ldq = j->H * hd, ldk = j->KV * hd;
    const float *kb0 = j->k + (size_t)b * j->kv_bstride + (size_t)g * hd;
    const float *vb0 = j->v + (size_t)b * j->kv_bstride + (size_t)g * hd;
    float *dkb0 = j->dk + (size_t)b * j->kv_bstride + (size_t)g * hd;
    float *dvb0 = j->dv + (size_t)b * j->kv_bstride + (size_t)g * hd;
    int off = j->Tk - j->Tq;   /* query t sees keys 0 .. off + t */
    size_t rowcap = (size_t)j->Tk;
    float *S = malloc(sizeof(float) * ATTB_QB * rowcap);
    float *dP = malloc(sizeof(float) * ATTB_QB * rowcap);
    float Dt[ATTB_QB];
    int lo[ATTB_QB];      /* first visible key of each query of the block */
    if (!S || !dP) {   /* cannot report from here; leave gradients zero */
        free(S);
        free(dP);
        return;
    }
    for (int h = g * rep; h < (g + 1) * rep; h++) {
        for (int t0 = 0; t0 < j->Tq; t0 += ATTB_QB) {
            int nq = j->Tq - t0 < ATTB_QB ? j->Tq - t0 : ATTB_QB;
            int k0 = off + t0 + nq;   /* keys k0 .. nk-1 enter the GEMMs */
            for (int i = 0; i < nq; i++) {
                int a = off + t0 + i;
                lo[i] = 0;
                if (j->pos) {
                    int p = j->pos[(size_t)b * j->Tq + t0 + i];
                    lo[i] = p < 0 ? a : p > a ? 0 : a - p;
                }
                k0 = lo[i] < k0 ? lo[i] : k0;
            }
            int nk = off + t0 + nq - k0;
            const float *kb = kb0 + (size_t)k0 * ldk, *vb = vb0 + (size_t)k0 * ldk;
            float *dkb = dkb0 + (size_t)k0 * ldk, *dvb = dvb0 + (size_t)k0 * ldk;
            size_t qrow = ((size_t)b * j->Tq + t0) * j->H + h;
            const float *Q = j->q + qrow * hd, *dO = j->dout + qrow * hd;
            const float *O = j->out + qrow * hd;
            float *dQ = j->dq + qrow * hd;
            const float *lse = j->lse + ((size_t)b * j->H + h) * j->Tq + t0;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, hd, 1.0f, Q, ldq,
                        kb, ldk, 0.0f, S, nk);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, hd, 1.0f, dO, ldq,
                        vb, ldk, 0.0f, dP, nk);
            for (int i = 0; i < nq; i++) {
                double s = 0.0;
                for (int c = 0; c < hd; c++) s += (double)dO[(size_t)i * ldq + c] * O[(size_t)i * ldq + c];
                Dt[i] = (float)s;
            }
            for (int i = 0; i < nq; i++) {
                float *srow = S + (size_t)i * nk, *prow = dP + (size_t)i * nk;
                int last = off + t0 + i - k0;   /* keys after it are masked */
                v8f vsc = v8f_set1(j->scale), vl = v8f_set1(lse[i]), vd = v8f_set1(Dt[i]);
                int c = 0;
                for (; c < lo[i] - k0; c++) srow[c] = prow[c] = 0.0f;   /* other documents */
                for (; c + 8 <= last + 1; c += 8) {
                    v8f p = simd_exp8(v8f_load(srow + c) * vsc - vl);
                    v8f ds = p * (v8f_load(prow + c) - vd) * vsc;
                    v8f_store(srow + c, p);
                    v8f_store(prow + c, ds);
                }
                for (; c <= last; c++) {
                    float p = simd_expf(srow[c] * j->scale - lse[i]);
                    prow[c] = p * (prow[c] - Dt[i]) * j->scale;
                    srow[c] = p;
                }
                for (; c < nk; c++) srow[c] = prow[c] = 0.0f;
            }
            /* S now holds P, dP holds dS */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, hd, nk, 1.0f, dP, nk,
                        kb, ldk, 0.0f, dQ, ldq);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, hd, nq, 1.0f, dP, nk,
                        Q, ldq, 1.0f, dkb, ldk);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, hd, nq, 1.0f, S, nk,
                        dO, ldq, 1.0f, dvb, ldk);
        }
    }
    free(S);
    free(dP);
}

void kcpu_attention_doc_backward(sieve_kctx *kc, float *dq, float *dk, float *dv,
                                 const float *dout, const float *out, const float *lse,
                                 const float *q, const float *k, const float *v,
                                 const int32_t *pos, int B, int Tq, int Tk, int H, int KV,
                                 int hd, size_t kv_bstride)
{
    if (B <= 0 || Tq <= 0 || KV <= 0 || H % KV || Tk < Tq) return;
    attb_job j = {dq, dk, dv, dout, out, lse, q, k, v, pos, B, Tq, Tk, H, KV, hd, kv_bstride,
                  1.0f / sqrtf((float)hd)};
    sieve_pool_run(kc->pool, B * KV, attb_task, &j);
}

void kcpu_attention_backward(sieve_kctx *kc, float *dq, float *dk, float *dv,
                             const float *dout, const float *out, const float *lse,
                             const float *q, const float *k, const float *v, int B, int Tq,
                             int Tk, int H, int KV, int hd, size_t kv_bstride)
{
    kcpu_attention_doc_backward(kc, dq, dk, dv, dout, out, lse, q, k, v, NULL, B, Tq, Tk, H,
                                KV, hd, kv_bstride);
}
