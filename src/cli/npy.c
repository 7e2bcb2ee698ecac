/* .npy I/O: a strict header parser and an atomic writer. */
#define _POSIX_C_SOURCE 200809L
#include "npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"

void npy_free(npy_array *a)
{
    free(a->data);
    a->data = NULL;
}

/* Finds `'key':` in the header dict and returns a pointer past the colon and blanks. */
static const char *dict_value(const char *h, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(h, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    if (*p != ':')
        return NULL;
    p++;
    while (*p == ' ')
        p++;
    return p;
}

tfe_status npy_read(const char *path, npy_array *a, tfe_error *err)
{
    memset(a, 0, sizeof *a);
    FILE *f = fopen(path, "rb");
    if (!f)
        return tfe_fail(err, TFE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char pre[12];
    tfe_status st = TFE_OK;
    char *h = NULL;
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        st = tfe_fail(err, TFE_ERR_FORMAT, "%s: not a .npy file", path);
        goto out;
    }
    size_t hlen;
    if (pre[6] == 1) {
        hlen = pre[8] | (size_t)pre[9] << 8;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) {
            st = tfe_fail(err, TFE_ERR_FORMAT, "%s: truncated .npy header", path);
            goto out;
        }
        hlen = pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        if (hlen > (1u << 20)) {
            st = tfe_fail(err, TFE_ERR_FORMAT, "%s: .npy header too large", path);
            goto out;
        }
    } else {
        st = tfe_fail(err, TFE_ERR_FORMAT, "%s: unsupported .npy version %d", path, pre[6]);
        goto out;
    }
    h = malloc(hlen + 1);
    if (!h || fread(h, 1, hlen, f) != hlen) {
        st = tfe_fail(err, TFE_ERR_FORMAT, "%s: truncated .npy header", path);
        goto out;
    }
    h[hlen] = '\0';
    const char *d = dict_value(h, "descr"), *fo = dict_value(h, "fortran_order"),
               *sh = dict_value(h, "shape");
    if (!d || !fo || !sh) {
        st = tfe_fail(err, TFE_ERR_FORMAT, "%s: .npy header lacks descr/fortran_order/shape", path);
        goto out;
    }
    int esize;
    if (strncmp(d, "'<i4'", 5) == 0)
        a->dtype = NPY_I32, esize = 4;
    else if (strncmp(d, "'<i8'", 5) == 0)
        a->dtype = NPY_I64, esize = 8;
    else if (strncmp(d, "'<f4'", 5) == 0)
        a->dtype = NPY_F32, esize = 4;
    else {
        const char *end = strchr(d, ',');
        st = tfe_fail(err, TFE_ERR_FORMAT, "%s: unsupported dtype %.*s (need <i4, <i8 or <f4)",
                      path, end ? (int)(end - d) : 8, d);
        goto out;
    }
    if (strncmp(fo, "False", 5) != 0) {
        st = tfe_fail(err, TFE_ERR_FORMAT, "%s: Fortran-order arrays are not supported", path);
        goto out;
    }
    if (*sh != '(') {
        st = tfe_fail(err, TFE_ERR_FORMAT, "%s: malformed shape in .npy header", path);
        goto out;
    }
    const char *p = sh + 1;
    a->count = 1;
    while (1) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == ')')
            break;
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 0 || a->ndim == 4) {
            st = tfe_fail(err, TFE_ERR_FORMAT, "%s: malformed or >4-d shape in .npy header", path);
            goto out;
        }
        a->shape[a->ndim++] = v;
        if (v && a->count > ((size_t)1 << 40) / (size_t)v) {
            st = tfe_fail(err, TFE_ERR_FORMAT, "%s: array too large", path);
            goto out;
        }
        a->count *= (size_t)v;
        p = end;
    }
    /* The file must hold the data before it is allocated: a header claiming more (a corrupt
     * file; the fuzzer's claimed 41 G elements in a few hundred bytes) is truncated data, not
     * an allocation of hundreds of GB. (A stream that cannot seek is read and checked as is.) */
    const long pos = ftell(f);
    if (pos >= 0 && fseek(f, 0, SEEK_END) == 0) {
        const long end = ftell(f);
        if (fseek(f, pos, SEEK_SET) != 0) {
            st = tfe_fail(err, TFE_ERR_IO, "%s: cannot seek: %s", path, strerror(errno));
            goto out;
        }
        if (end >= pos && (size_t)(end - pos) / (size_t)esize < a->count) {
            st = tfe_fail(err, TFE_ERR_FORMAT, "%s: truncated data (expected %zu elements)",
                          path, a->count);
            goto out;
        }
    }
    a->data = malloc(a->count ? a->count * (size_t)esize : 1);
    if (!a->data) {
        st = tfe_fail(err, TFE_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    if (fread(a->data, (size_t)esize, a->count, f) != a->count) {
        st = tfe_fail(err, TFE_ERR_FORMAT, "%s: truncated data (expected %zu elements)", path,
                      a->count);
        npy_free(a);
        goto out;
    }
out:
    free(h);
    fclose(f);
    return st;
}

tfe_status npy_writer_open(npy_writer *w, const char *path, int ndim, const int64_t *shape,
                           tfe_error *err)
{
    char dict[256], shp[128] = "";
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        snprintf(shp + strlen(shp), sizeof shp - strlen(shp), "%lld%s", (long long)shape[i],
                 ndim == 1 ? "," : (i + 1 < ndim ? ", " : ""));
        count *= (size_t)shape[i];
    }
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }",
                     shp);
    /* Pad with spaces so magic + header is a multiple of 64 bytes, ending in a newline. */
    size_t total = 10 + (size_t)n + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)n + pad + 1;
    w->f = NULL;
    w->path = path;
    w->left = count;
    if ((size_t)snprintf(w->tmp, sizeof w->tmp, "%s.tmp.%ld", path, (long)getpid()) >=
        sizeof w->tmp)
        return tfe_fail(err, TFE_ERR_ARG, "%s: path too long", path);
    if (!(w->f = fopen(w->tmp, "wb")))
        return tfe_fail(err, TFE_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    int ok = fwrite(pre, 1, 10, w->f) == 10 && fwrite(dict, 1, (size_t)n, w->f) == (size_t)n;
    for (size_t i = 0; ok && i < pad; i++)
        ok = fputc(' ', w->f) != EOF;
    if (!(ok && fputc('\n', w->f) != EOF)) {
        int e = errno;
        npy_writer_abort(w);
        return tfe_fail(err, TFE_ERR_IO, "%s: write failed: %s", path, strerror(e));
    }
    return TFE_OK;
}

