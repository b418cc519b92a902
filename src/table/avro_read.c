/* avro_read.c - the Avro object container file reader: header, blocks, codecs, decoding. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "base/alloc.h"
#include "table/avro_int.h"

/* Blocks of records that encode to zero bytes (a "null" schema) hold at most this many:
 * otherwise a few bytes could announce 2^63 records. */
#define MAX_EMPTY_RECORDS_PER_BLOCK (1u << 20)
#define MAX_META_ENTRIES 4096u

typedef struct rmeta {
  char *key;
  uint8_t *val; /* NUL-terminated after len bytes */
  size_t len;
} rmeta;

struct tarn_avro_reader {
  const uint8_t *data;
  size_t len, pos; /* pos: next block in the file */
  tarn_buf owned;  /* the file, when the reader read it from a store */
  tarn_avro_schema *schema;
  const tarn_avro_node *root;
  tarn_avro_codec codec;
  uint8_t sync[16];
  rmeta *meta;
  size_t nmeta;
  size_t max_block, max_record;
  /* the block being read */
  const uint8_t *bdata;
  size_t blen, bpos;
  uint64_t brem;   /* records left in it */
  uint64_t boff;   /* file offset of the block (its count) */
  uint64_t bdoff;  /* file offset of its data */
  uint64_t bindex; /* 0-based */
  tarn_buf dbuf;   /* decompressed data */
  tarn_avro_arena *arena;
  z_stream *zs;
  ZSTD_DCtx *zd;
  uint64_t count;
  int done;
  int sticky;
  tarn_error sticky_err;
};

/* ---- bounds-checked decoding ---- */

typedef struct dec {
  const uint8_t *p;
  size_t len, pos;
  uint64_t base;      /* file offset of p[0] when p is file bytes */
  int decompressed;   /* p is a decompressed block: report block and position in it */
  uint64_t block;     /* index of that block */
  uint64_t block_off; /* its file offset */
  tarn_avro_arena *a;
  tarn__avro_path path;
  tarn_error *err;
} dec;

