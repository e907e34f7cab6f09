/* mongo.h -- the one way this program opens a mongoc client.
 *
 * Every thread that talks to MongoDB (the watcher, the store) owns a single-threaded client
 * made here, so they share the same reconnect behaviour: serverSelectionTryOnce=false (wait
 * for a primary during a stepdown rather than fail at once), serverSelectionTimeoutMS 5000
 * unless the URI sets it, an appname unless the URI sets one, and error API version 2.
 *
 * Thread safety: any thread; the client returned belongs to the caller's thread of choice.
 */
#ifndef GW_MONGO_H
#define GW_MONGO_H

#include <mongoc/mongoc.h>
#include <stdint.h>

/* Returns a new client (free with mongoc_client_destroy) for uri (borrowed), named appname
 * unless the URI names itself, with socketTimeoutMS raised to socket_timeout_ms when the URI's
 * is not above min_socket_timeout_ms (0 = leave it). NULL with one sentence in err
 * (GW_ERR_LEN) that never quotes the URI, which may hold a password. */
mongoc_client_t *gw_mongo_client_new(const char *uri, const char *appname,
                                     int32_t min_socket_timeout_ms, int32_t socket_timeout_ms,
                                     char *err);

#endif
