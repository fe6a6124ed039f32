/* Every allocation of a whole exchange made to fail in turn: each failure is
   a clean error (never a crash), and nothing leaks. */
#include <stdlib.h>

#include "pair.h"
#include "test.h"

static void echo(peer *p, const ps_event *ev) {
  int32_t rv = 0;
  if (ev->type == PS_EV_REQUEST)
    rv = ps_respond(p->s, ev->slot, 0, ev->body_type, ev->data, ev->len);
  else if (ev->type == PS_EV_STREAM_DATA)
    rv = ps_stream_write(p->s, ev->slot, ev->body_type, ev->data, ev->len);
  else if (ev->type == PS_EV_STREAM_END)
    rv = ps_stream_end(p->s, ev->slot, ev->body_type, ev->data, ev->len);
  else if (ev->type == PS_EV_ERROR)
    p->fatal = ev->error;
  if (rv < 0 && !p->fatal) p->fatal = rv;
}

/* The client side only watches for errors. */
static void sink(peer *p, const ps_event *ev) {
  if (ev->type == PS_EV_ERROR) p->fatal = ev->error;
}

/* Returns 1 when the exchange ran with no failure injected. */
static int exchange(counting_mem *cm, long fail_at, int *saw_nomem) {
  ps_mem mem = counting_mem_hooks(cm);
  peer a, b;
  uint32_t slots[40], slot;
  int i, j, ok = 1;
  int32_t rv;
  cm->allocations = 0;
  cm->fail_at = fail_at;
  cm->failures = 0;
  rv = peer_init_mem(&a, PS_MODE_WIRE, sink, 0, &mem);
  if (rv != PS_OK) {
    *saw_nomem = rv == PS_ERR_NOMEM;
    peer_free(&a);
    return 0;
  }
  rv = peer_init_mem(&b, PS_MODE_WIRE, echo, 0, &mem);
  if (rv != PS_OK) {
    *saw_nomem = rv == PS_ERR_NOMEM;
    peer_free(&a);
    peer_free(&b);
    return 0;
  }
  for (i = 0; i < 40; i++) {
    rv = ps_stream_open(a.s, &slots[i]);
    if (rv < 0) {
      ok = 0;
      if (rv == PS_ERR_NOMEM) *saw_nomem = 1;
      break;
    }
    rv = ps_request(a.s, PS_TYPE_STRING, (const uint8_t *)"req", 3, &slot);
    if (rv < 0) {
      ok = 0;
      if (rv == PS_ERR_NOMEM) *saw_nomem = 1;
      break;
    }
  }
  for (j = 0; ok && j < 3; j++)
    for (i = 0; i < 40; i++) {
      /* a body larger than the first buffer, so buffers grow */
      static uint8_t body[3000];
      rv = ps_stream_write(a.s, slots[i], PS_TYPE_BINARY, body, sizeof body);
      if (rv < 0) {
        ok = 0;
        if (rv == PS_ERR_NOMEM) *saw_nomem = 1;
        break;
      }
      if (i % 7 == 0) pump(&a, &b, 1000);
    }
  for (i = 0; ok && i < 40; i++) {
    rv = ps_stream_end(a.s, slots[i], PS_TYPE_JSON, PS_TRUE_JSON,
                       PS_TRUE_JSON_LEN);
    if (rv < 0) {
      ok = 0;
      if (rv == PS_ERR_NOMEM) *saw_nomem = 1;
      break;
    }
  }
  pump(&a, &b, 1000);
  if (a.fatal == PS_ERR_NOMEM || b.fatal == PS_ERR_NOMEM) *saw_nomem = 1;
  if (a.fatal || b.fatal) ok = 0;
  peer_free(&a);
  peer_free(&b);
  return ok && cm->failures == 0;
}

static void every_allocation_fails_once(void) {
  counting_mem cm = {0};
  long n, total;
  int saw;
  /* count the allocations of a clean run */
  saw = 0;
  CHECK(exchange(&cm, 0, &saw));
  CHECK_INT(cm.outstanding, 0);
  total = cm.allocations;
  CHECK(total > 10);
  for (n = 1; n <= total; n++) {
    saw = 0;
    exchange(&cm, n, &saw);
    CHECK_INT(cm.outstanding, 0);
    /* a failure injected is reported as out of memory somewhere */
    if (cm.failures) CHECK(saw);
  }
  fprintf(stderr, "  failmalloc: %ld allocations each failed once\n", total);
}

void suite_failmalloc(void) {
  RUN(every_allocation_fails_once);
}
