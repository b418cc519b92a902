/* offsets.c - the topic-partition offsets the sink stores in snapshot summaries. */
#include "offsets.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

void tarn_sink_offsets_clear(tarn_sink_offsets *o) {
  size_t i;
  for (i = 0; i < o->n; i++)
    tarn_free(o->v[i].topic);
  o->n = 0;
}

void tarn_sink_offsets_free(tarn_sink_offsets *o) {
  tarn_sink_offsets_clear(o);
  tarn_free(o->v);
  memset(o, 0, sizeof(*o));
}

static tarn_sink_tp *lookup(const tarn_sink_offsets *o, const char *topic, int32_t partition) {
  size_t i;
  for (i = 0; i < o->n; i++)
    if (o->v[i].partition == partition && strcmp(o->v[i].topic, topic) == 0)
      return &o->v[i];
  return NULL;
}

int64_t tarn_sink_offsets_get(const tarn_sink_offsets *o, const char *topic, int32_t partition) {
  const tarn_sink_tp *tp = lookup(o, topic, partition);
  return tp != NULL ? tp->next : -1;
}

int tarn_sink_offsets_set(tarn_sink_offsets *o, const char *topic, int32_t partition, int64_t next,
                          tarn_error *err) {
  tarn_sink_tp *tp = lookup(o, topic, partition);
  char *dup;
  if (tp != NULL) {
    tp->next = next;
    return 0;
  }
  if (TARN_GROW(o->v, o->cap, o->n + 1, 16) != 0 || (dup = tarn_strdup(topic)) == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  o->v[o->n].topic = dup;
  o->v[o->n].partition = partition;
  o->v[o->n].next = next;
  o->n++;
  return 0;
}

int tarn_sink_offsets_merge(tarn_sink_offsets *o, const tarn_sink_offsets *from, tarn_error *err) {
  size_t i;
  int rc = 0;
  for (i = 0; rc == 0 && i < from->n; i++)
    rc = tarn_sink_offsets_set(o, from->v[i].topic, from->v[i].partition, from->v[i].next, err);
  return rc;
}

int tarn_sink_offsets_copy(tarn_sink_offsets *dst, const tarn_sink_offsets *src, tarn_error *err) {
  tarn_sink_offsets_clear(dst);
  return tarn_sink_offsets_merge(dst, src, err);
}

static int cmp_tp(const void *a, const void *b) {
  const tarn_sink_tp *x = a, *y = b;
  int c = strcmp(x->topic, y->topic);
  if (c != 0)
    return c;
  return x->partition < y->partition ? -1 : x->partition > y->partition;
}

int tarn_sink_offsets_format(const tarn_sink_offsets *o, tarn_buf *out, tarn_error *err) {
  tarn_sink_offsets sorted = {0};
  json_t *root = json_object(), *topic = NULL;
  const char *last = NULL;
  char pbuf[16];
  size_t i;
  int rc = tarn_sink_offsets_copy(&sorted, o, err);
  if (rc == 0 && root == NULL)
    rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
  if (rc == 0 && sorted.n > 1) /* qsort's array may not be NULL, even when empty */
    qsort(sorted.v, sorted.n, sizeof(*sorted.v), cmp_tp);
  for (i = 0; rc == 0 && i < sorted.n; i++) {
    const tarn_sink_tp *tp = &sorted.v[i];
    if (tp->next < 0)
      continue;
    if (last == NULL || strcmp(last, tp->topic) != 0) {
      topic = json_object();
      if (topic == NULL || json_object_set_new(root, tp->topic, topic) != 0) {
        rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
        break;
      }
      last = tp->topic;
    }
    snprintf(pbuf, sizeof(pbuf), "%d", (int)tp->partition);
    if (json_object_set_new(topic, pbuf, json_integer(tp->next)) != 0)
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
  }
  if (rc == 0) {
    char *text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL)
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
    else
      rc = tarn_buf_append_str(out, text, err);
    free(text);
  }
  json_decref(root);
  tarn_sink_offsets_free(&sorted);
  return rc;
}

