/* action_log.c - the layout of default.action_log and its dead-letter table. */
#include "action_log.h"

#include <string.h>

#include "base/alloc.h"

typedef tarn_ice_column_def col;

static const col main_cols[TARN_AL_NCOLS] = {
    {"event_id", TARN_ICE_STRING, 1, "unique id of the event"},
    {"action_type_id", TARN_ICE_STRING, 1, NULL},
    {"action_name", TARN_ICE_STRING, 1, NULL},
    {"object_type_id", TARN_ICE_STRING, 1, NULL},
    {"object_id", TARN_ICE_STRING, 0, NULL},
    {"tenant", TARN_ICE_STRING, 1, NULL},
    {"actor_sub", TARN_ICE_STRING, 1, NULL},
    {"actor_email", TARN_ICE_STRING, 0, NULL},
    {"organization_id", TARN_ICE_STRING, 0, NULL},
    {"status", TARN_ICE_STRING, 1, NULL},
    {"target_classification", TARN_ICE_STRING, 0, NULL},
    {"applied_at_ms", TARN_ICE_LONG, 1, "milliseconds since the epoch"},
    {"applied_at", TARN_ICE_TIMESTAMPTZ, 1, "applied_at_ms as a timestamp"},
    {"parameters", TARN_ICE_STRING, 0, "JSON text"},
    {"previous_state", TARN_ICE_STRING, 0, "JSON text"},
    {"new_state", TARN_ICE_STRING, 0, "JSON text"},
};

static const col dlq_cols[TARN_DLQ_NCOLS] = {
    {"topic", TARN_ICE_STRING, 1, NULL},
    {"partition", TARN_ICE_INT, 1, NULL},
    {"offset", TARN_ICE_LONG, 1, NULL},
    {"key", TARN_ICE_BINARY, 0, "the record's key, as sent"},
    {"value", TARN_ICE_BINARY, 0, "the record's value, as sent"},
    {"reason", TARN_ICE_STRING, 1, "why the record was refused"},
    {"detail", TARN_ICE_STRING, 0, NULL},
    {"kafka_timestamp", TARN_ICE_TIMESTAMPTZ, 0, NULL},
    {"seen_at", TARN_ICE_TIMESTAMPTZ, 1, "when the sink read the record"},
};

const char *const tarn_action_log_names[TARN_AL_NCOLS] = {
    "event_id",
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
    "applied_at",
    "parameters",
    "previous_state",
    "new_state",
};

const char *const tarn_action_log_dlq_names[TARN_DLQ_NCOLS] = {
    "topic",  "partition", "offset",          "key",     "value",
    "reason", "detail",    "kafka_timestamp", "seen_at",
};

static void cols_of(tarn_al_table_kind kind, const col **cols, size_t *n, int32_t *part_src,
                    const char **part_name) {
  if (kind == TARN_AL_MAIN) {
    *cols = main_cols;
    *n = TARN_AL_NCOLS;
    *part_src = TARN_AL_APPLIED_AT + 1;
    *part_name = "applied_at_day";
  } else {
    *cols = dlq_cols;
    *n = TARN_DLQ_NCOLS;
    *part_src = TARN_DLQ_SEEN_AT + 1;
    *part_name = "seen_at_day";
  }
}

int tarn_action_log_layout(tarn_al_table_kind kind, tarn_ice_schema *schema, tarn_ice_spec *spec,
                           tarn_ice_sort_order *order, tarn_error *err) {
  const col *cols;
  const char *part_name;
  int32_t part_src;
  size_t n;
  cols_of(kind, &cols, &n, &part_src, &part_name);
  memset(spec, 0, sizeof(*spec));
  memset(order, 0, sizeof(*order));
  if (tarn_ice_schema_from_columns(cols, n, schema, err) != 0)
    return TARN_ENOMEM;
  spec->fields = tarn_calloc(1, sizeof(*spec->fields));
  if (spec->fields == NULL)
    goto nomem;
  spec->fields[0].source_id = part_src;
  spec->fields[0].field_id = 1000;
  spec->fields[0].transform.kind = TARN_ICE_DAY;
  spec->fields[0].name = tarn_strdup(part_name);
  spec->nfields = 1;
  if (spec->fields[0].name == NULL)
    goto nomem;
  if (kind == TARN_AL_MAIN) {
    order->order_id = 1;
    order->fields = tarn_calloc(1, sizeof(*order->fields));
    if (order->fields == NULL)
      goto nomem;
    order->fields[0].transform.kind = TARN_ICE_IDENTITY;
    order->fields[0].source_id = TARN_AL_APPLIED_AT_MS + 1;
    order->nfields = 1;
  }
  return 0;
nomem:
  tarn_ice_schema_free(schema);
  tarn_ice_spec_free(spec);
  tarn_ice_sort_order_free(order);
  return tarn_error_set(err, TARN_ENOMEM, "out of memory");
}

