/* test_jwt.c -- JWT verification: RFC 7515 vectors, every algorithm, and the known attacks.
 *
 * Keys are generated here with OpenSSL and tokens are built and signed here with OpenSSL
 * directly (not with the module's own encoder), so a bug in the module's base64url or signing
 * code cannot cancel itself out. Public keys reach the verifier through PEM files written to
 * temporary paths, exactly as JWT_PUBLIC_KEY_FILE would.
 */
#include "gw/jwt.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "test.h"

#define NOW INT64_C(1700000000)
#define SECRET "unit-test-secret-0123456789abcdef"

static EVP_PKEY *rsa_key, *rsa_other, *p256_key, *p256_other, *p384_key;
static char *rsa_pem, *p256_pem, *p384_pem; /* temp files holding the public keys */
static struct gw_jwt_verifier *v_hs, *v_rsa, *v_p256, *v_p384, *v_both;

/* ---- independent encoding and signing helpers ---- */

static char *b64url(const void *data, size_t n)
{
    char *out = gw_malloc(4 * ((n + 2) / 3) + 1);
    int len = EVP_EncodeBlock((unsigned char *)out, data, (int)n);
    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    for (char *p = out; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    return out;
}

static unsigned char *b64url_dec(const char *s, size_t *out_len)
{
    size_t n = strlen(s), pad = (4 - n % 4) % 4;
    char *std = gw_malloc(n + pad + 1);
    for (size_t i = 0; i < n; i++)
        std[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    memset(std + n, '=', pad);
    std[n + pad] = '\0';
    unsigned char *out = gw_malloc(n + 4);
    int len = EVP_DecodeBlock(out, (unsigned char *)std, (int)(n + pad));
    free(std);
    GW_ASSERT(len >= 0);
    *out_len = (size_t)len - pad;
    return out;
}

static const EVP_MD *md_for(const char *alg)
{
    if (strstr(alg, "256"))
        return EVP_sha256();
    return strstr(alg, "384") ? EVP_sha384() : EVP_sha512();
}

/* Signs input with OpenSSL as the JWS spec says; returns the raw signature length. */
static size_t raw_sign(const char *alg, EVP_PKEY *key, const void *secret, size_t secret_len,
                       const char *input, unsigned char *sig, int pss_saltlen)
{
    const EVP_MD *md = md_for(alg);
    if (alg[0] == 'H') {
        unsigned int n = 0;
        GW_ASSERT(HMAC(md, secret, (int)secret_len, (const unsigned char *)input, strlen(input),
                       sig, &n));
        return n;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    GW_ASSERT(EVP_DigestSignInit(ctx, &pctx, md, NULL, key) == 1);
    if (alg[0] == 'P') {
        GW_ASSERT(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1);
        GW_ASSERT(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, pss_saltlen) == 1);
    }
    unsigned char der[1024];
    size_t n = sizeof(der);
    GW_ASSERT(EVP_DigestSign(ctx, der, &n, (const unsigned char *)input, strlen(input)) == 1);
    EVP_MD_CTX_free(ctx);
    if (alg[0] != 'E') {
        memcpy(sig, der, n);
        return n;
    }
    /* JOSE wants r||s, each left-padded to the curve size. */
    int part = strcmp(alg, "ES256") == 0 ? 32 : 48;
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
    GW_ASSERT(es);
    GW_ASSERT(BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, part) == part);
    GW_ASSERT(BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + part, part) == part);
    ECDSA_SIG_free(es);
    return (size_t)(2 * part);
}

/* Builds b64url(header).b64url(payload).b64url(signature by alg). Caller frees. */
static char *make_token_ex(const char *header, const char *payload, const char *alg, EVP_PKEY *key,
                           const void *secret, size_t secret_len, int saltlen)
{
    char *h = b64url(header, strlen(header)), *p = b64url(payload, strlen(payload));
    size_t in_len = strlen(h) + strlen(p) + 2;
    char *input = gw_malloc(in_len);
    snprintf(input, in_len, "%s.%s", h, p);
    unsigned char sig[1024];
    size_t sig_len = raw_sign(alg, key, secret, secret_len, input, sig, saltlen);
    char *s = b64url(sig, sig_len);
    size_t n = strlen(input) + strlen(s) + 2;
    char *tok = gw_malloc(n);
    snprintf(tok, n, "%s.%s", input, s);
    free(h);
    free(p);
    free(input);
    free(s);
    return tok;
}

static char *make_token(const char *header, const char *payload, const char *alg, EVP_PKEY *key)
{
    return make_token_ex(header, payload, alg, key, SECRET, strlen(SECRET), RSA_PSS_SALTLEN_DIGEST);
}

/* A token with the standard header {"alg":alg,"typ":"JWT"}, signed with the test keys. */
static char *sign_std(const char *alg, EVP_PKEY *key, const char *payload)
{
    char header[64];
    snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
    return make_token(header, payload, alg, key);
}

/* A token signed with the test secret under a standard HS256 header. */
static char *hs256(const char *payload)
{
    return sign_std("HS256", NULL, payload);
}

/* Joins three already-encoded segments. Caller frees. */
static char *join3(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 3;
    char *t = gw_malloc(n);
    snprintf(t, n, "%s.%s.%s", a, b, c);
    return t;
}

/* Returns a copy of segment i (0..2) of a token. */
static char *segment(const char *tok, int i)
{
    const char *p = tok;
    for (int k = 0; k < i; k++)
        p = strchr(p, '.') + 1;
    const char *end = strchr(p, '.');
    return gw_strndup(p, end ? (size_t)(end - p) : strlen(p));
}

static enum gw_jwt_status verify(const struct gw_jwt_verifier *v, const char *tok,
                                 struct gw_jwt_claims *c)
{
    struct gw_jwt_claims scratch;
    return gw_jwt_verify(v, tok, tok ? strlen(tok) : 0, NOW, c ? c : &scratch);
}

/* Verifies and frees the token (most checks build a token just for one verify). */
static enum gw_jwt_status verify_free(const struct gw_jwt_verifier *v, char *tok)
{
    enum gw_jwt_status st = verify(v, tok, NULL);
    free(tok);
    return st;
}

/* ---- key files ---- */

static char *write_temp(const char *text, size_t n)
{
    char path[] = "/tmp/gw_jwt_test_XXXXXX";
    int fd = mkstemp(path);
    GW_ASSERT(fd >= 0);
    GW_ASSERT(write(fd, text, n) == (ssize_t)n);
    close(fd);
    return gw_strdup(path);
}

static char *pem_of(EVP_PKEY *key, bool private_key, size_t *len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (private_key)
        GW_ASSERT(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1);
    else
        GW_ASSERT(PEM_write_bio_PUBKEY(bio, key) == 1);
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    char *copy = gw_strndup(data, (size_t)n);
    *len = (size_t)n;
    BIO_free(bio);
    return copy;
}

static char *write_pem(EVP_PKEY *key, bool private_key)
{
    size_t n;
    char *pem = pem_of(key, private_key, &n);
    char *path = write_temp(pem, n);
    free(pem);
    return path;
}

static struct gw_jwt_verifier *verifier(const char *secret, const char *key_file,
                                        const char *algorithms)
{
    struct gw_jwt_options o = {.secret = secret,
                               .secret_len = secret ? strlen(secret) : 0,
                               .public_key_file = key_file,
                               .algorithms = algorithms,
                               .leeway_s = 5};
    char err[GW_ERR_LEN] = "";
    struct gw_jwt_verifier *v = gw_jwt_verifier_new(&o, err);
    if (!v)
        fprintf(stderr, "verifier: %s\n", err);
    return v;
}

/* Expects construction to fail; returns the error sentence (static buffer). */
static const char *verifier_error(const struct gw_jwt_options *o)
{
    static char err[GW_ERR_LEN];
    err[0] = '\0';
    struct gw_jwt_verifier *v = gw_jwt_verifier_new(o, err);
    if (v) {
        gw_jwt_verifier_free(v);
        return NULL;
    }
    return err;
}

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *key = NULL;
    GW_ASSERT(EVP_PKEY_fromdata_init(ctx) == 1);
    GW_ASSERT(EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return key;
}

