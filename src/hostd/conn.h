/* One guest connection inside its session process: the socket, the optional shared-memory
 * ring, and the lock that keeps their requests to the session one at a time. */
#ifndef APIR_HOSTD_CONN_H
#define APIR_HOSTD_CONN_H

#include "../shm/ring.h"
#include "apir/host.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One memfd this session mapped (a region or the ring), known by its file. */
struct apir_hostd_mapping {
    uint64_t dev, ino;
    void *map;
};

struct apir_hostd_conn {
    int sock;
    int passed_fd; /* the descriptor that came with the request being served, or -1 */
    struct apir_session *session;
    pthread_mutex_t lock; /* dispatch, and writes to the socket */
    atomic_bool stopping;
    /* When the last request (socket or ring) was served, CLOCK_MONOTONIC ms, and how long a
     * session holding nothing may go without one (0: forever). */
    atomic_llong last_request_ms;
    unsigned idle_s;
    /* The ring, once the guest attached one. */
    struct apir_ring ring;
    void *ring_map;
    size_t ring_size;
    pthread_t ring_thread;
    bool ring_running;
    /* Every memfd mapped now (regions and the ring), so none is mapped twice. Changed under
     * the lock only (regions are mapped and unmapped inside dispatch, the ring at attach),
     * or once the ring thread is gone. */
    struct apir_hostd_mapping *maps;
    size_t n_maps;
};

/* conn.c: maps a memfd the guest sealed against shrinking, of at least size bytes; consumes
 * fd. NULL for anything else: a file that shrank under the mapping would fault the session;
 * and a memfd this session has mapped already (under any descriptor): its bytes would sit at
 * two host addresses, where the overlap rules, which compare host addresses, cannot see that
 * two tensors are one memory. */
void *apir_hostd_map_sealed(struct apir_hostd_conn *hc, int fd, uint64_t size);
/* Unmaps what apir_hostd_map_sealed returned; the memfd may be mapped again after. */
void apir_hostd_unmap_sealed(struct apir_hostd_conn *hc, void *map, uint64_t size);
/* Executes one request under the lock and returns the reply (valid until the next call). */
void apir_hostd_dispatch(struct apir_hostd_conn *hc, const void *req, size_t len,
                         const uint8_t **rep, size_t *rep_len);
/* CLOCK_MONOTONIC in ms: the clock of last_request_ms. */
long long apir_hostd_now_ms(void);

/* ring_serve.c: RING_ATTACH (answered here, not by the library), and the end of the ring. */
int apir_hostd_ring_attach(struct apir_hostd_conn *hc, const uint8_t *payload, uint32_t len);
void apir_hostd_ring_stop(struct apir_hostd_conn *hc);

#endif
