/* avro_value.c - Avro values: the arena they live in, constructors, field access, copies. */
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "table/avro_int.h"

/* ---- varints, UTF-8, paths ---- */

size_t tarn__avro_varint_put(uint8_t *out, int64_t v) {
  uint64_t u = tarn__avro_zigzag(v);
  size_t n = 0;
  while (u >= 0x80) {
    out[n++] = (uint8_t)(u | 0x80);
    u >>= 7;
  }
  out[n++] = (uint8_t)u;
  return n;
}

int tarn__avro_varint_get(const uint8_t *p, size_t n, int64_t *v) {
  uint64_t u = 0;
  size_t i;
  for (i = 0; i < TARN__AVRO_VARINT_MAX; i++) {
    if (i == n)
      return 0;
    /* The tenth byte may only carry bit 63. */
    if (i == 9 && (p[i] & 0x7e) != 0)
      return -1;
    u |= (uint64_t)(p[i] & 0x7f) << (7 * i);
    if ((p[i] & 0x80) == 0) {
      *v = tarn__avro_unzigzag(u);
      return (int)i + 1;
    }
  }
  return -1;
}

int tarn__avro_buf_long(tarn_buf *b, int64_t v, tarn_error *err) {
  uint8_t tmp[TARN__AVRO_VARINT_MAX];
  return tarn_buf_append(b, tmp, tarn__avro_varint_put(tmp, v), err);
}

int tarn__avro_buf_lenbytes(tarn_buf *b, const void *p, size_t n, tarn_error *err) {
  uint8_t tmp[TARN__AVRO_VARINT_MAX];
  size_t k;
  int rc;
  if (n > (uint64_t)INT64_MAX)
    return tarn_error_set(err, TARN_ETOOBIG, "avro: %zu bytes do not fit a length", n);
  k = tarn__avro_varint_put(tmp, (int64_t)n);
  rc = tarn_buf_reserve(b, k + n, err);
  if (rc != 0)
    return rc;
  memcpy(b->data + b->len, tmp, k);
  if (n)
    memcpy(b->data + b->len + k, p, n);
  b->len += k + n;
  b->data[b->len] = '\0';
  return 0;
}

int tarn__avro_utf8_ok(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    uint32_t cp;
    size_t k, j;
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      k = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      k = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      k = 3;
      cp = c & 0x07;
    } else {
      return 0;
    }
    if (n - i <= k)
      return 0;
    for (j = 1; j <= k; j++) {
      if ((p[i + j] & 0xc0) != 0x80)
        return 0;
      cp = (cp << 6) | (p[i + j] & 0x3f);
    }
    if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
      return 0;
    i += k + 1;
  }
  return 1;
}

void tarn__avro_path_render(const tarn__avro_path *p, char *dst, size_t cap) {
  size_t i, len = 0;
  dst[0] = '\0';
  for (i = 0; i < p->depth && len + 1 < cap; i++) {
    const tarn__avro_seg *s = &p->seg[i];
    int n;
    if (s->name == NULL)
      n = snprintf(dst + len, cap - len, "[%llu]", (unsigned long long)s->index);
    else if (s->is_key)
      n = snprintf(dst + len, cap - len, "[\"%.*s\"]", (int)(s->name_len > 40 ? 40 : s->name_len),
                   s->name);
    else
      n = snprintf(dst + len, cap - len, "%s%.*s", len ? "." : "", (int)s->name_len, s->name);
    if (n < 0)
      break;
    len += (size_t)n < cap - len ? (size_t)n : cap - len - 1;
  }
}

/* ---- arena ---- */

typedef struct chunk {
  struct chunk *next;
  size_t size, used;
  alignas(max_align_t) unsigned char data[];
} chunk;

struct tarn_avro_arena {
  chunk *head;
  size_t total; /* bytes of chunks held */
  size_t max;
  size_t next_size;
  int last_code; /* why the last failed allocation failed */
};

#define ARENA_MIN_CHUNK 4096u
#define ARENA_MAX_GROWTH (1u << 20)

int tarn_avro_arena_create(size_t max_bytes, tarn_avro_arena **out, tarn_error *err) {
  tarn_avro_arena *a = tarn_calloc(1, sizeof(*a));
  if (a == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "avro: out of memory");
  a->max = max_bytes ? max_bytes : TARN_AVRO_ARENA_DEFAULT_MAX;
  a->next_size = ARENA_MIN_CHUNK;
  *out = a;
  return 0;
}

