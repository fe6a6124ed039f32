/*
 * echo_peer.c: a packet-stream echo peer over TCP, on the native core.
 *
 *   echo_peer PORT [--max-clients N] [--max-frame N] [--max-requests N]
 *                  [--max-streams N] [--max-outbuf N] [--high-water N]
 *                  [--quiet]
 *
 * Listens on 127.0.0.1:PORT (0: any free port), prints "listening <port>" on
 * stdout once it does, and serves every client with its own wire-mode
 * session: a message comes back as a message, a request is answered with its
 * own value, and each substream the client opens is echoed (every data packet
 * written back on the same substream, the client's end, plain or error,
 * answered with the same end). The client's goodbye, or its end of the
 * connection, ends its session cleanly; a protocol error (garbage, a bad body
 * type, a frame over the limit) ends that client alone and closes its socket.
 *
 * One thread, one poll() loop, non-blocking sockets. Bytes are written
 * straight from the session's output; what the socket does not take at once
 * is handed back to the session (ps_session_sent) and waits there until
 * POLLOUT, so --max-outbuf bounds it; while more than --high-water bytes
 * wait, the client is not read (it is echoing faster than it reads). SIGTERM or
 * SIGINT ends every session, frees everything, exits 0. Connections and their
 * ends are logged to stderr unless --quiet.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../c/ps.h"

#define READ_CHUNK 65536              /* bytes read from a socket at a time */
#define CLOSE_TIMEOUT_MS 5000         /* to flush and see the client's end */
#define ACCEPT_PAUSE_MS 100           /* after accept() ran out of fds */
#define DEFAULT_HIGH_WATER (1u << 20) /* stop reading above this backlog */
#define DEFAULT_MAX_CLIENTS 1024u

typedef struct config {
  ps_limits limits;
  size_t max_clients;
  size_t high_water;
  int quiet;
} config;

enum client_state {
  C_LIVE,   /* the session runs */
  C_FLUSH,  /* the session is over: writing what is left for the client */
  C_LINGER, /* all written, our side shut down: waiting for the client's */
  C_DEAD    /* closed; removed at the end of the loop's turn */
};

typedef struct client {
  int fd;
  int state;
  int eof;    /* the client ended its side */
  int failed; /* a fatal error: close without flushing */
  unsigned long id;
  ps_session *s;    /* NULL once everything for the client is written */
  int64_t deadline; /* C_FLUSH, C_LINGER: drop at this time (ms) */
} client;

typedef struct server {
  config cfg;
  int listen_fd;
  int wake[2]; /* the signal handler writes to wake[1] */
  client *clients;
  size_t nclients, clients_cap;
  struct pollfd *pfds;
  size_t pfds_cap;
  int64_t accept_paused_until;
  unsigned long next_id;
  uint64_t seed_key, seed_count;
  uint8_t buf[READ_CHUNK];
} server;

static volatile sig_atomic_t stop_requested = 0;
static int wake_fd = -1;

static void on_signal(int sig) {
  int saved = errno;
  (void)sig;
  stop_requested = 1;
  if (wake_fd >= 0) {
    ssize_t w = write(wake_fd, "x", 1);
    (void)w; /* a full pipe already wakes the loop */
  }
  errno = saved;
}

static int quiet = 0;

#ifdef __GNUC__
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif

static void say(const char *fmt, ...) {
  va_list ap;
  if (quiet) return;
  va_start(ap, fmt);
  fputs("echo_peer: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A hash seed per session, so that no client can choose colliding ids. */
static uint32_t next_seed(server *srv) {
  uint64_t z = srv->seed_key + ++srv->seed_count * 0x9e3779b97f4a7c15u;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return (uint32_t)(z ^ (z >> 31));
}

static void init_seed(server *srv) {
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  srv->seed_key = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
  if (fd >= 0) {
    uint64_t key;
    if (read(fd, &key, sizeof key) == (ssize_t)sizeof key) srv->seed_key = key;
    close(fd);
  }
}

static int set_nonblocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -1;
  fl = fcntl(fd, F_GETFD);
  if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0) return -1;
  return 0;
}

/* ---- one client --------------------------------------------------------- */

