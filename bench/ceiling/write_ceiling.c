/* write-ceiling -- the machine's raw write() ceiling for the benchmark: how many WebSocket
 * frames of one notification's size one core can write() to N connected loopback sockets per
 * second, round-robin, doing nothing else. The gateway's deliveries/s target is a fraction of
 * this number (issue 7), so it is measured on the same machine, in the same run.
 *
 * DESIGN. The parent (the writer, on --writer-cpu) listens on 127.0.0.1, forks a reader child
 * (on --reader-cpu) that opens N connections and drains them with epoll, then accepts the N
 * connections and writes one pre-built unmasked text frame to each in turn for --seconds.
 * Splitting the ends over two processes keeps each under the 20,000 open-file limit. On
 * loopback the writer's core also runs the receiver's TCP input path, as it does for a server
 * under test, so this is the right ceiling for a loopback benchmark. A write that would block
 * is counted and skipped, never retried in a loop. Output: one JSON line on stdout.
 *
 * --via-poll writes the way an event loop that writes only when told a socket is writable
 * does, libwebsockets' WRITEABLE callback among them: for each batch of 64 sockets, ask for
 * EPOLLOUT on each (EPOLL_CTL_MOD), one epoll_wait, then for each ready socket its write and
 * EPOLL_CTL_MOD back to EPOLLIN only. Two epoll_ctl per write are the least such a server pays
 * when each write goes to a different socket (the gateway's 10k x 1 shape), so this is the
 * ceiling of that write pattern on this machine.
 *
 * --poll-armed leaves EPOLLOUT on for every socket (level-triggered) and writes one frame to each
 * socket each epoll_wait reports, 64 at a time: what that loop pays when each socket has more
 * queued, so its writability request stays on from one write to the next (lws on libev then
 * makes no epoll_ctl: a stop and a start in one loop turn cancel out).
 *
 * --shuffle writes to the sockets in a fixed random order instead of the order they were
 * accepted in. Accept order is the order the kernel allocated their structures in, the kindest
 * to caches and TLB; a server writes in the order its notifications' users come, which bears no
 * relation to it. Comparing the two shows what that locality is worth on this machine.
 *
 * --rate R paces instead (directly or --via-poll): a batch of writes is due every --tick-us,
 * R a second in all, to the first --targets sockets of the order in turn; the writer sleeps
 * until the next batch once it has caught up, as a server waits for its next change event.
 * Each write's lateness is the time from its batch's due instant to its write() returning.
 * This is a floor for the latency target "at half the maximum": no server of the same write
 * pattern does less for a delivery, and none escapes the machine's noise, so when this
 * writer's own tail misses the target, every such server misses it here too.
 *
 * --stream URI takes the writes from a change stream instead of a pacer: the least any server
 * built on the project's stack does for a delivery of the latency scenario. A second thread
 * (the intake, on the same core) reads the gateway's own stream with mongoc, whose calls block,
 * so no server can read it on its socket loop; it stamps each event when mongoc returns it and
 * hands it over through the gateway's own mailbox (gw_mailbox, whose wake on the empty ->
 * non-empty edge writes an eventfd the main thread reads). The main thread
 * writes one frame to each of the event's user's --per sockets at once: user-<k> (k counted
 * from --user-offset) owns the sockets k*per .. k*per+per-1 of the order. A write's lateness
 * runs from its event's stamp to write() returning, the gateway's own-share definition; the
 * events come as the input path on the load core brings them, bursts included. It stops after
 * --events events and exits 1 on a stream error, an event for no known user, or when --seconds
 * pass first. No JSON, no registry, no libwebsockets: what is left is mongoc, the hand-over and
 * the writes, so where this misses the target, the stack and the machine do.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ceiling.h"
#include "ceiling_stream.h"
#include "gw/common.h"
#include "gw/mailbox.h"

struct opts {
    int sockets;
    int size; /* whole frame, header included */
    double seconds;
    int writer_cpu, reader_cpu;
    bool shuffle;
    double rate; /* writes/s, paced; 0: as fast as possible */
    int targets, tick_us;
    enum { MODE_DIRECT, MODE_VIA_POLL, MODE_POLL_ARMED } mode;
    const char *stream_uri; /* --stream: the writes come from this change stream */
    long events, user_offset;
    int per;
};

