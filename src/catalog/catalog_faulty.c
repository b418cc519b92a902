/* catalog_faulty.c - a catalog wrapper that fails chosen operations on purpose (tests). */
#include <string.h>

#include "base/alloc.h"
#include "catalog/catalog_int.h"

#define MAX_RULES 16

typedef struct fault_rule {
  tarn_catalog_fault_op op;
  tarn_catalog_fault_kind kind;
  int code;
  unsigned nth, times;
  unsigned seen, fired;
} fault_rule;

typedef struct faulty_catalog {
  tarn_catalog base;
  tarn_catalog *inner;
  fault_rule rules[MAX_RULES];
  size_t nrules;
  unsigned fired;
} faulty_catalog;

static const tarn_catalog_ops faulty_ops;

static faulty_catalog *as_faulty(tarn_catalog *cat) {
  return cat != NULL && cat->ops == &faulty_ops ? (faulty_catalog *)cat : NULL;
}

static const char *op_name(tarn_catalog_fault_op op) {
  static const char *const names[] = {"any",
                                      "list_namespaces",
                                      "create_namespace",
                                      "load_namespace",
                                      "update_namespace",
                                      "drop_namespace",
                                      "list_tables",
                                      "create_table",
                                      "load_table",
                                      "commit",
                                      "drop_table",
                                      "rename_table"};
  return (size_t)op < sizeof(names) / sizeof(names[0]) ? names[op] : "?";
}

/* The rule that fires on this call of `op`, or NULL. Counts the call for every rule. */
static fault_rule *match(faulty_catalog *fc, tarn_catalog_fault_op op) {
  fault_rule *hit = NULL;
  size_t i;
  for (i = 0; i < fc->nrules; i++) {
    fault_rule *r = &fc->rules[i];
    if (r->op != TARN_CATALOG_FAULT_ANY && r->op != op)
      continue;
    r->seen++;
    if (hit != NULL || (r->times > 0 && r->fired >= r->times))
      continue;
    if (r->nth == 0 || r->seen == r->nth)
      hit = r;
  }
  if (hit != NULL) {
    hit->fired++;
    fc->fired++;
  }
  return hit;
}

static int injected(faulty_catalog *fc, fault_rule *r, tarn_catalog_fault_op op, tarn_error *err) {
  return tarn_error_set(
      err, r->code, "catalog '%s': injected fault: %s %s", fc->base.name, op_name(op),
      r->kind == TARN_CATALOG_FAULT_AFTER ? "succeeded but the answer was lost" : "failed");
}

/* Calls the inner operation unless a BEFORE rule fires; an AFTER rule replaces success. */
#define FAULTY_CALL(OPENUM, CALL)                                                                  \
  do {                                                                                             \
    faulty_catalog *fc = (faulty_catalog *)cat;                                                    \
    fault_rule *r = match(fc, OPENUM);                                                             \
    int rc;                                                                                        \
    if (r != NULL && r->kind == TARN_CATALOG_FAULT_BEFORE)                                         \
      return injected(fc, r, OPENUM, err);                                                         \
    rc = CALL;                                                                                     \
    if (rc == 0 && r != NULL)                                                                      \
      return injected(fc, r, OPENUM, err);                                                         \
    return rc;                                                                                     \
  } while (0)

static int f_list_namespaces(tarn_catalog *cat, const char *parent, tarn_catalog_names *out,
                             tarn_error *err) {
  FAULTY_CALL(TARN_CATALOG_FAULT_LIST_NAMESPACES,
              tarn_catalog_list_namespaces(fc->inner, parent, out, err));
}

static int f_create_namespace(tarn_catalog *cat, const char *ns, const tarn_catalog_prop *props,
                              size_t nprops, tarn_error *err) {
  FAULTY_CALL(TARN_CATALOG_FAULT_CREATE_NAMESPACE,
              tarn_catalog_create_namespace(fc->inner, ns, props, nprops, err));
}

static int f_load_namespace(tarn_catalog *cat, const char *ns, tarn_catalog_props *out,
                            tarn_error *err) {
  FAULTY_CALL(TARN_CATALOG_FAULT_LOAD_NAMESPACE,
              tarn_catalog_load_namespace(fc->inner, ns, out, err));
}

static int f_update_namespace(tarn_catalog *cat, const char *ns, const tarn_catalog_prop *set,
                              size_t nset, const char *const *remove, size_t nremove,
                              tarn_error *err) {
  FAULTY_CALL(TARN_CATALOG_FAULT_UPDATE_NAMESPACE,
              tarn_catalog_update_namespace(fc->inner, ns, set, nset, remove, nremove, err));
}

