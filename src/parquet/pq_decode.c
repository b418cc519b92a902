/* pq_decode.c - Parquet value decoders: bit unpacking, RLE/bit-packed hybrid, delta encodings,
 * byte stream split and PLAIN byte arrays. Tight loops, no allocation per value. */
#include "pq_read_int.h"

#include <string.h>

#include "base/alloc.h"

/* Hosts are little-endian (x86_64, aarch64), as Parquet is: a memcpy is a load. */
static inline uint64_t load64(const uint8_t *in, size_t inlen, size_t at) {
  uint64_t v = 0;
  size_t k;
  if (at + 8 <= inlen) {
    memcpy(&v, in + at, 8);
    return v;
  }
  for (k = 0; at + k < inlen && k < 8; k++)
    v |= (uint64_t)in[at + k] << (8 * k);
  return v;
}

int tarn__pq_unpack64(const uint8_t *in, size_t inlen, int bw, uint64_t *out, size_t n) {
  uint64_t mask;
  size_t i;
  if (bw < 0 || bw > 64)
    return -1;
  if (bw == 0) {
    memset(out, 0, n * sizeof(*out));
    return 0;
  }
  if (n > (SIZE_MAX - 7) / 64 || (n * (size_t)bw + 7) / 8 > inlen)
    return -1;
  mask = bw == 64 ? ~(uint64_t)0 : ((uint64_t)1 << bw) - 1;
  for (i = 0; i < n; i++) {
    size_t bit = i * (size_t)bw, at = bit >> 3;
    unsigned sh = (unsigned)(bit & 7);
    uint64_t v = load64(in, inlen, at) >> sh;
    if (sh + (unsigned)bw > 64)
      v |= (uint64_t)in[at + 8] << (64 - sh);
    out[i] = v & mask;
  }
  return 0;
}

/* n values of bw <= 32 bits; the caller has checked (n * bw + 7) / 8 <= inlen. */
#define UNPACK_SMALL(TYPE, in, inlen, bw, out, n)                                                  \
  do {                                                                                             \
    uint64_t mask_ = ((uint64_t)1 << (bw)) - 1;                                                    \
    size_t i_;                                                                                     \
    for (i_ = 0; i_ < (n); i_++) {                                                                 \
      size_t bit_ = i_ * (size_t)(bw);                                                             \
      (out)[i_] = (TYPE)((load64((in), (inlen), bit_ >> 3) >> (bit_ & 7)) & mask_);                \
    }                                                                                              \
  } while (0)

static int uleb(const uint8_t *in, size_t inlen, size_t *pos, uint64_t *v) {
  uint64_t x = 0;
  int shift = 0;
  for (;;) {
    uint8_t b;
    if (*pos >= inlen || shift > 63)
      return -1;
    b = in[(*pos)++];
    if (shift == 63 && (b & 0x7e))
      return -1;
    x |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80))
      break;
    shift += 7;
  }
  *v = x;
  return 0;
}

/* The hybrid's runs: an RLE run repeats one value of ceil(bw/8) bytes; a bit-packed run
 * holds groups of 8 values. Runs may extend past n (padding); only n values are taken. */
