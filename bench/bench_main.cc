// tfenc-bench entry point: our own flags, the measured peaks, the JSON context, registration.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "bench_common.h"
#include "bench_version.h"

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace tfb;

static const char kUsage[] =
    "tfenc-bench: the tfenc benchmark suite (Google Benchmark). Own flags, before or among\n"
    "Google Benchmark's --benchmark_* flags:\n"
    "  --tfenc_quick          small grid (also TFENC_BENCH_QUICK=1)\n"
    "  --tfenc_threads=1,4,8  thread counts of every row (default: 1 and all cores)\n"
    "  --tfenc_info[=peaks]   print the context (CPU, ISA, kernels; with =peaks also the\n"
    "                         measured peaks, a few seconds) and exit\n"
    "Default --benchmark_min_time is 0.2 s (encoder rows: 5x that). Environment: TFENC_ISA caps\n"
    "the ISA; for fair OpenBLAS rows run under env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE.\n";

static std::string env_or(const char *name, const char *fallback)
{
    const char *v = std::getenv(name);
    return v ? v : fallback;
}

static std::string mib(long bytes)
{
    char buf[64];
    if (bytes >= 1024L * 1024)
        std::snprintf(buf, sizeof buf, "%.1f MiB", (double)bytes / (1024.0 * 1024.0));
    else
        std::snprintf(buf, sizeof buf, "%ld KiB", bytes / 1024);
    return buf;
}

static std::string fmt(double v, const char *f = "%.1f")
{
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

// Bytes per triad array and per cold weight set: well past the last-level cache (4×L3), but
// bounded (256 MiB; virtual machines may report an L3 of hundreds of MiB) and by memory.
static size_t stream_bytes(bool quick)
{
    const size_t MiB = 1024 * 1024;
    size_t b = 4 * (size_t)(tfe_cpu()->l3 > 0 ? tfe_cpu()->l3 : 0);
    size_t lo = 32 * MiB, hi = (quick ? 64 : 256) * MiB;
    b = b < lo ? lo : b > hi ? hi : b;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0 && b > (size_t)pages * (size_t)page / 16)
        b = (size_t)pages * (size_t)page / 16;
    return b;
}

static bool parse_threads(const char *s, std::vector<int> *out)
{
    out->clear();
    while (*s) {
        char *end;
        long v = std::strtol(s, &end, 10);
        if (end == s || v < 1 || v > 4096 || (*end != ',' && *end != '\0'))
            return false;
        bool dup = false;
        for (int t : *out)
            dup |= t == (int)v;
        if (!dup)
            out->push_back((int)v);
        s = *end ? end + 1 : end;
    }
    return !out->empty();
}

// Everything needed to tell from the JSON alone what ran, on what, with which settings.
static void context(const ContextFn &add, bool with_peaks, double peaks_noise)
{
    const tfe_cpu_info *ci = tfe_cpu();
    add("tfenc_version", TFENC_VERSION);
    add("tfenc_git", TFE_BENCH_GIT);
    add("cpu_model", ci->name);
    std::string isas;
    for (int i = 0; i < TFE_ISA_COUNT; i++)
        if (ci->isa[i])
            isas += std::string(tfe_isa_name((tfe_isa)i)) + " ";
    if (ci->avx512_vnni)
        isas += "avx512_vnni ";
    if (ci->avx512_bf16)
        isas += "avx512_bf16 ";
    isas.pop_back();
    add("isa_features", isas);
    std::string built;
    for (int i = 0; i < TFE_ISA_COUNT; i++)
        if (tfe_isa_supported((tfe_isa)i))
            built += std::string(tfe_isa_name((tfe_isa)i)) + " ";
    built.pop_back();
    add("isa_usable", built); // built into this library and supported by the host
    add("cache_l1d", mib(ci->l1d));
    add("cache_l2", mib(ci->l2));
    add("cache_l3", mib(ci->l3));
    add("cores", std::to_string(ci->cores));
#ifdef _OPENMP
    add("omp_max_threads", std::to_string(omp_get_max_threads()));
#else
    add("omp_max_threads", "(no OpenMP)");
#endif
    for (const char *v : {"OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_PROC_BIND",
                          "OMP_PLACES"})
        add(v, env_or(v, "(unset)"));
    add("TFENC_ISA", env_or("TFENC_ISA", "(unset)"));
    tfe_kernels k;
    tfe_kernels_select(opts().cap, &k);
    add("isa_cap", opts().cap == TFE_ISA_AUTO ? "none" : tfe_isa_name(opts().cap));
    add("isa_selected", tfe_isa_name(k.isa));
    add("kernel_gemm", k.gemm->name);
    add("kernel_attention", k.attention->name);
    add("kernel_layernorm", k.layernorm->name);

    // Every registry entry and whether this run benchmarks it.
    auto status = [](tfe_isa isa) {
        return tfe_isa_allowed(isa, opts().cap) ? "" : tfe_isa_supported(isa) ? "(capped)"
                                                                               : "(unsupported)";
    };
    int n;
    std::string s;
    const tfe_gemm_impl *g = tfe_gemm_impls(&n);
    for (int i = 0; i < n; i++)
        s += std::string(g[i].name) + status(g[i].isa) + " ";
    add("impls_gemm", s.substr(0, s.size() - 1));
    s.clear();
    const tfe_attention_impl *a = tfe_attention_impls(&n);
    for (int i = 0; i < n; i++)
        s += std::string(a[i].name) + status(a[i].isa) + " ";
    add("impls_attention", s.substr(0, s.size() - 1));
    s.clear();
    const tfe_layernorm_impl *l = tfe_layernorm_impls(&n);
    for (int i = 0; i < n; i++)
        s += std::string(l[i].name) + status(l[i].isa) + " ";
    add("impls_layernorm", s.substr(0, s.size() - 1));
    s.clear();
    const tfe_peak_impl *p = tfe_peak_impls(&n);
    for (int i = 0; i < n; i++)
        s += std::string(p[i].name) + status(p[i].isa) + " ";
    add("impls_peak", s.substr(0, s.size() - 1));

    std::string ts;
    for (int t : opts().threads)
        ts += std::to_string(t) + ",";
    ts.pop_back();
    add("bench_threads", ts);
    add("bench_quick", opts().quick ? "1" : "0");
    add("bench_min_time_s", fmt(opts().min_time, "%g"));
    add("bench_stream_bytes", mib((long)opts().stream_bytes));
    add("bench_notes",
        "pct_peak: GFLOP/s as % of the measured peak of the impl's ISA on the same thread "
        "count (FMA peak; for amx the tile unit's fp32-equivalent rate; baselines: "
        "baseline_peak_isa; encoder: the ISA of the session's GEMM, and pct_fma_peak against "
        "the vector FMA peak). pct_triad: GB/s as % of the triad bandwidth on the same "
        "threads. gemm rows with M <= 16 rotate through weight copies totalling "
        "bench_stream_bytes, so weights stream from memory.");
#ifdef __clang__
    add("compiler", std::string("clang ") + __clang_version__);
#else
    add("compiler", std::string("gcc ") + __VERSION__);
#endif
    baseline_context(add);

    if (with_peaks) {
        for (int t : opts().threads) {
            for (int i = 0; i < TFE_ISA_COUNT; i++)
                if (tfe_isa_supported((tfe_isa)i))
                    add(std::string("peak_gflops_") + tfe_isa_name((tfe_isa)i) + "_t" +
                            std::to_string(t),
                        fmt(peak_gflops((tfe_isa)i, t)));
            add("triad_gbs_t" + std::to_string(t), fmt(triad_gbs(t)));
        }
        add("peaks_other_cores", fmt(peaks_noise, "%.2f"));
    }
}

