/*
 * fuzz_session.c: libFuzzer target. The input is a program: its first byte
 * picks the mode, the options and tight or default limits; every following
 * byte is an operation on session A (hand it wire bytes or a packet from
 * the input, in any chunking; a local command on a slot it knows; close,
 * destroy, the end of the transport), with its operands taken from the
 * input. What A sends goes to session B, an echo server, whose answers go
 * back to A, so both arbitrary and well-formed traffic reach the decoder.
 *
 * Checked after every step: polling terminates, every slot an event names
 * is one the host was given and not yet released, nothing follows CLOSED
 * but silence, memory stays within what the limits allow.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined c/ *.c test/c/fuzz_session.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../c/ps.h"
#include "../../c/ps_json.h"

#define MAX_KNOWN 64
#define CHECK(c)                \
  do {                          \
    if (!(c)) __builtin_trap(); \
  } while (0)

typedef struct input {
  const uint8_t *p;
  size_t n;
} input;

static uint8_t byte(input *in) {
  uint8_t b;
  if (in->n == 0) return 0;
  b = *in->p++;
  in->n--;
  return b;
}

static uint32_t u32(input *in) {
  uint32_t v = (uint32_t)byte(in) << 24;
  v |= (uint32_t)byte(in) << 16;
  v |= (uint32_t)byte(in) << 8;
  return v | byte(in);
}

/* Takes up to |want| bytes of the input as a body. */
static const uint8_t *bytes(input *in, uint32_t want, uint32_t *got) {
  const uint8_t *p = in->p;
  if (want > in->n) want = (uint32_t)in->n;
  in->p += want;
  in->n -= want;
  *got = want;
  return p;
}

/* The host's view: which slots it holds, and of what. */
typedef struct host {
  ps_session *s;
  uint32_t mode;
  uint32_t requests_in[MAX_KNOWN], nreq_in;
  uint32_t streams[MAX_KNOWN], nstreams;
  uint32_t requests_out, streams_out;
  int closed;
  uint32_t memory_bound;
} host;

static void forget(uint32_t *set, uint32_t *n, uint32_t slot) {
  uint32_t i;
  for (i = 0; i < *n; i++)
    if (set[i] == slot) {
      set[i] = set[--*n];
      return;
    }
}

static int holds(const uint32_t *set, uint32_t n, uint32_t slot) {
  uint32_t i;
  for (i = 0; i < n; i++)
    if (set[i] == slot) return 1;
  return 0;
}

static void remember(uint32_t *set, uint32_t *n, uint32_t slot) {
  if (*n < MAX_KNOWN && !holds(set, *n, slot)) set[(*n)++] = slot;
}

/* Takes one event into the host's view, checking it. |echo| answers the
   way an echo server would. */
static void observe(host *h, const ps_event *ev, int echo) {
  CHECK(!h->closed);
  CHECK(ev->type > PS_EV_NONE && ev->type <= PS_EV_STRAY);
  switch (ev->type) {
    case PS_EV_MESSAGE:
    case PS_EV_STRAY:
    case PS_EV_ERROR:
      CHECK(ev->slot == PS_NO_SLOT);
      break;
    case PS_EV_REQUEST:
      CHECK(ev->slot < PS_MAX_SLOTS);
      if (echo)
        ps_respond(h->s, ev->slot, 0, ev->body_type, ev->data, ev->len);
      else
        remember(h->requests_in, &h->nreq_in, ev->slot);
      break;
    case PS_EV_RESPONSE:
    case PS_EV_REQUEST_ABORTED:
      CHECK(ev->flags & PS_EVF_RELEASED);
      CHECK(h->requests_out > 0);
      h->requests_out--;
      break;
    case PS_EV_STREAM_DATA:
    case PS_EV_STREAM_END:
    case PS_EV_STREAM_ABORTED:
      CHECK(ev->slot < PS_MAX_SLOTS);
      if (ev->flags & PS_EVF_OPENED)
        remember(h->streams, &h->nstreams, ev->slot);
      if (echo && ev->type == PS_EV_STREAM_DATA)
        ps_stream_write(h->s, ev->slot, ev->body_type, ev->data, ev->len);
      if (echo && ev->type == PS_EV_STREAM_END)
        ps_stream_end(h->s, ev->slot, ev->body_type, ev->data, ev->len);
      if (ev->flags & PS_EVF_RELEASED)
        forget(h->streams, &h->nstreams, ev->slot);
      break;
    case PS_EV_CLOSED:
      h->closed = 1;
      CHECK(ps_session_state(h->s) & PS_STATE_CLOSED);
      CHECK(ps_session_count(h->s, 0) == 0 && ps_session_count(h->s, 1) == 0 &&
            ps_session_count(h->s, 2) == 0 && ps_session_count(h->s, 3) == 0);
      h->nreq_in = 0;
      h->nstreams = 0;
      break;
    default:
      break;
  }
  if (ev->data) CHECK(ev->len <= 1u << 24);
}

