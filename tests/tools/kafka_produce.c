/* kafka_produce.c - produces action-audit events (JSON) to Kafka for the sink's end-to-end
 * tests and benchmark: deterministic events, poison records of known kinds, an NDJSON copy
 * of every good event, an idempotent producer that waits for every delivery report.
 *
 * Usage: kafka_produce --bootstrap B [--topic T] --count N [--start K] [--id-prefix P]
 *          [--poison-every M] [--partitions-by key|roundrobin] [--tenants K] [--days D]
 *          [--base-ms MS] [--seed S] [--ndjson-out PATH] [--from-ndjson PATH]
 *          [--rate EVENTS_PER_SEC] [-X librdkafka.property=value]...
 *
 * Event i (start <= i < start + count) depends only on the seed, i, the prefix, --tenants,
 * --days and --base-ms: a run with --start K produces the same events as the tail of a
 * longer run. With --poison-every M, event i with i % M == M - 1 is a poison record
 * instead; poison number p = i / M has kind p % 6 in the order not_json, not_object,
 * missing_field, wrong_type, bad_value, null_value, and variant p / 6 within its kind
 * (see poison()). Poison records keep the key of the event they replace.
 *
 * stdout: one line `produced=N good=G poison=P bytes=B` (N delivered records, B value
 * bytes). stderr: `poison kind=K count=C` for the six kinds, then the rate. Exit 0 when
 * every record was delivered, 1 when any failed (or on an I/O error), 2 on bad
 * arguments. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#define DAY_MS 86400000LL
#define MAX_PREFIX 64 /* keeps every event far below the buffer sizes below */
#define SEG_CAP 1024  /* one "key":value segment */
#define EVENT_CAP 8192
#define MAX_X 64

enum { K_NOT_JSON, K_NOT_OBJECT, K_MISSING_FIELD, K_WRONG_TYPE, K_BAD_VALUE, K_NULL_VALUE, K_N };
static const char *const kind_names[K_N] = {"not_json",   "not_object", "missing_field",
                                            "wrong_type", "bad_value",  "null_value"};

/* The envelope's fields in the order a normal event writes them. */
enum {
  F_EVENT_ID,
  F_ACTION_TYPE_ID,
  F_ACTION_NAME,
  F_OBJECT_TYPE_ID,
  F_OBJECT_ID,
  F_TENANT,
  F_ACTOR_SUB,
  F_ACTOR_EMAIL,
  F_ORGANIZATION_ID,
  F_STATUS,
  F_TARGET_CLASSIFICATION,
  F_APPLIED_AT_MS,
  F_PARAMETERS,
  F_PREVIOUS_STATE,
  F_NEW_STATE,
  F_UNKNOWN, /* a key the sink does not know and must ignore */
  F_N
};

/* The fields the sink requires (action_log.h), in the order missing_field, wrong_type
 * and bad_value cycle through them. */
static const int required[] = {F_EVENT_ID,  F_TENANT,      F_APPLIED_AT_MS,  F_STATUS,
                               F_ACTOR_SUB, F_ACTION_NAME, F_ACTION_TYPE_ID, F_OBJECT_TYPE_ID};
#define NREQUIRED ((int)(sizeof(required) / sizeof(required[0])))

static const struct {
  const char *id, *name, *object_type;
} actions[] = {
    {"act.order.create", "Create order", "ot.order"},
    {"act.order.cancel", "Cancel order", "ot.order"},
    {"act.invoice.approve", "Approve invoice", "ot.invoice"},
    {"act.invoice.reject", "Reject invoice", "ot.invoice"},
    {"act.customer.update", "Update customer", "ot.customer"},
    {"act.customer.merge", "Merge customers", "ot.customer"},
    {"act.shipment.dispatch", "Dispatch shipment", "ot.shipment"},
    {"act.shipment.hold", "Hold shipment", "ot.shipment"},
    {"act.contract.sign", "Sign contract", "ot.contract"},
    {"act.ticket.escalate", "Escalate ticket", "ot.ticket"},
    {"act.ticket.close", "Close ticket", "ot.ticket"},
    {"act.report.export", "Export report", "ot.report"},
};
#define NACTIONS ((uint64_t)(sizeof(actions) / sizeof(actions[0])))

static const char *const classifications[] = {"public", "internal", "confidential", "restricted"};
static const char *const new_states[] = {"approved", "rejected", "pending", "done", "open"};

typedef struct opts {
  const char *bootstrap, *topic, *prefix, *ndjson_out, *from_ndjson;
  char prefix_json[MAX_PREFIX * 6 + 3]; /* the prefix as a JSON string, without quotes */
  size_t prefix_json_len;
  uint64_t count, start, poison_every, seed;
  int have_count, have_start, roundrobin, tenants, days;
  int64_t base_ms;
  double rate;
  const char *x[MAX_X];
  int nx;
} opts;

/* A bounded output buffer; a write past cap sets overflow and writes nothing more. */
typedef struct sbuf {
  char *p;
  size_t len, cap;
  int overflow;
} sbuf;

