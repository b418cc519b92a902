/* catalog.h - the table catalog: namespaces, tables and compare-and-swap commits. */
#ifndef TARN_CATALOG_CATALOG_H
#define TARN_CATALOG_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "base/error.h"

/*
 * A catalog maps table identifiers (namespace, name) to the location of each table's
 * current Iceberg metadata file. A commit swaps that location from the one the writer
 * read to a new one, atomically, only if nobody committed in between; that swap is the
 * only point where a table changes, so every writer on every host must go through it.
 *
 * Backends: the SQL catalog in the layout of Iceberg Java's JdbcCatalog and PyIceberg's
 * SqlCatalog, on SQLite (default, `<lake>/catalog.db`) or PostgreSQL. Table layout, the
 * commit protocol and failure classification: src/catalog/README.md.
 *
 * Names. A namespace is its levels joined with '.' ("datasets", "a.b.c"), exactly as
 * Iceberg stores it: every level non-empty. Namespaces, table names and property keys
 * are 1 to 255 characters, metadata locations 1 to 1000, property values 0 to 1000
 * (the column widths of the JDBC layout); all valid UTF-8 without control characters.
 * Anything else is TARN_EINVAL (TARN_ETOOBIG when too long) before the backend is used.
 *
 * Results. 0 on success, else a tarn_code with err filled (naming the catalog, the
 * operation and the identifier):
 *   TARN_ENOTFOUND        the namespace or table does not exist
 *   TARN_EEXIST           it exists already (create/register/rename); also a namespace
 *                         that still holds tables (drop_namespace)
 *   TARN_ECONFLICT        commit: the current location is not the expected one (someone
 *                         else committed first): reload, rebase, retry
 *   TARN_EUNKNOWN_OUTCOME a write was sent but its acknowledgement was lost (connection
 *                         dropped, I/O error at commit): it may or may not have happened.
 *                         Load the table and compare before retrying or deleting files.
 *   TARN_ETIMEDOUT        the database stayed locked/unreachable for `busy_timeout_ms`
 *   TARN_ENETWORK, TARN_EIO, TARN_EPERM, TARN_ENOMEM, ...  as usual
 * A failed call changes nothing, except where TARN_EUNKNOWN_OUTCOME says it may have.
 *
 * Threads. A catalog handle owns one database connection and is used by one thread at a
 * time (no internal locking). Open one handle per thread or process; handles on the same
 * database may be used concurrently from any number of threads, processes and hosts:
 * the database serialises them. Never use a handle inherited across fork().
 */

typedef struct tarn_catalog tarn_catalog;

/* A property to set (input; borrowed). */
typedef struct tarn_catalog_prop {
  const char *key;
  const char *value;
} tarn_catalog_prop;

/* Properties read back (output; owned by the list). */
typedef struct tarn_catalog_kv {
  char *key;
  char *value;
} tarn_catalog_kv;

/* Caller-embedded lists: _init before use, _free after (also after a failed call). */
typedef struct tarn_catalog_props {
  tarn_catalog_kv *items; /* sorted by key */
  size_t count;
} tarn_catalog_props;

typedef struct tarn_catalog_names {
  char **items; /* sorted bytewise */
  size_t count;
} tarn_catalog_names;

/* What load_table returns. */
typedef struct tarn_catalog_table {
  char *metadata_location;          /* the current metadata file; never NULL after a load */
  char *previous_metadata_location; /* the one it replaced; NULL for a table's first version */
} tarn_catalog_table;

void tarn_catalog_props_init(tarn_catalog_props *p);
void tarn_catalog_props_free(tarn_catalog_props *p);
void tarn_catalog_names_init(tarn_catalog_names *l);
void tarn_catalog_names_free(tarn_catalog_names *l);
void tarn_catalog_table_init(tarn_catalog_table *t);
void tarn_catalog_table_free(tarn_catalog_table *t);

/*
 * Backend operations. Arguments reaching a backend are already validated; outputs are
 * initialised and empty. Every operation returns 0 or a tarn_code as listed above.
 * update_namespace and rename_table may be NULL (TARN_EUNSUPPORTED).
 */
