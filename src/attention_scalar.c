/* Portable fused attention (online softmax over key blocks): the reference for SIMD variants. */
#include <math.h>

#include "attention.h"

enum { TQ = 8, TK = 64 };

TFE_ATTENTION_KERNEL(tfe_attention_q8k64__scalar)
{
    float *s = scratch;                     /* [tq][tk] scores, then probabilities */
    float *acc = s + TQ * TK;               /* [tq][dh] running Σ p·v */
    float *mx = acc + (size_t)TQ * ((dh + 15) & ~15); /* running row max */
    float *sum = mx + TQ;                   /* running row Σ p */
    for (int i = 0; i < nq; i++) {
        mx[i] = -INFINITY;
        sum[i] = 0.0f;
        for (int d = 0; d < dh; d++)
            acc[i * dh + d] = 0.0f;
    }
    for (int k0 = 0; k0 < nk; k0 += TK) {
        int kb = nk - k0 < TK ? nk - k0 : TK;
        for (int i = 0; i < nq; i++) {
            const float *qi = q + (size_t)i * ld;
            float *si = s + i * TK;
            float bmax = -INFINITY;
            for (int j = 0; j < kb; j++) {
                const float *kj = k + (size_t)(k0 + j) * ld;
                float dot = 0.0f;
                for (int d = 0; d < dh; d++)
                    dot += qi[d] * kj[d];
                si[j] = dot * scale;
                bmax = si[j] > bmax ? si[j] : bmax;
            }
            /* Rescale what was accumulated under the old max before adding this block. */
            float mnew = bmax > mx[i] ? bmax : mx[i];
            float alpha = expf(mx[i] - mnew);
            float bsum = 0.0f;
            for (int j = 0; j < kb; j++) {
                si[j] = expf(si[j] - mnew);
                bsum += si[j];
            }
            sum[i] = sum[i] * alpha + bsum;
            mx[i] = mnew;
            float *ai = acc + (size_t)i * dh;
            for (int d = 0; d < dh; d++)
                ai[d] *= alpha;
            for (int j = 0; j < kb; j++) {
                const float *vj = v + (size_t)(k0 + j) * ld;
                float p = si[j];
                for (int d = 0; d < dh; d++)
                    ai[d] += p * vj[d];
            }
        }
    }
    for (int i = 0; i < nq; i++) {
        float inv = 1.0f / sum[i];
        for (int d = 0; d < dh; d++)
            o[(size_t)i * ldo + d] = acc[(size_t)i * dh + d] * inv;
    }
}