int tarn_action_log_check(tarn_al_table_kind kind, const char *ident, const tarn_ice_schema *schema,
                          const tarn_ice_spec *spec, tarn_error *err) {
  const col *cols;
  const char *part_name;
  int32_t part_src;
  size_t i, n;
  char have[64], want[64];
  cols_of(kind, &cols, &n, &part_src, &part_name);
  for (i = 0; i < n; i++) {
    const tarn_ice_field *f = tarn_ice_schema_field(schema, (int32_t)i + 1);
    tarn_ice_type t = {0};
    t.id = cols[i].type;
    tarn_ice_type_format(&t, want, sizeof(want));
    if (f == NULL || strcmp(f->name, cols[i].name) != 0)
      return tarn_error_set(err, TARN_ESCHEMA,
                            "table %s: column \"%s\" (field id %d, %s) is %s; the sink writes "
                            "that layout only (drop the table or use --table for another)",
                            ident, cols[i].name, (int)i + 1, want,
                            f == NULL ? "missing" : "named differently");
    tarn_ice_type_format(&f->type, have, sizeof(have));
    /* required where the sink is not: the sink writes nulls there, which the writer
     * refuses, so every batch without that field would fail */
    if (f->type.id != cols[i].type || cols[i].required != (f->required != 0))
      return tarn_error_set(err, TARN_ESCHEMA,
                            "table %s: column \"%s\" is %s %s; the sink needs %s %s (drop the "
                            "table or use --table for another)",
                            ident, cols[i].name, f->required ? "required" : "optional", have,
                            cols[i].required ? "required" : "optional", want);
  }
  for (i = 0; i < schema->nfields; i++)
    if (schema->fields[i].id > (int32_t)n && schema->fields[i].required)
      return tarn_error_set(err, TARN_ESCHEMA,
                            "table %s: column \"%s\" is required and the sink does not write it",
                            ident, schema->fields[i].name);
  if (spec == NULL || spec->nfields != 1 || spec->fields[0].source_id != part_src ||
      spec->fields[0].transform.kind != TARN_ICE_DAY)
    return tarn_error_set(err, TARN_ESCHEMA,
                          "table %s: partition spec is not day(%s); the sink writes that "
                          "layout only",
                          ident, cols[part_src - 1].name);
  return 0;
}

const tarn_cfg_def tarn_action_log_config[] = {
    {"action_log", "table", TARN_CFG_STRING, TARN_AL_DEFAULT_TABLE, 0, 0, NULL,
     "TARN_ACTION_LOG_TABLE", "table", "sink", 0,
     "the action-log table, NAMESPACE.NAME: tarn sink writes it (poison records to NAME_dlq), "
     "tarn serve answers GET /action-log/events from it"},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL},
};

int tarn_action_log_ident(const char *ident, char *ns, size_t nslen, char *name, size_t namelen,
                          tarn_error *err) {
  const char *dot = ident != NULL ? strrchr(ident, '.') : NULL;
  size_t n;
  if (dot == NULL || dot == ident || dot[1] == '\0')
    return tarn_error_set(err, TARN_EINVAL,
                          "action-log table \"%s\": a table is named NAMESPACE.NAME (e.g. %s)",
                          ident ? ident : "", TARN_AL_DEFAULT_TABLE);
  n = (size_t)(dot - ident);
  if (n >= nslen || strlen(dot + 1) >= namelen)
    return tarn_error_set(err, TARN_EINVAL, "action-log table \"%.200s\": name too long", ident);
  memcpy(ns, ident, n);
  ns[n] = '\0';
  memcpy(name, dot + 1, strlen(dot + 1) + 1);
  return 0;
}
