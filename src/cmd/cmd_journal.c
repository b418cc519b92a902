/* cmd_journal.c - `tarn journal append|history|recent|stats|flush|compact`: the mutation
 * journal from the command line, either opened here on the lake or through a running
 * `tarn serve` (--url). Both ways print the same JSON (src/journal/journal_json.h). */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/settings.h"
#include "cli.h"
#include "cmds.h"
#include "journal/journal.h"
#include "journal/journal_json.h"
#include "journal_open.h"

#define CMD "journal"
/* the most an answer from tarn serve may hold (history: 10,000 events of up to 2 MiB) */
#define MAX_ANSWER ((size_t)1 << 30)
/* the most an --file sent through --url may hold (tarn serve has its own, smaller cap) */
#define MAX_URL_FILE ((size_t)1 << 30)

enum {
  JO_URL,
  JO_CACERT,
  JO_ACTOR,
  JO_EVENT_ID,
  JO_TIMESTAMP,
  JO_WORKSPACE,
  JO_OLD,
  JO_NEW,
  JO_FILE,
  JO_SNAPSHOT,
  JO_ROWS,
  JO_SOURCE,
  JO_ENTITY_TYPE,
  JO_SINCE,
  JO_UNTIL,
  JO_LIMIT,
  JO_COUNT
};

static const cli_opt journal_opts[] = {
    [JO_URL] = {"url", 1, "URL",
                "go through this tarn serve (env TARN_URL; its token: env TARN_TOKEN)"},
    [JO_CACERT] = {"cacert", 1, "FILE", "PEM certificates to check an https --url against"},
    [JO_ACTOR] = {"actor", 1, "A",
                  "who made the change (default: local; through --url: the token's name)"},
    [JO_EVENT_ID] = {"event-id", 1, "ID",
                     "your id for the event: the same id again stores nothing (safe retries)"},
    [JO_TIMESTAMP] = {"timestamp", 1, "T",
                      "when it happened: RFC 3339 with a zone, or microseconds (default: now)"},
    [JO_WORKSPACE] = {"workspace", 1, "W", "the workspace the change was made in"},
    [JO_OLD] = {"old", 1, "JSON", "the value before the change (any JSON: 5, \"paid\", {...})"},
    [JO_NEW] = {"new", 1, "JSON", "the value after the change (any JSON)"},
    [JO_FILE] = {"file", 1, "FILE", "events as one JSON object or NDJSON (- = standard input)"},
    [JO_SNAPSHOT] = {"snapshot-id", 1, "N", "the dataset's snapshot the ingest committed"},
    [JO_ROWS] = {"rows", 1, "N", "rows the ingest added"},
    [JO_SOURCE] = {"source", 1, "S", "where the ingested rows came from (a file name, a URL)"},
    [JO_ENTITY_TYPE] = {"entity-type", 1, "T", "only events of this entity type"},
    [JO_SINCE] = {"since", 1, "T", "from this time on (inclusive): RFC 3339 or microseconds"},
    [JO_UNTIL] = {"until", 1, "T", "before this time (exclusive): RFC 3339 or microseconds"},
    [JO_LIMIT] = {"limit", 1, "N", "at most N events"},
    [JO_COUNT] = {NULL, 0, NULL, NULL},
};

#define O(x) (1u << (x))
#define REMOTE_OPTS (O(JO_URL) | O(JO_CACERT))

/* One run: the parsed command line, and either the journal opened here or the address of
 * the tarn serve that holds it. */
typedef struct jcx {
  cli c;
  const char *url;      /* --url or TARN_URL; NULL: the journal on the lake */
  const char *url_from; /* "--url" or "TARN_URL", for messages */
  char *token;          /* TARN_TOKEN (owned, wiped at the end); never printed */
  CURL *h;
  journal_handle cj;
} jcx;

typedef struct journal_sub {
  const char *name;
  const char *args; /* for usage lines */
  int min_args, max_args;
  unsigned opts;
  const char *summary;
  const char *help;
  int (*run)(jcx *x);
} journal_sub;

static int sub_append(jcx *x);
static int sub_history(jcx *x);
static int sub_recent(jcx *x);
static int sub_stats(jcx *x);
static int sub_flush(jcx *x);
static int sub_compact(jcx *x);

