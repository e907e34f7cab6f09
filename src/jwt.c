/* jwt.c -- compact JWS/JWT verification on OpenSSL 3 EVP and jansson.
 *
 * DESIGN. gw_jwt_verify() walks a token in a fixed order and stops at the first failure:
 *   1. structure: length cap, exactly three base64url segments, header is a JSON object;
 *   2. algorithm: "alg" is one of the table below and its bit is set in the verifier's
 *      allowlist; the constructor only sets bits whose key is configured, so the allowlist
 *      and the key type cannot disagree at verification time;
 *   3. signature over the ASCII bytes "header.payload";
 *   4. claims, decoded only now that the payload is known to come from the key holder.
 * HS* always uses the configured secret and RS/PS/ES always the configured EVP_PKEY; there is
 * no code path that turns key material of one kind into the other (the alg-confusion attack).
 *
 * The verifier is immutable after construction. For each allowed public-key algorithm it holds
 * a verification context initialised once (in OpenSSL 3.0 EVP_DigestVerifyInit's provider
 * fetches cost 2-4 us, a sixth of an RSA-2048 verify); each call verifies with its own copy,
 * so any number of threads may verify with one verifier at once. OpenSSL's error queue is per
 * thread and is cleared after every failed OpenSSL call so that failures do not leak into other
 * modules' error reports.
 */
#include "gw/jwt.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "gw/buf.h"
#include "gw/base64.h"

/* A key file bigger than this is not a PEM public key or certificate. */
#define KEY_FILE_MAX (256 * 1024)
/* RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be used". */
#define RSA_MIN_BITS 2048

enum alg_kind { ALG_HMAC, ALG_RSA, ALG_PSS, ALG_ECDSA };
enum key_kind { KEY_NONE, KEY_RSA, KEY_P256, KEY_P384 };

struct alg_info {
    const char *name;
    enum alg_kind kind;
    const EVP_MD *(*md)(void);
    size_t part_len; /* ECDSA: bytes of r and of s in the JOSE signature; else 0 */
};

static const struct alg_info algs[] = {
    {"HS256", ALG_HMAC, EVP_sha256, 0},   {"HS384", ALG_HMAC, EVP_sha384, 0},
    {"HS512", ALG_HMAC, EVP_sha512, 0},   {"RS256", ALG_RSA, EVP_sha256, 0},
    {"RS384", ALG_RSA, EVP_sha384, 0},    {"RS512", ALG_RSA, EVP_sha512, 0},
    {"PS256", ALG_PSS, EVP_sha256, 0},    {"PS384", ALG_PSS, EVP_sha384, 0},
    {"PS512", ALG_PSS, EVP_sha512, 0},    {"ES256", ALG_ECDSA, EVP_sha256, 32},
    {"ES384", ALG_ECDSA, EVP_sha384, 48},
};

struct gw_jwt_verifier {
    unsigned char *secret; /* HMAC key, NULL when not configured */
    size_t secret_len;
    EVP_PKEY *pkey; /* public key, NULL when not configured */
    enum key_kind key_kind;
    EVP_MD_CTX *templates[GW_ARRAY_SIZE(algs)]; /* DigestVerifyInit'ed, per allowed pkey alg */
    unsigned allowed;                           /* bit i set = algs[i] accepted */
    char *issuer;                               /* NULL = not checked */
    char *audience;                             /* NULL = not checked */
    char *user_claim;
    int64_t leeway;
};

/* ---- base64url (RFC 4648 §5, no padding) ---- */

/* Decodes n characters into a new buffer (caller frees), or NULL: each byte string has exactly
 * one accepted encoding (see base64.h). */
static unsigned char *b64url_decode(const char *s, size_t n, size_t *out_len)
{
    unsigned char *out = gw_malloc(n / 4 * 3 + 2);
    long len = gw_base64url_decode(s, n, out);
    if (len < 0) {
        free(out);
        return NULL;
    }
    *out_len = (size_t)len;
    return out;
}

