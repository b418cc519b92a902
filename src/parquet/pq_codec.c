/* pq_codec.c - page compression: snappy (decoded by tarn), gzip (zlib), zstd and LZ4 raw
 * blocks. */
#include "pq_int.h"

#include "base/alloc.h"

#include <limits.h>
#include <lz4.h>
#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_customMem, ZSTD_create?Ctx_advanced */
#include <zstd.h>
#include <zstd_errors.h>

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

/* zstd's own allocations go through tarn's allocator too (failure injection reaches them). */
static void *zstd_alloc(void *opaque, size_t n) {
  (void)opaque;
  return tarn_malloc(n);
}

static void zstd_free(void *opaque, void *p) {
  (void)opaque;
  tarn_free(p);
}

static const ZSTD_customMem zstd_mem = {zstd_alloc, zstd_free, NULL};

void tarn__pq_codec_ctx_free(tarn__pq_codec_ctx *cx) {
  if (cx == NULL)
    return;
  ZSTD_freeCCtx(cx->zc);
  ZSTD_freeDCtx(cx->zd);
  cx->zc = cx->zd = NULL;
}

int tarn__pq_compress(tarn__pq_codec_ctx *cx, tarn_pq_codec codec, int level, const void *in,
                      size_t n, tarn_buf *out, tarn_error *err) {
  size_t bound;
  int rc;
  if (n > INT_MAX)
    return tarn_error_set(err, TARN_ETOOBIG, "page of %zu bytes is too large to compress", n);
  switch (codec) {
  case TARN_PQ_UNCOMPRESSED: return tarn_buf_append(out, in, n, err);
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
    if (cx != NULL && cx->zc == NULL && (cx->zc = ZSTD_createCCtx_advanced(zstd_mem)) == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "zstd: out of memory for a context");
    if (cx != NULL)
      r = ZSTD_compressCCtx(cx->zc, out->data + out->len, bound, in, n, level ? level : 3);
    else
      r = ZSTD_compress(out->data + out->len, bound, in, n, level ? level : 3);
    if (ZSTD_isError(r))
      return tarn_error_set(
          err, ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation ? TARN_ENOMEM : TARN_EINTERNAL,
          "zstd: %s", ZSTD_getErrorName(r));
    out->len += r;
    out->data[out->len] = '\0';
    return 0;
  }
  case TARN_PQ_GZIP: return compress_gzip(level, in, n, out, err);
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

static uint32_t le32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap32(v);
#endif
  return v;
}

/*
 * Snappy: a varint of the uncompressed length, then elements whose tag's low two bits say
 * literal (length in the tag, or in 1-4 bytes after it) or copy (length and an offset of
 * 1, 2 or 4 bytes back into the output). Parquet pages make elements of a few bytes, so the
 * per-element cost matters: while at least 66 input and 64 output bytes remain, literals
 * and copies are moved in whole 16-byte (or 8-byte) blocks that may write past the
 * element's end (the next element overwrites it); the last elements go byte by byte with
 * every bound checked.
 */
/* One loop over the tags, kept whole on purpose: it is the hot path of every snappy page,
 * and its bounds checks read best side by side. */