static int dfail(dec *d, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int dfail(dec *d, int code, const char *fmt, ...) {
  char where[200], msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  tarn__avro_path_render(&d->path, where, sizeof(where));
  if (d->decompressed)
    return tarn_error_set(d->err, code,
                          "avro: block %llu at offset %llu, byte %zu of its decompressed data: "
                          "%s%s%s",
                          (unsigned long long)d->block, (unsigned long long)d->block_off, d->pos,
                          where, where[0] ? ": " : "", msg);
  return tarn_error_set(d->err, code, "avro: offset %llu: %s%s%s",
                        (unsigned long long)(d->base + d->pos), where, where[0] ? ": " : "", msg);
}

static size_t left(const dec *d) { return d->len - d->pos; }

static int get_long(dec *d, int64_t *v, const char *what) {
  int n = tarn__avro_varint_get(d->p + d->pos, left(d), v);
  if (n == 0)
    return dfail(d, TARN_ECORRUPT, "truncated %s", what);
  if (n < 0)
    return dfail(d, TARN_ECORRUPT, "malformed varint (%s)", what);
  d->pos += (size_t)n;
  return 0;
}

/* A length (of bytes, a string, a block): not negative, not past the end. */
static int get_len(dec *d, size_t *out, const char *what) {
  int64_t v;
  int rc = get_long(d, &v, what);
  if (rc != 0)
    return rc;
  if (v < 0)
    return dfail(d, TARN_ECORRUPT, "negative %s %lld", what, (long long)v);
  if ((uint64_t)v > left(d))
    return dfail(d, TARN_ECORRUPT, "%s %lld runs past the end (%zu bytes left)", what, (long long)v,
                 left(d));
  *out = (size_t)v;
  return 0;
}

static int get_copy(dec *d, size_t n, int utf8, const char **out) {
  char *s;
  if (n > left(d))
    return dfail(d, TARN_ECORRUPT, "%zu bytes run past the end (%zu left)", n, left(d));
  if (utf8 && !tarn__avro_utf8_ok(d->p + d->pos, n))
    return dfail(d, TARN_ECORRUPT, "string is not valid UTF-8");
  s = tarn__avro_arena_alloc_err(d->a, n + 1, "avro: decoding a record", d->err);
  if (s == NULL)
    return d->err->code;
  if (n)
    memcpy(s, d->p + d->pos, n);
  d->pos += n;
  *out = s;
  return 0;
}

static int decode(dec *d, const tarn_avro_node *n, tarn_avro_value *out, int depth);

/* Arrays and maps: blocks of items until an empty block; a negative count is followed by
 * the block's size in bytes (Avro spec), which must then match what its items take. */
static int decode_blocks(dec *d, const tarn_avro_node *n, tarn_avro_value *out, int depth) {
  int is_map = n->type == TARN_AVRO_MAP;
  size_t item_size = is_map ? sizeof(tarn_avro_kv) : sizeof(tarn_avro_value);
  size_t min = n->items->min_bytes + (is_map ? 1 : 0), total = 0, cap = 0, i;
  unsigned char *items = NULL;
  int rc;
  for (;;) {
    int64_t count, bsize = -1;
    size_t end = 0;
    if ((rc = get_long(d, &count, is_map ? "map block count" : "array block count")) != 0)
      return rc;
    if (count == 0)
      break;
    if (count < 0) {
      size_t sz;
      if (count == INT64_MIN)
        return dfail(d, TARN_ECORRUPT, "block count out of range");
      count = -count;
      if ((rc = get_len(d, &sz, "block size")) != 0)
        return rc;
      bsize = (int64_t)sz;
      end = d->pos + sz;
    }
    if (min > 0 && (uint64_t)count > left(d) / min)
      return dfail(d, TARN_ECORRUPT, "%lld items cannot fit in the %zu bytes left",
                   (long long)count, left(d));
    if ((uint64_t)count > (SIZE_MAX / item_size) - total)
      return dfail(d, TARN_ETOOBIG, "too many items (%lld)", (long long)count);
    if (total + (size_t)count > cap) {
      size_t ncap = total + (size_t)count;
      unsigned char *ni;
      if (cap * 2 > ncap && cap * 2 <= SIZE_MAX / item_size)
        ncap = cap * 2;
      ni = tarn__avro_arena_alloc_err(d->a, ncap * item_size, "avro: decoding a record", d->err);
      if (ni == NULL)
        return d->err->code;
      if (total)
        memcpy(ni, items, total * item_size);
      items = ni;
      cap = ncap;
    }
    for (i = 0; i < (size_t)count; i++, total++) {
      if (is_map) {
        tarn_avro_kv *kv = (tarn_avro_kv *)(void *)items + total;
        size_t klen;
        const char *key;
        if ((rc = get_len(d, &klen, "map key length")) != 0 ||
            (rc = get_copy(d, klen, 1, &key)) != 0)
          return rc;
        kv->key = key;
        kv->key_len = klen;
        d->path.seg[d->path.depth++] = (tarn__avro_seg){.name = key, .name_len = klen, .is_key = 1};
        rc = decode(d, n->items, &kv->value, depth + 1);
      } else {
        d->path.seg[d->path.depth++] = (tarn__avro_seg){.index = total};
        rc = decode(d, n->items, (tarn_avro_value *)(void *)items + total, depth + 1);
      }
      if (rc != 0)
        return rc;
      d->path.depth--;
    }
    if (bsize >= 0 && d->pos != end)
      return dfail(d, TARN_ECORRUPT, "block size %lld does not match its items (%zu bytes)",
                   (long long)bsize, d->pos - (end - (size_t)bsize));
  }
  if (is_map) {
    out->u.map.entries = (tarn_avro_kv *)(void *)items;
    out->u.map.count = total;
  } else {
    out->u.array.items = (tarn_avro_value *)(void *)items;
    out->u.array.count = total;
  }
  return 0;
}

static int decode(dec *d, const tarn_avro_node *n, tarn_avro_value *out, int depth) {
  int64_t v;
  size_t len, i;
  int rc;
  if (depth > TARN_AVRO_MAX_DEPTH)
    return dfail(d, TARN_ECORRUPT, "values nested deeper than %d", TARN_AVRO_MAX_DEPTH);
  if (n->type == TARN_AVRO_UNION) {
    if ((rc = get_long(d, &v, "union branch")) != 0)
      return rc;
    if (v < 0 || (uint64_t)v >= n->nbranches)
      return dfail(d, TARN_ECORRUPT, "union branch %lld out of range (the union has %zu)",
                   (long long)v, n->nbranches);
    if ((rc = decode(d, n->branches[v], out, depth + 1)) != 0)
      return rc;
    out->has_branch = 1;
    out->branch = (uint32_t)v;
    return 0;
  }
  out->type = (uint8_t)n->type;
  out->node = n;
  switch (n->type) {
  case TARN_AVRO_NULL: return 0;
  case TARN_AVRO_BOOLEAN:
    if (left(d) < 1)
      return dfail(d, TARN_ECORRUPT, "truncated boolean");
    if (d->p[d->pos] > 1)
      return dfail(d, TARN_ECORRUPT, "boolean byte %u is neither 0 nor 1", d->p[d->pos]);
    out->u.b = d->p[d->pos++];
    return 0;
  case TARN_AVRO_INT:
  case TARN_AVRO_ENUM:
    if ((rc = get_long(d, &v, n->type == TARN_AVRO_INT ? "int" : "enum")) != 0)
      return rc;
    if (v < INT32_MIN || v > INT32_MAX)
      return dfail(d, TARN_ECORRUPT, "int %lld out of range", (long long)v);
    if (n->type == TARN_AVRO_ENUM && (v < 0 || (uint64_t)v >= n->nsymbols))
      return dfail(d, TARN_ECORRUPT, "enum index %lld out of range (%zu symbols)", (long long)v,
                   n->nsymbols);
    out->u.i = (int32_t)v;
    return 0;
  case TARN_AVRO_LONG: return get_long(d, &out->u.l, "long");
  case TARN_AVRO_FLOAT: {
    uint32_t u = 0;
    if (left(d) < 4)
      return dfail(d, TARN_ECORRUPT, "truncated float");
    for (i = 0; i < 4; i++)
      u |= (uint32_t)d->p[d->pos + i] << (8 * i);
    memcpy(&out->u.f, &u, 4);
    d->pos += 4;
    return 0;
  }
  case TARN_AVRO_DOUBLE: {
    uint64_t u = 0;
    if (left(d) < 8)
      return dfail(d, TARN_ECORRUPT, "truncated double");
    for (i = 0; i < 8; i++)
      u |= (uint64_t)d->p[d->pos + i] << (8 * i);
    memcpy(&out->u.d, &u, 8);
    d->pos += 8;
    return 0;
  }
  case TARN_AVRO_BYTES:
  case TARN_AVRO_STRING:
    if ((rc = get_len(d, &len, n->type == TARN_AVRO_STRING ? "string length" : "bytes length")) !=
        0)
      return rc;
    out->u.str.len = len;
    return get_copy(d, len, n->type == TARN_AVRO_STRING, &out->u.str.p);
  case TARN_AVRO_FIXED: out->u.str.len = n->size; return get_copy(d, n->size, 0, &out->u.str.p);
  case TARN_AVRO_ARRAY:
  case TARN_AVRO_MAP: return decode_blocks(d, n, out, depth);
  case TARN_AVRO_RECORD:
    out->u.record.count = n->nfields;
    if (n->nfields == 0)
      return 0;
    out->u.record.fields = tarn__avro_arena_alloc_err(d->a, n->nfields * sizeof(tarn_avro_value),
                                                      "avro: decoding a record", d->err);
    if (out->u.record.fields == NULL)
      return d->err->code;
    for (i = 0; i < n->nfields; i++) {
      d->path.seg[d->path.depth++] =
          (tarn__avro_seg){.name = n->fields[i].name, .name_len = strlen(n->fields[i].name)};
      if ((rc = decode(d, n->fields[i].type, &out->u.record.fields[i], depth + 1)) != 0)
        return rc;
      d->path.depth--;
    }
    return 0;
  default: return dfail(d, TARN_EINTERNAL, "cannot decode type %s", tarn_avro_type_name(n->type));
  }
}

/* ---- header ---- */

static void reader_free(tarn_avro_reader *r) {
  size_t i;
  for (i = 0; i < r->nmeta; i++) {
    tarn_free(r->meta[i].key);
    tarn_free(r->meta[i].val);
  }
  tarn_free(r->meta);
  tarn_avro_schema_destroy(r->schema);
  tarn_buf_free(&r->dbuf);
  tarn_buf_free(&r->owned);
  tarn_avro_arena_destroy(r->arena);
  if (r->zs != NULL) {
    inflateEnd(r->zs);
    tarn_free(r->zs);
  }
  ZSTD_freeDCtx(r->zd);
  tarn_free(r);
}

static int read_header(tarn_avro_reader *r, tarn_error *err) {
  dec d = {.p = r->data, .len = r->len, .err = err};
  size_t cap = 0, i;
  const rmeta *schema_m = NULL, *codec_m = NULL;
  int rc;
  if (r->len < 4 || memcmp(r->data, "Obj\x01", 4) != 0)
    return dfail(&d, TARN_ECORRUPT, "not an Avro object container file (bad magic)");
  d.pos = 4;
  for (;;) {
    int64_t count;
    if ((rc = get_long(&d, &count, "metadata block count")) != 0)
      return rc;
    if (count == 0)
      break;
    if (count < 0) {
      size_t sz;
      if (count == INT64_MIN)
        return dfail(&d, TARN_ECORRUPT, "metadata block count out of range");
      count = -count;
      if ((rc = get_len(&d, &sz, "metadata block size")) != 0)
        return rc;
    }
    /* Each entry takes at least two bytes (two lengths). */
    if ((uint64_t)count > left(&d) / 2)
      return dfail(&d, TARN_ECORRUPT, "%lld metadata entries cannot fit in the %zu bytes left",
                   (long long)count, left(&d));
    if ((uint64_t)count > MAX_META_ENTRIES - r->nmeta)
      return dfail(&d, TARN_ETOOBIG, "more than %u metadata entries", MAX_META_ENTRIES);
    for (; count > 0; count--) {
      size_t klen, vlen;
      rmeta *m;
      if (TARN_GROW(r->meta, cap, r->nmeta + 1, 8) != 0)
        return tarn_error_set(err, TARN_ENOMEM, "avro: reading the header: out of memory");
      m = &r->meta[r->nmeta];
      if ((rc = get_len(&d, &klen, "metadata key length")) != 0)
        return rc;
      m->key = tarn_strndup((const char *)d.p + d.pos, klen);
      if (m->key == NULL)
        return tarn_error_set(err, TARN_ENOMEM, "avro: reading the header: out of memory");
      m->val = NULL;
      r->nmeta++;
      if (strlen(m->key) != klen || !tarn__avro_utf8_ok(d.p + d.pos, klen))
        return dfail(&d, TARN_ECORRUPT, "metadata key is not a valid string");
      d.pos += klen;
      for (i = 0; i + 1 < r->nmeta; i++)
        if (strcmp(r->meta[i].key, m->key) == 0)
          return dfail(&d, TARN_ECORRUPT, "metadata key '%s' appears twice", m->key);
      if ((rc = get_len(&d, &vlen, "metadata value length")) != 0)
        return rc;
      m->val = tarn_malloc(vlen + 1);
      if (m->val == NULL)
        return tarn_error_set(err, TARN_ENOMEM, "avro: reading the header: out of memory");
      if (vlen)
        memcpy(m->val, d.p + d.pos, vlen);
      m->val[vlen] = 0;
      m->len = vlen;
      d.pos += vlen;
    }
  }
  if (left(&d) < 16)
    return dfail(&d, TARN_ECORRUPT, "truncated header (no sync marker)");
  memcpy(r->sync, d.p + d.pos, 16);
  d.pos += 16;
  r->pos = d.pos;
  for (i = 0; i < r->nmeta; i++) {
    if (strcmp(r->meta[i].key, "avro.schema") == 0)
      schema_m = &r->meta[i];
    else if (strcmp(r->meta[i].key, "avro.codec") == 0)
      codec_m = &r->meta[i];
  }
  if (schema_m == NULL)
    return tarn_error_set(err, TARN_ECORRUPT, "avro: the header has no avro.schema");
  rc = tarn_avro_schema_parse((const char *)schema_m->val, schema_m->len, &r->schema, err);
  if (rc != 0) {
    tarn_error_prefix(err, "avro: the header's avro.schema");
    if (rc == TARN_EINVAL) {
      rc = TARN_ECORRUPT;
      err->code = rc;
    }
    return rc;
  }
  r->root = tarn_avro_schema_root(r->schema);
  r->codec = TARN_AVRO_CODEC_NULL;
  if (codec_m != NULL) {
    const char *c = (const char *)codec_m->val;
    if (strlen(c) != codec_m->len)
      return tarn_error_set(err, TARN_ECORRUPT, "avro: avro.codec holds a NUL byte");
    if (strcmp(c, "null") == 0)
      r->codec = TARN_AVRO_CODEC_NULL;
    else if (strcmp(c, "deflate") == 0)
      r->codec = TARN_AVRO_CODEC_DEFLATE;
    else if (strcmp(c, "snappy") == 0)
      r->codec = TARN_AVRO_CODEC_SNAPPY;
    else if (strcmp(c, "zstandard") == 0)
      r->codec = TARN_AVRO_CODEC_ZSTD;
    else
      return tarn_error_set(err, TARN_EUNSUPPORTED, "avro: codec '%.64s' is not supported", c);
  }
  return 0;
}

static int open_common(tarn_avro_reader *r, const tarn_avro_reader_options *o, tarn_error *err) {
  int rc;
  r->max_block = o && o->max_block_bytes ? o->max_block_bytes : TARN_AVRO_MAX_BLOCK_BYTES;
  r->max_record = o && o->max_record_bytes ? o->max_record_bytes : TARN_AVRO_ARENA_DEFAULT_MAX;
  tarn_buf_init(&r->dbuf, r->max_block);
  if ((rc = tarn_avro_arena_create(r->max_record, &r->arena, err)) != 0)
    return rc;
  return read_header(r, err);
}

int tarn_avro_reader_open_mem(const void *data, size_t len, const tarn_avro_reader_options *o,
                              tarn_avro_reader **out, tarn_error *err) {
  tarn_avro_reader *r;
  tarn_error local;
  int rc;
  if (err == NULL)
    err = &local;
  if (data == NULL && len > 0)
    return tarn_error_set(err, TARN_EINVAL, "avro reader: no data");
  r = tarn_calloc(1, sizeof(*r));
  if (r == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "avro reader: out of memory");
  tarn_buf_init(&r->owned, 0);
  r->data = data != NULL ? data : (const uint8_t *)"";
  r->len = len;
  if ((rc = open_common(r, o, err)) != 0) {
    reader_free(r);
    return rc;
  }
  *out = r;
  return 0;
}

int tarn_avro_reader_open_store(tarn_store *st, const char *key, size_t max_file_bytes,
                                const tarn_avro_reader_options *o, tarn_avro_reader **out,
                                tarn_error *err) {
  tarn_avro_reader *r;
  tarn_error local;
  int rc;
  if (err == NULL)
    err = &local;
  r = tarn_calloc(1, sizeof(*r));
  if (r == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "avro reader: out of memory");
  tarn_buf_init(&r->owned, max_file_bytes ? max_file_bytes : TARN_AVRO_MAX_FILE_BYTES);
  if ((rc = tarn_store_get(st, key, &r->owned, err)) != 0) {
    reader_free(r);
    return rc;
  }
  r->data = r->owned.data != NULL ? (const uint8_t *)r->owned.data : (const uint8_t *)"";
  r->len = r->owned.len;
  if ((rc = open_common(r, o, err)) != 0) {
    tarn_error_prefix(err, "%s", key);
    reader_free(r);
    return rc;
  }
  *out = r;
  return 0;
}

void tarn_avro_reader_destroy(tarn_avro_reader *r) {
  if (r != NULL)
    reader_free(r);
}

const tarn_avro_schema *tarn_avro_reader_schema(const tarn_avro_reader *r) { return r->schema; }
tarn_avro_codec tarn_avro_reader_codec(const tarn_avro_reader *r) { return r->codec; }
uint64_t tarn_avro_reader_count(const tarn_avro_reader *r) { return r->count; }

int tarn_avro_reader_meta(const tarn_avro_reader *r, const char *key, const uint8_t **val,
                          size_t *len) {
  size_t i;
  for (i = 0; i < r->nmeta; i++) {
    if (strcmp(r->meta[i].key, key) == 0) {
      if (val != NULL)
        *val = r->meta[i].val;
      if (len != NULL)
        *len = r->meta[i].len;
      return 1;
    }
  }
  return 0;
}

const char *tarn_avro_reader_meta_str(const tarn_avro_reader *r, const char *key) {
  const uint8_t *v;
  return tarn_avro_reader_meta(r, key, &v, NULL) ? (const char *)v : NULL;
}

size_t tarn_avro_reader_meta_count(const tarn_avro_reader *r) { return r->nmeta; }

void tarn_avro_reader_meta_at(const tarn_avro_reader *r, size_t i, const char **key,
                              const uint8_t **val, size_t *len) {
  *key = r->meta[i].key;
  *val = r->meta[i].val;
  *len = r->meta[i].len;
}

/* ---- blocks ---- */

static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
  (void)opaque;
  return tarn_calloc(items, size);
}
static void z_free(voidpf opaque, voidpf p) {
  (void)opaque;
  tarn_free(p);
}

