/* Bad inputs: each broken model directory, config or call is one test that expects its own
 * status code and a message naming the culprit, and never a crash. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "tfenc.h"
#include "util.h"

/* The fixture the broken copies start from: sinusoidal, post-LN, no final norm, D 32, F 64,
 * 2 layers, vocab 61, max_positions 12. */
#define BASE "post_relu_sin"

/* A private copy of a fixture's model directory (config.json + model.safetensors). */
typedef struct model_dir {
    char path[4096], config[4200], weights[4200];
} model_dir;

static model_dir copy_fixture(const char *name)
{
    model_dir d;
    char from[4096], file[4200];
    tt_tempdir(d.path, sizeof d.path);
    tt_path(d.config, sizeof d.config, d.path, "config.json");
    tt_path(d.weights, sizeof d.weights, d.path, "model.safetensors");
    tt_path(from, sizeof from, tt_fixtures(), name);
    tt_path(file, sizeof file, from, "config.json");
    tt_copy_file(file, d.config);
    tt_path(file, sizeof file, from, "model.safetensors");
    tt_copy_file(file, d.weights);
    return d;
}

/* Loading must fail with `want` and a one-line message holding `what` and `file` (a path
 * suffix, or NULL); with err NULL it must fail the same way without touching err. */
static void expect_load_error(const model_dir *d, tfe_status want, const char *what,
                              const char *file)
{
    tfe_model *m = (tfe_model *)&m; /* any non-NULL value: a failed load must reset it */
    tfe_error err = {0};
    tfe_status st = tfe_model_load(d->path, NULL, &m, &err);
    CHECK(st == want, "loading %s: status %s (%d), expected %s (%d); message: %s", d->path,
          tfe_strerror(st), (int)st, tfe_strerror(want), (int)want, err.message);
    CHECK(m == NULL, "a failed load must set *out to NULL");
    CHECK(err.code == st, "err.code %d differs from the returned status %d", (int)err.code,
          (int)st);
    CHECK(strstr(err.message, what) != NULL, "message \"%s\" does not mention \"%s\"",
          err.message, what);
    CHECK(!file || strstr(err.message, file) != NULL, "message \"%s\" does not name %s",
          err.message, file);
    CHECK(err.message[0] && !strchr(err.message, '\n'), "message \"%s\" is not one line",
          err.message);
    m = NULL;
    CHECK(tfe_model_load(d->path, NULL, &m, NULL) == want && m == NULL,
          "with err NULL the load must fail the same way");
    tt_rmdir(d->path);
}

/* safetensors as three parts: the JSON header, the data section, and the raw header text. */
typedef struct st_file {
    cJSON *header;
    unsigned char *data;
    size_t data_size;
} st_file;

static st_file st_read(const char *path)
{
    size_t size;
    unsigned char *bytes = tt_read_file(path, &size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | bytes[i];
    CHECK(size >= 8 && hlen <= size - 8, "%s: not a safetensors file", path);
    st_file f = {.header = cJSON_ParseWithLength((const char *)bytes + 8, (size_t)hlen),
                 .data_size = size - 8 - (size_t)hlen};
    CHECK(f.header != NULL, "%s: header is not JSON", path);
    f.data = malloc(f.data_size + 1);
    CHECK(f.data != NULL, "out of memory");
    memcpy(f.data, bytes + 8 + hlen, f.data_size);
    free(bytes);
    return f;
}

/* Writes header (padded with `pad_to`-aligned spaces, as the format allows) and data. */
static void st_write_raw(const char *path, const char *header, size_t pad_to,
                         const unsigned char *data, size_t data_size)
{
    size_t hlen = strlen(header);
    size_t padded = pad_to ? (hlen + pad_to - 1) / pad_to * pad_to : hlen;
    unsigned char *out = malloc(8 + padded + data_size);
    CHECK(out != NULL, "out of memory");
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(out + 8, header, hlen);
    memset(out + 8 + hlen, ' ', padded - hlen);
    memcpy(out + 8 + padded, data, data_size);
    tt_write_file(path, out, 8 + padded + data_size);
    free(out);
}

static void st_write(const char *path, st_file *f)
{
    char *text = cJSON_PrintUnformatted(f->header);
    CHECK(text != NULL, "out of memory");
    st_write_raw(path, text, 8, f->data, f->data_size);
    cJSON_free(text);
    cJSON_Delete(f->header);
    free(f->data);
}

static cJSON *tensor(st_file *f, const char *name)
{
    cJSON *t = cJSON_GetObjectItemCaseSensitive(f->header, name);
    CHECK(t != NULL, "fixture has no tensor %s", name);
    return t;
}

static void set_numbers(cJSON *entry, const char *key, const double *v, int n)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateNumber(v[i]));
    cJSON_ReplaceItemInObjectCaseSensitive(entry, key, arr);
}