/* NOLINTBEGIN(bugprone-macro-parentheses): NAME and TYPE are a name and a type */
#define RLE_DECODER(NAME, TYPE, MAXBW)                                                             \
  int NAME(const uint8_t *in, size_t inlen, int bw, TYPE *out, size_t n) {                         \
    size_t pos = 0, got = 0, vbytes = ((size_t)bw + 7) / 8;                                        \
    if (bw < 0 || bw > (MAXBW))                                                                    \
      return -1;                                                                                   \
    while (got < n) {                                                                              \
      uint64_t h;                                                                                  \
      if (uleb(in, inlen, &pos, &h) != 0)                                                          \
        return -1;                                                                                 \
      if (h & 1) {                                                                                 \
        uint64_t groups = h >> 1;                                                                  \
        size_t take, need, avail = inlen - pos;                                                    \
        take = groups > (n - got) / 8 + 1 ? n - got : (size_t)groups * 8;                          \
        if (take > n - got)                                                                        \
          take = n - got;                                                                          \
        need = (take * (size_t)bw + 7) / 8;                                                        \
        if (need > avail)                                                                          \
          return -1;                                                                               \
        if (bw == 0)                                                                               \
          memset(out + got, 0, take * sizeof(TYPE));                                               \
        else                                                                                       \
          UNPACK_SMALL(TYPE, in + pos, avail, bw, out + got, take);                                \
        got += take;                                                                               \
        /* skip the whole run; a short final run only matters if more values follow */             \
        if (bw > 0 && groups > avail / (size_t)bw)                                                 \
          pos = inlen;                                                                             \
        else                                                                                       \
          pos += (size_t)groups * (size_t)bw;                                                      \
      } else {                                                                                     \
        uint64_t cnt = h >> 1, v = 0;                                                              \
        size_t take, k;                                                                            \
        if (vbytes > inlen - pos)                                                                  \
          return -1;                                                                               \
        for (k = 0; k < vbytes; k++)                                                               \
          v |= (uint64_t)in[pos + k] << (8 * k);                                                   \
        pos += vbytes;                                                                             \
        if (bw < 64 && (v >> bw) != 0)                                                             \
          return -1;                                                                               \
        take = cnt < (uint64_t)(n - got) ? (size_t)cnt : n - got;                                  \
        if (sizeof(TYPE) == 1) {                                                                   \
          memset(out + got, (int)v, take);                                                         \
        } else {                                                                                   \
          for (k = 0; k < take; k++)                                                               \
            out[got + k] = (TYPE)v;                                                                \
        }                                                                                          \
        got += take;                                                                               \
      }                                                                                            \
    }                                                                                              \
    return 0;                                                                                      \
  }
/* NOLINTEND(bugprone-macro-parentheses) */

RLE_DECODER(tarn__pq_rle_u32, uint32_t, 32)
RLE_DECODER(tarn__pq_rle_u8, uint8_t, 8)

int tarn__pq_bitpacked_u8(const uint8_t *in, size_t inlen, int bw, uint8_t *out, size_t n,
                          size_t *used) {
  size_t i, need;
  int b;
  if (bw < 1 || bw > 8 || n > SIZE_MAX / 8)
    return -1;
  need = (n * (size_t)bw + 7) / 8;
  if (need > inlen)
    return -1;
  if (bw == 1) {
    for (i = 0; i < n; i++)
      out[i] = (uint8_t)((in[i >> 3] >> (7 - (i & 7))) & 1);
  } else {
    for (i = 0; i < n; i++) {
      unsigned v = 0;
      for (b = 0; b < bw; b++) {
        size_t bit = i * (size_t)bw + (size_t)b;
        v = (v << 1) | ((in[bit >> 3] >> (7 - (bit & 7))) & 1u);
      }
      out[i] = (uint8_t)v;
    }
  }
  *used = need;
  return 0;
}

/* ---- DELTA_BINARY_PACKED ---- */

#define DELTA_CHUNK 256

