/* cmd_table_meta.c - `tarn table` create, list, show, snapshots, add-column and
 * set-properties: the schema, partition and sort parsers and the metadata views. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/settings.h"
#include "cmd_table_int.h"
#include "cmds.h"
#include "csv/csv.h"

static char *trim(char *s) {
  char *e;
  while (isspace((unsigned char)*s))
    s++;
  e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1]))
    *--e = '\0';
  return s;
}

/*
 * Splits `text` at top-level commas (not inside parentheses or brackets) into a copy
 * whose pieces are trimmed and NUL-separated; returns the count (-1: out of memory).
 */
static int split_list(const char *text, char **copy, char **items, int max) {
  char *s = tarn_strdup(text), *start;
  int depth = 0, n = 0;
  *copy = s;
  if (s == NULL)
    return -1;
  start = s;
  for (;; s++) {
    if (*s == '(' || *s == '[')
      depth++;
    else if ((*s == ')' || *s == ']') && depth > 0)
      depth--;
    if ((*s == ',' && depth == 0) || *s == '\0') {
      int end = *s == '\0';
      *s = '\0';
      if (n < max)
        items[n] = trim(start);
      n++;
      if (end)
        break;
      start = s + 1;
    }
  }
  return n;
}

/* Iceberg's conventional partition field name for a transform of `col`. */
static void partition_name(const tarn_ice_transform *t, const char *col, char *out, size_t n) {
  static const char *const sfx[] = {"",       "",     "_bucket", "_trunc", "_year",
                                    "_month", "_day", "_hour",   "_null"};
  snprintf(out, n, "%s%s", col, t->kind <= TARN_ICE_VOID ? sfx[t->kind] : "");
}

/*
 * Parses a term: "col", "identity(col)", "bucket(16, col)", "truncate(4, col)",
 * "year(col)" ... The rest after the term (for sort fields) goes to *rest.
 */
static int parse_term(const char *text, const tarn_ice_schema *s, tarn_ice_transform *tr,
                      int32_t *source_id, const char **col, const char **rest, tarn_error *err) {
  char fn[32], arg1[64], name[256];
  const char *p = text, *open, *close;
  const tarn_ice_field *f;
  size_t n;
  memset(tr, 0, sizeof(*tr));
  tr->kind = TARN_ICE_IDENTITY;
  n = strcspn(p, "( \t");
  open = p[n] == '(' ? p + n : NULL;
  if (open == NULL) { /* a bare column */
    if (n == 0 || n >= sizeof(name)) {
      return tarn_error_set(err, TARN_EINVAL, "\"%s\": expected a column or a transform", text);
    }
    memcpy(name, p, n);
    name[n] = '\0';
    *rest = p + n;
  } else {
    char *inner, *comma;
    close = strchr(open, ')');
    if (n == 0 || n >= sizeof(fn) || close == NULL || (size_t)(close - open - 1) >= sizeof(name)) {
      return tarn_error_set(err, TARN_EINVAL,
                            "\"%s\": expected TRANSFORM(COLUMN) or TRANSFORM(N, COLUMN)", text);
    }
    memcpy(fn, p, n);
    fn[n] = '\0';
    memcpy(name, open + 1, (size_t)(close - open - 1));
    name[close - open - 1] = '\0';
    *rest = close + 1;
    for (n = 0; fn[n]; n++)
      fn[n] = (char)tolower((unsigned char)fn[n]);
    comma = strchr(name, ',');
    if (strcmp(fn, "bucket") == 0 || strcmp(fn, "truncate") == 0) {
      char tname[128];
      if (comma == NULL) {
        return tarn_error_set(err, TARN_EINVAL, "\"%s\": %s needs a width: %s(N, COLUMN)", text, fn,
                              fn);
      }
      *comma = '\0';
      snprintf(arg1, sizeof(arg1), "%s", trim(name));
      memmove(name, comma + 1, strlen(comma + 1) + 1);
      snprintf(tname, sizeof(tname), "%s[%s]", fn, arg1);
      if (tarn_ice_transform_parse(tname, tr, NULL) != 0) {
        return tarn_error_set(err, TARN_EINVAL,
                              "\"%s\": %s needs a positive integer width (got \"%s\")", text, fn,
                              arg1);
      }
    } else if (comma != NULL || tarn_ice_transform_parse(fn, tr, NULL) != 0) {
      return tarn_error_set(
          err, TARN_EINVAL,
          "\"%s\": unknown transform (identity, bucket(N, col), truncate(W, col), year, "
          "month, day, hour, void)",
          text);
    }
    inner = trim(name);
    memmove(name, inner, strlen(inner) + 1);
  }
  f = tarn_ice_schema_field_by_name(s, name);
  if (f == NULL) {
    return tarn_error_set(err, TARN_EINVAL, "\"%s\": no column \"%s\" in the schema", text, name);
  }
  *source_id = f->id;
  *col = f->name;
  return 0;
}

