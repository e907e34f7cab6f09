/* lg_track.h -- per-socket delivery checker: which sequence numbers arrived, in what order.
 * Pure.
 *
 * The inserter numbers each user's notifications 0, 1, 2, ... and every socket of that user
 * must see each number exactly once, in that order. A bitmap of the numbers seen tells a
 * duplicate (seen before) from a late arrival (not seen, but below the highest seen: order
 * broken) and, at the end, counts the holes (loss). Sequence numbers above LG_TRACK_MAX_SEQ are
 * refused so a corrupt number cannot make the bitmap huge.
 *
 * Thread safety: a tracker belongs to one thread.
 */
#ifndef LG_TRACK_H
#define LG_TRACK_H

#include <stddef.h>
#include <stdint.h>

#define LG_TRACK_MAX_SEQ ((int64_t)1 << 28)

struct lg_track {
    uint8_t *seen; /* owned bitmap, bit s set when seq s arrived */
    size_t seen_bytes;
    int64_t top; /* highest seq seen, -1 before the first */
    uint64_t received;
    uint64_t duplicates;
    uint64_t reordered;
    uint64_t invalid;
};

enum lg_seq {
    LG_SEQ_NEXT,      /* exactly the one expected */
    LG_SEQ_AHEAD,     /* above the expected one: something before it is missing (so far) */
    LG_SEQ_LATE,      /* below the highest seen and new: delivered out of order */
    LG_SEQ_DUPLICATE, /* seen before */
    LG_SEQ_INVALID,   /* negative or above LG_TRACK_MAX_SEQ */
};

void lg_track_init(struct lg_track *t);
/* Frees the bitmap; t is empty afterwards. */
void lg_track_free(struct lg_track *t);
/* Records the arrival of seq and classifies it. */
enum lg_seq lg_track_add(struct lg_track *t, int64_t seq);
/* Returns how many of the numbers 0..expected-1 never arrived. */
uint64_t lg_track_missing(const struct lg_track *t, int64_t expected);

#endif
