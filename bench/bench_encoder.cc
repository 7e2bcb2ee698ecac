// End-to-end rows: encoder/<preset>/b<B>s<S>/t<n>, one tfe_encode per iteration on a preset
// model with random weights; p50/p99 latency from per-iteration manual timing.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "bench_common.h"

namespace tfb {

static std::map<std::string, tfe_model *> &models()
{
    static std::map<std::string, tfe_model *> m;
    return m;
}

// Built once per preset; isa TFE_ISA_AUTO lets the library apply TFENC_ISA itself.
static tfe_model *model_for(const std::string &preset, std::string *why)
{
    auto it = models().find(preset);
    if (it != models().end())
        return it->second;
    release_big_buffers(); // the kernel rows' weight copies are no longer needed
    tfe_config cfg;
    if (tfe_preset_config(preset.c_str(), &cfg) != 0) {
        *why = "unknown preset " + preset;
        return nullptr;
    }
    tfe_model_options mo{};
    mo.isa = TFE_ISA_AUTO;
    tfe_model *m = nullptr;
    tfe_error err;
    if (tfe_model_create_random(&cfg, 1, &mo, &m, &err) != TFE_OK) {
        *why = err.message;
        return nullptr;
    }
    models()[preset] = m;
    return m;
}

void release_encoder_models()
{
    for (auto &kv : models())
        tfe_model_free(kv.second);
    models().clear();
}

// Same interpolation as `tfenc bench`.
static double percentile(const std::vector<double> &sorted, double q)
{
    double pos = q * (double)(sorted.size() - 1);
    size_t i = (size_t)pos;
    double f = pos - (double)i;
    return i + 1 < sorted.size() ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted.back();
}

static void bm_encoder(benchmark::State &st, const std::string &preset, int batch, int seq,
                       const std::vector<int32_t> &lengths, int threads)
{
    std::string why;
    tfe_model *m = model_for(preset, &why);
    if (!m) {
        st.SkipWithError(why.c_str());
        for (auto _ : st) {
        }
        return;
    }
    const tfe_config *c = tfe_model_config(m);
    tfe_session_options so{};
    so.threads = threads, so.max_batch = batch, so.max_seq = seq;
    tfe_session *s = nullptr;
    tfe_error err;
    if (tfe_session_create(m, &so, &s, &err) != TFE_OK) {
        st.SkipWithError(err.message);
        for (auto _ : st) {
        }
        return;
    }
    std::vector<int32_t> ids((size_t)batch * seq), lens(lengths);
    if (lens.empty())
        lens.assign(batch, seq);
    uint64_t r = 12345;
    for (auto &id : ids) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        id = (int32_t)((r >> 33) % (uint64_t)c->vocab_size);
    }
    Buf out((size_t)batch * seq * c->d_model);
    // Warm-up: first touch of the workspace and the output.
    if (tfe_encode(s, ids.data(), lens.data(), batch, seq, out.data(), &err) != TFE_OK) {
        st.SkipWithError(err.message);
        for (auto _ : st) {
        }
        tfe_session_free(s);
        return;
    }
    std::vector<double> sec;
    sec.reserve(1024);
    Meter meter;
    for (auto _ : st) {
        auto t0 = std::chrono::steady_clock::now();
        tfe_encode(s, ids.data(), lens.data(), batch, seq, out.data(), nullptr);
        double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        st.SetIterationTime(dt);
        sec.push_back(dt);
    }
    meter.stop();
    const std::string gemm = tfe_session_gemm(s);
    tfe_session_free(s);

    std::sort(sec.begin(), sec.end());
    double p50 = percentile(sec, 0.5), p99 = percentile(sec, 0.99);
    long tokens = 0;
    for (int32_t l : lens)
        tokens += l;
    double flops = tfe_model_flops(m, batch, lens.data());
    double gflops = flops / p50 * 1e-9;
    // pct_peak: against the peak of the engine the session's GEMM runs on (the tile unit's
    // fp32-equivalent rate for AMX); pct_fma_peak: against the vector FMA peak, the fp32
    // yardstick that is the same for every engine on this CPU.
    const tfe_isa isa = tfe_kernel_isa(gemm.c_str());
    double peak = peak_gflops(isa, threads), fma_peak = peak_gflops(tfe_fma_isa(isa), threads);
    st.counters["p50_ms"] = p50 * 1e3;
    st.counters["p99_ms"] = p99 * 1e3;
    st.counters["tokens/s"] = (double)tokens / p50;
    st.counters["GFLOP/s"] = gflops;
    if (peak > 0)
        st.counters["pct_peak"] = 100.0 * gflops / peak;
    if (fma_peak > 0)
        st.counters["pct_fma_peak"] = 100.0 * gflops / fma_peak;
    set_noise(st, meter);
    st.SetLabel(std::string("isa=") + tfe_isa_name(tfe_model_isa(m)) + " gemm=" + gemm +
                " attention=" + tfe_model_kernel(m, "attention") +
                " layernorm=" + tfe_model_kernel(m, "layernorm"));
}

void register_encoder()
{
    struct Case {
        std::string tag;
        int batch, seq;
        std::vector<int32_t> lengths; // empty: all `seq`
    };
    std::vector<int32_t> mixed;
    for (int l = 16; l <= 128; l += 16)
        mixed.push_back(l);
    std::vector<Case> cases = {{"b1s16", 1, 16, {}},   {"b1s128", 1, 128, {}},
                               {"b1s512", 1, 512, {}}, {"b8s128", 8, 128, {}},
                               {"b8mixed", 8, 128, mixed}};
    if (opts().quick)
        cases = {{"b1s16", 1, 16, {}}, {"b8mixed", 8, 128, mixed}};
    // Enough iterations for a p99 worth the name, yet bounded: 5× the kernel rows' min time.
    double min_time = 5.0 * opts().min_time;
    for (const char *preset : {"bert-base", "minilm", "seed-base"})
        for (const Case &cs : cases) {
            if (opts().quick && cs.tag == "b8mixed" && std::string(preset) != "minilm")
                continue;
            for (int t : opts().threads) {
                std::string p = preset;
                reg("encoder/" + p + "/" + cs.tag + "/" + tname(t),
                    [p, cs, t](benchmark::State &st) {
                        bm_encoder(st, p, cs.batch, cs.seq, cs.lengths, t);
                    }, true)
                    ->MinTime(min_time)
                    ->Unit(benchmark::kMillisecond);
            }
        }
}

} // namespace tfb
