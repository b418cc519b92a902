/* store.c - key validation and the tarn_store_* front functions every backend sits behind. */
#include "store/store.h"

#include <string.h>

#include "base/alloc.h"

/*
 * Length of the UTF-8 sequence starting at s[0] (at most `avail` bytes available), or 0
 * when it is malformed; *why names the broken rule. Enforces the shortest form (no
 * overlongs), no UTF-16 surrogates (U+D800-U+DFFF) and nothing above U+10FFFF, by
 * restricting the second byte's range per lead byte (RFC 3629, section 4).
 */
static size_t utf8_seq_len(const unsigned char *s, size_t avail, const char **why) {
  unsigned char c = s[0];
  unsigned char lo = 0x80, hi = 0xbf;
  size_t n, i;
  if (c < 0x80)
    return 1;
  if (c < 0xc2) {
    *why = c < 0xc0 ? "UTF-8 continuation byte without a lead byte" : "overlong UTF-8 encoding";
    return 0;
  }
  if (c < 0xe0) {
    n = 2;
  } else if (c < 0xf0) {
    n = 3;
    if (c == 0xe0)
      lo = 0xa0; /* below: overlong */
    else if (c == 0xed)
      hi = 0x9f; /* above: surrogates */
  } else if (c < 0xf5) {
    n = 4;
    if (c == 0xf0)
      lo = 0x90; /* below: overlong */
    else if (c == 0xf4)
      hi = 0x8f; /* above: past U+10FFFF */
  } else {
    *why = "UTF-8 lead byte beyond U+10FFFF";
    return 0;
  }
  if (avail < n) {
    *why = "truncated UTF-8 sequence";
    return 0;
  }
  if (s[1] < lo || s[1] > hi) {
    if (s[1] < 0x80 || s[1] > 0xbf)
      *why = "truncated UTF-8 sequence";
    else if (c == 0xed)
      *why = "UTF-16 surrogate encoded in UTF-8";
    else if (c == 0xf4)
      *why = "code point beyond U+10FFFF";
    else
      *why = "overlong UTF-8 encoding";
    return 0;
  }
  for (i = 2; i < n; i++) {
    if (s[i] < 0x80 || s[i] > 0xbf) {
      *why = "truncated UTF-8 sequence";
      return 0;
    }
  }
  return n;
}

#define TMP_MARK ".tarn-tmp-"
#define TMP_MARK_LEN (sizeof(TMP_MARK) - 1)

/*
 * Checks the complete segment key[start, end) against the per-segment rules. For a list
 * prefix (is_prefix) the reserved temp-name rule does not apply: it only narrows a listing,
 * which never shows temp files. A prefix's last segment may be cut anywhere, so callers
 * pass only segments that a '/' terminates.
 */
static int segment_check(const char *key, size_t start, size_t end, int is_prefix,
                         tarn_error *err) {
  size_t n = end - start;
  const char *seg = key + start;
  if (n == 0)
    return tarn_error_set(err, TARN_EBADKEY,
                          "invalid %s: empty path segment at byte offset %zu (\"//\"%s)",
                          is_prefix ? "prefix" : "key", start, is_prefix ? "" : " or trailing '/'");
  if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
    return tarn_error_set(err, TARN_EBADKEY,
                          "invalid %s: segment \"%.*s\" at byte offset %zu is not allowed",
                          is_prefix ? "prefix" : "key", (int)n, seg, start);
  if (!is_prefix && n >= TMP_MARK_LEN && memcmp(seg, TMP_MARK, TMP_MARK_LEN) == 0)
    return tarn_error_set(err, TARN_EBADKEY,
                          "invalid key: segment at byte offset %zu starts with the reserved "
                          "\"" TMP_MARK "\"",
                          start);
  return 0;
}

