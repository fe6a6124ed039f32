/* Runs every suite of the C tests and prints the count CI reads. */
#include <stdlib.h>

#include "test.h"

void suite_codec(void);
void suite_framer(void);
void suite_json(void);
void suite_table(void);
void suite_session(void);
void suite_pair(void);
void suite_failmalloc(void);

int main(void) {
  suite_codec();
  suite_framer();
  suite_json();
  suite_table();
  suite_session();
  suite_pair();
  suite_failmalloc();
  printf("c tests: %ld tests (%ld checks), %ld passed, %ld failed\n", t_tests,
         t_checks, t_tests - t_tests_failed, t_tests_failed);
  return t_failures == 0 ? 0 : 1;
}
