/* parquet_bench.c - tarn's Parquet writer and reader on a realistic mixed table; one
 * operation per process so that its peak RSS (getrusage ru_maxrss) is that operation's.
 * bench/parquet_bench.sh runs it against DuckDB and prints the comparison.
 *
 *   parquet_bench write OUT.parquet ROWS CODEC   writes ROWS generated rows (snappy|zstd|...)
 *   parquet_bench read FILE.parquet              scans every column of any flat file
 *
 * Prints one line: "op=write secs=S cpu=C rows=N file_bytes=B raw_bytes=R maxrss_kb=K".
 * secs (wall) and cpu (this thread's CPU time) count only the writer's (reader's) own
 * calls, not the generation of the rows. raw_bytes
 * are the bytes of the values in memory (Arrow layout without offsets and validity:
 * fixed-width values, bit-packed booleans, string bytes) - the same definition for both.
 *
 * The table (13 columns, about 96 raw bytes a row): id INT64, ts TIMESTAMP(us, UTC),
 * user_id INT64 (2 million distinct), amount DOUBLE, score FLOAT (10% null), category
 * STRING (8 values), country STRING (40 values, 5% null), code STRING (12 random
 * characters), note STRING (2-8 words, 30% null), active BOOLEAN, qty INT32 (10% null),
 * day DATE, price DECIMAL(12,2). Values are deterministic functions of the row number. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "parquet/parquet.h"

#define NCOLS 13
#define BATCH 65536

enum {
  C_ID,
  C_TS,
  C_USER,
  C_AMOUNT,
  C_SCORE,
  C_CAT,
  C_COUNTRY,
  C_CODE,
  C_NOTE,
  C_ACTIVE,
  C_QTY,
  C_DAY,
  C_PRICE
};

static uint64_t mix(uint64_t x) { /* splitmix64 finaliser */
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

static uint64_t h(int64_t r, int col) { return mix((uint64_t)r * 16 + (uint64_t)col); }

/* CPU time of this thread: the writer and the reader do their work on the caller's thread. */
static uint64_t cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int64_t maxrss_kb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (int64_t)ru.ru_maxrss;
}

static void schema_init(tarn_pq_column *c) {
  static const struct {
    const char *name;
    tarn_pq_type type;
    tarn_pq_logical logical;
    int optional;
  } d[NCOLS] = {
      {"id", TARN_PQ_INT64, TARN_PQ_LT_NONE, 0},
      {"ts", TARN_PQ_INT64, TARN_PQ_LT_TIMESTAMP, 0},
      {"user_id", TARN_PQ_INT64, TARN_PQ_LT_NONE, 0},
      {"amount", TARN_PQ_DOUBLE, TARN_PQ_LT_NONE, 0},
      {"score", TARN_PQ_FLOAT, TARN_PQ_LT_NONE, 1},
      {"category", TARN_PQ_BYTE_ARRAY, TARN_PQ_LT_STRING, 0},
      {"country", TARN_PQ_BYTE_ARRAY, TARN_PQ_LT_STRING, 1},
      {"code", TARN_PQ_BYTE_ARRAY, TARN_PQ_LT_STRING, 0},
      {"note", TARN_PQ_BYTE_ARRAY, TARN_PQ_LT_STRING, 1},
      {"active", TARN_PQ_BOOLEAN, TARN_PQ_LT_NONE, 0},
      {"qty", TARN_PQ_INT32, TARN_PQ_LT_NONE, 1},
      {"day", TARN_PQ_INT32, TARN_PQ_LT_DATE, 0},
      {"price", TARN_PQ_INT64, TARN_PQ_LT_DECIMAL, 0},
  };
  int i;
  memset(c, 0, sizeof(*c) * NCOLS);
  for (i = 0; i < NCOLS; i++) {
    c[i].name = (char *)d[i].name;
    c[i].field_id = i + 1;
    c[i].type = d[i].type;
    c[i].logical = d[i].logical;
    c[i].optional = d[i].optional;
  }
  c[C_TS].unit = TARN_PQ_MICROS;
  c[C_TS].adjusted_to_utc = 1;
  c[C_PRICE].precision = 12;
  c[C_PRICE].scale = 2;
}

