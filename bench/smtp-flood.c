/*
 * smtp-flood: the SMTP load generator of `npm run bench`, in C so that its own CPU time stays
 * small beside the server's. The bench runs on the same cores as the server, so whatever the
 * client spends is taken from argon2. Measured per STARTTLS session: a Node.js client 2.1 ms of
 * CPU (3-4 ms beside argon2), this one 1.3 ms (about 2 ms beside argon2), nearly all of it
 * OpenSSL's full handshake with certificate verification.
 *
 * Each session: connect to 127.0.0.1:PORT, greeting, EHLO, STARTTLS, TLS handshake (a full one,
 * no resumption, certificate checked against --ca and the name mail.test), EHLO, optionally AUTH
 * PLAIN, QUIT. CONCURRENCY sessions run at once for SECONDS; a session that has not ended 30 s
 * after the deadline counts as an error. The rate and the latencies are of the sessions that end
 * between WARMUP seconds after the start and the deadline: at the start every connection waits
 * for its greeting and handshake together, and the server is not yet saturated.
 *
 *   smtp-flood --port P --ca FILE --concurrency N --seconds S [--warmup W]
 *              [--login-prefix user --login-digits 6 --login-suffix @bench.test --first K --modulo M]
 *              [--login FIXED] [--password PW] [--wrong-every N] [--sources N] [--resume 1]
 *
 * --wrong-every N: every Nth session (4: 25%) sends a wrong password (PW with "x" added).
 * --sources N: session i connects from 127.10.x.y, one of N loopback addresses, as N clients.
 * --resume 1: resume the last TLS session the server gave (tickets), as a returning client does;
 * `resumed` counts the handshakes that did.
 *
 * Without a login it runs TLS sessions without AUTH. With --login-prefix, session i logs in as
 * prefix + (first + i) % modulo zero-padded to digits + suffix (each login once: a cold login).
 * Prints one JSON object: ops (all sessions that ended well), errors, refused (AUTH answered other
 * than 235), seconds (of the window), rate, p50_ms and p99_ms of the AUTH round trip (of the whole
 * session without AUTH) in the window, cpu_ms (over the whole run), accepted_rate (AUTH answered 235
 * in the window, a second), resumed.
 * Build: cc -O2 -o smtp-flood smtp-flood.c -lssl -lcrypto
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum state { GREETING, EHLO1, STARTTLS, HANDSHAKE, EHLO2, AUTH };

struct conn {
  int fd;
  SSL *ssl;
  enum state state;
  char buf[8192];
  size_t len;
  double started;
  long index;
};

static const char *opt_ca, *opt_prefix, *opt_suffix = "", *opt_login, *opt_password = "";
static int opt_port, opt_concurrency = 64, opt_digits = 6, opt_wrong_every, opt_sources, opt_resume;
static double opt_seconds = 10, opt_warmup = 0;
static long opt_first, opt_modulo = 1;

static SSL_CTX *ctx;
static int ep;
static long started_count, ops, errors, refused, in_flight, accepted_in_window, resumed;
static unsigned char *session_der;
static int session_len;
static double *latencies;
static size_t lat_len, lat_cap;
static double deadline, window_start;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A session that ended well; its latency counts when it ended inside the window. */
static void record(double ms) {
  ops++;
  double t = now_ms();
  if (t < window_start || t > deadline) return;
  if (lat_len == lat_cap) {
    lat_cap = lat_cap ? lat_cap * 2 : 4096;
    latencies = realloc(latencies, lat_cap * sizeof *latencies);
    if (!latencies) abort();
  }
  latencies[lat_len++] = ms;
}

