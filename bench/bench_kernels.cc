// Kernel rows of tfenc-bench: machine peaks, and every registry impl of GEMM, attention and
// LayerNorm that the host supports and TFENC_ISA allows, on the preset models' shapes.
#include <cstring>
#include <string>
#include <vector>

#include "bench_common.h"

#ifdef _OPENMP
#include <omp.h>
#endif

extern "C" {
#include "attention.h"
#include "cpu.h"
#include "gemm.h"
#include "layernorm.h"
#include "peak.h"
}

namespace tfb {

static int team_size()
{
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

static int team_id()
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

// ---------------------------------------------------------------------------------------------
// peak/<impl>/t<n>: the registry's FMA kernels; peak/triad/t<n>: STREAM-like triad.

static void bm_peak(benchmark::State &st, const tfe_peak_impl *impl, int threads)
{
    // About 10 ms of work per iteration, sized from the peak measured at startup.
    double per_iter = impl->kernel(1); // FLOPs of one round on one thread
    double peak = peak_gflops(impl->isa, threads);
    long iters = (long)(0.01 * (peak > 0 ? peak / threads : 1.0) * 1e9 / per_iter);
    if (iters < 1000)
        iters = 1000;
    double flops_total = 0.0;
    Meter meter;
    for (auto _ : st) {
        double flops = 0.0;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) reduction(+ : flops)
#endif
        flops += impl->kernel(iters);
        flops_total += flops;
    }
    meter.stop();
    set_flops(st, meter, flops_total / (double)st.iterations(), impl->isa, threads);
}

static void bm_triad(benchmark::State &st, int threads)
{
    float *a, *b, *c;
    size_t n;
    triad_arrays(&a, &b, &c, &n);
    long nn = (long)n;
    Meter meter;
    for (auto _ : st) {
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
        for (long i = 0; i < nn; i++)
            a[i] = b[i] + 0.5f * c[i];
        benchmark::ClobberMemory();
    }
    meter.stop();
    set_bytes(st, meter, 3.0 * (double)n * sizeof(float), threads);
}

void register_peaks()
{
    int n;
    const tfe_peak_impl *impls = tfe_peak_impls(&n);
    for (int i = 0; i < n; i++) {
        const tfe_peak_impl *impl = &impls[i];
        if (!tfe_isa_allowed(impl->isa, opts().cap))
            continue;
        for (int t : opts().threads)
            reg("peak/" + std::string(impl->name) + "/" + tname(t),
                [impl, t](benchmark::State &st) { bm_peak(st, impl, t); })
                ->Unit(benchmark::kMillisecond);
    }
    for (int t : opts().threads)
        reg("peak/triad/" + tname(t), [t](benchmark::State &st) { bm_triad(st, t); })
            ->Unit(benchmark::kMillisecond);
}

// ---------------------------------------------------------------------------------------------
// ukernel/<impl>/kc<kc>/t<n>: a GEMM impl's innermost call alone, with everything it touches in
// L1: two tiles of A (packed where the impl packs A) against one K slice of a panel, the slice
// the panel orders use (tfe_gemm_blocking_init's kc, halved until the call's data fit L1: the
// AVX-512 panels' 256 steps fill L1 alone), each tile accumulating into its own C tile (35-43
// KiB in all for this host's kernels); on a team, every thread its own copy. Its
// pct_peak is the ceiling a gemm/ row can approach: what the gemm/ rows lose below it goes to
// the memory hierarchy and the driver.

// Tiles, and calls per tile and iteration: about 0.3 ms of work, so a team's region entry is
// noise.
enum { kUkernelTiles = 2, kUkernelCalls = 512 };

// What one thread of a ukernel row touches, in floats: A tiles (fp32: tiles × mr × kc; AMX:
// converted, 3 terms of every chunk of every row tile), the panel slice (fp32 or converted),
// the C tiles.
struct UkernelData {
    size_t a_floats, b_floats, c_floats;
    size_t floats() const { return a_floats + b_floats + c_floats; }
};

static UkernelData ukernel_data(const tfe_gemm_impl *impl, int kc)
{
    const size_t mr = (size_t)impl->mr, nr = (size_t)impl->nr, tiles = kUkernelTiles;
    const size_t chunks = (size_t)(kc + 31) / 32;
    if (impl->amx)
        return {tiles * chunks * 3 * 512 / 2, chunks * 9 * 512 / 2, tiles * mr * nr};
    return {tiles * mr * (size_t)kc, (size_t)kc * nr, tiles * mr * nr};
}

static void bm_ukernel(benchmark::State &st, const tfe_gemm_impl *impl, int kc, int threads)
{
    const int mr = impl->mr, nr = impl->nr, tiles = kUkernelTiles;
    const bool amx = impl->amx != nullptr;
    const int chunks = (kc + 31) / 32;
    const UkernelData data = ukernel_data(impl, kc);
    const size_t a_floats = data.a_floats, b_floats = data.b_floats;
    const size_t per_thread = (data.floats() + 15) / 16 * 16;
    Buf buf(per_thread * threads);
    buf.fill_random(31, -0.5f, 0.5f);
    if (amx) // valid bf16 terms: the random fp32 halves above may be NaN patterns
        for (size_t t = 0; t < (size_t)threads; t++) {
            uint16_t *h = reinterpret_cast<uint16_t *>(buf.data() + t * per_thread);
            for (size_t i = 0; i < 2 * (a_floats + b_floats); i++)
                h[i] = (uint16_t)(0x3c00 + i % 509);
        }
    const int flags = TFE_GEMM_ACCUMULATE | (impl->tile_pack ? TFE_GEMM_A_PACKED : 0);
    const size_t bstride = impl->blocked ? (size_t)16 * kc : 0;
    Meter meter;
    for (auto _ : st) {
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) if (threads > 1)
#endif
        {
            float *base = buf.data() + (size_t)team_id() * per_thread;
            float *a = base, *b = base + a_floats, *c = b + b_floats;
            if (amx) {
                const uint16_t *ah = reinterpret_cast<const uint16_t *>(a);
                const uint16_t *bh = reinterpret_cast<const uint16_t *>(b);
                impl->amx->begin();
                for (int r = 0; r < kUkernelCalls; r++)
                    for (int t = 0; t < tiles; t++)
                        impl->amx->tile(chunks, ah + (size_t)t * 3 * 512,
                                        (size_t)tiles * 3 * 512, bh, c + (size_t)t * 16 * 48, 48,
                                        1, nullptr);
                impl->amx->end();
            } else {
                for (int r = 0; r < kUkernelCalls; r++)
                    for (int t = 0; t < tiles; t++)
                        impl->ukernel(mr, nr, kc, a + (size_t)t * mr * kc,
                                      impl->tile_pack ? 1 : (size_t)kc, b, bstride,
                                      c + (size_t)t * mr * nr, (size_t)nr, flags, nullptr, nullptr,
                                      0);
            }
        }
        benchmark::ClobberMemory();
    }
    meter.stop();
    const double k = amx ? 32.0 * chunks : (double)kc;
    const double flops = 2.0 * kUkernelCalls * tiles * mr * nr * k * threads;
    set_flops(st, meter, flops, impl->isa, threads);
}

