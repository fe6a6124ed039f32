/* The state machine, one rule at a time: every event, every transition and
   every error path of ps.h, mostly through hand-made frames. */
#include <stdlib.h>

#include "test.h"

#define T(s) ((const uint8_t *)(s)), ((uint32_t)strlen(s))

/* Polls one event and checks its type; returns it for more checks. */
static ps_event expect_ev(ps_session *s, int32_t type, int line) {
  ps_event ev;
  memset(&ev, 0, sizeof ev);
  t_checks++;
  if (!poll1(s, &ev)) {
    t_failures++;
    fprintf(stderr, "test_session.c:%d: expected event %d, got none\n", line,
            type);
  } else if (ev.type != type) {
    t_failures++;
    fprintf(stderr, "test_session.c:%d: expected event %d, got %d\n", line,
            type, ev.type);
  }
  return ev;
}
#define EXPECT(s, type) expect_ev((s), PS_EV_##type, __LINE__)
#define EXPECT_NONE(s)       \
  do {                       \
    ps_event e_;             \
    CHECK(!poll1((s), &e_)); \
  } while (0)

/* Checks that |s| has exactly the frame given pending, and takes it. */
static void expect_sent(ps_session *s, uint32_t flags, uint32_t type,
                        int32_t req, const char *body, int line) {
  uint8_t want[256];
  uint32_t n = put_text(want, flags, type, req, body);
  const uint8_t *p;
  int32_t got = ps_session_send(s, &p);
  t_checks++;
  if (got != (int32_t)n || memcmp(p, want, n) != 0) {
    t_failures++;
    fprintf(stderr, "test_session.c:%d: sent %d bytes, expected frame of %u\n",
            line, got, n);
  }
}
#define EXPECT_SENT(s, f, t, r, b) \
  expect_sent((s), (f), (t), (r), (b), __LINE__)

static void recv_text(ps_session *s, uint32_t flags, uint32_t type, int32_t req,
                      const char *body) {
  uint8_t buf[256];
  uint32_t n = put_text(buf, flags, type, req, body);
  CHECK_INT(ps_session_recv(s, buf, n), (int32_t)n);
}

