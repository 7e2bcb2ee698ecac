/* Sessions and the encoder forward pass: packed (padding-free) tokens, one OpenMP region per
 * call, every op split over the team with a barrier between ops. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "model.h"
#include "parallel.h"

#ifdef _OPENMP
#include <omp.h>
#endif

struct tfe_session {
    const tfe_model *model;
    int threads;
    const tfe_gemm_impl *gemm;   /* fixed at creation from its size (tfe_kernels_gemm_for) */
    const tfe_gemm_blocking *gemm_blocking;
    int cap_batch, cap_tokens;   /* what the workspace is sized for */
    int cap_len;                 /* longest sequence the attention scratch is sized for */
    float *x, *t;                /* [tokens×D] each: hidden state and its ping-pong partner */
    float *big;                  /* [tokens × max(4D, F)]: qkv + ctx, later reused for ff */
    float *qkv, *ctx, *ff;       /* views into big: [tokens×3D], [tokens×D], [tokens×F] */
    float *scratch;              /* attention scratch, threads × scratch_stride */
    size_t scratch_stride;
    float *gemm_scratch;         /* the GEMM's, threads × gemm_scratch_stride (or NULL) */
    size_t gemm_scratch_stride;  /* tfe_gemm_scratch_floats for the model's deepest K */
    int *offsets;                /* [cap_batch + 1] */
    size_t workspace_bytes;
    int profiling;
    tfe_profile profile;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int default_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* Floats per token of the shared buffer: qkv and ctx live together during attention, the FFN
 * hidden activations reuse the same memory once both are dead. */
static size_t big_floats_per_token(const tfe_config *c)
{
    size_t attn = 4 * (size_t)c->d_model;
    return attn > (size_t)c->d_ff ? attn : (size_t)c->d_ff;
}

/* Floats of activation memory for `tokens` packed rows: linear in tokens, nothing of S². */
static size_t activation_floats(const tfe_config *c, size_t tokens)
{
    return tokens * (2 * (size_t)c->d_model + big_floats_per_token(c));
}

/* The deepest weight product's K (FFN down's d_ff, or d_model): sizes the GEMM scratch. */
static int gemm_k_max(const tfe_config *c)
{
    return c->d_ff > c->d_model ? c->d_ff : c->d_model;
}

/* Bytes a session holds: activations for `tokens` rows, each thread's attention scratch of
 * `stride` floats and GEMM scratch of `gemm_floats`, and the offsets of `batch` sequences. */
static size_t workspace_bytes(const tfe_config *c, size_t tokens, int threads, size_t stride,
                              size_t gemm_floats, int batch)
{
    return (activation_floats(c, tokens) + (size_t)threads * (stride + gemm_floats)) *
               sizeof(float) +
           ((size_t)batch + 1) * sizeof(int);
}

size_t tfe_workspace_bytes(const tfe_model *m, int max_batch, int max_seq)
{
    size_t tokens = (size_t)(max_batch > 0 ? max_batch : 1) * (size_t)(max_seq > 0 ? max_seq : 1);
    size_t stride = tfe_attention_team_scratch_floats(m->kernels.attention,
                                                      m->cfg.d_model / m->cfg.n_heads, max_seq);
    const tfe_gemm_blocking *blk;
    const tfe_gemm_impl *gemm = tfe_kernels_gemm_for(&m->kernels, (long)tokens, &blk);
    return workspace_bytes(&m->cfg, tokens, default_threads(), stride,
                           tfe_gemm_scratch_floats(gemm, gemm_k_max(&m->cfg)), max_batch);
}

static void free_workspace(tfe_session *s)
{
    free(s->x), free(s->t), free(s->big), free(s->scratch), free(s->gemm_scratch);
    free(s->offsets);
    s->x = s->t = s->big = s->qkv = s->ctx = s->ff = s->scratch = s->gemm_scratch = NULL;
    s->offsets = NULL;
    s->cap_batch = s->cap_tokens = s->cap_len = 0;
    s->workspace_bytes = 0;
}

