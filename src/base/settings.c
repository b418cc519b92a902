/* settings.c - the shared settings table: lake location, secrets file and log level. */
#include "settings.h"

#include "log.h"

const tarn_cfg_def tarn_base_config[] = {
    {"lake", "path", TARN_CFG_STRING, "./lake", 0, 0, NULL, "TARN_LAKE", "lake", NULL, 0,
     "lake directory: catalog, warehouse, journal (created if missing)"},
    {"lake", "secrets", TARN_CFG_STRING, NULL, 0, 0, NULL, "TARN_SECRETS", "secrets", NULL, 0,
     "secrets file: S3 credentials per [bucket.NAME], API token hashes per [token.NAME] "
     "(owned by you, mode 0600)"},
    {"log", "level", TARN_CFG_ENUM, "info", 0, 0, "debug|info|warn|error", "TARN_LOG_LEVEL",
     "log-level", NULL, 0, "least severe log lines written to stderr"},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL},
};

void tarn_settings_apply_log(const tarn_config *cfg) {
  int level = tarn_log_level_parse(tarn_config_str(cfg, "log", "level"));
  if (level >= 0)
    tarn_log_set_level(level);
}
