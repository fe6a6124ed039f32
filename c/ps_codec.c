#include "ps_codec.h"

#include <string.h>

void ps_header_encode(uint8_t out[PS_HEADER_SIZE], uint32_t flags,
                      uint32_t type, uint32_t len, int32_t req) {
  uint32_t r = (uint32_t)req;
  out[0] = (uint8_t)((flags & (PS_FLAG_STREAM | PS_FLAG_END)) | (type & 3u));
  out[1] = (uint8_t)(len >> 24);
  out[2] = (uint8_t)(len >> 16);
  out[3] = (uint8_t)(len >> 8);
  out[4] = (uint8_t)len;
  out[5] = (uint8_t)(r >> 24);
  out[6] = (uint8_t)(r >> 16);
  out[7] = (uint8_t)(r >> 8);
  out[8] = (uint8_t)r;
}

int32_t ps_header_decode(const uint8_t in[PS_HEADER_SIZE], uint32_t *flags,
                         uint32_t *type, uint32_t *len, int32_t *req) {
  uint32_t r;
  *flags = in[0] & (PS_FLAG_STREAM | PS_FLAG_END);
  *type = in[0] & 3u;
  *len = (uint32_t)in[1] << 24 | (uint32_t)in[2] << 16 | (uint32_t)in[3] << 8 |
         in[4];
  r = (uint32_t)in[5] << 24 | (uint32_t)in[6] << 16 | (uint32_t)in[7] << 8 |
      in[8];
  *req = (int32_t)r;
  if (in[0] == 0 && *len == 0 && r == 0) return 0; /* all nine bytes zero */
  if (*type == 3) return PS_ERR_BAD_TYPE;
  return 1;
}

void ps_decoder_init(ps_decoder *d) {
  memset(d, 0, sizeof *d);
}

void ps_decoder_free(ps_decoder *d, ps_alloc *a) {
  ps_buf_free(&d->body, a);
}

int ps_decoder_midframe(const ps_decoder *d) {
  return (d->state == PS_DEC_HEAD && d->head_len > 0) ||
         d->state == PS_DEC_BODY;
}

/* Bodies at most this large keep their buffer for the next split frame. */
#define KEEP_BODY_BUFFER 65536u

static void emit(ps_decoder *d, ps_frame *frame, const uint8_t *data) {
  frame->flags = d->flags;
  frame->type = d->type;
  frame->len = d->len;
  frame->req = d->req;
  frame->data = data;
  d->state = PS_DEC_HEAD;
  d->head_len = 0;
}

int ps_decoder_take_body(ps_decoder *d, uint32_t min_len, ps_frame *frame,
                         uint32_t *have) {
  if (d->state != PS_DEC_BODY || d->len < min_len) return 0;
  *have = d->body.len;
  /* the next header is what comes now; the buffer stays until a trim */
  emit(d, frame, d->body.data);
  return 1;
}

void ps_decoder_trim(ps_decoder *d, ps_alloc *a) {
  if (d->state == PS_DEC_HEAD && d->body.cap > KEEP_BODY_BUFFER)
    ps_buf_free(&d->body, a);
}