/* ---- algorithms and keys ---- */

static const struct alg_info *alg_find(const char *name, size_t len, bool ignore_case)
{
    for (size_t i = 0; i < GW_ARRAY_SIZE(algs); i++) {
        if (strlen(algs[i].name) != len)
            continue;
        if (ignore_case ? strncasecmp(algs[i].name, name, len) == 0
                        : memcmp(algs[i].name, name, len) == 0)
            return &algs[i];
    }
    return NULL;
}

static unsigned alg_bit(const struct alg_info *a)
{
    return 1u << (unsigned)(a - algs);
}

/* Whether the verifier holds the key that algorithm a needs. */
static bool alg_fits(const struct gw_jwt_verifier *v, const struct alg_info *a)
{
    switch (a->kind) {
    case ALG_HMAC:
        return v->secret != NULL;
    case ALG_RSA:
    case ALG_PSS:
        return v->key_kind == KEY_RSA;
    case ALG_ECDSA:
        return (a->part_len == 32 && v->key_kind == KEY_P256) ||
               (a->part_len == 48 && v->key_kind == KEY_P384);
    }
    return false;
}

static const char *alg_needs(const struct alg_info *a)
{
    switch (a->kind) {
    case ALG_HMAC:
        return "JWT_SECRET";
    case ALG_RSA:
    case ALG_PSS:
        return "an RSA key in JWT_PUBLIC_KEY_FILE";
    case ALG_ECDSA:
        return a->part_len == 32 ? "a P-256 key in JWT_PUBLIC_KEY_FILE"
                                 : "a P-384 key in JWT_PUBLIC_KEY_FILE";
    }
    return "a key";
}

/* Reads a whole small file into a new NUL-terminated buffer (caller frees). */
static char *read_small_file(const char *path, size_t *len, char *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        gw_set_error(err, "cannot open JWT_PUBLIC_KEY_FILE %s: %s", path, strerror(errno));
        return NULL;
    }
    char *text = gw_malloc(KEY_FILE_MAX + 1);
    size_t n = fread(text, 1, KEY_FILE_MAX + 1, f);
    bool failed = ferror(f) != 0;
    fclose(f);
    if (failed || n > KEY_FILE_MAX) {
        gw_set_error(err, "cannot read JWT_PUBLIC_KEY_FILE %s: %s", path,
                     failed ? "read error" : "file too large for a PEM key");
        free(text);
        return NULL;
    }
    text[n] = '\0';
    *len = n;
    return text;
}

/* Parses PEM text holding a public key (SubjectPublicKeyInfo or PKCS#1) or a certificate. */
static EVP_PKEY *parse_public_key(const char *path, const char *text, size_t len, char *err)
{
    EVP_PKEY *pkey = NULL;
    BIO *bio = BIO_new_mem_buf(text, (int)len);
    if (!bio) {
        gw_set_error(err, "cannot read JWT_PUBLIC_KEY_FILE %s: out of memory", path);
        return NULL;
    }
    if (strstr(text, "-----BEGIN CERTIFICATE-----")) {
        X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (cert)
            pkey = X509_get_pubkey(cert);
        X509_free(cert);
    } else {
        OSSL_DECODER_CTX *dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, NULL,
                                                               EVP_PKEY_PUBLIC_KEY, NULL, NULL);
        if (dctx && OSSL_DECODER_from_bio(dctx, bio) != 1)
            pkey = NULL;
        OSSL_DECODER_CTX_free(dctx);
    }
    BIO_free(bio);
    ERR_clear_error();
    if (!pkey)
        gw_set_error(err,
                     "JWT_PUBLIC_KEY_FILE %s holds no PEM public key or certificate that "
                     "OpenSSL can read",
                     path);
    return pkey;
}

