/* gw-loadgen -- holds many authenticated Socket.IO WebSocket connections to notify-gateway,
 * checks every notification they receive and writes a JSON report.
 *
 * DESIGN. One thread, one epoll set, level-triggered. Connections are started at --ramp per
 * second (from source addresses taken in turn from --sources, so several processes together
 * can exceed one address's ephemeral ports), each speaking lg_conn's state machine. The run
 * ends --hold seconds after the last connection settled (ready or failed), or on SIGINT /
 * SIGTERM; then every socket is closed and the report is written from struct lg_run and the
 * per-socket trackers. Loss is counted against --expect-per-user when given, otherwise against
 * the highest sequence number any socket of the same user saw (which cannot see a tail lost
 * by every socket of a user: give --expect-per-user in benchmarks).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "gw/common.h"
#include "lg_conn.h"

struct opts {
    const char *url;
    const char *path;
    const char *secret;
    const char *report;
    const char *event;
    const char *alg;
    const char *key_file;
    uint32_t users, per_user, user_offset, concurrency;
    double ramp, hold, timeout;
    int until_complete;
    int64_t expect_per_user; /* -1: unknown */
    struct in_addr src_first, src_last;
    char host[256];
    char port[8];
    char authority[272]; /* host:port for the Host header */
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    stop_requested = sig;
}

/* ---- options ------------------------------------------------------------------------------- */

static _Noreturn void usage(FILE *to, int code)
{
    fprintf(
        to,
        "usage: gw-loadgen --secret S [options]\n"
        "  --url URL               gateway base URL, http://HOST[:PORT] (http://127.0.0.1:3000)\n"
        "  --path PATH             Engine.IO path (/socket.io/)\n"
        "  --users N               users in this process (1)\n"
        "  --sockets-per-user M    sockets per user (1)\n"
        "  --user-offset K         first user number: users are user-K .. user-(K+N-1) (0)\n"
        "  --secret S              HS256 key for the tokens (or env JWT_SECRET)\n"
        "  --sources A[-B]         source addresses, e.g. 127.0.0.2-127.0.0.20 (127.0.0.1)\n"
        "  --ramp RATE             connections started per second, 0 = at once (1000)\n"
        "  --hold SECONDS          run this long after every connection settled (10)\n"
        "  --timeout SECONDS       handshake budget per connection (10)\n"
        "  --event NAME            event carrying notifications (notification)\n"
        "  --expect-per-user N     each user's notifications are seq 0..N-1 (loss check)\n"
        "  --report FILE           JSON report (stdout)\n"
        "  --alg HS256|RS256       token algorithm (HS256)\n"
        "  --key FILE              RSA private key (PEM) signing RS256 tokens\n"
        "  --concurrency N         at most N handshakes in flight, 0 = no cap (0)\n"
        "  --until-complete        end 1 s after every socket got --expect-per-user notifications\n"
        "                          (--hold stays the upper bound)\n");
    exit(code);
}

static int parse_u32(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > UINT32_MAX || *s == '-')
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int parse_secs(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= 0 && v < 1e7))
        return -1;
    *out = v;
    return 0;
}

static int parse_sources(const char *s, struct opts *o)
{
    char a[64];
    const char *dash = strchr(s, '-');
    size_t n = dash ? (size_t)(dash - s) : strlen(s);
    if (n >= sizeof(a))
        return -1;
    memcpy(a, s, n);
    a[n] = '\0';
    if (inet_pton(AF_INET, a, &o->src_first) != 1)
        return -1;
    o->src_last = o->src_first;
    if (dash && inet_pton(AF_INET, dash + 1, &o->src_last) != 1)
        return -1;
    return ntohl(o->src_last.s_addr) >= ntohl(o->src_first.s_addr) ? 0 : -1;
}

static int parse_url(const char *url, struct opts *o)
{
    if (strncmp(url, "http://", 7) != 0)
        return -1;
    const char *h = url + 7;
    size_t hl = strcspn(h, ":/");
    if (hl == 0 || hl >= sizeof(o->host))
        return -1;
    memcpy(o->host, h, hl);
    o->host[hl] = '\0';
    snprintf(o->port, sizeof(o->port), "80");
    if (h[hl] == ':') {
        size_t pl = strspn(h + hl + 1, "0123456789");
        if (pl == 0 || pl >= sizeof(o->port))
            return -1;
        memcpy(o->port, h + hl + 1, pl);
        o->port[pl] = '\0';
        hl += 1 + pl;
    }
    snprintf(o->authority, sizeof(o->authority), "%s:%s", o->host, o->port);
    return h[hl] == '\0' || strcmp(h + hl, "/") == 0 ? 0 : -1;
}