int32_t ps_decoder_feed(ps_decoder *d, ps_alloc *a, uint32_t max_frame,
                        const uint8_t *in, uint32_t len, int *got,
                        ps_frame *frame) {
  uint32_t pos = 0, n;
  int32_t rv;
  *got = 0;
  ps_decoder_trim(d, a);
  while (pos < len) {
    if (d->state == PS_DEC_GOODBYE || d->state == PS_DEC_FAILED)
      return (int32_t)len;
    if (d->state == PS_DEC_HEAD) {
      const uint8_t *head;
      if (d->head_len == 0 && len - pos >= PS_HEADER_SIZE) {
        head = in + pos; /* the common case: no copy */
        pos += PS_HEADER_SIZE;
      } else {
        n = PS_HEADER_SIZE - d->head_len;
        if (n > len - pos) n = len - pos;
        memcpy(d->head + d->head_len, in + pos, n);
        d->head_len = (uint8_t)(d->head_len + n);
        pos += n;
        if (d->head_len < PS_HEADER_SIZE) break;
        head = d->head;
      }
      rv = ps_header_decode(head, &d->flags, &d->type, &d->len, &d->req);
      if (rv == 0) {
        d->state = PS_DEC_GOODBYE;
        return (int32_t)len;
      }
      if (rv < 0) {
        d->state = PS_DEC_FAILED;
        return rv;
      }
      if (d->len > max_frame) {
        d->state = PS_DEC_FAILED;
        return PS_ERR_PEER_FRAME_TOO_LARGE;
      }
      if (len - pos >= d->len) { /* the whole body is here: hand it out */
        emit(d, frame, in + pos);
        *got = 1;
        return (int32_t)(pos + frame->len);
      }
      d->state = PS_DEC_BODY;
      d->body.len = 0;
      continue;
    }
    /* PS_DEC_BODY: gather the pieces, growing with what arrives */
    n = d->len - d->body.len;
    if (n > len - pos) n = len - pos;
    if (ps_buf_reserve(&d->body, a, n, d->len) != PS_OK) {
      d->state = PS_DEC_FAILED;
      return PS_ERR_NOMEM;
    }
    memcpy(d->body.data + d->body.len, in + pos, n);
    d->body.len += n;
    pos += n;
    if (d->body.len == d->len) {
      emit(d, frame, d->body.data);
      *got = 1;
      return (int32_t)pos;
    }
  }
  return (int32_t)pos;
}

uint32_t ps_decoder_whole(ps_decoder *d, uint32_t max_frame, const uint8_t *in,
                          uint32_t len, ps_frame *frames, uint32_t max,
                          uint32_t *count) {
  uint32_t pos = 0, n = 0;
  if (d->state == PS_DEC_HEAD && d->head_len == 0) {
    while (n < max && len - pos >= PS_HEADER_SIZE) {
      ps_frame *fr = &frames[n];
      if (ps_header_decode(in + pos, &fr->flags, &fr->type, &fr->len,
                           &fr->req) <= 0 ||
          fr->len > max_frame || fr->len > len - pos - PS_HEADER_SIZE)
        break;
      fr->data = in + pos + PS_HEADER_SIZE;
      pos += PS_HEADER_SIZE + fr->len;
      n++;
    }
  }
  *count = n;
  return pos;
}

/* ---- encoder ------------------------------------------------------------ */

static const uint8_t goodbye_header[PS_HEADER_SIZE] = {0};

void ps_encoder_free(ps_encoder *e, ps_alloc *a) {
  ps_buf_free(&e->out, a);
  e->taken = 0;
  e->beside = 0;
  e->placed = 0;
}

/* Drops the bytes already handed out. */
static void compact(ps_encoder *e) {
  if (e->taken == 0) return;
  memmove(e->out.data, e->out.data + e->taken, e->out.len - e->taken);
  e->out.len -= e->taken;
  e->taken = 0;
}

/* Before the buffer is used again: what was handed out is gone, and a
   buffer that a burst made large is let go once all of it went (a host
   that sent one large frame does not keep its size for good). */
static void settle(ps_encoder *e, ps_alloc *a) {
  ps_encoder_trim(e, a);
  compact(e);
}

/* Whether a frame with a body of |len| bytes fits beside what waits. */
static int fits(const ps_encoder *e, uint32_t max_outbuf, uint32_t len) {
  return (uint64_t)e->out.len + e->beside + PS_HEADER_SIZE + len <= max_outbuf;
}

/* The buffer grows up to max_outbuf and no further: a frame that does not
   fit is refused before the room for it is reserved, so a peer that stops
   reading costs at most max_outbuf (and the goodbye's 9 bytes) however the
   buffer doubled on the way. */