static void strerror_all(void) {
#define CHECK_MSG_(name, value, message) \
  CHECK_STR(ps_strerror(PS_##name), message);
  PS_ERRORS(CHECK_MSG_)
#undef CHECK_MSG_
  CHECK_STR(ps_strerror(-1), "unknown error");
  CHECK_STR(ps_strerror(PS_ERR_CLOSING), "parent stream is closing");
  CHECK(ps_is_fatal(PS_ERR_NOMEM));
  CHECK(!ps_is_fatal(PS_ERR_CLOSING));
}

static void new_rejects_bad_arguments(void) {
  ps_session *s = (ps_session *)1;
  ps_limits lim;
  ps_mem bad = {0};
  CHECK_INT(ps_session_new(&s, 2, 0, NULL, NULL, 0), PS_ERR_INVALID_ARGUMENT);
  CHECK(s == NULL);
  CHECK_INT(ps_session_new(&s, PS_MODE_WIRE, 2, NULL, NULL, 0),
            PS_ERR_INVALID_ARGUMENT);
  CHECK_INT(ps_session_new(NULL, PS_MODE_WIRE, 0, NULL, NULL, 0),
            PS_ERR_INVALID_ARGUMENT);
  CHECK_INT(ps_session_new(&s, PS_MODE_WIRE, 0, NULL, &bad, 0),
            PS_ERR_INVALID_ARGUMENT);
  ps_limits_default(&lim);
  lim.max_frame = 0;
  CHECK_INT(ps_session_new(&s, PS_MODE_WIRE, 0, &lim, NULL, 0),
            PS_ERR_INVALID_ARGUMENT);
  ps_limits_default(&lim);
  lim.max_streams = PS_MAX_SLOTS;
  CHECK_INT(ps_session_new(&s, PS_MODE_WIRE, 0, &lim, NULL, 0),
            PS_ERR_INVALID_ARGUMENT);
  /* byte limits whose counts, with a header, would not fit an int32 */
  ps_limits_default(&lim);
  lim.max_frame = PS_MAX_BYTES + 1;
  CHECK_INT(ps_session_new(&s, PS_MODE_WIRE, 0, &lim, NULL, 0),
            PS_ERR_INVALID_ARGUMENT);
  ps_limits_default(&lim);
  lim.max_outbuf = UINT32_MAX;
  CHECK_INT(ps_session_new(&s, PS_MODE_WIRE, 0, &lim, NULL, 0),
            PS_ERR_INVALID_ARGUMENT);
  lim.max_frame = lim.max_outbuf = PS_MAX_BYTES;
  CHECK_INT(ps_session_new(&s, PS_MODE_WIRE, 0, &lim, NULL, 0), 0);
  CHECK(ps_session_body(s, UINT32_MAX - 3) == NULL);
  CHECK(ps_session_body(s, PS_MAX_BYTES + 1) == NULL);
  ps_session_del(s);
  ps_limits_default(&lim);
  CHECK_INT(lim.max_frame, 16u << 20);
  CHECK_INT(ps_session_new(&s, PS_MODE_WIRE, 0, &lim, NULL, 0), 0);
  CHECK(s != NULL);
  ps_session_del(s);
  ps_session_del(NULL);
}

static void messages(void) {
  ps_session *s = new_session(PS_MODE_WIRE, 0);
  ps_event ev;
  CHECK_INT(ps_message(s, PS_TYPE_STRING, T("hello")), 0);
  EXPECT_SENT(s, 0, PS_TYPE_STRING, 0, "hello");
  CHECK_INT(ps_message(s, PS_TYPE_JSON, T("{\"a\":1}")), 0);
  CHECK_INT(ps_message(s, PS_TYPE_BINARY, T("\x01\x02")), 0);
  CHECK_INT(ps_session_pending(s), 2 * PS_HEADER_SIZE + 9);
  /* an empty binary message would be the goodbye */
  CHECK_INT(ps_message(s, PS_TYPE_BINARY, NULL, 0), PS_ERR_GOODBYE_COLLISION);
  CHECK_INT(ps_message(s, PS_TYPE_STRING, NULL, 0), 0);
  CHECK_INT(ps_message(s, 3, T("x")), PS_ERR_INVALID_ARGUMENT);
  CHECK_INT(ps_message(s, PS_TYPE_STRING, NULL, 3), PS_ERR_INVALID_ARGUMENT);
  recv_text(s, 0, PS_TYPE_JSON, 0, "[1]");
  ev = EXPECT(s, MESSAGE);
  CHECK_INT(ev.req, 0);
  CHECK_INT(ev.body_type, PS_TYPE_JSON);
  CHECK_INT(ev.len, 3);
  CHECK_INT(ev.slot, PS_NO_SLOT);
  /* flags of a message are passed on as they came */
  recv_text(s, PS_FLAG_STREAM | PS_FLAG_END, PS_TYPE_STRING, 0, "odd");
  ev = EXPECT(s, MESSAGE);
  CHECK_INT(ev.flags, PS_FLAG_STREAM | PS_FLAG_END);
  EXPECT_NONE(s);
  ps_session_del(s);
}

static void requests_and_responses(void) {
  ps_session *s = new_session(PS_MODE_WIRE, 0);
  uint32_t a, b, c;
  ps_event ev;
  CHECK_INT(ps_request(s, PS_TYPE_JSON, T("7"), &a), 1);
  EXPECT_SENT(s, 0, PS_TYPE_JSON, 1, "7");
  CHECK_INT(ps_stream_open(s, &b), 2); /* one counter for both */
  CHECK_INT(ps_request(s, PS_TYPE_STRING, T("x"), &c), 3);
  CHECK(a != b && b != c && a != c);
  CHECK_INT(ps_session_count(s, 0), 2);
  CHECK_INT(ps_session_count(s, 2), 1);
  CHECK_INT(ps_request(s, PS_TYPE_JSON, T("1"), NULL), PS_ERR_INVALID_ARGUMENT);
  /* the answer to 3 arrives first */
  recv_text(s, 0, PS_TYPE_JSON, -3, "14");
  ev = EXPECT(s, RESPONSE);
  CHECK_INT(ev.slot, c);
  CHECK_INT(ev.req, -3);
  CHECK_INT(ev.flags, PS_EVF_RELEASED);
  /* an error response carries the end flag */
  recv_text(s, PS_FLAG_END, PS_TYPE_JSON, -1, "{\"message\":\"no\"}");
  ev = EXPECT(s, RESPONSE);
  CHECK_INT(ev.slot, a);
  CHECK_INT(ev.flags, PS_FLAG_END | PS_EVF_RELEASED);
  CHECK_INT(ps_session_count(s, 0), 0);
  /* a second answer to the same request is stray, as is one for a stream */
  recv_text(s, 0, PS_TYPE_JSON, -1, "14");
  ev = EXPECT(s, STRAY);
  CHECK_INT(ev.slot, PS_NO_SLOT);
  recv_text(s, 0, PS_TYPE_JSON, -2, "14");
  EXPECT(s, STRAY);
  recv_text(s, 0, PS_TYPE_JSON, -99, "14");
  EXPECT(s, STRAY);
  recv_text(s, 0, PS_TYPE_JSON, INT32_MIN, "14");
  EXPECT(s, STRAY);
  EXPECT_NONE(s);
  ps_session_del(s);
}

static void serving_requests(void) {
  ps_session *s = new_session(PS_MODE_WIRE, 0);
  ps_event ev;
  uint32_t first;
  recv_text(s, 0, PS_TYPE_JSON, 5, "{\"q\":1}");
  ev = EXPECT(s, REQUEST);
  first = ev.slot;
  CHECK_INT(ev.req, 5);
  CHECK_INT(ps_session_count(s, 1), 1);
  recv_text(s, 0, PS_TYPE_JSON, 6, "2");
  ev = EXPECT(s, REQUEST);
  CHECK_INT(ps_respond(s, ev.slot, PS_FLAG_END, PS_TYPE_JSON,
                       T("{\"message\":\"e\"}")),
            0);
  EXPECT_SENT(s, PS_FLAG_END, PS_TYPE_JSON, -6, "{\"message\":\"e\"}");
  CHECK_INT(ps_respond(s, ev.slot, 0, PS_TYPE_JSON, T("1")),
            PS_ERR_UNKNOWN_SLOT);
  CHECK_INT(ps_respond(s, PS_NO_SLOT, 0, PS_TYPE_JSON, T("1")),
            PS_ERR_UNKNOWN_SLOT);
  CHECK_INT(ps_respond(s, first, 0, PS_TYPE_JSON, T("{\"a\":2}")), 0);
  EXPECT_SENT(s, 0, PS_TYPE_JSON, -5, "{\"a\":2}");
  /* the reply of a session without a request handler, byte for byte */
  recv_text(s, 0, PS_TYPE_JSON, 9, "0");
  ev = EXPECT(s, REQUEST);
  CHECK_INT(ps_respond_no_handler(s, ev.slot), 0);
  EXPECT_SENT(
      s, PS_FLAG_END, PS_TYPE_JSON, -9,
      "{\"message\":\"Unable to handle requests\",\"name\":\"NO_REQUEST_"
      "HANDLER\",\"stack\":null}");
  /* the same request number twice is two requests, as in the reference */
  recv_text(s, 0, PS_TYPE_JSON, 4, "1");
  {
    /* a frame given while the event of the last waits is not taken: the
       event (and its body) would be lost */
    uint8_t buf[64];
    uint32_t n = put_text(buf, 0, PS_TYPE_JSON, 4, "1");
    uint32_t was;
    CHECK_INT(ps_session_recv(s, buf, n), PS_ERR_EVENT_PENDING);
    ev = EXPECT(s, REQUEST);
    was = ev.slot;
    CHECK_INT(ev.req, 4);
    CHECK_INT(ps_session_recv(s, buf, n), (int32_t)n);
    ev = EXPECT(s, REQUEST);
    CHECK(ev.slot != was);
    CHECK_INT(ev.req, 4);
  }
  CHECK_INT(ps_session_count(s, 1), 2);
  /* a request slot is not a substream, and a substream not a request */
  {
    uint32_t st;
    CHECK_INT(ps_stream_open(s, &st), 1);
    CHECK_INT(ps_respond(s, st, 0, PS_TYPE_JSON, T("1")), PS_ERR_UNKNOWN_SLOT);
    CHECK_INT(ps_session_count(s, 2), 1);
    CHECK_INT(ps_session_pending(s), 0);
  }
  /* ev: the second request 4 */
  CHECK_INT(ps_stream_write(s, ev.slot, PS_TYPE_JSON, T("1")),
            PS_ERR_UNKNOWN_SLOT);
  CHECK_INT(ps_stream_release(s, ev.slot), PS_ERR_UNKNOWN_SLOT);
  ps_session_del(s);
}

static void substreams_we_open(void) {
  ps_session *s = new_session(PS_MODE_WIRE, 0);
  uint32_t slot;
  ps_event ev;
  CHECK_INT(ps_stream_open(s, &slot), 1);
  CHECK_INT(ps_session_pending(s), 0); /* nothing until the first write */
  CHECK_INT(ps_stream_write(s, slot, PS_TYPE_STRING, T("a")), 0);
  EXPECT_SENT(s, PS_FLAG_STREAM, PS_TYPE_STRING, 1, "a");
  recv_text(s, PS_FLAG_STREAM, PS_TYPE_STRING, -1, "echo");
  ev = EXPECT(s, STREAM_DATA);
  CHECK_INT(ev.slot, slot);
  CHECK_INT(ev.flags, PS_FLAG_STREAM);
  /* our end first: the slot lives until the peer ends too */
  CHECK_INT(
      ps_stream_end(s, slot, PS_TYPE_JSON, PS_TRUE_JSON, PS_TRUE_JSON_LEN), 0);
  EXPECT_SENT(s, PS_FLAG_STREAM | PS_FLAG_END, PS_TYPE_JSON, 1, "true");
  /* writes after our end are refused (strict mode) */
  CHECK_INT(ps_stream_write(s, slot, PS_TYPE_STRING, T("late")),
            PS_ERR_STREAM_ENDED);
  CHECK_INT(ps_stream_end(s, slot, PS_TYPE_JSON, T("true")),
            PS_ERR_STREAM_ENDED);
  CHECK_INT(ps_session_pending(s), 0);
  recv_text(s, PS_FLAG_STREAM | PS_FLAG_END, PS_TYPE_JSON, -1, "true");
  ev = EXPECT(s, STREAM_END);
  CHECK_INT(ev.flags, PS_FLAG_STREAM | PS_FLAG_END | PS_EVF_RELEASED);
  CHECK_INT(ps_session_count(s, 2), 0);
  CHECK_INT(ps_stream_write(s, slot, PS_TYPE_STRING, T("x")),
            PS_ERR_UNKNOWN_SLOT);
  /* the peer's end first: our end then finishes it and releases the slot */
  CHECK_INT(ps_stream_open(s, &slot), 2);
  recv_text(s, PS_FLAG_STREAM | PS_FLAG_END, PS_TYPE_JSON, -2,
            "{\"message\":\"boom\"}");
  ev = EXPECT(s, STREAM_END);
  CHECK_INT(ev.flags, PS_FLAG_STREAM | PS_FLAG_END);
  CHECK_INT(ps_stream_write(s, slot, PS_TYPE_STRING, T("still")), 0);
  CHECK_INT(ps_stream_end(s, slot, PS_TYPE_JSON, T("true")), 1);
  CHECK_INT(ps_session_count(s, 2), 0);
  ps_session_del(s);
}

static void substreams_the_peer_opens(void) {
  ps_session *s = new_session(PS_MODE_WIRE, 0);
  ps_event ev;
  uint32_t slot;
  recv_text(s, PS_FLAG_STREAM, PS_TYPE_JSON, 3, "{\"name\":\"x\"}");
  ev = EXPECT(s, STREAM_DATA);
  CHECK_INT(ev.flags, PS_FLAG_STREAM | PS_EVF_OPENED);
  slot = ev.slot;
  recv_text(s, PS_FLAG_STREAM, PS_TYPE_STRING, 3, "more");
  ev = EXPECT(s, STREAM_DATA);
  CHECK_INT(ev.flags, PS_FLAG_STREAM);
  CHECK_INT(ev.slot, slot);
  /* our side uses the negated number */
  CHECK_INT(ps_stream_write(s, slot, PS_TYPE_STRING, T("back")), 0);
  EXPECT_SENT(s, PS_FLAG_STREAM, PS_TYPE_STRING, -3, "back");
  recv_text(s, PS_FLAG_STREAM | PS_FLAG_END, PS_TYPE_JSON, 3, "true");
  ev = EXPECT(s, STREAM_END);
  CHECK_INT(ev.flags, PS_FLAG_STREAM | PS_FLAG_END);
  CHECK_INT(ps_session_count(s, 3), 1);
  CHECK_INT(ps_stream_end(s, slot, PS_TYPE_JSON, T("true")), 1);
  CHECK_INT(ps_session_count(s, 3), 0);
  EXPECT_SENT(s, PS_FLAG_STREAM | PS_FLAG_END, PS_TYPE_JSON, -3, "true");
  /* a substream can be opened by its end */
  recv_text(s, PS_FLAG_STREAM | PS_FLAG_END, PS_TYPE_JSON, 8, "true");
  ev = EXPECT(s, STREAM_END);
  CHECK_INT(ev.flags, PS_FLAG_STREAM | PS_FLAG_END | PS_EVF_OPENED);
  /* release forgets one without a word */
  CHECK_INT(ps_stream_release(s, ev.slot), 0);
  CHECK_INT(ps_session_count(s, 3), 0);
  CHECK_INT(ps_session_pending(s), 0);
  CHECK_INT(ps_stream_release(s, ev.slot), PS_ERR_UNKNOWN_SLOT);
  ps_session_del(s);
}

/* Data for a substream nobody opened; in strict mode data after the peer's
   end and a second end are dropped as stray. */
static void stray_stream_packets(void) {
  ps_session *s = new_session(PS_MODE_WIRE, 0);
  ps_event ev;
  uint32_t slot, req_slot;
  recv_text(s, PS_FLAG_STREAM, PS_TYPE_STRING, -4, "who?");
  EXPECT(s, STRAY);
  CHECK_INT(ps_request(s, PS_TYPE_JSON, T("1"), &req_slot), 1);
  recv_text(s, PS_FLAG_STREAM, PS_TYPE_STRING, -1, "not a stream");
  EXPECT(s, STRAY);
  CHECK_INT(ps_session_count(s, 0), 1);
  CHECK_INT(ps_stream_open(s, &slot), 2);
  recv_text(s, PS_FLAG_STREAM | PS_FLAG_END, PS_TYPE_JSON, -2, "true");
  EXPECT(s, STREAM_END);
  recv_text(s, PS_FLAG_STREAM, PS_TYPE_STRING, -2, "after end");
  EXPECT(s, STRAY);
  recv_text(s, PS_FLAG_STREAM | PS_FLAG_END, PS_TYPE_JSON, -2, "true");
  ev = EXPECT(s, STRAY);
  CHECK_INT(ev.req, -2);
  CHECK_INT(ps_session_count(s, 2), 1);
  /* the same on a substream the peer opened */
  recv_text(s, PS_FLAG_STREAM | PS_FLAG_END, PS_TYPE_JSON, 5, "true");
  EXPECT(s, STREAM_END);
  recv_text(s, PS_FLAG_STREAM, PS_TYPE_JSON, 5, "1");
  EXPECT(s, STRAY);
  recv_text(s, PS_FLAG_STREAM | PS_FLAG_END, PS_TYPE_JSON, 5, "true");
  EXPECT(s, STRAY);
  ps_session_del(s);
}

/* With PS_OPT_COMPAT the core delivers what packet-stream 2.0.6 delivers. */
static void compat_mode(void) {
  ps_session *s = new_session(PS_MODE_WIRE, PS_OPT_COMPAT);
  uint32_t slot;
  ps_event ev;
  CHECK_INT(ps_stream_open(s, &slot), 1);
  recv_text(s, PS_FLAG_STREAM | PS_FLAG_END, PS_TYPE_JSON, -1, "true");
  EXPECT(s, STREAM_END);
  recv_text(s, PS_FLAG_STREAM, PS_TYPE_STRING, -1, "after end");
  EXPECT(s, STREAM_DATA);
  recv_text(s, PS_FLAG_STREAM | PS_FLAG_END, PS_TYPE_JSON, -1, "true");
  ev = EXPECT(s, STREAM_END);
  CHECK_INT(ev.slot, slot);
  CHECK_INT(ps_stream_open(s, &slot), 2);
  CHECK_INT(ps_stream_end(s, slot, PS_TYPE_JSON, T("true")), 0);
  CHECK_INT(ps_stream_write(s, slot, PS_TYPE_STRING, T("after")), 0);
  CHECK_INT(ps_stream_end(s, slot, PS_TYPE_JSON, T("true")), 0);
  ps_session_del(s);
}

static void graceful_close(void) {
  ps_session *s = new_session(PS_MODE_WIRE, 0);
  uint32_t req, st, peer;
  ps_event ev;
  static const uint8_t goodbye[PS_HEADER_SIZE] = {0};
  const uint8_t *p;
  CHECK_INT(ps_request(s, PS_TYPE_JSON, T("1"), &req), 1);
  CHECK_INT(ps_stream_open(s, &st), 2);
  recv_text(s, 0, PS_TYPE_JSON, 1, "{}"); /* a request of the peer */
  peer = EXPECT(s, REQUEST).slot;
  ps_session_send(s, &p);
  CHECK_INT(ps_session_close(s), 0);
  CHECK(ps_session_state(s) & PS_STATE_CLOSING);
  EXPECT_NONE(s);
  CHECK_INT(ps_request(s, PS_TYPE_JSON, T("1"), &req), PS_ERR_CLOSING);
  CHECK_INT(ps_stream_open(s, &st), PS_ERR_CLOSING);
  CHECK_INT(ps_session_close(s), 0); /* still closing */
  /* a new substream from the peer is still taken while closing */
  recv_text(s, PS_FLAG_STREAM, PS_TYPE_JSON, 3, "1");
  ev = EXPECT(s, STREAM_DATA);
  CHECK_INT(ps_stream_end(s, ev.slot, PS_TYPE_JSON, T("true")), 0);
  recv_text(s, PS_FLAG_STREAM | PS_FLAG_END, PS_TYPE_JSON, 3, "true");
  EXPECT(s, STREAM_END);
  recv_text(s, 0, PS_TYPE_JSON, -1, "2");
  EXPECT(s, RESPONSE);
  EXPECT_NONE(s); /* the substream we opened is still open */
  ps_session_send(s, &p);
  CHECK_INT(ps_stream_release(s, st), 0);
  /* the peer's unanswered request does not hold the close up */
  ev = EXPECT(s, CLOSED);
  CHECK_INT(ev.error, 0);
  CHECK(ps_session_state(s) & PS_STATE_CLOSED);
  CHECK_INT(ps_session_send(s, &p), PS_HEADER_SIZE);
  CHECK_MEM(p, goodbye, PS_HEADER_SIZE);
  EXPECT_NONE(s);
  CHECK_INT(ps_session_count(s, 1), 0);
  CHECK_INT(ps_respond(s, peer, 0, PS_TYPE_JSON, T("1")), PS_ERR_CLOSED);
  CHECK_INT(ps_session_close(s), PS_ERR_CLOSED);
  CHECK_INT(ps_message(s, PS_TYPE_STRING, T("x")), PS_ERR_CLOSED);
  /* after closing, input is ignored */
  recv_text(s, 0, PS_TYPE_STRING, 0, "late");
  EXPECT_NONE(s);
  ps_session_del(s);
}

static void close_with_nothing_open(void) {
  ps_session *s = new_session(PS_MODE_PACKET, 0);
  ps_event ev;
  CHECK_INT(ps_session_close(s), 0);
  ev = EXPECT(s, CLOSED);
  CHECK_INT(ev.error, 0);
  EXPECT_NONE(s);
  CHECK_INT(ps_session_close(s), PS_ERR_CLOSED);
  /* packet mode frames nothing */
  CHECK_INT(ps_session_pending(s), 0);
  ps_session_del(s);
}

/* destroy: our requests, then the peer's substreams, then ours, each in the
   order they were opened, then CLOSED. */
static void destroy_cascade(void) {
  ps_session *s = new_session(PS_MODE_WIRE, 0);
  uint32_t r1, r2, o1, o2, i1;
  ps_event ev;
  const uint8_t *p;
  CHECK_INT(ps_stream_open(s, &o1), 1);
  CHECK_INT(ps_request(s, PS_TYPE_JSON, T("1"), &r1), 2);
  recv_text(s, PS_FLAG_STREAM, PS_TYPE_JSON, 1, "1");
  i1 = EXPECT(s, STREAM_DATA).slot;
  CHECK_INT(ps_stream_open(s, &o2), 3);
  CHECK_INT(ps_request(s, PS_TYPE_JSON, T("1"), &r2), 4);
  ps_session_send(s, &p);
  CHECK(!(ps_session_state(s) & PS_STATE_CLOSE_DUE));
  CHECK_INT(ps_session_destroy(s, PS_ERR_TRANSPORT), 0);
  /* CLOSED is due all through the aborts */
  CHECK(ps_session_state(s) & PS_STATE_CLOSE_DUE);
  CHECK_INT(ps_session_destroy(s, 0), 0); /* again: nothing changes */
  CHECK_INT(ps_session_destroy(s, 1), PS_ERR_INVALID_ARGUMENT);
  CHECK(ps_session_state(s) & PS_STATE_ENDED);
  ev = EXPECT(s, REQUEST_ABORTED);
  CHECK_INT(ev.slot, r1);
  CHECK_INT(ev.req, 2);
  CHECK_INT(ev.error, PS_ERR_TRANSPORT);
  ev = EXPECT(s, REQUEST_ABORTED);
  CHECK_INT(ev.slot, r2);
  ev = EXPECT(s, STREAM_ABORTED);
  CHECK_INT(ev.slot, i1);
  CHECK_INT(ev.req, -1); /* packet-stream's id: the peer's number negated */
  CHECK_INT(ev.flags, PS_EVF_RELEASED);
  /* still there until the next poll */
  CHECK_INT(ps_session_count(s, 3), 1);
  CHECK(ps_session_state(s) & PS_STATE_CLOSE_DUE);
  ev = EXPECT(s, STREAM_ABORTED);
  CHECK_INT(ev.slot, o1);
  CHECK_INT(ps_session_count(s, 3), 0);
  ev = EXPECT(s, STREAM_ABORTED);
  CHECK_INT(ev.slot, o2);
  CHECK_INT(ev.error, PS_ERR_TRANSPORT);
  /* the host may release an aborting substream itself */
  CHECK_INT(ps_stream_release(s, o2), 0);
  CHECK(ps_session_state(s) & PS_STATE_CLOSE_DUE);
  ev = EXPECT(s, CLOSED);
  CHECK_INT(ev.error, PS_ERR_TRANSPORT);
  CHECK(!(ps_session_state(s) & PS_STATE_CLOSE_DUE));
  EXPECT_NONE(s);
  CHECK_INT(ps_session_pending(s), 0); /* no goodbye after an error */
  CHECK_INT(ps_session_count(s, 0) + ps_session_count(s, 2), 0);
  /* input after the end is ignored; wire commands are refused */
  recv_text(s, 0, PS_TYPE_STRING, 0, "late");
  EXPECT_NONE(s);
  CHECK_INT(ps_message(s, PS_TYPE_STRING, T("x")), PS_ERR_CLOSED);
  CHECK_INT(ps_request(s, PS_TYPE_STRING, T("x"), &r1), PS_ERR_CLOSING);
  ps_session_del(s);
}

/* The peer's goodbye: with nothing open a clean close and our goodbye back;
   with something open every one hears "unexpected end", and no goodbye. */
static void peer_goodbye(void) {
  static const uint8_t bye[PS_HEADER_SIZE] = {0};
  ps_session *s = new_session(PS_MODE_WIRE, 0);
  ps_event ev;
  const uint8_t *p;
  uint32_t slot;
  CHECK_INT(ps_session_recv(s, bye, PS_HEADER_SIZE), PS_HEADER_SIZE);
  ev = EXPECT(s, CLOSED);
  CHECK_INT(ev.error, 0);
  CHECK_INT(ps_session_send(s, &p), PS_HEADER_SIZE);
  CHECK(ps_session_state(s) & PS_STATE_GOODBYE);
  /* what follows is consumed unread, at most PS_MAX_BYTES a call so that
     the count stays positive */
  CHECK_INT(ps_session_recv(s, bye, 0xFFFFFC79u), PS_MAX_BYTES);
  ps_session_del(s);

  s = new_session(PS_MODE_WIRE, 0);
  CHECK_INT(ps_request(s, PS_TYPE_JSON, T("1"), &slot), 1);
  ps_session_send(s, &p);
  CHECK_INT(ps_session_recv(s, bye, PS_HEADER_SIZE), PS_HEADER_SIZE);
  ev = EXPECT(s, REQUEST_ABORTED);
  CHECK_INT(ev.error, PS_ERR_UNEXPECTED_END);
  ev = EXPECT(s, CLOSED);
  CHECK_INT(ev.error, PS_ERR_UNEXPECTED_END);
  CHECK_INT(ps_session_pending(s), 0);
  ps_session_del(s);
}

static void transport_end(void) {
  ps_session *s = new_session(PS_MODE_WIRE, 0);
  ps_event ev;
  uint32_t slot;
  CHECK_INT(ps_session_recv_end(s, 5), PS_ERR_INVALID_ARGUMENT);
  CHECK_INT(ps_stream_open(s, &slot), 1);
  CHECK_INT(ps_session_recv_end(s, PS_ERR_TRANSPORT), 0);
  ev = EXPECT(s, STREAM_ABORTED);
  CHECK_INT(ev.error, PS_ERR_TRANSPORT);
  ev = EXPECT(s, CLOSED);
  CHECK_INT(ev.error, PS_ERR_TRANSPORT);
  CHECK_INT(ps_session_recv_end(s, 0), 0); /* twice: nothing */
  EXPECT_NONE(s);
  ps_session_del(s);
  /* a clean end with nothing open and nothing half-read */
  s = new_session(PS_MODE_WIRE, 0);
  CHECK_INT(ps_session_recv_end(s, 0), 0);
  ev = EXPECT(s, CLOSED);
  CHECK_INT(ev.error, 0);
  ps_session_del(s);
}

static void limits_local(void) {
  ps_limits lim;
  ps_session *s;
  uint32_t slot, i;
  uint8_t big[65];
  ps_limits_default(&lim);
  lim.max_requests = 3;
  lim.max_streams = 2;
  lim.max_frame = 64;
  s = new_session_limits(PS_MODE_WIRE, 0, &lim);
  memset(big, 'a', sizeof big);
  for (i = 0; i < 3; i++) CHECK(ps_request(s, PS_TYPE_JSON, T("1"), &slot) > 0);
  CHECK_INT(ps_request(s, PS_TYPE_JSON, T("1"), &slot), PS_ERR_REQUEST_LIMIT);
  CHECK(ps_stream_open(s, &slot) > 0);
  CHECK(ps_stream_open(s, &slot) > 0);
  CHECK_INT(ps_stream_open(s, &slot), PS_ERR_STREAM_LIMIT);
  /* a body over the frame limit is refused; the session goes on */
  CHECK_INT(ps_message(s, PS_TYPE_STRING, big, 65), PS_ERR_FRAME_TOO_LARGE);
  CHECK_INT(ps_stream_write(s, slot, PS_TYPE_STRING, big, 65),
            PS_ERR_FRAME_TOO_LARGE);
  CHECK_INT(ps_message(s, PS_TYPE_STRING, big, 64), 0);
  CHECK(ps_session_body(s, 65) == NULL);
  CHECK(!(ps_session_state(s) & PS_STATE_ENDED));
  /* the request refused for its size took no number and no slot */
  ps_session_del(s);
  s = new_session_limits(PS_MODE_WIRE, 0, &lim);
  CHECK_INT(ps_request(s, PS_TYPE_STRING, big, 65, &slot),
            PS_ERR_FRAME_TOO_LARGE);
  CHECK_INT(ps_session_count(s, 0), 0);
  CHECK_INT(ps_request(s, PS_TYPE_STRING, big, 1, &slot), 1);
  ps_session_del(s);
}

static void limits_peer(void) {
  ps_limits lim;
  ps_session *s;
  ps_event ev;
  uint8_t buf[64];
  uint32_t n;
  int i;
  ps_limits_default(&lim);
  lim.max_requests = 2;
  lim.max_streams = 2;
  s = new_session_limits(PS_MODE_WIRE, 0, &lim);
  recv_text(s, 0, PS_TYPE_JSON, 1, "1");
  EXPECT(s, REQUEST);
  recv_text(s, 0, PS_TYPE_JSON, 2, "1");
  EXPECT(s, REQUEST);
  n = put_text(buf, 0, PS_TYPE_JSON, 3, "1");
  CHECK_INT(ps_session_recv(s, buf, n), PS_ERR_PEER_REQUEST_LIMIT);
  /* the peer's requests are forgotten: only the error and its
     consequences remain */
  ev = EXPECT(s, ERROR);
  CHECK_INT(ev.error, PS_ERR_PEER_REQUEST_LIMIT);
  EXPECT(s, CLOSED);
  ps_session_del(s);

  /* the same in packet mode, which takes requests on a shorter path */
  s = new_session_limits(PS_MODE_PACKET, 0, &lim);
  CHECK_INT(ps_session_recv_packet(s, 1, 0) & PS_PACK_TYPE_MASK, PS_EV_REQUEST);
  CHECK_INT(ps_session_recv_packet(s, 2, 0) & PS_PACK_TYPE_MASK, PS_EV_REQUEST);
  CHECK_INT(ps_session_recv_packet(s, 3, 0), PS_ERR_PEER_REQUEST_LIMIT);
  ev = EXPECT(s, ERROR);
  CHECK_INT(ev.error, PS_ERR_PEER_REQUEST_LIMIT);
  EXPECT(s, CLOSED);
  ps_session_del(s);

  s = new_session_limits(PS_MODE_WIRE, 0, &lim);
  for (i = 1; i <= 2; i++) {
    recv_text(s, PS_FLAG_STREAM, PS_TYPE_JSON, i, "1");
    EXPECT(s, STREAM_DATA);
  }
  /* more data on an open one is fine */
  recv_text(s, PS_FLAG_STREAM, PS_TYPE_JSON, 2, "1");
  EXPECT(s, STREAM_DATA);
  n = put_text(buf, PS_FLAG_STREAM, PS_TYPE_JSON, 3, "1");
  CHECK_INT(ps_session_recv(s, buf, n), PS_ERR_PEER_STREAM_LIMIT);
  ev = EXPECT(s, ERROR);
  CHECK_INT(ev.error, PS_ERR_PEER_STREAM_LIMIT);
  ev = EXPECT(s, STREAM_ABORTED);
  CHECK_INT(ev.error, PS_ERR_PEER_STREAM_LIMIT);
  EXPECT(s, STREAM_ABORTED);
  EXPECT(s, CLOSED);
  ps_session_del(s);
}

/* A peer that never reads: what we owe it piles up to the limit, then the
   session ends with a clear error instead of growing. */
static void limit_outbuf(void) {
  ps_limits lim;
  ps_session *s;
  ps_event ev;
  int i, rv = 0;
  ps_limits_default(&lim);
  lim.max_outbuf = 1000;
  s = new_session_limits(PS_MODE_WIRE, 0, &lim);
  for (i = 1; i < 1000 && rv == 0; i++) {
    recv_text(s, 0, PS_TYPE_JSON, i, "1");
    ev = EXPECT(s, REQUEST);
    rv = ps_respond(s, ev.slot, 0, PS_TYPE_STRING, T("some answer bytes"));
  }
  CHECK_INT(rv, PS_ERR_OUTBUF_LIMIT);
  CHECK(ps_session_pending(s) <= 1000);
  CHECK(i < 50);
  ev = EXPECT(s, ERROR);
  CHECK_INT(ev.error, PS_ERR_OUTBUF_LIMIT);
  EXPECT(s, CLOSED);
  CHECK(ps_session_state(s) & PS_STATE_CLOSED);
  /* taking the bytes does not revive it */
  {
    const uint8_t *p;
    ps_session_send(s, &p);
  }
  CHECK_INT(ps_message(s, PS_TYPE_STRING, T("x")), PS_ERR_OUTBUF_LIMIT);
  ps_session_del(s);

  /* a host that takes what is framed can send far more than the limit */
  s = new_session_limits(PS_MODE_WIRE, 0, &lim);
  for (i = 0; i < 10000; i++) {
    const uint8_t *p;
    CHECK(ps_message(s, PS_TYPE_STRING, T("0123456789")) == 0 || (i = 10000));
    if (i % 10 == 0) ps_session_send(s, &p);
  }
  CHECK(!(ps_session_state(s) & PS_STATE_ENDED));
  ps_session_del(s);
}

/* A short write: the host hands back what the transport did not take, and
   gets it again first, then what was framed since. */
static void short_writes(void) {
  ps_limits lim;
  ps_session *s;
  const uint8_t *p;
  uint8_t want[64];
  uint32_t n, m;
  ps_limits_default(&lim);
  lim.max_outbuf = 40;
  s = new_session_limits(PS_MODE_WIRE, 0, &lim);
  n = put_text(want, 0, PS_TYPE_STRING, 0, "first");
  n += put_text(want + n, 0, PS_TYPE_STRING, 0, "second");
  CHECK_INT(ps_message(s, PS_TYPE_STRING, T("first")), 0);
  CHECK_INT(ps_message(s, PS_TYPE_STRING, T("second")), 0);
  CHECK_INT(ps_session_send(s, &p), (int32_t)n);
  CHECK_INT(ps_session_sent(s, n + 1), PS_ERR_INVALID_ARGUMENT);
  CHECK_INT(ps_session_pending(s), 0);
  CHECK_INT(ps_session_sent(s, 3), 0);
  CHECK_INT(ps_session_pending(s), n - 3);
  /* handed back, they count against max_outbuf again: beside 26 of them
     a frame of 6 bytes of body does not fit 40 */
  CHECK(ps_session_body(s, 6) == NULL);
  CHECK_INT(ps_session_send(s, &p), (int32_t)(n - 3));
  CHECK_MEM(p, want + 3, n - 3);
  CHECK_INT(ps_session_sent(s, 10), 0);
  CHECK_INT(ps_message(s, PS_TYPE_STRING, T("third")), 0);
  m = put_text(want + n, 0, PS_TYPE_STRING, 0, "third");
  /* a command came between: the last take can no longer be handed back */
  CHECK_INT(ps_session_sent(s, 1), PS_ERR_INVALID_ARGUMENT);
  CHECK_INT(ps_session_send(s, &p), (int32_t)(n - 13 + m));
  CHECK_MEM(p, want + 13, n - 13 + m);
  CHECK_INT(ps_session_sent(s, n - 13 + m), 0); /* all taken: no change */
  CHECK_INT(ps_session_send(s, &p), 0);
  CHECK_INT(ps_session_sent(s, 0), 0);
  ps_session_del(s);
  s = new_session(PS_MODE_PACKET, 0);
  CHECK_INT(ps_session_sent(s, 0), PS_ERR_WRONG_MODE);
  ps_session_del(s);
}

/* One large frame does not keep its buffer with the session: it is let go
   when the host next sends (or frames), once all of it went. */
static void output_buffer_let_go(void) {
  ps_session *s = new_session(PS_MODE_WIRE, 0);
  uint32_t idle, big = 3u << 20;
  uint8_t *body;
  const uint8_t *p;
  idle = ps_session_memory(s);
  body = ps_session_body(s, big);
  CHECK(body != NULL);
  memset(body, 'x', big);
  CHECK_INT(ps_message(s, PS_TYPE_BINARY, body, big), 0);
  CHECK(ps_session_memory(s) >= idle + big);
  CHECK_INT(ps_session_send(s, &p), (int32_t)(PS_HEADER_SIZE + big));
  CHECK_INT(p[PS_HEADER_SIZE + big - 1], 'x'); /* valid until the next call */
  CHECK_INT(ps_session_send(s, &p), 0);
  CHECK(ps_session_memory(s) <= idle + PS_KEEP_OUTPUT);
  /* handed back in part, it is kept until all of it went */
  body = ps_session_body(s, big);
  CHECK(body != NULL);
  memset(body, 'y', big);
  CHECK_INT(ps_message(s, PS_TYPE_BINARY, body, big), 0);
  CHECK_INT(ps_session_send(s, &p), (int32_t)(PS_HEADER_SIZE + big));
  CHECK_INT(ps_session_sent(s, 100), 0);
  CHECK_INT(ps_message(s, PS_TYPE_STRING, T("after")), 0);
  CHECK(ps_session_memory(s) >= idle + big);
  CHECK_INT(ps_session_send(s, &p),
            (int32_t)(big - 100 + PS_HEADER_SIZE * 2 + 5));
  CHECK_INT(p[0], 'y');
  CHECK_MEM(p + big - 100 + PS_HEADER_SIZE * 2, "after", 5);
  CHECK_INT(ps_message(s, PS_TYPE_STRING, T("small")), 0);
  CHECK(ps_session_memory(s) <= idle + PS_KEEP_OUTPUT);
  EXPECT_SENT(s, 0, PS_TYPE_STRING, 0, "small");
  ps_session_del(s);
}

/* A body written where ps_session_body points is framed without a copy. */
static void body_in_place_framing(void) {
  ps_session *s = new_session(PS_MODE_WIRE, 0);
  uint8_t *body;
  uint32_t slot;
  body = ps_session_body(s, 100);
  CHECK(body != NULL);
  memcpy(body, "{\"x\":1}", 7);
  CHECK_INT(ps_message(s, PS_TYPE_JSON, body, 7), 0);
  EXPECT_SENT(s, 0, PS_TYPE_JSON, 0, "{\"x\":1}");
  CHECK_INT(ps_stream_open(s, &slot), 1);
  CHECK_INT(ps_message(s, PS_TYPE_STRING, T("before")), 0);
  body = ps_session_body(s, 3);
  memcpy(body, "abc", 3);
  CHECK_INT(ps_stream_write(s, slot, PS_TYPE_STRING, body, 3), 0);
  {
    uint8_t want[64];
    uint32_t n = put_text(want, 0, PS_TYPE_STRING, 0, "before");
    const uint8_t *p;
    n += put_text(want + n, PS_FLAG_STREAM, PS_TYPE_STRING, 1, "abc");
    CHECK_INT(ps_session_send(s, &p), (int32_t)n);
    CHECK_MEM(p, want, n);
  }
  ps_session_del(s);
  /* the bytes before a placed body may be sent before the command frames
     it, also when they are many: the buffer is kept for the body */
  s = new_session(PS_MODE_WIRE, 0);
  {
    static uint8_t big[200000];
    const uint8_t *p;
    CHECK_INT(ps_message(s, PS_TYPE_BINARY, big, sizeof big), 0);
    body = ps_session_body(s, 5);
    memcpy(body, "after", 5);
    CHECK_INT(ps_session_send(s, &p), PS_HEADER_SIZE + (int32_t)sizeof big);
    CHECK_INT(ps_message(s, PS_TYPE_STRING, body, 5), 0);
    EXPECT_SENT(s, 0, PS_TYPE_STRING, 0, "after");
    /* a large place survives sends with nothing framed, and sends of
       everything framed before it */
    body = ps_session_body(s, sizeof big);
    memset(body, 'p', sizeof big);
    CHECK_INT(ps_session_send(s, &p), 0);
    CHECK_INT(ps_message(s, PS_TYPE_BINARY, body, sizeof big), 0);
    CHECK_INT(ps_message(s, PS_TYPE_BINARY, big, sizeof big), 0);
    body = ps_session_body(s, sizeof big);
    memset(body, 'q', sizeof big);
    CHECK_INT(ps_session_send(s, &p),
              2 * (PS_HEADER_SIZE + (int32_t)sizeof big));
    CHECK_INT(ps_session_send(s, &p), 0);
    CHECK_INT(ps_message(s, PS_TYPE_BINARY, body, sizeof big), 0);
    CHECK_INT(ps_session_send(s, &p), PS_HEADER_SIZE + (int32_t)sizeof big);
    CHECK_INT(p[PS_HEADER_SIZE], 'q');
    CHECK_INT(p[PS_HEADER_SIZE + sizeof big - 1], 'q');
    /* the body just handed out, framed again by the next call: the buffer
       is kept for it */
    CHECK_INT(ps_message(s, PS_TYPE_BINARY, p + PS_HEADER_SIZE, sizeof big), 0);
    CHECK_INT(ps_session_send(s, &p), PS_HEADER_SIZE + (int32_t)sizeof big);
    CHECK_INT(p[PS_HEADER_SIZE], 'q');
    CHECK_INT(p[PS_HEADER_SIZE + sizeof big - 1], 'q');
  }
  ps_session_del(s);
  s = new_session(PS_MODE_PACKET, 0);
  CHECK(ps_session_body(s, 1) == NULL);
  ps_session_del(s);
}

static void packet_mode(void) {
  ps_session *s = new_session(PS_MODE_PACKET, 0);
  int32_t r;
  uint32_t slot;
  const uint8_t *p;
  ps_event ev;
  CHECK_INT(ps_session_recv(s, (const uint8_t *)"x", 1), PS_ERR_WRONG_MODE);
  CHECK_INT(ps_session_send(s, &p), PS_ERR_WRONG_MODE);
  r = ps_session_recv_packet(s, 0, 0);
  CHECK_INT(r & PS_PACK_TYPE_MASK, PS_EV_MESSAGE);
  r = ps_session_recv_packet(s, 4, 0);
  CHECK_INT(r & PS_PACK_TYPE_MASK, PS_EV_REQUEST);
  slot = (uint32_t)r >> PS_PACK_SLOT_SHIFT;
  CHECK_INT(ps_respond(s, slot, 0, 0, NULL, 0), 0);
  r = ps_session_recv_packet(s, 6, PS_FLAG_STREAM);
  CHECK_INT(r & PS_PACK_TYPE_MASK, PS_EV_STREAM_DATA);
  CHECK(r & PS_PACK_OPENED);
  slot = (uint32_t)r >> PS_PACK_SLOT_SHIFT;
  CHECK_INT(ps_stream_end(s, slot, 0, NULL, 0), 0);
  r = ps_session_recv_packet(s, 6, PS_FLAG_STREAM | PS_FLAG_END);
  CHECK_INT(r & PS_PACK_TYPE_MASK, PS_EV_STREAM_END);
  CHECK(r & PS_PACK_RELEASED);
  CHECK(!(r & PS_PACK_OPENED));
  CHECK(!(r & PS_PACK_MORE));
  /* the packed event is not polled a second time */
  EXPECT_NONE(s);
  CHECK_INT(ps_request(s, 0, NULL, 0, &slot), 1);
  CHECK_INT(ps_session_close(s), 0);
  r = ps_session_recv_packet(s, -1, PS_FLAG_END);
  CHECK_INT(r & PS_PACK_TYPE_MASK, PS_EV_RESPONSE);
  CHECK_INT((uint32_t)r >> PS_PACK_SLOT_SHIFT, slot);
  CHECK(r & PS_PACK_MORE); /* the close is due */
  ev = EXPECT(s, CLOSED);
  CHECK_INT(ev.error, 0);
  CHECK_INT(ps_session_recv_packet(s, 0, 0), PS_EV_NONE);
  ps_session_del(s);

  /* a peer's request after a close with nothing of ours open: the close is
     still due, and the request says so */
  s = new_session(PS_MODE_PACKET, PS_OPT_COMPAT);
  CHECK_INT(ps_session_close(s), 0);
  r = ps_session_recv_packet(s, 1, 0);
  CHECK_INT(r & PS_PACK_TYPE_MASK, PS_EV_REQUEST);
  CHECK(r & PS_PACK_MORE);
  EXPECT(s, CLOSED);
  ps_session_del(s);
}

/* Packet mode: the host sends the end after ps_stream_end, so a finished
   substream stays until the host releases it; state bits and lookups. */
static void packet_mode_finishing(void) {
  ps_session *s = new_session(PS_MODE_PACKET, PS_OPT_COMPAT);
  uint32_t slot, in;
  int32_t r;
  CHECK(ps_session_state(s) & PS_STATE_IDLE);
  CHECK_INT(ps_stream_open(s, &slot), 1);
  CHECK(!(ps_session_state(s) & PS_STATE_IDLE));
  CHECK_INT(ps_session_find(s, 1), slot);
  CHECK_INT(ps_session_find(s, -1), PS_NO_SLOT);
  r = ps_session_recv_packet(s, -1, PS_FLAG_STREAM | PS_FLAG_END);
  CHECK_INT(r & PS_PACK_TYPE_MASK, PS_EV_STREAM_END);
  CHECK(!(r & PS_PACK_RELEASED));
  CHECK_INT(ps_stream_end(s, slot, 0, NULL, 0), 1); /* finished... */
  CHECK_INT(ps_session_count(s, 2), 1);             /* ...not released */
  CHECK_INT(ps_session_find(s, 1), slot);
  CHECK_INT(ps_stream_release(s, slot), 0);
  CHECK_INT(ps_session_find(s, 1), PS_NO_SLOT);
  /* the peer's substreams are found by their negated number */
  r = ps_session_recv_packet(s, 7, PS_FLAG_STREAM);
  in = (uint32_t)r >> PS_PACK_SLOT_SHIFT;
  CHECK_INT(ps_session_find(s, -7), in);
  CHECK_INT(ps_session_close(s), 0);
  CHECK(!(ps_session_state(s) & PS_STATE_CLOSE_DUE));
  CHECK_INT(ps_stream_release(s, in), 0);
  CHECK(ps_session_state(s) & PS_STATE_IDLE);
  CHECK(ps_session_state(s) & PS_STATE_CLOSE_DUE);
  EXPECT(s, CLOSED);
  CHECK(!(ps_session_state(s) & PS_STATE_CLOSE_DUE));
  ps_session_del(s);
}

/* A slot released by an input is not handed out again before the event
   that says so has been polled, nor is one that a command releases while
   the waiting event names it: a command between a recv and its poll must
   not be given the number that the host is about to hear about. */
static void slots_held_until_polled(void) {
  ps_session *s = new_session(PS_MODE_WIRE, 0);
  ps_event ev;
  uint32_t a, b, st, st2;
  int32_t id, id2, sid;
  const uint8_t *p;
  /* the answer to request a waits; a new request gets another slot */
  id = ps_request(s, PS_TYPE_JSON, T("1"), &a);
  CHECK(id > 0);
  CHECK(ps_session_send(s, &p) > 0);
  recv_text(s, 0, PS_TYPE_JSON, -id, "2");
  id2 = ps_request(s, PS_TYPE_JSON, T("3"), &b);
  CHECK(id2 > 0);
  CHECK(b != a);
  ev = EXPECT(s, RESPONSE);
  CHECK_INT(ev.slot, a);
  CHECK(ev.flags & PS_EVF_RELEASED);
  /* once polled the number comes back; b is still request id2 */
  CHECK_INT(ps_session_find(s, id2), b);
  recv_text(s, 0, PS_TYPE_JSON, -id2, "4");
  ev = EXPECT(s, RESPONSE);
  CHECK_INT(ev.slot, b);
  CHECK_INT(ev.req, -id2);
  /* a substream finished by the peer's end, which waits: the same */
  sid = ps_stream_open(s, &st);
  CHECK(sid > 0);
  CHECK_INT(ps_stream_end(s, st, PS_TYPE_JSON, T("true")), 0);
  recv_text(s, PS_FLAG_STREAM | PS_FLAG_END, PS_TYPE_JSON, -sid, "true");
  CHECK(ps_stream_open(s, &st2) > 0);
  CHECK(st2 != st);
  ev = EXPECT(s, STREAM_END);
  CHECK_INT(ev.slot, st);
  CHECK(ev.flags & PS_EVF_RELEASED);
  CHECK_INT(ps_stream_release(s, st2), 0);
  /* our end releases a substream whose peer's end waits to be polled: the
     event still names it, and the number is not reused before the poll */
  sid = ps_stream_open(s, &st);
  CHECK(sid > 0);
  CHECK_INT(ps_stream_write(s, st, PS_TYPE_JSON, T("1")), 0);
  recv_text(s, PS_FLAG_STREAM | PS_FLAG_END, PS_TYPE_JSON, -sid, "true");
  CHECK_INT(ps_stream_end(s, st, PS_TYPE_JSON, T("true")), 1);
  CHECK_INT(ps_stream_write(s, st, PS_TYPE_JSON, T("1")), PS_ERR_UNKNOWN_SLOT);
  CHECK(ps_stream_open(s, &st2) > 0);
  CHECK(st2 != st);
  CHECK(ps_request(s, PS_TYPE_JSON, T("5"), &b) > 0);
  CHECK(b != st);
  ev = EXPECT(s, STREAM_END);
  CHECK_INT(ev.slot, st);
  CHECK_INT(ev.req, -sid);
  EXPECT_NONE(s);
  /* and after the poll it is handed out again */
  CHECK(ps_stream_open(s, &st2) > 0);
  CHECK_INT(st2, st);
  ps_session_del(s);
}

/* After a fatal error every input and command returns it. */
static void fatal_is_sticky(void) {
  ps_session *s = new_session(PS_MODE_WIRE, 0);
  uint8_t buf[32];
  uint32_t n = put_text(buf, 0, 3, 1, "x"), slot;
  CHECK_INT(ps_stream_open(s, &slot), 1);
  CHECK_INT(ps_session_recv(s, buf, n), PS_ERR_BAD_TYPE);
  CHECK_INT(ps_session_recv(s, buf, n), PS_ERR_BAD_TYPE);
  CHECK_INT(ps_message(s, 0, T("x")), PS_ERR_BAD_TYPE);
  CHECK_INT(ps_request(s, 0, T("x"), &slot), PS_ERR_BAD_TYPE);
  CHECK_INT(ps_stream_open(s, &slot), PS_ERR_BAD_TYPE);
  CHECK_INT(ps_stream_write(s, slot, 0, T("x")), PS_ERR_BAD_TYPE);
  CHECK_INT(ps_stream_end(s, slot, 0, T("x")), PS_ERR_BAD_TYPE);
  CHECK_INT(ps_respond(s, 0, 0, 0, T("x")), PS_ERR_BAD_TYPE);
  EXPECT(s, ERROR);
  EXPECT(s, STREAM_ABORTED);
  EXPECT(s, CLOSED);
  EXPECT_NONE(s);
  ps_session_del(s);
}

/* Memory per open substream, as documented in ps.h. */
static void memory_per_open(void) {
  ps_session *s = new_session(PS_MODE_PACKET, 0);
  uint32_t base = ps_session_memory(s), slot, i, n = 100000;
  for (i = 0; i < n; i++) CHECK(ps_stream_open(s, &slot) > 0 || (i = n));
  fprintf(stderr, "  session: %u bytes per open substream at %u\n",
          (ps_session_memory(s) - base) / n, n);
  CHECK((ps_session_memory(s) - base) / n <= 48);
  ps_session_del(s);
  s = new_session(PS_MODE_PACKET, 0);
  base = ps_session_memory(s);
  for (i = 0; i < n; i++)
    CHECK(ps_request(s, 0, NULL, 0, &slot) > 0 || (i = n));
  fprintf(stderr, "  session: %u bytes per open request at %u\n",
          (ps_session_memory(s) - base) / n, n);
  CHECK((ps_session_memory(s) - base) / n <= 48);
  ps_session_del(s);
}

void suite_session(void) {
  RUN(strerror_all);
  RUN(new_rejects_bad_arguments);
  RUN(messages);
  RUN(requests_and_responses);
  RUN(serving_requests);
  RUN(substreams_we_open);
  RUN(substreams_the_peer_opens);
  RUN(stray_stream_packets);
  RUN(compat_mode);
  RUN(graceful_close);
  RUN(close_with_nothing_open);
  RUN(destroy_cascade);
  RUN(peer_goodbye);
  RUN(transport_end);
  RUN(limits_local);
  RUN(limits_peer);
  RUN(limit_outbuf);
  RUN(short_writes);
  RUN(output_buffer_let_go);
  RUN(body_in_place_framing);
  RUN(packet_mode);
  RUN(packet_mode_finishing);
  RUN(slots_held_until_polled);
  RUN(fatal_is_sticky);
  RUN(memory_per_open);
}
