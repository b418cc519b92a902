/* log.c - logfmt lines on stderr with quoting of string values. */
#include "log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "clock.h"

static atomic_int log_level = TARN_LOG_INFO;
static FILE *log_stream;
/* Keeps our lines whole between threads. flockfile does that too, and stays for other
 * code writing to the same FILE, but its lock is glibc-internal: ThreadSanitizer cannot
 * see it and reports the stream's buffer as a race. This mutex it can see. */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int tarn_log_level_parse(const char *s) {
  int i;
  for (i = 0; i < 4; i++)
    if (strcmp(s, level_names[i]) == 0)
      return i;
  if (strcmp(s, "warning") == 0)
    return TARN_LOG_WARN;
  return -1;
}

const char *tarn_log_level_name(int level) {
  return level >= 0 && level < 4 ? level_names[level] : "unknown";
}

void tarn_log_set_level(int level) { atomic_store(&log_level, level); }
int tarn_log_get_level(void) { return atomic_load(&log_level); }
void tarn_log_set_stream(FILE *f) { log_stream = f; }

/* A bounded output cursor: writes what fits, always NUL-terminates. */
typedef struct out {
  char *p;
  size_t len, cap;
} out;

static void put(out *o, const char *s, size_t n) {
  size_t room = o->cap - 1 - o->len;
  if (n > room)
    n = room;
  memcpy(o->p + o->len, s, n);
  o->len += n;
  o->p[o->len] = '\0';
}

static void putc_(out *o, char c) { put(o, &c, 1); }

static int needs_quotes(const char *s, size_t n) {
  size_t i;
  if (n == 0)
    return 1;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
      return 1;
  }
  return 0;
}

/* Writes s as a logfmt value: bare when safe, else in quotes with \" \\ \n \t \xNN. */
static void put_value(out *o, const char *s, size_t n) {
  size_t i;
  char esc[8];
  if (!needs_quotes(s, n)) {
    put(o, s, n);
    return;
  }
  putc_(o, '"');
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    switch (c) {
    case '"': put(o, "\\\"", 2); break;
    case '\\': put(o, "\\\\", 2); break;
    case '\n': put(o, "\\n", 2); break;
    case '\r': put(o, "\\r", 2); break;
    case '\t': put(o, "\\t", 2); break;
    default:
      if (c < 0x20 || c == 0x7f) {
        snprintf(esc, sizeof(esc), "\\x%02x", c);
        put(o, esc, 4);
      } else {
        putc_(o, (char)c);
      }
    }
  }
  putc_(o, '"');
}

