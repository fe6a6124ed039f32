/*
 * ps.h: packet-stream core, the one public header.
 *
 * A sans-IO implementation of the packet-stream protocol (messages,
 * request/response and multiplexed duplex substreams over one channel), with
 * the framing of packet-stream-codec 1.2.0. The core does no I/O, reads no
 * clock, never calls back into the host, never prints and never aborts: input
 * enters through ps_session_recv* (wire bytes, one packet, or the end of the
 * transport), commands from the local side are function calls, and everything
 * that happens comes out of ps_session_poll (events) and, in wire mode,
 * ps_session_send (bytes for the transport).
 *
 * The host loop, after every input or command:
 *
 *     while ((rv = ps_session_poll(s, &ev)) > 0) handle(&ev);
 *     n = ps_session_send(s, &bytes);  write n bytes to the transport;
 *                                      if it took only k, ps_session_sent(s, k)
 *
 * Commands may be called from the host's event handling, between polls (an
 * event's borrowed |data| may be the body of a command, to echo it). A
 * session is not safe to use from two threads at once; sessions are
 * independent of each other.
 *
 * Requests and substreams are named to the host by a *slot*: a small integer
 * the host can use to index an array of its own callbacks and objects. A slot
 * is valid from the event or command that hands it out until the event that
 * carries PS_EVF_RELEASED for it (or the command that releases it), after
 * which the core may hand the number out again; but never while an event
 * that names it waits to be polled. (A command may release a substream whose
 * peer's end waits: that event still names it, once, after the release.)
 *
 * Wire format (packet-stream-codec): a 9-byte header, flags (bit 3 stream,
 * bit 2 end/error, bits 0-1 body type), body length (uint32 big-endian),
 * request number (int32 big-endian), then the body. Nine zero bytes end the
 * connection (goodbye). Quirks of the reference worth knowing: its decoder
 * takes *any* header with length 0 as goodbye (so an empty string or buffer
 * sent to a reference peer ends the connection; between two ps cores only the
 * all-zero header is goodbye and empty bodies arrive intact); it enforces no
 * maximum length; and its end packet without a value carries JSON `true`.
 *
 * Memory per open request or substream: one 16-byte slot record plus one
 * 4-byte entry in an id table kept at most half full, so 24 bytes at best and
 * 48 bytes right after the slot array and the table have doubled. Inbound
 * requests have a slot but no table entry (16 to 32 bytes).
 */
#ifndef PS_H
#define PS_H

#include <stddef.h>
#include <stdint.h>

#include "ps_constants.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PS_ENUM_ENTRY_(name, value) PS_##name = (value),
#define PS_ERR_ENUM_ENTRY_(name, value, message) PS_##name = (value),
#define PS_EV_ENUM_ENTRY_(name, value) PS_EV_##name = (value),

/* Error codes; see ps_constants.h for their meaning. */
typedef enum ps_error { PS_ERRORS(PS_ERR_ENUM_ENTRY_) } ps_error;
/* Event types (ps_event.type). */
typedef enum ps_event_type { PS_EVENTS(PS_EV_ENUM_ENTRY_) } ps_event_type;
/* PS_FLAG_*, PS_EVF_*, PS_TYPE_*, PS_MODE_*, PS_OPT_*, PS_STATE_*,
   PS_PACK_* and PS_DEFAULT_* / PS_MAX_SLOTS. */
enum ps_flags { PS_FLAGS(PS_ENUM_ENTRY_) };
enum ps_body_type { PS_TYPES(PS_ENUM_ENTRY_) };
enum ps_mode { PS_MODES(PS_ENUM_ENTRY_) };
enum ps_option { PS_OPTIONS(PS_ENUM_ENTRY_) };
enum ps_state { PS_STATES(PS_ENUM_ENTRY_) };
enum ps_packed { PS_PACKED(PS_ENUM_ENTRY_) };
enum ps_default { PS_DEFAULTS(PS_ENUM_ENTRY_) };

#undef PS_ENUM_ENTRY_
#undef PS_ERR_ENUM_ENTRY_
#undef PS_EV_ENUM_ENTRY_

