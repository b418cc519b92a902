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
 * Growth of a typed array: makes room for `need` elements of `size` bytes in the array
 * whose pointer is at `ptrp` (a T **, passed as void *) and whose capacity is *cap
 * elements. Grows from `min` (when empty) by doubling, so a run of appends costs few
 * reallocations. Returns 0 (also when there is room already) or TARN_ENOMEM, leaving the
 * array and *cap unchanged. Use TARN_GROW(ptr, cap, need, min) for the sizeof.
 */
int tarn_grow(void *ptrp, size_t *cap, size_t need, size_t size, size_t min);
#define TARN_GROW(ptr, cap, need, min) tarn_grow(&(ptr), &(cap), (need), sizeof(*(ptr)), (min))

/*
 * Allocations through these wrappers that returned NULL on the calling thread (injected
 * or real). For callers of a library that routes its allocations here but cannot report
 * their failure as such (jansson's parser reports some as syntax errors): compare the
 * count before and after the call.
 */
unsigned long tarn_alloc_failures(void);

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
