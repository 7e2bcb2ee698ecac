/* Peak of the AMX path (mirrors tfe_peak_fma__scalar in src/peak.c): the bf16 tile unit's
 * dot-product rate divided by six, since gemm_amx.c spends six bf16 products on each fp32 one.
 * The flops it returns are fp32-equivalent, the unit the encoder's GFLOP/s are counted in. */
#include <immintrin.h>
#include <stdint.h>

#include "gemm.h"
#include "peak.h"

TFE_PEAK_KERNEL(tfe_peak_bf16x3__amx)
{
    /* Non-trivial operands (the unit may be quicker on zeros): bf16 values near 1. */
    uint16_t ones[16 * 32] __attribute__((aligned(64)));
    for (int i = 0; i < 16 * 32; i++)
        ones[i] = 0x3f81;
    tfe_gemm_amx_begin();
    _tile_loadd(4, ones, 64);
    _tile_loadd(5, ones, 64);
    _tile_loadd(6, ones, 64);
    _tile_loadd(7, ones, 64);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (long i = 0; i < iters; i++) {
        /* four independent accumulators, two A and two B tiles, as a 2×2 block */
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    float sink[16 * 16] __attribute__((aligned(64)));
    _tile_stored(0, sink, 64);
    volatile float keep = sink[0];
    (void)keep;
    tfe_gemm_amx_end();
    return 4.0 * 2.0 * 16 * 16 * 32 * (double)iters / 6.0;
}
