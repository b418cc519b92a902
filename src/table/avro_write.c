/* avro_write.c - Avro binary encoding of values and the object container file writer. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "table/avro_int.h"

static const uint8_t avro_magic[4] = {'O', 'b', 'j', 1};

const char *tarn_avro_codec_name(tarn_avro_codec c) {
  switch (c) {
  case TARN_AVRO_CODEC_NULL: return "null";
  case TARN_AVRO_CODEC_DEFLATE: return "deflate";
  case TARN_AVRO_CODEC_SNAPPY: return "snappy";
  case TARN_AVRO_CODEC_ZSTD: return "zstandard";
  }
  return "unknown";
}

/* ---- errors naming the field path ---- */

static int path_fail(const tarn__avro_path *path, tarn_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int path_fail(const tarn__avro_path *path, tarn_error *err, int code, const char *fmt, ...) {
  char where[200], msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  tarn__avro_path_render(path, where, sizeof(where));
  return tarn_error_set(err, code, "avro: %s%s%s", where, where[0] ? ": " : "", msg);
}

static void path_push_name(tarn__avro_path *p, const char *name, size_t len, int is_key) {
  tarn__avro_seg *s = &p->seg[p->depth++];
  s->name = name;
  s->name_len = len;
  s->is_key = is_key;
  s->index = 0;
}

static void path_push_index(tarn__avro_path *p, uint64_t i) {
  tarn__avro_seg *s = &p->seg[p->depth++];
  s->name = NULL;
  s->name_len = 0;
  s->is_key = 0;
  s->index = i;
}

/* ---- JSON defaults ---- */

static int put_byte(tarn_buf *b, uint8_t c, tarn_error *err) {
  return tarn_buf_append_byte(b, c, err);
}

static int put_float(tarn_buf *b, float f, tarn_error *err) {
  uint32_t u;
  uint8_t le[4];
  int i;
  memcpy(&u, &f, sizeof(u));
  for (i = 0; i < 4; i++)
    le[i] = (uint8_t)(u >> (8 * i));
  return tarn_buf_append(b, le, 4, err);
}

static int put_double(tarn_buf *b, double d, tarn_error *err) {
  uint64_t u;
  uint8_t le[8];
  int i;
  memcpy(&u, &d, sizeof(u));
  for (i = 0; i < 8; i++)
    le[i] = (uint8_t)(u >> (8 * i));
  return tarn_buf_append(b, le, 8, err);
}

/* A JSON string of code points 0-255 as bytes (Avro's JSON form of bytes and fixed). */
static int json_latin1(tarn_buf *b, const json_t *j, size_t want, const tarn__avro_path *path,
                       tarn_error *err) {
  const uint8_t *s = (const uint8_t *)json_string_value(j);
  size_t n = json_string_length(j), i = 0, count = 0;
  int rc;
  while (i < n) {
    uint32_t cp;
    if (s[i] < 0x80) {
      cp = s[i++];
    } else if ((s[i] & 0xe0) == 0xc0 && i + 1 < n) {
      cp = ((uint32_t)(s[i] & 0x1f) << 6) | (s[i + 1] & 0x3f);
      i += 2;
    } else {
      cp = 0x100;
    }
    if (cp > 0xff)
      return path_fail(path, err, TARN_EINVAL, "bytes default holds a code point above U+00FF");
    if ((rc = put_byte(b, (uint8_t)cp, err)) != 0)
      return rc;
    count++;
  }
  if (want != SIZE_MAX && count != want)
    return path_fail(path, err, TARN_EINVAL, "fixed default has %zu bytes, not %zu", count, want);
  return 0;
}

int tarn__avro_encode_json(tarn_buf *b, const tarn_avro_node *n, const json_t *j, int depth,
                           tarn__avro_path *path, tarn_error *err) {
  size_t i;
  int rc;
  if (depth > TARN_AVRO_MAX_DEPTH)
    return path_fail(path, err, TARN_EINVAL, "default nested deeper than %d", TARN_AVRO_MAX_DEPTH);
  switch (n->type) {
  case TARN_AVRO_NULL:
    if (!json_is_null(j))
      break;
    return 0;
  case TARN_AVRO_BOOLEAN:
    if (!json_is_boolean(j))
      break;
    return put_byte(b, json_is_true(j) ? 1 : 0, err);
  case TARN_AVRO_INT:
    if (!json_is_integer(j) || json_integer_value(j) < INT32_MIN ||
        json_integer_value(j) > INT32_MAX)
      break;
    return tarn__avro_buf_long(b, json_integer_value(j), err);
  case TARN_AVRO_LONG:
    if (!json_is_integer(j))
      break;
    return tarn__avro_buf_long(b, json_integer_value(j), err);
  case TARN_AVRO_FLOAT:
    if (!json_is_number(j))
      break;
    return put_float(b, (float)json_number_value(j), err);
  case TARN_AVRO_DOUBLE:
    if (!json_is_number(j))
      break;
    return put_double(b, json_number_value(j), err);
  case TARN_AVRO_BYTES:
  case TARN_AVRO_FIXED:
    if (!json_is_string(j))
      break;
    if (n->type == TARN_AVRO_FIXED)
      return json_latin1(b, j, n->size, path, err);
    {
      /* Length first: encode into the buffer, then move the bytes behind their length. */
      tarn_buf tmp;
      tarn_buf_init(&tmp, TARN_AVRO_MAX_BLOCK_BYTES);
      rc = json_latin1(&tmp, j, SIZE_MAX, path, err);
      if (rc == 0)
        rc = tarn__avro_buf_lenbytes(b, tmp.data, tmp.len, err);
      tarn_buf_free(&tmp);
      return rc;
    }
  case TARN_AVRO_STRING:
    if (!json_is_string(j))
      break;
    return tarn__avro_buf_lenbytes(b, json_string_value(j), json_string_length(j), err);
  case TARN_AVRO_ENUM:
    if (!json_is_string(j))
      break;
    for (i = 0; i < n->nsymbols; i++)
      if (strcmp(n->symbols[i], json_string_value(j)) == 0)
        return tarn__avro_buf_long(b, (int64_t)i, err);
    return path_fail(path, err, TARN_EINVAL, "default '%s' is no symbol of enum '%s'",
                     json_string_value(j), n->fullname);
  case TARN_AVRO_ARRAY:
    if (!json_is_array(j))
      break;
    if (json_array_size(j) > 0) {
      if ((rc = tarn__avro_buf_long(b, (int64_t)json_array_size(j), err)) != 0)
        return rc;
      for (i = 0; i < json_array_size(j); i++) {
        path_push_index(path, i);
        rc = tarn__avro_encode_json(b, n->items, json_array_get(j, i), depth + 1, path, err);
        path->depth--;
        if (rc != 0)
          return rc;
      }
    }
    return put_byte(b, 0, err);
  case TARN_AVRO_MAP: {
    const char *key;
    json_t *val;
    if (!json_is_object(j))
      break;
    if (json_object_size(j) > 0) {
      if ((rc = tarn__avro_buf_long(b, (int64_t)json_object_size(j), err)) != 0)
        return rc;
      json_object_foreach((json_t *)j, key, val) {
        if ((rc = tarn__avro_buf_lenbytes(b, key, strlen(key), err)) != 0)
          return rc;
        path_push_name(path, key, strlen(key), 1);
        rc = tarn__avro_encode_json(b, n->items, val, depth + 1, path, err);
        path->depth--;
        if (rc != 0)
          return rc;
      }
    }
    return put_byte(b, 0, err);
  }
  case TARN_AVRO_RECORD:
    if (!json_is_object(j))
      break;
    for (i = 0; i < n->nfields; i++) {
      const tarn_avro_field *f = &n->fields[i];
      const json_t *fv = json_object_get(j, f->name);
      if (fv == NULL)
        fv = f->default_value;
      path_push_name(path, f->name, strlen(f->name), 0);
      rc = fv == NULL ? path_fail(path, err, TARN_EINVAL, "default gives no value for this field")
                      : tarn__avro_encode_json(b, f->type, fv, depth + 1, path, err);
      path->depth--;
      if (rc != 0)
        return rc;
    }
    return 0;
  case TARN_AVRO_UNION:
    /* Avro 1.11: a union's default belongs to its first branch. */
    if ((rc = put_byte(b, 0, err)) != 0)
      return rc;
    return tarn__avro_encode_json(b, n->branches[0], j, depth + 1, path, err);
  default: break;
  }
  return path_fail(path, err, TARN_EINVAL, "default does not match type %s",
                   tarn_avro_type_name(n->type));
}

/* ---- values ---- */

typedef struct enc {
  tarn_buf *b;
  tarn__avro_path path;
  tarn_error *err;
} enc;

/* The union branch a value goes to, -1 if none fits. */
static long pick_branch(const tarn_avro_node *u, const tarn_avro_value *v) {
  size_t i;
  if (v->has_branch)
    return v->branch < u->nbranches ? (long)v->branch : -1;
  if (v->type == TARN_AVRO_NULL)
    return u->null_branch;
  if (v->type == TARN_AVRO_RECORD && v->node != NULL)
    for (i = 0; i < u->nbranches; i++)
      if (u->branches[i] == v->node)
        return (long)i;
  for (i = 0; i < u->nbranches; i++) {
    const tarn_avro_node *b = u->branches[i];
    if (b->type != v->type)
      continue;
    if (b->type == TARN_AVRO_FIXED && b->size != v->u.bytes.len)
      continue;
    if (b->type == TARN_AVRO_RECORD && b->nfields != v->u.record.count)
      continue;
    return (long)i;
  }
  return -1;
}

static int encode(enc *e, const tarn_avro_node *n, const tarn_avro_value *v, int depth) {
  size_t i;
  int rc;
  if (depth > TARN_AVRO_MAX_DEPTH)
    return path_fail(&e->path, e->err, TARN_EINVAL, "value nested deeper than %d",
                     TARN_AVRO_MAX_DEPTH);
  if (v->type == TARN_AVRO_INVALID)
    return path_fail(&e->path, e->err, TARN_ENOMEM,
                     "value could not be built (an allocation failed or a NULL was given)");
  if (v->type == TARN_AVRO_UNSET)
    return path_fail(&e->path, e->err, TARN_EINVAL, "value not set");
  if (n->type == TARN_AVRO_UNION) {
    long br = pick_branch(n, v);
    if (br < 0 && v->has_branch)
      return path_fail(&e->path, e->err, TARN_EINVAL, "union branch %u is out of range",
                       (unsigned)v->branch);
    if (br < 0)
      return path_fail(&e->path, e->err, TARN_EINVAL, "no branch of the union takes type %s",
                       tarn_avro_type_name((tarn_avro_type)v->type));
    if ((rc = tarn__avro_buf_long(e->b, br, e->err)) != 0)
      return rc;
    n = n->branches[br];
  }
  if (v->type != n->type)
    return path_fail(&e->path, e->err, TARN_EINVAL, "expected %s, got %s",
                     tarn_avro_type_name(n->type), tarn_avro_type_name((tarn_avro_type)v->type));
  switch (n->type) {
  case TARN_AVRO_NULL: return 0;
  case TARN_AVRO_BOOLEAN: return put_byte(e->b, v->u.b ? 1 : 0, e->err);
  case TARN_AVRO_INT: return tarn__avro_buf_long(e->b, v->u.i, e->err);
  case TARN_AVRO_LONG: return tarn__avro_buf_long(e->b, v->u.l, e->err);
  case TARN_AVRO_FLOAT: return put_float(e->b, v->u.f, e->err);
  case TARN_AVRO_DOUBLE: return put_double(e->b, v->u.d, e->err);
  case TARN_AVRO_STRING:
    if (!tarn__avro_utf8_ok((const uint8_t *)v->u.str.p, v->u.str.len))
      return path_fail(&e->path, e->err, TARN_EINVAL, "string is not valid UTF-8");
    return tarn__avro_buf_lenbytes(e->b, v->u.str.p, v->u.str.len, e->err);
  case TARN_AVRO_BYTES: return tarn__avro_buf_lenbytes(e->b, v->u.bytes.p, v->u.bytes.len, e->err);
  case TARN_AVRO_FIXED:
    if (v->u.bytes.len != n->size)
      return path_fail(&e->path, e->err, TARN_EINVAL, "fixed '%s' takes %zu bytes, got %zu",
                       n->fullname, n->size, v->u.bytes.len);
    return n->size ? tarn_buf_append(e->b, v->u.bytes.p, n->size, e->err) : 0;
  case TARN_AVRO_ENUM:
    if (v->u.i < 0 || (size_t)v->u.i >= n->nsymbols)
      return path_fail(&e->path, e->err, TARN_EINVAL, "enum '%s' has no symbol %d", n->fullname,
                       (int)v->u.i);
    return tarn__avro_buf_long(e->b, v->u.i, e->err);
  case TARN_AVRO_ARRAY:
    /* One block with a positive count, then the terminating empty block. */
    if (v->u.array.count > 0) {
      if ((rc = tarn__avro_buf_long(e->b, (int64_t)v->u.array.count, e->err)) != 0)
        return rc;
      for (i = 0; i < v->u.array.count; i++) {
        path_push_index(&e->path, i);
        rc = encode(e, n->items, &v->u.array.items[i], depth + 1);
        e->path.depth--;
        if (rc != 0)
          return rc;
      }
    }
    return put_byte(e->b, 0, e->err);
  case TARN_AVRO_MAP:
    if (v->u.map.count > 0) {
      if ((rc = tarn__avro_buf_long(e->b, (int64_t)v->u.map.count, e->err)) != 0)
        return rc;
      for (i = 0; i < v->u.map.count; i++) {
        const tarn_avro_kv *kv = &v->u.map.entries[i];
        if (kv->key == NULL && kv->key_len > 0)
          return path_fail(&e->path, e->err, TARN_EINVAL, "map key %zu is NULL", i);
        path_push_name(&e->path, kv->key ? kv->key : "", kv->key_len, 1);
        if (!tarn__avro_utf8_ok((const uint8_t *)kv->key, kv->key_len))
          rc = path_fail(&e->path, e->err, TARN_EINVAL, "map key is not valid UTF-8");
        else if ((rc = tarn__avro_buf_lenbytes(e->b, kv->key, kv->key_len, e->err)) == 0)
          rc = encode(e, n->items, &kv->value, depth + 1);
        e->path.depth--;
        if (rc != 0)
          return rc;
      }
    }
    return put_byte(e->b, 0, e->err);
  case TARN_AVRO_RECORD:
    if (v->bad_set)
      return path_fail(&e->path, e->err, TARN_EINVAL,
                       "a tarn_avro_set on this record named a field record '%s' does not have",
                       n->fullname);
    if (v->u.record.count != n->nfields)
      return path_fail(&e->path, e->err, TARN_EINVAL,
                       "record value has %zu fields, record '%s' has %zu", v->u.record.count,
                       n->fullname, n->nfields);
    for (i = 0; i < n->nfields; i++) {
      const tarn_avro_field *f = &n->fields[i];
      const tarn_avro_value *fv = &v->u.record.fields[i];
      path_push_name(&e->path, f->name, strlen(f->name), 0);
      if (fv->type != TARN_AVRO_UNSET)
        rc = encode(e, f->type, fv, depth + 1);
      else if (f->default_value != NULL)
        rc = tarn__avro_encode_json(e->b, f->type, f->default_value, depth + 1, &e->path, e->err);
      else
        rc = path_fail(&e->path, e->err, TARN_EINVAL, "field not set and it has no default");
      e->path.depth--;
      if (rc != 0)
        return rc;
    }
    return 0;
  default:
    return path_fail(&e->path, e->err, TARN_EINTERNAL, "cannot encode type %s",
                     tarn_avro_type_name(n->type));
  }
}

/* ---- the container file writer ---- */

typedef struct meta_entry {
  char *key;
  uint8_t *val;
  size_t len;
} meta_entry;

/* Where the file goes: the caller's buffer or a store object. */
typedef struct sink_ops {
  int (*write)(tarn_avro_writer *w, const void *p, size_t n, tarn_error *err);
  int (*commit)(tarn_avro_writer *w, tarn_error *err);
  void (*abort)(tarn_avro_writer *w);
} sink_ops;

struct tarn_avro_writer {
  const tarn_avro_schema *schema;
  const tarn_avro_node *root;
  tarn_avro_codec codec;
  int level;
  size_t block_bytes;
  uint8_t sync[16];
  const sink_ops *ops;
  tarn_buf *out; /* buffer sink */
  size_t out_start;
  tarn_store_writer *sw; /* store sink */
  meta_entry *meta;
  size_t nmeta, meta_cap;
  tarn_buf blk;  /* the records of the block being filled */
  tarn_buf cbuf; /* the compressed block, and the header */
  uint64_t blk_count, count, written;
  int header_done;
  int sticky; /* a failed write or compression: the file is lost */
  tarn_error sticky_err;
  z_stream *zs;
  ZSTD_CCtx *zc;
};

static int buf_write(tarn_avro_writer *w, const void *p, size_t n, tarn_error *err) {
  return tarn_buf_append(w->out, p, n, err);
}
static int buf_commit(tarn_avro_writer *w, tarn_error *err) { return 0; }
static void buf_abort(tarn_avro_writer *w) {
  w->out->len = w->out_start;
  if (w->out->data != NULL)
    w->out->data[w->out_start] = '\0';
}
static const sink_ops buf_sink = {buf_write, buf_commit, buf_abort};

static int store_write(tarn_avro_writer *w, const void *p, size_t n, tarn_error *err) {
  return tarn_store_writer_write(w->sw, p, n, err);
}
static int store_commit(tarn_avro_writer *w, tarn_error *err) {
  tarn_store_writer *sw = w->sw;
  w->sw = NULL; /* commit frees it, also on failure */
  return tarn_store_writer_commit(sw, err);
}
static void store_abort(tarn_avro_writer *w) {
  tarn_store_writer_abort(w->sw);
  w->sw = NULL;
}
static const sink_ops store_sink = {store_write, store_commit, store_abort};

static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
  (void)opaque;
  return tarn_calloc(items, size);
}
static void z_free(voidpf opaque, voidpf p) {
  (void)opaque;
  tarn_free(p);
}

