/* mongo.c -- see mongo.h. */
#include "gw/mongo.h"

#include "gw/common.h"

mongoc_client_t *gw_mongo_client_new(const char *uri_str, const char *appname,
                                     int32_t min_socket_timeout_ms, int32_t socket_timeout_ms,
                                     char *err)
{
    bson_error_t e;
    mongoc_uri_t *uri = mongoc_uri_new_with_error(uri_str, &e);
    if (!uri) {
        gw_set_error(err, "MONGODB_URI cannot be used: %s", e.message);
        return NULL;
    }
    mongoc_uri_set_option_as_bool(uri, MONGOC_URI_SERVERSELECTIONTRYONCE, false);
    if (!mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
        mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 5000);
    if (min_socket_timeout_ms && mongoc_uri_get_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS,
                                                                300000) <= min_socket_timeout_ms)
        mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, socket_timeout_ms);
    if (!mongoc_uri_get_appname(uri))
        mongoc_uri_set_appname(uri, appname);
    mongoc_client_t *client = mongoc_client_new_from_uri_with_error(uri, &e);
    mongoc_uri_destroy(uri);
    if (!client) {
        gw_set_error(err, "MONGODB_URI cannot be used: %s", e.message);
        return NULL;
    }
    mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
    return client;
}