static double offset(cJSON *entry, int which)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(entry, "data_offsets"), which)
        ->valuedouble;
}

/* config.json through cJSON: read, let the test edit, write back. */
static cJSON *config_read(const model_dir *d)
{
    size_t n;
    char *text = (char *)tt_read_file(d->config, &n);
    cJSON *c = cJSON_Parse(text);
    free(text);
    CHECK(c != NULL, "%s is not JSON", d->config);
    return c;
}

static void config_write(const model_dir *d, cJSON *c)
{
    char *text = cJSON_Print(c);
    CHECK(text != NULL, "out of memory");
    tt_write_file(d->config, text, strlen(text));
    cJSON_free(text);
    cJSON_Delete(c);
}

static void config_set(const model_dir *d, const char *key, cJSON *value)
{
    cJSON *c = config_read(d);
    if (value) {
        if (cJSON_GetObjectItemCaseSensitive(c, key))
            cJSON_ReplaceItemInObjectCaseSensitive(c, key, value);
        else
            cJSON_AddItemToObject(c, key, value);
    } else {
        cJSON_DeleteItemFromObjectCaseSensitive(c, key);
    }
    config_write(d, c);
}

/* ---- model.safetensors ---- */

TFE_TEST(errors, safetensors_shorter_than_header_size)
{
    model_dir d = copy_fixture(BASE);
    tt_write_file(d.weights, "\x10\0\0\0\0", 5);
    expect_load_error(&d, TFE_ERR_FORMAT, "truncated", "model.safetensors");
}

TFE_TEST(errors, safetensors_empty)
{
    model_dir d = copy_fixture(BASE);
    tt_write_file(d.weights, "", 0);
    expect_load_error(&d, TFE_ERR_FORMAT, "truncated", "model.safetensors");
}

TFE_TEST(errors, safetensors_data_shorter_than_offsets)
{
    model_dir d = copy_fixture(BASE);
    st_file f = st_read(d.weights);
    /* The tensor whose data ends last is the one the cut reaches. */
    const char *last = NULL;
    double end = -1;
    for (cJSON *e = f.header->child; e; e = e->next)
        if (strcmp(e->string, "__metadata__") != 0 && offset(e, 1) > end)
            end = offset(e, 1), last = e->string;
    char name[128];
    snprintf(name, sizeof name, "'%s'", last);
    f.data_size -= 4;
    st_write(d.weights, &f);
    expect_load_error(&d, TFE_ERR_FORMAT, name, "model.safetensors");
}

TFE_TEST(errors, safetensors_header_size_beyond_file)
{
    model_dir d = copy_fixture(BASE);
    size_t size;
    unsigned char *bytes = tt_read_file(d.weights, &size);
    for (int i = 0; i < 8; i++)
        bytes[i] = (unsigned char)((uint64_t)(size - 7) >> (8 * i));
    tt_write_file(d.weights, bytes, size);
    free(bytes);
    expect_load_error(&d, TFE_ERR_FORMAT, "header size", "model.safetensors");
}

TFE_TEST(errors, safetensors_header_size_huge)
{
    model_dir d = copy_fixture(BASE);
    size_t size;
    unsigned char *bytes = tt_read_file(d.weights, &size);
    memset(bytes, 0xff, 8); /* 2^64 - 1: no 8 + size arithmetic may wrap */
    tt_write_file(d.weights, bytes, size);
    free(bytes);
    expect_load_error(&d, TFE_ERR_FORMAT, "header size", "model.safetensors");
}

TFE_TEST(errors, safetensors_header_not_json)
{
    model_dir d = copy_fixture(BASE);
    size_t size;
    unsigned char *bytes = tt_read_file(d.weights, &size);
    bytes[8] = '#';
    tt_write_file(d.weights, bytes, size);
    free(bytes);
    expect_load_error(&d, TFE_ERR_FORMAT, "JSON", "model.safetensors");
}

TFE_TEST(errors, safetensors_header_not_object)
{
    model_dir d = copy_fixture(BASE);
    st_write_raw(d.weights, "[1, 2, 3]", 8, (const unsigned char *)"", 0);
    expect_load_error(&d, TFE_ERR_FORMAT, "JSON object", "model.safetensors");
}

TFE_TEST(errors, safetensors_offsets_outside_file)
{
    model_dir d = copy_fixture(BASE);
    st_file f = st_read(d.weights);
    cJSON *e = tensor(&f, "layers.0.norm1.bias");
    double span = offset(e, 1) - offset(e, 0);
    const double off[] = {(double)f.data_size, (double)f.data_size + span};
    set_numbers(e, "data_offsets", off, 2);
    st_write(d.weights, &f);
    expect_load_error(&d, TFE_ERR_FORMAT, "'layers.0.norm1.bias'", "model.safetensors");
}