/* Makes room in dbuf for more output: *room gets the writable bytes after dbuf.len.
 * TARN_ETOOBIG once the block would pass max_block. */
static int dbuf_grow(tarn_avro_reader *r, dec *d, size_t *room) {
  size_t want = r->dbuf.len ? r->dbuf.len : 64u << 10;
  int rc;
  if (r->dbuf.len >= r->max_block)
    return dfail(d, TARN_ETOOBIG, "block decompresses to more than %zu bytes", r->max_block);
  if (want > r->max_block - r->dbuf.len)
    want = r->max_block - r->dbuf.len;
  if ((rc = tarn_buf_reserve(&r->dbuf, want, d->err)) != 0)
    return rc;
  *room = want;
  return 0;
}

static int inflate_block(tarn_avro_reader *r, dec *d, const uint8_t *in, size_t n) {
  int zr, rc;
  size_t room = 0;
  if (r->zs == NULL) {
    r->zs = tarn_calloc(1, sizeof(*r->zs));
    if (r->zs == NULL)
      return tarn_error_set(d->err, TARN_ENOMEM, "avro reader: out of memory");
    r->zs->zalloc = z_alloc;
    r->zs->zfree = z_free;
    if (inflateInit2(r->zs, -15) != Z_OK) {
      tarn_free(r->zs);
      r->zs = NULL;
      return tarn_error_set(d->err, TARN_ENOMEM, "avro reader: inflateInit2 failed");
    }
  } else if (inflateReset(r->zs) != Z_OK) {
    return tarn_error_set(d->err, TARN_EINTERNAL, "avro reader: inflateReset failed");
  }
  if (n > UINT32_MAX)
    return dfail(d, TARN_ETOOBIG, "deflate block too large");
  r->zs->next_in = (Bytef *)in;
  r->zs->avail_in = (uInt)n;
  for (;;) {
    if ((rc = dbuf_grow(r, d, &room)) != 0)
      return rc;
    r->zs->next_out = (Bytef *)r->dbuf.data + r->dbuf.len;
    r->zs->avail_out = (uInt)room;
    zr = inflate(r->zs, Z_NO_FLUSH);
    r->dbuf.len += room - r->zs->avail_out;
    if (zr == Z_STREAM_END) {
      if (r->zs->avail_in != 0)
        return dfail(d, TARN_ECORRUPT, "%u bytes after the end of the deflate stream",
                     (unsigned)r->zs->avail_in);
      return 0;
    }
    if (zr == Z_MEM_ERROR)
      return tarn_error_set(d->err, TARN_ENOMEM, "avro reader: out of memory (inflate)");
    if (zr == Z_BUF_ERROR && r->zs->avail_in == 0)
      return dfail(d, TARN_ECORRUPT, "truncated deflate stream");
    if (zr != Z_OK && zr != Z_BUF_ERROR)
      return dfail(d, TARN_ECORRUPT, "invalid deflate data (%s)",
                   r->zs->msg ? r->zs->msg : "unknown error");
  }
}