static const journal_sub subs[] = {
    {"append", "KIND ARGS... | --file FILE", 0, 4,
     REMOTE_OPTS | O(JO_ACTOR) | O(JO_EVENT_ID) | O(JO_TIMESTAMP) | O(JO_WORKSPACE) | O(JO_OLD) |
         O(JO_NEW) | O(JO_FILE) | O(JO_SNAPSHOT) | O(JO_ROWS) | O(JO_SOURCE),
     "record an event (KIND: insert, update, delete, ingest)",
     "Records one event and prints its ack as one JSON line:\n"
     "  {\"event_id\":\"...\",\"seq\":7,\"duplicate\":false}\n"
     "The event is durable (fsynced to the journal's write-ahead log) when this returns.\n\n"
     "  append insert ENTITY_TYPE ENTITY_ID [--new JSON]\n"
     "      an entity was created; --new is what it is now\n"
     "  append update ENTITY_TYPE ENTITY_ID FIELD [--old JSON] [--new JSON]\n"
     "      one field of an entity changed, from --old to --new\n"
     "  append delete ENTITY_TYPE ENTITY_ID [--old JSON]\n"
     "      an entity was removed; --old is what it was\n"
     "  append ingest DATASET --snapshot-id N --rows N --source S\n"
     "      rows landed in datasets.DATASET (entity_id \"datasets.DATASET\"); the event_id\n"
     "      is derived from DATASET and N, so recording the same commit twice stores it once\n"
     "  append --file FILE\n"
     "      every event of FILE (- = standard input): one JSON object, or NDJSON (one\n"
     "      object per line) with the fields POST /journal/events takes: entity_type,\n"
     "      entity_id, action, field, old_value, new_value, timestamp, actor, source,\n"
     "      workspace_id, event_id. A bad line is refused naming the line and the field,\n"
     "      and then nothing of the file is stored. One ack line per event, in order.\n\n"
     "Values (--old, --new) are JSON: 5 and \"5\" are different values; text needs JSON's\n"
     "quotes inside the shell's: --new '\"paid\"'. --event-id makes a retry safe: the same\n"
     "id again stores nothing and prints the first ack with \"duplicate\":true; the same\n"
     "id for a different event is refused (exit 1).\n\n"
     "Examples:\n"
     "  tarn journal append insert order o-1 --new '{\"qty\":1,\"status\":\"open\"}'\n"
     "  tarn journal append update order o-1 status --old '\"open\"' --new '\"paid\"' \\\n"
     "      --event-id c-91 --actor ana\n"
     "  tarn journal append delete order o-1 --timestamp 2026-12-01T10:00:00Z\n"
     "  tarn journal append ingest sales --snapshot-id 4017 --rows 120 --source sales.csv\n"
     "  printf '%s\\n' '{\"entity_type\":\"order\",\"entity_id\":\"o-2\",\"action\":\"insert\"}' "
     "|\n"
     "      tarn journal append --file -\n",
     sub_append},
    {"history", "ENTITY_ID", 1, 1,
     REMOTE_OPTS | O(JO_ENTITY_TYPE) | O(JO_SINCE) | O(JO_UNTIL) | O(JO_LIMIT),
     "an entity's events, oldest first",
     "Prints the events of ENTITY_ID in time order (then in append order), one JSON object\n"
     "per line: the objects GET /journal/history/ENTITY_ID answers with (event_id,\n"
     "timestamp, entity_type, entity_id, field, action, old_value, new_value, actor,\n"
     "source, workspace_id, seq). Events still held in memory and events already flushed\n"
     "to system.journal are read together. --limit: 1 to 10000 (default 1000), the\n"
     "oldest first. Times: RFC 3339 with a zone (2026-12-01T00:00:00Z,\n"
     "2026-12-01T01:00:00+01:00) or microseconds since 1970.\n\n"
     "Examples:\n"
     "  tarn journal history o-1\n"
     "  tarn journal history o-1 --entity-type order --since 2026-12-01T00:00:00Z --limit 100\n"
     "  tarn journal history datasets.sales | jq -r .new_value.rows   # its ingests\n",
     sub_history},
    {"recent", "", 0, 0, REMOTE_OPTS | O(JO_LIMIT), "the latest events, newest first",
     "Prints the latest events appended, newest first, one JSON object per line (as\n"
     "history does). --limit: 1 to 1000 (default 50).\n\n"
     "Example:\n"
     "  tarn journal recent --limit 20\n",
     sub_recent},
    {"stats", "", 0, 0, REMOTE_OPTS, "what the journal holds (as GET /journal/stats)",
     "Prints what the journal holds, as GET /journal/stats answers: events in memory, the\n"
     "write-ahead log (segments, bytes, sequence numbers), what system.journal holds\n"
     "(table_seq, table_files, table_small_files), flushes and compactions with their last\n"
     "errors, events taken in from the inbox (tarn ingest's events). Opened here, the\n"
     "counters \"since start\" count this run only.\n\n"
     "Example:\n"
     "  tarn journal stats | jq .events_in_memory\n",
     sub_stats},
    {"flush", "", 0, 0, REMOTE_OPTS, "write the held events to system.journal now",
     "Writes every event held in memory (and the write-ahead log) to the Iceberg table\n"
     "system.journal now, and prints {\"flushed\":N,\"table_seq\":S,\"events_in_memory\":0}.\n"
     "tarn serve also flushes on its own ([journal] flush_events, flush_bytes, flush_age);\n"
     "this command does not: what it appends stays in the write-ahead log until a flush,\n"
     "or until tarn serve takes the journal.\n\n"
     "Example:\n"
     "  tarn journal flush\n",
     sub_flush},
    {"compact", "", 0, 0, REMOTE_OPTS, "merge system.journal into one sorted run now",
     "Merges every sorted run of system.journal (each flush writes one) into one, files\n"
     "sorted by entity and time split at entity boundaries, in replace commits (several\n"
     "rounds when [journal] compact_max_memory cannot hold every run's reader at once),\n"
     "and prints files_in, files_out, events, bytes_in, bytes_out, snapshot_id (null when\n"
     "there was nothing to do) and small_files_left. History reads the same events before\n"
     "and after. tarn serve also compacts on its own, merging runs of similar sizes\n"
     "([journal] compact_every, compact_min_files).\n\n"
     "Example:\n"
     "  tarn journal flush && tarn journal compact\n",
     sub_compact},
    {NULL, NULL, 0, 0, 0, NULL, NULL, NULL},
};

/* ---- help ---- */

static void print_opts_for(const cli *c, unsigned mask) {
  cli_print_options_masked(c, journal_opts, mask, stdout);
}

static void print_help(const cli *c) {
  const journal_sub *s;
  printf("Usage: tarn journal <subcommand> [arguments] [options]\n\n"
         "The mutation journal: every change to an entity or a dataset is an event (who\n"
         "changed what, when, from what, to what), appended durably and answered by entity.\n"
         "This command reaches the journal in one of two ways:\n\n"
         "  on the lake (default)  it opens the journal itself: the write-ahead log in\n"
         "                         [journal] wal_dir (default LAKE/journal/wal) and the\n"
         "                         Iceberg table system.journal. One process at a time holds\n"
         "                         the journal: while a tarn serve runs on the lake this is\n"
         "                         refused (exit 69), and --url is the way.\n"
         "  --url URL              through that tarn serve's HTTP API (also env TARN_URL).\n"
         "                         When the server has tokens, put one in the environment\n"
         "                         variable TARN_TOKEN (scope read for history, recent and\n"
         "                         stats; write for append, flush and compact).\n\n"
         "Both ways print the same thing: appends one ack per line, history and recent one\n"
         "event per line (NDJSON), stats, flush and compact one JSON document.\n\n"
         "Subcommands:\n");
  for (s = subs; s->name != NULL; s++) {
    char left[72];
    snprintf(left, sizeof(left), "%s %s", s->name, s->args);
    printf("  %-34s %s\n", left, s->summary);
  }
  printf("\nExamples:\n"
         "  tarn journal append insert order o-1 --new '{\"qty\":1}'\n"
         "  tarn journal append update order o-1 qty --old 1 --new 2 --event-id c-91\n"
         "  tarn journal history o-1 --since 2026-12-01T00:00:00Z\n"
         "  tarn journal recent --limit 20\n"
         "  tarn journal flush && tarn journal compact\n"
         "  TARN_TOKEN=tarn_6c1f... tarn journal history o-1 --url http://127.0.0.1:8080\n\n"
         "Run 'tarn journal <subcommand> --help' for its arguments, options and examples.\n"
         "Exit codes: 0 done; 1 failed (the message says why, and through --url the HTTP\n"
         "status); 2 bad usage (the option or argument is named); 69 a running tarn serve\n"
         "holds the journal (use --url).\n");
  print_opts_for(c, REMOTE_OPTS);
}

