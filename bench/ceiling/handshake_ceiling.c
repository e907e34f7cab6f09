/* handshake-ceiling -- the machine's floor for one Socket.IO-over-WebSocket handshake: the
 * exchange bench scenario d times (TCP accept, WebSocket upgrade, Engine.IO open packet,
 * Socket.IO CONNECT carrying a JWT, the CONNECT answer), served by the thinnest server we can
 * write. The gateway's handshakes/s target (issue 7) is judged against this number, measured on
 * the same machine with the same load generator, the way write-ceiling is the reference for
 * deliveries.
 *
 * DESIGN. One thread pinned to --cpu, one level-triggered epoll set, and a fixed struct per
 * descriptor in an array indexed by fd: no allocation per connection. Per connection: accept4
 * (non-blocking; TCP_NODELAY is inherited from the listener), read the upgrade request into the
 * connection's buffer until the blank line, then ONE write carrying the 101 answer
 * (Sec-WebSocket-Accept = base64(SHA-1(key + RFC 6455 GUID))) and the Engine.IO open packet in a
 * text frame; read masked client frames until the Socket.IO CONNECT ("40..."), answer
 * 40{"sid":...} in one write. That is the answer gw-loadgen counts as a finished handshake (the
 * gateway in scenario d sends nothing more either: no catch-up, hence no pid and no sync event).
 * The JWT is NOT verified: HMAC-SHA256 of a token costs 1-2 us and the gateway's JWT cost is
 * visible separately in its profiles; what remains is the kernel's share plus a little parsing.
 * With --split-open the open packet gets its own write, as a server that answers the upgrade
 * before it knows the session would do; the default is the thinnest.
 *
 * After the CONNECT the socket stays open until the peer closes it: Engine.IO pings ("2") and
 * WebSocket pings are answered, everything else is discarded (a frame too big for the buffer is
 * skipped as it streams by). Writes never wait: a write the socket does not take whole (a fresh
 * loopback socket always takes these few hundred bytes) closes the connection and is counted, as
 * is every malformed input (the connection is closed, never the server). Output on SIGINT /
 * SIGTERM or after --seconds: one JSON line on stdout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "ceiling.h"

/* Room for the upgrade request and, later, for one whole client frame; a frame that does not fit
 * is refused before the CONNECT and skipped after it. An RS256 CONNECT frame is ~520 bytes. */
#define IN_CAP 2040
#define MAX_PAYLOAD 1000000 /* what the open packet announces as maxPayload */
#define SID_LEN 20
#define KEY_LEN 24 /* base64 of the 16 random bytes RFC 6455 asks for */
#define ACCEPT_LEN 28

enum conn_state {
    ST_FREE = 0,
    ST_HTTP,   /* reading the upgrade request */
    ST_OPENED, /* 101 and the open packet sent, waiting for the CONNECT */
    ST_READY,  /* CONNECT answered: the handshake is done */
};

struct conn {
    uint8_t state;
    uint8_t frag;  /* inside a fragmented message, which is discarded */
    uint16_t len;  /* bytes waiting in in[] */
    uint32_t skip; /* bytes of an oversized frame still to discard */
    char in[IN_CAP];
};

/* Why connections were closed by us: each is one counter in the report. */
enum err_kind {
    E_BAD_REQUEST, /* not a GET with a valid Sec-WebSocket-Key */
    E_TOO_LARGE,   /* request head or pre-CONNECT frame beyond the buffer, payload > maxPayload */
    E_BAD_FRAME,   /* unmasked, reserved bits or opcode, bad control frame, bad fragmentation */
    E_PROTOCOL,    /* an Engine.IO / Socket.IO packet that has no place here */
    E_SHORT_WRITE, /* the socket did not take a whole answer */
    E_READ,        /* read() failed (ECONNRESET and the like) */
    E_FD_LIMIT,    /* a descriptor beyond the table */
    E_COUNT
};

static const char *const err_names[E_COUNT] = {"badRequest", "tooLarge",  "badFrame", "protocol",
                                               "shortWrite", "readError", "fdLimit"};

struct opts {
    struct in_addr host;
    int port;
    int cpu;
    double seconds; /* 0: until a signal */
    long expect;    /* snapshot the CPU when this many handshakes are done; 0: none */
    int split_open;
};

struct stats {
    uint64_t accepted, upgraded, handshakes, pings, closed_by_peer, open;
    uint64_t errors[E_COUNT];
    double first_accept, last_handshake;
    double cpu_at_expect; /* -1 until --expect handshakes are done */
};

