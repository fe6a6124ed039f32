/*
 * test.h: the little test harness of the C tests. Counts every assertion,
 * reports each failure with its place, and never stops at the first one.
 */
#ifndef PS_TEST_H
#define PS_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../c/ps.h"

extern long t_checks, t_failures, t_tests, t_tests_failed;

#define CHECK(cond)                                                            \
  do {                                                                         \
    t_checks++;                                                                \
    if (!(cond)) {                                                             \
      t_failures++;                                                            \
      fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

#define CHECK_INT(actual, expected)                                        \
  do {                                                                     \
    long long a_ = (long long)(actual), e_ = (long long)(expected);        \
    t_checks++;                                                            \
    if (a_ != e_) {                                                        \
      t_failures++;                                                        \
      fprintf(stderr, "%s:%d: %s is %lld, expected %s = %lld\n", __FILE__, \
              __LINE__, #actual, a_, #expected, e_);                       \
    }                                                                      \
  } while (0)

#define CHECK_STR(actual, expected)                                   \
  do {                                                                \
    const char *a_ = (actual), *e_ = (expected);                      \
    t_checks++;                                                       \
    if (strcmp(a_, e_) != 0) {                                        \
      t_failures++;                                                   \
      fprintf(stderr, "%s:%d: %s is\n  \"%s\"\nexpected\n  \"%s\"\n", \
              __FILE__, __LINE__, #actual, a_, e_);                   \
    }                                                                 \
  } while (0)

#define CHECK_MEM(actual, expected, n) \
  CHECK(memcmp((actual), (expected), (n)) == 0)

typedef void (*test_fn)(void);
void run_test(const char *name, test_fn fn);
#define RUN(fn) run_test(#fn, fn)

/* ---- helpers shared by the suites (helpers.c) ---- */

/* A growable text log of events, to compare runs with. */
typedef struct log_t {
  char *text;
  size_t len, cap;
} log_t;
void log_init(log_t *l);
void log_free(log_t *l);
void log_printf(log_t *l, const char *fmt, ...);
/* Appends one event, with its body, on a line. */
void log_event(log_t *l, const ps_event *ev);

/* Writes one frame (header + body) to |out|; returns its size. */
uint32_t put_frame(uint8_t *out, uint32_t flags, uint32_t type, int32_t req,
                   const void *body, uint32_t len);
/* The same with a NUL-terminated body. */
uint32_t put_text(uint8_t *out, uint32_t flags, uint32_t type, int32_t req,
                  const char *body);

/* Creates a session with default limits and a fixed seed; aborts the test
   run if that fails (it cannot, without an allocator that fails). */
ps_session *new_session(uint32_t mode, uint32_t options);
ps_session *new_session_limits(uint32_t mode, uint32_t options,
                               const ps_limits *limits);

/* Feeds |len| bytes to wire session |s| in chunks of |chunk| bytes (0: all at
   once), polling after every call and logging every event. Returns the last
   negative code from ps_session_recv, or 0. */
int32_t feed(ps_session *s, const uint8_t *in, uint32_t len, uint32_t chunk,
             log_t *log);
/* Polls |s| until empty, logging; returns the number of events. */
int drain(ps_session *s, log_t *log);
/* Polls exactly one event into |ev|; returns 0 if there was none. */
int poll1(ps_session *s, ps_event *ev);

/* Takes every pending byte of |s| into a copy owned by the caller. */
uint32_t take(ps_session *s, uint8_t **out);

/* A counting allocator whose Nth allocation can be made to fail. */
typedef struct counting_mem {
  long allocations; /* allocations so far */
  long fail_at;     /* fail this allocation (1-based), 0 never */
  long failures;    /* failures injected */
  long outstanding; /* blocks not freed */
} counting_mem;
ps_mem counting_mem_hooks(counting_mem *c);

#endif
