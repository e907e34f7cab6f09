/* evtimer.h -- the correction to lws 4.1.6's libev timer re-arming (evtimer.c has why). */
#ifndef GW_EVTIMER_H
#define GW_EVTIMER_H

/* 0 when the plugin's timer starts will reach evtimer.c's ev_timer_start(); -1 with err set
 * (GW_ERR_LEN bytes) when the executable was linked without exporting it. Any thread. */
int gw_evtimer_check(char *err);

#endif
