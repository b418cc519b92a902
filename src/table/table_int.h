/* table_int.h - what the table module's files share; not for other modules. */
#ifndef TARN_TABLE_INT_H
#define TARN_TABLE_INT_H

#include "table.h"

/* Commits metadata without the snapshots `ids` (and their snapshot-log entries). The
 * current snapshot and snapshots that refs point at are never dropped (TARN_EINVAL). */
int tarn__table_drop_snapshots(tarn_table *t, const int64_t *ids, size_t n, tarn_error *err);

/* Length of the first `cps` UTF-8 code points of s[0..n) (n when shorter); an invalid
 * lead byte counts as one code point. */
size_t tarn__ice_utf8_prefix(const uint8_t *s, size_t n, size_t cps);

/* Bytes of a FIXED holding a decimal of `precision` digits (as Parquet and Iceberg size it). */
int32_t tarn__ice_decimal_bytes(int32_t precision);

/* Deletes the file at `uri`, best effort: a failure other than "not found" is logged with
 * `what` ("unreferenced file", "expired file"). Returns 1 when a file was deleted. */
int tarn__table_delete_uri(const tarn_table_io *io, const char *uri, const char *what);

/* Source values a truncate(W) partition of an int (is_long 0) or long column can hold when
 * its partition values lie in [lo, hi] (pass the type's minimum and maximum for absent
 * bounds), as the inclusive range [*src_lo, *src_hi]. Conservative: the type's full range
 * where Java's wrapping arithmetic leaves no order to rely on. */
void tarn__ice_truncate_source_range(int32_t w, int is_long, int64_t lo, int64_t hi,
                                     int64_t *src_lo, int64_t *src_hi);

#endif