/* The reader: N connections from 127.0.0.2.. (a new source address every 20,000 sockets, so
 * ephemeral ports never run out), drained until the writer closes them. */
static _Noreturn void reader(const struct opts *o, struct sockaddr_in dst)
{
    ceiling_pin(o->reader_cpu);
    int ep = epoll_create1(0);
    if (ep < 0)
        ceiling_die("epoll_create1");
    for (int i = 0; i < o->sockets; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            ceiling_die("socket");
        struct sockaddr_in src = {.sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(i / 20000))};
        int one = 1;
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0 ||
            connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0)
            ceiling_die("connect");
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
            ceiling_die("epoll_ctl");
    }
    static char sink[1 << 16];
    struct epoll_event evs[256];
    int open = o->sockets;
    while (open > 0) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            ssize_t r = read(evs[i].data.fd, sink, sizeof(sink));
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                close(evs[i].data.fd);
                open--;
            }
        }
    }
    _exit(0);
}

/* A server text frame of exactly size bytes: FIN+text, 7- or 16-bit length, JSON-ish body. */
static size_t build_frame(uint8_t *f, int size)
{
    int hdr = size - 2 < 126 ? 2 : 4;
    int body = size - hdr;
    f[0] = 0x81;
    if (hdr == 2) {
        f[1] = (uint8_t)body;
    } else {
        f[1] = 126;
        f[2] = (uint8_t)(body >> 8);
        f[3] = (uint8_t)body;
    }
    static const char text[] = "42[\"notification\",{\"_id\":\"0123456789abcdef01234567\"}]";
    for (int i = 0; i < body; i++)
        f[hdr + i] = (uint8_t)text[i % (int)(sizeof(text) - 1)];
    return (size_t)size;
}

struct writer {
    const uint8_t *frame;
    size_t len;
    int ep; /* --via-poll, --poll-armed: every socket, watched */
    uint64_t writes, blocked;
};

static void write_one(struct writer *w, int fd)
{
    ssize_t n = write(fd, w->frame, w->len);
    if (n == (ssize_t)w->len)
        w->writes++;
    else if (n < 0 && errno == EAGAIN)
        w->blocked++;
    else
        ceiling_die("write");
}

static void watch(int ep, int op, int fd, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (epoll_ctl(ep, op, fd, &ev) != 0)
        ceiling_die("epoll_ctl");
}

static int watch_all(const int *fds, int n, uint32_t events)
{
    int ep = epoll_create1(0);
    if (ep < 0)
        ceiling_die("epoll_create1");
    for (int i = 0; i < n; i++)
        watch(ep, EPOLL_CTL_ADD, fds[i], events);
    return ep;
}

/* One round over every socket, 64 at a time: ask for writability, wait, write, stop asking. */
static void pass_via_poll(struct writer *w, const int *fds, int n)
{
    enum { BATCH = 64 };
    struct epoll_event evs[BATCH];
    for (int i = 0; i < n; i += BATCH) {
        int k = n - i < BATCH ? n - i : BATCH;
        for (int j = 0; j < k; j++)
            watch(w->ep, EPOLL_CTL_MOD, fds[i + j], EPOLLIN | EPOLLOUT);
        int ready = epoll_wait(w->ep, evs, BATCH, 0);
        for (int j = 0; j < ready; j++) {
            if (!(evs[j].events & EPOLLOUT))
                continue;
            write_one(w, evs[j].data.fd);
            watch(w->ep, EPOLL_CTL_MOD, evs[j].data.fd, EPOLLIN);
        }
        /* a socket that was not writable keeps EPOLLOUT until a later batch finds it */
    }
}