static int f_drop_namespace(tarn_catalog *cat, const char *ns, tarn_error *err) {
  FAULTY_CALL(TARN_CATALOG_FAULT_DROP_NAMESPACE, tarn_catalog_drop_namespace(fc->inner, ns, err));
}

static int f_list_tables(tarn_catalog *cat, const char *ns, tarn_catalog_names *out,
                         tarn_error *err) {
  FAULTY_CALL(TARN_CATALOG_FAULT_LIST_TABLES, tarn_catalog_list_tables(fc->inner, ns, out, err));
}

static int f_create_table(tarn_catalog *cat, const char *ns, const char *table,
                          const char *metadata_location, tarn_error *err) {
  FAULTY_CALL(TARN_CATALOG_FAULT_CREATE_TABLE,
              tarn_catalog_register_table(fc->inner, ns, table, metadata_location, err));
}

static int f_load_table(tarn_catalog *cat, const char *ns, const char *table,
                        tarn_catalog_table *out, tarn_error *err) {
  FAULTY_CALL(TARN_CATALOG_FAULT_LOAD_TABLE,
              tarn_catalog_load_table(fc->inner, ns, table, out, err));
}

static int f_commit(tarn_catalog *cat, const char *ns, const char *table, const char *expected,
                    const char *new_location, tarn_error *err) {
  FAULTY_CALL(TARN_CATALOG_FAULT_COMMIT,
              tarn_catalog_commit(fc->inner, ns, table, expected, new_location, err));
}

static int f_drop_table(tarn_catalog *cat, const char *ns, const char *table, tarn_error *err) {
  FAULTY_CALL(TARN_CATALOG_FAULT_DROP_TABLE, tarn_catalog_drop_table(fc->inner, ns, table, err));
}

static int f_rename_table(tarn_catalog *cat, const char *from_ns, const char *from_table,
                          const char *to_ns, const char *to_table, tarn_error *err) {
  FAULTY_CALL(TARN_CATALOG_FAULT_RENAME_TABLE,
              tarn_catalog_rename_table(fc->inner, from_ns, from_table, to_ns, to_table, err));
}

static void f_destroy(tarn_catalog *cat) {
  faulty_catalog *fc = (faulty_catalog *)cat;
  tarn_catalog_destroy(fc->inner);
  tarn_free(fc);
}

static const tarn_catalog_ops faulty_ops = {
    "faulty",         f_list_namespaces, f_create_namespace, f_load_namespace, f_update_namespace,
    f_drop_namespace, f_list_tables,     f_create_table,     f_load_table,     f_commit,
    f_drop_table,     f_rename_table,    f_destroy,
};

int tarn_catalog_faulty_wrap(tarn_catalog *inner, tarn_catalog **out, tarn_error *err) {
  faulty_catalog *fc;
  *out = NULL;
  if (inner == NULL)
    return tarn_error_set(err, TARN_EINVAL, "faulty catalog: no inner catalog");
  fc = tarn_calloc(1, sizeof(*fc));
  if (fc == NULL) {
    tarn_catalog_destroy(inner);
    return tarn_error_set(err, TARN_ENOMEM, "faulty catalog: out of memory");
  }
  fc->base.ops = &faulty_ops;
  fc->base.name = inner->name;
  fc->inner = inner;
  *out = &fc->base;
  return 0;
}

int tarn_catalog_faulty_add(tarn_catalog *cat, tarn_catalog_fault_op op,
                            tarn_catalog_fault_kind kind, int code, unsigned nth, unsigned times,
                            tarn_error *err) {
  faulty_catalog *fc = as_faulty(cat);
  fault_rule *r;
  if (fc == NULL)
    return tarn_error_set(err, TARN_EINVAL, "not a faulty catalog");
  if (op > TARN_CATALOG_FAULT_RENAME_TABLE ||
      (kind != TARN_CATALOG_FAULT_BEFORE && kind != TARN_CATALOG_FAULT_AFTER) || code == 0)
    return tarn_error_set(err, TARN_EINVAL, "faulty catalog: bad rule");
  if (fc->nrules >= MAX_RULES)
    return tarn_error_set(err, TARN_ETOOBIG, "faulty catalog: at most %d rules", MAX_RULES);
  r = &fc->rules[fc->nrules++];
  memset(r, 0, sizeof(*r));
  r->op = op;
  r->kind = kind;
  r->code = code;
  r->nth = nth;
  r->times = times;
  return 0;
}

void tarn_catalog_faulty_clear(tarn_catalog *cat) {
  faulty_catalog *fc = as_faulty(cat);
  if (fc != NULL)
    fc->nrules = 0;
}

unsigned tarn_catalog_faulty_fired(tarn_catalog *cat) {
  faulty_catalog *fc = as_faulty(cat);
  return fc ? fc->fired : 0;
}
