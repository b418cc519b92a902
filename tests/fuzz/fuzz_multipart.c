/* fuzz_multipart.c - libFuzzer target for the multipart/form-data parser. Byte 0 picks the
 * piece size the body is fed in; the boundary is "fzB". Checks one promise besides memory
 * safety: every chunking gives the same parts, bytes and outcome. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct outcome {
  uint64_t hash;
  int rc, parts;
} outcome;

static void mix(outcome *o, const void *p, size_t n) {
  const uint8_t *b = p;
  size_t i;
  o->hash = (o->hash ^ n) * 1099511628211ULL;
  for (i = 0; i < n; i++)
    o->hash = (o->hash ^ b[i]) * 1099511628211ULL;
}

static int f_begin(void *ud, const char *name, const char *filename, const char *ctype) {
  outcome *o = ud;
  o->parts++;
  mix(o, name, strlen(name) + 1);
  mix(o, filename ? filename : "", filename ? strlen(filename) + 1 : 0);
  mix(o, ctype ? ctype : "", ctype ? strlen(ctype) + 1 : 0);
  return 0;
}
/* data arrives in pieces that depend on the chunking: hash bytes, not piece lengths */
static int f_data(void *ud, const char *p, size_t n) {
  outcome *o = ud;
  size_t i;
  for (i = 0; i < n; i++)
    o->hash = (o->hash ^ (uint8_t)p[i]) * 1099511628211ULL;
  return 0;
}
static int f_end(void *ud) {
  mix(ud, "|", 1);
  return 0;
}
static const tarn__mp_ops fops = {f_begin, f_data, f_end};

static void run(const uint8_t *data, size_t size, size_t piece, outcome *o) {
  static tarn__mp mp; /* 80 KB: not on the stack */
  size_t off = 0;
  memset(o, 0, sizeof(*o));
  o->hash = 1469598103934665603ULL;
  if (tarn__mp_init(&mp, "fzB", &fops, o) != 0)
    abort();
  while (o->rc == 0 && off < size) {
    size_t k = size - off < piece ? size - off : piece;
    o->rc = tarn__mp_feed(&mp, data + off, k);
    off += k;
  }
  if (o->rc == 0)
    o->rc = tarn__mp_finish(&mp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  outcome whole, pieces;
  size_t piece;
  if (size < 1)
    return 0;
  piece = (size_t)(data[0] % 17) + 1;
  run(data + 1, size - 1, size, &whole);
  run(data + 1, size - 1, piece, &pieces);
  if (whole.rc != pieces.rc ||
      (whole.rc == 0 && (whole.hash != pieces.hash || whole.parts != pieces.parts)))
    abort();
  return 0;
}
