/*
 * ps_session.c: the packet-stream 2.0.6 state machine (index.js and
 * substream.js of the reference) over the tables of ps_table.c and, in wire
 * mode, the framing of ps_codec.c.
 */
#include <string.h>

#include "ps.h"
#include "ps_buf.h"
#include "ps_codec.h"
#include "ps_table.h"

struct ps_session {
  ps_alloc alloc;
  ps_limits limits;
  uint32_t mode;       /* PS_MODE_* */
  uint32_t options;    /* PS_OPT_* */
  uint32_t state;      /* PS_STATE_* */
  int32_t next_id;     /* our next request number */
  uint8_t ids_wrapped; /* next_id went past INT32_MAX: skip numbers in use */
  int32_t fatal;       /* sticky fatal code, 0 while healthy */

  /* destroy: the reason (0 for a clean end), whether the abort cascade is
     still running, how many it aborted (packet-stream's numended), and the
     aborted substream whose slot the next poll releases */
  uint8_t destroyed;
  uint8_t cascading;
  uint8_t error_pending; /* PS_EV_ERROR not yet polled */
  int32_t end_error;
  uint32_t aborted;
  uint32_t aborting_slot;

  ps_table table;
  ps_decoder decoder;
  ps_encoder encoder;

  int has_event; /* the event of the last packet, not yet polled */
  ps_event event;
  /* a slot that the waiting event names and that is released already: its
     number is handed out again only once the event has been */
  uint32_t held_slot;
};

static const char *const no_handler_body =
    "{\"message\":\"Unable to handle "
    "requests\",\"name\":\"NO_REQUEST_HANDLER\","
    "\"stack\":null}";

void ps_limits_default(ps_limits *limits) {
  limits->max_frame = PS_DEFAULT_MAX_FRAME;
  limits->max_requests = PS_DEFAULT_MAX_REQUESTS;
  limits->max_streams = PS_DEFAULT_MAX_STREAMS;
  limits->max_outbuf = PS_DEFAULT_MAX_OUTBUF;
}

const char *ps_strerror(int32_t code) {
  switch (code) {
#define PS_STRERROR_CASE_(name, value, message) \
  case PS_##name:                               \
    return message;
    PS_ERRORS(PS_STRERROR_CASE_)
#undef PS_STRERROR_CASE_
    default:
      return "unknown error";
  }
}

int ps_is_fatal(int32_t code) {
  return code <= -900;
}

/* ---- lifecycle ---------------------------------------------------------- */

int32_t ps_session_new(ps_session **out, uint32_t mode, uint32_t options,
                       const ps_limits *limits, const ps_mem *mem,
                       uint32_t hash_seed) {
  ps_alloc alloc;
  ps_limits lim;
  ps_session *s;
  if (out == NULL) return PS_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (mode != PS_MODE_WIRE && mode != PS_MODE_PACKET)
    return PS_ERR_INVALID_ARGUMENT;
  if (options & ~(uint32_t)PS_OPT_COMPAT) return PS_ERR_INVALID_ARGUMENT;
  if (mem && (!mem->malloc || !mem->free || !mem->realloc))
    return PS_ERR_INVALID_ARGUMENT;
  if (limits)
    lim = *limits;
  else
    ps_limits_default(&lim);
  /* every slot number must fit the packed result */
  if (!ps_byte_limits_ok(&lim) || lim.max_requests == 0 ||
      lim.max_streams == 0 ||
      (uint64_t)lim.max_requests * 2 + (uint64_t)lim.max_streams * 2 >
          PS_MAX_SLOTS)
    return PS_ERR_INVALID_ARGUMENT;
  ps_alloc_init(&alloc, mem);
  s = ps_alloc_resize(&alloc, NULL, 0, sizeof *s);
  if (s == NULL) return PS_ERR_NOMEM;
  memset(s, 0, sizeof *s);
  s->alloc = alloc;
  s->limits = lim;
  s->mode = mode;
  s->options = options;
  s->next_id = 1;
  s->aborting_slot = PS_NO_SLOT;
  s->held_slot = PS_NO_SLOT;
  ps_table_init(&s->table, hash_seed);
  ps_decoder_init(&s->decoder);
  *out = s;
  return PS_OK;
}