int tarn__pq_snappy_decode(const uint8_t *ip, size_t n, uint8_t *op, size_t expect) {
  const uint8_t *const iend = ip + n;
  uint8_t *const ostart = op, *const oend = op + expect;
  uint64_t ulen = 0;
  int shift = 0;
  for (;;) { /* the uncompressed length: at most 32 bits */
    uint8_t b;
    if (ip == iend || shift > 28)
      return -1;
    b = *ip++;
    ulen |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80))
      break;
    shift += 7;
  }
  if (ulen != expect || ulen > UINT32_MAX)
    return -1;
  while ((size_t)(iend - ip) >= 66 && (size_t)(oend - op) >= 64) {
    uint32_t tag = *ip++;
    size_t len, off;
    const uint8_t *src;
    switch (tag & 3) {
    case 0:
      len = (tag >> 2) + 1;
      if (len <= 60) { /* in the tag: the 65 bytes after it are readable */
        memcpy(op, ip, 16);
        if (len > 16) {
          memcpy(op + 16, ip + 16, 16);
          if (len > 32) {
            memcpy(op + 32, ip + 32, 16);
            memcpy(op + 48, ip + 48, 16);
          }
        }
        op += len;
        ip += len;
        continue;
      }
      off = len - 60; /* bytes of length */
      len = (size_t)(le32(ip) & (0xffffffffu >> (32 - 8 * off))) + 1;
      ip += off;
      if ((size_t)(iend - ip) < len || (size_t)(oend - op) < len)
        return -1;
      memcpy(op, ip, len);
      op += len;
      ip += len;
      continue;
    case 1:
      len = 4 + ((tag >> 2) & 7);
      off = ((size_t)(tag >> 5) << 8) | *ip++;
      break;
    case 2:
      len = 1 + (tag >> 2);
      off = (size_t)ip[0] | (size_t)ip[1] << 8;
      ip += 2;
      break;
    default:
      len = 1 + (tag >> 2);
      off = le32(ip);
      ip += 4;
      break;
    }
    if (off - 1 >= (size_t)(op - ostart)) /* 0, or before the start (0 wraps around) */
      return -1;
    src = op - off;  /* len <= 64 <= what is left of the output */
    if (off >= 16) { /* blocks do not overlap what they read */
      memcpy(op, src, 16);
      if (len > 16) {
        memcpy(op + 16, src + 16, 16);
        if (len > 32) {
          memcpy(op + 32, src + 32, 16);
          memcpy(op + 48, src + 48, 16);
        }
      }
    } else if ((8 % off) == 0) { /* period 1, 2, 4 or 8 (8: int64 columns, the most
                                  * common): one 8-byte word repeats, stored without
                                  * reading back what was just written */
      uint8_t word[8];
      size_t k;
      memcpy(word, src, off);
      for (k = off; k < 8; k *= 2)
        memcpy(word + k, word, k);
      for (k = 0; k < len; k += 8)
        memcpy(op + k, word, 8);
    } else if (off > 8) {
      size_t k;
      for (k = 0; k < len; k += 8)
        memcpy(op + k, src + k, 8);
    } else { /* a repeating pattern of off bytes: lay down 8, then copy 8 at a time from
              * the nearest multiple of the period at least 8 bytes back */
      static const uint8_t step[8] = {0, 8, 8, 9, 8, 10, 12, 14};
      size_t k;
      for (k = 0; k < 8; k++)
        op[k] = src[k];
      for (k = 8; k < len; k += 8)
        memcpy(op + k, op + k - step[off], 8);
    }
    op += len;
  }
  while (ip < iend) {
    uint32_t tag = *ip++;
    size_t len, off, k;
    if ((tag & 3) == 0) {
      len = (size_t)(tag >> 2) + 1;
      if (len > 60) {
        size_t nb = len - 60;
        if ((size_t)(iend - ip) < nb)
          return -1;
        len = 0;
        for (k = 0; k < nb; k++)
          len |= (size_t)ip[k] << (8 * k);
        len += 1;
        ip += nb;
      }
      if ((size_t)(iend - ip) < len || (size_t)(oend - op) < len)
        return -1;
      memcpy(op, ip, len);
      op += len;
      ip += len;
      continue;
    }
    if ((tag & 3) == 1) {
      if (ip == iend)
        return -1;
      len = 4 + ((tag >> 2) & 7);
      off = ((size_t)(tag >> 5) << 8) | *ip++;
    } else if ((tag & 3) == 2) {
      if (iend - ip < 2)
        return -1;
      len = 1 + (tag >> 2);
      off = (size_t)ip[0] | (size_t)ip[1] << 8;
      ip += 2;
    } else {
      if (iend - ip < 4)
        return -1;
      len = 1 + (tag >> 2);
      off = le32(ip);
      ip += 4;
    }
    if (off - 1 >= (size_t)(op - ostart) || len > (size_t)(oend - op))
      return -1;
    {
      const uint8_t *from = op - off; /* op[k - off] would wrap k - off around SIZE_MAX */
      for (k = 0; k < len; k++)
        op[k] = from[k];
    }
    op += len;
  }
  return op == oend ? 0 : -1;
}

int tarn__pq_decompress(tarn__pq_codec_ctx *cx, tarn_pq_codec codec, const void *in, size_t n,
                        void *dst, size_t expect, tarn_error *err) {
  if (n > INT_MAX || expect > INT_MAX)
    return tarn_error_set(err, TARN_ECORRUPT, "page sizes %zu/%zu are out of range", n, expect);
  switch (codec) {
  case TARN_PQ_UNCOMPRESSED:
    if (n != expect)
      return tarn_error_set(err, TARN_ECORRUPT, "uncompressed page is %zu bytes but declares %zu",
                            n, expect);
    if (n > 0)
      memcpy(dst, in, n);
    return 0;
  case TARN_PQ_SNAPPY:
    if (tarn__pq_snappy_decode(in, n, dst, expect) != 0)
      return tarn_error_set(err, TARN_ECORRUPT,
                            "snappy page is corrupt or does not decompress to its declared %zu "
                            "bytes",
                            expect);
    return 0;
  case TARN_PQ_ZSTD: {
    size_t r;
    if (cx != NULL && cx->zd == NULL && (cx->zd = ZSTD_createDCtx_advanced(zstd_mem)) == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "zstd: out of memory for a context");
    r = cx != NULL ? ZSTD_decompressDCtx(cx->zd, dst, expect, in, n)
                   : ZSTD_decompress(dst, expect, in, n);
    if (ZSTD_isError(r) && ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation)
      return tarn_error_set(err, TARN_ENOMEM, "zstd: out of memory");
    if (ZSTD_isError(r) || r != expect)
      return tarn_error_set(err, TARN_ECORRUPT, "zstd page: %s",
                            ZSTD_isError(r) ? ZSTD_getErrorName(r) : "wrong decompressed size");
    return 0;
  }
  case TARN_PQ_GZIP: return decompress_gzip(in, n, dst, expect, err);
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
