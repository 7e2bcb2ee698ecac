/* tfenc: Transformer encoder inference on CPUs — the public C API. */
#ifndef TFENC_H
#define TFENC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TFENC_VERSION "0.1.0"

/* Every call that can fail returns a status and, when `err` is non-NULL, fills it with a
 * one-line message that names the file, tensor or argument at fault. No global error state. */
typedef enum tfe_status {
    TFE_OK = 0,
    TFE_ERR_ARG,         /* bad argument: NULL, size out of range, id out of vocabulary ... */
    TFE_ERR_IO,          /* a file could not be opened, read or mapped */
    TFE_ERR_FORMAT,      /* a file is malformed: safetensors header, JSON, .npy */
    TFE_ERR_CONFIG,      /* config.json lacks a key, has a wrong type or an unsupported value */
    TFE_ERR_TENSOR,      /* a tensor is missing, of a wrong dtype or shape, or overlaps another */
    TFE_ERR_NOMEM,       /* allocation failed */
    TFE_ERR_UNSUPPORTED  /* valid request this build cannot serve */
} tfe_status;

#define TFE_ERROR_MAX 512
typedef struct tfe_error {
    tfe_status code;             /* same as the returned status */
    char message[TFE_ERROR_MAX]; /* NUL-terminated, one line */
} tfe_error;

/* Generic text for a status code (static storage). */
const char *tfe_strerror(tfe_status code);

typedef enum tfe_isa {
    TFE_ISA_SCALAR = 0,
    TFE_ISA_AVX2,   /* x86-64 AVX2 + FMA */
    TFE_ISA_AVX512, /* x86-64 AVX-512 F/BW/DQ/VL */
    TFE_ISA_NEON,   /* aarch64 Advanced SIMD */
    TFE_ISA_AMX,    /* x86-64 AMX-TILE + AMX-BF16 on top of AVX-512: fp32 products on the bf16
                       tile unit, three terms per value (README, "AMX"); implies avx512 */
    TFE_ISA_COUNT,
    TFE_ISA_AUTO = -1 /* best the host has, capped by the TFENC_ISA environment variable */
} tfe_isa;

const char *tfe_isa_name(tfe_isa isa);
/* Whether this build has kernels for `isa` and the host can run them. */
int tfe_isa_supported(tfe_isa isa);

typedef enum tfe_positional { TFE_POS_SINUSOIDAL = 0, TFE_POS_LEARNED } tfe_positional;
typedef enum tfe_activation { TFE_ACT_RELU = 0, TFE_ACT_GELU, TFE_ACT_GELU_TANH } tfe_activation;

typedef struct tfe_config {
    int vocab_size;
    int d_model;
    int n_heads;
    int d_ff;
    int n_layers;
    int max_positions;
    tfe_positional positional;
    tfe_activation activation;
    int norm_first;       /* 1: pre-LN, 0: post-LN */
    int embed_scale;      /* 1: embeddings multiplied by sqrt(d_model) */
    int final_norm;       /* 1: a final LayerNorm (norm.weight / norm.bias) follows the stack */
    float layer_norm_eps;
} tfe_config;

/* Built-in shapes for benchmarks and tests: "seed-base", "bert-base", "minilm". Returns 0 and
 * fills `cfg` when the name is known, -1 otherwise. */
int tfe_preset_config(const char *name, tfe_config *cfg);

typedef struct tfe_model tfe_model;     /* immutable after creation; share it across threads */
typedef struct tfe_session tfe_session; /* one per thread: workspace + thread count */

typedef struct tfe_model_options {
    /* TFE_ISA_AUTO (what opts == NULL means: the TFENC_ISA cap, else the best the host runs)
     * or an explicit cap. With no cap on an AMX host, the first model a process creates
     * measures whether the tile unit pays against AVX-512 (~75 ms on all OpenMP threads;
     * README, "Where it pays"); TFE_ISA_AMX runs it without measuring. Note that a zeroed
     * struct is a cap of TFE_ISA_SCALAR (0): start from TFE_MODEL_OPTIONS_INIT. */
    tfe_isa isa;
} tfe_model_options;

/* The defaults (the same as passing NULL), to change one field of:
 *   tfe_model_options o = TFE_MODEL_OPTIONS_INIT; o.isa = TFE_ISA_AVX512; */
#define TFE_MODEL_OPTIONS_INIT {.isa = TFE_ISA_AUTO}

/* Load `dir`/config.json + `dir`/model.safetensors. `opts` may be NULL. */
tfe_status tfe_model_load(const char *dir, const tfe_model_options *opts, tfe_model **out,
                          tfe_error *err);
/* A model of the given shape with reproducible random weights (for benchmarks). */
tfe_status tfe_model_create_random(const tfe_config *cfg, uint64_t seed,
                                   const tfe_model_options *opts, tfe_model **out, tfe_error *err);
void tfe_model_free(tfe_model *model);

