/* libFuzzer targets for everything tfenc reads from a user's files (scripts/fuzz.sh builds and
 * runs them): one target per file kind, chosen at compile time.
 *   FUZZ_WEIGHTS  the input is model.safetensors, beside a valid fixture's config.json
 *   FUZZ_HEADER   the input is the JSON header of model.safetensors, written with its length
 *                 before it and the fixture's tensor data after it: the mutations all land in
 *                 the header (in FUZZ_WEIGHTS most land in the data, which any bytes are)
 *   FUZZ_CONFIG   the input is config.json, beside the same fixture's model.safetensors
 *   FUZZ_NPY      the input is an .npy file, as `tfenc encode` reads ids and lengths
 * A model that loads is also encoded once (short ids), so whatever the loader accepts is
 * exercised too. Any status is fine; a crash or a sanitizer report is the failure. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/cli/npy.h"
#include "tfenc.h"

#ifndef FUZZ_FIXTURE
#error "FUZZ_FIXTURE: a fixture directory (tests/fixtures/...) with config.json and weights"
#endif

#if defined(FUZZ_WEIGHTS) || defined(FUZZ_HEADER)
#define INPUT_NAME "model.safetensors"
#define OTHER_NAME "config.json"
#elif defined(FUZZ_CONFIG)
#define INPUT_NAME "config.json"
#define OTHER_NAME "model.safetensors"
#elif defined(FUZZ_NPY)
#define INPUT_NAME "input.npy"
#else
#error "define one of FUZZ_WEIGHTS, FUZZ_HEADER, FUZZ_CONFIG, FUZZ_NPY"
#endif

static char dir[256];

#ifdef FUZZ_HEADER
/* The fixture's tensor data: what follows its header. */
static unsigned char *tensor_data;
static size_t tensor_bytes;

static void read_tensor_data(void)
{
    FILE *f = fopen(FUZZ_FIXTURE "/model.safetensors", "rb");
    unsigned char len[8];
    if (!f || fread(len, 1, 8, f) != 8) {
        fprintf(stderr, "fuzz: cannot read the fixture's weights\n");
        exit(1);
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | len[i];
    fseek(f, 0, SEEK_END);
    const long end = ftell(f);
    tensor_bytes = (size_t)end - 8 - (size_t)hlen;
    tensor_data = malloc(tensor_bytes);
    if (!tensor_data || fseek(f, (long)(8 + hlen), SEEK_SET) != 0 ||
        fread(tensor_data, 1, tensor_bytes, f) != tensor_bytes) {
        fprintf(stderr, "fuzz: cannot read the fixture's tensor data\n");
        exit(1);
    }
    fclose(f);
}
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(dir, sizeof dir, "%s/tfenc-fuzz-%d", tmp, (int)getpid());
    char cmd[1024];
#ifdef OTHER_NAME
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s/%s' '%s/'", dir, FUZZ_FIXTURE, OTHER_NAME,
             dir);
#else
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
#endif
    if (system(cmd) != 0) {
        fprintf(stderr, "fuzz: cannot set up %s\n", dir);
        exit(1);
    }
#ifdef FUZZ_HEADER
    read_tensor_data();
#endif
    return 0;
}

#ifndef FUZZ_NPY
/* The model in dir, loaded on the scalar kernels (the loader is the same for every ISA), then
 * one short sequence encoded. */
static void load_and_encode(void)
{
    tfe_model *m = NULL;
    tfe_error err;
    tfe_model_options o = {TFE_ISA_SCALAR};
    if (tfe_model_load(dir, &o, &m, &err) != TFE_OK)
        return;
    const tfe_config *c = tfe_model_config(m);
    const int len = c->max_positions < 8 ? c->max_positions : 8;
    tfe_session *s = NULL;
    tfe_session_options so = {1, 1, len};
    float *out = malloc(sizeof(float) * (size_t)len * (size_t)c->d_model);
    if (out && tfe_session_create(m, &so, &s, &err) == TFE_OK) {
        int32_t ids[8];
        for (int i = 0; i < len; i++)
            ids[i] = i % c->vocab_size;
        tfe_encode(s, ids, NULL, 1, len, out, &err);
        tfe_session_free(s);
    }
    free(out);
    tfe_model_free(m);
}
#endif

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, INPUT_NAME);
    FILE *f = fopen(path, "wb");
#ifdef FUZZ_HEADER
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)((uint64_t)size >> (8 * i));
    const int ok = f && fwrite(len, 1, 8, f) == 8 && fwrite(data, 1, size, f) == size &&
                   fwrite(tensor_data, 1, tensor_bytes, f) == tensor_bytes;
#else
    const int ok = f && fwrite(data, 1, size, f) == size;
#endif
    if (!ok) {
        fprintf(stderr, "fuzz: cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
#ifdef FUZZ_NPY
    npy_array arr;
    tfe_error err;
    if (npy_read(path, &arr, &err) == TFE_OK)
        npy_free(&arr);
#else
    load_and_encode();
#endif
    return 0;
}