/* "id long not null, emb list<float>, ..." into a schema (tarn_ice_schema_parse_ddl:
 * nested types, Iceberg's fresh field ids). */
static int parse_schema(const char *text, tarn_ice_schema *out, tarn_error *err) {
  return tarn_ice_schema_parse_ddl(text, out, err);
}

static void spec_free_fields(tarn_ice_spec *sp) {
  size_t i;
  for (i = 0; i < sp->nfields; i++)
    tarn_free(sp->fields[i].name);
  tarn_free(sp->fields);
  sp->fields = NULL;
  sp->nfields = 0;
}

/* Splits a list of at most 256 fields (`what` names them in messages) into items, the
 * text copied into *copy, and allocates n zeroed fields of `size` bytes into *fields. On
 * failure nothing is left allocated. */
static int split_fields(const char *text, const char *what, size_t size, char **copy, char **items,
                        int *n, void **fields, tarn_error *err) {
  *n = split_list(text, copy, items, 256);
  if (*n < 0 || *n > 256) {
    tarn_free(*copy);
    *copy = NULL;
    return *n < 0 ? tarn_error_set(err, TARN_ENOMEM, "out of memory")
                  : tarn_error_set(err, TARN_EINVAL, "at most 256 %s", what);
  }
  *fields = tarn_calloc((size_t)*n, size);
  if (*fields == NULL) {
    tarn_free(*copy);
    *copy = NULL;
    return tarn_error_set(err, TARN_ENOMEM, "out of memory");
  }
  return 0;
}

static int parse_spec(const char *text, const tarn_ice_schema *s, tarn_ice_spec *out,
                      tarn_error *err) {
  char *copy = NULL, *items[256];
  void *fields;
  int n, i, k, rc;
  memset(out, 0, sizeof(*out));
  rc = split_fields(text, "partition fields", sizeof(*out->fields), &copy, items, &n, &fields, err);
  if (rc != 0)
    return rc;
  out->fields = fields;
  for (i = 0; i < n; i++) {
    tarn_ice_partition_field *pf = &out->fields[i];
    const char *col, *rest;
    char pname[300];
    tarn_ice_type rt;
    tarn_error terr;
    rc = parse_term(items[i], s, &pf->transform, &pf->source_id, &col, &rest, err);
    if (rc != 0)
      goto fail;
    if (*trim((char *)rest) != '\0') {
      rc = tarn_error_set(err, TARN_EINVAL, "partition field \"%s\": unexpected \"%s\"", items[i],
                          rest);
      goto fail;
    }
    if (tarn_ice_transform_result_type(
            &pf->transform, &tarn_ice_schema_field(s, pf->source_id)->type, &rt, &terr) != 0) {
      rc = tarn_error_set(err, TARN_EINVAL, "partition field \"%s\": %s", items[i],
                          tarn_error_message(&terr));
      goto fail;
    }
    partition_name(&pf->transform, col, pname, sizeof(pname));
    pf->name = tarn_strdup(pname);
    out->nfields = (size_t)i + 1;
    if (pf->name == NULL) {
      rc = tarn_error_set(err, TARN_ENOMEM, "out of memory");
      goto fail;
    }
    for (k = 0; k < i; k++) {
      if (strcmp(out->fields[k].name, pf->name) == 0) {
        rc = tarn_error_set(err, TARN_EINVAL, "partition field \"%s\" appears twice", pf->name);
        goto fail;
      }
    }
  }
  tarn_free(copy);
  return 0;
fail:
  tarn_free(copy);
  spec_free_fields(out);
  return rc;
}

