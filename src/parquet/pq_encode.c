/* pq_encode.c - value encodings: bit helpers, the RLE/bit-packed hybrid, dictionaries. */
#include "pq_write_int.h"

#include <string.h>

#include "base/alloc.h"

int tarn__pq_bit_width(uint64_t max_value) {
  int w = 0;
  while (max_value != 0) {
    w++;
    max_value >>= 1;
  }
  return w;
}

/* ---- bitmaps (LSB first) ---- */

void tarn__pq_copy_bits(uint8_t *dst, size_t doff, const uint8_t *src, size_t soff, size_t n) {
  if (((doff | soff) & 7) == 0) {
    size_t nb = n >> 3, rem = n & 7;
    if (nb > 0)
      memcpy(dst + (doff >> 3), src + (soff >> 3), nb);
    if (rem)
      dst[(doff >> 3) + nb] = (uint8_t)(src[(soff >> 3) + nb] & ((1u << rem) - 1));
    return;
  }
  while (n > 0) {
    size_t k = n < 8 ? n : 8;
    size_t sb = soff >> 3, db = doff >> 3;
    unsigned sh = (unsigned)(soff & 7), dsh = (unsigned)(doff & 7);
    unsigned w = (unsigned)src[sb] >> sh;
    if (sh != 0 && k > 8 - sh)
      w |= (unsigned)src[sb + 1] << (8 - sh);
    w &= (1u << k) - 1;
    dst[db] = (uint8_t)((dst[db] & ((1u << dsh) - 1)) | (w << dsh));
    if (dsh + k > 8)
      dst[db + 1] = (uint8_t)(w >> (8 - dsh));
    soff += k;
    doff += k;
    n -= k;
  }
}

void tarn__pq_set_bits(uint8_t *dst, size_t doff, size_t n) {
  while (n > 0 && (doff & 7) != 0) {
    dst[doff >> 3] = (uint8_t)((dst[doff >> 3] & ((1u << (doff & 7)) - 1)) | (1u << (doff & 7)));
    doff++;
    n--;
  }
  if (n >= 8) {
    memset(dst + (doff >> 3), 0xff, n >> 3);
    doff += n & ~(size_t)7;
    n &= 7;
  }
  if (n > 0)
    dst[doff >> 3] = (uint8_t)((1u << n) - 1);
}

size_t tarn__pq_count_bits(const uint8_t *p, size_t off, size_t n) {
  size_t c = 0;
  while (n > 0 && (off & 7) != 0) {
    c += (p[off >> 3] >> (off & 7)) & 1;
    off++;
    n--;
  }
  p += off >> 3;
  while (n >= 64) {
    uint64_t w;
    memcpy(&w, p, 8);
    c += (size_t)__builtin_popcountll(w);
    p += 8;
    n -= 64;
  }
  while (n >= 8) {
    c += (size_t)__builtin_popcount(*p++);
    n -= 8;
  }
  if (n > 0)
    c += (size_t)__builtin_popcount(*p & ((1u << n) - 1));
  return c;
}

/* ---- RLE / bit-packed hybrid ---- */

static uint8_t *put_uleb(uint8_t *p, uint64_t v) { return p + tarn__pq_uleb128(p, v); }

/* Packs `count` values (then zeros up to `padded`, a multiple of 8) LSB first. */
static uint8_t *pack(uint8_t *p, const uint32_t *v, size_t count, size_t padded, int bw) {
  uint64_t acc = 0;
  unsigned nb = 0;
  size_t k;
  for (k = 0; k < padded; k++) {
    uint64_t x = k < count ? v[k] : 0;
    acc |= x << nb;
    nb += (unsigned)bw;
    if (nb >= 32) {
      p[0] = (uint8_t)acc;
      p[1] = (uint8_t)(acc >> 8);
      p[2] = (uint8_t)(acc >> 16);
      p[3] = (uint8_t)(acc >> 24);
      p += 4;
      acc >>= 32;
      nb -= 32;
    }
  }
  while (nb > 0) {
    *p++ = (uint8_t)acc;
    acc >>= 8;
    nb = nb >= 8 ? nb - 8 : 0;
  }
  return p;
}

