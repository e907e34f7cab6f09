/* doc.h -- BSON document helpers shared by the matcher, the update operators and the store:
 * MongoDB's cross-type value order, dotted-path lookup, projection and _id keys.
 *
 * Pure functions, no I/O; reentrant. Values passed in are borrowed.
 */
#ifndef EMU_DOC_H
#define EMU_DOC_H

#include <bson/bson.h>
#include <stdbool.h>

#include "gw/buf.h"

/* Compares two values in MongoDB's sort order: first by type class (MinKey < null < numbers <
 * strings < objects < arrays < binary < ObjectId < bool < date < timestamp < regex < MaxKey),
 * then by value; numbers of any BSON type compare by numeric value. Returns <0, 0 or >0. */
int emu_doc_value_cmp(const bson_value_t *a, const bson_value_t *b);

/* The type class rank used by emu_doc_value_cmp (range operators only match within a class). */
int emu_doc_type_class(bson_type_t t);

/* Finds the value at a dotted path ("a.b.c", array indexes as digits). Returns true and sets
 * *out to a view into doc when present. */
bool emu_doc_path_get(const bson_t *doc, const char *path, bson_value_t *out);

/* Appends a canonical byte key for an _id value to key (equal _id values give equal keys:
 * numbers are normalised so that 1, 1L and 1.0 collide as they do in MongoDB). */
void emu_doc_id_key(const bson_value_t *id, struct gw_buf *key);

/* Applies a find-style projection ({a: 1, "b.c": 1} or {a: 0}) to doc, writing a new document
 * into out (initialised here). Returns 0, or -1 with err set when the spec mixes inclusion and
 * exclusion. */
int emu_doc_project(const bson_t *doc, const bson_t *spec, bson_t *out, char *err);

/* Appends value under key to doc (bson_append_value, with the key length computed). */
void emu_doc_append(bson_t *doc, const char *key, const bson_value_t *value);

#endif
