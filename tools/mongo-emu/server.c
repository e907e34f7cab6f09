/* server.c -- the epoll event loop: sockets, framing, parking (see the DESIGN note in emu.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "emu.h"
#include "gw/common.h"
#include "persist.h"

#define READ_CHUNK 65536
#define OUT_HIGH_WATER (4u * 1024 * 1024)
#define MAX_CONNS 20000
#define REAP_INTERVAL_MS 60000

static void new_process_id(struct emu_server *srv)
{
    bson_oid_init(&srv->process_id, NULL);
    srv->tv_counter = 0;
}

static int listen_socket(struct emu_server *srv, char *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", srv->cfg.port);
    int rc = getaddrinfo(srv->cfg.host, port, &hints, &res);
    if (rc != 0)
        return gw_set_error(err, "cannot resolve %s: %s", srv->cfg.host, gai_strerror(rc));
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 512) < 0) {
        int e = errno;
        freeaddrinfo(res);
        if (fd >= 0)
            close(fd);
        return gw_set_error(err, "cannot listen on %s:%d: %s", srv->cfg.host, srv->cfg.port,
                            strerror(e));
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    int bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    bool v6 = strchr(srv->cfg.host, ':') != NULL;
    snprintf(srv->advertised, sizeof srv->advertised, v6 ? "[%s]:%d" : "%s:%d", srv->cfg.host,
             bound);
    srv->lfd = fd;
    return 0;
}

static int signal_fd(char *err)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return gw_set_error(err, "signalfd failed: %s", strerror(errno));
    return fd;
}

static int epoll_add(int epfd, int fd, uint32_t events, void *ptr)
{
    struct epoll_event ev = {.events = events, .data.ptr = ptr};
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

struct emu_server *emu_server_new(const struct emu_config *cfg, char *err)
{
    struct emu_server *srv = emu_calloc_aligned(sizeof *srv);
    srv->cfg = *cfg;
    srv->lfd = srv->sigfd = srv->epfd = -1;
    srv->store = emu_store_new(cfg->oplog_size);
    uint64_t r;
    gw_random_bytes(&r, sizeof r);
    srv->next_cursor_id = (int64_t)(r >> 20) + 1;
    srv->next_conn_id = 1;
    srv->next_request_id = 1;
    srv->term = 1;
    new_process_id(srv);
    if (cfg->dbpath && !(srv->persist = emu_persist_open(cfg->dbpath, srv->store, err)))
        goto fail;
    if (listen_socket(srv, err) < 0)
        goto fail;
    if ((srv->sigfd = signal_fd(err)) < 0)
        goto fail;
    if ((srv->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        gw_set_error(err, "epoll_create1 failed: %s", strerror(errno));
        goto fail;
    }
    /* The listening and signal descriptors are tagged by the server and &srv->sigfd pointers. */
    if (epoll_add(srv->epfd, srv->lfd, EPOLLIN, srv) < 0 ||
        epoll_add(srv->epfd, srv->sigfd, EPOLLIN, &srv->sigfd) < 0) {
        gw_set_error(err, "epoll_ctl failed: %s", strerror(errno));
        goto fail;
    }
    return srv;
fail:
    emu_server_free(srv);
    return NULL;
}

static void conn_unpark(struct emu_conn *c)
{
    if (c->park != EMU_PARK_NONE)
        emu_wire_request_cleanup(&c->req);
    c->park = EMU_PARK_NONE;
}

static void conn_close(struct emu_server *srv, struct emu_conn *c, bool rst)
{
    if (rst) {
        struct linger lg = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(c->fd); /* also removes it from the epoll set */
    conn_unpark(c);
    if (c->fp_after_block)
        bson_destroy(c->fp_after_block);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    gw_buf_free(&c->in);
    gw_buf_free(&c->out);
    free(c->app_name);
    free(c);
}

/* Sends what is queued. Returns -1 when the connection failed (the caller closes it). */
static int conn_flush(struct emu_conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        } else {
            return -1;
        }
    }
    gw_buf_reset(&c->out);
    c->out_off = 0;
    return 0;
}

static void send_reply(struct emu_server *srv, struct emu_conn *c,
                       const struct emu_wire_request *req, const bson_t *reply, bool more)
{
    int32_t id = srv->next_request_id++;
    int32_t to = c->streamed ? c->last_reply_id : req->request_id;
    size_t start = c->out.len;
    if (req->opcode == EMU_OP_QUERY)
        emu_wire_append_reply(&c->out, id, to, reply);
    else
        emu_wire_append_msg(&c->out, id, to, more ? EMU_MSG_MORE_TO_COME : 0, reply);
    if (c->truncate_reply > 0) {
        size_t keep = GW_MIN((size_t)c->truncate_reply, c->out.len - start);
        c->out.len = start + keep;
        c->truncate_reply = 0;
        c->close_after_flush = true;
    }
    c->last_reply_id = id;
    if (more)
        c->streamed = true;
}

