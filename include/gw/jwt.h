/* jwt.h -- JSON Web Token verification for the Socket.IO handshake (design §4.1, §4.2).
 *
 * A verifier is built once from configuration and then checks compact JWS tokens (RFC 7515,
 * RFC 7519) signed with HS256/384/512, RS256/384/512, PS256/384/512 or ES256/384 (RFC 7518).
 * The checks run in a fixed order: structure, algorithm, signature, and only then the claims,
 * so nothing inside an unverified token influences anything but the final status.
 *
 * What cannot happen by construction:
 * - "none" is never accepted, whatever the case and whatever the allowlist says.
 * - Public-key bytes are never used as an HMAC secret: HS* tokens are checked only against the
 *   configured JWT_SECRET, and only when a secret is configured.
 * - Header parameters that name keys (jku, jwk, x5u, x5c, kid) are ignored; the key always
 *   comes from configuration. A "crit" header is rejected, since we implement no extension.
 *
 * The module is a pure codec: the only I/O is reading the public key file in
 * gw_jwt_verifier_new(). It does not read the clock either: callers pass "now".
 *
 * Thread safety: a verifier is immutable after gw_jwt_verifier_new() returns and may be used by
 * any number of threads at once; free it when no thread uses it any more. Every other function
 * here is reentrant and may be called from any thread.
 */
#ifndef GW_JWT_H
#define GW_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "gw/common.h"

/* Tokens longer than this are rejected as GW_JWT_MALFORMED before any decoding: a real access
 * token is well under 2 KiB, and the cap bounds the work an anonymous client can ask for. */
#define GW_JWT_MAX_TOKEN_LEN 8192

/* Longest user id accepted, in bytes (not counting the NUL). */
#define GW_JWT_MAX_USER_ID_LEN 256

/* The result of a verification. Callers branch on it; gw_jwt_code() gives the wire code. */
enum gw_jwt_status {
    GW_JWT_OK = 0,
    GW_JWT_TOKEN_MISSING,         /* empty token */
    GW_JWT_MALFORMED,             /* not three base64url segments of JSON objects, too long,
                                     "crit" header, non-numeric exp/nbf/iat */
    GW_JWT_BAD_SIGNATURE,         /* signature does not verify, or has the wrong length */
    GW_JWT_ALGORITHM_NOT_ALLOWED, /* "alg" is none, unknown, or not in the allowlist */
    GW_JWT_TOKEN_EXPIRED,         /* now >= exp + leeway */
    GW_JWT_NOT_YET_VALID,         /* now + leeway < nbf, or iat > now + leeway */
    GW_JWT_ISSUER_MISMATCH,       /* issuer configured and iss absent or different */
    GW_JWT_AUDIENCE_MISMATCH,     /* audience configured and not in aud */
    GW_JWT_USER_CLAIM_MISSING,    /* user claim absent, empty, too long, control characters,
                                     or neither a string nor an integer */
};

/* Configuration of a verifier. Every pointer is borrowed for the duration of
 * gw_jwt_verifier_new() only; the verifier copies what it keeps. */
struct gw_jwt_options {
    const void *secret;          /* HMAC key bytes (JWT_SECRET), NULL when unset */
    size_t secret_len;           /* must be > 0 when secret is set */
    const char *public_key_file; /* PEM public key or certificate (JWT_PUBLIC_KEY_FILE): RSA of
                                    at least 2048 bits, or EC P-256/P-384; NULL when unset */
    const char *algorithms;      /* comma list (JWT_ALGORITHMS), NULL = derived from the keys */
    const char *issuer;          /* required "iss" (JWT_ISSUER), NULL = not checked */
    const char *audience;        /* required "aud" member (JWT_AUDIENCE), NULL = not checked */
    const char *user_claim;      /* claim naming the user (JWT_USER_CLAIM), NULL = "sub" */
    int leeway_s;                /* clock skew allowed on exp/nbf/iat (JWT_LEEWAY_SECONDS) */
};

/* What a valid token says. Plain storage owned by the caller; no cleanup needed. */
struct gw_jwt_claims {
    char user_id[GW_JWT_MAX_USER_ID_LEN + 1]; /* NUL-terminated, no control characters */
    size_t user_id_len;
    int64_t exp;         /* the "exp" claim in Unix seconds (fraction dropped), 0 when absent */
    int64_t valid_until; /* first second at which this verifier rejects the token as expired
                            (exp + leeway), 0 when the token has no exp: close the connection
                            when the wall clock reaches it */
};

