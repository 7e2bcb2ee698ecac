/* config.json (cJSON) and presets. */
#define _POSIX_C_SOURCE 200809L
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

int tfe_preset_config(const char *name, tfe_config *c)
{
    tfe_config base = {.positional = TFE_POS_LEARNED, .activation = TFE_ACT_GELU,
                       .norm_first = 0, .embed_scale = 0, .final_norm = 0,
                       .layer_norm_eps = 1e-12f, .vocab_size = 30522, .max_positions = 512};
    if (!name)
        return -1;
    if (strcmp(name, "bert-base") == 0) {
        base.d_model = 768, base.n_heads = 12, base.d_ff = 3072, base.n_layers = 12;
    } else if (strcmp(name, "minilm") == 0) {
        base.d_model = 384, base.n_heads = 12, base.d_ff = 1536, base.n_layers = 6;
    } else if (strcmp(name, "seed-base") == 0) {
        base.d_model = 512, base.n_heads = 8, base.d_ff = 2048, base.n_layers = 6;
        base.activation = TFE_ACT_RELU, base.positional = TFE_POS_SINUSOIDAL;
        base.embed_scale = 1, base.layer_norm_eps = 1e-5f, base.vocab_size = 32000;
        base.max_positions = 1024;
    } else {
        return -1;
    }
    *c = base;
    return 0;
}

tfe_status tfe_config_validate(const tfe_config *c, const char *what, tfe_error *err)
{
    /* Upper bounds keep every size product far from overflow (and from absurd allocations). */
    struct { const char *key; int v, max; } ints[] = {
        {"vocab_size", c->vocab_size, 1 << 24}, {"d_model", c->d_model, 1 << 16},
        {"n_heads", c->n_heads, 1 << 10},       {"d_ff", c->d_ff, 1 << 18},
        {"n_layers", c->n_layers, 1 << 10},     {"max_positions", c->max_positions, 1 << 20},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (ints[i].v < 1 || ints[i].v > ints[i].max)
            return tfe_fail(err, TFE_ERR_CONFIG, "%s: '%s' = %d is out of range [1, %d]", what,
                            ints[i].key, ints[i].v, ints[i].max);
    if (c->d_model % c->n_heads != 0)
        return tfe_fail(err, TFE_ERR_CONFIG, "%s: d_model %d is not a multiple of n_heads %d",
                        what, c->d_model, c->n_heads);
    if (!(c->layer_norm_eps > 0.0f) || c->layer_norm_eps > 1.0f)
        return tfe_fail(err, TFE_ERR_CONFIG, "%s: layer_norm_eps %g is not in (0, 1]", what,
                        (double)c->layer_norm_eps);
    return TFE_OK;
}

static char *read_text(const char *path, tfe_error *err, tfe_status *st)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *st = tfe_fail(err, TFE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
        if (len + 1 == cap) {
            if (cap >= (1u << 24)) { /* a config is a few hundred bytes; refuse giant files */
                free(buf);
                fclose(f);
                *st = tfe_fail(err, TFE_ERR_FORMAT, "%s: file too large for a config", path);
                return NULL;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf) {
        *st = tfe_fail(err, TFE_ERR_NOMEM, "out of memory");
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

static tfe_status get_int(const cJSON *root, const char *path, const char *key, int *out,
                          tfe_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v)
        return tfe_fail(err, TFE_ERR_CONFIG, "%s: missing key '%s'", path, key);
    const double x = cJSON_IsNumber(v) ? v->valuedouble : 0.0;
    /* In range before the cast, which is undefined for a double beyond the target type (a
     * fuzzer found d_ff = 6.4e30 doing it); then whole. */
    if (!cJSON_IsNumber(v) || !(x >= -2147483648.0 && x <= 2147483647.0) || x != (double)(int)x)
        return tfe_fail(err, TFE_ERR_CONFIG, "%s: key '%s' must be an integer", path, key);
    *out = (int)x;
    return TFE_OK;
}

static tfe_status get_bool(const cJSON *root, const char *path, const char *key, int required,
                           int *out, tfe_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) {
        if (required)
            return tfe_fail(err, TFE_ERR_CONFIG, "%s: missing key '%s'", path, key);
        return TFE_OK;
    }
    if (!cJSON_IsBool(v))
        return tfe_fail(err, TFE_ERR_CONFIG, "%s: key '%s' must be true or false", path, key);
    *out = cJSON_IsTrue(v);
    return TFE_OK;
}

/* A string key that must be one of `names`; stores the index. */
static tfe_status get_enum(const cJSON *root, const char *path, const char *key,
                           const char *const *names, int count, int *out, tfe_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v)
        return tfe_fail(err, TFE_ERR_CONFIG, "%s: missing key '%s'", path, key);
    if (!cJSON_IsString(v))
        return tfe_fail(err, TFE_ERR_CONFIG, "%s: key '%s' must be a string", path, key);
    for (int i = 0; i < count; i++)
        if (strcmp(v->valuestring, names[i]) == 0) {
            *out = i;
            return TFE_OK;
        }
    return tfe_fail(err, TFE_ERR_CONFIG, "%s: key '%s' has unsupported value '%s'", path, key,
                    v->valuestring);
}

tfe_status tfe_config_load(const char *path, tfe_config *c, tfe_error *err)
{
    tfe_status st = TFE_OK;
    char *text = read_text(path, err, &st);
    if (!text)
        return st;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return tfe_fail(err, TFE_ERR_FORMAT, "%s: not a JSON object", path);
    }
    memset(c, 0, sizeof *c);
    c->layer_norm_eps = 1e-5f;
    static const char *const arch[] = {"transformer-encoder"};
    static const char *const pos[] = {"sinusoidal", "learned"};
    static const char *const act[] = {"relu", "gelu", "gelu_tanh"};
    int a = 0, p = 0, f = 0;
    if ((st = get_enum(root, path, "architecture", arch, 1, &a, err)) ||
        (st = get_int(root, path, "vocab_size", &c->vocab_size, err)) ||
        (st = get_int(root, path, "d_model", &c->d_model, err)) ||
        (st = get_int(root, path, "n_heads", &c->n_heads, err)) ||
        (st = get_int(root, path, "d_ff", &c->d_ff, err)) ||
        (st = get_int(root, path, "n_layers", &c->n_layers, err)) ||
        (st = get_int(root, path, "max_positions", &c->max_positions, err)) ||
        (st = get_enum(root, path, "positional", pos, 2, &p, err)) ||
        (st = get_enum(root, path, "activation", act, 3, &f, err)) ||
        (st = get_bool(root, path, "norm_first", 1, &c->norm_first, err)) ||
        (st = get_bool(root, path, "embed_scale", 0, &c->embed_scale, err))) {
        cJSON_Delete(root);
        return st;
    }
    c->positional = (tfe_positional)p;
    c->activation = (tfe_activation)f;
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(root, "layer_norm_eps");
    if (eps) {
        if (!cJSON_IsNumber(eps)) {
            cJSON_Delete(root);
            return tfe_fail(err, TFE_ERR_CONFIG, "%s: key 'layer_norm_eps' must be a number",
                            path);
        }
        c->layer_norm_eps = (float)eps->valuedouble;
    }
    cJSON_Delete(root);
    return tfe_config_validate(c, path, err);
}
