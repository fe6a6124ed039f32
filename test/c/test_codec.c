/* The framing: header layout, goodbye, malformed headers, the incremental
   decoder at every split point. */
#include <stdlib.h>

#include "test.h"

static void header_layout(void) {
  uint8_t h[PS_HEADER_SIZE];
  static const uint8_t expect[PS_HEADER_SIZE] = {0x0e, 0x01, 0x02, 0x03, 0x04,
                                                 0xff, 0xff, 0xff, 0xfe};
  uint32_t flags, type, len;
  int32_t req;
  ps_header_encode(h, PS_FLAG_STREAM | PS_FLAG_END, PS_TYPE_JSON, 0x01020304u,
                   -2);
  CHECK_MEM(h, expect, PS_HEADER_SIZE);
  CHECK_INT(ps_header_decode(h, &flags, &type, &len, &req), 1);
  CHECK_INT(flags, PS_FLAG_STREAM | PS_FLAG_END);
  CHECK_INT(type, PS_TYPE_JSON);
  CHECK_INT(len, 0x01020304u);
  CHECK_INT(req, -2);
}

static void header_roundtrip(void) {
  static const int32_t reqs[] = {0,     1,         -1,        255,       256,
                                 65536, INT32_MAX, INT32_MIN, -123456789};
  static const uint32_t lens[] = {0, 1, 255, 65535, 16777216, UINT32_MAX};
  uint32_t f, t, i, j;
  for (f = 0; f < 16; f += 4)
    for (t = 0; t < 3; t++)
      for (i = 0; i < sizeof reqs / sizeof *reqs; i++)
        for (j = 0; j < sizeof lens / sizeof *lens; j++) {
          uint8_t h[PS_HEADER_SIZE];
          uint32_t flags, type, len;
          int32_t req, rv;
          ps_header_encode(h, f, t, lens[j], reqs[i]);
          rv = ps_header_decode(h, &flags, &type, &len, &req);
          if (f == 0 && t == 0 && lens[j] == 0 && reqs[i] == 0) {
            CHECK_INT(rv, 0); /* that is the goodbye */
            continue;
          }
          CHECK_INT(rv, 1);
          CHECK_INT(flags, f);
          CHECK_INT(type, t);
          CHECK_INT(len, lens[j]);
          CHECK_INT(req, reqs[i]);
        }
}

/* Only nine zero bytes are goodbye: a zero length with anything else set is
   an empty body (the reference would take it for goodbye: documented). */
static void goodbye_only_all_zero(void) {
  uint8_t h[PS_HEADER_SIZE] = {0};
  uint32_t flags, type, len;
  int32_t req;
  int i;
  CHECK_INT(ps_header_decode(h, &flags, &type, &len, &req), 0);
  for (i = 0; i < PS_HEADER_SIZE; i++) {
    if (i >= 1 && i <= 4) continue; /* a length makes it a packet too */
    memset(h, 0, sizeof h);
    h[i] = i == 0 ? PS_TYPE_STRING : 1;
    CHECK_INT(ps_header_decode(h, &flags, &type, &len, &req), 1);
    CHECK_INT(len, 0);
  }
  /* bits of the first byte that mean nothing still make it a packet */
  memset(h, 0, sizeof h);
  h[0] = 0x10;
  CHECK_INT(ps_header_decode(h, &flags, &type, &len, &req), 1);
}

static void type3_rejected(void) {
  uint8_t h[PS_HEADER_SIZE];
  uint32_t flags, type, len, f;
  int32_t req;
  for (f = 0; f < 16; f += 4) {
    ps_header_encode(h, f, 3, 5, 1);
    CHECK_INT(ps_header_decode(h, &flags, &type, &len, &req), PS_ERR_BAD_TYPE);
  }
}

/* The high bits of the flags byte mean nothing; the reference ignores them
   and so do we. */
static void high_flag_bits_ignored(void) {
  uint8_t h[PS_HEADER_SIZE];
  uint32_t flags, type, len;
  int32_t req;
  ps_header_encode(h, PS_FLAG_STREAM, PS_TYPE_STRING, 3, 7);
  h[0] |= 0xf0;
  CHECK_INT(ps_header_decode(h, &flags, &type, &len, &req), 1);
  CHECK_INT(flags, PS_FLAG_STREAM);
  CHECK_INT(type, PS_TYPE_STRING);
}

/* A stream of frames decoded whole, split at every point, byte by byte:
   the same events each time; whole bodies handed out in place. */