/* Sizes the workspace for at least `batch` sequences and `tokens` packed rows; when it has to
 * grow, the attention scratch is sized for sequences of `max_len` too. A call that fits the
 * rows never allocates: its sequences longer than the scratch allows have attention read
 * their K and V in place (slower, same bits). Allocation happens only here, never inside the
 * forward pass. */
static tfe_status reserve(tfe_session *s, int batch, int tokens, int max_len, tfe_error *err)
{
    if (batch <= s->cap_batch && tokens <= s->cap_tokens)
        return TFE_OK;
    const tfe_config *c = &s->model->cfg;
    int nb = batch > s->cap_batch ? batch : s->cap_batch;
    int nt = tokens > s->cap_tokens ? tokens : s->cap_tokens;
    int nl = max_len > s->cap_len ? max_len : s->cap_len;
    free_workspace(s);
    size_t T = (size_t)nt, D = (size_t)c->d_model;
    s->scratch_stride = tfe_attention_team_scratch_floats(s->model->kernels.attention,
                                                          c->d_model / c->n_heads, nl);
    s->x = tfe_alloc_floats(T * D);
    s->t = tfe_alloc_floats(T * D);
    s->big = tfe_alloc_floats(T * big_floats_per_token(c));
    s->qkv = s->ff = s->big;
    s->ctx = s->big ? s->big + T * 3 * D : NULL;
    s->scratch = tfe_alloc_floats((size_t)s->threads * s->scratch_stride);
    const size_t gemm_floats = tfe_gemm_scratch_floats(s->gemm, gemm_k_max(c));
    s->gemm_scratch_stride = gemm_floats;
    if (gemm_floats)
        s->gemm_scratch = tfe_alloc_floats((size_t)s->threads * gemm_floats);
    s->offsets = malloc(((size_t)nb + 1) * sizeof(int));
    if (!s->x || !s->t || !s->big || !s->scratch || (gemm_floats && !s->gemm_scratch) ||
        !s->offsets) {
        free_workspace(s);
        return tfe_fail(err, TFE_ERR_NOMEM, "out of memory for a workspace of %d tokens", nt);
    }
    s->cap_batch = nb;
    s->cap_tokens = nt;
    s->cap_len = nl;
    s->workspace_bytes = workspace_bytes(c, T, s->threads, s->scratch_stride, gemm_floats, nb);
    return TFE_OK;
}

tfe_status tfe_session_create(const tfe_model *m, const tfe_session_options *o,
                              tfe_session **out, tfe_error *err)
{
    if (!m || !out)
        return tfe_fail(err, TFE_ERR_ARG, "tfe_session_create: NULL argument");
    *out = NULL;
    tfe_session *s = calloc(1, sizeof *s);
    if (!s)
        return tfe_fail(err, TFE_ERR_NOMEM, "out of memory");
    s->model = m;
    s->threads = o && o->threads > 0 ? o->threads : default_threads();
    int mb = o && o->max_batch > 0 ? o->max_batch : 1;
    int ms = o && o->max_seq > 0 ? o->max_seq : 128;
    if ((long long)mb * ms > INT32_MAX / 16) {
        free(s);
        return tfe_fail(err, TFE_ERR_ARG, "session size %d x %d is too large", mb, ms);
    }
    s->gemm = tfe_kernels_gemm_for(&m->kernels, (long)mb * ms, &s->gemm_blocking);
    tfe_status st = reserve(s, mb, mb * ms, ms, err);
    if (st) {
        free(s);
        return st;
    }
    *out = s;
    tfe_ok(err);
    return TFE_OK;
}

void tfe_session_free(tfe_session *s)
{
    if (!s)
        return;
    free_workspace(s);
    free(s);
}

int tfe_session_threads(const tfe_session *s) { return s->threads; }
const char *tfe_session_gemm(const tfe_session *s) { return s ? s->gemm->name : NULL; }
size_t tfe_session_workspace_bytes(const tfe_session *s) { return s->workspace_bytes; }
void tfe_session_set_profiling(tfe_session *s, int enabled) { s->profiling = enabled; }
void tfe_session_profile(const tfe_session *s, tfe_profile *out) { *out = s->profile; }