/* ---- RFC 7515 Appendix A ---- */

static const char rfc_payload_b64[] =
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
    "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
#define RFC_EXP INT64_C(1300819380)

static void test_rfc7515_a1_hs256(void)
{
    static const char k[] =
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
    static const char token[] = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
                                "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
                                "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
                                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    size_t key_len;
    unsigned char *key = b64url_dec(k, &key_len);
    CHECK_INT_EQ(key_len, 64);
    /* The RFC's payload has no "sub"; its "iss" stands in as the user id. */
    struct gw_jwt_options o = {.secret = key, .secret_len = key_len, .user_claim = "iss"};
    char err[GW_ERR_LEN];
    struct gw_jwt_verifier *v = gw_jwt_verifier_new(&o, err);
    CHECK(v != NULL);
    struct gw_jwt_claims c;
    CHECK_INT_EQ(gw_jwt_verify(v, token, strlen(token), RFC_EXP - 60, &c), GW_JWT_OK);
    CHECK_STR_EQ(c.user_id, "joe");
    CHECK_INT_EQ(c.user_id_len, 3);
    CHECK_INT_EQ(c.exp, RFC_EXP);
    CHECK_INT_EQ(c.valid_until, RFC_EXP);
    CHECK_INT_EQ(gw_jwt_verify(v, token, strlen(token), RFC_EXP - 1, &c), GW_JWT_OK);
    CHECK_INT_EQ(gw_jwt_verify(v, token, strlen(token), RFC_EXP, &c), GW_JWT_TOKEN_EXPIRED);
    CHECK_INT_EQ(c.exp, 0);
    CHECK_INT_EQ(c.user_id[0], '\0');
    gw_jwt_verifier_free(v);

    o.leeway_s = 5;
    v = gw_jwt_verifier_new(&o, err);
    CHECK_INT_EQ(gw_jwt_verify(v, token, strlen(token), RFC_EXP + 4, &c), GW_JWT_OK);
    CHECK_INT_EQ(c.valid_until, RFC_EXP + 5);
    CHECK_INT_EQ(gw_jwt_verify(v, token, strlen(token), RFC_EXP + 5, &c), GW_JWT_TOKEN_EXPIRED);
    gw_jwt_verifier_free(v);

    o.user_claim = NULL; /* default "sub" is absent from the RFC payload */
    v = gw_jwt_verifier_new(&o, err);
    CHECK_INT_EQ(gw_jwt_verify(v, token, strlen(token), RFC_EXP - 60, &c),
                 GW_JWT_USER_CLAIM_MISSING);
    gw_jwt_verifier_free(v);

    /* Our own signer agrees with the RFC's signature bytes for the same input. */
    char *mine = make_token_ex("{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}",
                               "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n "
                               "\"http://example.com/is_root\":true}",
                               "HS256", NULL, key, key_len, 0);
    CHECK_STR_EQ(mine, token);
    free(mine);
    free(key);
}

static void test_rfc7515_a2_rs256(void)
{
    static const char n_b64[] =
        "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0B"
        "m4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5"
        "z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7"
        "aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
    static const char sig[] = "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7"
                              "AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4"
                              "BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K"
                              "0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv"
                              "hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB"
                              "p0igcN_IoypGlUPQGe77Rw";
    size_t n_len;
    unsigned char *n = b64url_dec(n_b64, &n_len);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn_n = BN_bin2bn(n, (int)n_len, NULL), *bn_e = BN_new();
    BN_set_word(bn_e, 65537); /* "AQAB" */
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e);
    EVP_PKEY *key = pkey_from_params("RSA", bld);
    BN_free(bn_n);
    BN_free(bn_e);
    free(n);
    char *path = write_pem(key, false);
    struct gw_jwt_options o = {.public_key_file = path, .user_claim = "iss"};
    char err[GW_ERR_LEN];
    struct gw_jwt_verifier *v = gw_jwt_verifier_new(&o, err);
    CHECK(v != NULL);

    char *tok = join3("eyJhbGciOiJSUzI1NiJ9", rfc_payload_b64, sig);
    struct gw_jwt_claims c;
    CHECK_INT_EQ(gw_jwt_verify(v, tok, strlen(tok), RFC_EXP - 60, &c), GW_JWT_OK);
    CHECK_STR_EQ(c.user_id, "joe");
    CHECK_INT_EQ(gw_jwt_verify(v, tok, strlen(tok), RFC_EXP + 60, &c), GW_JWT_TOKEN_EXPIRED);
    tok[strlen(tok) - 3] ^= 1; /* one signature bit */
    CHECK_INT_EQ(gw_jwt_verify(v, tok, strlen(tok), RFC_EXP - 60, &c), GW_JWT_BAD_SIGNATURE);
    free(tok);
    gw_jwt_verifier_free(v);
    unlink(path);
    free(path);
    EVP_PKEY_free(key);
}

static void test_rfc7515_a3_es256(void)
{
    static const char x_b64[] = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    static const char y_b64[] = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
    static const char sig[] = "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSA"
                              "pmWQxfKTUJqPP3-Kg6NU1Q";
    size_t xl, yl;
    unsigned char *x = b64url_dec(x_b64, &xl), *y = b64url_dec(y_b64, &yl);
    unsigned char point[65] = {0x04};
    CHECK_INT_EQ(xl, 32);
    CHECK_INT_EQ(yl, 32);
    memcpy(point + 1, x, 32);
    memcpy(point + 33, y, 32);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point));
    EVP_PKEY *key = pkey_from_params("EC", bld);
    free(x);
    free(y);
    char *path = write_pem(key, false);
    struct gw_jwt_options o = {.public_key_file = path, .user_claim = "iss"};
    char err[GW_ERR_LEN];
    struct gw_jwt_verifier *v = gw_jwt_verifier_new(&o, err);
    CHECK(v != NULL);

    char *tok = join3("eyJhbGciOiJFUzI1NiJ9", rfc_payload_b64, sig);
    struct gw_jwt_claims c;
    CHECK_INT_EQ(gw_jwt_verify(v, tok, strlen(tok), RFC_EXP - 60, &c), GW_JWT_OK);
    CHECK_STR_EQ(c.user_id, "joe");
    tok[strlen(tok) - 5] = tok[strlen(tok) - 5] == 'A' ? 'B' : 'A';
    CHECK_INT_EQ(gw_jwt_verify(v, tok, strlen(tok), RFC_EXP - 60, &c), GW_JWT_BAD_SIGNATURE);
    free(tok);
    gw_jwt_verifier_free(v);
    unlink(path);
    free(path);
    EVP_PKEY_free(key);
}

/* ---- every algorithm ---- */

struct alg_case {
    const char *alg;
    EVP_PKEY **key;
    struct gw_jwt_verifier **v;
};

static const struct alg_case alg_cases[] = {
    {"HS256", NULL, &v_hs},        {"HS384", NULL, &v_hs},        {"HS512", NULL, &v_hs},
    {"RS256", &rsa_key, &v_rsa},   {"RS384", &rsa_key, &v_rsa},   {"RS512", &rsa_key, &v_rsa},
    {"PS256", &rsa_key, &v_rsa},   {"PS384", &rsa_key, &v_rsa},   {"PS512", &rsa_key, &v_rsa},
    {"ES256", &p256_key, &v_p256}, {"ES384", &p384_key, &v_p384},
};

