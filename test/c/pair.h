/* pair.h: two wire sessions wired back to back, for the pair tests, the
   failing-allocation tests and the fuzzer's sanity. */
#ifndef PS_PAIR_H
#define PS_PAIR_H

#include "test.h"

typedef struct peer peer;
typedef void (*peer_handler)(peer *p, const ps_event *ev);

struct peer {
  ps_session *s;
  peer_handler handle;
  long messages, responses, error_responses, ended, closed, errors;
  int32_t fatal;  /* the first negative code from ps_session_recv */
  uint32_t *seen; /* per slot: data items received */
  int record;     /* keep a copy of every byte this peer sends */
  struct {
    uint8_t *data;
    size_t len, cap;
  } recorded;
};

/* Returns the code of ps_session_new; |mem| may be NULL. */
int32_t peer_init_mem(peer *p, uint32_t mode, peer_handler handle,
                      uint32_t options, const ps_mem *mem);
void peer_init(peer *p, uint32_t mode, peer_handler handle, uint32_t options);
void peer_free(peer *p);

/* Moves bytes both ways, in chunks of |chunk| (0: whole), handing every
   event to the receiving peer's handler, until neither has bytes pending. */
void pump(peer *a, peer *b, uint32_t chunk);

/* Feeds |wire| to a fresh wire session run by |handle|: split in two at
   |split| (0: not), or in chunks of |chunk|. Logs every event and the bytes
   the session sends back. */
void replay(const uint8_t *wire, uint32_t n, uint32_t split, uint32_t chunk,
            log_t *log, peer_handler handle);

#endif
