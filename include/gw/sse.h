/* sse.h -- GET /api/notifications/stream: the same notifications as Server-Sent Events.
 *
 * For clients without socket.io: a JWT (Authorization: Bearer, else ?token= since browsers'
 * EventSource cannot set headers) opens a text/event-stream that carries the user's
 * notifications (`event: notification`, `id: <_id>`), updates and deletes, and the `sync`
 * event; catch-up starts after the Last-Event-ID header (or ?lastEventId=), which EventSource
 * sends by itself when it reconnects. Idle streams get a comment line every SSE_HEARTBEAT_MS,
 * and a stream closes when its token expires.
 *
 * Thread safety: the loop thread only.
 */
#ifndef GW_SSE_H
#define GW_SSE_H

#include "gw/config.h"
#include "gw/cors.h"
#include "gw/gateway.h"
#include "gw/server.h"
#include "gw/sse_codec.h"

#define GW_SSE_PATH "/api/notifications/stream"

struct gw_sse;

/* gw, cfg and cors are borrowed for the module's lifetime. */
struct gw_sse *gw_sse_new(struct gw_gateway *gw, const struct gw_config *cfg,
                          const struct gw_cors *cors);
/* Frees the module; its streams must be closed (the server closes them before it returns). */
void gw_sse_free(struct gw_sse *sse);
/* The streaming route to put in the server's route table (points into sse). */
struct gw_http_route gw_sse_route(struct gw_sse *sse);
/* Shutdown: every stream ends after what it has queued. */
void gw_sse_close_all(struct gw_sse *sse);
size_t gw_sse_stream_count(const struct gw_sse *sse);

#endif
