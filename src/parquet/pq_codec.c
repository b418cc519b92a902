/* pq_codec.c - page compression: snappy, gzip (zlib), zstd and LZ4 raw blocks. */
#include "pq_int.h"

#include <limits.h>
#include <lz4.h>
#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

static int compress_gzip(int level, const void *in, size_t n, tarn_buf *out, tarn_error *err) {
  z_stream zs;
  int rc, zrc;
  size_t bound;
  memset(&zs, 0, sizeof(zs));
  /* windowBits 15 + 16: a gzip member, which is what Parquet's GZIP codec means. */
  if (deflateInit2(&zs, level ? level : 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return tarn_error_set(err, TARN_ENOMEM, "gzip: deflateInit2 failed");
  bound = deflateBound(&zs, (uLong)n) + 32;
  rc = tarn_buf_reserve(out, bound, err);
  if (rc != 0) {
    deflateEnd(&zs);
    return rc;
  }
  zs.next_in = (Bytef *)(uintptr_t)in;
  zs.avail_in = (uInt)n;
  zs.next_out = (Bytef *)out->data + out->len;
  zs.avail_out = (uInt)bound;
  zrc = deflate(&zs, Z_FINISH);
  if (zrc != Z_STREAM_END) {
    deflateEnd(&zs);
    return tarn_error_set(err, TARN_EINTERNAL, "gzip: deflate returned %d", zrc);
  }
  out->len += zs.total_out;
  out->data[out->len] = '\0';
  deflateEnd(&zs);
  return 0;
}

int tarn__pq_compress(tarn_pq_codec codec, int level, const void *in, size_t n, tarn_buf *out,
                      tarn_error *err) {
  size_t bound;
  int rc;
  if (n > INT_MAX)
    return tarn_error_set(err, TARN_ETOOBIG, "page of %zu bytes is too large to compress", n);
  switch (codec) {
  case TARN_PQ_UNCOMPRESSED:
    return tarn_buf_append(out, in, n, err);
  case TARN_PQ_SNAPPY: {
    size_t clen;
    bound = snappy_max_compressed_length(n);
    rc = tarn_buf_reserve(out, bound, err);
    if (rc != 0)
      return rc;
    clen = bound;
    if (snappy_compress(in, n, out->data + out->len, &clen) != SNAPPY_OK)
      return tarn_error_set(err, TARN_EINTERNAL, "snappy_compress failed");
    out->len += clen;
    out->data[out->len] = '\0';
    return 0;
  }
  case TARN_PQ_ZSTD: {
    size_t r;
    bound = ZSTD_compressBound(n);
    rc = tarn_buf_reserve(out, bound, err);
    if (rc != 0)
      return rc;
    r = ZSTD_compress(out->data + out->len, bound, in, n, level ? level : 3);
    if (ZSTD_isError(r))
      return tarn_error_set(err, TARN_EINTERNAL, "zstd: %s", ZSTD_getErrorName(r));
    out->len += r;
    out->data[out->len] = '\0';
    return 0;
  }
  case TARN_PQ_GZIP:
    return compress_gzip(level, in, n, out, err);
  case TARN_PQ_LZ4_RAW: {
    int r;
    bound = (size_t)LZ4_compressBound((int)n);
    rc = tarn_buf_reserve(out, bound, err);
    if (rc != 0)
      return rc;
    r = LZ4_compress_default(in, out->data + out->len, (int)n, (int)bound);
    if (r <= 0 && n > 0)
      return tarn_error_set(err, TARN_EINTERNAL, "LZ4_compress_default failed");
    out->len += (size_t)r;
    out->data[out->len] = '\0';
    return 0;
  }
  default:
    return tarn_error_set(err, TARN_EUNSUPPORTED, "compression codec %s is not supported",
                          tarn_pq_codec_name(codec));
  }
}

/* gzip: possibly several concatenated members (some writers emit them). */
static int decompress_gzip(const void *in, size_t n, void *dst, size_t expect, tarn_error *err) {
  z_stream zs;
  int zrc;
  memset(&zs, 0, sizeof(zs));
  if (inflateInit2(&zs, 15 + 32) != Z_OK) /* +32: accept zlib or gzip headers */
    return tarn_error_set(err, TARN_ENOMEM, "gzip: inflateInit2 failed");
  zs.next_in = (Bytef *)(uintptr_t)in;
  zs.avail_in = (uInt)n;
  zs.next_out = dst;
  zs.avail_out = (uInt)expect;
  for (;;) {
    zrc = inflate(&zs, Z_FINISH);
    if (zrc != Z_STREAM_END || zs.avail_in == 0 || zs.avail_out == 0)
      break;
    if (inflateReset(&zs) != Z_OK) { /* another member follows */
      zrc = Z_DATA_ERROR;
      break;
    }
  }
  inflateEnd(&zs);
  if (zrc != Z_STREAM_END || zs.avail_out != 0)
    return tarn_error_set(err, TARN_ECORRUPT,
                          "gzip page does not inflate to its declared %zu bytes", expect);
  return 0;
}

int tarn__pq_decompress(tarn_pq_codec codec, const void *in, size_t n, void *dst, size_t expect,
                        tarn_error *err) {
  if (n > INT_MAX || expect > INT_MAX)
    return tarn_error_set(err, TARN_ECORRUPT, "page sizes %zu/%zu are out of range", n, expect);
  switch (codec) {
  case TARN_PQ_UNCOMPRESSED:
    if (n != expect)
      return tarn_error_set(err, TARN_ECORRUPT,
                            "uncompressed page is %zu bytes but declares %zu", n, expect);
    if (n > 0)
      memcpy(dst, in, n);
    return 0;
  case TARN_PQ_SNAPPY: {
    size_t ulen = 0, got;
    if (snappy_uncompressed_length(in, n, &ulen) != SNAPPY_OK || ulen != expect)
      return tarn_error_set(err, TARN_ECORRUPT,
                            "snappy page does not decompress to its declared %zu bytes", expect);
    got = expect;
    if (snappy_uncompress(in, n, dst, &got) != SNAPPY_OK || got != expect)
      return tarn_error_set(err, TARN_ECORRUPT, "snappy page is corrupt");
    return 0;
  }
  case TARN_PQ_ZSTD: {
    size_t r = ZSTD_decompress(dst, expect, in, n);
    if (ZSTD_isError(r) || r != expect)
      return tarn_error_set(err, TARN_ECORRUPT, "zstd page: %s",
                            ZSTD_isError(r) ? ZSTD_getErrorName(r) : "wrong decompressed size");
    return 0;
  }
  case TARN_PQ_GZIP:
    return decompress_gzip(in, n, dst, expect, err);
  case TARN_PQ_LZ4_RAW: {
    int r = LZ4_decompress_safe(in, dst, (int)n, (int)expect);
    if (r < 0 || (size_t)r != expect)
      return tarn_error_set(err, TARN_ECORRUPT,
                            "lz4_raw page does not decompress to its declared %zu bytes", expect);
    return 0;
  }
  default:
    return tarn_error_set(err, TARN_EUNSUPPORTED, "compression codec %s is not supported",
                          tarn_pq_codec_name(codec));
  }
}
