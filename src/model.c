/* Model creation: from a model directory (safetensors + config.json) or from a preset with
 * seeded random weights; both fill the same packed layout through one weight source. */
#define _DEFAULT_SOURCE /* madvise, MADV_HUGEPAGE */
#include "model.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "config.h"
#include "cpu.h"
#include "error.h"
#include "safetensors.h"

float *tfe_alloc_floats(size_t n)
{
    const size_t huge = (size_t)2 << 20;
    if (n == 0 || n > (SIZE_MAX - huge) / sizeof(float))
        return NULL;
    size_t bytes = (n * sizeof(float) + 63) & ~(size_t)63;
    if (bytes < 2 * huge)
        return aligned_alloc(64, bytes);
    /* Weights and activations are streamed once per layer: on 4 KiB pages every page is a
     * TLB miss. Start big buffers on a 2 MiB boundary and ask for transparent huge pages on
     * the whole 2 MiB chunks (the tail keeps small pages, so nothing extra becomes resident). */
    float *p = aligned_alloc(huge, (bytes + huge - 1) & ~(huge - 1));
#ifdef MADV_HUGEPAGE
    if (p)
        madvise(p, bytes & ~(huge - 1), MADV_HUGEPAGE);
#endif
    return p;
}

/* Where weights come from: a safetensors file, or a seeded generator. */
typedef struct weight_source {
    const tfe_st_file *file; /* NULL: random */
    unsigned char *used;     /* per file tensor: read by the model (the rest is an error) */
    uint64_t rng;            /* xorshift state for random weights */
} weight_source;