/* Decodes into out64 or out32 (one of them non-NULL, or both NULL to only measure). */
static int delta_core(const uint8_t *in, size_t inlen, int64_t *out64, int32_t *out32, size_t n,
                      size_t *total_out, size_t *used) {
  uint64_t block, nmb, total, first_zz, vpm, left, emitted = 0;
  uint64_t tmp[DELTA_CHUNK];
  uint64_t cur;
  size_t pos = 0;
  if (uleb(in, inlen, &pos, &block) != 0 || uleb(in, inlen, &pos, &nmb) != 0 ||
      uleb(in, inlen, &pos, &total) != 0 || uleb(in, inlen, &pos, &first_zz) != 0)
    return -1;
  if (block == 0 || block % 128 != 0 || block > (1u << 20) || nmb == 0 || block % nmb != 0)
    return -1;
  vpm = block / nmb;
  if (vpm % 8 != 0 || (uint64_t)n > total)
    return -1;
  cur = (first_zz >> 1) ^ (0 - (first_zz & 1));
  if (n > 0) {
    if (out64)
      out64[0] = (int64_t)cur;
    if (out32)
      out32[0] = (int32_t)(uint32_t)cur;
    emitted = 1;
  }
  left = total > 0 ? total - 1 : 0; /* values still encoded in blocks */
  while (left > 0) {
    uint64_t mdz, min_delta, m;
    const uint8_t *widths;
    if (uleb(in, inlen, &pos, &mdz) != 0)
      return -1;
    min_delta = (mdz >> 1) ^ (0 - (mdz & 1));
    if (nmb > inlen - pos)
      return -1;
    widths = in + pos;
    pos += nmb;
    for (m = 0; m < nmb && left > 0; m++) {
      int bw = widths[m];
      size_t bytes, inmb = left < vpm ? (size_t)left : (size_t)vpm, done = 0;
      if (bw > 64)
        return -1;
      bytes = (size_t)vpm * (size_t)bw / 8;
      if (bytes > inlen - pos)
        return -1;
      while (done < inmb && emitted < n) { /* decode only what the caller wants */
        size_t k, cnt = inmb - done;
        if (cnt > DELTA_CHUNK)
          cnt = DELTA_CHUNK;
        if (cnt > n - emitted)
          cnt = (size_t)(n - emitted);
        /* values done..done+cnt start at bit done*bw: done is a multiple of 8 */
        if (tarn__pq_unpack64(in + pos + done * (size_t)bw / 8, bytes - done * (size_t)bw / 8, bw,
                              tmp, cnt) != 0)
          return -1;
        for (k = 0; k < cnt; k++) {
          cur += min_delta + tmp[k];
          if (out64)
            out64[emitted + k] = (int64_t)cur;
          if (out32)
            out32[emitted + k] = (int32_t)(uint32_t)cur;
        }
        emitted += cnt;
        done += cnt;
        if (done % 8 != 0 && done < inmb && emitted < n)
          return -1; /* cannot happen: cnt is DELTA_CHUNK unless we stop */
      }
      pos += bytes;
      left -= inmb;
    }
  }
  if (emitted < n)
    return -1;
  *total_out = (size_t)total;
  *used = pos;
  return 0;
}

int tarn__pq_delta_i64(const uint8_t *in, size_t inlen, int64_t *out, size_t n, size_t *total,
                       size_t *used) {
  return delta_core(in, inlen, out, NULL, n, total, used);
}

int tarn__pq_delta_i32(const uint8_t *in, size_t inlen, int32_t *out, size_t n, size_t *total,
                       size_t *used) {
  return delta_core(in, inlen, NULL, out, n, total, used);
}

/* ---- byte arrays ---- */

int tarn__pq_plain_views(const uint8_t *in, size_t inlen, tarn__pq_view *out, size_t n,
                         size_t *used) {
  size_t pos = 0, i;
  for (i = 0; i < n; i++) {
    uint32_t len;
    if (inlen - pos < 4)
      return -1;
    memcpy(&len, in + pos, 4);
    pos += 4;
    if (len > inlen - pos)
      return -1;
    out[i].p = in + pos;
    out[i].len = len;
    pos += len;
  }
  *used = pos;
  return 0;
}

/* Decodes n lengths (the stream must declare exactly n) into lens; returns bytes used. */
static int lengths(const uint8_t *in, size_t inlen, size_t n, int64_t **lens, size_t *used) {
  size_t total;
  *lens = tarn_malloc((n ? n : 1) * sizeof(int64_t));
  if (*lens == NULL)
    return -3;
  if (tarn__pq_delta_i64(in, inlen, *lens, n, &total, used) != 0 || total != n) {
    tarn_free(*lens);
    *lens = NULL;
    return -1;
  }
  return 0;
}