/* A bson_t must not be copied by value (a heap-backed one points into itself). */
static void request_move(struct emu_wire_request *dst, struct emu_wire_request *src)
{
    dst->opcode = src->opcode;
    dst->request_id = src->request_id;
    dst->flags = src->flags;
    memcpy(dst->ns, src->ns, sizeof dst->ns);
    bson_steal(&dst->command, &src->command);
}

/* Runs req for c. from_park: req is &c->req. Returns false when c was closed. */
static bool conn_run(struct emu_server *srv, struct emu_conn *c, struct emu_wire_request *req,
                     bool from_park, bool resumed)
{
    struct emu_cmd_result res;
    emu_cmd_dispatch(srv, c, req, resumed, &res);
    bool keep = res.outcome == EMU_CMD_PARK || (res.outcome == EMU_CMD_REPLY && res.more_to_come);
    if (res.outcome == EMU_CMD_REPLY) {
        send_reply(srv, c, req, &res.reply, res.more_to_come);
        bson_destroy(&res.reply);
    }
    if (keep) {
        if (!from_park)
            request_move(&c->req, req);
        c->park = res.park;
        c->deadline_ms = res.deadline_ms;
    } else if (from_park) {
        conn_unpark(c);
    } else {
        emu_wire_request_cleanup(req);
    }
    if (res.outcome == EMU_CMD_CLOSE || res.outcome == EMU_CMD_RESET) {
        conn_close(srv, c, res.outcome == EMU_CMD_RESET);
        return false;
    }
    return true;
}

/* Handles buffered requests and reads more while the connection is free. Returns false when
 * the connection was closed. */
static bool conn_pump(struct emu_server *srv, struct emu_conn *c)
{
    char err[GW_ERR_LEN];
    while (c->park == EMU_PARK_NONE && !c->close_after_flush) {
        if (c->out.len - c->out_off > OUT_HIGH_WATER)
            break; /* the peer is not reading its replies: wait for EPOLLOUT */
        size_t avail = c->in.len - c->in_off;
        size_t need = EMU_WIRE_HEADER_LEN;
        if (avail >= EMU_WIRE_HEADER_LEN) {
            struct emu_wire_header h;
            if (emu_wire_header_parse((uint8_t *)c->in.data + c->in_off, avail, &h, err) < 0)
                goto bad;
            need = (size_t)h.length;
            if (avail >= need) {
                struct emu_wire_request req;
                if (emu_wire_request_parse((uint8_t *)c->in.data + c->in_off, need, &req, err) < 0)
                    goto bad;
                c->in_off += need;
                if (!conn_run(srv, c, &req, false, false))
                    return false;
                continue;
            }
        }
        if (!c->readable)
            break;
        if (c->in_off) {
            memmove(c->in.data, c->in.data + c->in_off, avail);
            c->in.len = avail;
            c->in_off = 0;
        }
        size_t want = GW_MAX((size_t)READ_CHUNK, need - avail);
        char *dst = gw_buf_reserve(&c->in, want);
        ssize_t n = recv(c->fd, dst, want, 0);
        if (n > 0) {
            c->in.len += (size_t)n;
            /* A short read drained the socket; edge-triggered epoll reports the next arrival,
             * so the EAGAIN round trip can be skipped. */
            if ((size_t)n < want)
                c->readable = false;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->readable = false;
        } else {
            conn_close(srv, c, false);
            return false;
        }
    }
    if (conn_flush(c) < 0 || (c->close_after_flush && c->out_off == c->out.len)) {
        conn_close(srv, c, false);
        return false;
    }
    return true;
bad:
    fprintf(stderr, "mongo-emu: closing connection %d: %s\n", c->connection_id, err);
    conn_close(srv, c, false);
    return false;
}

