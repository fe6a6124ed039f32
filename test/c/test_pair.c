/* Two sessions wired back to back in one process: messages, requests,
   errors and 10,000 concurrent interleaved substreams; the same exchange
   replayed at every split point. */
#include <stdlib.h>

#include "pair.h"
#include "test.h"

/* The server side answers requests with their own value ("fail" gets an
   error), echoes substreams, and logs messages. */
static void serve(peer *p, const ps_event *ev) {
  int32_t rv = 0;
  switch (ev->type) {
    case PS_EV_REQUEST:
      if (ev->len == 6 && memcmp(ev->data, "\"fail\"", 6) == 0)
        rv = ps_respond(
            p->s, ev->slot, PS_FLAG_END, PS_TYPE_JSON,
            (const uint8_t *)"{\"message\":\"failed\",\"name\":\"Error\"}", 35);
      else
        rv = ps_respond(p->s, ev->slot, 0, ev->body_type, ev->data, ev->len);
      break;
    case PS_EV_STREAM_DATA:
      rv = ps_stream_write(p->s, ev->slot, ev->body_type, ev->data, ev->len);
      break;
    case PS_EV_STREAM_END:
      rv = ps_stream_end(p->s, ev->slot, ev->body_type, ev->data, ev->len);
      if (rv == 1) rv = 0;
      break;
    case PS_EV_MESSAGE:
      p->messages++;
      break;
    default:
      break;
  }
  if (rv < 0) p->errors++;
}

/* The client side counts what comes back, per substream slot. */
static void client(peer *p, const ps_event *ev) {
  switch (ev->type) {
    case PS_EV_RESPONSE:
      if (ev->flags & PS_FLAG_END)
        p->error_responses++;
      else
        p->responses++;
      break;
    case PS_EV_STREAM_DATA: {
      uint32_t i;
      /* items are 4-byte big-endian sequence numbers */
      if (ev->len == 4) {
        i = (uint32_t)ev->data[0] << 24 | (uint32_t)ev->data[1] << 16 |
            (uint32_t)ev->data[2] << 8 | ev->data[3];
        if (i != p->seen[ev->slot]) p->errors++;
      } else {
        p->errors++;
      }
      p->seen[ev->slot]++;
      break;
    }
    case PS_EV_STREAM_END:
      p->ended++;
      if (!(ev->flags & PS_EVF_RELEASED)) p->errors++;
      break;
    case PS_EV_CLOSED:
      p->closed++;
      break;
    default:
      break;
  }
}

static void messages_requests_errors(void) {
  peer a, b;
  uint32_t slot;
  int i;
  peer_init(&a, PS_MODE_WIRE, client, 0);
  peer_init(&b, PS_MODE_WIRE, serve, 0);
  for (i = 0; i < 100; i++) {
    CHECK_INT(ps_message(a.s, PS_TYPE_STRING, (const uint8_t *)"hi", 2), 0);
    CHECK(ps_request(a.s, PS_TYPE_JSON, (const uint8_t *)"{\"n\":1}", 7,
                     &slot) > 0);
    CHECK(ps_request(a.s, PS_TYPE_JSON, (const uint8_t *)"\"fail\"", 6, &slot) >
          0);
  }
  pump(&a, &b, 0);
  CHECK_INT(b.messages, 100);
  CHECK_INT(a.responses, 100);
  CHECK_INT(a.error_responses, 100);
  CHECK_INT(a.errors + b.errors, 0);
  CHECK_INT(ps_session_count(a.s, 0), 0);
  CHECK_INT(ps_session_count(b.s, 1), 0);
  /* close: A's goodbye reaches B, B answers with its own */
  CHECK_INT(ps_session_close(a.s), 0);
  pump(&a, &b, 0);
  CHECK_INT(a.closed, 1);
  CHECK(ps_session_state(b.s) & PS_STATE_CLOSED);
  CHECK(ps_session_state(a.s) & PS_STATE_GOODBYE);
  peer_free(&a);
  peer_free(&b);
}

#define STREAMS 10000
#define ITEMS 5

