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
#include "vecmath_avx512.h"

enum { NR = 48, TILE = 512 /* bf16 per tile */ };

/* x's bits plus half a bf16 ulp: their high 16 bits are x rounded to the nearest bf16 (ties
 * away from zero; a carry runs into the exponent, as it should). Two integer operations where
 * Veltkamp's split (c = x·(2^16 + 1), c - (c - x)) takes three float ones, and the high half
 * goes into a pair without clearing the low one first: the split runs in 0.83x the time
 * (2.65 against 3.2 ns per 32 values, all in L1). Valid up to bf16's largest finite value
 * (|x| < 3.39e38; beyond, the term is infinite and the rest NaN). */
static inline __m512i bf16_rounded(__m512 x)
{
    return _mm512_add_epi32(_mm512_castps_si512(x), _mm512_set1_epi32(0x8000));
}

/* The fp32 value of a rounded term: its high 16 bits. */
static inline __m512 term_value(__m512i rounded)
{
    return _mm512_castsi512_ps(_mm512_and_si512(rounded, _mm512_set1_epi32((int)0xffff0000u)));
}

/* Dword j: the high 16 bits of lo's dword j (k0+j) in the low half, of hi's (k0+16+j) in the
 * high half. */
static inline __m512i pair_high(__m512i lo, __m512i hi)
{
    return _mm512_mask_blend_epi16(0xaaaaaaaau, _mm512_srli_epi32(lo, 16), hi);
}

/* Splits lo (k0+j) and hi (k0+16+j) into their three terms; term t goes to out + t·TILE as 16
 * dwords. The subtractions are exact, and what is left after two roundings has at most 8
 * significant bits, so the third term needs none. */
static inline void split3(__m512 lo, __m512 hi, uint16_t *out)
{
    for (int t = 0; t < 2; t++) {
        const __m512i rl = bf16_rounded(lo), rh = bf16_rounded(hi);
        _mm512_store_si512(out + t * TILE, pair_high(rl, rh));
        lo = _mm512_sub_ps(lo, term_value(rl));
        hi = _mm512_sub_ps(hi, term_value(rh));
    }
    _mm512_store_si512(out + 2 * TILE,
                       pair_high(_mm512_castps_si512(lo), _mm512_castps_si512(hi)));
}

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
#define COLUMN(j, b)                                                                           \
    do {                                                                                       \
        _tile_loadd(6, (b) + (j) * 3 * TILE, 64);                                              \
        _tile_dpbf16ps(j, 3, 6);                                                               \
        _tile_dpbf16ps(j, 4, 6);                                                               \
        _tile_dpbf16ps(j, 5, 6);                                                               \
        _tile_loadd(7, (b) + (j) * 3 * TILE + TILE, 64);                                       \
        _tile_dpbf16ps(j, 3, 7);                                                               \
        _tile_dpbf16ps(j, 4, 7);                                                               \
        _tile_loadd(6, (b) + (j) * 3 * TILE + 2 * TILE, 64);                                   \
        _tile_dpbf16ps(j, 3, 6);                                                               \
    } while (0)

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
        _tile_loadd(3, a, 64);
        _tile_loadd(4, a + TILE, 64);
        _tile_loadd(5, a + 2 * TILE, 64);
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
