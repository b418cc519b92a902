/* kafka_mock.c - librdkafka's mock Kafka cluster in a process of its own, so that the cluster
 * outlives the sinks an end-to-end test kills, with fault injection through a control FIFO.
 *
 * Usage: kafka_mock [--brokers N] [--topic NAME:PARTITIONS]... [--control FIFO]
 *                   [--exit-with-parent]
 *
 * Once the cluster listens it prints exactly one line on stdout,
 * `bootstrap=HOST:PORT[,HOST:PORT...]`, and then runs until SIGTERM, SIGINT or the control
 * command `quit` (exit 0 after destroying the cluster). Bad arguments exit 2, a cluster
 * that cannot start exits 1.
 *
 * Control commands, one per line, are read from FIFO (created when missing); each one's
 * result is one line on stderr, `control: ok COMMAND` or `control: error COMMAND: WHY`:
 *   topic NAME PARTITIONS [REPLICATION]   create a topic (replication 1 by default);
 *                                         partition p's leader is broker p % N + 1
 *   down BROKERID | up BROKERID           close a broker's connections and refuse new
 *                                         ones / accept them again (-1 or `all`: every
 *                                         broker); partition leaders do not move
 *   rtt BROKERID MS                       delay every response of a broker by MS
 *   leader TOPIC PARTITION BROKERID       move a partition's leader
 *   error APIKEY ERRCODE [COUNT]          the next COUNT (1) requests of that type, to any
 *                                         broker, fail with ERRCODE
 *   clear APIKEY                          forget the errors still queued for that type
 *                                         (by `error`; not those of `broker-error`)
 *   broker-error BROKERID APIKEY ERRCODE [COUNT [RTT_MS]]
 *                                         the same on one broker only, each response
 *                                         delayed by RTT_MS (ERRCODE 0: delay only);
 *                                         served before the cluster-wide errors
 *   coordinator group|transaction KEY BROKERID
 *   quit
 * APIKEY is a number or a name (Produce, Fetch, ListOffsets, Metadata, OffsetCommit,
 * OffsetFetch, FindCoordinator, JoinGroup, Heartbeat, LeaveGroup, SyncGroup, ...); ERRCODE
 * is a number or a librdkafka error name, with or without RD_KAFKA_RESP_ERR_
 * (NOT_LEADER_FOR_PARTITION, _TRANSPORT, ...). Empty lines and lines starting with # are
 * ignored.
 *
 * What the mock does not do like Kafka (librdkafka 2.0.2):
 * - A partition keeps at most 5 MiB of record batches, or 100,000 batches; past that the
 *   oldest batches are dropped and the log start offset moves up. 1,000,000 events of
 *   about 550 bytes are 550 MB: a consumer must keep up with the producer, or the topic
 *   needs about 110 partitions to hold them all. The cap counts stored (compressed)
 *   bytes: one partition kept about 9,000 kafka_produce events uncompressed, 40,000 with
 *   -X compression.codec=lz4 and 77,000 with zstd (so 1,000,000 fit in 16 partitions).
 * - `error` errors are cluster-wide per request type: the next COUNT requests of that type
 *   to any broker fail, whichever client sends them (metadata refreshes and other clients
 *   included). For Produce the error applies to every partition of the request.
 *   _TRANSPORT closes the connection instead.
 * - `down` closes the broker's connections and refuses new ones, but leaders stay where
 *   they are: that broker's partitions are unavailable until `up` (or `leader`).
 * - A topic a client asks for that does not exist is created with 4 partitions. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_BROKERS 16
#define MAX_PARTITIONS 10000
#define MAX_LINE 4096 /* a longer control line is refused, not cut */

typedef struct mock {
  rd_kafka_t *rk; /* bookkeeping handle the cluster needs; it produces nothing */
  rd_kafka_mock_cluster_t *mcluster;
  int nbrokers;
  const char *fifo_path; /* NULL: no control FIFO */
  int fifo_rd;           /* -1 when closed */
  int fifo_keep;         /* our own write end: the reader never sees EOF between writers */
  char line[MAX_LINE];
  size_t line_len;
  int line_too_long; /* skip to the next newline */
  int quit;
} mock;