int tarn__pq_dlba_views(const uint8_t *in, size_t inlen, tarn__pq_view *out, size_t n,
                        size_t *used) {
  int64_t *lens = NULL;
  size_t pos, i;
  int rc = lengths(in, inlen, n, &lens, &pos);
  if (rc != 0)
    return rc;
  for (i = 0; i < n; i++) {
    int64_t len = lens[i];
    if (len < 0 || (uint64_t)len > inlen - pos) {
      tarn_free(lens);
      return -1;
    }
    out[i].p = in + pos;
    out[i].len = (uint32_t)len;
    pos += (size_t)len;
  }
  tarn_free(lens);
  *used = pos;
  return 0;
}

int tarn__pq_dba_views(const uint8_t *in, size_t inlen, tarn__pq_view *out, size_t n, uint8_t **buf,
                       size_t maxbytes) {
  int64_t *prefix = NULL;
  size_t pos, used, i, total = 0, prev = 0, at;
  uint8_t *b;
  int rc = lengths(in, inlen, n, &prefix, &pos);
  *buf = NULL;
  if (rc != 0)
    return rc;
  rc = tarn__pq_dlba_views(in + pos, inlen - pos, out, n, &used);
  if (rc != 0)
    goto out;
  rc = -1;
  for (i = 0; i < n; i++) { /* sizes first: prefixes must fit the previous value */
    if (prefix[i] < 0 || (uint64_t)prefix[i] > prev)
      goto out;
    prev = (size_t)prefix[i] + out[i].len;
    if (prev > maxbytes || total > maxbytes - prev) {
      rc = -2;
      goto out;
    }
    total += prev;
  }
  b = tarn_malloc(total ? total : 1);
  if (b == NULL) {
    rc = -3;
    goto out;
  }
  at = 0;
  for (i = 0; i < n; i++) {
    size_t pl = (size_t)prefix[i], sl = out[i].len;
    if (pl > 0)
      memcpy(b + at, b + at - (i > 0 ? out[i - 1].len : 0), pl);
    if (sl > 0)
      memcpy(b + at + pl, out[i].p, sl);
    out[i].p = b + at;
    out[i].len = (uint32_t)(pl + sl);
    at += pl + sl;
  }
  *buf = b;
  rc = 0;
out:
  tarn_free(prefix);
  return rc;
}

int tarn__pq_bss(const uint8_t *in, size_t inlen, size_t w, uint8_t *out, size_t n) {
  size_t k, i;
  if (w == 0 || (n > 0 && (n > SIZE_MAX / w || n * w > inlen)))
    return -1;
  if (w == 4) {
    const uint8_t *s0 = in, *s1 = in + n, *s2 = in + 2 * n, *s3 = in + 3 * n;
    for (i = 0; i < n; i++) {
      out[4 * i] = s0[i];
      out[4 * i + 1] = s1[i];
      out[4 * i + 2] = s2[i];
      out[4 * i + 3] = s3[i];
    }
    return 0;
  }
  if (w == 8) {
    for (i = 0; i < n; i++)
      for (k = 0; k < 8; k++)
        out[8 * i + k] = in[k * n + i];
    return 0;
  }
  for (k = 0; k < w; k++) {
    const uint8_t *s = in + k * n;
    for (i = 0; i < n; i++)
      out[i * w + k] = s[i];
  }
  return 0;
}

int tarn__pq_plain_bool(const uint8_t *in, size_t inlen, uint8_t *out, size_t n) {
  size_t i;
  if ((n + 7) / 8 > inlen)
    return -1;
  for (i = 0; i < n; i++)
    out[i] = (uint8_t)((in[i >> 3] >> (i & 7)) & 1);
  return 0;
}
