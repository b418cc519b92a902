/* secrets.h - the secrets file: credentials and token hashes, kept apart from the config. */
#ifndef TARN_BASE_SECRETS_H
#define TARN_BASE_SECRETS_H

#include "config.h"
#include "error.h"

typedef struct tarn_secrets tarn_secrets;

/*
 * Loads a secrets file: INI whose sections and keys are declared by `tables` (each
 * module declares its own: the buckets' [bucket.NAME] credentials, the server's
 * [token.NAME] hashes). The file must be a regular file owned by the user tarn runs as
 * (or root) that group and others cannot access (mode & 077 == 0): anything else is
 * TARN_EPERM naming the file, its owner or mode, and the fix. Unknown sections and keys
 * are TARN_ECONFIG naming the line, never quoting a value. Caller owns *out.
 */
int tarn_secrets_load(const char *path, const tarn_cfg_def *const *tables, tarn_secrets **out,
                      tarn_error *err);
/* Wipes every value from memory and frees. Accepts NULL. */
void tarn_secrets_destroy(tarn_secrets *sec);
/* The file it was loaded from. */
const char *tarn_secrets_path(const tarn_secrets *sec);
/* The values, read with tarn_config_str and tarn_config_instance. */
const tarn_config *tarn_secrets_config(const tarn_secrets *sec);

#endif
