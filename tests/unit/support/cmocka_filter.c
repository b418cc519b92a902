/* cmocka_filter.c - linked into every unit test program: TARN_TEST_FILTER=PATTERN runs only
 * the cmocka cases whose names match PATTERN (cmocka's '*' and '?' wildcards), for a fast
 * inner loop: `TARN_TEST_FILTER='test_put*' build/test_store`. */
#include <stdlib.h>

void cmocka_set_test_filter(const char *pattern); /* cmocka.h, declared here alone */

__attribute__((constructor)) static void tarn_test_filter(void) {
  const char *f = getenv("TARN_TEST_FILTER");
  if (f != NULL && f[0] != '\0')
    cmocka_set_test_filter(f);
}