static void writer_free(tarn_avro_writer *w) {
  size_t i;
  for (i = 0; i < w->nmeta; i++) {
    tarn_free(w->meta[i].key);
    tarn_free(w->meta[i].val);
  }
  tarn_free(w->meta);
  tarn_buf_free(&w->blk);
  tarn_buf_free(&w->cbuf);
  if (w->zs != NULL) {
    deflateEnd(w->zs);
    tarn_free(w->zs);
  }
  ZSTD_freeCCtx(w->zc);
  tarn_free(w);
}

static int writer_new(const tarn_avro_schema *s, const tarn_avro_writer_options *o,
                      tarn_avro_writer **out, tarn_error *err) {
  tarn_avro_writer *w;
  const tarn_avro_node *root;
  int rc;
  if (s == NULL)
    return tarn_error_set(err, TARN_EINVAL, "avro writer: no schema");
  root = tarn_avro_schema_root(s);
  if (root->type != TARN_AVRO_RECORD)
    return tarn_error_set(err, TARN_EINVAL,
                          "avro writer: the schema's root must be a record, not %s",
                          tarn_avro_type_name(root->type));
  if (o != NULL && (o->codec < TARN_AVRO_CODEC_NULL || o->codec > TARN_AVRO_CODEC_ZSTD))
    return tarn_error_set(err, TARN_EINVAL, "avro writer: unknown codec %d", (int)o->codec);
  w = tarn_calloc(1, sizeof(*w));
  if (w == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "avro writer: out of memory");
  w->schema = s;
  w->root = root;
  if (o != NULL) {
    w->codec = o->codec;
    w->level = o->level;
    w->block_bytes = o->block_bytes;
  }
  if (w->block_bytes == 0)
    w->block_bytes = 64u << 10;
  if (w->block_bytes > TARN_AVRO_MAX_BLOCK_BYTES)
    w->block_bytes = TARN_AVRO_MAX_BLOCK_BYTES;
  /* A block is written once it reaches block_bytes; one record may take it up to the
   * hard cap, which is also what readers accept by default. */
  tarn_buf_init(&w->blk, TARN_AVRO_MAX_BLOCK_BYTES);
  tarn_buf_init(&w->cbuf, TARN_BUF_UNLIMITED);
  if (o != NULL && o->sync != NULL) {
    memcpy(w->sync, o->sync, sizeof(w->sync));
  } else if ((rc = tarn_random_bytes(w->sync, sizeof(w->sync), err)) != 0) {
    writer_free(w);
    return rc;
  }
  *out = w;
  return 0;
}

