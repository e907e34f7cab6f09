/* lg_jwt.c -- HS256 token minting: base64url(header).base64url(claims).base64url(HMAC). */
#include "lg_jwt.h"

#include <inttypes.h>
#include <stdio.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "gw/base64.h"
#include "gw/common.h"

void lg_jwt_hs256(struct gw_buf *out, const char *sub, int64_t iat, int64_t exp, const void *secret,
                  size_t secret_len)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char claims[256];
    int n = snprintf(claims, sizeof(claims),
                     "{\"sub\":\"%s\",\"iat\":%" PRId64 ",\"exp\":%" PRId64 "}", sub, iat, exp);
    GW_ASSERT(n > 0 && (size_t)n < sizeof(claims));

    size_t start = out->len;
    gw_base64url_encode(out, header, sizeof(header) - 1);
    gw_buf_append_char(out, '.');
    gw_base64url_encode(out, claims, (size_t)n);

    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    GW_ASSERT(HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)out->data + start,
                   out->len - start, mac, &mac_len));
    gw_buf_append_char(out, '.');
    gw_base64url_encode(out, mac, mac_len);
}
