/*
 * ps_alloc.h: the allocator of a session. Every allocation goes through the
 * host's ps_mem hooks and is counted, so that ps_session_memory can report
 * what a session holds and tests can fail the Nth allocation.
 */
#ifndef PS_ALLOC_H
#define PS_ALLOC_H

#include "ps.h"

typedef struct ps_alloc {
  ps_mem mem;
  uint32_t bytes; /* currently allocated through this context */
} ps_alloc;

/* ps_alloc_init copies |mem| into |a|, or installs malloc/free for NULL. */
void ps_alloc_init(ps_alloc *a, const ps_mem *mem);

/*
 * ps_alloc_resize grows or shrinks |ptr| (of |old_size| bytes, NULL when 0)
 * to |new_size| bytes (0 frees it). Returns the new block, or NULL on
 * failure, in which case |ptr| is untouched.
 */
void *ps_alloc_resize(ps_alloc *a, void *ptr, size_t old_size, size_t new_size);

#endif
