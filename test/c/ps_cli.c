/*
 * ps_cli.c: test helper for wire interop with packet-stream-codec.
 *
 *   ps_cli encode  < script > bytes
 *     Runs a scripted exchange through a wire-mode session and writes what
 *     it sends. One command per line, bodies in hex ("-" for empty):
 *       message <type> <hex>          request <type> <hex>
 *       stream                        (opens one; numbers count with requests)
 *       write <id> <type> <hex>       end <id> <type> <hex>
 *       frame <flags> <type> <req> <hex>   (any header, framed by hand)
 *       close                         (the goodbye, once nothing is open)
 *
 *   ps_cli decode [chunk] < bytes
 *     Feeds the bytes to a wire-mode session, |chunk| bytes at a time, and
 *     prints one JSON line per packet:
 *       {"req":1,"stream":false,"end":false,"type":2,"body":"7b7d"}
 *     then "goodbye" when the goodbye header arrives. A protocol error
 *     prints {"error":code,"message":"..."} and exits 1.
 */
#define _POSIX_C_SOURCE 200809L /* getline */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../c/ps.h"

static uint8_t *read_all(FILE *f, size_t *n) {
  size_t cap = 1 << 16, len = 0, got;
  uint8_t *buf = malloc(cap);
  if (!buf) exit(2);
  while ((got = fread(buf + len, 1, cap - len, f)) > 0) {
    len += got;
    if (len == cap) {
      cap *= 2;
      buf = realloc(buf, cap);
      if (!buf) exit(2);
    }
  }
  *n = len;
  return buf;
}

static uint32_t unhex(const char *hex, uint8_t *out) {
  uint32_t n = 0;
  if (strcmp(hex, "-") == 0) return 0;
  while (hex[0] && hex[1]) {
    unsigned v;
    if (sscanf(hex, "%2x", &v) != 1) break;
    out[n++] = (uint8_t)v;
    hex += 2;
  }
  return n;
}

static void flush(ps_session *s) {
  const uint8_t *p;
  int32_t n = ps_session_send(s, &p);
  if (n > 0) fwrite(p, 1, (size_t)n, stdout);
}

static int fail(const char *what, int32_t code) {
  fprintf(stderr, "ps_cli: %s: %s\n", what, ps_strerror(code));
  return 1;
}

static int encode(void) {
  ps_session *s;
  char *line = NULL, cmd[32], *hex;
  size_t line_cap = 0;
  uint8_t *body;
  /* our request numbers -> slots; numbers stay small in scripts */
  static uint32_t slot_of[1 << 16];
  ps_event ev;
  if (ps_session_new(&s, PS_MODE_WIRE, 0, NULL, NULL, 1) != PS_OK) return 2;
  while (getline(&line, &line_cap, stdin) > 0) {
    uint32_t type = 0, flags = 0, slot, len;
    int id = 0, req = 0;
    int32_t rv = 0;
    /* the operands are shorter than the line, whatever it holds */
    hex = malloc(line_cap);
    body = malloc(line_cap / 2 + 1);
    if (!hex || !body) return 2;
    if (sscanf(line, "%31s", cmd) != 1) {
      free(hex);
      free(body);
      continue;
    }
    if (strcmp(cmd, "message") == 0 &&
        sscanf(line, "%*s %u %s", &type, hex) == 2) {
      len = unhex(hex, body);
      rv = ps_message(s, type, body, len);
    } else if (strcmp(cmd, "request") == 0 &&
               sscanf(line, "%*s %u %s", &type, hex) == 2) {
      len = unhex(hex, body);
      rv = ps_request(s, type, body, len, &slot);
      if (rv > 0 && rv < 1 << 16) slot_of[rv] = slot;
    } else if (strcmp(cmd, "stream") == 0) {
      rv = ps_stream_open(s, &slot);
      if (rv > 0 && rv < 1 << 16) slot_of[rv] = slot;
    } else if ((strcmp(cmd, "write") == 0 || strcmp(cmd, "end") == 0) &&
               sscanf(line, "%*s %d %u %s", &id, &type, hex) == 3 && id > 0 &&
               id < 1 << 16) {
      len = unhex(hex, body);
      rv = cmd[0] == 'w' ? ps_stream_write(s, slot_of[id], type, body, len)
                         : ps_stream_end(s, slot_of[id], type, body, len);
    } else if (strcmp(cmd, "frame") == 0 &&
               sscanf(line, "%*s %u %u %d %s", &flags, &type, &req, hex) == 4) {
      uint8_t head[PS_HEADER_SIZE];
      flush(s);
      len = unhex(hex, body);
      ps_header_encode(head, flags, type, len, req);
      fwrite(head, 1, PS_HEADER_SIZE, stdout);
      fwrite(body, 1, len, stdout);
    } else if (strcmp(cmd, "close") == 0) {
      rv = ps_session_close(s);
    } else {
      fprintf(stderr, "ps_cli: bad line: %s", line);
      return 2;
    }
    free(hex);
    free(body);
    if (rv < 0) return fail(cmd, rv);
    while (ps_session_poll(s, &ev) > 0) {
    }
    flush(s);
  }
  free(line);
  ps_session_del(s);
  return 0;
}

static void print_packet(const ps_event *ev) {
  uint32_t i;
  printf("{\"req\":%d,\"stream\":%s,\"end\":%s,\"type\":%u,\"body\":\"",
         ev->req, (ev->flags & PS_FLAG_STREAM) ? "true" : "false",
         (ev->flags & PS_FLAG_END) ? "true" : "false", ev->body_type);
  for (i = 0; i < ev->len; i++) printf("%02x", ev->data[i]);
  printf("\"}\n");
}

static int decode(uint32_t chunk) {
  ps_session *s;
  size_t n, pos = 0;
  uint8_t *in = read_all(stdin, &n);
  ps_event ev;
  int status = 0;
  if (ps_session_new(&s, PS_MODE_WIRE, PS_OPT_COMPAT, NULL, NULL, 1) != PS_OK)
    return 2;
  if (chunk == 0) chunk = (uint32_t)(n ? n : 1);
  while (pos < n && status == 0) {
    size_t end = pos + chunk < n ? pos + chunk : n;
    while (pos < end) {
      int32_t got = ps_session_recv(s, in + pos, (uint32_t)(end - pos));
      if (got < 0) {
        printf("{\"error\":%d,\"message\":\"%s\"}\n", got, ps_strerror(got));
        status = 1;
        break;
      }
      pos += (size_t)got;
      while (ps_session_poll(s, &ev) > 0) {
        switch (ev.type) {
          case PS_EV_MESSAGE:
          case PS_EV_REQUEST:
          case PS_EV_RESPONSE:
          case PS_EV_STREAM_DATA:
          case PS_EV_STREAM_END:
          case PS_EV_STRAY:
            print_packet(&ev);
            break;
          default:
            break;
        }
      }
    }
  }
  if (status == 0 && (ps_session_state(s) & PS_STATE_GOODBYE))
    printf("goodbye\n");
  ps_session_del(s);
  free(in);
  return status;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "encode") == 0) return encode();
  if (argc >= 2 && strcmp(argv[1], "decode") == 0)
    return decode(argc >= 3 ? (uint32_t)strtoul(argv[2], NULL, 10) : 0);
  fprintf(stderr,
          "usage: ps_cli encode < script | ps_cli decode [chunk] < bytes\n");
  return 2;
}