static void chunking_every_split(void) {
  uint8_t buf[512];
  uint32_t n = 0, split, i;
  log_t whole, parts;
  ps_session *s;
  static const uint8_t bin[] = {0, 1, 2, 0xff, 0xfe};
  n += put_text(buf + n, 0, PS_TYPE_STRING, 0, "hello");
  n += put_text(buf + n, 0, PS_TYPE_JSON, 1, "{\"a\":[1,2,3]}");
  n += put_frame(buf + n, PS_FLAG_STREAM, PS_TYPE_BINARY, 2, bin, sizeof bin);
  n += put_text(buf + n, PS_FLAG_STREAM, PS_TYPE_STRING, 2, "");
  n += put_text(buf + n, PS_FLAG_STREAM | PS_FLAG_END, PS_TYPE_JSON, 2, "true");
  n += put_text(buf + n, PS_FLAG_END, PS_TYPE_JSON, -7, "{\"message\":\"x\"}");
  n += put_text(buf + n, 0, PS_TYPE_STRING, 0, "after");

  log_init(&whole);
  s = new_session(PS_MODE_WIRE, 0);
  CHECK_INT(feed(s, buf, n, 0, &whole), 0);
  ps_session_del(s);
  CHECK(strstr(whole.text,
               "MESSAGE req=0 slot=8388607 flags=0 type=1 err=0 "
               "len=5 [68656c6c6f]") != NULL);
  CHECK(strstr(whole.text, "REQUEST req=1") != NULL);
  CHECK(strstr(whole.text, "STREAM_DATA req=2 slot=1 flags=108 type=0") !=
        NULL);
  CHECK(strstr(whole.text,
               "STREAM_DATA req=2 slot=1 flags=8 type=1 err=0 len=0 []") !=
        NULL);
  CHECK(strstr(whole.text, "STREAM_END req=2") != NULL);
  CHECK(strstr(whole.text, "STRAY req=-7") != NULL);

  for (split = 1; split < n; split++) {
    log_init(&parts);
    s = new_session(PS_MODE_WIRE, 0);
    CHECK_INT(feed(s, buf, split, 0, &parts), 0);
    CHECK_INT(feed(s, buf + split, n - split, 0, &parts), 0);
    ps_session_del(s);
    CHECK_STR(parts.text, whole.text);
    log_free(&parts);
  }
  for (i = 1; i <= 10; i++) {
    log_init(&parts);
    s = new_session(PS_MODE_WIRE, 0);
    CHECK_INT(feed(s, buf, n, i, &parts), 0);
    ps_session_del(s);
    CHECK_STR(parts.text, whole.text);
    log_free(&parts);
  }
  log_free(&whole);
}

/* A body wholly inside the chunk is handed out without a copy. */
static void body_in_place(void) {
  uint8_t buf[64];
  uint32_t n = put_text(buf, 0, PS_TYPE_STRING, 0, "in place");
  ps_session *s = new_session(PS_MODE_WIRE, 0);
  ps_event ev;
  CHECK_INT(ps_session_recv(s, buf, n), (int32_t)n);
  CHECK(poll1(s, &ev));
  CHECK(ev.data == buf + PS_HEADER_SIZE);
  /* split: the body comes from the decoder's buffer */
  n = put_text(buf, 0, PS_TYPE_STRING, 0, "copied");
  CHECK_INT(ps_session_recv(s, buf, 12), 12);
  CHECK(!poll1(s, &ev));
  CHECK_INT(ps_session_recv(s, buf + 12, n - 12), (int32_t)(n - 12));
  CHECK(poll1(s, &ev));
  CHECK(ev.data != buf + PS_HEADER_SIZE);
  CHECK_INT(ev.len, 6);
  CHECK_MEM(ev.data, "copied", 6);
  ps_session_del(s);
}

/* Length over the limit: refused from the header alone, before anything of
   that size exists; a body that arrives slowly costs what has arrived. */
