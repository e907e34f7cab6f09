/* evtimer.c -- makes lws 4.1.6's libev plugin honour a timer that moves earlier.
 *
 * DESIGN
 *
 * lws keeps every timer (its own timeouts, lws_set_timer_usecs(), our engine tick and shutdown
 * poll) in one sorted list and arms a single libev timer for the earliest. After each I/O event
 * its libev plugin re-arms that timer with ev_timer_set() + ev_timer_start(); libev ignores a
 * start of an active watcher (and ev_timer_set() on one is undefined), so a deadline that moved
 * earlier waited for the old one: a 20 ms shutdown poll scheduled while a 29 s heartbeat was
 * armed ran 29 s late. lws up to 4.5.8 re-arms the same way.
 *
 * The fix is this file's ev_timer_start(), exported by the executable
 * (-Wl,--export-dynamic-symbol): the plugin is loaded with dlopen() and binds to the global
 * scope, where the executable comes before libev. When the watcher is already active it is
 * stopped, keeping the relative deadline the caller just set, and started again, which is what
 * lws meant; otherwise it is libev's own ev_timer_start(), found with RTLD_NEXT.
 *
 * Thread: libev's loop thread (the lws loop thread); the first call resolves libev's function.
 */
#include "evtimer.h"

#include <dlfcn.h>
#include <ev.h>
#include <stdlib.h>

#include "gw/common.h"

typedef void (*timer_start_fn)(struct ev_loop *loop, ev_timer *w);

static timer_start_fn libev_timer_start(void)
{
    static timer_start_fn fn;
    if (!fn) {
        fn = (timer_start_fn)dlsym(RTLD_NEXT, "ev_timer_start");
        if (!fn)
            abort(); /* libev is linked in; without it nothing could have called us */
    }
    return fn;
}

/* Replaces libev's ev_timer_start() for the whole process (see DESIGN). */
void ev_timer_start(struct ev_loop *loop, ev_timer *w) EV_NOEXCEPT
{
    if (ev_is_active(w)) {
        ev_tstamp after = w->at; /* ev_timer_set() just stored the new relative deadline */
        ev_timer_stop(loop, w);
        w->at = after;
    }
    libev_timer_start()(loop, w);
}

int gw_evtimer_check(char *err)
{
    void *bound = dlsym(RTLD_DEFAULT, "ev_timer_start");
    if (bound != (void *)ev_timer_start) {
        gw_set_error(err, "the executable does not export ev_timer_start (link it with "
                          "-Wl,--export-dynamic-symbol=ev_timer_start): lws's libev timers "
                          "would fire late");
        return -1;
    }
    return 0;
}
