#include "ps_json.h"

#include <string.h>

int ps_json_self_contained(const uint8_t *p, uint32_t len) {
  uint32_t i, depth = 0;
  int in_string = 0, escaped = 0, blank = 1;
  for (i = 0; i < len; i++) {
    uint8_t c = p[i];
    if (in_string) {
      if (escaped)
        escaped = 0;
      else if (c == '\\')
        escaped = 1;
      else if (c == '"')
        in_string = 0;
      continue;
    }
    switch (c) {
      case ' ':
      case '\t':
      case '\n':
      case '\r':
        continue;
      case '"':
        in_string = 1;
        break;
      case '[':
      case '{':
        depth++;
        break;
      case ']':
      case '}':
        if (depth == 0) return 0;
        depth--;
        break;
      case ',':
        if (depth == 0) return 0;
        break;
      default:
        break;
    }
    blank = 0;
  }
  return !blank && !in_string && depth == 0;
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
