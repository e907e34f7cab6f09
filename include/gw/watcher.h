/* watcher.h -- the change-stream watcher thread and its handoff to the loop thread.
 *
 * The watcher owns a mongoc client, the change stream on NOTIFICATIONS_COLLECTION and the
 * resume token. Each inserted notification becomes a notice (user id + a 42[...] message
 * encoded once) pushed into a mailbox; the loop thread drains it with gw_watcher_dispatch(),
 * hands every notice to the user's sockets, and reports how far it got so the watcher saves
 * only tokens of events that reached the sockets.
 *
 * Thread safety: gw_watcher_start, gw_watcher_join and gw_watcher_free on the main thread;
 * gw_watcher_dispatch and gw_watcher_fill on the loop thread; gw_watcher_request_stop and
 * gw_watcher_finished from any thread.
 */
#ifndef GW_WATCHER_H
#define GW_WATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>

#include "gw/config.h"
#include "gw/gateway.h"
#include "gw/health.h"

struct gw_watcher;

/* The latency histogram's upper bounds, in microseconds (the last bucket is +Inf). */
#define GW_WATCHER_LATENCY_BUCKETS 14

/* Starts the thread. wake(ud) is called from the watcher thread whenever notices are waiting
 * (the server's gw_server_wake). The configuration is borrowed for the watcher's lifetime.
 * Returns NULL with one sentence in err when the URI cannot be used. */
struct gw_watcher *gw_watcher_start(const struct gw_config *cfg, void (*wake)(void *ud), void *ud,
                                    char *err);
/* Asks the thread to stop: it stops reading, waits until the loop has dispatched what it
 * pushed, saves the token, and finishes. Non-blocking. */
void gw_watcher_request_stop(struct gw_watcher *w);
/* True once the thread has saved its last token and pushes nothing more. */
bool gw_watcher_finished(struct gw_watcher *w);
/* Joins the thread (after gw_watcher_request_stop) and frees everything. */
void gw_watcher_free(struct gw_watcher *w);

/* The change stream the watcher opens, without a resume token: returns a new pipeline (the
 * caller destroys it) and appends the stream's options to opts (caller-initialised). For
 * tools that must read exactly the gateway's stream (bench/ceiling/stream-ceiling). Any
 * thread. */
bson_t *gw_watcher_stream_new(bson_t *opts);

/* Loop thread: delivers every waiting notice to its user's sockets through gw. */
void gw_watcher_dispatch(struct gw_watcher *w, struct gw_gateway *gw);
/* Loop thread: fills the change-stream fields of a health snapshot. */
void gw_watcher_fill(struct gw_watcher *w, struct gw_health_snapshot *s);
/* Loop thread: appends, in Prometheus text format, the insert-to-hand-off latency histogram,
 * the gateway's own dispatch latency (change event in -> written to a socket, per delivery:
 * only change events are timed, so it is rendered here with the watcher's) and the number of
 * notifications per dispatch (one observation per gw_watcher_dispatch that found any). */
void gw_watcher_metrics(struct gw_watcher *w, struct gw_buf *b);

#endif