void ps_session_del(ps_session *s) {
  ps_alloc alloc;
  if (s == NULL) return;
  ps_table_free(&s->table, &s->alloc);
  ps_decoder_free(&s->decoder, &s->alloc);
  ps_encoder_free(&s->encoder, &s->alloc);
  alloc = s->alloc;
  ps_alloc_resize(&alloc, s, sizeof *s, 0);
}

uint32_t ps_session_memory(const ps_session *s) {
  return s->alloc.bytes;
}

uint32_t ps_session_count(const ps_session *s, uint32_t which) {
  return which < PS_KINDS ? s->table.lists[which].count : 0;
}

uint32_t ps_session_find(ps_session *s, int32_t id) {
  return ps_table_find(&s->table, id);
}

/* ---- ending ------------------------------------------------------------- */

static void begin_destroy(ps_session *s, int32_t error) {
  s->state |= PS_STATE_ENDED | PS_STATE_CLOSING;
  if (s->destroyed || (s->state & PS_STATE_CLOSED)) return;
  s->destroyed = 1;
  s->cascading = 1;
  s->end_error = error;
  s->aborted = 0;
}

/* A fatal error: sticky, reported once by poll, and it destroys the session. */
static int32_t fail(ps_session *s, int32_t code) {
  if (s->fatal) return s->fatal;
  s->fatal = code;
  s->error_pending = 1;
  begin_destroy(s, code);
  return code;
}

int32_t ps_session_destroy(ps_session *s, int32_t error) {
  if (error > 0) return PS_ERR_INVALID_ARGUMENT;
  begin_destroy(s, error);
  return PS_OK;
}

int32_t ps_session_recv_end(ps_session *s, int32_t error) {
  if (error > 0) return PS_ERR_INVALID_ARGUMENT;
  if (s->state & (PS_STATE_ENDED | PS_STATE_CLOSED)) {
    s->state |= PS_STATE_ENDED; /* a half frame after our close is no news */
    return PS_OK;
  }
  if (error == 0 && s->mode == PS_MODE_WIRE &&
      ps_decoder_midframe(&s->decoder)) {
    fail(s, PS_ERR_TRUNCATED);
    return PS_OK;
  }
  begin_destroy(s, error);
  return PS_OK;
}

int32_t ps_session_close(ps_session *s) {
  if (s->state & PS_STATE_CLOSED) return PS_ERR_CLOSED;
  s->state |= PS_STATE_CLOSING;
  return PS_OK;
}

/* ---- output ------------------------------------------------------------- */

uint8_t *ps_session_body(ps_session *s, uint32_t len) {
  if (s->mode != PS_MODE_WIRE || len > s->limits.max_frame) return NULL;
  return ps_encoder_body(&s->encoder, &s->alloc, s->limits.max_outbuf, len);
}

/*
 * May a command send now? In packet mode until the session has closed; in
 * wire mode not after it was destroyed either, as the transport is going.
 */
static int32_t check_send(const ps_session *s) {
  if (s->fatal) return s->fatal;
  if (s->state & PS_STATE_CLOSED) return PS_ERR_CLOSED;
  if (s->mode == PS_MODE_WIRE && (s->state & PS_STATE_ENDED))
    return PS_ERR_CLOSED;
  return PS_OK;
}

/* Validates a body before anything changes. */
static int32_t check_body(const ps_session *s, uint32_t type,
                          const uint8_t *data, uint32_t len) {
  if (s->mode != PS_MODE_WIRE) return PS_OK;
  if (type > PS_TYPE_JSON || (data == NULL && len != 0))
    return PS_ERR_INVALID_ARGUMENT;
  if (len > s->limits.max_frame) return PS_ERR_FRAME_TOO_LARGE;
  return PS_OK;
}

/* Frames one packet (wire mode; a no-op in packet mode). */
static int32_t frame(ps_session *s, uint32_t flags, uint32_t type, int32_t req,
                     const uint8_t *data, uint32_t len) {
  int32_t rv;
  if (s->mode != PS_MODE_WIRE) return PS_OK;
  rv = ps_encoder_frame(&s->encoder, &s->alloc, s->limits.max_outbuf, flags,
                        type, req, data, len);
  return rv < 0 ? fail(s, rv) : PS_OK;
}

