/* Filling the caller's tfe_error: one formatted line per failure, no global state. */
#ifndef TFE_ERROR_H
#define TFE_ERROR_H

#include "tfenc.h"

#if defined(__GNUC__)
#define TFE_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TFE_PRINTF(a, b)
#endif

/* Writes the message into `err` (when non-NULL) and returns `code`, so callers can
 * `return tfe_fail(err, TFE_ERR_ARG, "...")`. */
tfe_status tfe_fail(tfe_error *err, tfe_status code, const char *fmt, ...) TFE_PRINTF(3, 4);
void tfe_ok(tfe_error *err);

#endif
