#include "ps_alloc.h"

#include <stdlib.h>

static void *default_malloc(size_t size, void *user) {
  (void)user;
  return malloc(size);
}

static void default_free(void *ptr, void *user) {
  (void)user;
  free(ptr);
}

static void *default_realloc(void *ptr, size_t size, void *user) {
  (void)user;
  return realloc(ptr, size);
}

void ps_alloc_init(ps_alloc *a, const ps_mem *mem) {
  static const ps_mem defaults = {default_malloc, default_free, default_realloc,
                                  NULL};
  a->mem = mem ? *mem : defaults;
  a->bytes = 0;
}

void *ps_alloc_resize(ps_alloc *a, void *ptr, size_t old_size,
                      size_t new_size) {
  void *p;
  if (new_size == 0) {
    if (ptr) a->mem.free(ptr, a->mem.user);
    a->bytes -= (uint32_t)old_size;
    return NULL;
  }
  if (ptr == NULL)
    p = a->mem.malloc(new_size, a->mem.user);
  else
    p = a->mem.realloc(ptr, new_size, a->mem.user);
  if (p == NULL) return NULL;
  a->bytes = a->bytes - (uint32_t)old_size + (uint32_t)new_size;
  return p;
}