static struct conn *conns;
static int nconns;
static struct stats st;
static struct opts opt;
static volatile sig_atomic_t stop_requested;

/* The 101 answer with the open packet behind it, built once; per connection only the accept
 * value and the session id are patched in. The CONNECT answer likewise. */
static char hello[512], answer[64];
static size_t hello_len, hello_101_len, answer_len;
static size_t hello_accept_at, hello_sid_at, answer_sid_at;
static EVP_MD_CTX *sha1_ctx;
static EVP_MD *sha1_md;
static uint64_t sid_rng = 0x9e3779b97f4a7c15u;

static void on_signal(int sig)
{
    stop_requested = sig;
}

/* ---- templates ----------------------------------------------------------------------------- */

/* Appends a server (unmasked) text frame header for a payload of n < 65536 bytes. */
static size_t frame_header(char *out, size_t n)
{
    out[0] = (char)0x81;
    if (n < 126) {
        out[1] = (char)n;
        return 2;
    }
    out[1] = 126;
    out[2] = (char)(n >> 8);
    out[3] = (char)n;
    return 4;
}

static size_t offset_of(const char *hay, size_t n, const char *needle)
{
    const char *p = memmem(hay, n, needle, strlen(needle));
    if (!p) {
        fprintf(stderr, "handshake-ceiling: template without %s\n", needle);
        exit(1);
    }
    return (size_t)(p - hay);
}

/* The same open packet the gateway sends with its defaults, so the bytes on the wire match. The
 * placeholders are unique strings of the right length, found again once the frame is built. */
static void build_templates(void)
{
    static const char sid_ph[] = "SSSSSSSSSSSSSSSSSSSS", acc_ph[] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    char open_pkt[256];
    int on = snprintf(open_pkt, sizeof(open_pkt),
                      "0{\"sid\":\"%s\",\"upgrades\":[],\"pingInterval\":25000,"
                      "\"pingTimeout\":20000,\"maxPayload\":%d}",
                      sid_ph, MAX_PAYLOAD);
    int hn = snprintf(hello, sizeof(hello),
                      "HTTP/1.1 101 Switching Protocols\r\n"
                      "Upgrade: websocket\r\n"
                      "Connection: Upgrade\r\n"
                      "Sec-WebSocket-Accept: %s\r\n\r\n",
                      acc_ph);
    hello_101_len = (size_t)hn;
    hello_len = hello_101_len + frame_header(hello + hello_101_len, (size_t)on);
    memcpy(hello + hello_len, open_pkt, (size_t)on);
    hello_len += (size_t)on;
    hello_accept_at = offset_of(hello, hello_len, acc_ph);
    hello_sid_at = offset_of(hello, hello_len, sid_ph);

    char sio[64];
    int sn = snprintf(sio, sizeof(sio), "40{\"sid\":\"%s\"}", sid_ph);
    answer_len = frame_header(answer, (size_t)sn);
    memcpy(answer + answer_len, sio, (size_t)sn);
    answer_len += (size_t)sn;
    answer_sid_at = offset_of(answer, answer_len, sid_ph);
}

/* Session ids need only be distinct and look like the gateway's (20 base64url characters):
 * nobody here relies on their being unguessable, so a xorshift stream will do. */
static void new_sid(char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint64_t x = 0;
    for (int i = 0; i < SID_LEN; i++) {
        if (i % 10 == 0) {
            sid_rng ^= sid_rng << 13;
            sid_rng ^= sid_rng >> 7;
            sid_rng ^= sid_rng << 17;
            x = sid_rng;
        }
        out[i] = alphabet[x & 63];
        x >>= 6;
    }
}

static void ws_accept(const char *key, char *out)
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    char b64[ACCEPT_LEN + 4];
    if (!EVP_DigestInit_ex2(sha1_ctx, sha1_md, NULL) || !EVP_DigestUpdate(sha1_ctx, key, KEY_LEN) ||
        !EVP_DigestUpdate(sha1_ctx, guid, sizeof(guid) - 1) ||
        !EVP_DigestFinal_ex(sha1_ctx, digest, &dlen) || dlen != 20) {
        fprintf(stderr, "handshake-ceiling: SHA-1 failed\n");
        exit(1);
    }
    EVP_EncodeBlock((unsigned char *)b64, digest, 20);
    memcpy(out, b64, ACCEPT_LEN);
}

/* ---- connections --------------------------------------------------------------------------- */