static void drain(host *h, int echo) {
  ps_event ev;
  int guard = 0;
  while (ps_session_poll(h->s, &ev) > 0) {
    observe(h, &ev, echo);
    CHECK(++guard < 1 << 22);
  }
  if (h->closed) CHECK(ps_session_poll(h->s, &ev) == 0);
  CHECK(ps_session_memory(h->s) <= h->memory_bound);
}

/* Hands bytes to a wire session the way a transport loop does. */
static void recv_all(host *h, const uint8_t *p, uint32_t n, uint32_t chunk,
                     int echo) {
  uint32_t pos = 0;
  if (chunk == 0) chunk = n ? n : 1;
  while (pos < n) {
    uint32_t end = pos + chunk < n ? pos + chunk : n;
    while (pos < end) {
      int32_t got = ps_session_recv(h->s, p + pos, end - pos);
      if (got < 0) {
        drain(h, echo);
        return;
      }
      CHECK(got > 0 && (uint32_t)got <= end - pos);
      pos += (uint32_t)got;
      drain(h, echo);
    }
  }
}

/* What |h| framed, as a transport takes it: with some chunk sizes only
   the first half, the rest handed back for the next take. */
static int32_t take(host *h, const uint8_t **p, uint32_t chunk) {
  int32_t n = ps_session_send(h->s, p);
  if (n > 1 && chunk % 3 == 0) {
    n /= 2;
    CHECK(ps_session_sent(h->s, (uint32_t)n) == 0);
  }
  return n;
}

/* Moves A's bytes to B and B's answers back, a bounded number of rounds
   (the peers could echo each other forever). */
static void exchange(host *a, host *b, uint32_t chunk) {
  int round;
  for (round = 0; round < 4; round++) {
    const uint8_t *p;
    uint8_t *copy;
    int32_t n = take(a, &p, chunk);
    if (n <= 0) break;
    copy = malloc((size_t)n);
    if (!copy) return;
    memcpy(copy, p, (size_t)n);
    recv_all(b, copy, (uint32_t)n, chunk, 1);
    free(copy);
    n = take(b, &p, chunk);
    if (n <= 0) continue;
    copy = malloc((size_t)n);
    if (!copy) return;
    memcpy(copy, p, (size_t)n);
    recv_all(a, copy, (uint32_t)n, chunk, 0);
    free(copy);
  }
}

static int known_code(int32_t rv) {
  switch (rv) {
#define CASE_(name, value, message) case PS_##name:
    PS_ERRORS(CASE_)
#undef CASE_
    return 1;
  }
  return 0;
}

static uint32_t pick(input *in, const uint32_t *set, uint32_t n) {
  uint8_t b = byte(in);
  if (n == 0 || b == 0xff) return b; /* sometimes a slot we do not hold */
  return set[b % n];
}

