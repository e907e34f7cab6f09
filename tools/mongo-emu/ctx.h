/* ctx.h -- what a command handler sees, and the reply helpers every handler uses.
 *
 * Internal to the emulator (cmd.c, crud.c). Event-loop thread only.
 */
#ifndef EMU_CTX_H
#define EMU_CTX_H

#include <bson/bson.h>
#include <stdbool.h>

#include "emu.h"

struct emu_ctx {
    struct emu_server *srv;
    struct emu_conn *conn;
    const struct emu_wire_request *req;
    const bson_t *cmd;  /* borrowed: the command document */
    const char *name;   /* the command name (first key) */
    char db[128];       /* $db, or the OP_QUERY namespace's database */
    bool resumed;       /* the request was parked before */
    bool change_stream; /* the command runs on a change stream (labels) */
    struct emu_cmd_result *res;
};

/* Starts an ok reply: res->reply is initialised and the caller appends its fields. */
bson_t *emu_reply_begin(struct emu_ctx *x);
/* Ends a reply begun with emu_reply_begin: appends ok:1 and, on a replica set, $clusterTime
 * and operationTime. */
void emu_reply_end(struct emu_ctx *x);

/* Replaces the reply by an error: {ok:0, errmsg, code, codeName, errorLabels (computed the way
 * mongod does unless labels is given), topologyVersion for state-change codes}. */
void emu_reply_error(struct emu_ctx *x, int code, const bson_t *labels, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The collection name under the command's first key, or NULL after replying with an error. */
const char *emu_ctx_coll(struct emu_ctx *x);

/* Handlers in crud.c. */
void emu_crud_insert(struct emu_ctx *x);
void emu_crud_update(struct emu_ctx *x);
void emu_crud_delete(struct emu_ctx *x);
void emu_crud_find(struct emu_ctx *x);
void emu_crud_count(struct emu_ctx *x);
void emu_crud_aggregate(struct emu_ctx *x);
void emu_crud_get_more(struct emu_ctx *x);
void emu_crud_kill_cursors(struct emu_ctx *x);
void emu_crud_list_collections(struct emu_ctx *x);
void emu_crud_list_indexes(struct emu_ctx *x);
void emu_crud_create_indexes(struct emu_ctx *x);
void emu_crud_create(struct emu_ctx *x);
void emu_crud_drop(struct emu_ctx *x);
void emu_crud_drop_database(struct emu_ctx *x);
void emu_crud_list_databases(struct emu_ctx *x);

/* Applies failGetMoreAfterCursorCheckout (cmd.c). Returns true when it produced an error. */
bool emu_cmd_getmore_failpoint(struct emu_ctx *x);

/* Looks a cursor up by id (crud.c); NULL when unknown. */
struct emu_cursor *emu_cursor_find(struct emu_server *srv, int64_t id);

#endif
