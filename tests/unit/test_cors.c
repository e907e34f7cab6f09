/* test_cors.c -- the CORS_ORIGINS policy: the three modes, list parsing and its errors, the
 * Access-Control-Allow-Origin decision and the WebSocket origin check.
 */
#include <string.h>

#include "gw/common.h"
#include "gw/cors.h"
#include "test.h"

static void test_none(void)
{
    struct gw_cors c;
    char err[GW_ERR_LEN] = "";
    bool cred = true;
    CHECK_INT_EQ(gw_cors_init(&c, NULL, err), 0);
    CHECK_INT_EQ(c.mode, GW_CORS_NONE);
    CHECK(gw_cors_allow(&c, "https://app.example", &cred) == NULL);
    CHECK(!cred);
    cred = true;
    CHECK(gw_cors_allow(&c, NULL, &cred) == NULL);
    CHECK(!cred);
    CHECK(gw_cors_ws_allowed(&c, NULL));
    CHECK(gw_cors_ws_allowed(&c, "https://evil.example"));
    gw_cors_fini(&c);

    CHECK_INT_EQ(gw_cors_init(&c, "", err), 0);
    CHECK_INT_EQ(c.mode, GW_CORS_NONE);
    CHECK(gw_cors_allow(&c, "https://app.example", &cred) == NULL);
    gw_cors_fini(&c);
}

static void test_any(void)
{
    struct gw_cors c;
    char err[GW_ERR_LEN] = "";
    bool cred = true;
    CHECK_INT_EQ(gw_cors_init(&c, "*", err), 0);
    CHECK_INT_EQ(c.mode, GW_CORS_ANY);
    CHECK_STR_EQ(gw_cors_allow(&c, "https://app.example", &cred), "*");
    CHECK(!cred); /* "*" with credentials is refused by browsers */
    cred = true;
    CHECK_STR_EQ(gw_cors_allow(&c, "null", &cred), "*");
    CHECK(!cred);
    CHECK(gw_cors_ws_allowed(&c, NULL));
    CHECK(gw_cors_ws_allowed(&c, "https://anything.example"));
    gw_cors_fini(&c);
}

static void test_list(void)
{
    struct gw_cors c;
    char err[GW_ERR_LEN] = "";
    bool cred = false;
    CHECK_INT_EQ(
        gw_cors_init(&c, "https://app.example, http://localhost:5173 ,https://b.example:8443", err),
        0);
    CHECK_INT_EQ(c.mode, GW_CORS_LIST);
    CHECK_INT_EQ(c.count, 3);
    if (c.count == 3) {
        CHECK_STR_EQ(c.origins[0], "https://app.example");
        CHECK_STR_EQ(c.origins[1], "http://localhost:5173");
        CHECK_STR_EQ(c.origins[2], "https://b.example:8443");
    }

    const char *origin = "https://app.example";
    const char *got = gw_cors_allow(&c, origin, &cred);
    CHECK(got == origin); /* the request's own string is echoed */
    CHECK(cred);
    cred = false;
    CHECK_STR_EQ(gw_cors_allow(&c, "http://localhost:5173", &cred), "http://localhost:5173");
    CHECK(cred);
    CHECK_STR_EQ(gw_cors_allow(&c, "https://b.example:8443", &cred), "https://b.example:8443");

    /* byte-for-byte: no prefix, suffix, case, port or scheme games */
    static const char *const refused[] = {
        "https://app.example.evil.com",
        "https://app.exampl",
        "https://APP.example",
        "HTTPS://app.example",
        "http://app.example",
        "https://app.example:443",
        "https://app.example/",
        "https://b.example",
        "http://localhost",
        "null",
        "",
        "*",
        " https://app.example",
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(refused); i++) {
        cred = true;
        const char *r = gw_cors_allow(&c, refused[i], &cred);
        CHECK(r == NULL);
        CHECK(!cred);
        CHECK(!gw_cors_ws_allowed(&c, refused[i]));
        if (r)
            fprintf(stderr, "  origin: \"%s\"\n", refused[i]);
    }
    cred = true;
    CHECK(gw_cors_allow(&c, NULL, &cred) == NULL);
    CHECK(!cred);

    CHECK(gw_cors_ws_allowed(&c, NULL)); /* non-browser clients send no Origin */
    CHECK(gw_cors_ws_allowed(&c, "https://app.example"));
    CHECK(gw_cors_ws_allowed(&c, "https://b.example:8443"));
    gw_cors_fini(&c);
    CHECK_INT_EQ(c.count, 0);
    CHECK(c.origins == NULL);
}

