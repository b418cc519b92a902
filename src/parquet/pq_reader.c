/* pq_reader.c - opens Parquet files (fd, object store, memory) and decodes their footer. */
#include "pq_read_int.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"

tarn__pq_limits tarn__pq_limits_cur = {
    .max_page_bytes = 1u << 30,
    .max_page_values = 64 << 20,
    .max_batch_bytes = 1u << 30,
};

/* ---- sources: each reads exactly [off, off + len) or fails naming the offset ---- */

static int short_read(tarn__pq_source *src, uint64_t off, size_t len, tarn_error *err) {
  return tarn_error_set(err, TARN_ECORRUPT,
                        "%s: offset %llu: file ends before %zu bytes could be read (size %llu)",
                        src->name, (unsigned long long)off, len, (unsigned long long)src->size);
}

static int fd_read(tarn__pq_source *src, uint64_t off, size_t len, tarn_buf *out, tarn_error *err) {
  size_t got = 0;
  int rc;
  tarn_buf_reset(out);
  if (off > src->size || len > src->size - off)
    return short_read(src, off, len, err);
  rc = tarn_buf_reserve(out, len, err);
  if (rc != 0)
    return rc;
  while (got < len) {
    ssize_t r = pread(src->fd, out->data + got, len - got, (off_t)(off + got));
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return tarn_error_sys(err, TARN_EIO, errno, "%s: offset %llu: read failed", src->name,
                            (unsigned long long)(off + got));
    if (r == 0)
      return short_read(src, off, len, err);
    got += (size_t)r;
  }
  out->len = len;
  out->data[len] = '\0';
  return 0;
}

static int mem_read(tarn__pq_source *src, uint64_t off, size_t len, tarn_buf *out,
                    tarn_error *err) {
  tarn_buf_reset(out);
  if (off > src->size || len > src->size - off)
    return short_read(src, off, len, err);
  return tarn_buf_append(out, src->mem + off, len, err);
}

static int store_read(tarn__pq_source *src, uint64_t off, size_t len, tarn_buf *out,
                      tarn_error *err) {
  int rc;
  tarn_buf_reset(out);
  if (off > src->size || len > src->size - off)
    return short_read(src, off, len, err);
  if (len == 0)
    return tarn_buf_reserve(out, 0, err);
  rc = tarn_store_get_range(src->st, src->key, off, len, out, err);
  if (rc != 0) {
    tarn_error_prefix(err, "%s: offset %llu", src->name, (unsigned long long)off);
    return rc;
  }
  if (out->len != len)
    return short_read(src, off, len, err);
  return 0;
}

int tarn__pq_read(tarn_pq_reader *r, uint64_t off, size_t len, tarn_buf *out, tarn_error *err) {
  return r->src.read(&r->src, off, len, out, err);
}

/* ---- footer ---- */

#define TAIL_GUESS (64u << 10) /* one read usually brings the whole footer */

static int open_common(tarn_pq_reader *r, tarn_error *err) {
  tarn_buf tail;
  uint64_t size = r->src.size, tail_len, footer_len, footer_start;
  const uint8_t *t;
  int rc;
  tarn_buf_init(&tail, TARN__PQ_MAX_FOOTER + 16);
  if (size < 12) {
    rc = tarn_error_set(err, TARN_ECORRUPT,
                        "%s: offset 0: %llu bytes is too small for a Parquet file", r->name,
                        (unsigned long long)size);
    goto out;
  }
  tail_len = size < TAIL_GUESS ? size : TAIL_GUESS;
  rc = tarn__pq_read(r, size - tail_len, (size_t)tail_len, &tail, err);
  if (rc != 0)
    goto out;
  t = (const uint8_t *)tail.data;
  if (memcmp(t + tail_len - 4, TARN__PQ_MAGIC, 4) != 0) {
    rc = tarn_error_set(err, TARN_ECORRUPT,
                        "%s: offset %llu: no PAR1 magic at the end (not a Parquet file, or "
                        "truncated)",
                        r->name, (unsigned long long)(size - 4));
    goto out;
  }
  footer_len = (uint64_t)t[tail_len - 8] | (uint64_t)t[tail_len - 7] << 8 |
               (uint64_t)t[tail_len - 6] << 16 | (uint64_t)t[tail_len - 5] << 24;
  if (footer_len > size - 12) {
    rc = tarn_error_set(err, TARN_ECORRUPT,
                        "%s: offset %llu: footer length %llu exceeds the file (%llu bytes)",
                        r->name, (unsigned long long)(size - 8), (unsigned long long)footer_len,
                        (unsigned long long)size);
    goto out;
  }
  if (footer_len > TARN__PQ_MAX_FOOTER) {
    rc = tarn_error_set(err, TARN_ETOOBIG, "%s: offset %llu: footer of %llu bytes exceeds the cap",
                        r->name, (unsigned long long)(size - 8), (unsigned long long)footer_len);
    goto out;
  }
  footer_start = size - 8 - footer_len;
  if (footer_len + 8 > tail_len) {
    rc = tarn__pq_read(r, footer_start, (size_t)footer_len + 8, &tail, err);
    if (rc != 0)
      goto out;
    t = (const uint8_t *)tail.data;
    tail_len = footer_len + 8;
  }
  /* The leading magic: inside the tail when the file is small, else one more read. */
  if (size <= tail_len) {
    if (memcmp(t, TARN__PQ_MAGIC, 4) != 0)
      rc = TARN_ECORRUPT;
  } else {
    tarn_buf head;
    tarn_buf_init(&head, 16);
    rc = tarn__pq_read(r, 0, 4, &head, err);
    if (rc == 0 && memcmp(head.data, TARN__PQ_MAGIC, 4) != 0)
      rc = TARN_ECORRUPT;
    tarn_buf_free(&head);
    if (rc != 0 && rc != TARN_ECORRUPT)
      goto out;
  }
  if (rc != 0) {
    rc = tarn_error_set(err, TARN_ECORRUPT, "%s: offset 0: no PAR1 magic at the start", r->name);
    goto out;
  }
  r->footer_start = (int64_t)footer_start;
  rc = tarn__pq_decode_file_meta(t + (tail_len - 8 - footer_len), (size_t)footer_len,
                                 (int64_t)footer_start, r->name, &r->meta, err);
out:
  tarn_buf_free(&tail);
  return rc;
}

