/* envelope.c - decoding and validating action-audit events.
 *
 * A one-pass JSON reader made for this envelope: it validates the whole value (RFC 8259:
 * grammar, UTF-8, escapes, no \u0000, nesting at most 512 deep), unescapes the string
 * fields straight into the batch's arena and copies the three JSON fields without their
 * insignificant whitespace, with no tree and no allocation per record. A general JSON
 * library builds a tree of every value and then serializes three of them again; that was
 * four times slower and the sink's bottleneck. */
#include "envelope.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "action_log.h"

/* 9999-12-31T23:59:59.999Z: applied_at (microseconds) stays far from int64 overflow. */
#define MAX_APPLIED_AT_MS INT64_C(253402300799999)
#define MAX_DEPTH 512

static const char *const reason_names[TARN_SINK_NREASONS] = {
    "not_json", "not_object", "missing_field", "wrong_type", "bad_value", "null_value",
};

const char *tarn_sink_reason_name(tarn_sink_reason r) {
  return (unsigned)r < TARN_SINK_NREASONS ? reason_names[r] : "unknown";
}

typedef enum kind { REQ_STR, OPT_STR, OPT_STR_EMPTY_NULL, REQ_MS, JSON_TEXT } kind;

/* The envelope's fields; the index is the bit in the `seen` mask. */
static const struct {
  int col;
  kind k;
} fields[] = {
    {TARN_AL_EVENT_ID, REQ_STR},
    {TARN_AL_ACTION_TYPE_ID, REQ_STR},
    {TARN_AL_ACTION_NAME, REQ_STR},
    {TARN_AL_OBJECT_TYPE_ID, REQ_STR},
    {TARN_AL_OBJECT_ID, OPT_STR_EMPTY_NULL},
    {TARN_AL_TENANT, REQ_STR},
    {TARN_AL_ACTOR_SUB, REQ_STR},
    {TARN_AL_ACTOR_EMAIL, OPT_STR},
    {TARN_AL_ORGANIZATION_ID, OPT_STR_EMPTY_NULL},
    {TARN_AL_STATUS, REQ_STR},
    {TARN_AL_TARGET_CLASSIFICATION, OPT_STR},
    {TARN_AL_APPLIED_AT_MS, REQ_MS},
    {TARN_AL_PARAMETERS, JSON_TEXT},
    {TARN_AL_PREVIOUS_STATE, JSON_TEXT},
    {TARN_AL_NEW_STATE, JSON_TEXT},
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

/* ---- the reader ---- */

typedef struct jr {
  const uint8_t *p, *start, *end;
  const char *syntax; /* the first syntax error, or NULL */
  const uint8_t *at;  /* where it is */
  int depth;
  tarn_buf *out; /* where string bytes and copied values go (NULL: validate only) */
  int oom;
  uint8_t key[48]; /* a key being read (keys longer than this match no field) */
  size_t key_len;
  int in_key, key_long;
  int ws; /* skip_ws passed over whitespace */
} jr;

static int bad(jr *j, const char *what) {
  if (j->syntax == NULL) {
    j->syntax = what;
    j->at = j->p;
  }
  return -1;
}

/* emit's rarer cases: into the key, or growing the arena. */
static int emit_slow(jr *j, const void *p, size_t n) {
  if (j->in_key) {
    if (j->key_len + n > sizeof(j->key))
      j->key_long = 1;
    else
      memcpy(j->key + j->key_len, p, n);
    j->key_len += n;
    return 0;
  }
  if (tarn_buf_append(j->out, p, n, NULL) != 0) {
    j->oom = 1;
    return -1;
  }
  return 0;
}

/* Bytes to the output: the arena (reserved ahead, the common case), the key being read,
 * or nowhere (validating only). */
static inline int emit(jr *j, const void *p, size_t n) {
  tarn_buf *o = j->out;
  if (!j->in_key) {
    if (o == NULL)
      return 0;
    if (o->len + n <= o->cap) {
      memcpy(o->data + o->len, p, n);
      o->len += n;
      return 0;
    }
  }
  return emit_slow(j, p, n);
}

static inline void skip_ws(jr *j) {
  const uint8_t *p = j->p;
  if (p<j->end && * p> ' ')
    return; /* compact JSON: nothing to skip */
  while (p < j->end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  j->ws |= p != j->p;
  j->p = p;
}

static int hex4(jr *j, unsigned *v) {
  int i;
  *v = 0;
  if (j->end - j->p < 4)
    return bad(j, "truncated \\u escape");
  for (i = 0; i < 4; i++) {
    uint8_t c = *j->p++;
    *v <<= 4;
    if (c >= '0' && c <= '9')
      *v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
      *v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      *v |= (unsigned)(c - 'A' + 10);
    else
      return bad(j, "invalid \\u escape");
  }
  return 0;
}

static int emit_utf8(jr *j, unsigned cp) {
  uint8_t b[4];
  size_t n;
  if (cp < 0x80) {
    b[0] = (uint8_t)cp;
    n = 1;
  } else if (cp < 0x800) {
    b[0] = (uint8_t)(0xC0 | (cp >> 6));
    b[1] = (uint8_t)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    b[0] = (uint8_t)(0xE0 | (cp >> 12));
    b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    b[2] = (uint8_t)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    b[0] = (uint8_t)(0xF0 | (cp >> 18));
    b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    b[3] = (uint8_t)(0x80 | (cp & 0x3F));
    n = 4;
  }
  return emit(j, b, n);
}

/* One escape after the backslash; unescaped into out when `unescape`, else copied. */
static int escape(jr *j, int unescape) {
  const uint8_t *from = j->p - 1;
  unsigned cp, lo;
  uint8_t c;
  if (j->p >= j->end)
    return bad(j, "truncated escape");
  c = *j->p++;
  switch (c) {
  case '"':
  case '\\':
  case '/': cp = c; break;
  case 'b': cp = '\b'; break;
  case 'f': cp = '\f'; break;
  case 'n': cp = '\n'; break;
  case 'r': cp = '\r'; break;
  case 't': cp = '\t'; break;
  case 'u':
    if (hex4(j, &cp) != 0)
      return -1;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
      return bad(j, "lone low surrogate in \\u escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
        return bad(j, "lone high surrogate in \\u escape");
      j->p += 2;
      if (hex4(j, &lo) != 0)
        return -1;
      if (lo < 0xDC00 || lo > 0xDFFF)
        return bad(j, "invalid surrogate pair in \\u escape");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    if (cp == 0)
      return bad(j, "\\u0000 is not allowed");
    break;
  default: j->p--; return bad(j, "invalid escape");
  }
  return unescape ? emit_utf8(j, cp) : emit(j, from, (size_t)(j->p - from));
}

/* Length of the UTF-8 sequence at p (valid, shortest form, no surrogates), 0 if invalid. */
static size_t utf8_len(const uint8_t *p, const uint8_t *end) {
  uint8_t c = p[0];
  size_t n, i;
  unsigned cp;
  if (c < 0xC2 || c > 0xF4)
    return 0;
  n = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  if ((size_t)(end - p) < n)
    return 0;
  cp = c & (0x7F >> n);
  for (i = 1; i < n; i++) {
    if ((p[i] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
      (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
    return 0;
  return n;
}

/* Bytes a string's scan stops at: '"', '\\', control characters, and UTF-8 lead and
 * continuation bytes (checked apart). */
static const uint8_t special[256] = {
    [0 ... 0x1F] = 1,
    ['"'] = 1,
    ['\\'] = 1,
    [0x80 ... 0xFF] = 1,
};

/* Eight bytes at a time: non-zero when any of them may be special (a quote, a backslash,
 * a control character, or not ASCII). With every byte below 0x80, a byte of x below 0x20,
 * or a zero byte of x ^ '"' or of x ^ '\\', borrows in its subtraction and sets its top
 * bit, and no other byte can; a false alarm (a borrow running on from such a byte) only
 * sends the word the slow way. */
static int word_special(const uint8_t *p) {
  const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
  uint64_t x;
  memcpy(&x, p, 8);
  if (x & high)
    return 1;
  return (((x - ones * 0x20) | ((x ^ (ones * '"')) - ones) | ((x ^ (ones * '\\')) - ones)) &
          high) != 0;
}

/* A string at '"'. Its content goes to out unescaped (`unescape`) or as written, quotes
 * included (a copied JSON value). Plain text is passed over a word, then a byte, at a
 * time and emitted as one run. */
static int string(jr *j, int unescape) {
  const uint8_t *p = j->p + 1, *end = j->end;
  const uint8_t *run = unescape ? p : j->p; /* as written: the opening quote too */
  for (;;) {
    uint8_t c;
    while (end - p >= 8 && !word_special(p))
      p += 8;
    while (p < end && !special[*p])
      p++;
    if (p >= end) {
      j->p = p;
      return bad(j, "unterminated string");
    }
    c = *p;
    if (c == '"')
      break;
    j->p = p;
    if (c < 0x20)
      return bad(j, "control character in string");
    if (emit(j, run, (size_t)(p - run)) != 0)
      return -1;
    if (c == '\\') {
      j->p++;
      if (escape(j, unescape) != 0)
        return -1;
    } else {
      size_t n = utf8_len(j->p, end);
      if (n == 0)
        return bad(j, "invalid UTF-8");
      if (emit(j, j->p, n) != 0)
        return -1;
      j->p += n;
    }
    p = run = j->p;
  }
  j->p = p + 1;
  return emit(j, run, (size_t)(unescape ? p - run : p + 1 - run));
}

/* A number; *is_int and *v (when it is an integer within int64). */
static int number(jr *j, int *is_int, int64_t *v, int *overflow) {
  const uint8_t *s = j->p;
  int neg = 0;
  uint64_t acc = 0;
  *is_int = 1;
  *overflow = 0;
  if (j->p < j->end && *j->p == '-') {
    neg = 1;
    j->p++;
  }
  if (j->p >= j->end || *j->p < '0' || *j->p > '9')
    return bad(j, "invalid number");
  if (*j->p == '0')
    j->p++;
  else
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
      unsigned d = (unsigned)(*j->p++ - '0');
      if (acc > (UINT64_MAX - d) / 10)
        *overflow = 1;
      else
        acc = acc * 10 + d;
    }
  if (j->p < j->end && *j->p == '.') {
    *is_int = 0;
    j->p++;
    if (j->p >= j->end || *j->p < '0' || *j->p > '9')
      return bad(j, "invalid number");
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
      j->p++;
  }
  if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
    *is_int = 0;
    j->p++;
    if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
      j->p++;
    if (j->p >= j->end || *j->p < '0' || *j->p > '9')
      return bad(j, "invalid number");
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
      j->p++;
  }
  if (acc > (uint64_t)INT64_MAX + (uint64_t)neg)
    *overflow = 1;
  *v = *overflow ? 0 : neg ? (int64_t)(0 - acc) : (int64_t)acc;
  return emit(j, s, (size_t)(j->p - s));
}

static int literal(jr *j, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
    return bad(j, "invalid literal");
  j->p += n;
  return emit(j, word, n);
}

static int value(jr *j);

static int container(jr *j, uint8_t close) {
  int first = 1;
  if (++j->depth > MAX_DEPTH)
    return bad(j, "nested too deeply");
  if (emit(j, j->p, 1) != 0)
    return -1;
  j->p++;
  for (;;) {
    skip_ws(j);
    if (j->p < j->end && *j->p == close && first)
      break;
    if (!first) {
      if (j->p < j->end && *j->p == close)
        break;
      if (j->p >= j->end || *j->p != ',')
        return bad(j, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
      if (emit(j, ",", 1) != 0)
        return -1;
      j->p++;
      skip_ws(j);
    }
    first = 0;
    if (close == '}') {
      if (j->p >= j->end || *j->p != '"')
        return bad(j, "expected a string key");
      if (string(j, 0) != 0)
        return -1;
      skip_ws(j);
      if (j->p >= j->end || *j->p != ':')
        return bad(j, "expected ':'");
      if (emit(j, ":", 1) != 0)
        return -1;
      j->p++;
      skip_ws(j);
    }
    if (value(j) != 0)
      return -1;
  }
  j->p++;
  j->depth--;
  return emit(j, &close, 1);
}

/* Any value, validated and copied to out without whitespace. */
static int value(jr *j) {
  int is_int, overflow;
  int64_t v;
  if (j->p >= j->end)
    return bad(j, "unexpected end of input");
  switch (*j->p) {
  case '{': return container(j, '}');
  case '[': return container(j, ']');
  case '"': return string(j, 0);
  case 't': return literal(j, "true");
  case 'f': return literal(j, "false");
  case 'n': return literal(j, "null");
  default: return number(j, &is_int, &v, &overflow);
  }
}

/* ---- the envelope ---- */

typedef struct dec {
  tarn_sink_rows *rows;
  tarn_sink_cell *cells;
  tarn_sink_reason reason; /* the first field problem (checked after the syntax) */
  char detail[200];
  int has_problem;
  uint32_t seen;
} dec;

static void problem(dec *d, tarn_sink_reason r, const char *fmt, const char *name) {
  if (d->has_problem)
    return;
  d->has_problem = 1;
  d->reason = r;
  snprintf(d->detail, sizeof(d->detail), fmt, name);
}

/* What the value at p is, for messages: "an integer" and "a number" apart. */
static const char *kind_at(const uint8_t *p, const uint8_t *end) {
  const uint8_t *q;
  switch (*p) {
  case '{': return "an object";
  case '[': return "an array";
  case '"': return "a string";
  case 't':
  case 'f': return "a boolean";
  case 'n': return "null";
  default:
    for (q = p; q < end && (*q == '-' || (*q >= '0' && *q <= '9')); q++)
      ;
    return q < end && (*q == '.' || *q == 'e' || *q == 'E') ? "a number" : "an integer";
  }
}

/* Records a wrong-type problem: "field "X" is <what it is>, not <what it must be>". */
static void wrong_type(dec *d, const char *name, const uint8_t *p, const uint8_t *end,
                       const char *want) {
  char fmt[128];
  snprintf(fmt, sizeof(fmt), "field \"%%s\" is %s, not %s", kind_at(p, end), want);
  problem(d, TARN_SINK_WRONG_TYPE, fmt, name);
}

static int find_field(const uint8_t *key, size_t n) {
  /* the names' lengths, filled on first use (by any thread: the same values) */
  static _Atomic size_t len[NFIELDS];
  size_t i;
  if (n == 0)
    return -1;
  for (i = 0; i < NFIELDS; i++) {
    const char *name = tarn_action_log_names[fields[i].col];
    size_t l = atomic_load_explicit(&len[i], memory_order_relaxed);
    if (l == 0) {
      l = strlen(name);
      atomic_store_explicit(&len[i], l, memory_order_relaxed);
    }
    if (l == n && name[0] == key[0] && memcmp(name, key, n) == 0)
      return (int)i;
  }
  return -1;
}

/* The value of a known field, into its cell. */
static int field_value(jr *j, dec *d, int f) {
  const char *name = tarn_action_log_names[fields[f].col];
  tarn_sink_cell *c = &d->cells[fields[f].col];
  kind k = fields[f].k;
  tarn_buf *arena = &d->rows->arena;
  size_t at = arena->len;
  uint8_t first = *j->p;
  int is_int, overflow;
  int64_t v;
  if (first == 'n') { /* null: absent */
    j->out = NULL;
    if (k == REQ_STR || k == REQ_MS) /* present, of the wrong type (as JSON Schema says) */
      problem(d, TARN_SINK_WRONG_TYPE,
              k == REQ_MS ? "required field \"%s\" is null, not an integer"
                          : "required field \"%s\" is null, not a string",
              name);
    return literal(j, "null");
  }
  if (k == JSON_TEXT) {
    /* Validated first; a value written without insignificant whitespace (what
     * producers send) is then copied whole, others again without it. */
    const uint8_t *from = j->p;
    j->out = NULL;
    j->ws = 0;
    if (value(j) != 0)
      return -1;
    j->out = arena;
    if (!j->ws) {
      if (emit(j, from, (size_t)(j->p - from)) != 0)
        return -1;
    } else {
      j->p = from;
      if (value(j) != 0)
        return -1;
    }
    c->v = (int64_t)at;
    c->len = (uint32_t)(arena->len - at);
    c->null = 0;
    return 0;
  }
  if (k == REQ_MS) {
    j->out = NULL;
    if (first == '-' || (first >= '0' && first <= '9')) {
      const uint8_t *num_at = j->p;
      if (number(j, &is_int, &v, &overflow) != 0)
        return -1;
      if (!is_int)
        wrong_type(d, name, num_at, j->end, "an integer");
      else if (overflow || v <= 0 || v > MAX_APPLIED_AT_MS)
        problem(d, TARN_SINK_BAD_VALUE,
                overflow ? (*num_at == '-' ? "field \"%s\" is not positive"
                                           : "field \"%s\" is past year 9999 (at most "
                                             "253402300799999)")
                : v <= 0 ? "field \"%s\" is not positive"
                         : "field \"%s\" is past year 9999 (at most 253402300799999)",
                name);
      else {
        tarn_sink_cell_int(c, v);
        tarn_sink_cell_int(&d->cells[TARN_AL_APPLIED_AT], v * 1000);
      }
      return 0;
    }
    wrong_type(d, name, j->p, j->end, "an integer");
    return value(j);
  }
  if (first != '"') {
    j->out = NULL;
    wrong_type(d, name, j->p, j->end, "a string");
    return value(j);
  }
  j->out = arena;
  if (string(j, 1) != 0)
    return -1;
  if (arena->len == at) { /* "" */
    if (k == REQ_STR)
      problem(d, TARN_SINK_BAD_VALUE, "required field \"%s\" is an empty string", name);
    if (k != OPT_STR)
      return 0;
  }
  if (arena->len - at > UINT32_MAX)
    return bad(j, "string too long");
  c->v = (int64_t)at;
  c->len = (uint32_t)(arena->len - at);
  c->null = 0;
  return 0;
}

/* One "key": value of the top-level object. */
static int member(jr *j, dec *d) {
  int f = -1, rc;
  if (j->p >= j->end || *j->p != '"')
    return bad(j, "expected a string key");
  j->in_key = 1;
  j->key_len = 0;
  j->key_long = 0;
  rc = string(j, 1);
  j->in_key = 0;
  if (rc != 0)
    return -1;
  if (!j->key_long)
    f = find_field(j->key, j->key_len);
  skip_ws(j);
  if (j->p >= j->end || *j->p != ':')
    return bad(j, "expected ':'");
  j->p++;
  skip_ws(j);
  if (j->p >= j->end)
    return bad(j, "unexpected end of input");
  if (f < 0) {
    j->out = NULL;
    return value(j); /* unknown keys are ignored */
  }
  if (d->seen & (1u << f)) {
    problem(d, TARN_SINK_BAD_VALUE, "duplicate key \"%s\"", tarn_action_log_names[fields[f].col]);
    j->out = NULL;
    return value(j);
  }
  d->seen |= 1u << f;
  return field_value(j, d, f);
}

static int object(jr *j, dec *d) {
  j->p++;
  j->depth = 1;
  skip_ws(j);
  if (j->p < j->end && *j->p == '}') {
    j->p++;
    return 0;
  }
  for (;;) {
    skip_ws(j);
    if (member(j, d) != 0)
      return -1;
    skip_ws(j);
    if (j->p < j->end && *j->p == '}') {
      j->p++;
      return 0;
    }
    if (j->p >= j->end || *j->p != ',')
      return bad(j, "expected ',' or '}'");
    j->p++;
  }
}

static void syntax_detail(const jr *j, char *detail, size_t dlen) {
  const uint8_t *q;
  int line = 1, col = 1;
  for (q = j->start; q < j->at; q++) {
    if (*q == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  snprintf(detail, dlen, "%s at byte %lld (line %d, column %d)", j->syntax,
           (long long)(j->at - j->start), line, col);
}

/* The first byte of the value, past leading whitespace. */
static const uint8_t *first_byte(const jr *j) {
  const uint8_t *p = j->start;
  while (p < j->end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  return p;
}

static void check_required(dec *d) {
  size_t i;
  for (i = 0; i < NFIELDS; i++)
    if ((fields[i].k == REQ_STR || fields[i].k == REQ_MS) && !(d->seen & (1u << i)))
      problem(d, TARN_SINK_MISSING_FIELD, "required field \"%s\" is absent",
              tarn_action_log_names[fields[i].col]);
}

int tarn_sink_decode(tarn_sink_rows *rows, const void *value_p, size_t len,
                     tarn_sink_reason *reason, char *detail, size_t dlen, tarn_error *err) {
  jr j;
  dec d;
  size_t arena_at = rows->arena.len;
  int rc = 0;
  detail[0] = '\0';
  if (value_p == NULL) {
    *reason = TARN_SINK_NULL_VALUE;
    snprintf(detail, dlen, "the record has no value");
    return TARN_EINVAL;
  }
  memset(&j, 0, sizeof(j));
  memset(&d, 0, sizeof(d));
  /* what a record stores is never longer than the record: reserve it once */
  if (tarn_buf_reserve(&rows->arena, len, err) != 0)
    return TARN_ENOMEM;
  j.p = j.start = value_p;
  j.end = j.p + len;
  d.rows = rows;
  skip_ws(&j);
  if (j.p < j.end && *j.p == '{') {
    d.cells = tarn_sink_rows_add(rows, err);
    if (d.cells == NULL)
      return TARN_ENOMEM;
    object(&j, &d);
  } else {
    if (j.p < j.end && value(&j) == 0 && !j.oom)
      problem(&d, TARN_SINK_NOT_OBJECT, "the value is %s, not an object",
              kind_at(first_byte(&j), j.end));
    else if (j.p >= j.end)
      bad(&j, "empty value");
  }
  if (j.syntax == NULL && !j.oom) {
    skip_ws(&j);
    if (j.p < j.end)
      bad(&j, "trailing data after the value");
  }
  if (j.oom) {
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory decoding a record of %zu bytes", len);
  } else if (j.syntax != NULL) {
    *reason = TARN_SINK_NOT_JSON;
    syntax_detail(&j, detail, dlen);
    rc = TARN_EINVAL;
  } else {
    if (d.cells != NULL)
      check_required(&d);
    if (d.has_problem) {
      *reason = d.reason;
      snprintf(detail, dlen, "%s", d.detail);
      rc = TARN_EINVAL;
    }
  }
  if (rc != 0 && d.cells != NULL) {
    tarn_sink_rows_drop_last(rows);
    rows->arena.len = arena_at; /* what the poison record stored goes with it */
  }
  return rc;
}