void tarn_avro_arena_reset(tarn_avro_arena *a) {
  chunk *keep, *c, *next;
  if (a == NULL || a->head == NULL)
    return;
  /* Keep the biggest chunk: the next record likely needs as much as this one did. */
  keep = a->head;
  for (c = a->head; c != NULL; c = c->next)
    if (c->size > keep->size)
      keep = c;
  for (c = a->head; c != NULL; c = next) {
    next = c->next;
    if (c != keep)
      tarn_free(c);
  }
  keep->next = NULL;
  keep->used = 0;
  a->head = keep;
  a->total = keep->size;
}

void tarn_avro_arena_destroy(tarn_avro_arena *a) {
  chunk *c, *next;
  if (a == NULL)
    return;
  for (c = a->head; c != NULL; c = next) {
    next = c->next;
    tarn_free(c);
  }
  tarn_free(a);
}

void *tarn_avro_arena_alloc(tarn_avro_arena *a, size_t n) {
  const size_t align = alignof(max_align_t);
  chunk *c;
  void *p;
  if (a == NULL)
    return NULL;
  if (n > SIZE_MAX / 2) {
    a->last_code = TARN_ETOOBIG;
    return NULL;
  }
  n = (n + align - 1) & ~(align - 1);
  if (n == 0)
    n = align;
  c = a->head;
  if (c == NULL || c->size - c->used < n) {
    size_t size = n > a->next_size ? n : a->next_size;
    if (size > a->max || a->total > a->max - size) {
      a->last_code = TARN_ETOOBIG;
      return NULL;
    }
    c = tarn_malloc(sizeof(*c) + size);
    if (c == NULL) {
      a->last_code = TARN_ENOMEM;
      return NULL;
    }
    c->size = size;
    c->used = 0;
    c->next = a->head;
    a->head = c;
    a->total += size;
    if (a->next_size < ARENA_MAX_GROWTH)
      a->next_size *= 2;
  }
  p = c->data + c->used;
  c->used += n;
  memset(p, 0, n);
  return p;
}

void *tarn__avro_arena_alloc_err(tarn_avro_arena *a, size_t n, const char *what, tarn_error *err) {
  void *p = tarn_avro_arena_alloc(a, n);
  if (p == NULL) {
    if (a != NULL && a->last_code == TARN_ETOOBIG)
      tarn_error_set(err, TARN_ETOOBIG, "%s: more than %zu bytes of memory needed", what, a->max);
    else
      tarn_error_set(err, TARN_ENOMEM, "%s: out of memory", what);
  }
  return p;
}

char *tarn_avro_arena_strndup(tarn_avro_arena *a, const void *p, size_t n) {
  char *d;
  if (n == SIZE_MAX)
    return NULL;
  d = tarn_avro_arena_alloc(a, n + 1);
  if (d != NULL && n)
    memcpy(d, p, n);
  return d;
}

tarn_avro_value *tarn_avro_values_new(tarn_avro_arena *a, size_t count) {
  if (count > SIZE_MAX / sizeof(tarn_avro_value))
    return NULL;
  return tarn_avro_arena_alloc(a, count * sizeof(tarn_avro_value));
}

tarn_avro_kv *tarn_avro_kvs_new(tarn_avro_arena *a, size_t count) {
  if (count > SIZE_MAX / sizeof(tarn_avro_kv))
    return NULL;
  return tarn_avro_arena_alloc(a, count * sizeof(tarn_avro_kv));
}

/* ---- constructors ---- */

static tarn_avro_value invalid_value(void) { return (tarn_avro_value){.type = TARN_AVRO_INVALID}; }

tarn_avro_value tarn_avro_str(const char *s) {
  if (s == NULL)
    return invalid_value();
  return tarn_avro_strn(s, strlen(s));
}

tarn_avro_value tarn_avro_strn(const char *s, size_t len) {
  tarn_avro_value v = {.type = TARN_AVRO_STRING};
  if (s == NULL && len > 0)
    return invalid_value();
  v.u.str.p = s != NULL ? s : "";
  v.u.str.len = len;
  return v;
}

tarn_avro_value tarn_avro_bytes(const void *p, size_t len) {
  tarn_avro_value v = {.type = TARN_AVRO_BYTES};
  if (p == NULL && len > 0)
    return invalid_value();
  v.u.bytes.p = p;
  v.u.bytes.len = len;
  return v;
}

