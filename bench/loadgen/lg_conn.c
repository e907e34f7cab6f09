/* lg_conn.c -- the client state machine: upgrade, Engine.IO, Socket.IO, notification checks. */
#include "lg_conn.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "gw/common.h"
#include "lg_codec.h"
#include "lg_jwt.h"

/* The gateway's notifications are small; anything this big means a framing bug. */
#define LG_MAX_FRAME (16u << 20)

static const char *const state_names[] = {
    "idle", "connecting", "upgrading", "eio_opening", "sio_connecting", "ready", "done"};

/* ---- reasons ------------------------------------------------------------------------------- */

void lg_reasons_add(struct lg_reasons *r, const char *name)
{
    for (int i = 0; i < r->n; i++) {
        if (strcmp(r->v[i].name, name) == 0) {
            r->v[i].count++;
            return;
        }
    }
    /* A server inventing many reasons must not grow this without bound: the last slot pools
     * the rest. */
    if (r->n == LG_REASONS_MAX) {
        snprintf(r->v[LG_REASONS_MAX - 1].name, sizeof(r->v[0].name), "other");
        r->v[LG_REASONS_MAX - 1].count++;
        return;
    }
    snprintf(r->v[r->n].name, sizeof(r->v[0].name), "%s", name);
    r->v[r->n].count = 1;
    r->n++;
}

uint64_t lg_reasons_total(const struct lg_reasons *r)
{
    uint64_t t = 0;
    for (int i = 0; i < r->n; i++)
        t += r->v[i].count;
    return t;
}

/* ---- helpers ------------------------------------------------------------------------------- */

/* "ECONNREFUSED" and the like: stable, greppable reason names for the report. */
static const char *errname(int e)
{
    const char *n = strerrorname_np(e);
    return n ? n : "unknown_errno";
}

static uint64_t rng_next(struct lg_run *run)
{
    uint64_t x = run->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    run->rng = x;
    return x;
}

static uint64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void set_epoll(struct lg_run *run, struct lg_conn *c, int op, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(run->epfd, op, c->fd, &ev) != 0) {
        fprintf(stderr, "gw-loadgen: epoll_ctl: %s\n", strerror(errno));
        abort();
    }
}

/* Releases everything but the tracker, which the report still reads. */
static void release(struct lg_run *run, struct lg_conn *c)
{
    if (c->fd >= 0) {
        close(c->fd); /* also removes it from the epoll set */
        c->fd = -1;
    }
    if (c->state == LG_READY)
        run->open_now--;
    c->state = LG_DONE;
    gw_buf_free(&c->in);
    gw_buf_free(&c->out);
    gw_buf_free(&c->msg);
}

/* Ends c, counting the reason: before ready it is a failed connection, after ready a drop. */
static void fail(struct lg_run *run, struct lg_conn *c, struct lg_reasons *early, const char *why)
{
    if (c->state == LG_DONE)
        return;
    if (c->state == LG_READY)
        lg_reasons_add(&run->dropped, why);
    else
        lg_reasons_add(early, why);
    release(run, c);
}

static void protocol_error(struct lg_run *run, struct lg_conn *c, const char *what)
{
    lg_reasons_add(&run->protocol_errors, what);
    fail(run, c, &run->closed_early, "protocol_error");
}

/* Writes what the socket takes now and arms EPOLLOUT only while bytes remain. */
static void flush(struct lg_run *run, struct lg_conn *c)
{
    size_t off = 0;
    while (off < c->out.len) {
        ssize_t w = write(c->fd, c->out.data + off, c->out.len - off);
        if (w > 0) {
            off += (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            fail(run, c, &run->closed_early, w < 0 ? errname(errno) : "write_zero");
            return;
        }
    }
    memmove(c->out.data, c->out.data + off, c->out.len - off);
    c->out.len -= off;
    if (c->out.len == 0)
        gw_buf_free(&c->out); /* idle sockets keep no write buffer */
    int want = c->out.len > 0;
    if (want != c->out_armed) {
        set_epoll(run, c, EPOLL_CTL_MOD, EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0));
        c->out_armed = want;
    }
}

/* Queues bytes behind any already waiting, so frames never interleave. */
static void send_raw(struct lg_run *run, struct lg_conn *c, const void *p, size_t n)
{
    gw_buf_append(&c->out, p, n);
    flush(run, c);
}

static void send_text(struct lg_run *run, struct lg_conn *c, const char *p, size_t n)
{
    uint64_t r = rng_next(run);
    uint8_t mask[4];
    memcpy(mask, &r, 4);
    struct gw_buf f = GW_BUF_INIT;
    lg_ws_encode(&f, LG_WS_TEXT, p, n, mask);
    send_raw(run, c, f.data, f.len);
    gw_buf_free(&f);
}

/* ---- start and connect --------------------------------------------------------------------- */