static int classify_key(struct gw_jwt_verifier *v, const char *path, char *err)
{
    if (EVP_PKEY_is_a(v->pkey, "RSA")) {
        int bits = EVP_PKEY_get_bits(v->pkey);
        if (bits < RSA_MIN_BITS)
            return gw_set_error(err,
                                "the RSA key in JWT_PUBLIC_KEY_FILE %s has %d bits; at least "
                                "%d are required",
                                path, bits, RSA_MIN_BITS);
        v->key_kind = KEY_RSA;
        return 0;
    }
    if (EVP_PKEY_is_a(v->pkey, "EC")) {
        char group[64] = "";
        EVP_PKEY_get_utf8_string_param(v->pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       NULL);
        ERR_clear_error();
        if (strcmp(group, "prime256v1") == 0 || strcasecmp(group, "P-256") == 0) {
            v->key_kind = KEY_P256;
            return 0;
        }
        if (strcmp(group, "secp384r1") == 0 || strcasecmp(group, "P-384") == 0) {
            v->key_kind = KEY_P384;
            return 0;
        }
        return gw_set_error(err,
                            "the EC key in JWT_PUBLIC_KEY_FILE %s is on curve \"%s\"; only "
                            "P-256 (ES256) and P-384 (ES384) are supported",
                            path, group[0] ? group : "unknown");
    }
    const char *type = EVP_PKEY_get0_type_name(v->pkey);
    return gw_set_error(err,
                        "JWT_PUBLIC_KEY_FILE %s holds a %s key; only RSA and EC P-256/P-384 "
                        "keys are supported",
                        path, type ? type : "unknown");
}

static int load_public_key(struct gw_jwt_verifier *v, const char *path, char *err)
{
    size_t len;
    char *text = read_small_file(path, &len, err);
    if (!text)
        return -1;
    if (strstr(text, "PRIVATE KEY-----")) {
        free(text);
        return gw_set_error(err,
                            "JWT_PUBLIC_KEY_FILE %s holds a private key; give the gateway only "
                            "the public key (openssl pkey -pubout)",
                            path);
    }
    v->pkey = parse_public_key(path, text, len, err);
    free(text);
    if (!v->pkey)
        return -1;
    return classify_key(v, path, err);
}

/* Parses the JWT_ALGORITHMS comma list into v->allowed. */
static int parse_allowlist(struct gw_jwt_verifier *v, const char *list, char *err)
{
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *name = p;
        while (n && (*name == ' ' || *name == '\t'))
            name++, n--;
        while (n && (name[n - 1] == ' ' || name[n - 1] == '\t'))
            n--;
        if (n == 0)
            return gw_set_error(err, "JWT_ALGORITHMS \"%s\" has an empty entry", list);
        if (n == 4 && strncasecmp(name, "none", 4) == 0)
            return gw_set_error(err, "JWT_ALGORITHMS must not contain \"none\": unsigned "
                                     "tokens are never accepted");
        const struct alg_info *a = alg_find(name, n, true);
        if (!a)
            return gw_set_error(err,
                                "JWT_ALGORITHMS names \"%.*s\", which is not one of HS256, "
                                "HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, "
                                "ES384",
                                (int)GW_MIN(n, 32), name);
        if (!alg_fits(v, a))
            return gw_set_error(err, "JWT_ALGORITHMS names %s, which needs %s", a->name,
                                alg_needs(a));
        v->allowed |= alg_bit(a);
        if (!end)
            return 0;
        p = end + 1;
    }
}

static int set_secret(struct gw_jwt_verifier *v, const struct gw_jwt_options *opt, char *err)
{
    if (opt->secret_len == 0)
        return gw_set_error(err, "JWT_SECRET is empty");
    if (opt->secret_len > INT_MAX)
        return gw_set_error(err, "JWT_SECRET is too long");
    /* A PEM block used as an HMAC secret is how the RS256->HS256 confusion attack works on
     * servers that pass "the key" to any algorithm; it is never a sensible shared secret. */
    static const char pem[] = "-----BEGIN";
    if (memmem(opt->secret, opt->secret_len, pem, sizeof(pem) - 1))
        return gw_set_error(err, "JWT_SECRET holds a PEM key; an HMAC secret must be a random "
                                 "shared secret, and public keys go in JWT_PUBLIC_KEY_FILE");
    v->secret = gw_malloc(opt->secret_len);
    memcpy(v->secret, opt->secret, opt->secret_len);
    v->secret_len = opt->secret_len;
    return 0;
}