/* A slot number that names nothing. */
#define PS_NO_SLOT 0x7fffffu

/* An end value with no body of its own: JSON `true`, as packet-stream sends. */
#define PS_TRUE_JSON ((const uint8_t *)"true")
#define PS_TRUE_JSON_LEN 4u

/* The 9 bytes of a frame header. */
#define PS_HEADER_SIZE 9

/*
 * ps_limits: hard limits of a session. Exceeding one is never unbounded
 * growth: a local command over max_frame, max_requests or max_streams is
 * refused with an error code and the session goes on; input from the peer
 * over a limit, and framed output over max_outbuf (the host is not taking
 * what is framed, whoever's packet it is), is a fatal error that destroys
 * the session. Fill with ps_limits_default() and change what you need.
 */
typedef struct ps_limits {
  /* largest body accepted from the peer or sent, in bytes (at most
     PS_MAX_BYTES, as max_outbuf) */
  uint32_t max_frame;
  /* open requests in each direction (ours awaiting an answer; the peer's
     awaiting our answer) */
  uint32_t max_requests;
  /* open substreams in each direction (opened by us; opened by the peer) */
  uint32_t max_streams;
  /* wire mode: bytes framed but not yet taken by ps_session_send (at most
     PS_MAX_BYTES) */
  uint32_t max_outbuf;
} ps_limits;

/*
 * ps_mem: allocator hooks, threaded through every allocation of a session.
 * |user| is passed back to each function. Any function may return NULL (or
 * fail to realloc); the core turns that into PS_ERR_NOMEM. The core never
 * asks for 0 bytes, never frees NULL and never reallocs NULL (it mallocs).
 */
typedef struct ps_mem {
  void *(*malloc)(size_t size, void *user);
  void (*free)(void *ptr, void *user);
  void *(*realloc)(void *ptr, size_t size, void *user);
  void *user;
} ps_mem;

/* ps_session: opaque. Any number may exist at once; there is no global state.
 */
typedef struct ps_session ps_session;

/*
 * ps_event: one thing that happened, filled by ps_session_poll.
 *
 * |data| is borrowed: it points into the chunk given to ps_session_recv when
 * the body lay wholly inside it, else into a buffer of the session, and stays
 * valid until the next call of ps_session_poll, ps_session_recv* or
 * ps_session_del on the session. It is NULL in packet mode.
 */
typedef struct ps_event {
  int32_t type;        /* PS_EV_* */
  int32_t req;         /* request number of the packet as on the wire (on
                          a substream: negative for one we opened, positive
                          for one the peer opened); in
                          the *_ABORTED events, which have no packet, the id
                          packet-stream names it by (ps_session_find's) */
  uint32_t slot;       /* the request or substream, or PS_NO_SLOT */
  uint32_t flags;      /* PS_FLAG_STREAM, PS_FLAG_END, PS_EVF_* */
  uint32_t body_type;  /* PS_TYPE_* */
  int32_t error;       /* ERROR, *_ABORTED, CLOSED: a PS_ERR_* code or 0 */
  const uint8_t *data; /* wire mode body, borrowed (see above) */
  uint32_t len;        /* body length */
} ps_event;

/* ps_limits_default fills |limits| with the defaults of ps_constants.h. */
void ps_limits_default(ps_limits *limits);

/*
 * ps_strerror returns a static, NUL-terminated description of |code|, or
 * "unknown error" for a value that is not a ps_error.
 */
const char *ps_strerror(int32_t code);

/* ps_is_fatal returns 1 when |code| is in the fatal band (<= -900). */
int ps_is_fatal(int32_t code);

/*
 * ps_session_new creates a session in |mode| (PS_MODE_WIRE or PS_MODE_PACKET)
 * with |options| (PS_OPT_* bits) and stores it in |*out|. |limits| and |mem|
 * may be NULL for the defaults and malloc/free. |hash_seed| randomises the id
 * table so that a peer cannot choose ids that collide; pass random bits.
 *
 * Returns 0, or PS_ERR_INVALID_ARGUMENT (|out| NULL, a bad mode, unknown
 * option bits, allocator hooks with a NULL function, a limit of 0,
 * max_frame or max_outbuf over PS_MAX_BYTES, or 2 * (max_requests +
 * max_streams) over PS_MAX_SLOTS: both directions of both kinds must fit
 * the slot numbers) or PS_ERR_NOMEM.
 */
