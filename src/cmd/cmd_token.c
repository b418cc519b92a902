/* cmd_token.c - `tarn token new|hash`: bearer tokens for tarn serve and their secrets-file lines. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "base/config.h"
#include "cli.h"
#include "cmds.h"
#include "http/http.h"

static const cli_opt token_opts[] = {
    {"scope", 1, "SCOPE", "read, write (and read) or admin (everything); default read"},
    {NULL, 0, NULL, NULL},
};
enum { OPT_SCOPE };

static void print_token_help(const cli *c) {
  printf("Usage: tarn token new NAME [--scope read|write|admin]\n"
         "       tarn token hash < TOKEN\n\n"
         "API tokens for tarn serve. Clients send one as `Authorization: Bearer TOKEN`; the\n"
         "server keeps only its SHA-256, in a [token.NAME] section of the secrets file\n"
         "(--secrets FILE or [lake] secrets; owned by the user tarn runs as, mode 0600).\n"
         "With at least one token, every route but /healthz and /metrics needs one (see\n"
         "[server] public_healthz, public_metrics) and tarn serve may listen beyond\n"
         "loopback; without tokens it listens on loopback only.\n"
         "  new NAME   make a random token: prints it once, and the section to add\n"
         "  hash       print the sha256 line of a token read from standard input\n"
         "Scopes: read (GET routes), write (uploads, ingest, deletes in extra buckets),\n"
         "admin (journal maintenance, reading tarn's own files through the object API).\n");
  cli_print_options(c, token_opts, stdout);
}

static int name_ok(const char *s) {
  size_t n = 0;
  for (; s[n] != '\0'; n++)
    if (!isalnum((unsigned char)s[n]) && s[n] != '-' && s[n] != '_')
      return 0;
  return n >= 1 && n <= 63;
}

int cmd_token(const tarn_command *self, int argc, char **argv) {
  cli c;
  tarn_error err;
  char token[TARN_HTTP_TOKEN_LEN + 1], hex[65], line[1024];
  const char *scope;
  int rc = cli_parse(&c, self->name, argc, argv, token_opts, tarn_cmd_tables);
  if (rc != TARN_EXIT_OK)
    goto out;
  if (c.help || c.nargs == 0) {
    print_token_help(&c);
    rc = c.help ? TARN_EXIT_OK : TARN_EXIT_USAGE;
    goto out;
  }
  scope = c.opt_values[OPT_SCOPE] ? c.opt_values[OPT_SCOPE] : "read";
  if (strcmp(c.args[0], "new") == 0) {
    if (c.nargs != 2 || !name_ok(c.args[1])) {
      cli_error(self->name, "new needs one NAME of 1 to 63 letters, digits, '-' or '_'");
      rc = TARN_EXIT_USAGE;
      goto out;
    }
    if (strcmp(scope, "read") != 0 && strcmp(scope, "write") != 0 && strcmp(scope, "admin") != 0) {
      cli_error(self->name, "--scope \"%s\": must be read, write or admin", scope);
      rc = TARN_EXIT_USAGE;
      goto out;
    }
    if (tarn_http_token_new(token, hex, &err) != 0) {
      cli_error(self->name, "%s", tarn_error_message(&err));
      rc = TARN_EXIT_FAIL;
      goto out;
    }
    /* line 1: the token; then lines that can be appended to the secrets file as they are */
    printf("%s\n"
           "; the token above is shown once: give it to the client. Add these lines to the\n"
           "; secrets file (--secrets; owned by you, mode 0600), then restart tarn serve:\n"
           "[token.%s]\nsha256 = %s\nscope = %s\n",
           token, c.args[1], hex, scope);
    explicit_bzero(token, sizeof(token));
  } else if (strcmp(c.args[0], "hash") == 0 && c.nargs == 1) {
    size_t n;
    if (fgets(line, sizeof(line), stdin) == NULL) {
      cli_error(self->name, "hash reads the token from standard input; none came");
      rc = TARN_EXIT_USAGE;
      goto out;
    }
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
      line[--n] = '\0';
    if (n == 0 || tarn_http_token_hash(line, hex, &err) != 0) {
      cli_error(self->name, "hash: an empty token");
      rc = TARN_EXIT_USAGE;
      goto out;
    }
    explicit_bzero(line, sizeof(line));
    printf("sha256 = %s\n", hex);
  } else {
    cli_error(self->name, "unknown subcommand \"%s\" (new NAME, hash)", c.args[0]);
    rc = TARN_EXIT_USAGE;
  }
out:
  cli_free(&c);
  return rc;
}