static const struct {
  const char *name;
  int key;
} api_keys[] = {
    {"Produce", 0},
    {"Fetch", 1},
    {"ListOffsets", 2},
    {"Metadata", 3},
    {"OffsetCommit", 8},
    {"OffsetFetch", 9},
    {"FindCoordinator", 10},
    {"JoinGroup", 11},
    {"Heartbeat", 12},
    {"LeaveGroup", 13},
    {"SyncGroup", 14},
    {"DescribeGroups", 15},
    {"ListGroups", 16},
    {"ApiVersions", 18},
    {"CreateTopics", 19},
    {"DeleteRecords", 21},
    {"InitProducerId", 22},
    {"OffsetForLeaderEpoch", 23},
    {"AddPartitionsToTxn", 24},
    {"AddOffsetsToTxn", 25},
    {"EndTxn", 26},
    {"TxnOffsetCommit", 28},
};

static void usage(FILE *f) {
  fprintf(f,
          "usage: kafka_mock [--brokers N] [--topic NAME:PARTITIONS]... [--control FIFO]\n"
          "                  [--exit-with-parent]\n"
          "  --brokers N          brokers in the cluster, 1..%d (default 1)\n"
          "  --topic NAME:PARTS   create a topic with PARTS partitions, replication 1;\n"
          "                       partition p's leader is broker p %% N + 1\n"
          "  --control FIFO       read control commands from FIFO (created when missing)\n"
          "  --exit-with-parent   stop (as on SIGTERM) when the parent process exits\n"
          "Prints `bootstrap=HOST:PORT,...` on stdout when ready; runs until SIGTERM,\n"
          "SIGINT or the control command `quit`. Commands: see the top of kafka_mock.c.\n",
          MAX_BROKERS);
}

/* Parses all of s as a decimal integer in [lo, hi]; 0 on success, -1 otherwise. */
static int parse_long(const char *s, long lo, long hi, long *out) {
  char *end;
  long v;
  if (s == NULL || *s == '\0')
    return -1;
  errno = 0;
  v = strtol(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi)
    return -1;
  *out = v;
  return 0;
}

/* One result line on stderr, written with one write(2) so that librdkafka's own log lines
 * on stderr cannot split it. */
