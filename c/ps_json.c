#include "ps_json.h"

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
    memset(joined, 0, count);
    return 0;
  }
  out[0] = '['; /* over the comma before the first body */
  out[n++] = ']';
  return n;
}