/* Bytes framed for the client and not yet written. */
static size_t unsent(const client *c) {
  return c->s ? ps_session_pending(c->s) : 0;
}

/* Closes the socket and frees everything of |c|; the slot goes at the end of
   the loop's turn. */
static void client_drop(client *c) {
  ps_session_del(c->s);
  c->s = NULL;
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->state = C_DEAD;
}

/* Everything is written and the session is over: shut our side down and
   wait for the client's end, which avoids a reset that could cut our last
   bytes (or close at once when the client has ended already). */
static void client_flushed(client *c) {
  ps_session_del(c->s);
  c->s = NULL;
  if (c->eof || shutdown(c->fd, SHUT_WR) < 0) {
    client_drop(c);
    return;
  }
  c->state = C_LINGER;
}

/* Writes what the socket takes now, straight from the session's output;
   what it does not take goes back to the session for the next POLLOUT. */
static void client_write(client *c) {
  while (unsent(c) > 0) {
    const uint8_t *p;
    int32_t n = ps_session_send(c->s, &p);
    ssize_t w = send(c->fd, p, (size_t)n, 0);
    if (w < n) ps_session_sent(c->s, w > 0 ? (uint32_t)w : 0);
    if (w >= 0 || errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    say("client %lu: write failed: %s", c->id, strerror(errno));
    client_drop(c);
    return;
  }
  if (c->state == C_FLUSH) client_flushed(c);
}

/* The session reported PS_EV_CLOSED. */
static void session_over(client *c, int32_t error) {
  if (c->failed) {
    client_drop(c);
    return;
  }
  if (error)
    say("client %lu: closed: %s", c->id, ps_strerror(error));
  else
    say("client %lu: closed", c->id);
  c->state = C_FLUSH;
  c->deadline = now_ms() + CLOSE_TIMEOUT_MS;
}

/* The echo: polls every event of the session and answers it. */
static void client_pump(client *c) {
  ps_event ev;
  while (c->state == C_LIVE && ps_session_poll(c->s, &ev) > 0) {
    int32_t rv = 0;
    switch (ev.type) {
      case PS_EV_MESSAGE:
        rv = ps_message(c->s, ev.body_type, ev.data, ev.len);
        break;
      case PS_EV_REQUEST:
        rv = ps_respond(c->s, ev.slot, 0, ev.body_type, ev.data, ev.len);
        break;
      case PS_EV_STREAM_DATA:
        rv = ps_stream_write(c->s, ev.slot, ev.body_type, ev.data, ev.len);
        break;
      case PS_EV_STREAM_END:
        /* the client's end, plain (true) or an error value: ours is the
           same. We never end first, so the substream is still ours to end. */
        if (!(ev.flags & PS_EVF_RELEASED))
          rv = ps_stream_end(c->s, ev.slot, ev.body_type, ev.data, ev.len);
        break;
      case PS_EV_ERROR:
        /* from the client's bytes, or a fatal code of a command above */
        say("client %lu: error: %s", c->id, ps_strerror(ev.error));
        c->failed = ev.error;
        break;
      case PS_EV_CLOSED:
        session_over(c, ev.error);
        return;
      default:
        /* RESPONSE, REQUEST_ABORTED, STREAM_ABORTED, STRAY: we send no
           requests and open no substreams, and keep nothing per slot */
        break;
    }
    /* a fatal code has destroyed the session: ERROR and CLOSED follow */
    if (rv < 0 && !ps_is_fatal(rv))
      say("client %lu: not echoed: %s", c->id, ps_strerror(rv));
  }
}

/* Hands the core |n| bytes from the client, echoing as frames complete. */
static void client_feed(const server *srv, client *c, const uint8_t *p,
                        size_t n) {
  /* the echo of a frame must fit beside what waits: what waits is written
     once it passes this (or 64 KiB), not only after the whole read, so
     that a client that reads never has a read's echoes against max_outbuf */
  size_t room =
      srv->cfg.limits.max_outbuf - srv->cfg.limits.max_frame - PS_HEADER_SIZE;
  size_t write_at = room < 65536 ? room : 65536;
  size_t pos = 0;
  while (c->state == C_LIVE && pos < n) {
    int32_t rv = ps_session_recv(c->s, p + pos, (uint32_t)(n - pos));
    if (rv > 0) pos += (size_t)rv;
    client_pump(c); /* after a fatal code: ERROR, aborts, CLOSED */
    if (c->state == C_LIVE && unsent(c) >= write_at) client_write(c);
    if (rv <= 0 && c->state == C_LIVE) {
      /* a fatal code always closes the session; this is not reached */
      say("client %lu: stuck: %s", c->id, ps_strerror(rv));
      client_drop(c);
    }
  }
}

static void client_read(server *srv, client *c) {
  ssize_t n = read(c->fd, srv->buf, sizeof srv->buf);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    say("client %lu: read failed: %s", c->id, strerror(errno));
    client_drop(c);
    return;
  }
  if (n == 0) c->eof = 1;
  if (c->state == C_LIVE) {
    if (n > 0) {
      client_feed(srv, c, srv->buf, (size_t)n);
    } else {
      ps_session_recv_end(c->s, 0);
      client_pump(c);
    }
  } else if (n == 0 && c->state == C_LINGER) {
    client_drop(c); /* the client's end: done */
  }
  /* in C_FLUSH and C_LINGER what the client still sends is ignored */
  if (c->state == C_LIVE || c->state == C_FLUSH) client_write(c);
}