static void ten_thousand_substreams(void) {
  peer a, b;
  static uint32_t slots[STREAMS];
  uint32_t i, r;
  peer_init(&a, PS_MODE_WIRE, client, 0);
  peer_init(&b, PS_MODE_WIRE, serve, 0);
  for (i = 0; i < STREAMS; i++)
    CHECK(ps_stream_open(a.s, &slots[i]) > 0 || (i = STREAMS));
  CHECK_INT(ps_session_count(a.s, 2), STREAMS);
  /* round-robin: every substream's r-th item before any (r+1)-th */
  for (r = 0; r < ITEMS; r++) {
    for (i = 0; i < STREAMS; i++) {
      uint8_t item[4] = {(uint8_t)(r >> 24), (uint8_t)(r >> 16),
                         (uint8_t)(r >> 8), (uint8_t)r};
      if (ps_stream_write(a.s, slots[i], PS_TYPE_BINARY, item, 4) != 0)
        a.errors++;
      if (i % 1000 == 999) pump(&a, &b, 7); /* interleave on the wire */
    }
  }
  CHECK_INT(ps_session_count(b.s, 3), STREAMS);
  for (i = 0; i < STREAMS; i++)
    if (ps_stream_end(a.s, slots[i], PS_TYPE_JSON, PS_TRUE_JSON,
                      PS_TRUE_JSON_LEN) != 0)
      a.errors++;
  pump(&a, &b, 4096);
  CHECK_INT(a.errors + b.errors, 0);
  CHECK_INT(a.ended, STREAMS);
  for (i = 0; i < STREAMS; i++) {
    if (a.seen[slots[i]] != ITEMS) {
      CHECK_INT(a.seen[slots[i]], ITEMS);
      break;
    }
  }
  CHECK_INT(ps_session_count(a.s, 2), 0);
  CHECK_INT(ps_session_count(b.s, 3), 0);
  CHECK_INT(ps_session_close(a.s), 0);
  CHECK_INT(ps_session_close(b.s), 0);
  pump(&a, &b, 0);
  CHECK_INT(a.closed, 1);
  CHECK(ps_session_state(b.s) & PS_STATE_CLOSED);
  peer_free(&a);
  peer_free(&b);
}

/* Packet mode: the host moves packets; the same state machine. */
static void packet_mode_pair(void) {
  ps_session *a = new_session(PS_MODE_PACKET, 0);
  ps_session *b = new_session(PS_MODE_PACKET, 0);
  uint32_t slot, bslot;
  int32_t id, r;
  id = ps_request(a, 0, NULL, 0, &slot);
  r = ps_session_recv_packet(b, id, 0);
  CHECK_INT(r & PS_PACK_TYPE_MASK, PS_EV_REQUEST);
  bslot = (uint32_t)r >> PS_PACK_SLOT_SHIFT;
  CHECK_INT(ps_respond(b, bslot, 0, 0, NULL, 0), 0);
  r = ps_session_recv_packet(a, -id, 0);
  CHECK_INT(r & PS_PACK_TYPE_MASK, PS_EV_RESPONSE);
  CHECK_INT((uint32_t)r >> PS_PACK_SLOT_SHIFT, slot);
  ps_session_del(a);
  ps_session_del(b);
}

/* One exchange, recorded as the bytes A sent; replayed into fresh B
   sessions whole, split at every point and byte by byte, B logs the same
   events and sends the same bytes. */
static void replay_every_split(void) {
  peer a, b;
  uint32_t slot, s2, n, split;
  uint8_t *wire;
  log_t whole, parts;
  peer_init(&a, PS_MODE_WIRE, client, 0);
  peer_init(&b, PS_MODE_WIRE, serve, 0);
  a.record = 1;
  CHECK(ps_request(a.s, PS_TYPE_JSON, (const uint8_t *)"[1,2]", 5, &slot) > 0);
  CHECK(ps_stream_open(a.s, &slot) > 0);
  CHECK(ps_stream_open(a.s, &s2) > 0);
  CHECK_INT(
      ps_stream_write(a.s, slot, PS_TYPE_STRING, (const uint8_t *)"abc", 3), 0);
  CHECK_INT(
      ps_stream_write(a.s, s2, PS_TYPE_BINARY, (const uint8_t *)"\0\1", 2), 0);
  CHECK_INT(ps_message(a.s, PS_TYPE_STRING, (const uint8_t *)"", 0), 0);
  CHECK(ps_request(a.s, PS_TYPE_JSON, (const uint8_t *)"\"fail\"", 6, &slot) >
        0);
  CHECK_INT(
      ps_stream_end(a.s, s2, PS_TYPE_JSON, PS_TRUE_JSON, PS_TRUE_JSON_LEN), 0);
  CHECK_INT(ps_session_close(a.s), 0);
  pump(&a, &b, 0);
  n = (uint32_t)a.recorded.len;
  wire = a.recorded.data;
  CHECK(n > 50);

  log_init(&whole);
  replay(wire, n, 0, 0, &whole, serve);
  CHECK(strstr(whole.text, "REQUEST") != NULL);
  CHECK(strstr(whole.text,
               "MESSAGE req=0 slot=8388607 flags=0 type=1 err=0 len=0 []") !=
        NULL);
  for (split = 1; split < n; split++) {
    log_init(&parts);
    replay(wire, n, split, 0, &parts, serve);
    CHECK_STR(parts.text, whole.text);
    log_free(&parts);
  }
  log_init(&parts);
  replay(wire, n, 0, 1, &parts, serve);
  CHECK_STR(parts.text, whole.text);
  log_free(&parts);
  log_free(&whole);
  peer_free(&a);
  peer_free(&b);
}

void suite_pair(void) {
  RUN(messages_requests_errors);
  RUN(ten_thousand_substreams);
  RUN(packet_mode_pair);
  RUN(replay_every_split);
}
