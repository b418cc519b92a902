/* server_reply.c - the server's responses: headers, JSON bodies and errors, streamed
 * bodies, status codes for tarn codes, and queueing a response on a connection. */
#include "server_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/secrets.h"

/* ---- responses ---- */

void tarn__srv_response_init(tarn_http_response *resp) {
  memset(resp, 0, sizeof(*resp));
  resp->status = 200;
  resp->content_type = "application/json";
  tarn_buf_init(&resp->body, TARN_BUF_UNLIMITED);
}

void tarn__srv_response_free(tarn_http_response *resp) {
  size_t i;
  if (resp->reader.read != NULL && resp->reader.free != NULL)
    resp->reader.free(resp->reader.cls);
  memset(&resp->reader, 0, sizeof(resp->reader));
  tarn_buf_free(&resp->body);
  for (i = 0; i < resp->nheaders; i++) {
    tarn_free(resp->header_names[i]);
    tarn_free(resp->header_values[i]);
  }
  resp->nheaders = 0;
}

int tarn_http_add_header(tarn_http_response *resp, const char *name, const char *value,
                         tarn_error *err) {
  char *n, *v;
  if (resp->nheaders == TARN_HTTP_MAX_HEADERS)
    return tarn_error_set(err, TARN_ETOOBIG, "response header %s: at most %d headers", name,
                          TARN_HTTP_MAX_HEADERS);
  n = tarn_strdup(name);
  v = tarn_strdup(value);
  if (n == NULL || v == NULL) {
    tarn_free(n);
    tarn_free(v);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory adding response header %s", name);
  }
  resp->header_names[resp->nheaders] = n;
  resp->header_values[resp->nheaders] = v;
  resp->nheaders++;
  return 0;
}

int tarn_http_reply_json(tarn_http_response *resp, int status, json_t *json) {
  char *text;
  int rc;
  if (json == NULL)
    return TARN_ENOMEM;
  text = json_dumps(json, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(12));
  json_decref(json);
  if (text == NULL)
    return TARN_ENOMEM;
  tarn_buf_reset(&resp->body);
  rc = tarn_buf_append_str(&resp->body, text, NULL);
  if (rc == 0)
    rc = tarn_buf_append(&resp->body, "\n", 1, NULL);
  tarn_free(text); /* main installs tarn_malloc/tarn_free as jansson's allocator */
  resp->status = status;
  resp->content_type = "application/json";
  return rc;
}

