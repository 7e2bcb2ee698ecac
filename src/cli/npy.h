/* NumPy .npy v1/v2 reading and v1 writing for the dtypes tfenc exchanges. */
#ifndef TFE_NPY_H
#define TFE_NPY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tfenc.h"

typedef enum npy_dtype { NPY_I32, NPY_I64, NPY_F32 } npy_dtype;

typedef struct npy_array {
    npy_dtype dtype;
    int ndim;
    int64_t shape[4];
    size_t count;   /* product of shape */
    void *data;     /* count elements, native little-endian */
} npy_array;

/* Reads a C-order little-endian array of int32, int64 or float32 (other dtypes, Fortran order,
 * more than 4 dims and truncated data are errors naming the file). */
tfe_status npy_read(const char *path, npy_array *arr, tfe_error *err);
/* Writes a float32 array in parts (an output too large to hold at once) to a temporary file:
 * open writes the header for `shape`, put appends values in C order, close renames the file
 * over `path` once every value came; a failed step, or abort, removes the temporary file, so
 * a failed write never leaves a partial output file. */
typedef struct npy_writer {
    FILE *f;
    const char *path;
    size_t left; /* values still to come */
    char tmp[4096];
} npy_writer;
tfe_status npy_writer_open(npy_writer *w, const char *path, int ndim, const int64_t *shape,
                           tfe_error *err);
tfe_status npy_writer_put(npy_writer *w, const float *data, size_t count, tfe_error *err);
tfe_status npy_writer_close(npy_writer *w, tfe_error *err);
void npy_writer_abort(npy_writer *w);
void npy_free(npy_array *arr);

#endif