static void put(sbuf *b, const char *s, size_t n) {
  if (b->overflow || n > b->cap - b->len) {
    b->overflow = 1;
    return;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
}

static void puts_(sbuf *b, const char *s) { put(b, s, strlen(s)); }

static void put_u64(sbuf *b, uint64_t v) {
  char tmp[24];
  int n = 0;
  do
    tmp[sizeof(tmp) - 1 - n++] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  put(b, tmp + sizeof(tmp) - n, (size_t)n);
}

static void put_i64(sbuf *b, int64_t v) {
  if (v < 0) {
    put(b, "-", 1);
    put_u64(b, (uint64_t)0 - (uint64_t)v);
  } else {
    put_u64(b, (uint64_t)v);
  }
}

/* s as a JSON string: quotes, backslashes and control characters escaped; runs of plain
 * bytes are copied at once (this tool must stay fast in a -O0 build too). */
static void put_jstr(sbuf *b, const char *s) {
  static const char hex[] = "0123456789abcdef";
  put(b, "\"", 1);
  for (;;) {
    size_t run = 0;
    unsigned char c;
    while ((c = (unsigned char)s[run]) >= 0x20 && c != '"' && c != '\\')
      run++;
    put(b, s, run);
    s += run;
    if (c == '\0')
      break;
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      put(b, e, 2);
    } else {
      char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      put(b, e, 6);
    }
    s++;
  }
  put(b, "\"", 1);
}

/* A string of our own tables, which need no escaping, quoted. */
static void put_q(sbuf *b, const char *s) {
  size_t n = strlen(s);
  if (b->overflow || n + 2 > b->cap - b->len) {
    b->overflow = 1;
    return;
  }
  b->p[b->len] = '"';
  memcpy(b->p + b->len + 1, s, n);
  b->p[b->len + 1 + n] = '"';
  b->len += n + 2;
}

