/*
 * ps_json.h: help for a host that parses the JSON bodies of a batch of
 * frames with one call of its JSON parser instead of one per body (in
 * JavaScript, JSON.parse has a fixed cost per call that is as large as the
 * parse of a small body).
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
 * others). |out| must hold count * (max_body + 1) + 2 bytes. Returns the
 * bytes written, or 0 (and nothing joined) when fewer than two bodies would
 * be.
 */
uint32_t ps_json_join(const ps_frame *frames, uint32_t count, uint32_t max_body,
                      uint8_t *out, uint8_t *joined);

#endif
