/* The outer protocol over a VM transport (vm.h). One command is in flight at a time (the
 * connection serializes calls), so one reply blob serves them all: its word is cleared before
 * a submit and polled after. The host is not trusted with our memory: the reply header is
 * checked against the window before anything is copied out. */
#include "vm.h"

#include "../proto/virgl_abi.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APIR_VM_REPLY_SIZE ((size_t)APIR_VIRGL_REPLY_DATA + APIR_HDR_SIZE + APIR_MAX_PAYLOAD)
#define APIR_VM_LOAD_TIMEOUT_MS 60000
#define APIR_VM_SPIN_US 5u
#define APIR_VM_YIELD_US 100u

static _Atomic uint32_t *apir_vm_word(struct apir_vm *vm)
{
    return (_Atomic uint32_t *)vm->reply.ptr;
}

/* A command answered in the reply blob: its word is cleared first. */
static bool apir_vm_send(struct apir_vm *vm, uint32_t type, uint32_t flags, const void *payload,
                         size_t len)
{
    atomic_store_explicit(apir_vm_word(vm), 0, memory_order_relaxed);
    return apir_vm_send_to(vm, type, flags, vm->reply.id, payload, len);
}

/* The reply word: *result is the outer result (word - 1). */
static bool apir_vm_await(struct apir_vm *vm, uint32_t *result, uint64_t *predict_us)
{
    if (!apir_vm_poll(vm, apir_vm_word(vm), 0, NULL, predict_us))
        return false;
    *result = atomic_load_explicit(apir_vm_word(vm), memory_order_acquire) - 1;
    return true;
}

/* A message larger than a command may be goes through a blob kept for that (grown by
 * doubling): the command only names it. */
static bool apir_vm_send_large(struct apir_vm *vm, const void *msg, size_t len)
{
    if (len > UINT32_MAX)
        return false;
    if (vm->large.size < len) {
        size_t want = vm->large.size ? vm->large.size : APIR_VIRGL_INLINE_MAX;
        while (want < len)
            want *= 2;
        if (vm->large.ptr)
            vm->vops->blob_destroy(vm, &vm->large);
        if (!vm->vops->blob_create(vm, want, &vm->large))
            return false;
    }
    memcpy(vm->large.ptr, msg, len);
    uint32_t ref[2] = {vm->large.id, (uint32_t)len};
    return apir_vm_send(vm, APIR_VIRGL_CMD_FORWARD, APIR_VIRGL_FWD_MESSAGE_IN_BLOB, ref,
                        sizeof ref);
}

/* The prediction slot of a GRAPH_RECOMPUTE (by stream); a GRAPH_COMPUTE clears its stream's. */
static uint64_t *apir_vm_predict_slot(struct apir_vm *vm, const void *msg, size_t len)
{
    struct apir_req_hdr h;
    uint64_t stream;
    if (len < APIR_HDR_SIZE + sizeof stream || !apir_req_hdr_decode(msg, &h) ||
        (h.cmd != APIR_CMD_GRAPH_COMPUTE && h.cmd != APIR_CMD_GRAPH_RECOMPUTE))
        return NULL;
    memcpy(&stream, (const uint8_t *)msg + APIR_HDR_SIZE, sizeof stream);
    size_t n = sizeof vm->graph_us / sizeof vm->graph_us[0], i = 0;
    while (i < n && vm->graph_us[i].stream != stream && vm->graph_us[i].stream != 0)
        i++;
    if (i == n)
        i = stream % n; /* more streams than slots: share, the halving rule copes */
    vm->graph_us[i].stream = stream;
    if (h.cmd == APIR_CMD_GRAPH_COMPUTE) {
        vm->graph_us[i].us = 0;
        return NULL;
    }
    return &vm->graph_us[i].us;
}

static bool apir_vm_submit(struct apir_transport *t, const void *msg, size_t len,
                           const struct apir_shm_region *attach)
{
    (void)attach; /* blobs are the host's already: REGION_ATTACH names its resource id */
    struct apir_vm *vm = (struct apir_vm *)t;
    t->last_via_ring = apir_vm_ring_submit(vm, msg, len);
    vm->pending_predict = apir_vm_predict_slot(vm, msg, len);
    if (t->last_via_ring)
        return true;
    if (APIR_VM_CMD_HDR + len > APIR_VIRGL_INLINE_MAX)
        return apir_vm_send_large(vm, msg, len);
    return apir_vm_send(vm, APIR_VIRGL_CMD_FORWARD, APIR_VIRGL_FWD_MESSAGE, msg, len);
}

static bool apir_vm_wait(struct apir_transport *t, struct apir_rep_hdr *hdr,
                         struct apir_writer *reply)
{
    struct apir_vm *vm = (struct apir_vm *)t;
    if (t->last_via_ring)
        return apir_vm_ring_wait(vm, hdr, reply);
    uint32_t result;
    bool ok = apir_vm_await(vm, &result, vm->pending_predict);
    if (!ok || result != APIR_VIRGL_FORWARD_BASE + APIR_VIRGL_DISPATCH_OK)
        return false;
    const uint8_t *data = (const uint8_t *)vm->reply.ptr + APIR_VIRGL_REPLY_DATA;
    size_t window = vm->reply.size - APIR_VIRGL_REPLY_DATA;
    if (!apir_rep_hdr_decode(data, hdr) || hdr->len > window - APIR_HDR_SIZE)
        return false;
    if (hdr->len == 0)
        return true;
    void *dst = apir_write_reserve(reply, hdr->len);
    if (!dst)
        return false;
    memcpy(dst, data + APIR_HDR_SIZE, hdr->len);
    return true;
}

