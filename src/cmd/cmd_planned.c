/* cmd_planned.c - commands that later work fills in: honest help, non-zero exit. */
#include <stdio.h>

#include "cli.h"
#include "cmds.h"

int cmd_planned(const tarn_command *self, int argc, char **argv) {
  cli c;
  int rc = cli_parse(&c, self->name, argc, argv, NULL, tarn_cmd_tables);
  if (rc == TARN_EXIT_OK && c.help) {
    printf("Usage: %s\n\n%s.\n\nNot available yet: this build of tarn does not include\n%s.\n",
           self->usage, self->summary, self->planned);
    cli_print_options(&c, NULL, stdout);
  } else if (rc == TARN_EXIT_OK) {
    cli_error(self->name,
              "not available yet in tarn %s; see 'tarn %s --help' for what is "
              "planned",
              tarn_cmd_version(), self->name);
    rc = TARN_EXIT_UNAVAILABLE;
  }
  cli_free(&c);
  return rc;
}
