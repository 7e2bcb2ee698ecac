/* CPU feature and cache detection, done once per process. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* syscall() */
#include "cpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define TFE_X86 1
#endif
#if defined(TFE_X86) && defined(__linux__)
#include <sys/syscall.h>
#endif
#if defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

static tfe_cpu_info g_cpu;
static int g_cpu_ready; /* set last; a racing second detection writes identical values */

#ifdef TFE_X86
static unsigned long long xgetbv0(void)
{
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static void detect_x86(tfe_cpu_info *ci)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    /* The OS must save ymm (bits 1,2) for AVX, and opmask + zmm state (bits 5,6,7) for AVX-512. */
    int ymm_ok = (xcr0 & 0x6) == 0x6, zmm_ok = (xcr0 & 0xe6) == 0xe6;
    unsigned b7 = 0, c7 = 0, d7 = 0, a71 = 0;
    if (__get_cpuid_max(0, NULL) >= 7) {
        __cpuid_count(7, 0, a, b7, c7, d7);
        unsigned bb, cc, dd;
        __cpuid_count(7, 1, a71, bb, cc, dd);
    }
    int avx2 = (b7 >> 5) & 1;
    int f = (b7 >> 16) & 1, dq = (b7 >> 17) & 1, bw = (b7 >> 30) & 1, vl = (b7 >> 31) & 1;
    ci->isa[TFE_ISA_AVX2] = avx && avx2 && fma && ymm_ok;
    ci->isa[TFE_ISA_AVX512] = ci->isa[TFE_ISA_AVX2] && f && dq && bw && vl && zmm_ok;
    ci->avx512_vnni = ci->isa[TFE_ISA_AVX512] && ((c7 >> 11) & 1);
    ci->avx512_bf16 = ci->isa[TFE_ISA_AVX512] && ((a71 >> 5) & 1);
    /* AMX: AMX-TILE and AMX-BF16 with the tile state enabled in XCR0 (bits 17, 18). Linux also
     * wants the process to ask for the tile data: tfe_cpu_amx_enable. */
    ci->isa[TFE_ISA_AMX] = ci->isa[TFE_ISA_AVX512] && ((d7 >> 24) & 1) && ((d7 >> 22) & 1) &&
                           (xcr0 & 0x60000) == 0x60000;

    unsigned brand[12];
    if ((unsigned)__get_cpuid_max(0x80000000, NULL) >= 0x80000004u) {
        for (unsigned i = 0; i < 3; i++)
            __get_cpuid(0x80000002 + i, &brand[4 * i], &brand[4 * i + 1], &brand[4 * i + 2],
                        &brand[4 * i + 3]);
        char s[49];
        memcpy(s, brand, 48);
        s[48] = '\0';
        char *p = s;
        while (*p == ' ')
            p++;
        snprintf(ci->name, sizeof ci->name, "%s", p);
    }
}
#endif

#if defined(__aarch64__)
static void detect_arm(tfe_cpu_info *ci)
{
    ci->isa[TFE_ISA_NEON] = (getauxval(AT_HWCAP) & HWCAP_ASIMD) != 0;
    snprintf(ci->name, sizeof ci->name, "aarch64 (hwcap 0x%lx)", getauxval(AT_HWCAP));
}
#endif

/* Reads a sysfs cache size like "48K"; 0 when absent. */
static long sysfs_cache(int level, const char *type)
{
    for (int idx = 0; idx < 8; idx++) {
        char path[128], buf[32];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", idx);
        FILE *f = fopen(path, "r");
        if (!f)
            return 0;
        int lv = fgets(buf, sizeof buf, f) ? atoi(buf) : 0;
        fclose(f);
        if (lv != level)
            continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", idx);
        f = fopen(path, "r");
        if (!f)
            continue;
        int match = fgets(buf, sizeof buf, f) && strncmp(buf, type, strlen(type)) == 0;
        fclose(f);
        if (!match)
            continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", idx);
        f = fopen(path, "r");
        if (!f)
            continue;
        long v = 0;
        if (fgets(buf, sizeof buf, f)) {
            char *end;
            v = strtol(buf, &end, 10);
            if (*end == 'K')
                v *= 1024;
            else if (*end == 'M')
                v *= 1024 * 1024;
        }
        fclose(f);
        return v;
    }
    return 0;
}