/* The inputs' own checks (tfe_check_inputs): ids, lengths, positions. */
static tfe_status check_inputs(const tfe_config *c, const int32_t *ids, const int32_t *lengths,
                               int batch, int seq, tfe_error *err)
{
    if (!ids)
        return tfe_fail(err, TFE_ERR_ARG, "encode: ids must not be NULL");
    if (batch < 1 || seq < 1)
        return tfe_fail(err, TFE_ERR_ARG, "encode: batch (%d) and seq (%d) must be >= 1", batch,
                        seq);
    for (int b = 0; b < batch; b++) {
        int len = lengths ? lengths[b] : seq;
        if (len < 1 || len > seq)
            return tfe_fail(err, TFE_ERR_ARG, "encode: length %d of sequence %d is not in [1, %d]",
                            len, b, seq);
        if (len > c->max_positions)
            return tfe_fail(err, TFE_ERR_ARG,
                            "encode: length %d of sequence %d exceeds max_positions %d", len, b,
                            c->max_positions);
        for (int t = 0; t < len; t++) {
            int32_t id = ids[(size_t)b * seq + t];
            if (id < 0 || id >= c->vocab_size)
                return tfe_fail(err, TFE_ERR_ARG,
                                "encode: token id %d at [%d][%d] is outside [0, %d)", id, b, t,
                                c->vocab_size);
        }
    }
    return TFE_OK;
}

tfe_status tfe_check_inputs(const tfe_model *m, const int32_t *ids, const int32_t *lengths,
                            int batch, int seq, tfe_error *err)
{
    if (!m)
        return tfe_fail(err, TFE_ERR_ARG, "encode: NULL model");
    tfe_status st = check_inputs(&m->cfg, ids, lengths, batch, seq, err);
    if (!st)
        tfe_ok(err);
    return st;
}

/* Checks every argument before any work, so a bad call writes nothing. */
static tfe_status validate(const tfe_session *s, const int32_t *ids, const int32_t *lengths,
                           int batch, int seq, const float *out, tfe_error *err)
{
    if (!out)
        return tfe_fail(err, TFE_ERR_ARG, "encode: ids and out must not be NULL");
    if ((long long)batch * seq > INT32_MAX / 16)
        return tfe_fail(err, TFE_ERR_ARG, "encode: batch x seq = %lld is too large",
                        (long long)batch * seq);
    return check_inputs(&s->model->cfg, ids, lengths, batch, seq, err);
}

/* Everything one forward pass needs, shared by the team. */
typedef struct forward {
    tfe_session *s;
    const int32_t *ids;
    int batch, seq, tokens;
    enum output { OUT_PADDED, OUT_PACKED, OUT_POOLED } output;
    tfe_pooling pooling; /* OUT_POOLED only */
    int normalize;
    float *out;
    tfe_barrier barrier; /* between ops; see parallel.h for why not omp barrier */
} forward;

enum phase { PH_EMBED, PH_QKV, PH_ATTN, PH_OUT, PH_FF1, PH_FF2, PH_LN, PH_COUNT };

static void layernorm_rows(const tfe_kernels *k, int tokens, int D, const float *x,
                           const float *r, const float *g, const float *b, float eps, float *y,
                           int tid, int nt)
{
    int lo, hi;
    tfe_split_range(tokens, nt, tid, &lo, &hi);
    for (int i = lo; i < hi; i++)
        k->layernorm->kernel(D, x + (size_t)i * D, r ? r + (size_t)i * D : NULL, g, b, eps,
                             y + (size_t)i * D);
}

/* c = act(a·wᵀ + bias) + residual; a, residual and c are packed rows (c's stride: ldc). */
static void gemm_op(const tfe_session *s, int m, const float *a, const tfe_packed *w,
                    const float *bias, int act, const float *residual, float *c, size_t ldc,
                    int tid, int nt)
{
    tfe_gemm_args g = {.m = m, .a = a, .lda = (size_t)w->k, .b = w, .bias = bias,
                       .residual = residual, .ldr = (size_t)w->n, .act = act, .c = c,
                       .ldc = ldc, .scratch = s->gemm_scratch,
                       .scratch_stride = s->gemm_scratch_stride};
    tfe_gemm_team(s->gemm, s->gemm_blocking, &g, tid, nt);
}

