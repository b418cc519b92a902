/* sink_jsonl.c - the development target: JSON lines in a file (or stdout), with the same
 * batching and offset rules as the tables. The file is exactly-once across crashes: after
 * both files are fsynced, PATH.offsets records their lengths and the offsets in one atomic
 * replace, and an open cuts the files back to the lengths it records. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "sink_int.h"

typedef struct jsonl {
  char *path; /* NULL: stdout */
  int fd[2];  /* rows, poison records */
  int64_t len[2];
  tarn_sink_offsets next[2];
  char side[PATH_MAX + 16];
  char name[2][PATH_MAX + 16];
} jsonl;

static int write_all(int fd, const void *p, size_t n, const char *what, tarn_error *err) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = write(fd, c, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return tarn_error_sys(err, tarn_code_from_errno(errno), errno, "write %s", what);
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

/* PATH.offsets: {"rows":LEN,"dlq":LEN,"main_offsets":{...},"dlq_offsets":{...}}. */
static int save_side(jsonl *j, tarn_error *err) {
  char tmp[PATH_MAX + 32];
  tarn_buf b;
  int fd, rc;
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  rc = tarn_buf_appendf(&b, err,
                        "{\"rows\":%lld,\"dlq\":%lld,\"main_offsets\":", (long long)j->len[0],
                        (long long)j->len[1]);
  if (rc == 0)
    rc = tarn_sink_offsets_format(&j->next[0], &b, err);
  if (rc == 0)
    rc = tarn_buf_append_str(&b, ",\"dlq_offsets\":", err);
  if (rc == 0)
    rc = tarn_sink_offsets_format(&j->next[1], &b, err);
  if (rc == 0)
    rc = tarn_buf_append_str(&b, "}\n", err);
  snprintf(tmp, sizeof(tmp), "%s.tmp", j->side);
  fd = rc == 0 ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640) : -1;
  if (rc == 0 && fd < 0)
    rc = tarn_error_sys(err, tarn_code_from_errno(errno), errno, "open %s", tmp);
  if (rc == 0)
    rc = write_all(fd, b.data, b.len, tmp, err);
  if (rc == 0 && fsync(fd) != 0)
    rc = tarn_error_sys(err, TARN_EFSYNC, errno, "fsync %s", tmp);
  if (fd >= 0)
    close(fd);
  if (rc == 0 && rename(tmp, j->side) != 0)
    rc = tarn_error_sys(err, tarn_code_from_errno(errno), errno, "rename %s", tmp);
  tarn_buf_free(&b);
  return rc;
}

static int load_side(jsonl *j, tarn_error *err) {
  json_error_t jerr;
  json_t *root = json_load_file(j->side, 0, &jerr), *v;
  char *text;
  int rc = 0, k;
  if (root == NULL)
    return tarn_error_set(err, TARN_ECORRUPT, "%s: %s (line %d)", j->side, jerr.text, jerr.line);
  for (k = 0; rc == 0 && k < 2; k++) {
    v = json_object_get(root, k == 0 ? "rows" : "dlq");
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
      rc = tarn_error_set(err, TARN_ECORRUPT, "%s: \"%s\" is not a length", j->side,
                          k == 0 ? "rows" : "dlq");
      break;
    }
    j->len[k] = json_integer_value(v);
    text =
        json_dumps(json_object_get(root, k == 0 ? "main_offsets" : "dlq_offsets"), JSON_ENCODE_ANY);
    rc = text != NULL ? tarn_sink_offsets_parse(text, &j->next[k], err)
                      : tarn_error_set(err, TARN_ECORRUPT, "%s: offsets missing", j->side);
    free(text);
  }
  json_decref(root);
  return rc;
}

