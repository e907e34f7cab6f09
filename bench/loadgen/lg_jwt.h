/* lg_jwt.h -- mints the load generator's tokens: HS256 (OpenSSL HMAC) or RS256 (OpenSSL EVP
 * with an RSA private key), and a table of pre-minted tokens, one per user, so that signing
 * (an RS256 signature costs ~230 us, fifty times a handshake's client work) stays out of the
 * handshakes being measured. Pure apart from lg_signer_load_rs256, which reads a key file.
 *
 * Thread safety: reentrant; a signer or a token table belongs to one thread.
 */
#ifndef LG_JWT_H
#define LG_JWT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "gw/buf.h"

/* Appends to out the compact JWS of {"sub":sub,"iat":iat,"exp":exp} signed with HS256 under
 * secret[0..secret_len). Borrows every argument; sub must need no JSON escaping (the caller's
 * ids are "user-<n>"). */
void lg_jwt_hs256(struct gw_buf *out, const char *sub, int64_t iat, int64_t exp, const void *secret,
                  size_t secret_len);

enum lg_alg { LG_HS256, LG_RS256 };

/* How tokens are signed. For LG_HS256 secret is borrowed; for LG_RS256 key is owned (freed by
 * lg_signer_free). */
struct lg_signer {
    enum lg_alg alg;
    const uint8_t *secret;
    size_t secret_len;
    EVP_PKEY *key;
};

/* Loads an RSA private key (PEM, at least 2048 bits) from path into s and sets s->alg to
 * LG_RS256. Returns 0, or -1 with one sentence in err (GW_ERR_LEN). */
int lg_signer_load_rs256(struct lg_signer *s, const char *path, char *err);
/* Frees the key s owns, if any. */
void lg_signer_free(struct lg_signer *s);
/* Appends to out the token of {"sub":sub,"iat":iat,"exp":exp} signed as s says. Borrows. */
void lg_jwt_sign(struct gw_buf *out, const struct lg_signer *s, const char *sub, int64_t iat,
                 int64_t exp);

/* One token per user number base .. base+n-1, "sub" = "user-<number>". */
struct lg_tokens {
    uint32_t base, n;
    struct gw_buf all; /* the tokens back to back */
    size_t *off;       /* n+1 offsets into all */
};

/* Fills t (overwritten) with the n tokens of users base .. base+n-1. Borrows s. */
void lg_tokens_mint(struct lg_tokens *t, const struct lg_signer *s, uint32_t base, uint32_t n,
                    int64_t iat, int64_t exp);
/* The token of user number `user` (which must be in t's range) and its length; borrowed from
 * t, not NUL-terminated. */
const char *lg_tokens_get(const struct lg_tokens *t, uint32_t user, size_t *len);
/* Frees what t holds. */
void lg_tokens_free(struct lg_tokens *t);

#endif
