/* error.c - names, messages and detail formatting for tarn_code. */
#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { FATAL = 0, RETRY = 1 };

const char *tarn_err_name(int code) {
  switch (code) {
#define TARN__ERR_NAME(sfx, num, name, cls, msg)                                                   \
  case num: return name;
    TARN_ERRNO_MAP(TARN__ERR_NAME)
#undef TARN__ERR_NAME
  }
  return "unknown";
}

const char *tarn_strerror(int code) {
  switch (code) {
#define TARN__ERR_MSG(sfx, num, name, cls, msg)                                                    \
  case num: return msg;
    TARN_ERRNO_MAP(TARN__ERR_MSG)
#undef TARN__ERR_MSG
  }
  return "unknown error";
}

int tarn_err_retriable(int code) {
  switch (code) {
#define TARN__ERR_CLS(sfx, num, name, cls, msg)                                                    \
  case num: return cls;
    TARN_ERRNO_MAP(TARN__ERR_CLS)
#undef TARN__ERR_CLS
  }
  return 0;
}

void tarn_error_clear(tarn_error *err) {
  if (err == NULL)
    return;
  err->code = 0;
  err->sys_errno = 0;
  err->http_status = 0;
  err->attempts = 0;
  err->detail[0] = '\0';
}

int tarn_error_set(tarn_error *err, int code, const char *fmt, ...) {
  va_list ap;
  if (err == NULL)
    return code;
  err->code = code;
  err->sys_errno = 0;
  err->http_status = 0;
  err->attempts = 0;
  va_start(ap, fmt);
  vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
  va_end(ap);
  return code;
}

int tarn_error_sys(tarn_error *err, int code, int e, const char *fmt, ...) {
  va_list ap;
  size_t n;
  if (err == NULL)
    return code;
  err->code = code;
  err->sys_errno = e;
  err->http_status = 0;
  err->attempts = 0;
  va_start(ap, fmt);
  vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
  va_end(ap);
  n = strlen(err->detail);
  if (n < sizeof(err->detail)) {
    char buf[128];
    /* GNU strerror_r (we build with _GNU_SOURCE): thread-safe, returns the text. */
    snprintf(err->detail + n, sizeof(err->detail) - n, ": %s", strerror_r(e, buf, sizeof(buf)));
  }
  return code;
}

int tarn_code_from_errno(int e) {
  switch (e) {
  case 0: return TARN_OK;
  case ENOMEM: return TARN_ENOMEM;
  case ENOENT:
  case ENOTDIR: return TARN_ENOTFOUND;
  case EEXIST: return TARN_EEXIST;
  case ENOSPC:
  case EDQUOT: return TARN_ENOSPC;
  case EACCES:
  case EPERM:
  case EROFS: return TARN_EPERM;
  case EINVAL: return TARN_EINVAL;
  case ENAMETOOLONG:
  case EFBIG: return TARN_ETOOBIG;
  case ETIMEDOUT: return TARN_ETIMEDOUT;
  case ECONNREFUSED:
  case ECONNRESET:
  case EPIPE:
  case EHOSTUNREACH:
  case ENETUNREACH: return TARN_ENETWORK;
  default: return TARN_EIO;
  }
}

void tarn_error_prefix(tarn_error *err, const char *fmt, ...) {
  char head[TARN_ERROR_DETAIL_MAX];
  char old[TARN_ERROR_DETAIL_MAX];
  va_list ap;
  if (err == NULL)
    return;
  va_start(ap, fmt);
  vsnprintf(head, sizeof(head), fmt, ap);
  va_end(ap);
  memcpy(old, err->detail, sizeof(old));
  /* Truncating an over-long detail is fine; the head (context) comes first. */
  if (snprintf(err->detail, sizeof(err->detail), "%s: %s", head,
               old[0] == '\0' ? tarn_strerror(err->code) : old) < 0)
    err->detail[0] = '\0';
}

const char *tarn_error_message(const tarn_error *err) {
  if (err == NULL)
    return "unknown error";
  if (err->detail[0] != '\0')
    return err->detail;
  return tarn_strerror(err->code);
}