static int unzstd_block(tarn_avro_reader *r, dec *d, const uint8_t *in, size_t n) {
  ZSTD_inBuffer ib = {in, n, 0};
  size_t room = 0, ret = 1;
  int rc;
  if (r->zd == NULL && (r->zd = ZSTD_createDCtx()) == NULL)
    return tarn_error_set(d->err, TARN_ENOMEM, "avro reader: out of memory (zstd)");
  ZSTD_DCtx_reset(r->zd, ZSTD_reset_session_only);
  for (;;) {
    ZSTD_outBuffer ob;
    size_t in_before = ib.pos;
    if ((rc = dbuf_grow(r, d, &room)) != 0)
      return rc;
    ob.dst = r->dbuf.data + r->dbuf.len;
    ob.size = room;
    ob.pos = 0;
    ret = ZSTD_decompressStream(r->zd, &ob, &ib);
    if (ZSTD_isError(ret))
      return dfail(d, TARN_ECORRUPT, "invalid zstandard data (%s)", ZSTD_getErrorName(ret));
    r->dbuf.len += ob.pos;
    if (ret == 0 && ib.pos == ib.size)
      return 0;
    /* No input left and room left over: the frame is cut short. */
    if (ib.pos == ib.size && ob.pos < ob.size)
      return dfail(d, TARN_ECORRUPT, "truncated zstandard frame");
    if (ib.pos == in_before && ob.pos == 0)
      return dfail(d, TARN_ECORRUPT, "zstandard decoder made no progress");
  }
}

