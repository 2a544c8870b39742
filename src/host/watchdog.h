/* The compute watchdog of a host process: one request may run only so long
 * (apir_host_watchdog_start in include/apir/host.h). */
#ifndef APIR_HOST_WATCHDOG_H
#define APIR_HOST_WATCHDOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* One session's clock, embedded in struct apir_session: when its running request began. */
struct apir_watch {
    _Atomic uint64_t since_ns; /* 0: idle */
    const char *label;         /* the session's log label */
    struct apir_watch *next;   /* the process's watched sessions */
};

/* A session joins at creation and leaves before it is freed. */
void apir_watch_add(struct apir_watch *w, const char *label);
void apir_watch_remove(struct apir_watch *w);

/* Whether a request that began at since (0: none running) has run past limit at now. */
bool apir_watch_is_overdue(uint64_t since, uint64_t now, uint64_t limit);

/* Around each request (apir_session_run): one clock read and two relaxed stores. */
void apir_watch_busy(struct apir_watch *w);
static inline void apir_watch_idle(struct apir_watch *w)
{
    atomic_store_explicit(&w->since_ns, 0, memory_order_relaxed);
}

#endif
