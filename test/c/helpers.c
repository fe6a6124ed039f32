#include <stdarg.h>
#include <stdlib.h>

#include "test.h"

long t_checks, t_failures, t_tests, t_tests_failed;

void run_test(const char *name, test_fn fn) {
  long before = t_failures;
  fn();
  t_tests++;
  if (t_failures != before) {
    t_tests_failed++;
    fprintf(stderr, "FAIL %s\n", name);
    if (getenv("PS_TEST_FAILFAST")) exit(1);
  } else if (getenv("PS_TEST_VERBOSE"))
    fprintf(stderr, "ok %s\n", name);
}

void log_init(log_t *l) {
  memset(l, 0, sizeof *l);
}

void log_free(log_t *l) {
  free(l->text);
  log_init(l);
}

void log_printf(log_t *l, const char *fmt, ...) {
  va_list ap;
  int n;
  for (;;) {
    size_t room = l->cap - l->len;
    va_start(ap, fmt);
    n = vsnprintf(l->text ? l->text + l->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0) abort();
    if ((size_t)n < room) break;
    l->cap = (l->cap + (size_t)n + 1) * 2;
    l->text = realloc(l->text, l->cap);
    if (!l->text) abort();
  }
  l->len += (size_t)n;
}

static const char *event_name(int32_t type) {
  switch (type) {
#define NAME_(name, value) \
  case value:              \
    return #name;
    PS_EVENTS(NAME_)
#undef NAME_
  }
  return "?";
}

void log_event(log_t *l, const ps_event *ev) {
  uint32_t i;
  log_printf(l, "%s req=%d slot=%u flags=%x type=%u err=%d len=%u [",
             event_name(ev->type), ev->req, ev->slot, ev->flags, ev->body_type,
             ev->error, ev->len);
  for (i = 0; i < ev->len && ev->data; i++) log_printf(l, "%02x", ev->data[i]);
  log_printf(l, "]\n");
}

uint32_t put_frame(uint8_t *out, uint32_t flags, uint32_t type, int32_t req,
                   const void *body, uint32_t len) {
  ps_header_encode(out, flags, type, len, req);
  if (len) memcpy(out + PS_HEADER_SIZE, body, len);
  return PS_HEADER_SIZE + len;
}

uint32_t put_text(uint8_t *out, uint32_t flags, uint32_t type, int32_t req,
                  const char *body) {
  return put_frame(out, flags, type, req, body, (uint32_t)strlen(body));
}

ps_session *new_session_limits(uint32_t mode, uint32_t options,
                               const ps_limits *limits) {
  ps_session *s = NULL;
  if (ps_session_new(&s, mode, options, limits, NULL, 0x5eed) != PS_OK) {
    fprintf(stderr, "ps_session_new failed\n");
    abort();
  }
  return s;
}

ps_session *new_session(uint32_t mode, uint32_t options) {
  return new_session_limits(mode, options, NULL);
}

int poll1(ps_session *s, ps_event *ev) {
  int rv = ps_session_poll(s, ev);
  return rv > 0;
}

int drain(ps_session *s, log_t *log) {
  ps_event ev;
  int n = 0;
  while (ps_session_poll(s, &ev) > 0) {
    if (log) log_event(log, &ev);
    n++;
  }
  return n;
}

int32_t feed(ps_session *s, const uint8_t *in, uint32_t len, uint32_t chunk,
             log_t *log) {
  uint32_t pos = 0;
  int32_t last = 0;
  if (chunk == 0) chunk = len ? len : 1;
  while (pos < len) {
    uint32_t end = pos + chunk < len ? pos + chunk : len;
    /* a chunk is handed over again and again until it is consumed */
    while (pos < end) {
      int32_t n = ps_session_recv(s, in + pos, end - pos);
      if (n < 0) {
        last = n;
        drain(s, log);
        return last;
      }
      pos += (uint32_t)n;
      drain(s, log);
    }
  }
  return last;
}

uint32_t take(ps_session *s, uint8_t **out) {
  const uint8_t *p;
  int32_t n = ps_session_send(s, &p);
  *out = NULL;
  if (n <= 0) return 0;
  *out = malloc((size_t)n);
  if (!*out) abort();
  memcpy(*out, p, (size_t)n);
  return (uint32_t)n;
}

static void *cm_malloc(size_t size, void *user) {
  counting_mem *c = user;
  void *p;
  c->allocations++;
  if (c->fail_at && c->allocations == c->fail_at) {
    c->failures++;
    return NULL;
  }
  p = malloc(size);
  if (p) c->outstanding++;
  return p;
}

static void cm_free(void *ptr, void *user) {
  counting_mem *c = user;
  if (ptr) c->outstanding--;
  free(ptr);
}

static void *cm_realloc(void *ptr, size_t size, void *user) {
  counting_mem *c = user;
  c->allocations++;
  if (c->fail_at && c->allocations == c->fail_at) {
    c->failures++;
    return NULL;
  }
  return realloc(ptr, size);
}

ps_mem counting_mem_hooks(counting_mem *c) {
  ps_mem m;
  m.malloc = cm_malloc;
  m.free = cm_free;
  m.realloc = cm_realloc;
  m.user = c;
  return m;
}