static int parse_sort(const char *text, const tarn_ice_schema *s, tarn_ice_sort_order *out,
                      tarn_error *err) {
  char *copy = NULL, *items[256];
  void *fields;
  int n, i, rc;
  memset(out, 0, sizeof(*out));
  rc = split_fields(text, "sort fields", sizeof(*out->fields), &copy, items, &n, &fields, err);
  if (rc != 0)
    return rc;
  out->fields = fields;
  out->order_id = 1;
  for (i = 0; i < n; i++) {
    tarn_ice_sort_field *sf = &out->fields[i];
    const char *col, *rest;
    char words[128], *w, *save = NULL;
    int nulls = -1;
    rc = parse_term(items[i], s, &sf->transform, &sf->source_id, &col, &rest, err);
    if (rc != 0)
      goto fail;
    snprintf(words, sizeof(words), "%s", rest);
    for (w = strtok_r(words, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save)) {
      size_t k;
      for (k = 0; w[k]; k++)
        w[k] = (char)tolower((unsigned char)w[k]);
      if (strcmp(w, "asc") == 0)
        sf->descending = 0;
      else if (strcmp(w, "desc") == 0)
        sf->descending = 1;
      else if (strcmp(w, "nulls-first") == 0)
        nulls = 1;
      else if (strcmp(w, "nulls-last") == 0)
        nulls = 0;
      else if (strcmp(w, "nulls") == 0) {
        w = strtok_r(NULL, " \t", &save);
        if (w != NULL && strcasecmp(w, "first") == 0)
          nulls = 1;
        else if (w != NULL && strcasecmp(w, "last") == 0)
          nulls = 0;
        else {
          rc = tarn_error_set(err, TARN_EINVAL, "sort field \"%s\": expected nulls first|last",
                              items[i]);
          goto fail;
        }
      } else {
        rc = tarn_error_set(err, TARN_EINVAL,
                            "sort field \"%s\": unexpected \"%s\" (asc, desc, nulls-first, "
                            "nulls-last)",
                            items[i], w);
        goto fail;
      }
    }
    /* Iceberg's default: nulls first when ascending, last when descending */
    sf->nulls_first = nulls >= 0 ? nulls : !sf->descending;
    out->nfields = (size_t)i + 1;
  }
  tarn_free(copy);
  return 0;
fail:
  tarn_free(copy);
  tarn_free(out->fields);
  memset(out, 0, sizeof(*out));
  return rc;
}

static void describe_term(const tarn_ice_schema *s, const tarn_ice_transform *tr, int32_t source,
                          char *out, size_t n) {
  const tarn_ice_field *f = tarn_ice_schema_field(s, source);
  const char *col = f ? f->name : "?";
  switch (tr->kind) {
  case TARN_ICE_IDENTITY: snprintf(out, n, "%s", col); break;
  case TARN_ICE_BUCKET: snprintf(out, n, "bucket(%d, %s)", (int)tr->param, col); break;
  case TARN_ICE_TRUNCATE: snprintf(out, n, "truncate(%d, %s)", (int)tr->param, col); break;
  case TARN_ICE_YEAR: snprintf(out, n, "year(%s)", col); break;
  case TARN_ICE_MONTH: snprintf(out, n, "month(%s)", col); break;
  case TARN_ICE_DAY: snprintf(out, n, "day(%s)", col); break;
  case TARN_ICE_HOUR: snprintf(out, n, "hour(%s)", col); break;
  default: snprintf(out, n, "void(%s)", col); break;
  }
}