static void oversized_length(void) {
  counting_mem cm = {0};
  ps_mem mem = counting_mem_hooks(&cm);
  ps_limits lim;
  ps_session *s;
  uint8_t h[PS_HEADER_SIZE + 16];
  uint32_t before;
  ps_event ev;
  ps_limits_default(&lim);
  lim.max_frame = 1000;
  CHECK_INT(ps_session_new(&s, PS_MODE_WIRE, 0, &lim, &mem, 1), 0);
  before = ps_session_memory(s);
  ps_header_encode(h, 0, PS_TYPE_BINARY, 1001, 0);
  CHECK_INT(ps_session_recv(s, h, PS_HEADER_SIZE), PS_ERR_PEER_FRAME_TOO_LARGE);
  CHECK_INT(ps_session_memory(s), before);
  CHECK(poll1(s, &ev));
  CHECK_INT(ev.type, PS_EV_ERROR);
  CHECK_INT(ev.error, PS_ERR_PEER_FRAME_TOO_LARGE);
  CHECK(poll1(s, &ev));
  CHECK_INT(ev.type, PS_EV_CLOSED);
  CHECK_INT(ev.error, PS_ERR_PEER_FRAME_TOO_LARGE);
  /* sticky */
  CHECK_INT(ps_session_recv(s, h, 1), PS_ERR_PEER_FRAME_TOO_LARGE);
  ps_session_del(s);
  CHECK_INT(cm.outstanding, 0);

  /* exactly at the limit is fine */
  CHECK_INT(ps_session_new(&s, PS_MODE_WIRE, 0, &lim, &mem, 1), 0);
  ps_header_encode(h, 0, PS_TYPE_BINARY, 1000, 0);
  CHECK_INT(ps_session_recv(s, h, PS_HEADER_SIZE), PS_HEADER_SIZE);
  CHECK(ps_session_memory(s) - before <= 256);
  memset(h, 7, 16);
  CHECK_INT(ps_session_recv(s, h, 16), 16);
  CHECK(ps_session_memory(s) - before <= 256);
  CHECK(!poll1(s, &ev));
  ps_session_del(s);
  CHECK_INT(cm.outstanding, 0);

  /* a 16 MiB promise with 10 bytes behind it holds a few hundred bytes */
  CHECK_INT(ps_session_new(&s, PS_MODE_WIRE, 0, NULL, &mem, 1), 0);
  before = ps_session_memory(s);
  ps_header_encode(h, 0, PS_TYPE_BINARY, 16u << 20, 3);
  CHECK_INT(ps_session_recv(s, h, PS_HEADER_SIZE + 10), PS_HEADER_SIZE + 10);
  CHECK(ps_session_memory(s) - before <= 256);
  ps_session_del(s);
}

/* Type 3 through a session: fatal, sticky, the rest ignored. */
static void type3_in_session(void) {
  uint8_t buf[64];
  uint32_t n;
  ps_session *s = new_session(PS_MODE_WIRE, 0);
  ps_event ev;
  n = put_text(buf, 0, 3, 0, "xyz");
  CHECK_INT(ps_session_recv(s, buf, n), PS_ERR_BAD_TYPE);
  CHECK(poll1(s, &ev));
  CHECK_INT(ev.type, PS_EV_ERROR);
  CHECK_INT(ev.error, PS_ERR_BAD_TYPE);
  CHECK(ps_is_fatal(ev.error));
  CHECK(poll1(s, &ev));
  CHECK_INT(ev.type, PS_EV_CLOSED);
  CHECK(!poll1(s, &ev));
  CHECK_INT(ps_message(s, PS_TYPE_STRING, (const uint8_t *)"a", 1),
            PS_ERR_BAD_TYPE);
  CHECK(ps_session_state(s) & PS_STATE_ENDED);
  ps_session_del(s);
}

/* A header cut anywhere, or a body cut at every offset, then the transport
   ends: a truncation error, never a packet. */
static void truncated_everywhere(void) {
  uint8_t buf[64];
  uint32_t n = put_text(buf, PS_FLAG_STREAM, PS_TYPE_STRING, 3, "truncated!");
  uint32_t cut;
  for (cut = 1; cut < n; cut++) {
    ps_session *s = new_session(PS_MODE_WIRE, 0);
    log_t log;
    ps_event ev;
    log_init(&log);
    CHECK_INT(feed(s, buf, cut, 0, &log), 0);
    CHECK(log.len == 0);
    CHECK_INT(ps_session_recv_end(s, 0), 0);
    CHECK(poll1(s, &ev));
    CHECK_INT(ev.type, PS_EV_ERROR);
    CHECK_INT(ev.error, PS_ERR_TRUNCATED);
    CHECK(poll1(s, &ev));
    CHECK_INT(ev.type, PS_EV_CLOSED);
    CHECK_INT(ev.error, PS_ERR_TRUNCATED);
    CHECK(!poll1(s, &ev));
    ps_session_del(s);
    log_free(&log);
  }
}

/* Bytes after the goodbye are consumed and ignored, as the reference never
   reads them. */
static void after_goodbye_ignored(void) {
  uint8_t buf[64] = {0};
  uint32_t n = PS_HEADER_SIZE;
  ps_session *s = new_session(PS_MODE_WIRE, 0);
  log_t log;
  log_init(&log);
  n += put_text(buf + n, 0, PS_TYPE_STRING, 0, "late");
  CHECK_INT(feed(s, buf, n, 0, &log), 0);
  CHECK(strstr(log.text, "MESSAGE") == NULL);
  CHECK(strstr(log.text, "CLOSED req=0 slot=8388607 flags=0 type=0 err=0") !=
        NULL);
  CHECK(ps_session_state(s) & PS_STATE_GOODBYE);
  ps_session_del(s);
  log_free(&log);
}

void suite_codec(void) {
  RUN(header_layout);
  RUN(header_roundtrip);
  RUN(goodbye_only_all_zero);
  RUN(type3_rejected);
  RUN(high_flag_bits_ignored);
  RUN(chunking_every_split);
  RUN(body_in_place);
  RUN(oversized_length);
  RUN(type3_in_session);
  RUN(truncated_everywhere);
  RUN(after_goodbye_ignored);
}
