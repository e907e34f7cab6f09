/* base64.h -- base64 (RFC 4648 §4, padded) and base64url (§5, unpadded), pure.
 *
 * Decoding is strict so that every byte string has exactly one accepted encoding: characters
 * outside the alphabet, padding anywhere but at the end (or at all, for base64url), impossible
 * lengths and non-zero unused bits in the last character are all refused. A token or payload
 * that two parsers could read differently is a security bug waiting to happen.
 *
 * Thread safety: reentrant.
 */
#ifndef GW_BASE64_H
#define GW_BASE64_H

#include <stddef.h>

#include "gw/buf.h"

/* Appends the padded base64 of in[0..len). */
void gw_base64_encode(struct gw_buf *b, const void *in, size_t len);
/* Appends the unpadded base64url of in[0..len). */
void gw_base64url_encode(struct gw_buf *b, const void *in, size_t len);

/* Decode into out (at least len / 4 * 3 + 2 bytes; out may be in itself: writing never
 * overtakes reading). Return the decoded length, or -1 for malformed input. */
long gw_base64_decode(const char *in, size_t len, void *out);
long gw_base64url_decode(const char *in, size_t len, void *out);

/* Writes `chars` base64url characters of fresh randomness (chars a multiple of 4, so no bit is
 * wasted) and a NUL: session ids that are unguessable and safe in URLs. */
void gw_random_id(char *out, size_t chars);

#endif
