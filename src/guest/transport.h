/* The guest's one transport interface: move a request message to the host and its reply back.
 * socket (apir-hostd), virtgpu (VM), loopback (tests) all implement it. */
#ifndef APIR_TRANSPORT_H
#define APIR_TRANSPORT_H

#include "../proto/codec.h"
#include "../proto/wire.h"

#include <stdint.h>
#include <unistd.h>

struct apir_transport;

/* Shared memory as the guest holds it: the transport creates it, maps it here, and hands the
 * host its own way to it (the memfd over the socket, the blob resource over virtio-gpu) when a
 * request attaches it. id is what REGION_ATTACH names. */
struct apir_shm_region {
    uint32_t id;
    void *ptr;
    size_t size;
    int fd;          /* socket transport: the memfd; -1 when none */
    uint32_t handle; /* the transport's own name for it (virtgpu: the GEM handle) */
};

struct apir_transport_ops {
    /* Hands one request message (header + payload) to the host. attach (optional, NULL): a
     * region whose memory goes with this message (REGION_ATTACH). Then wait receives its
     * reply: the header into *hdr and the payload appended to reply. Exactly one request is
     * outstanding at a time (the connection serializes), so a request may be submitted and
     * its reply collected later. false on any transport failure: the connection is gone. */
    bool (*submit)(struct apir_transport *t, const void *msg, size_t len,
                   const struct apir_shm_region *attach);
    bool (*wait)(struct apir_transport *t, struct apir_rep_hdr *hdr, struct apir_writer *reply);
    /* (optional) Creates and maps a region of at least size bytes. NULL: no shared memory,
     * every byte goes through messages. */
    bool (*region_create)(struct apir_transport *t, size_t size, struct apir_shm_region *out);
    void (*region_destroy)(struct apir_transport *t, struct apir_shm_region *r);
    /* (optional) Called once the handshake succeeded: the peer is known to speak APIR, and
     * the transport may set up its fast path. */
    void (*start)(struct apir_transport *t);
    /* Bounds how long one roundtrip may wait for the host (0: the call timeout,
     * apir_transport_call_timeout_ms). A host that does not answer in time is lost. */
    void (*set_timeout)(struct apir_transport *t, int ms);
    void (*destroy)(struct apir_transport *t);
};

struct apir_transport {
    const struct apir_transport_ops *ops;
    char desc[128];     /* where we are connected, for log lines */
    bool last_via_ring; /* the last request went through shared memory (for APIR_STATS) */
    bool ring_on;       /* start set up a shared-memory ring that calls go through */
    uint32_t capset;    /* VM transports: the context's virtio-gpu capset (10, or 4 routed) */
};

/* transport.c: how long a call may wait for the host once connected: APIR_TIMEOUT_S (default
 * 600 s; a graph on a slow host can take long, a stalled host must not hang the application). */
#define APIR_DEFAULT_CALL_TIMEOUT_S 600u
int apir_transport_call_timeout_ms(void);

/* Rounds *size up to whole pages (shared memory is mapped by the page); false for 0 or a
 * size that would overflow. */
static inline bool apir_shm_page_round(size_t *size)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t ps = page > 0 ? (size_t)page : 4096;
    if (*size == 0 || *size > SIZE_MAX - ps)
        return false;
    *size = (*size + ps - 1) / ps * ps;
    return true;
}

/* Connects to apir-hostd. NULL with a reason in why on failure. */
struct apir_transport *apir_transport_socket_open(const char *path, char *why, size_t whylen);
/* virgl_test_server's socket (vm.h: virglrenderer's APIR context without a VM). */
struct apir_transport *apir_transport_vtest_open(const char *path, char *why, size_t whylen);
/* A virtio-gpu render node (NULL path: the first whose driver is virtio_gpu). */
struct apir_transport *apir_transport_virtgpu_open(const char *path, char *why, size_t whylen);
/* Whether a virtio-gpu render node exists (the default transport's choice). */
bool apir_transport_virtgpu_present(void);

#endif