/* The report echoes these options inside JSON strings without escaping them. */
static int json_safe(const char *s)
{
    for (; *s; s++)
        if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20)
            return 0;
    return 1;
}

static _Noreturn void bad(const char *opt, const char *val)
{
    fprintf(stderr, "gw-loadgen: invalid value for --%s: \"%s\"\n", opt, val);
    exit(2);
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longs[] = {{"url", required_argument, 0, 'u'},
                                          {"path", required_argument, 0, 'p'},
                                          {"users", required_argument, 0, 'n'},
                                          {"sockets-per-user", required_argument, 0, 'm'},
                                          {"user-offset", required_argument, 0, 'k'},
                                          {"secret", required_argument, 0, 's'},
                                          {"sources", required_argument, 0, 'S'},
                                          {"ramp", required_argument, 0, 'r'},
                                          {"hold", required_argument, 0, 'H'},
                                          {"timeout", required_argument, 0, 't'},
                                          {"event", required_argument, 0, 'e'},
                                          {"expect-per-user", required_argument, 0, 'x'},
                                          {"report", required_argument, 0, 'o'},
                                          {"alg", required_argument, 0, 'a'},
                                          {"key", required_argument, 0, 'K'},
                                          {"concurrency", required_argument, 0, 'c'},
                                          {"until-complete", no_argument, 0, 'C'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    *o = (struct opts){.url = "http://127.0.0.1:3000",
                       .path = "/socket.io/",
                       .users = 1,
                       .per_user = 1,
                       .ramp = 1000,
                       .hold = 10,
                       .timeout = 10,
                       .event = "notification",
                       .alg = "HS256",
                       .expect_per_user = -1,
                       .secret = getenv("JWT_SECRET")};
    inet_pton(AF_INET, "127.0.0.1", &o->src_first);
    o->src_last = o->src_first;
    int ch, idx = -1;
    uint32_t u;
    /* idx is only set when a long option matched; every option but -h is long-only. */
    while ((ch = getopt_long(argc, argv, "h", longs, &idx)) != -1) {
        const char *name = idx >= 0 ? longs[idx].name : "";
        idx = -1;
        switch (ch) {
        case 'u':
            o->url = optarg;
            break;
        case 'p':
            o->path = optarg;
            break;
        case 's':
            o->secret = optarg;
            break;
        case 'e':
            o->event = optarg;
            break;
        case 'o':
            o->report = optarg;
            break;
        case 'a':
            o->alg = optarg;
            if (strcmp(optarg, "HS256") != 0 && strcmp(optarg, "RS256") != 0)
                bad(name, optarg);
            break;
        case 'K':
            o->key_file = optarg;
            break;
        case 'c':
            if (parse_u32(optarg, &o->concurrency))
                bad(name, optarg);
            break;
        case 'C':
            o->until_complete = 1;
            break;
        case 'n':
            if (parse_u32(optarg, &o->users) || !o->users)
                bad(name, optarg);
            break;
        case 'm':
            if (parse_u32(optarg, &o->per_user) || !o->per_user)
                bad(name, optarg);
            break;
        case 'k':
            if (parse_u32(optarg, &o->user_offset))
                bad(name, optarg);
            break;
        case 'x':
            if (parse_u32(optarg, &u))
                bad(name, optarg);
            o->expect_per_user = u;
            break;
        case 'S':
            if (parse_sources(optarg, o))
                bad(name, optarg);
            break;
        case 'r':
            if (parse_secs(optarg, &o->ramp))
                bad(name, optarg);
            break;
        case 'H':
            if (parse_secs(optarg, &o->hold))
                bad(name, optarg);
            break;
        case 't':
            if (parse_secs(optarg, &o->timeout) || o->timeout == 0)
                bad(name, optarg);
            break;
        case 'h':
            usage(stdout, 0);
        default:
            usage(stderr, 2);
        }
    }
    if (optind < argc)
        usage(stderr, 2);
    if (strcmp(o->alg, "RS256") == 0) {
        if (!o->key_file) {
            fprintf(stderr, "gw-loadgen: --alg RS256 needs --key FILE (an RSA private key)\n");
            exit(2);
        }
    } else if (!o->secret || !*o->secret) {
        fprintf(stderr, "gw-loadgen: no key: give --secret or set JWT_SECRET\n");
        exit(2);
    }
    if (parse_url(o->url, o) || !json_safe(o->url))
        bad("url", o->url);
    if (!json_safe(o->event))
        bad("event", o->event);
    if (o->until_complete && o->expect_per_user < 0) {
        fprintf(stderr, "gw-loadgen: --until-complete needs --expect-per-user\n");
        exit(2);
    }
    if (o->path[0] != '/' || strpbrk(o->path, "?# ") || !json_safe(o->path))
        bad("path", o->path);
    if ((uint64_t)o->users * o->per_user > 1000000 || o->user_offset > UINT32_MAX - o->users)
        bad("users", "too many connections for one process");
}

/* ---- setup --------------------------------------------------------------------------------- */

static void resolve(const struct opts *o, struct sockaddr_in *dst)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(o->host, o->port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "gw-loadgen: cannot resolve %s: %s\n", o->host, gai_strerror(rc));
        exit(2);
    }
    memcpy(dst, res->ai_addr, sizeof(*dst));
    freeaddrinfo(res);
}

