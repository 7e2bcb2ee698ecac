/* Small helpers for splitting work over an OpenMP team without OpenMP in the signature. */
#ifndef TFE_PARALLEL_H
#define TFE_PARALLEL_H

#include <sched.h>
#include <stdatomic.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TFE_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define TFE_CPU_RELAX() __asm__ volatile("yield")
#else
#define TFE_CPU_RELAX() ((void)0)
#endif

/* Splits `count` items into `parts` near-equal contiguous ranges; range `i` is [*lo, *hi). */
static inline void tfe_split_range(int count, int parts, int i, int *lo, int *hi)
{
    int base = count / parts, extra = count % parts;
    *lo = i * base + (i < extra ? i : extra);
    *hi = *lo + base + (i < extra ? 1 : 0);
}

/* A sense-counting barrier for the team inside one encode call. libgomp's own barrier sleeps
 * in the kernel under OMP_WAIT_POLICY=passive (6-21 µs a barrier, up to ~60, in
 * bench/probes/barrier.c's runs; README, "Threads"); between the ~100 op
 * boundaries of a forward pass every thread is about to have work again, so spinning briefly
 * is cheaper. After a bounded spin it yields, so oversubscribed hosts still make progress. */
typedef struct tfe_barrier {
    atomic_int arrived;    /* threads that reached the current barrier */
    atomic_int generation; /* bumped by the last arrival; waiters watch it */
} tfe_barrier;

static inline void tfe_barrier_init(tfe_barrier *b)
{
    atomic_init(&b->arrived, 0);
    atomic_init(&b->generation, 0);
}

/* Pause-loop rounds before a waiter starts yielding its core (see bench/probes/barrier.c). */
#ifndef TFE_BARRIER_SPINS
#define TFE_BARRIER_SPINS 1000u
#endif

/* tfe_barrier_wait with the spin bound as a parameter, for the probe that measures it. */
static inline void tfe_barrier_wait_spins(tfe_barrier *b, int nthreads, unsigned max_spins)
{
    if (nthreads <= 1)
        return;
    int gen = atomic_load_explicit(&b->generation, memory_order_acquire);
    if (atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel) == nthreads - 1) {
        atomic_store_explicit(&b->arrived, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&b->generation, 1, memory_order_release);
        return;
    }
    for (unsigned spins = 0; atomic_load_explicit(&b->generation, memory_order_acquire) == gen;
         spins++) {
        if (spins < max_spins)
            TFE_CPU_RELAX();
        else
            sched_yield();
    }
}

/* All `nthreads` members of the team must call it; memory written before is visible after. */
static inline void tfe_barrier_wait(tfe_barrier *b, int nthreads)
{
    tfe_barrier_wait_spins(b, nthreads, TFE_BARRIER_SPINS);
}

#endif