static bool apir_vm_region_create(struct apir_transport *t, size_t size,
                                  struct apir_shm_region *out)
{
    struct apir_vm *vm = (struct apir_vm *)t;
    return vm->vops->blob_create(vm, size, out);
}

static void apir_vm_region_destroy(struct apir_transport *t, struct apir_shm_region *r)
{
    struct apir_vm *vm = (struct apir_vm *)t;
    vm->vops->blob_destroy(vm, r);
}

static void apir_vm_ring_start_op(struct apir_transport *t)
{
    apir_vm_ring_start((struct apir_vm *)t);
}

static void apir_vm_set_timeout(struct apir_transport *t, int ms)
{
    ((struct apir_vm *)t)->timeout_ms = ms;
}

static void apir_vm_destroy(struct apir_transport *t)
{
    struct apir_vm *vm = (struct apir_vm *)t;
    apir_vm_ring_stop(vm);
    if (vm->reply.ptr)
        vm->vops->blob_destroy(vm, &vm->reply);
    if (vm->large.ptr)
        vm->vops->blob_destroy(vm, &vm->large);
    free(vm->cmd);
    vm->vops->destroy(vm);
}

const struct apir_transport_ops apir_vm_transport_ops = {
    .submit = apir_vm_submit,
    .wait = apir_vm_wait,
    .region_create = apir_vm_region_create,
    .region_destroy = apir_vm_region_destroy,
    .start = apir_vm_ring_start_op,
    .set_timeout = apir_vm_set_timeout,
    .destroy = apir_vm_destroy,
};

static unsigned apir_vm_env_uint(const char *name, unsigned dflt)
{
    const char *e = getenv(name);
    return e && *e ? (unsigned)strtoul(e, NULL, 10) : dflt;
}

/* HandShake: the host must answer with the magic; LoadLibrary: it must load ours. */
static bool apir_vm_outer_handshake(struct apir_vm *vm, char *why, size_t whylen)
{
    uint32_t ver[2] = {APIR_VIRGL_OUTER_MAJOR, APIR_VIRGL_OUTER_MINOR}, r;
    if (!apir_vm_send(vm, APIR_VIRGL_CMD_HANDSHAKE, 0, ver, sizeof ver) ||
        !apir_vm_await(vm, &r, NULL)) {
        snprintf(why, whylen, "no answer to the APIR handshake from %s", vm->base.desc);
        return false;
    }
    if (r != APIR_VIRGL_MAGIC) {
        snprintf(why, whylen, "%s answered the APIR handshake with %u, not 0x%x", vm->base.desc, r,
                 APIR_VIRGL_MAGIC);
        return false;
    }
    if (!apir_vm_send(vm, APIR_VIRGL_CMD_LOAD_LIBRARY, 0, NULL, 0) ||
        !apir_vm_await(vm, &r, NULL)) {
        snprintf(why, whylen, "no answer to LoadLibrary from %s", vm->base.desc);
        return false;
    }
    static const char *const reasons[] = {
        [APIR_VIRGL_LOAD_NO_CONFIG] = "no library configured (apir.load_library.path / "
                                      "VIRGL_APIR_BACKEND_LIBRARY)",
        [APIR_VIRGL_LOAD_CANNOT_OPEN] = "cannot open the configured library",
        [APIR_VIRGL_LOAD_NO_SYMBOL] = "the library lacks the apir_backend_* entry points",
    };
    if (r == APIR_VIRGL_LOAD_OK || r == APIR_VIRGL_LOAD_ALREADY)
        return true;
    if (r >= APIR_VIRGL_LOAD_INIT_BASE)
        snprintf(why, whylen,
                 "the host library failed to initialize on %s (code %u; see the "
                 "host's log)",
                 vm->base.desc, r - APIR_VIRGL_LOAD_INIT_BASE);
    else
        snprintf(why, whylen, "virglrenderer at %s cannot load the host library: %s", vm->base.desc,
                 r < 6 && reasons[r] ? reasons[r] : "unknown error");
    return false;
}

bool apir_vm_init(struct apir_vm *vm, const struct apir_vm_ops *vops, char *why, size_t whylen)
{
    vm->vops = vops;
    vm->default_timeout_ms = apir_transport_call_timeout_ms();
    vm->spin_us = apir_vm_env_uint("APIR_VM_SPIN_US", APIR_VM_SPIN_US);
    vm->yield_us = apir_vm_env_uint("APIR_VM_YIELD_US", APIR_VM_YIELD_US);
    vm->predict = apir_vm_env_uint("APIR_VM_PREDICT", 1) != 0;
    vm->cmd_cap = APIR_VIRGL_INLINE_MAX;
    vm->cmd = malloc(vm->cmd_cap);
    if (!vm->cmd || !vops->blob_create(vm, APIR_VM_REPLY_SIZE, &vm->reply)) {
        snprintf(why, whylen, "cannot create the reply blob on %s", vm->base.desc);
        return false;
    }
    /* Loading a GPU backend on the host can take seconds: bounded, but not by the 5 s that
     * HELLO gets. */
    vm->timeout_ms = APIR_VM_LOAD_TIMEOUT_MS;
    bool ok = apir_vm_outer_handshake(vm, why, whylen);
    vm->timeout_ms = 0;
    /* Kicks and liveness probes are answered in a blob of their own (never read). Without
     * it there is no probe and no ring: calls still work, a dead context is noticed only
     * at the timeout. */
    vm->probing = ok && vops->blob_create(vm, APIR_VM_KICK_BLOB, &vm->kick_blob);
    return ok;
}
