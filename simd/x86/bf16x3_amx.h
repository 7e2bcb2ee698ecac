/* The bf16x3 split and tile product shared by the tile-unit kernels (gemm_amx.c,
 * attention_amx.c): static inline only, compiled with the AMX flags. See gemm_amx.c for the
 * method (three bf16 terms per fp32 value, six tile products per fp32 product). */
#ifndef TFE_BF16X3_AMX_H
#define TFE_BF16X3_AMX_H

#include <immintrin.h>
#include <stdint.h>

enum { TFE_TILE_BF16 = 512 /* bf16 per tile: 16 rows of 32 */ };

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

/* Splits lo (k0+j) and hi (k0+16+j) into their three terms; term t goes to
 * out + t·TFE_TILE_BF16 as 16 dwords. The subtractions are exact, and what is left after two
 * roundings has at most 8 significant bits, so the third term needs none. */
static inline void split3(__m512 lo, __m512 hi, uint16_t *out)
{
    for (int t = 0; t < 2; t++) {
        const __m512i rl = bf16_rounded(lo), rh = bf16_rounded(hi);
        _mm512_store_si512(out + t * TFE_TILE_BF16, pair_high(rl, rh));
        lo = _mm512_sub_ps(lo, term_value(rl));
        hi = _mm512_sub_ps(hi, term_value(rh));
    }
    _mm512_store_si512(out + 2 * TFE_TILE_BF16,
                       pair_high(_mm512_castps_si512(lo), _mm512_castps_si512(hi)));
}

/* C tile `c` += the A terms in tiles 3-5 times the B terms at b (three tiles of 512 bf16):
 * a0b0 + a1b0 + a2b0 + a0b1 + a1b1 + a0b2, the B terms through tiles 6 and 7. */
#define TFE_BF16X3_DOT6(c, b)                                                                  \
    do {                                                                                       \
        _tile_loadd(6, (b), 64);                                                               \
        _tile_dpbf16ps(c, 3, 6);                                                               \
        _tile_dpbf16ps(c, 4, 6);                                                               \
        _tile_dpbf16ps(c, 5, 6);                                                               \
        _tile_loadd(7, (b) + TFE_TILE_BF16, 64);                                               \
        _tile_dpbf16ps(c, 3, 7);                                                               \
        _tile_dpbf16ps(c, 4, 7);                                                               \
        _tile_loadd(6, (b) + 2 * TFE_TILE_BF16, 64);                                           \
        _tile_dpbf16ps(c, 3, 6);                                                               \
    } while (0)

/* The A terms of one 16-row tile (three tiles of 512 bf16 at a) into tiles 3-5. */
#define TFE_BF16X3_LOAD_A(a)                                                                   \
    do {                                                                                       \
        _tile_loadd(3, (a), 64);                                                               \
        _tile_loadd(4, (a) + TFE_TILE_BF16, 64);                                               \
        _tile_loadd(5, (a) + 2 * TFE_TILE_BF16, 64);                                           \
    } while (0)

#endif
