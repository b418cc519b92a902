/* ingest_gen.c - writes the benchmark CSV: ids, ISO timestamps with Z, doubles, an 8-value
 * category, 8-character random codes, booleans, 10%-null ints, dates, ints, notes (some
 * quoted with commas). Usage: ingest_gen MEGABYTES [FILE] (stdout without FILE; the output
 * stops at the first row end past MEGABYTES * 10^6 bytes; the same size gives the same
 * bytes every time). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void) { /* xorshift64*: fast and deterministic */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1dull;
}

static char *put_u64(char *p, uint64_t v) {
  char tmp[24];
  int n = 0;
  do
    tmp[n++] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  while (n > 0)
    *p++ = tmp[--n];
  return p;
}

static char *put_2(char *p, unsigned v) {
  *p++ = (char)('0' + v / 10);
  *p++ = (char)('0' + v % 10);
  return p;
}

/* days since 1970-01-01 to y-m-d (proleptic Gregorian) */
static void civil(int64_t z, int *y, unsigned *m, unsigned *d) {
  int64_t era, yoe, doy, mp;
  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  yoe = z - era * 146097;
  yoe = (yoe - yoe / 1460 + yoe / 36524 - yoe / 146096) / 365;
  doy = (z - era * 146097) - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
  *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
  *y = (int)(yoe + era * 400 + (*m <= 2));
}

static char *put_date(char *p, int64_t day) {
  int y;
  unsigned m, d;
  civil(day, &y, &m, &d);
  p = put_2(p, (unsigned)y / 100);
  p = put_2(p, (unsigned)y % 100);
  *p++ = '-';
  p = put_2(p, m);
  *p++ = '-';
  return put_2(p, d);
}

int main(int argc, char **argv) {
  static const char *const cats[8] = {"alpha", "bravo",   "charlie", "delta",
                                      "echo",  "foxtrot", "golf",    "hotel"};
  static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  static const char *const words[4] = {"shipped", "returned to sender", "on hold", "delivered"};
  const int64_t t0 = 1704067200; /* 2024-01-01T00:00:00Z */
  uint64_t limit, written = 0, id = 1;
  FILE *out = stdout;
  char *buf, *p;
  size_t cap = 1 << 20;
  if (argc < 2 || atof(argv[1]) <= 0) {
    fprintf(stderr, "usage: ingest_gen MEGABYTES [FILE]\n");
    return 2;
  }
  limit = (uint64_t)(atof(argv[1]) * 1e6);
  if (argc > 2 && (out = fopen(argv[2], "wb")) == NULL) {
    perror(argv[2]);
    return 1;
  }
  buf = malloc(cap + 512);
  if (buf == NULL)
    return 1;
  p = buf;
  p += snprintf(p, 512, "id,ts,amount,category,code,flag,qty,day,n,note\n");
  while (written + (uint64_t)(p - buf) < limit) {
    uint64_t r = rnd(), r2 = rnd();
    int64_t secs = t0 + (int64_t)id * 7 + (int64_t)(r % 7), sod = secs % 86400;
    int i;
    p = put_u64(p, id);
    *p++ = ',';
    p = put_date(p, secs / 86400); /* ISO 8601 with Z */
    *p++ = 'T';
    p = put_2(p, (unsigned)(sod / 3600));
    *p++ = ':';
    p = put_2(p, (unsigned)(sod / 60 % 60));
    *p++ = ':';
    p = put_2(p, (unsigned)(sod % 60));
    *p++ = 'Z';
    *p++ = ',';
    p = put_u64(p, (r >> 8) % 100000); /* amount: up to 99999.99 */
    *p++ = '.';
    p = put_2(p, (unsigned)((r >> 32) % 100));
    *p++ = ',';
    i = (int)((r >> 40) & 7);
    memcpy(p, cats[i], strlen(cats[i]));
    p += strlen(cats[i]);
    *p++ = ',';
    for (i = 0; i < 8; i++)
      *p++ = alnum[(r2 >> (i * 6)) % 62];
    *p++ = ',';
    if ((r2 >> 50) & 1) {
      memcpy(p, "true", 4);
      p += 4;
    } else {
      memcpy(p, "false", 5);
      p += 5;
    }
    *p++ = ',';
    if ((r2 >> 52) % 10 != 0) /* qty: 10% empty */
      p = put_u64(p, (r2 >> 20) % 1000);
    *p++ = ',';
    p = put_date(p, 18000 + (int64_t)((r >> 16) % 3000));
    *p++ = ',';
    p = put_u64(p, (r2 >> 8) % 10000000);
    *p++ = ',';
    if ((r >> 60) % 5 == 0) { /* a fifth of the notes are quoted with a comma */
      /* a row stays far below the 512 bytes kept past cap */
      p += snprintf(p, 64, "\"order %llu, %s\"", (unsigned long long)id, words[(r >> 56) & 3]);
    } else {
      p += snprintf(p, 64, "order %llu %s", (unsigned long long)id, words[(r >> 56) & 3]);
    }
    *p++ = '\n';
    id++;
    if ((size_t)(p - buf) >= cap) {
      if (fwrite(buf, 1, (size_t)(p - buf), out) != (size_t)(p - buf)) {
        perror("write");
        return 1;
      }
      written += (uint64_t)(p - buf);
      p = buf;
    }
  }
  if (p > buf && fwrite(buf, 1, (size_t)(p - buf), out) != (size_t)(p - buf)) {
    perror("write");
    return 1;
  }
  free(buf);
  if (out != stdout && fclose(out) != 0) {
    perror("close");
    return 1;
  }
  return 0;
}
