/* Causal grouped-query attention with an online softmax (as FlashAttention):
 * for each query row, keys are visited in blocks of ATT_KB positions aligned to
 * the row's first visible key (position 0, or the start of its document under
 * attention_doc), keeping only a running max, a running sum and the
 * output accumulator. Aligning to the document start makes a document packed
 * into a row after others get the bits it gets alone at the row's start. Memory is O(ATT_KB) per row instead of O(T^2) per head,
 * and a row's arithmetic depends only on its own query and the keys it sees:
 * the same with or without a KV cache, alone or in a batch. */
#include "kcpu.h"
#include "vexp.h"

#include <math.h>
#include <string.h>

#define ATT_KB 64      /* keys per block */
#define ATT_QB 16      /* query rows per task */
#define ATT_MAXHD 1024

typedef struct {
    float *out, *lse;
    const float *q, *k, *v;
    const int32_t *pos;   /* [B*Tq] position in the document, or NULL (causal) */
    int B, Tq, Tk, H, KV, hd, qblocks;
    size_t kv_bstride;
    float scale;
} att_job;

static float dot(const float *a, const float *b, int n)
{
    int i = 0;
    float s = 0.0f;
    if (n >= 8) {
        v8f acc = v8f_load(a) * v8f_load(b);
        for (i = 8; i + 8 <= n; i += 8) acc += v8f_load(a + i) * v8f_load(b + i);
        s = v8f_hsum(acc);
    }
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* acc = acc * c + p * x over n floats */
static void axpby(float *acc, float c, float p, const float *x, int n)
{
    int i = 0;
    v8f vc = v8f_set1(c), vp = v8f_set1(p);
    for (; i + 8 <= n; i += 8) v8f_store(acc + i, v8f_load(acc + i) * vc + vp * v8f_load(x + i));
    for (; i < n; i++) acc[i] = acc[i] * c + p * x[i];
}

static void att_row(const att_job *j, int b, int h, int t, float *acc)
{
    int hd = j->hd, g = h / (j->H / j->KV);
    int a = j->Tk - j->Tq + t, k0 = 0;   /* keys k0 .. a */
    if (j->pos) {
        int p = j->pos[(long)b * j->Tq + t];
        k0 = p < 0 ? a : p > a ? 0 : a - p;
    }
    int nkeys = a + 1;
    const float *q = j->q + (((long)b * j->Tq + t) * j->H + h) * hd;
    const float *kbase = j->k + (size_t)b * j->kv_bstride + (size_t)g * hd;
    const float *vbase = j->v + (size_t)b * j->kv_bstride + (size_t)g * hd;
    size_t rs = (size_t)j->KV * hd;   /* floats between consecutive positions */
    float s[ATT_KB];
    float m = -INFINITY, l = 0.0f;
    memset(acc, 0, (size_t)hd * sizeof *acc);
    for (int kb = k0; kb < nkeys; kb += ATT_KB) {
        int n = nkeys - kb < ATT_KB ? nkeys - kb : ATT_KB;
        float bm = -INFINITY;
        for (int i = 0; i < n; i++) {
            s[i] = dot(q, kbase + (size_t)(kb + i) * rs, hd) * j->scale;
            bm = s[i] > bm ? s[i] : bm;
        }
        float mnew = bm > m ? bm : m;
        float corr = m == -INFINITY ? 0.0f : simd_expf(m - mnew);
        l *= corr;
        for (int i = 0; i < n; i++) {
            float p = simd_expf(s[i] - mnew);
            l += p;
            axpby(acc, i == 0 ? corr : 1.0f, p, vbase + (size_t)(kb + i) * rs, hd);
        }
        m = mnew;
    }
    float *o = j->out + (((long)b * j->Tq + t) * j->H + h) * hd;
    float inv = 1.0f / l;
    for (int i = 0; i < hd; i++) o[i] = acc[i] * inv;
    if (j->lse) j->lse[((long)b * j->H + h) * j->Tq + t] = m + logf(l);
}

static void att_task(void *arg, int task)
{
    const att_job *j = arg;
    float acc[ATT_MAXHD];
    int qb = task % j->qblocks;
    int bh = task / j->qblocks;
    int b = bh / j->H, h = bh % j->H;
    int t1 = (qb + 1) * ATT_QB < j->Tq ? (qb + 1) * ATT_QB : j->Tq;
    for (int t = qb * ATT_QB; t < t1; t++) att_row(j, b, h, t, acc);
}

void kcpu_attention_doc(sieve_kctx *kc, float *out, float *lse, const float *q,
                        const float *k, const float *v, const int32_t *pos, int B, int Tq,
                        int Tk, int H, int KV, int hd, size_t kv_bstride)
{
    if (B <= 0 || Tq <= 0 || hd > ATT_MAXHD || KV <= 0 || H % KV) return;
    att_job j = {out, lse, q, k, v, pos, B, Tq, Tk, H, KV, hd, (Tq + ATT_QB - 1) / ATT_QB,
                 kv_bstride, 1.0f / sqrtf((float)hd)};
    sieve_pool_run(kc->pool, B * H * j.qblocks, att_task, &j);
}

void kcpu_attention(sieve_kctx *kc, float *out, float *lse, const float *q,
                    const float *k, const float *v, int B, int Tq, int Tk,
                    int H, int KV, int hd, size_t kv_bstride)
{
    kcpu_attention_doc(kc, out, lse, q, k, v, NULL, B, Tq, Tk, H, KV, hd, kv_bstride);
}