TFE_TEST(errors, safetensors_offsets_reversed)
{
    model_dir d = copy_fixture(BASE);
    st_file f = st_read(d.weights);
    cJSON *e = tensor(&f, "layers.0.norm1.bias");
    const double off[] = {offset(e, 1), offset(e, 0)};
    set_numbers(e, "data_offsets", off, 2);
    st_write(d.weights, &f);
    expect_load_error(&d, TFE_ERR_FORMAT, "'layers.0.norm1.bias'", "model.safetensors");
}

TFE_TEST(errors, safetensors_offsets_negative)
{
    model_dir d = copy_fixture(BASE);
    st_file f = st_read(d.weights);
    cJSON *e = tensor(&f, "layers.0.norm1.bias");
    const double off[] = {-128.0, 0.0};
    set_numbers(e, "data_offsets", off, 2);
    st_write(d.weights, &f);
    expect_load_error(&d, TFE_ERR_FORMAT, "'layers.0.norm1.bias'", "model.safetensors");
}

TFE_TEST(errors, safetensors_size_disagrees_with_shape)
{
    model_dir d = copy_fixture(BASE);
    st_file f = st_read(d.weights);
    cJSON *e = tensor(&f, "layers.1.linear1.weight");
    const double shape[] = {64, 31};
    set_numbers(e, "shape", shape, 2);
    st_write(d.weights, &f);
    expect_load_error(&d, TFE_ERR_FORMAT, "'layers.1.linear1.weight'", "model.safetensors");
}

TFE_TEST(errors, safetensors_shape_not_integers)
{
    model_dir d = copy_fixture(BASE);
    st_file f = st_read(d.weights);
    cJSON *e = tensor(&f, "layers.0.norm2.weight");
    cJSON *shape = cJSON_CreateArray();
    cJSON_AddItemToArray(shape, cJSON_CreateString("32"));
    cJSON_ReplaceItemInObjectCaseSensitive(e, "shape", shape);
    st_write(d.weights, &f);
    expect_load_error(&d, TFE_ERR_FORMAT, "'layers.0.norm2.weight'", "model.safetensors");
}

TFE_TEST(errors, safetensors_overlapping_tensors)
{
    model_dir d = copy_fixture(BASE);
    st_file f = st_read(d.weights);
    /* Same shape, so only the overlap is wrong. */
    cJSON *w = tensor(&f, "layers.0.norm1.weight"), *b = tensor(&f, "layers.0.norm1.bias");
    const double off[] = {offset(w, 0), offset(w, 1)};
    set_numbers(b, "data_offsets", off, 2);
    st_write(d.weights, &f);
    expect_load_error(&d, TFE_ERR_FORMAT, "overlap", "model.safetensors");
}

TFE_TEST(errors, safetensors_unknown_dtype)
{
    model_dir d = copy_fixture(BASE);
    st_file f = st_read(d.weights);
    cJSON_ReplaceItemInObjectCaseSensitive(tensor(&f, "layers.1.norm1.bias"), "dtype",
                                           cJSON_CreateString("Q4_K"));
    st_write(d.weights, &f);
    expect_load_error(&d, TFE_ERR_FORMAT, "'layers.1.norm1.bias'", "model.safetensors");
}

TFE_TEST(errors, tensor_dtype_f16)
{
    model_dir d = copy_fixture(BASE);
    st_file f = st_read(d.weights);
    /* Twice the elements at 2 bytes each: the byte count still agrees, only the dtype is wrong. */
    cJSON *e = tensor(&f, "layers.0.norm1.weight");
    cJSON_ReplaceItemInObjectCaseSensitive(e, "dtype", cJSON_CreateString("F16"));
    const double shape[] = {64};
    set_numbers(e, "shape", shape, 1);
    st_write(d.weights, &f);
    expect_load_error(&d, TFE_ERR_TENSOR, "'layers.0.norm1.weight'", "model.safetensors");
}

TFE_TEST(errors, tensor_missing)
{
    model_dir d = copy_fixture(BASE);
    st_file f = st_read(d.weights);
    cJSON_DeleteItemFromObjectCaseSensitive(f.header, "layers.1.linear2.bias");
    st_write(d.weights, &f);
    expect_load_error(&d, TFE_ERR_TENSOR, "'layers.1.linear2.bias'", "model.safetensors");
}