static void test_every_algorithm(void)
{
    char payload[128];
    snprintf(payload, sizeof(payload), "{\"sub\":\"alice\",\"exp\":%" PRId64 "}", NOW + 600);
    for (size_t i = 0; i < GW_ARRAY_SIZE(alg_cases); i++) {
        const struct alg_case *a = &alg_cases[i];
        char *tok = sign_std(a->alg, a->key ? *a->key : NULL, payload);
        struct gw_jwt_claims c;
        enum gw_jwt_status st = verify(*a->v, tok, &c);
        if (st != GW_JWT_OK)
            fprintf(stderr, "  algorithm %s\n", a->alg);
        CHECK_INT_EQ(st, GW_JWT_OK);
        CHECK_STR_EQ(c.user_id, "alice");
        CHECK_INT_EQ(c.exp, NOW + 600);
        CHECK_INT_EQ(c.valid_until, NOW + 605);
        /* The combined verifier takes HS and RS/PS tokens alike, never ES (no EC key). */
        CHECK_INT_EQ(verify(v_both, tok, NULL),
                     a->alg[0] == 'E' ? GW_JWT_ALGORITHM_NOT_ALLOWED : GW_JWT_OK);
        free(tok);
    }
}

static void test_algorithm_must_fit_key(void)
{
    const char *payload = "{\"sub\":\"alice\"}";
    /* An algorithm is accepted only by a verifier holding its kind of key. */
    CHECK_INT_EQ(verify_free(v_p256, sign_std("RS256", rsa_key, payload)),
                 GW_JWT_ALGORITHM_NOT_ALLOWED);
    CHECK_INT_EQ(verify_free(v_p256, sign_std("ES384", p384_key, payload)),
                 GW_JWT_ALGORITHM_NOT_ALLOWED);
    CHECK_INT_EQ(verify_free(v_p384, sign_std("ES256", p256_key, payload)),
                 GW_JWT_ALGORITHM_NOT_ALLOWED);
    CHECK_INT_EQ(verify_free(v_rsa, sign_std("ES256", p256_key, payload)),
                 GW_JWT_ALGORITHM_NOT_ALLOWED);
    CHECK_INT_EQ(verify_free(v_hs, sign_std("RS256", rsa_key, payload)),
                 GW_JWT_ALGORITHM_NOT_ALLOWED);
    /* alg names are case-sensitive (RFC 7515 §4.1.1) and unknown ones are refused. */
    CHECK_INT_EQ(verify_free(v_hs, make_token("{\"alg\":\"hs256\"}", payload, "HS256", NULL)),
                 GW_JWT_ALGORITHM_NOT_ALLOWED);
    CHECK_INT_EQ(verify_free(v_p256, make_token("{\"alg\":\"ES512\"}", payload, "ES256", p256_key)),
                 GW_JWT_ALGORITHM_NOT_ALLOWED);
    /* The header's alg decides, and a mismatched signature is caught: an RS256 signature
     * relabelled PS256 does not verify. */
    char *rs = sign_std("RS256", rsa_key, payload);
    char *sig = segment(rs, 2), *body = segment(rs, 1);
    const char *ps = "{\"alg\":\"PS256\"}";
    char *ps_header = b64url(ps, strlen(ps));
    CHECK_INT_EQ(verify_free(v_rsa, join3(ps_header, body, sig)), GW_JWT_BAD_SIGNATURE);
    free(rs);
    free(sig);
    free(body);
    free(ps_header);
    /* RFC 7518 §3.5 fixes the PSS salt at the hash length; other salts are refused. */
    CHECK_INT_EQ(verify_free(v_rsa, make_token_ex("{\"alg\":\"PS256\"}", payload, "PS256", rsa_key,
                                                  NULL, 0, RSA_PSS_SALTLEN_MAX)),
                 GW_JWT_BAD_SIGNATURE);
}

/* ---- attacks ---- */

static void test_alg_none(void)
{
    const char *names[] = {"none", "None", "NONE", "nOnE"};
    const char *mallory = "{\"sub\":\"mallory\"}";
    char *body = b64url(mallory, strlen(mallory));
    for (size_t i = 0; i < GW_ARRAY_SIZE(names); i++) {
        char header[64];
        snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", names[i]);
        char *h = b64url(header, strlen(header));
        char *tok = join3(h, body, ""); /* the unsecured JWS form: empty signature */
        CHECK_INT_EQ(verify(v_hs, tok, NULL), GW_JWT_ALGORITHM_NOT_ALLOWED);
        CHECK_INT_EQ(verify(v_rsa, tok, NULL), GW_JWT_ALGORITHM_NOT_ALLOWED);
        CHECK_INT_EQ(verify(v_both, tok, NULL), GW_JWT_ALGORITHM_NOT_ALLOWED);
        free(tok);
        /* with something in the signature slot as well */
        tok = join3(h, body, "c2lnbmF0dXJl");
        CHECK_INT_EQ(verify(v_both, tok, NULL), GW_JWT_ALGORITHM_NOT_ALLOWED);
        free(tok);
        free(h);
    }
    free(body);
    /* and "none" cannot be configured */
    struct gw_jwt_options o = {.secret = SECRET, .secret_len = strlen(SECRET)};
    o.algorithms = "HS256,none";
    CHECK(verifier_error(&o) && strstr(verifier_error(&o), "none"));
    o.algorithms = " NONE ";
    CHECK(verifier_error(&o) != NULL);
}

static void test_hs256_with_public_key_as_secret(void)
{
    /* The classic confusion: sign HS256 with the server's public key PEM as HMAC secret. */
    size_t pem_len;
    char *pem = pem_of(rsa_key, false, &pem_len);
    const char *payload = "{\"sub\":\"mallory\"}";
    char *tok = make_token_ex("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, "HS256", NULL, pem,
                              pem_len, 0);
    CHECK_INT_EQ(verify(v_rsa, tok, NULL), GW_JWT_ALGORITHM_NOT_ALLOWED);
    /* with a secret configured too, HS256 is checked against that secret only */
    CHECK_INT_EQ(verify(v_both, tok, NULL), GW_JWT_BAD_SIGNATURE);
    free(tok);
    /* the same with the trailing newline stripped, as some attack tools do */
    tok = make_token_ex("{\"alg\":\"HS256\"}", payload, "HS256", NULL, pem, pem_len - 1, 0);
    CHECK_INT_EQ(verify(v_rsa, tok, NULL), GW_JWT_ALGORITHM_NOT_ALLOWED);
    CHECK_INT_EQ(verify(v_both, tok, NULL), GW_JWT_BAD_SIGNATURE);
    free(tok);

    /* An allowlist cannot open HS* without a secret ... */
    struct gw_jwt_options o = {.public_key_file = rsa_pem, .algorithms = "RS256,HS256"};
    const char *err = verifier_error(&o);
    CHECK(err && strstr(err, "HS256") && strstr(err, "JWT_SECRET"));
    /* ... and a PEM key is refused as the secret itself. */
    o = (struct gw_jwt_options){.secret = pem, .secret_len = pem_len, .public_key_file = rsa_pem};
    err = verifier_error(&o);
    CHECK(err && strstr(err, "PEM"));
    free(pem);
}

static void test_signature_tampering(void)
{
    char payload[128];
    snprintf(payload, sizeof(payload), "{\"sub\":\"alice\",\"exp\":%" PRId64 "}", NOW + 600);
    for (size_t i = 0; i < GW_ARRAY_SIZE(alg_cases); i++) {
        const struct alg_case *a = &alg_cases[i];
        struct gw_jwt_verifier *v = *a->v;
        char *tok = sign_std(a->alg, a->key ? *a->key : NULL, payload);
        char *h = segment(tok, 0), *p = segment(tok, 1), *s = segment(tok, 2);

        /* stripped signature, and a missing signature segment */
        CHECK_INT_EQ(verify_free(v, join3(h, p, "")), GW_JWT_BAD_SIGNATURE);
        size_t hp_len = strlen(h) + 1 + strlen(p);
        char *two = gw_strndup(tok, hp_len);
        CHECK_INT_EQ(verify_free(v, two), GW_JWT_MALFORMED);

        /* tampered payload: alice -> admin, original signature */
        const char *admin = "{\"sub\":\"admin\",\"exp\":9999999999}";
        char *evil = b64url(admin, strlen(admin));
        CHECK_INT_EQ(verify_free(v, join3(h, evil, s)), GW_JWT_BAD_SIGNATURE);
        free(evil);

        /* tampered header: same alg, one more member */
        char hdr[64];
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"typ\":\"JWS\"}", a->alg);
        char *h2 = b64url(hdr, strlen(hdr));
        CHECK_INT_EQ(verify_free(v, join3(h2, p, s)), GW_JWT_BAD_SIGNATURE);
        free(h2);

        /* a flipped bit in the signature bytes */
        size_t sig_len;
        unsigned char *raw = b64url_dec(s, &sig_len);
        raw[sig_len / 2] ^= 0x01;
        char *s2 = b64url(raw, sig_len);
        CHECK_INT_EQ(verify_free(v, join3(h, p, s2)), GW_JWT_BAD_SIGNATURE);
        free(s2);

        /* one byte short and one byte long */
        s2 = b64url(raw, sig_len - 1);
        CHECK_INT_EQ(verify_free(v, join3(h, p, s2)), GW_JWT_BAD_SIGNATURE);
        free(s2);
        unsigned char longer[600];
        memcpy(longer, raw, sig_len);
        longer[sig_len] = 0;
        s2 = b64url(longer, sig_len + 1);
        CHECK_INT_EQ(verify_free(v, join3(h, p, s2)), GW_JWT_BAD_SIGNATURE);
        free(s2);
        free(raw);
        free(h);
        free(p);
        free(s);
        free(tok);
    }
}

