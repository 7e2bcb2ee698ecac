/* A two-way test shim: the same test sources build against Criterion or the plain runner. */
#ifndef TFE_CHECK_H
#define TFE_CHECK_H

/* TFE_TEST(suite, name) defines a test; CHECK(cond, fmt, ...) ends it as failed with the
 * message when cond is false; SKIP(fmt, ...) ends it as skipped. Both may be called from
 * helpers nested below the test body (they leave the test by a long jump, as Criterion does),
 * but never from inside an OpenMP region. */
#ifdef TFE_TEST_PLAIN

#if defined(__GNUC__)
#define TFE_NORETURN_PRINTF(a, b) __attribute__((noreturn, format(printf, a, b)))
#else
#define TFE_NORETURN_PRINTF(a, b)
#endif

void tfe_test_register(const char *suite, const char *name, void (*fn)(void));
void tfe_test_fail(const char *file, int line, const char *fmt, ...) TFE_NORETURN_PRINTF(3, 4);
void tfe_test_skip(const char *fmt, ...) TFE_NORETURN_PRINTF(1, 2);

/* Each test registers itself from a constructor, so the runner needs no list to maintain. */
#define TFE_TEST(suite, name)                                                                  \
    static void suite##__##name(void);                                                         \
    __attribute__((constructor)) static void suite##__##name##__register(void)                 \
    {                                                                                          \
        tfe_test_register(#suite, #name, suite##__##name);                                     \
    }                                                                                          \
    static void suite##__##name(void)
#define CHECK(cond, ...)                                                                       \
    do {                                                                                       \
        if (!(cond))                                                                           \
            tfe_test_fail(__FILE__, __LINE__, __VA_ARGS__);                                    \
    } while (0)
#define SKIP(...) tfe_test_skip(__VA_ARGS__)

#else

#include <criterion/criterion.h>

#define TFE_TEST(suite, name) Test(suite, name)
#define CHECK(cond, ...) cr_assert(cond, __VA_ARGS__)
#define SKIP(...) cr_skip_test(__VA_ARGS__)

#endif
#endif