/* As many writes as there are sockets, to whichever sockets epoll reports writable; a
 * level-triggered ready list hands them out in turn. */
static void pass_poll_armed(struct writer *w, int n)
{
    enum { BATCH = 64 };
    struct epoll_event evs[BATCH];
    for (int done = 0; done < n;) {
        int ready = epoll_wait(w->ep, evs, BATCH, 0);
        if (ready <= 0)
            return;
        for (int j = 0; j < ready; j++, done++)
            if (evs[j].events & EPOLLOUT)
                write_one(w, evs[j].data.fd);
    }
}

/* Lateness in 10-us steps up to 1 s; the last slot holds everything later. */
enum { LATE_SLOTS = 100001 };

struct paced {
    uint32_t *late; /* LATE_SLOTS counters */
    uint64_t n, over1ms, over5ms;
    double max_s;
};

static void paced_record(struct paced *p, double late_s)
{
    long slot = late_s <= 0 ? 0 : (long)(late_s * 1e5);
    p->late[slot < LATE_SLOTS - 1 ? slot : LATE_SLOTS - 1]++;
    p->n++;
    p->over1ms += late_s > 0.001;
    p->over5ms += late_s > 0.005;
    if (late_s > p->max_s)
        p->max_s = late_s;
}

/* The lateness (us, upper edge of its 10-us step) that a share q of the writes stayed within. */
static long paced_quantile(const struct paced *p, double q)
{
    uint64_t want = (uint64_t)((double)p->n * q), seen = 0;
    for (long i = 0; i < LATE_SLOTS; i++)
        if ((seen += p->late[i]) > want)
            return (i + 1) * 10;
    return LATE_SLOTS * 10;
}

/* Writes one batch of due writes (distinct sockets), at once or the via-poll way, recording
 * each one's lateness against due; returns when every socket of the batch has had its write. */
static void paced_batch(struct writer *w, struct paced *p, const int *fds, int k, double due)
{
    if (w->ep < 0) {
        for (int j = 0; j < k; j++) {
            write_one(w, fds[j]);
            paced_record(p, ceiling_now_s() - due);
        }
        return;
    }
    struct epoll_event evs[64];
    for (int j = 0; j < k; j++)
        watch(w->ep, EPOLL_CTL_MOD, fds[j], EPOLLIN | EPOLLOUT);
    for (int left = k; left > 0;) {
        int ready = epoll_wait(w->ep, evs, 64, -1);
        for (int j = 0; j < ready; j++) {
            if (!(evs[j].events & EPOLLOUT))
                continue;
            write_one(w, evs[j].data.fd);
            paced_record(p, ceiling_now_s() - due);
            watch(w->ep, EPOLL_CTL_MOD, evs[j].data.fd, EPOLLIN);
            left--;
        }
    }
}

/* --rate: batches due every tick, written 64 at a time, the writer asleep when caught up. */
static void run_paced(struct writer *w, struct paced *p, const struct opts *o, const int *fds,
                      double t0)
{
    double tick = o->tick_us / 1e6, per_tick = o->rate * tick;
    uint64_t total = (uint64_t)(o->rate * o->seconds), done = 0;
    uint64_t next = 0; /* the next tick whose writes are not yet due */
    int cursor = 0, batch[64];
    /* wake at the tick, not up to 50 us later: the timer's slack is no part of a delivery */
    prctl(PR_SET_TIMERSLACK, 1UL);
    while (done < total) {
        uint64_t now_tick = (uint64_t)((ceiling_now_s() - t0) / tick);
        if (now_tick < next) {
            double at = t0 + (double)next * tick;
            struct timespec ts = {.tv_sec = (time_t)at};
            ts.tv_nsec = (long)((at - (double)ts.tv_sec) * 1e9);
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
            continue;
        }
        /* write k falls due in tick k / per_tick; those of every tick up to now_tick are due */
        uint64_t due_n = (uint64_t)(per_tick * (double)(now_tick + 1));
        if (due_n > total)
            due_n = total;
        while (done < due_n) {
            uint64_t tick_no = (uint64_t)((double)done / per_tick);
            int k = 0;
            while (k < 64 && done + (uint64_t)k < due_n &&
                   (uint64_t)((double)(done + (uint64_t)k) / per_tick) == tick_no) {
                batch[k++] = fds[cursor];
                cursor = (cursor + 1) % o->targets;
            }
            paced_batch(w, p, batch, k, t0 + (double)tick_no * tick);
            done += (uint64_t)k;
        }
        next = now_tick + 1;
    }
}

