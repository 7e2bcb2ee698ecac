/* What one barrier between two ops costs a team, measured once per machine: the encoder's own
 * tfe_barrier (src/parallel.h) at several spin bounds, and libgomp's `omp barrier`, at team
 * sizes from 2 to the number of cores. Not part of the suite; it answers a design question
 * (how long to spin before yielding) with numbers.
 *
 *   OMP_WAIT_POLICY=passive tfenc-probe-barrier [MAX_THREADS] [ROUNDS]
 *
 * Each round runs one parallel region of REPS barriers. Between two barriers thread 0 busies
 * itself for WORK µs while the others arrive at once, as when one thread finishes an op last:
 * the waiters then sit at the barrier for WORK µs (past their spin bound when WORK is long)
 * and the cost is what a release takes to reach them. Printed: microseconds per barrier
 * beyond WORK, median (min-max) of ROUNDS rounds. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "parallel.h"

enum { REPS = 400, MAX_ROUNDS = 31 };

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec * 1e-3;
}

static void busy_us(double us)
{
    double end = now_us() + us;
    while (now_us() < end)
        ;
}

/* Microseconds per barrier beyond `work_us`; spins == 0 means libgomp's barrier. */
/* The team's barrier under test: libgomp's (an orphaned omp barrier binds to the caller's
 * parallel region) or tfenc's with the given spin bound. */
static void wait_all(int use_omp, tfe_barrier *b, int nt, unsigned spins)
{
    if (use_omp) {
#pragma omp barrier
    } else
        tfe_barrier_wait_spins(b, nt, spins);
}

static double one_round(int team, unsigned spins, int use_omp, double work_us)
{
    tfe_barrier b;
    tfe_barrier_init(&b);
    double t0 = 0, t1 = 0;
#pragma omp parallel num_threads(team)
    {
        int tid = omp_get_thread_num(), nt = omp_get_num_threads();
        /* one untimed barrier first: every thread is inside the region */
        wait_all(use_omp, &b, nt, spins);
        if (tid == 0)
            t0 = now_us();
        for (int r = 0; r < REPS; r++) {
            if (tid == 0 && work_us > 0)
                busy_us(work_us);
            wait_all(use_omp, &b, nt, spins);
        }
        if (tid == 0)
            t1 = now_us();
    }
    return (t1 - t0) / REPS - work_us;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int max_threads = argc > 1 ? atoi(argv[1]) : omp_get_num_procs();
    int rounds = argc > 2 ? atoi(argv[2]) : 7;
    if (max_threads < 2 || rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "usage: tfenc-probe-barrier [MAX_THREADS >= 2] [ROUNDS 1..%d]\n",
                MAX_ROUNDS);
        return 2;
    }
    const char *wait = getenv("OMP_WAIT_POLICY");
    printf("# barrier cost, us per barrier beyond the last thread's work; %d rounds of %d "
           "barriers; OMP_WAIT_POLICY=%s; %d cores\n",
           rounds, REPS, wait ? wait : "(unset)", omp_get_num_procs());
    printf("team,barrier,spin_bound,work_us,us_median,us_min,us_max\n");
    static const double works[] = {0, 20, 200};
    static const unsigned spin_bounds[] = {0, 1000, 10000, 100000, UINT_MAX};
    for (int team = 2; team <= max_threads; team = team * 2 > max_threads && team != max_threads
                                                       ? max_threads
                                                       : team * 2) {
        for (size_t w = 0; w < sizeof works / sizeof works[0]; w++) {
            for (size_t s = 0; s <= sizeof spin_bounds / sizeof spin_bounds[0]; s++) {
                int use_omp = s == sizeof spin_bounds / sizeof spin_bounds[0];
                unsigned spins = use_omp ? 0 : spin_bounds[s];
                double t[MAX_ROUNDS];
                for (int r = 0; r < rounds; r++)
                    t[r] = one_round(team, spins, use_omp, works[w]);
                qsort(t, (size_t)rounds, sizeof t[0], cmp_double);
                char bound[16];
                if (use_omp)
                    snprintf(bound, sizeof bound, "-");
                else if (spins == UINT_MAX)
                    snprintf(bound, sizeof bound, "inf");
                else
                    snprintf(bound, sizeof bound, "%u", spins);
                printf("%d,%s,%s,%.0f,%.2f,%.2f,%.2f\n", team, use_omp ? "omp" : "tfe", bound,
                       works[w], t[rounds / 2], t[0], t[rounds - 1]);
                fflush(stdout);
            }
        }
    }
    return 0;
}
