/* config.h - settings declared as tables; parsed from INI file, environment and flags. */
#ifndef TARN_BASE_CONFIG_H
#define TARN_BASE_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "error.h"

typedef enum tarn_cfg_type {
  TARN_CFG_STRING,   /* any text */
  TARN_CFG_INT,      /* signed integer within [min, max] */
  TARN_CFG_BOOL,     /* true/false, yes/no, on/off, 1/0 */
  TARN_CFG_SIZE,     /* bytes: 1048576, 512KiB, 64MiB, 1GiB, 10MB (SI) within [min, max] */
  TARN_CFG_DURATION, /* milliseconds: 250ms, 30s, 5m, 1h (bare number = ms) within [min, max] */
  TARN_CFG_ENUM,     /* one of `choices`, "a|b|c" */
  TARN_CFG_HOSTPORT, /* HOST:PORT or [IPv6]:PORT, port 0-65535 (0 = pick a free one) */
} tarn_cfg_type;

/*
 * One setting. A module declares its settings as a static array ending in an entry
 * whose section is NULL; that table drives parsing, validation, --help and
 * --print-config. Keys are `[section] key` in the INI file.
 *
 * Section families: a section written "NAME.*" (e.g. "bucket.*") declares the keys of
 * every section "NAME.INSTANCE" (e.g. [bucket.archive]); INSTANCE is 1 to 63 letters,
 * digits, '-' or '_'. An instance comes into being when the file first names it, with
 * every key of the family at its default; tarn_config_instance enumerates them and the
 * typed reads take the instance's section ("bucket.archive"). Family settings have no
 * environment variable and no flag (asserted as TARN_EINTERNAL at create).
 */
typedef struct tarn_cfg_def {
  const char *section; /* INI section, e.g. "server" */
  const char *key;     /* INI key, e.g. "listen" */
  tarn_cfg_type type;
  const char *def;      /* default as text, NULL for "unset" */
  int64_t min, max;     /* bounds for INT, SIZE (bytes) and DURATION (ms) */
  const char *choices;  /* ENUM: "debug|info|warn|error" */
  const char *env;      /* environment variable, e.g. "TARN_LISTEN", or NULL */
  const char *flag;     /* long flag without dashes, e.g. "listen", or NULL */
  const char *flag_cmd; /* the commands that take the flag, "serve|sink"; NULL = every one */
  int secret;           /* never printed: --print-config shows <redacted> */
  const char *help;
} tarn_cfg_def;

typedef struct tarn_config tarn_config;

/*
 * Builds a configuration from a NULL-terminated list of setting tables, every setting
 * at its default. A bad default or a duplicate key is a programming error reported as
 * TARN_EINTERNAL. On success the caller owns *out (tarn_config_destroy).
 */
int tarn_config_create(tarn_config **out, const tarn_cfg_def *const *tables, tarn_error *err);
void tarn_config_destroy(tarn_config *cfg);

/* Loads an INI file. Unknown sections or keys and invalid values are TARN_ECONFIG
 * naming the file, line and key; a missing file is TARN_ENOTFOUND. On failure settings
 * already applied from the file stay applied; callers stop at the first error. */
int tarn_config_load_file(tarn_config *cfg, const char *path, tarn_error *err);
/* The same for INI text in memory (borrowed; need not be NUL-terminated); `name` stands
 * for the file name in messages. */
int tarn_config_load_mem(tarn_config *cfg, const char *name, const char *text, size_t len,
                         tarn_error *err);

/*
 * Applies the TARN_* variables of `envp` (NULL-terminated "NAME=value" strings). A
 * TARN_ variable that names no setting is TARN_ECONFIG, except those listed in
 * `ignore` (NULL-terminated, e.g. {"TARN_CONFIG", NULL}) which the caller handles.
 */
int tarn_config_load_env(tarn_config *cfg, char *const *envp, const char *const *ignore,
                         tarn_error *err);

/*
 * Environment variables that an earlier service used for a setting, kept working so
 * operators need not rename them (KAFKA_BOOTSTRAP_SERVERS for [sink] brokers). A TARN_*
 * variable for the same setting wins (apply aliases first). `bare_unit` ("s") is appended
 * to a value that is a bare number, for names that carry their unit
 * (..._WAIT_SECONDS=30 is 30 s, where a bare duration means milliseconds).
 */
