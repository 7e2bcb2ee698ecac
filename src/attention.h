/* Fused multi-head self-attention: kernel contract, registry descriptor and the driver.
 *
 * Tokens are packed (no padded rows), so each sequence attends over its own `len` keys and the
 * key-padding mask of DESIGN §1 is exact by construction. Kernels stream key/value blocks with
 * an online softmax; memory is O(tile), never O(S²). */
#ifndef TFE_ATTENTION_H
#define TFE_ATTENTION_H

#include <stddef.h>

#include "tfenc.h"

/* Kernel: one query tile of one head, 1 <= nq <= tq queries against all nk >= 1 keys.
 *   o[i][:] = Σ_j softmax_j(scale · q[i]·k[j]) v[j][:]
 * q, k, v: rows of dh floats with row stride ld (the packed QKV buffer: q, k, v of a head sit
 * at column offsets h*dh, D + h*dh, 2D + h*dh); o: nq rows of dh floats, stride ldo.
 * scratch: at least tfe_attention_scratch_floats(impl, dh) floats, 64-byte aligned. */
#define TFE_ATTENTION_KERNEL(fn)                                                               \
    void fn(int nq, int nk, int dh, const float *q, const float *k, const float *v, size_t ld, \
            float scale, float *o, size_t ldo, float *scratch)
typedef TFE_ATTENTION_KERNEL((*tfe_attention_fn));

/* Kernels that work on their own layout of K and V (the tile unit's bf16 terms, AVX2's Kᵀ in
 * 64-key blocks) can convert a
 * head's keys and values once, so that its query tiles do not each convert them again:
 *   prepare:  k, v (nk rows of dh, stride ld) -> prep, prep_floats(nk, dh) floats, 64-byte
 *             aligned;
 *   prepared: the kernel's contract with k and v replaced by prep (same result, same bits);
 *   scratch_floats: the kernel's scratch (replaces the generic size below). */
#define TFE_ATTENTION_PREPARE(fn)                                                              \
    void fn(int nk, int dh, const float *k, const float *v, size_t ld, float *prep)
#define TFE_ATTENTION_PREPARED(fn)                                                             \
    void fn(int nq, int nk, int dh, const float *q, size_t ld, const float *prep, float scale, \
            float *o, size_t ldo, float *scratch)
typedef struct tfe_attention_prep {
    int min_len; /* shorter sequences run the driver's short_impl, when it has one */
    size_t (*prep_floats)(int nk, int dh);
    size_t (*scratch_floats)(int dh);
    TFE_ATTENTION_PREPARE((*prepare));
    TFE_ATTENTION_PREPARED((*prepared));
} tfe_attention_prep;

typedef struct tfe_attention_impl {
    const char *name; /* e.g. "flash_q32k64__avx512" */
    tfe_isa isa;
    int tq, tk;       /* query tile rows, key block length */
    tfe_attention_fn kernel;
    const tfe_attention_prep *prep; /* or NULL: the kernel reads K and V as they are */
} tfe_attention_impl;

TFE_ATTENTION_KERNEL(tfe_attention_q8k64__scalar);
TFE_ATTENTION_KERNEL(tfe_attention_q24k64__avx2);
extern const tfe_attention_prep tfe_attention_prep_avx2;
TFE_ATTENTION_KERNEL(tfe_attention_q32k64__avx512);
TFE_ATTENTION_KERNEL(tfe_attention_q32k64__amx);
extern const tfe_attention_prep tfe_attention_prep_amx;
TFE_ATTENTION_KERNEL(tfe_attention_q8k64__neon);

/* Scratch one kernel call needs: scores tq×tk, accumulators tq×dh (dh rounded up to 16),
 * row max and sum, a scaled copy of the query tile (impls with `prep`: their own size). */
size_t tfe_attention_scratch_floats(const tfe_attention_impl *impl, int dh);

/* Scratch per thread of tfe_attention_team for sequences up to max_len: the kernel's, plus
 * room to copy one head's queries, keys and values into contiguous rows, or for impls with `prep`
 * room for one head's prepared K and V (see tfe_attention_team). Linear in max_len. */
size_t tfe_attention_team_scratch_floats(const tfe_attention_impl *impl, int dh, int max_len);

typedef struct tfe_attention_args {
    int batch;            /* sequences */
    const int *offsets;   /* [batch + 1] first packed row of each sequence */
    int n_heads, d_head;
    const float *qkv;     /* [tokens × qkv_ld]: q, k, v of head h at h*dh, D + h*dh, 2D + h*dh */
    size_t qkv_ld;        /* row stride of qkv in floats, >= 3D */
    float *ctx;           /* [tokens × D] */
    float *scratch;       /* nthreads × scratch_stride floats */
    size_t scratch_stride; /* >= tfe_attention_scratch_floats; sequences that fit the rest
                              (tfe_attention_team_scratch_floats) get contiguous Q, K, V */
    /* For impls with `prep`: an impl without, run on sequences shorter than prep->min_len
     * (there converting K and V costs more than the tile unit saves), or NULL. Its query
     * tile must be at least impl's and its kernel scratch no larger; it gets Q, K and V copied
     * into contiguous rows where the room allows, as impls without `prep` always do. The
     * choice depends on a sequence's own length only. */
    const struct tfe_attention_impl *short_impl;
} tfe_attention_args;

/* Thread `tid`'s share of all (sequence, head, query tile) items: a contiguous run of them,
 * cut at equal shares of the work. */
void tfe_attention_team(const tfe_attention_impl *impl, const tfe_attention_args *args, int tid,
                        int nthreads);

#endif
