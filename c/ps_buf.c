#include "ps_buf.h"

int32_t ps_buf_reserve(ps_buf *b, ps_alloc *a, uint32_t extra, uint32_t most) {
  uint64_t need = (uint64_t)b->len + extra;
  uint64_t cap;
  uint8_t *p;
  if (need <= b->cap) return PS_OK;
  if (need > UINT32_MAX) return PS_ERR_NOMEM;
  cap = b->cap ? b->cap : 256;
  while (cap < need) cap *= 2;
  if (cap > most) cap = most;
  if (cap < need) cap = need;
  p = ps_alloc_resize(a, b->data, b->cap, (size_t)cap);
  if (p == NULL) return PS_ERR_NOMEM;
  b->data = p;
  b->cap = (uint32_t)cap;
  return PS_OK;
}

void ps_buf_free(ps_buf *b, ps_alloc *a) {
  ps_alloc_resize(a, b->data, b->cap, 0);
  b->data = NULL;
  b->len = b->cap = 0;
}