static void reply(const char *cmd, const char *fmt, ...) {
  char buf[MAX_LINE + 512];
  int n;
  if (fmt == NULL) {
    n = snprintf(buf, sizeof(buf), "control: ok %s\n", cmd);
  } else {
    va_list ap;
    int m = snprintf(buf, sizeof(buf), "control: error %s: ", cmd);
    if (m < 0 || (size_t)m >= sizeof(buf) - 2)
      m = 0;
    va_start(ap, fmt);
    n = vsnprintf(buf + m, sizeof(buf) - (size_t)m - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
      n = 0;
    n += m;
    if ((size_t)n > sizeof(buf) - 2)
      n = (int)sizeof(buf) - 2;
    buf[n++] = '\n';
    buf[n] = '\0';
  }
  if (n < 0)
    return;
  if ((size_t)n >= sizeof(buf))
    n = (int)sizeof(buf) - 1;
  if (write(STDERR_FILENO, buf, (size_t)n) < 0) {
    /* nobody reads our stderr any more: nothing to do */
  }
}

static int parse_api_key(const char *s, int16_t *out) {
  long v;
  size_t i;
  if (parse_long(s, 0, INT16_MAX, &v) == 0) {
    *out = (int16_t)v;
    return 0;
  }
  for (i = 0; i < sizeof(api_keys) / sizeof(api_keys[0]); i++) {
    if (strcasecmp(s, api_keys[i].name) == 0) {
      *out = (int16_t)api_keys[i].key;
      return 0;
    }
  }
  return -1;
}

/* A number, or a name from librdkafka's own table (with or without RD_KAFKA_RESP_ERR_). */
static int parse_err_code(const char *s, rd_kafka_resp_err_t *out) {
  const struct rd_kafka_err_desc *descs;
  size_t n, i;
  long v;
  if (parse_long(s, INT_MIN, INT_MAX, &v) == 0) {
    *out = (rd_kafka_resp_err_t)v;
    return 0;
  }
  if (strncasecmp(s, "RD_KAFKA_RESP_ERR_", 18) == 0)
    s += 18;
  rd_kafka_get_err_descs(&descs, &n);
  for (i = 0; i < n; i++) {
    if (descs[i].name != NULL && strcasecmp(s, descs[i].name) == 0) {
      *out = descs[i].code;
      return 0;
    }
  }
  return -1;
}

/* A broker id of this cluster, or -1 / `all` for every broker when all_ok. */
static int parse_broker(const mock *m, const char *s, int all_ok, int32_t *out) {
  long v;
  if (all_ok && s != NULL && strcmp(s, "all") == 0) {
    *out = -1;
    return 0;
  }
  if (parse_long(s, all_ok ? -1 : 1, m->nbrokers, &v) != 0 || v == 0)
    return -1;
  *out = (int32_t)v;
  return 0;
}

/*
 * Call before every rd_kafka_mock_* call. librdkafka 2.0.2's mock thread can lose the
 * wake-up of an operation enqueued right after the previous one was answered (it serves
 * the queue, then drains the wake-up pipe, swallowing the new byte), and that operation
 * then waits for the thread's 1 s poll timeout: back-to-back calls took 1 s each about
 * one time in four here. A pause of 1 ms lets the thread go back to poll first (200 calls:
 * no stall).
 */
static void settle(void) {
  struct timespec ts = {0, 1000000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* Creates a topic and puts partition p's leader on broker p % nbrokers + 1: the mock picks
 * leaders at random, and a test that takes broker 2 down must know which partitions stall.
 * 0 or a librdkafka error. */
static rd_kafka_resp_err_t topic_create(mock *m, const char *name, int parts, int repl) {
  rd_kafka_resp_err_t err;
  int p;
  settle();
  err = rd_kafka_mock_topic_create(m->mcluster, name, parts, repl);
  for (p = 0; !err && p < parts; p++) {
    settle();
    err = rd_kafka_mock_partition_set_leader(m->mcluster, name, p, p % m->nbrokers + 1);
  }
  return err;
}

/* Runs one control line; the reply names the command as it was written. */
static void run_command(mock *m, char *line) {
  char orig[MAX_LINE];
  char *argv[8];
  int argc = 0;
  char *save = NULL, *tok;
  rd_kafka_resp_err_t err;
  long v;
  int32_t broker;

  while (*line == ' ' || *line == '\t')
    line++;
  if (*line == '\0' || *line == '#')
    return;
  snprintf(orig, sizeof(orig), "%s", line);
  for (tok = strtok_r(line, " \t", &save); tok != NULL; tok = strtok_r(NULL, " \t", &save)) {
    if (argc == (int)(sizeof(argv) / sizeof(argv[0]))) {
      reply(orig, "too many words");
      return;
    }
    argv[argc++] = tok;
  }

  if (strcmp(argv[0], "quit") == 0 && argc == 1) {
    reply(orig, NULL);
    m->quit = 1;
  } else if (strcmp(argv[0], "topic") == 0 && (argc == 3 || argc == 4)) {
    long parts, repl = 1;
    if (parse_long(argv[2], 1, MAX_PARTITIONS, &parts) != 0) {
      reply(orig, "PARTITIONS must be 1..%d", MAX_PARTITIONS);
      return;
    }
    if (argc == 4 && parse_long(argv[3], 1, m->nbrokers, &repl) != 0) {
      reply(orig, "REPLICATION must be 1..%d", m->nbrokers);
      return;
    }
    err = topic_create(m, argv[1], (int)parts, (int)repl);
    if (err)
      reply(orig, "%s", rd_kafka_err2str(err));
    else
      reply(orig, NULL);
  } else if ((strcmp(argv[0], "down") == 0 || strcmp(argv[0], "up") == 0) && argc == 2) {
    if (parse_broker(m, argv[1], 1, &broker) != 0) {
      reply(orig, "no broker %s (brokers are 1..%d, or -1/all)", argv[1], m->nbrokers);
      return;
    }
    settle();
    err = argv[0][0] == 'd' ? rd_kafka_mock_broker_set_down(m->mcluster, broker)
                            : rd_kafka_mock_broker_set_up(m->mcluster, broker);
    if (err)
      reply(orig, "%s", rd_kafka_err2str(err));
    else
      reply(orig, NULL);
  } else if (strcmp(argv[0], "rtt") == 0 && argc == 3) {
    if (parse_broker(m, argv[1], 1, &broker) != 0) {
      reply(orig, "no broker %s (brokers are 1..%d, or -1/all)", argv[1], m->nbrokers);
      return;
    }
    if (parse_long(argv[2], 0, 600000, &v) != 0) {
      reply(orig, "MS must be 0..600000");
      return;
    }
    settle();
    err = rd_kafka_mock_broker_set_rtt(m->mcluster, broker, (int)v);
    if (err)
      reply(orig, "%s", rd_kafka_err2str(err));
    else
      reply(orig, NULL);
  } else if (strcmp(argv[0], "leader") == 0 && argc == 4) {
    long part;
    if (parse_long(argv[2], 0, MAX_PARTITIONS - 1, &part) != 0) {
      reply(orig, "bad PARTITION %s", argv[2]);
      return;
    }
    if (parse_broker(m, argv[3], 0, &broker) != 0) {
      reply(orig, "no broker %s (brokers are 1..%d)", argv[3], m->nbrokers);
      return;
    }
    settle();
    err = rd_kafka_mock_partition_set_leader(m->mcluster, argv[1], (int32_t)part, broker);
    if (err)
      reply(orig, "%s", rd_kafka_err2str(err));
    else
      reply(orig, NULL);
  } else if (strcmp(argv[0], "error") == 0 && (argc == 3 || argc == 4)) {
    int16_t api;
    rd_kafka_resp_err_t code;
    long cnt = 1;
    rd_kafka_resp_err_t *codes;
    long i;
    if (parse_api_key(argv[1], &api) != 0) {
      reply(orig, "unknown ApiKey %s (a number, or Produce, Fetch, Metadata, ...)", argv[1]);
      return;
    }
    if (parse_err_code(argv[2], &code) != 0) {
      reply(orig, "unknown error code %s (a number or a name such as NOT_LEADER_FOR_PARTITION)",
            argv[2]);
      return;
    }
    if (argc == 4 && parse_long(argv[3], 1, 100000, &cnt) != 0) {
      reply(orig, "COUNT must be 1..100000");
      return;
    }
    codes = malloc((size_t)cnt * sizeof(*codes));
    if (codes == NULL) {
      reply(orig, "out of memory");
      return;
    }
    for (i = 0; i < cnt; i++)
      codes[i] = code;
    settle(); /* (this one takes the cluster's lock instead; harmless) */
    rd_kafka_mock_push_request_errors_array(m->mcluster, api, (size_t)cnt, codes);
    free(codes);
    reply(orig, NULL);
  } else if (strcmp(argv[0], "broker-error") == 0 && argc >= 4 && argc <= 6) {
    int16_t api;
    rd_kafka_resp_err_t code;
    long cnt = 1, rtt = 0, i;
    if (parse_broker(m, argv[1], 0, &broker) != 0) {
      reply(orig, "no broker %s (brokers are 1..%d)", argv[1], m->nbrokers);
      return;
    }
    if (parse_api_key(argv[2], &api) != 0) {
      reply(orig, "unknown ApiKey %s (a number, or Produce, Fetch, Metadata, ...)", argv[2]);
      return;
    }
    if (parse_err_code(argv[3], &code) != 0) {
      reply(orig, "unknown error code %s (a number or a name such as NOT_LEADER_FOR_PARTITION)",
            argv[3]);
      return;
    }
    if (argc >= 5 && parse_long(argv[4], 1, 100000, &cnt) != 0) {
      reply(orig, "COUNT must be 1..100000");
      return;
    }
    if (argc == 6 && parse_long(argv[5], 0, 600000, &rtt) != 0) {
      reply(orig, "RTT_MS must be 0..600000");
      return;
    }
    settle();
    for (i = 0, err = RD_KAFKA_RESP_ERR_NO_ERROR; i < cnt && !err; i++)
      err =
          rd_kafka_mock_broker_push_request_error_rtts(m->mcluster, broker, api, 1, code, (int)rtt);
    if (err)
      reply(orig, "%s", rd_kafka_err2str(err));
    else
      reply(orig, NULL);
  } else if (strcmp(argv[0], "clear") == 0 && argc == 2) {
    int16_t api;
    if (parse_api_key(argv[1], &api) != 0) {
      reply(orig, "unknown ApiKey %s", argv[1]);
      return;
    }
    settle();
    rd_kafka_mock_clear_request_errors(m->mcluster, api);
    reply(orig, NULL);
  } else if (strcmp(argv[0], "coordinator") == 0 && argc == 4) {
    if (strcmp(argv[1], "group") != 0 && strcmp(argv[1], "transaction") != 0) {
      reply(orig, "the key type is group or transaction");
      return;
    }
    /* The mock accepts any id here (an absent coordinator is a test case); we do not. */
    if (parse_broker(m, argv[3], 0, &broker) != 0) {
      reply(orig, "no broker %s (brokers are 1..%d)", argv[3], m->nbrokers);
      return;
    }
    settle();
    err = rd_kafka_mock_coordinator_set(m->mcluster, argv[1], argv[2], broker);
    if (err)
      reply(orig, "%s", rd_kafka_err2str(err));
    else
      reply(orig, NULL);
  } else {
    reply(orig, "unknown command or wrong number of words (topic, down, up, rtt, leader, "
                "error, broker-error, clear, coordinator, quit)");
  }
}

/* Opens the FIFO's read end without blocking, and a write end of our own: with a writer
 * always present a reader sees no EOF (nor POLLHUP) when a test's writer closes, and data
 * a next writer leaves cannot be dropped while we reopen. 0 or -1 (message printed). */
static int fifo_open(mock *m) {
  m->fifo_rd = open(m->fifo_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (m->fifo_rd < 0) {
    fprintf(stderr, "kafka_mock: cannot open control FIFO %s: %s\n", m->fifo_path, strerror(errno));
    return -1;
  }
  if (m->fifo_keep < 0) {
    m->fifo_keep = open(m->fifo_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (m->fifo_keep < 0) {
      fprintf(stderr, "kafka_mock: cannot open control FIFO %s for writing: %s\n", m->fifo_path,
              strerror(errno));
      return -1;
    }
  }
  return 0;
}

/* Reads what the FIFO holds and runs every complete line. -1 on a read error. */
static int fifo_drain(mock *m) {
  char chunk[4096];
  for (;;) {
    ssize_t n = read(m->fifo_rd, chunk, sizeof(chunk));
    ssize_t i;
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
      fprintf(stderr, "kafka_mock: reading control FIFO %s: %s\n", m->fifo_path, strerror(errno));
      return -1;
    }
    if (n == 0) { /* EOF: cannot happen while fifo_keep is open, but reopen if it does */
      int old = m->fifo_rd;
      if (fifo_open(m) != 0) /* the new read end first: the pipe stays alive */
        return -1;
      close(old);
      return 0;
    }
    for (i = 0; i < n && !m->quit; i++) {
      char c = chunk[i];
      if (c == '\n') {
        if (m->line_too_long) {
          m->line[m->line_len] = '\0';
          reply("(line too long)", "a control line holds at most %d bytes", MAX_LINE - 1);
        } else {
          if (m->line_len > 0 && m->line[m->line_len - 1] == '\r')
            m->line_len--;
          m->line[m->line_len] = '\0';
          run_command(m, m->line);
        }
        m->line_len = 0;
        m->line_too_long = 0;
      } else if (m->line_len + 1 < sizeof(m->line)) {
        m->line[m->line_len++] = c;
      } else {
        m->line_too_long = 1;
      }
    }
    if (m->quit)
      return 0;
  }
}

int main(int argc, char **argv) {
  mock m;
  char errstr[512];
  rd_kafka_conf_t *conf = NULL;
  sigset_t sigs;
  int sfd = -1, rc = 1, i, exit_with_parent = 0, created_fifo = 0;
  const char *topics[64];
  int ntopics = 0;
  pid_t parent = getppid();

  memset(&m, 0, sizeof(m));
  m.nbrokers = 1;
  m.fifo_rd = -1;
  m.fifo_keep = -1;

  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    long v;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "--exit-with-parent") == 0) {
      exit_with_parent = 1;
    } else if (i + 1 >= argc) {
      fprintf(stderr, "kafka_mock: %s needs a value (or is unknown)\n", a);
      usage(stderr);
      return 2;
    } else if (strcmp(a, "--brokers") == 0) {
      if (parse_long(argv[++i], 1, MAX_BROKERS, &v) != 0) {
        fprintf(stderr, "kafka_mock: --brokers must be 1..%d, not %s\n", MAX_BROKERS, argv[i]);
        return 2;
      }
      m.nbrokers = (int)v;
    } else if (strcmp(a, "--topic") == 0) {
      const char *colon = strrchr(argv[++i], ':');
      if (colon == NULL || colon == argv[i] || parse_long(colon + 1, 1, MAX_PARTITIONS, &v)) {
        fprintf(stderr, "kafka_mock: --topic wants NAME:PARTITIONS (1..%d), not %s\n",
                MAX_PARTITIONS, argv[i]);
        return 2;
      }
      if (ntopics == (int)(sizeof(topics) / sizeof(topics[0]))) {
        fprintf(stderr, "kafka_mock: at most %d --topic\n", ntopics);
        return 2;
      }
      topics[ntopics++] = argv[i];
    } else if (strcmp(a, "--control") == 0) {
      m.fifo_path = argv[++i];
    } else {
      fprintf(stderr, "kafka_mock: unknown argument %s\n", a);
      usage(stderr);
      return 2;
    }
  }

  /* Signals arrive through a signalfd polled with the FIFO: blocked in every thread, the
   * librdkafka threads created below included (they inherit this mask). */
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGHUP);
  if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) != 0) {
    fprintf(stderr, "kafka_mock: cannot block signals\n");
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
  if (sfd < 0) {
    fprintf(stderr, "kafka_mock: signalfd: %s\n", strerror(errno));
    return 1;
  }
  if (exit_with_parent) {
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) {
      fprintf(stderr, "kafka_mock: prctl(PR_SET_PDEATHSIG): %s\n", strerror(errno));
      goto out;
    }
    if (getppid() != parent) { /* the parent died before prctl took effect */
      fprintf(stderr, "kafka_mock: parent exited before start-up\n");
      goto out;
    }
  }

  if (m.fifo_path != NULL) {
    struct stat st;
    if (stat(m.fifo_path, &st) != 0) {
      if (errno != ENOENT || mkfifo(m.fifo_path, 0600) != 0) {
        fprintf(stderr, "kafka_mock: cannot create control FIFO %s: %s\n", m.fifo_path,
                strerror(errno));
        goto out;
      }
      created_fifo = 1;
    } else if (!S_ISFIFO(st.st_mode)) {
      fprintf(stderr, "kafka_mock: %s exists and is not a FIFO\n", m.fifo_path);
      goto out;
    }
    if (fifo_open(&m) != 0)
      goto out;
  }

  conf = rd_kafka_conf_new();
  /* The handle only keeps the cluster's books: it connects nowhere. Level 4 (warning) drops
   * the notice that it has no bootstrap.servers; the mock's errors still show. */
  if (rd_kafka_conf_set(conf, "client.id", "kafka_mock", errstr, sizeof(errstr)) !=
          RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "kafka_mock: %s\n", errstr);
    goto out;
  }
  m.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (m.rk == NULL) {
    fprintf(stderr, "kafka_mock: rd_kafka_new: %s\n", errstr);
    goto out;
  }
  conf = NULL; /* owned by m.rk now */
  m.mcluster = rd_kafka_mock_cluster_new(m.rk, m.nbrokers);
  if (m.mcluster == NULL) {
    fprintf(stderr, "kafka_mock: cannot create a mock cluster of %d brokers\n", m.nbrokers);
    goto out;
  }
  for (i = 0; i < ntopics; i++) {
    char name[512];
    const char *colon = strrchr(topics[i], ':');
    long parts;
    rd_kafka_resp_err_t err;
    snprintf(name, sizeof(name), "%.*s", (int)(colon - topics[i]), topics[i]);
    (void)parse_long(colon + 1, 1, MAX_PARTITIONS, &parts); /* checked above */
    err = topic_create(&m, name, (int)parts, 1);
    if (err) {
      fprintf(stderr, "kafka_mock: cannot create topic %s: %s\n", name, rd_kafka_err2str(err));
      goto out;
    }
  }
  printf("bootstrap=%s\n", rd_kafka_mock_cluster_bootstraps(m.mcluster));
  if (fflush(stdout) != 0) {
    fprintf(stderr, "kafka_mock: cannot write the bootstrap line: %s\n", strerror(errno));
    goto out;
  }

  /* Sleep in poll until a signal or a control line arrives: no timeout, no busy loop. */
  while (!m.quit) {
    struct pollfd pfd[2];
    int nfds = 1, r;
    pfd[0].fd = sfd;
    pfd[0].events = POLLIN;
    if (m.fifo_rd >= 0) {
      pfd[1].fd = m.fifo_rd;
      pfd[1].events = POLLIN;
      nfds = 2;
    }
    r = poll(pfd, (nfds_t)nfds, -1);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      fprintf(stderr, "kafka_mock: poll: %s\n", strerror(errno));
      goto out;
    }
    if (pfd[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        fprintf(stderr, "kafka_mock: %s, stopping\n", strsignal((int)si.ssi_signo));
      break;
    }
    if (nfds == 2 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      if (fifo_drain(&m) != 0)
        goto out;
    }
  }
  rc = 0;

out:
  if (m.mcluster != NULL)
    rd_kafka_mock_cluster_destroy(m.mcluster);
  if (m.rk != NULL)
    rd_kafka_destroy(m.rk);
  if (conf != NULL)
    rd_kafka_conf_destroy(conf);
  if (m.fifo_rd >= 0)
    close(m.fifo_rd);
  if (m.fifo_keep >= 0)
    close(m.fifo_keep);
  if (created_fifo)
    unlink(m.fifo_path);
  if (sfd >= 0)
    close(sfd);
  return rc;
}
