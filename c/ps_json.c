#include "ps_json.h"

#include <string.h>

/* What a byte is outside strings, for ps_json_self_contained. */
enum { OTHER = 0, SPACE, QUOTE, OPEN, CLOSE, COMMA };
static const uint8_t byte_class[256] = {
    [' '] = SPACE, ['\t'] = SPACE, ['\n'] = SPACE, ['\r'] = SPACE,
    ['"'] = QUOTE, ['['] = OPEN,   ['{'] = OPEN,   [']'] = CLOSE,
    ['}'] = CLOSE, [','] = COMMA};

int ps_json_self_contained(const uint8_t *p, uint32_t len) {
  uint32_t i = 0, depth = 0;
  int blank = 1;
  while (i < len) {
    switch (byte_class[p[i++]]) {
      case SPACE:
        break;
      case QUOTE: /* to the closing quote, over escapes */
        for (;;) {
          uint8_t c;
          if (i >= len) return 0;
          c = p[i++];
          if (c == '"') break;
          if (c == '\\') i++;
        }
        blank = 0;
        break;
      case OPEN:
        depth++;
        blank = 0;
        break;
      case CLOSE:
        if (depth == 0) return 0;
        depth--;
        break;
      case COMMA:
        if (depth == 0) return 0;
        break;
      default:
        blank = 0;
        break;
    }
  }
  return !blank && depth == 0;
}

uint32_t ps_json_join(const ps_frame *frames, uint32_t count, uint32_t max_body,
                      uint8_t *out, uint8_t *joined) {
  uint32_t i, n = 1, bodies = 0;
  out[0] = '[';
  for (i = 0; i < count; i++) {
    const ps_frame *fr = &frames[i];
    joined[i] = 0;
    if (fr->type != PS_TYPE_JSON || fr->len > max_body ||
        !ps_json_self_contained(fr->data, fr->len))
      continue;
    if (bodies++) out[n++] = ',';
    memcpy(out + n, fr->data, fr->len);
    n += fr->len;
    joined[i] = 1;
  }
  if (bodies < 2) {
    memset(joined, 0, count);
    return 0;
  }
  out[n++] = ']';
  return n;
}