struct gw_jwt_verifier;

/* Builds a verifier. Returns a new verifier owned by the caller (free with
 * gw_jwt_verifier_free), or NULL with one sentence in err (GW_ERR_LEN) when there is no key, the
 * key file is unreadable or holds an unsupported key, or the allowlist is empty, names "none",
 * an unknown algorithm, or an algorithm that the configured keys cannot verify. Derived
 * allowlist: HS256/384/512 for a secret; RS256/384/512 and PS256/384/512 for an RSA key; ES256
 * for a P-256 key; ES384 for a P-384 key; the union when both a secret and a key are set.
 * Main thread, at start-up (it reads a file). */
struct gw_jwt_verifier *gw_jwt_verifier_new(const struct gw_jwt_options *opt, char *err);

/* Frees a verifier and wipes its copy of the secret. NULL is a no-op. */
void gw_jwt_verifier_free(struct gw_jwt_verifier *v);

/* Verifies a bare compact token (no "Bearer " prefix: see gw_jwt_strip_bearer) of len bytes
 * (NUL not needed) at wall-clock time now_s (Unix seconds). On GW_JWT_OK fills *out; on any
 * other status *out is zeroed. Borrows everything. Any thread, concurrently. */
enum gw_jwt_status gw_jwt_verify(const struct gw_jwt_verifier *v, const char *token, size_t len,
                                 int64_t now_s, struct gw_jwt_claims *out);

/* The wire code for CONNECT_ERROR data.code (design §4.2): "TOKEN_INVALID" for MALFORMED and
 * BAD_SIGNATURE, "TOKEN_NOT_YET_VALID" for NOT_YET_VALID, else the status name ("OK" for
 * GW_JWT_OK). Returns a static string. */
const char *gw_jwt_code(enum gw_jwt_status st);

/* One human sentence for CONNECT_ERROR message. MALFORMED and BAD_SIGNATURE share one sentence
 * so a client learns nothing about which part of a forged token failed. Static string. */
const char *gw_jwt_strerror(enum gw_jwt_status st);

/* Removes an optional "Bearer" scheme (case-insensitive, followed by one or more spaces) and
 * surrounding spaces or tabs. *len is the input length on entry and the token length on return
 * (0 when nothing is left, e.g. "Bearer "). Returns a pointer into token (borrowed). */
const char *gw_jwt_strip_bearer(const char *token, size_t *len);

/* Where a handshake may carry a token (design §4.2). Pointers are borrowed; a NULL pointer
 * means the source is absent. */
struct gw_jwt_sources {
    const char *auth_token; /* CONNECT auth.token when it is a string, "Bearer " optional */
    size_t auth_token_len;
    const char *authorization; /* Authorization request header; only the Bearer scheme counts */
    size_t authorization_len;
    const char *query_token; /* "token" query parameter, already percent-decoded */
    size_t query_token_len;
};

/* Picks the token by the order of design §4.2: auth.token, else an "Authorization: Bearer"
 * header, else the token query parameter. A source that is empty once stripped (auth.token
 * "" or "Bearer ") does not count and the next one is tried. Returns a pointer into the chosen
 * source with *len set, or NULL with *len 0 when there is none (gw_jwt_verify then answers
 * GW_JWT_TOKEN_MISSING). Any thread. */
const char *gw_jwt_pick_token(const struct gw_jwt_sources *src, size_t *len);

/* Signs claims_json (a NUL-terminated JSON object, encoded as given) with alg ("HS256",
 * "HS384" or "HS512") and the secret, under the header {"alg":"<alg>","typ":"JWT"}. Returns a
 * new NUL-terminated token owned by the caller (free with free()), or NULL with one sentence in
 * err (GW_ERR_LEN) for an unknown algorithm, an empty secret or claims that are not a JSON
 * object. For tests and the development-token command. Any thread. */
char *gw_jwt_sign_hmac(const char *alg, const void *secret, size_t secret_len,
                       const char *claims_json, char *err);

#endif
