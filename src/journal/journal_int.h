/* journal_int.h - what the journal's own files share. */
#ifndef TARN_JOURNAL_JOURNAL_INT_H
#define TARN_JOURNAL_JOURNAL_INT_H

#include "journal.h"

/* Takes in the inbox files of wal_dir (record.c): each one's events appended durably,
 * then the file removed; a file that does not read, or names an id already given to
 * another event, is renamed .bad-NAME and logged. *taken: events new to the journal. */
int tarn__journal_take_inbox(tarn_journal *j, const char *wal_dir, size_t *taken, tarn_error *err);

#endif