static int reader_new(const char *name, tarn_pq_reader **out, tarn_error *err) {
  tarn_pq_reader *r = tarn_calloc(1, sizeof(*r));
  *out = NULL;
  if (r == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory opening %s", name ? name : "parquet");
  r->name = tarn_strdup(name ? name : "parquet");
  if (r->name == NULL) {
    tarn_free(r);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory opening a Parquet file");
  }
  r->src.name = r->name;
  r->src.fd = -1;
  *out = r;
  return 0;
}

static int finish_open(tarn_pq_reader *r, tarn_pq_reader **out, tarn_error *err) {
  int rc = open_common(r, err);
  if (rc != 0) {
    tarn_pq_reader_close(r);
    return rc;
  }
  *out = r;
  return 0;
}

int tarn_pq_reader_open_fd(int fd, const char *name, tarn_pq_reader **out, tarn_error *err) {
  tarn_pq_reader *r;
  struct stat sb;
  int rc = reader_new(name, &r, err);
  *out = NULL;
  if (rc != 0)
    return rc;
  if (fstat(fd, &sb) != 0) {
    rc = tarn_error_sys(err, tarn_code_from_errno(errno), errno, "%s: cannot stat", r->name);
    tarn_pq_reader_close(r);
    return rc;
  }
  r->src.fd = fd;
  r->src.size = (uint64_t)sb.st_size;
  r->src.read = fd_read;
  return finish_open(r, out, err);
}

int tarn_pq_reader_open_store(tarn_store *st, const char *key, tarn_pq_reader **out,
                              tarn_error *err) {
  tarn_pq_reader *r;
  tarn_store_stat ss;
  int rc = reader_new(key, &r, err);
  *out = NULL;
  if (rc != 0)
    return rc;
  rc = tarn_store_head(st, key, &ss, err);
  if (rc != 0) {
    tarn_pq_reader_close(r);
    return rc;
  }
  r->src.st = st;
  r->src.key = r->name;
  r->src.size = ss.size;
  r->src.read = store_read;
  return finish_open(r, out, err);
}

int tarn_pq_reader_open_mem(const void *p, size_t n, const char *name, tarn_pq_reader **out,
                            tarn_error *err) {
  tarn_pq_reader *r;
  int rc = reader_new(name, &r, err);
  *out = NULL;
  if (rc != 0)
    return rc;
  r->src.mem = p;
  r->src.size = n;
  r->src.read = mem_read;
  return finish_open(r, out, err);
}

const tarn_pq_file_meta *tarn_pq_reader_meta(const tarn_pq_reader *r) { return &r->meta; }

void tarn_pq_reader_close(tarn_pq_reader *r) {
  if (r == NULL)
    return;
  tarn_pq_file_meta_free(&r->meta);
  tarn_free(r->name);
  tarn_free(r);
}

int tarn__pq_literal(const tarn_pq_column *c, const tarn_pq_value *v, uint8_t *tmp,
                     const uint8_t **out, size_t *len) {
  *out = tmp;
  switch (c->type) {
  case TARN_PQ_BOOLEAN:
    tmp[0] = v->boolean ? 1 : 0;
    *len = 1;
    return 0;
  case TARN_PQ_INT32:
  case TARN_PQ_FLOAT:
    if (c->type == TARN_PQ_INT32)
      memcpy(tmp, &v->i32, 4);
    else
      memcpy(tmp, &v->f32, 4);
    *len = 4;
    return 0;
  case TARN_PQ_INT64:
  case TARN_PQ_DOUBLE:
    if (c->type == TARN_PQ_INT64)
      memcpy(tmp, &v->i64, 8);
    else
      memcpy(tmp, &v->f64, 8);
    *len = 8;
    return 0;
  default:
    if (v->bytes == NULL && v->len > 0)
      return -1;
    if ((c->type == TARN_PQ_FIXED_LEN_BYTE_ARRAY && v->len != (size_t)c->type_length) ||
        (c->type == TARN_PQ_INT96 && v->len != 12))
      return -1;
    *out = v->bytes ? v->bytes : tmp;
    *len = v->len;
    return 0;
  }
}
