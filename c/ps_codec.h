/*
 * ps_codec.h: the packet-stream-codec framing. Pure header encode/decode
 * (declared in ps.h), the encoder that frames outbound packets into one
 * buffer, and the incremental decoder fed with transport bytes in any
 * chunking. A wire-mode session and a ps_framer are both built from these.
 */
#ifndef PS_CODEC_H
#define PS_CODEC_H

#include "ps_buf.h"

enum ps_decoder_state {
  PS_DEC_HEAD = 0, /* collecting the 9 header bytes */
  PS_DEC_BODY,     /* collecting the body */
  PS_DEC_GOODBYE,  /* the goodbye header arrived: the rest is ignored */
  PS_DEC_FAILED    /* a protocol error: the rest is ignored */
};

typedef struct ps_decoder {
  uint8_t state;                /* enum ps_decoder_state */
  uint8_t head_len;             /* header bytes collected */
  uint8_t head[PS_HEADER_SIZE]; /* a header split across chunks */
  uint32_t flags, type, len;    /* decoded header of the current frame */
  int32_t req;
  ps_buf body; /* a body split across chunks; owned */
} ps_decoder;

/* ps_decoder_init empties |d|. */
void ps_decoder_init(ps_decoder *d);

/* ps_decoder_free releases the buffer of |d|. */
void ps_decoder_free(ps_decoder *d, ps_alloc *a);

/*
 * ps_decoder_feed consumes bytes of |in| until one frame is complete.
 * Returns the number consumed and sets |*got| to 1 with |*frame| filled
 * (the goodbye header sets state PS_DEC_GOODBYE and *got 0), or a fatal
 * code: PS_ERR_BAD_TYPE, PS_ERR_PEER_FRAME_TOO_LARGE (both found from the
 * header alone, before anything is allocated for the body), PS_ERR_NOMEM.
 * The body buffer grows with the bytes that actually arrive, never ahead of
 * them, so a header that promises a large body costs nothing until it comes.
 */
int32_t ps_decoder_feed(ps_decoder *d, ps_alloc *a, uint32_t max_frame,
                        const uint8_t *in, uint32_t len, int *got,
                        ps_frame *frame);

/*
 * ps_decoder_whole decodes, from a frame boundary, the frames that lie whole
 * in |in|, up to |max| of them, into |frames| (their bodies point into |in|)
 * and sets |*count|. It stops before anything that is not a whole, ordinary
 * frame (a split one, the goodbye, a header in error), which is left to
 * ps_decoder_feed. Returns the bytes consumed. The common case of a chunk
 * of many small frames, without the state machine of ps_decoder_feed.
 */
uint32_t ps_decoder_whole(ps_decoder *d, uint32_t max_frame, const uint8_t *in,
                          uint32_t len, ps_frame *frames, uint32_t max,
                          uint32_t *count);

/* ps_decoder_take_body hands over a body of |min_len| bytes or more that is
   being gathered, as ps_framer_take_body says: 1, or 0 when there is none. */
int ps_decoder_take_body(ps_decoder *d, uint32_t min_len, ps_frame *frame,
                         uint32_t *have);

/* ps_decoder_trim lets a body buffer over 64 KiB go between frames (the
   decoder does so itself before it gathers the next). */
void ps_decoder_trim(ps_decoder *d, ps_alloc *a);

/* ps_decoder_midframe returns 1 when part of a frame has been received. */
int ps_decoder_midframe(const ps_decoder *d);

/* The outbound frames; the first |taken| bytes were handed out. |beside|
   counts the bodies framed by ps_encoder_header since the last take: the
   host holds and sends them, but they are output all the same. */
typedef struct ps_encoder {
  ps_buf out;
  uint32_t taken;
  uint32_t beside;
  uint32_t placed; /* a place for a body was handed out and not yet framed */
} ps_encoder;

/* ps_encoder_free releases the buffer of |e| and empties it. */
void ps_encoder_free(ps_encoder *e, ps_alloc *a);

/*
 * ps_byte_limits_ok says whether a session's or framer's byte limits can be
 * used: at least 1, and at most PS_MAX_BYTES, so that no byte count (a body
 * with its header, what is pending) wraps or reads as an error code.
 */
static inline int ps_byte_limits_ok(const ps_limits *lim) {
  return lim->max_frame != 0 && lim->max_outbuf != 0 &&
         lim->max_frame <= PS_MAX_BYTES && lim->max_outbuf <= PS_MAX_BYTES;
}

/*
 * ps_encoder_body reserves room for a frame with a body of |len| bytes and
 * returns where that body goes (see ps_session_body), or NULL for no memory
 * or when the frame would take the bytes not yet taken past |max_outbuf|.
 * The caller has checked |len| against max_frame (so it is at most
 * PS_MAX_BYTES).
 */
uint8_t *ps_encoder_body(ps_encoder *e, ps_alloc *a, uint32_t max_outbuf,
                         uint32_t len);

/*
 * ps_encoder_frame appends one frame, copying the body unless it already lies
 * where ps_encoder_body said. Returns 0, PS_ERR_OUTBUF_LIMIT when the bytes
 * not yet taken would pass |max_outbuf|, or PS_ERR_NOMEM.
 */
int32_t ps_encoder_frame(ps_encoder *e, ps_alloc *a, uint32_t max_outbuf,
                         uint32_t flags, uint32_t type, int32_t req,
                         const uint8_t *data, uint32_t len);

/*
 * ps_encoder_header appends the header of a frame whose |len|-byte body the
 * host sends itself right after it; the body counts against |max_outbuf|
 * until the next take. Returns as ps_encoder_frame.
 */
int32_t ps_encoder_header(ps_encoder *e, ps_alloc *a, uint32_t max_outbuf,
                          uint32_t flags, uint32_t type, int32_t req,
                          uint32_t len);

/* ps_encoder_goodbye appends the goodbye header, whatever the limit. */
int32_t ps_encoder_goodbye(ps_encoder *e, ps_alloc *a);

/* ps_encoder_take hands out every byte not yet taken (see ps_session_send). */
uint32_t ps_encoder_take(ps_encoder *e, ps_alloc *a, const uint8_t **out);

/* ps_encoder_untake hands back all but the first |n| bytes of the last take
   (see ps_session_sent): PS_ERR_INVALID_ARGUMENT when |n| is more than it
   handed out, or nothing is handed out any more. */
int32_t ps_encoder_untake(ps_encoder *e, uint32_t n);

/* ps_encoder_trim lets the buffer go when every byte in it has been taken
   and it holds more than PS_KEEP_OUTPUT bytes (the encoder does so itself
   before it uses the buffer again). */
void ps_encoder_trim(ps_encoder *e, ps_alloc *a);

/* ps_encoder_pending returns the number of bytes not yet taken. */
uint32_t ps_encoder_pending(const ps_encoder *e);

#endif
