/* record.c - what callers record most (an insert, an update of one field, a delete, an
 * ingest) and the inbox other processes leave events in (journal.h). Every event goes
 * through tarn_journal_parse, so a library call is checked exactly as an API request. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/uuid.h"
#include "journal_int.h"

/* Sets key to the JSON value of text (NULL: nothing): TARN_EINVAL when it is not JSON. */
static int put_json(json_t *o, const char *key, const char *text, tarn_error *err) {
  json_error_t je;
  json_t *v;
  if (text == NULL)
    return 0;
  v = json_loads(text, JSON_DECODE_ANY, &je);
  if (v == NULL)
    return tarn_error_set(err, TARN_EINVAL, "field \"%s\": not JSON (%s at column %d)", key,
                          je.text, je.column);
  return json_object_set_new(o, key, v) == 0 ? 0
                                             : tarn_error_set(err, TARN_ENOMEM, "out of memory");
}

static int put_str(json_t *o, const char *key, const char *s, tarn_error *err) {
  if (s == NULL)
    return 0;
  return json_object_set_new(o, key, json_string(s)) == 0
             ? 0
             : tarn_error_set(err, TARN_EINVAL, "field \"%s\" is not UTF-8 text", key);
}

/* The object o (taken) read back as one event, checked as a request's would be. */
static int event_of(json_t *o, tarn_journal_event *out, tarn_error *err) {
  tarn_journal_event *ev = NULL;
  size_t n = 0;
  char *text = json_dumps(o, JSON_COMPACT);
  int rc;
  json_decref(o);
  if (text == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  rc = tarn_journal_parse(text, strlen(text), 1, &ev, &n, err);
  free(text);
  if (rc != 0)
    return rc;
  *out = ev[0]; /* the array's only event, moved out */
  tarn_free(ev);
  return 0;
}

static int record(tarn_journal *j, const char *action, const char *type, const char *id,
                  const char *field, const char *old_json, const char *new_json, const char *actor,
                  tarn_journal_ack *ack, tarn_error *err) {
  tarn_journal_event e;
  json_t *o = json_object();
  int rc;
  if (o == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  rc = put_str(o, "entity_type", type, err);
  if (rc == 0)
    rc = put_str(o, "entity_id", id, err);
  if (rc == 0)
    rc = put_str(o, "action", action, err);
  if (rc == 0)
    rc = put_str(o, "field", field, err);
  if (rc == 0)
    rc = put_json(o, "old_value", old_json, err);
  if (rc == 0)
    rc = put_json(o, "new_value", new_json, err);
  if (rc != 0) {
    json_decref(o);
    return rc;
  }
  rc = event_of(o, &e, err);
  if (rc != 0)
    return rc;
  rc = tarn_journal_append(j, &e, 1, actor, TARN_JS_API, ack, err);
  tarn_journal_event_free(&e);
  return rc;
}

int tarn_journal_record_insert(tarn_journal *j, const char *entity_type, const char *entity_id,
                               const char *new_json, const char *actor, tarn_journal_ack *ack,
                               tarn_error *err) {
  return record(j, "insert", entity_type, entity_id, NULL, NULL, new_json, actor, ack, err);
}

int tarn_journal_record_update(tarn_journal *j, const char *entity_type, const char *entity_id,
                               const char *field, const char *old_json, const char *new_json,
                               const char *actor, tarn_journal_ack *ack, tarn_error *err) {
  if (field == NULL)
    return tarn_error_set(err, TARN_EINVAL,
                          "field \"field\" must name the field an update changes");
  return record(j, "update", entity_type, entity_id, field, old_json, new_json, actor, ack, err);
}

int tarn_journal_record_delete(tarn_journal *j, const char *entity_type, const char *entity_id,
                               const char *old_json, const char *actor, tarn_journal_ack *ack,
                               tarn_error *err) {
  return record(j, "delete", entity_type, entity_id, NULL, old_json, NULL, actor, ack, err);
}

/* ---- ingest ---- */

int tarn_journal_ingest_event(const tarn_journal_ingest *in, tarn_journal_event *out,
                              tarn_error *err) {
  /* the RFC 4122 URL namespace: the same commit, the same id */
  static const tarn_uuid url_ns = {{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4,
                                    0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}};
  char name[TARN_JOURNAL_NAME_MAX + 64], entity[TARN_JOURNAL_NAME_MAX + 16], id[TARN_UUID_STR_LEN];
  tarn_uuid u;
  json_t *o, *v;
  int n, rc;
  memset(out, 0, sizeof(*out));
  if (in->dataset == NULL || in->dataset[0] == '\0')
    return tarn_error_set(err, TARN_EINVAL, "ingest event: no dataset");
  n = snprintf(entity, sizeof(entity), "datasets.%s", in->dataset);
  if (n < 0 || (size_t)n >= sizeof(entity))
    return tarn_error_set(err, TARN_EINVAL, "ingest event: the dataset name is too long");
  n = snprintf(name, sizeof(name), "tarn:ingest:%s:%lld", entity, (long long)in->snapshot_id);
  rc = tarn_uuid_v5(&u, &url_ns, name, (size_t)n, err);
  if (rc != 0)
    return rc;
  tarn_uuid_format(&u, id);
  v = json_pack("{s:I,s:s?,s:s?,s:s?,s:I}", "rows", (json_int_t)in->rows, "source", in->source,
                "source_sha256", in->sha256, "outcome", in->outcome, "snapshot_id",
                (json_int_t)in->snapshot_id);
  o = v == NULL
          ? NULL
          : json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "event_id", id, "entity_type", in->dataset,
                      "entity_id", entity, "action", "ingest", "source", "ingest", "new_value", v);
  if (o == NULL)
    return tarn_error_set(err, TARN_EINVAL, "ingest event: a name or source is not UTF-8 text");
  if (in->actor != NULL && (rc = put_str(o, "actor", in->actor, err)) != 0) {
    json_decref(o);
    return rc;
  }
  return event_of(o, out, err);
}

int tarn_journal_record_ingest(tarn_journal *j, const tarn_journal_ingest *in,
                               tarn_journal_ack *ack, tarn_error *err) {
  tarn_journal_event e;
  int rc = tarn_journal_ingest_event(in, &e, err);
  if (rc != 0)
    return rc;
  rc = tarn_journal_append(j, &e, 1, in->actor, TARN_JS_INGEST, ack, err);
  tarn_journal_event_free(&e);
  return rc;
}

/* ---- the inbox ---- */

#define INBOX "inbox"
#define INBOX_FILE_MAX ((size_t)64 << 20)

static int mkdir_p(const char *path, tarn_error *err) {
  char p[4096];
  size_t i, n = strlen(path);
  if (n == 0 || n >= sizeof(p))
    return tarn_error_set(err, TARN_EINVAL, "journal inbox: bad directory \"%s\"", path);
  memcpy(p, path, n + 1);
  for (i = 1; i <= n; i++)
    if (p[i] == '/' || p[i] == '\0') {
      char c = p[i];
      p[i] = '\0';
      if (mkdir(p, 0755) != 0 && errno != EEXIST)
        return tarn_error_sys(err, tarn_code_from_errno(errno), errno,
                              "journal inbox: cannot create %s", p);
      p[i] = c;
    }
  return 0;
}

static int fsync_path(const char *path, tarn_error *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
  if (fd < 0 || fsync(fd) != 0)
    rc = tarn_error_sys(err, TARN_EIO, errno, "journal inbox: cannot sync %s", path);
  if (fd >= 0)
    close(fd);
  return rc;
}

int tarn_journal_inbox_put(const char *wal_dir, const tarn_journal_event *ev, size_t n,
                           tarn_error *err) {
  char dir[4096], tmp[4200], dst[4200], id[TARN_UUID_STR_LEN];
  int64_t now = tarn_clock_wall_us();
  tarn_buf b;
  tarn_uuid u;
  size_t i, off;
  int fd = -1, rc;
  if (snprintf(dir, sizeof(dir), "%s/" INBOX, wal_dir) >= (int)sizeof(dir))
    return tarn_error_set(err, TARN_EINVAL, "journal inbox: the WAL directory name is too long");
  for (i = 0; i < n; i++)
    if (ev[i].event_id == NULL || !ev[i].client_id)
      return tarn_error_set(err, TARN_EINVAL,
                            "journal inbox: event %zu has no event_id (taking it in twice "
                            "would store it twice)",
                            i + 1);
  rc = mkdir_p(dir, err);
  if (rc == 0)
    rc = tarn_uuid_v7(&u, err);
  if (rc != 0)
    return rc;
  tarn_uuid_format(&u, id); /* v7: names sort by time */
  snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, id);
  snprintf(dst, sizeof(dst), "%s/%s.ndjson", dir, id);
  tarn_buf_init(&b, INBOX_FILE_MAX);
  for (i = 0; rc == 0 && i < n; i++) {
    tarn_journal_event e = ev[i];
    if (e.ts_us == TARN_JOURNAL_TS_UNSET)
      e.ts_us = now;
    if (!e.has_source) {
      e.has_source = 1;
      e.source = TARN_JS_INGEST;
    }
    rc = tarn_journal_event_encode(&e, &b, err);
    if (rc == 0)
      rc = tarn_buf_append_byte(&b, '\n', err);
  }
  if (rc == 0) {
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
      rc = tarn_error_sys(err, tarn_code_from_errno(errno), errno,
                          "journal inbox: cannot create %s", tmp);
  }
  for (off = 0; rc == 0 && off < b.len;) {
    ssize_t w = write(fd, b.data + off, b.len - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      rc = tarn_error_sys(err, tarn_code_from_errno(errno), errno, "journal inbox: cannot write %s",
                          tmp);
    else
      off += (size_t)w;
  }
  if (rc == 0 && fsync(fd) != 0)
    rc = tarn_error_sys(err, TARN_EIO, errno, "journal inbox: cannot sync %s", tmp);
  if (fd >= 0)
    close(fd);
  if (rc == 0 && rename(tmp, dst) != 0)
    rc = tarn_error_sys(err, tarn_code_from_errno(errno), errno, "journal inbox: cannot rename %s",
                        tmp);
  if (rc == 0)
    rc = fsync_path(dir, err);
  if (rc != 0)
    unlink(tmp);
  tarn_buf_free(&b);
  return rc;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One inbox file's events appended (idempotently). TARN_ECORRUPT: a line that is not an
 * event (the file is set aside). */
static int take_file(tarn_journal *j, const char *path, size_t *taken, tarn_error *err) {
  FILE *f = fopen(path, "re");
  tarn_journal_event *ev = NULL;
  tarn_journal_ack *acks = NULL;
  size_t n = 0, cap = 0, line = 0, i;
  char *buf = NULL;
  size_t bcap = 0;
  ssize_t len;
  int rc = 0;
  if (f == NULL)
    return errno == ENOENT ? 0
                           : tarn_error_sys(err, tarn_code_from_errno(errno), errno,
                                            "journal inbox: cannot read %s", path);
  while (rc == 0 && (len = getline(&buf, &bcap, f)) > 0) {
    line++;
    if (len == 1 && buf[0] == '\n')
      continue;
    if (TARN_GROW(ev, cap, n + 1, 8) != 0)
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
    else if ((rc = tarn_journal_event_decode(buf, (size_t)len, 0, &ev[n], err)) == 0)
      n++;
    else
      tarn_error_prefix(err, "journal inbox: %s line %zu", path, line);
  }
  if (rc == 0 && ferror(f))
    rc = tarn_error_sys(err, TARN_EIO, errno, "journal inbox: cannot read %s", path);
  fclose(f);
  free(buf);
  if (rc == 0 && n > 0) {
    acks = tarn_calloc(n, sizeof(*acks));
    rc = acks == NULL ? tarn_error_set(err, TARN_ENOMEM, "out of memory")
                      : tarn_journal_append(j, ev, n, NULL, TARN_JS_INGEST, acks, err);
    for (i = 0; rc == 0 && i < n; i++)
      *taken += !acks[i].duplicate;
  }
  tarn_free(acks);
  tarn_journal_events_free(ev, n);
  return rc;
}

int tarn__journal_take_inbox(tarn_journal *j, const char *wal_dir, size_t *taken, tarn_error *err) {
  char dir[4096], path[4400];
  char **names = NULL;
  size_t n = 0, cap = 0, i;
  struct dirent *de;
  DIR *d;
  int rc = 0, dirty = 0;
  *taken = 0;
  snprintf(dir, sizeof(dir), "%s/" INBOX, wal_dir);
  d = opendir(dir);
  if (d == NULL)
    return errno == ENOENT ? 0
                           : tarn_error_sys(err, tarn_code_from_errno(errno), errno,
                                            "journal inbox: cannot list %s", dir);
  while (rc == 0 && (de = readdir(d)) != NULL) {
    size_t l = strlen(de->d_name);
    if (de->d_name[0] == '.' || l < 7 || strcmp(de->d_name + l - 7, ".ndjson") != 0)
      continue; /* temporary (being written), set aside, or not ours */
    if (TARN_GROW(names, cap, n + 1, 16) != 0 || (names[n] = tarn_strdup(de->d_name)) == NULL)
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
    else
      n++;
  }
  closedir(d);
  if (n > 0)
    qsort(names, n, sizeof(*names), by_name);
  for (i = 0; rc == 0 && i < n; i++) {
    snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
    rc = take_file(j, path, taken, err);
    if (rc == TARN_ECORRUPT || rc == TARN_EINVAL || rc == TARN_ECONFLICT) {
      /* never taken in as it is: set aside (kept, named in the log) */
      char bad[4500];
      snprintf(bad, sizeof(bad), "%s/.bad-%s", dir, names[i]);
      tarn_log_error("journal inbox file set aside", "file=%s error=%s", path,
                     tarn_error_message(err));
      if (rename(path, bad) == 0)
        dirty = 1;
      rc = 0;
    } else if (rc == 0) { /* durable in the WAL now */
      if (unlink(path) == 0)
        dirty = 1;
    }
  }
  if (dirty && fsync_path(dir, NULL) != 0)
    tarn_log_warn("journal inbox: cannot sync the directory", "dir=%s", dir);
  for (i = 0; i < n; i++)
    tarn_free(names[i]);
  tarn_free(names);
  return rc;
}
