/* The id tables: random operations checked against a plain array model,
   insertion order kept, memory per entry within the documented bound. */
#include <stdlib.h>

#include "../../c/ps_table.h"
#include "test.h"

static uint32_t rng_state = 12345;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

#define MODEL_MAX 4000

static void random_against_model(void) {
  ps_alloc a;
  ps_table t;
  static int32_t ids[MODEL_MAX];
  static uint32_t slots[MODEL_MAX];
  static uint32_t kinds[MODEL_MAX];
  int n = 0, step, i, bad = 0;
  ps_alloc_init(&a, NULL);
  ps_table_init(&t, 99);
  for (step = 0; step < 200000; step++) {
    uint32_t op = rnd() % 10;
    if (op < 5 && n < MODEL_MAX) {
      /* ids in a small range so collisions on probe chains are common */
      uint32_t kind = 1 + rnd() % 4;
      int32_t id = (int32_t)(rnd() % 20000) - 10000;
      uint32_t s;
      if (id == 0) continue;
      if (kind != PS_KIND_REQ_IN && ps_table_find(&t, id) != PS_NO_SLOT)
        continue;
      if (ps_table_add(&t, &a, kind, id, &s) != PS_OK) bad++;
      ids[n] = id;
      slots[n] = s;
      kinds[n] = kind;
      n++;
    } else if (op < 8 && n > 0) {
      int k = (int)(rnd() % (uint32_t)n);
      ps_table_remove(&t, slots[k]);
      ids[k] = ids[n - 1];
      slots[k] = slots[n - 1];
      kinds[k] = kinds[n - 1];
      n--;
    } else {
      for (i = 0; i < n; i++) {
        uint32_t f =
            kinds[i] == PS_KIND_REQ_IN ? slots[i] : ps_table_find(&t, ids[i]);
        if (f != slots[i]) bad++;
        if (ps_table_get(&t, slots[i]) == NULL) bad++;
      }
      /* absent ids are not found */
      for (i = 0; i < 20; i++) {
        int32_t id = 20000 + (int32_t)(rnd() % 1000);
        if (ps_table_find(&t, id) != PS_NO_SLOT) bad++;
      }
    }
  }
  CHECK_INT(bad, 0);
  CHECK_INT(t.map_count + t.lists[PS_KIND_REQ_IN - 1].count, (uint32_t)n);
  ps_table_free(&t, &a);
  CHECK_INT(a.bytes, 0);
}

static void insertion_order(void) {
  ps_alloc a;
  ps_table t;
  uint32_t s[10], slot, k = 0;
  int i;
  ps_alloc_init(&a, NULL);
  ps_table_init(&t, 7);
  for (i = 0; i < 10; i++)
    CHECK_INT(ps_table_add(&t, &a, PS_KIND_STREAM_OUT, i + 1, &s[i]), 0);
  ps_table_remove(&t, s[3]);
  ps_table_remove(&t, s[0]);
  ps_table_remove(&t, s[9]);
  for (slot = PS_TABLE_LIST(&t, PS_KIND_STREAM_OUT)->head; slot != PS_NO_SLOT;
       slot = t.slots[slot].next) {
    static const int32_t expect[] = {2, 3, 5, 6, 7, 8, 9};
    CHECK_INT(t.slots[slot].id, expect[k]);
    k++;
  }
  CHECK_INT(k, 7);
  /* a freed slot is handed out again */
  CHECK_INT(ps_table_add(&t, &a, PS_KIND_STREAM_OUT, 11, &slot), 0);
  CHECK(slot == s[9] || slot == s[0] || slot == s[3]);
  CHECK(ps_table_get(&t, PS_NO_SLOT) == NULL);
  ps_table_free(&t, &a);
}

/* Documented in ps.h: 16 + 8 bytes per entry when steady, at most 48 right
   after doubling; the target is 64. */
static void bytes_per_entry(void) {
  ps_alloc a;
  ps_table t;
  uint32_t n, slot, most = 0;
  ps_alloc_init(&a, NULL);
  ps_table_init(&t, 3);
  for (n = 1; n <= 100000; n++) {
    CHECK(ps_table_add(&t, &a, PS_KIND_STREAM_IN, -(int32_t)n, &slot) == PS_OK);
    if (n >= 1000) {
      uint32_t per = a.bytes / n;
      if (per > most) most = per;
    }
  }
  CHECK(most <= 48);
  fprintf(stderr, "  table: %u bytes per open entry at 100000 (worst %u)\n",
          a.bytes / 100000, most);
  ps_table_free(&t, &a);
}

void suite_table(void) {
  RUN(random_against_model);
  RUN(insertion_order);
  RUN(bytes_per_entry);
}
