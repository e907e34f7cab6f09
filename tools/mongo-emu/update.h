/* update.h -- update documents: replacements and the $set/$unset/$inc/$setOnInsert operators.
 *
 * Pure, reentrant; inputs are borrowed, outputs are initialised by the callee and owned by the
 * caller (bson_destroy them).
 */
#ifndef EMU_UPDATE_H
#define EMU_UPDATE_H

#include <bson/bson.h>
#include <stdbool.h>

enum emu_update_kind {
    EMU_UPDATE_REPLACEMENT, /* no top-level $ keys */
    EMU_UPDATE_OPERATORS,   /* only $ keys */
};

/* Classifies update and checks its operators and operands. Returns 0, or -1 with err set (code
 * 9 FailedToParse on a server) for mixed documents, unknown operators or bad operands. */
int emu_update_validate(const bson_t *update, enum emu_update_kind *kind, char *err);

/* The change a modification made, for a change event's updateDescription. */
struct emu_update_desc {
    bson_t updated; /* {path: newValue} */
    bson_t removed; /* [path, ...] as an array document */
};

/* Applies update (validated) to doc. is_insert says the document is being created by an upsert
 * ($setOnInsert applies). Writes the new document into out; when desc is not NULL fills it (for
 * operator updates). Returns 0, or -1 with err set: $inc on a non-number (code 14), a changed
 * _id (code 66), or a path through a non-document (code 28). *code receives the server code. */
int emu_update_apply(const bson_t *doc, const bson_t *update, bool is_insert, bson_t *out,
                     struct emu_update_desc *desc, int *code, char *err);

void emu_update_desc_cleanup(struct emu_update_desc *desc);

/* Builds the seed of an upserted document from the equality conditions of query (top-level
 * fields with a plain value or $eq, and those inside $and), into out (initialised here). */
void emu_update_upsert_seed(const bson_t *query, bson_t *out);

#endif