/* splitmix64: each event's numbers come from its own stream, seeded by (seed, i). */
static uint64_t mix(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

typedef struct event {
  char segbuf[F_N][SEG_CAP];
  sbuf seg[F_N]; /* `"key":value`, empty when the field is absent */
  char key[128];
  size_t keylen;
  int64_t applied_at_ms;
  uint64_t rnd; /* what poison() draws its variants from */
  int reverse;  /* write the fields in reverse order */
} event;

static sbuf *seg_begin(event *e, int f, const char *name) {
  sbuf *b = &e->seg[f];
  b->len = 0;
  b->overflow = 0;
  put(b, "\"", 1);
  puts_(b, name);
  put(b, "\":", 2);
  return b;
}

static void seg_clear(event *e, int f) { e->seg[f].len = 0; }

static const char *const field_names[F_N] = {"event_id",
                                             "action_type_id",
                                             "action_name",
                                             "object_type_id",
                                             "object_id",
                                             "tenant",
                                             "actor_sub",
                                             "actor_email",
                                             "organization_id",
                                             "status",
                                             "target_classification",
                                             "applied_at_ms",
                                             "parameters",
                                             "previous_state",
                                             "new_state",
                                             "x_trace"};

/* Builds good event i into e's segments. */
static void make_event(const opts *o, uint64_t i, event *e) {
  uint64_t s = o->seed * 0xd1342543de82ef95ull ^ (i + 1) * 0x9e3779b97f4a7c15ull;
  uint64_t r1, r2, r3, r4;
  sbuf *b;
  unsigned act, user, v;

  mix(&s); /* decorrelate neighbouring seeds */
  r1 = mix(&s);
  r2 = mix(&s);
  r3 = mix(&s);
  r4 = mix(&s);
  e->rnd = mix(&s);
  act = (unsigned)(r1 % NACTIONS);
  user = (unsigned)((r1 >> 8) % 500);
  v = (unsigned)((r1 >> 20) % 50);
  e->reverse = (r1 >> 30) % 8 == 0;

  b = seg_begin(e, F_EVENT_ID, field_names[F_EVENT_ID]);
  put(b, "\"", 1);
  put(b, o->prefix_json, o->prefix_json_len); /* escaped once, in parse_args */
  put(b, "-", 1);
  put_u64(b, i);
  put(b, "\"", 1);

  b = seg_begin(e, F_ACTION_TYPE_ID, field_names[F_ACTION_TYPE_ID]);
  put_q(b, actions[act].id);
  b = seg_begin(e, F_ACTION_NAME, field_names[F_ACTION_NAME]);
  put_q(b, actions[act].name);
  b = seg_begin(e, F_OBJECT_TYPE_ID, field_names[F_OBJECT_TYPE_ID]);
  put_q(b, actions[act].object_type);

  b = seg_begin(e, F_OBJECT_ID, field_names[F_OBJECT_ID]);
  if ((r2 & 15) < 2) { /* 1/8: "" (the envelope's way of saying absent) */
    put(b, "\"\"", 2);
    snprintf(e->key, sizeof(e->key), "%s", actions[act].id);
  } else {
    snprintf(e->key, sizeof(e->key), "obj-%05x", (unsigned)((r2 >> 4) % 0x40000));
    put_q(b, e->key);
  }
  e->keylen = strlen(e->key);

  b = seg_begin(e, F_TENANT, field_names[F_TENANT]);
  put(b, "\"t", 2);
  put_u64(b, (r2 >> 24) % (uint64_t)o->tenants);
  put(b, "\"", 1);

  b = seg_begin(e, F_ACTOR_SUB, field_names[F_ACTOR_SUB]);
  put(b, "\"user-", 6);
  put_u64(b, user);
  put(b, "\"", 1);

  if ((r2 >> 40) % 5 == 0) { /* 1/5: no actor_email key at all */
    seg_clear(e, F_ACTOR_EMAIL);
  } else {
    b = seg_begin(e, F_ACTOR_EMAIL, field_names[F_ACTOR_EMAIL]);
    if (user % 50 == 7)
      puts_(b, "\"j\xc3\xbcrgen.m\xc3\xbcller@example.de\"");
    else {
      put(b, "\"user", 5);
      put_u64(b, user);
      puts_(b, "@example.com\"");
    }
  }

  b = seg_begin(e, F_ORGANIZATION_ID, field_names[F_ORGANIZATION_ID]);
  if ((r2 >> 44) % 7 == 0) {
    put(b, "\"\"", 2);
  } else {
    put(b, "\"org-", 5);
    put_u64(b, user % 20);
    put(b, "\"", 1);
  }

  b = seg_begin(e, F_STATUS, field_names[F_STATUS]);
  puts_(b, (r2 >> 48) % 12 == 0 ? "\"failed\"" : "\"applied\"");

  if ((r2 >> 52) % 10 < 3) { /* 3/10: no target_classification key */
    seg_clear(e, F_TARGET_CLASSIFICATION);
  } else {
    b = seg_begin(e, F_TARGET_CLASSIFICATION, field_names[F_TARGET_CLASSIFICATION]);
    put_q(b, classifications[(r2 >> 56) % 4]);
  }

  /* Uniform over [base - days, base): several day partitions, no order. */
  e->applied_at_ms = o->base_ms - 1 - (int64_t)(r3 % (uint64_t)((int64_t)o->days * DAY_MS));
  b = seg_begin(e, F_APPLIED_AT_MS, field_names[F_APPLIED_AT_MS]);
  put_i64(b, e->applied_at_ms);

  /* Nested objects, arrays, numbers, raw UTF-8 and escapes (\", \\, \n, \t, \uXXXX and a
   * surrogate pair): the sink keeps each as compact JSON text. */
  b = seg_begin(e, F_PARAMETERS, field_names[F_PARAMETERS]);
  switch (r4 % 4) {
  case 0:
    puts_(b, "{\"note\":\"Z\xc3\xbcrich \\\"HQ\\\" \xe2\x80\x94 \xe6\x9d\xb1\xe4\xba\xac "
             "\xf0\x9f\x9a\x80\",\"amount\":");
    put_u64(b, (r4 >> 8) % 100000);
    put(b, ".", 1);
    put_u64(b, 10 + (r4 >> 30) % 90);
    puts_(b, ",\"line\":{\"sku\":\"SKU-");
    put_u64(b, (r4 >> 12) % 1000);
    puts_(b, "\",\"qty\":");
    put_u64(b, 1 + (r4 >> 40) % 20);
    puts_(b, "},\"tags\":[\"urgent\",\"\xc3\xbc\"]}");
    break;
  case 1:
    puts_(b, "{\"reason\":\"caf\\u00e9 \\\\ \\\"quoted\\\" \\ud83d\\ude80\",\"retry\":false,"
             "\"limits\":{\"max\":");
    put_u64(b, (r4 >> 8) % 1000);
    puts_(b, ",\"unit\":\"\xe2\x82\xac\"}}");
    break;
  case 2:
    puts_(b, "{\"comment\":\"line one\\nline two\\t\\\"x\\\" \xce\xa9\",\"ids\":[");
    put_u64(b, (r4 >> 8) % 1000);
    put(b, ",", 1);
    put_u64(b, (r4 >> 20) % 1000);
    puts_(b, "],\"nested\":{\"deep\":{\"ok\":true,\"v\":null}}}");
    break;
  default:
    puts_(b, "{\"name\":\"\xce\xa9mega \\\"prime\\\"\",\"n\":");
    put_i64(b, -(int64_t)((r4 >> 8) % 1000));
    puts_(b, ",\"f\":1.5e3}");
    break;
  }

  b = seg_begin(e, F_PREVIOUS_STATE, field_names[F_PREVIOUS_STATE]);
  switch ((r4 >> 50) % 3) {
  case 0: puts_(b, "null"); break;
  case 1:
    puts_(b, "[{\"field\":\"status\",\"from\":\"draft\"},{\"field\":\"version\",\"from\":");
    put_u64(b, v);
    puts_(b, "}]");
    break;
  default:
    puts_(b, "[\"draft\",");
    put_u64(b, v);
    puts_(b, ",true]");
    break;
  }

  b = seg_begin(e, F_NEW_STATE, field_names[F_NEW_STATE]);
  puts_(b, "{\"status\":");
  put_q(b, new_states[(r4 >> 54) % 5]);
  puts_(b, ",\"version\":");
  put_u64(b, v + 1);
  puts_(b, ",\"changed_by\":\"user-");
  put_u64(b, user);
  puts_(b, "\"}");

  b = seg_begin(e, F_UNKNOWN, field_names[F_UNKNOWN]);
  switch ((r4 >> 58) % 5) {
  case 0: puts_(b, "\"ignore me\""); break;
  case 1: put_u64(b, r3 % 100000); break;
  case 2: puts_(b, "{\"span\":\"a1b2\",\"sampled\":[1,2]}"); break;
  case 3: puts_(b, "[\"x\",{\"y\":null}]"); break;
  default: puts_(b, "null"); break;
  }
}

/* Joins e's segments into one JSON object in out. */
static void assemble(const event *e, sbuf *out) {
  int k, first = 1;
  out->len = 0;
  out->overflow = 0;
  put(out, "{", 1);
  for (k = 0; k < F_N; k++) {
    int f = e->reverse ? F_N - 1 - k : k;
    if (e->seg[f].len == 0)
      continue;
    if (e->seg[f].overflow)
      out->overflow = 1;
    if (!first)
      put(out, ",", 1);
    put(out, e->seg[f].p, e->seg[f].len);
    first = 0;
  }
  put(out, "}", 1);
}

/*
 * Turns event i (already built in e) into poison number p = i / M: its kind is p % 6, its
 * variant p / 6 (modulo the kind's variants). Writes the value into out; returns the
 * kind. A null_value record leaves out empty and sets *is_null.
 *   not_json:      the event cut in half; plain text; the event with trailing text; an
 *                  empty (zero-byte, not null) value
 *   not_object:    the event inside an array; 42; a JSON string; the JSON literal null; true
 *   missing_field: one required field's key absent, cycling over `required`
 *   wrong_type:    a required field with a value of the wrong JSON type (cycling:
 *                  event_id 12345, tenant 7, applied_at_ms as a string, status null,
 *                  actor_sub ["x"], action_name true, action_type_id 3, object_type_id {})
 *                  and, as a ninth variant, applied_at_ms with a fraction
 *   bad_value:     right type, value not allowed: applied_at_ms 0 or negative, or one of
 *                  the required strings empty
 */
static int poison(const opts *o, uint64_t i, event *e, sbuf *out, int *is_null) {
  uint64_t p = i / o->poison_every;
  int kind = (int)(p % K_N);
  uint64_t v = p / K_N;
  char tmp[160];
  sbuf *b;
  int f;

  *is_null = 0;
  out->len = 0;
  out->overflow = 0;
  switch (kind) {
  case K_NOT_JSON:
    switch (v % 4) {
    case 0:
      assemble(e, out);
      out->len /= 2; /* a strict prefix of an object is never valid JSON */
      break;
    case 1:
      snprintf(tmp, sizeof(tmp), "this is not json: %s-%" PRIu64, o->prefix, i);
      puts_(out, tmp);
      break;
    case 2:
      assemble(e, out);
      puts_(out, " trailing");
      break;
    default: break; /* zero bytes */
    }
    break;
  case K_NOT_OBJECT:
    switch (v % 5) {
    case 0: {
      char inner[EVENT_CAP];
      sbuf ib = {inner, 0, sizeof(inner), 0};
      assemble(e, &ib);
      put(out, "[", 1);
      put(out, inner, ib.len);
      put(out, "]", 1);
      out->overflow |= ib.overflow;
      break;
    }
    case 1: puts_(out, "42"); break;
    case 2: puts_(out, "\"just a string\""); break;
    case 3: puts_(out, "null"); break;
    default: puts_(out, "true"); break;
    }
    break;
  case K_MISSING_FIELD:
    seg_clear(e, required[v % NREQUIRED]);
    assemble(e, out);
    break;
  case K_WRONG_TYPE:
    f = v % (NREQUIRED + 1) == NREQUIRED ? -1 : required[v % (NREQUIRED + 1)];
    if (f < 0) { /* applied_at_ms with a fraction: a number, but not an integer */
      b = seg_begin(e, F_APPLIED_AT_MS, field_names[F_APPLIED_AT_MS]);
      put_i64(b, e->applied_at_ms);
      puts_(b, ".5");
    } else {
      b = seg_begin(e, f, field_names[f]);
      switch (f) {
      case F_EVENT_ID: put_u64(b, 12345); break;
      case F_TENANT: puts_(b, "7"); break;
      case F_APPLIED_AT_MS:
        put(b, "\"", 1);
        put_i64(b, e->applied_at_ms);
        put(b, "\"", 1);
        break;
      case F_STATUS: puts_(b, "null"); break;
      case F_ACTOR_SUB: puts_(b, "[\"x\"]"); break;
      case F_ACTION_NAME: puts_(b, "true"); break;
      case F_ACTION_TYPE_ID: puts_(b, "3"); break;
      default: puts_(b, "{}"); break; /* F_OBJECT_TYPE_ID */
      }
    }
    assemble(e, out);
    break;
  case K_BAD_VALUE:
    /* variants: applied_at_ms 0, applied_at_ms negative, then each required string "" */
    if (v % (NREQUIRED + 1) < 2) {
      b = seg_begin(e, F_APPLIED_AT_MS, field_names[F_APPLIED_AT_MS]);
      if (v % (NREQUIRED + 1) == 0)
        put(b, "0", 1);
      else
        put_i64(b, -e->applied_at_ms);
    } else {
      /* required[] minus applied_at_ms: the 7 string fields */
      static const int strs[] = {F_EVENT_ID,    F_TENANT,         F_STATUS,        F_ACTOR_SUB,
                                 F_ACTION_NAME, F_ACTION_TYPE_ID, F_OBJECT_TYPE_ID};
      f = strs[v % (NREQUIRED + 1) - 2];
      b = seg_begin(e, f, field_names[f]);
      put(b, "\"\"", 2);
    }
    assemble(e, out);
    break;
  default: *is_null = 1; break;
  }
  return kind;
}

/* ---- producing ---- */

typedef struct stats {
  uint64_t delivered, failed;
  char first_error[256];
} stats;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  stats *st = opaque;
  (void)rk;
  if (m->err) {
    if (st->failed++ == 0)
      snprintf(st->first_error, sizeof(st->first_error), "%s [%" PRId32 "]: %s",
               rd_kafka_topic_name(m->rkt), m->partition, rd_kafka_err2str(m->err));
  } else {
    st->delivered++;
  }
}