uint8_t *ps_encoder_body(ps_encoder *e, ps_alloc *a, uint32_t max_outbuf,
                         uint32_t len) {
  settle(e, a);
  if (!fits(e, max_outbuf, len) ||
      ps_buf_reserve(&e->out, a, PS_HEADER_SIZE + len, max_outbuf) != PS_OK)
    return NULL;
  e->placed = 1; /* the buffer stays until a frame is made */
  return e->out.data + e->out.len + PS_HEADER_SIZE;
}

int32_t ps_encoder_frame(ps_encoder *e, ps_alloc *a, uint32_t max_outbuf,
                         uint32_t flags, uint32_t type, int32_t req,
                         const uint8_t *data, uint32_t len) {
  uint8_t *at;
  /* a body placed by ps_encoder_body lies in this buffer, where it belongs
     unless bytes before it were taken since: it is then moved down after
     what waits. So may bytes just handed out (a host that frames them
     again): the buffer is kept for them, not let go by settle. */
  uintptr_t start = (uintptr_t)e->out.data, from = (uintptr_t)data;
  int inside = len > 0 && start != 0 && from >= start && len <= e->out.cap &&
               from - start <= e->out.cap - len;
  size_t offset = inside ? (size_t)(from - start) : 0;
  if (inside)
    compact(e);
  else
    settle(e, a);
  if (!fits(e, max_outbuf, len)) return PS_ERR_OUTBUF_LIMIT;
  if (ps_buf_reserve(&e->out, a, PS_HEADER_SIZE + len, max_outbuf) != PS_OK)
    return PS_ERR_NOMEM;
  if (inside) data = e->out.data + offset; /* the reserve may have moved it */
  at = e->out.data + e->out.len;
  if (len && data != at + PS_HEADER_SIZE)
    memmove(at + PS_HEADER_SIZE, data, len);
  ps_header_encode(at, flags, type, len, req);
  e->out.len += PS_HEADER_SIZE + len;
  e->placed = 0;
  return PS_OK;
}

int32_t ps_encoder_header(ps_encoder *e, ps_alloc *a, uint32_t max_outbuf,
                          uint32_t flags, uint32_t type, int32_t req,
                          uint32_t len) {
  settle(e, a);
  if (!fits(e, max_outbuf, len)) return PS_ERR_OUTBUF_LIMIT;
  if (ps_buf_reserve(&e->out, a, PS_HEADER_SIZE, max_outbuf) != PS_OK)
    return PS_ERR_NOMEM;
  ps_header_encode(e->out.data + e->out.len, flags, type, len, req);
  e->out.len += PS_HEADER_SIZE;
  e->beside += len;
  return PS_OK;
}

int32_t ps_encoder_goodbye(ps_encoder *e, ps_alloc *a) {
  settle(e, a);
  if (ps_buf_reserve(&e->out, a, PS_HEADER_SIZE, UINT32_MAX) != PS_OK)
    return PS_ERR_NOMEM;
  memcpy(e->out.data + e->out.len, goodbye_header, PS_HEADER_SIZE);
  e->out.len += PS_HEADER_SIZE;
  return PS_OK;
}

uint32_t ps_encoder_take(ps_encoder *e, ps_alloc *a, const uint8_t **out) {
  settle(e, a);
  *out = e->out.data;
  e->taken = e->out.len;
  e->beside = 0;
  return e->taken;
}

void ps_encoder_trim(ps_encoder *e, ps_alloc *a) {
  if (!e->placed && e->taken == e->out.len && e->out.cap > PS_KEEP_OUTPUT)
    ps_encoder_free(e, a);
}

int32_t ps_encoder_untake(ps_encoder *e, uint32_t n) {
  if (n > e->taken) return PS_ERR_INVALID_ARGUMENT;
  e->taken = n;
  return PS_OK;
}

uint32_t ps_encoder_pending(const ps_encoder *e) {
  return e->out.len - e->taken;
}