void register_ukernels()
{
    int n;
    const tfe_gemm_impl *impls = tfe_gemm_impls(&n);
    for (int i = 0; i < n; i++) {
        const tfe_gemm_impl *impl = &impls[i];
        if (!tfe_isa_allowed(impl->isa, opts().cap) || impl->isa == TFE_ISA_SCALAR)
            continue;
        tfe_gemm_blocking blk;
        tfe_gemm_blocking_init(impl, &blk);
        int kc = blk.kc;
        while (kc > 32 && (long)(ukernel_data(impl, kc).floats() * sizeof(float)) > tfe_cpu()->l1d)
            kc /= 2;
        for (int t : opts().threads)
            reg("ukernel/" + std::string(impl->name) + "/kc" + std::to_string(kc) + "/" + tname(t),
                [impl, kc, t](benchmark::State &st) { bm_ukernel(st, impl, kc, t); });
    }
}

// ---------------------------------------------------------------------------------------------
// gemm/<impl>/<M>x<N>x<K>/t<n>: C[M×N] = A[M×K]·Wᵀ, W [N×K] packed once with tfe_pack_b.

// A model's four weight products (out x in) and the row counts benchmarked for it.
struct GemmModel {
    const char *name;
    int d, f;                     // d_model, d_ff
    std::vector<int> rows;        // M for the tfenc impls and baselines
    std::vector<int> rows_ref;    // M for the scalar reference
};

static std::vector<GemmModel> gemm_models()
{
    if (opts().quick)
        return {{"bert-base", 768, 3072, {1, 128}, {1, 16}}};
    // BERT-base: the full grid (1024 = a batch of 8×128); the smaller models: latency (1, 16)
    // and one batch size, enough to tell whether they behave like BERT's shapes.
    return {{"bert-base", 768, 3072, {1, 16, 128, 512, 1024}, {1, 16, 128}},
            {"minilm", 384, 1536, {1, 16, 128}, {1, 128}},
            {"seed-base", 512, 2048, {1, 16, 128}, {1, 128}}};
}

