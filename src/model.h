/* The model object: configuration, chosen kernels and weights packed for them. */
#ifndef TFE_MODEL_H
#define TFE_MODEL_H

#include "kernels.h"
#include "tfenc.h"

typedef struct tfe_layer {
    tfe_packed qkv, out, ff1, ff2;        /* W_in [3D×D], W_o [D×D], W1 [F×D], W2 [D×F] */
    float *qkv_bias, *out_bias, *ff1_bias, *ff2_bias;
    float *ln1_gamma, *ln1_beta, *ln2_gamma, *ln2_beta;
} tfe_layer;

struct tfe_model {
    tfe_config cfg;
    tfe_kernels kernels;
    float *embedding;                   /* [V×D], already multiplied by sqrt(D) if embed_scale */
    float *positions;                   /* [P×D] learned or precomputed sinusoidal table */
    float *final_gamma, *final_beta;    /* [D] when cfg.final_norm */
    tfe_layer *layers;                  /* [n_layers] */
    size_t resident_bytes;              /* everything above */
    char attention_short[96];           /* "<impl> under <n> tokens", or "" (tfe_model_kernel) */
};

/* 64-byte aligned allocation of n floats (NULL on overflow or failure). */
float *tfe_alloc_floats(size_t n);

#endif
