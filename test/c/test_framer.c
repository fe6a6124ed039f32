/* The framer: packets to bytes and back without protocol state, every
   chunking, batches, the goodbye, errors after good frames, limits. */
#include <stdlib.h>

#include "test.h"

static ps_framer *new_framer(uint32_t max_frame, uint32_t max_outbuf) {
  ps_limits lim;
  ps_framer *f = NULL;
  ps_limits_default(&lim);
  if (max_frame) lim.max_frame = max_frame;
  if (max_outbuf) lim.max_outbuf = max_outbuf;
  if (ps_framer_new(&f, &lim, NULL) != 0) abort();
  return f;
}

/* The bytes of a mixed exchange, framed by the framer itself. */
static uint32_t frame_sample(ps_framer *f, const uint8_t **bytes) {
  static const uint8_t bin[4] = {0xde, 0xad, 0xbe, 0xef};
  uint8_t *place;
  CHECK_INT(ps_framer_put(f, 0, PS_TYPE_STRING, 0, (const uint8_t *)"hi", 2),
            0);
  CHECK_INT(ps_framer_put(f, 0, PS_TYPE_JSON, 7, (const uint8_t *)"[1,2]", 5),
            0);
  CHECK_INT(ps_framer_put(f, PS_FLAG_STREAM, PS_TYPE_BINARY, -3, bin, 4), 0);
  /* a body written in place, as the JS glue does */
  place = ps_framer_body(f, 3);
  CHECK(place != NULL);
  memcpy(place, "abc", 3);
  CHECK_INT(ps_framer_put(f, PS_FLAG_STREAM | PS_FLAG_END, PS_TYPE_STRING, 3,
                          place, 3),
            0);
  /* an empty body is a packet, not the goodbye */
  CHECK_INT(ps_framer_put(f, PS_FLAG_END, PS_TYPE_STRING, -9, NULL, 0), 0);
  CHECK_INT(ps_framer_goodbye(f), 0);
  CHECK_INT(ps_framer_pending(f), 6 * PS_HEADER_SIZE + 2 + 5 + 4 + 3);
  return (uint32_t)ps_framer_send(f, bytes);
}

/* Decodes |n| bytes in chunks of |chunk| (0: at once), |max| frames a call,
   into a text log. */
static void decode_all(const uint8_t *bytes, uint32_t n, uint32_t chunk,
                       uint32_t max, log_t *log) {
  ps_framer *f = new_framer(0, 0);
  ps_frame frames[8];
  uint32_t at = 0;
  while (at < n) {
    uint32_t len = chunk && chunk < n - at ? chunk : n - at, pos = 0;
    while (pos < len) {
      uint32_t count, i;
      int32_t rv =
          ps_framer_recv(f, bytes + at + pos, len - pos, frames, max, &count);
      CHECK(rv >= 0);
      if (rv < 0) break;
      for (i = 0; i < count; i++)
        log_printf(log, "%u/%u/%d:%.*s|", frames[i].flags | frames[i].type,
                   frames[i].len, frames[i].req, (int)frames[i].len,
                   frames[i].data ? (const char *)frames[i].data : "");
      pos += (uint32_t)rv;
      if (rv == 0 && count == 0) break;
    }
    at += len;
  }
  CHECK_INT(ps_framer_midframe(f), 0);
  ps_framer_del(f);
}

static void roundtrip_every_chunking(void) {
  ps_framer *f = new_framer(0, 0);
  const uint8_t *bytes;
  uint32_t n = frame_sample(f, &bytes), chunk, max;
  log_t whole;
  log_init(&whole);
  decode_all(bytes, n, 0, 8, &whole);
  CHECK_STR(whole.text,
            "1/2/0:hi|2/5/7:[1,2]|8/4/-3:\xde\xad\xbe\xef|13/3/3:abc|5/0/-9:|"
            "0/0/0:|");
  for (chunk = 1; chunk <= n; chunk++)
    for (max = 1; max <= 3; max++) {
      log_t l;
      log_init(&l);
      decode_all(bytes, n, chunk, max, &l);
      CHECK_STR(l.text, whole.text);
      log_free(&l);
    }
  log_free(&whole);
  ps_framer_del(f);
}

