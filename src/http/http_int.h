/* http_int.h - what the http module's files share; not for other modules. */
#ifndef TARN_HTTP_INT_H
#define TARN_HTTP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <microhttpd.h>

#include "http.h"

typedef struct tarn__http_router {
  tarn_http_route *routes;
  const tarn_http_stream_ops **streams; /* per route: NULL, or its streaming callbacks */
  size_t n, cap;
} tarn__http_router;

/* Result of matching a path. */
typedef struct tarn__http_match {
  const tarn_http_route *route;       /* the route for this method and path, or NULL */
  const tarn_http_stream_ops *stream; /* the route's streaming callbacks, or NULL */
  int path_known;                     /* some route has this path (so a miss is 405, not 404) */
  const char *path_pattern;           /* pattern of the first route with this path, or NULL */
  char allow[96];                     /* "GET, HEAD, POST" when path_known */
  const char *param_names[TARN_HTTP_MAX_PARAMS];
  char *param_values[TARN_HTTP_MAX_PARAMS]; /* owned: tarn__http_match_free */
  size_t nparams;
} tarn__http_match;

#define TARN__HTTP_MAX_OWNED 16

/* ---- tokens (auth.c) ---- */

typedef struct tarn__http_token {
  char name[64];    /* the NAME of [token.NAME] */
  uint8_t hash[32]; /* SHA-256 of the token */
  tarn_http_scope scope;
} tarn__http_token;

typedef struct tarn__http_auth {
  tarn__http_token *tokens;
  size_t n; /* 0: no tokens, authentication off (loopback only) */
} tarn__http_auth;

enum { TARN__HTTP_AUTH_OK, TARN__HTTP_AUTH_MISSING, TARN__HTTP_AUTH_INVALID };

/* Reads the [token.NAME] sections of sec (may be NULL). */
int tarn__http_auth_load(tarn__http_auth *a, const struct tarn_secrets *sec, tarn_error *err);
void tarn__http_auth_free(tarn__http_auth *a);
/* Checks an Authorization header value (may be NULL): TARN__HTTP_AUTH_* and, on OK, the
 * token matched. */
int tarn__http_auth_check(const tarn__http_auth *a, const char *authorization,
                          const tarn__http_token **out);

/* ---- multipart/form-data (multipart.c) ---- */

#define TARN__MP_HEADER_MAX 8192 /* bytes of one part's header block */
#define TARN__MP_NAME_MAX 255    /* field and file names are cut to this */
#define TARN__MP_MAX_PARTS 64

/* What the parser hands on; each returns 0, or a tarn_code that stops the parse. */
typedef struct tarn__mp_ops {
  /* A part starts: its field name, file name (NULL when none) and Content-Type (NULL). */
  int (*begin)(void *ud, const char *name, const char *filename, const char *content_type);
  int (*data)(void *ud, const char *p, size_t n); /* the next bytes of its content */
  int (*end)(void *ud);                           /* its content is complete */
} tarn__mp_ops;

typedef struct tarn__mp {
  const tarn__mp_ops *ops;
  void *ud;
  int state, code, in_part;
  const char *why; /* static text: why the parse failed */
  char delim[80];  /* "\r\n--" BOUNDARY */
  size_t dlen;
  char hold[80]; /* bytes that may begin a delimiter, carried to the next feed */
  size_t nhold;
  char hdr[TARN__MP_HEADER_MAX + 1];
  size_t nhdr;
  unsigned parts;
  char work[64 * 1024];
} tarn__mp;

/* The boundary parameter of a multipart Content-Type (1 to 70 printable characters) into
 * out; -1 when absent or invalid. */
int tarn__mp_boundary(const char *content_type, char *out, size_t n);
/* Starts a parse (mp is large: embed it in a heap object). TARN_EINVAL for a bad boundary. */
int tarn__mp_init(tarn__mp *mp, const char *boundary, const tarn__mp_ops *ops, void *ud);
/* Feeds the next bytes of the body; 0, or the code of the first failure (sticky): a
 * malformed body (or headers over the cap) is TARN_EINVAL; tarn__mp_error says why. */
int tarn__mp_feed(tarn__mp *mp, const void *data, size_t n);
/* The body is over: TARN_EINVAL unless the closing boundary came. */
int tarn__mp_finish(tarn__mp *mp);
const char *tarn__mp_error(const tarn__mp *mp);

/* ---- connections (server.c): deadlines, rates, limits ---- */

/* Where a connection is in its current request. */
typedef enum tarn__conn_phase {
  TARN__CONN_IDLE,    /* open, waiting for a request line */
  TARN__CONN_HEAD,    /* request line seen, headers not complete */
  TARN__CONN_BODY,    /* receiving the request body */
  TARN__CONN_HANDLER, /* the handler runs (no deadline: it is the server's work) */
  TARN__CONN_SENDING, /* streaming a response body */
} tarn__conn_phase;

typedef struct tarn__conn {
  struct tarn__conn *prev, *next;
  int fd;
  char ip[48];
  tarn__conn_phase phase;
  uint64_t phase_ns;     /* when the phase began */
  uint64_t window_ns;    /* start of the current rate window */
  uint64_t window_bytes; /* bytes moved in it */
  unsigned requests;     /* requests begun on this connection */
  int overflow;          /* accepted past a limit: requests get 503 (but /healthz) */
  int nul_in_uri;        /* the current request's raw URI holds %00 */
  int busy;              /* the server is working for it (a handler's chunk or read
                               callback): its rate window does not run meanwhile */
  int killed;            /* shut down by the watchdog; why in `why` */
  const char *why;
} tarn__conn;

struct tarn_http_server {
  tarn_http_options opts;
  char *listen;
  char *tls_cert, *tls_key; /* PEM contents, NUL-terminated (key wiped on destroy) */
  char address[300];
  int loopback; /* the bound address is a loopback address */
  tarn__http_router router;
  tarn__http_auth auth;
  struct MHD_Daemon *mhd;
  int listen_fd;
  atomic_uint inflight;
  /* connections: list, counts and the watchdog that enforces deadlines */
  pthread_mutex_t conn_mu;
  pthread_cond_t conn_cond;
  tarn__conn *conns;
  unsigned nconns;
  pthread_t watchdog;
  int watchdog_on, stopping;
  tarn_metric *m_requests, *m_duration, *m_inflight, *m_body_rejected;
  tarn_metric *m_auth_failed, *m_conn_refused, *m_conn_closed, *m_conns;
  struct {
    char *path, *label;
  } hidden[8]; /* paths error bodies never show (tarn_http_server_hide_path) */
  size_t nhidden;
  struct {
    void *p;
    void (*fn)(void *);
  } owned[TARN__HTTP_MAX_OWNED]; /* handler contexts freed with the server */
  size_t nowned;
};

/* Hands `p` to the server, which calls fn(p) when it is destroyed (after the last
 * request). For handler contexts. TARN_ETOOBIG in err when full (caller still owns p). */
int tarn__http_server_own(tarn_http_server *srv, void *p, void (*fn)(void *), tarn_error *err);

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