/* ---- the server --------------------------------------------------------- */

static void accept_clients(server *srv) {
  while (srv->nclients < srv->cfg.max_clients) {
    client *c;
    ps_session *s;
    int32_t rv;
    int one = 1;
    int fd = accept(srv->listen_fd, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      /* out of fds or memory: the listener would wake us at once again */
      say("accept failed: %s", strerror(errno));
      srv->accept_paused_until = now_ms() + ACCEPT_PAUSE_MS;
      return;
    }
    if (set_nonblocking(fd) < 0) {
      close(fd);
      continue;
    }
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (srv->nclients == srv->clients_cap) {
      size_t cap = srv->clients_cap ? srv->clients_cap * 2 : 16;
      client *grown = realloc(srv->clients, cap * sizeof *grown);
      if (grown == NULL) {
        close(fd);
        srv->accept_paused_until = now_ms() + ACCEPT_PAUSE_MS;
        return;
      }
      srv->clients = grown;
      srv->clients_cap = cap;
    }
    rv = ps_session_new(&s, PS_MODE_WIRE, 0, &srv->cfg.limits, NULL,
                        next_seed(srv));
    if (rv != PS_OK) {
      say("no session: %s", ps_strerror(rv));
      close(fd);
      srv->accept_paused_until = now_ms() + ACCEPT_PAUSE_MS;
      return;
    }
    c = &srv->clients[srv->nclients++];
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->state = C_LIVE;
    c->id = ++srv->next_id;
    c->s = s;
    say("client %lu: connected", c->id);
  }
}

/* Removes the closed clients, keeping the others in order. */
static void sweep(server *srv) {
  size_t i, j = 0;
  for (i = 0; i < srv->nclients; i++)
    if (srv->clients[i].state != C_DEAD) srv->clients[j++] = srv->clients[i];
  srv->nclients = j;
}

/* The poll() set: the wake-up pipe, the listener, then one per client. */
static int build_pollset(server *srv, int64_t now, int *timeout) {
  size_t i, need = srv->nclients + 2;
  int64_t wait = -1;
  if (need > srv->pfds_cap) {
    struct pollfd *grown = realloc(srv->pfds, need * sizeof *grown);
    if (grown == NULL) return -1;
    srv->pfds = grown;
    srv->pfds_cap = need;
  }
  srv->pfds[0].fd = srv->wake[0];
  srv->pfds[0].events = POLLIN;
  srv->pfds[1].fd = -1; /* poll() skips negative fds */
  srv->pfds[1].events = POLLIN;
  if (srv->accept_paused_until > now) {
    wait = srv->accept_paused_until - now;
  } else if (srv->nclients < srv->cfg.max_clients) {
    srv->pfds[1].fd = srv->listen_fd;
  }
  for (i = 0; i < srv->nclients; i++) {
    const client *c = &srv->clients[i];
    struct pollfd *p = &srv->pfds[i + 2];
    p->fd = c->fd;
    p->events = 0;
    p->revents = 0;
    /* a live client is not read while its backlog is over the high-water
       mark; after its end there is nothing more to read */
    if (!c->eof && (c->state != C_LIVE || unsent(c) < srv->cfg.high_water))
      p->events |= POLLIN;
    if (unsent(c) > 0) p->events |= POLLOUT;
    if (c->state == C_FLUSH || c->state == C_LINGER) {
      int64_t left = c->deadline > now ? c->deadline - now : 0;
      if (wait < 0 || left < wait) wait = left;
    }
  }
  *timeout = wait < 0 ? -1 : (int)(wait > 60000 ? 60000 : wait);
  return 0;
}