static void bm_gemm_tfenc(benchmark::State &st, const tfe_gemm_impl *impl, const GemmShape &s,
                          int threads)
{
    const bool cold = s.m <= kStreamRows;
    const WeightBank &wb = weight_bank(
        "packed" + std::to_string(impl->nr) + (impl->blocked ? "b" : ""), s.n, s.k,
        tfe_packed_floats(s.n, s.k, impl->nr),
        cold, [&](float *dst) {
            Buf raw((size_t)s.n * s.k);
            raw.fill_random(7);
            tfe_pack_b(s.n, s.k, impl->nr, impl->blocked, raw.data(), dst);
        });
    Buf a((size_t)s.m * s.k), c((size_t)s.m * s.n);
    a.fill_random(3);
    tfe_gemm_blocking blk;
    tfe_gemm_blocking_init(impl, &blk);
    tfe_packed p{}; // zero-initialised: fields the bench does not know stay 0
    p.n = s.n, p.k = s.k, p.nr = impl->nr, p.blocked = impl->blocked, p.data = wb.copies[0];
    tfe_gemm_args g{};
    g.m = s.m, g.a = a.data(), g.lda = (size_t)s.k, g.b = &p;
    g.act = TFE_GEMM_ACT_NONE, g.c = c.data(), g.ldc = (size_t)s.n;
    // Scratch once, as a session holds it (tfe_gemm would otherwise allocate it per call).
    const size_t scratch_floats = tfe_gemm_scratch_floats(impl, s.k);
    Buf scratch(scratch_floats ? scratch_floats * (size_t)threads : 1);
    g.scratch = scratch_floats ? scratch.data() : nullptr, g.scratch_stride = scratch_floats;
    size_t i = 0;
    Meter meter;
    for (auto _ : st) {
        p.data = wb.copies[i++ % wb.copies.size()];
        tfe_gemm(impl, &blk, &g, threads);
        benchmark::ClobberMemory();
    }
    meter.stop();
    set_flops(st, meter, 2.0 * s.m * s.n * s.k, impl->isa, threads);
    if (cold)
        set_bytes(st, meter, 4.0 * s.n * s.k, threads);
}

void register_gemm()
{
    std::vector<GemmProvider> providers;
    int n;
    const tfe_gemm_impl *impls = tfe_gemm_impls(&n);
    for (int i = 0; i < n; i++) {
        const tfe_gemm_impl *impl = &impls[i];
        if (!tfe_isa_allowed(impl->isa, opts().cap))
            continue;
        providers.push_back({impl->name, impl->isa, impl->isa == TFE_ISA_SCALAR,
                             [impl](benchmark::State &st, const GemmShape &s, int t) {
                                 bm_gemm_tfenc(st, impl, s, t);
                             }});
    }
    for (auto &b : gemm_baselines())
        providers.push_back(b);

    // Shape by shape, so the impls of one shape sit together and share the weight copies.
    for (const GemmModel &gm : gemm_models()) {
        const int d = gm.d, f = gm.f;
        const GemmShape prods[] = {{0, 3 * d, d}, {0, d, d}, {0, f, d}, {0, d, f}};
        for (const GemmShape &pr : prods)
            for (int m : gm.rows)
                for (const GemmProvider &pv : providers) {
                    bool on_grid = false;
                    for (int r : pv.reference ? gm.rows_ref : gm.rows)
                        on_grid |= r == m;
                    if (!on_grid)
                        continue;
                    GemmShape s{m, pr.n, pr.k};
                    for (int t : opts().threads) {
                        std::string name = "gemm/" + pv.name + "/" + std::to_string(m) + "x" +
                                           std::to_string(s.n) + "x" + std::to_string(s.k) +
                                           "/" + tname(t);
                        auto run = pv.run;
                        reg(name, [run, s, t](benchmark::State &st) { run(st, s, t); });
                    }
                }
    }
}

// ---------------------------------------------------------------------------------------------
// attention/<impl>/h<H>d<dh>/b<B>s<S>/t<n>: tfe_attention_team over a packed QKV buffer.