int32_t ps_session_new(ps_session **out, uint32_t mode, uint32_t options,
                       const ps_limits *limits, const ps_mem *mem,
                       uint32_t hash_seed);

/* ps_session_del frees |s| and everything it owns. NULL is ignored. */
void ps_session_del(ps_session *s);

/*
 * ps_session_recv (wire mode) hands the core |len| bytes of the transport.
 * The decoder accepts any chunking. It stops right after each complete
 * frame, so that the host can react to its event before the next packet:
 * poll until 0, then call again with the rest (a call made while an event
 * of the last frame waits to be polled consumes nothing and returns
 * PS_ERR_EVENT_PENDING, so that no event is lost). A frame split across chunks
 * is kept (the header in a fixed buffer, the body in one that grows with the
 * bytes that arrive); a body wholly inside |in| is handed out in place.
 *
 * At most PS_MAX_BYTES of |len| are looked at in one call. The peer's
 * goodbye ends the session as ps_session_recv_end(s, 0) does (see there).
 *
 * Returns the number of bytes consumed (after goodbye or once the session
 * ended, the rest of what was looked at is consumed and ignored), or a
 * fatal code: PS_ERR_BAD_TYPE,
 * PS_ERR_PEER_FRAME_TOO_LARGE, PS_ERR_PEER_REQUEST_LIMIT,
 * PS_ERR_PEER_STREAM_LIMIT, PS_ERR_NOMEM or an earlier fatal code (such as
 * PS_ERR_OUTBUF_LIMIT of a command); PS_ERR_WRONG_MODE in packet mode;
 * PS_ERR_INVALID_ARGUMENT for |in| NULL with a length; PS_ERR_EVENT_PENDING
 * (not fatal, see above).
 */
int32_t ps_session_recv(ps_session *s, const uint8_t *in, uint32_t len);

/*
 * ps_session_recv_packet (packet mode) hands the core one packet: its
 * request number and its PS_FLAG_STREAM/PS_FLAG_END bits. The value stays
 * with the host, which knows which packet it passed.
 *
 * Returns the resulting event packed in one integer (the fast path for hosts
 * that pay per call): bits PS_PACK_TYPE_MASK hold the event type,
 * PS_PACK_OPENED and PS_PACK_RELEASED the PS_EVF_ bits, PS_PACK_MORE says
 * ps_session_poll has further events, and the bits from PS_PACK_SLOT_SHIFT up
 * hold the slot. That event is *not* also returned by ps_session_poll.
 * Returns a negative code as ps_session_recv does.
 */
int32_t ps_session_recv_packet(ps_session *s, int32_t req, uint32_t flags);

/*
 * ps_session_recv_end tells the core that the transport ended: |error| 0 for
 * a clean end (as packet-stream's write(null, true)), else a negative code
 * (PS_ERR_TRANSPORT if nothing better is known). The session is destroyed as
 * by ps_session_destroy: with nothing open a clean end closes with error 0
 * and frames the goodbye in reply; else each open request and substream is
 * aborted with PS_ERR_UNEXPECTED_END (or |error|) and no goodbye is framed.
 * A clean end in the middle of a frame becomes the fatal PS_ERR_TRUNCATED
 * (reported by PS_EV_ERROR). Returns 0 or PS_ERR_INVALID_ARGUMENT.
 */
int32_t ps_session_recv_end(ps_session *s, int32_t error);

