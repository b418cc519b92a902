/* auth.c - bearer tokens: kept as SHA-256 hashes in the secrets file, checked in constant time. */
#include "http_int.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "base/secrets.h"

const tarn_cfg_def tarn_http_token_secrets[] = {
    {"token.*", "sha256", TARN_CFG_STRING, NULL, 0, 0, NULL, NULL, NULL, NULL, 1,
     "hex SHA-256 of the bearer token (tarn token new prints it)"},
    {"token.*", "scope", TARN_CFG_ENUM, "read", 0, 0, "read|write|admin", NULL, NULL, NULL, 0,
     "what the token may do: read, write (and read) or admin (everything)"},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, 0, NULL},
};

const char *tarn_http_scope_name(tarn_http_scope s) {
  switch (s) {
  case TARN_HTTP_SCOPE_PUBLIC: return "public";
  case TARN_HTTP_SCOPE_READ: return "read";
  case TARN_HTTP_SCOPE_WRITE: return "write";
  case TARN_HTTP_SCOPE_ADMIN: return "admin";
  case TARN_HTTP_SCOPE_UNSET: break;
  }
  return "unset";
}

int tarn_http_token_hash(const char *token, char sha256_hex[65], tarn_error *err) {
  uint8_t d[TARN_SHA256_LEN];
  int rc = tarn_sha256_digest(token, strlen(token), d, err);
  if (rc != 0)
    return rc;
  tarn_hex(d, sizeof(d), sha256_hex);
  explicit_bzero(d, sizeof(d));
  return 0;
}

int tarn_http_token_new(char token[TARN_HTTP_TOKEN_LEN + 1], char sha256_hex[65], tarn_error *err) {
  uint8_t r[32];
  char hex[65];
  int rc = tarn_random_bytes(r, sizeof(r), err);
  if (rc != 0)
    return rc;
  tarn_hex(r, sizeof(r), hex);
  snprintf(token, TARN_HTTP_TOKEN_LEN + 1, "tarn_%s", hex);
  explicit_bzero(r, sizeof(r));
  explicit_bzero(hex, sizeof(hex));
  return tarn_http_token_hash(token, sha256_hex, err);
}

static int unhex(const char *s, uint8_t out[TARN_SHA256_LEN]) {
  size_t i;
  if (s == NULL || strlen(s) != 2 * TARN_SHA256_LEN)
    return -1;
  for (i = 0; i < 2 * TARN_SHA256_LEN; i++) {
    char c = s[i];
    int v = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (v < 0)
      return -1;
    if (i % 2 == 0)
      out[i / 2] = (uint8_t)(v << 4);
    else
      out[i / 2] |= (uint8_t)v;
  }
  return 0;
}

int tarn__http_auth_load(tarn__http_auth *a, const tarn_secrets *sec, tarn_error *err) {
  const tarn_config *sc;
  const char *section;
  size_t i, n = 0;
  memset(a, 0, sizeof(*a));
  if (sec == NULL)
    return 0;
  sc = tarn_secrets_config(sec);
  while (tarn_config_instance(sc, "token.*", n) != NULL)
    n++;
  if (n == 0)
    return 0;
  a->tokens = tarn_calloc(n, sizeof(*a->tokens));
  if (a->tokens == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory loading tokens");
  for (i = 0; i < n; i++) {
    tarn__http_token *t = &a->tokens[i];
    const char *scope;
    section = tarn_config_instance(sc, "token.*", i);
    if (unhex(tarn_config_str(sc, section, "sha256"), t->hash) != 0) {
      tarn__http_auth_free(a);
      return tarn_error_set(err, TARN_ECONFIG,
                            "secrets file %s: [%s] sha256 must be the 64 hex digits of the "
                            "token's SHA-256 (tarn token new prints a token and its line)",
                            tarn_secrets_path(sec), section);
    }
    scope = tarn_config_str(sc, section, "scope");
    t->scope = strcmp(scope, "admin") == 0   ? TARN_HTTP_SCOPE_ADMIN
               : strcmp(scope, "write") == 0 ? TARN_HTTP_SCOPE_WRITE
                                             : TARN_HTTP_SCOPE_READ;
    snprintf(t->name, sizeof(t->name), "%s", section + strlen("token."));
    a->n = i + 1;
  }
  return 0;
}

void tarn__http_auth_free(tarn__http_auth *a) {
  if (a->tokens != NULL)
    explicit_bzero(a->tokens, a->n * sizeof(*a->tokens));
  tarn_free(a->tokens);
  memset(a, 0, sizeof(*a));
}

/*
 * The token of an "Authorization: Bearer TOKEN" header: hashed, then compared with every
 * configured hash in constant time (all of them, whatever matches), so neither the
 * comparison nor the number of comparisons tells an attacker how close a guess was.
 */
int tarn__http_auth_check(const tarn__http_auth *a, const char *authorization,
                          const tarn__http_token **out) {
  uint8_t d[TARN_SHA256_LEN];
  const tarn__http_token *hit = NULL;
  const char *tok;
  size_t i;
  *out = NULL;
  if (authorization == NULL)
    return TARN__HTTP_AUTH_MISSING;
  while (*authorization == ' ')
    authorization++;
  if (strncasecmp(authorization, "Bearer ", 7) != 0)
    return TARN__HTTP_AUTH_INVALID;
  tok = authorization + 7;
  while (*tok == ' ')
    tok++;
  if (*tok == '\0' || strlen(tok) > 512 || tarn_sha256_digest(tok, strlen(tok), d, NULL) != 0)
    return TARN__HTTP_AUTH_INVALID;
  for (i = 0; i < a->n; i++)
    if (CRYPTO_memcmp(d, a->tokens[i].hash, sizeof(d)) == 0)
      hit = &a->tokens[i];
  explicit_bzero(d, sizeof(d));
  if (hit == NULL)
    return TARN__HTTP_AUTH_INVALID;
  *out = hit;
  return TARN__HTTP_AUTH_OK;
}