int tarn_store_key_check(const char *key, size_t len, tarn_error *err) {
  const unsigned char *s = (const unsigned char *)key;
  size_t i = 0, seg_start = 0, n;
  const char *why = NULL;
  int rc;
  if (key == NULL || len == 0)
    return tarn_error_set(err, TARN_EBADKEY, "invalid key: empty");
  if (len > TARN_STORE_KEY_MAX)
    return tarn_error_set(err, TARN_EBADKEY,
                          "invalid key: %zu bytes, longer than the %d-byte limit", len,
                          TARN_STORE_KEY_MAX);
  if (s[0] == '/')
    return tarn_error_set(err, TARN_EBADKEY, "invalid key: leading '/' at byte offset 0");
  while (i < len) {
    if (s[i] < 0x20 || s[i] == 0x7f)
      return tarn_error_set(err, TARN_EBADKEY,
                            "invalid key: control character 0x%02x at byte offset %zu", s[i], i);
    if (s[i] == '/') {
      rc = segment_check(key, seg_start, i, 0, err);
      if (rc != 0)
        return rc;
      seg_start = i + 1;
      i++;
      continue;
    }
    n = utf8_seq_len(s + i, len - i, &why);
    if (n == 0)
      return tarn_error_set(err, TARN_EBADKEY, "invalid key: %s at byte offset %zu (0x%02x)", why,
                            i, s[i]);
    i += n;
  }
  return segment_check(key, seg_start, len, 0, err);
}

/*
 * Prefixes are byte prefixes of keys, so they may end anywhere (mid-segment, after a
 * '/', even mid-UTF-8 sequence). What they must not do is name a path outside the store:
 * no leading '/', no complete "." or ".." segment, no empty segment, no control bytes.
 */
static int prefix_check(const char *prefix, tarn_error *err) {
  size_t len = strlen(prefix), i, seg_start = 0;
  int rc;
  if (len > TARN_STORE_KEY_MAX)
    return tarn_error_set(err, TARN_EBADKEY,
                          "invalid prefix: %zu bytes, longer than the %d-byte key limit", len,
                          TARN_STORE_KEY_MAX);
  if (prefix[0] == '/')
    return tarn_error_set(err, TARN_EBADKEY, "invalid prefix: leading '/' at byte offset 0");
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)prefix[i];
    if (c < 0x20 || c == 0x7f)
      return tarn_error_set(err, TARN_EBADKEY,
                            "invalid prefix: control character 0x%02x at byte offset %zu", c, i);
    if (c == '/') {
      rc = segment_check(prefix, seg_start, i, 1, err);
      if (rc != 0)
        return rc;
      seg_start = i + 1;
    }
  }
  return 0;
}

/* tarn_store_key_check for a NUL-terminated key (NULL is a bad key, not a crash). */
static int key_check_str(const char *key, tarn_error *err) {
  if (key == NULL)
    return tarn_error_set(err, TARN_EBADKEY, "invalid key: NULL");
  return tarn_store_key_check(key, strlen(key), err);
}

int tarn_store_writer_open(tarn_store *st, const char *key, unsigned flags, tarn_store_writer **out,
                           tarn_error *err) {
  int rc;
  *out = NULL;
  if (flags & ~TARN_STORE_IF_ABSENT)
    return tarn_error_set(err, TARN_EINVAL, "put of '%s': unknown flags 0x%x", key ? key : "",
                          flags);
  rc = key_check_str(key, err);
  if (rc != 0)
    return rc;
  return st->ops->writer_open(st, key, flags, out, err);
}

int tarn_store_writer_write(tarn_store_writer *w, const void *p, size_t n, tarn_error *err) {
  int rc;
  if (w == NULL)
    return tarn_error_set(err, TARN_EINVAL, "write to a NULL store writer");
  if (n == 0)
    return 0;
  rc = w->ops->write(w, p, n, err);
  if (rc == 0)
    w->written += n;
  return rc;
}

int tarn_store_writer_commit(tarn_store_writer *w, tarn_error *err) {
  if (w == NULL)
    return tarn_error_set(err, TARN_EINVAL, "commit of a NULL store writer");
  return w->ops->commit(w, err);
}

void tarn_store_writer_abort(tarn_store_writer *w) {
  if (w != NULL)
    w->ops->abort(w);
}

int tarn_store_put(tarn_store *st, const char *key, const void *p, size_t n, unsigned flags,
                   tarn_error *err) {
  tarn_store_writer *w = NULL;
  int rc;
  rc = tarn_store_writer_open(st, key, flags, &w, err);
  if (rc != 0)
    return rc;
  rc = tarn_store_writer_write(w, p, n, err);
  if (rc != 0) {
    tarn_store_writer_abort(w);
    return rc;
  }
  return tarn_store_writer_commit(w, err); /* frees w, also on failure */
}