TFE_TEST(errors, tensor_shape_transposed)
{
    model_dir d = copy_fixture(BASE);
    st_file f = st_read(d.weights);
    /* [D, F] instead of [F, D]: same bytes, wrong layout. */
    const double shape[] = {32, 64};
    set_numbers(tensor(&f, "layers.0.linear1.weight"), "shape", shape, 2);
    st_write(d.weights, &f);
    expect_load_error(&d, TFE_ERR_TENSOR, "'layers.0.linear1.weight'", "model.safetensors");
}

TFE_TEST(errors, tensor_extra_layer)
{
    model_dir d = copy_fixture(BASE);
    st_file f = st_read(d.weights);
    /* layers.5.norm1.weight with its own 32 floats appended: valid file, but n_layers is 2. */
    cJSON *e = cJSON_Duplicate(tensor(&f, "layers.0.norm1.weight"), 1);
    const double off[] = {(double)f.data_size, (double)f.data_size + 128};
    set_numbers(e, "data_offsets", off, 2);
    cJSON_AddItemToObject(f.header, "layers.5.norm1.weight", e);
    unsigned char *grown = realloc(f.data, f.data_size + 128);
    CHECK(grown != NULL, "out of memory");
    memset(grown + f.data_size, 0, 128);
    f.data = grown, f.data_size += 128;
    st_write(d.weights, &f);
    expect_load_error(&d, TFE_ERR_TENSOR, "'layers.5.norm1.weight'", "model.safetensors");
}

TFE_TEST(errors, tensor_data_misaligned)
{
    model_dir d = copy_fixture(BASE);
    st_file f = st_read(d.weights);
    char *text = cJSON_PrintUnformatted(f.header);
    /* A header length of 4k + 2 puts every float at an odd address. */
    size_t len = strlen(text);
    char *padded = malloc(len + 8);
    CHECK(padded != NULL, "out of memory");
    memcpy(padded, text, len);
    size_t target = (len + 3) / 4 * 4 + 2;
    memset(padded + len, ' ', target - len);
    padded[target] = 0;
    st_write_raw(d.weights, padded, 0, f.data, f.data_size);
    free(padded), cJSON_free(text), cJSON_Delete(f.header), free(f.data);
    expect_load_error(&d, TFE_ERR_FORMAT, "aligned", "model.safetensors");
}

TFE_TEST(errors, safetensors_missing)
{
    model_dir d = copy_fixture(BASE);
    remove(d.weights);
    expect_load_error(&d, TFE_ERR_IO, "cannot open", "model.safetensors");
}

TFE_TEST(errors, safetensors_duplicate_tensor)
{
    model_dir d = copy_fixture(BASE);
    st_file f = st_read(d.weights);
    /* JSON allows the key twice; the second copy points at fresh bytes. */
    cJSON *e = cJSON_Duplicate(tensor(&f, "layers.0.norm2.bias"), 1);
    const double off[] = {(double)f.data_size, (double)f.data_size + 128};
    set_numbers(e, "data_offsets", off, 2);
    cJSON_AddItemToObject(f.header, "layers.0.norm2.bias", e);
    unsigned char *grown = realloc(f.data, f.data_size + 128);
    CHECK(grown != NULL, "out of memory");
    memset(grown + f.data_size, 0, 128);
    f.data = grown, f.data_size += 128;
    st_write(d.weights, &f);
    expect_load_error(&d, TFE_ERR_FORMAT, "'layers.0.norm2.bias'", "model.safetensors");
}

TFE_TEST(errors, safetensors_too_many_dims)
{
    model_dir d = copy_fixture(BASE);
    st_file f = st_read(d.weights);
    const double shape[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 32};
    set_numbers(tensor(&f, "layers.1.norm2.weight"), "shape", shape, 10);
    st_write(d.weights, &f);
    expect_load_error(&d, TFE_ERR_FORMAT, "'layers.1.norm2.weight'", "model.safetensors");
}

TFE_TEST(errors, safetensors_is_a_directory)
{
    model_dir d = copy_fixture(BASE);
    remove(d.weights);
    CHECK(mkdir(d.weights, 0700) == 0, "mkdir %s", d.weights);
    tfe_error err = {0};
    tfe_model *m = NULL;
    tfe_status st = tfe_model_load(d.path, NULL, &m, &err);
    rmdir(d.weights);
    CHECK(st == TFE_ERR_IO && m == NULL && strstr(err.message, "model.safetensors"),
          "model.safetensors is a directory: status %d, message %s", (int)st, err.message);
    tt_rmdir(d.path);
}

TFE_TEST(errors, final_norm_half_present)
{
    model_dir d = copy_fixture("pre_gelu_learned_norm");
    st_file f = st_read(d.weights);
    cJSON_DeleteItemFromObjectCaseSensitive(f.header, "norm.bias");
    st_write(d.weights, &f);
    expect_load_error(&d, TFE_ERR_TENSOR, "'norm.bias'", "model.safetensors");
}

