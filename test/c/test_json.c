/* ps_json: which bodies may stand as one element of a joined JSON array,
   and the array made of a batch's JSON frames. */
#include "../../c/ps_json.h"
#include "test.h"

/* whether |s| is taken; a body that is taken is copied whole */
static int contained(const char *s) {
  uint8_t out[32];
  uint32_t len = (uint32_t)strlen(s);
  int yes;
  memset(out, 0xee, sizeof out);
  yes = ps_json_self_contained((const uint8_t *)s, len, out);
  if (yes) {
    CHECK_MEM(out, s, len);
    CHECK_INT(out[len], 0xee);
  }
  return yes;
}

static void self_contained(void) {
  static const char *yes[] = {"1", "-0.5e3", "true", "null", "\"a,b]}\"",
                              " {\"x\":1,\"y\":[1,2]} ", "\"\\\"\"", "\"\\\\\"",
                              "[[],{}]", "\"\xe2\x82\xac\"",
                              /* balanced but not JSON: the joined parse fails,
                                 each is then parsed alone and fails there */
                              "1 2", "[}", "nonsense", "{\"a\"}"};
  static const char *no[] = {"",       " \t\r\n", "1,2", "[1",
                             "1]",     "]",       "}[",  "\"abc",
                             "\"\\\"", "[\"]\"",  "{}]", "\"a\" , \"b\"",
                             "[1],[2]"};
  size_t i;
  for (i = 0; i < sizeof yes / sizeof *yes; i++) {
    CHECK(contained(yes[i]));
    if (!contained(yes[i])) fprintf(stderr, "  refused: %s\n", yes[i]);
  }
  for (i = 0; i < sizeof no / sizeof *no; i++) {
    CHECK(!contained(no[i]));
    if (contained(no[i])) fprintf(stderr, "  taken: %s\n", no[i]);
  }
}

static ps_frame frame(uint32_t type, const char *body) {
  ps_frame fr;
  memset(&fr, 0, sizeof fr);
  fr.type = type;
  fr.len = (uint32_t)strlen(body);
  fr.data = (const uint8_t *)body;
  return fr;
}

static void join(void) {
  uint8_t out[8 * 17 + 2], joined[8];
  ps_frame fr[8];
  uint32_t n;
  fr[0] = frame(PS_TYPE_JSON, "{\"x\":1}");
  fr[1] = frame(PS_TYPE_STRING, "[1]"); /* not JSON typed */
  fr[2] = frame(PS_TYPE_JSON, "1,2");   /* not self-contained */
  fr[3] = frame(PS_TYPE_JSON, "\"s\"");
  fr[4] = frame(PS_TYPE_JSON, "[1,2,3,4,5,6,7,8,9]"); /* over 16 */
  fr[5] = frame(PS_TYPE_JSON, " null ");
  fr[6] = frame(PS_TYPE_BINARY, "");
  n = ps_json_join(fr, 7, 16, out, joined);
  CHECK_INT(n, strlen("[{\"x\":1},\"s\", null ]"));
  CHECK_MEM(out, "[{\"x\":1},\"s\", null ]", n);
  CHECK_INT(joined[0], 1);
  CHECK_INT(joined[1], 0);
  CHECK_INT(joined[2], 0);
  CHECK_INT(joined[3], 1);
  CHECK_INT(joined[4], 0);
  CHECK_INT(joined[5], 1);
  CHECK_INT(joined[6], 0);
  /* one body alone is not worth an array */
  n = ps_json_join(fr, 3, 16, out, joined);
  CHECK_INT(n, 0);
  CHECK_INT(joined[0], 0);
  CHECK_INT(ps_json_join(fr, 0, 16, out, joined), 0);
}

void suite_json(void) {
  RUN(self_contained);
  RUN(join);
}
