/* lg_jwt.c -- token minting: base64url(header).base64url(claims).base64url(signature). */
#include "lg_jwt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "gw/base64.h"
#include "gw/common.h"

/* Appends header.claims and returns where it starts in out: the signing input. */
static size_t append_signing_input(struct gw_buf *out, const char *alg, const char *sub,
                                   int64_t iat, int64_t exp)
{
    char header[64], claims[256];
    int h = snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
    int n = snprintf(claims, sizeof(claims),
                     "{\"sub\":\"%s\",\"iat\":%" PRId64 ",\"exp\":%" PRId64 "}", sub, iat, exp);
    GW_ASSERT(h > 0 && (size_t)h < sizeof(header) && n > 0 && (size_t)n < sizeof(claims));
    size_t start = out->len;
    gw_base64url_encode(out, header, (size_t)h);
    gw_buf_append_char(out, '.');
    gw_base64url_encode(out, claims, (size_t)n);
    return start;
}

void lg_jwt_hs256(struct gw_buf *out, const char *sub, int64_t iat, int64_t exp, const void *secret,
                  size_t secret_len)
{
    size_t start = append_signing_input(out, "HS256", sub, iat, exp);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    GW_ASSERT(HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)out->data + start,
                   out->len - start, mac, &mac_len));
    gw_buf_append_char(out, '.');
    gw_base64url_encode(out, mac, mac_len);
}

static void jwt_rs256(struct gw_buf *out, EVP_PKEY *key, const char *sub, int64_t iat, int64_t exp)
{
    size_t start = append_signing_input(out, "RS256", sub, iat, exp);
    unsigned char sig[1024];
    size_t sig_len = sizeof(sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    GW_ASSERT(md);
    /* RS256 is RSASSA-PKCS1-v1_5 with SHA-256, the EVP default padding for an RSA key. */
    GW_ASSERT(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1);
    GW_ASSERT(EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)out->data + start,
                             out->len - start) == 1);
    EVP_MD_CTX_free(md);
    gw_buf_append_char(out, '.');
    gw_base64url_encode(out, sig, sig_len);
}

int lg_signer_load_rs256(struct lg_signer *s, const char *path, char *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return gw_set_error(err, "cannot open the RS256 key %s", path);
    EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!key)
        return gw_set_error(err, "%s holds no PEM private key", path);
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA || EVP_PKEY_get_bits(key) < 2048 ||
        EVP_PKEY_get_bits(key) > 8192) {
        EVP_PKEY_free(key);
        return gw_set_error(err, "%s is not an RSA key of 2048 to 8192 bits", path);
    }
    s->alg = LG_RS256;
    s->key = key;
    return 0;
}

void lg_signer_free(struct lg_signer *s)
{
    EVP_PKEY_free(s->key);
    s->key = NULL;
}

void lg_jwt_sign(struct gw_buf *out, const struct lg_signer *s, const char *sub, int64_t iat,
                 int64_t exp)
{
    if (s->alg == LG_RS256)
        jwt_rs256(out, s->key, sub, iat, exp);
    else
        lg_jwt_hs256(out, sub, iat, exp, s->secret, s->secret_len);
}

void lg_tokens_mint(struct lg_tokens *t, const struct lg_signer *s, uint32_t base, uint32_t n,
                    int64_t iat, int64_t exp)
{
    *t = (struct lg_tokens){.base = base, .n = n, .all = GW_BUF_INIT};
    t->off = gw_malloc(((size_t)n + 1) * sizeof(*t->off));
    char sub[32];
    for (uint32_t i = 0; i < n; i++) {
        t->off[i] = t->all.len;
        snprintf(sub, sizeof(sub), "user-%" PRIu32, base + i);
        lg_jwt_sign(&t->all, s, sub, iat, exp);
    }
    t->off[n] = t->all.len;
}

const char *lg_tokens_get(const struct lg_tokens *t, uint32_t user, size_t *len)
{
    GW_ASSERT(user >= t->base && user - t->base < t->n);
    uint32_t i = user - t->base;
    *len = t->off[i + 1] - t->off[i];
    return t->all.data + t->off[i];
}

void lg_tokens_free(struct lg_tokens *t)
{
    gw_buf_free(&t->all);
    free(t->off);
    t->off = NULL;
    t->n = 0;
}