/* ---- config.json, alone and against the tensors ---- */

TFE_TEST(errors, config_disagrees_with_tensors)
{
    model_dir d = copy_fixture(BASE);
    config_set(&d, "d_ff", cJSON_CreateNumber(48));
    expect_load_error(&d, TFE_ERR_TENSOR, "linear1.weight", "model.safetensors");
}

TFE_TEST(errors, config_learned_but_no_position_table)
{
    model_dir d = copy_fixture(BASE);
    config_set(&d, "positional", cJSON_CreateString("learned"));
    expect_load_error(&d, TFE_ERR_TENSOR, "'pos_embedding.weight'", "model.safetensors");
}

TFE_TEST(errors, config_sinusoidal_but_position_table)
{
    model_dir d = copy_fixture("pre_gelu_learned_norm");
    config_set(&d, "positional", cJSON_CreateString("sinusoidal"));
    expect_load_error(&d, TFE_ERR_TENSOR, "'pos_embedding.weight'", "model.safetensors");
}

TFE_TEST(errors, config_fewer_layers_than_tensors)
{
    model_dir d = copy_fixture(BASE);
    config_set(&d, "n_layers", cJSON_CreateNumber(1));
    expect_load_error(&d, TFE_ERR_TENSOR, "'layers.1.", "model.safetensors");
}

TFE_TEST(errors, config_missing_key)
{
    model_dir d = copy_fixture(BASE);
    config_set(&d, "d_model", NULL);
    expect_load_error(&d, TFE_ERR_CONFIG, "'d_model'", "config.json");
}

TFE_TEST(errors, config_missing_norm_first)
{
    model_dir d = copy_fixture(BASE);
    config_set(&d, "norm_first", NULL);
    expect_load_error(&d, TFE_ERR_CONFIG, "'norm_first'", "config.json");
}

TFE_TEST(errors, config_int_as_string)
{
    model_dir d = copy_fixture(BASE);
    config_set(&d, "n_heads", cJSON_CreateString("4"));
    expect_load_error(&d, TFE_ERR_CONFIG, "'n_heads'", "config.json");
}

TFE_TEST(errors, config_int_fractional)
{
    model_dir d = copy_fixture(BASE);
    config_set(&d, "d_model", cJSON_CreateNumber(32.5));
    expect_load_error(&d, TFE_ERR_CONFIG, "'d_model'", "config.json");
}

TFE_TEST(errors, config_int_beyond_any_integer_type)
{
    model_dir d = copy_fixture(BASE);
    config_set(&d, "d_ff", cJSON_CreateNumber(6.4e30));
    expect_load_error(&d, TFE_ERR_CONFIG, "'d_ff'", "config.json");
}

TFE_TEST(errors, config_bool_as_int)
{
    model_dir d = copy_fixture(BASE);
    config_set(&d, "norm_first", cJSON_CreateNumber(1));
    expect_load_error(&d, TFE_ERR_CONFIG, "'norm_first'", "config.json");
}

TFE_TEST(errors, config_eps_as_string)
{
    model_dir d = copy_fixture(BASE);
    config_set(&d, "layer_norm_eps", cJSON_CreateString("1e-5"));
    expect_load_error(&d, TFE_ERR_CONFIG, "'layer_norm_eps'", "config.json");
}

TFE_TEST(errors, config_eps_negative)
{
    model_dir d = copy_fixture(BASE);
    config_set(&d, "layer_norm_eps", cJSON_CreateNumber(-1e-5));
    expect_load_error(&d, TFE_ERR_CONFIG, "layer_norm_eps", "config.json");
}

TFE_TEST(errors, config_unknown_activation)
{
    model_dir d = copy_fixture(BASE);
    config_set(&d, "activation", cJSON_CreateString("swish"));
    expect_load_error(&d, TFE_ERR_CONFIG, "swish", "config.json");
}

TFE_TEST(errors, config_unknown_architecture)
{
    model_dir d = copy_fixture(BASE);
    config_set(&d, "architecture", cJSON_CreateString("transformer-decoder"));
    expect_load_error(&d, TFE_ERR_CONFIG, "architecture", "config.json");
}

TFE_TEST(errors, config_heads_do_not_divide_d_model)
{
    model_dir d = copy_fixture(BASE);
    config_set(&d, "n_heads", cJSON_CreateNumber(5));
    expect_load_error(&d, TFE_ERR_CONFIG, "n_heads", "config.json");
}

TFE_TEST(errors, config_zero_layers)
{
    model_dir d = copy_fixture(BASE);
    config_set(&d, "n_layers", cJSON_CreateNumber(0));
    expect_load_error(&d, TFE_ERR_CONFIG, "n_layers", "config.json");
}

