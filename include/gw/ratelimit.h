/* ratelimit.h -- token buckets per client address, in bounded memory.
 *
 * Each key (a client address, see gw_ratelimit_key) has a bucket of `burst` tokens refilled at
 * `rate` tokens per second; an event takes one token or is refused with the time until the next
 * token. The bucket is kept as a GCRA "theoretical arrival time" (one integer per key), so a
 * refill is arithmetic, not a timer.
 *
 * Memory is bounded two ways: a bucket that has refilled completely carries no information and
 * is dropped (lazily, oldest first, on every call and in gw_ratelimit_sweep), and the table never
 * holds more than max_entries keys: a new key then evicts the least recently used one, whose
 * bucket is the fullest anyway. An attacker who controls more than max_entries addresses can
 * thereby reset other addresses' buckets; the connection cap still bounds what they can do.
 *
 * Pure: no I/O, no clock of its own (every call takes now_us), so tests drive time.
 *
 * Thread safety: none; a table belongs to one thread (the loop thread in the server).
 */
#ifndef GW_RATELIMIT_H
#define GW_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw_ratelimit;

/* Longest key gw_ratelimit_key writes (an IPv4 address or an IPv6 /64 prefix, raw bytes). */
#define GW_RATELIMIT_KEY_MAX 9

/* Returns a new table (free with gw_ratelimit_free): rate tokens per second (> 0), burst
 * tokens at most (>= 1), at most max_entries keys (>= 1). */
struct gw_ratelimit *gw_ratelimit_new(uint32_t rate, uint32_t burst, size_t max_entries);
void gw_ratelimit_free(struct gw_ratelimit *rl);

/* Takes one token from key's bucket (key borrowed for the call; the table copies it). Returns
 * true when allowed; false when the bucket is empty, with *retry_after_us (may be NULL) set to
 * the time until a token is available (> 0). now_us is a monotonic clock that never goes back. */
bool gw_ratelimit_take(struct gw_ratelimit *rl, const void *key, size_t keylen, uint64_t now_us,
                       uint64_t *retry_after_us);

/* Drops every bucket that has refilled completely by now_us. Returns how many were dropped. */
size_t gw_ratelimit_sweep(struct gw_ratelimit *rl, uint64_t now_us);

/* Number of keys held. */
size_t gw_ratelimit_count(const struct gw_ratelimit *rl);

/* Turns a textual peer address into the key one client is limited by: the 4 bytes of an IPv4
 * address (also when written IPv4-mapped, "::ffff:1.2.3.4"), or the /64 prefix of any other IPv6
 * address, since one host usually owns a whole /64. Writes at most GW_RATELIMIT_KEY_MAX bytes
 * into key (a tag byte first, so the two families never collide) and returns the length, or 0
 * when addr is not an IP address. */
size_t gw_ratelimit_key(const char *addr, unsigned char key[GW_RATELIMIT_KEY_MAX]);

#endif