static void print_sub_help(const cli *c, const journal_sub *s) {
  printf("Usage: tarn journal %s%s%s [options]\n\n%s", s->name, s->args[0] ? " " : "", s->args,
         s->help);
  printf("\nWithout --url (or TARN_URL) the journal is opened on the lake; with it, the\n"
         "request goes to that tarn serve (token: env TARN_TOKEN). The output is the same.\n");
  print_opts_for(c, s->opts);
}

/* ---- small helpers ---- */

/* A usage error: the message naming the bad option or argument, and where help is. */
static int usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage(const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "tarn %s: ", CMD);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nRun 'tarn journal --help' for usage.\n");
  return TARN_EXIT_USAGE;
}

/* A failure of the work: the message, exit 1. */
static int fail(const char *what, const tarn_error *err) {
  cli_error(CMD, "%s%s%s", what != NULL ? what : "", what != NULL ? ": " : "",
            tarn_error_message(err));
  return TARN_EXIT_FAIL;
}

/* Prints one JSON value: compact on one line (NDJSON), or indented (a document). */
static int print_json(const json_t *v, int indent) {
  char *s = json_dumps(v, (indent ? JSON_INDENT(2) : JSON_COMPACT) | JSON_PRESERVE_ORDER |
                              JSON_ENCODE_ANY);
  if (s == NULL) {
    cli_error(CMD, "out of memory");
    return TARN_EXIT_FAIL;
  }
  printf("%s\n", s);
  tarn_free(s);
  return TARN_EXIT_OK;
}

/* Prints a value built here (NULL: out of memory) and releases it. */
static int print_owned(json_t *v, int indent) {
  int rc;
  if (v == NULL) {
    cli_error(CMD, "out of memory");
    return TARN_EXIT_FAIL;
  }
  rc = print_json(v, indent);
  json_decref(v);
  return rc;
}

/* A whole number in [min, max]: 0, or -1 when s is not one. */
static int parse_int(const char *s, long long min, long long max, long long *out) {
  char *end;
  long long v;
  if (s == NULL || s[0] == '\0')
    return -1;
  errno = 0;
  v = strtoll(s, &end, 10);
  if (*end != '\0' || errno != 0 || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

/* A JSON value given as an option (--old, --new), checked here, before anything is opened
 * or sent, so that both ways refuse it alike. */
static int parse_value(const char *opt, const char *text, json_t **out) {
  json_error_t je;
  *out = NULL;
  if (text == NULL)
    return TARN_EXIT_OK;
  *out = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
  if (*out == NULL)
    return usage("--%s '%s': not JSON (%s at column %d); text takes JSON's quotes: --%s "
                 "'\"paid\"'",
                 opt, text, je.text, je.column, opt);
  return TARN_EXIT_OK;
}

/* Reads a whole file (- = standard input) into b, at most max bytes. */
static int read_file(const char *path, size_t max, tarn_buf *b) {
  char chunk[65536];
  tarn_error err;
  int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n;
  tarn_buf_init(b, max);
  if (fd < 0) {
    cli_error(CMD, "--file %s: %s", path, strerror(errno));
    return TARN_EXIT_FAIL;
  }
  while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      cli_error(CMD, "--file %s: %s", path, strerror(errno));
      break;
    }
    if (tarn_buf_append(b, chunk, (size_t)n, &err) != 0) {
      if (err.code == TARN_ETOOBIG)
        cli_error(CMD, "--file %s: larger than %zu bytes ([journal] max_request_bytes)", path, max);
      else
        cli_error(CMD, "--file %s: %s", path, tarn_error_message(&err));
      n = -1;
      break;
    }
  }
  if (fd != 0)
    close(fd);
  if (n != 0) {
    tarn_buf_free(b);
    return TARN_EXIT_FAIL;
  }
  return TARN_EXIT_OK;
}

/* ---- through tarn serve (--url) ---- */

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud) {
  tarn_buf *b = ud;
  tarn_error err;
  size_t n = size * nmemb;
  return tarn_buf_append(b, p, n, &err) == 0 ? n : 0; /* 0 stops curl: past the cap */
}

/* The error tarn serve answered with: "tarn journal: [what: ]message (HTTP status)". */
static void report_http_error(const char *what, long status, const tarn_buf *body) {
  json_t *o = body->len > 0 ? json_loadb(body->data, body->len, 0, NULL) : NULL;
  const char *msg = json_string_value(json_object_get(json_object_get(o, "error"), "message"));
  if (msg != NULL)
    cli_error(CMD, "%s%s%s (HTTP %ld)", what != NULL ? what : "", what != NULL ? ": " : "", msg,
              status);
  else
    cli_error(CMD, "%s%s%.200s (HTTP %ld)", what != NULL ? what : "", what != NULL ? ": " : "",
              body->len > 0 ? body->data : "an error without a message", status);
  if (status == 401)
    fprintf(stderr,
            "tarn %s: this tarn serve needs a token: put one in the environment variable "
            "TARN_TOKEN ('tarn token new NAME --scope write' makes one)\n",
            CMD);
  json_decref(o);
}

/*
 * One request to tarn serve: method, path (its query already escaped) and body (NULL:
 * none). A 2xx answer's JSON goes to *out (the caller's to release); anything else is
 * printed (`what` first) and returns TARN_EXIT_FAIL. The token travels in the
 * Authorization header only: never printed, and the buffer the header was made in is
 * wiped.
 */
