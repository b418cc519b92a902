/* multipart.c - a streaming multipart/form-data parser (RFC 7578, RFC 2046) with hard caps. */
#include "http_int.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"

/*
 * The body is: preamble, then parts each introduced by "--BOUNDARY" at the start of the
 * body or of a line, then "--BOUNDARY--" and an epilogue. Each part has header lines, an
 * empty line, and data that ends where "\r\n--BOUNDARY" begins. Data is handed on as it
 * arrives: only the last (delimiter length - 1) bytes are held back, since they could be
 * the start of a delimiter. Part headers are buffered up to TARN__MP_HEADER_MAX.
 */

enum { MP_PREAMBLE, MP_HEADERS, MP_DATA, MP_AFTER_DELIM, MP_AFTER_DELIM_LF, MP_DONE, MP_FAILED };

/* Finds needle in hay (memmem, spelled out: it is a GNU extension). */
static const char *find(const char *hay, size_t n, const char *needle, size_t m) {
  size_t i;
  if (m == 0 || n < m)
    return NULL;
  for (i = 0; i + m <= n; i++) {
    const char *p = memchr(hay + i, needle[0], n - m + 1 - i);
    if (p == NULL)
      return NULL;
    i = (size_t)(p - hay);
    if (memcmp(p, needle, m) == 0)
      return p;
  }
  return NULL;
}

/* The value of parameter `name` of a header value like `form-data; name="file"; filename=x`
 * into out (quotes removed, \-escapes kept literal as browsers send them); 1 when found. */
static int header_param(const char *v, const char *name, char *out, size_t n) {
  size_t nl = strlen(name);
  const char *p = v;
  while ((p = strchr(p, ';')) != NULL) {
    size_t k = 0;
    p++;
    while (*p == ' ' || *p == '\t')
      p++;
    if (strncasecmp(p, name, nl) != 0 || (p[nl] != '=' && p[nl] != ' '))
      continue;
    p += nl;
    while (*p == ' ')
      p++;
    if (*p != '=')
      continue;
    p++;
    while (*p == ' ')
      p++;
    if (*p == '"') {
      p++;
      while (*p != '\0' && *p != '"') {
        if (*p == '\\' && p[1] != '\0')
          p++;
        if (k + 1 < n)
          out[k++] = *p;
        p++;
      }
    } else {
      while (*p != '\0' && *p != ';' && *p != ' ' && *p != '\t') {
        if (k + 1 < n)
          out[k++] = *p;
        p++;
      }
    }
    out[k] = '\0';
    return 1;
  }
  return 0;
}

int tarn__mp_boundary(const char *content_type, char *out, size_t n) {
  char b[128];
  size_t i, len;
  if (content_type == NULL || !header_param(content_type, "boundary", b, sizeof(b)))
    return -1;
  len = strlen(b);
  if (len < 1 || len > 70 || len + 1 > n) /* RFC 2046: 1 to 70 characters */
    return -1;
  for (i = 0; i < len; i++)
    if ((unsigned char)b[i] < 0x20 || (unsigned char)b[i] > 0x7e)
      return -1;
  memcpy(out, b, len + 1);
  return 0;
}

int tarn__mp_init(tarn__mp *mp, const char *boundary, const tarn__mp_ops *ops, void *ud) {
  size_t bl = strlen(boundary);
  memset(mp, 0, sizeof(*mp));
  if (bl < 1 || bl > 70)
    return TARN_EINVAL;
  /* the delimiter inside the body; the first one may come without the CRLF */
  memcpy(mp->delim, "\r\n--", 4);
  memcpy(mp->delim + 4, boundary, bl);
  mp->dlen = 4 + bl;
  mp->ops = ops;
  mp->ud = ud;
  mp->state = MP_PREAMBLE;
  /* the body may start with the delimiter itself: pretend a CRLF came before it */
  memcpy(mp->hold, "\r\n", 2);
  mp->nhold = 2;
  return 0;
}

static int fail(tarn__mp *mp, int code, const char *why) {
  mp->state = MP_FAILED;
  mp->code = code;
  mp->why = why;
  return code;
}

/* Parses the buffered header block (without the final empty line) of a part. */
static int part_headers(tarn__mp *mp) {
  char *line = mp->hdr, *end;
  char name[TARN__MP_NAME_MAX + 1] = "", filename[TARN__MP_NAME_MAX + 1] = "";
  char ctype[128] = "";
  int has_disp = 0, has_name = 0, has_file = 0;
  mp->hdr[mp->nhdr] = '\0';
  if (memchr(mp->hdr, '\0', mp->nhdr) != NULL)
    return fail(mp, TARN_EINVAL, "a part header contains a NUL byte");
  while (*line != '\0') {
    char *colon, *v;
    end = strstr(line, "\r\n");
    if (end != NULL)
      *end = '\0';
    colon = strchr(line, ':');
    if (colon == NULL)
      return fail(mp, TARN_EINVAL, "a part header line has no ':'");
    *colon = '\0';
    v = colon + 1;
    while (*v == ' ' || *v == '\t')
      v++;
    if (strcasecmp(line, "Content-Disposition") == 0) {
      if (strncasecmp(v, "form-data", 9) != 0)
        return fail(mp, TARN_EINVAL, "a part's Content-Disposition is not form-data");
      has_disp = 1;
      has_name = header_param(v, "name", name, sizeof(name));
      has_file = header_param(v, "filename", filename, sizeof(filename));
    } else if (strcasecmp(line, "Content-Type") == 0) {
      snprintf(ctype, sizeof(ctype), "%s", v);
    }
    if (end == NULL)
      break;
    line = end + 2;
  }
  if (!has_disp || !has_name)
    return fail(mp, TARN_EINVAL, "a part has no Content-Disposition: form-data; name=...");
  mp->parts++;
  if (mp->parts > TARN__MP_MAX_PARTS)
    return fail(mp, TARN_EINVAL, "more parts than the limit");
  if (mp->ops->begin != NULL) {
    int rc = mp->ops->begin(mp->ud, name, has_file ? filename : NULL, ctype[0] ? ctype : NULL);
    if (rc != 0)
      return fail(mp, rc, "refused by the receiver");
  }
  mp->in_part = 1;
  return 0;
}

