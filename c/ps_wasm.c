/*
 * ps_wasm.c: what only the WebAssembly build needs, kept apart so that the
 * rest of c/ builds natively unchanged (this file compiles to nothing
 * there). The module has no imports but the memory-growth notice: the core
 * never calls out, the glue polls.
 */
#ifdef __EMSCRIPTEN__
#include <emscripten.h>
#include <stdlib.h>

#include "ps.h"

/*
 * psw_session_new creates a session with the limits given one by one (no
 * struct to lay out from JS). Returns its address, or a negative PS_ERR_*.
 */
EMSCRIPTEN_KEEPALIVE
int32_t psw_session_new(uint32_t mode, uint32_t options, uint32_t max_frame,
                        uint32_t max_requests, uint32_t max_streams,
                        uint32_t max_outbuf, uint32_t hash_seed) {
  ps_limits lim;
  ps_session *s = NULL;
  int32_t rv;
  lim.max_frame = max_frame;
  lim.max_requests = max_requests;
  lim.max_streams = max_streams;
  lim.max_outbuf = max_outbuf;
  rv = ps_session_new(&s, mode, options, &lim, NULL, hash_seed);
  return rv < 0 ? rv : (int32_t)(uintptr_t)s;
}

/* psw_framer_new: a framer with the two limits it uses. Returns its
   address, or a negative PS_ERR_*. */
EMSCRIPTEN_KEEPALIVE
int32_t psw_framer_new(uint32_t max_frame, uint32_t max_outbuf) {
  ps_limits lim;
  ps_framer *f = NULL;
  int32_t rv;
  ps_limits_default(&lim);
  lim.max_frame = max_frame;
  lim.max_outbuf = max_outbuf;
  rv = ps_framer_new(&f, &lim, NULL);
  return rv < 0 ? rv : (int32_t)(uintptr_t)f;
}

/* Scratch memory for the glue (input chunks, the event, out-parameters). */
EMSCRIPTEN_KEEPALIVE
void *psw_malloc(uint32_t size) {
  return malloc(size);
}

EMSCRIPTEN_KEEPALIVE
void psw_free(void *p) {
  free(p);
}
#endif
