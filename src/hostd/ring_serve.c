/* apir-hostd's side of the shared-memory ring (src/shm/ring.h): attaching it, and the
 * consumer thread that serves it next to the socket loop. */
#include "conn.h"

#include "../proto/codec.h"
#include "../proto/wire.h"
#include "../sock/fdio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

/* After a reply the consumer keeps polling this long before it sleeps: the guest's next
 * request usually follows within the time it takes to sample a token. */
#define APIR_HOSTD_RING_SPIN_US 200u
#define APIR_HOSTD_RING_POLL_MS 100u

static bool apir_hostd_ring_alive(void *user)
{
    struct apir_hostd_conn *hc = user;
    return !atomic_load(&hc->stopping) && !atomic_load(&hc->ring.ctrl->closed);
}

/* The reply goes in the reply area, or on the socket when it does not fit there (large tensor
 * reads without shared buffers): the ring then says so, and says it first, so that the guest
 * is reading the socket while we write more than its buffer holds. */
static void apir_hostd_ring_reply(struct apir_hostd_conn *hc, uint32_t seq, const uint8_t *rep,
                                  size_t len)
{
    struct apir_ring_ctrl *c = hc->ring.ctrl;
    bool fits = len <= hc->ring.cap;
    if (fits)
        memcpy(hc->ring.rep, rep, len);
    atomic_store_explicit(&c->rep_len, fits ? (uint32_t)len : APIR_RING_REPLY_ON_SOCKET,
                          memory_order_relaxed);
    apir_ring_publish(&c->rep_seq, seq, &c->guest_idle);
    if (!fits && !apir_fd_write_all(hc->sock, rep, len))
        atomic_store(&hc->stopping, true);
}

static void *apir_hostd_ring_main(void *arg)
{
    struct apir_hostd_conn *hc = arg;
    struct apir_ring_ctrl *c = hc->ring.ctrl;
    uint8_t *msg = malloc(hc->ring.cap);
    const char *e = getenv("APIR_HOSTD_RING_SPIN_US");
    unsigned spin_us = e && *e ? (unsigned)strtoul(e, NULL, 10) : APIR_HOSTD_RING_SPIN_US;
    /* A fresh ring starts at sequence 0; the guest may have published request 1 before this
     * thread ran, so the start is not read from the ring. */
    uint32_t last = 0;
    while (msg && apir_ring_wait(&c->req_seq, last, &c->host_idle, spin_us, APIR_HOSTD_RING_POLL_MS,
                                 apir_hostd_ring_alive, hc)) {
        last = atomic_load_explicit(&c->req_seq, memory_order_acquire);
        uint32_t len = atomic_load_explicit(&c->req_len, memory_order_relaxed);
        if (len > hc->ring.cap)
            break; /* not a guest of ours: end the connection */
        /* Copied out first: the guest can rewrite the area while we decode. */
        memcpy(msg, hc->ring.req, len);
        const uint8_t *rep;
        size_t rep_len;
        pthread_mutex_lock(&hc->lock);
        apir_hostd_dispatch(hc, msg, len, &rep, &rep_len);
        apir_hostd_ring_reply(hc, last, rep, rep_len);
        pthread_mutex_unlock(&hc->lock);
    }
    free(msg);
    atomic_store(&hc->stopping, true);
    atomic_store(&c->closed, 1);
    /* The socket loop may be blocked reading: end the connection for both. */
    shutdown(hc->sock, SHUT_RDWR);
    return NULL;
}

int apir_hostd_ring_attach(struct apir_hostd_conn *hc, const uint8_t *payload, uint32_t len)
{
    struct apir_reader r;
    apir_reader_init(&r, payload, len);
    uint32_t size = apir_read_u32(&r);
    int fd = hc->passed_fd;
    hc->passed_fd = -1;
    if (!apir_reader_done(&r) || !apir_session_greeted(hc->session)) {
        if (fd >= 0)
            close(fd);
        /* Like every command but HELLO, the ring comes after the handshake. */
        return apir_reader_done(&r) ? APIR_E_VERSION : APIR_E_DECODE;
    }
    if (hc->ring_running || size > (64u << 20)) {
        if (fd >= 0)
            close(fd);
        return APIR_E_INVALID;
    }
    void *map = fd >= 0 ? apir_hostd_map_sealed(hc, fd, size) : NULL;
    if (!map)
        return APIR_E_INVALID;
    if (!apir_ring_layout(&hc->ring, map, size)) {
        apir_hostd_unmap_sealed(hc, map, size);
        return APIR_E_INVALID;
    }
    hc->ring_map = map;
    hc->ring_size = size;
    if (pthread_create(&hc->ring_thread, NULL, apir_hostd_ring_main, hc) != 0) {
        apir_hostd_unmap_sealed(hc, map, size);
        hc->ring_map = NULL;
        return APIR_E_NOMEM;
    }
    hc->ring_running = true;
    return APIR_OK;
}

void apir_hostd_ring_stop(struct apir_hostd_conn *hc)
{
    if (!hc->ring_running)
        return;
    atomic_store(&hc->stopping, true);
    struct apir_ring_ctrl *c = hc->ring.ctrl;
    atomic_store(&c->closed, 1);
    apir_ring_publish(&c->req_seq, atomic_load(&c->req_seq), &c->host_idle);
    pthread_join(hc->ring_thread, NULL);
    apir_hostd_unmap_sealed(hc, hc->ring_map, hc->ring_size);
    hc->ring_map = NULL;
    hc->ring_running = false;
}