/* ---- create ---- */

/* The --property K=V options as key/value pairs (keys owned: free_props; values borrowed).
 * With `unset_empty`, "K=" means remove K (value NULL). */
static int parse_props(table_cx *x, int unset_empty, tarn_ice_kv **out, int *n) {
  const char *pv[CLI_MAX_REPEATS];
  tarn_ice_kv *props;
  int np = cli_opt_values(&x->c, TOPT_PROPERTY, pv, CLI_MAX_REPEATS), i;
  *out = NULL;
  *n = 0;
  props = tarn_calloc(np > 0 ? (size_t)np : 1, sizeof(*props));
  if (props == NULL) {
    cli_error("table", "out of memory");
    return TARN_EXIT_FAIL;
  }
  *out = props;
  for (i = 0; i < np; i++) {
    const char *eq = strchr(pv[i], '=');
    if (eq == NULL || eq == pv[i]) {
      cli_error("table", "--property \"%s\": expected KEY=VALUE", pv[i]);
      return TARN_EXIT_USAGE;
    }
    props[i].key = tarn_strndup(pv[i], (size_t)(eq - pv[i]));
    props[i].value = unset_empty && eq[1] == '\0' ? NULL : (char *)(eq + 1);
    if (props[i].key == NULL) {
      cli_error("table", "out of memory");
      return TARN_EXIT_FAIL;
    }
    *n = i + 1;
  }
  return TARN_EXIT_OK;
}

static void free_props(tarn_ice_kv *props, int n) {
  int i;
  for (i = 0; props != NULL && i < n; i++)
    tarn_free(props[i].key);
  tarn_free(props);
}

int table_set_properties(table_cx *x) {
  tarn_ice_kv *props = NULL;
  tarn_table *t = NULL;
  tarn_error err;
  int np = 0, rc;
  rc = parse_props(x, 1, &props, &np);
  if (rc == TARN_EXIT_OK && np == 0) {
    cli_error("table", "set-properties needs at least one --property KEY=VALUE");
    rc = TARN_EXIT_USAGE;
  }
  if (rc == TARN_EXIT_OK)
    rc = table_open(x, &t);
  if (rc != TARN_EXIT_OK)
    goto out;
  if (tarn_table_set_properties(t, props, (size_t)np, &err) != 0) {
    cli_error("table", "setting properties of %s.%s: %s", x->ns, x->name, tarn_error_message(&err));
    rc = TARN_EXIT_FAIL;
    goto out;
  }
  if (x->json) {
    json_t *o = json_object();
    json_object_set_new(o, "table", json_sprintf("%s.%s", x->ns, x->name));
    json_object_set_new(o, "metadata_location", json_string(tarn_table_metadata_location(t)));
    table_print_json(o);
    json_decref(o);
  } else {
    printf("set %d propert%s of %s.%s\n", np, np == 1 ? "y" : "ies", x->ns, x->name);
  }
out:
  free_props(props, np);
  tarn_table_close(t);
  return rc;
}