int32_t ps_session_send(ps_session *s, const uint8_t **out) {
  if (s->mode != PS_MODE_WIRE) return PS_ERR_WRONG_MODE;
  return (int32_t)ps_encoder_take(&s->encoder, &s->alloc, out);
}

int32_t ps_session_sent(ps_session *s, uint32_t n) {
  if (s->mode != PS_MODE_WIRE) return PS_ERR_WRONG_MODE;
  return ps_encoder_untake(&s->encoder, n);
}

uint32_t ps_session_pending(const ps_session *s) {
  return ps_encoder_pending(&s->encoder);
}

/* ---- events ------------------------------------------------------------- */

static int nothing_open(const ps_session *s) {
  return PS_TABLE_LIST(&s->table, PS_KIND_REQ_OUT)->count == 0 &&
         PS_TABLE_LIST(&s->table, PS_KIND_STREAM_IN)->count == 0 &&
         PS_TABLE_LIST(&s->table, PS_KIND_STREAM_OUT)->count == 0;
}

static int close_due(const ps_session *s) {
  return (s->state & (PS_STATE_CLOSING | PS_STATE_CLOSED)) ==
             PS_STATE_CLOSING &&
         nothing_open(s);
}

/* A destroy reports CLOSED after its aborts, which keep things open until
   they have been polled. */
static int closed_coming(const ps_session *s) {
  return close_due(s) || (s->destroyed && !(s->state & PS_STATE_CLOSED));
}

uint32_t ps_session_state(const ps_session *s) {
  return s->state | (closed_coming(s) ? (uint32_t)PS_STATE_CLOSE_DUE : 0u) |
         (nothing_open(s) ? (uint32_t)PS_STATE_IDLE : 0u);
}

static int more_events(const ps_session *s) {
  return s->error_pending || s->cascading || close_due(s);
}

static void set_event(ps_event *ev, int32_t type, int32_t req, uint32_t slot,
                      uint32_t flags, int32_t error) {
  ev->type = type;
  ev->req = req;
  ev->slot = slot;
  ev->flags = flags;
  ev->body_type = 0;
  ev->error = error;
  ev->data = NULL;
  ev->len = 0;
}

static int32_t abort_error(const ps_session *s) {
  return s->end_error ? s->end_error : PS_ERR_UNEXPECTED_END;
}

/* Releases |slot|, which the event being recorded or waiting to be polled
   names: the number is kept until that event is handed to the host, so that
   a command issued between an input and its poll is not given the slot the
   host is about to hear about. */
static void hold_slot(ps_session *s, uint32_t slot) {
  ps_table_unlink(&s->table, slot);
  s->held_slot = slot;
}

/* Releases |slot| for a command. */
static void release_slot(ps_session *s, uint32_t slot) {
  if (slot == s->aborting_slot) s->aborting_slot = PS_NO_SLOT;
  if (s->has_event && s->event.slot == slot)
    hold_slot(s, slot);
  else
    ps_table_remove(&s->table, slot);
}

/* The waiting event has been handed to the host. */
static void event_taken(ps_session *s) {
  s->has_event = 0;
  if (s->held_slot != PS_NO_SLOT) {
    ps_table_recycle(&s->table, s->held_slot);
    s->held_slot = PS_NO_SLOT;
  }
}

/* The next substream of |kind| to abort, marked so that poll releases it. */
static int abort_stream(ps_session *s, uint32_t kind, ps_event *ev) {
  uint32_t slot = PS_TABLE_LIST(&s->table, kind)->head;
  ps_slot *rec;
  if (slot == PS_NO_SLOT) return 0;
  rec = &s->table.slots[slot];
  rec->flags |= PS_SLOT_READ_END | PS_SLOT_WRITE_END | PS_SLOT_ABORTING;
  s->aborting_slot = slot;
  s->aborted++;
  set_event(ev, PS_EV_STREAM_ABORTED, rec->id, slot, PS_EVF_RELEASED,
            abort_error(s));
  return 1;
}

/* Everything is finished: the end goes out and the peer's unanswered
   requests are forgotten (nothing could carry their answers now). */
