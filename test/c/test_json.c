/* ps_json: which bodies may stand as one element of a joined JSON array,
   the array made of a batch's JSON frames, and the tape. */
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
  uint8_t out[8 * 17 + 2], joined[8] = {0};
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

/* The tape of |body| alone, into |tape| (of |cap| words): the words
   written, or -1 when the body is left to the host's parser. */
static int32_t tape_of(ps_json_cache *c, const char *body, int32_t *tape,
                       uint32_t cap) {
  ps_frame fr = frame(PS_TYPE_JSON, body);
  int32_t start;
  uint8_t mark;
  uint32_t n = ps_json_tape(c, &fr, 1, 1024, tape, cap, &start, &mark);
  CHECK_INT(mark, start < 0 ? 0 : 2);
  return start < 0 ? -1 : (int32_t)n;
}

static void tape_tokens(void) {
  ps_json_cache *c = ps_json_cache_new();
  int32_t t[64], n;
  CHECK(c != NULL);
  /* {"x":1,"y":"abc","z":[true,false,null,-5,1.5,-0,1234567890]} */
  n = tape_of(c,
              " {\"x\":1, \"y\" : \"abc\",\"z\":[true,false,null,-5,1.5,-0,"
              "1234567890]} ",
              t, 64);
  CHECK_INT(n, 5 + 3 + 2 + 3 + 6 + 3 + 2 + 3 + 2 + 3 + 3 + 3);
  CHECK_INT(t[0], PS_JT_OBJECT);
  CHECK_INT(t[1], 3);
  CHECK(t[2] >= 0 && t[2] < PS_JSON_SHAPE_SLOTS);
  CHECK(t[3] != 0 || t[4] != 0);
  CHECK_INT(t[5], PS_JT_ASCII); /* key "x" at offset 3 */
  CHECK_INT(t[6], 3);
  CHECK_INT(t[7], 1);
  CHECK_INT(t[8], PS_JT_INT);
  CHECK_INT(t[9], 1);
  CHECK_INT(t[10], PS_JT_ASCII); /* key "y" */
  CHECK_INT(t[13], PS_JT_STR);   /* "abc", cached */
  CHECK(t[14] >= 0 && t[14] < PS_JSON_STR_SLOTS);
  CHECK_INT(t[17], 16);
  CHECK_INT(t[18], 3);
  CHECK_INT(t[22], PS_JT_ARRAY);
  CHECK_INT(t[23], 7);
  CHECK_INT(t[24], PS_JT_TRUE);
  CHECK_INT(t[25], PS_JT_FALSE);
  CHECK_INT(t[26], PS_JT_NULL);
  CHECK_INT(t[27], PS_JT_INT);
  CHECK_INT(t[28], -5);
  CHECK_INT(t[29], PS_JT_NUM); /* 1.5: its text */
  CHECK_INT(t[31], 3);
  CHECK_INT(t[32], PS_JT_NUM); /* -0 is not an integer of the tape */
  CHECK_INT(t[34], 2);
  CHECK_INT(t[35], PS_JT_NUM); /* ten digits */
  CHECK_INT(t[37], 10);
  /* strings: escaped ones keep their quotes, UTF-8 ones are marked, long
     ASCII ones are not cached */
  n = tape_of(c, "[\"a\\nb\",\"\xc3\xa9\",\"0123456789012345678901234\"]", t,
              64);
  CHECK_INT(n, 2 + 3 + 3 + 3);
  CHECK_INT(t[2], PS_JT_ESCAPED);
  CHECK_INT(t[3], 1);
  CHECK_INT(t[4], 6);
  CHECK_INT(t[5], PS_JT_UTF8);
  CHECK_INT(t[6], 9);
  CHECK_INT(t[7], 2);
  CHECK_INT(t[8], PS_JT_ASCII);
  CHECK_INT(t[10], 25);
  ps_json_cache_del(c);
}

static void tape_refusals(void) {
  /* invalid JSON, and what the tape does not describe, are left alone */
  static const char *left[] = {
      "",
      " ",
      "1 2",
      "[1,]",
      "{\"a\":1,}",
      "[1",
      "1]",
      "{\"a\"}",
      "{a:1}",
      "01",
      "-",
      "1.",
      ".5",
      "1e",
      "+1",
      "tru",
      "nul",
      "\"a",
      "\"\\x\"",
      "\"\\u12g4\"",
      "\"\x01\"",
      "\357\273\2771",
      "[}",
      "{]",
      "NaN",
      "Infinity",
      "[1]]",
      "[[],]",
      "[[]]]",
      "{}}",
      "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"};
  ps_json_cache *c = ps_json_cache_new();
  int32_t t[256];
  size_t i;
  for (i = 0; i < sizeof left / sizeof *left; i++) {
    int32_t n = tape_of(c, left[i], t, 256);
    CHECK_INT(n, -1);
    if (n != -1) fprintf(stderr, "  taped: %s\n", left[i]);
  }
  /* 32 levels are taped, 33 are not (above); a body that does not fit in
     the room left is not taped either */
  CHECK(tape_of(
            c,
            "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
            t, 256) > 0);
  CHECK_INT(tape_of(c, "[1,2,3,4,5,6,7,8]", t, 12), -1);
  ps_json_cache_del(c);
}

static void tape_cache(void) {
  ps_json_cache *c = ps_json_cache_new();
  int32_t a[32], b[32];
  /* the same string and shape: the same slot and stamp */
  CHECK_INT(tape_of(c, "{\"k\":\"v\"}", a, 32), 5 + 3 + 6);
  CHECK_INT(tape_of(c, "{ \"k\" : \"v\" }", b, 32), 5 + 3 + 6);
  CHECK_INT(a[2], b[2]);
  CHECK_INT(a[3], b[3]);
  CHECK_INT(a[4], b[4]);
  CHECK_INT(a[9], b[9]);
  CHECK_INT(a[10], b[10]);
  CHECK_INT(a[11], b[11]);
  /* other keys, another order, __proto__, escaped keys: another shape or
     none */
  CHECK_INT(tape_of(c, "{\"k\":1,\"j\":2}", b, 32), 5 + 2 * 5);
  CHECK(b[3] != a[3] || b[4] != a[4]);
  CHECK_INT(tape_of(c, "{\"__proto__\":1}", b, 32), 5 + 5);
  CHECK_INT(b[2], -1);
  CHECK_INT(tape_of(c, "{\"\\u006b\":1}", b, 32), 5 + 5);
  CHECK_INT(b[2], -1);
  CHECK_INT(b[5], PS_JT_ESCAPED);
  CHECK_INT(tape_of(c, "{}", b, 32), 5);
  CHECK_INT(b[2], -1);
  /* a string that replaces another in its slot gets a new stamp, and so
     does the first when it comes back */
  {
    char s[16];
    int i, moved = 0;
    for (i = 0; i < 4 * PS_JSON_STR_SLOTS && !moved; i++) {
      int32_t t[8];
      snprintf(s, sizeof s, "\"s%d\"", i);
      CHECK_INT(tape_of(c, s, t, 8), 6);
      if (t[1] == a[9] && (t[2] != a[10] || t[3] != a[11])) moved = 1;
    }
    CHECK(moved);
    CHECK_INT(tape_of(c, "\"v\"", b, 32), 6);
    CHECK_INT(b[1], a[9]);
    CHECK(b[2] != a[10] || b[3] != a[11]);
  }
  ps_json_cache_del(c);
}

void suite_json(void) {
  RUN(self_contained);
  RUN(join);
  RUN(tape_tokens);
  RUN(tape_refusals);
  RUN(tape_cache);
}