int table_create(table_cx *x) {
  tarn_ice_schema schema;
  tarn_ice_spec spec;
  tarn_ice_sort_order order;
  tarn_ice_kv *props = NULL;
  tarn_table *t = NULL;
  tarn_error err;
  int np = 0, rc = TARN_EXIT_USAGE;
  memset(&schema, 0, sizeof(schema));
  memset(&spec, 0, sizeof(spec));
  memset(&order, 0, sizeof(order));
  if (x->c.opt_values[TOPT_SCHEMA] == NULL) {
    cli_error("table", "create needs --schema \"NAME TYPE [not null], ...\"");
    goto out;
  }
  if (parse_schema(x->c.opt_values[TOPT_SCHEMA], &schema, &err) != 0) {
    cli_error("table", "--schema: %s", tarn_error_message(&err));
    goto out;
  }
  if (x->c.opt_values[TOPT_PARTITION] != NULL &&
      parse_spec(x->c.opt_values[TOPT_PARTITION], &schema, &spec, &err) != 0) {
    cli_error("table", "--partition: %s", tarn_error_message(&err));
    goto out;
  }
  if (x->c.opt_values[TOPT_SORT] != NULL &&
      parse_sort(x->c.opt_values[TOPT_SORT], &schema, &order, &err) != 0) {
    cli_error("table", "--sort: %s", tarn_error_message(&err));
    goto out;
  }
  rc = parse_props(x, 0, &props, &np);
  if (rc != TARN_EXIT_OK)
    goto out;
  rc = TARN_EXIT_FAIL;
  if (tarn_catalog_create_namespace(x->cat, x->ns, NULL, 0, &err) != 0 && err.code != TARN_EEXIST) {
    cli_error("table", "creating namespace %s: %s", x->ns, tarn_error_message(&err));
    goto out;
  }
  if (tarn_table_create(x->cat, &x->io, x->ns, x->name, &schema, spec.nfields ? &spec : NULL,
                        order.nfields ? &order : NULL, props, (size_t)np,
                        x->c.opt_values[TOPT_LOCATION], &t, &err) != 0) {
    cli_error("table", "creating table %s.%s: %s", x->ns, x->name, tarn_error_message(&err));
    goto out;
  }
  rc = TARN_EXIT_OK;
  if (x->json) {
    json_t *o = json_object();
    json_object_set_new(o, "table", json_sprintf("%s.%s", x->ns, x->name));
    json_object_set_new(o, "location", json_string(tarn_table_metadata(t)->location));
    json_object_set_new(o, "metadata_location", json_string(tarn_table_metadata_location(t)));
    table_print_json(o);
    json_decref(o);
  } else {
    printf("created table %s.%s at %s\n", x->ns, x->name, tarn_table_metadata(t)->location);
  }
out:
  free_props(props, np);
  tarn_table_close(t);
  tarn_ice_schema_free(&schema);
  spec_free_fields(&spec);
  tarn_free(order.fields);
  return rc;
}

/* ---- list ---- */

static int list_ns(table_cx *x, const char *ns, json_t *arr, int *count) {
  tarn_catalog_names tables, children;
  tarn_error err;
  size_t i;
  int rc = 0;
  tarn_catalog_names_init(&tables);
  tarn_catalog_names_init(&children);
  if (ns[0] != '\0') {
    rc = tarn_catalog_list_tables(x->cat, ns, &tables, &err);
    if (rc != 0) {
      cli_error("table", "listing tables of %s: %s", ns, tarn_error_message(&err));
      goto out;
    }
    for (i = 0; i < tables.count; i++) {
      (*count)++;
      if (arr != NULL) {
        json_t *o = json_object();
        json_object_set_new(o, "table", json_sprintf("%s.%s", ns, tables.items[i]));
        json_object_set_new(o, "namespace", json_string(ns));
        json_object_set_new(o, "name", json_string(tables.items[i]));
        json_array_append_new(arr, o);
      } else {
        printf("%s.%s\n", ns, tables.items[i]);
      }
    }
  }
  rc = tarn_catalog_list_namespaces(x->cat, ns, &children, &err);
  if (rc != 0) {
    cli_error("table", "listing namespaces%s%s: %s", ns[0] ? " under " : "", ns,
              tarn_error_message(&err));
    goto out;
  }
  for (i = 0; i < children.count && rc == 0; i++)
    if (strcmp(children.items[i], ns) != 0)
      rc = list_ns(x, children.items[i], arr, count);
out:
  tarn_catalog_names_free(&tables);
  tarn_catalog_names_free(&children);
  return rc;
}

