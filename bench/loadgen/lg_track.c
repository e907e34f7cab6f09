/* lg_track.c -- a growable bitmap of the sequence numbers a socket received. */
#include "lg_track.h"

#include <stdlib.h>
#include <string.h>

#include "gw/common.h"

void lg_track_init(struct lg_track *t)
{
    memset(t, 0, sizeof(*t));
    t->top = -1;
}

void lg_track_free(struct lg_track *t)
{
    free(t->seen);
    lg_track_init(t);
}

static int seen(const struct lg_track *t, int64_t s)
{
    size_t byte = (size_t)s >> 3;
    return byte < t->seen_bytes && (t->seen[byte] >> (s & 7) & 1);
}

static void mark(struct lg_track *t, int64_t s)
{
    size_t byte = (size_t)s >> 3;
    if (byte >= t->seen_bytes) {
        size_t n = t->seen_bytes ? t->seen_bytes : 16;
        while (n <= byte)
            n *= 2;
        t->seen = gw_realloc(t->seen, n);
        memset(t->seen + t->seen_bytes, 0, n - t->seen_bytes);
        t->seen_bytes = n;
    }
    t->seen[byte] |= (uint8_t)(1u << (s & 7));
}

enum lg_seq lg_track_add(struct lg_track *t, int64_t seq)
{
    if (seq < 0 || seq > LG_TRACK_MAX_SEQ) {
        t->invalid++;
        return LG_SEQ_INVALID;
    }
    if (seen(t, seq)) {
        t->duplicates++;
        return LG_SEQ_DUPLICATE;
    }
    mark(t, seq);
    t->received++;
    if (seq < t->top) {
        t->reordered++;
        return LG_SEQ_LATE;
    }
    enum lg_seq r = seq == t->top + 1 ? LG_SEQ_NEXT : LG_SEQ_AHEAD;
    t->top = seq;
    return r;
}

uint64_t lg_track_missing(const struct lg_track *t, int64_t expected)
{
    uint64_t missing = 0;
    for (int64_t s = 0; s < expected; s++)
        missing += !seen(t, s);
    return missing;
}
