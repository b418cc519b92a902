/* action_log_rows.c - the read API's JSON form of an action-log row. */
#include "action_log_int.h"

#include <string.h>

#include "base/buf.h"
#include "base/clock.h"

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 when it is not one. */
static size_t utf8_seq(const unsigned char *p, size_t n) {
  size_t len, i;
  uint32_t cp;
  if (p[0] < 0x80)
    return 1;
  len = p[0] >= 0xc2 && p[0] <= 0xdf   ? 2
        : p[0] >= 0xe0 && p[0] <= 0xef ? 3
        : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4
                                       : 0;
  if (len == 0 || len > n)
    return 0;
  cp = p[0] & (0x7f >> len);
  for (i = 1; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (p[i] & 0x3f);
  }
  if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
      (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
    return 0;
  return len;
}

/* A JSON string of bytes that should be UTF-8; invalid sequences become U+FFFD, so that
 * a row written by hand with other bytes still reads. */
static json_t *text_json(const char *p, size_t n) {
  json_t *j = json_stringn(p, n);
  tarn_buf b;
  size_t i = 0;
  if (j != NULL)
    return j;
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  while (i < n) {
    size_t k = utf8_seq((const unsigned char *)p + i, n - i);
    if (k == 0 ? tarn_buf_append(&b, "\xef\xbf\xbd", 3, NULL) != 0
               : tarn_buf_append(&b, p + i, k, NULL) != 0) {
      tarn_buf_free(&b);
      return NULL;
    }
    i += k == 0 ? 1 : k;
  }
  j = json_stringn(b.len ? (const char *)b.data : "", b.len);
  tarn_buf_free(&b);
  return j;
}

/* The sink stores parameters, previous_state and new_state as JSON text: answer the value.
 * Text that is not JSON (not written by the sink) is answered as a string. */
static json_t *json_text(const char *p, size_t n) {
  json_t *j = json_loadb(p, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
  return j != NULL ? j : text_json(p, n);
}

static json_t *value_json(const tarn_ice_field *f, const tarn_ice_value *v) {
  char iso[TARN_TIME_ISO_MAX];
  if (v->is_null)
    return json_null();
  switch (f->type.id) {
  case TARN_ICE_LONG:
  case TARN_ICE_INT: return json_integer((json_int_t)v->i64);
  case TARN_ICE_TIMESTAMPTZ:
  case TARN_ICE_TIMESTAMP:
    return json_string(tarn_time_iso8601(v->i64, v->i64 % 1000 == 0 ? 3 : 6, iso, sizeof(iso)));
  case TARN_ICE_STRING:
    if (f->id == TARN_AL_PARAMETERS + 1 || f->id == TARN_AL_PREVIOUS_STATE + 1 ||
        f->id == TARN_AL_NEW_STATE + 1)
      return json_text((const char *)v->bytes, v->len);
    return text_json((const char *)v->bytes, v->len);
  default: return json_null(); /* not a type of the layout (tarn_action_log_check) */
  }
}

json_t *tarn__al_row_json(const tarn_table_batch *b, int64_t i) {
  json_t *o = json_object();
  size_t k;
  for (k = 0; o != NULL && k < b->ncols; k++) {
    const tarn_ice_field *f = &b->fields[k];
    tarn_ice_value v;
    tarn_ice_value_from_array(&f->type, &b->layout[k], &b->cols[k], i, &v);
    if (json_object_set_new(o, f->name, value_json(f, &v)) != 0) {
      json_decref(o);
      o = NULL;
    }
  }
  return o;
}