int tarn__pq_encode_hybrid(const uint32_t *v, size_t n, int bw, tarn_buf *out, tarn_error *err) {
  size_t vbytes = ((size_t)bw + 7) / 8, i = 0, bound;
  uint8_t *p, *start;
  int rc;
  if (bw < 1 || bw > 32)
    return tarn_error_set(err, TARN_EINTERNAL, "hybrid encoding: bit width %d", bw);
  /* Every run covers at least 8 values (but the last); a run costs a header of at most
   * 5 bytes plus 4 (RLE) or bw (per 8 packed values) bytes. */
  bound = (n / 8 + 2) * (5 + 4) + (n / 8 + 1) * (size_t)bw + 16;
  rc = tarn_buf_reserve(out, bound, err);
  if (rc != 0)
    return rc;
  start = p = (uint8_t *)out->data + out->len;
  while (i < n) {
    uint32_t x = v[i];
    size_t j = i + 1, s, k;
    while (j < n && v[j] == x)
      j++;
    if (j - i >= 8) { /* RLE run */
      p = put_uleb(p, (uint64_t)(j - i) << 1);
      for (k = 0; k < vbytes; k++)
        *p++ = (uint8_t)(x >> (8 * k));
      i = j;
      continue;
    }
    /* Bit-packed run: whole groups of 8 until a run of 8 equal values starts a group. */
    s = i;
    for (;;) {
      i += 8;
      if (i >= n) {
        i = n;
        break;
      }
      x = v[i];
      for (k = i + 1; k < n && k < i + 8 && v[k] == x; k++)
        ;
      if (k - i >= 8)
        break;
    }
    {
      size_t cnt = i - s, groups = (cnt + 7) / 8;
      p = put_uleb(p, ((uint64_t)groups << 1) | 1);
      p = pack(p, v + s, cnt, groups * 8, bw);
    }
  }
  out->len += (size_t)(p - start);
  out->data[out->len] = '\0';
  return 0;
}

static int uniform(uint8_t b) { return b == 0 || b == 0xff; }

int tarn__pq_encode_hybrid_bits(const uint8_t *bits, size_t n, tarn_buf *out, tarn_error *err) {
  size_t nfull = n / 8, tail = n % 8, i = 0;
  uint8_t tmask = (uint8_t)((1u << tail) - 1);
  int tail_done = tail == 0;
  uint8_t *p, *start;
  int rc = tarn_buf_reserve(out, nfull * 4 + 32, err);
  if (rc != 0)
    return rc;
  start = p = (uint8_t *)out->data + out->len;
  while (i < nfull) {
    uint8_t b = bits[i];
    size_t j, s;
    if (uniform(b)) {
      for (j = i + 1; j < nfull && bits[j] == b; j++)
        ;
      if (j - i >= 2 || j == nfull) {
        uint64_t count = (uint64_t)(j - i) * 8;
        if (j == nfull && !tail_done && (bits[nfull] & tmask) == (b & tmask)) {
          count += tail;
          tail_done = 1;
        }
        p = put_uleb(p, count << 1);
        *p++ = (uint8_t)(b & 1);
        i = j;
        continue;
      }
    }
    s = i;
    while (i < nfull && !(uniform(bits[i]) && i + 1 < nfull && bits[i + 1] == bits[i]))
      i++;
    if (i == nfull && !tail_done) { /* the partial last byte ends this run, padded */
      p = put_uleb(p, ((uint64_t)(i - s + 1) << 1) | 1);
      memcpy(p, bits + s, i - s);
      p += i - s;
      *p++ = (uint8_t)(bits[nfull] & tmask);
      tail_done = 1;
    } else {
      p = put_uleb(p, ((uint64_t)(i - s) << 1) | 1);
      memcpy(p, bits + s, i - s);
      p += i - s;
    }
  }
  if (!tail_done) {
    uint8_t t = (uint8_t)(bits[nfull] & tmask);
    if (t == 0 || t == tmask) {
      p = put_uleb(p, (uint64_t)tail << 1);
      *p++ = (uint8_t)(t != 0);
    } else {
      p = put_uleb(p, (1u << 1) | 1);
      *p++ = t;
    }
  }
  out->len += (size_t)(p - start);
  out->data[out->len] = '\0';
  return 0;
}

/* ---- dictionary ---- */

void tarn__pq_dict_init(tarn__pq_dict *d, int width, int bytes, size_t cap_bytes) {
  memset(d, 0, sizeof(*d));
  d->width = width;
  d->bytes = bytes;
  d->cap_bytes = cap_bytes;
  tarn_buf_init(&d->plain, TARN_BUF_UNLIMITED);
}

void tarn__pq_dict_reset(tarn__pq_dict *d) {
  d->count = 0;
  tarn_buf_reset(&d->plain);
  if (d->slots != NULL)
    memset(d->slots, 0, ((size_t)d->mask + 1) * sizeof(*d->slots));
}

void tarn__pq_dict_free(tarn__pq_dict *d) {
  tarn_buf_free(&d->plain);
  tarn_free(d->slots);
  tarn_free(d->ent_off);
  tarn_free(d->ent_len);
  d->slots = NULL;
  d->ent_off = NULL;
  d->ent_len = NULL;
  d->count = d->mask = d->ent_cap = 0;
}

static uint32_t hash_fixed(uint64_t key) { return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32); }