/* Only the form format writes: digits without a sign, spaces or a leading zero, so that
 * no two keys ("1", "01", "+1") name one partition. */
static int parse_partition(const char *s, int32_t *out) {
  char *end;
  long v;
  if (s[0] < '0' || s[0] > '9' || (s[0] == '0' && s[1] != '\0'))
    return -1;
  errno = 0;
  v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < 0 || v > INT32_MAX)
    return -1;
  *out = (int32_t)v;
  return 0;
}

int tarn_sink_offsets_parse(const char *text, tarn_sink_offsets *out, tarn_error *err) {
  json_error_t jerr;
  unsigned long failures = tarn_alloc_failures();
  json_t *root, *parts, *v;
  const char *topic, *pkey;
  int32_t p;
  int rc = 0;
  memset(&jerr, 0, sizeof(jerr));
  root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
  tarn_sink_offsets_clear(out);
  /* jansson reports some allocation failures as syntax errors: see envelope.c */
  if (root == NULL && (tarn_alloc_failures() != failures ||
                       json_error_code(&jerr) == json_error_out_of_memory || jerr.text[0] == '\0'))
    return tarn_error_set(err, TARN_ENOMEM, "out of memory reading sink offsets");
  if (root == NULL && json_error_code(&jerr) == json_error_duplicate_key)
    return tarn_error_set(err, TARN_ECORRUPT, "sink offsets: %s", jerr.text);
  if (root == NULL || !json_is_object(root)) {
    json_decref(root);
    return tarn_error_set(err, TARN_ECORRUPT, "sink offsets: not a JSON object");
  }
  json_object_foreach(root, topic, parts) {
    if (!json_is_object(parts)) {
      rc = tarn_error_set(err, TARN_ECORRUPT, "sink offsets: topic \"%s\" is not an object", topic);
      break;
    }
    json_object_foreach(parts, pkey, v) {
      if (parse_partition(pkey, &p) != 0 || !json_is_integer(v) || json_integer_value(v) < 0) {
        rc = tarn_error_set(err, TARN_ECORRUPT,
                            "sink offsets: topic \"%s\" partition \"%s\" is not a partition "
                            "number with a non-negative offset",
                            topic, pkey);
        break;
      }
      rc = tarn_sink_offsets_set(out, topic, p, json_integer_value(v), err);
      if (rc != 0)
        break;
    }
    if (rc != 0)
      break;
  }
  json_decref(root);
  return rc;
}

int tarn_sink_offsets_key(const char *group, char *dst, size_t n, tarn_error *err) {
  int w = snprintf(dst, n, "tarn.sink.offsets.%s", group);
  if (w < 0 || (size_t)w >= n)
    return tarn_error_set(err, TARN_ETOOBIG, "consumer group name too long (%zu bytes)",
                          strlen(group));
  return 0;
}

int tarn_sink_offsets_from_metadata(const tarn_ice_metadata *m, const char *key,
                                    tarn_sink_offsets *o, int *found, tarn_error *err) {
  int64_t id = m->current_snapshot_id;
  const char *prop;
  size_t hops = 0, i;
  tarn_sink_offsets_clear(o);
  *found = 0;
  while (id >= 0 && hops++ <= m->nsnapshots) { /* bounded: a cycle cannot loop forever */
    const tarn_ice_snapshot *s = tarn_ice_metadata_snapshot(m, id);
    if (s == NULL)
      break; /* expired: nothing older is known */
    for (i = 0; i < s->nsummary; i++)
      if (strcmp(s->summary[i].key, key) == 0) {
        *found = 1;
        return tarn_sink_offsets_parse(s->summary[i].value, o, err);
      }
    id = s->parent_id;
  }
  /* Every sink commit also leaves the map in a table property: snapshot expiry (or a
   * foreign writer's commits followed by expiry) must not make the sink forget where it
   * is and read the topic again from the start. */
  prop = tarn_ice_metadata_property(m, key);
  if (prop != NULL) {
    *found = 1;
    return tarn_sink_offsets_parse(prop, o, err);
  }
  return 0;
}