static void serve_turn(server *srv) {
  size_t i, n = srv->nclients;
  int timeout, rv;
  int64_t now = now_ms();
  for (i = 0; i < n; i++) {
    client *c = &srv->clients[i];
    if ((c->state == C_FLUSH || c->state == C_LINGER) && c->deadline <= now) {
      say("client %lu: gave up waiting for it to close", c->id);
      client_drop(c);
    }
  }
  sweep(srv);
  n = srv->nclients;
  if (build_pollset(srv, now, &timeout) < 0) {
    /* cannot even poll: wait a little and try again */
    struct timespec pause = {0, 10000000};
    nanosleep(&pause, NULL);
    return;
  }
  rv = poll(srv->pfds, (nfds_t)(n + 2), timeout);
  if (rv < 0) return; /* EINTR: the loop checks for a stop */
  if (srv->pfds[0].revents & POLLIN) {
    char drain[64];
    while (read(srv->wake[0], drain, sizeof drain) > 0) {
    }
  }
  for (i = 0; i < n; i++) {
    client *c = &srv->clients[i];
    short re = srv->pfds[i + 2].revents;
    if (c->state == C_DEAD) continue;
    if (re & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) client_read(srv, c);
    if ((re & POLLOUT) && c->state != C_DEAD) client_write(c);
  }
  sweep(srv);
  if (srv->pfds[1].fd >= 0 && (srv->pfds[1].revents & POLLIN))
    accept_clients(srv);
}

/* SIGTERM/SIGINT: every session ends now; each client gets what can still
   be written at once (the goodbye when nothing was open), then its socket
   is closed. */
static void shutdown_all(server *srv) {
  size_t i;
  for (i = 0; i < srv->nclients; i++) {
    client *c = &srv->clients[i];
    if (c->state == C_LIVE) {
      ps_event ev;
      ps_session_destroy(c->s, 0);
      while (ps_session_poll(c->s, &ev) > 0) {
      }
      c->state = C_FLUSH;
    }
    if (c->state == C_FLUSH) client_write(c);
    if (c->state != C_DEAD) client_drop(c);
  }
  srv->nclients = 0;
}

/* ---- setup -------------------------------------------------------------- */

static int listen_on(server *srv, unsigned port) {
  struct sockaddr_in addr;
  socklen_t len = sizeof addr;
  int one = 1;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 ||
      listen(fd, SOMAXCONN) < 0 || set_nonblocking(fd) < 0 ||
      getsockname(fd, (struct sockaddr *)&addr, &len) < 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  srv->listen_fd = fd;
  printf("listening %u\n", (unsigned)ntohs(addr.sin_port));
  fflush(stdout);
  return 0;
}

static int install_signals(server *srv) {
  struct sigaction sa;
  if (pipe(srv->wake) < 0) return -1;
  if (set_nonblocking(srv->wake[0]) < 0 || set_nonblocking(srv->wake[1]) < 0)
    return -1;
  wake_fd = srv->wake[1];
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns EINTR */
  if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
    return -1;
  sa.sa_handler = SIG_IGN; /* a write to a closed socket fails with EPIPE */
  return sigaction(SIGPIPE, &sa, NULL);
}

static int usage(void) {
  fprintf(stderr,
          "usage: echo_peer PORT [--max-clients N] [--max-frame N] "
          "[--max-requests N]\n"
          "                      [--max-streams N] [--max-outbuf N] "
          "[--high-water N] [--quiet]\n");
  return 2;
}