/*
 * ps_session_poll writes the next event to |ev|. Returns 1 when it did, 0
 * when there is nothing to report. Order: the event of the last packet, then
 * after a fatal error that the core found itself (in the peer's input, an
 * output over max_outbuf, no memory) PS_EV_ERROR with its code (an end the
 * host gave, by ps_session_destroy or ps_session_recv_end, is not repeated
 * as an ERROR: its code is in the events below), one
 * PS_EV_REQUEST_ABORTED per open request of ours, one PS_EV_STREAM_ABORTED
 * per substream (opened by the peer, then by us), all in the order they were
 * opened, and finally PS_EV_CLOSED once, as soon as the session is closing
 * and nothing is left open. CLOSED's |error| is 0 after a graceful close,
 * and after a clean end (a destroy with 0, the transport's clean end, the
 * peer's goodbye) when nothing was open; else the end's code, which is
 * PS_ERR_UNEXPECTED_END for a clean end that cut something short. In wire
 * mode the goodbye is framed exactly when it is 0. Requests of the peer that
 * were never answered are released silently when the session closes.
 *
 * The slot of a REQUEST_ABORTED event is released before the event; the slot
 * of a STREAM_ABORTED event stays valid until the next poll, so the host may
 * still look at it while it reports the end.
 */
int32_t ps_session_poll(ps_session *s, ps_event *ev);

/*
 * ps_session_send (wire mode) stores in |*out| a pointer to every framed byte
 * not yet taken and returns their number (0 when none). The bytes count as
 * taken: the pointer stays valid until the next call on |s| other than
 * ps_session_sent, ps_session_pending, ps_session_state and
 * ps_session_memory (a poll may frame the goodbye, ps_session_body may move
 * the buffer): write or copy the bytes before anything else. Once all that
 * was framed has been taken, a buffer that a burst made larger than
 * PS_KEEP_OUTPUT is let go by the next call that uses it (this one included).
 * Returns PS_ERR_WRONG_MODE in packet mode.
 */
int32_t ps_session_send(ps_session *s, const uint8_t **out);

/*
 * ps_session_sent, right after ps_session_send returned m bytes, says that
 * the transport took only the first |n| of them (a non-blocking socket's
 * short write): the other m - n are handed back, first in line for the next
 * ps_session_send, and count against max_outbuf again, so the host keeps no
 * copy of its own. n = m changes nothing. Returns 0, PS_ERR_WRONG_MODE in
 * packet mode, or PS_ERR_INVALID_ARGUMENT when |n| is over m or a call other
 * than those ps_session_send allows came between (nothing changes then).
 */
int32_t ps_session_sent(ps_session *s, uint32_t n);

/*
 * ps_session_pending returns the number of framed bytes not yet taken by
 * ps_session_send (0 in packet mode).
 */
uint32_t ps_session_pending(const ps_session *s);

/*
 * ps_session_body (wire mode) returns a place for the body of the next
 * command, with room for at least |len| bytes, or NULL (no memory, |len|
 * over the frame limit, or a frame of |len| that would take what waits past
 * max_outbuf, which the command would refuse with PS_ERR_OUTBUF_LIMIT: the
 * output never grows beyond max_outbuf for a frame that is refused). A command
 * whose |data| is this pointer frames the body where it lies, without copying
 * it. The place is valid until the next call on |s| other than
 * ps_session_send (which may hand out what was framed before it) and the
 * queries (ps_session_pending, ps_session_state, ps_session_memory).
 */
uint8_t *ps_session_body(ps_session *s, uint32_t len);

/* ps_session_state returns PS_STATE_* bits; PS_STATE_CLOSE_DUE says that
   ps_session_poll will report PS_EV_CLOSED once the events already waiting
   (an error, aborted requests and substreams) have been polled: after a
   graceful close with nothing left open, and all through a destroy. */
uint32_t ps_session_state(const ps_session *s);

/* ps_session_memory returns the bytes currently allocated by |s|. */
uint32_t ps_session_memory(const ps_session *s);

/*
 * ps_session_count returns how many requests and substreams are open:
 * |which| 0 our requests, 1 the peer's requests, 2 substreams we opened,
 * 3 substreams the peer opened.
 */
uint32_t ps_session_count(const ps_session *s, uint32_t which);

/*
 * ps_session_find returns the slot of the open request or substream that
 * packet-stream would name |id|: our request number for our requests and
 * substreams, the negated request number of the peer for substreams the
 * peer opened. Returns PS_NO_SLOT if there is none.
 */
