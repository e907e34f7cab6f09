/* main.c -- mongo-emu's command line. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"
#include "gw/common.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mongo-emu [--host 127.0.0.1] [--port 27017] [--replset rs0 | --standalone]\n"
               "                 [--oplog-size N] [--dbpath DIR] [--max-wire-version N]\n"
               "A MongoDB wire-protocol emulator for tests: a single-node replica set with\n"
               "change streams and fault injection. Not a database for production.\n");
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    struct emu_config cfg = {.host = "127.0.0.1",
                             .port = 27017,
                             .set_name = "rs0",
                             .max_wire = 17,
                             .oplog_size = 1000000};
    static const struct option opts[] = {
        {"host", required_argument, NULL, 'h'},
        {"port", required_argument, NULL, 'p'},
        {"replset", required_argument, NULL, 'r'},
        {"standalone", no_argument, NULL, 's'},
        {"oplog-size", required_argument, NULL, 'o'},
        {"dbpath", required_argument, NULL, 'd'},
        {"max-wire-version", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'H'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    long v;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'h':
            cfg.host = optarg;
            break;
        case 'p':
            if (parse_long(optarg, 0, 65535, &v) < 0) {
                fprintf(stderr, "mongo-emu: --port must be 0..65535, not '%s'\n", optarg);
                return 2;
            }
            cfg.port = (int)v;
            break;
        case 'r':
            if (!optarg[0]) {
                fprintf(stderr, "mongo-emu: --replset needs a name\n");
                return 2;
            }
            cfg.set_name = optarg;
            break;
        case 's':
            cfg.standalone = true;
            break;
        case 'o':
            if (parse_long(optarg, 1, 100000000, &v) < 0) {
                fprintf(stderr, "mongo-emu: --oplog-size must be 1..100000000 entries\n");
                return 2;
            }
            cfg.oplog_size = (size_t)v;
            break;
        case 'd':
            cfg.dbpath = optarg;
            break;
        case 'w':
            if (parse_long(optarg, 6, 25, &v) < 0) {
                fprintf(stderr, "mongo-emu: --max-wire-version must be 6..25\n");
                return 2;
            }
            cfg.max_wire = (int)v;
            break;
        case 'H':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mongo-emu: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    char err[GW_ERR_LEN];
    struct emu_server *srv = emu_server_new(&cfg, err);
    if (!srv) {
        fprintf(stderr, "mongo-emu: %s\n", err);
        return 1;
    }
    int rc = emu_server_run(srv, err);
    if (rc < 0)
        fprintf(stderr, "mongo-emu: %s\n", err);
    emu_server_free(srv);
    return rc < 0 ? 1 : 0;
}
