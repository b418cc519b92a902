/* fuzz_router.c - libFuzzer target: "METHOD PATH" (split at the first space) matched
 * against the routes `tarn serve` registers. Besides memory safety, checks what the
 * server relies on: a matched route's method fits, putting the captured parameters back
 * into its pattern gives the path again, each parameter is found by its name, and the
 * route's method is in Allow. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int handler(const tarn_http_request *req, tarn_http_response *resp, void *ud) {
  (void)req;
  (void)resp;
  (void)ud;
  return 0;
}

/* The routes of src/http/ops.c, storage.c and ingest_routes.c (POST /ingest and PUT of an
 * object are streamed there; matching does not depend on that, nor on scopes). */
static const char *const routes[][2] = {
    {"GET", "/healthz"},
    {"GET", "/metrics"},
    {"GET", "/storage/buckets"},
    {"GET", "/storage/buckets/{bucket}/objects"},
    {"GET", "/storage/buckets/{bucket}/objects/{key...}"},
    {"PUT", "/storage/buckets/{bucket}/objects/{key...}"},
    {"DELETE", "/storage/buckets/{bucket}/objects/{key...}"},
    {"GET", "/storage/errors"},
    {"POST", "/storage/errors/flush"},
    {"POST", "/storage/errors/compact"},
    {"GET", "/storage/bucket-health"},
    {"GET", "/catalog/datasets"},
    {"GET", "/catalog/datasets/{name}"},
    {"POST", "/catalog/datasets/{name}/resync"},
    {"POST", "/catalog/resync-missing"},
    {"POST", "/ingest"},
};

static tarn__http_router *router(void) {
  static tarn__http_router r;
  static int ready;
  size_t i;
  tarn_error err;
  if (ready)
    return &r;
  for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
    tarn_http_route rt = {.method = routes[i][0], .pattern = routes[i][1], .fn = handler};
    if (tarn__http_router_add(&r, &rt, &err) != 0)
      abort();
  }
  ready = 1; /* kept for the process: libFuzzer calls the target many times */
  return &r;
}

/* Puts the captured values back into the route's pattern; the result must be the path.
 * Each value is non-empty, and only a {name...} value spans a '/'. */
static void check_params(const tarn__http_match *m, const char *path) {
  const char *p = m->route->pattern, *u = path;
  tarn_http_request req;
  size_t k = 0;
  memset(&req, 0, sizeof(req));
  while (*p != '\0') {
    if (*p == '{') {
      const char *close = strchr(p, '}');
      size_t namelen = (size_t)(close - p - 1), vlen;
      int rest = namelen > 3 && strncmp(close - 3, "...", 3) == 0;
      char name[64];
      if (k >= m->nparams || m->param_names[k] != p + 1)
        abort();
      vlen = strlen(m->param_values[k]);
      if (vlen == 0 || strncmp(u, m->param_values[k], vlen) != 0)
        abort();
      if (!rest && memchr(m->param_values[k], '/', vlen) != NULL)
        abort();
      /* the name as a handler asks for it: "key" for {key...} */
      namelen -= rest ? 3 : 0;
      memcpy(name, p + 1, namelen);
      name[namelen] = '\0';
      req.param_names[k] = m->param_names[k];
      req.param_values[k] = m->param_values[k];
      req.nparams = k + 1;
      if (tarn_http_param(&req, name) != m->param_values[k])
        abort();
      u += vlen;
      p = close + 1;
      k++;
      continue;
    }
    if (*p++ != *u++)
      abort();
  }
  if (*u != '\0' || k != m->nparams)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *sp = memchr(data, ' ', size);
  size_t mlen;
  char *method, *path;
  tarn__http_match m;
  if (sp == NULL)
    return 0;
  /* NUL-terminated copies, as libmicrohttpd hands them over (a NUL ends them early) */
  mlen = (size_t)(sp - data);
  method = malloc(mlen + 1);
  path = malloc(size - mlen);
  if (method == NULL || path == NULL)
    abort();
  memcpy(method, data, mlen);
  method[mlen] = '\0';
  memcpy(path, sp + 1, size - mlen - 1);
  path[size - mlen - 1] = '\0';
  if (tarn__http_router_match(router(), method, path, &m) == 0) {
    if (m.route != NULL) {
      if (!m.path_known || m.path_pattern == NULL)
        abort();
      if (strcmp(m.route->method, method) != 0 &&
          !(strcmp(method, "HEAD") == 0 && strcmp(m.route->method, "GET") == 0))
        abort();
      if (strstr(m.allow, m.route->method) == NULL)
        abort();
      check_params(&m, path);
    } else if (m.nparams != 0) {
      abort(); /* parameters without a route would leak into the next request */
    }
    if (m.path_known != (m.path_pattern != NULL) || (m.path_known && m.allow[0] == '\0'))
      abort();
    tarn__http_match_free(&m);
  }
  free(path);
  free(method);
  return 0;
}
