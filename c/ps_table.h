/*
 * ps_table.h: the open requests and substreams of a session.
 *
 * Each one lives in a slot: a 16-byte record in one array, recycled through
 * a free list, whose index is the number the host uses for its own arrays.
 * Requests and substreams we opened and substreams the peer opened are also
 * found by id through an open-addressing table of slot numbers (linear
 * probing, kept at most half full, backward-shift deletion, seeded hash).
 * Every kind is also on a list in the order it was opened, because
 * packet-stream ends them in that order when the session is destroyed.
 */
#ifndef PS_TABLE_H
#define PS_TABLE_H

#include "ps_alloc.h"

/* What a slot holds; also the index + 1 of its list. */
enum ps_kind {
  PS_KIND_FREE = 0,
  PS_KIND_REQ_OUT = 1,    /* our request awaiting its response */
  PS_KIND_REQ_IN = 2,     /* the peer's request awaiting our response */
  PS_KIND_STREAM_OUT = 3, /* substream we opened */
  PS_KIND_STREAM_IN = 4   /* substream the peer opened */
};
#define PS_KINDS 4

/* ps_slot.flags */
enum ps_slot_flag {
  PS_SLOT_READ_END = 1,  /* the peer ended its side */
  PS_SLOT_WRITE_END = 2, /* we ended our side */
  PS_SLOT_ABORTING = 4   /* reported aborted, released at the next poll */
};

typedef struct ps_slot {
  /* the key: our request number for REQ_OUT and STREAM_OUT, the negated
     request number of the peer for STREAM_IN (the id packet-stream gives
     that substream), the peer's request number for REQ_IN */
  int32_t id;
  uint8_t kind;  /* enum ps_kind */
  uint8_t flags; /* enum ps_slot_flag */
  uint16_t reserved;
  uint32_t prev; /* list links; next also links the free list */
  uint32_t next;
} ps_slot;

typedef struct ps_list {
  uint32_t head, tail; /* PS_NO_SLOT when empty */
  uint32_t count;
} ps_list;

typedef struct ps_table {
  ps_slot *slots;        /* owned */
  uint32_t capacity;     /* slots allocated */
  uint32_t free_head;    /* PS_NO_SLOT when every slot is in use */
  uint32_t *map;         /* owned; slot + 1, 0 for empty */
  uint32_t map_capacity; /* a power of two, or 0 */
  uint32_t map_count;
  uint32_t seed;
  /* the slot of the last id found: packets for one substream tend to come
     in runs, and this spares the hash and the probe */
  uint32_t last_slot;
  ps_list lists[PS_KINDS];
} ps_table;

/* ps_table_init empties |t|; |seed| randomises the hash. */
void ps_table_init(ps_table *t, uint32_t seed);

/* ps_table_free releases everything |t| holds. */
void ps_table_free(ps_table *t, ps_alloc *a);

/*
 * ps_table_add takes a slot for |kind| with |id|, appends it to the list of
 * its kind and, for every kind but PS_KIND_REQ_IN, enters it in the id map.
 * The id must not be in the map already. Returns 0 and stores the slot in
 * |*slot|, or PS_ERR_NOMEM.
 */
int32_t ps_table_add(ps_table *t, ps_alloc *a, uint32_t kind, int32_t id,
                     uint32_t *slot);

/* ps_table_find returns the slot mapped to |id|, or PS_NO_SLOT. */
uint32_t ps_table_find(ps_table *t, int32_t id);

/* ps_table_remove unlinks the slot, drops its map entry and frees it. */
void ps_table_remove(ps_table *t, uint32_t slot);

/* ps_table_unlink does what ps_table_remove does but keeps the number: it
   names nothing and is not handed out again until ps_table_recycle. */
void ps_table_unlink(ps_table *t, uint32_t slot);
void ps_table_recycle(ps_table *t, uint32_t slot);

/* ps_table_get returns the record of |slot| if it is in use, else NULL. */
ps_slot *ps_table_get(const ps_table *t, uint32_t slot);

/* The list of |kind|. */
#define PS_TABLE_LIST(t, kind) (&(t)->lists[(kind)-1])

#endif