static void test_signature_from_another_key(void)
{
    const char *payload = "{\"sub\":\"alice\"}";
    const char *other = "another-secret-0123456789abcdef01";
    CHECK_INT_EQ(verify_free(v_hs, make_token_ex("{\"alg\":\"HS256\"}", payload, "HS256", NULL,
                                                 other, strlen(other), 0)),
                 GW_JWT_BAD_SIGNATURE);
    CHECK_INT_EQ(verify_free(v_rsa, sign_std("RS256", rsa_other, payload)), GW_JWT_BAD_SIGNATURE);
    CHECK_INT_EQ(verify_free(v_rsa, sign_std("PS384", rsa_other, payload)), GW_JWT_BAD_SIGNATURE);
    CHECK_INT_EQ(verify_free(v_p256, sign_std("ES256", p256_other, payload)), GW_JWT_BAD_SIGNATURE);
}

static void test_ecdsa_signature_forms(void)
{
    const char *payload = "{\"sub\":\"alice\"}";
    char *tok = sign_std("ES256", p256_key, payload);
    char *h = segment(tok, 0), *p = segment(tok, 1);
    /* A DER signature (what OpenSSL produces natively) is not the JOSE form. */
    char *input = gw_malloc(strlen(h) + strlen(p) + 2);
    sprintf(input, "%s.%s", h, p);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char der[128];
    size_t der_len = sizeof(der);
    GW_ASSERT(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, p256_key) == 1);
    GW_ASSERT(EVP_DigestSign(ctx, der, &der_len, (unsigned char *)input, strlen(input)) == 1);
    EVP_MD_CTX_free(ctx);
    char *s = b64url(der, der_len);
    CHECK_INT_EQ(verify_free(v_p256, join3(h, p, s)), GW_JWT_BAD_SIGNATURE);
    free(s);
    /* r = s = 0 (the "psychic signature") */
    unsigned char zeros[64] = {0};
    s = b64url(zeros, sizeof(zeros));
    CHECK_INT_EQ(verify_free(v_p256, join3(h, p, s)), GW_JWT_BAD_SIGNATURE);
    free(s);
    free(input);
    free(h);
    free(p);
    free(tok);
}

/* ---- claims ---- */

static enum gw_jwt_status hs_claims(const char *payload, struct gw_jwt_claims *c)
{
    char *tok = hs256(payload);
    enum gw_jwt_status st = verify(v_hs, tok, c);
    free(tok);
    return st;
}

static enum gw_jwt_status with_time(const char *claim, int64_t delta)
{
    char payload[128];
    snprintf(payload, sizeof(payload), "{\"sub\":\"alice\",\"%s\":%" PRId64 "}", claim,
             NOW + delta);
    return hs_claims(payload, NULL);
}

static void test_time_claims(void)
{
    /* v_hs has a 5 s leeway */
    CHECK_INT_EQ(with_time("exp", 60), GW_JWT_OK);
    CHECK_INT_EQ(with_time("exp", -1), GW_JWT_OK);
    CHECK_INT_EQ(with_time("exp", -4), GW_JWT_OK);
    CHECK_INT_EQ(with_time("exp", -5), GW_JWT_TOKEN_EXPIRED);
    CHECK_INT_EQ(with_time("exp", -3600), GW_JWT_TOKEN_EXPIRED);
    CHECK_INT_EQ(with_time("nbf", -60), GW_JWT_OK);
    CHECK_INT_EQ(with_time("nbf", 5), GW_JWT_OK);
    CHECK_INT_EQ(with_time("nbf", 6), GW_JWT_NOT_YET_VALID);
    CHECK_INT_EQ(with_time("nbf", 3600), GW_JWT_NOT_YET_VALID);
    CHECK_INT_EQ(with_time("iat", -60), GW_JWT_OK);
    CHECK_INT_EQ(with_time("iat", 5), GW_JWT_OK);
    CHECK_INT_EQ(with_time("iat", 6), GW_JWT_NOT_YET_VALID);
    CHECK_INT_EQ(with_time("iat", 3600), GW_JWT_NOT_YET_VALID);

    struct gw_jwt_claims c;
    char payload[160];
    /* NumericDate may be a real number */
    snprintf(payload, sizeof(payload), "{\"sub\":\"a\",\"exp\":%" PRId64 ".5}", NOW - 5);
    CHECK_INT_EQ(hs_claims(payload, &c), GW_JWT_OK);
    CHECK_INT_EQ(c.exp, NOW - 5);
    CHECK_INT_EQ(c.valid_until, NOW + 1);
    snprintf(payload, sizeof(payload), "{\"sub\":\"a\",\"exp\":%" PRId64 ".0}", NOW - 5);
    CHECK_INT_EQ(hs_claims(payload, &c), GW_JWT_TOKEN_EXPIRED);
    snprintf(payload, sizeof(payload), "{\"sub\":\"a\",\"exp\":1e300}");
    CHECK_INT_EQ(hs_claims(payload, &c), GW_JWT_OK);
    CHECK_INT_EQ(c.exp, INT64_MAX);
    /* no exp: accepted, and nothing to schedule */
    CHECK_INT_EQ(hs_claims("{\"sub\":\"a\"}", &c), GW_JWT_OK);
    CHECK_INT_EQ(c.exp, 0);
    CHECK_INT_EQ(c.valid_until, 0);
    /* present but not a number */
    CHECK_INT_EQ(hs_claims("{\"sub\":\"a\",\"exp\":\"9999999999\"}", &c), GW_JWT_MALFORMED);
    CHECK_INT_EQ(hs_claims("{\"sub\":\"a\",\"nbf\":null}", &c), GW_JWT_MALFORMED);
    CHECK_INT_EQ(hs_claims("{\"sub\":\"a\",\"iat\":[1]}", &c), GW_JWT_MALFORMED);
    /* expiry is checked before the user claim */
    snprintf(payload, sizeof(payload), "{\"exp\":%" PRId64 "}", NOW - 60);
    CHECK_INT_EQ(hs_claims(payload, &c), GW_JWT_TOKEN_EXPIRED);
}