typedef struct tarn_catalog_ops {
  const char *name; /* "sqlite", "postgres", "faulty" */
  /* Children one level below `parent` ("" = the top level), e.g. "a.b" under "a". */
  int (*list_namespaces)(tarn_catalog *cat, const char *parent, tarn_catalog_names *out,
                         tarn_error *err);
  int (*create_namespace)(tarn_catalog *cat, const char *ns, const tarn_catalog_prop *props,
                          size_t nprops, tarn_error *err);
  int (*load_namespace)(tarn_catalog *cat, const char *ns, tarn_catalog_props *out,
                        tarn_error *err);
  int (*update_namespace)(tarn_catalog *cat, const char *ns, const tarn_catalog_prop *set,
                          size_t nset, const char *const *remove, size_t nremove, tarn_error *err);
  int (*drop_namespace)(tarn_catalog *cat, const char *ns, tarn_error *err);
  int (*list_tables)(tarn_catalog *cat, const char *ns, tarn_catalog_names *out, tarn_error *err);
  int (*create_table)(tarn_catalog *cat, const char *ns, const char *table,
                      const char *metadata_location, tarn_error *err);
  int (*load_table)(tarn_catalog *cat, const char *ns, const char *table, tarn_catalog_table *out,
                    tarn_error *err);
  int (*commit)(tarn_catalog *cat, const char *ns, const char *table, const char *expected,
                const char *new_location, tarn_error *err);
  int (*drop_table)(tarn_catalog *cat, const char *ns, const char *table, tarn_error *err);
  int (*rename_table)(tarn_catalog *cat, const char *from_ns, const char *from_table,
                      const char *to_ns, const char *to_table, tarn_error *err);
  void (*destroy)(tarn_catalog *cat);
} tarn_catalog_ops;

/* Header every backend's catalog struct starts with. */
struct tarn_catalog {
  const tarn_catalog_ops *ops;
  const char *name; /* the catalog_name column's value; owned by the backend */
};

/* ---- opening ---- */

#define TARN_CATALOG_DEFAULT_NAME "tarn"
#define TARN_CATALOG_DEFAULT_BUSY_TIMEOUT_MS 30000

typedef struct tarn_catalog_options {
  const char *name;        /* catalog_name rows are scoped to; NULL = "tarn" */
  int64_t busy_timeout_ms; /* how long one call keeps retrying a locked database or a lost
                              connection before TARN_ETIMEDOUT; < 0 = 30000 */
} tarn_catalog_options;

/* Defaults: name "tarn", busy timeout 30 s. */
void tarn_catalog_options_init(tarn_catalog_options *o);

/*
 * Opens (creating if missing) the SQLite catalog at `path`: WAL journal,
 * synchronous=FULL (a commit is on disk before it is acknowledged), a busy handler with
 * jittered backoff up to the busy timeout. Creates the two catalog tables when missing;
 * an existing database created by Iceberg Java or PyIceberg is used as it is. o may be
 * NULL (defaults). On success the caller owns *out (tarn_catalog_destroy).
 */
int tarn_catalog_sqlite_open(const char *path, const tarn_catalog_options *o, tarn_catalog **out,
                             tarn_error *err);

/*
 * Connects to PostgreSQL with a libpq connection string ("host=... dbname=... user=..."
 * or a postgresql:// URI) and creates the catalog tables when missing. The handle
 * reconnects by itself after a lost connection. Passwords in the string never appear in
 * errors or logs. Fails at once (no retry) when the first connection fails.
 */
int tarn_catalog_pg_open(const char *conninfo, const tarn_catalog_options *o, tarn_catalog **out,
                         tarn_error *err);

/*
 * Opens the catalog the [catalog] settings describe. cfg must have been built with
 * tarn_catalog_config among its tables. With type sqlite and an empty uri the database
 * is `<lake_dir>/catalog.db` (lake_dir is created if missing). TARN_ECONFIG when type is
 * postgres and no connection string is set.
 */
int tarn_catalog_open_from_config(const tarn_config *cfg, const char *lake_dir, tarn_catalog **out,
                                  tarn_error *err);

/* [catalog] type, uri, postgres (secret), name, busy_timeout. */
extern const tarn_cfg_def tarn_catalog_config[];

/* Closes the connection and frees the handle. Accepts NULL. */
void tarn_catalog_destroy(tarn_catalog *cat);

/* The catalog's name (the catalog_name column). */
const char *tarn_catalog_name(const tarn_catalog *cat);

/* ---- namespaces ---- */

/*
 * A namespace exists while it has a property row or any table (also through a child:
 * "a" exists when "a.b" does), the rule Iceberg Java and PyIceberg share. Creating one
 * stores its properties plus the reserved "exists" = "true" row; "exists" is never
 * returned by load_namespace and may not be set or removed (TARN_EINVAL).
 */
int tarn_catalog_list_namespaces(tarn_catalog *cat, const char *parent, tarn_catalog_names *out,
                                 tarn_error *err);
int tarn_catalog_create_namespace(tarn_catalog *cat, const char *ns, const tarn_catalog_prop *props,
                                  size_t nprops, tarn_error *err);
int tarn_catalog_load_namespace(tarn_catalog *cat, const char *ns, tarn_catalog_props *out,
                                tarn_error *err);
/* Sets (insert or replace) and removes properties in one transaction. */
int tarn_catalog_update_namespace(tarn_catalog *cat, const char *ns, const tarn_catalog_prop *set,
                                  size_t nset, const char *const *remove, size_t nremove,
                                  tarn_error *err);
