#include "ps_json.h"

#include <stdlib.h>
#include <string.h>

/* What a byte is outside strings, for ps_json_self_contained. */
enum { OPEN = 1, CLOSE = 2, COMMA = 4, QUOTE = 8, SPACE = 16 };
static const uint8_t byte_class[256] = {
    [' '] = SPACE, ['\t'] = SPACE, ['\n'] = SPACE, ['\r'] = SPACE,
    ['"'] = QUOTE, ['['] = OPEN,   ['{'] = OPEN,   [']'] = CLOSE,
    ['}'] = CLOSE, [','] = COMMA};

/* One pass that copies as it scans (for small bodies a separate copy costs
   as much as the scan); outside strings the only branch that is often
   taken is the one into a string. */
int ps_json_self_contained(const uint8_t *p, uint32_t len, uint8_t *out) {
  uint32_t i = 0;
  int32_t depth = 0;
  uint8_t spaces = SPACE; /* stays set while every byte is a space */
  while (i < len) {
    uint8_t c = p[i], k = byte_class[c];
    out[i++] = c;
    spaces &= k;
    if (k & QUOTE) { /* to the closing quote, over escapes */
      for (;;) {
        if (i >= len) return 0;
        c = p[i];
        out[i++] = c;
        if (c == '"') break;
        if (c == '\\' && i < len) { /* the escaped byte, whatever it is */
          out[i] = p[i];
          i++;
        }
      }
      continue;
    }
    depth += (int32_t)(k & OPEN) - (int32_t)((k & CLOSE) >> 1);
    if (depth < 0 || ((k & COMMA) && depth == 0)) return 0;
  }
  return !spaces && depth == 0;
}

uint32_t ps_json_join(const ps_frame *frames, uint32_t count, uint32_t max_body,
                      uint8_t *out, uint8_t *joined) {
  uint32_t i, n = 0, bodies = 0;
  for (i = 0; i < count; i++) {
    const ps_frame *fr = &frames[i];
    if (joined[i] == 2) continue;
    joined[i] = 0;
    if (fr->type != PS_TYPE_JSON || fr->len > max_body ||
        !ps_json_self_contained(fr->data, fr->len, out + n + 1))
      continue;
    out[n] = ',';
    n += 1 + fr->len;
    bodies++;
    joined[i] = 1;
  }
  if (bodies < 2) {
    for (i = 0; i < count; i++)
      if (joined[i] == 1) joined[i] = 0;
    return 0;
  }
  out[0] = '['; /* over the comma before the first body */
  out[n++] = ']';
  return n;
}

/* The tape (see ps_json.h). */

typedef struct str_slot {
  uint32_t lo, hi; /* stamp; 0:0 is never given out */
  uint8_t len;
  uint8_t bytes[PS_JSON_STR_MAX];
} str_slot;

typedef struct shape_slot {
  uint32_t lo, hi;
  uint32_t len;
  uint8_t bytes[PS_JSON_SHAPE_BYTES];
} shape_slot;

struct ps_json_cache {
  uint64_t stamp; /* the last one given out */
  str_slot strs[PS_JSON_STR_SLOTS];
  shape_slot shapes[PS_JSON_SHAPE_SLOTS];
};

ps_json_cache *ps_json_cache_new(void) {
  ps_json_cache *c = malloc(sizeof *c);
  if (c) memset(c, 0, sizeof *c);
  return c;
}

void ps_json_cache_del(ps_json_cache *c) {
  free(c);
}

/* What a byte is inside a string. */
enum { S_QUOTE = 1, S_ESCAPE, S_CONTROL, S_HIGH };
static const uint8_t str_class[256] = {
#define S4(x) x, x, x, x
#define S16(x) S4(x), S4(x), S4(x), S4(x)
    S16(S_CONTROL),
    S16(S_CONTROL),
    [34] = S_QUOTE,
    [92] = S_ESCAPE,
    [128] = S16(S_HIGH),
    S16(S_HIGH),
    S16(S_HIGH),
    S16(S_HIGH),
    S16(S_HIGH),
    S16(S_HIGH),
    S16(S_HIGH),
    S16(S_HIGH)
#undef S16
#undef S4
};