static void finish_close(ps_session *s, ps_event *ev) {
  int32_t error = 0;
  ps_list *in = PS_TABLE_LIST(&s->table, PS_KIND_REQ_IN);
  s->state |= PS_STATE_CLOSED;
  while (in->head != PS_NO_SLOT) ps_table_remove(&s->table, in->head);
  if (s->destroyed && (s->aborted > 0 || s->end_error != 0))
    error = abort_error(s);
  if (error == 0 && s->mode == PS_MODE_WIRE &&
      ps_encoder_goodbye(&s->encoder, &s->alloc) != PS_OK)
    error = PS_ERR_NOMEM;
  set_event(ev, PS_EV_CLOSED, 0, PS_NO_SLOT, 0, error);
}

int32_t ps_session_poll(ps_session *s, ps_event *ev) {
  uint32_t slot;
  if (s->aborting_slot != PS_NO_SLOT) {
    ps_slot *rec = ps_table_get(&s->table, s->aborting_slot);
    if (rec && (rec->flags & PS_SLOT_ABORTING))
      ps_table_remove(&s->table, s->aborting_slot);
    s->aborting_slot = PS_NO_SLOT;
  }
  if (s->has_event) {
    *ev = s->event;
    event_taken(s);
    return 1;
  }
  if (s->error_pending) {
    s->error_pending = 0;
    set_event(ev, PS_EV_ERROR, 0, PS_NO_SLOT, 0, s->fatal);
    return 1;
  }
  if (s->cascading) {
    slot = PS_TABLE_LIST(&s->table, PS_KIND_REQ_OUT)->head;
    if (slot != PS_NO_SLOT) {
      int32_t id = s->table.slots[slot].id;
      ps_table_remove(&s->table, slot);
      s->aborted++;
      set_event(ev, PS_EV_REQUEST_ABORTED, id, slot, PS_EVF_RELEASED,
                abort_error(s));
      return 1;
    }
    if (abort_stream(s, PS_KIND_STREAM_IN, ev)) return 1;
    if (abort_stream(s, PS_KIND_STREAM_OUT, ev)) return 1;
    s->cascading = 0;
  }
  if (close_due(s)) {
    finish_close(s, ev);
    return 1;
  }
  return 0;
}

/* ---- input -------------------------------------------------------------- */

/*
 * The end or data of a substream arrived. packet-stream forgets a substream
 * whose two sides have ended; in strict mode what follows the peer's end is
 * dropped as stray.
 */
static int32_t stream_input(ps_session *s, uint32_t slot, uint32_t flags,
                            uint32_t evflags) {
  ps_slot *rec = &s->table.slots[slot];
  int strict = !(s->options & PS_OPT_COMPAT);
  if (strict && (rec->flags & PS_SLOT_READ_END)) return PS_EV_STRAY;
  if (!(flags & PS_FLAG_END)) {
    s->event.flags |= evflags;
    return PS_EV_STREAM_DATA;
  }
  rec->flags |= PS_SLOT_READ_END;
  if (rec->flags & PS_SLOT_WRITE_END) {
    hold_slot(s, slot);
    evflags |= PS_EVF_RELEASED;
  }
  s->event.flags |= evflags;
  return PS_EV_STREAM_END;
}

/* Gives a request of the peer a slot, within the limit. */
static int32_t take_request(ps_session *s, int32_t req, uint32_t *slot) {
  if (PS_TABLE_LIST(&s->table, PS_KIND_REQ_IN)->count >= s->limits.max_requests)
    return fail(s, PS_ERR_PEER_REQUEST_LIMIT);
  if (ps_table_add(&s->table, &s->alloc, PS_KIND_REQ_IN, req, slot) != PS_OK)
    return fail(s, PS_ERR_NOMEM);
  return PS_OK;
}