/* Round robin over all partitions, available or not (so a partition whose leader is down
 * holds its share until the leader is back). Called from several librdkafka threads. */
static int32_t rr_partitioner(const rd_kafka_topic_t *rkt, const void *key, size_t keylen,
                              int32_t partition_cnt, void *rkt_opaque, void *msg_opaque) {
  static uint64_t next;
  (void)rkt, (void)key, (void)keylen, (void)rkt_opaque, (void)msg_opaque;
  return (int32_t)(__atomic_fetch_add(&next, 1, __ATOMIC_RELAXED) % (uint64_t)partition_cnt);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Produces one record, waiting out a full local queue. 0 or -1 (message printed). */
static int send_one(rd_kafka_t *rk, rd_kafka_topic_t *rkt, const char *val, size_t len,
                    const char *key, size_t keylen) {
  for (;;) {
    if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, (void *)val, len, key,
                         keylen, NULL) == 0)
      return 0;
    if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      fprintf(stderr, "kafka_produce: produce failed: %s\n",
              rd_kafka_err2str(rd_kafka_last_error()));
      return -1;
    }
    rd_kafka_poll(rk, 10); /* serve delivery reports, which frees queue room */
  }
}

/* Sleeps (serving delivery reports) until n events fit the --rate budget. */
static void pace(rd_kafka_t *rk, const opts *o, double t0, uint64_t n) {
  double due;
  if (o->rate <= 0)
    return;
  due = t0 + (double)n / o->rate;
  for (;;) {
    double wait = due - now_s();
    if (wait <= 0.0005)
      return;
    rd_kafka_poll(rk, (int)(wait * 1000) + 1);
  }
}