/* Raises the soft open-file limit to the hard one and refuses a run that cannot fit in it. */
static void check_fd_limit(uint64_t conns)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        conns + 32 > rl.rlim_cur) {
        fprintf(stderr,
                "gw-loadgen: %" PRIu64 " connections do not fit in the open-file limit of %llu; "
                "split the users over several processes with --user-offset\n",
                conns, (unsigned long long)rl.rlim_cur);
        exit(2);
    }
}

static struct lg_conn *make_conns(const struct opts *o, uint64_t total)
{
    struct lg_conn *conns = gw_calloc(total, sizeof(*conns));
    uint32_t first = ntohl(o->src_first.s_addr);
    uint32_t nsrc = ntohl(o->src_last.s_addr) - first + 1;
    for (uint64_t i = 0; i < total; i++) {
        /* Users first, then their further sockets: every user gets a socket early in a ramp. */
        uint32_t user = o->user_offset + (uint32_t)(i % o->users);
        struct in_addr src = {.s_addr = htonl(first + (uint32_t)(i % nsrc))};
        lg_conn_init(&conns[i], user, src);
    }
    return conns;
}

/* ---- the loop ------------------------------------------------------------------------------ */

static uint64_t failed_before_ready(const struct lg_run *run)
{
    return lg_reasons_total(&run->connect_errors) + lg_reasons_total(&run->http_rejected) +
           lg_reasons_total(&run->sio_rejected) + lg_reasons_total(&run->closed_early);
}

static int settled(const struct lg_run *run, uint64_t total)
{
    return run->attempted == total && run->established + failed_before_ready(run) >= total;
}

/* Connections started whose handshake has neither succeeded nor failed yet. */
static uint64_t in_flight(const struct lg_run *run)
{
    return run->attempted - run->established - failed_before_ready(run);
}

/* Every socket that became ready has all its notifications (its drops count as not). */
static int complete(const struct opts *o, const struct lg_run *run)
{
    return o->until_complete && run->fresh >= run->established * (uint64_t)o->expect_per_user;
}

/* Seconds from the start to the moment every connection settled (the handshake phase). */
static double settle_seconds;

/* CPU seconds (user, system) of the process so far. */
static void cpu_seconds(double *user_s, double *sys_s)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    *sys_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* CPU spent minting tokens, left out of the report's cpu figures (they cover the run). */
static double mint_user_s, mint_sys_s, mint_wall_s;

