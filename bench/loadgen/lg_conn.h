/* lg_conn.h -- one Socket.IO client connection of the load generator, as a state machine
 * driven by epoll events, plus the run-wide state every connection reports into.
 *
 * DESIGN. A connection walks TCP connect -> HTTP upgrade -> Engine.IO open -> Socket.IO
 * CONNECT with a JWT -> ready, then answers pings and checks every notification: its latency
 * (receive wall clock minus the document's sentAt), that it belongs to this socket's user, and
 * its sequence number (lg_track). Anything that ends a connection is recorded once, with its
 * reason, in struct lg_run; the report is built from lg_run alone. Sockets are non-blocking;
 * epoll is level-triggered and EPOLLOUT is only armed while bytes are waiting to be written.
 *
 * Thread safety: everything here runs on the generator's one thread.
 */
#ifndef LG_CONN_H
#define LG_CONN_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "gw/buf.h"
#include "lg_hist.h"
#include "lg_jwt.h"
#include "lg_track.h"

enum lg_conn_state {
    LG_IDLE,           /* not started yet */
    LG_CONNECTING,     /* TCP connect in progress */
    LG_UPGRADING,      /* upgrade request sent, waiting for 101 */
    LG_EIO_OPENING,    /* waiting for the Engine.IO open packet */
    LG_SIO_CONNECTING, /* CONNECT with the token sent, waiting for the answer */
    LG_READY,          /* authenticated, receiving notifications */
    LG_DONE,           /* closed (failed, dropped, or shut down) */
};

/* A count per distinct reason ("ECONNREFUSED", "TOKEN_INVALID", "403", ...). */
#define LG_REASONS_MAX 32
struct lg_reasons {
    int n;
    struct {
        char name[48];
        uint64_t count;
    } v[LG_REASONS_MAX];
};

/* Run-wide configuration and results, owned by main. */
struct lg_run {
    int epfd;
    struct sockaddr_in dst;
    const char *host_header;
    const char *path;
    const char *event;
    const uint8_t *secret;
    size_t secret_len;
    int64_t token_iat, token_exp;
    /* Borrowed pre-minted tokens covering every user of the run; NULL: mint HS256 with secret
     * at each CONNECT. */
    const struct lg_tokens *tokens;
    uint64_t rng; /* xorshift state for masks and keys */

    uint64_t attempted, established, open_now, open_at_end;
    struct lg_reasons connect_errors;  /* socket/bind/connect errno names */
    struct lg_reasons http_rejected;   /* non-101 status codes */
    struct lg_reasons sio_rejected;    /* CONNECT_ERROR data.code (or message) */
    struct lg_reasons closed_early;    /* closed or timed out before ready, by state */
    struct lg_reasons protocol_errors; /* what the server got wrong */
    struct lg_reasons dropped;         /* closed after ready, by cause */

    uint64_t notifications, other_events, malformed, cross_user, negative_latency, pings;
    uint64_t fresh;                           /* notifications new to their socket (not dup/bad) */
    uint64_t first_notice_us, last_notice_us; /* wall clock of the first and last notification */
    struct lg_hist latency;                   /* receive - sentAt, us */
    struct lg_hist handshake;                 /* connect start -> Socket.IO CONNECT answered, us */
};

struct lg_conn {
    int fd;
    enum lg_conn_state state;
    uint32_t user; /* absolute user number: the token's sub is "user-<user>" */
    struct in_addr src;
    uint64_t started_us;  /* monotonic */
    uint64_t deadline_ms; /* monotonic; handshake must finish by then */
    char key[25];         /* Sec-WebSocket-Key */
    struct gw_buf in;     /* bytes read, not yet parsed */
    struct gw_buf out;    /* bytes not yet written */
    int out_armed;        /* EPOLLOUT is in the interest set */
    struct gw_buf msg;    /* a fragmented text message being reassembled */
    int fragmented;       /* inside a fragmented message */
    struct lg_track track;
    uint64_t cross_user;
    int ready_once; /* reached LG_READY at some point: its tracker counts */
};

/* Adds one to the count of reason name in r. */
void lg_reasons_add(struct lg_reasons *r, const char *name);
/* Total of all counts in r. */
uint64_t lg_reasons_total(const struct lg_reasons *r);

/* Prepares c (zeroed, state LG_IDLE) for user number `user`, connecting from src. */
void lg_conn_init(struct lg_conn *c, uint32_t user, struct in_addr src);
/* Opens the socket and starts the connect; on failure the reason is recorded and c is
 * LG_DONE. now_ms is the monotonic clock, timeout_ms the handshake budget. */
void lg_conn_start(struct lg_run *run, struct lg_conn *c, uint64_t now_ms, uint64_t timeout_ms);
/* Handles epoll events for c. */
void lg_conn_on_event(struct lg_run *run, struct lg_conn *c, uint32_t events);
/* Fails c if its handshake has not finished by its deadline. */
void lg_conn_check_timeout(struct lg_run *run, struct lg_conn *c, uint64_t now_ms);
/* Closes c without counting it as a failure (end of the run). Keeps its tracker for the
 * report. */
void lg_conn_shutdown(struct lg_run *run, struct lg_conn *c);

#endif