uint32_t ps_session_find(ps_session *s, int32_t id);

/*
 * Commands. In wire mode each command that sends a packet frames it with the
 * body |data|/|len| of |type| (PS_TYPE_*); in packet mode |data| is ignored
 * and the host sends the packet itself, using the request number the command
 * returns. Unless said otherwise they return a request number or 0 on
 * success, or one of PS_ERR_INVALID_ARGUMENT, PS_ERR_FRAME_TOO_LARGE,
 * PS_ERR_CLOSED (nothing was sent: the session has closed, or in wire mode
 * it has ended, by a destroy or the transport's end, as the transport is
 * going; in packet mode the host may still send until PS_EV_CLOSED, as
 * packet-stream does, and with PS_OPT_COMPAT on substreams reported
 * aborted), or a fatal code (PS_ERR_OUTBUF_LIMIT, PS_ERR_NOMEM, an earlier
 * fatal code).
 */

/* ps_message sends a message (request number 0). Also
   PS_ERR_GOODBYE_COLLISION for an empty binary body in wire mode. */
int32_t ps_message(ps_session *s, uint32_t type, const uint8_t *data,
                   uint32_t len);

/*
 * ps_request sends a request and returns its request number (counting up
 * from 1, shared with ps_stream_open); |*slot| receives the slot that the
 * RESPONSE or REQUEST_ABORTED event will name. Also PS_ERR_CLOSING (as
 * packet-stream: 'parent stream is closing') and PS_ERR_REQUEST_LIMIT.
 */
int32_t ps_request(ps_session *s, uint32_t type, const uint8_t *data,
                   uint32_t len, uint32_t *slot);

/*
 * ps_respond answers the peer request in |slot| (from a PS_EV_REQUEST event)
 * and releases the slot. |flags| PS_FLAG_END makes it an error response.
 * Returns 0, PS_ERR_UNKNOWN_SLOT when |slot| is not an unanswered request
 * of the peer, PS_ERR_CLOSED after the session closed (the peer's requests
 * are released then; nothing is sent), or the common codes.
 */
int32_t ps_respond(ps_session *s, uint32_t slot, uint32_t flags, uint32_t type,
                   const uint8_t *data, uint32_t len);

/*
 * ps_respond_no_handler answers the peer request in |slot| with the error
 * packet-stream sends when it has no request handler:
 * {"message":"Unable to handle requests","name":"NO_REQUEST_HANDLER",
 * "stack":null}. Returns as ps_respond.
 */
int32_t ps_respond_no_handler(ps_session *s, uint32_t slot);

/*
 * ps_stream_open opens a substream and returns its request number; |*slot|
 * names it. Nothing is sent until the first write. Also PS_ERR_CLOSING and
 * PS_ERR_STREAM_LIMIT.
 */
int32_t ps_stream_open(ps_session *s, uint32_t *slot);

/*
 * ps_stream_write sends data on the substream in |slot|. Also
 * PS_ERR_UNKNOWN_SLOT and, unless the session has PS_OPT_COMPAT,
 * PS_ERR_STREAM_ENDED after the local end.
 */
int32_t ps_stream_write(ps_session *s, uint32_t slot, uint32_t type,
                        const uint8_t *data, uint32_t len);

/*
 * ps_stream_end sends the end of our side of the substream in |slot|, with
 * body |data| (JSON `true` for a plain end, an error value for an error).
 * When the peer had already ended its side the substream is finished and
 * the result is 1, else 0 (the slot stays valid until the peer's end comes
 * in a PS_EV_STREAM_END with PS_EVF_RELEASED). After a result of 1, in wire
 * mode the slot is released at once; in packet mode the host, which sends the
 * end itself after this call, releases it with ps_stream_release once sent: a
 * packet arriving while it sends still finds the substream (as in
 * packet-stream 2.0.6). Also PS_ERR_UNKNOWN_SLOT and, unless PS_OPT_COMPAT,
 * PS_ERR_STREAM_ENDED for a second end.
 */