static void detect_caches(tfe_cpu_info *ci)
{
    ci->l1d = sysfs_cache(1, "Data");
    ci->l2 = sysfs_cache(2, "Unified");
    ci->l3 = sysfs_cache(3, "Unified");
#ifdef _SC_LEVEL1_DCACHE_SIZE
    if (ci->l1d <= 0)
        ci->l1d = sysconf(_SC_LEVEL1_DCACHE_SIZE);
    if (ci->l2 <= 0)
        ci->l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (ci->l3 <= 0)
        ci->l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
#endif
    /* Conservative defaults keep the blocking sane where nothing is reported (e.g. qemu). */
    if (ci->l1d <= 0)
        ci->l1d = 32 * 1024;
    if (ci->l2 <= 0)
        ci->l2 = 512 * 1024;
    if (ci->l3 < 0)
        ci->l3 = 0;
}

const tfe_cpu_info *tfe_cpu(void)
{
    if (__atomic_load_n(&g_cpu_ready, __ATOMIC_ACQUIRE))
        return &g_cpu;
    tfe_cpu_info ci;
    memset(&ci, 0, sizeof ci);
    snprintf(ci.name, sizeof ci.name, "unknown");
    ci.isa[TFE_ISA_SCALAR] = 1;
#ifdef TFE_X86
    detect_x86(&ci);
#endif
#if defined(__aarch64__)
    detect_arm(&ci);
#endif
    detect_caches(&ci);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    ci.cores = n > 0 ? (int)n : 1;
    g_cpu = ci;
    __atomic_store_n(&g_cpu_ready, 1, __ATOMIC_RELEASE);
    return &g_cpu;
}

int tfe_cpu_amx_enable(void)
{
    static int state; /* 0: not asked yet, 1: granted, -1: refused or impossible */
    int st = __atomic_load_n(&state, __ATOMIC_ACQUIRE);
    if (st)
        return st > 0;
    int ok = 0;
#if defined(TFE_X86) && defined(__linux__) && defined(SYS_arch_prctl)
    enum { ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
    /* Idempotent: two threads racing here both get the same answer. */
    ok = tfe_cpu()->isa[TFE_ISA_AMX] &&
         syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
#endif
    __atomic_store_n(&state, ok ? 1 : -1, __ATOMIC_RELEASE);
    return ok;
}

int tfe_isa_parse(const char *s)
{
    if (!s || !*s)
        return TFE_ISA_AUTO;
    for (int i = 0; i < TFE_ISA_COUNT; i++)
        if (strcmp(s, tfe_isa_name((tfe_isa)i)) == 0)
            return i;
    return -2;
}

tfe_isa tfe_isa_env_cap(void)
{
    const char *s = getenv("TFENC_ISA");
    int v = tfe_isa_parse(s);
    if (v == -2) {
        static int warned;
        if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
            fprintf(stderr, "tfenc: warning: unknown TFENC_ISA=%s ignored "
                            "(expected scalar, avx2, avx512, amx or neon)\n", s);
        return TFE_ISA_AUTO;
    }
    return (tfe_isa)v;
}

const char *tfe_isa_name(tfe_isa isa)
{
    switch (isa) {
    case TFE_ISA_SCALAR: return "scalar";
    case TFE_ISA_AVX2: return "avx2";
    case TFE_ISA_AVX512: return "avx512";
    case TFE_ISA_NEON: return "neon";
    case TFE_ISA_AMX: return "amx";
    default: return "auto";
    }
}