static int remote(jcx *x, const char *method, const char *path, const char *body, size_t len,
                  const char *what, json_t **out) {
  struct curl_slist *hdrs = NULL, *nh;
  char errbuf[CURL_ERROR_SIZE], *auth = NULL;
  size_t auth_len = 0, base = strlen(x->url);
  tarn_buf url, answer;
  tarn_error err;
  CURLcode res;
  long status = 0;
  int rc = TARN_EXIT_FAIL, ok;
  *out = NULL;
  errbuf[0] = '\0';
  tarn_buf_init(&url, 65536);
  tarn_buf_init(&answer, MAX_ANSWER);
  while (base > 0 && x->url[base - 1] == '/')
    base--;
  if (tarn_buf_append(&url, x->url, base, &err) != 0 ||
      tarn_buf_append_str(&url, path, &err) != 0) {
    cli_error(CMD, "%s: %s", x->url_from, tarn_error_message(&err));
    goto out;
  }
  nh = curl_slist_append(hdrs, "Content-Type: application/json");
  if (nh != NULL)
    hdrs = nh;
  if (nh != NULL && x->token != NULL) {
    auth_len = strlen(x->token) + 32;
    auth = tarn_malloc(auth_len);
    nh = NULL;
    if (auth != NULL) {
      snprintf(auth, auth_len, "Authorization: Bearer %s", x->token);
      nh = curl_slist_append(hdrs, auth);
      explicit_bzero(auth, auth_len);
      if (nh != NULL)
        hdrs = nh;
    }
  }
  if (nh == NULL) {
    cli_error(CMD, "out of memory");
    goto out;
  }
  curl_easy_reset(x->h);
  ok = curl_easy_setopt(x->h, CURLOPT_URL, url.data) == CURLE_OK &&
       curl_easy_setopt(x->h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
       curl_easy_setopt(x->h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
       curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, hdrs) == CURLE_OK &&
       curl_easy_setopt(x->h, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK &&
       curl_easy_setopt(x->h, CURLOPT_CONNECTTIMEOUT_MS, 10000L) == CURLE_OK &&
       curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
       curl_easy_setopt(x->h, CURLOPT_WRITEDATA, &answer) == CURLE_OK;
  if (ok && x->c.opt_values[JO_CACERT] != NULL)
    ok = curl_easy_setopt(x->h, CURLOPT_CAINFO, x->c.opt_values[JO_CACERT]) == CURLE_OK;
  if (ok && strcmp(method, "POST") == 0)
    ok = curl_easy_setopt(x->h, CURLOPT_POST, 1L) == CURLE_OK &&
         curl_easy_setopt(x->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len) == CURLE_OK &&
         curl_easy_setopt(x->h, CURLOPT_POSTFIELDS, body != NULL ? body : "") == CURLE_OK;
  if (!ok) {
    cli_error(CMD, "%s: cannot set up the request", x->url_from);
    goto out;
  }
  res = curl_easy_perform(x->h);
  if (res != CURLE_OK) {
    if (res == CURLE_WRITE_ERROR)
      cli_error(CMD, "%s %s: the answer is larger than %zu bytes", method, path, answer.max);
    else
      cli_error(CMD, "cannot reach tarn serve at %s (%s): %s", x->url, x->url_from,
                errbuf[0] != '\0' ? errbuf : curl_easy_strerror(res));
    goto out;
  }
  curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status > 299) {
    report_http_error(what, status, &answer);
    goto out;
  }
  *out = json_loadb(answer.data != NULL ? answer.data : "", answer.len, 0, NULL);
  if (*out == NULL) {
    cli_error(CMD, "%s %s: the answer of %s is not JSON", method, path, x->url);
    goto out;
  }
  rc = TARN_EXIT_OK;
out:
  curl_slist_free_all(hdrs);
  tarn_free(auth);
  tarn_buf_free(&url);
  tarn_buf_free(&answer);
  return rc;
}

/* Appends s to b escaped for a URL (a path segment or a query value). */
static int append_escaped(jcx *x, tarn_buf *b, const char *s) {
  tarn_error err;
  char *e = curl_easy_escape(x->h, s, 0);
  int rc;
  if (e == NULL)
    return -1;
  rc = tarn_buf_append_str(b, e, &err);
  curl_free(e);
  return rc;
}

/* Prints every element of an answer's "events" array on a line of its own. */
static int print_events_of(const json_t *answer) {
  const json_t *list = json_object_get(answer, "events"), *v;
  size_t i;
  if (!json_is_array(list)) {
    cli_error(CMD, "the answer has no \"events\" list");
    return TARN_EXIT_FAIL;
  }
  json_array_foreach(list, i, v) {
    if (print_json(v, 0) != TARN_EXIT_OK)
      return TARN_EXIT_FAIL;
  }
  return TARN_EXIT_OK;
}

/* Through --url: one request, its answer printed as a document. */
static int remote_doc(jcx *x, const char *method, const char *path) {
  json_t *answer = NULL;
  int rc = remote(x, method, path, NULL, 0, NULL, &answer);
  if (rc == TARN_EXIT_OK)
    rc = print_json(answer, 1);
  json_decref(answer);
  return rc;
}

/* Through --url: one request whose answer lists events (or acks), one printed per line. */
static int remote_lines(jcx *x, const char *method, const char *path, const char *body, size_t len,
                        const char *what) {
  json_t *answer = NULL;
  int rc = remote(x, method, path, body, len, what, &answer);
  if (rc == TARN_EXIT_OK)
    rc = print_events_of(answer);
  json_decref(answer);
  return rc;
}

/* ---- on the lake ---- */

/* Opens the journal here; refused (69, with a message saying to use --url) while a
 * tarn serve holds it. */
static int open_local(jcx *x) { return cmd_journal_open(&x->c, CMD, 1, &x->cj); }

static int print_acks(const tarn_journal_ack *acks, size_t n) {
  size_t i;
  int rc = TARN_EXIT_OK;
  for (i = 0; i < n && rc == TARN_EXIT_OK; i++)
    rc = print_owned(tarn_journal_ack_json(&acks[i]), 0);
  return rc;
}

/* Prints ev as API objects, one per line, and releases them. */
static int print_event_list(tarn_journal_event *ev, size_t n) {
  size_t i;
  int rc = TARN_EXIT_OK;
  for (i = 0; i < n && rc == TARN_EXIT_OK; i++)
    rc = print_owned(tarn_journal_event_json(&ev[i]), 0);
  tarn_journal_events_free(ev, n);
  return rc;
}

/* ---- append ---- */

typedef enum kind { K_INSERT, K_UPDATE, K_DELETE, K_INGEST, K_COUNT } kind;

static const struct {
  const char *name, *args;
  int nargs;     /* arguments after the kind */
  unsigned opts; /* the options only some kinds take, that this one does */
} kinds[K_COUNT] = {
    [K_INSERT] = {"insert", "ENTITY_TYPE ENTITY_ID [--new JSON]", 2, O(JO_NEW)},
    [K_UPDATE] = {"update", "ENTITY_TYPE ENTITY_ID FIELD [--old JSON] [--new JSON]", 3,
                  O(JO_OLD) | O(JO_NEW)},
    [K_DELETE] = {"delete", "ENTITY_TYPE ENTITY_ID [--old JSON]", 2, O(JO_OLD)},
    [K_INGEST] = {"ingest", "DATASET --snapshot-id N --rows N --source S", 1,
                  O(JO_SNAPSHOT) | O(JO_ROWS) | O(JO_SOURCE)},
};
#define KIND_OPTS (O(JO_OLD) | O(JO_NEW) | O(JO_SNAPSHOT) | O(JO_ROWS) | O(JO_SOURCE))

/* Parses a request body of events here exactly as POST /journal/events does, appends
 * them (all or none) and prints the acks. */
static int append_body_local(jcx *x, const char *body, size_t len, const char *what,
                             tarn_journal_source source) {
  size_t max = (size_t)tarn_config_int(x->c.cfg, "journal", "max_request_events"), n = 0;
  tarn_journal_event *ev = NULL;
  tarn_journal_ack *acks = NULL;
  tarn_error err;
  int rc;
  if (tarn_journal_parse(body, len, max, &ev, &n, &err) != 0)
    return fail(what, &err);
  acks = tarn_calloc(n, sizeof(*acks));
  if (acks == NULL) {
    tarn_journal_events_free(ev, n);
    cli_error(CMD, "out of memory");
    return TARN_EXIT_FAIL;
  }
  rc = open_local(x);
  if (rc == TARN_EXIT_OK) {
    /* who, when the event does not say: "local", as tarn serve says without tokens */
    if (tarn_journal_append(x->cj.j, ev, n, "local", source, acks, &err) != 0)
      rc = fail(what, &err);
    else
      rc = print_acks(acks, n);
  }
  tarn_journal_events_free(ev, n);
  tarn_free(acks);
  return rc;
}

/* A request body of events: sent as is (--url), or appended here. */
static int append_body(jcx *x, const char *body, size_t len, const char *what,
                       tarn_journal_source source) {
  if (x->url != NULL)
    return remote_lines(x, "POST", "/journal/events", body, len, what);
  return append_body_local(x, body, len, what, source);
}

static int append_file(jcx *x) {
  const char *path = x->c.opt_values[JO_FILE];
  size_t max = x->url != NULL ? MAX_URL_FILE
                              : (size_t)tarn_config_int(x->c.cfg, "journal", "max_request_bytes");
  tarn_buf b;
  int rc = read_file(path, max, &b);
  if (rc != TARN_EXIT_OK)
    return rc;
  rc = append_body(x, b.data != NULL ? b.data : "", b.len, path, TARN_JS_API);
  tarn_buf_free(&b);
  return rc;
}

/* The options every kind shares: --actor, --event-id, --timestamp, --workspace. */
typedef struct common {
  const char *actor, *event_id, *workspace;
  int64_t ts_us; /* TARN_JOURNAL_TS_UNSET: now */
} common;

static int read_common(jcx *x, common *cm) {
  const char *t = x->c.opt_values[JO_TIMESTAMP];
  cm->actor = x->c.opt_values[JO_ACTOR];
  cm->event_id = x->c.opt_values[JO_EVENT_ID];
  cm->workspace = x->c.opt_values[JO_WORKSPACE];
  cm->ts_us = TARN_JOURNAL_TS_UNSET;
  if (t != NULL && tarn_journal_time_parse(t, &cm->ts_us) != 0)
    return usage("--timestamp \"%s\": give %s", t, TARN_JOURNAL_TIME_FORMS);
  return TARN_EXIT_OK;
}

/* An event (the caller's JSON object) as a request body, sent or appended. */
static int append_object(jcx *x, const json_t *o, tarn_journal_source source) {
  char *body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
  int rc;
  if (body == NULL) {
    cli_error(CMD, "out of memory");
    return TARN_EXIT_FAIL;
  }
  rc = append_body(x, body, strlen(body), NULL, source);
  tarn_free(body);
  return rc;
}

/* An ingest event, built by the library (its id derived from the dataset and snapshot). */
static int append_ingest(jcx *x, const common *cm) {
  const char *snap_s = x->c.opt_values[JO_SNAPSHOT], *rows_s = x->c.opt_values[JO_ROWS];
  tarn_journal_ingest in;
  tarn_journal_event ev;
  tarn_journal_ack ack;
  tarn_error err;
  long long snap = 0, rows = 0;
  json_t *o;
  int rc;
  if (snap_s == NULL || rows_s == NULL || x->c.opt_values[JO_SOURCE] == NULL)
    return usage("append ingest needs --%s (usage: tarn journal append ingest %s)",
                 snap_s == NULL   ? "snapshot-id"
                 : rows_s == NULL ? "rows"
                                  : "source",
                 kinds[K_INGEST].args);
  if (parse_int(snap_s, 0, INT64_MAX, &snap) != 0)
    return usage("--snapshot-id \"%s\": must be a whole number, 0 or more", snap_s);
  if (parse_int(rows_s, 0, INT64_MAX, &rows) != 0)
    return usage("--rows \"%s\": must be a whole number, 0 or more", rows_s);
  memset(&in, 0, sizeof(in));
  in.dataset = x->c.args[2];
  in.snapshot_id = (int64_t)snap;
  in.rows = (int64_t)rows;
  in.source = x->c.opt_values[JO_SOURCE];
  /* without --actor: "local" here; through --url the server names it (the token) */
  in.actor = cm->actor != NULL || x->url != NULL ? cm->actor : "local";
  if (x->url == NULL && cm->ts_us == TARN_JOURNAL_TS_UNSET && cm->workspace == NULL) {
    if ((rc = open_local(x)) != TARN_EXIT_OK)
      return rc;
    if (tarn_journal_record_ingest(x->cj.j, &in, &ack, &err) != 0)
      return fail(NULL, &err);
    return print_acks(&ack, 1);
  }
  if (tarn_journal_ingest_event(&in, &ev, &err) != 0)
    return fail(NULL, &err);
  ev.ts_us = cm->ts_us;
  ev.workspace_id = (char *)cm->workspace; /* borrowed: freeing ev frees ev.mem only */
  o = tarn_journal_event_request_json(&ev);
  tarn_journal_event_free(&ev);
  if (o == NULL) {
    cli_error(CMD, "out of memory");
    return TARN_EXIT_FAIL;
  }
  rc = append_object(x, o, TARN_JS_INGEST);
  json_decref(o);
  return rc;
}

/* Sets k to v (taken); 0, or -1 when v is NULL (text that is not UTF-8) or out of memory. */
static int put(json_t *o, const char *k, json_t *v) {
  return v != NULL && json_object_set_new(o, k, v) == 0 ? 0 : -1;
}

/* insert, update, delete: here through the library's own calls when they say it all,
 * else as the JSON object POST /journal/events takes (sent as is through --url, parsed
 * as the API would here). */
static int append_change(jcx *x, kind k, const common *cm) {
  const char *type = x->c.args[2], *id = x->c.args[3];
  const char *field = k == K_UPDATE ? x->c.args[4] : NULL;
  const char *oldt = x->c.opt_values[JO_OLD], *newt = x->c.opt_values[JO_NEW];
  json_t *oldv = NULL, *newv = NULL, *o = NULL;
  tarn_journal_ack ack;
  tarn_error err;
  int rc, bad;
  if ((rc = parse_value("old", oldt, &oldv)) != TARN_EXIT_OK ||
      (rc = parse_value("new", newt, &newv)) != TARN_EXIT_OK)
    goto out;
  if (x->url == NULL && cm->event_id == NULL && cm->ts_us == TARN_JOURNAL_TS_UNSET &&
      cm->workspace == NULL) {
    const char *actor = cm->actor != NULL ? cm->actor : "local";
    if ((rc = open_local(x)) != TARN_EXIT_OK)
      goto out;
    if (k == K_INSERT)
      rc = tarn_journal_record_insert(x->cj.j, type, id, newt, actor, &ack, &err);
    else if (k == K_UPDATE)
      rc = tarn_journal_record_update(x->cj.j, type, id, field, oldt, newt, actor, &ack, &err);
    else
      rc = tarn_journal_record_delete(x->cj.j, type, id, oldt, actor, &ack, &err);
    rc = rc != 0 ? fail(NULL, &err) : print_acks(&ack, 1);
    goto out;
  }
  o = json_object();
  bad = o == NULL;
  if (!bad && cm->event_id != NULL)
    bad |= put(o, "event_id", json_string(cm->event_id));
  if (!bad && cm->ts_us != TARN_JOURNAL_TS_UNSET)
    bad |= put(o, "timestamp", json_integer((json_int_t)cm->ts_us));
  if (!bad)
    bad |= put(o, "entity_type", json_string(type)) | put(o, "entity_id", json_string(id));
  if (!bad && field != NULL)
    bad |= put(o, "field", json_string(field));
  if (!bad)
    bad |= put(o, "action", json_string(kinds[k].name));
  if (!bad && oldv != NULL)
    bad |= put(o, "old_value", json_incref(oldv));
  if (!bad && newv != NULL)
    bad |= put(o, "new_value", json_incref(newv));
  if (!bad && cm->actor != NULL)
    bad |= put(o, "actor", json_string(cm->actor));
  if (!bad && cm->workspace != NULL)
    bad |= put(o, "workspace_id", json_string(cm->workspace));
  if (bad) {
    rc = usage("the arguments must be UTF-8 text");
    goto out;
  }
  rc = append_object(x, o, TARN_JS_API);
out:
  json_decref(o);
  json_decref(oldv);
  json_decref(newv);
  return rc;
}

/* --file FILE, or a kind and its arguments; the options each takes are checked here. */
static int sub_append(jcx *x) {
  static const struct {
    int opt;
    const char *field; /* what each event of a file says instead; NULL: nothing */
  } not_with_file[] = {{JO_ACTOR, "actor"},
                       {JO_EVENT_ID, "event_id"},
                       {JO_TIMESTAMP, "timestamp"},
                       {JO_WORKSPACE, "workspace_id"},
                       {JO_OLD, "old_value"},
                       {JO_NEW, "new_value"},
                       {JO_SNAPSHOT, NULL},
                       {JO_ROWS, NULL},
                       {JO_SOURCE, NULL}};
  const char *kname = x->c.nargs > 1 ? x->c.args[1] : NULL;
  common cm;
  size_t i;
  int k, o, rc;
  if (x->c.opt_values[JO_FILE] != NULL) {
    if (kname != NULL)
      return usage("append --file takes no other argument (got \"%s\"): the file says what "
                   "each event is",
                   kname);
    for (i = 0; i < sizeof(not_with_file) / sizeof(not_with_file[0]); i++) {
      o = not_with_file[i].opt;
      if (x->c.opt_values[o] == NULL)
        continue;
      if (not_with_file[i].field != NULL)
        return usage("--%s does not apply to append --file: give \"%s\" in each event instead",
                     journal_opts[o].name, not_with_file[i].field);
      return usage("--%s does not apply to append --file", journal_opts[o].name);
    }
    return append_file(x);
  }
  if (kname == NULL)
    return usage("append what? give insert, update, delete or ingest, or --file FILE");
  for (k = 0; k < K_COUNT; k++)
    if (strcmp(kinds[k].name, kname) == 0)
      break;
  if (k == K_COUNT)
    return usage("append \"%s\": not insert, update, delete or ingest (or --file FILE)", kname);
  if (x->c.nargs - 2 != kinds[k].nargs)
    return usage("%s arguments: usage: tarn journal append %s %s",
                 x->c.nargs - 2 < kinds[k].nargs ? "missing" : "too many", kinds[k].name,
                 kinds[k].args);
  for (o = 0; o < JO_COUNT; o++)
    if ((KIND_OPTS & O(o)) && !(kinds[k].opts & O(o)) && x->c.opt_values[o] != NULL)
      return usage("--%s does not apply to append %s", journal_opts[o].name, kinds[k].name);
  if (k == K_INGEST && x->c.opt_values[JO_EVENT_ID] != NULL)
    return usage("--event-id does not apply to append ingest: its id is derived from the "
                 "dataset and --snapshot-id");
  if ((rc = read_common(x, &cm)) != TARN_EXIT_OK)
    return rc;
  if (k == K_INGEST)
    return append_ingest(x, &cm);
  return append_change(x, (kind)k, &cm);
}

/* ---- history, recent ---- */

/* --limit: 1 to max, def when absent. */
static int read_limit(jcx *x, size_t def, size_t max, size_t *out) {
  const char *s = x->c.opt_values[JO_LIMIT];
  long long v;
  *out = def;
  if (s == NULL)
    return TARN_EXIT_OK;
  if (parse_int(s, 1, (long long)max, &v) != 0)
    return usage("--limit \"%s\": must be a whole number from 1 to %zu (default %zu)", s, max, def);
  *out = (size_t)v;
  return TARN_EXIT_OK;
}

/* --since, --until: what the API takes for them. */
static int read_time(jcx *x, int k, int64_t *out) {
  const char *s = x->c.opt_values[k];
  if (s == NULL || tarn_journal_time_parse(s, out) == 0)
    return TARN_EXIT_OK;
  return usage("--%s \"%s\": give %s", journal_opts[k].name, s, TARN_JOURNAL_TIME_FORMS);
}

/* GET /journal/history/{entity_id} with the query's parameters (times in microseconds:
 * parsed here, so that both ways take and refuse the same values). */
static int history_remote(jcx *x, const tarn_journal_query *q) {
  tarn_buf p;
  tarn_error err;
  int rc, bad;
  tarn_buf_init(&p, 65536);
  bad = tarn_buf_append_str(&p, "/journal/history/", &err) != 0 ||
        append_escaped(x, &p, q->entity_id) != 0 ||
        tarn_buf_appendf(&p, &err, "?limit=%zu", q->limit) != 0;
  if (!bad && q->entity_type != NULL)
    bad = tarn_buf_append_str(&p, "&entity_type=", &err) != 0 ||
          append_escaped(x, &p, q->entity_type) != 0;
  if (!bad && q->since_us != INT64_MIN)
    bad = tarn_buf_appendf(&p, &err, "&since=%lld", (long long)q->since_us) != 0;
  if (!bad && q->until_us != INT64_MAX)
    bad = tarn_buf_appendf(&p, &err, "&until=%lld", (long long)q->until_us) != 0;
  if (bad) {
    tarn_buf_free(&p);
    cli_error(CMD, "the entity id or type is too long for a URL");
    return TARN_EXIT_FAIL;
  }
  rc = remote_lines(x, "GET", p.data, NULL, 0, NULL);
  tarn_buf_free(&p);
  return rc;
}

static int sub_history(jcx *x) {
  tarn_journal_query q;
  tarn_journal_event *ev = NULL;
  tarn_error err;
  size_t n = 0;
  int rc;
  memset(&q, 0, sizeof(q));
  q.entity_id = x->c.args[1];
  q.entity_type = x->c.opt_values[JO_ENTITY_TYPE];
  q.since_us = INT64_MIN;
  q.until_us = INT64_MAX;
  if ((rc = read_time(x, JO_SINCE, &q.since_us)) != TARN_EXIT_OK ||
      (rc = read_time(x, JO_UNTIL, &q.until_us)) != TARN_EXIT_OK ||
      (rc = read_limit(x, 1000, 10000, &q.limit)) != TARN_EXIT_OK)
    return rc;
  if (q.since_us >= q.until_us)
    return usage("--since must be before --until: since is inclusive, until exclusive");
  if (x->url != NULL)
    return history_remote(x, &q);
  if ((rc = open_local(x)) != TARN_EXIT_OK)
    return rc;
  if (tarn_journal_history(x->cj.j, &q, &ev, &n, &err) != 0)
    return fail(NULL, &err);
  return print_event_list(ev, n);
}

static int sub_recent(jcx *x) {
  tarn_journal_event *ev = NULL;
  tarn_error err;
  size_t n = 0, limit;
  int rc;
  if ((rc = read_limit(x, 50, 1000, &limit)) != TARN_EXIT_OK)
    return rc;
  if (x->url != NULL) {
    char path[64];
    snprintf(path, sizeof(path), "/journal/recent?limit=%zu", limit);
    return remote_lines(x, "GET", path, NULL, 0, NULL);
  }
  if ((rc = open_local(x)) != TARN_EXIT_OK)
    return rc;
  if (tarn_journal_recent(x->cj.j, limit, &ev, &n, &err) != 0)
    return fail(NULL, &err);
  return print_event_list(ev, n);
}

/* ---- stats, flush, compact ---- */

static int sub_stats(jcx *x) {
  tarn_journal_stats st;
  int rc;
  if (x->url != NULL)
    return remote_doc(x, "GET", "/journal/stats");
  if ((rc = open_local(x)) != TARN_EXIT_OK)
    return rc;
  tarn_journal_stats_get(x->cj.j, &st);
  return print_owned(tarn_journal_stats_json(&st), 1);
}

static int sub_flush(jcx *x) {
  tarn_journal_stats st;
  tarn_error err;
  size_t flushed = 0;
  int rc;
  if (x->url != NULL)
    return remote_doc(x, "POST", "/journal/flush");
  if ((rc = open_local(x)) != TARN_EXIT_OK)
    return rc;
  if (tarn_journal_flush(x->cj.j, &flushed, &err) != 0)
    return fail("flush", &err);
  tarn_journal_stats_get(x->cj.j, &st);
  return print_owned(tarn_journal_flush_json(flushed, &st), 1);
}

static int sub_compact(jcx *x) {
  tarn_journal_compact_result res;
  tarn_error err;
  int rc;
  if (x->url != NULL)
    return remote_doc(x, "POST", "/journal/compact");
  if ((rc = open_local(x)) != TARN_EXIT_OK)
    return rc;
  memset(&res, 0, sizeof(res));
  if (tarn_journal_compact(x->cj.j, &res, &err) != 0)
    return fail("compact", &err);
  return print_owned(tarn_journal_compact_json(&res), 1);
}

/* ---- dispatch ---- */

/* TARN_URL and TARN_TOKEN are this command's own environment variables, not settings:
 * they are taken out of the environment before the configuration reads it (it refuses
 * TARN_* variables it does not know). The token is copied and the variable removed, so
 * nothing this process prints or starts carries it. */
static int take_env(jcx *x, char **url_env) {
  const char *u = getenv("TARN_URL"), *t = getenv("TARN_TOKEN");
  *url_env = NULL;
  if (u != NULL && u[0] != '\0' && (*url_env = tarn_strdup(u)) == NULL)
    return -1;
  if (t != NULL && t[0] != '\0' && (x->token = tarn_strdup(t)) == NULL)
    return -1;
  unsetenv("TARN_URL");
  unsetenv("TARN_TOKEN");
  return 0;
}

static void wipe_token(jcx *x) {
  if (x->token != NULL) {
    explicit_bzero(x->token, strlen(x->token));
    tarn_free(x->token);
    x->token = NULL;
  }
}

/* Checks the address and starts libcurl (--url mode only). */
static int start_remote(jcx *x) {
  const char *u = x->url;
  if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
    return usage("%s \"%s\": give the address of a tarn serve: http://HOST:PORT or "
                 "https://HOST:PORT",
                 x->url_from, u);
  if (strpbrk(u, " \t\r\n?#") != NULL)
    return usage("%s \"%s\": give the server's address only (no spaces, ? or #)", x->url_from, u);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (x->h = curl_easy_init()) == NULL) {
    cli_error(CMD, "cannot start libcurl");
    return TARN_EXIT_FAIL;
  }
  return TARN_EXIT_OK;
}