static void conn_close(int fd)
{
    struct conn *c = &conns[fd];
    close(fd); /* also leaves the epoll set: the descriptor is never duplicated */
    c->state = ST_FREE;
    c->len = 0;
    c->skip = 0;
    c->frag = 0;
    st.open--;
}

static void conn_fail(int fd, enum err_kind why)
{
    st.errors[why]++;
    conn_close(fd);
}

/* Returns 0 when the socket took all n bytes, else closes fd and returns -1. */
static int send_all(int fd, const void *p, size_t n)
{
    ssize_t w = write(fd, p, n);
    if (w == (ssize_t)n)
        return 0;
    conn_fail(fd, E_SHORT_WRITE);
    return -1;
}

/* The value of the Sec-WebSocket-Key header in head[0..n), or NULL. Header names are
 * case-insensitive; surrounding blanks are not part of the value. */
static const char *find_key(const char *head, size_t n, size_t *klen)
{
    static const char name[] = "sec-websocket-key:";
    const char *end = head + n;
    const char *line = memchr(head, '\n', n);
    while (line && ++line < end) {
        const char *eol = memchr(line, '\r', (size_t)(end - line));
        if (!eol || eol == line)
            return NULL;
        if ((size_t)(eol - line) > sizeof(name) - 1 &&
            strncasecmp(line, name, sizeof(name) - 1) == 0) {
            const char *v = line + sizeof(name) - 1, *e = eol;
            while (v < e && (*v == ' ' || *v == '\t'))
                v++;
            while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            *klen = (size_t)(e - v);
            return v;
        }
        line = memchr(line, '\n', (size_t)(end - line));
    }
    return NULL;
}

/* Consumes the upgrade request at the front of the buffer when it is complete. Returns its
 * length, 0 while incomplete, -1 when fd was closed. */
static long on_request(int fd, struct conn *c)
{
    static const char bad[] = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n"
                              "Content-Length: 0\r\n\r\n";
    const char *blank = memmem(c->in, c->len, "\r\n\r\n", 4);
    if (!blank) {
        if (c->len < IN_CAP)
            return 0;
        conn_fail(fd, E_TOO_LARGE);
        return -1;
    }
    size_t head = (size_t)(blank - c->in) + 4, klen = 0;
    const char *key = find_key(c->in, head, &klen);
    if (c->len < 4 || memcmp(c->in, "GET ", 4) != 0 || !key || klen != KEY_LEN ||
        memcmp(key + KEY_LEN - 2, "==", 2) != 0) {
        if (write(fd, bad, sizeof(bad) - 1) < 0) {
            /* best effort: the connection is closed either way */
        }
        conn_fail(fd, E_BAD_REQUEST);
        return -1;
    }
    ws_accept(key, hello + hello_accept_at);
    new_sid(hello + hello_sid_at);
    if (opt.split_open) {
        if (send_all(fd, hello, hello_101_len) < 0 ||
            send_all(fd, hello + hello_101_len, hello_len - hello_101_len) < 0)
            return -1;
    } else if (send_all(fd, hello, hello_len) < 0) {
        return -1;
    }
    st.upgraded++;
    c->state = ST_OPENED;
    return (long)head;
}

/* One client frame's header: payload[0..len) follows hdr bytes, masked with mask[4]. */
struct frame {
    int fin, opcode;
    size_t hdr;
    uint64_t len;
};

/* Parses the frame header at p[0..n). Returns 1 when whole, 0 when more bytes are needed, -1
 * when malformed (unmasked, reserved bits or opcode, bad control frame, above maxPayload). */
static int frame_head(const uint8_t *p, size_t n, struct frame *f, enum err_kind *why)
{
    *why = E_BAD_FRAME;
    if (n < 2)
        return 0;
    f->fin = (p[0] & 0x80) != 0;
    f->opcode = p[0] & 0x0f;
    if ((p[0] & 0x70) || !(p[1] & 0x80))
        return -1;
    int control = (f->opcode & 0x08) != 0;
    if (control ? (f->opcode > 0xA || !f->fin) : f->opcode > 0x2)
        return -1;
    f->len = p[1] & 0x7f;
    f->hdr = 2;
    if (f->len == 126) {
        if (n < 4)
            return 0;
        f->len = (uint64_t)p[2] << 8 | p[3];
        f->hdr = 4;
    } else if (f->len == 127) {
        if (n < 10)
            return 0;
        f->len = 0;
        for (int i = 2; i < 10; i++)
            f->len = f->len << 8 | p[i];
        f->hdr = 10;
    }
    if (control && f->len > 125)
        return -1;
    if (f->len > MAX_PAYLOAD) {
        *why = E_TOO_LARGE;
        return -1;
    }
    f->hdr += 4; /* the mask */
    return n >= f->hdr ? 1 : 0;
}