/* Classifies one packet from the peer and records its event. */
static int32_t packet_input(ps_session *s, int32_t req, uint32_t flags) {
  ps_event *ev = &s->event;
  uint32_t slot = PS_NO_SLOT;
  int32_t type, rv;
  ev->flags = flags & (PS_FLAG_STREAM | PS_FLAG_END);
  if (req == 0) {
    type = PS_EV_MESSAGE;
  } else if (req == INT32_MIN) {
    type = PS_EV_STRAY; /* cannot be negated: no request of ours */
  } else if (!(flags & PS_FLAG_STREAM)) {
    if (req < 0) { /* the answer to one of our requests */
      slot = ps_table_find(&s->table, -req);
      if (slot != PS_NO_SLOT && s->table.slots[slot].kind == PS_KIND_REQ_OUT) {
        hold_slot(s, slot);
        ev->flags |= PS_EVF_RELEASED;
        type = PS_EV_RESPONSE;
      } else {
        slot = PS_NO_SLOT;
        type = PS_EV_STRAY;
      }
    } else { /* a request of the peer */
      rv = take_request(s, req, &slot);
      if (rv != PS_OK) return rv;
      type = PS_EV_REQUEST;
    }
  } else if (req < 0) { /* on a substream we opened */
    slot = ps_table_find(&s->table, -req);
    if (slot != PS_NO_SLOT && s->table.slots[slot].kind == PS_KIND_STREAM_OUT) {
      type = stream_input(s, slot, flags, 0);
    } else {
      slot = PS_NO_SLOT;
      type = PS_EV_STRAY;
    }
  } else { /* on a substream the peer opened, perhaps opening it */
    uint32_t opened = 0;
    slot = ps_table_find(&s->table, -req);
    if (slot == PS_NO_SLOT) {
      if (PS_TABLE_LIST(&s->table, PS_KIND_STREAM_IN)->count >=
          s->limits.max_streams)
        return fail(s, PS_ERR_PEER_STREAM_LIMIT);
      rv = ps_table_add(&s->table, &s->alloc, PS_KIND_STREAM_IN, -req, &slot);
      if (rv != PS_OK) return fail(s, rv);
      opened = PS_EVF_OPENED;
    }
    type = stream_input(s, slot, flags, opened);
  }
  if (type == PS_EV_STRAY) slot = PS_NO_SLOT;
  ev->type = type;
  ev->req = req;
  ev->slot = slot;
  ev->error = 0;
  s->has_event = 1;
  return PS_OK;
}

/* Input is taken only while the session is healthy, not ended, not closed:
   packet-stream ignores it after an end, and has nobody to hand it to after
   closing. */
static int accepting(const ps_session *s) {
  return !(s->state & (PS_STATE_ENDED | PS_STATE_CLOSED));
}

int32_t ps_session_recv(ps_session *s, const uint8_t *in, uint32_t len) {
  ps_frame fr;
  int got;
  int32_t rv;
  if (s->mode != PS_MODE_WIRE) return PS_ERR_WRONG_MODE;
  if (s->fatal) return s->fatal;
  if (in == NULL && len != 0) return PS_ERR_INVALID_ARGUMENT;
  if (len > PS_MAX_BYTES) len = PS_MAX_BYTES; /* the count must fit an int32 */
  /* the event of the last frame, and the body it points to, would be lost */
  if (s->has_event) return PS_ERR_EVENT_PENDING;
  if (s->state & PS_STATE_ENDED) return (int32_t)len;
  rv = ps_decoder_feed(&s->decoder, &s->alloc, s->limits.max_frame, in, len,
                       &got, &fr);
  /* after our close nothing the peer sends can matter but its goodbye */
  if (rv < 0) return (s->state & PS_STATE_CLOSED) ? (int32_t)len : fail(s, rv);
  if (s->decoder.state == PS_DEC_GOODBYE) {
    s->state |= PS_STATE_GOODBYE;
    begin_destroy(s, 0);
    return (int32_t)len;
  }
  if (got && accepting(s)) {
    int32_t err = packet_input(s, fr.req, fr.flags);
    if (err < 0) return err;
    s->event.body_type = fr.type;
    s->event.data = fr.data;
    s->event.len = fr.len;
  }
  return rv;
}

