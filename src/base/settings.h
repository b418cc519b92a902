/* settings.h - the settings every tarn command shares: where the lake is, how much to log. */
#ifndef TARN_BASE_SETTINGS_H
#define TARN_BASE_SETTINGS_H

#include "config.h"

/* [lake] path (--lake, TARN_LAKE), [lake] secrets (--secrets, TARN_SECRETS) and [log] level
 * (--log-level, TARN_LOG_LEVEL). */
extern const tarn_cfg_def tarn_base_config[];

/* Applies [log] level from cfg to the logger. */
void tarn_settings_apply_log(const tarn_config *cfg);

#endif