static void base64(const unsigned char *in, size_t n, char *out) {
  static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i, o = 0;
  for (i = 0; i + 2 < n; i += 3) {
    out[o++] = t[in[i] >> 2];
    out[o++] = t[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
    out[o++] = t[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
    out[o++] = t[in[i + 2] & 63];
  }
  if (i < n) {
    out[o++] = t[in[i] >> 2];
    if (i + 1 < n) {
      out[o++] = t[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
      out[o++] = t[(in[i + 1] & 15) << 2];
    } else {
      out[o++] = t[(in[i] & 3) << 4];
      out[o++] = '=';
    }
    out[o++] = '=';
  }
  out[o] = 0;
}

static void start_one(void);

static int finish(struct conn *c, int ok) {
  if (!ok) errors++;
  if (c->ssl) {
    /* After QUIT the session ended well: marked so, it stays resumable (OpenSSL drops the session
       of a connection freed without a shutdown). */
    if (ok) SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(c->ssl);
  }
  close(c->fd);
  free(c);
  in_flight--;
  if (now_ms() < deadline) start_one();
  return 0;
}

/* Sends a line, over TLS once the session has it. Lines are short: one write suffices. */
static int send_line(struct conn *c, const char *line) {
  size_t n = strlen(line);
  if (c->ssl) return SSL_write(c->ssl, line, (int)n) == (int)n;
  return write(c->fd, line, n) == (ssize_t)n;
}

/* A complete reply ends with a line "ddd text\r\n" (a space, not a dash, after the code). */
static int reply_complete(struct conn *c) {
  if (c->len < 5 || c->buf[c->len - 2] != '\r' || c->buf[c->len - 1] != '\n') return 0;
  size_t start = c->len - 2;
  while (start > 0 && c->buf[start - 1] != '\n') start--;
  return c->len - start >= 6 && c->buf[start + 3] == ' ';
}

static int reply_code(struct conn *c) {
  size_t start = c->len - 2;
  while (start > 0 && c->buf[start - 1] != '\n') start--;
  return atoi(c->buf + start);
}

/* Acts on a complete reply; returns 0 when the session ended (c is freed), 1 otherwise. */
static int on_reply(struct conn *c) {
  int code = reply_code(c);
  c->len = 0;
  switch (c->state) {
    case GREETING:
      if (code != 220 || !send_line(c, "EHLO bench.test\r\n")) return finish(c, 0);
      c->state = EHLO1;
      return 1;
    case EHLO1:
      if (code != 250 || !send_line(c, "STARTTLS\r\n")) return finish(c, 0);
      c->state = STARTTLS;
      return 1;
    case STARTTLS:
      if (code != 220) return finish(c, 0);
      c->ssl = SSL_new(ctx);
      SSL_set_fd(c->ssl, c->fd);
      SSL_set_tlsext_host_name(c->ssl, "mail.test");
      if (opt_resume && session_der) {
        /* A fresh copy each time, as `openssl s_client -sess_in` reads its file: OpenSSL marks a
           TLS 1.3 session object used once as spent, but the server takes its ticket again. */
        const unsigned char *p = session_der;
        SSL_SESSION *s = d2i_SSL_SESSION(NULL, &p, session_len);
        if (s) {
          SSL_set_session(c->ssl, s);
          SSL_SESSION_free(s);
        }
      }
      SSL_set1_host(c->ssl, "mail.test");
      c->state = HANDSHAKE;
      return 1;
    case EHLO2: {
      if (code != 250) return finish(c, 0);
      if (!opt_prefix && !opt_login) {
        send_line(c, "QUIT\r\n");
        record(now_ms() - c->started);
        return finish(c, 1);
      }
      char login[512], plain[1024], line[1500];
      if (opt_login) snprintf(login, sizeof login, "%s", opt_login);
      else snprintf(login, sizeof login, "%s%0*ld%s", opt_prefix, opt_digits, (opt_first + c->index) % opt_modulo, opt_suffix);
      size_t ll = strlen(login), pl = strlen(opt_password);
      plain[0] = 0;
      memcpy(plain + 1, login, ll);
      plain[1 + ll] = 0;
      memcpy(plain + 2 + ll, opt_password, pl);
      if (opt_wrong_every > 0 && c->index % opt_wrong_every == opt_wrong_every - 1) plain[2 + ll + pl++] = 'x';
      char b64[1400];
      base64((unsigned char *)plain, 2 + ll + pl, b64);
      snprintf(line, sizeof line, "AUTH PLAIN %s\r\n", b64);
      c->started = now_ms();
      if (!send_line(c, line)) return finish(c, 0);
      c->state = AUTH;
      return 1;
    }
    case AUTH: {
      record(now_ms() - c->started);
      double t = now_ms();
      if (code != 235) refused++;
      else if (t >= window_start && t <= deadline) accepted_in_window++;
      send_line(c, "QUIT\r\n");
      return finish(c, 1);
    }
    case HANDSHAKE:
      break;
  }
  return finish(c, 0);
}

static void on_event(struct conn *c) {
  for (;;) {
    if (c->state == HANDSHAKE) {
      int r = SSL_connect(c->ssl);
      if (r != 1) {
        int e = SSL_get_error(c->ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) finish(c, 0);
        return;
      }
      if (SSL_session_reused(c->ssl)) resumed++;
      if (SSL_get_verify_result(c->ssl) != X509_V_OK || !send_line(c, "EHLO bench.test\r\n")) {
        finish(c, 0);
        return;
      }
      c->state = EHLO2;
    }
    ssize_t n;
    if (c->len >= sizeof c->buf - 1) {
      finish(c, 0);
      return;
    }
    if (c->ssl) {
      n = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof c->buf - 1 - c->len));
      if (n <= 0) {
        int e = SSL_get_error(c->ssl, (int)n);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) finish(c, 0);
        return;
      }
    } else {
      n = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n <= 0) {
        finish(c, 0);
        return;
      }
    }
    c->len += (size_t)n;
    /* SMTP without pipelining is lock-step: a reply is answered before anything else comes. */
    if (reply_complete(c) && !on_reply(c)) return;
  }
}