static int is_hex(uint8_t c) {
  return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* The closing quote of the string whose bytes start at |p| (after its
   opening quote), or NULL when it is not a valid JSON string; its kind:
   PS_JT_ASCII, PS_JT_UTF8 or PS_JT_ESCAPED. */
static const uint8_t *scan_string(const uint8_t *p, const uint8_t *end,
                                  int32_t *kind) {
  int32_t k = PS_JT_ASCII;
  for (;;) {
    while (p < end && str_class[*p] == 0) p++;
    if (p >= end) return NULL;
    switch (str_class[*p]) {
      case S_QUOTE:
        *kind = k;
        return p;
      case S_ESCAPE:
        if (end - p < 2) return NULL;
        if (p[1] == 'u') {
          if (end - p < 6 || !is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]) ||
              !is_hex(p[5]))
            return NULL;
          p += 6;
        } else if (p[1] == '"' || p[1] == '\\' || p[1] == '/' || p[1] == 'b' ||
                   p[1] == 'f' || p[1] == 'n' || p[1] == 'r' || p[1] == 't') {
          p += 2;
        } else {
          return NULL;
        }
        k = PS_JT_ESCAPED;
        break;
      case S_HIGH:
        if (k == PS_JT_ASCII) k = PS_JT_UTF8;
        p++;
        break;
      default: /* a control character, which JSON wants escaped */
        return NULL;
    }
  }
}

/* The string whose opening quote is at |p|: where it ends (NULL when it is
   not a valid JSON string), its kind, and the bytes its tape words name in
   [*s, *s + *n) (those inside the quotes; for an escaped string the quotes
   too, as the host's parser takes it). */
static const uint8_t *string_span(const uint8_t *p, const uint8_t *end,
                                  int32_t *kind, const uint8_t **s,
                                  uint32_t *n) {
  const uint8_t *q = scan_string(p + 1, end, kind);
  if (!q) return NULL;
  *s = *kind == PS_JT_ESCAPED ? p : p + 1;
  *n = (uint32_t)(*kind == PS_JT_ESCAPED ? q + 1 - p : q - p - 1);
  return q + 1;
}

/* A hash of a short byte string, a word at a time; a collision costs a miss
   of the cache, no more. */
static uint32_t short_hash(const uint8_t *s, uint32_t n) {
  uint32_t h = n * 0x9e3779b1u, i = 0, w;
  for (; i + 4 <= n; i += 4) {
    memcpy(&w, s + i, 4);
    h = (h ^ w) * 0x85ebca77u;
    h ^= h >> 15;
  }
  if (i < n) {
    for (w = 0; i < n; i++) w = w << 8 | s[i];
    h = (h ^ w) * 0x85ebca77u;
    h ^= h >> 15;
  }
  return h * 0xc2b2ae3du;
}

static int same_bytes(const uint8_t *a, const uint8_t *b, uint32_t n) {
  uint32_t i;
  for (i = 0; i < n; i++)
    if (a[i] != b[i]) return 0;
  return 1;
}

static void new_stamp(ps_json_cache *c, uint32_t *lo, uint32_t *hi) {
  uint64_t s = ++c->stamp;
  *lo = (uint32_t)s;
  *hi = (uint32_t)(s >> 32);
}

/* A container being taped: where its words start, its members so far, and
   for an object the keys that make its shape (while it may have one). */
typedef struct level {
  uint32_t at, n;
  int object, shaped;
  uint32_t hash, shape_len;
  uint8_t shape[PS_JSON_SHAPE_BYTES];
} level;

#define IS_SPACE(c) ((c) == ' ' || (c) == '\n' || (c) == '\r' || (c) == '\t')
#define SKIP_SPACE() \
  while (p < end && IS_SPACE(*p)) p++