int tarn_avro_writer_open_buf(const tarn_avro_schema *s, const tarn_avro_writer_options *o,
                              tarn_buf *out, tarn_avro_writer **wp, tarn_error *err) {
  tarn_avro_writer *w = NULL;
  int rc;
  if (out == NULL)
    return tarn_error_set(err, TARN_EINVAL, "avro writer: no output buffer");
  if ((rc = writer_new(s, o, &w, err)) != 0)
    return rc;
  w->ops = &buf_sink;
  w->out = out;
  w->out_start = out->len;
  *wp = w;
  return 0;
}

int tarn_avro_writer_open_store(const tarn_avro_schema *s, const tarn_avro_writer_options *o,
                                tarn_store *st, const char *key, unsigned store_flags,
                                tarn_avro_writer **wp, tarn_error *err) {
  tarn_avro_writer *w = NULL;
  int rc;
  if ((rc = writer_new(s, o, &w, err)) != 0)
    return rc;
  if ((rc = tarn_store_writer_open(st, key, store_flags, &w->sw, err)) != 0) {
    writer_free(w);
    return rc;
  }
  w->ops = &store_sink;
  *wp = w;
  return 0;
}

int tarn_avro_writer_set_meta(tarn_avro_writer *w, const char *key, const void *val, size_t len,
                              tarn_error *err) {
  meta_entry *m;
  uint8_t *copy;
  size_t i;
  if (key == NULL || key[0] == '\0' || (val == NULL && len > 0))
    return tarn_error_set(err, TARN_EINVAL, "avro writer: metadata needs a key and a value");
  if (strncmp(key, "avro.", 5) == 0)
    return tarn_error_set(err, TARN_EINVAL, "avro writer: metadata key '%s' is reserved", key);
  if (!tarn__avro_utf8_ok((const uint8_t *)key, strlen(key)))
    return tarn_error_set(err, TARN_EINVAL, "avro writer: metadata key is not valid UTF-8");
  if (w->count > 0 || w->header_done)
    return tarn_error_set(err, TARN_EINVAL, "avro writer: metadata '%s' set after the first record",
                          key);
  copy = tarn_malloc(len ? len : 1);
  if (copy == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "avro writer: out of memory");
  if (len)
    memcpy(copy, val, len);
  for (i = 0; i < w->nmeta; i++) {
    if (strcmp(w->meta[i].key, key) == 0) {
      tarn_free(w->meta[i].val);
      w->meta[i].val = copy;
      w->meta[i].len = len;
      return 0;
    }
  }
  if (TARN_GROW(w->meta, w->meta_cap, w->nmeta + 1, 8) != 0) {
    tarn_free(copy);
    return tarn_error_set(err, TARN_ENOMEM, "avro writer: out of memory");
  }
  m = &w->meta[w->nmeta];
  m->key = tarn_strdup(key);
  if (m->key == NULL) {
    tarn_free(copy);
    return tarn_error_set(err, TARN_ENOMEM, "avro writer: out of memory");
  }
  m->val = copy;
  m->len = len;
  w->nmeta++;
  return 0;
}

