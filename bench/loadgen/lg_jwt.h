/* lg_jwt.h -- mints HS256 tokens for the load generator's users. Pure (OpenSSL HMAC only).
 *
 * Thread safety: reentrant.
 */
#ifndef LG_JWT_H
#define LG_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "gw/buf.h"

/* Appends to out the compact JWS of {"sub":sub,"iat":iat,"exp":exp} signed with HS256 under
 * secret[0..secret_len). Borrows every argument; sub must need no JSON escaping (the caller's
 * ids are "user-<n>"). */
void lg_jwt_hs256(struct gw_buf *out, const char *sub, int64_t iat, int64_t exp, const void *secret,
                  size_t secret_len);

#endif
