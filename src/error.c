/* Error reporting helpers and tfe_strerror. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

const char *tfe_strerror(tfe_status code)
{
    switch (code) {
    case TFE_OK: return "success";
    case TFE_ERR_ARG: return "invalid argument";
    case TFE_ERR_IO: return "I/O error";
    case TFE_ERR_FORMAT: return "malformed file";
    case TFE_ERR_CONFIG: return "invalid model configuration";
    case TFE_ERR_TENSOR: return "invalid or missing tensor";
    case TFE_ERR_NOMEM: return "out of memory";
    case TFE_ERR_UNSUPPORTED: return "unsupported";
    }
    return "unknown error";
}

tfe_status tfe_fail(tfe_error *err, tfe_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void tfe_ok(tfe_error *err)
{
    if (err) {
        err->code = TFE_OK;
        err->message[0] = '\0';
    }
}