/* Tracks fragmentation for a data frame; returns 1 when it is a whole one-frame text message
 * (the only kind worth reading here), 0 when it is discarded, -1 on a fragmentation error. */
static int data_frame(struct conn *c, const struct frame *f)
{
    if (f->opcode == 0x0) {
        if (!c->frag)
            return -1;
        c->frag = !f->fin;
        return 0;
    }
    if (c->frag)
        return -1;
    c->frag = !f->fin;
    return f->fin && f->opcode == 0x1;
}

/* Answers a WebSocket ping or close; returns -1 when fd was closed. */
static int on_control(int fd, const struct frame *f, const uint8_t *payload)
{
    uint8_t out[2 + 125];
    if (f->opcode == 0xA)
        return 0; /* an unsolicited pong */
    if (f->opcode == 0x8) {
        out[0] = 0x88; /* echo the status code, as RFC 6455 asks, and hang up */
        out[1] = f->len >= 2 ? 2 : 0;
        memcpy(out + 2, payload, out[1]);
        if (write(fd, out, 2u + out[1]) < 0) {
            /* best effort: the peer may be gone already */
        }
        st.closed_by_peer++;
        conn_close(fd);
        return -1;
    }
    out[0] = 0x8A;
    out[1] = (uint8_t)f->len;
    memcpy(out + 2, payload, f->len);
    return send_all(fd, out, 2 + f->len);
}

/* The Socket.IO CONNECT to the default namespace: "40" alone or followed by the auth object. */
static int on_connect(int fd, struct conn *c, const char *p, size_t n)
{
    if (c->state != ST_OPENED || (n > 2 && p[2] != '{')) {
        conn_fail(fd, E_PROTOCOL);
        return -1;
    }
    new_sid(answer + answer_sid_at);
    if (send_all(fd, answer, answer_len) < 0)
        return -1;
    c->state = ST_READY;
    st.handshakes++;
    st.last_handshake = ceiling_now_s();
    if (opt.expect && st.handshakes == (uint64_t)opt.expect)
        st.cpu_at_expect = ceiling_cpu_s(NULL, NULL);
    return 0;
}

/* One Engine.IO packet p[0..n) (an unmasked text message); returns -1 when fd was closed. */
static int on_packet(int fd, struct conn *c, const char *p, size_t n)
{
    if (n == 0) {
        conn_fail(fd, E_PROTOCOL);
        return -1;
    }
    switch (p[0]) {
    case '2': { /* ping (with its probe text, if any): pong with the same text */
        char out[4 + IN_CAP];
        size_t h = frame_header(out, n);
        out[h] = '3';
        memcpy(out + h + 1, p + 1, n - 1);
        st.pings++;
        return send_all(fd, out, h + n);
    }
    case '3': /* pong */
    case '6': /* noop */
        return 0;
    case '1': /* close */
        st.closed_by_peer++;
        conn_close(fd);
        return -1;
    case '4':
        if (n >= 2 && p[1] == '0')
            return on_connect(fd, c, p, n);
        if (c->state == ST_READY)
            return 0; /* events after the handshake are read and dropped */
        break;
    }
    conn_fail(fd, E_PROTOCOL);
    return -1;
}

/* Handles one frame whose payload[0..f->len) is in the buffer; returns -1 when fd was closed. */
static int on_frame(int fd, struct conn *c, const struct frame *f, uint8_t *payload)
{
    const uint8_t *mask = payload - 4;
    for (uint64_t i = 0; i < f->len; i++)
        payload[i] ^= mask[i & 3];
    if (f->opcode & 0x08)
        return on_control(fd, f, payload);
    int whole = data_frame(c, f);
    if (whole < 0) {
        conn_fail(fd, E_BAD_FRAME);
        return -1;
    }
    if (!whole) {
        if (c->state == ST_READY)
            return 0;
        conn_fail(fd, E_PROTOCOL); /* the CONNECT arrives in one frame or not at all */
        return -1;
    }
    return on_packet(fd, c, (const char *)payload, f->len);
}

/* Handles the whole frames in the buffer from off on; returns the offset of the first byte not
 * used, or -1 when fd was closed. */