void lg_conn_init(struct lg_conn *c, uint32_t user, struct in_addr src)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->state = LG_IDLE;
    c->user = user;
    c->src = src;
    lg_track_init(&c->track);
}

static void connect_failed(struct lg_run *run, struct lg_conn *c, int err)
{
    lg_reasons_add(&run->connect_errors, errname(err));
    release(run, c);
}

void lg_conn_start(struct lg_run *run, struct lg_conn *c, uint64_t now_ms, uint64_t timeout_ms)
{
    run->attempted++;
    c->started_us = gw_now_us();
    c->deadline_ms = now_ms + timeout_ms;
    c->state = LG_CONNECTING;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        connect_failed(run, c, errno);
        return;
    }
    /* Let connect() pick the port per (source, destination) pair instead of bind() reserving
     * one per source: that is what lets each source address carry its full ephemeral range. */
    int one = 1;
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr = c->src};
    if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) != 0) {
        connect_failed(run, c, errno);
        return;
    }
    if (connect(c->fd, (struct sockaddr *)&run->dst, sizeof(run->dst)) != 0 &&
        errno != EINPROGRESS) {
        connect_failed(run, c, errno);
        return;
    }
    set_epoll(run, c, EPOLL_CTL_ADD, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
    c->out_armed = 1;
}

static void send_upgrade(struct lg_run *run, struct lg_conn *c)
{
    uint8_t raw[16];
    uint64_t a = rng_next(run), b = rng_next(run);
    memcpy(raw, &a, 8);
    memcpy(raw + 8, &b, 8);
    EVP_EncodeBlock((unsigned char *)c->key, raw, sizeof(raw));
    char req[1024];
    int n = snprintf(req, sizeof(req),
                     "GET %s?EIO=4&transport=websocket HTTP/1.1\r\n"
                     "Host: %s\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     run->path, run->host_header, c->key);
    GW_ASSERT(n > 0 && (size_t)n < sizeof(req));
    c->state = LG_UPGRADING;
    send_raw(run, c, req, (size_t)n);
}

static void on_connected(struct lg_run *run, struct lg_conn *c)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err) {
        connect_failed(run, c, err);
        return;
    }
    send_upgrade(run, c);
}

/* ---- Engine.IO and Socket.IO --------------------------------------------------------------- */

static void send_connect(struct lg_run *run, struct lg_conn *c)
{
    char sub[32];
    snprintf(sub, sizeof(sub), "user-%u", c->user);
    struct gw_buf p = GW_BUF_INIT;
    gw_buf_append_str(&p, "40{\"token\":\"");
    if (run->tokens) {
        size_t len;
        const char *tok = lg_tokens_get(run->tokens, c->user, &len);
        gw_buf_append(&p, tok, len);
    } else {
        lg_jwt_hs256(&p, sub, run->token_iat, run->token_exp, run->secret, run->secret_len);
    }
    gw_buf_append_str(&p, "\"}");
    c->state = LG_SIO_CONNECTING;
    send_text(run, c, p.data, p.len);
    gw_buf_free(&p);
}

/* CONNECT_ERROR: 44{"message":"...","data":{"code":"TOKEN_INVALID"}} -> the code, else the
 * message, else "unknown". */
static void on_connect_error(struct lg_run *run, struct lg_conn *c, const char *p, size_t n)
{
    char why[48] = "unknown";
    const char *data, *v;
    size_t dl, vl;
    if (lg_json_member(p, n, "data", &data, &dl) == 1 &&
        lg_json_member(data, dl, "code", &v, &vl) == 1)
        lg_json_plain_string(v, vl, why, sizeof(why));
    else if (lg_json_member(p, n, "message", &v, &vl) == 1)
        lg_json_plain_string(v, vl, why, sizeof(why));
    fail(run, c, &run->sio_rejected, why);
}

static void on_notice(struct lg_run *run, struct lg_conn *c, const struct lg_notice *nt)
{
    uint64_t now = wall_us();
    run->notifications++;
    if (!run->first_notice_us)
        run->first_notice_us = now;
    run->last_notice_us = now;
    if ((uint64_t)nt->sent_at_us > now) {
        run->negative_latency++;
        lg_hist_add(&run->latency, 0);
    } else {
        lg_hist_add(&run->latency, now - (uint64_t)nt->sent_at_us);
    }
    char want[32];
    snprintf(want, sizeof(want), "user-%u", c->user);
    if (strcmp(nt->user, want) != 0) {
        run->cross_user++;
        c->cross_user++;
        return;
    }
    enum lg_seq k = lg_track_add(&c->track, nt->seq);
    run->fresh += k == LG_SEQ_NEXT || k == LG_SEQ_AHEAD || k == LG_SEQ_LATE;
}