static void run_loop(const struct opts *o, struct lg_run *run, struct lg_conn *conns,
                     uint64_t total)
{
    struct epoll_event evs[256];
    uint64_t t0 = gw_now_ms(), next_scan = t0 + 250, hold_until = 0;
    uint64_t timeout_ms = (uint64_t)(o->timeout * 1000);
    uint64_t started = 0, grace_until = 0;
    while (!stop_requested) {
        uint64_t now = gw_now_ms();
        uint64_t due = o->ramp > 0 ? (uint64_t)((double)(now - t0) * o->ramp / 1000.0) + 1 : total;
        while (started < GW_MIN(due, total) &&
               (o->concurrency == 0 || in_flight(run) < o->concurrency))
            lg_conn_start(run, &conns[started++], now, timeout_ms);
        if (!hold_until && settled(run, total)) {
            hold_until = now + (uint64_t)(o->hold * 1000);
            settle_seconds = (double)(gw_now_us() - t0 * 1000) / 1e6;
            fprintf(stderr,
                    "gw-loadgen: settled: %" PRIu64 " of %" PRIu64
                    " established after %.1f s; holding %.0f s\n",
                    run->established, total, (double)(now - t0) / 1000.0, o->hold);
        }
        if (hold_until && now >= hold_until)
            break;
        /* A short grace after completion, so a duplicate close behind the last one is seen. */
        if (hold_until && !grace_until && complete(o, run)) {
            grace_until = now + 1000;
            /* The runner ends its CPU window here, before the grace and the closes. */
            fprintf(stderr, "gw-loadgen: complete: %" PRIu64 " notifications\n", run->fresh);
        }
        if (grace_until && now >= grace_until)
            break;
        if (now >= next_scan) {
            for (uint64_t i = 0; i < started; i++)
                lg_conn_check_timeout(run, &conns[i], now);
            next_scan = now + 250;
        }
        int n = epoll_wait(run->epfd, evs, (int)GW_ARRAY_SIZE(evs), started < total ? 1 : 20);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "gw-loadgen: epoll_wait: %s\n", strerror(errno));
            exit(1);
        }
        for (int i = 0; i < n; i++)
            lg_conn_on_event(run, evs[i].data.ptr, evs[i].events);
    }
    for (uint64_t i = 0; i < total; i++)
        lg_conn_shutdown(run, &conns[i]);
}

/* ---- the report ---------------------------------------------------------------------------- */

struct totals {
    uint64_t distinct, expected, lost, duplicates, reordered, invalid, cross_user;
    uint64_t sockets_lost, sockets_dup, sockets_reordered, sockets_cross;
};

static void json_reasons(FILE *f, const char *name, const struct lg_reasons *r, const char *sep)
{
    fprintf(f, "    \"%s\": {", name);
    for (int i = 0; i < r->n; i++)
        fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", r->v[i].name, r->v[i].count);
    fprintf(f, "}%s\n", sep);
}

static void json_hist(FILE *f, const char *name, const struct lg_hist *h, const char *sep)
{
    fprintf(f,
            "  \"%s\": {\"count\": %" PRIu64 ", \"min\": %" PRIu64
            ", \"mean\": %.1f, \"p50\": %" PRIu64 ", \"p90\": %" PRIu64 ", \"p99\": %" PRIu64
            ", \"p999\": %" PRIu64 ", \"max\": %" PRIu64 "}%s\n",
            name, h->count, h->count ? h->min : 0, h->count ? h->sum / (double)h->count : 0.0,
            lg_hist_quantile(h, 0.5), lg_hist_quantile(h, 0.9), lg_hist_quantile(h, 0.99),
            lg_hist_quantile(h, 0.999), h->max, sep);
}

/* The number each user's sockets should have seen: given, or the most any of them saw. */
static int64_t *expected_per_user(const struct opts *o, const struct lg_conn *conns, uint64_t total)
{
    int64_t *want = gw_calloc(o->users, sizeof(*want));
    for (uint64_t i = 0; i < total; i++) {
        uint32_t u = conns[i].user - o->user_offset;
        if (o->expect_per_user >= 0)
            want[u] = o->expect_per_user;
        else if (conns[i].track.top + 1 > want[u])
            want[u] = conns[i].track.top + 1;
    }
    return want;
}

static int socket_has_problem(const struct lg_conn *c, uint64_t lost)
{
    return lost || c->track.duplicates || c->track.reordered || c->track.invalid || c->cross_user;
}