int main(int argc, char **argv)
{
    Options &o = opts();
    const char *q = std::getenv("TFENC_BENCH_QUICK");
    o.quick = q && *q && std::strcmp(q, "0") != 0;
    bool info = false, info_peaks = false, have_min_time = false;
    std::vector<char *> args;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (i > 0 && std::strcmp(a, "--tfenc_quick") == 0) {
            o.quick = true;
        } else if (i > 0 && std::strcmp(a, "--tfenc_info") == 0) {
            info = true;
        } else if (i > 0 && std::strcmp(a, "--tfenc_info=peaks") == 0) {
            info = info_peaks = true;
        } else if (i > 0 && std::strncmp(a, "--tfenc_threads=", 16) == 0) {
            if (!parse_threads(a + 16, &o.threads)) {
                std::fprintf(stderr, "tfenc-bench: bad %s (expected e.g. 1,4,8)\n", a);
                return 2;
            }
        } else if (i > 0 && (std::strcmp(a, "--help") == 0 || std::strcmp(a, "-h") == 0)) {
            std::fputs(kUsage, stdout);
            args.push_back(argv[i]); // and Google Benchmark's own help
        } else if (i > 0 && std::strncmp(a, "--tfenc_", 8) == 0) {
            std::fprintf(stderr, "tfenc-bench: unknown flag %s\n%s", a, kUsage);
            return 2;
        } else {
            if (std::strncmp(a, "--benchmark_min_time=", 21) == 0) {
                have_min_time = true;
                char *end;
                double v = std::strtod(a + 21, &end);
                if (end != a + 21 && (*end == '\0' || *end == 's') && v > 0)
                    o.min_time = v;
            }
            args.push_back(argv[i]);
        }
    }
    static char default_min_time[] = "--benchmark_min_time=0.2";
    if (!have_min_time)
        args.push_back(default_min_time);
    std::vector<std::string> gb_args(args.begin(), args.end());
    args.push_back(nullptr);
    int nargs = (int)args.size() - 1;

    int cap = tfe_isa_env_cap();
    o.cap = (tfe_isa)cap;
    if (o.threads.empty()) {
        o.threads.push_back(1);
        if (tfe_cpu()->cores > 1)
            o.threads.push_back(tfe_cpu()->cores);
    }
    o.stream_bytes = stream_bytes(o.quick);
    o.measure = !flag_truthy(gb_flag(gb_args, "benchmark_list_tests", "false"));

    if (info) {
        double noise = info_peaks ? measure_peaks() : 0.0;
        context([](const std::string &k, const std::string &v) {
            std::printf("%-22s %s\n", k.c_str(), v.c_str());
        }, info_peaks, noise);
        return 0;
    }

    register_peaks();
    register_ukernels();
    register_gemm();
    register_attention();
    register_layernorm();
    register_encoder();

    benchmark::Initialize(&nargs, args.data());
    if (benchmark::ReportUnrecognizedArguments(nargs, args.data()))
        return 2;

    if (o.measure) {
        std::string w = openblas_env_warning();
        if (!w.empty())
            std::fprintf(stderr, "%s\n", w.c_str());
        std::fprintf(stderr, "tfenc-bench: measuring peaks (%zu thread counts)...\n",
                     o.threads.size());
        double noise = measure_peaks();
        if (noise > 0.15)
            std::fprintf(stderr,
                         "tfenc-bench: warning: other processes used %.2f cores while the peaks "
                         "were measured; pct_peak and pct_triad will be off (see other_cores)\n",
                         noise);
        context([](const std::string &k, const std::string &v) {
            benchmark::AddCustomContext(k, v);
        }, true, noise);
    }
    run_benchmarks(gb_args);
    benchmark::Shutdown();
    release_encoder_models();
    release_big_buffers();
    return 0;
}