static void after_goodbye_ignored(void) {
  uint8_t buf[64] = {0};
  uint32_t n = PS_HEADER_SIZE, count;
  ps_frame fr[4];
  ps_framer *f = new_framer(0, 0);
  n += put_text(buf + n, 0, PS_TYPE_STRING, 0, "late");
  CHECK_INT(ps_framer_recv(f, buf, n, fr, 4, &count), n);
  CHECK_INT(count, 1);
  CHECK_INT(fr[0].len, 0);
  CHECK(fr[0].data == NULL);
  CHECK_INT(ps_framer_recv(f, buf, n, fr, 4, &count), n);
  CHECK_INT(count, 0);
  ps_framer_del(f);
}

/* Good frames before a bad header are handed out; the error comes next, and
   stays. */
static void error_after_good_frames(void) {
  uint8_t buf[64];
  uint32_t n = 0, count;
  ps_frame fr[4];
  ps_framer *f = new_framer(16, 0);
  n += put_text(buf + n, 0, PS_TYPE_STRING, 0, "ok");
  n += put_frame(buf + n, 0, 3, 1, "x", 1);
  CHECK_INT(ps_framer_recv(f, buf, n, fr, 4, &count), 11);
  CHECK_INT(count, 1);
  CHECK_INT(ps_framer_recv(f, buf + 11, n - 11, fr, 4, &count),
            PS_ERR_BAD_TYPE);
  CHECK_INT(count, 0);
  CHECK_INT(ps_framer_recv(f, buf, n, fr, 4, &count), PS_ERR_BAD_TYPE);
  ps_framer_del(f);
  /* a header announcing more than max_frame is refused from the header,
     alone and after good frames */
  f = new_framer(16, 0);
  n = put_frame(buf, 0, PS_TYPE_BINARY, 1, NULL, 0);
  buf[1] = 0x7f; /* length 0x7f000000 */
  CHECK_INT(ps_framer_recv(f, buf, n, fr, 4, &count),
            PS_ERR_PEER_FRAME_TOO_LARGE);
  CHECK(ps_framer_memory(f) < 256);
  ps_framer_del(f);
  f = new_framer(16, 0);
  n = put_text(buf, 0, PS_TYPE_STRING, 1, "ok");
  n += put_text(buf + n, 0, PS_TYPE_STRING, 2, "0123456789abcdef"); /* 16 */
  n += put_text(buf + n, 0, PS_TYPE_STRING, 3, "0123456789abcdefg");
  CHECK_INT(ps_framer_recv(f, buf, n, fr, 4, &count), 11 + 25);
  CHECK_INT(count, 2);
  CHECK_INT(fr[1].len, 16);
  CHECK_INT(ps_framer_recv(f, buf + 36, n - 36, fr, 4, &count),
            PS_ERR_PEER_FRAME_TOO_LARGE);
  ps_framer_del(f);
}

static void put_limits(void) {
  static const uint8_t big[64] = {0};
  ps_framer *f = new_framer(32, 100);
  const uint8_t *out;
  CHECK_INT(ps_framer_put(f, 0, 3, 1, big, 1), PS_ERR_INVALID_ARGUMENT);
  CHECK_INT(ps_framer_put(f, 0, 0, 1, NULL, 1), PS_ERR_INVALID_ARGUMENT);
  CHECK_INT(ps_framer_put(f, 0, 0, 1, big, 33), PS_ERR_FRAME_TOO_LARGE);
  CHECK_INT(ps_framer_put(f, 0, PS_TYPE_BINARY, 0, NULL, 0),
            PS_ERR_GOODBYE_COLLISION);
  CHECK_INT(ps_framer_put(f, 0, PS_TYPE_STRING, 0, NULL, 0), 0);
  CHECK_INT(ps_framer_send(f, &out), PS_HEADER_SIZE);
  CHECK(ps_framer_body(f, 33) == NULL);
  CHECK_INT(ps_framer_put(f, 0, 0, 1, big, 32), 0);
  CHECK_INT(ps_framer_put(f, 0, 0, 1, big, 32), 0);
  /* 82 bytes waiting: one more frame would pass 100 */
  CHECK_INT(ps_framer_put(f, 0, 0, 1, big, 32), PS_ERR_OUTBUF_LIMIT);
  CHECK_INT(ps_framer_pending(f), 82);
  CHECK_INT(ps_framer_send(f, &out), 82);
  CHECK_INT(ps_framer_pending(f), 0);
  /* taken bytes make room again; the framer stayed usable */
  CHECK_INT(ps_framer_put(f, 0, 0, 1, big, 32), 0);
  CHECK_INT(ps_framer_send(f, &out), 41);
  ps_framer_del(f);
  CHECK_INT(ps_framer_new(NULL, NULL, NULL), PS_ERR_INVALID_ARGUMENT);
}