static long on_frames(int fd, struct conn *c, size_t off)
{
    while (off < c->len) {
        size_t avail = c->len - off;
        if (c->skip) {
            size_t take = avail < c->skip ? avail : c->skip;
            c->skip -= (uint32_t)take;
            off += take;
            continue;
        }
        struct frame f;
        enum err_kind why;
        uint8_t *p = (uint8_t *)c->in + off;
        int rc = frame_head(p, avail, &f, &why);
        if (rc < 0) {
            conn_fail(fd, why);
            return -1;
        }
        if (rc == 0)
            break;
        uint64_t whole = f.hdr + f.len;
        if (whole > avail) {
            if (whole <= IN_CAP)
                break; /* the rest is on its way and will fit */
            /* Too big to hold: only after the handshake, when it is discarded anyway. */
            if (c->state != ST_READY) {
                conn_fail(fd, E_TOO_LARGE);
                return -1;
            }
            if (data_frame(c, &f) < 0) {
                conn_fail(fd, E_BAD_FRAME);
                return -1;
            }
            c->skip = (uint32_t)(whole - avail);
            return (long)c->len;
        }
        if (on_frame(fd, c, &f, p + f.hdr) < 0)
            return -1;
        off += (size_t)whole;
    }
    return (long)off;
}

static void on_readable(int fd)
{
    struct conn *c = &conns[fd];
    ssize_t r = read(fd, c->in + c->len, IN_CAP - c->len);
    if (r < 0) {
        if (errno != EAGAIN && errno != EINTR)
            conn_fail(fd, E_READ);
        return;
    }
    if (r == 0) {
        st.closed_by_peer++;
        conn_close(fd);
        return;
    }
    c->len = (uint16_t)(c->len + r);
    long off = 0;
    if (c->state == ST_HTTP && (off = on_request(fd, c)) <= 0)
        return;
    off = on_frames(fd, c, (size_t)off);
    if (off < 0)
        return;
    c->len = (uint16_t)(c->len - off);
    memmove(c->in, c->in + off, c->len);
    if (c->len == IN_CAP)
        conn_fail(fd, E_TOO_LARGE); /* cannot happen: a frame that fits is handled */
}

static void on_listener(int lfd, int ep)
{
    for (int i = 0; i < 64; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                fprintf(stderr, "handshake-ceiling: accept4: %s\n", strerror(errno));
            return;
        }
        st.accepted++;
        st.open++;
        if (!st.first_accept)
            st.first_accept = ceiling_now_s();
        if (fd >= nconns) {
            close(fd);
            st.open--;
            st.errors[E_FD_LIMIT]++;
            continue;
        }
        conns[fd] = (struct conn){.state = ST_HTTP};
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
            ceiling_die("epoll_ctl");
    }
}

/* ---- main ---------------------------------------------------------------------------------- */

static _Noreturn void usage(void)
{
    fprintf(stderr, "usage: handshake-ceiling [--host A] [--port P] [--cpu C] [--seconds S] "
                    "[--expect N] [--split-open]\n");
    exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
    static const struct option longs[] = {{"host", required_argument, 0, 'h'},
                                          {"port", required_argument, 0, 'p'},
                                          {"cpu", required_argument, 0, 'c'},
                                          {"seconds", required_argument, 0, 't'},
                                          {"expect", required_argument, 0, 'e'},
                                          {"split-open", no_argument, 0, 's'},
                                          {0, 0, 0, 0}};
    *o = (struct opts){.port = 0, .cpu = 0, .seconds = 0, .expect = 0};
    inet_pton(AF_INET, "127.0.0.1", &o->host);
    int ch;
    char *end;
    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (ch) {
        case 'h':
            if (inet_pton(AF_INET, optarg, &o->host) != 1)
                usage();
            break;
        case 'p':
            o->port = (int)strtol(optarg, &end, 10);
            if (*end || o->port < 0 || o->port > 65535)
                usage();
            break;
        case 'c':
            o->cpu = (int)strtol(optarg, &end, 10);
            if (*end || o->cpu < -1)
                usage();
            break;
        case 't':
            o->seconds = strtod(optarg, &end);
            if (*end || !(o->seconds >= 0 && o->seconds <= 86400))
                usage();
            break;
        case 'e':
            o->expect = strtol(optarg, &end, 10);
            if (*end || o->expect < 0)
                usage();
            break;
        case 's':
            o->split_open = 1;
            break;
        default:
            usage();
        }
    }
    if (optind < argc)
        usage();
}