/* --stream: one change event, stamped when mongoc returned it; user is the index of its user.
 * All --events of them are allocated up front, so the hand-over allocates nothing. */
struct arrival {
    struct gw_mail mail;
    double at;
    int user;
};

/* What the intake thread hands to the writer: arrivals through the gateway's own mailbox, which
 * wakes the writer (efd) only when it goes from empty to non-empty, as it wakes the loop. */
struct intake {
    const struct opts *o;
    struct arrival *arrivals; /* --events of them, filled in order by the intake */
    struct gw_mailbox *mb;
    int efd;
    atomic_bool done;       /* the intake thread has stopped and pushed its last */
    char error[640];        /* why it stopped early, empty when all --events came */
    long events, unmatched; /* intake thread only until done */
    double cpu_s;           /* the intake thread's CPU time, set before done */
};

static void intake_wake(void *ud)
{
    struct intake *in = ud;
    uint64_t one = 1;
    if (write(in->efd, &one, sizeof(one)) != sizeof(one))
        ceiling_die("eventfd write");
}

/* The index of the event's user (user-<k>, k counted from --user-offset), or -1. */
static int stream_user(const bson_t *doc, const struct opts *o)
{
    const char *s = ceiling_stream_user(doc);
    if (!s || strncmp(s, "user-", 5) != 0)
        return -1;
    char *end;
    errno = 0;
    long long k = strtoll(s + 5, &end, 10) - o->user_offset;
    return errno || *end || k < 0 || k >= o->targets / o->per ? -1 : (int)k;
}

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The intake thread: reads --events change events, or stops with in->error set. */
static void *intake_run(void *arg)
{
    struct intake *in = arg;
    const struct opts *o = in->o;
    struct ceiling_stream st;
    if (ceiling_stream_open(&st, o->stream_uri, in->error, sizeof(in->error)) == 0) {
        bson_error_t err;
        const bson_t *doc, *errdoc;
        fprintf(stderr, "write-ceiling: watching\n");
        double deadline = ceiling_now_s() + o->seconds, cpu0 = thread_cpu_s();
        while (in->events < o->events) {
            if (mongoc_change_stream_next(st.cs, &doc)) {
                struct arrival *a = &in->arrivals[in->events++];
                a->at = ceiling_now_s();
                if ((a->user = stream_user(doc, o)) < 0)
                    in->unmatched++;
                else if (gw_mailbox_push(in->mb, &a->mail, -1) < 0)
                    ceiling_die("gw_mailbox_push");
            } else if (mongoc_change_stream_error_document(st.cs, &err, &errdoc)) {
                snprintf(in->error, sizeof(in->error), "the stream failed: %s", err.message);
                break;
            } else if (ceiling_now_s() > deadline) {
                snprintf(in->error, sizeof(in->error), "%ld of %ld events within %.0f s",
                         in->events, o->events, o->seconds);
                break;
            }
        }
        in->cpu_s = thread_cpu_s() - cpu0;
        ceiling_stream_close(&st);
    }
    atomic_store(&in->done, true);
    intake_wake(in);
    return NULL;
}

/* --stream: the writer's state while it drains the mailbox. */
struct stream_writer {
    struct writer *w;
    struct paced *p;
    const int *fds;
    int per;
    double first, last, cpu0; /* the first hand-over (and the CPU then), the last write */
};

