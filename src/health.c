/* health.c -- health JSON and Prometheus metrics from a snapshot. */
#include "gw/health.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw/common.h"

static json_t *iso_time_or_null(uint64_t wall_ms)
{
    if (!wall_ms)
        return json_null();
    time_t secs = (time_t)(wall_ms / 1000);
    struct tm tm;
    char out[32];
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, sizeof(out) - n, ".%03uZ", (unsigned)(wall_ms % 1000));
    return json_string(out);
}

static void append_json(struct gw_buf *b, json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    GW_ASSERT(text);
    gw_buf_append_str(b, text);
    free(text);
    json_decref(v);
}

unsigned gw_health_json(struct gw_buf *b, const struct gw_health_snapshot *s)
{
    bool healthy = !s->cs_enabled || s->cs_watching;
    json_t *data = json_pack("{s:I,s:s,s:I,s:I,s:{s:b,s:b}}", "uptimeSeconds",
                             (json_int_t)s->uptime_s, "version", GW_VERSION, "sockets",
                             (json_int_t)s->sockets, "users", (json_int_t)s->users, "changeStreams",
                             "enabled", s->cs_enabled, "isWatching", s->cs_watching);
    append_json(
        b, json_pack("{s:s,s:s,s:o}", "status", healthy ? "success" : "error", "message",
                     healthy ? "Service is healthy" : "Change streams are enabled but not watching",
                     "data", data));
    return healthy ? 200 : 503;
}

void gw_health_change_streams_json(struct gw_buf *b, const struct gw_health_snapshot *s)
{
    json_t *data = json_pack(
        "{s:b,s:b,s:o,s:o,s:I,s:I,s:I,s:I,s:I,s:o}", "enabled", s->cs_enabled, "isWatching",
        s->cs_watching, "lastEventAt", iso_time_or_null(s->last_event_at_ms), "lastTokenSavedAt",
        iso_time_or_null(s->last_token_saved_at_ms), "eventsReceived",
        (json_int_t)s->events_received, "eventsDelivered", (json_int_t)s->events_delivered,
        "eventsSkippedOffline", (json_int_t)s->events_skipped_offline, "eventsFailed",
        (json_int_t)s->events_failed, "restarts", (json_int_t)s->restarts, "lastError",
        s->last_error ? json_string(s->last_error) : json_null());
    append_json(b, json_pack("{s:s,s:s,s:o}", "status", "success", "message",
                             "Change Streams status retrieved", "data", data));
}

static void metric(struct gw_buf *b, const char *name, const char *type, const char *help,
                   uint64_t value)
{
    gw_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
                  (unsigned long long)value);
}

void gw_health_metrics(struct gw_buf *b, const struct gw_health_snapshot *s)
{
    const struct gw_gateway_stats *g = s->gateway;
    metric(b, "notify_gateway_uptime_seconds", "gauge", "Seconds since the gateway started.",
           s->uptime_s);
    metric(b, "notify_gateway_sockets", "gauge", "Authenticated Socket.IO sockets.", s->sockets);
    metric(b, "notify_gateway_users", "gauge", "Distinct users with at least one socket.",
           s->users);
    metric(b, "notify_gateway_engine_sessions", "gauge",
           "Engine.IO sessions, authenticated or not.", s->engine_sessions);

    gw_buf_append_str(b, "# HELP notify_gateway_handshakes_total Socket.IO handshakes by result "
                         "(ok, or the rejection code).\n"
                         "# TYPE notify_gateway_handshakes_total counter\n");
    gw_buf_printf(b, "notify_gateway_handshakes_total{result=\"ok\"} %llu\n",
                  (unsigned long long)g->handshakes_ok);
    /* Several statuses share a wire code (TOKEN_INVALID): sum them under one label. */
    for (int st = 1; st <= GW_JWT_USER_CLAIM_MISSING; st++) {
        const char *code = gw_jwt_code((enum gw_jwt_status)st);
        bool seen = false;
        for (int prev = 1; prev < st; prev++)
            seen = seen || strcmp(gw_jwt_code((enum gw_jwt_status)prev), code) == 0;
        if (seen)
            continue;
        uint64_t n = 0;
        for (int k = st; k <= GW_JWT_USER_CLAIM_MISSING; k++) {
            if (strcmp(gw_jwt_code((enum gw_jwt_status)k), code) == 0)
                n += g->handshakes_rejected[k];
        }
        gw_buf_printf(b, "notify_gateway_handshakes_total{result=\"%s\"} %llu\n", code,
                      (unsigned long long)n);
    }
    metric(b, "notify_gateway_sockets_evicted_total", "counter",
           "Sockets closed because their user went over the per-user socket cap.", g->evicted);
    metric(b, "notify_gateway_tokens_expired_total", "counter",
           "Connections closed because their token expired.", g->expired);
    metric(b, "notify_gateway_replay_duplicates_skipped_total", "counter",
           "Live notifications not sent because the client's catch-up had just sent them.",
           g->replay_duplicates_skipped);
    metric(b, "notify_gateway_client_events_dropped_total", "counter",
           "Client events dropped by CLIENT_EVENTS_PER_SECOND.", g->client_events_dropped);

    gw_buf_append_str(b, "# HELP notify_gateway_events_total Change events by outcome.\n"
                         "# TYPE notify_gateway_events_total counter\n");
    gw_buf_printf(b,
                  "notify_gateway_events_total{outcome=\"received\"} %llu\n"
                  "notify_gateway_events_total{outcome=\"delivered\"} %llu\n"
                  "notify_gateway_events_total{outcome=\"skipped_offline\"} %llu\n"
                  "notify_gateway_events_total{outcome=\"failed\"} %llu\n",
                  (unsigned long long)s->events_received, (unsigned long long)s->events_delivered,
                  (unsigned long long)s->events_skipped_offline,
                  (unsigned long long)s->events_failed);
    metric(b, "notify_gateway_change_stream_watching", "gauge",
           "1 while the change stream is open, else 0.", s->cs_watching ? 1 : 0);
    metric(b, "notify_gateway_watcher_restarts_total", "counter",
           "Times the change stream watcher reopened its stream.", s->restarts);
}