static void test_issuer_and_audience(void)
{
    struct gw_jwt_options o = {.secret = SECRET,
                               .secret_len = strlen(SECRET),
                               .issuer = "https://auth.example/",
                               .audience = "notify-gateway",
                               .leeway_s = 5};
    char err[GW_ERR_LEN];
    struct gw_jwt_verifier *v = gw_jwt_verifier_new(&o, err);
    CHECK(v != NULL);
    static const struct {
        const char *payload;
        enum gw_jwt_status want;
    } cases[] = {
        {"{\"sub\":\"a\",\"iss\":\"https://auth.example/\",\"aud\":\"notify-gateway\"}", GW_JWT_OK},
        {"{\"sub\":\"a\",\"iss\":\"https://auth.example/\",\"aud\":[\"x\",\"notify-gateway\"]}",
         GW_JWT_OK},
        {"{\"sub\":\"a\",\"iss\":\"https://evil.example/\",\"aud\":\"notify-gateway\"}",
         GW_JWT_ISSUER_MISMATCH},
        {"{\"sub\":\"a\",\"iss\":\"https://auth.example\",\"aud\":\"notify-gateway\"}",
         GW_JWT_ISSUER_MISMATCH},
        {"{\"sub\":\"a\",\"iss\":\"HTTPS://AUTH.EXAMPLE/\",\"aud\":\"notify-gateway\"}",
         GW_JWT_ISSUER_MISMATCH},
        {"{\"sub\":\"a\",\"aud\":\"notify-gateway\"}", GW_JWT_ISSUER_MISMATCH},
        {"{\"sub\":\"a\",\"iss\":[\"https://auth.example/\"],\"aud\":\"notify-gateway\"}",
         GW_JWT_ISSUER_MISMATCH},
        {"{\"sub\":\"a\",\"iss\":\"https://auth.example/\",\"aud\":\"other\"}",
         GW_JWT_AUDIENCE_MISMATCH},
        {"{\"sub\":\"a\",\"iss\":\"https://auth.example/\",\"aud\":\"notify-gateway2\"}",
         GW_JWT_AUDIENCE_MISMATCH},
        {"{\"sub\":\"a\",\"iss\":\"https://auth.example/\",\"aud\":[\"x\",\"y\"]}",
         GW_JWT_AUDIENCE_MISMATCH},
        {"{\"sub\":\"a\",\"iss\":\"https://auth.example/\",\"aud\":[]}", GW_JWT_AUDIENCE_MISMATCH},
        {"{\"sub\":\"a\",\"iss\":\"https://auth.example/\",\"aud\":[[\"notify-gateway\"]]}",
         GW_JWT_AUDIENCE_MISMATCH},
        {"{\"sub\":\"a\",\"iss\":\"https://auth.example/\",\"aud\":7}", GW_JWT_AUDIENCE_MISMATCH},
        {"{\"sub\":\"a\",\"iss\":\"https://auth.example/\"}", GW_JWT_AUDIENCE_MISMATCH},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(cases); i++) {
        char *tok = hs256(cases[i].payload);
        enum gw_jwt_status st = verify(v, tok, NULL);
        if (st != cases[i].want)
            fprintf(stderr, "  payload %s\n", cases[i].payload);
        CHECK_INT_EQ(st, cases[i].want);
        free(tok);
    }
    gw_jwt_verifier_free(v);
    /* Without configuration neither claim is looked at. */
    CHECK_INT_EQ(hs_claims("{\"sub\":\"a\",\"iss\":\"anyone\",\"aud\":5}", NULL), GW_JWT_OK);
}

static void test_user_claim(void)
{
    struct gw_jwt_claims c;
    CHECK_INT_EQ(hs_claims("{\"sub\":\"user-42\"}", &c), GW_JWT_OK);
    CHECK_STR_EQ(c.user_id, "user-42");
    CHECK_INT_EQ(c.user_id_len, 7);
    CHECK_INT_EQ(hs_claims("{\"sub\":12345}", &c), GW_JWT_OK);
    CHECK_STR_EQ(c.user_id, "12345");
    CHECK_INT_EQ(c.user_id_len, 5);
    CHECK_INT_EQ(hs_claims("{\"sub\":-7}", &c), GW_JWT_OK);
    CHECK_STR_EQ(c.user_id, "-7");
    CHECK_INT_EQ(hs_claims("{\"sub\":\"jos\\u00e9\"}", &c), GW_JWT_OK);
    CHECK_STR_EQ(c.user_id, "jos\xc3\xa9");

    const char *bad[] = {
        "{}",
        "{\"name\":\"alice\"}",
        "{\"sub\":null}",
        "{\"sub\":true}",
        "{\"sub\":1.5}",
        "{\"sub\":{\"id\":\"alice\"}}",
        "{\"sub\":[\"alice\"]}",
        "{\"sub\":\"\"}",
        "{\"sub\":\"a\\u0001b\"}",
        "{\"sub\":\"a\\nb\"}",
        "{\"sub\":\"a\\u007fb\"}",
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad); i++) {
        enum gw_jwt_status st = hs_claims(bad[i], &c);
        if (st != GW_JWT_USER_CLAIM_MISSING)
            fprintf(stderr, "  payload %s\n", bad[i]);
        CHECK_INT_EQ(st, GW_JWT_USER_CLAIM_MISSING);
        CHECK_INT_EQ(c.user_id_len, 0);
    }

    /* 256 bytes is the cap */
    char payload[400], id[GW_JWT_MAX_USER_ID_LEN + 2];
    memset(id, 'u', sizeof(id) - 1);
    id[GW_JWT_MAX_USER_ID_LEN] = '\0';
    snprintf(payload, sizeof(payload), "{\"sub\":\"%s\"}", id);
    CHECK_INT_EQ(hs_claims(payload, &c), GW_JWT_OK);
    CHECK_INT_EQ(c.user_id_len, GW_JWT_MAX_USER_ID_LEN);
    CHECK_STR_EQ(c.user_id, id);
    id[GW_JWT_MAX_USER_ID_LEN] = 'u';
    id[GW_JWT_MAX_USER_ID_LEN + 1] = '\0';
    snprintf(payload, sizeof(payload), "{\"sub\":\"%s\"}", id);
    CHECK_INT_EQ(hs_claims(payload, &c), GW_JWT_USER_CLAIM_MISSING);

    /* a configured claim name */
    struct gw_jwt_options o = {.secret = SECRET, .secret_len = strlen(SECRET), .user_claim = "uid"};
    char err[GW_ERR_LEN];
    struct gw_jwt_verifier *v = gw_jwt_verifier_new(&o, err);
    char *tok = hs256("{\"sub\":\"alice\",\"uid\":\"u-1\"}");
    CHECK_INT_EQ(verify(v, tok, &c), GW_JWT_OK);
    CHECK_STR_EQ(c.user_id, "u-1");
    free(tok);
    CHECK_INT_EQ(verify_free(v, hs256("{\"sub\":\"alice\"}")), GW_JWT_USER_CLAIM_MISSING);
    gw_jwt_verifier_free(v);
}

/* ---- structure ---- */

