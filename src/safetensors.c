/* safetensors parsing: mmap, JSON header through cJSON, every offset and size checked. */
#define _POSIX_C_SOURCE 200809L
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

static int dtype_size(const char *dt)
{
    static const struct { const char *name; int size; } table[] = {
        {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4},
        {"I16", 2}, {"I8", 1},  {"U8", 1},  {"BOOL", 1}, {"U16", 2}, {"U32", 4}, {"U64", 8},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(dt, table[i].name) == 0)
            return table[i].size;
    return 0;
}

static int cmp_by_name(const void *a, const void *b)
{
    return strcmp(((const tfe_st_tensor *)a)->name, ((const tfe_st_tensor *)b)->name);
}

static int cmp_by_offset(const void *a, const void *b)
{
    const tfe_st_tensor *x = a, *y = b;
    const char *px = x->data, *py = y->data;
    return px < py ? -1 : px > py;
}

void tfe_st_close(tfe_st_file *f)
{
    if (f->tensors) {
        for (int i = 0; i < f->count; i++)
            free(f->tensors[i].name);
        free(f->tensors);
    }
    if (f->map && f->map != MAP_FAILED)
        munmap(f->map, f->map_size);
    memset(f, 0, sizeof *f);
}

/* Parses one header entry into t; returns a status with a message naming the tensor. */
static tfe_status parse_entry(const tfe_st_file *f, const cJSON *e, const unsigned char *data,
                              uint64_t data_size, tfe_st_tensor *t, tfe_error *err)
{
    const char *nm = e->string;
    if (!cJSON_IsObject(e))
        return tfe_fail(err, TFE_ERR_FORMAT, "%s: header entry '%s' is not an object", f->path, nm);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off) ||
        cJSON_GetArraySize(off) != 2)
        return tfe_fail(err, TFE_ERR_FORMAT,
                        "%s: tensor '%s' needs string dtype, array shape and 2 data_offsets",
                        f->path, nm);
    int esize = dtype_size(dt->valuestring);
    if (!esize)
        return tfe_fail(err, TFE_ERR_FORMAT, "%s: tensor '%s' has unknown dtype '%s'", f->path,
                        nm, dt->valuestring);
    snprintf(t->dtype, sizeof t->dtype, "%s", dt->valuestring);
    t->ndim = cJSON_GetArraySize(sh);
    if (t->ndim > TFE_ST_MAX_DIMS)
        return tfe_fail(err, TFE_ERR_FORMAT, "%s: tensor '%s' has %d dims (max %d)", f->path, nm,
                        t->ndim, TFE_ST_MAX_DIMS);
    uint64_t elems = 1;
    for (int d = 0; d < t->ndim; d++) {
        const cJSON *v = cJSON_GetArrayItem(sh, d);
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9.0e15 ||
            v->valuedouble != (double)(int64_t)v->valuedouble)
            return tfe_fail(err, TFE_ERR_FORMAT, "%s: tensor '%s' has an invalid shape", f->path,
                            nm);
        t->shape[d] = (int64_t)v->valuedouble;
        if (t->shape[d] && elems > UINT64_MAX / (uint64_t)t->shape[d])
            return tfe_fail(err, TFE_ERR_FORMAT, "%s: tensor '%s' shape overflows", f->path, nm);
        elems *= (uint64_t)t->shape[d];
    }
    if (elems > UINT64_MAX / (uint64_t)esize)
        return tfe_fail(err, TFE_ERR_FORMAT, "%s: tensor '%s' size overflows", f->path, nm);
    double b = cJSON_GetArrayItem(off, 0)->valuedouble, en = cJSON_GetArrayItem(off, 1)->valuedouble;
    if (!cJSON_IsNumber(cJSON_GetArrayItem(off, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(off, 1)) ||
        b < 0 || en < b || en > (double)data_size || b != (double)(uint64_t)b ||
        en != (double)(uint64_t)en)
        return tfe_fail(err, TFE_ERR_FORMAT,
                        "%s: tensor '%s' data_offsets [%.0f, %.0f] lie outside the data section "
                        "(%llu bytes)", f->path, nm, b, en, (unsigned long long)data_size);
    uint64_t begin = (uint64_t)b, end = (uint64_t)en;
    if (end - begin != elems * (uint64_t)esize)
        return tfe_fail(err, TFE_ERR_FORMAT,
                        "%s: tensor '%s' has %llu bytes but shape x dtype needs %llu", f->path, nm,
                        (unsigned long long)(end - begin),
                        (unsigned long long)(elems * (uint64_t)esize));
    t->data = data + begin;
    t->nbytes = (size_t)(end - begin);
    t->name = strdup(nm);
    return t->name ? TFE_OK : tfe_fail(err, TFE_ERR_NOMEM, "out of memory");
}