TFE_TEST(errors, config_vocab_out_of_range)
{
    model_dir d = copy_fixture(BASE);
    config_set(&d, "vocab_size", cJSON_CreateNumber(4e9));
    expect_load_error(&d, TFE_ERR_CONFIG, "vocab_size", "config.json");
}

TFE_TEST(errors, config_not_json)
{
    model_dir d = copy_fixture(BASE);
    tt_write_file(d.config, "{\"d_model\": 32,", 15);
    expect_load_error(&d, TFE_ERR_FORMAT, "JSON", "config.json");
}

TFE_TEST(errors, config_not_object)
{
    model_dir d = copy_fixture(BASE);
    tt_write_file(d.config, "[32, 4]", 7);
    expect_load_error(&d, TFE_ERR_FORMAT, "JSON", "config.json");
}

TFE_TEST(errors, config_empty)
{
    model_dir d = copy_fixture(BASE);
    tt_write_file(d.config, "", 0);
    expect_load_error(&d, TFE_ERR_FORMAT, "JSON", "config.json");
}

TFE_TEST(errors, config_huge)
{
    model_dir d = copy_fixture(BASE);
    /* 17 MiB of blanks around a valid object: nothing that size is a config. */
    size_t n = 17u << 20;
    char *text = malloc(n);
    CHECK(text != NULL, "out of memory");
    memset(text, ' ', n);
    size_t len;
    char *orig = (char *)tt_read_file(d.config, &len);
    memcpy(text + n - len, orig, len);
    tt_write_file(d.config, text, n);
    free(orig), free(text);
    expect_load_error(&d, TFE_ERR_FORMAT, "too large", "config.json");
}

TFE_TEST(errors, config_missing)
{
    model_dir d = copy_fixture(BASE);
    remove(d.config);
    expect_load_error(&d, TFE_ERR_IO, "cannot open", "config.json");
}

TFE_TEST(errors, model_directory_missing)
{
    model_dir d;
    tt_tempdir(d.path, sizeof d.path);
    tt_rmdir(d.path);
    expect_load_error(&d, TFE_ERR_IO, "cannot open", d.path);
}

TFE_TEST(errors, model_directory_path_too_long)
{
    char path[6000];
    memset(path, 'a', sizeof path - 1);
    path[sizeof path - 1] = 0;
    tfe_model *m = (tfe_model *)&m;
    tfe_error err = {0};
    tfe_status st = tfe_model_load(path, NULL, &m, &err);
    CHECK(st == TFE_ERR_ARG && m == NULL && strstr(err.message, "too long"),
          "a 5999-character directory: status %d, message %s", (int)st, err.message);
}

/* ---- encode arguments (model: vocab 61, max_positions 12) ---- */

typedef struct loaded {
    tfe_model *m;
    tfe_session *s;
} loaded;

static loaded open_base(void)
{
    char dir[4096];
    tt_path(dir, sizeof dir, tt_fixtures(), BASE);
    loaded l = {0};
    tfe_error err = {0};
    CHECK(tfe_model_load(dir, NULL, &l.m, &err) == TFE_OK, "%s: %s", dir, err.message);
    tfe_session_options so = {.threads = 1, .max_batch = 2, .max_seq = 12};
    CHECK(tfe_session_create(l.m, &so, &l.s, &err) == TFE_OK, "session: %s", err.message);
    return l;
}

static void close_base(loaded *l)
{
    tfe_session_free(l->s);
    tfe_model_free(l->m);
}

/* An encode call that must fail with TFE_ERR_ARG naming `what`, and leave `out` untouched. */
static void expect_encode_error(const int32_t *ids, const int32_t *lengths, int batch, int seq,
                                const char *what)
{
    loaded l = open_base();
    enum { CAP = 4 * 16 * 32 };
    float *out = tt_alloc(CAP);
    tt_canary_fill(out, CAP);
    tfe_error err = {0};
    for (int packed = 0; packed <= 1; packed++) {
        tfe_status st = packed ? tfe_encode_packed(l.s, ids, lengths, batch, seq, out, &err)
                               : tfe_encode(l.s, ids, lengths, batch, seq, out, &err);
        CHECK(st == TFE_ERR_ARG && err.code == TFE_ERR_ARG,
              "%s: status %d (%s), expected TFE_ERR_ARG; message: %s",
              packed ? "tfe_encode_packed" : "tfe_encode", (int)st, tfe_strerror(st),
              err.message);
        CHECK(strstr(err.message, what) != NULL, "message \"%s\" does not mention \"%s\"",
              err.message, what);
        CHECK(tt_canary_check(out, CAP) < 0, "a rejected call wrote into out");
        CHECK(tfe_encode(l.s, ids, lengths, batch, seq, out, NULL) == TFE_ERR_ARG,
              "with err NULL the call must fail the same way");
    }
    /* The same for pooled output, and the inputs' own check says the same without encoding. */
    CHECK(tfe_encode_pooled(l.s, ids, lengths, batch, seq, TFE_POOL_MEAN, 1, out, &err) ==
                  TFE_ERR_ARG && strstr(err.message, what) && tt_canary_check(out, CAP) < 0,
          "tfe_encode_pooled: %s", err.message);
    CHECK(tfe_check_inputs(l.m, ids, lengths, batch, seq, &err) == TFE_ERR_ARG &&
              strstr(err.message, what),
          "tfe_check_inputs: %s", err.message);
    free(out);
    close_base(&l);
}

