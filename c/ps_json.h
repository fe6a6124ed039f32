/*
 * ps_json.h: help for a host whose own JSON parser is costly per call or per
 * value (in JavaScript, JSON.parse costs as much per call as the parse of a
 * small body, and most of its time goes into making each object). The core
 * parses the JSON bodies of a batch into a tape of tokens that the host turns
 * into values directly (ps_json_tape); what the tape does not describe, the
 * host parses with one call for many bodies (ps_json_join), or alone.
 */
#ifndef PS_JSON_H
#define PS_JSON_H

#include "ps.h"

/*
 * ps_json_self_contained returns 1 when |len| bytes of |p| can stand as one
 * element of a JSON array: not blank, brackets balanced, strings closed, no
 * comma outside brackets and strings. Then, if the array made of such bodies
 * parses, each element is exactly one body, and each body alone is valid
 * JSON. Anything else returns 0 (the body is parsed alone). It copies the
 * bytes to |out| as it scans them (up to |len| bytes, whatever it returns):
 * for small bodies one pass costs about what the scan alone does.
 */
int ps_json_self_contained(const uint8_t *p, uint32_t len, uint8_t *out);

/*
 * ps_json_join writes the bodies of the JSON frames among |frames| that are
 * at most |max_body| bytes and self-contained into |out| as one JSON array,
 * "[b1,b2,...]", and sets joined[i] to 1 for each such frame (0 for the
 * others), except that a frame whose joined[i] is 2 on entry (its tape was
 * written, see below) is left as it is. |out| must hold
 * count * (max_body + 1) + 2 bytes. Returns the bytes written, or 0 (and
 * nothing joined) when fewer than two bodies would be.
 */
uint32_t ps_json_join(const ps_frame *frames, uint32_t count, uint32_t max_body,
                      uint8_t *out, uint8_t *joined);

/*
 * The tape: a JSON body parsed in the core into int32 words that a host
 * turns into its values without a parser of its own, for the bodies whose
 * grammar it can check completely and whose values it can describe exactly
 * (everything else is left to the host's JSON parser, which then also
 * reports what is invalid). Words, per value:
 *   PS_JT_NULL | PS_JT_TRUE | PS_JT_FALSE
 *   PS_JT_INT v                 an integer of at most 9 digits, not -0
 *   PS_JT_NUM at len            any other number: its text (a valid JSON
 *                               number, to be converted as such)
 *   PS_JT_STR slot lo hi at len an ASCII string of at most
 *                               PS_JSON_STR_MAX bytes without escapes, its
 *                               bytes at |at|; cached in |slot| under the
 *                               64-bit stamp hi:lo (see below)
 *   PS_JT_ASCII at len          a longer ASCII string without escapes
 *   PS_JT_UTF8 at len           a string with bytes over 0x7f, no escapes:
 *                               its bytes, to be decoded as UTF-8
 *   PS_JT_ESCAPED at len        a string with escapes: its JSON text with
 *                               the quotes, for the host's parser
 *   PS_JT_ARRAY n               then n values
 *   PS_JT_OBJECT n slot lo hi   then n members, each a key (kind at len,
 *                               kind one of PS_JT_ASCII, PS_JT_UTF8,
 *                               PS_JT_ESCAPED as for strings) and a value
 * |at| is an offset from the start of the body. An object's slot is >= 0 when
 * its keys, in order, are cached as a shape (all plain ASCII, not "__proto__",
 * small enough): equal stamps mean equal keys, so a host may keep what it
 * built for a shape (the key strings, a constructor) under the slot and
 * reuse it while the stamp matches; -1 otherwise. Strings are cached the
 * same way. Stamps are never reused, so a host that missed an update (a
 * body it did not read) sees a stamp that differs and builds from the bytes.
 */
enum {
  PS_JT_NULL = 1,
  PS_JT_TRUE,
  PS_JT_FALSE,
  PS_JT_INT,
  PS_JT_NUM,
  PS_JT_STR,
  PS_JT_ASCII,
  PS_JT_UTF8,
  PS_JT_ESCAPED,
  PS_JT_ARRAY,
  PS_JT_OBJECT
};

#define PS_JSON_STR_MAX 24      /* bytes of a string that is cached */
#define PS_JSON_STR_SLOTS 1024  /* direct-mapped: a power of 2 */
#define PS_JSON_SHAPE_BYTES 128 /* a key's length byte and bytes, per key */
#define PS_JSON_SHAPE_SLOTS 256
#define PS_JSON_DEPTH 32 /* deeper bodies are left to the host's parser */

typedef struct ps_json_cache ps_json_cache;

/* ps_json_cache_new: a cache of strings and shapes (about 75 KB), shared by
   any number of decoders of one host; NULL when out of memory. */
ps_json_cache *ps_json_cache_new(void);
void ps_json_cache_del(ps_json_cache *c);

/*
 * ps_json_tape writes the tape of each JSON frame among |frames| of at most
 * |max_body| bytes that it can describe, from word starts[i] on, and sets
 * marks[i] to 2 for it; others keep starts[i] = -1 and marks[i] = 0. It
 * writes at most |cap| words to |tape|: a body that does not fit is left
 * out. Returns the words written.
 */
uint32_t ps_json_tape(ps_json_cache *c, const ps_frame *frames, uint32_t count,
                      uint32_t max_body, int32_t *tape, uint32_t cap,
                      int32_t *starts, uint8_t *marks);

#endif
