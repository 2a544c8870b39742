/* The outer protocol of virglrenderer's APIR context, shared by the guest's two VM transports
 * (vtest and virtgpu): reply blob and reply word, HandShake, LoadLibrary, and ggml-apir
 * messages inside Forward (src/proto/virgl_abi.h). The transports differ only in how a command
 * and a blob reach virglrenderer: they supply struct apir_vm_ops. */
#ifndef APIR_GUEST_VM_H
#define APIR_GUEST_VM_H

#include "../shm/ring.h"
#include "transport.h"

#define APIR_VM_KICK_BLOB 4096u
#define APIR_VM_CMD_HDR 12u /* cmd_type, flags, reply_res_id */

struct apir_vm;
struct apir_virgl_capset;

struct apir_vm_ops {
    /* A HOST3D, mappable blob of at least size bytes, mapped: out->id is the resource id the
     * host resolves (get_shmem_ptr), out->handle the backend's own name for it. */
    bool (*blob_create)(struct apir_vm *vm, size_t size, struct apir_shm_region *out);
    void (*blob_destroy)(struct apir_vm *vm, struct apir_shm_region *b);
    /* Hands one command (len bytes, a multiple of 4) to the context. */
    bool (*submit)(struct apir_vm *vm, const void *cmd, size_t len);
    /* (optional) false once the host side is known gone; defaults to always alive. */
    bool (*alive)(struct apir_vm *vm);
    void (*destroy)(struct apir_vm *vm);
};

struct apir_vm {
    struct apir_transport base;
    const struct apir_vm_ops *vops;
    struct apir_shm_region reply; /* reply word, then reply data */
    struct apir_shm_region large; /* messages too large for a command (MESSAGE_IN_BLOB) */
    uint8_t *cmd;                 /* where commands are assembled */
    size_t cmd_cap;
    int timeout_ms; /* one reply's bound (set_timeout; 0: APIR_TIMEOUT_S's) */
    int default_timeout_ms;
    unsigned spin_us, yield_us; /* reply polling: spin, then yield, then sleep */
    /* How long each stream's cached graph took to recompute: the next GRAPH_RECOMPUTE of the
     * same stream runs the same graph, and is slept through for most of that time in one nap.
     * A GRAPH_COMPUTE (a new graph) forgets it. Other calls are not predicted. */
    bool predict; /* APIR_VM_PREDICT=0: no nap sized by the last wait */
    struct {
        uint64_t stream, us;
    } graph_us[8];
    uint64_t *pending_predict; /* the slot of the call in flight, or NULL */
    /* vm_ring.c: the ring blob, the blob kicks and liveness probes are answered in (never
     * read; made at init), the layout. probing: that blob exists and the library is loaded,
     * so long waits probe the context (apir_vm_poll). */
    struct apir_shm_region ring_blob, kick_blob;
    bool probing;
    struct apir_ring ring;
    bool ring_on;
    uint32_t ring_seq;
    uint32_t cmd_base; /* added to every command type: 331 on a routed Venus context */
};

/* vm_capset.c: how a transport reads a capset for apir_vm_capset_choose. read: 1 and its
 * first bytes in *c (zeros past what the host gave) when offered, 0 when not, -1 when the
 * transport failed. where names the host in lines ("virgl_test_server at PATH", the render
 * node); hint says what to fix when no APIR context is there at all. */
struct apir_vm_capset_source {
    int (*read)(void *ctx, uint32_t id, struct apir_virgl_capset *c);
    void *ctx;
    const char *where;
    const char *hint;
};
/* The capset to create the context with, before any context exists: 10 when offered and APIR
 * runs behind it, else 4 when its contents are the APIR capset (virglrenderer's
 * VIRGL_ROUTE_VENUS_TO_APIR); APIR_VIRTGPU_CAPSET=apir|venus allows only that one. false with
 * the reason in why: nothing must then be sent (a real Venus context decodes Vulkan). */
bool apir_vm_capset_choose(const struct apir_vm_capset_source *src, uint32_t *id, char *why,
                           size_t n);
/* Records the context's capset: its command types are offset on a routed Venus context. */
void apir_vm_capset_use(struct apir_vm *vm, uint32_t id);

/* Once the backend has its context: creates the reply blob, then HandShake and LoadLibrary.
 * false with a reason in why (the caller then destroys the transport). */
bool apir_vm_init(struct apir_vm *vm, const struct apir_vm_ops *vops, char *why, size_t whylen);

/* vm_io.c: polls *word until it differs from old (virglrenderer and the host's ring thread store
 * without waking anyone): spin, yield, then naps sized to the wait. predict_us (optional,
 * in/out): the guess for this wait, slept through for 7/8 at once, updated from what this
 * wait showed. false on timeout, a dead backend or context, or *closed (optional) set. */
bool apir_vm_poll(struct apir_vm *vm, _Atomic uint32_t *word, uint32_t old,
                  _Atomic uint32_t *closed, uint64_t *predict_us);
/* Submits one outer command naming reply blob reply_id (not cleared here). */
bool apir_vm_send_to(struct apir_vm *vm, uint32_t type, uint32_t flags, uint32_t reply_id,
                     const void *payload, size_t len);

/* vm_ring.c: after HELLO, offers the host a ring (RING_ATTACH); calls that fit then go
 * through it. submit: false when the message does not go by the ring (then by command). */
void apir_vm_ring_start(struct apir_vm *vm);
bool apir_vm_ring_submit(struct apir_vm *vm, const void *msg, size_t len);
bool apir_vm_ring_wait(struct apir_vm *vm, struct apir_rep_hdr *hdr, struct apir_writer *reply);
void apir_vm_ring_stop(struct apir_vm *vm);

/* The transport interface over vops (install in base.ops before apir_vm_init). */
extern const struct apir_transport_ops apir_vm_transport_ops;

#endif