/* Opens both files; cuts them back to what PATH.offsets says was committed. */
static int open_files(jsonl *j, tarn_error *err) {
  struct stat st;
  int k, have_side = access(j->side, F_OK) == 0, rc = 0;
  if (have_side)
    rc = load_side(j, err);
  for (k = 0; rc == 0 && k < 2; k++) {
    j->fd[k] = open(j->name[k], O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
    if (j->fd[k] < 0)
      return tarn_error_sys(err, tarn_code_from_errno(errno), errno, "open %s", j->name[k]);
    if (fstat(j->fd[k], &st) != 0)
      return tarn_error_sys(err, tarn_code_from_errno(errno), errno, "stat %s", j->name[k]);
    if (!have_side && st.st_size > 0)
      return tarn_error_set(err, TARN_EEXIST,
                            "%s has data but no %s: it was not written by tarn sink; move it "
                            "away or choose another --jsonl path",
                            j->name[k], j->side);
    if (st.st_size < j->len[k])
      return tarn_error_set(err, TARN_ECORRUPT, "%s is %lld bytes, shorter than the %lld %s says",
                            j->name[k], (long long)st.st_size, (long long)j->len[k], j->side);
    if (st.st_size > j->len[k] && ftruncate(j->fd[k], j->len[k]) != 0)
      return tarn_error_sys(err, tarn_code_from_errno(errno), errno, "truncate %s", j->name[k]);
    if (lseek(j->fd[k], j->len[k], SEEK_SET) < 0)
      return tarn_error_sys(err, tarn_code_from_errno(errno), errno, "seek %s", j->name[k]);
  }
  if (rc == 0 && !have_side)
    rc = save_side(j, err);
  return rc;
}

/* ---- lines ---- */

static json_t *bytes_json(const tarn_sink_rows *r, const tarn_sink_cell *c) {
  json_t *s = json_stringn((const char *)r->arena.data + c->v, c->len);
  return s != NULL ? s : json_string("(not UTF-8)");
}

static int append_row(tarn_buf *out, const tarn_sink_rows *r, const tarn_sink_cell *c,
                      tarn_error *err) {
  int col, rc = tarn_buf_append_byte(out, '{', err);
  for (col = 0; rc == 0 && col < TARN_AL_NCOLS; col++) {
    const tarn_sink_cell *x = &c[col];
    rc = tarn_buf_appendf(out, err, "%s\"%s\":", col ? "," : "", tarn_action_log_names[col]);
    if (rc != 0)
      break;
    if (x->null)
      rc = tarn_buf_append_str(out, "null", err);
    else if (col == TARN_AL_APPLIED_AT_MS)
      rc = tarn_buf_appendf(out, err, "%lld", (long long)x->v);
    else if (col == TARN_AL_APPLIED_AT) {
      time_t secs = (time_t)(x->v / 1000000);
      struct tm tm;
      char ts[64];
      gmtime_r(&secs, &tm);
      strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
      rc = tarn_buf_appendf(out, err, "\"%s.%03dZ\"", ts, (int)(x->v / 1000 % 1000));
    } else if (col == TARN_AL_PARAMETERS || col == TARN_AL_PREVIOUS_STATE ||
               col == TARN_AL_NEW_STATE) {
      rc = tarn_buf_append(out, r->arena.data + x->v, x->len, err); /* compact JSON already */
    } else {
      json_t *s = bytes_json(r, x);
      char *t = json_dumps(s, JSON_ENCODE_ANY);
      rc = t != NULL ? tarn_buf_append_str(out, t, err) : tarn_error_set(err, TARN_ENOMEM, "oom");
      free(t);
      json_decref(s);
    }
  }
  if (rc == 0)
    rc = tarn_buf_append_str(out, "}\n", err);
  return rc;
}

static int append_dlq(tarn_buf *out, const tarn_sink_rows *r, const tarn_sink_cell *c,
                      tarn_error *err) {
  json_t *o = json_object();
  char *t;
  int rc;
  json_object_set_new(o, "topic", bytes_json(r, &c[TARN_DLQ_TOPIC]));
  json_object_set_new(o, "partition", json_integer(c[TARN_DLQ_PARTITION].v));
  json_object_set_new(o, "offset", json_integer(c[TARN_DLQ_OFFSET].v));
  json_object_set_new(o, "key",
                      c[TARN_DLQ_KEY].null ? json_null() : bytes_json(r, &c[TARN_DLQ_KEY]));
  json_object_set_new(o, "value",
                      c[TARN_DLQ_VALUE].null ? json_null() : bytes_json(r, &c[TARN_DLQ_VALUE]));
  json_object_set_new(o, "reason", bytes_json(r, &c[TARN_DLQ_REASON]));
  json_object_set_new(o, "detail",
                      c[TARN_DLQ_DETAIL].null ? json_null() : bytes_json(r, &c[TARN_DLQ_DETAIL]));
  json_object_set_new(
      o, "kafka_timestamp_us",
      c[TARN_DLQ_KAFKA_TIMESTAMP].null ? json_null() : json_integer(c[TARN_DLQ_KAFKA_TIMESTAMP].v));
  json_object_set_new(o, "seen_at_us", json_integer(c[TARN_DLQ_SEEN_AT].v));
  t = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
  rc = t != NULL ? tarn_buf_append_str(out, t, err) : tarn_error_set(err, TARN_ENOMEM, "oom");
  if (rc == 0)
    rc = tarn_buf_append_byte(out, '\n', err);
  free(t);
  json_decref(o);
  return rc;
}

/* ---- the target ---- */

static int j_offsets(void *impl, tarn_sink_offsets *main_next, tarn_sink_offsets *dlq_next,
                     int *known, tarn_error *err) {
  jsonl *j = impl;
  int rc;
  *known = j->path != NULL;
  rc = tarn_sink_offsets_copy(main_next, &j->next[0], err);
  return rc != 0 ? rc : tarn_sink_offsets_copy(dlq_next, &j->next[1], err);
}

static int j_commit(void *impl, tarn_al_table_kind kind, const tarn_sink_rows *rows,
                    const tarn_sink_offsets *start, const tarn_sink_offsets *end,
                    tarn_sink_commit *res, int *fenced, tarn_error *err) {
  jsonl *j = impl;
  tarn_buf out;
  tarn_sink_offsets before = {0};
  size_t i;
  int k = kind == TARN_AL_MAIN ? 0 : 1, rc = 0;
  int64_t at = j->len[k];
  memset(res, 0, sizeof(*res));
  *fenced = 0;
  for (i = 0; j->path != NULL && i < end->n; i++)
    if (tarn_sink_offsets_get(&j->next[k], end->v[i].topic, end->v[i].partition) !=
        tarn_sink_offsets_get(start, end->v[i].topic, end->v[i].partition)) {
      *fenced = 1;
      return tarn_error_set(err, TARN_ECONFLICT, "%s: offsets moved (another writer?)", j->name[k]);
    }
  if (j->path == NULL && kind == TARN_AL_DLQ)
    return 0; /* stdout: poison records are in the log only */
  tarn_buf_init(&out, TARN_BUF_UNLIMITED);
  for (i = 0; rc == 0 && i < rows->nrows; i++)
    rc = (kind == TARN_AL_MAIN ? append_row : append_dlq)(&out, rows, &rows->cells[i * rows->ncols],
                                                          err);
  if (rc == 0)
    rc = write_all(j->fd[k], out.data, out.len, j->name[k], err);
  if (rc == 0 && j->path != NULL && fdatasync(j->fd[k]) != 0)
    rc = tarn_error_sys(err, TARN_EFSYNC, errno, "fsync %s", j->name[k]);
  if (rc == 0 && j->path != NULL)
    rc = tarn_sink_offsets_copy(&before, &j->next[k], err);
  if (rc == 0 && j->path != NULL) {
    j->len[k] += (int64_t)out.len;
    rc = tarn_sink_offsets_merge(&j->next[k], end, err);
    if (rc == 0)
      rc = save_side(j, err);
    if (rc != 0) { /* the sidecar records the state before this batch: so must we */
      j->len[k] = at;
      tarn_sink_offsets_free(&j->next[k]);
      j->next[k] = before;
      memset(&before, 0, sizeof(before));
    }
  }
  if (rc != 0 && j->path != NULL && ftruncate(j->fd[k], j->len[k]) == 0)
    (void)lseek(j->fd[k], j->len[k], SEEK_SET); /* a failed write leaves nothing behind */
  tarn_sink_offsets_free(&before);
  res->committed = rc == 0;
  res->files = 1;
  res->bytes = (int64_t)out.len;
  res->attempts = 1;
  tarn_buf_free(&out);
  return rc;
}

static void j_close(void *impl) {
  jsonl *j = impl;
  int k;
  for (k = 0; k < 2; k++) {
    if (j->path != NULL && j->fd[k] >= 0)
      close(j->fd[k]);
    tarn_sink_offsets_free(&j->next[k]);
  }
  tarn_free(j->path);
  tarn_free(j);
}

static const char *j_name(void *impl, tarn_al_table_kind kind) {
  jsonl *j = impl;
  return j->path == NULL ? "stdout" : j->name[kind == TARN_AL_MAIN ? 0 : 1];
}

int tarn__sink_jsonl_open(const char *path, sink_target *t, tarn_error *err) {
  jsonl *j = tarn_calloc(1, sizeof(*j));
  int rc = 0;
  if (j == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  j->fd[0] = j->fd[1] = -1;
  if (strcmp(path, "-") == 0) {
    j->fd[0] = STDOUT_FILENO;
  } else if (strlen(path) > PATH_MAX - 16) {
    rc = tarn_error_set(err, TARN_EINVAL, "--jsonl path too long");
  } else {
    j->path = tarn_strdup(path);
    snprintf(j->name[0], sizeof(j->name[0]), "%s", path);
    snprintf(j->name[1], sizeof(j->name[1]), "%s.dlq", path);
    snprintf(j->side, sizeof(j->side), "%s.offsets", path);
    rc = j->path == NULL ? tarn_error_set(err, TARN_ENOMEM, "out of memory") : open_files(j, err);
  }
  if (rc != 0) {
    j_close(j);
    return rc;
  }
  t->impl = j;
  t->offsets = j_offsets;
  t->commit = j_commit;
  t->close = j_close;
  t->name = j_name;
  return 0;
}
