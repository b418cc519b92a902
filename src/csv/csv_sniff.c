/* csv_sniff.c - which delimiter a CSV uses, judged from its first bytes. */
#include "csv.h"

#include <string.h>

/*
 * Each candidate (',' ';' '\t' '|') parses the sample as a CSV: the header and up to
 * SNIFF_ROWS records. A candidate is consistent when every record of the sample (but a
 * last one the sample may cut short) has the header's field count; among consistent
 * candidates with more than one column the one with the most columns wins, ties going to
 * the order above. Like DuckDB's sniffer, it judges structure, not content.
 */
#define SNIFF_ROWS 64

static const char candidates[] = {',', ';', '\t', '|'};

/* The header's field count with delimiter d, and whether the records agree with it. A
 * failure in the sample's last record is the cut when the sample is not the whole input
 * (`complete` 0) and no line ends after that record's start. */
static size_t columns_with(const void *p, size_t n, int complete, char d, int *consistent) {
  tarn_csv_options o;
  tarn_csv_reader *rd = NULL;
  const tarn_csv_record *rec;
  size_t ncols = 0;
  int rows = 0, rc;
  *consistent = 0;
  tarn_csv_options_init(&o);
  o.delimiter = d;
  if (tarn_csv_reader_create_mem(&rd, p, n, &o, NULL) != 0)
    return 0;
  ncols = tarn_csv_reader_ncols(rd);
  *consistent = 1;
  while (rows < SNIFF_ROWS && (rc = tarn_csv_next(rd, &rec, NULL)) == 0 && rec != NULL)
    rows++;
  if (rows < SNIFF_ROWS && rc != 0) {
    uint64_t at = tarn_csv_reader_offset(rd);
    const char *rest = (const char *)p + at;
    int cut = !complete && at < n && memchr(rest, '\n', n - at - 1) == NULL;
    if (!cut)
      *consistent = 0;
  }
  tarn_csv_reader_destroy(rd);
  return ncols;
}

char tarn_csv_sniff_delimiter(const void *p, size_t n, int complete, size_t *ncols) {
  size_t best_cols = 0, i;
  char best = ',';
  for (i = 0; i < sizeof(candidates); i++) {
    int ok;
    size_t c = columns_with(p, n, complete, candidates[i], &ok);
    if (ok && c > 1 && c > best_cols) {
      best = candidates[i];
      best_cols = c;
    }
  }
  if (ncols != NULL)
    *ncols = best_cols;
  return best;
}

size_t tarn_csv_header_columns(const void *p, size_t n, char delimiter) {
  int ok;
  return columns_with(p, n, 1, delimiter, &ok);
}