int tarn_avro_writer_set_meta_str(tarn_avro_writer *w, const char *key, const char *val,
                                  tarn_error *err) {
  if (val == NULL)
    return tarn_error_set(err, TARN_EINVAL, "avro writer: metadata '%s' has no value",
                          key ? key : "");
  return tarn_avro_writer_set_meta(w, key, val, strlen(val), err);
}

uint64_t tarn_avro_writer_count(const tarn_avro_writer *w) { return w->count; }

/* Records a failure that loses the file; every later call returns it. */
static int set_sticky(tarn_avro_writer *w, int rc, const tarn_error *err) {
  w->sticky = rc;
  if (err != NULL)
    w->sticky_err = *err;
  else
    tarn_error_set(&w->sticky_err, rc, "avro writer: %s", tarn_strerror(rc));
  return rc;
}

static int sink_write(tarn_avro_writer *w, const void *p, size_t n, tarn_error *err) {
  int rc = w->ops->write(w, p, n, err);
  if (rc == 0)
    w->written += n;
  return rc;
}

static int write_header(tarn_avro_writer *w, tarn_error *err) {
  tarn_buf *h = &w->cbuf;
  const char *codec = tarn_avro_codec_name(w->codec);
  size_t text_len, i;
  const char *text = tarn_avro_schema_text(w->schema, &text_len);
  int rc;
  tarn_buf_reset(h);
  /* The metadata map as one block: avro.schema, avro.codec (always written: some readers
   * refuse a file without it), then the caller's entries in the order they were set. */
  if ((rc = tarn_buf_append(h, avro_magic, sizeof(avro_magic), err)) != 0 ||
      (rc = tarn__avro_buf_long(h, (int64_t)(2 + w->nmeta), err)) != 0 ||
      (rc = tarn__avro_buf_lenbytes(h, "avro.schema", 11, err)) != 0 ||
      (rc = tarn__avro_buf_lenbytes(h, text, text_len, err)) != 0 ||
      (rc = tarn__avro_buf_lenbytes(h, "avro.codec", 10, err)) != 0 ||
      (rc = tarn__avro_buf_lenbytes(h, codec, strlen(codec), err)) != 0)
    return rc;
  for (i = 0; i < w->nmeta; i++)
    if ((rc = tarn__avro_buf_lenbytes(h, w->meta[i].key, strlen(w->meta[i].key), err)) != 0 ||
        (rc = tarn__avro_buf_lenbytes(h, w->meta[i].val, w->meta[i].len, err)) != 0)
      return rc;
  if ((rc = put_byte(h, 0, err)) != 0 || (rc = tarn_buf_append(h, w->sync, 16, err)) != 0)
    return rc;
  if ((rc = sink_write(w, h->data, h->len, err)) != 0)
    return rc;
  w->header_done = 1;
  return 0;
}