/* TARN_EEXIST while tables remain in the namespace itself. */
int tarn_catalog_drop_namespace(tarn_catalog *cat, const char *ns, tarn_error *err);

/* ---- tables ---- */

/* Names of the tables directly in `ns` (TARN_ENOTFOUND if ns does not exist). */
int tarn_catalog_list_tables(tarn_catalog *cat, const char *ns, tarn_catalog_names *out,
                             tarn_error *err);

/*
 * Registers a table whose first metadata file is already written at
 * `metadata_location`: one INSERT, previous_metadata_location NULL. The namespace must
 * exist (TARN_ENOTFOUND); a table or view of that name is TARN_EEXIST.
 * create_table is the same operation under the name table code uses when it has just
 * written version 1 itself.
 */
int tarn_catalog_register_table(tarn_catalog *cat, const char *ns, const char *table,
                                const char *metadata_location, tarn_error *err);
int tarn_catalog_create_table(tarn_catalog *cat, const char *ns, const char *table,
                              const char *metadata_location, tarn_error *err);

/* Current and previous metadata locations. out must be initialised; on failure it is
 * left empty. */
int tarn_catalog_load_table(tarn_catalog *cat, const char *ns, const char *table,
                            tarn_catalog_table *out, tarn_error *err);

/*
 * Compare-and-swap: makes `new_location` current and `expected` previous, only if the
 * current location is still `expected`. TARN_ECONFLICT if it is not (the detail names
 * both), TARN_ENOTFOUND if the table is gone, TARN_EINVAL if the two are equal,
 * TARN_EUNKNOWN_OUTCOME if the acknowledgement was lost: then load the table; if its
 * location is new_location the commit happened.
 */
int tarn_catalog_commit(tarn_catalog *cat, const char *ns, const char *table, const char *expected,
                        const char *new_location, tarn_error *err);

/* Removes the catalog entry only (files are the caller's business). */
int tarn_catalog_drop_table(tarn_catalog *cat, const char *ns, const char *table, tarn_error *err);

/* Moves a table to another name and/or namespace (which must exist). */
int tarn_catalog_rename_table(tarn_catalog *cat, const char *from_ns, const char *from_table,
                              const char *to_ns, const char *to_table, tarn_error *err);

/* ---- helpers ---- */

/*
 * Copies a libpq connection string into dst (always NUL-terminated, truncated to
 * dstlen) with every password replaced by "<redacted>": `password=...` and
 * `sslpassword=...` values (quoted or not) in keyword/value strings, the password of a
 * postgresql:// URI's user info and `password=` query parameters. Text it cannot parse
 * is redacted whole. Returns the length of the full redacted text.
 */
size_t tarn_catalog_redact_conninfo(const char *conninfo, char *dst, size_t dstlen);

/* ---- fault injection (tests) ---- */

typedef enum tarn_catalog_fault_op {
  TARN_CATALOG_FAULT_ANY = 0, /* every operation */
  TARN_CATALOG_FAULT_LIST_NAMESPACES,
  TARN_CATALOG_FAULT_CREATE_NAMESPACE,
  TARN_CATALOG_FAULT_LOAD_NAMESPACE,
  TARN_CATALOG_FAULT_UPDATE_NAMESPACE,
  TARN_CATALOG_FAULT_DROP_NAMESPACE,
  TARN_CATALOG_FAULT_LIST_TABLES,
  TARN_CATALOG_FAULT_CREATE_TABLE,
  TARN_CATALOG_FAULT_LOAD_TABLE,
  TARN_CATALOG_FAULT_COMMIT,
  TARN_CATALOG_FAULT_DROP_TABLE,
  TARN_CATALOG_FAULT_RENAME_TABLE,
} tarn_catalog_fault_op;

typedef enum tarn_catalog_fault_kind {
  TARN_CATALOG_FAULT_BEFORE = 1, /* fail with `code`; the inner catalog is not called */
  TARN_CATALOG_FAULT_AFTER,      /* call the inner catalog; if it succeeded, report `code`
                                    anyway (a lost acknowledgement: the write happened) */
} tarn_catalog_fault_kind;

/*
 * Wraps `inner` (taking ownership of it, also on failure). A rule fires on the `nth`
 * matching call (1-based; 0 = every matching call), `times` times at most (0 =
 * unlimited).
 */
int tarn_catalog_faulty_wrap(tarn_catalog *inner, tarn_catalog **out, tarn_error *err);
int tarn_catalog_faulty_add(tarn_catalog *cat, tarn_catalog_fault_op op,
                            tarn_catalog_fault_kind kind, int code, unsigned nth, unsigned times,
                            tarn_error *err);
void tarn_catalog_faulty_clear(tarn_catalog *cat);
unsigned tarn_catalog_faulty_fired(tarn_catalog *cat);

#endif