int table_list(table_cx *x) {
  json_t *arr = x->json ? json_array() : NULL;
  int count = 0, rc;
  rc = list_ns(x, x->c.nargs > 1 ? x->c.args[1] : "", arr, &count);
  if (rc == 0 && arr != NULL)
    table_print_json(arr);
  json_decref(arr);
  return rc == 0 ? TARN_EXIT_OK : TARN_EXIT_FAIL;
}

/* ---- show ---- */

static json_t *metadata_json(const tarn_ice_metadata *m) {
  tarn_buf b;
  json_t *j = NULL;
  tarn_buf_init(&b, (size_t)64 << 20);
  if (tarn_ice_metadata_write(m, &b, NULL) == 0)
    j = json_loadb(b.data, b.len, 0, NULL);
  tarn_buf_free(&b);
  return j;
}

static void print_summary_kv(const tarn_ice_snapshot *s, const char *sep) {
  size_t i;
  for (i = 0; i < s->nsummary; i++)
    printf("%s%s=%s", i ? sep : "", s->summary[i].key, s->summary[i].value);
}

int table_show(table_cx *x) {
  tarn_table *t = NULL;
  const tarn_ice_metadata *m;
  const tarn_ice_schema *s;
  const tarn_ice_spec *spec;
  const tarn_ice_snapshot *cur;
  size_t i;
  char buf[256], ts[TARN_TIME_ISO_MAX];
  int rc = table_open(x, &t);
  if (rc != TARN_EXIT_OK)
    return rc;
  m = tarn_table_metadata(t);
  s = tarn_table_schema(t);
  spec = tarn_table_spec(t);
  cur = tarn_ice_metadata_snapshot(m, m->current_snapshot_id);
  if (x->json) {
    json_t *o = json_object(), *md = metadata_json(m);
    json_object_set_new(o, "table", json_sprintf("%s.%s", x->ns, x->name));
    json_object_set_new(o, "namespace", json_string(x->ns));
    json_object_set_new(o, "name", json_string(x->name));
    json_object_set_new(o, "location", json_string(m->location));
    json_object_set_new(o, "metadata_location", json_string(tarn_table_metadata_location(t)));
    json_object_set_new(o, "current_snapshot_id", json_integer(m->current_snapshot_id));
    json_object_set_new(o, "snapshots", json_integer((json_int_t)m->nsnapshots));
    json_object_set_new(o, "metadata", md ? md : json_null());
    table_print_json(o);
    json_decref(o);
    tarn_table_close(t);
    return TARN_EXIT_OK;
  }
  printf("table:     %s.%s\nlocation:  %s\nmetadata:  %s\nuuid:      %s\nformat:    v%d\n", x->ns,
         x->name, m->location, tarn_table_metadata_location(t), m->table_uuid, m->format_version);
  printf("schema %d:\n", s ? (int)s->schema_id : -1);
  for (i = 0; s != NULL && i < s->nfields; i++) {
    tarn_ice_type_format(&s->fields[i].type, buf, sizeof(buf));
    printf("  %4d  %-24s %-16s %s%s%s\n", (int)s->fields[i].id, s->fields[i].name, buf,
           s->fields[i].required ? "required" : "optional", s->fields[i].doc ? "  -- " : "",
           s->fields[i].doc ? s->fields[i].doc : "");
  }
  printf("partition spec %d:%s\n", spec ? (int)spec->spec_id : -1,
         spec == NULL || spec->nfields == 0 ? " unpartitioned" : "");
  for (i = 0; spec != NULL && i < spec->nfields; i++) {
    describe_term(s, &spec->fields[i].transform, spec->fields[i].source_id, buf, sizeof(buf));
    printf("  %4d  %-24s %s\n", (int)spec->fields[i].field_id, spec->fields[i].name, buf);
  }
  for (i = 0; i < m->nsort_orders; i++) {
    const tarn_ice_sort_order *o = &m->sort_orders[i];
    size_t k;
    if (o->order_id != m->default_sort_order_id)
      continue;
    printf("sort order %d:%s", (int)o->order_id, o->nfields == 0 ? " unsorted" : "");
    for (k = 0; k < o->nfields; k++) {
      describe_term(s, &o->fields[k].transform, o->fields[k].source_id, buf, sizeof(buf));
      printf("%s %s %s %s", k ? "," : "", buf, o->fields[k].descending ? "desc" : "asc",
             o->fields[k].nulls_first ? "nulls-first" : "nulls-last");
    }
    printf("\n");
  }
  printf("properties:%s\n", m->nproperties == 0 ? " none" : "");
  for (i = 0; i < m->nproperties; i++)
    printf("  %s = %s\n", m->properties[i].key, m->properties[i].value);
  if (cur == NULL) {
    printf("current snapshot: none (empty table)\n");
  } else {
    table_iso_ms(cur->timestamp_ms, ts, sizeof(ts));
    printf("current snapshot: %lld (sequence %lld, %s, %s; %zu snapshot%s)\n  ",
           (long long)cur->snapshot_id, (long long)cur->sequence_number, ts,
           cur->operation ? cur->operation : "?", m->nsnapshots, m->nsnapshots == 1 ? "" : "s");
    print_summary_kv(cur, ", ");
    printf("\n");
  }
  tarn_table_close(t);
  return TARN_EXIT_OK;
}

