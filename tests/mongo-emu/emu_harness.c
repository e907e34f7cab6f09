/* emu_harness.c -- see emu_harness.h. */
#include "emu_harness.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int emu_proc_start(struct emu_proc *p, const char *binary, const char *const *args)
{
    int fds[2];
    if (pipe(fds) < 0) {
        perror("pipe");
        return -1;
    }
    const char *argv[32] = {binary, "--port", "0"};
    int argc = 3;
    for (int i = 0; args && args[i] && argc < 31; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(binary, (char *const *)argv);
        perror("execv");
        _exit(127);
    }
    close(fds[1]);
    p->pid = pid;
    char line[256];
    size_t len = 0;
    for (;;) {
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        if (poll(&pfd, 1, 10000) <= 0)
            break;
        ssize_t n = read(fds[0], line + len, sizeof line - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        line[len] = '\0';
        if (strchr(line, '\n'))
            break;
    }
    close(fds[0]);
    line[len] = '\0';
    const char *prefix = "mongo-emu listening on ";
    char *nl = strchr(line, '\n');
    if (strncmp(line, prefix, strlen(prefix)) != 0 || !nl) {
        fprintf(stderr, "harness: mongo-emu did not start (got \"%s\")\n", line);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    *nl = '\0';
    snprintf(p->host_port, sizeof p->host_port, "%s", line + strlen(prefix));
    const char *colon = strrchr(p->host_port, ':');
    p->port = colon ? atoi(colon + 1) : 0;
    return 0;
}

int emu_proc_stop(struct emu_proc *p)
{
    int status;
    kill(p->pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        emu_sleep_ms(50);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &status, 0);
    return -1;
}

mongoc_client_t *emu_client(const struct emu_proc *p, const char *opts, const char *app_name)
{
    char uri[768];
    snprintf(uri, sizeof uri, "mongodb://%s/?%s", p->host_port, opts ? opts : "");
    mongoc_client_t *c = mongoc_client_new(uri);
    if (!c) {
        fprintf(stderr, "harness: bad URI %s\n", uri);
        abort();
    }
    mongoc_client_set_error_api(c, MONGOC_ERROR_API_VERSION_2);
    if (app_name)
        mongoc_client_set_appname(c, app_name);
    return c;
}

bool emu_admin(mongoc_client_t *c, const char *json, bson_t *reply, bson_error_t *err)
{
    bson_error_t perr;
    bson_t *cmd = bson_new_from_json((const uint8_t *)json, -1, &perr);
    if (!cmd) {
        fprintf(stderr, "harness: bad JSON %s: %s\n", json, perr.message);
        abort();
    }
    bool ok = mongoc_client_command_simple(c, "admin", cmd, NULL, reply, err);
    bson_destroy(cmd);
    return ok;
}

int64_t emu_int_at(const bson_t *doc, const char *path, int64_t dflt)
{
    bson_iter_t it, f;
    if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path, &f) ||
        !BSON_ITER_HOLDS_NUMBER(&f))
        return dflt;
    return bson_iter_as_int64(&f);
}

const char *emu_str_at(const bson_t *doc, const char *path)
{
    bson_iter_t it, f;
    if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path, &f) ||
        !BSON_ITER_HOLDS_UTF8(&f))
        return "";
    return bson_iter_utf8(&f, NULL);
}

bool emu_array_has(const bson_t *doc, const char *path, const char *s)
{
    bson_iter_t it, f, a;
    if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path, &f) ||
        !BSON_ITER_HOLDS_ARRAY(&f) || !bson_iter_recurse(&f, &a))
        return false;
    while (bson_iter_next(&a))
        if (BSON_ITER_HOLDS_UTF8(&a) && !strcmp(bson_iter_utf8(&a, NULL), s))
            return true;
    return false;
}

void emu_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}
