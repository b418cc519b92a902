/* http_int.h - what the http module's files share; not for other modules. */
#ifndef TARN_HTTP_INT_H
#define TARN_HTTP_INT_H

#include <stdatomic.h>

#include <microhttpd.h>

#include "http.h"

typedef struct tarn__http_router {
  tarn_http_route *routes;
  const tarn_http_stream_ops **streams; /* per route: NULL, or its streaming callbacks */
  size_t n, cap;
} tarn__http_router;

/* Result of matching a path. */
typedef struct tarn__http_match {
  const tarn_http_route *route; /* the route for this method and path, or NULL */
  const tarn_http_stream_ops *stream; /* the route's streaming callbacks, or NULL */
  int path_known;               /* some route has this path (so a miss is 405, not 404) */
  const char *path_pattern;     /* pattern of the first route with this path, or NULL */
  char allow[96];               /* "GET, HEAD, POST" when path_known */
  const char *param_names[TARN_HTTP_MAX_PARAMS];
  char *param_values[TARN_HTTP_MAX_PARAMS]; /* owned: tarn__http_match_free */
  size_t nparams;
} tarn__http_match;

#define TARN__HTTP_MAX_OWNED 16

struct tarn_http_server {
  tarn_http_options opts;
  char *listen;
  char address[300];
  tarn__http_router router;
  struct MHD_Daemon *mhd;
  int listen_fd;
  atomic_uint inflight;
  tarn_metric *m_requests, *m_duration, *m_inflight, *m_body_rejected;
  struct {
    void *p;
    void (*fn)(void *);
  } owned[TARN__HTTP_MAX_OWNED]; /* handler contexts freed with the server */
  size_t nowned;
};

/* Hands `p` to the server, which calls fn(p) when it is destroyed (after the last
 * request). For handler contexts. TARN_ETOOBIG when full (caller still owns p). */
int tarn__http_server_own(tarn_http_server *srv, void *p, void (*fn)(void *));

int tarn__http_router_add(tarn__http_router *r, const tarn_http_route *route, tarn_error *err);
/* Same, for a route with a streamed body (stream non-NULL; route->fn may be NULL). */
int tarn__http_router_add_stream(tarn__http_router *r, const tarn_http_route *route,
                                 const tarn_http_stream_ops *stream, tarn_error *err);
void tarn__http_router_free(tarn__http_router *r);
/* Matches method + path. Returns 0, or TARN_ENOMEM. */
int tarn__http_router_match(const tarn__http_router *r, const char *method, const char *path,
                            tarn__http_match *m);
void tarn__http_match_free(tarn__http_match *m);

#endif
