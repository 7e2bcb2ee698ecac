// Baseline GEMM rows: OpenBLAS (cblas_sgemm) and oneDNN (dnnl_sgemm) computing the same
// C = A·Wᵀ as tfenc, W row-major [N×K], when the build found them.
#include <cstdlib>
#include <string>

#include "bench_common.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#if TFE_BENCH_HAVE_OPENBLAS
#include <cblas.h>
#endif
#if TFE_BENCH_HAVE_DNNL
#include <dnnl.h>
#endif

namespace tfb {

#if TFE_BENCH_HAVE_OPENBLAS || TFE_BENCH_HAVE_DNNL
// Weights for a baseline: the same random W as tfenc's rows, unpacked [N×K].
static const WeightBank &raw_weights(const GemmShape &s)
{
    return weight_bank("rowmajor", s.n, s.k, (size_t)s.n * s.k, s.m <= kStreamRows,
                       [&](float *dst) { fill_random(dst, (size_t)s.n * s.k, 7); });
}

static void baseline_counters(benchmark::State &st, const Meter &m, const GemmShape &s,
                              int threads)
{
    set_flops(st, m, 2.0 * s.m * s.n * s.k, baseline_isa(), threads);
    if (s.m <= kStreamRows)
        set_bytes(st, m, 4.0 * s.n * s.k, threads);
}
#endif

#if TFE_BENCH_HAVE_OPENBLAS
static void bm_openblas(benchmark::State &st, const GemmShape &s, int threads)
{
    const WeightBank &wb = raw_weights(s);
    Buf a((size_t)s.m * s.k), c((size_t)s.m * s.n);
    a.fill_random(3);
    openblas_set_num_threads(threads); // OpenBLAS's own pthreads, set per row
    size_t i = 0;
    Meter meter;
    for (auto _ : st) {
        const float *w = wb.copies[i++ % wb.copies.size()];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.m, s.n, s.k, 1.0f, a.data(), s.k,
                    w, s.k, 0.0f, c.data(), s.n);
        benchmark::ClobberMemory();
    }
    meter.stop();
    baseline_counters(st, meter, s, threads);
}
#endif

#if TFE_BENCH_HAVE_DNNL
static void bm_onednn(benchmark::State &st, const GemmShape &s, int threads)
{
    const WeightBank &wb = raw_weights(s);
    Buf a((size_t)s.m * s.k), c((size_t)s.m * s.n);
    a.fill_random(3);
    // oneDNN runs on OpenMP with omp_get_max_threads() threads: set it for this row only (the
    // library under test never calls omp_set_num_threads; the harness may).
#ifdef _OPENMP
    int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
#endif
    size_t i = 0;
    Meter meter;
    for (auto _ : st) {
        const float *w = wb.copies[i++ % wb.copies.size()];
        dnnl_status_t rc = dnnl_sgemm('N', 'T', s.m, s.n, s.k, 1.0f, a.data(), s.k, w, s.k, 0.0f,
                                      c.data(), s.n);
        if (rc != dnnl_success) {
            st.SkipWithError("dnnl_sgemm failed");
            break;
        }
        benchmark::ClobberMemory();
    }
    meter.stop();
#ifdef _OPENMP
    omp_set_num_threads(saved);
#endif
    baseline_counters(st, meter, s, threads);
}
#endif

std::vector<GemmProvider> gemm_baselines()
{
    std::vector<GemmProvider> v;
#if TFE_BENCH_HAVE_OPENBLAS
    v.push_back({"openblas", baseline_isa(), false, bm_openblas});
#endif
#if TFE_BENCH_HAVE_DNNL
    v.push_back({"onednn", baseline_isa(), false, bm_onednn});
#endif
    return v;
}

static std::string env_or(const char *name, const char *fallback)
{
    const char *v = std::getenv(name);
    return v ? v : fallback;
}

void baseline_context(const ContextFn &add)
{
    std::string list;
#if TFE_BENCH_HAVE_OPENBLAS
    list += "openblas ";
    add("openblas_config", openblas_get_config());
    add("openblas_corename", openblas_get_corename());
    add("OPENBLAS_CORETYPE", env_or("OPENBLAS_CORETYPE", "(unset)"));
    add("OPENBLAS_L2_SIZE", env_or("OPENBLAS_L2_SIZE", "(unset)"));
#endif
#if TFE_BENCH_HAVE_DNNL
    list += "onednn ";
    const dnnl_version_t *v = dnnl_version();
    add("onednn_version", std::to_string(v->major) + "." +
                                                      std::to_string(v->minor) + "." +
                                                      std::to_string(v->patch));
    add("ONEDNN_MAX_CPU_ISA", env_or("ONEDNN_MAX_CPU_ISA", "(unset)"));
#endif
    if (!list.empty())
        list.pop_back();
    add("baselines", list.empty() ? "(none built)" : list);
    add("baseline_peak_isa", tfe_isa_name(baseline_isa()));
}

std::string openblas_env_warning()
{
#if TFE_BENCH_HAVE_OPENBLAS
    const char *core = std::getenv("OPENBLAS_CORETYPE"), *l2 = std::getenv("OPENBLAS_L2_SIZE");
    if (!core && !l2)
        return "";
    std::string set;
    if (core)
        set += std::string(" OPENBLAS_CORETYPE=") + core;
    if (l2)
        set += std::string(" OPENBLAS_L2_SIZE=") + l2;
    return "tfenc-bench: warning:" + set +
           " is set. OpenBLAS reads it when it is loaded, so the gemm/openblas rows may use "
           "kernels slower than this CPU's best and are not a fair baseline. For a fair run: "
           "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE tfenc-bench ...";
#else
    return "";
#endif
}

} // namespace tfb