static int listen_on(const struct opts *o)
{
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        ceiling_die("socket");
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* Accepted sockets inherit it: no setsockopt per connection. */
    setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_in addr = {
        .sin_family = AF_INET, .sin_addr = o->host, .sin_port = htons((uint16_t)o->port)};
    socklen_t alen = sizeof(addr);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(lfd, 4096) != 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &alen) != 0)
        ceiling_die("listen");
    char host[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &addr.sin_addr, host, sizeof(host));
    fprintf(stderr, "handshake-ceiling: listening on %s:%d\n", host, ntohs(addr.sin_port));
    return lfd;
}

/* The descriptor table: one entry per descriptor the (raised) open-file limit allows, at most
 * 65,536 (128 MB); 20,000 x 2 KB = 40 MB on the benchmark machine. */
static void make_table(void)
{
    rlim_t limit = ceiling_raise_fd_limit();
    nconns = limit == RLIM_INFINITY || limit > 65536 ? 65536 : (int)limit;
    /* Faulted in now, not at each connection's first touch: a server in steady state reuses
     * warm memory, and page faults are no part of a handshake's floor. */
    conns = mmap(NULL, (size_t)nconns * sizeof(*conns), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (conns == MAP_FAILED)
        ceiling_die("mmap");
}

static void report(double t0, double user0, double sys0)
{
    double user, sys;
    ceiling_cpu_s(&user, &sys);
    user -= user0;
    sys -= sys0;
    double cpu = user + sys;
    double window = st.handshakes ? st.last_handshake - st.first_accept : 0;
    printf("{\"tool\": \"handshake-ceiling\", \"splitOpen\": %s, \"seconds\": %.3f, "
           "\"accepted\": %llu, \"upgraded\": %llu, \"handshakes\": %llu, \"pingsAnswered\": %llu, "
           "\"closedByPeer\": %llu, \"openAtEnd\": %llu, \"errors\": {",
           opt.split_open ? "true" : "false", ceiling_now_s() - t0, (unsigned long long)st.accepted,
           (unsigned long long)st.upgraded, (unsigned long long)st.handshakes,
           (unsigned long long)st.pings, (unsigned long long)st.closed_by_peer,
           (unsigned long long)st.open);
    for (int i = 0; i < E_COUNT; i++)
        printf("%s\"%s\": %llu", i ? ", " : "", err_names[i], (unsigned long long)st.errors[i]);
    printf("}, \"firstAcceptToLastHandshakeSeconds\": %.3f, \"handshakesPerSecond\": %.0f, "
           "\"cpuSeconds\": %.3f, \"userSeconds\": %.3f, \"systemSeconds\": %.3f, "
           "\"usPerHandshake\": %.2f",
           window, window > 0 ? (double)st.handshakes / window : 0.0, cpu, user, sys,
           st.handshakes ? cpu * 1e6 / (double)st.handshakes : 0.0);
    if (opt.expect && st.cpu_at_expect >= 0)
        printf(", \"expect\": %ld, \"cpuSecondsAtExpect\": %.3f, \"usPerHandshakeAtExpect\": %.2f",
               opt.expect, st.cpu_at_expect - user0 - sys0,
               (st.cpu_at_expect - user0 - sys0) * 1e6 / (double)opt.expect);
    printf("}\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    parse(argc, argv, &opt);
    ceiling_pin(opt.cpu);
    make_table();
    build_templates();
    sha1_ctx = EVP_MD_CTX_new();
    sha1_md = EVP_MD_fetch(NULL, "SHA1", NULL); /* fetched once, not per handshake */
    if (!sha1_ctx || !sha1_md) {
        fprintf(stderr, "handshake-ceiling: OpenSSL has no SHA-1\n");
        return 1;
    }
    st.cpu_at_expect = -1;
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: epoll_wait returns */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int lfd = listen_on(&opt);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.fd = lfd};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) != 0)
        ceiling_die("epoll");
    double t0 = ceiling_now_s(), user0, sys0;
    ceiling_cpu_s(&user0, &sys0);
    double until = opt.seconds > 0 ? t0 + opt.seconds : 0;
    struct epoll_event evs[256];
    while (!stop_requested) {
        int timeout = -1;
        if (until) {
            double left = until - ceiling_now_s();
            if (left <= 0)
                break;
            timeout = (int)(left * 1000) + 1;
        }
        int n = epoll_wait(ep, evs, 256, timeout);
        if (n < 0 && errno != EINTR)
            ceiling_die("epoll_wait");
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd)
                on_listener(lfd, ep);
            else if (conns[fd].state != ST_FREE)
                on_readable(fd);
        }
    }
    report(t0, user0, sys0);
    return 0;
}