/* Compresses blk into cbuf; *data and *len get what goes into the file. */
static int compress_block(tarn_avro_writer *w, const uint8_t **data, size_t *len, tarn_error *err) {
  const tarn_buf *in = &w->blk;
  tarn_buf *out = &w->cbuf;
  int rc;
  tarn_buf_reset(out);
  switch (w->codec) {
  case TARN_AVRO_CODEC_NULL:
    *data = (const uint8_t *)in->data;
    *len = in->len;
    return 0;
  case TARN_AVRO_CODEC_DEFLATE: {
    uLong bound;
    int zr;
    if (w->zs == NULL) {
      w->zs = tarn_calloc(1, sizeof(*w->zs));
      if (w->zs == NULL)
        return tarn_error_set(err, TARN_ENOMEM, "avro writer: out of memory");
      w->zs->zalloc = z_alloc;
      w->zs->zfree = z_free;
      /* windowBits -15: raw deflate, no zlib header or checksum (Avro's "deflate"). */
      if (deflateInit2(w->zs, w->level ? w->level : Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
                       Z_DEFAULT_STRATEGY) != Z_OK) {
        tarn_free(w->zs);
        w->zs = NULL;
        return tarn_error_set(err, TARN_ENOMEM, "avro writer: deflateInit2 failed");
      }
    } else if (deflateReset(w->zs) != Z_OK) {
      return tarn_error_set(err, TARN_EINTERNAL, "avro writer: deflateReset failed");
    }
    bound = deflateBound(w->zs, (uLong)in->len);
    if ((rc = tarn_buf_reserve(out, bound, err)) != 0)
      return rc;
    w->zs->next_in = (Bytef *)in->data;
    w->zs->avail_in = (uInt)in->len;
    w->zs->next_out = (Bytef *)out->data;
    w->zs->avail_out = (uInt)bound;
    zr = deflate(w->zs, Z_FINISH);
    if (zr != Z_STREAM_END)
      return tarn_error_set(err, TARN_EINTERNAL, "avro writer: deflate failed (%d)", zr);
    out->len = bound - w->zs->avail_out;
    break;
  }
  case TARN_AVRO_CODEC_SNAPPY: {
    size_t bound = snappy_max_compressed_length(in->len), clen;
    uint32_t crc;
    if ((rc = tarn_buf_reserve(out, bound + 4, err)) != 0)
      return rc;
    clen = bound;
    if (snappy_compress(in->data, in->len, out->data, &clen) != SNAPPY_OK)
      return tarn_error_set(err, TARN_EINTERNAL, "avro writer: snappy_compress failed");
    /* Avro's snappy blocks end with the big-endian CRC-32 of the uncompressed data. */
    crc = (uint32_t)crc32(0L, (const Bytef *)in->data, (uInt)in->len);
    out->data[clen] = (char)(crc >> 24);
    out->data[clen + 1] = (char)(crc >> 16);
    out->data[clen + 2] = (char)(crc >> 8);
    out->data[clen + 3] = (char)crc;
    out->len = clen + 4;
    break;
  }
  case TARN_AVRO_CODEC_ZSTD: {
    size_t bound = ZSTD_compressBound(in->len), r;
    /* zstd's custom allocator API is experimental (static linking only), so its contexts
     * come from its own allocator. */
    if (w->zc == NULL && (w->zc = ZSTD_createCCtx()) == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "avro writer: out of memory (zstd)");
    if ((rc = tarn_buf_reserve(out, bound, err)) != 0)
      return rc;
    r = ZSTD_compressCCtx(w->zc, out->data, bound, in->data, in->len,
                          w->level ? w->level : ZSTD_CLEVEL_DEFAULT);
    if (ZSTD_isError(r))
      return tarn_error_set(err, TARN_EINTERNAL, "avro writer: zstd: %s", ZSTD_getErrorName(r));
    out->len = r;
    break;
  }
  }
  *data = (const uint8_t *)out->data;
  *len = out->len;
  return 0;
}

