/* pq_meta_read_int.h - what the Thrift structure decoders share (pq_meta_read.c: the
 * footer; pq_index_read.c: page headers, page index, bloom filter headers). */
#ifndef TARN_PARQUET_PQ_META_READ_INT_H
#define TARN_PARQUET_PQ_META_READ_INT_H

#include "pq_read_int.h"

/* Every read jumps to the one error label of its function on failure. */
#define T(x)                                                                                       \
  do {                                                                                             \
    if ((x) != 0)                                                                                  \
      goto bad;                                                                                    \
  } while (0)

/* Field header helpers: a known field id with an unexpected type is skipped. */
#define FIELD_IS(want) (ft == (want))

/* Records an allocation failure in t; returns -1 for T(). */
static inline int tarn__pqm_oom(tarn__thrift *t) {
  t->code = TARN_ENOMEM;
  tarn_error_set(t->err, TARN_ENOMEM, "%s: out of memory decoding Parquet metadata", t->name);
  return -1;
}

#endif
