/*
 * ps_constants.h: the single source of every constant shared by the C core
 * and the JavaScript glue. ps.h builds its enums from these tables and
 * build.sh generates js/constants.js from them (a C program it writes), so
 * the two sides cannot drift apart; test/constants.test.js checks it.
 *
 * Each table is an X-macro: X(NAME, value[, message]).
 */
#ifndef PS_CONSTANTS_H
#define PS_CONSTANTS_H

/*
 * Error codes. 0 is success. The -5xx band is recoverable: the call was
 * refused and the session is unchanged. Codes at or below -900 are fatal:
 * the session has been destroyed (its pending requests and substreams are
 * reported aborted through ps_session_poll) and every later input
 * (ps_session_recv, ps_session_recv_packet) or command that would send
 * returns the same code. Ending calls have nothing left to do and return as
 * they would on a destroyed session (ps_session_close, ps_session_destroy,
 * ps_session_recv_end: 0; ps_stream_release: PS_ERR_UNKNOWN_SLOT once the
 * substream has been reported aborted).
 */
#define PS_ERRORS(X)                                                         \
  X(OK, 0, "success")                                                        \
  X(ERR_INVALID_ARGUMENT, -501, "invalid argument")                          \
  X(ERR_CLOSING, -502, "parent stream is closing")                           \
  X(ERR_CLOSED, -503, "session is closed")                                   \
  X(ERR_UNKNOWN_SLOT, -504, "no open request or substream in that slot")     \
  X(ERR_STREAM_ENDED, -505, "substream already ended in this direction")     \
  X(ERR_FRAME_TOO_LARGE, -506, "body is larger than the frame limit")        \
  X(ERR_REQUEST_LIMIT, -507, "too many open requests")                       \
  X(ERR_STREAM_LIMIT, -508, "too many open substreams")                      \
  X(ERR_WRONG_MODE, -509, "operation not available in this session mode")    \
  X(ERR_GOODBYE_COLLISION, -510,                                             \
    "an empty binary message is indistinguishable from goodbye on the wire") \
  X(ERR_EVENT_PENDING, -511, "an event is waiting to be polled")             \
  X(ERR_NOMEM, -901, "out of memory")                                        \
  X(ERR_BAD_TYPE, -902, "peer sent a frame with invalid body type 3")        \
  X(ERR_PEER_FRAME_TOO_LARGE, -903,                                          \
    "peer sent a frame larger than the frame limit")                         \
  X(ERR_PEER_REQUEST_LIMIT, -904, "peer opened too many requests")           \
  X(ERR_PEER_STREAM_LIMIT, -905, "peer opened too many substreams")          \
  X(ERR_TRUNCATED, -906, "connection ended in the middle of a frame")        \
  X(ERR_OUTBUF_LIMIT, -907,                                                  \
    "outbound buffer limit exceeded: more was sent than the transport took") \
  X(ERR_BAD_BODY, -908, "peer sent a body that does not decode")             \
  X(ERR_TRANSPORT, -909, "transport failed")                                 \
  X(ERR_UNEXPECTED_END, -910, "unexpected end of parent stream")             \
  X(ERR_DESTROYED, -911, "session destroyed")

/* Events returned by ps_session_poll (and packed by ps_session_recv_packet). */
#define PS_EVENTS(X)                                                        \
  X(NONE, 0)            /* nothing to report */                             \
  X(MESSAGE, 1)         /* packet with req 0 */                             \
  X(REQUEST, 2)         /* peer request; answer with ps_respond(slot) */    \
  X(RESPONSE, 3)        /* answer to our request in slot (END: error) */    \
  X(STREAM_DATA, 4)     /* data for substream slot */                       \
  X(STREAM_END, 5)      /* peer ended substream slot (body: end value) */   \
  X(REQUEST_ABORTED, 6) /* our request in slot failed: session destroyed */ \
  X(STREAM_ABORTED, 7)  /* substream slot destroyed with the session */     \
  X(CLOSED, 8)          /* session closed; error is 0 or the reason */      \
  X(ERROR, 9)           /* fatal error; aborts and CLOSED follow */         \
  X(STRAY, 10)          /* packet for no open request/substream, dropped */

/* Flag bits: the first two are the wire bits of the frame header. */
#define PS_FLAGS(X)                                             \
  X(FLAG_STREAM, 0x08)                                          \
  X(FLAG_END, 0x04)                                             \
  X(EVF_OPENED, 0x100)   /* the packet opened this substream */ \
  X(EVF_RELEASED, 0x200) /* the core released the slot with this event */

/* Body types (bits 0-1 of the flags byte). 3 is invalid. */
#define PS_TYPES(X) \
  X(TYPE_BINARY, 0) \
  X(TYPE_STRING, 1) \
  X(TYPE_JSON, 2)

/* Session modes. */
#define PS_MODES(X)                                                       \
  X(MODE_WIRE, 0)   /* bytes in, frames out: the core owns the framing */ \
  X(MODE_PACKET, 1) /* the host passes packets; values never enter the core */

/* Session options (bits). */
#define PS_OPTIONS(X)                                                       \
  X(OPT_COMPAT, 1) /* deliver what packet-stream 2.0.6 delivers: data after \
                      end and repeated ends (see ps.h) */

/* Bits of ps_session_state(). */
#define PS_STATES(X)                                                          \
  X(STATE_CLOSING, 1)    /* close or destroy started: no new requests */      \
  X(STATE_CLOSED, 2)     /* close finished: the end has been sent */          \
  X(STATE_ENDED, 4)      /* destroyed or peer ended: input is ignored */      \
  X(STATE_GOODBYE, 8)    /* wire mode: the goodbye header was received */     \
  X(STATE_CLOSE_DUE, 16) /* closing with nothing open: poll reports CLOSED */ \
  X(STATE_IDLE, 32) /* no request or substream of ours or substream of the    \
                       peer is open */

/* Layout of the packed result of ps_session_recv_packet. */
#define PS_PACKED(X)                                           \
  X(PACK_TYPE_MASK, 0x0f)                                      \
  X(PACK_OPENED, 0x10)                                         \
  X(PACK_RELEASED, 0x20)                                       \
  X(PACK_MORE, 0x40) /* more events wait in ps_session_poll */ \
  X(PACK_SLOT_SHIFT, 8)

/* Default limits. */
#define PS_DEFAULTS(X)                                                    \
  X(DEFAULT_MAX_FRAME, 16777216)   /* 16 MiB */                           \
  X(DEFAULT_MAX_REQUESTS, 1048576) /* per direction */                    \
  X(DEFAULT_MAX_STREAMS, 1048576)  /* per direction */                    \
  X(DEFAULT_MAX_OUTBUF, 67108864)  /* 64 MiB */                           \
  X(KEEP_OUTPUT, 65536)    /* an output buffer over this size is let go   \
                              once every byte in it has been sent */      \
  X(MAX_SLOTS, 8388606)    /* the slot must fit in 23 bits */             \
  X(MAX_BYTES, 2147483632) /* the largest max_frame and max_outbuf: every \
                              byte count, with a header, fits an int32 */

#endif
