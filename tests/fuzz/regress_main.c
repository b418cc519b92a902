/* regress_main.c - runs a libFuzzer target over every file of its corpus directories, so
 * the corpus and past crash inputs stay regression tests in every (non-fuzzing) build. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf;
  long n;
  if (f == NULL)
    return -1;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = malloc(n > 0 ? (size_t)n : 1);
  if (buf == NULL || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
    free(buf);
    fclose(f);
    return -1;
  }
  fclose(f);
  LLVMFuzzerTestOneInput(buf, (size_t)n);
  free(buf);
  return 0;
}

/* Runs every regular file under dir (recursively). Returns the count, -1 on error. */
static long run_dir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  long count = 0;
  if (d == NULL)
    return -1;
  while ((e = readdir(d)) != NULL) {
    char path[4096];
    struct stat sb;
    if (e->d_name[0] == '.')
      continue;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    if (stat(path, &sb) != 0)
      continue;
    if (S_ISDIR(sb.st_mode)) {
      long sub = run_dir(path);
      if (sub > 0)
        count += sub;
    } else if (S_ISREG(sb.st_mode) && run_file(path) == 0) {
      count++;
    }
  }
  closedir(d);
  return count;
}

int main(int argc, char **argv) {
  long total = 0;
  int i;
  for (i = 1; i < argc; i++) {
    long n = run_dir(argv[i]);
    if (n < 0) {
      fprintf(stderr, "cannot read corpus directory %s\n", argv[i]);
      return 1;
    }
    total += n;
  }
  printf("%ld inputs ran without a crash\n", total);
  return total > 0 ? 0 : 1;
}