/* The key our own NDJSON lines carry: object_id when non-empty, else action_type_id; NULL
 * (no key) for lines not written the way make_event writes them. */
static const char *line_key(const char *line, size_t *keylen) {
  static const char *const fields[2] = {"\"object_id\":\"", "\"action_type_id\":\""};
  int k;
  for (k = 0; k < 2; k++) {
    const char *p = strstr(line, fields[k]), *q;
    if (p == NULL)
      continue;
    p += strlen(fields[k]);
    q = strchr(p, '"');
    if (q != NULL && q > p) {
      *keylen = (size_t)(q - p);
      return p;
    }
  }
  *keylen = 0;
  return NULL;
}

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: kafka_produce --bootstrap B [--topic T] --count N [--start K] [--id-prefix P]\n"
      "         [--poison-every M] [--partitions-by key|roundrobin] [--tenants K] [--days D]\n"
      "         [--base-ms MS] [--seed S] [--ndjson-out PATH] [--from-ndjson PATH]\n"
      "         [--rate EVENTS_PER_SEC] [-X librdkafka.property=value]...\n"
      "  --topic T            default ontology.actions.applied.v1\n"
      "  --count N            events i = K .. K+N-1 (with --from-ndjson: at most N lines)\n"
      "  --start K            first event index (default 0; with --from-ndjson: lines skipped)\n"
      "  --id-prefix P        event_id is P-i (default ev; at most %d bytes)\n"
      "  --poison-every M     event i with i %% M == M-1 is a poison record instead\n"
      "  --partitions-by      key (default: librdkafka's hash of the key) or roundrobin\n"
      "  --tenants K          tenants t0..t(K-1) (default 4)\n"
      "  --days D             applied_at_ms spread over the D days before --base-ms (3)\n"
      "  --base-ms MS         default: the start of the current UTC day\n"
      "  --seed S             default 1\n"
      "  --ndjson-out PATH    every good event, exactly as produced, one per line\n"
      "  --from-ndjson PATH   produce the lines of PATH instead of generating events\n"
      "  --rate R             at most R events per second (default: as fast as possible)\n"
      "  -X prop=value        librdkafka setting, applied after ours (e.g. compression.codec)\n",
      MAX_PREFIX);
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out) {
  char *end;
  unsigned long long v;
  if (s == NULL || *s == '\0' || *s == '-')
    return -1;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || v > max)
    return -1;
  *out = (uint64_t)v;
  return 0;
}