static void write_arrival(struct gw_mail *m, void *ud)
{
    struct stream_writer *sw = ud;
    const struct arrival *a = GW_CONTAINER_OF(m, struct arrival, mail);
    if (!sw->first) {
        sw->first = ceiling_now_s();
        sw->cpu0 = ceiling_cpu_s(NULL, NULL);
    }
    for (int j = 0; j < sw->per; j++) {
        write_one(sw->w, sw->fds[a->user * sw->per + j]);
        paced_record(sw->p, (sw->last = ceiling_now_s()) - a->at);
    }
}

/* --stream: writes every event's frames as the intake hands them over, until it stops.
 * Returns the wall time from the first hand-over to the last write; *cpu0 gets the process's
 * CPU time at the first hand-over. */
static double run_stream(struct writer *w, struct paced *p, struct intake *in, const int *fds,
                         double *cpu0)
{
    struct stream_writer sw = {.w = w, .p = p, .fds = fds, .per = in->o->per};
    for (bool done = false; !done;) {
        uint64_t n;
        if (read(in->efd, &n, sizeof(n)) != sizeof(n) && errno != EINTR)
            ceiling_die("eventfd read");
        done = atomic_load(&in->done); /* read first: every push came before it */
        gw_mailbox_drain(in->mb, write_arrival, &sw);
    }
    *cpu0 = sw.cpu0;
    return sw.last - sw.first;
}

/* Fisher-Yates with a fixed seed, so every run writes in the same order. */
static void shuffle(int *fds, int n)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = n - 1; i > 0; i--) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int j = (int)(x % (uint64_t)(i + 1)), t = fds[i];
        fds[i] = fds[j];
        fds[j] = t;
    }
}

/* A positive number in full, or exit 2 naming the option: a mistyped rate must not fall back
 * to the unpaced mode. */
static double number(const char *arg, const char *opt)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || !(v > 0)) {
        fprintf(stderr, "write-ceiling: %s wants a positive number, got \"%s\"\n", opt, arg);
        exit(2);
    }
    return v;
}

static void parse(int argc, char **argv, struct opts *o)
{
    static const struct option longs[] = {
        {"sockets", required_argument, 0, 'n'},     {"size", required_argument, 0, 's'},
        {"seconds", required_argument, 0, 't'},     {"writer-cpu", required_argument, 0, 'w'},
        {"reader-cpu", required_argument, 0, 'r'},  {"via-poll", no_argument, 0, 'p'},
        {"poll-armed", no_argument, 0, 'a'},        {"shuffle", no_argument, 0, 'x'},
        {"rate", required_argument, 0, 'R'},        {"targets", required_argument, 0, 'T'},
        {"tick-us", required_argument, 0, 'k'},     {"stream", required_argument, 0, 'S'},
        {"events", required_argument, 0, 'e'},      {"per", required_argument, 0, 'P'},
        {"user-offset", required_argument, 0, 'o'}, {0, 0, 0, 0}};
    *o = (struct opts){.sockets = 10000,
                       .size = 120,
                       .seconds = 3,
                       .writer_cpu = -1,
                       .reader_cpu = -1,
                       .tick_us = 1000,
                       .per = 2};
    int ch;
    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (ch) {
        case 'n':
            o->sockets = atoi(optarg);
            break;
        case 's':
            o->size = atoi(optarg);
            break;
        case 't':
            o->seconds = atof(optarg);
            break;
        case 'w':
            o->writer_cpu = atoi(optarg);
            break;
        case 'r':
            o->reader_cpu = atoi(optarg);
            break;
        case 'p':
            o->mode = MODE_VIA_POLL;
            break;
        case 'a':
            o->mode = MODE_POLL_ARMED;
            break;
        case 'x':
            o->shuffle = true;
            break;
        case 'R':
            o->rate = number(optarg, "--rate");
            break;
        case 'T':
            o->targets = (int)number(optarg, "--targets");
            break;
        case 'k':
            o->tick_us = (int)number(optarg, "--tick-us");
            break;
        case 'S':
            o->stream_uri = optarg;
            break;
        case 'e':
            o->events = (long)number(optarg, "--events");
            break;
        case 'P':
            o->per = (int)number(optarg, "--per");
            break;
        case 'o':
            o->user_offset = strcmp(optarg, "0") ? (long)number(optarg, "--user-offset") : 0;
            break;
        default:
            fprintf(stderr, "usage: write-ceiling [--sockets N] [--size BYTES] [--seconds S] "
                            "[--writer-cpu C] [--reader-cpu C] [--via-poll | --poll-armed] "
                            "[--shuffle] [--rate WRITES_PER_S [--targets N] [--tick-us US]] "
                            "[--stream URI --events N [--targets N] [--per N] "
                            "[--user-offset K]]\n");
            exit(2);
        }
    }
    if (o->sockets < 1 || o->sockets > 19000 || o->size < 3 || o->size > 65535 ||
        !(o->seconds > 0 && o->seconds <= 60)) {
        fprintf(stderr, "write-ceiling: sockets 1..19000, size 3..65535, seconds (0, 60]\n");
        exit(2);
    }
    if (o->targets == 0)
        o->targets = o->sockets;
    if (o->stream_uri && (o->rate != 0 || o->mode != MODE_DIRECT || o->events < 1 || o->per < 1 ||
                          o->targets % o->per || o->targets > o->sockets)) {
        fprintf(stderr, "write-ceiling: --stream wants no --rate, --via-poll or --poll-armed, "
                        "--events >= 1, and --targets a multiple of --per, up to --sockets\n");
        exit(2);
    }
    if (o->rate != 0 &&
        (o->mode == MODE_POLL_ARMED || !(o->rate > 0 && o->rate <= 1e7) || o->targets < 64 ||
         o->targets > o->sockets || o->tick_us < 100 || o->tick_us > 100000)) {
        fprintf(stderr,
                "write-ceiling: --rate wants no --poll-armed, a rate in (0, 1e7], --targets "
                "64..sockets and --tick-us 100..100000\n");
        exit(2);
    }
}

