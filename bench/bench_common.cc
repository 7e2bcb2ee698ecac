// Shared pieces of tfenc-bench: the measured-peak cache, aligned buffers, cold weight copies,
// counters and registration.
#include "bench_common.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <utility>

#include <time.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace tfb {

Options &opts()
{
    static Options o;
    return o;
}

// ---- peaks ----

static std::map<std::pair<int, int>, double> &peak_cache()
{
    static std::map<std::pair<int, int>, double> m; // (isa, threads) -> GFLOP/s
    return m;
}

static std::map<int, double> &triad_cache()
{
    static std::map<int, double> m; // threads -> GB/s
    return m;
}

static double peak_seconds() { return opts().quick ? 0.1 : 0.3; }

double peak_gflops(tfe_isa isa, int threads)
{
    auto key = std::make_pair((int)isa, threads);
    auto &c = peak_cache();
    auto it = c.find(key);
    if (it != c.end())
        return it->second;
    double g = tfe_isa_supported(isa) ? tfe_peak_gflops(isa, threads, peak_seconds()) : 0.0;
    c[key] = g;
    return g;
}

double triad_gbs(int threads)
{
    auto &c = triad_cache();
    auto it = c.find(threads);
    if (it != c.end())
        return it->second;
    double g = tfe_triad_gbs(threads, opts().stream_bytes / sizeof(float));
    c[threads] = g;
    return g;
}

double measure_peaks()
{
    Meter m;
    for (int t : opts().threads) {
        for (int i = 0; i < TFE_ISA_COUNT; i++)
            if (tfe_isa_supported((tfe_isa)i))
                peak_gflops((tfe_isa)i, t);
        triad_gbs(t);
    }
    m.stop();
    return m.other_cores();
}

tfe_isa baseline_isa()
{
    // The peers' sgemm runs on FMAs: their peak is the best vector ISA's, not the tile unit's.
    tfe_kernels k;
    tfe_kernels_select(opts().cap, &k);
    return tfe_fma_isa(k.isa);
}

// ---- buffers ----

// The library's allocator: 64-byte aligned, big buffers on transparent huge pages, as the
// model loader places weights and the session its workspace. So weight copies here (tfenc's
// packed ones and the baselines' row-major ones alike) sit in the same kind of memory as a
// loaded model's.
Buf::Buf(size_t n) : n_(n)
{
    p_ = tfe_alloc_floats(n ? n : 16);
    if (!p_) {
        std::fprintf(stderr, "tfenc-bench: out of memory (%zu floats)\n", n);
        std::exit(1);
    }
}

Buf::Buf(Buf &&o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr, o.n_ = 0; }

Buf &Buf::operator=(Buf &&o) noexcept
{
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
}

Buf::~Buf() { std::free(p_); }

void fill_random(float *p, size_t n, uint64_t seed, float lo, float hi)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(s >> 40) * (1.0 / 16777216.0);
        p[i] = lo + (hi - lo) * (float)u;
    }
}

// One cached weight set per layout; all of them belong to one (n, k) at a time, since rows
// are registered shape by shape.
struct BankEntry {
    WeightBank bank;
    Buf storage;
};
static std::map<std::string, BankEntry> &banks()
{
    static std::map<std::string, BankEntry> m;
    return m;
}
static std::pair<int, int> g_bank_shape{-1, -1};

struct TriadArrays {
    Buf a, b, c;
};
static TriadArrays &triad_storage()
{
    static TriadArrays t;
    return t;
}

void release_big_buffers()
{
    banks().clear();
    g_bank_shape = {-1, -1};
    triad_storage() = TriadArrays();
}

const WeightBank &weight_bank(const std::string &layout, int n, int k, size_t floats, bool cold,
                              const std::function<void(float *)> &make)
{
    if (g_bank_shape != std::make_pair(n, k)) {
        release_big_buffers();
        g_bank_shape = {n, k};
    }
    std::string key = layout + (cold ? "/cold" : "/hot");
    auto &m = banks();
    auto it = m.find(key);
    if (it != m.end())
        return it->second.bank;
    size_t stride = (floats + 15) & ~(size_t)15; // keeps every copy 64-byte aligned
    size_t count = 1;
    if (cold) {
        size_t per = stride * sizeof(float);
        count = (opts().stream_bytes + per - 1) / per;
        if (count < 2)
            count = 2;
    }
    BankEntry e;
    e.storage = Buf(stride * count);
    make(e.storage.data());
    e.bank.floats_per_copy = floats;
    for (size_t i = 0; i < count; i++) {
        float *p = e.storage.data() + i * stride;
        if (i > 0)
            std::memcpy(p, e.storage.data(), floats * sizeof(float));
        e.bank.copies.push_back(p);
    }
    auto &slot = m[key];
    slot = std::move(e);
    return slot.bank;
}

