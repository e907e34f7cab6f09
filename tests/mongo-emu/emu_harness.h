/* emu_harness.h -- start a mongo-emu process for a driver test and talk to it with mongoc.
 *
 * Thread safety: the process helpers are for the test's main thread; clients are per-thread as
 * mongoc requires.
 */
#ifndef EMU_HARNESS_H
#define EMU_HARNESS_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <sys/types.h>

struct emu_proc {
    pid_t pid;
    int port;
    char host_port[256]; /* "127.0.0.1:PORT" */
};

/* Starts `binary --port 0 [args...]` (args NULL-terminated, may be NULL) and waits for its
 * "mongo-emu listening on HOST:PORT" line. Returns 0, or -1 after printing why. */
int emu_proc_start(struct emu_proc *p, const char *binary, const char *const *args);

/* Sends SIGTERM and waits. Returns the exit status (0 on a clean exit), or -1 if it had to be
 * killed. */
int emu_proc_stop(struct emu_proc *p);

/* A new client for mongodb://HOST:PORT/?<opts> with the given appName (NULL for none) and
 * error API version 2. Free with mongoc_client_destroy. */
mongoc_client_t *emu_client(const struct emu_proc *p, const char *opts, const char *app_name);

/* Runs a command given as relaxed JSON on admin; reply (may be NULL) is initialised. */
bool emu_admin(mongoc_client_t *c, const char *json, bson_t *reply, bson_error_t *err);

/* Returns the int field at path in doc, or dflt. */
int64_t emu_int_at(const bson_t *doc, const char *path, int64_t dflt);
/* Returns the string at path in doc, or "" (borrowed). */
const char *emu_str_at(const bson_t *doc, const char *path);
/* True when the array at path contains the string s. */
bool emu_array_has(const bson_t *doc, const char *path, const char *s);

/* Sleeps for ms milliseconds. */
void emu_sleep_ms(int ms);

#endif