static int unsnappy_block(tarn_avro_reader *r, dec *d, const uint8_t *in, size_t n) {
  size_t ulen, got;
  uint32_t want, crc;
  int rc;
  if (n < 4)
    return dfail(d, TARN_ECORRUPT, "snappy block shorter than its CRC");
  n -= 4;
  want = (uint32_t)in[n] << 24 | (uint32_t)in[n + 1] << 16 | (uint32_t)in[n + 2] << 8 | in[n + 3];
  if (snappy_uncompressed_length((const char *)in, n, &ulen) != SNAPPY_OK)
    return dfail(d, TARN_ECORRUPT, "invalid snappy data");
  if (ulen > r->max_block)
    return dfail(d, TARN_ETOOBIG, "block decompresses to %zu bytes, more than %zu", ulen,
                 r->max_block);
  if ((rc = tarn_buf_reserve(&r->dbuf, ulen, d->err)) != 0)
    return rc;
  got = ulen;
  if (snappy_uncompress((const char *)in, n, r->dbuf.data, &got) != SNAPPY_OK || got != ulen)
    return dfail(d, TARN_ECORRUPT, "invalid snappy data");
  r->dbuf.len = ulen;
  crc = (uint32_t)crc32(0L, (const Bytef *)r->dbuf.data, (uInt)ulen);
  if (crc != want)
    return dfail(d, TARN_ECORRUPT, "snappy block CRC-32 %08x does not match its data (%08x)",
                 (unsigned)want, (unsigned)crc);
  return 0;
}