/* A context ready for EVP_DigestVerify with v's key and algorithm a, or NULL. */
static EVP_MD_CTX *verify_template(const struct gw_jwt_verifier *v, const struct alg_info *a)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    if (!ctx || EVP_DigestVerifyInit(ctx, &pctx, a->md(), NULL, v->pkey) != 1)
        goto fail;
    /* RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash output. */
    if (a->kind == ALG_PSS && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                               EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, a->md()) != 1 ||
                               EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
        goto fail;
    return ctx;
fail:
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return NULL;
}

/* One verification context per allowed public-key algorithm, so that a key OpenSSL cannot use
 * for an algorithm is refused at startup, not at the first token. */
static int prepare_templates(struct gw_jwt_verifier *v, char *err)
{
    for (size_t i = 0; i < GW_ARRAY_SIZE(algs); i++) {
        if (algs[i].kind == ALG_HMAC || !(v->allowed & alg_bit(&algs[i])))
            continue;
        if (!(v->templates[i] = verify_template(v, &algs[i])))
            return gw_set_error(err,
                                "OpenSSL cannot verify %s with the key in "
                                "JWT_PUBLIC_KEY_FILE",
                                algs[i].name);
    }
    return 0;
}

static int copy_optional(char **dst, const char *src, const char *var, char *err)
{
    if (!src)
        return 0;
    if (!src[0])
        return gw_set_error(err, "%s is set but empty", var);
    *dst = gw_strdup(src);
    return 0;
}

struct gw_jwt_verifier *gw_jwt_verifier_new(const struct gw_jwt_options *opt, char *err)
{
    struct gw_jwt_verifier *v = gw_calloc(1, sizeof(*v));
    if (!opt->secret && !opt->public_key_file) {
        gw_set_error(err, "no JWT key configured: set JWT_SECRET or JWT_PUBLIC_KEY_FILE");
        goto fail;
    }
    if (opt->secret && set_secret(v, opt, err) < 0)
        goto fail;
    if (opt->public_key_file && load_public_key(v, opt->public_key_file, err) < 0)
        goto fail;
    if (opt->algorithms) {
        if (parse_allowlist(v, opt->algorithms, err) < 0)
            goto fail;
    } else {
        for (size_t i = 0; i < GW_ARRAY_SIZE(algs); i++)
            if (alg_fits(v, &algs[i]))
                v->allowed |= alg_bit(&algs[i]);
    }
    if (prepare_templates(v, err) < 0)
        goto fail;
    if (opt->leeway_s < 0) {
        gw_set_error(err, "JWT_LEEWAY_SECONDS must not be negative");
        goto fail;
    }
    v->leeway = opt->leeway_s;
    if (copy_optional(&v->issuer, opt->issuer, "JWT_ISSUER", err) < 0 ||
        copy_optional(&v->audience, opt->audience, "JWT_AUDIENCE", err) < 0 ||
        copy_optional(&v->user_claim, opt->user_claim, "JWT_USER_CLAIM", err) < 0)
        goto fail;
    if (!v->user_claim)
        v->user_claim = gw_strdup("sub");
    return v;
fail:
    gw_jwt_verifier_free(v);
    return NULL;
}

void gw_jwt_verifier_free(struct gw_jwt_verifier *v)
{
    if (!v)
        return;
    if (v->secret) {
        OPENSSL_cleanse(v->secret, v->secret_len);
        free(v->secret);
    }
    for (size_t i = 0; i < GW_ARRAY_SIZE(algs); i++)
        EVP_MD_CTX_free(v->templates[i]);
    EVP_PKEY_free(v->pkey);
    free(v->issuer);
    free(v->audience);
    free(v->user_claim);
    free(v);
}

/* ---- signature ---- */

