/* Shared test helpers (see util.h). */
#define _POSIX_C_SOURCE 200809L
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "cpu.h"
#include "kernels.h"

#define CANARY_BITS 0x7fa5c3e1u

uint64_t tt_seed(void)
{
    const char *s = getenv("TFENC_TEST_SEED");
    return s && *s ? strtoull(s, NULL, 0) : 1;
}

tt_rng tt_rng_for(uint64_t case_id)
{
    /* splitmix64 of (seed, case) so nearby cases get unrelated streams; never zero. */
    uint64_t z = tt_seed() * 0x9E3779B97F4A7C15ull + case_id * 0xD1B54A32D192ED03ull + 1;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (tt_rng){z ? z : 1};
}

float tt_uniform(tt_rng *r, float lo, float hi)
{
    uint64_t x = r->s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    r->s = x;
    return lo + (hi - lo) * (float)((double)(x >> 40) / (double)(1ull << 24));
}

void tt_fill(tt_rng *r, float *p, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        p[i] = tt_uniform(r, lo, hi);
}

float *tt_alloc(size_t n)
{
    void *p = NULL;
    CHECK(posix_memalign(&p, 64, (n ? n : 1) * sizeof(float)) == 0, "out of memory (%zu floats)",
          n);
    return p;
}

static float canary(void)
{
    uint32_t bits = CANARY_BITS;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

void tt_canary_fill(float *p, size_t n)
{
    float c = canary();
    for (size_t i = 0; i < n; i++)
        p[i] = c;
}

long tt_canary_check(const float *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &p[i], sizeof bits);
        if (bits != CANARY_BITS)
            return (long)i;
    }
    return -1;
}

void tt_gaps_fill(float *p, int rows, int cols, size_t ld)
{
    for (int i = 0; i + 1 < rows; i++)
        tt_canary_fill(p + (size_t)i * ld + cols, ld - (size_t)cols);
}

long tt_gaps_check(const float *p, int rows, int cols, size_t ld)
{
    for (int i = 0; i + 1 < rows; i++) {
        long at = tt_canary_check(p + (size_t)i * ld + cols, ld - (size_t)cols);
        if (at >= 0)
            return (long)((size_t)i * ld + (size_t)cols) + at;
    }
    return -1;
}

tfe_isa tt_isa_cap(void) { return tfe_isa_env_cap(); }

void tt_require_isa(tfe_isa isa)
{
    if (!tfe_isa_supported(isa))
        SKIP("%s: not supported by this host or build", tfe_isa_name(isa));
    if (!tfe_isa_allowed(isa, tt_isa_cap()))
        SKIP("%s: excluded by TFENC_ISA=%s", tfe_isa_name(isa), getenv("TFENC_ISA"));
}

void tt_check_close(const char *what, const float *got, size_t ld, const double *want,
                    const double *tol, int rows, int cols)
{
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            double g = got[(size_t)i * ld + j], w = want[(size_t)i * cols + j];
            double t = tol[(size_t)i * cols + j];
            /* Written so that NaN in got fails too. */
            CHECK(fabs(g - w) <= t,
                  "%s: first bad element [%d][%d]: got %.9g, want %.9g, |diff| %.3g > tol %.3g "
                  "(TFENC_TEST_SEED=%llu)", what, i, j, g, w, fabs(g - w), t,
                  (unsigned long long)tt_seed());
        }
}

const char *tt_fixtures(void)
{
    const char *s = getenv("TFENC_FIXTURES");
    return s && *s ? s : TFE_FIXTURES_DIR;
}

void tt_path(char *out, size_t cap, const char *dir, const char *file)
{
    CHECK((size_t)snprintf(out, cap, "%s/%s", dir, file) < cap, "path too long: %s/%s", dir,
          file);
}

void tt_tempdir(char *out, size_t cap)
{
    const char *base = getenv("TMPDIR");
    tt_path(out, cap, base && *base ? base : "/tmp", "tfenc-test-XXXXXX");
    CHECK(mkdtemp(out) != NULL, "mkdtemp %s: %s", out, strerror(errno));
}

void tt_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            tt_path(path, sizeof path, dir, e->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(dir);
}

unsigned char *tt_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "cannot open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    CHECK(buf && fread(buf, 1, (size_t)n, f) == (size_t)n, "cannot read %s", path);
    fclose(f);
    buf[n] = 0;
    *size = (size_t)n;
    return buf;
}

void tt_write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "cannot create %s: %s", path, strerror(errno));
    CHECK(fwrite(data, 1, size, f) == size && fclose(f) == 0, "cannot write %s", path);
}

void tt_copy_file(const char *from, const char *to)
{
    size_t n;
    unsigned char *data = tt_read_file(from, &n);
    tt_write_file(to, data, n);
    free(data);
}
