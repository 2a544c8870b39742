/* A request that runs too long ends its session.
 *
 * Validation bounds what a graph may touch, not how long it runs: zero strides let a 4 KiB
 * buffer describe 2^40 elements, legally (ggml builds nb = 0 views), and a kernel cannot be
 * interrupted from outside. So a thread of the session process watches the request being
 * executed; one running past APIR_HOSTD_COMPUTE_TIMEOUT_S (default 300 s, under the guest's
 * own 600 s call timeout, APIR_TIMEOUT_S) ends the process, with a log line. The guest's call
 * then fails as with a lost host; the daemon and the other sessions are untouched. The
 * request path costs two clock reads and two atomic stores; the thread wakes at most four
 * times a second. */
#include "watchdog.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define APIR_WATCHDOG_DEFAULT_S 300

static _Atomic uint64_t apir_watchdog_since_ns; /* when the running request began; 0: idle */
static uint64_t apir_watchdog_limit_ns;

static uint64_t apir_watchdog_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void apir_watchdog_busy(void)
{
    atomic_store_explicit(&apir_watchdog_since_ns, apir_watchdog_now(), memory_order_relaxed);
}

void apir_watchdog_idle(void)
{
    atomic_store_explicit(&apir_watchdog_since_ns, 0, memory_order_relaxed);
}

static void *apir_watchdog_main(void *arg)
{
    (void)arg;
    /* A quarter of the limit between looks, at most a second: the session ends within
     * 1.25 times the limit (short limits are for tests). */
    uint64_t period = apir_watchdog_limit_ns / 4;
    if (period > 1000000000u)
        period = 1000000000u;
    struct timespec nap = {(time_t)(period / 1000000000u), (long)(period % 1000000000u)};
    for (;;) {
        nanosleep(&nap, NULL);
        uint64_t since = atomic_load_explicit(&apir_watchdog_since_ns, memory_order_relaxed);
        if (since && apir_watchdog_now() - since > apir_watchdog_limit_ns) {
            fprintf(stderr,
                    "apir-hostd: session %d: a request ran past %llu s "
                    "(APIR_HOSTD_COMPUTE_TIMEOUT_S); ending the session\n",
                    (int)getpid(), (unsigned long long)(apir_watchdog_limit_ns / 1000000000u));
            _exit(3);
        }
    }
    return NULL;
}

bool apir_watchdog_start(void)
{
    const char *e = getenv("APIR_HOSTD_COMPUTE_TIMEOUT_S");
    unsigned long s = e && *e ? strtoul(e, NULL, 10) : APIR_WATCHDOG_DEFAULT_S;
    if (s == 0)
        return true;
    apir_watchdog_limit_ns = (uint64_t)s * 1000000000u;
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 64 << 10);
    bool ok = pthread_create(&t, &a, apir_watchdog_main, NULL) == 0;
    pthread_attr_destroy(&a);
    return ok;
}