static void start_one(void) {
  struct conn *c = calloc(1, sizeof *c);
  if (!c) abort();
  c->index = started_count++;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (opt_sources > 0) {
    long k = c->index % opt_sources;
    struct sockaddr_in from = {.sin_family = AF_INET};
    from.sin_addr.s_addr = htonl((127u << 24) | (10u << 16) | ((unsigned)(k / 250) << 8) | (unsigned)(k % 250 + 1));
    bind(c->fd, (struct sockaddr *)&from, sizeof from);
  }
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(opt_port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  c->started = now_ms();
  in_flight++;
  if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) {
    /* Not through finish(): it would start the next session at once, and fail again, and again. */
    errors++;
    in_flight--;
    close(c->fd);
    free(c);
    return;
  }
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

/* Keeps the newest session the server gave (a TLS 1.3 ticket arrives after the handshake), encoded. */
static int on_new_session(SSL *ssl, SSL_SESSION *session) {
  (void)ssl;
  int n = i2d_SSL_SESSION(session, NULL);
  unsigned char *der = n > 0 ? malloc((size_t)n) : NULL, *p = der;
  if (der && i2d_SSL_SESSION(session, &p) == n) {
    free(session_der);
    session_der = der;
    session_len = n;
  } else {
    free(der);
  }
  return 0;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--port")) opt_port = atoi(v);
    else if (!strcmp(k, "--ca")) opt_ca = v;
    else if (!strcmp(k, "--concurrency")) opt_concurrency = atoi(v);
    else if (!strcmp(k, "--seconds")) opt_seconds = atof(v);
    else if (!strcmp(k, "--warmup")) opt_warmup = atof(v);
    else if (!strcmp(k, "--login-prefix")) opt_prefix = v;
    else if (!strcmp(k, "--login-digits")) opt_digits = atoi(v);
    else if (!strcmp(k, "--login-suffix")) opt_suffix = v;
    else if (!strcmp(k, "--first")) opt_first = atol(v);
    else if (!strcmp(k, "--modulo")) opt_modulo = atol(v);
    else if (!strcmp(k, "--login")) opt_login = v;
    else if (!strcmp(k, "--password")) opt_password = v;
    else if (!strcmp(k, "--wrong-every")) opt_wrong_every = atoi(v);
    else if (!strcmp(k, "--sources")) opt_sources = atoi(v);
    else if (!strcmp(k, "--resume")) opt_resume = atoi(v);
    else {
      fprintf(stderr, "smtp-flood: unknown option %s\n", k);
      return 2;
    }
  }
  if (!opt_port || !opt_ca || opt_concurrency < 1 || opt_modulo < 1 || opt_warmup < 0 || opt_warmup >= opt_seconds) {
    fprintf(stderr, "smtp-flood: --port and --ca are required, and --warmup must be shorter than --seconds\n");
    return 2;
  }
  ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (opt_resume) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
  } else {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  }
  if (SSL_CTX_load_verify_locations(ctx, opt_ca, NULL) != 1) {
    fprintf(stderr, "smtp-flood: cannot read %s\n", opt_ca);
    return 2;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  ep = epoll_create1(0);

  double t0 = now_ms();
  deadline = t0 + opt_seconds * 1e3;
  window_start = t0 + opt_warmup * 1e3;
  for (int i = 0; i < opt_concurrency; i++) start_one();
  struct epoll_event events[256];
  while (in_flight > 0 && now_ms() < deadline + 30e3) {
    int n = epoll_wait(ep, events, 256, 1000);
    for (int i = 0; i < n; i++) on_event(events[i].data.ptr);
  }
  double seconds = opt_seconds - opt_warmup;
  errors += in_flight;

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu_ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
  qsort(latencies, lat_len, sizeof *latencies, cmp);
  double p50 = lat_len ? latencies[(size_t)(0.5 * lat_len)] : 0, p99 = lat_len ? latencies[(size_t)(0.99 * lat_len)] : 0;
  printf("{\"ops\":%ld,\"errors\":%ld,\"refused\":%ld,\"seconds\":%.3f,\"rate\":%.3f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"cpu_ms\":%.1f,\"accepted_rate\":%.3f,\"resumed\":%ld}\n",
         ops, errors, refused, seconds, lat_len / seconds, p50, p99, cpu_ms, accepted_in_window / seconds, resumed);
  return 0;
}