/* Columns a pooling work item sums: a sequence's rows are read once per item, 64 bytes of
 * each, and the sums stay in registers. */
enum { POOL_COLS = 16 };

/* f->out[b] = pooled rows of sequence b of the packed hidden states x. Items (sequence, column
 * block) are split over the team; each sums its columns over the sequence's tokens in token
 * order in double, so the bits depend on neither the team nor the batch. With normalize, a
 * barrier, then each vector is scaled by one thread. */
static void pool_output(forward *f, const float *x, int tid, int nt)
{
    const int D = f->s->model->cfg.d_model, blocks = (D + POOL_COLS - 1) / POOL_COLS;
    const int *offsets = f->s->offsets;
    int lo, hi;
    tfe_split_range(f->batch * blocks, nt, tid, &lo, &hi);
    for (int item = lo; item < hi; item++) {
        const int b = item / blocks, d0 = item % blocks * POOL_COLS;
        const int w = D - d0 < POOL_COLS ? D - d0 : POOL_COLS;
        const int len = offsets[b + 1] - offsets[b];
        const float *rows = x + (size_t)offsets[b] * D + d0;
        float *dst = f->out + (size_t)b * D + d0;
        if (f->pooling == TFE_POOL_CLS) {
            memcpy(dst, rows, (size_t)w * sizeof(float));
            continue;
        }
        double sum[POOL_COLS] = {0};
        for (int p = 0; p < len; p++)
            for (int j = 0; j < w; j++)
                sum[j] += rows[(size_t)p * D + j];
        for (int j = 0; j < w; j++)
            dst[j] = (float)(sum[j] / len);
    }
    if (!f->normalize)
        return;
    tfe_barrier_wait(&f->barrier, nt);
    tfe_split_range(f->batch, nt, tid, &lo, &hi);
    for (int b = lo; b < hi; b++) {
        float *v = f->out + (size_t)b * D;
        double sq = 0.0;
        for (int d = 0; d < D; d++)
            sq += (double)v[d] * v[d];
        const double norm = sqrt(sq), scale = 1.0 / (norm > 1e-12 ? norm : 1e-12);
        for (int d = 0; d < D; d++)
            v[d] = (float)(v[d] * scale);
    }
}

