/* health.h -- the bodies of /api/health, /api/health/change-streams and /metrics, pure.
 *
 * The caller fills a snapshot (loop-thread counters, and the watcher's atomics read once), and
 * these functions only format it, so the bodies are unit-tested without a server.
 *
 * Thread safety: reentrant.
 */
#ifndef GW_HEALTH_H
#define GW_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw/buf.h"
#include "gw/gateway.h"

struct gw_health_snapshot {
    uint64_t uptime_s;
    size_t sockets;         /* authenticated Socket.IO sockets */
    size_t users;           /* distinct users online */
    size_t engine_sessions; /* Engine.IO sessions, authenticated or not */
    const struct gw_gateway_stats *gateway;

    /* change streams */
    bool cs_enabled;
    bool cs_watching;
    uint64_t last_event_at_ms;       /* wall clock, 0 = never */
    uint64_t last_token_saved_at_ms; /* wall clock, 0 = never */
    uint64_t events_received;
    uint64_t events_delivered;
    uint64_t events_skipped_offline;
    uint64_t events_failed;
    uint64_t restarts;
    const char *last_error; /* NULL = none */
};

/* Appends the /api/health body and returns its HTTP status: 200, or 503 when change streams are
 * enabled but not watching. */
unsigned gw_health_json(struct gw_buf *b, const struct gw_health_snapshot *s);
/* Appends the /api/health/change-streams body (always 200). */
void gw_health_change_streams_json(struct gw_buf *b, const struct gw_health_snapshot *s);
/* Appends the Prometheus text exposition of /metrics. */
void gw_health_metrics(struct gw_buf *b, const struct gw_health_snapshot *s);

#endif