void triad_arrays(float **a, float **b, float **c, size_t *n)
{
    TriadArrays &t = triad_storage();
    size_t count = opts().stream_bytes / sizeof(float);
    if (t.a.size() != count) {
        banks().clear();
        g_bank_shape = {-1, -1};
        t.a = Buf(count), t.b = Buf(count), t.c = Buf(count);
        float *pa = t.a.data(), *pb = t.b.data(), *pc = t.c.data();
        long nn = (long)count;
        int threads = opts().threads.back();
        (void)threads;
        // First touch spread over the widest team, as the library's own triad does.
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
        for (long i = 0; i < nn; i++)
            pa[i] = 0.0f, pb[i] = 1.0f, pc[i] = 2.0f;
    }
    *a = t.a.data(), *b = t.b.data(), *c = t.c.data();
    *n = count;
}

// ---- counters ----

static double now_s()
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// CPU seconds all processes used (user, nice, system, irq, softirq, steal), from /proc/stat.
static double system_busy_s()
{
    unsigned long long u = 0, n = 0, s = 0, idle = 0, iow = 0, irq = 0, sirq = 0, st = 0;
    FILE *f = std::fopen("/proc/stat", "r");
    if (!f)
        return 0.0;
    if (std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &u, &n, &s, &idle, &iow,
                    &irq, &sirq, &st) != 8)
        u = n = s = irq = sirq = st = 0;
    std::fclose(f);
    long tck = sysconf(_SC_CLK_TCK);
    return (double)(u + n + s + irq + sirq + st) / (double)(tck > 0 ? tck : 100);
}

static double process_cpu_s()
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

Meter::Meter() : wall0_(now_s()), busy0_(system_busy_s()), self0_(process_cpu_s()) {}

void Meter::stop()
{
    seconds_ = now_s() - wall0_;
    double others = (system_busy_s() - busy0_) - (process_cpu_s() - self0_);
    other_ = seconds_ > 0 && others > 0 ? others / seconds_ : 0.0;
}

void set_noise(benchmark::State &st, const Meter &m)
{
    st.counters["other_cores"] = m.other_cores();
}

void set_flops(benchmark::State &st, const Meter &m, double flops_per_iter, tfe_isa isa,
               int threads)
{
    double g = m.seconds() > 0 ? flops_per_iter * (double)st.iterations() / m.seconds() * 1e-9
                               : 0.0;
    st.counters["GFLOP/s"] = g;
    double peak = peak_gflops(isa, threads);
    if (peak > 0)
        st.counters["pct_peak"] = 100.0 * g / peak;
    set_noise(st, m);
}

void set_bytes(benchmark::State &st, const Meter &m, double bytes_per_iter, int threads)
{
    double g = m.seconds() > 0 ? bytes_per_iter * (double)st.iterations() / m.seconds() * 1e-9
                               : 0.0;
    st.counters["GB/s"] = g;
    double triad = triad_gbs(threads);
    if (triad > 0)
        st.counters["pct_triad"] = 100.0 * g / triad;
    set_noise(st, m);
}

// ---- registration ----

benchmark::internal::Benchmark *reg(const std::string &name,
                                    std::function<void(benchmark::State &)> fn, bool manual)
{
    registered_names().push_back(name);
    auto *b = benchmark::RegisterBenchmark(name.c_str(), [fn](benchmark::State &st) { fn(st); });
    // Wall-clock time: the work runs on an OpenMP team, and the main thread's CPU time would
    // count only one of its threads.
    if (manual)
        b->UseManualTime();
    else
        b->UseRealTime();
    return b->Unit(benchmark::kMicrosecond);
}

std::string tname(int threads) { return "t" + std::to_string(threads); }

} // namespace tfb
