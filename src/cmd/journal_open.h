/* journal_open.h - the journal as `tarn serve` and `tarn journal` open it from the
 * configuration ([journal], [lake], [catalog]). */
#ifndef TARN_CMD_JOURNAL_OPEN_H
#define TARN_CMD_JOURNAL_OPEN_H

#include <stddef.h>

#include "base/config.h"
#include "cli.h"
#include "journal/journal.h"
#include "table/lake.h"

/* The WAL directory: [journal] wal_dir, or <lake>/journal/wal. */
void cmd_journal_wal_dir(const tarn_config *cfg, char *dst, size_t n);

typedef struct journal_handle {
  tarn_journal *j;
  tarn_lake *lake, *compact_lake; /* the table's catalog handles: flushes and reads, and
                                     the compaction's own */
  char wal_dir[4096];
} journal_handle;

/* Opens the journal (replaying its WAL) with system.journal, on catalog handles of its
 * own. A WAL damaged other than at its tail stops the open naming the segment and offset:
 * nothing is served from a log that may have lost acknowledged events. A catalog that is
 * away leaves the journal on memory and the WAL (daemon) or fails (manual). manual: no
 * background flushes or compactions and no flush at close (a command-line run). Errors
 * are printed naming cmd; returns a TARN_EXIT_* code. */
int cmd_journal_open(const cli *c, const char *cmd, int manual, journal_handle *out);
void cmd_journal_close(journal_handle *cj);

#endif