static size_t type_width(tarn_pq_type t) {
  return t == TARN_PQ_INT64 || t == TARN_PQ_DOUBLE  ? 8
         : t == TARN_PQ_INT32 || t == TARN_PQ_FLOAT ? 4
                                                    : 0;
}

static void set_bit(uint8_t *bm, int64_t i) { bm[i >> 3] |= (uint8_t)(1u << (i & 7)); }

/* Fills batch b with rows [r0, r0 + n); returns the raw bytes of their values. */
static int64_t generate(const tarn_pq_column *cols, tarn_pq_batch *b, int64_t r0, int64_t n) {
  static const char *const cats[] = {"books",   "garden",  "toys",   "electronics",
                                     "grocery", "fashion", "sports", "health"};
  static const char *const words[] = {"fast",     "delivery", "refund", "late",  "gift", "priority",
                                      "customer", "asked",    "for",    "a",     "call", "back",
                                      "damaged",  "box",      "again",  "thanks"};
  static const char alnum[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  int64_t raw = 0, i;
  int c;
  b->nrows = n;
  for (c = 0; c < NCOLS; c++) {
    tarn_pq_array *a = &b->cols[c];
    a->length = n;
    a->null_count = 0;
    if (a->validity != NULL)
      memset(a->validity, 0, (size_t)(n + 7) / 8);
    if (cols[c].type == TARN_PQ_BOOLEAN)
      memset(a->values, 0, (size_t)(n + 7) / 8);
  }
  for (i = 0; i < n; i++) {
    int64_t r = r0 + i;
    int64_t *off;
    char *p;
    uint64_t x;
    int k, nw;
    ((int64_t *)b->cols[C_ID].values)[i] = r + 1;
    ((int64_t *)b->cols[C_TS].values)[i] =
        1700000000000000ll + r * 1000 + (int64_t)(h(r, C_TS) % 1000);
    ((int64_t *)b->cols[C_USER].values)[i] = (int64_t)(h(r, C_USER) % 2000000);
    ((double *)b->cols[C_AMOUNT].values)[i] = (double)(h(r, C_AMOUNT) % 10000000) / 100.0;
    x = h(r, C_SCORE);
    if (x % 10 != 0) {
      ((float *)b->cols[C_SCORE].values)[i] = (float)(x % 100000) / 1000.0f;
      set_bit(b->cols[C_SCORE].validity, i);
    } else {
      ((float *)b->cols[C_SCORE].values)[i] = 0;
      b->cols[C_SCORE].null_count++;
    }
    /* strings: offsets[i] was set by the previous row (offsets[0] = 0) */
    off = b->cols[C_CAT].offsets;
    p = (char *)b->cols[C_CAT].data + off[i];
    k = (int)strlen(cats[h(r, C_CAT) % 8]);
    memcpy(p, cats[h(r, C_CAT) % 8], (size_t)k);
    off[i + 1] = off[i] + k;
    off = b->cols[C_COUNTRY].offsets;
    x = h(r, C_COUNTRY);
    if (x % 20 != 0) {
      p = (char *)b->cols[C_COUNTRY].data + off[i];
      p[0] = (char)('A' + (x >> 8) % 5);
      p[1] = (char)('A' + (x >> 16) % 8);
      off[i + 1] = off[i] + 2;
      set_bit(b->cols[C_COUNTRY].validity, i);
    } else {
      off[i + 1] = off[i];
      b->cols[C_COUNTRY].null_count++;
    }
    off = b->cols[C_CODE].offsets;
    p = (char *)b->cols[C_CODE].data + off[i];
    x = h(r, C_CODE);
    for (k = 0; k < 12; k++) {
      p[k] = alnum[x & 31];
      x = k == 5 ? mix(x ^ 0x5555) : x >> 5;
    }
    off[i + 1] = off[i] + 12;
    off = b->cols[C_NOTE].offsets;
    x = h(r, C_NOTE);
    if (x % 10 >= 3) {
      int64_t o = off[i];
      p = (char *)b->cols[C_NOTE].data;
      nw = 2 + (int)((x >> 4) % 7);
      for (k = 0; k < nw; k++) {
        const char *w = words[(x >> (8 + 4 * k)) % 16];
        size_t wl = strlen(w);
        if (k)
          p[o++] = ' ';
        memcpy(p + o, w, wl);
        o += (int64_t)wl;
      }
      off[i + 1] = o;
      set_bit(b->cols[C_NOTE].validity, i);
    } else {
      off[i + 1] = off[i];
      b->cols[C_NOTE].null_count++;
    }
    if (h(r, C_ACTIVE) % 3 != 0)
      set_bit(b->cols[C_ACTIVE].values, i);
    x = h(r, C_QTY);
    if (x % 10 != 0) {
      ((int32_t *)b->cols[C_QTY].values)[i] = (int32_t)(x % 5000);
      set_bit(b->cols[C_QTY].validity, i);
    } else {
      ((int32_t *)b->cols[C_QTY].values)[i] = 0;
      b->cols[C_QTY].null_count++;
    }
    ((int32_t *)b->cols[C_DAY].values)[i] = (int32_t)(19000 + r / 100000);
    ((int64_t *)b->cols[C_PRICE].values)[i] = (int64_t)(h(r, C_PRICE) % 100000000);
  }
  for (c = 0; c < NCOLS; c++) {
    tarn_pq_array *a = &b->cols[c];
    if (a->offsets != NULL) {
      a->data_len = a->offsets[n];
      raw += a->data_len;
    } else if (cols[c].type == TARN_PQ_BOOLEAN) {
      raw += (n + 7) / 8;
    } else {
      raw += n * (int64_t)type_width(cols[c].type);
    }
  }
  return raw;
}

static int do_write(const char *path, int64_t rows, const char *codec) {
  tarn_pq_column cols[NCOLS];
  tarn_pq_schema s = {cols, NCOLS};
  tarn_pq_writer_options o;
  tarn_pq_array arr[NCOLS];
  tarn_pq_batch b = {0, NCOLS, arr};
  tarn_pq_writer *w = NULL;
  tarn_error err;
  uint64_t t = 0, t0, cpu = 0, c0;
  int64_t r0, raw = 0;
  struct stat sb;
  int fd, c, cc = tarn_pq_codec_parse(codec);
  if (cc < 0) {
    fprintf(stderr, "unknown codec %s\n", codec);
    return 2;
  }
  schema_init(cols);
  memset(arr, 0, sizeof(arr));
  for (c = 0; c < NCOLS; c++) {
    if (cols[c].optional)
      arr[c].validity = calloc(BATCH / 8, 1);
    if (cols[c].type == TARN_PQ_BYTE_ARRAY) {
      arr[c].offsets = calloc(BATCH + 1, sizeof(int64_t));
      arr[c].data = malloc((size_t)BATCH * 64);
    } else {
      arr[c].values = calloc(BATCH, cols[c].type == TARN_PQ_BOOLEAN ? 1 : type_width(cols[c].type));
    }
  }
  memset(&o, 0, sizeof(o));
  o.codec = (tarn_pq_codec)cc;
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    perror(path);
    return 1;
  }
  t0 = tarn_clock_mono_ns();
  c0 = cpu_ns();
  if (tarn_pq_writer_open_fd(fd, &s, &o, &w, &err) != 0)
    goto fail;
  cpu += cpu_ns() - c0;
  t += tarn_clock_mono_ns() - t0;
  for (r0 = 0; r0 < rows; r0 += BATCH) {
    int64_t n = rows - r0 < BATCH ? rows - r0 : BATCH;
    raw += generate(cols, &b, r0, n);
    t0 = tarn_clock_mono_ns();
    c0 = cpu_ns();
    if (tarn_pq_writer_write(w, &b, &err) != 0)
      goto fail;
    cpu += cpu_ns() - c0;
    t += tarn_clock_mono_ns() - t0;
  }
  t0 = tarn_clock_mono_ns();
  c0 = cpu_ns();
  if (tarn_pq_writer_close(w, NULL, &err) != 0) {
    w = NULL;
    goto fail;
  }
  cpu += cpu_ns() - c0;
  t += tarn_clock_mono_ns() - t0;
  close(fd);
  if (stat(path, &sb) != 0)
    return 1;
  printf("op=write secs=%.4f cpu=%.4f rows=%lld file_bytes=%lld raw_bytes=%lld maxrss_kb=%lld\n",
         (double)t / 1e9, (double)cpu / 1e9, (long long)rows, (long long)sb.st_size, (long long)raw,
         (long long)maxrss_kb());
  for (c = 0; c < NCOLS; c++) {
    free(arr[c].validity);
    free(arr[c].values);
    free(arr[c].offsets);
    free(arr[c].data);
  }
  return 0;
fail:
  fprintf(stderr, "write %s: %s\n", path, tarn_error_message(&err));
  tarn_pq_writer_abort(w);
  close(fd);
  return 1;
}

