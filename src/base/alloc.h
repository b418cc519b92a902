/* alloc.h - the allocation wrappers every tarn module uses, with failure injection. */
#ifndef TARN_BASE_ALLOC_H
#define TARN_BASE_ALLOC_H

#include <stddef.h>

/*
 * All library allocations go through these so tests can make the Nth one fail and
 * check that every caller turns that into TARN_ENOMEM without leaking or crashing.
 * They return NULL on failure (and for tarn_malloc(0) they return a unique pointer,
 * never NULL). tarn_free(NULL) is a no-op. Thread-safe.
 */
void *tarn_malloc(size_t n);
void *tarn_calloc(size_t count, size_t size); /* NULL if count*size overflows */
void *tarn_realloc(void *p, size_t n);
void *tarn_reallocarray(void *p, size_t count, size_t size);
char *tarn_strdup(const char *s);
char *tarn_strndup(const char *s, size_t n);
void tarn_free(void *p);

/*
 * Failure injection (tests only). After tarn_alloc_fail_after(n), the next n
 * allocations succeed and every later one fails until tarn_alloc_fail_reset().
 * n < 0 disables injection. tarn_alloc_count() counts allocation calls since the
 * last reset, so a test can learn how many a scenario makes and then fail each in turn.
 */
void tarn_alloc_fail_after(long n);
void tarn_alloc_fail_reset(void);
long tarn_alloc_count(void);

#endif
