/* alloc.c - allocation wrappers with failure injection for tests. */
#include "alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

static atomic_long fail_after = -1; /* < 0: never fail */
static atomic_long calls = 0;
static _Thread_local unsigned long thread_failures; /* NULLs returned on this thread */

/* Returns 1 when this allocation must fail. */
static int injected_failure(void) {
  long limit = atomic_load_explicit(&fail_after, memory_order_relaxed);
  long n = atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
  return limit >= 0 && n >= limit;
}

/* Counts a failure of this thread's; returns NULL for the caller to return. */
static void *failed(void) {
  thread_failures++;
  return NULL;
}

void *tarn_malloc(size_t n) {
  void *p = injected_failure() ? NULL : malloc(n ? n : 1);
  return p != NULL ? p : failed();
}

void *tarn_calloc(size_t count, size_t size) {
  void *p;
  if (size != 0 && count > SIZE_MAX / size)
    return failed();
  p = injected_failure() ? NULL : calloc(count ? count : 1, size ? size : 1);
  return p != NULL ? p : failed();
}

void *tarn_realloc(void *p, size_t n) {
  void *np = injected_failure() ? NULL : realloc(p, n ? n : 1);
  return np != NULL ? np : failed();
}

void *tarn_reallocarray(void *p, size_t count, size_t size) {
  if (size != 0 && count > SIZE_MAX / size)
    return failed();
  return tarn_realloc(p, count * size);
}

int tarn_grow(void *ptrp, size_t *cap, size_t need, size_t size, size_t min) {
  void *p, *np;
  size_t ncap;
  if (need <= *cap)
    return 0;
  ncap = *cap != 0 ? *cap : (min != 0 ? min : 1);
  while (ncap < need) {
    if (ncap > SIZE_MAX / 2)
      return TARN_ENOMEM;
    ncap *= 2;
  }
  /* the pointer is copied as bytes: ptrp points to a T *, not to a void * */
  memcpy(&p, ptrp, sizeof(p));
  np = tarn_reallocarray(p, ncap, size);
  if (np == NULL)
    return TARN_ENOMEM;
  memcpy(ptrp, &np, sizeof(np));
  *cap = ncap;
  return 0;
}

char *tarn_strndup(const char *s, size_t n) {
  size_t len = strnlen(s, n);
  char *d = tarn_malloc(len + 1);
  if (d == NULL)
    return NULL;
  memcpy(d, s, len);
  d[len] = '\0';
  return d;
}

char *tarn_strdup(const char *s) { return tarn_strndup(s, SIZE_MAX); }

void tarn_free(void *p) { free(p); }

void tarn_alloc_fail_after(long n) {
  atomic_store(&calls, 0);
  atomic_store(&fail_after, n);
}

void tarn_alloc_fail_reset(void) {
  atomic_store(&fail_after, -1);
  atomic_store(&calls, 0);
}

long tarn_alloc_count(void) { return atomic_load(&calls); }

unsigned long tarn_alloc_failures(void) { return thread_failures; }