/* 0, or 2 after printing what is wrong. */
static int parse_args(int argc, char **argv, opts *o) {
  int i;
  uint64_t v;
  memset(o, 0, sizeof(*o));
  o->topic = "ontology.actions.applied.v1";
  o->prefix = "ev";
  o->tenants = 4;
  o->days = 3;
  o->seed = 1;
  o->base_ms = -1;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i], *val;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      exit(0);
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "kafka_produce: %s needs a value (or is unknown)\n", a);
      return 2;
    }
    val = argv[++i];
#define BAD(what)                                                                                  \
  do {                                                                                             \
    fprintf(stderr, "kafka_produce: %s wants %s, not '%s'\n", a, what, val);                       \
    return 2;                                                                                      \
  } while (0)
    if (strcmp(a, "--bootstrap") == 0) {
      o->bootstrap = val;
    } else if (strcmp(a, "--topic") == 0) {
      o->topic = val;
    } else if (strcmp(a, "--count") == 0) {
      if (parse_u64(val, UINT64_MAX / 2, &o->count) != 0)
        BAD("a count");
      o->have_count = 1;
    } else if (strcmp(a, "--start") == 0) {
      if (parse_u64(val, UINT64_MAX / 2, &o->start) != 0)
        BAD("an index");
      o->have_start = 1;
    } else if (strcmp(a, "--id-prefix") == 0) {
      if (strlen(val) > MAX_PREFIX)
        BAD("at most 64 bytes");
      o->prefix = val;
    } else if (strcmp(a, "--poison-every") == 0) {
      if (parse_u64(val, UINT64_MAX / 2, &o->poison_every) != 0 || o->poison_every == 0)
        BAD("a number >= 1");
    } else if (strcmp(a, "--partitions-by") == 0) {
      if (strcmp(val, "key") == 0)
        o->roundrobin = 0;
      else if (strcmp(val, "roundrobin") == 0)
        o->roundrobin = 1;
      else
        BAD("key or roundrobin");
    } else if (strcmp(a, "--tenants") == 0) {
      if (parse_u64(val, 1000000, &v) != 0 || v == 0)
        BAD("1..1000000");
      o->tenants = (int)v;
    } else if (strcmp(a, "--days") == 0) {
      if (parse_u64(val, 36500, &v) != 0 || v == 0)
        BAD("1..36500");
      o->days = (int)v;
    } else if (strcmp(a, "--base-ms") == 0) {
      if (parse_u64(val, (uint64_t)INT64_MAX / 2, &v) != 0)
        BAD("milliseconds since 1970");
      o->base_ms = (int64_t)v;
    } else if (strcmp(a, "--seed") == 0) {
      if (parse_u64(val, UINT64_MAX, &o->seed) != 0)
        BAD("a number");
    } else if (strcmp(a, "--ndjson-out") == 0) {
      o->ndjson_out = val;
    } else if (strcmp(a, "--from-ndjson") == 0) {
      o->from_ndjson = val;
    } else if (strcmp(a, "--rate") == 0) {
      char *end;
      errno = 0;
      o->rate = strtod(val, &end);
      if (errno != 0 || *end != '\0' || !(o->rate > 0))
        BAD("events per second > 0");
    } else if (strcmp(a, "-X") == 0) {
      if (strchr(val, '=') == NULL)
        BAD("property=value");
      if (o->nx == MAX_X)
        BAD("fewer -X");
      o->x[o->nx++] = val;
    } else {
      fprintf(stderr, "kafka_produce: unknown argument %s\n", a);
      usage(stderr);
      return 2;
    }
#undef BAD
  }
  if (o->bootstrap == NULL) {
    fprintf(stderr, "kafka_produce: --bootstrap is required\n");
    return 2;
  }
  if (o->from_ndjson == NULL && !o->have_count) {
    fprintf(stderr, "kafka_produce: --count is required (unless --from-ndjson)\n");
    return 2;
  }
  if (o->from_ndjson != NULL && o->poison_every != 0) {
    fprintf(stderr, "kafka_produce: --poison-every cannot be combined with --from-ndjson\n");
    return 2;
  }
  {
    sbuf pb = {o->prefix_json, 0, sizeof(o->prefix_json), 0};
    put_jstr(&pb, o->prefix);
    o->prefix_json_len = pb.len - 2;
    memmove(o->prefix_json, o->prefix_json + 1, o->prefix_json_len);
  }
  if (o->base_ms < 0) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    o->base_ms = (int64_t)ts.tv_sec / 86400 * DAY_MS;
  }
  if (o->base_ms < (int64_t)o->days * DAY_MS + 1) {
    fprintf(stderr, "kafka_produce: --base-ms must be later than --days days after 1970\n");
    return 2;
  }
  return 0;
}

