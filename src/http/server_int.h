/* server_int.h - what the server's files share: per-request state and the steps each file
 * offers the others. server.c: the request lifecycle (libmicrohttpd callbacks, auth,
 * streaming bodies, handlers); server_conn.c: connections (limits, deadlines, minimum
 * rates, the watchdog); server_reply.c: responses and JSON errors; server_start.c:
 * settings, create, routes, start and stop. */
#ifndef TARN_HTTP_SERVER_INT_H
#define TARN_HTTP_SERVER_INT_H

#include <microhttpd.h>

#include "http_int.h"

/* Per-request state, from the first callback to the completion notice. */
typedef struct req_ctx {
  tarn_http_server *srv;
  uint64_t start_ns;
  tarn__http_match match;
  tarn_http_request req; /* what handlers see; points into this struct */
  size_t cap;
  int too_large;
  int status; /* what we answered */
  tarn_buf body;
  char method[16]; /* the request's method, or "other" for one HTTP does not define */
  int method_other;
  char *path;
  tarn_http_scope scope;  /* granted to the caller */
  const char *token_name; /* the token that authenticated it (the server's string) */
  int answered;           /* authorize() already queued an error */
  /* streaming routes */
  void *sctx;        /* the handler's context between begin and end */
  int stream_open;   /* begin set sctx and end has not run */
  int stream_code;   /* 0, or why delivery stopped */
  uint64_t received; /* body bytes delivered so far */
} req_ctx;

/* ---- server.c ---- */

enum MHD_Result tarn__srv_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                     const char *method, const char *version,
                                     const char *upload_data, size_t *upload_data_size,
                                     void **con_cls);
void tarn__srv_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                            enum MHD_RequestTerminationCode toe);
void tarn__srv_on_mhd_log(void *cls, const char *fmt, va_list ap);

/* ---- server_conn.c ---- */

tarn__conn *tarn__srv_conn_of(struct MHD_Connection *c);
void tarn__srv_conn_set_phase(tarn_http_server *srv, tarn__conn *cs, tarn__conn_phase ph);
void tarn__srv_conn_progress(tarn_http_server *srv, tarn__conn *cs, uint64_t bytes);
void tarn__srv_conn_busy(tarn_http_server *srv, tarn__conn *cs, int on);
void tarn__srv_on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                             enum MHD_ConnectionNotificationCode code);
void *tarn__srv_on_uri(void *cls, const char *uri, struct MHD_Connection *c);
void *tarn__srv_watchdog_main(void *arg);

/* ---- server_reply.c ---- */

void tarn__srv_response_init(tarn_http_response *resp);
void tarn__srv_response_free(tarn_http_response *resp);
enum MHD_Result tarn__srv_send_response(struct MHD_Connection *conn, req_ctx *ctx,
                                        tarn_http_response *resp);
/* Answers with a JSON error right away, with one extra header (hname NULL: none). A 503
 * also closes the connection, so a full server gets its thread back. */
enum MHD_Result tarn__srv_send_error(struct MHD_Connection *conn, req_ctx *ctx, int status,
                                     const char *code, const char *hname, const char *hvalue,
                                     const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* ---- server_start.c ---- */

void tarn__srv_scrub_paths(const tarn_http_server *srv, tarn_buf *body);

#endif