static uint64_t next_u64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Kind of tensor, for the random generator: matrices ~U(±0.035) (std 0.02, BERT's init),
 * biases small, LayerNorm gamma 1 and beta 0. */
enum init_kind { INIT_MATRIX, INIT_BIAS, INIT_ONES, INIT_ZEROS };

/* Fills dst[count] with the tensor `name` of shape dims (ndim 1 or 2). */
static tfe_status read_tensor(weight_source *src, const char *name, int ndim, int64_t d0,
                              int64_t d1, enum init_kind kind, float *dst, tfe_error *err)
{
    int64_t dims[2] = {d0, d1};
    size_t count = (size_t)d0 * (size_t)(ndim == 2 ? d1 : 1);
    if (src->file) {
        const float *data;
        tfe_status st = tfe_st_get_f32(src->file, name, ndim, dims, &data, err);
        if (st)
            return st;
        src->used[tfe_st_find(src->file, name) - src->file->tensors] = 1;
        memcpy(dst, data, count * sizeof(float));
        return TFE_OK;
    }
    for (size_t i = 0; i < count; i++) {
        double u = (double)(next_u64(&src->rng) >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0;
        switch (kind) {
        case INIT_MATRIX: dst[i] = (float)(u * 0.0346); break;
        case INIT_BIAS: dst[i] = (float)(u * 0.02); break;
        case INIT_ONES: dst[i] = 1.0f; break;
        case INIT_ZEROS: dst[i] = 0.0f; break;
        }
    }
    return TFE_OK;
}

/* Allocates a vector of n floats, counted in the model's resident size, and reads it. */
static tfe_status load_vector(tfe_model *m, weight_source *src, const char *name, int n,
                              enum init_kind kind, float **out, tfe_error *err)
{
    *out = tfe_alloc_floats((size_t)n);
    if (!*out)
        return tfe_fail(err, TFE_ERR_NOMEM, "out of memory for tensor '%s'", name);
    m->resident_bytes += (size_t)n * sizeof(float);
    return read_tensor(src, name, 1, n, 0, kind, *out, err);
}

/* Reads W[n×k] into `scratch` and packs it for the model's GEMM impl. */
static tfe_status load_matrix(tfe_model *m, weight_source *src, const char *name, int n, int k,
                              float *scratch, tfe_packed *out, tfe_error *err)
{
    const int nr = m->kernels.gemm->nr, blocked = m->kernels.gemm->blocked;
    size_t floats = tfe_packed_floats(n, k, nr);
    out->n = n, out->k = k, out->nr = nr, out->blocked = blocked;
    out->data = tfe_alloc_floats(floats);
    if (!out->data)
        return tfe_fail(err, TFE_ERR_NOMEM, "out of memory for tensor '%s'", name);
    m->resident_bytes += floats * sizeof(float);
    tfe_status st = read_tensor(src, name, 2, n, k, INIT_MATRIX, scratch, err);
    if (st)
        return st;
    tfe_pack_b(n, k, nr, blocked, scratch, out->data);
    return TFE_OK;
}

static void sinusoidal_table(int positions, int d, float *table)
{
    for (int t = 0; t < positions; t++)
        for (int i = 0; i < d; i += 2) {
            double angle = (double)t / pow(10000.0, (double)i / (double)d);
            table[(size_t)t * d + i] = (float)sin(angle);
            if (i + 1 < d)
                table[(size_t)t * d + i + 1] = (float)cos(angle);
        }
}

static tfe_status build(tfe_model *m, weight_source *src, tfe_error *err)
{
    const tfe_config *c = &m->cfg;
    const int D = c->d_model, F = c->d_ff, V = c->vocab_size, P = c->max_positions;
    char name[96];
    tfe_status st;
    size_t big = (size_t)3 * D * D > (size_t)F * D ? (size_t)3 * D * D : (size_t)F * D;
    float *scratch = tfe_alloc_floats(big);
    if (!scratch)
        return tfe_fail(err, TFE_ERR_NOMEM, "out of memory");

    m->embedding = tfe_alloc_floats((size_t)V * D);
    m->positions = tfe_alloc_floats((size_t)P * D);
    m->layers = calloc((size_t)c->n_layers, sizeof *m->layers);
    if (!m->embedding || !m->positions || !m->layers) {
        free(scratch);
        return tfe_fail(err, TFE_ERR_NOMEM, "out of memory for the embedding tables");
    }
    m->resident_bytes += ((size_t)V + (size_t)P) * D * sizeof(float);
    if ((st = read_tensor(src, "embedding.weight", 2, V, D, INIT_MATRIX, m->embedding, err)))
        goto done;
    if (c->embed_scale) {
        float s = sqrtf((float)D);
        for (size_t i = 0; i < (size_t)V * D; i++)
            m->embedding[i] *= s;
    }
    if (c->positional == TFE_POS_LEARNED) {
        if ((st = read_tensor(src, "pos_embedding.weight", 2, P, D, INIT_MATRIX, m->positions,
                              err)))
            goto done;
    } else {
        sinusoidal_table(P, D, m->positions);
    }
    for (int l = 0; l < c->n_layers; l++) {
        tfe_layer *L = &m->layers[l];
#define LAYER_NAME(suffix) (snprintf(name, sizeof name, "layers.%d.%s", l, suffix), name)
        if ((st = load_matrix(m, src, LAYER_NAME("self_attn.in_proj_weight"), 3 * D, D, scratch,
                              &L->qkv, err)) ||
            (st = load_vector(m, src, LAYER_NAME("self_attn.in_proj_bias"), 3 * D, INIT_BIAS,
                              &L->qkv_bias, err)) ||
            (st = load_matrix(m, src, LAYER_NAME("self_attn.out_proj.weight"), D, D, scratch,
                              &L->out, err)) ||
            (st = load_vector(m, src, LAYER_NAME("self_attn.out_proj.bias"), D, INIT_BIAS,
                              &L->out_bias, err)) ||
            (st = load_matrix(m, src, LAYER_NAME("linear1.weight"), F, D, scratch, &L->ff1,
                              err)) ||
            (st = load_vector(m, src, LAYER_NAME("linear1.bias"), F, INIT_BIAS, &L->ff1_bias,
                              err)) ||
            (st = load_matrix(m, src, LAYER_NAME("linear2.weight"), D, F, scratch, &L->ff2,
                              err)) ||
            (st = load_vector(m, src, LAYER_NAME("linear2.bias"), D, INIT_BIAS, &L->ff2_bias,
                              err)) ||
            (st = load_vector(m, src, LAYER_NAME("norm1.weight"), D, INIT_ONES, &L->ln1_gamma,
                              err)) ||
            (st = load_vector(m, src, LAYER_NAME("norm1.bias"), D, INIT_ZEROS, &L->ln1_beta,
                              err)) ||
            (st = load_vector(m, src, LAYER_NAME("norm2.weight"), D, INIT_ONES, &L->ln2_gamma,
                              err)) ||
            (st = load_vector(m, src, LAYER_NAME("norm2.bias"), D, INIT_ZEROS, &L->ln2_beta,
                              err)))
            goto done;
#undef LAYER_NAME
    }
    if (c->final_norm) {
        if ((st = load_vector(m, src, "norm.weight", D, INIT_ONES, &m->final_gamma, err)) ||
            (st = load_vector(m, src, "norm.bias", D, INIT_ZEROS, &m->final_beta, err)))
            goto done;
    }
    st = TFE_OK;
done:
    free(scratch);
    return st;
}

static tfe_model *model_new(const tfe_config *cfg, const tfe_model_options *opts)
{
    tfe_model *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->cfg = *cfg;
    tfe_isa cap = opts && opts->isa != TFE_ISA_AUTO ? opts->isa : tfe_isa_env_cap();
    tfe_kernels_select(tfe_effective_cap(cap), &m->kernels);
    const tfe_attention_impl *att = m->kernels.attention, *fma = m->kernels.attention_fma;
    if (att->prep && att->prep->min_len > 0 && fma) /* fma has no prep: another kernel */
        snprintf(m->attention_short, sizeof m->attention_short, "%s under %d tokens", fma->name,
                 att->prep->min_len);
    tfe_kernels_log(&m->kernels);
    return m;
}

void tfe_model_free(tfe_model *m)
{
    if (!m)
        return;
    if (m->layers) {
        for (int l = 0; l < m->cfg.n_layers; l++) {
            tfe_layer *L = &m->layers[l];
            free(L->qkv.data), free(L->out.data), free(L->ff1.data), free(L->ff2.data);
            free(L->qkv_bias), free(L->out_bias), free(L->ff1_bias), free(L->ff2_bias);
            free(L->ln1_gamma), free(L->ln1_beta), free(L->ln2_gamma), free(L->ln2_beta);
        }
        free(m->layers);
    }
    free(m->embedding), free(m->positions), free(m->final_gamma), free(m->final_beta);
    free(m);
}

tfe_status tfe_model_load(const char *dir, const tfe_model_options *opts, tfe_model **out,
                          tfe_error *err)
{
    if (!dir || !out)
        return tfe_fail(err, TFE_ERR_ARG, "tfe_model_load: NULL argument");
    *out = NULL;
    char path[4096];
    tfe_config cfg;
    if ((size_t)snprintf(path, sizeof path, "%s/config.json", dir) >= sizeof path)
        return tfe_fail(err, TFE_ERR_ARG, "model directory path too long");
    tfe_status st = tfe_config_load(path, &cfg, err);
    if (st)
        return st;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    tfe_st_file file;
    if ((st = tfe_st_open(path, &file, err)))
        return st;
    /* The final norm is optional: present in the file means used (both halves required). */
    cfg.final_norm = tfe_st_find(&file, "norm.weight") || tfe_st_find(&file, "norm.bias");
    tfe_model *m = model_new(&cfg, opts);
    if (!m) {
        tfe_st_close(&file);
        return tfe_fail(err, TFE_ERR_NOMEM, "out of memory");
    }
    weight_source src = {.file = &file, .used = calloc((size_t)file.count + 1, 1)};
    st = src.used ? build(m, &src, err) : tfe_fail(err, TFE_ERR_NOMEM, "out of memory");
    /* A tensor the config does not account for means config and file disagree. */
    for (int i = 0; st == TFE_OK && i < file.count; i++)
        if (!src.used[i])
            st = tfe_fail(err, TFE_ERR_TENSOR,
                          "%s: tensor '%s' is not part of the model config.json describes "
                          "(n_layers %d, positional %s)", path, file.tensors[i].name,
                          cfg.n_layers, cfg.positional == TFE_POS_LEARNED ? "learned" : "sinusoidal");
    free(src.used);
    /* Packed copies replace the file: nothing of the mapping is kept after loading. */
    tfe_st_close(&file);
    if (st) {
        tfe_model_free(m);
        return st;
    }
    *out = m;
    tfe_ok(err);
    return TFE_OK;
}

tfe_status tfe_model_create_random(const tfe_config *cfg, uint64_t seed,
                                   const tfe_model_options *opts, tfe_model **out, tfe_error *err)
{
    if (!cfg || !out)
        return tfe_fail(err, TFE_ERR_ARG, "tfe_model_create_random: NULL argument");
    *out = NULL;
    tfe_status st = tfe_config_validate(cfg, "config", err);
    if (st)
        return st;
    tfe_model *m = model_new(cfg, opts);
    if (!m)
        return tfe_fail(err, TFE_ERR_NOMEM, "out of memory");
    weight_source src = {.file = NULL, .rng = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull};
    if ((st = build(m, &src, err))) {
        tfe_model_free(m);
        return st;
    }
    *out = m;
    tfe_ok(err);
    return TFE_OK;
}

const tfe_config *tfe_model_config(const tfe_model *m) { return &m->cfg; }
tfe_isa tfe_model_isa(const tfe_model *m) { return m->kernels.isa; }
size_t tfe_model_resident_bytes(const tfe_model *m) { return m->resident_bytes; }

const char *tfe_model_kernel(const tfe_model *m, const char *op)
{
    if (!m || !op)
        return NULL;
    if (strcmp(op, "gemm") == 0)
        return m->kernels.gemm->name;
    if (strcmp(op, "attention") == 0)
        return m->kernels.attention->name;
    if (strcmp(op, "attention_short") == 0)
        return m->attention_short[0] ? m->attention_short : NULL;
    if (strcmp(op, "layernorm") == 0)
        return m->kernels.layernorm->name;
    return NULL;
}

double tfe_model_flops(const tfe_model *m, int batch, const int32_t *lengths)
{
    const double D = m->cfg.d_model, F = m->cfg.d_ff, L = m->cfg.n_layers;
    double flops = 0.0;
    for (int b = 0; b < batch; b++) {
        double s = lengths[b];
        flops += L * (8.0 * s * D * D + 4.0 * s * s * D + 4.0 * s * D * F);
    }
    return flops;
}