/* tfe_check_inputs accepts what tfe_encode accepts (and clears err), and needs a model. */
TFE_TEST(errors, check_inputs_accepts_good_input)
{
    loaded l = open_base();
    int32_t ids[2][4] = {{1, 2, 3, 4}, {5, 6, 7, 0}};
    int32_t lengths[2] = {4, 3};
    tfe_error err = {.code = TFE_ERR_ARG, .message = "stale"};
    CHECK(tfe_check_inputs(l.m, &ids[0][0], lengths, 2, 4, &err) == TFE_OK &&
              err.code == TFE_OK && err.message[0] == 0,
          "good input: %s", err.message);
    CHECK(tfe_check_inputs(NULL, &ids[0][0], lengths, 2, 4, &err) == TFE_ERR_ARG &&
              strstr(err.message, "model"),
          "NULL model: %s", err.message);
    close_base(&l);
}

TFE_TEST(errors, encode_token_id_negative)
{
    int32_t ids[2][4] = {{1, 2, 3, 4}, {5, -1, 7, 8}};
    expect_encode_error(&ids[0][0], NULL, 2, 4, "-1");
}

TFE_TEST(errors, encode_token_id_equal_to_vocab)
{
    int32_t ids[2][4] = {{1, 2, 3, 61}, {5, 6, 7, 8}};
    expect_encode_error(&ids[0][0], NULL, 2, 4, "61");
}

TFE_TEST(errors, encode_token_id_huge)
{
    int32_t ids[1][3] = {{1, 2147483647, 3}};
    expect_encode_error(&ids[0][0], NULL, 1, 3, "2147483647");
}

TFE_TEST(errors, encode_length_zero)
{
    int32_t ids[2][4] = {{1, 2, 3, 4}, {5, 6, 7, 8}}, lengths[2] = {4, 0};
    expect_encode_error(&ids[0][0], lengths, 2, 4, "length 0");
}

TFE_TEST(errors, encode_length_negative)
{
    int32_t ids[2][4] = {{1, 2, 3, 4}, {5, 6, 7, 8}}, lengths[2] = {-3, 4};
    expect_encode_error(&ids[0][0], lengths, 2, 4, "length -3");
}

TFE_TEST(errors, encode_length_beyond_seq)
{
    int32_t ids[2][4] = {{1, 2, 3, 4}, {5, 6, 7, 8}}, lengths[2] = {4, 5};
    expect_encode_error(&ids[0][0], lengths, 2, 4, "length 5");
}

TFE_TEST(errors, encode_length_beyond_max_positions)
{
    int32_t ids[1][13] = {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}};
    expect_encode_error(&ids[0][0], NULL, 1, 13, "max_positions");
}

TFE_TEST(errors, encode_batch_zero)
{
    int32_t ids[1] = {1};
    expect_encode_error(ids, NULL, 0, 1, "batch");
}

TFE_TEST(errors, encode_seq_zero)
{
    int32_t ids[1] = {1};
    expect_encode_error(ids, NULL, 1, 0, "seq");
}

TFE_TEST(errors, encode_null_ids)
{
    expect_encode_error(NULL, NULL, 1, 4, "NULL");
}

TFE_TEST(errors, encode_null_out)
{
    loaded l = open_base();
    int32_t ids[4] = {1, 2, 3, 4};
    tfe_error err = {0};
    CHECK(tfe_encode(l.s, ids, NULL, 1, 4, NULL, &err) == TFE_ERR_ARG &&
              strstr(err.message, "NULL"), "out NULL: %s", err.message);
    CHECK(tfe_encode_packed(l.s, ids, NULL, 1, 4, NULL, &err) == TFE_ERR_ARG,
          "packed, out NULL: %s", err.message);
    close_base(&l);
}