int tarn_http_reply_error(tarn_http_response *resp, int status, const char *code, const char *fmt,
                          ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return tarn_http_reply_json(resp, status,
                              json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

int tarn_http_status_for(int code) {
  switch (code) {
  case TARN_OK: return 200;
  case TARN_ENOTFOUND: return 404;
  case TARN_EEXIST:
  case TARN_ECONFLICT:
  case TARN_ESCHEMA: return 409;
  case TARN_EINVAL:
  case TARN_EBADKEY:
  case TARN_ECORRUPT:
  case TARN_ERANGE: return 400;
  case TARN_ETOOBIG: return 413;
  case TARN_EPERM: return 403;
  case TARN_EBADMETHOD: return 405;
  case TARN_ENOTAVAIL:
  case TARN_EUNSUPPORTED: return 501;
  case TARN_ETIMEDOUT: return 504;
  case TARN_EBUSY: return 503;
  case TARN_ENOSPC: return 507; /* Insufficient Storage (RFC 4918) */
  case TARN_EIO:
  case TARN_ENETWORK:
  case TARN_EFSYNC:
  case TARN_ESHORTWRITE:
  case TARN_EUNKNOWN_OUTCOME: /* the storage behind us may or may not have done it */ return 502;
  default: return 500;
  }
}

/* libmicrohttpd's side of a tarn_http_body_reader. */
typedef struct reader_glue {
  tarn_http_body_reader r;
  tarn_http_server *srv;
  tarn__conn *cs; /* the connection sending it (lives longer than the response) */
} reader_glue;

static ssize_t reader_read(void *cls, uint64_t pos, char *buf, size_t max) {
  reader_glue *g = cls;
  long long n;
  tarn__srv_conn_busy(g->srv, g->cs, 1);
  n = g->r.read(g->r.cls, pos, buf, max);
  tarn__srv_conn_busy(g->srv, g->cs, 0);
  if (n == 0)
    return MHD_CONTENT_READER_END_OF_STREAM;
  if (n < 0 || (size_t)n > max)
    return MHD_CONTENT_READER_END_WITH_ERROR; /* closes the connection */
  tarn__srv_conn_progress(g->srv, g->cs, (uint64_t)n);
  return (ssize_t)n;
}

static void reader_free(void *cls) {
  reader_glue *g = cls;
  if (g->r.free != NULL)
    g->r.free(g->r.cls);
  tarn_free(g);
}

/* Block size for streamed bodies: what a reader is asked for at a time. */
#define READER_BLOCK (64 * 1024)

/* Queues `resp` on the connection. Returns MHD_YES/MHD_NO. */
enum MHD_Result tarn__srv_send_response(struct MHD_Connection *conn, req_ctx *ctx,
                                        tarn_http_response *resp) {
  struct MHD_Response *r;
  enum MHD_Result ret;
  tarn__conn *cs = tarn__srv_conn_of(conn);
  size_t i;
  tarn__srv_conn_set_phase(ctx->srv, cs, TARN__CONN_SENDING);
  if (resp->reader.read != NULL) {
    reader_glue *g = tarn_malloc(sizeof(*g));
    if (g == NULL)
      return MHD_NO;
    g->r = resp->reader;
    g->srv = ctx->srv;
    g->cs = cs;
    r = MHD_create_response_from_callback(
        resp->reader.size == TARN_HTTP_SIZE_UNKNOWN ? MHD_SIZE_UNKNOWN : resp->reader.size,
        READER_BLOCK, reader_read, g, reader_free);
    if (r == NULL) {
      tarn_free(g);
      return MHD_NO; /* resp still owns the reader: response_free releases it */
    }
    memset(&resp->reader, 0, sizeof(resp->reader)); /* the response owns it now */
  } else {
    if (resp->status >= 400)
      tarn__srv_scrub_paths(ctx->srv, &resp->body);
    r = MHD_create_response_from_buffer(resp->body.len, resp->body.data ? resp->body.data : "",
                                        MHD_RESPMEM_MUST_COPY);
    tarn__srv_conn_progress(ctx->srv, cs, resp->body.len);
  }
  if (r == NULL)
    return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
  for (i = 0; i < resp->nheaders; i++)
    MHD_add_response_header(r, resp->header_names[i], resp->header_values[i]);
  ctx->status = resp->status;
  ret = MHD_queue_response(conn, (unsigned)resp->status, r);
  MHD_destroy_response(r);
  return ret;
}

/* Answers with a JSON error right away, with one extra header (hname NULL: none). A 503
 * also closes the connection, so a full server gets its thread back. */
enum MHD_Result tarn__srv_send_error(struct MHD_Connection *conn, req_ctx *ctx, int status,
                                     const char *code, const char *hname, const char *hvalue,
                                     const char *fmt, ...) {
  tarn_http_response resp;
  char msg[1024];
  va_list ap;
  enum MHD_Result ret;
  tarn__srv_response_init(&resp);
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (tarn_http_reply_error(&resp, status, code, "%s", msg) != 0) {
    tarn__srv_response_free(&resp);
    return MHD_NO;
  }
  if (hname != NULL)
    tarn_http_add_header(&resp, hname, hvalue, NULL); /* best effort: the error still goes out */
  if (status == 503)
    tarn_http_add_header(&resp, MHD_HTTP_HEADER_CONNECTION, "close", NULL);
  ret = tarn__srv_send_response(conn, ctx, &resp);
  tarn__srv_response_free(&resp);
  return ret;
}
