/* emu_proc.h -- a mongo-emu child process for the unit tests that need a live server.
 *
 * The binary is taken from the build tree (<dir of the test binary>/tools/mongo-emu/mongo-emu)
 * or $GW_MONGO_EMU; a test fails, not skips, when it is missing. Header-only: each test is one
 * translation unit.
 */
#ifndef GW_TEST_EMU_PROC_H
#define GW_TEST_EMU_PROC_H

#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

struct emu {
    pid_t pid;
    char uri[128];
};

static inline int emu_path(char *out, size_t n)
{
    const char *env = getenv("GW_MONGO_EMU");
    if (env)
        return snprintf(out, n, "%s", env) < (int)n ? 0 : -1;
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len < 0)
        return -1;
    self[len] = '\0';
    return snprintf(out, n, "%s/tools/mongo-emu/mongo-emu", dirname(self)) < (int)n ? 0 : -1;
}

/* Starts mongo-emu on a free port and reads its one "listening on HOST:PORT" line. */
static inline int emu_start(struct emu *e)
{
    char path[PATH_MAX];
    int fds[2];
    if (emu_path(path, sizeof(path)) < 0 || access(path, X_OK) != 0) {
        fprintf(stderr, "mongo-emu not found at %s (build the mongo-emu target)\n", path);
        return -1;
    }
    if (pipe(fds) < 0)
        return -1;
    e->pid = fork();
    if (e->pid < 0)
        return -1;
    if (e->pid == 0) {
        /* A test that aborts must not leave the emulator holding ctest's output pipe: ctest
         * would wait for it until its timeout. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(path, path, "--port", "0", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[256];
    int port = 0;
    if (f && fgets(line, sizeof(line), f))
        sscanf(line, "mongo-emu listening on 127.0.0.1:%d", &port);
    if (f)
        fclose(f);
    if (port <= 0)
        return -1;
    snprintf(e->uri, sizeof(e->uri), "mongodb://127.0.0.1:%d/?replicaSet=rs0", port);
    return 0;
}

static inline void emu_stop(struct emu *e)
{
    if (e->pid <= 0)
        return;
    kill(e->pid, SIGTERM);
    waitpid(e->pid, NULL, 0);
}

#endif