TFE_TEST(errors, encode_null_session)
{
    int32_t ids[4] = {1, 2, 3, 4};
    float out[4 * 32];
    tfe_error err = {0};
    CHECK(tfe_encode(NULL, ids, NULL, 1, 4, out, &err) == TFE_ERR_ARG &&
              strstr(err.message, "session"), "session NULL: %s", err.message);
    CHECK(tfe_encode_packed(NULL, ids, NULL, 1, 4, out, NULL) == TFE_ERR_ARG,
          "packed, session NULL, err NULL");
}

/* ---- other NULL and out-of-range arguments of the API ---- */

TFE_TEST(errors, load_null_arguments)
{
    char dir[4096];
    tt_path(dir, sizeof dir, tt_fixtures(), BASE);
    tfe_model *m = NULL;
    tfe_error err = {0};
    CHECK(tfe_model_load(NULL, NULL, &m, &err) == TFE_ERR_ARG && strstr(err.message, "NULL"),
          "dir NULL: %s", err.message);
    CHECK(tfe_model_load(dir, NULL, NULL, &err) == TFE_ERR_ARG && strstr(err.message, "NULL"),
          "out NULL: %s", err.message);
    CHECK(tfe_model_load(NULL, NULL, NULL, NULL) == TFE_ERR_ARG, "all NULL");
    tfe_model_free(NULL);
    tfe_session_free(NULL);
}

TFE_TEST(errors, session_null_arguments)
{
    loaded l = open_base();
    tfe_session *s = NULL;
    tfe_error err = {0};
    CHECK(tfe_session_create(NULL, NULL, &s, &err) == TFE_ERR_ARG && strstr(err.message, "NULL"),
          "model NULL: %s", err.message);
    CHECK(tfe_session_create(l.m, NULL, NULL, &err) == TFE_ERR_ARG, "out NULL: %s", err.message);
    CHECK(tfe_session_create(l.m, NULL, &s, &err) == TFE_OK && s, "opts NULL is allowed: %s",
          err.message);
    tfe_session_free(s);
    close_base(&l);
}

TFE_TEST(errors, session_too_large)
{
    loaded l = open_base();
    tfe_session_options so = {.threads = 1, .max_batch = 1 << 16, .max_seq = 1 << 16};
    tfe_session *s = (tfe_session *)&s;
    tfe_error err = {0};
    CHECK(tfe_session_create(l.m, &so, &s, &err) == TFE_ERR_ARG && s == NULL &&
              strstr(err.message, "65536"), "65536 x 65536 session: %s", err.message);
    close_base(&l);
}

TFE_TEST(errors, random_model_bad_config)
{
    tfe_config base = {.vocab_size = 10, .d_model = 32, .n_heads = 4, .d_ff = 16, .n_layers = 1,
                       .max_positions = 8, .layer_norm_eps = 1e-5f};
    tfe_model *m = (tfe_model *)&m;
    tfe_error err = {0};
    CHECK(tfe_model_create_random(NULL, 1, NULL, &m, &err) == TFE_ERR_ARG,
          "cfg NULL: %s", err.message);
    CHECK(tfe_model_create_random(&base, 1, NULL, NULL, &err) == TFE_ERR_ARG,
          "out NULL: %s", err.message);
    struct { const char *key; tfe_config c; } bad[] = {
        {"d_model", base}, {"n_heads", base}, {"n_layers", base}, {"layer_norm_eps", base},
        {"vocab_size", base},
    };
    bad[0].c.d_model = 0;
    bad[1].c.n_heads = 5;
    bad[2].c.n_layers = -1;
    bad[3].c.layer_norm_eps = 0.0f;
    bad[4].c.vocab_size = 1 << 30;
    for (int i = 0; i < 5; i++) {
        m = (tfe_model *)&m;
        tfe_status st = tfe_model_create_random(&bad[i].c, 1, NULL, &m, &err);
        CHECK(st == TFE_ERR_CONFIG && m == NULL && strstr(err.message, bad[i].key),
              "bad %s: status %d, message %s", bad[i].key, (int)st, err.message);
    }
}

TFE_TEST(errors, strerror_covers_every_status)
{
    const tfe_status all[] = {TFE_OK, TFE_ERR_ARG, TFE_ERR_IO, TFE_ERR_FORMAT, TFE_ERR_CONFIG,
                              TFE_ERR_TENSOR, TFE_ERR_NOMEM, TFE_ERR_UNSUPPORTED};
    for (int i = 0; i < 8; i++) {
        const char *s = tfe_strerror(all[i]);
        CHECK(s && *s, "status %d has no text", (int)all[i]);
        for (int j = 0; j < i; j++)
            CHECK(strcmp(s, tfe_strerror(all[j])) != 0, "statuses %d and %d share \"%s\"",
                  (int)all[i], (int)all[j], s);
    }
    CHECK(tfe_strerror((tfe_status)99) && *tfe_strerror((tfe_status)99), "unknown status text");
}