static bool hmac_matches(const struct gw_jwt_verifier *v, const struct alg_info *a,
                         const char *input, size_t input_len, const unsigned char *sig,
                         size_t sig_len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC(a->md(), v->secret, (int)v->secret_len, (const unsigned char *)input, input_len, mac,
              &mac_len)) {
        ERR_clear_error();
        return false;
    }
    return sig_len == mac_len && CRYPTO_memcmp(mac, sig, mac_len) == 0;
}

/* JOSE carries ECDSA signatures as fixed-length big-endian r||s (RFC 7518 §3.4); OpenSSL
 * verifies DER. Returns a new DER buffer (OPENSSL_free) or NULL for a wrong length. */
static unsigned char *ecdsa_jose_to_der(const struct alg_info *a, const unsigned char *sig,
                                        size_t sig_len, size_t *der_len)
{
    if (sig_len != 2 * a->part_len)
        return NULL;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)a->part_len, NULL);
    BIGNUM *s = BN_bin2bn(sig + a->part_len, (int)a->part_len, NULL);
    unsigned char *der = NULL;
    if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return NULL;
    }
    int n = i2d_ECDSA_SIG(es, &der);
    ECDSA_SIG_free(es);
    if (n <= 0) {
        OPENSSL_free(der);
        return NULL;
    }
    *der_len = (size_t)n;
    return der;
}

static bool pkey_verifies(const struct gw_jwt_verifier *v, const struct alg_info *a,
                          const char *input, size_t input_len, const unsigned char *sig,
                          size_t sig_len)
{
    /* A one-shot EVP_DigestVerify finalises its context, so each call works on a copy. */
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_MD_CTX_copy_ex(ctx, v->templates[a - algs]) == 1 &&
              EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)input, input_len) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

static bool signature_valid(const struct gw_jwt_verifier *v, const struct alg_info *a,
                            const char *input, size_t input_len, const unsigned char *sig,
                            size_t sig_len)
{
    switch (a->kind) {
    case ALG_HMAC:
        return hmac_matches(v, a, input, input_len, sig, sig_len);
    case ALG_RSA:
    case ALG_PSS:
        return sig_len == (size_t)EVP_PKEY_get_size(v->pkey) &&
               pkey_verifies(v, a, input, input_len, sig, sig_len);
    case ALG_ECDSA: {
        size_t der_len = 0;
        unsigned char *der = ecdsa_jose_to_der(a, sig, sig_len, &der_len);
        if (!der)
            return false;
        bool ok = pkey_verifies(v, a, input, input_len, der, der_len);
        OPENSSL_free(der);
        return ok;
    }
    }
    return false;
}

/* ---- verification ---- */

struct segments {
    const char *header, *payload, *sig;
    size_t header_len, payload_len, sig_len;
    size_t signing_input_len; /* "header.payload" */
};

/* Splits a token into its three segments. Every byte outside the dots must be in the
 * base64url alphabet, so padding or stray characters in the payload are reported as a
 * malformed token rather than surfacing later as a signature mismatch. */
static int split_token(const char *t, size_t len, struct segments *s)
{
    for (size_t i = 0; i < len; i++)
        if (t[i] != '.' && !isalnum((unsigned char)t[i]) && t[i] != '-' && t[i] != '_')
            return -1;
    const char *dot1 = memchr(t, '.', len);
    if (!dot1)
        return -1;
    const char *dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - t));
    if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - t)))
        return -1;
    s->header = t;
    s->header_len = (size_t)(dot1 - t);
    s->payload = dot1 + 1;
    s->payload_len = (size_t)(dot2 - s->payload);
    s->sig = dot2 + 1;
    s->sig_len = len - (size_t)(s->sig - t);
    s->signing_input_len = (size_t)(dot2 - t);
    return 0;
}

/* Decodes a base64url segment holding a JSON object. Returns a new reference or NULL.
 * Duplicate member names are rejected: two parsers reading different "alg" or "sub" values
 * from one token is a known source of bypasses. */
