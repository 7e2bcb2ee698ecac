/* AMX GEMM kernels: fp32 products computed on the bf16 tile unit ("bf16x3").
 *
 * Every fp32 value x is split exactly into three bf16 terms, x = x0 + x1 + x2 (x0 and x1 the
 * nearest bf16 of what is left: |x1| <= 2^-8 |x|, |x2| <= 2^-17 |x|, and x2 holds the last bits
 * exactly). A product a·b keeps the six terms down to 2^-17:
 *     a0b0 + a1b0 + a2b0 + a0b1 + a1b1 + a0b2,
 * dropping a1b2 + a2b1 + a2b2 (<= 2^-24 |a·b|, fp32's own rounding of one product). The tile
 * unit multiplies bf16 exactly and accumulates in fp32, so a dot product errs like an fp32 one.
 * Six bf16 products cost a sixth of the unit's rate: about 540-610 fp32-equivalent GFLOP/s per
 * core here (peak_amx.c) against 225-235 for AVX-512 FMAs.
 *
 * Layout. A tile holds 16 rows × 32 bf16 (64 bytes a row). Dword j of a row pairs k0+j (low
 * half) with k0+16+j (high half): the pairing is ours to choose as long as A and B agree, and
 * this one needs no shuffles (the high half of one fp32 vector, the low half of the next).
 *   A block: [chunk][row tile][term][16 rows][32]   B slice: [chunk][16-column tile][term][16][32]
 * (a chunk is 32 values of K). Missing rows, columns and K are zeros. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "gemm.h"
#include "bf16x3_amx.h"
#include "vecmath_avx512.h"

enum { NR = 48, TILE = TFE_TILE_BF16 };

TFE_GEMM_AMX_PACK_A(tfe_gemm_amx_pack_a)
{
    for (int c = 0; c < chunks; c++) {
        const int k0 = 32 * c;
        const __mmask16 mlo = tfe_tail_mask_avx512(kc - k0);
        const __mmask16 mhi = tfe_tail_mask_avx512(kc - k0 - 16);
        uint16_t *tile = dst + (size_t)c * chunk_stride;
        for (int i = 0; i < 16 * tiles; i++) {
            uint16_t *out = tile + (size_t)(i / 16) * 3 * TILE + (i % 16) * 32;
            if (i < rows) {
                const float *r = a + (size_t)i * lda + k0;
                split3(_mm512_maskz_loadu_ps(mlo, r), _mm512_maskz_loadu_ps(mhi, r + 16), out);
            } else {
                for (int t = 0; t < 3; t++)
                    _mm512_store_si512(out + t * TILE, _mm512_setzero_si512());
            }
        }
    }
}

/* Converts units [lo, hi) of a panel slice; unit u is row pair j = u % 16 of chunk u / 16
 * (K rows 32c + j and 32c + 16 + j, three 16-column vectors each). The same rows of the slice
 * after it (pk->pf) are prefetched into L2: it is the one converted next, a panel later. */
static inline void pack_units(const tfe_gemm_amx_pack *pk, int lo, int hi)
{
    const __m512 zero = _mm512_setzero_ps();
    for (int u = lo; u < hi; u++) {
        const int c = u / 16, j = u % 16, klo = 32 * c + j, khi = klo + 16;
        for (int col = 0; col < 3; col++) {
            /* rows klo and khi of the slice in column block col (blocked panels, gemm.h); the
             * same rows of the next slice are as far into it */
            const size_t off = col * pk->bstride;
            const float *rlo = klo < pk->kc ? pk->bp + off + (size_t)klo * 16 : NULL;
            const float *rhi = khi < pk->kc ? pk->bp + off + (size_t)khi * 16 : NULL;
            if (pk->pf) {
                if (rlo)
                    _mm_prefetch((const char *)(pk->pf + (rlo - pk->bp)), _MM_HINT_T1);
                if (rhi)
                    _mm_prefetch((const char *)(pk->pf + (rhi - pk->bp)), _MM_HINT_T1);
            }
            split3(rlo ? _mm512_loadu_ps(rlo) : zero, rhi ? _mm512_loadu_ps(rhi) : zero,
                   pk->dst + ((size_t)c * 3 + col) * 3 * TILE + j * 32);
        }
    }
}

TFE_GEMM_AMX_PACK_B(tfe_gemm_amx_pack_b) { pack_units(pk, pk->lo, pk->hi); }

/* The three column tiles of C (tiles 0-2) meet one chunk: A terms in tiles 3-5, B terms
 * through tiles 6 and 7. */
#define COLUMN(j, b) TFE_BF16X3_DOT6(j, (b) + (j) * 3 * TILE)

/* After each chunk's dot products, a share of the next conversion. With all in L1 the two do
 * not overlap (the time is their sum); in a product, whose next slice is still arriving from
 * L3, converting in shares between the dot products was 16% faster on 128 rows and 28% on 16
 * than converting each slice whole before its tiles. */
TFE_GEMM_AMX_TILE(tfe_gemm_amx_tile)
{
    const size_t stride = ldc * sizeof(float);
    if (accumulate) {
        _tile_loadd(0, c, stride);
        _tile_loadd(1, c + 16, stride);
        _tile_loadd(2, c + 32, stride);
    } else {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
    }
    for (int ch = 0; ch < chunks; ch++, a += a_chunk, b += 9 * TILE) {
        TFE_BF16X3_LOAD_A(a);
        COLUMN(0, b);
        COLUMN(1, b);
        COLUMN(2, b);
        if (next) {
            const int units = next->hi - next->lo;
            pack_units(next, next->lo + units * ch / chunks, next->lo + units * (ch + 1) / chunks);
        }
    }
    _tile_stored(0, c, stride);
    _tile_stored(1, c + 16, stride);
    _tile_stored(2, c + 32, stride);
}

TFE_GEMM_AMX_FINISH(tfe_gemm_amx_finish)
{
    __mmask16 mk[3];
    __m512 bias[3];
    for (int j = 0; j < 3; j++) {
        mk[j] = tfe_tail_mask_avx512(cols - 16 * j);
        bias[j] = ep && ep->bias ? _mm512_maskz_loadu_ps(mk[j], ep->bias + 16 * j)
                                 : _mm512_setzero_ps();
    }
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < 3; j++) {
            if (!mk[j])
                continue;
            __m512 v = _mm512_maskz_loadu_ps(mk[j], src + (size_t)i * lds + 16 * j);
            if (ep) {
                v = tfe_act_avx512(ep->act, _mm512_add_ps(v, bias[j]));
                if (ep->residual) {
                    const float *r = ep->residual + (size_t)i * ep->ldr + 16 * j;
                    v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk[j], r));
                }
            }
            _mm512_mask_storeu_ps(dst + (size_t)i * ldd + 16 * j, mk[j], v);
        }
}

/* Palette 1, all eight tiles 16 rows of 64 bytes. */
void tfe_gemm_amx_begin(void)
{
    struct {
        uint8_t palette, start_row, reserved[14];
        uint16_t colsb[16];
        uint8_t rows[16];
    } __attribute__((aligned(64))) cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    /* Not _tile_loadconfig: gcc's version tells the compiler it reads only 8 bytes of cfg,
     * which lets the stores to the rest be dropped (then every tile instruction faults). */
    __asm__ volatile("ldtilecfg %0" : : "m"(cfg));
}

void tfe_gemm_amx_end(void) { _tile_release(); }