/* The team's body; tid 0 also records per-phase times when profiling. */
static void forward_team(forward *f, int tid, int nt, double *phase_time)
{
    tfe_session *s = f->s;
    const tfe_model *m = s->model;
    const tfe_config *c = &m->cfg;
    const tfe_kernels *k = &m->kernels;
    const int D = c->d_model, T = f->tokens;
    const int act = 1 + (int)c->activation;
    const size_t qkv_ld = 3 * (size_t)D;
    float *x = s->x, *t = s->t;
    int lo, hi;
    double t0 = phase_time ? now_s() : 0.0;
#define PHASE_END(ph)                                                                          \
    do {                                                                                       \
        tfe_barrier_wait(&f->barrier, nt);                                                     \
        if (phase_time) {                                                                      \
            double t1 = now_s();                                                               \
            phase_time[ph] += t1 - t0;                                                         \
            t0 = t1;                                                                           \
        }                                                                                      \
    } while (0)

    /* Embedding + positions, packed rows. */
    tfe_split_range(T, nt, tid, &lo, &hi);
    for (int b = 0, row = 0; b < f->batch; b++) {
        int len = s->offsets[b + 1] - s->offsets[b];
        for (int p = 0; p < len; p++, row++) {
            if (row < lo || row >= hi)
                continue;
            const float *e = m->embedding + (size_t)f->ids[(size_t)b * f->seq + p] * D;
            const float *pe = m->positions + (size_t)p * D;
            float *xr = x + (size_t)row * D;
            for (int d = 0; d < D; d++)
                xr[d] = e[d] + pe[d];
        }
    }
    PHASE_END(PH_EMBED);

    tfe_attention_args aa = {.batch = f->batch, .offsets = s->offsets,
                             .n_heads = c->n_heads, .d_head = D / c->n_heads, .qkv = s->qkv,
                             .qkv_ld = qkv_ld,
                             .ctx = s->ctx, .scratch = s->scratch,
                             .scratch_stride = s->scratch_stride,
                             .short_impl = k->attention_fma};
    for (int l = 0; l < c->n_layers; l++) {
        const tfe_layer *L = &m->layers[l];
        if (c->norm_first) {
            /* x = x + MHA(LN1(x)); x = x + FFN(LN2(x)); sums go to t, then x and t swap. */
            layernorm_rows(k, T, D, x, NULL, L->ln1_gamma, L->ln1_beta, c->layer_norm_eps, t,
                           tid, nt);
            PHASE_END(PH_LN);
            gemm_op(s, T, t, &L->qkv, L->qkv_bias, TFE_GEMM_ACT_NONE, NULL, s->qkv, qkv_ld,
                    tid, nt);
            PHASE_END(PH_QKV);
            tfe_attention_team(k->attention, &aa, tid, nt);
            PHASE_END(PH_ATTN);
            gemm_op(s, T, s->ctx, &L->out, L->out_bias, TFE_GEMM_ACT_NONE, x, t, (size_t)D, tid,
                    nt);
            PHASE_END(PH_OUT);
            float *tmp = x; x = t; t = tmp;
            layernorm_rows(k, T, D, x, NULL, L->ln2_gamma, L->ln2_beta, c->layer_norm_eps, t,
                           tid, nt);
            PHASE_END(PH_LN);
            gemm_op(s, T, t, &L->ff1, L->ff1_bias, act, NULL, s->ff, (size_t)c->d_ff, tid, nt);
            PHASE_END(PH_FF1);
            gemm_op(s, T, s->ff, &L->ff2, L->ff2_bias, TFE_GEMM_ACT_NONE, x, t, (size_t)D, tid,
                    nt);
            PHASE_END(PH_FF2);
            tmp = x; x = t; t = tmp;
        } else {
            /* x = LN1(x + MHA(x)); x = LN2(x + FFN(x)); the residual add is fused into LN. */
            gemm_op(s, T, x, &L->qkv, L->qkv_bias, TFE_GEMM_ACT_NONE, NULL, s->qkv, qkv_ld,
                    tid, nt);
            PHASE_END(PH_QKV);
            tfe_attention_team(k->attention, &aa, tid, nt);
            PHASE_END(PH_ATTN);
            gemm_op(s, T, s->ctx, &L->out, L->out_bias, TFE_GEMM_ACT_NONE, NULL, t, (size_t)D,
                    tid, nt);
            PHASE_END(PH_OUT);
            layernorm_rows(k, T, D, t, x, L->ln1_gamma, L->ln1_beta, c->layer_norm_eps, x,
                           tid, nt);
            PHASE_END(PH_LN);
            gemm_op(s, T, x, &L->ff1, L->ff1_bias, act, NULL, s->ff, (size_t)c->d_ff, tid, nt);
            PHASE_END(PH_FF1);
            gemm_op(s, T, s->ff, &L->ff2, L->ff2_bias, TFE_GEMM_ACT_NONE, NULL, t, (size_t)D,
                    tid, nt);
            PHASE_END(PH_FF2);
            layernorm_rows(k, T, D, t, x, L->ln2_gamma, L->ln2_beta, c->layer_norm_eps, x,
                           tid, nt);
            PHASE_END(PH_LN);
        }
    }
    if (c->final_norm) {
        layernorm_rows(k, T, D, x, NULL, m->final_gamma, m->final_beta, c->layer_norm_eps, x,
                       tid, nt);
        PHASE_END(PH_LN);
    }

    /* Output: packed rows as they are, pooled, or scattered into [batch][seq] with zero
     * padding. */
    size_t row_bytes = (size_t)D * sizeof(float);
    if (f->output == OUT_PACKED) {
        tfe_split_range(T, nt, tid, &lo, &hi);
        if (hi > lo)
            memcpy(f->out + (size_t)lo * D, x + (size_t)lo * D, (size_t)(hi - lo) * row_bytes);
    } else if (f->output == OUT_POOLED) {
        pool_output(f, x, tid, nt);
    } else {
        tfe_split_range(f->batch * f->seq, nt, tid, &lo, &hi);
        for (int r = lo; r < hi; r++) {
            int b = r / f->seq, p = r % f->seq;
            float *dst = f->out + (size_t)r * D;
            if (p < s->offsets[b + 1] - s->offsets[b])
                memcpy(dst, x + (size_t)(s->offsets[b] + p) * D, row_bytes);
            else
                memset(dst, 0, row_bytes);
        }
    }
    PHASE_END(PH_EMBED);
#undef PHASE_END
}