static void accept_all(struct emu_server *srv)
{
    for (;;) {
        int fd = accept4(srv->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or EMFILE: the level-triggered listener retries next turn */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct emu_conn *c = emu_calloc_aligned(sizeof *c);
        c->fd = fd;
        c->connection_id = srv->next_conn_id++;
        c->readable = true;
        if (epoll_add(srv->epfd, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, c) < 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = srv->conns;
        if (srv->conns)
            srv->conns->prev = c;
        srv->conns = c;
        conn_pump(srv, c);
    }
}

static void conn_event(struct emu_server *srv, struct emu_conn *c, uint32_t events)
{
    if (events & (EPOLLHUP | EPOLLERR)) {
        conn_close(srv, c, false);
        return;
    }
    if ((events & EPOLLRDHUP) && c->park != EMU_PARK_NONE) {
        conn_close(srv, c, false); /* the client gave up on a waiting request */
        return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP))
        c->readable = true;
    conn_pump(srv, c);
}

/* Reruns parked requests that can progress: on store or topology changes, and at deadlines. */
static void run_parked(struct emu_server *srv)
{
    for (int round = 0; round < 8; round++) {
        uint64_t seq = srv->store->next_seq;
        bool wake = srv->wake_pending;
        srv->wake_pending = false;
        uint64_t now = gw_now_ms();
        struct emu_conn *next;
        for (struct emu_conn *c = srv->conns; c; c = next) {
            next = c->next;
            if (c->park == EMU_PARK_NONE)
                continue;
            bool due = now >= c->deadline_ms;
            if (!due && !(wake && c->park != EMU_PARK_BLOCK))
                continue;
            bool block = c->park == EMU_PARK_BLOCK;
            if (conn_run(srv, c, &c->req, true, !block))
                conn_pump(srv, c);
        }
        if (srv->store->next_seq == seq && !srv->wake_pending)
            return;
        srv->wake_pending = true;
    }
}

static void check_step_up(struct emu_server *srv)
{
    if (srv->stepped_down && gw_now_ms() >= srv->step_up_at_ms) {
        srv->stepped_down = false;
        srv->term++;
        srv->tv_counter++;
        srv->wake_pending = true;
    }
}

static void do_restart(struct emu_server *srv)
{
    srv->restart_pending = false;
    while (srv->conns) {
        conn_flush(srv->conns);
        conn_close(srv, srv->conns, false);
    }
    emu_cmd_kill_all_cursors(srv);
    if (srv->fail_command.on)
        bson_destroy(&srv->fail_command.data);
    if (srv->fail_getmore.on)
        bson_destroy(&srv->fail_getmore.data);
    memset(&srv->fail_command, 0, sizeof srv->fail_command);
    memset(&srv->fail_getmore, 0, sizeof srv->fail_getmore);
    srv->stepped_down = false;
    new_process_id(srv);
}

static int next_timeout(struct emu_server *srv)
{
    uint64_t now = gw_now_ms(), soonest = now + REAP_INTERVAL_MS;
    for (struct emu_conn *c = srv->conns; c; c = c->next)
        if (c->park != EMU_PARK_NONE && c->deadline_ms < soonest)
            soonest = c->deadline_ms;
    if (srv->stepped_down && srv->step_up_at_ms < soonest)
        soonest = srv->step_up_at_ms;
    if (srv->wake_pending)
        return 0;
    return soonest <= now ? 0 : (int)(soonest - now);
}

int emu_server_run(struct emu_server *srv, char *err)
{
    printf("mongo-emu listening on %s\n", srv->advertised);
    fflush(stdout);
    struct epoll_event events[256];
    uint64_t last_reap = gw_now_ms();
    while (!srv->stop) {
        int n = epoll_wait(srv->epfd, events, (int)GW_ARRAY_SIZE(events), next_timeout(srv));
        if (n < 0 && errno != EINTR)
            return gw_set_error(err, "epoll_wait failed: %s", strerror(errno));
        uint64_t seq = srv->store->next_seq;
        for (int i = 0; i < n; i++) {
            void *p = events[i].data.ptr;
            if (p == srv) {
                accept_all(srv);
            } else if (p == &srv->sigfd) {
                struct signalfd_siginfo si;
                while (read(srv->sigfd, &si, sizeof si) == sizeof si)
                    srv->stop = true;
            } else {
                conn_event(srv, p, events[i].events);
            }
        }
        /* A closed connection frees its struct: later events of this batch for it would be
         * stale, but epoll drops a descriptor's pending events once it is closed, and each
         * connection appears at most once per epoll_wait batch. */
        if (srv->store->next_seq != seq)
            srv->wake_pending = true;
        check_step_up(srv);
        run_parked(srv);
        if (srv->restart_pending)
            do_restart(srv);
        uint64_t now = gw_now_ms();
        if (now - last_reap >= REAP_INTERVAL_MS) {
            emu_cmd_reap_cursors(srv, now);
            last_reap = now;
        }
        if (srv->persist && emu_persist_flush(srv->persist, err) < 0)
            return -1;
    }
    return 0;
}

void emu_server_free(struct emu_server *srv)
{
    if (!srv)
        return;
    while (srv->conns)
        conn_close(srv, srv->conns, false);
    emu_cmd_kill_all_cursors(srv);
    free(srv->cursors);
    if (srv->fail_command.on)
        bson_destroy(&srv->fail_command.data);
    if (srv->fail_getmore.on)
        bson_destroy(&srv->fail_getmore.data);
    if (srv->persist) {
        char err[GW_ERR_LEN];
        if (emu_persist_close(srv->persist, err) < 0)
            fprintf(stderr, "mongo-emu: %s\n", err);
    }
    emu_store_free(srv->store);
    if (srv->lfd >= 0)
        close(srv->lfd);
    if (srv->sigfd >= 0)
        close(srv->sigfd);
    if (srv->epfd >= 0)
        close(srv->epfd);
    free(srv);
}