int tarn_store_get(tarn_store *st, const char *key, tarn_buf *out, tarn_error *err) {
  int rc = key_check_str(key, err);
  if (rc != 0)
    return rc;
  return st->ops->get(st, key, out, err);
}

int tarn_store_get_range(tarn_store *st, const char *key, uint64_t off, uint64_t len, tarn_buf *out,
                         tarn_error *err) {
  int rc = key_check_str(key, err);
  if (rc != 0)
    return rc;
  return st->ops->get_range(st, key, off, len, out, err);
}

int tarn_store_reader_open(tarn_store *st, const char *key, tarn_store_reader **out,
                           tarn_error *err) {
  int rc = key_check_str(key, err);
  *out = NULL;
  if (rc != 0)
    return rc;
  return st->ops->reader_open(st, key, out, err);
}

int tarn_store_reader_read(tarn_store_reader *r, uint64_t off, uint64_t len, tarn_buf *out,
                           tarn_error *err) {
  return r->ops->read_at(r, off, len, out, err);
}

void tarn_store_reader_close(tarn_store_reader *r) {
  if (r != NULL)
    r->ops->close(r);
}

int tarn_store_head(tarn_store *st, const char *key, tarn_store_stat *out, tarn_error *err) {
  int rc = key_check_str(key, err);
  if (rc != 0)
    return rc;
  return st->ops->head(st, key, out, err);
}

/*
 * `out` must have been initialised; its previous page is released only once the backend
 * succeeded, so `start_after` may point at out->next_after. On failure out is unchanged.
 */
int tarn_store_list(tarn_store *st, const char *prefix, const char *start_after, size_t max_keys,
                    tarn_store_listing *out, tarn_error *err) {
  tarn_store_listing page;
  int rc;
  if (prefix == NULL)
    prefix = "";
  rc = prefix_check(prefix, err);
  if (rc != 0)
    return rc;
  if (max_keys == 0)
    max_keys = 1000;
  tarn_store_list_init(&page);
  rc = st->ops->list(st, prefix, start_after, max_keys, &page, err);
  if (rc != 0) {
    tarn_store_list_free(&page);
    return rc;
  }
  tarn_store_list_free(out);
  *out = page;
  return 0;
}

int tarn_store_delete(tarn_store *st, const char *key, tarn_error *err) {
  int rc = key_check_str(key, err);
  if (rc != 0)
    return rc;
  return st->ops->del(st, key, err);
}

int tarn_store_sweep(tarn_store *st, const char *prefix, int64_t before_ms, int dry_run,
                     tarn_store_temp_fn each, void *arg, size_t *count, tarn_error *err) {
  int rc;
  if (count != NULL)
    *count = 0;
  if (prefix == NULL)
    prefix = "";
  rc = prefix_check(prefix, err);
  if (rc != 0 || st->ops->sweep == NULL)
    return rc;
  return st->ops->sweep(st, prefix, before_ms, dry_run, each, arg, count, err);
}

void tarn_store_destroy(tarn_store *st) {
  if (st != NULL)
    st->ops->destroy(st);
}

void tarn_store_list_init(tarn_store_listing *l) { memset(l, 0, sizeof(*l)); }

void tarn_store_list_free(tarn_store_listing *l) {
  size_t i;
  if (l == NULL)
    return;
  for (i = 0; i < l->count; i++)
    tarn_free(l->entries[i].key);
  tarn_free(l->entries);
  tarn_free(l->next_after);
  tarn_store_list_init(l);
}

/* Copies key; on failure the list is unchanged. */
int tarn_store_list_push(tarn_store_listing *l, const char *key, uint64_t size, int64_t mtime_us,
                         tarn_error *err) {
  tarn_store_entry *e;
  char *k;
  if (TARN_GROW(l->entries, l->cap, l->count + 1, 16) != 0)
    return tarn_error_set(err, TARN_ENOMEM, "listing: cannot grow past %zu entries", l->cap);
  k = tarn_strdup(key);
  if (k == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "listing: cannot copy key '%s'", key);
  e = &l->entries[l->count++];
  e->key = k;
  e->size = size;
  e->mtime_us = mtime_us;
  return 0;
}