tarn_avro_value tarn_avro_fixed(const void *p, size_t len) {
  tarn_avro_value v = tarn_avro_bytes(p, len);
  if (v.type == TARN_AVRO_BYTES)
    v.type = TARN_AVRO_FIXED;
  return v;
}

tarn_avro_value tarn_avro_array(tarn_avro_value *items, size_t count) {
  tarn_avro_value v = {.type = TARN_AVRO_ARRAY};
  if (items == NULL && count > 0)
    return invalid_value();
  v.u.array.items = items;
  v.u.array.count = count;
  return v;
}

tarn_avro_value tarn_avro_map(tarn_avro_kv *entries, size_t count) {
  tarn_avro_value v = {.type = TARN_AVRO_MAP};
  if (entries == NULL && count > 0)
    return invalid_value();
  v.u.map.entries = entries;
  v.u.map.count = count;
  return v;
}

tarn_avro_value tarn_avro_record(const tarn_avro_value *rec) {
  if (rec == NULL || rec->type != TARN_AVRO_RECORD)
    return invalid_value();
  return *rec;
}

tarn_avro_value tarn_avro_branch(tarn_avro_value v, uint32_t branch) {
  v.has_branch = 1;
  v.branch = branch;
  return v;
}

tarn_avro_value *tarn_avro_record_new(tarn_avro_arena *a, const tarn_avro_node *rec) {
  tarn_avro_value *v;
  rec = tarn_avro_node_nonnull(rec);
  if (rec == NULL || rec->type != TARN_AVRO_RECORD)
    return NULL;
  v = tarn_avro_arena_alloc(a, sizeof(*v));
  if (v == NULL)
    return NULL;
  v->type = TARN_AVRO_RECORD;
  v->node = rec;
  v->u.record.count = rec->nfields;
  if (rec->nfields) {
    v->u.record.fields = tarn_avro_values_new(a, rec->nfields);
    if (v->u.record.fields == NULL)
      return NULL;
  }
  return v;
}

/* ---- field access ---- */

static int set_at(tarn_avro_value *rec, const tarn_avro_field *f, tarn_avro_value v) {
  if (f == NULL) {
    rec->bad_set = 1;
    return TARN_ENOTFOUND;
  }
  if (f->index >= rec->u.record.count)
    return TARN_EINVAL;
  rec->u.record.fields[f->index] = v;
  return 0;
}

int tarn_avro_set(tarn_avro_value *rec, const char *name, tarn_avro_value v) {
  if (rec == NULL || rec->type != TARN_AVRO_RECORD || rec->node == NULL)
    return TARN_EINVAL;
  return set_at(rec, tarn_avro_node_field(rec->node, name), v);
}

int tarn_avro_set_id(tarn_avro_value *rec, int32_t field_id, tarn_avro_value v) {
  if (rec == NULL || rec->type != TARN_AVRO_RECORD || rec->node == NULL)
    return TARN_EINVAL;
  return set_at(rec, tarn_avro_node_field_by_id(rec->node, field_id), v);
}

static const tarn_avro_value *get_at(const tarn_avro_value *rec, const tarn_avro_field *f) {
  if (f == NULL || f->index >= rec->u.record.count)
    return NULL;
  return &rec->u.record.fields[f->index];
}

const tarn_avro_value *tarn_avro_get(const tarn_avro_value *rec, const char *name) {
  if (rec == NULL || rec->type != TARN_AVRO_RECORD || rec->node == NULL)
    return NULL;
  return get_at(rec, tarn_avro_node_field(rec->node, name));
}

const tarn_avro_value *tarn_avro_get_id(const tarn_avro_value *rec, int32_t field_id) {
  if (rec == NULL || rec->type != TARN_AVRO_RECORD || rec->node == NULL)
    return NULL;
  return get_at(rec, tarn_avro_node_field_by_id(rec->node, field_id));
}

int tarn_avro_is_null(const tarn_avro_value *v) {
  return v == NULL || v->type == TARN_AVRO_UNSET || v->type == TARN_AVRO_NULL;
}

/* ---- copies and equality ---- */