static void test_malformed(void)
{
    struct gw_jwt_claims c;
    CHECK_INT_EQ(gw_jwt_verify(v_hs, "", 0, NOW, &c), GW_JWT_TOKEN_MISSING);
    CHECK_INT_EQ(gw_jwt_verify(v_hs, NULL, 0, NOW, &c), GW_JWT_TOKEN_MISSING);

    char *good = hs256("{\"sub\":\"alice\"}");
    CHECK_INT_EQ(verify(v_hs, good, NULL), GW_JWT_OK);
    char *h = segment(good, 0), *p = segment(good, 1), *s = segment(good, 2);

    const char *plain[] = {"abc", ".", "..", "...", "a.b", "a.b.c.d"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(plain); i++)
        CHECK_INT_EQ(verify(v_hs, plain[i], NULL), GW_JWT_MALFORMED);
    /* a valid token with an extra segment */
    size_t n = strlen(good) + 8;
    char *four = gw_malloc(n);
    snprintf(four, n, "%s.%s", good, s);
    CHECK_INT_EQ(verify_free(v_hs, four), GW_JWT_MALFORMED);
    /* base64 padding, standard-alphabet characters, whitespace, non-canonical last char */
    char *padded = gw_malloc(strlen(h) + 2);
    sprintf(padded, "%s=", h);
    CHECK_INT_EQ(verify_free(v_hs, join3(padded, p, s)), GW_JWT_MALFORMED);
    free(padded);
    padded = gw_malloc(strlen(s) + 3);
    sprintf(padded, "%s=", s); /* HS256: 43 chars + "=" is standard base64 */
    CHECK_INT_EQ(verify_free(v_hs, join3(h, p, padded)), GW_JWT_MALFORMED);
    free(padded);
    char *bad = gw_strdup(p);
    bad[1] = '+';
    CHECK_INT_EQ(verify_free(v_hs, join3(h, bad, s)), GW_JWT_MALFORMED);
    bad[1] = ' ';
    CHECK_INT_EQ(verify_free(v_hs, join3(h, bad, s)), GW_JWT_MALFORMED);
    free(bad);
    bad = gw_strdup(s);
    bad[3] = '/';
    CHECK_INT_EQ(verify_free(v_hs, join3(h, p, bad)), GW_JWT_MALFORMED);
    /* an embedded NUL within len */
    size_t len = strlen(h) + strlen(p) + 2 + strlen(s);
    char *nul = join3(h, p, s);
    nul[len - 10] = '\0';
    CHECK_INT_EQ(gw_jwt_verify(v_hs, nul, len, NOW, &c), GW_JWT_MALFORMED);
    free(nul);
    free(bad);
    /* 43 characters carry 258 bits: the last two must be zero (HS256 signature) */
    bad = gw_strdup(s);
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int last = (int)(strchr(alphabet, bad[42]) - alphabet);
    bad[42] = alphabet[last | 1];
    CHECK_INT_EQ(verify_free(v_hs, join3(h, p, bad)), GW_JWT_MALFORMED);
    free(bad);
    /* a segment whose length cannot be base64 (4n+1) */
    CHECK_INT_EQ(verify_free(v_hs, join3("eyJhb", p, s)), GW_JWT_MALFORMED);

    /* Bearer is the caller's business: verify takes a bare token. */
    n = strlen(good) + 8;
    char *bearer = gw_malloc(n);
    snprintf(bearer, n, "Bearer %s", good);
    CHECK_INT_EQ(verify_free(v_hs, bearer), GW_JWT_MALFORMED);
    free(h);
    free(p);
    free(s);
    free(good);
}

static void test_malformed_json(void)
{
    const char *body = "{\"sub\":\"alice\"}";
    /* header problems (the signature is valid for what is there) */
    CHECK_INT_EQ(verify_free(v_hs, make_token("{\"alg\":\"HS256\"", body, "HS256", NULL)),
                 GW_JWT_MALFORMED);
    CHECK_INT_EQ(verify_free(v_hs, make_token("not json", body, "HS256", NULL)), GW_JWT_MALFORMED);
    CHECK_INT_EQ(verify_free(v_hs, make_token("", body, "HS256", NULL)), GW_JWT_MALFORMED);
    CHECK_INT_EQ(verify_free(v_hs, make_token("[\"HS256\"]", body, "HS256", NULL)),
                 GW_JWT_MALFORMED);
    CHECK_INT_EQ(verify_free(v_hs, make_token("\"HS256\"", body, "HS256", NULL)), GW_JWT_MALFORMED);
    CHECK_INT_EQ(verify_free(v_hs, make_token("{\"typ\":\"JWT\"}", body, "HS256", NULL)),
                 GW_JWT_MALFORMED);
    CHECK_INT_EQ(verify_free(v_hs, make_token("{\"alg\":256}", body, "HS256", NULL)),
                 GW_JWT_MALFORMED);
    CHECK_INT_EQ(verify_free(v_hs, make_token("{\"alg\":\"HS256\"} x", body, "HS256", NULL)),
                 GW_JWT_MALFORMED);
    CHECK_INT_EQ(
        verify_free(v_hs, make_token("{\"alg\":\"HS256\",\"alg\":\"none\"}", body, "HS256", NULL)),
        GW_JWT_MALFORMED);
    CHECK_INT_EQ(verify_free(v_hs, make_token("{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}",
                                              body, "HS256", NULL)),
                 GW_JWT_MALFORMED);
    CHECK_INT_EQ(
        verify_free(v_hs, make_token("{\"alg\":\"HS256\",\"x\":\"\xff\"}", body, "HS256", NULL)),
        GW_JWT_MALFORMED);
    /* payload problems, behind a valid signature */
    CHECK_INT_EQ(verify_free(v_hs, hs256("{\"sub\":\"alice\"")), GW_JWT_MALFORMED);
    CHECK_INT_EQ(verify_free(v_hs, hs256("[\"alice\"]")), GW_JWT_MALFORMED);
    CHECK_INT_EQ(verify_free(v_hs, hs256("Payload")), GW_JWT_MALFORMED);
    CHECK_INT_EQ(verify_free(v_hs, hs256("")), GW_JWT_MALFORMED);
    CHECK_INT_EQ(verify_free(v_hs, hs256("{\"sub\":\"alice\",\"sub\":\"admin\"}")),
                 GW_JWT_MALFORMED);
    CHECK_INT_EQ(verify_free(v_hs, hs256("{\"sub\":\"a\\u0000b\"}")), GW_JWT_MALFORMED);
    /* header ignored parameters do not matter: kid, jku and jwk never pick a key */
    CHECK_INT_EQ(verify_free(v_hs, make_token("{\"alg\":\"HS256\",\"kid\":\"../../etc/passwd\","
                                              "\"jku\":\"https://evil.example/jwks\"}",
                                              body, "HS256", NULL)),
                 GW_JWT_OK);
}

static void test_size_limit(void)
{
    /* A header of ~6 KiB (token under 8 KiB) is fine; one that pushes the token past the cap
     * is refused before any crypto. */
    char header[8192];
    size_t fill = 5900;
    int n = snprintf(header, sizeof(header), "{\"alg\":\"HS256\",\"pad\":\"");
    memset(header + n, 'x', fill);
    strcpy(header + n + fill, "\"}");
    char *tok = make_token(header, "{\"sub\":\"alice\"}", "HS256", NULL);
    CHECK(strlen(tok) <= GW_JWT_MAX_TOKEN_LEN);
    CHECK_INT_EQ(verify_free(v_hs, tok), GW_JWT_OK);

    fill = 6200;
    memset(header + n, 'x', fill);
    strcpy(header + n + fill, "\"}");
    tok = make_token(header, "{\"sub\":\"alice\"}", "HS256", NULL);
    CHECK(strlen(tok) > GW_JWT_MAX_TOKEN_LEN);
    CHECK_INT_EQ(verify_free(v_hs, tok), GW_JWT_MALFORMED);

    /* a huge length with the right prefix is refused outright */
    char *big = gw_malloc(1 << 20);
    memset(big, 'A', 1 << 20);
    CHECK_INT_EQ(gw_jwt_verify(v_hs, big, 1 << 20, NOW, &(struct gw_jwt_claims){0}),
                 GW_JWT_MALFORMED);
    free(big);
}

/* ---- bearer, codes, messages ---- */

static const char *strip(const char *in, size_t *len)
{
    *len = strlen(in);
    return gw_jwt_strip_bearer(in, len);
}

static void test_strip_bearer(void)
{
    size_t n;
    const char *in = "Bearer abc.def.ghi";
    const char *p = strip(in, &n);
    CHECK(p == in + 7);
    CHECK_MEM_EQ(p, n, "abc.def.ghi", 11);
    p = strip("bearer    abc.def.ghi", &n);
    CHECK_MEM_EQ(p, n, "abc.def.ghi", 11);
    p = strip("BEARER abc", &n);
    CHECK_MEM_EQ(p, n, "abc", 3);
    p = strip("  Bearer abc \t", &n);
    CHECK_MEM_EQ(p, n, "abc", 3);
    p = strip("abc.def.ghi", &n);
    CHECK_MEM_EQ(p, n, "abc.def.ghi", 11);
    p = strip("Bearerabc", &n);
    CHECK_MEM_EQ(p, n, "Bearerabc", 9);
    p = strip("Bearer ", &n);
    CHECK_INT_EQ(n, 0);
    p = strip("Bearer", &n);
    CHECK_INT_EQ(n, 0);
    p = strip("", &n);
    CHECK_INT_EQ(n, 0);
    n = 5;
    CHECK(gw_jwt_strip_bearer(NULL, &n) == NULL);
    CHECK_INT_EQ(n, 0);
    /* only the given length is read */
    n = 10;
    p = gw_jwt_strip_bearer("Bearer abcdef", &n);
    CHECK_MEM_EQ(p, n, "abc", 3);

    /* end to end: a stripped "Bearer <token>" verifies; "Bearer " alone is a missing token */
    char *tok = hs256("{\"sub\":\"alice\"}");
    size_t len = strlen(tok) + 16;
    char *header = gw_malloc(len);
    snprintf(header, len, "bearer  %s", tok);
    n = strlen(header);
    p = gw_jwt_strip_bearer(header, &n);
    struct gw_jwt_claims c;
    CHECK_INT_EQ(gw_jwt_verify(v_hs, p, n, NOW, &c), GW_JWT_OK);
    CHECK_STR_EQ(c.user_id, "alice");
    p = strip("Bearer   ", &n);
    CHECK_INT_EQ(gw_jwt_verify(v_hs, p, n, NOW, &c), GW_JWT_TOKEN_MISSING);
    free(header);
    free(tok);
}

