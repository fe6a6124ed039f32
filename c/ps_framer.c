/*
 * ps_framer.c: the framing of packet-stream-codec on its own, for hosts that
 * keep the protocol state elsewhere. The same encoder and decoder as a
 * wire-mode session, with no tables.
 */
#include <string.h>

#include "ps_codec.h"

struct ps_framer {
  ps_alloc alloc;
  ps_limits limits;
  int32_t error; /* sticky decoding error, 0 while healthy */
  ps_encoder encoder;
  ps_decoder decoder;
};

int32_t ps_framer_new(ps_framer **out, const ps_limits *limits,
                      const ps_mem *mem) {
  ps_alloc alloc;
  ps_framer *f;
  if (out == NULL) return PS_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (mem && (!mem->malloc || !mem->free || !mem->realloc))
    return PS_ERR_INVALID_ARGUMENT;
  ps_alloc_init(&alloc, mem);
  f = ps_alloc_resize(&alloc, NULL, 0, sizeof *f);
  if (f == NULL) return PS_ERR_NOMEM;
  memset(f, 0, sizeof *f);
  if (limits)
    f->limits = *limits;
  else
    ps_limits_default(&f->limits);
  if (!ps_byte_limits_ok(&f->limits)) {
    ps_alloc_resize(&alloc, f, sizeof *f, 0);
    return PS_ERR_INVALID_ARGUMENT;
  }
  f->alloc = alloc;
  ps_decoder_init(&f->decoder);
  *out = f;
  return PS_OK;
}

void ps_framer_del(ps_framer *f) {
  ps_alloc alloc;
  if (f == NULL) return;
  ps_encoder_free(&f->encoder, &f->alloc);
  ps_decoder_free(&f->decoder, &f->alloc);
  alloc = f->alloc;
  ps_alloc_resize(&alloc, f, sizeof *f, 0);
}

/* What ps_framer_put and ps_framer_header refuse before framing anything. */
static int32_t check(const ps_framer *f, uint32_t flags, uint32_t type,
                     int32_t req, uint32_t len) {
  if (type > PS_TYPE_JSON) return PS_ERR_INVALID_ARGUMENT;
  if (len > f->limits.max_frame) return PS_ERR_FRAME_TOO_LARGE;
  /* its header would be all zero: the goodbye */
  if (!(flags & (PS_FLAG_STREAM | PS_FLAG_END)) && type == PS_TYPE_BINARY &&
      len == 0 && req == 0)
    return PS_ERR_GOODBYE_COLLISION;
  return PS_OK;
}

int32_t ps_framer_put(ps_framer *f, uint32_t flags, uint32_t type, int32_t req,
                      const uint8_t *data, uint32_t len) {
  int32_t rv;
  if (data == NULL && len != 0) return PS_ERR_INVALID_ARGUMENT;
  rv = check(f, flags, type, req, len);
  if (rv < 0) return rv;
  return ps_encoder_frame(&f->encoder, &f->alloc, f->limits.max_outbuf,
                          flags & (PS_FLAG_STREAM | PS_FLAG_END), type, req,
                          data, len);
}

int32_t ps_framer_put_int(ps_framer *f, uint32_t flags, int32_t req,
                          int32_t value) {
  uint8_t text[11], digits[10]; /* "-2147483648" */
  uint32_t n = 0, k = 0;
  uint32_t u = value < 0 ? 0u - (uint32_t)value : (uint32_t)value;
  int32_t rv;
  do {
    digits[k++] = (uint8_t)('0' + u % 10);
    u /= 10;
  } while (u);
  if (value < 0) text[n++] = '-';
  while (k) text[n++] = digits[--k];
  rv = ps_framer_put(f, flags, PS_TYPE_JSON, req, text, n);
  return rv < 0 ? rv : (int32_t)n;
}

int32_t ps_framer_header(ps_framer *f, uint32_t flags, uint32_t type,
                         int32_t req, uint32_t len) {
  int32_t rv = check(f, flags, type, req, len);
  if (rv < 0) return rv;
  return ps_encoder_header(&f->encoder, &f->alloc, f->limits.max_outbuf,
                           flags & (PS_FLAG_STREAM | PS_FLAG_END), type, req,
                           len);
}

int32_t ps_framer_goodbye(ps_framer *f) {
  /* what waits counts as in ps_encoder_frame: the bodies beside too */
  if ((uint64_t)ps_encoder_pending(&f->encoder) + f->encoder.beside >
      f->limits.max_outbuf)
    return PS_ERR_OUTBUF_LIMIT;
  return ps_encoder_goodbye(&f->encoder, &f->alloc);
}

uint8_t *ps_framer_body(ps_framer *f, uint32_t len) {
  if (len > f->limits.max_frame) return NULL;
  return ps_encoder_body(&f->encoder, &f->alloc, f->limits.max_outbuf, len);
}

int32_t ps_framer_send(ps_framer *f, const uint8_t **out) {
  return (int32_t)ps_encoder_take(&f->encoder, &f->alloc, out);
}

void ps_framer_trim(ps_framer *f) {
  ps_encoder_trim(&f->encoder, &f->alloc);
  ps_decoder_trim(&f->decoder, &f->alloc);
}

uint32_t ps_framer_pending(const ps_framer *f) {
  return ps_encoder_pending(&f->encoder);
}

int32_t ps_framer_recv(ps_framer *f, const uint8_t *in, uint32_t len,
                       ps_frame *frames, uint32_t max, uint32_t *count) {
  uint32_t pos, n;
  *count = 0;
  if (f->error) return f->error;
  if (max == 0 || (in == NULL && len != 0)) return PS_ERR_INVALID_ARGUMENT;
  if (len == 0) return 0;
  if (len > PS_MAX_BYTES) len = PS_MAX_BYTES; /* the count must fit an int32 */
  pos = ps_decoder_whole(&f->decoder, f->limits.max_frame, in, len, frames, max,
                         &n);
  while (n < max && f->decoder.state != PS_DEC_GOODBYE) {
    int got;
    ps_frame *fr = &frames[n];
    int32_t rv = ps_decoder_feed(&f->decoder, &f->alloc, f->limits.max_frame,
                                 in + pos, len - pos, &got, fr);
    if (rv < 0) {
      f->error = rv;
      if (n == 0) return rv;
      break; /* hand out what came before; the next call reports it */
    }
    pos += (uint32_t)rv;
    if (f->decoder.state == PS_DEC_GOODBYE) {
      memset(fr, 0, sizeof *fr);
      n++;
      pos = len;
      break;
    }
    if (!got) break; /* all consumed, part of a frame kept */
    n++;
    if (fr->len && (fr->data < in || fr->data >= in + len)) break;
    if (pos == len) break;
  }
  if (f->decoder.state == PS_DEC_GOODBYE) pos = len;
  *count = n;
  return (int32_t)pos;
}

int32_t ps_framer_take_body(ps_framer *f, uint32_t min_len, ps_frame *fr,
                            uint32_t *have) {
  return ps_decoder_take_body(&f->decoder, min_len, fr, have);
}

int ps_framer_midframe(const ps_framer *f) {
  return ps_decoder_midframe(&f->decoder);
}

uint32_t ps_framer_memory(const ps_framer *f) {
  return f->alloc.bytes;
}
