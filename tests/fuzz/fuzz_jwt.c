/* fuzz_jwt.c -- libFuzzer target for JWT parsing and verification (include/gw/jwt.h).
 *
 * Two verifiers: one with a fixed HS256 secret, one with an RSA public key generated once at
 * start-up. The first input byte picks a mode:
 *   0  the rest is a token (after gw_jwt_strip_bearer), verified by both: never OK;
 *   1  the rest is header NUL payload NUL signature, each base64url-encoded and joined with
 *      dots, so the fuzzer works on the JSON rather than on base64: never OK;
 *   2  the rest is a claims object signed with the real secret, so the claims checks run: an OK
 *      answer must carry a sane user id, and the RSA verifier must still refuse the token.
 * Every call must return a known status.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw/base64.h"
#include "gw/buf.h"
#include "gw/common.h"
#include "gw/jwt.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_S 1700000000
static const char secret[] = "fuzz-secret-0123456789abcdefghijk";
static struct gw_jwt_verifier *hs_verifier, *rs_verifier;

/* Writes a fresh RSA-2048 public key to a temporary PEM file and returns its path. */
static char *rsa_key_file(void)
{
    EVP_PKEY *key = EVP_RSA_gen(2048);
    GW_ASSERT(key != NULL);
    char path[] = "/tmp/fuzz_jwt_XXXXXX";
    int fd = mkstemp(path);
    GW_ASSERT(fd >= 0);
    FILE *f = fdopen(fd, "w");
    GW_ASSERT(f != NULL);
    GW_ASSERT(PEM_write_PUBKEY(f, key) == 1);
    GW_ASSERT(fclose(f) == 0);
    EVP_PKEY_free(key);
    return gw_strdup(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[GW_ERR_LEN];
    struct gw_jwt_options hs = {.secret = secret, .secret_len = sizeof(secret) - 1};
    hs_verifier = gw_jwt_verifier_new(&hs, err);
    GW_ASSERT(hs_verifier != NULL);

    char *path = rsa_key_file();
    struct gw_jwt_options rs = {.public_key_file = path};
    rs_verifier = gw_jwt_verifier_new(&rs, err);
    GW_ASSERT(rs_verifier != NULL);
    unlink(path);
    free(path);
    return 0;
}

static enum gw_jwt_status verify(const struct gw_jwt_verifier *v, const char *tok, size_t len)
{
    struct gw_jwt_claims claims;
    enum gw_jwt_status st = gw_jwt_verify(v, tok, len, NOW_S, &claims);
    GW_ASSERT(st >= GW_JWT_OK && st <= GW_JWT_USER_CLAIM_MISSING);
    GW_ASSERT(gw_jwt_code(st) != NULL && gw_jwt_strerror(st) != NULL);
    if (st == GW_JWT_OK) {
        GW_ASSERT(claims.user_id_len > 0 && claims.user_id_len <= GW_JWT_MAX_USER_ID_LEN);
        GW_ASSERT(strlen(claims.user_id) == claims.user_id_len);
        for (size_t i = 0; i < claims.user_id_len; i++)
            GW_ASSERT((unsigned char)claims.user_id[i] >= 0x20 && claims.user_id[i] != 0x7f);
    }
    return st;
}

static void verify_forged(const char *tok, size_t len)
{
    /* An exact-size heap copy, so ASan sees any read past the token. */
    char *copy = gw_malloc(len ? len : 1);
    memcpy(copy, tok, len);
    GW_ASSERT(verify(hs_verifier, copy, len) != GW_JWT_OK);
    GW_ASSERT(verify(rs_verifier, copy, len) != GW_JWT_OK);
    free(copy);
}

static void mode_raw(const char *s, size_t len)
{
    size_t n = len;
    const char *tok = gw_jwt_strip_bearer(s, &n);
    GW_ASSERT(tok >= s && tok + n <= s + len);
    verify_forged(tok, n);
}

/* Splits at the first two NUL bytes; missing parts are empty. */
static void mode_parts(const char *s, size_t len)
{
    const char *part[3] = {s, s + len, s + len};
    size_t plen[3] = {len, 0, 0};
    for (int i = 0; i < 2; i++) {
        const char *nul = memchr(part[i], '\0', plen[i]);
        if (!nul)
            break;
        part[i + 1] = nul + 1;
        plen[i + 1] = (size_t)(part[i] + plen[i] - part[i + 1]);
        plen[i] = (size_t)(nul - part[i]);
    }
    struct gw_buf tok = GW_BUF_INIT;
    for (int i = 0; i < 3; i++) {
        if (i > 0)
            gw_buf_append_char(&tok, '.');
        gw_base64url_encode(&tok, part[i], plen[i]);
    }
    verify_forged(tok.data, tok.len);
    gw_buf_free(&tok);
}

static void mode_signed(const char *s, size_t len)
{
    char *claims = gw_strndup(s, len);
    char err[GW_ERR_LEN];
    char *tok = gw_jwt_sign_hmac("HS256", secret, sizeof(secret) - 1, claims, err);
    free(claims);
    if (!tok)
        return;
    (void)verify(hs_verifier, tok, strlen(tok));
    GW_ASSERT(verify(rs_verifier, tok, strlen(tok)) != GW_JWT_OK);
    free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *s = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] % 3) {
    case 0:
        mode_raw(s, len);
        break;
    case 1:
        mode_parts(s, len);
        break;
    default:
        mode_signed(s, len);
        break;
    }
    return 0;
}
