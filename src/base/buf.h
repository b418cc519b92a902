/* buf.h - growable byte buffers with a hard cap. */
#ifndef TARN_BASE_BUF_H
#define TARN_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/*
 * A growable buffer that never grows past `max` bytes of content. Every buffer filled
 * from outside (HTTP bodies, object reads, parsed files) has such a cap, so hostile
 * input costs an error, not the process. data is always NUL-terminated after a
 * successful append (the terminator is not counted in len nor against max).
 * The caller embeds the struct: tarn_buf_init / tarn_buf_free.
 */
typedef struct tarn_buf {
  char *data; /* NULL until the first append */
  size_t len; /* bytes of content */
  size_t cap; /* bytes allocated (content + terminator) */
  size_t max; /* hard cap on len */
} tarn_buf;

#define TARN_BUF_UNLIMITED SIZE_MAX

void tarn_buf_init(tarn_buf *b, size_t max);
/* Releases memory and resets to empty (keeps max). Accepts NULL. */
void tarn_buf_free(tarn_buf *b);
/* Empties without releasing memory. */
void tarn_buf_reset(tarn_buf *b);

/* Make room for `extra` more bytes. TARN_ETOOBIG past max, TARN_ENOMEM on allocation
 * failure; on failure the content is unchanged. */
int tarn_buf_reserve(tarn_buf *b, size_t extra, tarn_error *err);
int tarn_buf_append(tarn_buf *b, const void *p, size_t n, tarn_error *err);
int tarn_buf_append_str(tarn_buf *b, const char *s, tarn_error *err);
int tarn_buf_append_byte(tarn_buf *b, uint8_t c, tarn_error *err);
int tarn_buf_appendf(tarn_buf *b, tarn_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int tarn_buf_vappendf(tarn_buf *b, tarn_error *err, const char *fmt, va_list ap);

/* Hands the content to the caller (who frees it with tarn_free) and resets b. An empty
 * buffer yields a newly allocated "" (NULL only if that allocation fails). */
char *tarn_buf_detach(tarn_buf *b);

#endif
