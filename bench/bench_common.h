// Shared pieces of tfenc-bench: options, the measured-peak cache, buffers and counters.
#ifndef TFE_BENCH_COMMON_H
#define TFE_BENCH_COMMON_H

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

// The internal headers are plain C without extern "C" guards.
extern "C" {
#include "cpu.h"
#include "kernels.h"
#include "model.h"
#include "tfenc.h"
}

namespace tfb {

// What the command line and the environment asked for; fixed before registration.
struct Options {
    bool quick = false;          // --tfenc_quick or TFENC_BENCH_QUICK=1: the small grid
    double min_time = 0.2;       // --benchmark_min_time (our default when not given)
    tfe_isa cap = TFE_ISA_AUTO;  // TFENC_ISA, as the library parses it
    std::vector<int> threads;    // thread counts of every family: {1, cores} unless --tfenc_threads
    size_t stream_bytes = 0;     // bytes per triad array and per cold weight set
    bool measure = true;         // false for --benchmark_list_tests: no peak measurement
};
Options &opts();

// ---- measured peaks: once per (ISA, threads), at startup or on first use ----
double peak_gflops(tfe_isa isa, int threads);
double triad_gbs(int threads);
// Measures every supported ISA and the triad for every thread count in opts().threads;
// returns other_cores over the measurement (see Meter).
double measure_peaks();
// Peak a baseline library is compared with: the best ISA the cap allows on this host.
tfe_isa baseline_isa();

// ---- buffers ----
// Deterministic uniform values in [lo, hi).
void fill_random(float *p, size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f);
// 64-byte aligned float buffer, freed on destruction; not copyable.
class Buf {
public:
    Buf() = default;
    explicit Buf(size_t n);
    Buf(Buf &&o) noexcept;
    Buf &operator=(Buf &&o) noexcept;
    Buf(const Buf &) = delete;
    Buf &operator=(const Buf &) = delete;
    ~Buf();
    float *data() const { return p_; }
    size_t size() const { return n_; }
    void fill_random(uint64_t seed, float lo = -1.0f, float hi = 1.0f)
    {
        tfb::fill_random(p_, n_, seed, lo, hi);
    }
private:
    float *p_ = nullptr;
    size_t n_ = 0;
};

// Copies of one weight matrix, enough of them (for cold=true) to exceed the last-level cache,
// so that iteration i reading copy i % count streams the weights from memory as a real model
// does. `layout` names the format (e.g. "packed16", "rowmajor"); `make` fills one copy.
struct WeightBank {
    std::vector<float *> copies;
    size_t floats_per_copy = 0;
};
const WeightBank &weight_bank(const std::string &layout, int n, int k, size_t floats, bool cold,
                              const std::function<void(float *)> &make);
// Frees the cached weight copies and the triad arrays (before the end-to-end rows).
void release_big_buffers();
// Triad arrays of opts().stream_bytes each, allocated once and kept until released.
void triad_arrays(float **a, float **b, float **c, size_t *n);

// ---- counters ----
// Wall time of a benchmark loop and how much CPU other processes used meanwhile (other_cores:
// their CPU seconds per second, from /proc/stat; ~0 on a quiet machine, 1 = a whole core).
class Meter {
public:
    Meter();                 // starts measuring
    void stop();             // call right after the loop
    double seconds() const { return seconds_; }
    double other_cores() const { return other_; }
private:
    double wall0_, busy0_, self0_, seconds_ = 0, other_ = 0;
};
// Counters are plain values computed from the Meter (not Google Benchmark rates, which the
// console would print as "x/s"). Each also sets other_cores.
// GFLOP/s and pct_peak (vs. the peak of `isa` on `threads` threads).
void set_flops(benchmark::State &st, const Meter &m, double flops_per_iter, tfe_isa isa,
               int threads);
// GB/s and pct_triad (vs. the triad bandwidth on `threads` threads).
void set_bytes(benchmark::State &st, const Meter &m, double bytes_per_iter, int threads);
void set_noise(benchmark::State &st, const Meter &m);

// ---- registration ----
// Registers a row timed in wall-clock time (manual=false) or by SetIterationTime (manual=true).
benchmark::internal::Benchmark *reg(const std::string &name,
                                    std::function<void(benchmark::State &)> fn,
                                    bool manual = false);
std::string tname(int threads); // "t<threads>"
// Every name registered, in order (what --benchmark_list_tests prints).
std::vector<std::string> &registered_names();
// A Google Benchmark flag as given in argv (or its BENCHMARK_* environment variable).
std::string gb_flag(const std::vector<std::string> &argv, const std::string &name,
                    const std::string &fallback);
bool flag_truthy(const std::string &v);
// Runs (or lists) the selected rows with the reporters that keep the registered names;
// call after benchmark::Initialize with the arguments as they were before it.
int run_benchmarks(const std::vector<std::string> &argv_before_init);

// The families, in the order they run.
void register_peaks();
void register_ukernels();
void register_gemm();
void register_attention();
void register_layernorm();
void register_encoder();
void release_encoder_models();

// A GEMM row provider: a tfenc impl or a baseline library computing C = A·Wᵀ, W [N×K].
struct GemmShape {
    int m, n, k;
};
struct GemmProvider {
    std::string name;      // the <impl> segment of the benchmark name
    tfe_isa peak_isa;      // pct_peak is relative to this ISA's peak
    bool reference;        // scalar reference: registered on a smaller grid
    std::function<void(benchmark::State &, const GemmShape &, int threads)> run;
};
// Baseline libraries compiled in (OpenBLAS, oneDNN); empty without them.
std::vector<GemmProvider> gemm_baselines();
// Adds one key/value pair to the JSON context (or to the --tfenc_info listing).
using ContextFn = std::function<void(const std::string &key, const std::string &value)>;
// Library versions and settings of the baselines, for the JSON context.
void baseline_context(const ContextFn &add);
// Text of the startup warning when the environment slows OpenBLAS down; empty when fine.
std::string openblas_env_warning();
// The rows with M <= this stream their weights from memory and also report GB/s.
constexpr int kStreamRows = 16;

} // namespace tfb

#endif
