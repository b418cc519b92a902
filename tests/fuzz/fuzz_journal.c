/* fuzz_journal.c - libFuzzer target: any bytes as a POST /journal/events body
 * (tarn_journal_parse). Whatever it accepts, every event has the required fields and a
 * valid action, and goes through the WAL record form and back unchanged; whatever it
 * refuses is refused as invalid input (or too many events), with nothing returned. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "journal/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const char *a, const char *b) {
  return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tarn_journal_event *ev = NULL;
  size_t n = 0, i;
  tarn_error err;
  tarn_buf b;
  int rc = tarn_journal_parse((const char *)data, size, 64, &ev, &n, &err);
  if (rc != 0) {
    if ((rc != TARN_EINVAL && rc != TARN_ETOOBIG && rc != TARN_ENOMEM) || ev != NULL || n != 0)
      abort();
    return 0;
  }
  if (n == 0 || n > 64)
    abort();
  tarn_buf_init(&b, TARN_BUF_UNLIMITED);
  for (i = 0; i < n; i++) {
    tarn_journal_event back, e = ev[i];
    if (e.entity_type == NULL || e.entity_id == NULL || e.field == NULL ||
        (unsigned)e.action > TARN_JA_INGEST ||
        (e.action == TARN_JA_UPDATE) == (strcmp(e.field, "*") == 0))
      abort();
    /* what an append fills in, then the round trip through a WAL record */
    if (e.event_id == NULL)
      e.event_id = (char *)"0190e0b4-7a1c-7000-8000-000000000000";
    if (e.ts_us == TARN_JOURNAL_TS_UNSET)
      e.ts_us = 1;
    e.has_source = 1;
    if (tarn_journal_event_encode(&e, &b, &err) != 0)
      abort();
    if (tarn_journal_event_decode(b.data, b.len, 9, &back, &err) != 0)
      abort();
    if (!same(back.event_id, e.event_id) || back.ts_us != e.ts_us ||
        !same(back.entity_type, e.entity_type) || !same(back.entity_id, e.entity_id) ||
        !same(back.field, e.field) || back.action != e.action ||
        !same(back.old_value, e.old_value) || !same(back.new_value, e.new_value) ||
        !same(back.actor, e.actor) || back.source != e.source ||
        !same(back.workspace_id, e.workspace_id) || back.client_id != e.client_id || back.seq != 9)
      abort();
    tarn_journal_event_free(&back);
  }
  tarn_buf_free(&b);
  tarn_journal_events_free(ev, n);
  return 0;
}