/* Counts over sockets that were ever ready (the others are failed connections already). */
static void sum_sockets(FILE *f, const struct opts *o, const struct lg_conn *conns, uint64_t total,
                        struct totals *t)
{
    int64_t *want = expected_per_user(o, conns, total);
    int listed = 0;
    fprintf(f, "  \"problemSockets\": [");
    for (uint64_t i = 0; i < total; i++) {
        const struct lg_conn *c = &conns[i];
        if (!c->ready_once)
            continue;
        int64_t w = want[c->user - o->user_offset];
        uint64_t lost = lg_track_missing(&c->track, w);
        t->distinct += c->track.received;
        t->expected += (uint64_t)w;
        t->lost += lost;
        t->duplicates += c->track.duplicates;
        t->reordered += c->track.reordered;
        t->invalid += c->track.invalid;
        t->cross_user += c->cross_user;
        t->sockets_lost += lost > 0;
        t->sockets_dup += c->track.duplicates > 0;
        t->sockets_reordered += c->track.reordered > 0;
        t->sockets_cross += c->cross_user > 0;
        if (socket_has_problem(c, lost) && listed < 20) {
            char src[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &c->src, src, sizeof(src));
            fprintf(f,
                    "%s\n    {\"socket\": %" PRIu64 ", \"user\": \"user-%u\", \"source\": \"%s\", "
                    "\"lost\": %" PRIu64 ", \"duplicates\": %" PRIu64 ", \"reordered\": %" PRIu64
                    ", \"invalidSeq\": %" PRIu64 ", \"crossUser\": %" PRIu64 "}",
                    listed ? "," : "", i, c->user, src, lost, c->track.duplicates,
                    c->track.reordered, c->track.invalid, c->cross_user);
            listed++;
        }
    }
    fprintf(f, "%s],\n", listed ? "\n  " : "");
    free(want);
}

static void write_report(FILE *f, const struct opts *o, const struct lg_run *run,
                         const struct lg_conn *conns, uint64_t total, double wall_s)
{
    char first[INET_ADDRSTRLEN], last[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &o->src_first, first, sizeof(first));
    inet_ntop(AF_INET, &o->src_last, last, sizeof(last));
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double user_s, sys_s;
    cpu_seconds(&user_s, &sys_s);
    user_s -= mint_user_s;
    sys_s -= mint_sys_s;

    fprintf(f, "{\n  \"tool\": \"gw-loadgen\",\n");
    fprintf(
        f,
        "  \"config\": {\"url\": \"%s\", \"path\": \"%s\", \"users\": %u, \"socketsPerUser\": %u, "
        "\"userOffset\": %u, \"ramp\": %g, \"hold\": %g, \"sources\": [\"%s\", \"%s\"], "
        "\"event\": \"%s\", \"expectPerUser\": %" PRId64 ", \"alg\": \"%s\", "
        "\"concurrency\": %u},\n",
        o->url, o->path, o->users, o->per_user, o->user_offset, o->ramp, o->hold, first, last,
        o->event, o->expect_per_user, o->alg, o->concurrency);
    fprintf(f, "  \"stoppedBy\": \"%s\",\n  \"wallSeconds\": %.3f,\n",
            stop_requested     ? "signal"
            : complete(o, run) ? "complete"
                               : "hold",
            wall_s);
    fprintf(f,
            "  \"settleSeconds\": %.3f,\n  \"handshakesPerSecond\": %.1f,\n"
            "  \"noticeWindowUs\": [%" PRIu64 ", %" PRIu64 "],\n",
            settle_seconds, settle_seconds > 0 ? (double)run->established / settle_seconds : 0.0,
            run->first_notice_us, run->last_notice_us);

    uint64_t failed = run->attempted - run->established;
    fprintf(f,
            "  \"connections\": {\n    \"planned\": %" PRIu64 ", \"attempted\": %" PRIu64
            ", \"established\": %" PRIu64 ", \"failed\": %" PRIu64 ", \"openAtEnd\": %" PRIu64
            ",\n",
            total, run->attempted, run->established, failed, run->open_at_end);
    json_reasons(f, "connectErrors", &run->connect_errors, ",");
    json_reasons(f, "httpRejected", &run->http_rejected, ",");
    json_reasons(f, "handshakeRejected", &run->sio_rejected, ",");
    json_reasons(f, "closedBeforeReady", &run->closed_early, ",");
    json_reasons(f, "droppedAfterReady", &run->dropped, ",");
    json_reasons(f, "protocolErrors", &run->protocol_errors, "");
    fprintf(f, "  },\n");

    struct totals t = {0};
    sum_sockets(f, o, conns, total, &t);
    fprintf(f,
            "  \"notifications\": {\"received\": %" PRIu64 ", \"distinct\": %" PRIu64
            ", \"expected\": %" PRIu64 ", \"lost\": %" PRIu64 ", \"duplicates\": %" PRIu64
            ", \"reordered\": %" PRIu64 ", \"crossUser\": %" PRIu64 ", \"invalidSeq\": %" PRIu64
            ", \"malformed\": %" PRIu64 ", \"otherEvents\": %" PRIu64
            ", \"negativeLatency\": %" PRIu64 ",\n    \"socketsWithLoss\": %" PRIu64
            ", \"socketsWithDuplicates\": %" PRIu64 ", \"socketsWithReorder\": %" PRIu64
            ", \"socketsWithCrossUser\": %" PRIu64 "},\n",
            run->notifications, t.distinct, t.expected, t.lost, t.duplicates, t.reordered,
            t.cross_user, t.invalid, run->malformed, run->other_events, run->negative_latency,
            t.sockets_lost, t.sockets_dup, t.sockets_reordered, t.sockets_cross);
    json_hist(f, "latencyUs", &run->latency, ",");
    json_hist(f, "handshakeUs", &run->handshake, ",");
    fprintf(f, "  \"pingsAnswered\": %" PRIu64 ",\n", run->pings);
    fprintf(f,
            "  \"mintSeconds\": %.3f,\n"
            "  \"cpu\": {\"userSeconds\": %.3f, \"systemSeconds\": %.3f, \"busy\": %.3f},\n"
            "  \"maxRssKb\": %ld,\n",
            mint_wall_s, user_s, sys_s, wall_s > 0 ? (user_s + sys_s) / wall_s : 0.0, ru.ru_maxrss);
    int valid = failed == 0 && t.lost == 0 && t.duplicates == 0 && t.reordered == 0 &&
                t.cross_user == 0 && t.invalid == 0 && run->malformed == 0 &&
                lg_reasons_total(&run->dropped) == 0 &&
                lg_reasons_total(&run->protocol_errors) == 0;
    fprintf(f, "  \"valid\": %s\n}\n", valid ? "true" : "false");
}