static void on_event(struct lg_run *run, struct lg_conn *c, const char *p, size_t n)
{
    struct lg_notice nt;
    switch (lg_notice_parse(p, n, run->event, &nt)) {
    case LG_NOTICE_OK:
        on_notice(run, c, &nt);
        break;
    case LG_NOTICE_OTHER_EVENT:
        run->other_events++;
        break;
    case LG_NOTICE_MALFORMED:
        run->malformed++;
        break;
    }
}

static void on_sio(struct lg_run *run, struct lg_conn *c, const char *p, size_t n)
{
    if (n == 0) {
        protocol_error(run, c, "empty Socket.IO packet");
        return;
    }
    if (p[0] == '0' && c->state == LG_SIO_CONNECTING) {
        const char *v;
        size_t vl;
        if (lg_json_member(p + 1, n - 1, "sid", &v, &vl) != 1) {
            protocol_error(run, c, "CONNECT answer without sid");
            return;
        }
        c->state = LG_READY;
        c->ready_once = 1;
        run->established++;
        run->open_now++;
        lg_hist_add(&run->handshake, gw_now_us() - c->started_us);
    } else if (p[0] == '4' && c->state == LG_SIO_CONNECTING) {
        on_connect_error(run, c, p + 1, n - 1);
    } else if (p[0] == '2' && c->state == LG_READY) {
        on_event(run, c, p + 1, n - 1);
    } else if (p[0] == '1') {
        fail(run, c, &run->closed_early, "sio_disconnect");
    } else {
        protocol_error(run, c, "unexpected Socket.IO packet");
    }
}

static void on_eio(struct lg_run *run, struct lg_conn *c, const char *p, size_t n)
{
    if (n == 0) {
        protocol_error(run, c, "empty Engine.IO packet");
        return;
    }
    switch (p[0]) {
    case '0':
        if (c->state != LG_EIO_OPENING) {
            protocol_error(run, c, "second Engine.IO open");
            return;
        }
        send_connect(run, c);
        break;
    case '2': {
        char pong[64] = "3";
        size_t extra = GW_MIN(n - 1, sizeof(pong) - 2);
        memcpy(pong + 1, p + 1, extra);
        run->pings++;
        send_text(run, c, pong, 1 + extra);
        break;
    }
    case '4':
        if (c->state == LG_EIO_OPENING) {
            protocol_error(run, c, "message before the Engine.IO open");
            return;
        }
        on_sio(run, c, p + 1, n - 1);
        break;
    case '6':
        break;
    case '1':
        fail(run, c, &run->closed_early, "eio_close");
        break;
    default:
        protocol_error(run, c, "unknown Engine.IO packet type");
    }
}

/* ---- frames -------------------------------------------------------------------------------- */

static void on_close_frame(struct lg_run *run, struct lg_conn *c, const struct lg_ws_frame *f)
{
    char why[32] = "ws_close";
    if (f->len >= 2)
        snprintf(why, sizeof(why), "ws_close_%u", (unsigned)(f->payload[0] << 8 | f->payload[1]));
    /* Echo the close as RFC 6455 asks; the answer is best effort since we close right away. */
    uint8_t mask[4] = {0};
    struct gw_buf b = GW_BUF_INIT;
    lg_ws_encode(&b, LG_WS_CLOSE, f->payload, f->len >= 2 ? 2 : 0, mask);
    if (write(c->fd, b.data, b.len) < 0) {
        /* The peer may be gone already; the close is recorded either way. */
    }
    gw_buf_free(&b);
    fail(run, c, &run->closed_early, why);
}

static void on_frame(struct lg_run *run, struct lg_conn *c, const struct lg_ws_frame *f)
{
    switch (f->opcode) {
    case LG_WS_TEXT:
        if (c->fragmented) {
            protocol_error(run, c, "new message inside a fragmented one");
            return;
        }
        if (f->fin) {
            on_eio(run, c, (const char *)f->payload, f->len);
            return;
        }
        c->fragmented = 1;
        gw_buf_append(&c->msg, f->payload, f->len);
        return;
    case LG_WS_CONT: {
        if (!c->fragmented) {
            protocol_error(run, c, "continuation frame without a message");
            return;
        }
        gw_buf_append(&c->msg, f->payload, f->len);
        if (!f->fin)
            return;
        c->fragmented = 0;
        struct gw_buf m = c->msg; /* on_eio may end c, which frees c->msg */
        c->msg = (struct gw_buf)GW_BUF_INIT;
        on_eio(run, c, m.data, m.len);
        gw_buf_free(&m);
        return;
    }
    case LG_WS_BINARY:
        protocol_error(run, c, "binary frame");
        return;
    case LG_WS_CLOSE:
        on_close_frame(run, c, f);
        return;
    case LG_WS_PING: {
        uint64_t r = rng_next(run);
        uint8_t mask[4];
        memcpy(mask, &r, 4);
        struct gw_buf b = GW_BUF_INIT;
        lg_ws_encode(&b, LG_WS_PONG, f->payload, f->len, mask);
        send_raw(run, c, b.data, b.len);
        gw_buf_free(&b);
        return;
    }
    default: /* an unsolicited pong */
        return;
    }
}

