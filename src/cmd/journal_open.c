/* journal_open.c - the journal opened from the configuration (journal_open.h). */
#include "journal_open.h"

#include <stdio.h>
#include <string.h>

#include "base/log.h"

void cmd_journal_wal_dir(const tarn_config *cfg, char *dst, size_t n) {
  const char *wal = tarn_config_str(cfg, "journal", "wal_dir");
  if (wal != NULL && wal[0] != '\0')
    snprintf(dst, n, "%s", wal);
  else
    snprintf(dst, n, "%s/journal/wal", tarn_config_str(cfg, "lake", "path"));
}

/* A journal table on a lake (catalog handle) of its own. */
static int open_table(const tarn_config *cfg, tarn_lake **lake, tarn_journal_table **t,
                      tarn_error *err) {
  *t = NULL;
  if (tarn_lake_open(cfg, 0, lake, err) != 0)
    return -1;
  return tarn_journal_table_open(*lake, t, err);
}

int cmd_journal_open(const cli *c, const char *cmd, int manual, journal_handle *cj) {
  tarn_journal_options o;
  tarn_journal_stats st;
  tarn_error err;
  memset(cj, 0, sizeof(*cj));
  cmd_journal_wal_dir(c->cfg, cj->wal_dir, sizeof(cj->wal_dir));
  memset(&o, 0, sizeof(o));
  o.wal_dir = cj->wal_dir;
  o.manual = manual;
  o.max_memory = (uint64_t)tarn_config_int(c->cfg, "journal", "max_memory");
  o.flush_events = (uint64_t)tarn_config_int(c->cfg, "journal", "flush_events");
  o.flush_bytes = (uint64_t)tarn_config_int(c->cfg, "journal", "flush_bytes");
  o.flush_age_ms = (uint64_t)tarn_config_int(c->cfg, "journal", "flush_age");
  o.window_ms = tarn_config_int(c->cfg, "journal", "idempotency_window");
  o.compact_every_ms = (uint64_t)tarn_config_int(c->cfg, "journal", "compact_every");
  o.compact_min_files = (uint64_t)tarn_config_int(c->cfg, "journal", "compact_min_files");
  o.compact_max_memory = (uint64_t)tarn_config_int(c->cfg, "journal", "compact_max_memory");
  /* Without the table (the catalog is away) the daemon starts anyway and keeps
   * everything in memory and the WAL: what the table holds is known again at the next
   * start. */
  if (open_table(c->cfg, &cj->lake, &o.table, &err) != 0) {
    if (manual || err.code == TARN_ECONFIG || err.code == TARN_ESCHEMA) {
      cli_error(cmd, "%s", tarn_error_message(&err));
      cmd_journal_close(cj);
      return err.code == TARN_ECONFIG || err.code == TARN_ESCHEMA ? TARN_EXIT_USAGE
                                                                  : TARN_EXIT_FAIL;
    }
    tarn_log_warn("journal: system.journal unavailable at start-up; events stay in memory and "
                  "the WAL until a restart finds it",
                  "error=%s", tarn_error_message(&err));
    o.table = NULL;
  } else if (!manual && open_table(c->cfg, &cj->compact_lake, &o.compact_table, &err) != 0) {
    tarn_log_warn("journal: no second catalog handle for compaction; it runs on demand only",
                  "error=%s", tarn_error_message(&err));
    o.compact_table = NULL;
  }
  if (tarn_journal_open(&o, &cj->j, &err) != 0) {
    int busy = manual && err.code == TARN_EBUSY;
    if (busy)
      cli_error(cmd,
                "%s (a running tarn serve holds the journal: go through its API, "
                "e.g. tarn journal --url http://127.0.0.1:8080 ...)",
                tarn_error_message(&err));
    else
      cli_error(cmd, "%s", tarn_error_message(&err));
    cmd_journal_close(cj);
    return busy ? TARN_EXIT_UNAVAILABLE : TARN_EXIT_FAIL;
  }
  tarn_journal_stats_get(cj->j, &st);
  tarn_log_info("journal opened",
                "wal_dir=%s events=%zu segments=%zu next_seq=%llu table_seq=%llu "
                "torn_bytes_cut=%llu",
                cj->wal_dir, st.events_in_memory, st.wal.segments,
                (unsigned long long)st.wal.next_seq, (unsigned long long)st.table_seq,
                (unsigned long long)st.wal.truncated_bytes);
  return TARN_EXIT_OK;
}

void cmd_journal_close(journal_handle *cj) {
  tarn_journal_close(cj->j); /* closes its tables */
  cj->j = NULL;
  tarn_lake_close(cj->lake);
  tarn_lake_close(cj->compact_lake);
  cj->lake = cj->compact_lake = NULL;
}
