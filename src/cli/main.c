/* The tfenc command line: info, encode and bench (DESIGN §3). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu.h"
#include "kernels.h"
#include "npy.h"
#include "tfenc.h"

#ifdef _OPENMP
#include <omp.h>
#endif

static const char usage[] =
    "usage:\n"
    "  tfenc info [--model DIR | --preset NAME] [--batch B] [--seq S] [--threads N]\n"
    "  tfenc encode --model DIR --ids IDS.npy [--lengths LENS.npy] --out OUT.npy [--threads N]\n"
    "               [--pool mean|cls [--normalize]]  (pooled: OUT is [B, d_model])\n"
    "               [--max-tokens N]  (tokens per encode call, default 8192)\n"
    "  tfenc bench [--model DIR | --preset NAME] [--batch B] [--seq S] [--lengths L1,L2,...]\n"
    "              [--threads N] [--iters N] [--warmup N] [--json] [--profile]\n"
    "presets: bert-base (default), minilm, seed-base\n"
    "env: TFENC_ISA=scalar|avx2|avx512|amx|neon caps the ISA; TFENC_VERBOSE=1 prints kernels\n";

static int die(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "tfenc: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    return 1;
}

static int fail_err(const tfe_error *e)
{
    fprintf(stderr, "tfenc: error: %s\n", e->message[0] ? e->message : tfe_strerror(e->code));
    return 1;
}

typedef struct options {
    const char *model, *preset, *ids, *lengths_npy, *lengths_list, *out, *pool;
    int batch, seq, threads, iters, warmup, json, profile, normalize, max_tokens;
} options;

/* Parses a positive int option value; returns 0 on success. */
static int parse_int(const char *flag, const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < 1 || v > INT_MAX / 16)
        return die("error: %s needs a positive integer, got '%s'", flag, s), -1;
    *out = (int)v;
    return 0;
}

static int parse_options(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if (strcmp(a, "--profile") == 0) {
            o->profile = 1;
            continue;
        }
        if (strcmp(a, "--normalize") == 0) {
            o->normalize = 1;
            continue;
        }
        static const char *const valued[] = {"--model", "--preset", "--ids", "--out",
                                             "--lengths", "--batch", "--seq", "--threads",
                                             "--iters", "--warmup", "--pool", "--max-tokens"};
        int known = 0;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
            known |= strcmp(a, valued[k]) == 0;
        if (!known)
            return die("error: unknown option '%s'%s", a, ""), -1;
        if (!v)
            return die("error: %s needs a value%s", a, ""), -1;
        if (strcmp(a, "--model") == 0) o->model = v;
        else if (strcmp(a, "--preset") == 0) o->preset = v;
        else if (strcmp(a, "--ids") == 0) o->ids = v;
        else if (strcmp(a, "--out") == 0) o->out = v;
        else if (strcmp(a, "--pool") == 0) o->pool = v;
        else if (strcmp(a, "--lengths") == 0) {
            if (strcmp(argv[1], "bench") == 0)
                o->lengths_list = v;
            else
                o->lengths_npy = v;
        } else if (strcmp(a, "--batch") == 0) rc = parse_int(a, v, &o->batch);
        else if (strcmp(a, "--seq") == 0) rc = parse_int(a, v, &o->seq);
        else if (strcmp(a, "--threads") == 0) rc = parse_int(a, v, &o->threads);
        else if (strcmp(a, "--iters") == 0) rc = parse_int(a, v, &o->iters);
        else if (strcmp(a, "--max-tokens") == 0) rc = parse_int(a, v, &o->max_tokens);
        else rc = parse_int(a, v, &o->warmup);
        if (rc)
            return -1;
        i++;
    }
    if (o->model && o->preset)
        return die("error: give --model or --preset, not both%s%s", "", ""), -1;
    if ((o->pool || o->normalize || o->max_tokens) && strcmp(argv[1], "encode") != 0)
        return die("error: --pool, --normalize and --max-tokens are options of encode%s%s", "",
                   ""), -1;
    if (o->normalize && !o->pool)
        return die("error: --normalize needs --pool mean or --pool cls%s%s", "", ""), -1;
    if (o->pool && strcmp(o->pool, "mean") != 0 && strcmp(o->pool, "cls") != 0)
        return die("error: --pool must be mean or cls, got '%s'%s", o->pool, ""), -1;
    return 0;
}

