#include "ps_table.h"

#include <string.h>

#define INITIAL_SLOTS 16u
#define INITIAL_MAP 32u

/* Our own ids (positive) count up: multiplying by an odd constant sends a
   run of them to distinct buckets spread over the table, for one multiply.
   The peer chooses the others: murmur3's finaliser over the seeded id, so
   that a peer that does not know the seed cannot line ids up on one chain. */
static uint32_t hash_id(int32_t id, uint32_t seed) {
  uint32_t h;
  if (id > 0) return (uint32_t)id * 0x9e3779b1u;
  h = (uint32_t)id ^ seed;
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

void ps_table_init(ps_table *t, uint32_t seed) {
  uint32_t k;
  memset(t, 0, sizeof *t);
  t->free_head = PS_NO_SLOT;
  t->last_slot = PS_NO_SLOT;
  t->seed = seed;
  for (k = 0; k < PS_KINDS; k++)
    t->lists[k].head = t->lists[k].tail = PS_NO_SLOT;
}

void ps_table_free(ps_table *t, ps_alloc *a) {
  ps_alloc_resize(a, t->slots, (size_t)t->capacity * sizeof(ps_slot), 0);
  ps_alloc_resize(a, t->map, (size_t)t->map_capacity * sizeof(uint32_t), 0);
  ps_table_init(t, t->seed);
}

static int32_t grow_slots(ps_table *t, ps_alloc *a) {
  uint32_t cap = t->capacity ? t->capacity * 2 : INITIAL_SLOTS;
  uint32_t i;
  ps_slot *slots;
  if (cap > PS_MAX_SLOTS + 1u) cap = PS_MAX_SLOTS + 1u;
  if (cap <= t->capacity) return PS_ERR_NOMEM;
  slots = ps_alloc_resize(a, t->slots, (size_t)t->capacity * sizeof(ps_slot),
                          (size_t)cap * sizeof(ps_slot));
  if (slots == NULL) return PS_ERR_NOMEM;
  /* chain the new slots so that the lowest is handed out first */
  for (i = cap; i-- > t->capacity;) {
    slots[i].kind = PS_KIND_FREE;
    slots[i].next = t->free_head;
    t->free_head = i;
  }
  t->slots = slots;
  t->capacity = cap;
  return PS_OK;
}

static void map_insert(uint32_t *map, uint32_t mask, const ps_slot *slots,
                       uint32_t slot, uint32_t seed) {
  uint32_t i = hash_id(slots[slot].id, seed) & mask;
  while (map[i] != 0) i = (i + 1) & mask;
  map[i] = slot + 1;
}

static int32_t grow_map(ps_table *t, ps_alloc *a) {
  uint32_t cap = t->map_capacity ? t->map_capacity * 2 : INITIAL_MAP;
  uint32_t *map, i;
  map = ps_alloc_resize(a, NULL, 0, (size_t)cap * sizeof(uint32_t));
  if (map == NULL) return PS_ERR_NOMEM;
  memset(map, 0, (size_t)cap * sizeof(uint32_t));
  for (i = 0; i < t->map_capacity; i++)
    if (t->map[i]) map_insert(map, cap - 1, t->slots, t->map[i] - 1, t->seed);
  ps_alloc_resize(a, t->map, (size_t)t->map_capacity * sizeof(uint32_t), 0);
  t->map = map;
  t->map_capacity = cap;
  return PS_OK;
}

int32_t ps_table_add(ps_table *t, ps_alloc *a, uint32_t kind, int32_t id,
                     uint32_t *slot) {
  ps_list *list = PS_TABLE_LIST(t, kind);
  int hashed = kind != PS_KIND_REQ_IN;
  uint32_t s;
  ps_slot *rec;
  /* grow both before touching anything, so a failure leaves |t| as it was */
  if (hashed && (t->map_count + 1) * 2 > t->map_capacity &&
      grow_map(t, a) != PS_OK)
    return PS_ERR_NOMEM;
  if (t->free_head == PS_NO_SLOT && grow_slots(t, a) != PS_OK)
    return PS_ERR_NOMEM;
  s = t->free_head;
  rec = &t->slots[s];
  t->free_head = rec->next;
  rec->id = id;
  rec->kind = (uint8_t)kind;
  rec->flags = 0;
  rec->reserved = 0;
  rec->prev = list->tail;
  rec->next = PS_NO_SLOT;
  if (list->tail != PS_NO_SLOT)
    t->slots[list->tail].next = s;
  else
    list->head = s;
  list->tail = s;
  list->count++;
  if (hashed) {
    map_insert(t->map, t->map_capacity - 1, t->slots, s, t->seed);
    t->map_count++;
  }
  *slot = s;
  return PS_OK;
}

uint32_t ps_table_find(ps_table *t, int32_t id) {
  uint32_t mask, i, e;
  if (t->map_count == 0) return PS_NO_SLOT;
  /* a slot in the map under this id is the one the map would return */
  if (t->last_slot < t->capacity) {
    const ps_slot *last = &t->slots[t->last_slot];
    if (last->id == id && last->kind != PS_KIND_FREE &&
        last->kind != PS_KIND_REQ_IN)
      return t->last_slot;
  }
  mask = t->map_capacity - 1;
  for (i = hash_id(id, t->seed) & mask; (e = t->map[i]) != 0;
       i = (i + 1) & mask)
    if (t->slots[e - 1].id == id) return t->last_slot = e - 1;
  return PS_NO_SLOT;
}

static void map_remove(ps_table *t, uint32_t slot) {
  uint32_t mask = t->map_capacity - 1;
  uint32_t i = hash_id(t->slots[slot].id, t->seed) & mask;
  uint32_t j, home;
  while (t->map[i] != slot + 1) i = (i + 1) & mask;
  /* backward-shift: pull later entries of the chain into the hole so that
     no lookup ever has to step over a tombstone */
  for (j = (i + 1) & mask; t->map[j] != 0; j = (j + 1) & mask) {
    home = hash_id(t->slots[t->map[j] - 1].id, t->seed) & mask;
    /* move map[j] to i unless its home lies cyclically in (i, j] */
    if (((j - home) & mask) >= ((j - i) & mask)) {
      t->map[i] = t->map[j];
      i = j;
    }
  }
  t->map[i] = 0;
  t->map_count--;
}

void ps_table_unlink(ps_table *t, uint32_t slot) {
  ps_slot *rec = &t->slots[slot];
  ps_list *list = PS_TABLE_LIST(t, rec->kind);
  if (rec->kind != PS_KIND_REQ_IN) map_remove(t, slot);
  if (rec->prev != PS_NO_SLOT)
    t->slots[rec->prev].next = rec->next;
  else
    list->head = rec->next;
  if (rec->next != PS_NO_SLOT)
    t->slots[rec->next].prev = rec->prev;
  else
    list->tail = rec->prev;
  list->count--;
  rec->kind = PS_KIND_FREE;
  rec->flags = 0;
}

void ps_table_recycle(ps_table *t, uint32_t slot) {
  t->slots[slot].next = t->free_head;
  t->free_head = slot;
}

void ps_table_remove(ps_table *t, uint32_t slot) {
  ps_table_unlink(t, slot);
  ps_table_recycle(t, slot);
}

ps_slot *ps_table_get(const ps_table *t, uint32_t slot) {
  if (slot >= t->capacity || t->slots[slot].kind == PS_KIND_FREE) return NULL;
  return &t->slots[slot];
}