static void test_single_origin(void)
{
    struct gw_cors c;
    char err[GW_ERR_LEN] = "";
    bool cred;
    CHECK_INT_EQ(gw_cors_init(&c, "https://app.example", err), 0);
    CHECK_INT_EQ(c.mode, GW_CORS_LIST);
    CHECK_INT_EQ(c.count, 1);
    CHECK_STR_EQ(gw_cors_allow(&c, "https://app.example", &cred), "https://app.example");
    CHECK(cred);
    gw_cors_fini(&c);

    CHECK_INT_EQ(gw_cors_init(&c, "  http://[::1]:3000  ", err), 0);
    CHECK_STR_EQ(gw_cors_allow(&c, "http://[::1]:3000", &cred), "http://[::1]:3000");
    gw_cors_fini(&c);
}

/* Each spec must fail with a sentence, and leave nothing allocated (ASan checks leaks). */
static void check_rejected(const char *spec)
{
    struct gw_cors c;
    char err[GW_ERR_LEN] = "";
    int rc = gw_cors_init(&c, spec, err);
    CHECK_INT_EQ(rc, -1);
    CHECK(strlen(err) > 10);
    if (rc == 0) {
        fprintf(stderr, "  spec: \"%s\"\n", spec);
        gw_cors_fini(&c);
    }
}

static void test_bad_origins(void)
{
    check_rejected("https://app.example,");        /* empty last entry */
    check_rejected("https://a.example\r\nx");      /* control characters */
    check_rejected("1http://app.example");         /* scheme starts with a digit */
    check_rejected("https://app.example/");        /* path */
    check_rejected("https://app.example/app");     /* path */
    check_rejected("https://app.example?x=1");     /* query */
    check_rejected("https://app.example#frag");    /* fragment */
    check_rejected("app.example");                 /* no scheme */
    check_rejected("//app.example");               /* no scheme */
    check_rejected("://app.example");              /* empty scheme */
    check_rejected("https://");                    /* no host */
    check_rejected("https://user@app.example");    /* user info */
    check_rejected("https://user:pw@app.example"); /* user info */
    check_rejected("https://app example");         /* space inside */
    check_rejected("ht tp://app.example");         /* space in the scheme */
    check_rejected("https:/app.example");
    check_rejected("*, https://app.example"); /* "*" is not a list member */
    check_rejected("https://app.example,*");
    check_rejected(","); /* empty entries */
    check_rejected(" , ");
    check_rejected(" ");
    check_rejected(",https://app.example");
    check_rejected("https://app.example, ");
    check_rejected("https://a.example,,https://b.example");
    check_rejected("https://a.example, ,https://b.example");
    check_rejected("https://a.example,https://b.example/x"); /* a bad one after a good one */

    /* the sentence names the offending entry */
    struct gw_cors c;
    char err[GW_ERR_LEN] = "";
    CHECK_INT_EQ(gw_cors_init(&c, "https://ok.example, https://bad.example/path", err), -1);
    CHECK(strstr(err, "https://bad.example/path") != NULL);

    /* a hostile, very long entry still gives a bounded sentence */
    char spec[2000];
    memcpy(spec, "https://", 8);
    memset(spec + 8, 'a', sizeof(spec) - 8);
    spec[sizeof(spec) - 2] = '/';
    spec[sizeof(spec) - 1] = '\0';
    err[0] = '\0';
    CHECK_INT_EQ(gw_cors_init(&c, spec, err), -1);
    CHECK(strlen(err) > 0 && strlen(err) < GW_ERR_LEN);
}

int main(void)
{
    RUN(test_none);
    RUN(test_any);
    RUN(test_list);
    RUN(test_single_origin);
    RUN(test_bad_origins);
    return TEST_REPORT();
}