/* ---- input --------------------------------------------------------------------------------- */

/* Consumes the upgrade answer at the front of p[0..n); returns its length, 0 while incomplete,
 * -1 when c was ended. */
static long parse_upgrade(struct lg_run *run, struct lg_conn *c, const char *p, size_t n)
{
    int status = 0;
    char accept[29], want[29];
    long head = lg_http_response(p, n, &status, accept);
    if (head == 0)
        return 0;
    if (head < 0) {
        protocol_error(run, c, "malformed HTTP response");
        return -1;
    }
    if (status != 101) {
        char why[16];
        snprintf(why, sizeof(why), "%d", status);
        fail(run, c, &run->http_rejected, why);
        return -1;
    }
    lg_ws_accept(c->key, want);
    if (strcmp(accept, want) != 0) {
        protocol_error(run, c, "wrong Sec-WebSocket-Accept");
        return -1;
    }
    c->state = LG_EIO_OPENING;
    return head;
}

/* Handles the complete frames in p[0..n); returns how many bytes were used (the rest is an
 * incomplete frame), or -1 when c was ended. */
static long parse_input(struct lg_run *run, struct lg_conn *c, const char *p, size_t n)
{
    size_t off = 0;
    if (c->state == LG_UPGRADING) {
        long head = parse_upgrade(run, c, p, n);
        if (head <= 0)
            return head;
        off = (size_t)head;
    }
    char err[GW_ERR_LEN];
    while (c->state != LG_DONE && off < n) {
        struct lg_ws_frame f;
        long used = lg_ws_decode((const uint8_t *)p + off, n - off, LG_MAX_FRAME, &f, err);
        if (used == 0)
            break;
        if (used < 0) {
            protocol_error(run, c, "malformed WebSocket frame");
            return -1;
        }
        off += (size_t)used;
        on_frame(run, c, &f);
    }
    return c->state == LG_DONE ? -1 : (long)off;
}

/* Parses what was just read into scratch[0..n). Only an incomplete tail is copied into c->in,
 * so idle connections hold no read buffer. */
static void on_bytes(struct lg_run *run, struct lg_conn *c, const char *scratch, size_t n)
{
    if (c->in.len == 0) {
        long used = parse_input(run, c, scratch, n);
        if (used >= 0 && (size_t)used < n)
            gw_buf_append(&c->in, scratch + used, n - (size_t)used);
        return;
    }
    gw_buf_append(&c->in, scratch, n);
    long used = parse_input(run, c, c->in.data, c->in.len);
    if (used < 0)
        return;
    memmove(c->in.data, c->in.data + used, c->in.len - (size_t)used);
    c->in.len -= (size_t)used;
    if (c->in.len == 0)
        gw_buf_free(&c->in);
}

static void on_readable(struct lg_run *run, struct lg_conn *c)
{
    static char scratch[65536];
    for (;;) {
        ssize_t r = read(c->fd, scratch, sizeof(scratch));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r < 0) {
            fail(run, c, &run->closed_early, errname(errno));
            return;
        }
        if (r == 0) {
            fail(run, c, &run->closed_early, "eof");
            return;
        }
        on_bytes(run, c, scratch, (size_t)r);
        /* A short read drained the socket; level-triggered epoll reports any later bytes. */
        if (c->state == LG_DONE || (size_t)r < sizeof(scratch))
            return;
    }
}

void lg_conn_on_event(struct lg_run *run, struct lg_conn *c, uint32_t events)
{
    if (c->state == LG_CONNECTING) {
        on_connected(run, c);
        if (c->state == LG_DONE)
            return;
    }
    if ((events & EPOLLOUT) && c->out.len > 0)
        flush(run, c);
    if (c->state != LG_DONE && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        on_readable(run, c);
}

void lg_conn_check_timeout(struct lg_run *run, struct lg_conn *c, uint64_t now_ms)
{
    if (c->state == LG_IDLE || c->state >= LG_READY || now_ms < c->deadline_ms)
        return;
    char why[48];
    snprintf(why, sizeof(why), "timeout_%s", state_names[c->state]);
    fail(run, c, &run->closed_early, why);
}

void lg_conn_shutdown(struct lg_run *run, struct lg_conn *c)
{
    if (c->state == LG_IDLE || c->state == LG_DONE)
        return;
    if (c->state != LG_READY) {
        char why[48];
        snprintf(why, sizeof(why), "unfinished_%s", state_names[c->state]);
        lg_reasons_add(&run->closed_early, why);
    } else {
        run->open_at_end++;
    }
    release(run, c);
}
