/* fuzz_wal.c - libFuzzer target: any bytes as the journal WAL's only segment, opened
 * (replayed). The open either refuses (TARN_ECORRUPT) without changing the file, or it
 * replays records numbered 1, 2, 3 ... with nothing skipped; then an append is numbered
 * right after them and a second open replays the same records plus that one. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "journal/wal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct replayed {
  uint64_t n;
  uint64_t sum; /* of the payloads' bytes, to compare two replays */
} replayed;

static int count(uint64_t seq, const void *p, size_t len, void *ctx, tarn_error *err) {
  replayed *r = ctx;
  size_t i;
  (void)err;
  if (seq != r->n + 1)
    abort(); /* replayed out of order or with a gap */
  r->n++;
  for (i = 0; i < len; i++)
    r->sum += ((const uint8_t *)p)[i];
  return 0;
}

static char dir[64];
static char seg[128];

static size_t file_size(void) {
  struct stat st;
  return stat(seg, &st) == 0 ? (size_t)st.st_size : (size_t)-1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tarn_wal_options o;
  tarn_wal *w = NULL;
  tarn_error err;
  replayed a, b;
  FILE *f;
  int rc;
  if (dir[0] == '\0') {
    snprintf(dir, sizeof(dir), "/tmp/tarn-fuzz-wal-XXXXXX");
    if (mkdtemp(dir) == NULL)
      abort();
    snprintf(seg, sizeof(seg), "%s/00000000000000000001.wal", dir);
    tarn_log_set_level(TARN_LOG_ERROR);
  }
  {
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -f %s/*.wal", dir);
    if (system(cmd) != 0)
      abort();
  }
  f = fopen(seg, "wb");
  if (f == NULL || (size > 0 && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
    abort();
  memset(&o, 0, sizeof(o));
  o.dir = dir;
  o.max_record = 1 << 16;
  memset(&a, 0, sizeof(a));
  rc = tarn_wal_open(&o, count, &a, &w, &err);
  if (rc != 0) {
    if (rc != TARN_ECORRUPT || file_size() != size)
      abort(); /* refused: only as corrupt, and nothing changed */
    return 0;
  }
  {
    tarn_wal_rec r = {"fuzz", 4};
    uint64_t seq = 0;
    if (tarn_wal_append(w, &r, 1, &seq, &err) != 0 || seq != a.n + 1 ||
        tarn_wal_sync(w, seq, &err) != 0)
      abort();
  }
  tarn_wal_close(w);
  memset(&b, 0, sizeof(b));
  if (tarn_wal_open(&o, count, &b, &w, &err) != 0)
    abort();
  if (b.n != a.n + 1 || b.sum != a.sum + 'f' + 'u' + 'z' + 'z')
    abort();
  tarn_wal_close(w);
  return 0;
}