/* Byte limits are at most PS_MAX_BYTES, so that no byte count wraps. */
static void byte_limits(void) {
  ps_limits lim;
  ps_framer *f;
  ps_frame fr;
  uint32_t count = 7;
  ps_limits_default(&lim);
  lim.max_frame = UINT32_MAX;
  CHECK_INT(ps_framer_new(&f, &lim, NULL), PS_ERR_INVALID_ARGUMENT);
  lim.max_frame = PS_MAX_BYTES;
  lim.max_outbuf = PS_MAX_BYTES + 1;
  CHECK_INT(ps_framer_new(&f, &lim, NULL), PS_ERR_INVALID_ARGUMENT);
  lim.max_outbuf = PS_MAX_BYTES;
  CHECK_INT(ps_framer_new(&f, &lim, NULL), 0);
  CHECK(ps_framer_body(f, UINT32_MAX - 3) == NULL);
  /* no input at all */
  CHECK_INT(ps_framer_recv(f, NULL, 0, &fr, 1, &count), 0);
  CHECK_INT(count, 0);
  ps_framer_del(f);
}

/* A frame whose body came in pieces ends the batch: its body lives in the
   framer, and the next call may reuse that place. */
static void split_body_ends_batch(void) {
  uint8_t buf[64];
  uint32_t n = 0, count;
  ps_frame fr[4];
  ps_framer *f = new_framer(0, 0);
  n += put_text(buf + n, 0, PS_TYPE_STRING, 0, "abcdef");
  n += put_text(buf + n, 0, PS_TYPE_STRING, 0, "next");
  CHECK_INT(ps_framer_recv(f, buf, 12, fr, 4, &count), 12);
  CHECK_INT(count, 0);
  CHECK_INT(ps_framer_midframe(f), 1);
  CHECK_INT(ps_framer_recv(f, buf + 12, n - 12, fr, 4, &count), 3);
  CHECK_INT(count, 1);
  CHECK_MEM(fr[0].data, "abcdef", 6);
  CHECK(fr[0].data < buf || fr[0].data >= buf + n);
  CHECK_INT(ps_framer_recv(f, buf + 15, n - 15, fr, 4, &count), n - 15);
  CHECK_INT(count, 1);
  CHECK_MEM(fr[0].data, "next", 4);
  ps_framer_del(f);
}

/* A header framed for a body the host sends itself: the frames that follow
   it leave after a gap for that body, so host bytes spliced in there make
   the stream; the body counts against max_outbuf until the next send. */
