/* secrets.c - loading the secrets file: ownership and mode checks, values wiped on free. */
#include "secrets.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"

struct tarn_secrets {
  tarn_config *cfg;
  char *path;
};

void tarn_secrets_destroy(tarn_secrets *sec) {
  if (sec == NULL)
    return;
  tarn_config_destroy(sec->cfg); /* wipes values declared secret */
  tarn_free(sec->path);
  tarn_free(sec);
}

const char *tarn_secrets_path(const tarn_secrets *sec) { return sec->path; }
const tarn_config *tarn_secrets_config(const tarn_secrets *sec) { return sec->cfg; }

int tarn_secrets_load(const char *path, const tarn_cfg_def *const *tables, tarn_secrets **out,
                      tarn_error *err) {
  tarn_secrets *sec = NULL;
  struct stat stt;
  int rc;
  *out = NULL;
  if (stat(path, &stt) != 0)
    return tarn_error_sys(err, tarn_code_from_errno(errno), errno, "secrets file %s", path);
  if (!S_ISREG(stt.st_mode))
    return tarn_error_set(err, TARN_EINVAL, "secrets file %s is not a regular file", path);
  /* Another user who owns the file could change it under us: credentials and the tokens
   * that grant access must come from the running user (or root). */
  if (stt.st_uid != geteuid() && stt.st_uid != 0)
    return tarn_error_set(err, TARN_EPERM,
                          "secrets file %s is owned by uid %lu; it must belong to the user tarn "
                          "runs as (uid %lu) or root (chown it)",
                          path, (unsigned long)stt.st_uid, (unsigned long)geteuid());
  if ((stt.st_mode & 077) != 0)
    return tarn_error_set(err, TARN_EPERM,
                          "secrets file %s has mode %04o; it must not be readable by group or "
                          "others (chmod 600)",
                          path, (unsigned)(stt.st_mode & 07777));
  sec = tarn_calloc(1, sizeof(*sec));
  if (sec == NULL || (sec->path = tarn_strdup(path)) == NULL) {
    tarn_free(sec);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory loading secrets");
  }
  rc = tarn_config_create(&sec->cfg, tables, err);
  if (rc == 0)
    rc = tarn_config_load_file(sec->cfg, path, err);
  if (rc != 0) {
    /* The config errors already name the file and line; they never quote a value of a
     * setting that exists, so no secret leaks into the message. */
    tarn_secrets_destroy(sec);
    return rc;
  }
  *out = sec;
  return 0;
}
