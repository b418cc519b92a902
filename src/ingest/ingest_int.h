/* ingest_int.h - what the ingest module's files share; not for other modules. */
#ifndef TARN_INGEST_INT_H
#define TARN_INGEST_INT_H

#include "ingest.h"

/* The CSV type name ("int64", ...) of an Iceberg column type; NULL when none maps. */
const char *tarn__ingest_csv_type_of(const tarn_ice_type *t);

#endif