static int copy_rec(tarn_avro_arena *a, const tarn_avro_value *src, tarn_avro_value *dst, int depth,
                    tarn_error *err) {
  size_t i, n;
  int rc;
  *dst = *src;
  if (depth > TARN_AVRO_MAX_DEPTH)
    return tarn_error_set(err, TARN_EINVAL, "avro: value nested deeper than %d",
                          TARN_AVRO_MAX_DEPTH);
  switch ((tarn_avro_type)src->type) {
  case TARN_AVRO_STRING:
  case TARN_AVRO_BYTES:
  case TARN_AVRO_FIXED:
    n = src->u.bytes.len;
    dst->u.str.p = tarn_avro_arena_strndup(a, src->u.bytes.p, n);
    if (dst->u.str.p == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "avro: copying a value: out of memory");
    return 0;
  case TARN_AVRO_ARRAY:
  case TARN_AVRO_RECORD:
    n = src->type == TARN_AVRO_ARRAY ? src->u.array.count : src->u.record.count;
    if (n == 0)
      return 0;
    dst->u.array.items = tarn_avro_values_new(a, n);
    if (dst->u.array.items == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "avro: copying a value: out of memory");
    for (i = 0; i < n; i++)
      if ((rc = copy_rec(a, &src->u.array.items[i], &dst->u.array.items[i], depth + 1, err)) != 0)
        return rc;
    return 0;
  case TARN_AVRO_MAP:
    n = src->u.map.count;
    if (n == 0)
      return 0;
    dst->u.map.entries = tarn_avro_kvs_new(a, n);
    if (dst->u.map.entries == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "avro: copying a value: out of memory");
    for (i = 0; i < n; i++) {
      tarn_avro_kv *d = &dst->u.map.entries[i];
      const tarn_avro_kv *s = &src->u.map.entries[i];
      d->key_len = s->key_len;
      d->key = tarn_avro_arena_strndup(a, s->key, s->key_len);
      if (d->key == NULL)
        return tarn_error_set(err, TARN_ENOMEM, "avro: copying a value: out of memory");
      if ((rc = copy_rec(a, &s->value, &d->value, depth + 1, err)) != 0)
        return rc;
    }
    return 0;
  default: return 0;
  }
}

int tarn_avro_value_copy(tarn_avro_arena *a, const tarn_avro_value *src, tarn_avro_value *dst,
                         tarn_error *err) {
  return copy_rec(a, src, dst, 0, err);
}

int tarn__avro_value_equal(const tarn_avro_value *a, const tarn_avro_value *b) {
  size_t i;
  if (a->type != b->type)
    return 0;
  switch ((tarn_avro_type)a->type) {
  case TARN_AVRO_BOOLEAN: return a->u.b == b->u.b;
  case TARN_AVRO_INT:
  case TARN_AVRO_ENUM: return a->u.i == b->u.i;
  case TARN_AVRO_LONG: return a->u.l == b->u.l;
  case TARN_AVRO_FLOAT:
    /* bit for bit on purpose: a value read back equals the value written, NaN and -0.0
     * included, which == would not say */
    // NOLINTNEXTLINE(bugprone-suspicious-memory-comparison)
    return memcmp(&a->u.f, &b->u.f, sizeof(float)) == 0;
  case TARN_AVRO_DOUBLE:
    // NOLINTNEXTLINE(bugprone-suspicious-memory-comparison)
    return memcmp(&a->u.d, &b->u.d, sizeof(double)) == 0;
  case TARN_AVRO_STRING:
  case TARN_AVRO_BYTES:
  case TARN_AVRO_FIXED:
    return a->u.bytes.len == b->u.bytes.len &&
           (a->u.bytes.len == 0 || memcmp(a->u.bytes.p, b->u.bytes.p, a->u.bytes.len) == 0);
  case TARN_AVRO_ARRAY:
  case TARN_AVRO_RECORD:
    if (a->u.array.count != b->u.array.count)
      return 0;
    for (i = 0; i < a->u.array.count; i++)
      if (!tarn__avro_value_equal(&a->u.array.items[i], &b->u.array.items[i]))
        return 0;
    return 1;
  case TARN_AVRO_MAP:
    if (a->u.map.count != b->u.map.count)
      return 0;
    for (i = 0; i < a->u.map.count; i++) {
      const tarn_avro_kv *x = &a->u.map.entries[i], *y = &b->u.map.entries[i];
      if (x->key_len != y->key_len || (x->key_len && memcmp(x->key, y->key, x->key_len) != 0) ||
          !tarn__avro_value_equal(&x->value, &y->value))
        return 0;
    }
    return 1;
  default: return 1;
  }
}
