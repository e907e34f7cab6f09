/* test_loadgen_conn.c -- the connection state machine against a scripted server in the same
 * process: upgrade, Engine.IO open, CONNECT with the token, ping, notifications with every
 * kind of fault the checks must catch, and each way a handshake can fail. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "gw/buf.h"
#include "gw/common.h"
#include "lg_codec.h"
#include "lg_conn.h"
#include "lg_jwt.h"
#include "test.h"

static const char SECRET[] = "test-secret";

struct fixture {
    struct lg_run run;
    struct lg_conn conn;
    int listener, srv;
};

static void start(struct fixture *fx, uint16_t port_override)
{
    memset(fx, 0, sizeof(*fx));
    fx->listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(fx->listener, (struct sockaddr *)&a, sizeof(a)) == 0);
    CHECK(listen(fx->listener, 4) == 0);
    socklen_t al = sizeof(a);
    getsockname(fx->listener, (struct sockaddr *)&a, &al);
    if (port_override)
        a.sin_port = htons(port_override);
    fx->run.dst = a;
    fx->run.epfd = epoll_create1(0);
    fx->run.host_header = "127.0.0.1";
    fx->run.path = "/socket.io/";
    fx->run.event = "notification";
    fx->run.secret = (const uint8_t *)SECRET;
    fx->run.secret_len = sizeof(SECRET) - 1;
    fx->run.token_iat = 1700000000;
    fx->run.token_exp = 2000000000;
    fx->run.rng = 88172645463325252ull;
    lg_hist_init(&fx->run.latency);
    lg_hist_init(&fx->run.handshake);
    struct in_addr src = {.s_addr = htonl(INADDR_LOOPBACK)};
    lg_conn_init(&fx->conn, 7, src);
    lg_conn_start(&fx->run, &fx->conn, gw_now_ms(), 5000);
    fx->srv = -1;
}

static void accept_client(struct fixture *fx)
{
    fx->srv = accept(fx->listener, NULL, NULL);
    CHECK(fx->srv >= 0);
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fx->srv, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static void finish(struct fixture *fx)
{
    lg_conn_shutdown(&fx->run, &fx->conn);
    lg_track_free(&fx->conn.track);
    if (fx->srv >= 0)
        close(fx->srv);
    close(fx->listener);
    close(fx->run.epfd);
}

/* Lets the client handle whatever is pending. */
static void pump(struct fixture *fx)
{
    struct epoll_event ev[4];
    for (int round = 0; round < 5; round++) {
        int n = epoll_wait(fx->run.epfd, ev, 4, 20);
        for (int i = 0; i < n; i++)
            lg_conn_on_event(&fx->run, ev[i].data.ptr, ev[i].events);
    }
}

static void srv_write(struct fixture *fx, const void *p, size_t n)
{
    CHECK_INT_EQ(write(fx->srv, p, n), (long long)n);
}

static void srv_frame(struct fixture *fx, int first_byte, const char *payload)
{
    uint8_t h[4];
    size_t len = strlen(payload), hl = 2;
    h[0] = (uint8_t)first_byte;
    if (len < 126) {
        h[1] = (uint8_t)len;
    } else {
        h[1] = 126;
        h[2] = (uint8_t)(len >> 8);
        h[3] = (uint8_t)len;
        hl = 4;
    }
    srv_write(fx, h, hl);
    srv_write(fx, payload, len);
}

static void srv_text(struct fixture *fx, const char *payload)
{
    srv_frame(fx, 0x81, payload);
}

/* Reads one masked client frame and returns its unmasked text (static storage). */
static const char *srv_read_frame(struct fixture *fx)
{
    static char text[4096];
    uint8_t h[8];
    text[0] = '\0';
    if (read(fx->srv, h, 2) != 2)
        return text;
    CHECK(h[1] & 0x80); /* clients must mask */
    size_t len = h[1] & 0x7f;
    if (len == 126) {
        CHECK_INT_EQ(read(fx->srv, h + 2, 2), 2);
        len = (size_t)h[2] << 8 | h[3];
    }
    uint8_t mask[4];
    CHECK_INT_EQ(read(fx->srv, mask, 4), 4);
    CHECK(len < sizeof(text));
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fx->srv, text + got, len - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    for (size_t i = 0; i < got; i++)
        text[i] ^= mask[i & 3];
    text[got] = '\0';
    return text;
}

/* Reads the upgrade request and answers it with `status`, followed by `extra` in the same
 * write (so the client must parse frames that arrive with the HTTP head). */
