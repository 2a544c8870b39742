/* A command ring in a guest blob, served by a thread of the host library inside virglrenderer's
 * context (RING_ATTACH in src/proto/virgl_abi.h): the VM counterpart of apir-hostd's ring,
 * same layout (src/shm/ring.h). A request costs the guest no virtio-gpu command while the
 * thread polls; once it sleeps (host_idle), the guest kicks it with a Forward. Replies are
 * polled by the guest: in a VM nothing else can reach it. Portable: threads and polling, no
 * futex. */
#ifndef APIR_HOST_VIRGL_RING_H
#define APIR_HOST_VIRGL_RING_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct apir_ring;
struct apir_session;
struct apir_virgl_ring;

/* Serves the one request the guest published in ring (its req_seq and req_len words), into
 * the ring's reply area, copying it out to copy (ring->cap bytes) first: the guest may
 * rewrite the area meanwhile. false when it is not exactly one framed request: the caller
 * closes the ring. lock (optional, NULL: none) is held around the session. The ring thread's
 * step, and the fuzz target's (tests/fuzz/fuzz_ring.c). */
bool apir_virgl_ring_serve_one(struct apir_ring *ring, struct apir_session *s,
                               pthread_mutex_t *lock, uint8_t *copy);

/* Serves the ring at base (size bytes, guest-writable) for session s; every request runs
 * under *lock (the dispatcher takes it too: a hostile guest may use both paths at once).
 * NULL when the layout does not fit or no thread can be started. */
struct apir_virgl_ring *apir_virgl_ring_start(struct apir_session *s, pthread_mutex_t *lock,
                                              void *base, size_t size);
/* Wakes the thread if it sleeps. */
void apir_virgl_ring_kick(struct apir_virgl_ring *r);
/* Stops the thread (it finishes the request in hand) and frees the ring. */
void apir_virgl_ring_stop(struct apir_virgl_ring *r);

#endif