/* What the framer fuzzing does with each batch of frames it decodes. */
typedef void (*on_frames)(void *ctx, const ps_frame *frames, uint32_t count);

/* Decodes |data| with a framer of max_frame 256, in chunks of |chunk| and
   batches of |batch|, handing each batch to |fn| (if any). Returns a digest
   of the frames, of the error that ends them, if one does, and of whether a
   frame was left part-way. */
static uint64_t decode_chunks(const uint8_t *data, size_t size, uint32_t chunk,
                              uint32_t batch, on_frames fn, void *ctx) {
  uint64_t h = 1469598103934665603u;
  ps_framer *f;
  ps_frame frames[4];
  uint32_t pos = 0, count, i, j;
  int32_t rv = 0;
  ps_limits lim;
  ps_limits_default(&lim);
  lim.max_frame = 256;
  if (ps_framer_new(&f, &lim, NULL) != PS_OK) abort();
#define MIX(x) (h = (h ^ (uint64_t)(x)) * 1099511628211u)
  while (pos < size && rv >= 0) {
    uint32_t len = size - pos < chunk ? (uint32_t)(size - pos) : chunk;
    uint32_t used = 0;
    while (used < len) {
      rv = ps_framer_recv(f, data + pos + used, len - used, frames, batch,
                          &count);
      if (rv < 0) break; /* the framer stays failed */
      CHECK(count <= batch && (uint32_t)rv <= len - used);
      for (i = 0; i < count; i++) {
        CHECK(frames[i].len <= lim.max_frame && frames[i].type < 3);
        MIX(frames[i].flags);
        MIX(frames[i].type);
        MIX(frames[i].req);
        MIX(frames[i].len);
        for (j = 0; j < frames[i].len; j++) MIX(frames[i].data[j]);
      }
      if (fn) fn(ctx, frames, count);
      used += (uint32_t)rv;
      if (rv == 0 && count == 0) break;
    }
    pos += len;
  }
  MIX(rv < 0 ? rv : 0);
  MIX(ps_framer_midframe(f));
#undef MIX
  ps_framer_del(f);
  return h;
}

/* The frames decoded, framed again: those with an odd request number as a
   header whose body is spliced in after the send. */
#define MAX_BESIDE 64
typedef struct reframer {
  ps_framer *g;
  uint32_t total; /* frames framed again */
  uint32_t nb;    /* of them, bodies beside */
  uint8_t body[MAX_BESIDE][256];
  uint32_t at[MAX_BESIDE], len[MAX_BESIDE];
} reframer;
static reframer rf;

/* One value of a tape from word |*at|, within |end| words, of a body of
   |len| bytes: checks what a host relies on when it reads it. */
static void walk_value(const int32_t *t, uint32_t *at, uint32_t end,
                       uint32_t len, uint32_t depth) {
  uint32_t p = *at, n, i;
  CHECK(p < end && depth <= PS_JSON_DEPTH);
  switch (t[p]) {
    case PS_JT_NULL:
    case PS_JT_TRUE:
    case PS_JT_FALSE:
      *at = p + 1;
      return;
    case PS_JT_INT:
      *at = p + 2;
      return;
    case PS_JT_STR:
      CHECK(t[p + 1] >= 0 && t[p + 1] < PS_JSON_STR_SLOTS);
      CHECK((t[p + 2] | t[p + 3]) != 0);
      CHECK(t[p + 4] >= 0 && t[p + 5] >= 0 && t[p + 5] <= PS_JSON_STR_MAX &&
            (uint32_t)(t[p + 4] + t[p + 5]) <= len);
      *at = p + 6;
      return;
    case PS_JT_NUM:
    case PS_JT_ASCII:
    case PS_JT_UTF8:
    case PS_JT_ESCAPED:
      CHECK(t[p + 1] >= 0 && t[p + 2] >= 0 &&
            (uint32_t)(t[p + 1] + t[p + 2]) <= len);
      *at = p + 3;
      return;
    case PS_JT_ARRAY:
      n = (uint32_t)t[p + 1];
      *at = p + 2;
      for (i = 0; i < n; i++) walk_value(t, at, end, len, depth + 1);
      return;
    case PS_JT_OBJECT:
      n = (uint32_t)t[p + 1];
      CHECK(t[p + 2] >= -1 && t[p + 2] < PS_JSON_SHAPE_SLOTS);
      CHECK(t[p + 2] >= 0 ? (t[p + 3] | t[p + 4]) != 0 : 1);
      *at = p + 5;
      for (i = 0; i < n; i++) {
        p = *at;
        CHECK(t[p] == PS_JT_ASCII || t[p] == PS_JT_UTF8 ||
              t[p] == PS_JT_ESCAPED);
        CHECK((uint32_t)(t[p + 1] + t[p + 2]) <= len);
        *at = p + 3;
        walk_value(t, at, end, len, depth + 1);
      }
      return;
    default:
      CHECK(0);
  }
}