int32_t ps_session_recv_packet(ps_session *s, int32_t req, uint32_t flags) {
  int32_t rv;
  if (s->mode != PS_MODE_PACKET) return PS_ERR_WRONG_MODE;
  if (s->fatal) return s->fatal;
  event_taken(s);
  if (!accepting(s)) return more_events(s) ? PS_PACK_MORE : PS_EV_NONE;
  /* The common cases without the general path: data on an open
     substream, a request, the response to one of ours. Nothing else can be
     pending while the session takes input (no close without an end
     packet, and a request of ours was open). */
  if (req != 0 && req != INT32_MIN) {
    uint32_t slot;
    if ((flags & (PS_FLAG_STREAM | PS_FLAG_END)) == PS_FLAG_STREAM) {
      slot = ps_table_find(&s->table, -req);
      if (slot != PS_NO_SLOT) {
        const ps_slot *rec = &s->table.slots[slot];
        if (rec->kind == (req < 0 ? PS_KIND_STREAM_OUT : PS_KIND_STREAM_IN) &&
            ((s->options & PS_OPT_COMPAT) || !(rec->flags & PS_SLOT_READ_END)))
          return PS_EV_STREAM_DATA | (int32_t)(slot << PS_PACK_SLOT_SHIFT);
      }
    } else if (!(flags & PS_FLAG_STREAM) && req > 0) {
      rv = take_request(s, req, &slot);
      if (rv != PS_OK) return rv;
      rv = PS_EV_REQUEST | (int32_t)(slot << PS_PACK_SLOT_SHIFT);
      /* a close with nothing of ours open is still due */
      return close_due(s) ? rv | PS_PACK_MORE : rv;
    } else if (!(flags & PS_FLAG_STREAM) && req < 0 &&
               !(s->state & PS_STATE_CLOSING)) {
      slot = ps_table_find(&s->table, -req);
      if (slot != PS_NO_SLOT && s->table.slots[slot].kind == PS_KIND_REQ_OUT) {
        ps_table_remove(&s->table, slot);
        return PS_EV_RESPONSE | PS_PACK_RELEASED |
               (int32_t)(slot << PS_PACK_SLOT_SHIFT);
      }
    }
  }
  rv = packet_input(s, req, flags);
  if (rv < 0) return rv;
  event_taken(s); /* handed out right here instead of by poll */
  rv = s->event.type | (int32_t)(s->event.slot << PS_PACK_SLOT_SHIFT);
  if (s->event.flags & PS_EVF_OPENED) rv |= PS_PACK_OPENED;
  if (s->event.flags & PS_EVF_RELEASED) rv |= PS_PACK_RELEASED;
  if (more_events(s)) rv |= PS_PACK_MORE;
  return rv;
}

/* ---- commands ----------------------------------------------------------- */

/* Our next request number: counting up from 1 as packet-stream does, and
   after 2^31 - 1 starting over, past the numbers still in use. */
static int32_t take_id(ps_session *s) {
  int32_t id;
  do {
    id = s->next_id;
    if (id == INT32_MAX) s->ids_wrapped = 1;
    s->next_id = id == INT32_MAX ? 1 : id + 1;
  } while (s->ids_wrapped && ps_table_find(&s->table, id) != PS_NO_SLOT);
  return id;
}

int32_t ps_message(ps_session *s, uint32_t type, const uint8_t *data,
                   uint32_t len) {
  int32_t rv = check_send(s);
  if (rv == PS_OK) rv = check_body(s, type, data, len);
  if (rv != PS_OK) return rv;
  if (s->mode == PS_MODE_WIRE && type == PS_TYPE_BINARY && len == 0)
    return PS_ERR_GOODBYE_COLLISION;
  return frame(s, 0, type, 0, data, len);
}

int32_t ps_request(ps_session *s, uint32_t type, const uint8_t *data,
                   uint32_t len, uint32_t *slot) {
  int32_t rv, id;
  if (s->fatal) return s->fatal;
  if (s->state & PS_STATE_CLOSING) return PS_ERR_CLOSING;
  if (slot == NULL) return PS_ERR_INVALID_ARGUMENT;
  rv = check_body(s, type, data, len);
  if (rv != PS_OK) return rv;
  if (PS_TABLE_LIST(&s->table, PS_KIND_REQ_OUT)->count >=
      s->limits.max_requests)
    return PS_ERR_REQUEST_LIMIT;
  id = take_id(s);
  rv = ps_table_add(&s->table, &s->alloc, PS_KIND_REQ_OUT, id, slot);
  if (rv != PS_OK) return fail(s, rv);
  rv = frame(s, 0, type, id, data, len);
  if (rv != PS_OK) { /* the host never learns of this slot */
    ps_table_remove(&s->table, *slot);
    return rv;
  }
  return id;
}