/* Parses a decimal number in [min, max]. */
static int parse_num(const char *s, unsigned long min, unsigned long max,
                     unsigned long *out) {
  char *end;
  unsigned long v;
  if (s == NULL || *s < '0' || *s > '9') return -1;
  errno = 0;
  v = strtoul(s, &end, 10);
  if (errno || *end || v < min || v > max) return -1;
  *out = v;
  return 0;
}

static int parse_args(int argc, char **argv, config *cfg, unsigned *port) {
  unsigned long v;
  int i;
  ps_limits_default(&cfg->limits);
  cfg->max_clients = DEFAULT_MAX_CLIENTS;
  cfg->high_water = 0; /* not given: see below */
  cfg->quiet = 0;
  if (argc < 2 || parse_num(argv[1], 0, 65535, &v) < 0) return -1;
  *port = (unsigned)v;
  for (i = 2; i < argc; i++) {
    const char *opt = argv[i];
    if (strcmp(opt, "--quiet") == 0) {
      cfg->quiet = 1;
      continue;
    }
    if (i + 1 >= argc || parse_num(argv[i + 1], 1, UINT32_MAX, &v) < 0)
      return -1;
    i++;
    if (strcmp(opt, "--max-clients") == 0)
      cfg->max_clients = (size_t)v;
    else if (strcmp(opt, "--max-frame") == 0)
      cfg->limits.max_frame = (uint32_t)v;
    else if (strcmp(opt, "--max-requests") == 0)
      cfg->limits.max_requests = (uint32_t)v;
    else if (strcmp(opt, "--max-streams") == 0)
      cfg->limits.max_streams = (uint32_t)v;
    else if (strcmp(opt, "--max-outbuf") == 0)
      cfg->limits.max_outbuf = (uint32_t)v;
    else if (strcmp(opt, "--high-water") == 0)
      cfg->high_water = (size_t)v;
    else
      return -1;
  }
  /* the echo of the largest frame must fit in the core's output buffer */
  if ((uint64_t)cfg->limits.max_frame + PS_HEADER_SIZE >
      cfg->limits.max_outbuf) {
    fprintf(stderr,
            "echo_peer: --max-outbuf must be at least "
            "--max-frame + 9\n");
    return -1;
  }
  /* a client that does not read is cut off past max_outbuf: it stops being
     read well before */
  if (cfg->high_water == 0)
    cfg->high_water = cfg->limits.max_outbuf / 2 < DEFAULT_HIGH_WATER
                          ? cfg->limits.max_outbuf / 2
                          : DEFAULT_HIGH_WATER;
  return 0;
}

int main(int argc, char **argv) {
  server *srv;
  ps_session *probe;
  unsigned port;
  config cfg;
  if (parse_args(argc, argv, &cfg, &port) < 0) return usage();
  /* the core checks the limits themselves */
  if (ps_session_new(&probe, PS_MODE_WIRE, 0, &cfg.limits, NULL, 0) != PS_OK) {
    fprintf(stderr, "echo_peer: the core refuses these limits\n");
    return 2;
  }
  ps_session_del(probe);
  quiet = cfg.quiet;
  srv = calloc(1, sizeof *srv);
  if (srv == NULL) return 1;
  srv->cfg = cfg;
  srv->listen_fd = srv->wake[0] = srv->wake[1] = -1;
  init_seed(srv);
  if (install_signals(srv) < 0 || listen_on(srv, port) < 0) {
    fprintf(stderr, "echo_peer: %s\n", strerror(errno));
    if (srv->wake[0] >= 0) close(srv->wake[0]);
    if (srv->wake[1] >= 0) close(srv->wake[1]);
    free(srv);
    return 1;
  }
  while (!stop_requested) serve_turn(srv);
  say("stopping");
  shutdown_all(srv);
  wake_fd = -1;
  close(srv->listen_fd);
  close(srv->wake[0]);
  close(srv->wake[1]);
  free(srv->clients);
  free(srv->pfds);
  free(srv);
  return 0;
}
