/* match.h -- the query matcher: MongoDB filter documents evaluated against a document.
 *
 * Supported: implicit AND of fields, equality (with array-element semantics and null matching a
 * missing field), $eq $ne $gt $gte $lt $lte $in $nin $exists $not, and $and $or $nor, on dotted
 * paths (descending through arrays of documents as MongoDB does). Anything else is refused by
 * emu_match_validate with the error a server gives for an unknown operator.
 *
 * Pure, reentrant; documents are borrowed.
 */
#ifndef EMU_MATCH_H
#define EMU_MATCH_H

#include <bson/bson.h>
#include <stdbool.h>

/* Checks filter for unsupported operators and bad operands. Returns 0, or -1 with err set
 * (the server replies code 2 BadValue with that sentence). */
int emu_match_validate(const bson_t *filter, char *err);

/* True when doc matches filter. filter must have passed emu_match_validate. */
bool emu_match(const bson_t *filter, const bson_t *doc);

#endif
