/* A bounds-checked reader of the safetensors format over a read-only mmap. */
#ifndef TFE_SAFETENSORS_H
#define TFE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "tfenc.h"

#define TFE_ST_MAX_DIMS 8

typedef struct tfe_st_tensor {
    char *name;
    char dtype[8];            /* "F32", "F16", ... as written in the header */
    int ndim;
    int64_t shape[TFE_ST_MAX_DIMS];
    const void *data;         /* inside the mapping */
    size_t nbytes;
} tfe_st_tensor;

typedef struct tfe_st_file {
    const char *path;         /* for messages; borrowed from the caller */
    void *map;
    size_t map_size;
    int count;
    tfe_st_tensor *tensors;
} tfe_st_file;

/* Maps and validates the whole file: header size within the file, header is a JSON object,
 * every entry has a known dtype, a shape and offsets inside the data section whose size
 * matches shape × dtype size (overflow-checked), and no two tensors overlap. */
tfe_status tfe_st_open(const char *path, tfe_st_file *f, tfe_error *err);
void tfe_st_close(tfe_st_file *f);

/* Finds `name` and checks it is F32 with the given shape (ndim values in dims). */
tfe_status tfe_st_get_f32(const tfe_st_file *f, const char *name, int ndim, const int64_t *dims,
                          const float **data, tfe_error *err);
const tfe_st_tensor *tfe_st_find(const tfe_st_file *f, const char *name);

#endif