static int set_conf(rd_kafka_conf_t *conf, const char *name, const char *value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "kafka_produce: %s=%s: %s\n", name, value, errstr);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  /* Throughput: idempotent, acks=all; large batches and a deep local queue, so that the
   * mock cluster, not this loop, is the limit. */
  static const char *const defaults[][2] = {
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"linger.ms", "5"},
      {"batch.num.messages", "10000"},
      {"batch.size", "1000000"},
      {"queue.buffering.max.messages", "1000000"},
      {"queue.buffering.max.kbytes", "1048576"},
      {"message.timeout.ms", "60000"},
  };
  opts o;
  stats st;
  rd_kafka_conf_t *conf = NULL;
  rd_kafka_topic_conf_t *tconf = NULL;
  rd_kafka_t *rk = NULL;
  rd_kafka_topic_t *rkt = NULL;
  FILE *nd_out = NULL, *nd_in = NULL;
  event *e = NULL;
  char *outbuf = NULL, *line = NULL;
  size_t linecap = 0;
  uint64_t n = 0, good = 0, npoison = 0, bytes = 0, kinds[K_N] = {0};
  int rc = 1, k, io_error = 0, aborted = 0;
  double t0, elapsed;
  char errstr[512];
  size_t d;

  memset(&st, 0, sizeof(st));
  if ((rc = parse_args(argc, argv, &o)) != 0)
    return rc;
  rc = 1;

  e = calloc(1, sizeof(*e));
  outbuf = malloc(EVENT_CAP);
  if (e == NULL || outbuf == NULL) {
    fprintf(stderr, "kafka_produce: out of memory\n");
    goto out;
  }
  for (k = 0; k < F_N; k++) {
    e->seg[k].p = e->segbuf[k];
    e->seg[k].cap = SEG_CAP;
  }
  if (o.ndjson_out != NULL) {
    nd_out = fopen(o.ndjson_out, "wb");
    if (nd_out == NULL) {
      fprintf(stderr, "kafka_produce: cannot write %s: %s\n", o.ndjson_out, strerror(errno));
      goto out;
    }
    setvbuf(nd_out, NULL, _IOFBF, 1 << 20);
  }
  if (o.from_ndjson != NULL) {
    nd_in = fopen(o.from_ndjson, "rb");
    if (nd_in == NULL) {
      fprintf(stderr, "kafka_produce: cannot read %s: %s\n", o.from_ndjson, strerror(errno));
      goto out;
    }
    setvbuf(nd_in, NULL, _IOFBF, 1 << 20);
  }

  conf = rd_kafka_conf_new();
  if (set_conf(conf, "bootstrap.servers", o.bootstrap) != 0)
    goto out;
  for (d = 0; d < sizeof(defaults) / sizeof(defaults[0]); d++)
    if (set_conf(conf, defaults[d][0], defaults[d][1]) != 0)
      goto out;
  for (k = 0; k < o.nx; k++) {
    char name[256];
    const char *eq = strchr(o.x[k], '=');
    snprintf(name, sizeof(name), "%.*s", (int)(eq - o.x[k]), o.x[k]);
    if (set_conf(conf, name, eq + 1) != 0) {
      rc = 2;
      goto out;
    }
  }
  rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
  rd_kafka_conf_set_opaque(conf, &st);
  rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (rk == NULL) {
    fprintf(stderr, "kafka_produce: rd_kafka_new: %s\n", errstr);
    goto out;
  }
  conf = NULL; /* owned by rk */
  /* A copy of the default topic settings: topic properties set above (message.timeout.ms,
   * -X partitioner=...) live there, and a fresh rd_kafka_topic_conf_new() would drop them. */
  tconf = rd_kafka_default_topic_conf_dup(rk);
  if (tconf == NULL) {
    fprintf(stderr, "kafka_produce: out of memory\n");
    goto out;
  }
  if (o.roundrobin)
    rd_kafka_topic_conf_set_partitioner_cb(tconf, rr_partitioner);
  rkt = rd_kafka_topic_new(rk, o.topic, tconf);
  if (rkt == NULL) {
    fprintf(stderr, "kafka_produce: topic %s: %s\n", o.topic,
            rd_kafka_err2str(rd_kafka_last_error()));
    goto out;
  }
  tconf = NULL; /* owned by rkt */

  t0 = now_s();
  if (nd_in != NULL) {
    uint64_t lineno = 0;
    ssize_t len;
    while ((!o.have_count || n < o.count) && (len = getline(&line, &linecap, nd_in)) >= 0) {
      size_t keylen;
      const char *key;
      if (len > 0 && line[len - 1] == '\n')
        line[--len] = '\0';
      if (len > 0 && line[len - 1] == '\r')
        line[--len] = '\0';
      if (len == 0 || lineno++ < o.start)
        continue;
      key = line_key(line, &keylen);
      if (send_one(rk, rkt, line, (size_t)len, key, keylen) != 0) {
        aborted = 1;
        goto drain;
      }
      if (nd_out != NULL &&
          (fwrite(line, 1, (size_t)len, nd_out) != (size_t)len || putc('\n', nd_out) == EOF))
        io_error = 1;
      n++;
      good++;
      bytes += (uint64_t)len;
      if ((n & 1023) == 0)
        rd_kafka_poll(rk, 0);
      pace(rk, &o, t0, n);
    }
    if (ferror(nd_in)) {
      fprintf(stderr, "kafka_produce: reading %s: %s\n", o.from_ndjson, strerror(errno));
      io_error = 1;
    }
  } else {
    uint64_t i;
    sbuf out = {outbuf, 0, EVENT_CAP, 0};
    for (i = o.start; i < o.start + o.count; i++) {
      int is_null = 0;
      make_event(&o, i, e);
      if (o.poison_every != 0 && i % o.poison_every == o.poison_every - 1) {
        k = poison(&o, i, e, &out, &is_null);
        kinds[k]++;
        npoison++;
      } else {
        assemble(e, &out);
        good++;
      }
      if (out.overflow) { /* cannot happen with MAX_PREFIX; a bug if it does */
        fprintf(stderr, "kafka_produce: event %" PRIu64 " does not fit %d bytes\n", i, EVENT_CAP);
        aborted = 1;
        goto drain;
      }
      if (send_one(rk, rkt, is_null ? NULL : out.p, out.len, e->key, e->keylen) != 0) {
        aborted = 1;
        goto drain;
      }
      if (nd_out != NULL && o.poison_every != 0 && i % o.poison_every == o.poison_every - 1) {
        /* poison: not in the copy */
      } else if (nd_out != NULL &&
                 (fwrite(out.p, 1, out.len, nd_out) != out.len || putc('\n', nd_out) == EOF)) {
        io_error = 1;
      }
      n++;
      bytes += out.len;
      if ((n & 1023) == 0)
        rd_kafka_poll(rk, 0);
      pace(rk, &o, t0, n);
    }
  }