static void header_for_body_beside(void) {
  static const uint8_t big[40] = {1, 2, 3};
  uint8_t wire[256];
  uint32_t n, w = 0, count;
  const uint8_t *out;
  ps_frame fr[4];
  ps_framer *f = new_framer(40, 100), *g;
  CHECK_INT(ps_framer_header(f, 0, 3, 1, 1), PS_ERR_INVALID_ARGUMENT);
  CHECK_INT(ps_framer_header(f, 0, 0, 1, 41), PS_ERR_FRAME_TOO_LARGE);
  CHECK_INT(ps_framer_header(f, 0, PS_TYPE_BINARY, 0, 0),
            PS_ERR_GOODBYE_COLLISION);
  CHECK_INT(ps_framer_put(f, 0, PS_TYPE_STRING, 5, (const uint8_t *)"a", 1), 0);
  CHECK_INT(ps_framer_header(f, PS_FLAG_STREAM, PS_TYPE_BINARY, -7, 40), 0);
  /* 10 + 9 framed and 40 beside: 59 of 100; one more 40 would pass it */
  CHECK_INT(ps_framer_pending(f), 19);
  CHECK_INT(ps_framer_header(f, 0, PS_TYPE_BINARY, 2, 40), PS_ERR_OUTBUF_LIMIT);
  CHECK_INT(ps_framer_put(f, 0, PS_TYPE_BINARY, 2, big, 40),
            PS_ERR_OUTBUF_LIMIT);
  CHECK_INT(
      ps_framer_put(f, PS_FLAG_END, PS_TYPE_STRING, 5, (const uint8_t *)"z", 1),
      0);
  n = (uint32_t)ps_framer_send(f, &out);
  CHECK_INT(n, 29);
  memcpy(wire, out, 19);
  memcpy(wire + 19, big, 40);
  memcpy(wire + 59, out + 19, 10);
  w = 69;
  /* after the send the limit counts from zero again */
  CHECK_INT(ps_framer_header(f, 0, PS_TYPE_BINARY, 2, 40), 0);
  CHECK_INT(ps_framer_header(f, 0, PS_TYPE_BINARY, 3, 40), 0);
  n = (uint32_t)ps_framer_send(f, &out);
  CHECK_INT(n, 18);
  ps_framer_del(f);
  g = new_framer(0, 0);
  CHECK_INT(ps_framer_recv(g, wire, w, fr, 4, &count), (int32_t)w);
  CHECK_INT(count, 3);
  CHECK_INT(fr[1].flags, PS_FLAG_STREAM);
  CHECK_INT(fr[1].type, PS_TYPE_BINARY);
  CHECK_INT(fr[1].req, -7);
  CHECK_INT(fr[1].len, 40);
  CHECK_MEM(fr[1].data, big, 40);
  CHECK_INT(fr[2].flags, PS_FLAG_END);
  CHECK_MEM(fr[2].data, "z", 1);
  ps_framer_del(g);
}

/* Integers framed as their JSON text, every edge of int32 included. */
/* A large body arriving in pieces is handed to the host, which gathers the
   rest; the framer goes on at the next header. */
static void take_body(void) {
  ps_framer *f = new_framer(0, 0);
  uint8_t in[9 + 1000 + 9 + 2];
  ps_frame fr[2];
  uint32_t n, have = 7;
  ps_header_encode(in, PS_FLAG_STREAM, PS_TYPE_BINARY, 1000, -3);
  memset(in + 9, 'b', 1000);
  ps_header_encode(in + 1009, 0, PS_TYPE_STRING, 2, 4);
  memcpy(in + 1018, "ok", 2);
  /* nothing gathered yet: nothing to take */
  CHECK_INT(ps_framer_take_body(f, 1, fr, &have), 0);
  CHECK_INT(have, 7);
  CHECK_INT(ps_framer_recv(f, in, 400, fr, 2, &n), 400);
  CHECK_INT(n, 0);
  /* smaller than asked for: stays with the framer */
  CHECK_INT(ps_framer_take_body(f, 1001, fr, &have), 0);
  CHECK_INT(ps_framer_midframe(f), 1);
  CHECK_INT(ps_framer_take_body(f, 1000, fr, &have), 1);
  CHECK_INT(fr[0].flags, PS_FLAG_STREAM);
  CHECK_INT(fr[0].type, PS_TYPE_BINARY);
  CHECK_INT(fr[0].len, 1000);
  CHECK_INT(fr[0].req, -3);
  CHECK_INT(have, 391);
  CHECK_MEM(fr[0].data, in + 9, 391);
  CHECK_INT(ps_framer_midframe(f), 0);
  ps_framer_trim(f); /* a small body buffer is kept */
  CHECK(ps_framer_memory(f) >= 391);
  CHECK_INT(ps_framer_take_body(f, 1, fr, &have), 0);
  /* the host took the rest of the body; the framer reads on from the next
     header */
  CHECK_INT(ps_framer_recv(f, in + 1009, 11, fr, 2, &n), 11);
  CHECK_INT(n, 1);
  CHECK_INT(fr[0].req, 4);
  CHECK_MEM(fr[0].data, "ok", 2);
  /* a large part handed over is let go by a trim, not kept until the next
     frame */
  {
    static uint8_t part[9 + 200000];
    ps_header_encode(part, 0, PS_TYPE_BINARY, 1000000, 5);
    CHECK_INT(ps_framer_recv(f, part, sizeof part, fr, 2, &n),
              (int32_t)sizeof part);
    CHECK(ps_framer_memory(f) >= 200000);
    CHECK_INT(ps_framer_take_body(f, 1, fr, &have), 1);
    CHECK_INT(have, 200000);
    ps_framer_trim(f);
    CHECK(ps_framer_memory(f) < 65536);
  }
  ps_framer_del(f);
}

