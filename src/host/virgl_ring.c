/* The host library's ring thread (virgl_ring.h). The guest can write the blob at any moment:
 * a request's length is read once and the request copied out before it is decoded; a length
 * past the area or a malformed header closes the ring (the guest then fails its call, as
 * apir-hostd ends a connection). */
#include "virgl_ring.h"

#include "../platform/platform.h"
#include "../shm/ring.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* After each request the thread spins a little (a token's calls follow each other within
 * microseconds), then naps in short steps for a while (the next token's compute comes after
 * the guest sampled: a kick through virtio-gpu costs tens of microseconds, a nap step costs
 * a wakeup), and only then sleeps until kicked. */
#define APIR_VIRGL_RING_SPIN_US 20u
#define APIR_VIRGL_RING_NAP_US 20u
#define APIR_VIRGL_RING_NAPPING_US 20000u
#define APIR_VIRGL_RING_POLL_MS 100

struct apir_virgl_ring {
    struct apir_ring ring;
    struct apir_session *session;
    pthread_mutex_t *session_lock;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool kicked;
    _Atomic bool stop;
    uint32_t seen; /* the last request sequence served */
    uint8_t *copy;
    unsigned spin_us, napping_us;
};

static uint64_t apir_virgl_ring_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static bool apir_virgl_ring_pending(struct apir_virgl_ring *r)
{
    return atomic_load_explicit(&r->ring.ctrl->req_seq, memory_order_acquire) != r->seen;
}

/* Sleeps until kicked (or the poll period passes). The idle flag is raised before the last
 * look at req_seq, as the guest publishes before it looks at the flag: one of the two sees
 * the other. */
static void apir_virgl_ring_sleep(struct apir_virgl_ring *r)
{
    struct apir_ring_ctrl *c = r->ring.ctrl;
    atomic_store(&c->host_idle, 1);
    if (!apir_virgl_ring_pending(r)) {
        pthread_mutex_lock(&r->lock);
        if (!r->kicked && !atomic_load(&r->stop)) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += APIR_VIRGL_RING_POLL_MS * 1000000L;
            until.tv_sec += until.tv_nsec / 1000000000L;
            until.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&r->cond, &r->lock, &until);
        }
        r->kicked = false;
        pthread_mutex_unlock(&r->lock);
    }
    atomic_store(&c->host_idle, 0);
}

static void apir_virgl_ring_nap(void)
{
    struct timespec ts = {0, APIR_VIRGL_RING_NAP_US * 1000L};
    nanosleep(&ts, NULL);
}

/* Waits for a request; false when the thread is to end. */
static bool apir_virgl_ring_await(struct apir_virgl_ring *r)
{
    uint64_t start = apir_virgl_ring_now_us(), now = start;
    for (unsigned i = 0;; i++) {
        if (apir_virgl_ring_pending(r))
            return true;
        if (atomic_load(&r->ring.ctrl->closed) ||
            atomic_load_explicit(&r->stop, memory_order_relaxed))
            return false;
        if ((i & 63) == 63)
            now = apir_virgl_ring_now_us();
        if (now - start < r->spin_us)
            apir_cpu_relax();
        else if (now - start < r->napping_us)
            apir_virgl_ring_nap(), now = apir_virgl_ring_now_us();
        else
            apir_virgl_ring_sleep(r);
    }
}

bool apir_virgl_ring_serve_one(struct apir_ring *ring, struct apir_session *s,
                               pthread_mutex_t *lock, uint8_t *copy)
{
    struct apir_ring_ctrl *c = ring->ctrl;
    uint32_t seq = atomic_load_explicit(&c->req_seq, memory_order_acquire);
    uint32_t n = atomic_load_explicit(&c->req_len, memory_order_relaxed);
    struct apir_req_hdr h;
    if (n < APIR_HDR_SIZE || n > ring->cap)
        return false;
    memcpy(copy, ring->req, n);
    if (!apir_req_hdr_decode(copy, &h) || h.len != n - APIR_HDR_SIZE)
        return false;
    size_t rlen = 0;
    if (lock)
        pthread_mutex_lock(lock);
    int st = apir_session_execute(s, h.cmd, copy + APIR_HDR_SIZE, h.len, ring->rep + APIR_HDR_SIZE,
                                  ring->cap - APIR_HDR_SIZE, &rlen);
    if (lock)
        pthread_mutex_unlock(lock);
    struct apir_rep_hdr rh = {APIR_MAGIC_REP, st, h.seq, (uint32_t)rlen};
    apir_rep_hdr_encode(ring->rep, &rh);
    atomic_store_explicit(&c->rep_len, (uint32_t)(APIR_HDR_SIZE + rlen), memory_order_relaxed);
    atomic_store_explicit(&c->rep_seq, seq, memory_order_release);
    return true;
}

static bool apir_virgl_ring_serve(struct apir_virgl_ring *r)
{
    uint32_t seq = atomic_load_explicit(&r->ring.ctrl->req_seq, memory_order_acquire);
    if (!apir_virgl_ring_serve_one(&r->ring, r->session, r->session_lock, r->copy))
        return false;
    r->seen = seq;
    return true;
}

static void *apir_virgl_ring_main(void *arg)
{
    struct apir_virgl_ring *r = arg;
    /* Our own thread: its naps should be as short as asked. */
    apir_platform_thread_narrow_timer_slack();
    while (apir_virgl_ring_await(r))
        if (!apir_virgl_ring_serve(r)) {
            atomic_store(&r->ring.ctrl->closed, 1);
            break;
        }
    return NULL;
}

struct apir_virgl_ring *apir_virgl_ring_start(struct apir_session *s, pthread_mutex_t *lock,
                                              void *base, size_t size)
{
    struct apir_virgl_ring *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    if (!apir_ring_layout(&r->ring, base, size) || !(r->copy = malloc(r->ring.cap))) {
        free(r);
        return NULL;
    }
    const char *e = getenv("APIR_HOST_RING_SPIN_US");
    r->spin_us = e && *e ? (unsigned)strtoul(e, NULL, 10) : APIR_VIRGL_RING_SPIN_US;
    e = getenv("APIR_HOST_RING_NAPPING_US");
    r->napping_us = e && *e ? (unsigned)strtoul(e, NULL, 10) : APIR_VIRGL_RING_NAPPING_US;
    r->session = s;
    r->session_lock = lock;
    /* Whatever the guest left in the words, this ring starts now. */
    r->seen = atomic_load(&r->ring.ctrl->req_seq);
    atomic_store(&r->ring.ctrl->rep_seq, r->seen);
    atomic_store(&r->ring.ctrl->closed, 0);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    if (pthread_create(&r->thread, NULL, apir_virgl_ring_main, r) != 0) {
        pthread_cond_destroy(&r->cond);
        pthread_mutex_destroy(&r->lock);
        free(r->copy);
        free(r);
        return NULL;
    }
    return r;
}

void apir_virgl_ring_kick(struct apir_virgl_ring *r)
{
    pthread_mutex_lock(&r->lock);
    r->kicked = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

void apir_virgl_ring_stop(struct apir_virgl_ring *r)
{
    pthread_mutex_lock(&r->lock);
    atomic_store(&r->stop, true);
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    free(r->copy);
    free(r);
}
