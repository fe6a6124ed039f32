/*
 * ps_buf.h: a growable byte buffer (the outbound frames, the body of an
 * inbound frame that arrived in pieces).
 */
#ifndef PS_BUF_H
#define PS_BUF_H

#include "ps_alloc.h"

typedef struct ps_buf {
  uint8_t *data; /* owned */
  uint32_t len;  /* bytes in use */
  uint32_t cap;  /* bytes allocated */
} ps_buf;

/*
 * ps_buf_reserve makes room for |extra| more bytes after |len|, doubling the
 * capacity but never past |most| bytes (or past len + extra if that is
 * larger). Returns 0 or PS_ERR_NOMEM (also when the size would pass 4 GiB).
 */
int32_t ps_buf_reserve(ps_buf *b, ps_alloc *a, uint32_t extra, uint32_t most);

/* ps_buf_free releases the memory of |b| and empties it. */
void ps_buf_free(ps_buf *b, ps_alloc *a);

#endif