/* Reads the next block's count, size, data and sync marker; decompresses the data. */
static int load_block(tarn_avro_reader *r, tarn_error *err) {
  dec d = {.p = r->data, .len = r->len, .pos = r->pos, .err = err};
  int64_t count;
  size_t size;
  const uint8_t *data;
  int rc;
  r->boff = r->pos;
  if ((rc = get_long(&d, &count, "block count")) != 0)
    return rc;
  if (count < 0)
    return dfail(&d, TARN_ECORRUPT, "negative block count %lld", (long long)count);
  if ((rc = get_len(&d, &size, "block size")) != 0)
    return rc;
  data = d.p + d.pos;
  r->bdoff = d.pos;
  d.pos += size;
  if (left(&d) < 16)
    return dfail(&d, TARN_ECORRUPT, "truncated block %llu (no sync marker)",
                 (unsigned long long)r->bindex);
  if (memcmp(d.p + d.pos, r->sync, 16) != 0)
    return dfail(&d, TARN_ECORRUPT, "sync marker after block %llu does not match the header's",
                 (unsigned long long)r->bindex);
  d.pos += 16;
  r->pos = d.pos;
  /* Errors inside the data name the block and where its data starts. */
  d.pos = (size_t)r->bdoff;
  tarn_buf_reset(&r->dbuf);
  switch (r->codec) {
  case TARN_AVRO_CODEC_NULL:
    r->bdata = data;
    r->blen = size;
    break;
  case TARN_AVRO_CODEC_DEFLATE: rc = inflate_block(r, &d, data, size); break;
  case TARN_AVRO_CODEC_SNAPPY: rc = unsnappy_block(r, &d, data, size); break;
  case TARN_AVRO_CODEC_ZSTD: rc = unzstd_block(r, &d, data, size); break;
  }
  if (rc != 0)
    return rc;
  if (r->codec != TARN_AVRO_CODEC_NULL) {
    r->bdata = r->dbuf.data != NULL ? (const uint8_t *)r->dbuf.data : (const uint8_t *)"";
    r->blen = r->dbuf.len;
  }
  d.pos = (size_t)r->boff;
  if (r->root->min_bytes > 0 ? (uint64_t)count > r->blen / r->root->min_bytes
                             : (uint64_t)count > MAX_EMPTY_RECORDS_PER_BLOCK)
    return dfail(&d, TARN_ECORRUPT, "block %llu claims %lld records, more than its %zu bytes hold",
                 (unsigned long long)r->bindex, (long long)count, r->blen);
  if (count == 0 && r->blen != 0)
    return dfail(&d, TARN_ECORRUPT, "block %llu holds no records but %zu bytes",
                 (unsigned long long)r->bindex, r->blen);
  r->bpos = 0;
  r->brem = (uint64_t)count;
  r->bindex++;
  return 0;
}

