/* fuzz_s3_xml.c - libFuzzer target: arbitrary bytes as an S3 response body, through every
 * parser the S3 backend runs on one (list page, error, upload id, uploads count). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/error.h"
#include "store/s3_int.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* an exact-size copy, so reading one byte past the end is caught by ASan */
  char *doc = malloc(size ? size : 1);
  tarn_store_listing l;
  tarn__s3_errinfo ei;
  char *tok = NULL, *id = NULL;
  int trunc = 0;
  size_t i, pos = 0, il;
  const char *in;
  if (doc == NULL)
    return 0;
  memcpy(doc, data, size);

  tarn_store_list_init(&l);
  if (tarn__s3_parse_list(doc, size, &l, &trunc, &tok, NULL) == 0) {
    for (i = 0; i < l.count; i++) {
      /* a decoded key is non-empty text; escaping it and decoding again gives it back */
      tarn_buf e, d;
      if (l.entries[i].key[0] == '\0')
        abort();
      tarn_buf_init(&e, TARN_BUF_UNLIMITED);
      tarn_buf_init(&d, TARN_BUF_UNLIMITED);
      if (tarn__s3_xml_escape(&e, l.entries[i].key, NULL) != 0 ||
          tarn__s3_xml_decode(e.data, e.len, &d, NULL) != 0 ||
          strcmp(d.data, l.entries[i].key) != 0)
        abort();
      tarn_buf_free(&e);
      tarn_buf_free(&d);
    }
  } else if (tok != NULL) {
    abort(); /* a failed parse leaves no token behind */
  }
  tarn_free(tok);
  tarn_store_list_free(&l);

  tarn__s3_parse_error(doc, size, &ei);
  if (strlen(ei.code) >= sizeof(ei.code) || strlen(ei.message) >= sizeof(ei.message) ||
      strlen(ei.request_id) >= sizeof(ei.request_id))
    abort();

  if (tarn__s3_xml_text(doc, size, "UploadId", 4096, &id, NULL) == 0)
    tarn_free(id);
  while (tarn__s3_xml_next(doc, size, &pos, "Upload", &in, &il) == 1) {
    if (in < doc || in + il > doc + size || pos > size)
      abort();
  }
  free(doc);
  return 0;
}
