/* table_int.h - what the table module's files share; not for other modules. */
#ifndef TARN_TABLE_INT_H
#define TARN_TABLE_INT_H

#include "table.h"

/* Commits metadata without the snapshots `ids` (and their snapshot-log entries). The
 * current snapshot and snapshots that refs point at are never dropped (TARN_EINVAL). */
int tarn__table_drop_snapshots(tarn_table *t, const int64_t *ids, size_t n, tarn_error *err);

#endif
