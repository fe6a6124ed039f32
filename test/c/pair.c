#include "pair.h"

#include <stdlib.h>

#define SEEN_SLOTS 65536

int32_t peer_init_mem(peer *p, uint32_t mode, peer_handler handle,
                      uint32_t options, const ps_mem *mem) {
  memset(p, 0, sizeof *p);
  p->handle = handle;
  p->seen = calloc(SEEN_SLOTS, sizeof *p->seen);
  if (!p->seen) abort();
  return ps_session_new(&p->s, mode, options, NULL, mem, 42);
}

void peer_init(peer *p, uint32_t mode, peer_handler handle, uint32_t options) {
  if (peer_init_mem(p, mode, handle, options, NULL) != PS_OK) abort();
}

void peer_free(peer *p) {
  ps_session_del(p->s);
  free(p->seen);
  free(p->recorded.data);
  memset(p, 0, sizeof *p);
}

static void record(peer *p, const uint8_t *data, uint32_t n) {
  if (p->recorded.len + n > p->recorded.cap) {
    p->recorded.cap = (p->recorded.len + n) * 2;
    p->recorded.data = realloc(p->recorded.data, p->recorded.cap);
    if (!p->recorded.data) abort();
  }
  memcpy(p->recorded.data + p->recorded.len, data, n);
  p->recorded.len += n;
}

/* Hands |n| bytes to |to| in chunks, dispatching each event. */
static void deliver_bytes(peer *to, const uint8_t *in, uint32_t n,
                          uint32_t chunk, log_t *log) {
  uint32_t pos = 0;
  ps_event ev;
  if (chunk == 0) chunk = n ? n : 1;
  while (pos < n) {
    uint32_t end = pos + chunk < n ? pos + chunk : n;
    while (pos < end) {
      int32_t got = ps_session_recv(to->s, in + pos, end - pos);
      if (got < 0) {
        if (!to->fatal) to->fatal = got;
        pos = n;
        end = n;
      } else {
        pos += (uint32_t)got;
      }
      while (ps_session_poll(to->s, &ev) > 0) {
        if (log) log_event(log, &ev);
        if (to->handle) to->handle(to, &ev);
      }
    }
  }
}

static int deliver(peer *from, peer *to, uint32_t chunk) {
  uint8_t *bytes;
  uint32_t n = take(from->s, &bytes);
  if (n == 0) return 0;
  if (from->record) record(from, bytes, n);
  deliver_bytes(to, bytes, n, chunk, NULL);
  free(bytes);
  return 1;
}

/* The host's duty after every command: poll until empty. */
static void service(peer *p) {
  ps_event ev;
  while (ps_session_poll(p->s, &ev) > 0)
    if (p->handle) p->handle(p, &ev);
}

void pump(peer *a, peer *b, uint32_t chunk) {
  int moved;
  do {
    service(a);
    service(b);
    moved = deliver(a, b, chunk);
    moved |= deliver(b, a, chunk);
  } while (moved);
}

void replay(const uint8_t *wire, uint32_t n, uint32_t split, uint32_t chunk,
            log_t *log, peer_handler handle) {
  peer p;
  uint8_t *out;
  uint32_t m, i;
  peer_init(&p, PS_MODE_WIRE, handle, 0);
  if (split) {
    deliver_bytes(&p, wire, split, 0, log);
    deliver_bytes(&p, wire + split, n - split, 0, log);
  } else {
    deliver_bytes(&p, wire, n, chunk, log);
  }
  /* what it sent back, all of it at once: the split must not change it */
  m = take(p.s, &out);
  log_printf(log, "sent %u:", m);
  for (i = 0; i < m; i++) log_printf(log, "%02x", out[i]);
  log_printf(log, "\n");
  free(out);
  peer_free(&p);
}