static int emit(tarn__mp *mp, const char *p, size_t n) {
  int rc;
  if (n == 0 || mp->ops->data == NULL)
    return 0;
  rc = mp->ops->data(mp->ud, p, n);
  return rc != 0 ? fail(mp, rc, "refused by the receiver") : 0;
}

static int end_part(tarn__mp *mp) {
  int rc = 0;
  if (mp->in_part && mp->ops->end != NULL)
    rc = mp->ops->end(mp->ud);
  mp->in_part = 0;
  return rc != 0 ? fail(mp, rc, "refused by the receiver") : 0;
}

/* Feeds at most sizeof(mp->work) - sizeof(mp->hold) bytes. */
static int feed_some(tarn__mp *mp, const char *p, size_t n) {
  char *w = mp->work;
  size_t wn = mp->nhold + n, i = 0;
  memcpy(w, mp->hold, mp->nhold);
  memcpy(w + mp->nhold, p, n);
  mp->nhold = 0;
  while (i < wn && mp->state != MP_FAILED && mp->state != MP_DONE) {
    const char *d;
    switch (mp->state) {
    case MP_PREAMBLE:
    case MP_DATA:
      d = find(w + i, wn - i, mp->delim, mp->dlen);
      if (d != NULL) {
        if (mp->state == MP_DATA &&
            (emit(mp, w + i, (size_t)(d - (w + i))) != 0 || end_part(mp) != 0))
          return mp->code;
        i = (size_t)(d - w) + mp->dlen;
        mp->state = MP_AFTER_DELIM;
      } else {
        /* keep what could be the start of a delimiter; hand on (or skip) the rest */
        size_t keep = wn - i < mp->dlen - 1 ? wn - i : mp->dlen - 1;
        if (mp->state == MP_DATA && emit(mp, w + i, wn - i - keep) != 0)
          return mp->code;
        memcpy(mp->hold, w + wn - keep, keep);
        mp->nhold = keep;
        return 0;
      }
      break;
    case MP_AFTER_DELIM:
      /* "--" ends the body; otherwise optional whitespace, then CRLF starts a part */
      if (wn - i < 2) {
        memcpy(mp->hold, w + i, wn - i);
        mp->nhold = wn - i;
        return 0;
      }
      if (w[i] == '-' && w[i + 1] == '-') {
        mp->state = MP_DONE;
        return 0;
      }
      if (w[i] == ' ' || w[i] == '\t') {
        i++;
        break;
      }
      if (w[i] != '\r' || w[i + 1] != '\n')
        return fail(mp, TARN_EINVAL, "a boundary line is followed by something else");
      i += 2;
      mp->nhdr = 0;
      mp->state = MP_HEADERS;
      break;
    case MP_HEADERS: {
      /* the header block ends at an empty line: CRLF CRLF, or a CRLF at its very start */
      int complete = 0;
      while (i < wn && !complete) {
        if (mp->nhdr == TARN__MP_HEADER_MAX)
          return fail(mp, TARN_EINVAL, "a part's headers are longer than 8 KiB");
        mp->hdr[mp->nhdr++] = w[i++];
        if (mp->nhdr == 2 && memcmp(mp->hdr, "\r\n", 2) == 0) {
          mp->nhdr = 0;
          complete = 1;
        } else if (mp->nhdr >= 4 && memcmp(mp->hdr + mp->nhdr - 4, "\r\n\r\n", 4) == 0) {
          mp->nhdr -= 4;
          complete = 1;
        }
      }
      if (!complete)
        return 0; /* every byte is in hdr: wait for the rest */
      if (part_headers(mp) != 0)
        return mp->code;
      mp->state = MP_DATA;
      break;
    }
    }
  }
  return mp->state == MP_FAILED ? mp->code : 0;
}

int tarn__mp_feed(tarn__mp *mp, const void *data, size_t n) {
  const char *p = data;
  size_t room = sizeof(mp->work) - sizeof(mp->hold);
  if (mp->state == MP_FAILED)
    return mp->code;
  while (n > 0 && mp->state != MP_DONE) {
    size_t k = n < room ? n : room;
    int rc = feed_some(mp, p, k);
    if (rc != 0)
      return rc;
    p += k;
    n -= k;
  }
  return 0; /* bytes after the closing delimiter are the epilogue: ignored */
}

int tarn__mp_finish(tarn__mp *mp) {
  if (mp->state == MP_FAILED)
    return mp->code;
  if (mp->state != MP_DONE)
    return fail(mp, TARN_EINVAL, "the body ends before the closing boundary");
  return 0;
}

const char *tarn__mp_error(const tarn__mp *mp) { return mp->why ? mp->why : ""; }
