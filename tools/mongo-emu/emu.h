/* emu.h -- the emulator's server state shared by the event loop (server.c), the command
 * handlers (cmd.c) and persistence (persist.c).
 *
 * DESIGN. One thread runs everything: an epoll loop owns the listening socket, every connection,
 * the store and all cursors, so no state is ever locked. A connection handles one request at a
 * time, like mongod. A request that must wait (a getMore with awaitData, an awaitable hello, a
 * fail point's blockTimeMS) is *parked*: the connection keeps its request and a deadline, and the
 * loop runs it again when the store changes, the topology changes, or the deadline passes.
 * Nothing polls. Shutdown: SIGTERM/SIGINT arrive through a signalfd and end the loop; with a
 * dbpath the data is compacted to disk before exit.
 */
#ifndef EMU_EMU_H
#define EMU_EMU_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "gw/buf.h"
#include "store.h"
#include "stream.h"
#include "wire.h"

struct emu_config {
    const char *host;     /* address to bind and advertise */
    int port;             /* 0 picks a free port */
    const char *set_name; /* replica-set name (ignored when standalone) */
    bool standalone;
    int max_wire;       /* maxWireVersion advertised */
    size_t oplog_size;  /* oplog entries kept */
    const char *dbpath; /* NULL: memory only */
};

enum emu_park {
    EMU_PARK_NONE,
    EMU_PARK_GETMORE, /* awaitData getMore waiting for oplog entries */
    EMU_PARK_HELLO,   /* awaitable hello waiting for a topology change */
    EMU_PARK_BLOCK,   /* failCommand blockConnection */
};

struct emu_conn {
    int fd;
    int32_t connection_id;
    char *app_name;   /* client.application.name from the handshake, or NULL */
    struct gw_buf in; /* received bytes; in_off of them already consumed */
    size_t in_off;
    bool readable;     /* edge-triggered: more may be waiting in the kernel */
    struct gw_buf out; /* bytes to send; out_off of them already sent */
    size_t out_off;
    bool close_after_flush;
    int64_t truncate_reply; /* >0: send only this many bytes of the next reply, then close */
    enum emu_park park;
    struct emu_wire_request req; /* owned while parked */
    uint64_t deadline_ms;
    uint64_t park_epoch;     /* server interrupt epoch when the request started */
    bson_t *fp_after_block;  /* fail point data to apply once the block ends, or NULL */
    bool exhaust;            /* streaming awaitable hello */
    bool streamed;           /* a moreToCome hello reply went out already */
    int64_t exhaust_counter; /* topologyVersion counter last streamed */
    int32_t last_reply_id;
    struct emu_conn *prev, *next;
};

struct emu_cursor {
    int64_t id;
    char *db;
    char *coll;
    struct emu_stream *stream; /* change stream, or NULL for a document list */
    bson_t **docs;             /* document list cursors: remaining documents */
    size_t ndocs;
    size_t pos;
    uint64_t last_used_ms;
};

struct emu_failpoint {
    bool on;
    long times; /* remaining activations; -1 for alwaysOn */
    long skip;  /* activations to let pass first */
    long hits;
    bson_t data;
};

struct emu_persist;

#define EMU_BATCH_BUCKETS 12

struct emu_server {
    struct emu_config cfg;
    char advertised[300]; /* "host:port", exactly what hello's hosts lists */
    int epfd;
    int lfd;
    int sigfd;
    struct emu_store *store;
    struct emu_conn *conns;
    struct emu_cursor **cursors;
    size_t ncursors;
    int64_t next_cursor_id;
    struct emu_failpoint fail_command;
    struct emu_failpoint fail_getmore; /* failGetMoreAfterCursorCheckout */
    bson_oid_t process_id;
    int64_t tv_counter; /* topologyVersion.counter */
    int64_t term;
    bool stepped_down;
    uint64_t step_up_at_ms;
    uint64_t interrupt_epoch; /* bumped by a stepdown: parked getMores then fail with 11602 */
    bool wake_pending;        /* the store or topology changed: rerun parked requests */
    bool restart_pending;     /* emuRestart: drop every connection after this turn */
    int32_t next_conn_id;
    int32_t next_request_id;
    bool stop;
    struct emu_persist *persist;
    /* Change-stream getMore replies that carried events, by events per reply (bucket i holds
     * up to 2^i, the last one more), and the events in each bucket, split by whether the
     * getMore had been waiting for them ([1]: they arrived together) or found them already
     * there ([0]: the reader came late). Read with {emuStreamStats: 1}, for the benchmarks. */
    uint64_t stream_replies[2][EMU_BATCH_BUCKETS];
    uint64_t stream_events[2][EMU_BATCH_BUCKETS];
};

/* Creates the server: binds cfg->host:cfg->port, loads cfg->dbpath if set. cfg's strings are
 * borrowed for the server's lifetime. Returns a new server, or NULL with err set. */
struct emu_server *emu_server_new(const struct emu_config *cfg, char *err);

/* Prints "mongo-emu listening on HOST:PORT" and runs until SIGTERM/SIGINT. Returns 0, or -1
 * with err set on a fatal loop error. */
int emu_server_run(struct emu_server *srv, char *err);

void emu_server_free(struct emu_server *srv);

/* --- used by cmd.c --- */

enum emu_cmd_outcome {
    EMU_CMD_REPLY,
    EMU_CMD_NO_REPLY, /* moreToCome request */
    EMU_CMD_PARK,
    EMU_CMD_CLOSE, /* close the connection without a reply (FIN) */
    EMU_CMD_RESET, /* close with RST */
};

struct emu_cmd_result {
    enum emu_cmd_outcome outcome;
    bson_t reply;       /* EMU_CMD_REPLY: initialised by the handler */
    enum emu_park park; /* EMU_CMD_PARK, or the next wait of a streamed hello */
    uint64_t deadline_ms;
    bool more_to_come; /* streamed hello: reply with moreToCome, then park again */
};

/* Runs one request for conn. resumed is true when the request was parked before. Fills res. */
void emu_cmd_dispatch(struct emu_server *srv, struct emu_conn *conn,
                      const struct emu_wire_request *req, bool resumed, struct emu_cmd_result *res);

/* Frees every cursor (restart, kill-all). */
void emu_cmd_kill_all_cursors(struct emu_server *srv);

/* Reaps cursors idle for longer than the server's cursor timeout. */
void emu_cmd_reap_cursors(struct emu_server *srv, uint64_t now_ms);

#endif