typedef struct tarn_cfg_alias {
  const char *env;
  const char *section;
  const char *key;
  const char *bare_unit; /* NULL: the value as given */
} tarn_cfg_alias;

/* Applies the aliases (ending in an entry whose env is NULL) set in `envp`; an invalid
 * value is TARN_ECONFIG naming the variable. Aliases of settings cfg lacks are skipped. */
int tarn_config_load_env_aliases(tarn_config *cfg, char *const *envp, const tarn_cfg_alias *aliases,
                                 tarn_error *err);

/*
 * Open sections: a setting declared with key "*" makes its section take any key, each a
 * string (a pass-through such as [kafka], whose keys are librdkafka's properties). Values
 * whose key names a credential (password, secret, pem, jaas, token) are redacted when
 * printed. Enumerates the keys set, in order: 1 and *key, *value for the i-th; 0 past the
 * last.
 */
int tarn_config_open_key(const tarn_config *cfg, const char *section, size_t i, const char **key,
                         const char **value);

/* Sets one setting from text, validating it; `source` names where the text came from
 * ("flag --listen"). TARN_ECONFIG naming the key and source when invalid or unknown. */
int tarn_config_set(tarn_config *cfg, const char *section, const char *key, const char *value,
                    const char *source, tarn_error *err);

/* The setting that `--flag` names for command `cmd`, or NULL. */
const tarn_cfg_def *tarn_config_flag(const tarn_config *cfg, const char *cmd, const char *flag);

/*
 * The i-th instance (0-based, in order of first appearance) of section family `family`
 * ("bucket.*"), as its full section name ("bucket.archive"); NULL past the last one.
 * Valid until the configuration is destroyed.
 */
const char *tarn_config_instance(const tarn_config *cfg, const char *family, size_t i);
/* 1 when [section] key exists (a fixed setting, or a key of an existing instance). */
int tarn_config_has(const tarn_config *cfg, const char *section, const char *key);

/* Typed reads; the setting must exist in the tables (asserted). SIZE is bytes,
 * DURATION milliseconds. tarn_config_str returns NULL for an unset setting. */
const char *tarn_config_str(const tarn_config *cfg, const char *section, const char *key);
int64_t tarn_config_int(const tarn_config *cfg, const char *section, const char *key);
int tarn_config_bool(const tarn_config *cfg, const char *section, const char *key);
/* Where the current value came from: "default", "file F line N", "env NAME", "flag --F".
 * Valid until the next change to the configuration. */
const char *tarn_config_source(const tarn_config *cfg, const char *section, const char *key);

/* Writes the effective configuration as INI, every value with its source as a comment,
 * secrets as <redacted>. */
void tarn_config_print(const tarn_config *cfg, FILE *f);
/* Writes the flags command `cmd` takes, with env name, default and help, for --help. */
void tarn_config_print_flags(const tarn_config *cfg, const char *cmd, FILE *f);

/*
 * Parsers shared with other modules. Each returns 0, TARN_EINVAL (not of that form) or
 * TARN_ERANGE (too large), and fills err (may be NULL) with a detail naming the value and
 * the form expected; *out is written only on success.
 */
/* Bytes: a decimal with an optional unit (B, K/KiB, KB, M/MiB, MB, G/GiB, GB, T/TiB, TB). */
int tarn_parse_size(const char *s, int64_t *out, tarn_error *err);
/* Milliseconds: a decimal with an optional unit (ms, s, m, h, d); a bare number is ms. */
int tarn_parse_duration_ms(const char *s, int64_t *out, tarn_error *err);
/* true/yes/on/1 or false/no/off/0, any case. */
int tarn_parse_bool(const char *s, int *out, tarn_error *err);
/* Splits HOST:PORT / [IPv6]:PORT into host (without brackets, at most hostlen - 1 bytes)
 * and port (0-65535). */
int tarn_parse_hostport(const char *s, char *host, size_t hostlen, int *port, tarn_error *err);

#endif