/* Doubles the table (or makes the first one) and reinserts every entry. */
static int grow_table(tarn__pq_dict *d, tarn_error *err) {
  size_t oslots = d->slots != NULL ? (size_t)d->mask + 1 : 0;
  /* small at first: a file may have thousands of columns, most with few distinct values */
  size_t nslots = oslots ? oslots * 2 : 64, s;
  struct tarn__pq_dict_slot *ns;
  uint32_t nmask = (uint32_t)(nslots - 1);
  if (nslots > ((size_t)1 << 31))
    return tarn_error_set(err, TARN_ETOOBIG, "dictionary has too many entries");
  ns = tarn_calloc(nslots, sizeof(*ns));
  if (ns == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory growing a dictionary");
  for (s = 0; s < oslots; s++) {
    uint32_t t;
    if (d->slots[s].idx == 0)
      continue;
    t = (d->bytes ? d->slots[s].hash : hash_fixed(d->slots[s].key)) & nmask;
    while (ns[t].idx != 0)
      t = (t + 1) & nmask;
    ns[t] = d->slots[s];
  }
  tarn_free(d->slots);
  d->slots = ns;
  d->mask = nmask;
  return 0;
}

int64_t tarn__pq_dict_put_fixed(tarn__pq_dict *d, const void *vals, size_t n, uint32_t *idx,
                                uint32_t *fresh, size_t *nfresh, tarn_error *err) {
  const uint8_t *v = vals;
  size_t i, w = (size_t)d->width;
  if (nfresh != NULL)
    *nfresh = 0;
  if (d->slots == NULL && grow_table(d, err) != 0)
    return -1;
  for (i = 0; i < n; i++) {
    uint64_t key;
    uint32_t s, e;
    if (w == 4) {
      uint32_t k32;
      memcpy(&k32, v + i * 4, 4);
      key = k32;
    } else {
      memcpy(&key, v + i * 8, 8);
    }
    s = hash_fixed(key) & d->mask;
    while ((e = d->slots[s].idx) != 0 && d->slots[s].key != key)
      s = (s + 1) & d->mask;
    if (e != 0) {
      idx[i] = e - 1;
      continue;
    }
    if (d->plain.len + w > d->cap_bytes)
      return (int64_t)i; /* full: the caller falls back to PLAIN */
    if (((size_t)d->count + 1) * 2 > (size_t)d->mask + 1) {
      if (grow_table(d, err) != 0)
        return -1;
      s = hash_fixed(key) & d->mask;
      while (d->slots[s].idx != 0)
        s = (s + 1) & d->mask;
    }
    if (tarn_buf_append(&d->plain, v + i * w, w, err) != 0)
      return -1;
    d->slots[s].idx = ++d->count;
    d->slots[s].key = key;
    idx[i] = d->count - 1;
    if (fresh != NULL)
      fresh[(*nfresh)++] = (uint32_t)i;
  }
  return (int64_t)n;
}

int tarn__pq_dict_put_bytes(tarn__pq_dict *d, const uint8_t *p, uint32_t len, uint64_t hash,
                            uint32_t *idx, int *is_new, tarn_error *err) {
  uint32_t h = (uint32_t)(hash >> 32), s, e;
  size_t need = (d->width == 0 ? 4 : 0) + (size_t)len;
  *is_new = 0;
  if (d->slots == NULL && grow_table(d, err) != 0)
    return -1;
  s = h & d->mask;
  while ((e = d->slots[s].idx) != 0) {
    if (d->slots[s].hash == h && d->ent_len[e - 1] == len &&
        (len == 0 || memcmp(d->plain.data + d->ent_off[e - 1], p, len) == 0)) {
      *idx = e - 1;
      return 1;
    }
    s = (s + 1) & d->mask;
  }
  if (d->plain.len + need > d->cap_bytes)
    return 0;
  if (d->count == d->ent_cap) {
    uint32_t ncap = d->ent_cap ? d->ent_cap * 2 : 16;
    uint64_t *no = tarn_reallocarray(d->ent_off, ncap, sizeof(*no));
    uint32_t *nl;
    if (no == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory growing a dictionary"), -1;
    d->ent_off = no;
    nl = tarn_reallocarray(d->ent_len, ncap, sizeof(*nl));
    if (nl == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory growing a dictionary"), -1;
    d->ent_len = nl;
    d->ent_cap = ncap;
  }
  if (((size_t)d->count + 1) * 2 > (size_t)d->mask + 1) {
    if (grow_table(d, err) != 0)
      return -1;
    s = h & d->mask;
    while (d->slots[s].idx != 0)
      s = (s + 1) & d->mask;
  }
  if (d->width == 0) {
    uint8_t lb[4] = {(uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16), (uint8_t)(len >> 24)};
    if (tarn_buf_append(&d->plain, lb, 4, err) != 0)
      return -1;
  }
  d->ent_off[d->count] = d->plain.len;
  d->ent_len[d->count] = len;
  if (tarn_buf_append(&d->plain, p, len, err) != 0)
    return -1;
  d->slots[s].idx = ++d->count;
  d->slots[s].hash = h;
  *idx = d->count - 1;
  *is_new = 1;
  return 1;
}