drain:
  /* Every record gets a delivery report within message.timeout.ms (plus retries' backoff):
   * wait for them all, but not forever if the cluster is gone. */
  {
    double give_up = now_s() + 600;
    while (rd_kafka_outq_len(rk) > 0 && now_s() < give_up)
      rd_kafka_flush(rk, 1000);
    if (rd_kafka_outq_len(rk) > 0)
      fprintf(stderr, "kafka_produce: %d records still undelivered after 600 s\n",
              rd_kafka_outq_len(rk));
  }
  elapsed = now_s() - t0;
  {
    char fatal[256];
    rd_kafka_resp_err_t ferr = rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
    if (ferr)
      fprintf(stderr, "kafka_produce: fatal producer error: %s\n", fatal);
  }
  if (nd_out != NULL) {
    if (fclose(nd_out) != 0)
      io_error = 1;
    nd_out = NULL;
    if (io_error)
      fprintf(stderr, "kafka_produce: writing %s failed\n", o.ndjson_out);
  }

  printf("produced=%" PRIu64 " good=%" PRIu64 " poison=%" PRIu64 " bytes=%" PRIu64 "\n",
         st.delivered, good, npoison, bytes);
  fflush(stdout);
  for (k = 0; k < K_N; k++)
    fprintf(stderr, "poison kind=%s count=%" PRIu64 "\n", kind_names[k], kinds[k]);
  fprintf(stderr,
          "kafka_produce: %" PRIu64 " records (%" PRIu64 " delivered, %" PRIu64
          " failed) in %.3f s: %.0f records/s, %.1f MB/s\n",
          n, st.delivered, st.failed, elapsed, elapsed > 0 ? (double)n / elapsed : 0.0,
          elapsed > 0 ? (double)bytes / elapsed / 1e6 : 0.0);
  if (st.failed)
    fprintf(stderr, "kafka_produce: %" PRIu64 " deliveries failed; first: %s\n", st.failed,
            st.first_error);
  rc = (st.delivered == n && st.failed == 0 && !io_error && !aborted) ? 0 : 1;

out:
  if (rkt != NULL)
    rd_kafka_topic_destroy(rkt);
  if (rk != NULL)
    rd_kafka_destroy(rk);
  if (tconf != NULL)
    rd_kafka_topic_conf_destroy(tconf);
  if (conf != NULL)
    rd_kafka_conf_destroy(conf);
  if (nd_out != NULL)
    fclose(nd_out);
  if (nd_in != NULL)
    fclose(nd_in);
  free(line);
  free(outbuf);
  free(e);
  return rc;
}
