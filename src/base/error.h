/* error.h - tarn's one error enum, its names and messages, and the detail carried with it. */
#ifndef TARN_BASE_ERROR_H
#define TARN_BASE_ERROR_H

#include <stddef.h>

/*
 * The one table of error codes. Each row: enum suffix, number, stable name (used in
 * JSON error bodies and logs), class, and the generic message.
 *
 * Numbers are part of the contract: never reuse or renumber a code, only append.
 * Class: RETRY means the same call may succeed later (timeouts, 5xx, commit conflicts);
 * FATAL means the caller must change something first (bad input, bad credentials,
 * fsync failure, corruption).
 */
/* The table is read by its columns: */
/* clang-format off */
#define TARN_ERRNO_MAP(XX)                                                            \
  XX(OK,          0,  "ok",              FATAL, "success")                           \
  XX(ENOMEM,      1,  "out_of_memory",   RETRY, "out of memory")                     \
  XX(EINVAL,      2,  "invalid_argument", FATAL, "invalid argument")                 \
  XX(EIO,         3,  "io_error",        RETRY, "input/output error")                \
  XX(ENOTFOUND,   4,  "not_found",       FATAL, "not found")                         \
  XX(EEXIST,      5,  "already_exists",  FATAL, "already exists")                    \
  XX(EBADKEY,     6,  "invalid_key",     FATAL, "invalid object key")                \
  XX(ECONFIG,     7,  "invalid_config",  FATAL, "invalid configuration")             \
  XX(ERANGE,      8,  "out_of_range",    FATAL, "value out of range")                \
  XX(ETOOBIG,     9,  "too_large",       FATAL, "size limit exceeded")               \
  XX(EFSYNC,      10, "fsync_failed",    FATAL, "fsync failed; data may not be durable") \
  XX(ESHORTWRITE, 11, "short_write",     RETRY, "short write")                       \
  XX(ECORRUPT,    12, "corrupt",         FATAL, "corrupt or truncated data")         \
  XX(EUNSUPPORTED, 13, "unsupported",    FATAL, "not supported")                     \
  XX(ETIMEDOUT,   14, "timed_out",       RETRY, "timed out")                         \
  XX(ECONFLICT,   15, "conflict",        RETRY, "concurrent modification conflict")  \
  XX(EINTERNAL,   16, "internal",        FATAL, "internal error")                    \
  XX(ENOTAVAIL,   17, "not_available",   FATAL, "not available yet")                 \
  XX(ENOSPC,      18, "no_space",        FATAL, "no space left on device")           \
  XX(EPERM,       19, "permission_denied", FATAL, "permission denied")               \
  XX(EUSAGE,      20, "usage",           FATAL, "invalid command-line usage")        \
  XX(EBADMETHOD,  21, "method_not_allowed", FATAL, "method not allowed")             \
  XX(ENETWORK,    22, "network_error",   RETRY, "network error")                     \
  XX(EUNKNOWN_OUTCOME, 23, "commit_state_unknown", RETRY,                               \
     "outcome unknown: the connection was lost after the request was sent; check before retrying") \
  XX(ESCHEMA,     24, "schema_mismatch", FATAL, "schema does not match the existing one") \
  XX(EALREADY,    25, "already_done",    FATAL, "already done; nothing was changed")   \
  XX(EUNAUTH,     26, "unauthorized",    FATAL, "authentication required")           \
  XX(EBUSY,       27, "busy",            RETRY, "busy; retry later")
/* clang-format on */

typedef enum tarn_code {
#define TARN__ERR_ENUM(sfx, num, name, cls, msg)                                                   \
  TARN_##sfx = num, // NOLINT(bugprone-macro-parentheses)
  TARN_ERRNO_MAP(TARN__ERR_ENUM)
#undef TARN__ERR_ENUM
} tarn_code;

#define TARN_ERROR_DETAIL_MAX 512

/*
 * An error with its detail. Functions that can fail return an int tarn_code and take
 * an optional `tarn_error *err` (NULL allowed) which they fill on failure only.
 * The detail names what the user must fix: file, line, column, offset, key.
 */
typedef struct tarn_error {
  int code;        /* tarn_code; 0 when no error */
  int sys_errno;   /* errno behind the failure, 0 if none */
  int http_status; /* HTTP status behind the failure (S3, peers), 0 if none */
  int attempts;    /* tries made before giving up (retrying callers), 0 if not counted */
  char detail[TARN_ERROR_DETAIL_MAX];
} tarn_error;

/* Stable snake_case name of a code ("not_found"); "unknown" for codes not in the table. */
const char *tarn_err_name(int code);
/* Generic one-line message for a code. */
const char *tarn_strerror(int code);
/* 1 when a retry of the same operation may succeed. */
int tarn_err_retriable(int code);

/* Reset to success. */
void tarn_error_clear(tarn_error *err);

/*
 * Fill err (if not NULL) with code and a printf-style detail; returns code so that
 * callers can write `return tarn_error_set(err, TARN_EINVAL, "...")`.
 */
int tarn_error_set(tarn_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Same, recording errno `e` and appending strerror(e) to the detail. */
int tarn_error_sys(tarn_error *err, int code, int e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Map an errno to the closest tarn_code (ENOENT -> ENOTFOUND, ENOSPC -> ENOSPC, ...). */
int tarn_code_from_errno(int e);

/*
 * Prepend context to an existing detail ("reading config: " + detail); keeps the code.
 * Returns nothing on purpose: the caller returns the code it already holds, so a NULL
 * err can never turn a failure into success.
 */
void tarn_error_prefix(tarn_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The text to show a user: the detail if present, else the generic message. */
const char *tarn_error_message(const tarn_error *err);

#endif