/* The tapes of a batch: each taped frame is JSON and its tape ends where
   the next one starts. */
static void check_tapes(const ps_frame *frames, uint32_t count) {
  static ps_json_cache *cache;
  static int32_t tape[4096];
  int32_t starts[4];
  uint8_t marks[4];
  uint32_t i, total, at = 0;
  if (!cache) cache = ps_json_cache_new();
  CHECK(cache != NULL && count <= 4);
  total = ps_json_tape(cache, frames, count, 256, tape, 4096, starts, marks);
  for (i = 0; i < count; i++) {
    if (marks[i] != 2) {
      CHECK(marks[i] == 0 && starts[i] == -1);
      continue;
    }
    CHECK(frames[i].type == PS_TYPE_JSON && starts[i] == (int32_t)at);
    walk_value(tape, &at, total, frames[i].len, 0);
  }
  CHECK(at == total);
}

static void reframe(void *ctx, const ps_frame *frames, uint32_t count) {
  reframer *r = ctx;
  static uint8_t joined_out[4 * 257 + 2];
  uint8_t joined[4] = {0};
  uint32_t i, jn;
  int32_t put;
  check_tapes(frames, count);
  jn = ps_json_join(frames, count, 256, joined_out, joined);
  CHECK(jn <= sizeof joined_out);
  if (jn) CHECK(joined_out[0] == '[' && joined_out[jn - 1] == ']');
  for (i = 0; i < count; i++)
    if (joined[i]) CHECK(frames[i].type == PS_TYPE_JSON);
  for (i = 0; i < count; i++) {
    if (frames[i].len) CHECK(frames[i].data[frames[i].len - 1] || 1);
    if (frames[i].len == 0 && frames[i].data == NULL) continue;
    if ((frames[i].req & 1) && r->nb < MAX_BESIDE) {
      put = ps_framer_header(r->g, frames[i].flags, frames[i].type,
                             frames[i].req, frames[i].len);
      if (put == PS_OK) {
        r->at[r->nb] = ps_framer_pending(r->g);
        r->len[r->nb] = frames[i].len;
        if (frames[i].len)
          memcpy(r->body[r->nb], frames[i].data, frames[i].len);
        r->nb++;
      }
    } else {
      put = ps_framer_put(r->g, frames[i].flags, frames[i].type, frames[i].req,
                          frames[i].data, frames[i].len);
    }
    CHECK(put == PS_OK || put == PS_ERR_GOODBYE_COLLISION);
    if (put == PS_OK) r->total++;
  }
}

/*
 * The framer on the raw input, in chunks of a size the input picks and
 * batches of 1 to 4: the same frames as byte by byte (where none is ever
 * whole, so none takes the path of whole frames), every frame keeps to the
 * limit, its body is readable, and the frames framed again decode to the same
 * number of frames.
 */