/* ---- main ---------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    struct opts o;
    parse_opts(argc, argv, &o);
    uint64_t total = (uint64_t)o.users * o.per_user;
    check_fd_limit(total);

    struct lg_run *run = gw_calloc(1, sizeof(*run));
    resolve(&o, &run->dst);
    run->host_header = o.authority;
    run->path = o.path;
    run->event = o.event;
    run->secret = (const uint8_t *)o.secret;
    run->secret_len = o.secret ? strlen(o.secret) : 0;
    run->token_iat = (int64_t)time(NULL);
    run->token_exp = run->token_iat + 10 * 365 * 86400;
    struct lg_signer signer = {
        .alg = LG_HS256, .secret = run->secret, .secret_len = run->secret_len};
    char err[GW_ERR_LEN];
    if (strcmp(o.alg, "RS256") == 0 && lg_signer_load_rs256(&signer, o.key_file, err) < 0) {
        fprintf(stderr, "gw-loadgen: %s\n", err);
        return 2;
    }
    /* Every token is minted before the first connection, so signing is not in the timings. */
    struct lg_tokens tokens;
    uint64_t m0 = gw_now_us();
    lg_tokens_mint(&tokens, &signer, o.user_offset, o.users, run->token_iat, run->token_exp);
    mint_wall_s = (double)(gw_now_us() - m0) / 1e6;
    cpu_seconds(&mint_user_s, &mint_sys_s);
    run->tokens = &tokens;
    gw_random_bytes(&run->rng, sizeof(run->rng));
    run->rng |= 1; /* xorshift must not start at zero */
    lg_hist_init(&run->latency);
    lg_hist_init(&run->handshake);
    run->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (run->epfd < 0) {
        fprintf(stderr, "gw-loadgen: epoll_create1: %s\n", strerror(errno));
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct lg_conn *conns = make_conns(&o, total);
    uint64_t t0 = gw_now_us();
    run_loop(&o, run, conns, total);
    double wall_s = (double)(gw_now_us() - t0) / 1e6;

    FILE *f = o.report ? fopen(o.report, "w") : stdout;
    if (!f) {
        fprintf(stderr, "gw-loadgen: cannot write %s: %s\n", o.report, strerror(errno));
        return 1;
    }
    write_report(f, &o, run, conns, total, wall_s);
    if (f != stdout && fclose(f) != 0) {
        fprintf(stderr, "gw-loadgen: cannot write %s: %s\n", o.report, strerror(errno));
        return 1;
    }
    for (uint64_t i = 0; i < total; i++)
        lg_track_free(&conns[i].track);
    free(conns);
    lg_tokens_free(&tokens);
    lg_signer_free(&signer);
    close(run->epfd);
    free(run);
    return 0;
}
