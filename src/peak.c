/* Measuring the machine: peak FMA GFLOP/s per ISA and a STREAM-like triad bandwidth. */
#define _POSIX_C_SOURCE 200809L
#include "peak.h"

#include <stdlib.h>
#include <time.h>

#include "kernels.h"
#include "model.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* 12 independent chains: enough to cover FMA latency (4) × ports (2) with room to spare. */
TFE_PEAK_KERNEL(tfe_peak_fma__scalar)
{
    float a[12], b = 0.9999999f, c = 1e-7f;
    for (int j = 0; j < 12; j++)
        a[j] = (float)j;
    for (long i = 0; i < iters; i++) {
        for (int j = 0; j < 12; j++)
            a[j] = a[j] * b + c;
        __asm__ volatile("" : "+m"(a)); /* keeps the chains scalar and alive */
    }
    volatile float sink = a[0] + a[11];
    (void)sink;
    return 2.0 * 12.0 * (double)iters;
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Runs fn on `threads` threads for about `seconds`; best of 3 rounds. */
static double run_peak(tfe_peak_fn fn, int threads, double seconds)
{
    long iters = 1 << 16;
    if (!(seconds > 0.0) || seconds > 60.0) /* also catches NaN */
        seconds = 0.3;
    /* Calibrate one thread's iteration count to ~seconds/3 per round. */
    for (;;) {
        double t0 = seconds_now();
        fn(iters);
        double dt = seconds_now() - t0;
        if (dt > seconds / 30.0 || iters > (1L << 40)) {
            iters = (long)((double)iters * (seconds / 3.0) / (dt > 1e-9 ? dt : 1e-9));
            break;
        }
        iters *= 4;
    }
    if (iters < 1)
        iters = 1;
    double best = 0.0;
    for (int round = 0; round < 3; round++) {
        double flops = 0.0, t0 = seconds_now();
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) reduction(+ : flops)
#endif
        flops += fn(iters);
        double g = flops / (seconds_now() - t0) * 1e-9;
        best = g > best ? g : best;
    }
    return best;
}

double tfe_peak_gflops(tfe_isa isa, int threads, double seconds)
{
    int n;
    const tfe_peak_impl *impls = tfe_peak_impls(&n);
    for (int i = 0; i < n; i++)
        if (impls[i].isa == isa && tfe_isa_supported(isa))
            return run_peak(impls[i].kernel, threads > 0 ? threads : 1, seconds);
    return 0.0;
}

double tfe_triad_gbs(int threads, size_t floats_per_array)
{
    if (floats_per_array < 1024)
        floats_per_array = 1024;
    float *a = tfe_alloc_floats(floats_per_array), *b = tfe_alloc_floats(floats_per_array),
          *c = tfe_alloc_floats(floats_per_array);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return 0.0;
    }
    long n = (long)floats_per_array;
    if (threads < 1)
        threads = 1;
    /* First touch by the same threads that later stream the arrays. */
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
    for (long i = 0; i < n; i++)
        a[i] = 0.0f, b[i] = 1.0f, c[i] = 2.0f;
    double best = 0.0;
    for (int round = 0; round < 5; round++) {
        double t0 = seconds_now();
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
        for (long i = 0; i < n; i++)
            a[i] = b[i] + 0.5f * c[i];
        double dt = seconds_now() - t0;
        double gbs = 3.0 * (double)n * sizeof(float) / dt * 1e-9;
        best = gbs > best ? gbs : best;
    }
    volatile float sink = a[n / 2];
    (void)sink;
    free(a), free(b), free(c);
    return best;
}