static const char *pick(const char *auth, const char *header, const char *query, size_t *len)
{
    struct gw_jwt_sources src = {auth,   auth ? strlen(auth) : 0,
                                 header, header ? strlen(header) : 0,
                                 query,  query ? strlen(query) : 0};
    return gw_jwt_pick_token(&src, len);
}

static void test_pick_token(void)
{
    size_t n;
    const char *p = pick("Bearer aaa", "Bearer hhh", "qqq", &n);
    CHECK_MEM_EQ(p, n, "aaa", 3);
    p = pick("aaa", "Bearer hhh", "qqq", &n);
    CHECK_MEM_EQ(p, n, "aaa", 3);
    p = pick(NULL, "Bearer hhh", "qqq", &n);
    CHECK_MEM_EQ(p, n, "hhh", 3);
    p = pick("", "bearer hhh", "qqq", &n); /* an empty auth.token does not count */
    CHECK_MEM_EQ(p, n, "hhh", 3);
    p = pick("Bearer ", NULL, "qqq", &n);
    CHECK_MEM_EQ(p, n, "qqq", 3);
    p = pick(NULL, "Basic dXNlcjpwYXNz", "qqq", &n); /* other schemes are not tokens */
    CHECK_MEM_EQ(p, n, "qqq", 3);
    p = pick(NULL, "hhh", "qqq", &n); /* the header needs the Bearer scheme */
    CHECK_MEM_EQ(p, n, "qqq", 3);
    p = pick(NULL, "Bearer ", "Bearer qqq", &n);
    CHECK_MEM_EQ(p, n, "qqq", 3);
    p = pick(NULL, NULL, NULL, &n);
    CHECK(p == NULL);
    CHECK_INT_EQ(n, 0);
    p = pick("", "Bearer  ", "", &n);
    CHECK(p == NULL);
    CHECK_INT_EQ(n, 0);
    struct gw_jwt_claims c;
    CHECK_INT_EQ(gw_jwt_verify(v_hs, p, n, NOW, &c), GW_JWT_TOKEN_MISSING);
}

static void test_codes_and_messages(void)
{
    CHECK_STR_EQ(gw_jwt_code(GW_JWT_TOKEN_MISSING), "TOKEN_MISSING");
    CHECK_STR_EQ(gw_jwt_code(GW_JWT_MALFORMED), "TOKEN_INVALID");
    CHECK_STR_EQ(gw_jwt_code(GW_JWT_BAD_SIGNATURE), "TOKEN_INVALID");
    CHECK_STR_EQ(gw_jwt_code(GW_JWT_ALGORITHM_NOT_ALLOWED), "ALGORITHM_NOT_ALLOWED");
    CHECK_STR_EQ(gw_jwt_code(GW_JWT_TOKEN_EXPIRED), "TOKEN_EXPIRED");
    CHECK_STR_EQ(gw_jwt_code(GW_JWT_NOT_YET_VALID), "TOKEN_NOT_YET_VALID");
    CHECK_STR_EQ(gw_jwt_code(GW_JWT_ISSUER_MISMATCH), "ISSUER_MISMATCH");
    CHECK_STR_EQ(gw_jwt_code(GW_JWT_AUDIENCE_MISMATCH), "AUDIENCE_MISMATCH");
    CHECK_STR_EQ(gw_jwt_code(GW_JWT_USER_CLAIM_MISSING), "USER_CLAIM_MISSING");
    /* a forged token learns nothing from the message about what failed */
    CHECK_STR_EQ(gw_jwt_strerror(GW_JWT_MALFORMED), gw_jwt_strerror(GW_JWT_BAD_SIGNATURE));
    for (int st = GW_JWT_OK; st <= GW_JWT_USER_CLAIM_MISSING; st++) {
        const char *m = gw_jwt_strerror((enum gw_jwt_status)st);
        CHECK(m && m[0] && m[strlen(m) - 1] == '.');
        CHECK(!strstr(m, "signature"));
    }
}

/* ---- configuration ---- */

static void test_verifier_config(void)
{
    struct gw_jwt_options o = {0};
    const char *err = verifier_error(&o);
    CHECK(err && strstr(err, "JWT_SECRET") && strstr(err, "JWT_PUBLIC_KEY_FILE"));

    o = (struct gw_jwt_options){.secret = "", .secret_len = 0};
    CHECK(verifier_error(&o) != NULL);
    o = (struct gw_jwt_options){.public_key_file = "/nonexistent/key.pem"};
    err = verifier_error(&o);
    CHECK(err && strstr(err, "/nonexistent/key.pem"));

    char *garbage = write_temp("hello\n", 6);
    o.public_key_file = garbage;
    CHECK(verifier_error(&o) != NULL);
    unlink(garbage);
    free(garbage);

    char *priv = write_pem(rsa_key, true);
    o.public_key_file = priv;
    err = verifier_error(&o);
    CHECK(err && strstr(err, "private key"));
    unlink(priv);
    free(priv);

    EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    char *small_pem = write_pem(small, false);
    o.public_key_file = small_pem;
    err = verifier_error(&o);
    CHECK(err && strstr(err, "1024"));
    unlink(small_pem);
    free(small_pem);
    EVP_PKEY_free(small);

    EVP_PKEY *p521 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
    char *p521_pem = write_pem(p521, false);
    o.public_key_file = p521_pem;
    err = verifier_error(&o);
    CHECK(err && strstr(err, "secp521r1"));
    unlink(p521_pem);
    free(p521_pem);
    EVP_PKEY_free(p521);

    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    char *ed_pem = write_pem(ed, false);
    o.public_key_file = ed_pem;
    err = verifier_error(&o);
    CHECK(err && strstr(err, "ED25519"));
    unlink(ed_pem);
    free(ed_pem);
    EVP_PKEY_free(ed);

    /* allowlists */
    static const struct {
        bool secret;
        const char *key;
        const char *algorithms;
    } refused[] = {
        {false, "rsa", "HS256"},     {false, "p256", "ES384"}, {false, "p384", "ES256"},
        {false, "p256", "RS256"},    {true, NULL, "RS256"},    {true, NULL, ""},
        {true, NULL, "HS256,,"},     {true, NULL, "HS256, "},  {true, NULL, "FOO"},
        {true, NULL, "HS256 RS256"}, {false, "rsa", "ES256"},  {true, NULL, "ES512"},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(refused); i++) {
        const char *key = refused[i].key;
        o = (struct gw_jwt_options){.secret = refused[i].secret ? SECRET : NULL,
                                    .secret_len = refused[i].secret ? strlen(SECRET) : 0,
                                    .public_key_file = !key                       ? NULL
                                                       : strcmp(key, "rsa") == 0  ? rsa_pem
                                                       : strcmp(key, "p256") == 0 ? p256_pem
                                                                                  : p384_pem,
                                    .algorithms = refused[i].algorithms};
        err = verifier_error(&o);
        if (!err)
            fprintf(stderr, "  allowlist \"%s\" was accepted\n", refused[i].algorithms);
        CHECK(err != NULL && err[0] != '\0');
    }

    /* an explicit allowlist narrows what the keys would allow */
    struct gw_jwt_verifier *v = verifier(SECRET, rsa_pem, " hs256 , PS256");
    CHECK(v != NULL);
    const char *body = "{\"sub\":\"alice\"}";
    CHECK_INT_EQ(verify_free(v, sign_std("HS256", NULL, body)), GW_JWT_OK);
    CHECK_INT_EQ(verify_free(v, sign_std("PS256", rsa_key, body)), GW_JWT_OK);
    CHECK_INT_EQ(verify_free(v, sign_std("HS384", NULL, body)), GW_JWT_ALGORITHM_NOT_ALLOWED);
    CHECK_INT_EQ(verify_free(v, sign_std("RS256", rsa_key, body)), GW_JWT_ALGORITHM_NOT_ALLOWED);
    gw_jwt_verifier_free(v);

    o = (struct gw_jwt_options){.secret = SECRET, .secret_len = strlen(SECRET), .leeway_s = -1};
    CHECK(verifier_error(&o) != NULL);
    o = (struct gw_jwt_options){.secret = SECRET, .secret_len = strlen(SECRET), .issuer = ""};
    CHECK(verifier_error(&o) != NULL);
    o = (struct gw_jwt_options){.secret = SECRET, .secret_len = strlen(SECRET), .user_claim = ""};
    CHECK(verifier_error(&o) != NULL);
}