/* Closes the object of |l|: its count, and its shape slot and stamp. */
static void close_object(ps_json_cache *c, int32_t *tape, level *l) {
  int32_t *w = tape + l->at;
  w[0] = PS_JT_OBJECT;
  w[1] = (int32_t)l->n;
  if (l->shaped && l->n > 0) {
    uint32_t slot = (l->hash >> 16) & (PS_JSON_SHAPE_SLOTS - 1);
    shape_slot *e = &c->shapes[slot];
    if (e->len != l->shape_len || (e->lo | e->hi) == 0 ||
        !same_bytes(e->bytes, l->shape, l->shape_len)) {
      new_stamp(c, &e->lo, &e->hi);
      e->len = l->shape_len;
      memcpy(e->bytes, l->shape, l->shape_len);
    }
    w[2] = (int32_t)slot;
    w[3] = (int32_t)e->lo;
    w[4] = (int32_t)e->hi;
  } else {
    w[2] = -1;
    w[3] = 0;
    w[4] = 0;
  }
}

/* The tape of one body from word |pos| on: the word after it, or 0 when the
   body is left to the host's parser (words are written from pos + 1 on at
   least, so 0 is never a valid end). */
static uint32_t tape_body(ps_json_cache *c, const uint8_t *body, uint32_t len,
                          int32_t *tape, uint32_t pos, uint32_t cap) {
  const uint8_t *p = body, *end = body + len;
  level levels[PS_JSON_DEPTH];
  level *top = NULL; /* the innermost container, NULL at the top */
  int depth = 0;
  /* every value needs at most 6 words, a container's start 5 and a key 3:
     checking for 8 before each covers all */
#define ROOM() \
  if (cap - pos < 8) return 0
value:
  SKIP_SPACE();
  if (p >= end) return 0;
  ROOM();
  switch (*p) {
    case '{':
    case '[':
      if (depth == PS_JSON_DEPTH) return 0;
      top = &levels[depth++];
      top->at = pos;
      top->n = 0;
      top->object = *p == '{';
      p++;
      SKIP_SPACE();
      if (top->object) {
        top->shaped = 1;
        top->hash = 0;
        top->shape_len = 0;
        pos += 5;
        if (p < end && *p == '}') {
          p++;
          close_object(c, tape, top);
          goto popped;
        }
        goto key;
      }
      pos += 2;
      if (p < end && *p == ']') {
        p++;
        tape[top->at] = PS_JT_ARRAY;
        tape[top->at + 1] = 0;
        goto popped;
      }
      goto value;
    case '"': {
      const uint8_t *s;
      uint32_t n;
      int32_t kind;
      p = string_span(p, end, &kind, &s, &n);
      if (!p) return 0;
      if (kind == PS_JT_ASCII && n <= PS_JSON_STR_MAX) {
        uint32_t slot = (short_hash(s, n) >> 16) & (PS_JSON_STR_SLOTS - 1);
        str_slot *e = &c->strs[slot];
        if (e->len != n || (e->lo | e->hi) == 0 ||
            !same_bytes(e->bytes, s, n)) {
          new_stamp(c, &e->lo, &e->hi);
          e->len = (uint8_t)n;
          memcpy(e->bytes, s, n);
        }
        tape[pos] = PS_JT_STR;
        tape[pos + 1] = (int32_t)slot;
        tape[pos + 2] = (int32_t)e->lo;
        tape[pos + 3] = (int32_t)e->hi;
        tape[pos + 4] = (int32_t)(s - body);
        tape[pos + 5] = (int32_t)n;
        pos += 6;
      } else {
        tape[pos] = kind;
        tape[pos + 1] = (int32_t)(s - body);
        tape[pos + 2] = (int32_t)n;
        pos += 3;
      }
      break;
    }
    case 't':
    case 'f':
    case 'n': {
      const char *word = *p == 't' ? "true" : *p == 'f' ? "false" : "null";
      uint32_t n = *p == 'f' ? 5 : 4;
      if ((uint32_t)(end - p) < n || !same_bytes(p, (const uint8_t *)word, n))
        return 0;
      tape[pos++] = *p == 't'   ? PS_JT_TRUE
                    : *p == 'f' ? PS_JT_FALSE
                                : PS_JT_NULL;
      p += n;
      break;
    }
    default: {
      const uint8_t *start = p;
      int whole = 1;
      uint32_t v = 0; /* meaningful up to 9 digits; wraps harmlessly beyond */
      if (*p == '-') p++;
      if (p >= end || *p < '0' || *p > '9') return 0;
      if (*p == '0') {
        p++;
      } else {
        while (p < end && *p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
      }
      /* at most 9 digits fit; -0 is a number of its own for the host */
      if (p - start - (*start == '-') > 9 || (*start == '-' && start[1] == '0'))
        whole = 0;
      if (p < end && *p == '.') {
        const uint8_t *d = ++p;
        while (p < end && *p >= '0' && *p <= '9') p++;
        if (p == d) return 0;
        whole = 0;
      }
      if (p < end && (*p == 'e' || *p == 'E')) {
        const uint8_t *d;
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        d = p;
        while (p < end && *p >= '0' && *p <= '9') p++;
        if (p == d) return 0;
        whole = 0;
      }
      if (whole) {
        tape[pos] = PS_JT_INT;
        tape[pos + 1] = *start == '-' ? -(int32_t)v : (int32_t)v;
        pos += 2;
      } else {
        tape[pos] = PS_JT_NUM;
        tape[pos + 1] = (int32_t)(start - body);
        tape[pos + 2] = (int32_t)(p - start);
        pos += 3;
      }
    }
  }
closed: /* a value is done: what follows it */
  if (!top) {
    SKIP_SPACE();
    return p == end ? pos : 0;
  }
  top->n++;
  SKIP_SPACE();
  if (p >= end) return 0;
  if (*p == ',') {
    p++;
    if (!top->object) goto value;
    SKIP_SPACE();
    goto key;
  }
  if (*p != (top->object ? '}' : ']')) return 0;
  p++;
  if (top->object) {
    close_object(c, tape, top);
  } else {
    tape[top->at] = PS_JT_ARRAY;
    tape[top->at + 1] = (int32_t)top->n;
  }
popped: /* the innermost container is done: a value of the one around it */
  depth--;
  top = depth ? &levels[depth - 1] : NULL;
  goto closed;
key : {
  const uint8_t *s;
  uint32_t n;
  int32_t kind;
  if (p >= end || *p != '"') return 0;
  ROOM();
  p = string_span(p, end, &kind, &s, &n);
  if (!p) return 0;
  tape[pos] = kind;
  tape[pos + 1] = (int32_t)(s - body);
  tape[pos + 2] = (int32_t)n;
  pos += 3;
  if (top->shaped) {
    if (kind != PS_JT_ASCII || n > 255 ||
        (n == 9 && same_bytes(s, (const uint8_t *)"__proto__", 9)) ||
        top->shape_len + 1 + n > PS_JSON_SHAPE_BYTES) {
      top->shaped = 0;
    } else {
      uint8_t *to = top->shape + top->shape_len;
      uint32_t i;
      *to++ = (uint8_t)n;
      for (i = 0; i < n; i++) to[i] = s[i]; /* keys are short: no memcpy call */
      top->shape_len += 1 + n;
      top->hash = (top->hash ^ short_hash(s, n)) * 16777619u;
    }
  }
  SKIP_SPACE();
  if (p >= end || *p != ':') return 0;
  p++;
  goto value;
}
#undef ROOM
}

uint32_t ps_json_tape(ps_json_cache *c, const ps_frame *frames, uint32_t count,
                      uint32_t max_body, int32_t *tape, uint32_t cap,
                      int32_t *starts, uint8_t *marks) {
  uint32_t i, pos = 0, next;
  for (i = 0; i < count; i++) {
    const ps_frame *fr = &frames[i];
    starts[i] = -1;
    marks[i] = 0;
    if (fr->type != PS_TYPE_JSON || fr->len > max_body || fr->len == 0)
      continue;
    next = tape_body(c, fr->data, fr->len, tape, pos, cap);
    if (next == 0) continue;
    starts[i] = (int32_t)pos;
    marks[i] = 2;
    pos = next;
  }
  return pos;
}