static void bm_attention(benchmark::State &st, const tfe_attention_impl *impl, int heads,
                         int dh, int batch, int seq, int threads)
{
    const int D = heads * dh;
    const size_t tokens = (size_t)batch * seq;
    const size_t ld = 3 * D;
    Buf qkv(tokens * ld), ctx(tokens * D);
    qkv.fill_random(11);
    std::vector<int> offsets(batch + 1);
    for (int b = 0; b <= batch; b++)
        offsets[b] = b * seq;
    size_t stride = tfe_attention_team_scratch_floats(impl, dh, seq);
    Buf scratch(stride * threads);
    tfe_attention_args a{};
    a.batch = batch, a.offsets = offsets.data();
    a.n_heads = heads, a.d_head = dh, a.qkv = qkv.data(), a.qkv_ld = ld, a.ctx = ctx.data();
    a.scratch = scratch.data(), a.scratch_stride = stride;
    Meter meter;
    for (auto _ : st) {
        if (threads <= 1) {
            tfe_attention_team(impl, &a, 0, 1);
        } else {
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
            tfe_attention_team(impl, &a, team_id(), team_size());
        }
        benchmark::ClobberMemory();
    }
    meter.stop();
    set_flops(st, meter, 4.0 * seq * seq * dh * heads * batch, impl->isa, threads);
}

void register_attention()
{
    struct Heads { int h, dh; };
    // The presets' head shapes: BERT-base 12×64, MiniLM 12×32 (d 384), seed-base 8×64.
    std::vector<Heads> heads = {{12, 64}, {12, 32}, {8, 64}};
    std::vector<int> seqs = {16, 128, 512}, batches = {1, 8};
    if (opts().quick)
        heads = {{12, 64}}, seqs = {128}, batches = {1};
    int n;
    const tfe_attention_impl *impls = tfe_attention_impls(&n);
    for (const Heads &hd : heads)
        for (int b : batches)
            for (int s : seqs)
                for (int i = 0; i < n; i++) {
                    const tfe_attention_impl *impl = &impls[i];
                    if (!tfe_isa_allowed(impl->isa, opts().cap))
                        continue;
                    // The scalar reference skips the largest case (seconds per call).
                    if (impl->isa == TFE_ISA_SCALAR && b * s * s > 8 * 128 * 128)
                        continue;
                    for (int t : opts().threads) {
                        std::string name = "attention/" + std::string(impl->name) + "/h" +
                                           std::to_string(hd.h) + "d" + std::to_string(hd.dh) +
                                           "/b" + std::to_string(b) + "s" + std::to_string(s) +
                                           "/" + tname(t);
                        reg(name, [impl, hd, b, s, t](benchmark::State &st) {
                            bm_attention(st, impl, hd.h, hd.dh, b, s, t);
                        });
                    }
                }
}

// ---------------------------------------------------------------------------------------------
// layernorm/<impl>/d<D>/rows<R>/t<n>: residual add + LayerNorm, rows split over the team.

static void bm_layernorm(benchmark::State &st, const tfe_layernorm_impl *impl, int d, int rows,
                         int threads)
{
    Buf x((size_t)rows * d), r((size_t)rows * d), y((size_t)rows * d), g(d), b(d);
    x.fill_random(21), r.fill_random(22), g.fill_random(23, 0.5f, 1.5f), b.fill_random(24);
    const float eps = 1e-5f;
    Meter meter;
    for (auto _ : st) {
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) if (threads > 1)
#endif
        {
            // The encoder's split: contiguous row ranges, one per thread.
            int nt = team_size(), tid = team_id();
            int base = rows / nt, extra = rows % nt;
            int lo = tid * base + (tid < extra ? tid : extra);
            int hi = lo + base + (tid < extra ? 1 : 0);
            for (int i = lo; i < hi; i++)
                impl->kernel(d, x.data() + (size_t)i * d, r.data() + (size_t)i * d, g.data(),
                             b.data(), eps, y.data() + (size_t)i * d);
        }
        benchmark::ClobberMemory();
    }
    meter.stop();
    // x and r read, y written, gamma and beta read once.
    set_bytes(st, meter, 4.0 * (3.0 * rows * d + 2.0 * d), threads);
}

void register_layernorm()
{
    struct Case { int d, rows; };
    std::vector<Case> cases = {{768, 16}, {768, 128}, {768, 1024}, {384, 128}, {384, 1024},
                               {512, 128}, {512, 1024}};
    if (opts().quick)
        cases = {{768, 128}};
    int n;
    const tfe_layernorm_impl *impls = tfe_layernorm_impls(&n);
    for (const Case &c : cases)
        for (int i = 0; i < n; i++) {
            const tfe_layernorm_impl *impl = &impls[i];
            if (!tfe_isa_allowed(impl->isa, opts().cap))
                continue;
            for (int t : opts().threads) {
                std::string name = "layernorm/" + std::string(impl->name) + "/d" +
                                   std::to_string(c.d) + "/rows" + std::to_string(c.rows) + "/" +
                                   tname(t);
                reg(name, [impl, c, t](benchmark::State &st) {
                    bm_layernorm(st, impl, c.d, c.rows, t);
                });
            }
        }
}

} // namespace tfb