static int reader_fail(tarn_avro_reader *r, int rc, tarn_error *err) {
  r->sticky = rc;
  r->sticky_err = *err;
  return rc;
}

int tarn_avro_reader_next(tarn_avro_reader *r, const tarn_avro_value **rec, tarn_error *err) {
  tarn_avro_value *v;
  tarn_error local;
  dec d;
  int rc;
  *rec = NULL;
  if (err == NULL)
    err = &local;
  if (r->sticky) {
    *err = r->sticky_err;
    return r->sticky;
  }
  if (r->done)
    return 0;
  while (r->brem == 0) {
    if (r->pos == r->len) {
      r->done = 1;
      return 0;
    }
    if ((rc = load_block(r, err)) != 0)
      return reader_fail(r, rc, err);
  }
  tarn_avro_arena_reset(r->arena);
  memset(&d, 0, sizeof(d));
  d.p = r->bdata;
  d.len = r->blen;
  d.pos = r->bpos;
  d.a = r->arena;
  d.err = err;
  if (r->codec == TARN_AVRO_CODEC_NULL) {
    d.base = r->bdoff;
  } else {
    d.decompressed = 1;
    d.block = r->bindex - 1;
    d.block_off = r->boff;
  }
  v = tarn__avro_arena_alloc_err(r->arena, sizeof(*v), "avro: decoding a record", err);
  if (v == NULL)
    return reader_fail(r, err->code, err);
  if ((rc = decode(&d, r->root, v, 0)) != 0)
    return reader_fail(r, rc, err);
  r->bpos = d.pos;
  r->brem--;
  if (r->brem == 0 && r->bpos != r->blen) {
    d.path.depth = 0;
    return reader_fail(
        r,
        dfail(&d, TARN_ECORRUPT, "%zu bytes left after the block's last record", r->blen - r->bpos),
        err);
  }
  r->count++;
  *rec = v;
  return 0;
}