int32_t ps_stream_end(ps_session *s, uint32_t slot, uint32_t type,
                      const uint8_t *data, uint32_t len);

/*
 * ps_stream_release forgets the substream in |slot| without sending
 * anything and releases the slot (packet-stream's substream destroy, once
 * the end has been sent or must not be). Returns 0 or PS_ERR_UNKNOWN_SLOT.
 */
int32_t ps_stream_release(ps_session *s, uint32_t slot);

/*
 * ps_session_close starts a graceful close: no new requests or substreams;
 * once every request and substream we opened has finished, and every
 * substream the peer opened (as packet-stream waits for them), PS_EV_CLOSED is
 * polled and, in wire mode, the goodbye header is framed. Returns 0, or
 * PS_ERR_CLOSED when already closed.
 */
int32_t ps_session_close(ps_session *s);

/*
 * ps_session_destroy ends the session now: |error| 0 for a clean end (as
 * packet-stream's destroy(true)), else a negative code. Every open request
 * and substream is reported aborted through ps_session_poll with |error| (or
 * PS_ERR_UNEXPECTED_END for a clean end), then PS_EV_CLOSED. In wire mode the
 * goodbye is framed only when the end was clean and nothing was open.
 * Returns 0 (calling it again changes nothing), or PS_ERR_INVALID_ARGUMENT
 * for an |error| above 0.
 */
int32_t ps_session_destroy(ps_session *s, int32_t error);

/*
 * ps_framer: the framing alone, without protocol state, for a host that keeps
 * the state elsewhere (a packet-stream in JS, a packet-mode session) and
 * needs packets turned into bytes and back: what packet-stream-codec is to
 * packet-stream. Limits are those of ps_limits (max_frame for both
 * directions, max_outbuf for bytes framed and not yet taken); the others are
 * not used.
 */
typedef struct ps_framer ps_framer;

/*
 * ps_frame: one decoded frame. |data| is borrowed: it points into the chunk
 * given to ps_framer_recv when the body lay wholly inside it, else into the
 * framer, and stays valid until the next ps_framer_recv or ps_framer_del.
 * The goodbye is a frame whose fields are all 0 and |data| NULL.
 */
typedef struct ps_frame {
  uint32_t flags; /* PS_FLAG_STREAM, PS_FLAG_END */
  uint32_t type;  /* PS_TYPE_* */
  uint32_t len;
  int32_t req;
  const uint8_t *data;
} ps_frame;

/* ps_framer_new: as ps_session_new; |limits| and |mem| may be NULL. */
int32_t ps_framer_new(ps_framer **out, const ps_limits *limits,
                      const ps_mem *mem);

/* ps_framer_del frees |f| and everything it owns. NULL is ignored. */
void ps_framer_del(ps_framer *f);

/*
 * ps_framer_put frames one packet. Returns 0, PS_ERR_INVALID_ARGUMENT (a
 * type over 2, NULL data with a length), PS_ERR_GOODBYE_COLLISION (an empty
 * binary message: its header would be the goodbye), PS_ERR_FRAME_TOO_LARGE,
 * PS_ERR_OUTBUF_LIMIT or PS_ERR_NOMEM; nothing was framed on an error and
 * the framer stays usable.
 */
int32_t ps_framer_put(ps_framer *f, uint32_t flags, uint32_t type, int32_t req,
                      const uint8_t *data, uint32_t len);

/*
 * ps_framer_put_int frames a packet whose body is the JSON text of |value|
 * (its decimal digits), for hosts where making that text costs more than
 * the frame. Returns the body's length, or an error as ps_framer_put.
 */
int32_t ps_framer_put_int(ps_framer *f, uint32_t flags, int32_t req,
                          int32_t value);

/*
 * ps_framer_header frames the header of a packet whose |len|-byte body the
 * caller sends itself, right after the bytes that end with this header (so
 * that a large body goes out without being copied into the framer): the
 * next ps_framer_send hands out the frames with a gap after this header for
 * the body. The body counts against max_outbuf until then. Returns as
 * ps_framer_put.
 */
int32_t ps_framer_header(ps_framer *f, uint32_t flags, uint32_t type,
                         int32_t req, uint32_t len);

