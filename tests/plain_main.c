/* The dependency-free test runner: runs every TFE_TEST registered by the linked test files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

enum { MAX_TESTS = 1024 };

typedef struct test_case {
    const char *suite, *name;
    void (*fn)(void);
    int order; /* registration order, which is definition order within a file */
} test_case;

static test_case tests[MAX_TESTS];
static int n_tests;
static jmp_buf test_exit; /* where CHECK and SKIP leave a test */
static char reason[2048]; /* message of the failure or skip being reported */

void tfe_test_register(const char *suite, const char *name, void (*fn)(void))
{
    if (n_tests == MAX_TESTS) {
        fprintf(stderr, "plain runner: more than %d tests, raise MAX_TESTS\n", MAX_TESTS);
        exit(2);
    }
    tests[n_tests] = (test_case){suite, name, fn, n_tests};
    n_tests++;
}

void tfe_test_fail(const char *file, int line, const char *fmt, ...)
{
    int n = snprintf(reason, sizeof reason, "%s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason + n, sizeof reason - (size_t)n, fmt, ap);
    va_end(ap);
    longjmp(test_exit, 1);
}

void tfe_test_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    longjmp(test_exit, 2);
}

/* Filter arguments: a test runs when there are none or "suite::name" contains one of them. */
static char **filters;
static int n_filters;

static int selected(const test_case *t)
{
    if (n_filters == 0)
        return 1;
    char full[256];
    snprintf(full, sizeof full, "%s::%s", t->suite, t->name);
    for (int i = 0; i < n_filters; i++)
        if (strstr(full, filters[i]))
            return 1;
    return 0;
}

/* Sorting by suite, then definition order, keeps the report grouped and stable. */
static int by_suite(const void *a, const void *b)
{
    const test_case *x = a, *y = b;
    int c = strcmp(x->suite, y->suite);
    return c ? c : x->order - y->order;
}

/* Runs one test; returns 0 passed, 1 failed, 2 skipped. Kept apart from main's loop so that
 * nothing live across setjmp is modified afterwards (longjmp could clobber it). */
static int run(const test_case *t)
{
    printf("%s::%s ... ", t->suite, t->name);
    fflush(stdout); /* a crash then shows which test it was */
    int outcome = setjmp(test_exit);
    if (outcome == 0) {
        t->fn();
        printf("ok\n");
    } else if (outcome == 1) {
        printf("FAILED\n    %s\n", reason);
    } else {
        printf("skipped: %s\n", reason);
    }
    return outcome;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("usage: %s [--list] [FILTER...]   (runs tests whose suite::name contains a FILTER)\n",
               argv[0]);
        return 0;
    }
    int list = argc > 1 && strcmp(argv[1], "--list") == 0;
    filters = argv + 1 + list;
    n_filters = argc - 1 - list;
    qsort(tests, (size_t)n_tests, sizeof tests[0], by_suite);
    int count[3] = {0, 0, 0};
    for (int i = 0; i < n_tests; i++) {
        if (!selected(&tests[i]))
            continue;
        if (list)
            printf("%s::%s\n", tests[i].suite, tests[i].name);
        else
            count[run(&tests[i])]++;
    }
    if (list)
        return 0;
    printf("%d passed, %d failed, %d skipped\n", count[0], count[1], count[2]);
    if (count[0] + count[1] + count[2] == 0) {
        fprintf(stderr, "plain runner: no test matches the filter\n");
        return 1;
    }
    return count[1] ? 1 : 0;
}
