/* config.json parsing, validation and the built-in presets. */
#ifndef TFE_CONFIG_H
#define TFE_CONFIG_H

#include "tfenc.h"

/* Reads and validates `path`; final_norm is left 0 (it comes from the tensors). */
tfe_status tfe_config_load(const char *path, tfe_config *cfg, tfe_error *err);
/* Range checks shared by files and presets; `what` names the source in messages. */
tfe_status tfe_config_validate(const tfe_config *cfg, const char *what, tfe_error *err);

#endif