/* The subcommand, its argument count and the options it takes; TARN_EXIT_OK or a usage
 * error printed. */
static int check_usage(jcx *x, const journal_sub *s) {
  int k;
  if (x->c.nargs == 0)
    return usage("expected a subcommand: append, history, recent, stats, flush or compact");
  if (s->name == NULL)
    return usage("unknown subcommand \"%s\"; the subcommands are append, history, recent, "
                 "stats, flush and compact",
                 x->c.args[0]);
  if (x->c.nargs - 1 < s->min_args || x->c.nargs - 1 > s->max_args)
    return usage("%s arguments: usage: tarn journal %s%s%s",
                 x->c.nargs - 1 < s->min_args ? "missing" : "too many", s->name,
                 s->args[0] ? " " : "", s->args);
  for (k = 0; k < JO_COUNT; k++) {
    if (x->c.opt_values[k] != NULL && !(s->opts & O(k)))
      return usage("--%s does not apply to %s (see 'tarn journal %s --help')", journal_opts[k].name,
                   s->name, s->name);
    if (cli_opt_values(&x->c, k, NULL, 0) > 1)
      return usage("--%s given more than once", journal_opts[k].name);
  }
  return TARN_EXIT_OK;
}

int cmd_journal(const tarn_command *self, int argc, char **argv) {
  jcx x;
  const journal_sub *s = NULL;
  char *url_env = NULL;
  int rc, curl_up = 0;
  memset(&x, 0, sizeof(x));
  if (take_env(&x, &url_env) != 0) {
    cli_error(self->name, "out of memory");
    rc = TARN_EXIT_FAIL;
    goto out;
  }
  rc = cli_parse(&x.c, self->name, argc, argv, journal_opts, tarn_cmd_tables);
  if (rc != TARN_EXIT_OK)
    goto out;
  if (x.c.nargs > 0)
    for (s = subs; s->name != NULL; s++)
      if (strcmp(s->name, x.c.args[0]) == 0)
        break;
  if (x.c.help) {
    if (s != NULL && s->name != NULL)
      print_sub_help(&x.c, s);
    else
      print_help(&x.c);
    goto out;
  }
  if ((rc = check_usage(&x, s)) != TARN_EXIT_OK)
    goto out;
  x.url = x.c.opt_values[JO_URL] != NULL ? x.c.opt_values[JO_URL] : url_env;
  x.url_from = x.c.opt_values[JO_URL] != NULL ? "--url" : "TARN_URL";
  if (x.url != NULL && x.url[0] == '\0')
    x.url = NULL; /* --url "": the journal on the lake */
  if (x.url != NULL) {
    curl_up = 1;
    if ((rc = start_remote(&x)) != TARN_EXIT_OK)
      goto out;
  } else if (x.c.opt_values[JO_CACERT] != NULL) {
    rc = usage("--cacert applies to an https --url only");
    goto out;
  }
  tarn_settings_apply_log(x.c.cfg);
  /* The output is the answer; info logs (the journal opened, its WAL replayed) would only
   * add noise on stderr. An explicit --log-level (or file, or env) still wins. */
  if (strcmp(tarn_config_source(x.c.cfg, "log", "level"), "default") == 0)
    tarn_log_set_level(TARN_LOG_WARN);
  rc = s->run(&x);
  if (fflush(stdout) != 0 && rc == TARN_EXIT_OK) {
    cli_error(self->name, "writing output: %s", strerror(errno));
    rc = TARN_EXIT_FAIL;
  }
out:
  cmd_journal_close(&x.cj);
  if (x.h != NULL)
    curl_easy_cleanup(x.h);
  if (curl_up)
    curl_global_cleanup();
  wipe_token(&x);
  tarn_free(url_env);
  cli_free(&x.c);
  return rc;
}