/* What the run is called in messages: the model directory or the preset. */
static const char *model_label(const options *o)
{
    return o->model ? o->model : (o->preset ? o->preset : "bert-base");
}

static int open_model(const options *o, tfe_model **m)
{
    tfe_error e;
    if (o->model) {
        if (tfe_model_load(o->model, NULL, m, &e))
            return fail_err(&e);
        return 0;
    }
    const char *name = o->preset ? o->preset : "bert-base";
    tfe_config cfg;
    if (tfe_preset_config(name, &cfg) != 0)
        return die("error: unknown preset '%s' (bert-base, minilm, seed-base)%s", name, "");
    if (tfe_model_create_random(&cfg, 42, NULL, m, &e))
        return fail_err(&e);
    return 0;
}

/* The attention kernel, and the one short sequences run when that differs. */
static const char *attention_label(const tfe_model *m)
{
    static char label[192];
    const char *att = tfe_model_kernel(m, "attention");
    const char *alt = tfe_model_kernel(m, "attention_short");
    if (alt)
        snprintf(label, sizeof label, "%s (%s)", att, alt);
    else
        snprintf(label, sizeof label, "%s", att);
    return label;
}

static const char *act_name(tfe_activation a)
{
    return a == TFE_ACT_RELU ? "relu" : a == TFE_ACT_GELU ? "gelu" : "gelu_tanh";
}

/* The ratio of the tile unit's peak to the FMA peak measured when the model was loaded without
 * a cap (tfe_tile_unit_check_run), or 0 if it was not measured. */
static double tile_unit_gain(void)
{
    const tfe_tile_unit_check *tu = tfe_tile_unit_check_peek();
    return tu && tu->measured ? tu->gain : 0.0;
}

static void print_tile_unit(const char *indent)
{
    const tfe_tile_unit_check *tu = tfe_tile_unit_check_peek();
    if (tu && tu->measured)
        printf("%stile unit: amx %.0f GFLOP/s (bf16x3, fp32-equivalent, while running) = %.2fx "
               "the avx512 FMA peak on %d threads: %s (it pays from %.1fx; TFENC_ISA=amx or "
               "avx512 overrides)\n", indent, tu->tile_gflops, tu->gain, tu->threads,
               tu->pays ? "used" : "not used", TFE_TILE_UNIT_MIN_GAIN);
}

static int cmd_info(const options *o)
{
    const tfe_cpu_info *ci = tfe_cpu();
    printf("tfenc %s\n", TFENC_VERSION);
    printf("cpu: %s, %d logical cores\n", ci->name, ci->cores);
    printf("isa:");
    for (int i = 0; i < TFE_ISA_COUNT; i++)
        if (ci->isa[i])
            printf(" %s%s", tfe_isa_name((tfe_isa)i),
                   tfe_isa_supported((tfe_isa)i) ? "" : "(no kernels in this build)");
    if (ci->avx512_vnni)
        printf(" avx512_vnni");
    if (ci->avx512_bf16)
        printf(" avx512_bf16");
    printf("\ncaches: L1d %ld KiB, L2 %ld KiB, L3 %ld KiB\n", ci->l1d / 1024, ci->l2 / 1024,
           ci->l3 / 1024);
#ifdef _OPENMP
    printf("openmp: %d threads (omp_get_max_threads)\n", omp_get_max_threads());
#else
    printf("openmp: disabled in this build (1 thread)\n");
#endif
    const char *cap = getenv("TFENC_ISA");
    printf("TFENC_ISA: %s\n", cap && *cap ? cap : "(unset)");
    tfe_model *m;
    int rc = open_model(o, &m);
    if (rc)
        return rc;
    const tfe_config *c = tfe_model_config(m);
    printf("model: %s  d_model %d, heads %d, d_ff %d, layers %d, vocab %d, max_positions %d, "
           "%s, %s, %s%s%s\n", model_label(o),
           c->d_model, c->n_heads, c->d_ff, c->n_layers, c->vocab_size, c->max_positions,
           c->positional == TFE_POS_LEARNED ? "learned positions" : "sinusoidal positions",
           act_name(c->activation), c->norm_first ? "pre-LN" : "post-LN",
           c->embed_scale ? ", embed_scale" : "", c->final_norm ? ", final norm" : "");
    printf("kernels: isa %s; gemm %s; attention %s; layernorm %s\n",
           tfe_isa_name(tfe_model_isa(m)), tfe_model_kernel(m, "gemm"), attention_label(m),
           tfe_model_kernel(m, "layernorm"));
    print_tile_unit("");
    printf("resident model size: %.1f MiB (packed weights and tables)\n",
           (double)tfe_model_resident_bytes(m) / (1024.0 * 1024.0));
    int b = o->batch ? o->batch : 1, s = o->seq ? o->seq : 128;
    /* A session of that size on --threads (default: OpenMP's team) shows its workspace, which
     * holds per-thread scratch, and which GEMM it runs (AMX models keep AVX-512 for small
     * ones). */
    tfe_session_options so = {.threads = o->threads, .max_batch = b, .max_seq = s};
    tfe_session *sess;
    tfe_error e;
    if (tfe_session_create(m, &so, &sess, &e) != TFE_OK) {
        fprintf(stderr, "tfenc: error: %s\n", e.message);
        tfe_model_free(m);
        return 1;
    }
    const int nt = tfe_session_threads(sess);
    printf("session workspace for batch %d x seq %d on %d thread%s: %.2f MiB (linear in "
           "tokens)\n", b, s, nt, nt == 1 ? "" : "s",
           (double)tfe_session_workspace_bytes(sess) / (1024.0 * 1024.0));
    printf("session gemm for batch %d x seq %d: %s\n", b, s, tfe_session_gemm(sess));
    tfe_session_free(sess);
    tfe_model_free(m);
    return 0;
}