/* A burst's output buffer is given back once taken, and only then. */
static void trim_after_take(void) {
  ps_framer *f = new_framer(0, 0);
  uint8_t *body = malloc(100000);
  const uint8_t *out;
  uint32_t small;
  memset(body, 7, 100000);
  CHECK_INT(ps_framer_put(f, 0, PS_TYPE_BINARY, 1, body, 100000), 0);
  CHECK(ps_framer_memory(f) >= 100000);
  ps_framer_trim(f); /* not taken yet: kept */
  CHECK(ps_framer_memory(f) >= 100000);
  CHECK_INT(ps_framer_send(f, &out), PS_HEADER_SIZE + 100000);
  CHECK_INT(out[PS_HEADER_SIZE + 99999], 7);
  ps_framer_trim(f);
  small = ps_framer_memory(f);
  CHECK(small < 4096);
  /* framing goes on as before */
  CHECK_INT(ps_framer_put(f, 0, PS_TYPE_STRING, 2, (const uint8_t *)"ok", 2),
            0);
  CHECK_INT(ps_framer_send(f, &out), PS_HEADER_SIZE + 2);
  CHECK_MEM(out + PS_HEADER_SIZE, "ok", 2);
  ps_framer_trim(f); /* small: kept */
  CHECK(ps_framer_memory(f) > small);
  /* without a trim, the next put lets a large one go */
  CHECK_INT(ps_framer_put(f, 0, PS_TYPE_BINARY, 1, body, 100000), 0);
  CHECK_INT(ps_framer_send(f, &out), PS_HEADER_SIZE + 100000);
  CHECK_INT(ps_framer_put(f, 0, PS_TYPE_STRING, 2, (const uint8_t *)"ok", 2),
            0);
  CHECK(ps_framer_memory(f) < PS_KEEP_OUTPUT);
  free(body);
  ps_framer_del(f);
}

static void put_int(void) {
  static const int32_t values[] = {0,   7,         -7,         10,
                                   -10, 123456789, 2147483647, -2147483647 - 1};
  static const char *texts[] = {
      "0", "7", "-7", "10", "-10", "123456789", "2147483647", "-2147483648"};
  ps_framer *f = new_framer(10, 0);
  ps_frame fr[8];
  const uint8_t *out;
  uint32_t i, count = 0, n = 0;
  int32_t sent;
  for (i = 0; i < 8; i++) {
    int32_t rv =
        ps_framer_put_int(f, PS_FLAG_STREAM, (int32_t)i + 1, values[i]);
    if (i < 7) {
      CHECK_INT(rv, strlen(texts[i]));
    } else {
      CHECK_INT(rv, PS_ERR_FRAME_TOO_LARGE); /* 11 bytes, max_frame 10 */
    }
    if (rv > 0) n += PS_HEADER_SIZE + (uint32_t)rv;
  }
  CHECK_INT(ps_framer_pending(f), n);
  CHECK_INT(ps_framer_send(f, &out), n);
  ps_framer_del(f);
  /* decoded again: the texts of JSON.stringify */
  f = new_framer(0, 0);
  for (i = 0; i < 8; i++) ps_framer_put_int(f, 0, 1, values[i]);
  sent = ps_framer_send(f, &out);
  {
    ps_framer *g = new_framer(0, 0);
    CHECK_INT(ps_framer_recv(g, out, (uint32_t)sent, fr, 8, &count), sent);
    CHECK_INT(count, 8);
    for (i = 0; i < count; i++) {
      CHECK_INT(fr[i].type, PS_TYPE_JSON);
      CHECK_INT(fr[i].len, strlen(texts[i]));
      CHECK_MEM(fr[i].data, texts[i], fr[i].len);
    }
    ps_framer_del(g);
  }
  ps_framer_del(f);
}

