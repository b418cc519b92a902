/* temp_dir.h - a fresh directory under /tmp per test case, removed after it: the
 * setup/teardown pair for cmocka. Header only. */
#ifndef TARN_TESTS_TEMP_DIR_H
#define TARN_TESTS_TEMP_DIR_H

#include <stdio.h>
#include <stdlib.h>

typedef struct temp_dir {
  char dir[64];
} temp_dir;

/* mkdtemp of "/tmp/<prefix>-XXXXXX" into a new temp_dir at *state. */
static inline int temp_dir_setup(void **state, const char *prefix) {
  temp_dir *t = calloc(1, sizeof(*t));
  if (t == NULL)
    return -1;
  snprintf(t->dir, sizeof(t->dir), "/tmp/%s-XXXXXX", prefix);
  if (mkdtemp(t->dir) == NULL) {
    free(t);
    return -1;
  }
  *state = t;
  return 0;
}

static inline int temp_dir_teardown(void **state) {
  temp_dir *t = *state;
  char cmd[128];
  int rc;
  snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
  rc = system(cmd);
  free(t);
  return rc == 0 ? 0 : -1;
}

#endif
