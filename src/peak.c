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

/* One thread's iteration count for about `seconds` of fn. */
static long calibrate(tfe_peak_fn fn, double seconds)
{
    long iters = 1 << 16;
    for (;;) {
        double t0 = seconds_now();
        fn(iters);
        double dt = seconds_now() - t0;
        if (dt > seconds / 10.0 || iters > (1L << 40)) {
            iters = (long)((double)iters * seconds / (dt > 1e-9 ? dt : 1e-9));
            break;
        }
        iters *= 4;
    }
    return iters < 1 ? 1 : iters;
}

static double thread_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* GFLOP/s of one round: fn(iters) on each of `threads` threads, over the round's wall time. */
static double round_gflops(tfe_peak_fn fn, int threads, long iters)
{
    double flops = 0.0, t0 = seconds_now();
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) reduction(+ : flops)
#endif
    flops += fn(iters);
    (void)threads;
    return flops / (seconds_now() - t0) * 1e-9;
}

/* The same round's rate while running: each thread's flops over its own CPU time, summed.
 * A thread that waits for a core (other processes, more threads than cores) does not count
 * the wait, so this measures the unit's speed, not the host's load. */
static double round_gflops_running(tfe_peak_fn fn, int threads, long iters)
{
    double rate = 0.0;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) reduction(+ : rate)
#endif
    {
        double t0 = thread_cpu_seconds(), flops = fn(iters), dt = thread_cpu_seconds() - t0;
        rate += dt > 0.0 ? flops / dt * 1e-9 : 0.0;
    }
    (void)threads;
    return rate;
}

static double clamp_seconds(double seconds)
{
    return !(seconds > 0.0) || seconds > 60.0 ? 0.3 : seconds; /* also catches NaN */
}

static tfe_peak_fn peak_kernel(tfe_isa isa)
{
    int n;
    const tfe_peak_impl *impls = tfe_peak_impls(&n);
    for (int i = 0; i < n; i++)
        if (impls[i].isa == isa && tfe_isa_supported(isa))
            return impls[i].kernel;
    return NULL;
}

double tfe_peak_gflops(tfe_isa isa, int threads, double seconds)
{
    tfe_peak_fn fn = peak_kernel(isa);
    if (!fn)
        return 0.0;
    seconds = clamp_seconds(seconds);
    threads = threads > 0 ? threads : 1;
    const long iters = calibrate(fn, seconds / 3.0);
    double best = 0.0;
    for (int round = 0; round < 3; round++) {
        double g = round_gflops(fn, threads, iters);
        best = g > best ? g : best;
    }
    return best;
}

void tfe_peak_pair_gflops(tfe_isa a, tfe_isa b, int threads, double seconds, double *ga,
                          double *gb)
{
    enum { ROUNDS = 8 };
    tfe_peak_fn fa = peak_kernel(a), fb = peak_kernel(b);
    *ga = *gb = 0.0;
    if (!fa || !fb)
        return;
    seconds = clamp_seconds(seconds);
    threads = threads > 0 ? threads : 1;
    const double round_seconds = seconds / (2 * ROUNDS);
    const long ia = calibrate(fa, round_seconds), ib = calibrate(fb, round_seconds);
    for (int round = 0; round < ROUNDS; round++) {
        double g = round_gflops_running(fa, threads, ia);
        *ga = g > *ga ? g : *ga;
        g = round_gflops_running(fb, threads, ib);
        *gb = g > *gb ? g : *gb;
    }
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
