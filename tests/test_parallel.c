/* The team helpers of src/parallel.h: the range split and the spin barrier between ops. */
#include <pthread.h>
#include <stdatomic.h>

#include "check.h"
#include "parallel.h"

TFE_TEST(parallel, split_range_covers_evenly)
{
    for (int count = 0; count <= 50; count++)
        for (int parts = 1; parts <= 9; parts++) {
            int next = 0;
            for (int i = 0; i < parts; i++) {
                int lo, hi;
                tfe_split_range(count, parts, i, &lo, &hi);
                CHECK(lo == next && hi >= lo, "split %d into %d: part %d is [%d, %d), expected "
                      "to start at %d", count, parts, i, lo, hi, next);
                CHECK(hi - lo == count / parts || hi - lo == count / parts + 1,
                      "split %d into %d: part %d has %d items", count, parts, i, hi - lo);
                next = hi;
            }
            CHECK(next == count, "split %d into %d ends at %d", count, parts, next);
        }
}

/* Three threads, more than small CI machines have cores, so the yield path runs too. */
enum { TEAM = 3, ROUNDS = 1000 };

typedef struct team {
    tfe_barrier barrier;
    atomic_int arrivals; /* incremented by every member once per round */
    atomic_int errors;   /* rounds in which a member left the barrier early */
} team;

/* Each round every member counts itself in, waits, and must then see the whole team counted;
 * a second wait keeps the next round's increments out of that check. */
static void *member(void *arg)
{
    team *t = arg;
    for (int round = 1; round <= ROUNDS; round++) {
        atomic_fetch_add(&t->arrivals, 1);
        tfe_barrier_wait(&t->barrier, TEAM);
        if (atomic_load(&t->arrivals) != TEAM * round)
            atomic_fetch_add(&t->errors, 1);
        tfe_barrier_wait(&t->barrier, TEAM);
    }
    return NULL;
}

TFE_TEST(parallel, barrier_holds_the_team)
{
    static team t;
    tfe_barrier_init(&t.barrier);
    atomic_init(&t.arrivals, 0);
    atomic_init(&t.errors, 0);
    pthread_t th[TEAM];
    for (int i = 0; i < TEAM; i++)
        CHECK(pthread_create(&th[i], NULL, member, &t) == 0, "pthread_create");
    for (int i = 0; i < TEAM; i++)
        pthread_join(th[i], NULL);
    CHECK(atomic_load(&t.errors) == 0 && atomic_load(&t.arrivals) == TEAM * ROUNDS,
          "%d of %d rounds let a thread through early (arrivals %d)", atomic_load(&t.errors),
          ROUNDS, atomic_load(&t.arrivals));
    tfe_barrier_wait(&t.barrier, 1); /* a team of one never waits */
}