static void fuzz_framer(const uint8_t *data, size_t size) {
  ps_framer *f;
  ps_frame frames[4];
  uint32_t chunk, batch, count, again = 0, i, spliced = 0, from = 0;
  const uint8_t *out;
  uint8_t *wire;
  int32_t rv, n;
  if (size < 2) return;
  /* small chunks for frames split every way, large ones for whole frames
     over the limit */
  chunk = data[0] & 0x80 ? ((uint32_t)data[0] - 0x7f) * 64
                         : (uint32_t)data[0] % 32 + 1;
  batch = (uint32_t)data[1] % 4 + 1;
  rf.total = rf.nb = 0;
  if (ps_framer_new(&rf.g, NULL, NULL) != PS_OK) return;
  CHECK(decode_chunks(data, size, chunk, batch, reframe, &rf) ==
        decode_chunks(data, size, 1, 1, NULL, NULL));
  n = ps_framer_send(rf.g, &out);
  for (i = 0; i < rf.nb; i++) spliced += rf.len[i];
  wire = malloc((size_t)n + spliced + 1);
  if (wire == NULL) abort();
  spliced = 0;
  for (i = 0; i < rf.nb; i++) {
    if (rf.at[i] > from) memcpy(wire + spliced, out + from, rf.at[i] - from);
    spliced += rf.at[i] - from;
    if (rf.len[i]) memcpy(wire + spliced, rf.body[i], rf.len[i]);
    spliced += rf.len[i];
    from = rf.at[i];
  }
  if ((uint32_t)n > from)
    memcpy(wire + spliced, out + from, (uint32_t)n - from);
  n = (int32_t)(spliced + (uint32_t)n - from);
  if (ps_framer_new(&f, NULL, NULL) == PS_OK) {
    uint32_t at = 0;
    while (at < (uint32_t)n) {
      rv = ps_framer_recv(f, wire + at, (uint32_t)n - at, frames, 4, &count);
      CHECK(rv >= 0);
      again += count;
      at += (uint32_t)rv;
      if (rv == 0) break;
    }
    CHECK(again == rf.total);
    CHECK(ps_framer_midframe(f) == 0);
    ps_framer_del(f);
  }
  free(wire);
  ps_framer_del(rf.g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  input in = {data, size};
  fuzz_framer(data, size);
  uint8_t setup = byte(&in);
  ps_limits lim;
  host a, b;
  int steps = 0;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  ps_limits_default(&lim);
  if (setup & 4) { /* tight limits, to reach every limit path */
    lim.max_frame = 64;
    lim.max_requests = 4;
    lim.max_streams = 4;
    lim.max_outbuf = 512;
  }
  a.mode = (setup & 1) ? PS_MODE_PACKET : PS_MODE_WIRE;
  b.mode = PS_MODE_WIRE;
  if (ps_session_new(&a.s, a.mode, (setup & 2) ? PS_OPT_COMPAT : 0, &lim, NULL,
                     0x1234) != PS_OK)
    return 0;
  if (ps_session_new(&b.s, PS_MODE_WIRE, 0, &lim, NULL, 0x4321) != PS_OK) {
    ps_session_del(a.s);
    return 0;
  }
  /* slots and tables (48 bytes each at worst) for every limit, the output
     buffer and one frame being gathered, plus the session itself */
  a.memory_bound = b.memory_bound =
      (uint32_t)(4096 + 96ull * (lim.max_requests + lim.max_streams) * 2 +
                 2ull * lim.max_outbuf + 2ull * (lim.max_frame + 64));
  if (!(setup & 4)) a.memory_bound = b.memory_bound = UINT32_MAX;

  while (in.n > 0 && steps++ < 4096) {
    uint8_t op = byte(&in);
    uint32_t type = byte(&in) % 3, len, slot;
    const uint8_t *body;
    int32_t rv = 0;
    switch (op % 14) {
      case 0: /* raw bytes from the input, in chunks */
        if (a.mode == PS_MODE_WIRE) {
          uint32_t chunk = byte(&in);
          body = bytes(&in, byte(&in) * 4u, &len);
          recv_all(&a, body, len, chunk, 0);
        } else {
          int32_t req = (int32_t)u32(&in);
          uint32_t flags = byte(&in);
          rv = ps_session_recv_packet(a.s, req, flags);
          if (rv >= 0) {
            ps_event ev;
            memset(&ev, 0, sizeof ev);
            ev.type = rv & PS_PACK_TYPE_MASK;
            ev.slot = (uint32_t)rv >> PS_PACK_SLOT_SHIFT;
            ev.flags = flags & (PS_FLAG_STREAM | PS_FLAG_END);
            if (rv & PS_PACK_OPENED) ev.flags |= PS_EVF_OPENED;
            if (rv & PS_PACK_RELEASED) ev.flags |= PS_EVF_RELEASED;
            if (ev.type != PS_EV_NONE) observe(&a, &ev, 0);
          }
        }
        break;
      case 1:
        body = bytes(&in, byte(&in), &len);
        rv = ps_message(a.s, type, body, len);
        break;
      case 2:
        body = bytes(&in, byte(&in), &len);
        rv = ps_request(a.s, type, body, len, &slot);
        if (rv > 0) a.requests_out++;
        break;
      case 3:
        slot = pick(&in, a.requests_in, a.nreq_in);
        body = bytes(&in, byte(&in), &len);
        rv = ps_respond(a.s, slot, byte(&in), type, body, len);
        if (rv == 0) forget(a.requests_in, &a.nreq_in, slot);
        break;
      case 4:
        rv = ps_respond_no_handler(a.s,
                                   slot = pick(&in, a.requests_in, a.nreq_in));
        if (rv == 0) forget(a.requests_in, &a.nreq_in, slot);
        break;
      case 5:
        rv = ps_stream_open(a.s, &slot);
        if (rv > 0) remember(a.streams, &a.nstreams, slot);
        break;
      case 6:
        slot = pick(&in, a.streams, a.nstreams);
        body = bytes(&in, byte(&in), &len);
        rv = ps_stream_write(a.s, slot, type, body, len);
        break;
      case 7:
        slot = pick(&in, a.streams, a.nstreams);
        body = bytes(&in, byte(&in), &len);
        rv = ps_stream_end(a.s, slot, type, body, len);
        if (rv == 1) forget(a.streams, &a.nstreams, slot);
        break;
      case 8:
        slot = pick(&in, a.streams, a.nstreams);
        rv = ps_stream_release(a.s, slot);
        if (rv == 0) forget(a.streams, &a.nstreams, slot);
        break;
      case 9:
        rv = ps_session_close(a.s);
        break;
      case 10:
        rv = ps_session_destroy(a.s, -(int32_t)(byte(&in) % 3) * 400);
        break;
      case 11:
        rv = ps_session_recv_end(a.s, (byte(&in) & 1) ? 0 : PS_ERR_TRANSPORT);
        break;
      case 12: /* a body written in place */
        len = byte(&in);
        body = ps_session_body(a.s, len);
        if (body) {
          uint32_t got;
          const uint8_t *src = bytes(&in, len, &got);
          memcpy((uint8_t *)body, src, got);
          memset((uint8_t *)body + got, 0, len - got);
          slot = pick(&in, a.streams, a.nstreams);
          rv = (byte(&in) & 1) ? ps_stream_write(a.s, slot, type, body, len)
                               : ps_message(a.s, type, body, len);
        }
        break;
      default: /* let the echo server answer */
        if (a.mode == PS_MODE_WIRE) exchange(&a, &b, byte(&in));
        break;
    }
    CHECK(rv >= 0 || known_code(rv));
    drain(&a, 0);
    drain(&b, 1);
  }
  ps_session_del(a.s);
  ps_session_del(b.s);
  return 0;
}