static void srv_upgrade(struct fixture *fx, int status, const char *extra)
{
    char req[2048];
    ssize_t n = read(fx->srv, req, sizeof(req) - 1);
    CHECK(n > 0);
    req[n > 0 ? n : 0] = '\0';
    CHECK(strncmp(req, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n", 52) == 0);
    const char *k = strstr(req, "Sec-WebSocket-Key: ");
    char key[25] = "", accept[29];
    if (k)
        memcpy(key, k + 19, 24);
    lg_ws_accept(key, accept);
    struct gw_buf b = GW_BUF_INIT;
    if (status == 101)
        gw_buf_printf(&b,
                      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                      accept);
    else
        gw_buf_printf(&b, "HTTP/1.1 %d Nope\r\nContent-Length: 0\r\n\r\n", status);
    uint8_t fh[2] = {0x81, (uint8_t)strlen(extra)};
    if (*extra) {
        gw_buf_append(&b, fh, 2);
        gw_buf_append_str(&b, extra);
    }
    srv_write(fx, b.data, b.len);
    gw_buf_free(&b);
}

/* Drives a client up to the CONNECT packet and checks the token it carries. */
static void handshake_to_connect(struct fixture *fx)
{
    pump(fx);
    accept_client(fx);
    pump(fx);
    CHECK_INT_EQ(fx->conn.state, LG_UPGRADING);
    srv_upgrade(fx, 101, "0{\"sid\":\"e1\",\"pingInterval\":25000,\"pingTimeout\":20000}");
    pump(fx);
    CHECK_INT_EQ(fx->conn.state, LG_SIO_CONNECTING);
    struct gw_buf want = GW_BUF_INIT;
    gw_buf_append_str(&want, "40{\"token\":\"");
    lg_jwt_hs256(&want, "user-7", 1700000000, 2000000000, SECRET, sizeof(SECRET) - 1);
    gw_buf_append_str(&want, "\"}");
    CHECK_STR_EQ(srv_read_frame(fx), want.data);
    gw_buf_free(&want);
}

static char *notice(const char *user, int seq)
{
    static char buf[256];
    snprintf(buf, sizeof(buf),
             "42[\"notification\",{\"_id\":\"id%d\",\"userId\":\"%s\",\"seq\":%d,\"sentAt\":%llu}]",
             seq, user, seq, (unsigned long long)(gw_wall_ms() * 1000 - 500));
    return buf;
}

static void test_session(void)
{
    struct fixture fx;
    start(&fx, 0);
    handshake_to_connect(&fx);
    srv_text(&fx, "40{\"sid\":\"s1\"}");
    pump(&fx);
    CHECK_INT_EQ(fx.conn.state, LG_READY);
    CHECK_INT_EQ(fx.run.established, 1);
    CHECK_INT_EQ(fx.run.handshake.count, 1);

    srv_text(&fx, "2");
    pump(&fx);
    CHECK_STR_EQ(srv_read_frame(&fx), "3");
    CHECK_INT_EQ(fx.run.pings, 1);

    srv_text(&fx, notice("user-7", 0));
    srv_text(&fx, notice("user-7", 2));
    /* seq 1 arrives late and fragmented: TEXT without FIN, then a continuation. */
    char *late = notice("user-7", 1);
    size_t half = strlen(late) / 2;
    char first[256];
    memcpy(first, late, half);
    first[half] = '\0';
    srv_frame(&fx, 0x01, first);
    srv_frame(&fx, 0x80, notice("user-7", 1) + half);
    srv_text(&fx, notice("user-7", 1));                /* duplicate */
    srv_text(&fx, notice("user-8", 3));                /* someone else's */
    srv_text(&fx, "42[\"notification\",{\"seq\":1}]"); /* fields missing */
    srv_text(&fx, "42[\"other\",{}]");
    srv_frame(&fx, 0x89, "hi"); /* a WebSocket ping between messages */
    pump(&fx);
    CHECK_INT_EQ(fx.run.notifications, 5);
    CHECK_INT_EQ(fx.conn.track.received, 3);
    CHECK_INT_EQ(fx.conn.track.reordered, 1);
    CHECK_INT_EQ(fx.conn.track.duplicates, 1);
    CHECK_INT_EQ(lg_track_missing(&fx.conn.track, 3), 0);
    CHECK_INT_EQ(fx.run.cross_user, 1);
    CHECK_INT_EQ(fx.conn.cross_user, 1);
    CHECK_INT_EQ(fx.run.malformed, 1);
    CHECK_INT_EQ(fx.run.other_events, 1);
    CHECK_INT_EQ(fx.run.latency.count, 5);
    CHECK(fx.run.latency.min >= 400);
    uint8_t pong[8];
    CHECK_INT_EQ(read(fx.srv, pong, 8), 8);
    CHECK_INT_EQ(pong[0], 0x8a);

    srv_frame(&fx, 0x88, "\x03\xe9"); /* close 1001 */
    pump(&fx);
    CHECK_INT_EQ(fx.conn.state, LG_DONE);
    CHECK_INT_EQ(fx.run.dropped.n, 1);
    CHECK_STR_EQ(fx.run.dropped.v[0].name, "ws_close_1001");
    CHECK_INT_EQ(fx.run.open_now, 0);
    finish(&fx);
}

static void test_rejected_token(void)
{
    struct fixture fx;
    start(&fx, 0);
    handshake_to_connect(&fx);
    srv_text(&fx, "44{\"message\":\"jwt expired\",\"data\":{\"code\":\"TOKEN_EXPIRED\"}}");
    pump(&fx);
    CHECK_INT_EQ(fx.conn.state, LG_DONE);
    CHECK_INT_EQ(fx.run.established, 0);
    CHECK_STR_EQ(fx.run.sio_rejected.v[0].name, "TOKEN_EXPIRED");
    CHECK_INT_EQ(fx.run.dropped.n, 0);
    finish(&fx);
}

static void test_http_rejected_and_bad_accept(void)
{
    struct fixture fx;
    start(&fx, 0);
    pump(&fx);
    accept_client(&fx);
    pump(&fx);
    srv_upgrade(&fx, 403, "");
    pump(&fx);
    CHECK_INT_EQ(fx.conn.state, LG_DONE);
    CHECK_STR_EQ(fx.run.http_rejected.v[0].name, "403");
    finish(&fx);

    start(&fx, 0);
    pump(&fx);
    accept_client(&fx);
    pump(&fx);
    char req[2048];
    CHECK(read(fx.srv, req, sizeof(req)) > 0);
    static const char wrong[] = "HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: "
                                "AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n";
    srv_write(&fx, wrong, sizeof(wrong) - 1);
    pump(&fx);
    CHECK_INT_EQ(fx.conn.state, LG_DONE);
    CHECK_STR_EQ(fx.run.protocol_errors.v[0].name, "wrong Sec-WebSocket-Accept");
    finish(&fx);
}

static void test_masked_server_frame(void)
{
    struct fixture fx;
    start(&fx, 0);
    pump(&fx);
    accept_client(&fx);
    pump(&fx);
    srv_upgrade(&fx, 101, "");
    srv_write(&fx,
              "\x81\x81\0\0\0\0"
              "0",
              7);
    pump(&fx);
    CHECK_INT_EQ(fx.conn.state, LG_DONE);
    CHECK_STR_EQ(fx.run.protocol_errors.v[0].name, "malformed WebSocket frame");
    finish(&fx);
}

static void test_refused(void)
{
    /* Port 1 on loopback: nothing listens there on a test machine. */
    struct fixture fx;
    start(&fx, 1);
    pump(&fx);
    CHECK_INT_EQ(fx.conn.state, LG_DONE);
    CHECK_STR_EQ(fx.run.connect_errors.v[0].name, "ECONNREFUSED");
    CHECK_INT_EQ(fx.run.attempted, 1);
    finish(&fx);
}

static void test_timeout(void)
{
    struct fixture fx;
    start(&fx, 0);
    pump(&fx);
    accept_client(&fx);
    pump(&fx); /* the server never answers the upgrade */
    lg_conn_check_timeout(&fx.run, &fx.conn, gw_now_ms());
    CHECK_INT_EQ(fx.conn.state, LG_UPGRADING);
    lg_conn_check_timeout(&fx.run, &fx.conn, gw_now_ms() + 6000);
    CHECK_INT_EQ(fx.conn.state, LG_DONE);
    CHECK_STR_EQ(fx.run.closed_early.v[0].name, "timeout_upgrading");
    finish(&fx);
}

int main(void)
{
    RUN(test_session);
    RUN(test_rejected_token);
    RUN(test_http_rejected_and_bad_accept);
    RUN(test_masked_server_frame);
    RUN(test_refused);
    RUN(test_timeout);
    return TEST_REPORT();
}