static int do_read(const char *path) {
  tarn_pq_reader *r = NULL;
  tarn_pq_scan *s = NULL;
  tarn_pq_batch *b = NULL;
  tarn_error err;
  const tarn_pq_file_meta *m;
  int64_t rows = 0, raw = 0;
  uint64_t t0, c0;
  struct stat sb;
  int fd = open(path, O_RDONLY);
  size_t c;
  if (fd < 0 || fstat(fd, &sb) != 0) {
    perror(path);
    return 1;
  }
  t0 = tarn_clock_mono_ns();
  c0 = cpu_ns();
  if (tarn_pq_reader_open_fd(fd, path, &r, &err) != 0 || tarn_pq_scan_open(r, NULL, &s, &err) != 0)
    goto fail;
  m = tarn_pq_reader_meta(r);
  for (;;) {
    if (tarn_pq_scan_next(s, &b, &err) != 0)
      goto fail;
    if (b == NULL)
      break;
    rows += b->nrows;
    for (c = 0; c < b->ncols; c++) {
      const tarn_pq_column *col = &m->schema.cols[c];
      if (b->cols[c].offsets != NULL)
        raw += b->cols[c].data_len;
      else if (col->type == TARN_PQ_BOOLEAN)
        raw += (b->nrows + 7) / 8;
      else if (col->type == TARN_PQ_FIXED_LEN_BYTE_ARRAY)
        raw += b->nrows * col->type_length;
      else
        raw += b->nrows * (int64_t)(col->type == TARN_PQ_INT96 ? 12 : type_width(col->type));
    }
    tarn_pq_scan_recycle(s, b); /* its buffers serve the next batch */
  }
  tarn_pq_scan_close(s);
  tarn_pq_reader_close(r);
  printf("op=read secs=%.4f cpu=%.4f rows=%lld file_bytes=%lld raw_bytes=%lld maxrss_kb=%lld\n",
         (double)(tarn_clock_mono_ns() - t0) / 1e9, (double)(cpu_ns() - c0) / 1e9, (long long)rows,
         (long long)sb.st_size, (long long)raw, (long long)maxrss_kb());
  close(fd);
  return 0;
fail:
  fprintf(stderr, "read %s: %s\n", path, tarn_error_message(&err));
  tarn_pq_scan_close(s);
  tarn_pq_reader_close(r);
  close(fd);
  return 1;
}

int main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[1], "write") == 0)
    return do_write(argv[2], strtoll(argv[3], NULL, 10), argv[4]);
  if (argc == 3 && strcmp(argv[1], "read") == 0)
    return do_read(argv[2]);
  fprintf(stderr, "usage: parquet_bench write OUT.parquet ROWS CODEC | read FILE.parquet\n");
  return 2;
}