static json_t *decode_object(const char *seg, size_t n)
{
    size_t len;
    unsigned char *raw = b64url_decode(seg, n, &len);
    if (!raw)
        return NULL;
    json_t *j = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
    free(raw);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

static enum gw_jwt_status check_header(const struct gw_jwt_verifier *v, const char *seg, size_t n,
                                       const struct alg_info **alg)
{
    json_t *h = decode_object(seg, n);
    if (!h)
        return GW_JWT_MALFORMED;
    enum gw_jwt_status st = GW_JWT_OK;
    json_t *name = json_object_get(h, "alg");
    if (!json_is_string(name)) {
        st = GW_JWT_MALFORMED;
    } else {
        *alg = alg_find(json_string_value(name), json_string_length(name), false);
        if (!*alg || !(v->allowed & alg_bit(*alg)))
            st = GW_JWT_ALGORITHM_NOT_ALLOWED;
        else if (json_object_get(h, "crit"))
            st = GW_JWT_MALFORMED; /* RFC 7515 §4.1.11: we understand no extension */
    }
    json_decref(h);
    return st;
}

static enum gw_jwt_status check_signature(const struct gw_jwt_verifier *v, const struct alg_info *a,
                                          const char *token, const struct segments *s)
{
    size_t sig_len;
    unsigned char *sig = b64url_decode(s->sig, s->sig_len, &sig_len);
    if (!sig)
        return GW_JWT_MALFORMED;
    bool ok = signature_valid(v, a, token, s->signing_input_len, sig, sig_len);
    free(sig);
    return ok ? GW_JWT_OK : GW_JWT_BAD_SIGNATURE;
}

/* Reads a NumericDate claim (RFC 7519 §2: integer or real seconds). Returns -1 when present
 * but not a number, 0 when absent, 1 with *out set when present. */
static int numeric_date(json_t *claims, const char *name, double *out)
{
    json_t *j = json_object_get(claims, name);
    if (!j)
        return 0;
    if (!json_is_number(j))
        return -1;
    *out = json_number_value(j);
    return 1;
}

static int64_t clamp_to_int64(double d)
{
    if (d >= 9.2e18)
        return INT64_MAX;
    if (d <= -9.2e18)
        return INT64_MIN;
    return (int64_t)d;
}

static enum gw_jwt_status check_times(const struct gw_jwt_verifier *v, json_t *claims,
                                      int64_t now_s, struct gw_jwt_claims *out)
{
    double now = (double)now_s, leeway = (double)v->leeway, exp = 0, nbf = 0, iat = 0;
    int has_exp = numeric_date(claims, "exp", &exp);
    int has_nbf = numeric_date(claims, "nbf", &nbf);
    int has_iat = numeric_date(claims, "iat", &iat);
    if (has_exp < 0 || has_nbf < 0 || has_iat < 0)
        return GW_JWT_MALFORMED;
    if (has_exp) {
        if (now >= exp + leeway)
            return GW_JWT_TOKEN_EXPIRED;
        out->exp = clamp_to_int64(floor(exp));
        out->valid_until = clamp_to_int64(ceil(exp + leeway));
    }
    if (has_nbf && now + leeway < nbf)
        return GW_JWT_NOT_YET_VALID;
    if (has_iat && iat > now + leeway)
        return GW_JWT_NOT_YET_VALID;
    return GW_JWT_OK;
}

static bool string_is(json_t *j, const char *want)
{
    return json_is_string(j) && json_string_length(j) == strlen(want) &&
           memcmp(json_string_value(j), want, json_string_length(j)) == 0;
}

static bool audience_matches(json_t *aud, const char *want)
{
    if (json_is_array(aud)) {
        size_t i;
        json_t *item;
        json_array_foreach(aud, i, item)
        {
            if (string_is(item, want))
                return true;
        }
        return false;
    }
    return string_is(aud, want);
}

static enum gw_jwt_status read_user(const struct gw_jwt_verifier *v, json_t *claims,
                                    struct gw_jwt_claims *out)
{
    json_t *u = json_object_get(claims, v->user_claim);
    if (json_is_integer(u)) {
        out->user_id_len = (size_t)snprintf(out->user_id, sizeof(out->user_id),
                                            "%" JSON_INTEGER_FORMAT, json_integer_value(u));
        return GW_JWT_OK;
    }
    if (!json_is_string(u))
        return GW_JWT_USER_CLAIM_MISSING;
    const char *s = json_string_value(u);
    size_t n = json_string_length(u);
    if (n == 0 || n > GW_JWT_MAX_USER_ID_LEN)
        return GW_JWT_USER_CLAIM_MISSING;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return GW_JWT_USER_CLAIM_MISSING;
    memcpy(out->user_id, s, n);
    out->user_id[n] = '\0';
    out->user_id_len = n;
    return GW_JWT_OK;
}

static enum gw_jwt_status check_claims(const struct gw_jwt_verifier *v, const char *seg, size_t n,
                                       int64_t now_s, struct gw_jwt_claims *out)
{
    json_t *claims = decode_object(seg, n);
    if (!claims)
        return GW_JWT_MALFORMED;
    enum gw_jwt_status st = check_times(v, claims, now_s, out);
    if (st == GW_JWT_OK && v->issuer && !string_is(json_object_get(claims, "iss"), v->issuer))
        st = GW_JWT_ISSUER_MISMATCH;
    if (st == GW_JWT_OK && v->audience &&
        !audience_matches(json_object_get(claims, "aud"), v->audience))
        st = GW_JWT_AUDIENCE_MISMATCH;
    if (st == GW_JWT_OK)
        st = read_user(v, claims, out);
    json_decref(claims);
    return st;
}

enum gw_jwt_status gw_jwt_verify(const struct gw_jwt_verifier *v, const char *token, size_t len,
                                 int64_t now_s, struct gw_jwt_claims *out)
{
    memset(out, 0, sizeof(*out));
    if (!token || len == 0)
        return GW_JWT_TOKEN_MISSING;
    if (len > GW_JWT_MAX_TOKEN_LEN)
        return GW_JWT_MALFORMED;
    struct segments s;
    if (split_token(token, len, &s) < 0)
        return GW_JWT_MALFORMED;
    const struct alg_info *alg = NULL;
    enum gw_jwt_status st = check_header(v, s.header, s.header_len, &alg);
    if (st == GW_JWT_OK)
        st = check_signature(v, alg, token, &s);
    if (st == GW_JWT_OK)
        st = check_claims(v, s.payload, s.payload_len, now_s, out);
    if (st != GW_JWT_OK)
        memset(out, 0, sizeof(*out));
    return st;
}

/* ---- names and helpers ---- */

const char *gw_jwt_code(enum gw_jwt_status st)
{
    switch (st) {
    case GW_JWT_OK:
        return "OK";
    case GW_JWT_TOKEN_MISSING:
        return "TOKEN_MISSING";
    case GW_JWT_MALFORMED:
    case GW_JWT_BAD_SIGNATURE:
        return "TOKEN_INVALID";
    case GW_JWT_ALGORITHM_NOT_ALLOWED:
        return "ALGORITHM_NOT_ALLOWED";
    case GW_JWT_TOKEN_EXPIRED:
        return "TOKEN_EXPIRED";
    case GW_JWT_NOT_YET_VALID:
        return "TOKEN_NOT_YET_VALID";
    case GW_JWT_ISSUER_MISMATCH:
        return "ISSUER_MISMATCH";
    case GW_JWT_AUDIENCE_MISMATCH:
        return "AUDIENCE_MISMATCH";
    case GW_JWT_USER_CLAIM_MISSING:
        return "USER_CLAIM_MISSING";
    }
    return "TOKEN_INVALID";
}

const char *gw_jwt_strerror(enum gw_jwt_status st)
{
    switch (st) {
    case GW_JWT_OK:
        return "The token is valid.";
    case GW_JWT_TOKEN_MISSING:
        return "No authentication token was provided.";
    case GW_JWT_MALFORMED:
    case GW_JWT_BAD_SIGNATURE:
        return "The token is invalid.";
    case GW_JWT_ALGORITHM_NOT_ALLOWED:
        return "The token is signed with an algorithm this server does not accept.";
    case GW_JWT_TOKEN_EXPIRED:
        return "The token has expired.";
    case GW_JWT_NOT_YET_VALID:
        return "The token is not valid yet.";
    case GW_JWT_ISSUER_MISMATCH:
        return "The token was issued by an issuer this server does not accept.";
    case GW_JWT_AUDIENCE_MISMATCH:
        return "The token is not meant for this server.";
    case GW_JWT_USER_CLAIM_MISSING:
        return "The token does not name a valid user.";
    }
    return "The token is invalid.";
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

const char *gw_jwt_strip_bearer(const char *token, size_t *len)
{
    size_t n = token ? *len : 0;
    const char *p = token;
    while (n && is_blank(*p))
        p++, n--;
    while (n && is_blank(p[n - 1]))
        n--;
    if (n >= 6 && strncasecmp(p, "bearer", 6) == 0 && (n == 6 || p[6] == ' ')) {
        p += 6, n -= 6;
        while (n && *p == ' ')
            p++, n--;
    }
    *len = n;
    return p;
}

static bool has_bearer_scheme(const char *h, size_t n)
{
    while (n && is_blank(*h))
        h++, n--;
    return n > 6 && strncasecmp(h, "bearer", 6) == 0 && h[6] == ' ';
}

const char *gw_jwt_pick_token(const struct gw_jwt_sources *src, size_t *len)
{
    const char *cand[3] = {src->auth_token, NULL, src->query_token};
    size_t cand_len[3] = {src->auth_token_len, 0, src->query_token_len};
    if (src->authorization && has_bearer_scheme(src->authorization, src->authorization_len)) {
        cand[1] = src->authorization;
        cand_len[1] = src->authorization_len;
    }
    for (int i = 0; i < 3; i++) {
        if (!cand[i])
            continue;
        size_t n = cand_len[i];
        const char *t = gw_jwt_strip_bearer(cand[i], &n);
        if (n) {
            *len = n;
            return t;
        }
    }
    *len = 0;
    return NULL;
}

char *gw_jwt_sign_hmac(const char *alg, const void *secret, size_t secret_len,
                       const char *claims_json, char *err)
{
    const struct alg_info *a = alg ? alg_find(alg, strlen(alg), false) : NULL;
    if (!a || a->kind != ALG_HMAC) {
        gw_set_error(err, "cannot sign with \"%s\": only HS256, HS384 and HS512 are supported",
                     alg ? alg : "(null)");
        return NULL;
    }
    if (!secret || secret_len == 0 || secret_len > INT_MAX) {
        gw_set_error(err, "cannot sign: the HMAC secret is empty");
        return NULL;
    }
    json_t *claims = json_loads(claims_json, JSON_REJECT_DUPLICATES, NULL);
    bool is_object = json_is_object(claims);
    json_decref(claims);
    if (!is_object) {
        gw_set_error(err, "cannot sign: the claims are not a JSON object");
        return NULL;
    }
    struct gw_buf b = GW_BUF_INIT;
    char header[64];
    int hn = snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", a->name);
    gw_base64url_encode(&b, header, (size_t)hn);
    gw_buf_append_char(&b, '.');
    gw_base64url_encode(&b, claims_json, strlen(claims_json));
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC(a->md(), secret, (int)secret_len, (const unsigned char *)b.data, b.len, mac,
              &mac_len)) {
        ERR_clear_error();
        gw_buf_free(&b);
        gw_set_error(err, "cannot sign: HMAC failed");
        return NULL;
    }
    gw_buf_append_char(&b, '.');
    gw_base64url_encode(&b, mac, mac_len);
    return gw_buf_steal(&b, NULL);
}
