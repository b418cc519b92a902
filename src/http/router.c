/* router.c - route patterns with {param} and {rest...} segments, and method matching. */
#include "http_int.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

static int valid_pattern(const char *p) {
  const char *s;
  if (p == NULL || p[0] != '/')
    return 0;
  for (s = p; *s; s++) {
    if (*s == '{') {
      const char *close = strchr(s, '}');
      if (close == NULL || close == s + 1 || s[-1] != '/')
        return 0;
      if (close[1] != '\0' && close[1] != '/')
        return 0;
      s = close;
    }
  }
  return 1;
}

int tarn__http_router_add_stream(tarn__http_router *r, const tarn_http_route *route,
                                 const tarn_http_stream_ops *stream, tarn_error *err) {
  int has_fn = stream == NULL
                   ? route->fn != NULL
                   : stream->begin != NULL && stream->chunk != NULL && stream->end != NULL;
  if (route->method == NULL || !has_fn || !valid_pattern(route->pattern))
    return tarn_error_set(err, TARN_EINVAL, "bad route %s %s", route->method ? route->method : "?",
                          route->pattern ? route->pattern : "?");
  if (r->n == r->cap) {
    size_t ncap = r->cap ? r->cap * 2 : 16;
    tarn_http_route *nr = tarn_reallocarray(r->routes, ncap, sizeof(*nr));
    const tarn_http_stream_ops **ns;
    if (nr == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory adding route %s", route->pattern);
    r->routes = nr;
    ns = tarn_reallocarray(r->streams, ncap, sizeof(*ns));
    if (ns == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory adding route %s", route->pattern);
    r->streams = ns;
    r->cap = ncap;
  }
  r->routes[r->n] = *route;
  r->streams[r->n] = stream;
  r->n++;
  return 0;
}

int tarn__http_router_add(tarn__http_router *r, const tarn_http_route *route, tarn_error *err) {
  return tarn__http_router_add_stream(r, route, NULL, err);
}

void tarn__http_router_free(tarn__http_router *r) {
  tarn_free(r->routes);
  tarn_free(r->streams);
  r->routes = NULL;
  r->streams = NULL;
  r->n = r->cap = 0;
}

void tarn__http_match_free(tarn__http_match *m) {
  size_t i;
  for (i = 0; i < m->nparams; i++)
    tarn_free(m->param_values[i]);
  m->nparams = 0;
}

/*
 * Matches `path` against `pattern`. On a match with capture, records parameters into m
 * (replacing earlier ones). Returns 1 on match, 0 on no match, -1 out of memory.
 */
static int match_one(const char *pattern, const char *path, tarn__http_match *m, int capture) {
  const char *p = pattern, *u = path;
  while (*p && *u) {
    if (*p == '{') {
      const char *close = strchr(p, '}');
      size_t namelen = (size_t)(close - p - 1);
      int rest = namelen > 3 && strncmp(close - 3, "...", 3) == 0;
      const char *end = rest ? u + strlen(u) : strchr(u, '/');
      if (end == NULL)
        end = u + strlen(u);
      if (end == u)
        return 0; /* empty segment */
      if (capture) {
        if (m->nparams == TARN_HTTP_MAX_PARAMS)
          return 0;
        m->param_names[m->nparams] = p + 1; /* name runs to '}' or "...}"; see param() */
        m->param_values[m->nparams] = tarn_strndup(u, (size_t)(end - u));
        if (m->param_values[m->nparams] == NULL)
          return -1;
        m->nparams++;
      }
      p = close + 1;
      u = end;
      continue;
    }
    if (*p != *u)
      return 0;
    p++;
    u++;
  }
  return *p == '\0' && *u == '\0';
}

static void allow_add(tarn__http_match *m, const char *method) {
  size_t len = strlen(m->allow);
  if (strstr(m->allow, method) != NULL)
    return;
  snprintf(m->allow + len, sizeof(m->allow) - len, "%s%s", len ? ", " : "", method);
}

int tarn__http_router_match(const tarn__http_router *r, const char *method, const char *path,
                            tarn__http_match *m) {
  size_t i;
  int is_head = strcmp(method, "HEAD") == 0;
  memset(m, 0, sizeof(*m));
  for (i = 0; i < r->n; i++) {
    const tarn_http_route *rt = &r->routes[i];
    int same_method =
        strcmp(rt->method, method) == 0 || (is_head && strcmp(rt->method, "GET") == 0);
    int rc = match_one(rt->pattern, path, m, 0);
    if (rc != 1)
      continue;
    m->path_known = 1;
    if (m->path_pattern == NULL)
      m->path_pattern = rt->pattern;
    allow_add(m, rt->method);
    if (strcmp(rt->method, "GET") == 0)
      allow_add(m, "HEAD");
    if (same_method && m->route == NULL) {
      if (match_one(rt->pattern, path, m, 1) < 0) {
        tarn__http_match_free(m);
        return TARN_ENOMEM;
      }
      m->route = rt;
      m->stream = r->streams != NULL ? r->streams[i] : NULL;
    }
  }
  return 0;
}