/* ---- snapshots ---- */

static int cmp_seq(const void *a, const void *b) {
  const tarn_ice_snapshot *x = *(const tarn_ice_snapshot *const *)a;
  const tarn_ice_snapshot *y = *(const tarn_ice_snapshot *const *)b;
  if (x->sequence_number != y->sequence_number)
    return x->sequence_number < y->sequence_number ? -1 : 1;
  return x->timestamp_ms < y->timestamp_ms ? -1 : x->timestamp_ms > y->timestamp_ms;
}

int table_snapshots(table_cx *x) {
  tarn_table *t = NULL;
  const tarn_ice_metadata *m;
  const tarn_ice_snapshot **order;
  json_t *arr = NULL;
  size_t i, k;
  char ts[TARN_TIME_ISO_MAX];
  int rc = table_open(x, &t);
  if (rc != TARN_EXIT_OK)
    return rc;
  m = tarn_table_metadata(t);
  order = tarn_calloc(m->nsnapshots ? m->nsnapshots : 1, sizeof(*order));
  if (order == NULL) {
    cli_error("table", "out of memory");
    tarn_table_close(t);
    return TARN_EXIT_FAIL;
  }
  for (i = 0; i < m->nsnapshots; i++)
    order[i] = &m->snapshots[i];
  qsort(order, m->nsnapshots, sizeof(*order), cmp_seq);
  if (x->json)
    arr = json_array();
  else
    printf("%-1s %-20s %-20s %6s %-24s %-9s %s\n", "", "SNAPSHOT", "PARENT", "SEQ", "TIME (UTC)",
           "OPERATION", "SUMMARY");
  for (i = 0; i < m->nsnapshots; i++) {
    const tarn_ice_snapshot *s = order[i];
    table_iso_ms(s->timestamp_ms, ts, sizeof(ts));
    if (arr != NULL) {
      json_t *o = json_object(), *sum = json_object();
      json_object_set_new(o, "snapshot_id", json_integer(s->snapshot_id));
      json_object_set_new(o, "parent_id",
                          s->parent_id >= 0 ? json_integer(s->parent_id) : json_null());
      json_object_set_new(o, "sequence_number", json_integer(s->sequence_number));
      json_object_set_new(o, "timestamp_ms", json_integer(s->timestamp_ms));
      json_object_set_new(o, "timestamp", json_string(ts));
      json_object_set_new(o, "operation", s->operation ? json_string(s->operation) : json_null());
      json_object_set_new(o, "schema_id",
                          s->schema_id >= 0 ? json_integer(s->schema_id) : json_null());
      json_object_set_new(o, "manifest_list", json_string(s->manifest_list));
      json_object_set_new(o, "current", json_boolean(s->snapshot_id == m->current_snapshot_id));
      for (k = 0; k < s->nsummary; k++)
        json_object_set_new(sum, s->summary[k].key, json_string(s->summary[k].value));
      json_object_set_new(o, "summary", sum);
      json_array_append_new(arr, o);
    } else {
      char parent[24];
      if (s->parent_id >= 0)
        snprintf(parent, sizeof(parent), "%lld", (long long)s->parent_id);
      else
        snprintf(parent, sizeof(parent), "-");
      printf("%-1s %-20lld %-20s %6lld %-24s %-9s ",
             s->snapshot_id == m->current_snapshot_id ? "*" : "", (long long)s->snapshot_id, parent,
             (long long)s->sequence_number, ts, s->operation ? s->operation : "?");
      print_summary_kv(s, " ");
      printf("\n");
    }
  }
  if (arr != NULL)
    table_print_json(arr);
  json_decref(arr);
  tarn_free(order);
  tarn_table_close(t);
  return TARN_EXIT_OK;
}

