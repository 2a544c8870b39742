/* A request that runs too long ends its process.
 *
 * Validation bounds what a graph may touch, not how long it runs: zero strides let a 4 KiB
 * buffer describe 2^40 elements, legally (ggml builds nb = 0 views), and a kernel cannot be
 * interrupted from outside (ggml's abort callback is looked at between nodes, and one node
 * can be the whole minute). So one thread per process watches every session's running
 * request; one running past the limit ends the process, with a log line.
 *
 * The process is the unit because it is the unit of isolation on both paths: apir-hostd runs
 * each session in a process of its own, and virglrenderer's render server runs each context
 * in a worker process (render-server-worker=process, its default). Built with thread
 * workers, the render server serves every context of one VM in one process: the guest that
 * spins then ends its own VM's other contexts too, never another VM's. The guest's call fails
 * as with a lost host. The request path costs one clock read and two atomic stores; the
 * thread wakes at most four times a second. */
#include "watchdog.h"

#include "internal.h"

#include "apir/host.h"
#include "proto/log.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t apir_watch_lock = PTHREAD_MUTEX_INITIALIZER;
static struct apir_watch *apir_watch_list;
static uint64_t apir_watch_limit_ns;
static const char *apir_watch_knob;
static bool apir_watch_started;

uint64_t apir_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void apir_watch_busy(struct apir_watch *w)
{
    atomic_store_explicit(&w->since_ns, apir_now_ns(), memory_order_relaxed);
}

void apir_watch_add(struct apir_watch *w, const char *label)
{
    atomic_init(&w->since_ns, 0);
    w->label = label;
    pthread_mutex_lock(&apir_watch_lock);
    w->next = apir_watch_list;
    apir_watch_list = w;
    pthread_mutex_unlock(&apir_watch_lock);
}

void apir_watch_remove(struct apir_watch *w)
{
    pthread_mutex_lock(&apir_watch_lock);
    for (struct apir_watch **p = &apir_watch_list; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    pthread_mutex_unlock(&apir_watch_lock);
}

bool apir_watch_is_overdue(uint64_t since, uint64_t now, uint64_t limit)
{
    /* A request may begin between the watchdog's clock read and its look at since: then
     * since > now, and now - since would wrap to a run of centuries. */
    return since && now > since && now - since > limit;
}

/* The session whose request has run past the limit, or NULL. Called under the lock. */
static const struct apir_watch *apir_watch_overdue(uint64_t now)
{
    for (const struct apir_watch *w = apir_watch_list; w; w = w->next) {
        uint64_t since = atomic_load_explicit(&w->since_ns, memory_order_relaxed);
        if (apir_watch_is_overdue(since, now, apir_watch_limit_ns))
            return w;
    }
    return NULL;
}

static void *apir_watch_main(void *arg)
{
    (void)arg;
    /* A quarter of the limit between looks, at most a second: the process ends within
     * 1.25 times the limit (short limits are for tests). */
    uint64_t period = apir_watch_limit_ns / 4;
    if (period > 1000000000u)
        period = 1000000000u;
    struct timespec nap = {(time_t)(period / 1000000000u), (long)(period % 1000000000u)};
    for (;;) {
        nanosleep(&nap, NULL);
        pthread_mutex_lock(&apir_watch_lock);
        const struct apir_watch *w = apir_watch_overdue(apir_now_ns());
        if (w) {
            /* The lock stays held: nothing is freed under the line, and the process ends. */
            apir_log_host(APIR_LOG_ERROR, w->label,
                          "a request ran past %llu s (%s); ending the process (pid %d)",
                          (unsigned long long)(apir_watch_limit_ns / 1000000000u), apir_watch_knob,
                          (int)getpid());
            _exit(3);
        }
        pthread_mutex_unlock(&apir_watch_lock);
    }
    return NULL;
}

bool apir_host_watchdog_start(unsigned limit_s, const char *knob)
{
    pthread_mutex_lock(&apir_watch_lock);
    bool ok = true;
    if (!apir_watch_started && limit_s) {
        apir_watch_limit_ns = (uint64_t)limit_s * 1000000000u;
        apir_watch_knob = knob ? knob : "the compute timeout";
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&a, 64 << 10);
        ok = pthread_create(&t, &a, apir_watch_main, NULL) == 0;
        pthread_attr_destroy(&a);
        apir_watch_started = ok;
    }
    pthread_mutex_unlock(&apir_watch_lock);
    return ok;
}