static int flush_block(tarn_avro_writer *w, tarn_error *err) {
  uint8_t hdr[2 * TARN__AVRO_VARINT_MAX];
  const uint8_t *data = NULL;
  size_t len = 0, k;
  int rc;
  if (!w->header_done && (rc = write_header(w, err)) != 0)
    return rc;
  if (w->blk_count == 0)
    return 0;
  if ((rc = compress_block(w, &data, &len, err)) != 0)
    return rc;
  k = tarn__avro_varint_put(hdr, (int64_t)w->blk_count);
  k += tarn__avro_varint_put(hdr + k, (int64_t)len);
  if ((rc = sink_write(w, hdr, k, err)) != 0 || (rc = sink_write(w, data, len, err)) != 0 ||
      (rc = sink_write(w, w->sync, sizeof(w->sync), err)) != 0)
    return rc;
  tarn_buf_reset(&w->blk);
  w->blk_count = 0;
  return 0;
}

int tarn_avro_writer_append(tarn_avro_writer *w, const tarn_avro_value *rec, tarn_error *err) {
  enc e;
  size_t mark;
  int rc;
  if (w->sticky) {
    if (err != NULL)
      *err = w->sticky_err;
    return w->sticky;
  }
  if (rec == NULL) /* most likely a tarn_avro_record_new that ran out of memory */
    return tarn_error_set(err, TARN_ENOMEM, "avro writer: no record (out of memory?)");
  mark = w->blk.len;
  e.b = &w->blk;
  e.path.depth = 0;
  e.err = err;
  rc = encode(&e, w->root, rec, 0);
  if (rc != 0) {
    /* Roll back the partly encoded record: the writer stays usable. */
    w->blk.len = mark;
    if (w->blk.data != NULL)
      w->blk.data[mark] = '\0';
    if (rc == TARN_ETOOBIG)
      tarn_error_prefix(err, "avro writer: record %llu is larger than a block may be",
                        (unsigned long long)w->count);
    return rc;
  }
  w->blk_count++;
  w->count++;
  if (w->blk.len >= w->block_bytes && (rc = flush_block(w, err)) != 0)
    return set_sticky(w, rc, err);
  return 0;
}

int tarn_avro_writer_close(tarn_avro_writer *w, uint64_t *size, tarn_error *err) {
  int rc;
  if (w == NULL)
    return tarn_error_set(err, TARN_EINVAL, "avro writer: NULL");
  if (w->sticky) {
    rc = w->sticky;
    if (err != NULL)
      *err = w->sticky_err;
    goto fail;
  }
  if ((rc = flush_block(w, err)) != 0)
    goto fail;
  if ((rc = w->ops->commit(w, err)) != 0)
    goto fail;
  if (size != NULL)
    *size = w->written;
  writer_free(w);
  return 0;
fail:
  w->ops->abort(w);
  writer_free(w);
  return rc;
}

void tarn_avro_writer_abort(tarn_avro_writer *w) {
  if (w == NULL)
    return;
  w->ops->abort(w);
  writer_free(w);
}