const tfe_config *tfe_model_config(const tfe_model *model);
tfe_isa tfe_model_isa(const tfe_model *model);
/* Name of the kernel chosen for `op` ("gemm", "attention", "layernorm"); NULL if unknown.
 * "attention_short": "<kernel> under <n> tokens" when sequences shorter than n run another
 * attention kernel than "attention" names (tile-unit attention), else NULL. */
const char *tfe_model_kernel(const tfe_model *model, const char *op);
/* Bytes the model holds in memory (packed weights, tables), excluding file mappings. */
size_t tfe_model_resident_bytes(const tfe_model *model);
/* Matrix-product FLOPs of one forward pass over the given lengths (2 per multiply-add). */
double tfe_model_flops(const tfe_model *model, int batch, const int32_t *lengths);

typedef struct tfe_session_options {
    int threads;   /* OpenMP team size for this session's calls; <= 0: omp_get_max_threads() */
    int max_batch; /* workspace is sized for this many sequences ... */
    int max_seq;   /* ... of at most this length; encode grows it when a call has more
                      sequences or tokens. A longer sequence whose tokens still fit does not
                      grow it: its attention reads K and V in place (slower, same bits) */
} tfe_session_options;

tfe_status tfe_session_create(const tfe_model *model, const tfe_session_options *opts,
                              tfe_session **out, tfe_error *err);
void tfe_session_free(tfe_session *session);
int tfe_session_threads(const tfe_session *session);
/* Name of the GEMM kernel this session runs. A model on a tile unit (AMX) keeps an FMA kernel
 * for sessions sized for fewer than 44 tokens per call (max_batch x max_seq), where the tile
 * unit is slower; the choice is made once, so results never depend on the size of a call. */
const char *tfe_session_gemm(const tfe_session *session);
/* Bytes of activation workspace the session holds now. */
size_t tfe_session_workspace_bytes(const tfe_session *session);
/* Bytes of workspace a session needs for `max_batch` sequences of at most `max_seq` tokens. */
size_t tfe_workspace_bytes(const tfe_model *model, int max_batch, int max_seq);

/* Encode `batch` sequences. ids: [batch][seq] row-major, lengths: [batch] with 1 <= len <= seq
 * and len <= max_positions (NULL: all `seq`). out: [batch][seq][d_model]; rows at padded
 * positions (t >= len) are written as zeros. A sequence's output does not depend on the other
 * sequences, on the batch size or on the thread count (bitwise). */
tfe_status tfe_encode(tfe_session *session, const int32_t *ids, const int32_t *lengths, int batch,
                      int seq, float *out, tfe_error *err);
/* What tfe_encode would reject about the inputs themselves (ids outside [0, vocab), lengths
 * outside [1, seq] or above max_positions), checked for the whole batch without encoding:
 * a caller that encodes a large batch in parts gets one message with the batch's indices. */
tfe_status tfe_check_inputs(const tfe_model *model, const int32_t *ids, const int32_t *lengths,
                            int batch, int seq, tfe_error *err);
/* Same, but out is packed: [sum(lengths)][d_model], sequence after sequence, no padded rows. */
tfe_status tfe_encode_packed(tfe_session *session, const int32_t *ids, const int32_t *lengths,
                             int batch, int seq, float *out, tfe_error *err);

/* Sentence embeddings: each sequence pooled into one vector of d_model floats. */
typedef enum tfe_pooling {
    TFE_POOL_MEAN = 0, /* the average of the sequence's real tokens (padding never enters it) */
    TFE_POOL_CLS = 1,  /* the first token's hidden state (BERT's [CLS] position) */
} tfe_pooling;
/* Encode, then pool: out [batch][d_model]. normalize != 0 scales each vector to unit L2 norm
 * (x / max(||x||, 1e-12), as sentence-transformers' Normalize). Sums run in double in token
 * order, so the guarantees of tfe_encode hold bitwise here too. */
tfe_status tfe_encode_pooled(tfe_session *session, const int32_t *ids, const int32_t *lengths,
                             int batch, int seq, tfe_pooling pooling, int normalize, float *out,
                             tfe_error *err);

/* Per-op wall time accumulated by the session's encode calls, in seconds (for profiling). */
typedef struct tfe_profile {
    double embed, qkv_gemm, attention, out_gemm, ffn_up_gemm, ffn_down_gemm, layernorm, total;
} tfe_profile;
void tfe_session_set_profiling(tfe_session *session, int enabled);
void tfe_session_profile(const tfe_session *session, tfe_profile *out);

/* Measuring the machine, so results can be quoted as a fraction of what the silicon does.
 * Peak fp32 FMA GFLOP/s of `isa` (0 when unsupported) on `threads` threads, ~`seconds` long. */
double tfe_peak_gflops(tfe_isa isa, int threads, double seconds);
/* STREAM-like triad a = b + s*c over three arrays of `floats_per_array` floats: GB/s. */
double tfe_triad_gbs(int threads, size_t floats_per_array);

#ifdef __cplusplus
}
#endif
#endif