static tfe_status encode(tfe_session *s, const int32_t *ids, const int32_t *lengths, int batch,
                         int seq, float *out, enum output output, tfe_pooling pooling,
                         int normalize, tfe_error *err)
{
    if (!s)
        return tfe_fail(err, TFE_ERR_ARG, "encode: NULL session");
    tfe_status st = validate(s, ids, lengths, batch, seq, out, err);
    if (st)
        return st;
    int tokens = 0, max_len = 0;
    for (int b = 0; b < batch; b++) {
        int len = lengths ? lengths[b] : seq;
        tokens += len;
        max_len = len > max_len ? len : max_len;
    }
    if ((st = reserve(s, batch, tokens, max_len, err)))
        return st;
    s->offsets[0] = 0;
    for (int b = 0; b < batch; b++)
        s->offsets[b + 1] = s->offsets[b] + (lengths ? lengths[b] : seq);
    forward f = {.s = s, .ids = ids, .batch = batch, .seq = seq, .tokens = tokens,
                 .output = output, .pooling = pooling, .normalize = normalize, .out = out};
    tfe_barrier_init(&f.barrier);
    double phase[PH_COUNT] = {0};
    double start = now_s();
    int nt = s->threads;
#ifdef _OPENMP
    if (nt > 1) {
#pragma omp parallel num_threads(nt)
        {
            int tid = omp_get_thread_num();
            forward_team(&f, tid, omp_get_num_threads(), tid == 0 && s->profiling ? phase : NULL);
        }
    } else
#endif
        forward_team(&f, 0, 1, s->profiling ? phase : NULL);
    if (s->profiling) {
        tfe_profile *p = &s->profile;
        p->embed += phase[PH_EMBED], p->qkv_gemm += phase[PH_QKV];
        p->attention += phase[PH_ATTN], p->out_gemm += phase[PH_OUT];
        p->ffn_up_gemm += phase[PH_FF1], p->ffn_down_gemm += phase[PH_FF2];
        p->layernorm += phase[PH_LN], p->total += now_s() - start;
    }
    tfe_ok(err);
    return TFE_OK;
}

tfe_status tfe_encode(tfe_session *s, const int32_t *ids, const int32_t *lengths, int batch,
                      int seq, float *out, tfe_error *err)
{
    return encode(s, ids, lengths, batch, seq, out, OUT_PADDED, TFE_POOL_MEAN, 0, err);
}

tfe_status tfe_encode_packed(tfe_session *s, const int32_t *ids, const int32_t *lengths,
                             int batch, int seq, float *out, tfe_error *err)
{
    return encode(s, ids, lengths, batch, seq, out, OUT_PACKED, TFE_POOL_MEAN, 0, err);
}

tfe_status tfe_encode_pooled(tfe_session *s, const int32_t *ids, const int32_t *lengths,
                             int batch, int seq, tfe_pooling pooling, int normalize, float *out,
                             tfe_error *err)
{
    if (pooling != TFE_POOL_MEAN && pooling != TFE_POOL_CLS)
        return tfe_fail(err, TFE_ERR_ARG, "encode: unknown pooling %d (mean: %d, cls: %d)",
                        (int)pooling, (int)TFE_POOL_MEAN, (int)TFE_POOL_CLS);
    return encode(s, ids, lengths, batch, seq, out, OUT_POOLED, pooling, normalize, err);
}