/* ---- add-column ---- */

int table_add_column(table_cx *x) {
  tarn_table *t = NULL;
  tarn_ice_schema one;
  const tarn_ice_type *ty;
  tarn_error err;
  char lower[512], *ddl;
  int32_t fid = 0;
  size_t n;
  int rc;
  /* the type as a one-column schema: nested types too (their ids are the table's to give) */
  n = strlen(x->c.args[3]) + 8;
  if ((ddl = malloc(n)) == NULL)
    return TARN_EXIT_FAIL;
  snprintf(ddl, n, "c %s", x->c.args[3]);
  rc = tarn_ice_schema_parse_ddl(ddl, &one, &err);
  free(ddl);
  if (rc != 0 || one.nfields != 1) {
    if (rc == 0)
      tarn_ice_schema_free(&one);
    cli_error("table", "add-column: %s", rc ? tarn_error_message(&err) : "one type, please");
    return TARN_EXIT_USAGE;
  }
  ty = &one.fields[0].type;
  tarn_ice_type_format(ty, lower, sizeof(lower));
  rc = table_open(x, &t);
  if (rc != TARN_EXIT_OK) {
    tarn_ice_schema_free(&one);
    return rc;
  }
  if (tarn_table_add_column(t, x->c.args[2], ty, x->c.opt_values[TOPT_DOC], &fid, &err) != 0) {
    cli_error("table", "adding column \"%s\" to %s.%s: %s", x->c.args[2], x->ns, x->name,
              tarn_error_message(&err));
    tarn_table_close(t);
    tarn_ice_schema_free(&one);
    return TARN_EXIT_FAIL;
  }
  tarn_ice_schema_free(&one);
  if (x->json) {
    json_t *o = json_object();
    json_object_set_new(o, "table", json_sprintf("%s.%s", x->ns, x->name));
    json_object_set_new(o, "column", json_string(x->c.args[2]));
    json_object_set_new(o, "field_id", json_integer(fid));
    json_object_set_new(o, "schema_id", json_integer(tarn_table_metadata(t)->current_schema_id));
    table_print_json(o);
    json_decref(o);
  } else {
    printf("added column %s (%s, field id %d) to %s.%s: schema %d\n", x->c.args[2], lower, (int)fid,
           x->ns, x->name, (int)tarn_table_metadata(t)->current_schema_id);
  }
  tarn_table_close(t);
  return TARN_EXIT_OK;
}