static void test_key_file_formats(void)
{
    const char *body = "{\"sub\":\"alice\"}";
    /* PKCS#1 "RSA PUBLIC KEY" */
    OSSL_ENCODER_CTX *ectx =
        OSSL_ENCODER_CTX_new_for_pkey(rsa_key, EVP_PKEY_PUBLIC_KEY, "PEM", "type-specific", NULL);
    unsigned char *data = NULL;
    size_t len = 0;
    GW_ASSERT(ectx && OSSL_ENCODER_to_data(ectx, &data, &len) == 1);
    OSSL_ENCODER_CTX_free(ectx);
    CHECK(memmem(data, len, "BEGIN RSA PUBLIC KEY", 20) != NULL);
    char *path = write_temp((char *)data, len);
    OPENSSL_free(data);
    struct gw_jwt_verifier *v = verifier(NULL, path, NULL);
    CHECK(v != NULL);
    CHECK_INT_EQ(verify_free(v, sign_std("RS256", rsa_key, body)), GW_JWT_OK);
    gw_jwt_verifier_free(v);
    unlink(path);
    free(path);

    /* a self-signed certificate holding the P-256 key */
    X509 *cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, p256_key);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"test", -1, -1, 0);
    X509_set_issuer_name(cert, name);
    GW_ASSERT(X509_sign(cert, p256_key, EVP_sha256()) > 0);
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, cert);
    char *pem;
    long n = BIO_get_mem_data(bio, &pem);
    path = write_temp(pem, (size_t)n);
    BIO_free(bio);
    X509_free(cert);
    v = verifier(NULL, path, NULL);
    CHECK(v != NULL);
    CHECK_INT_EQ(verify_free(v, sign_std("ES256", p256_key, body)), GW_JWT_OK);
    CHECK_INT_EQ(verify_free(v, sign_std("ES256", p256_other, body)), GW_JWT_BAD_SIGNATURE);
    gw_jwt_verifier_free(v);
    unlink(path);
    free(path);
}

static void test_sign_hmac(void)
{
    char err[GW_ERR_LEN];
    const char *claims = "{\"sub\":\"alice\",\"exp\":1700000600}";
    const char *names[] = {"HS256", "HS384", "HS512"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(names); i++) {
        char *mine = gw_jwt_sign_hmac(names[i], SECRET, strlen(SECRET), claims, err);
        CHECK(mine != NULL);
        char *ref = sign_std(names[i], NULL, claims); /* same header, built independently */
        CHECK_STR_EQ(mine, ref);
        struct gw_jwt_claims c;
        CHECK_INT_EQ(verify(v_hs, mine, &c), GW_JWT_OK);
        CHECK_STR_EQ(c.user_id, "alice");
        free(mine);
        free(ref);
    }
    CHECK(gw_jwt_sign_hmac("RS256", SECRET, strlen(SECRET), claims, err) == NULL);
    CHECK(gw_jwt_sign_hmac("none", SECRET, strlen(SECRET), claims, err) == NULL);
    CHECK(gw_jwt_sign_hmac("HS256", SECRET, 0, claims, err) == NULL);
    CHECK(gw_jwt_sign_hmac("HS256", SECRET, strlen(SECRET), "[1]", err) == NULL);
    CHECK(gw_jwt_sign_hmac("HS256", SECRET, strlen(SECRET), "{\"a\":", err) == NULL);
    CHECK(strstr(err, "JSON object") != NULL);
}

/* ---- concurrency: one verifier, several threads ---- */

struct worker {
    const char *tokens[3];
    const struct gw_jwt_verifier *v[3];
    int ok;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 100; i++) {
        for (int k = 0; k < 3; k++) {
            struct gw_jwt_claims c;
            const char *t = w->tokens[k];
            if (gw_jwt_verify(w->v[k], t, strlen(t), NOW, &c) == GW_JWT_OK &&
                strcmp(c.user_id, "alice") == 0)
                w->ok++;
        }
    }
    return NULL;
}

static void test_concurrent_use(void)
{
    const char *body = "{\"sub\":\"alice\"}";
    char *hs = sign_std("HS512", NULL, body), *ps = sign_std("PS256", rsa_key, body);
    char *es = sign_std("ES384", p384_key, body);
    struct worker w[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){{hs, ps, es}, {v_both, v_rsa, v_p384}, 0};
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT_EQ(w[i].ok, 300);
    }
    free(hs);
    free(ps);
    free(es);
}

int main(void)
{
    rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    rsa_other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    p256_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    p256_other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    p384_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    GW_ASSERT(rsa_key && rsa_other && p256_key && p256_other && p384_key);
    rsa_pem = write_pem(rsa_key, false);
    p256_pem = write_pem(p256_key, false);
    p384_pem = write_pem(p384_key, false);
    v_hs = verifier(SECRET, NULL, NULL);
    v_rsa = verifier(NULL, rsa_pem, NULL);
    v_p256 = verifier(NULL, p256_pem, NULL);
    v_p384 = verifier(NULL, p384_pem, NULL);
    v_both = verifier(SECRET, rsa_pem, NULL);
    GW_ASSERT(v_hs && v_rsa && v_p256 && v_p384 && v_both);

    RUN(test_rfc7515_a1_hs256);
    RUN(test_rfc7515_a2_rs256);
    RUN(test_rfc7515_a3_es256);
    RUN(test_every_algorithm);
    RUN(test_algorithm_must_fit_key);
    RUN(test_alg_none);
    RUN(test_hs256_with_public_key_as_secret);
    RUN(test_signature_tampering);
    RUN(test_signature_from_another_key);
    RUN(test_ecdsa_signature_forms);
    RUN(test_time_claims);
    RUN(test_issuer_and_audience);
    RUN(test_user_claim);
    RUN(test_malformed);
    RUN(test_malformed_json);
    RUN(test_size_limit);
    RUN(test_strip_bearer);
    RUN(test_pick_token);
    RUN(test_codes_and_messages);
    RUN(test_verifier_config);
    RUN(test_key_file_formats);
    RUN(test_sign_hmac);
    RUN(test_concurrent_use);

    gw_jwt_verifier_free(v_hs);
    gw_jwt_verifier_free(v_rsa);
    gw_jwt_verifier_free(v_p256);
    gw_jwt_verifier_free(v_p384);
    gw_jwt_verifier_free(v_both);
    unlink(rsa_pem);
    unlink(p256_pem);
    unlink(p384_pem);
    free(rsa_pem);
    free(p256_pem);
    free(p384_pem);
    EVP_PKEY_free(rsa_key);
    EVP_PKEY_free(rsa_other);
    EVP_PKEY_free(p256_key);
    EVP_PKEY_free(p256_other);
    EVP_PKEY_free(p384_key);
    return TEST_REPORT();
}