tfe_status npy_writer_put(npy_writer *w, const float *data, size_t count, tfe_error *err)
{
    if (count > w->left) {
        npy_writer_abort(w);
        return tfe_fail(err, TFE_ERR_ARG, "%s: more data than the shape holds", w->path);
    }
    if (fwrite(data, sizeof(float), count, w->f) != count) {
        int e = errno;
        npy_writer_abort(w);
        return tfe_fail(err, TFE_ERR_IO, "%s: write failed: %s", w->path, strerror(e));
    }
    w->left -= count;
    return TFE_OK;
}

tfe_status npy_writer_close(npy_writer *w, tfe_error *err)
{
    if (w->left) {
        npy_writer_abort(w);
        return tfe_fail(err, TFE_ERR_ARG, "%s: %zu values missing for the shape", w->path,
                        w->left);
    }
    int ok = fclose(w->f) == 0;
    w->f = NULL;
    if (!ok || rename(w->tmp, w->path) != 0) {
        int e = errno;
        remove(w->tmp);
        return tfe_fail(err, TFE_ERR_IO, "%s: write failed: %s", w->path, strerror(e));
    }
    return TFE_OK;
}

void npy_writer_abort(npy_writer *w)
{
    if (w->f) {
        fclose(w->f);
        w->f = NULL;
        remove(w->tmp);
    }
}