/* The goodbye may go 9 bytes past max_outbuf, so that a backed-up close can
   still say it, but a host that is not taking the output cannot make it
   grow: once over the limit the goodbye is refused too. */
static void goodbye_within_outbuf(void) {
  ps_framer *f = new_framer(0, 18);
  const uint8_t *p;
  int i, refused = 0;
  for (i = 0; i < 100; i++) {
    int32_t rv = ps_framer_goodbye(f);
    CHECK(rv == 0 || rv == PS_ERR_OUTBUF_LIMIT);
    if (rv == PS_ERR_OUTBUF_LIMIT) refused++;
  }
  CHECK_INT(refused, 97);
  CHECK_INT(ps_framer_pending(f), 27);
  CHECK_INT(ps_framer_send(f, &p), 27);
  CHECK_INT(ps_framer_goodbye(f), 0);
  CHECK_INT(ps_framer_pending(f), 9);
  CHECK_INT(ps_framer_send(f, &p), 9);
  /* a body that goes beside its header counts too */
  CHECK_INT(ps_framer_header(f, PS_FLAG_STREAM, PS_TYPE_BINARY, 1, 9), 0);
  CHECK_INT(ps_framer_goodbye(f), 0);
  CHECK_INT(ps_framer_goodbye(f), PS_ERR_OUTBUF_LIMIT);
  ps_framer_del(f);
}

/* A writer whose transport never takes the output: every frame is refused
   once it would pass max_outbuf, placed in the core's buffer or copied, and
   the output buffer never grows past max_outbuf on the way. */
static void output_bounded_by_outbuf(void) {
  const uint32_t max_outbuf = 100000;
  ps_framer *f = new_framer(0, max_outbuf);
  static const uint8_t data[1000] = {0};
  uint32_t base = ps_framer_memory(f), framed = 0;
  int i, refused = 0;
  for (i = 0; i < 300; i++) {
    uint8_t *place = ps_framer_body(f, 1000);
    int32_t rv;
    if (i % 2) {
      rv = place ? ps_framer_put(f, PS_FLAG_STREAM, PS_TYPE_BINARY, 1, place,
                                 1000)
                 : PS_ERR_OUTBUF_LIMIT;
    } else {
      rv = ps_framer_put(f, PS_FLAG_STREAM, PS_TYPE_BINARY, 1, data, 1000);
    }
    CHECK(rv == 0 || rv == PS_ERR_OUTBUF_LIMIT);
    if (rv == PS_ERR_OUTBUF_LIMIT)
      refused++;
    else
      framed += PS_HEADER_SIZE + 1000;
  }
  CHECK_INT(framed, 99 * 1009);
  CHECK_INT(refused, 201);
  CHECK_INT(ps_framer_pending(f), framed);
  CHECK(ps_framer_memory(f) - base <= max_outbuf);
  /* the goodbye still goes, at most 9 bytes past */
  CHECK_INT(ps_framer_goodbye(f), 0);
  CHECK(ps_framer_memory(f) - base <= max_outbuf + PS_HEADER_SIZE);
  ps_framer_del(f);
}

void suite_framer(void) {
  RUN(output_bounded_by_outbuf);
  RUN(put_int);
  RUN(take_body);
  RUN(trim_after_take);
  RUN(header_for_body_beside);
  RUN(roundtrip_every_chunking);
  RUN(after_goodbye_ignored);
  RUN(goodbye_within_outbuf);
  RUN(error_after_good_frames);
  RUN(put_limits);
  RUN(byte_limits);
  RUN(split_body_ends_batch);
}