static void format_fields(out *o, const char *f, va_list ap) {
  char spec[64], tmp[128]; /* spec: up to 31 characters of format plus a '*' width */
  while (*f) {
    const char *start;
    size_t sl;
    int star = -1, has_star = 0, prec = -1, width = 0, has_width = 0, n;
    enum { L_NONE, L_L, L_LL, L_Z } lenmod = L_NONE;
    if (*f != '%') {
      const char *q = strchr(f, '%');
      size_t run = q ? (size_t)(q - f) : strlen(f);
      put(o, f, run);
      f += run;
      continue;
    }
    start = f++;
    if (*f == '%') {
      putc_(o, '%');
      f++;
      continue;
    }
    while (*f && strchr("-+ #0", *f))
      f++;
    if (*f == '*') { /* width from the arguments, which come before the precision's */
      width = va_arg(ap, int);
      has_width = 1;
      f++;
    }
    while (*f >= '0' && *f <= '9')
      f++;
    if (*f == '.') {
      f++;
      prec = 0; /* "%.s" is precision 0 */
      if (*f == '*') {
        has_star = 1;
        f++;
      }
      while (*f >= '0' && *f <= '9') {
        if (prec < 1000000)
          prec = prec * 10 + (*f - '0');
        f++;
      }
    }
    if (*f == 'l') {
      lenmod = L_L;
      f++;
      if (*f == 'l') {
        lenmod = L_LL;
        f++;
      }
    } else if (*f == 'z') {
      lenmod = L_Z;
      f++;
    }
    if (*f == '\0')
      break;
    sl = (size_t)(f - start) + 1;
    if (sl >= 32) { /* absurd spec: print it literally */
      put(o, start, sl);
      f++;
      continue;
    }
    memcpy(spec, start, sl);
    spec[sl] = '\0';
    if (has_width) { /* write the width into the spec: "%*d" -> "%5d" */
      char *w = strchr(spec, '*');
      char rest[32];
      snprintf(rest, sizeof(rest), "%s", w + 1);
      snprintf(w, sizeof(spec) - (size_t)(w - spec), "%d%s", width, rest);
      sl = strlen(spec);
    }
    if (has_star)
      star = va_arg(ap, int);
    switch (*f) {
    case 's': {
      const char *s = va_arg(ap, const char *);
      size_t len;
      if (has_star)
        prec = star; /* negative: as if no precision */
      if (s == NULL)
        s = "(null)";
      /* With a precision the bytes need not be NUL-terminated (a slice of a request
       * buffer), so never look past them. */
      len = prec >= 0 ? strnlen(s, (size_t)prec) : strlen(s);
      put_value(o, s, len);
      break;
    }
    case 'd':
    case 'i':
    case 'u':
    case 'x':
    case 'X':
    case 'o':
      if (lenmod == L_LL)
        n = has_star ? snprintf(tmp, sizeof(tmp), spec, star, va_arg(ap, long long))
                     : snprintf(tmp, sizeof(tmp), spec, va_arg(ap, long long));
      else if (lenmod == L_L)
        n = has_star ? snprintf(tmp, sizeof(tmp), spec, star, va_arg(ap, long))
                     : snprintf(tmp, sizeof(tmp), spec, va_arg(ap, long));
      else if (lenmod == L_Z)
        n = has_star ? snprintf(tmp, sizeof(tmp), spec, star, va_arg(ap, size_t))
                     : snprintf(tmp, sizeof(tmp), spec, va_arg(ap, size_t));
      else
        n = has_star ? snprintf(tmp, sizeof(tmp), spec, star, va_arg(ap, int))
                     : snprintf(tmp, sizeof(tmp), spec, va_arg(ap, int));
      if (n > 0)
        put(o, tmp, strlen(tmp));
      break;
    case 'f':
    case 'g':
    case 'e':
    case 'F':
    case 'G':
    case 'E':
      n = has_star ? snprintf(tmp, sizeof(tmp), spec, star, va_arg(ap, double))
                   : snprintf(tmp, sizeof(tmp), spec, va_arg(ap, double));
      if (n > 0)
        put(o, tmp, strlen(tmp));
      break;
    case 'c':
      tmp[0] = (char)va_arg(ap, int);
      put_value(o, tmp, 1);
      break;
    case 'p':
      snprintf(tmp, sizeof(tmp), "%p", va_arg(ap, void *));
      put(o, tmp, strlen(tmp));
      break;
    default: /* unknown conversion: print the spec as text, consume nothing */
      put(o, spec, sl);
      break;
    }
    f++;
  }
}

size_t tarn_log_format_fields(char *dst, size_t dstlen, const char *fields, va_list ap) {
  out o = {dst, 0, dstlen};
  va_list cp;
  if (dstlen == 0)
    return 0;
  dst[0] = '\0';
  if (fields == NULL)
    return 0;
  va_copy(cp, ap);
  format_fields(&o, fields, cp);
  va_end(cp);
  return o.len;
}

void tarn_vlog(int level, const char *msg, const char *fields, va_list ap) {
  char line[4096];
  char ts[TARN_TIME_ISO_MAX];
  out o = {line, 0, sizeof(line) - 1}; /* keep room for the newline */
  FILE *f = log_stream ? log_stream : stderr;
  if (level < atomic_load(&log_level))
    return;
  line[0] = '\0';
  tarn_time_iso8601(tarn_clock_wall_us(), 3, ts, sizeof(ts));
  put(&o, "ts=", 3);
  put(&o, ts, strlen(ts));
  put(&o, " level=", 7);
  put(&o, tarn_log_level_name(level), strlen(tarn_log_level_name(level)));
  put(&o, " msg=", 5);
  put_value(&o, msg, strlen(msg));
  if (fields != NULL && fields[0] != '\0') {
    va_list cp;
    putc_(&o, ' ');
    va_copy(cp, ap);
    format_fields(&o, fields, cp);
    va_end(cp);
  }
  line[o.len++] = '\n';
  pthread_mutex_lock(&log_mu);
  flockfile(f);
  fwrite(line, 1, o.len, f);
  fflush(f);
  funlockfile(f);
  pthread_mutex_unlock(&log_mu);
}

void tarn_log(int level, const char *msg, const char *fields, ...) {
  va_list ap;
  va_start(ap, fields);
  tarn_vlog(level, msg, fields, ap);
  va_end(ap);
}