/* Converts an int32/int64 array to int32, checking the range; returns NULL on error. */
static int32_t *to_i32(const npy_array *a, const char *what, const char *path)
{
    if (a->dtype == NPY_F32) {
        die("error: %s: %s must be an integer array (int32 or int64), not float32", path, what);
        return NULL;
    }
    int32_t *out = malloc(a->count ? a->count * sizeof *out : 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < a->count; i++) {
        int64_t v = a->dtype == NPY_I32 ? ((const int32_t *)a->data)[i]
                                        : ((const int64_t *)a->data)[i];
        if (v < INT32_MIN || v > INT32_MAX) {
            char msg[64];
            snprintf(msg, sizeof msg, "%lld", (long long)v);
            die("error: %s: value %s does not fit in int32", path, msg);
            free(out);
            return NULL;
        }
        out[i] = (int32_t)v;
    }
    return out;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Tokens per encode call in `tfenc encode` (--max-tokens): the session's workspace grows with
 * them (~20 KiB a token for BERT-base), so a large file is encoded in parts of whole sequences
 * and streamed into the output; the bits do not depend on the parts (README, determinism).
 * Parts hold at least ENCODE_MIN_PART_TOKENS (or the whole input): on a tile-unit host a
 * session sized for fewer than 44 tokens runs the FMA GEMM (tfe_session_gemm), which would
 * give other bits than the whole input's session. */
enum { ENCODE_MAX_TOKENS = 8192, ENCODE_MIN_PART_TOKENS = 64 };

static int cmd_encode(const options *o)
{
    if (!o->model || !o->ids || !o->out)
        return die("error: encode needs --model, --ids and --out%s%s", "", "");
    tfe_error e;
    npy_array ids = {0}, lens = {0};
    int32_t *ids32 = NULL, *lens32 = NULL;
    float *out = NULL;
    tfe_model *m = NULL;
    tfe_session *s = NULL;
    int rc = 1;
    if (npy_read(o->ids, &ids, &e)) {
        fail_err(&e);
        goto done;
    }
    if (ids.ndim != 1 && ids.ndim != 2) {
        die("error: %s: ids must be [B,S] or [S]%s", o->ids, "");
        goto done;
    }
    int batch = ids.ndim == 2 ? (int)ids.shape[0] : 1;
    int seq = (int)ids.shape[ids.ndim - 1];
    if (ids.shape[0] > INT_MAX / 16 || ids.shape[ids.ndim - 1] > INT_MAX / 16 || !ids.count) {
        die("error: %s: ids array is empty or too large%s", o->ids, "");
        goto done;
    }
    if (!(ids32 = to_i32(&ids, "ids", o->ids)))
        goto done;
    if (o->lengths_npy) {
        if (npy_read(o->lengths_npy, &lens, &e)) {
            fail_err(&e);
            goto done;
        }
        if (lens.ndim != 1 || lens.shape[0] != batch) {
            char n[32];
            snprintf(n, sizeof n, "%d", batch);
            die("error: %s: lengths must be a 1-d array of %s values", o->lengths_npy, n);
            goto done;
        }
        if (!(lens32 = to_i32(&lens, "lengths", o->lengths_npy)))
            goto done;
    }
    if (tfe_model_load(o->model, NULL, &m, &e)) {
        fail_err(&e);
        goto done;
    }
    /* Every sequence checked before any is encoded: one message, with the file's indices. */
    if (tfe_check_inputs(m, ids32, lens32, batch, seq, &e)) {
        fail_err(&e);
        goto done;
    }
    int max_tokens = o->max_tokens ? o->max_tokens : ENCODE_MAX_TOKENS;
    if (max_tokens < ENCODE_MIN_PART_TOKENS)
        max_tokens = ENCODE_MIN_PART_TOKENS;
    const int fit = (max_tokens + seq - 1) / seq; /* whole sequences per part, rounded up */
    const int part = fit < batch ? fit : batch;
    tfe_session_options so = {.threads = o->threads, .max_batch = part, .max_seq = seq};
    if (tfe_session_create(m, &so, &s, &e)) {
        fail_err(&e);
        goto done;
    }
    const int D = tfe_model_config(m)->d_model;
    const int rows = o->pool ? 1 : seq; /* per sequence */
    out = malloc((size_t)part * rows * D * sizeof(float));
    if (!out) {
        die("error: out of memory for the output%s%s", "", "");
        goto done;
    }
    int64_t shape[3] = {batch, seq, D};
    if (o->pool)
        shape[1] = D;
    npy_writer w;
    if (npy_writer_open(&w, o->out, o->pool ? 2 : 3, shape, &e)) {
        fail_err(&e);
        goto done;
    }
    const tfe_pooling pooling = o->pool && strcmp(o->pool, "cls") == 0 ? TFE_POOL_CLS
                                                                       : TFE_POOL_MEAN;
    /* Progress on stderr for long runs (a line at most every 2 s, and a summary). */
    const double start = now_s();
    double shown = start;
    long long tokens = 0;
    for (int b0 = 0; b0 < batch; b0 += part) {
        const int n = batch - b0 < part ? batch - b0 : part;
        const int32_t *ids_b = ids32 + (size_t)b0 * seq, *lens_b = lens32 ? lens32 + b0 : NULL;
        tfe_status st =
            o->pool ? tfe_encode_pooled(s, ids_b, lens_b, n, seq, pooling, o->normalize, out, &e)
                    : tfe_encode(s, ids_b, lens_b, n, seq, out, &e);
        if (st || npy_writer_put(&w, out, (size_t)n * rows * D, &e)) {
            npy_writer_abort(&w);
            fail_err(&e);
            goto done;
        }
        for (int b = 0; b < n; b++)
            tokens += lens_b ? lens_b[b] : seq;
        const double now = now_s();
        if (now - shown >= 2.0 && b0 + n < batch) {
            fprintf(stderr, "tfenc: %d / %d sequences, %.0f tokens/s\n", b0 + n, batch,
                    (double)tokens / (now - start));
            shown = now;
        }
    }
    if (npy_writer_close(&w, &e)) {
        fail_err(&e);
        goto done;
    }
    if (shown > start) { /* a long run: its totals */
        const double took = now_s() - start;
        fprintf(stderr, "tfenc: encoded %d sequences (%lld tokens) in %.1f s, %.0f tokens/s\n",
                batch, tokens, took, (double)tokens / took);
    }
    rc = 0;
done:
    free(out);
    tfe_session_free(s);
    tfe_model_free(m);
    free(ids32), free(lens32);
    npy_free(&ids), npy_free(&lens);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, int n, double q)
{
    double pos = q * (n - 1);
    int i = (int)pos;
    double f = pos - i;
    return i + 1 < n ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[n - 1];
}

static int cmd_bench(const options *o)
{
    int batch = o->batch ? o->batch : 1, seq = o->seq ? o->seq : 128;
    int32_t *lens = NULL;
    if (o->lengths_list) {
        /* --lengths L1,L2,...: one length per sequence; sets batch (and seq = max). */
        int n = 1;
        for (const char *p = o->lengths_list; *p; p++)
            n += *p == ',';
        lens = malloc((size_t)n * sizeof *lens);
        if (!lens)
            return die("error: out of memory for the --lengths list%s%s", "", "");
        const char *p = o->lengths_list;
        int mx = 0;
        for (int i = 0; i < n; i++) {
            char *end;
            long v = strtol(p, &end, 10);
            if (end == p || v < 1 || v > INT_MAX / 16 || (*end != ',' && *end != '\0')) {
                free(lens);
                return die("error: --lengths needs positive integers like 16,32,128; got '%s'%s",
                           o->lengths_list, "");
            }
            lens[i] = (int32_t)v;
            mx = (int)v > mx ? (int)v : mx;
            p = end + 1;
        }
        if (o->batch && o->batch != n) {
            free(lens);
            return die("error: --batch disagrees with the number of --lengths%s%s", "", "");
        }
        batch = n;
        if (!o->seq)
            seq = mx;
    }
    tfe_model *m;
    tfe_config probe;
    if (!o->json && (o->model || tfe_preset_config(o->preset ? o->preset : "bert-base", &probe) == 0))
        fprintf(stderr, "tfenc: preparing %s ...\n",
                model_label(o));
    double t_load = now_s();
    int rc = open_model(o, &m);
    if (rc) {
        free(lens);
        return rc;
    }
    t_load = now_s() - t_load;
    const tfe_config *c = tfe_model_config(m);
    tfe_error e;
    tfe_session *s;
    tfe_session_options so = {.threads = o->threads, .max_batch = batch, .max_seq = seq};
    if (tfe_session_create(m, &so, &s, &e)) {
        free(lens);
        tfe_model_free(m);
        return fail_err(&e);
    }
    int threads = tfe_session_threads(s);
    int32_t *ids = malloc((size_t)batch * seq * sizeof *ids);
    float *out = malloc((size_t)batch * seq * c->d_model * sizeof *out);
    if (!ids || !out) {
        free(lens), free(ids), free(out);
        tfe_session_free(s);
        tfe_model_free(m);
        return die("error: out of memory%s%s", "", "");
    }
    uint64_t r = 12345;
    for (size_t i = 0; i < (size_t)batch * seq; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        ids[i] = (int32_t)((r >> 33) % (uint64_t)c->vocab_size);
    }
    int32_t *L = lens;
    if (!L) {
        L = malloc((size_t)batch * sizeof *L);
        for (int b = 0; b < batch; b++)
            L[b] = seq;
    }
    rc = 0;
    if (tfe_encode(s, ids, L, batch, seq, out, &e)) {
        rc = fail_err(&e);
        goto done;
    }
    int warmup = o->warmup ? o->warmup : 2;
    for (int i = 0; i < warmup; i++)
        tfe_encode(s, ids, L, batch, seq, out, NULL);
    /* Iterations: --iters, else as many as fit in ~3 s (at least 10, at most 2000). */
    int cap = o->iters ? o->iters : 2000;
    double *ms = malloc((size_t)cap * sizeof *ms);
    int n = 0;
    double start = now_s();
    if (o->profile)
        tfe_session_set_profiling(s, 1);
    while (n < cap) {
        double t0 = now_s();
        tfe_encode(s, ids, L, batch, seq, out, NULL);
        ms[n++] = (now_s() - t0) * 1e3;
        if (!o->iters && n >= 10 && now_s() - start > 3.0)
            break;
    }
    qsort(ms, (size_t)n, sizeof *ms, cmp_double);
    double p50 = percentile(ms, n, 0.5), p99 = percentile(ms, n, 0.99);
    long tokens = 0;
    for (int b = 0; b < batch; b++)
        tokens += L[b];
    double flops = tfe_model_flops(m, batch, L);
    double gflops = flops / (p50 * 1e-3) * 1e-9;
    /* % of the peak of the engine the session's GEMM runs on (for AMX: the tile unit's
     * fp32-equivalent rate), and of the vector FMA peak, which is the same yardstick for every
     * engine of this CPU. */
    const char *gemm = tfe_session_gemm(s);
    tfe_isa isa = tfe_kernel_isa(gemm), fma = tfe_fma_isa(isa);
    double peak = tfe_peak_gflops(isa, threads, 0.3);
    double fma_peak = fma == isa ? peak : tfe_peak_gflops(fma, threads, 0.3);
    double pct = peak > 0 ? 100.0 * gflops / peak : 0.0;
    double fma_pct = fma_peak > 0 ? 100.0 * gflops / fma_peak : 0.0;
    if (o->json) {
        const char *alt = tfe_model_kernel(m, "attention_short");
        printf("{\"p50_ms\": %.4f, \"p99_ms\": %.4f, \"min_ms\": %.4f, \"max_ms\": %.4f, "
               "\"iterations\": %d, \"tokens_per_s\": %.1f, \"gflops\": %.2f, "
               "\"peak_gflops\": %.2f, \"peak_pct\": %.2f, \"fma_peak_gflops\": %.2f, "
               "\"fma_peak_pct\": %.2f, \"isa\": \"%s\", \"threads\": %d, "
               "\"batch\": %d, \"seq\": %d, \"tokens\": %ld, \"model\": \"%s\", "
               "\"gemm\": \"%s\", \"attention\": \"%s\", \"attention_short\": %s%s%s, "
               "\"layernorm\": \"%s\", \"tile_unit_gain\": %.3f, \"version\": \"%s\"}\n",
               p50, p99, ms[0], ms[n - 1], n, (double)tokens / (p50 * 1e-3), gflops, peak, pct,
               fma_peak, fma_pct, tfe_isa_name(isa), threads, batch, seq, tokens,
               model_label(o), gemm, tfe_model_kernel(m, "attention"), alt ? "\"" : "",
               alt ? alt : "null", alt ? "\"" : "", tfe_model_kernel(m, "layernorm"),
               tile_unit_gain(), TFENC_VERSION);
    } else {
        printf("tfenc bench: %s, batch %d x seq %d (%ld real tokens), %d threads, isa %s\n",
               model_label(o), batch, seq, tokens,
               threads, tfe_isa_name(isa));
        printf("  kernels: gemm %s, attention %s, layernorm %s; model ready in %.2f s\n", gemm,
               attention_label(m), tfe_model_kernel(m, "layernorm"), t_load);
        print_tile_unit("  ");
        printf("  latency: p50 %.3f ms  p99 %.3f ms  (min %.3f, max %.3f, %d runs)\n", p50, p99,
               ms[0], ms[n - 1], n);
        printf("  throughput: %.0f tokens/s, %.1f GFLOP/s = %.1f%% of the measured %s peak "
               "(%.0f GFLOP/s on %d threads)\n",
               (double)tokens / (p50 * 1e-3), gflops, pct, tfe_isa_name(isa), peak, threads);
        if (fma != isa)
            printf("  = %.1f%% of the %s FMA peak (%.0f GFLOP/s), the fp32 yardstick\n", fma_pct,
                   tfe_isa_name(fma), fma_peak);
    }
    if (o->profile) {
        tfe_profile p;
        tfe_session_profile(s, &p);
        double tot = p.total > 0 ? p.total : 1;
        fprintf(o->json ? stderr : stdout,
                "  profile (share of encode time over %d runs): embed+output %.1f%%, "
                "qkv gemm %.1f%%, attention %.1f%%, out-proj gemm %.1f%%, ffn up %.1f%%, "
                "ffn down %.1f%%, layernorm %.1f%%\n", n,
                100 * p.embed / tot, 100 * p.qkv_gemm / tot, 100 * p.attention / tot,
                100 * p.out_gemm / tot, 100 * p.ffn_up_gemm / tot, 100 * p.ffn_down_gemm / tot,
                100 * p.layernorm / tot);
    }
    free(ms);
done:
    if (L != lens)
        free(L);
    free(lens), free(ids), free(out);
    tfe_session_free(s);
    tfe_model_free(m);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    options o;
    if (strcmp(argv[1], "info") != 0 && strcmp(argv[1], "encode") != 0 &&
        strcmp(argv[1], "bench") != 0) {
        fprintf(stderr, "tfenc: error: unknown command '%s'\n%s", argv[1], usage);
        return 2;
    }
    for (int i = 2; i < argc; i++) /* `tfenc bench --help`: the usage, not an error */
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
    if (parse_options(argc, argv, &o))
        return 2;
    if (strcmp(argv[1], "info") == 0)
        return cmd_info(&o);
    if (strcmp(argv[1], "encode") == 0)
        return cmd_encode(&o);
    return cmd_bench(&o);
}