int main(int argc, char **argv)
{
    struct opts o;
    parse(argc, argv, &o);
    ceiling_raise_fd_limit();
    signal(SIGPIPE, SIG_IGN);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001u)};
    socklen_t alen = sizeof(addr);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        listen(lfd, 4096) != 0 || getsockname(lfd, (struct sockaddr *)&addr, &alen) != 0)
        ceiling_die("listen");
    pid_t child = fork();
    if (child < 0)
        ceiling_die("fork");
    if (child == 0) {
        close(lfd);
        reader(&o, addr);
    }
    ceiling_pin(o.writer_cpu);
    int *fds = malloc(sizeof(int) * (size_t)o.sockets);
    if (!fds)
        ceiling_die("malloc");
    for (int i = 0; i < o.sockets; i++) {
        fds[i] = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
        if (fds[i] < 0)
            ceiling_die("accept");
        int one = 1;
        setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    if (o.shuffle)
        shuffle(fds, o.sockets);
    uint8_t frame[65536];
    struct writer w = {.len = build_frame(frame, o.size), .frame = frame, .ep = -1};
    if (o.mode != MODE_DIRECT)
        w.ep = watch_all(fds, o.sockets, o.mode == MODE_POLL_ARMED ? EPOLLIN | EPOLLOUT : EPOLLIN);
    double t0 = ceiling_now_s(), t = t0;
    double cpu0 = ceiling_cpu_s(NULL, NULL);
    struct paced p = {0};
    if (o.rate > 0 || o.stream_uri) {
        p.late = calloc(LATE_SLOTS, sizeof(*p.late));
        if (!p.late)
            ceiling_die("calloc");
    }
    if (o.rate > 0) {
        run_paced(&w, &p, &o, fds, t0);
        t = ceiling_now_s();
    }
    struct intake in = {.o = &o, .efd = -1};
    if (o.stream_uri) {
        mongoc_init();
        pthread_t th;
        if ((in.efd = eventfd(0, EFD_CLOEXEC)) < 0)
            ceiling_die("eventfd");
        if (!(in.arrivals = calloc((size_t)o.events, sizeof(*in.arrivals))))
            ceiling_die("calloc");
        in.mb = gw_mailbox_new((size_t)o.events, intake_wake, &in);
        if ((errno = pthread_create(&th, NULL, intake_run, &in)) != 0)
            ceiling_die("pthread_create");
        /* CPU and wall from the first hand-over: the wait for the inserts is no part of it */
        double wall = run_stream(&w, &p, &in, fds, &cpu0);
        pthread_join(th, NULL);
        gw_mailbox_free(in.mb, NULL, NULL);
        free(in.arrivals);
        close(in.efd);
        mongoc_cleanup();
        if (in.error[0] || in.unmatched) {
            fprintf(stderr, "write-ceiling: %s%s%ld events for no user of the --targets\n",
                    in.error, in.error[0] ? "; " : "", in.unmatched);
            exit(1);
        }
        t0 = 0, t = wall;
    }
    while (o.rate == 0 && !o.stream_uri && t - t0 < o.seconds) {
        if (o.mode == MODE_VIA_POLL)
            pass_via_poll(&w, fds, o.sockets);
        else if (o.mode == MODE_POLL_ARMED)
            pass_poll_armed(&w, o.sockets);
        else
            for (int i = 0; i < o.sockets; i++)
                write_one(&w, fds[i]);
        t = ceiling_now_s();
    }
    double cpu = ceiling_cpu_s(NULL, NULL) - cpu0;
    uint64_t writes = w.writes, blocked = w.blocked;
    double wall = t - t0;
    for (int i = 0; i < o.sockets; i++)
        close(fds[i]);
    free(fds);
    if (w.ep >= 0)
        close(w.ep);
    waitpid(child, NULL, 0);
    printf("{\"tool\": \"write-ceiling\", \"mode\": \"%s\", \"order\": \"%s\", \"sockets\": %d, "
           "\"frameBytes\": %zu, \"seconds\": %.3f, "
           "\"writes\": %llu, \"wouldBlock\": %llu, \"writesPerSecond\": %.0f, "
           "\"cpuSeconds\": %.3f, \"usPerWrite\": %.2f",
           o.stream_uri                ? "stream"
           : o.mode == MODE_VIA_POLL   ? "via-poll"
           : o.mode == MODE_POLL_ARMED ? "poll-armed"
                                       : "direct",
           o.shuffle ? "shuffled" : "accept", o.sockets, w.len, wall, (unsigned long long)writes,
           (unsigned long long)blocked, (double)writes / wall, cpu,
           writes ? cpu * 1e6 / (double)writes : 0.0);
    if (o.stream_uri)
        printf(", \"stream\": {\"events\": %ld, \"per\": %d, \"eventsPerSecond\": %.0f, "
               "\"intakeCpuSeconds\": %.6f, \"intakeUsPerEvent\": %.2f}",
               in.events, o.per, (double)in.events / wall, in.cpu_s,
               in.cpu_s * 1e6 / (double)in.events);
    if (o.rate > 0 || o.stream_uri)
        printf(", \"paced\": {\"rate\": %.0f, \"targets\": %d, \"tickUs\": %d, "
               "\"busy\": %.3f, \"lateUs\": {\"p50\": %ld, \"p99\": %ld, \"p999\": %ld, "
               "\"max\": %.0f}, \"over1msPercent\": %.3f, \"over5msPercent\": %.3f}",
               o.stream_uri ? (double)writes / wall : o.rate, o.targets,
               o.stream_uri ? 0 : o.tick_us, cpu / wall, paced_quantile(&p, 0.5),
               paced_quantile(&p, 0.99), paced_quantile(&p, 0.999), p.max_s * 1e6,
               p.n ? 100.0 * (double)p.over1ms / (double)p.n : 0.0,
               p.n ? 100.0 * (double)p.over5ms / (double)p.n : 0.0);
    printf("}\n");
    free(p.late);
    return 0;
}
