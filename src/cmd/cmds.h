/* cmds.h - the subcommands of the tarn binary. */
#ifndef TARN_CMD_CMDS_H
#define TARN_CMD_CMDS_H

typedef struct tarn_command {
  const char *name;
  const char *summary; /* one line for `tarn --help` */
  int (*run)(const struct tarn_command *self, int argc, char **argv);
  const char *usage;   /* for not-yet-available commands: the planned usage */
  const char *planned; /* non-NULL: not in this build yet; what will come */
} tarn_command;

int cmd_serve(const tarn_command *self, int argc, char **argv);
/* `tarn sink`: Kafka → default.action_log (cmd_sink.c). */
int cmd_sink(const tarn_command *self, int argc, char **argv);
/* `tarn parquet schema|meta|head|cat FILE` (cmd_parquet.c). */
int cmd_parquet(const tarn_command *self, int argc, char **argv);
/* `tarn table create|list|show|snapshots|scan|append|overwrite|add-column|expire|
 * remove-orphans` (cmd_table.c, cmd_table_rows.c). */
int cmd_table(const tarn_command *self, int argc, char **argv);
/* `tarn ingest FILE.csv --name NAME ...` (cmd_ingest.c). */
int cmd_ingest(const tarn_command *self, int argc, char **argv);
/* `tarn datasets list|show|resync|resync-missing` (cmd_datasets.c). */
int cmd_datasets(const tarn_command *self, int argc, char **argv);
/* `tarn journal append|history|recent|stats|flush|compact`, on the lake or through a
 * running tarn serve (--url) (cmd_journal.c). */
int cmd_journal(const tarn_command *self, int argc, char **argv);
/* `tarn token new NAME [--scope S]`, `tarn token hash` (cmd_token.c). */
int cmd_token(const tarn_command *self, int argc, char **argv);
/* Runs a command this build does not have yet: --help shows the plan, anything else
 * says so and exits TARN_EXIT_UNAVAILABLE. */
int cmd_planned(const tarn_command *self, int argc, char **argv);

#endif