/* ps_framer_goodbye frames the goodbye header, which may take the output
   past max_outbuf by its own 9 bytes (so that a close can say goodbye on a
   backed-up transport). Returns 0, PS_ERR_OUTBUF_LIMIT when what waits is
   over max_outbuf already, or PS_ERR_NOMEM. */
int32_t ps_framer_goodbye(ps_framer *f);

/* ps_framer_body, ps_framer_send, ps_framer_pending: as the ps_session_
   functions of the same names (the pointer of ps_framer_send stays valid
   until the next call on |f| other than ps_framer_pending, ps_framer_midframe
   and ps_framer_memory). ps_framer_pending counts the framed bytes only, not
   the bodies of ps_framer_header that go beside them. */
uint8_t *ps_framer_body(ps_framer *f, uint32_t len);
int32_t ps_framer_send(ps_framer *f, const uint8_t **out);
uint32_t ps_framer_pending(const ps_framer *f);

/* ps_framer_trim gives back the output buffer once everything framed has
   been taken (and the pointer of ps_framer_send is no longer needed), if it
   holds more than PS_KEEP_OUTPUT bytes, and between frames an input buffer
   over 64 KiB (one a split body was gathered in, or ps_framer_take_body
   handed over): one burst does not make a framer hold its size for good.
   (The framer does so itself when it next uses the buffer; this is for a
   host that wants the memory back now.) */
void ps_framer_trim(ps_framer *f);

/*
 * ps_framer_recv decodes frames from |len| bytes of |in|, any chunking, into
 * |frames| (room for |max|, at least 1), and stores their number in |*count|.
 * It stops after the goodbye (the rest of the input and all later input is
 * ignored), when |max| frames are out, and after a frame whose body had
 * arrived in pieces (it lives in the framer, and the next call may reuse
 * that place). Returns the bytes consumed: call again with the rest. A
 * protocol error (PS_ERR_BAD_TYPE, PS_ERR_PEER_FRAME_TOO_LARGE) or
 * PS_ERR_NOMEM is returned once the frames before it have been handed out,
 * and by every later call.
 */
int32_t ps_framer_recv(ps_framer *f, const uint8_t *in, uint32_t len,
                       ps_frame *frames, uint32_t max, uint32_t *count);

/*
 * ps_framer_take_body hands the body being gathered over to the host: when
 * a frame whose body is |min_len| bytes or more has arrived in part, it
 * stores the frame's header fields in |fr| (|len| the whole body's length,
 * |data| what has arrived, valid until the next ps_framer_recv,
 * ps_framer_trim or ps_framer_del) and the bytes that have arrived in
 * |*have|, and returns 1;
 * the framer then expects the next frame's header, so the host gathers the
 * next len - have bytes of input itself before it gives the framer more.
 * Returns 0, changing nothing, when no such body is being gathered. (For a
 * host whose own memory can shrink: the core's never does in WebAssembly.)
 */
int32_t ps_framer_take_body(ps_framer *f, uint32_t min_len, ps_frame *fr,
                            uint32_t *have);

/* ps_framer_midframe returns 1 while part of a frame has been received (an
   end of the transport now would cut it: PS_ERR_TRUNCATED). */
int ps_framer_midframe(const ps_framer *f);

/* ps_framer_memory returns the bytes currently allocated by |f|. */
uint32_t ps_framer_memory(const ps_framer *f);

/*
 * Pure framing helpers (no session).
 *
 * ps_header_encode writes the 9-byte header of a packet to |out|.
 * ps_header_decode reads one from |in|: returns 1 for a packet, 0 for the
 * goodbye header, PS_ERR_BAD_TYPE for body type 3.
 */
void ps_header_encode(uint8_t out[PS_HEADER_SIZE], uint32_t flags,
                      uint32_t type, uint32_t len, int32_t req);
int32_t ps_header_decode(const uint8_t in[PS_HEADER_SIZE], uint32_t *flags,
                         uint32_t *type, uint32_t *len, int32_t *req);

#ifdef __cplusplus
}
#endif

#endif