tfe_status tfe_st_open(const char *path, tfe_st_file *f, tfe_error *err)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return tfe_fail(err, TFE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return tfe_fail(err, TFE_ERR_IO, "%s: not a regular file", path);
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size < 8) {
        close(fd);
        return tfe_fail(err, TFE_ERR_FORMAT, "%s: truncated (%llu bytes, no header size)", path,
                        (unsigned long long)size);
    }
    f->map_size = (size_t)size;
    f->map = mmap(NULL, f->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        return tfe_fail(err, TFE_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
    }
    const unsigned char *p = f->map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | p[i];
    if (hlen > size - 8) {
        tfe_st_close(f);
        return tfe_fail(err, TFE_ERR_FORMAT,
                        "%s: header size %llu is larger than the file (%llu bytes)", path,
                        (unsigned long long)hlen, (unsigned long long)size);
    }
    cJSON *root = cJSON_ParseWithLength((const char *)p + 8, (size_t)hlen);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        tfe_st_close(f);
        return tfe_fail(err, TFE_ERR_FORMAT, "%s: header is not a JSON object", path);
    }
    const unsigned char *data = p + 8 + hlen;
    uint64_t data_size = size - 8 - hlen;
    int n = 0;
    for (const cJSON *e = root->child; e; e = e->next)
        n += strcmp(e->string, "__metadata__") != 0;
    f->tensors = calloc(n ? (size_t)n : 1, sizeof *f->tensors);
    if (!f->tensors) {
        cJSON_Delete(root);
        tfe_st_close(f);
        return tfe_fail(err, TFE_ERR_NOMEM, "out of memory");
    }
    tfe_status s = TFE_OK;
    for (const cJSON *e = root->child; e && s == TFE_OK; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0)
            continue;
        s = parse_entry(f, e, data, data_size, &f->tensors[f->count], err);
        if (s == TFE_OK)
            f->count++;
    }
    cJSON_Delete(root);
    if (s == TFE_OK) {
        /* Overlap check on a sorted copy: consecutive ranges must not intersect. */
        tfe_st_tensor *sorted = malloc((size_t)(f->count ? f->count : 1) * sizeof *sorted);
        if (!sorted)
            s = tfe_fail(err, TFE_ERR_NOMEM, "out of memory");
        else {
            memcpy(sorted, f->tensors, (size_t)f->count * sizeof *sorted);
            qsort(sorted, (size_t)f->count, sizeof *sorted, cmp_by_offset);
            for (int i = 1; i < f->count && s == TFE_OK; i++) {
                const char *prev_end = (const char *)sorted[i - 1].data + sorted[i - 1].nbytes;
                if ((const char *)sorted[i].data < prev_end)
                    s = tfe_fail(err, TFE_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap", path,
                                 sorted[i - 1].name, sorted[i].name);
            }
            /* A JSON object may repeat a key; cJSON keeps both, so reject it here. */
            qsort(sorted, (size_t)f->count, sizeof *sorted, cmp_by_name);
            for (int i = 1; i < f->count && s == TFE_OK; i++)
                if (strcmp(sorted[i - 1].name, sorted[i].name) == 0)
                    s = tfe_fail(err, TFE_ERR_FORMAT, "%s: tensor '%s' appears twice in the header",
                                 path, sorted[i].name);
            free(sorted);
        }
    }
    if (s != TFE_OK)
        tfe_st_close(f);
    return s;
}

const tfe_st_tensor *tfe_st_find(const tfe_st_file *f, const char *name)
{
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return &f->tensors[i];
    return NULL;
}

tfe_status tfe_st_get_f32(const tfe_st_file *f, const char *name, int ndim, const int64_t *dims,
                          const float **data, tfe_error *err)
{
    const tfe_st_tensor *t = tfe_st_find(f, name);
    if (!t)
        return tfe_fail(err, TFE_ERR_TENSOR, "%s: missing tensor '%s'", f->path, name);
    if (strcmp(t->dtype, "F32") != 0)
        return tfe_fail(err, TFE_ERR_TENSOR, "%s: tensor '%s' has dtype %s, expected F32",
                        f->path, name, t->dtype);
    int same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++)
        same = t->shape[d] == dims[d];
    if (!same) {
        char got[128] = "", want[128] = "";
        for (int d = 0; d < t->ndim; d++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? "," : "",
                     (long long)t->shape[d]);
        for (int d = 0; d < ndim; d++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", d ? "," : "",
                     (long long)dims[d]);
        return tfe_fail(err, TFE_ERR_TENSOR,
                        "%s: tensor '%s' has shape [%s], config.json implies [%s]", f->path, name,
                        got, want);
    }
    /* F32 data must be 4-byte aligned to be read as floats (the format does not promise it). */
    if ((uintptr_t)t->data % sizeof(float) != 0)
        return tfe_fail(err, TFE_ERR_FORMAT, "%s: tensor '%s' data is not 4-byte aligned",
                        f->path, name);
    *data = t->data;
    return TFE_OK;
}