int32_t ps_respond(ps_session *s, uint32_t slot, uint32_t flags, uint32_t type,
                   const uint8_t *data, uint32_t len) {
  ps_slot *rec = ps_table_get(&s->table, slot);
  int32_t rv;
  if (s->fatal) return s->fatal;
  if (rec == NULL || rec->kind != PS_KIND_REQ_IN)
    return (s->state & PS_STATE_CLOSED) ? PS_ERR_CLOSED : PS_ERR_UNKNOWN_SLOT;
  rv = check_send(s);
  if (rv == PS_OK) rv = check_body(s, type, data, len);
  if (rv != PS_OK) return rv;
  rv = frame(s, flags & PS_FLAG_END, type, -rec->id, data, len);
  if (rv != PS_OK) return rv;
  release_slot(s, slot);
  return PS_OK;
}

int32_t ps_respond_no_handler(ps_session *s, uint32_t slot) {
  return ps_respond(s, slot, PS_FLAG_END, PS_TYPE_JSON,
                    (const uint8_t *)no_handler_body,
                    (uint32_t)strlen(no_handler_body));
}

int32_t ps_stream_open(ps_session *s, uint32_t *slot) {
  int32_t rv, id;
  if (s->fatal) return s->fatal;
  if (s->state & PS_STATE_CLOSING) return PS_ERR_CLOSING;
  if (slot == NULL) return PS_ERR_INVALID_ARGUMENT;
  if (PS_TABLE_LIST(&s->table, PS_KIND_STREAM_OUT)->count >=
      s->limits.max_streams)
    return PS_ERR_STREAM_LIMIT;
  id = take_id(s);
  rv = ps_table_add(&s->table, &s->alloc, PS_KIND_STREAM_OUT, id, slot);
  if (rv != PS_OK) return fail(s, rv);
  return id;
}

static ps_slot *stream_slot(const ps_session *s, uint32_t slot) {
  ps_slot *rec = ps_table_get(&s->table, slot);
  if (rec == NULL ||
      (rec->kind != PS_KIND_STREAM_OUT && rec->kind != PS_KIND_STREAM_IN))
    return NULL;
  return rec;
}

/* Frames a packet of the substream |rec|, its data or (with
   PS_FLAG_END in |flags|) its end, if it may still send. */
static int32_t stream_send(ps_session *s, ps_slot *rec, uint32_t flags,
                           uint32_t type, const uint8_t *data, uint32_t len) {
  int32_t rv;
  if (s->fatal) return s->fatal;
  if (rec == NULL) return PS_ERR_UNKNOWN_SLOT;
  if (!(s->options & PS_OPT_COMPAT) && (rec->flags & PS_SLOT_WRITE_END))
    return PS_ERR_STREAM_ENDED;
  rv = check_send(s);
  if (rv == PS_OK) rv = check_body(s, type, data, len);
  if (rv == PS_OK) rv = frame(s, flags, type, rec->id, data, len);
  return rv;
}

int32_t ps_stream_write(ps_session *s, uint32_t slot, uint32_t type,
                        const uint8_t *data, uint32_t len) {
  return stream_send(s, stream_slot(s, slot), PS_FLAG_STREAM, type, data, len);
}

int32_t ps_stream_end(ps_session *s, uint32_t slot, uint32_t type,
                      const uint8_t *data, uint32_t len) {
  ps_slot *rec = stream_slot(s, slot);
  int32_t rv =
      stream_send(s, rec, PS_FLAG_STREAM | PS_FLAG_END, type, data, len);
  if (rv != PS_OK) return rv;
  rec->flags |= PS_SLOT_WRITE_END;
  if (!(rec->flags & PS_SLOT_READ_END)) return 0;
  /* finished; in packet mode the host has yet to send the end, and what
     arrives meanwhile must still find the substream: it releases it */
  if (s->mode == PS_MODE_WIRE) release_slot(s, slot);
  return 1;
}

int32_t ps_stream_release(ps_session *s, uint32_t slot) {
  if (stream_slot(s, slot) == NULL) return PS_ERR_UNKNOWN_SLOT;
  release_slot(s, slot);
  return PS_OK;
}
