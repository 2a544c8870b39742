/* The guest side of the ring in a blob (RING_ATTACH, src/host/virgl_ring.h). A request is
 * written into the blob and published; while the host's ring thread polls, that is all a call
 * costs, no virtio-gpu command. When the thread sleeps (host_idle), one RING_KICK wakes it,
 * answered in a blob of its own so that it never disturbs the reply word of a call. The reply
 * is polled (apir_vm_poll), checked against the area, then copied out. */
#include "vm.h"

#include "../proto/virgl_abi.h"

#include <stdlib.h>
#include <string.h>

void apir_vm_ring_start(struct apir_vm *vm)
{
    const char *off = getenv("APIR_RING");
    if (off && strcmp(off, "0") == 0)
        return;
    if (!vm->kick_blob.ptr || !vm->vops->blob_create(vm, APIR_RING_DEFAULT_SIZE, &vm->ring_blob))
        return;
    uint32_t attach[2] = {vm->ring_blob.id, (uint32_t)vm->ring_blob.size};
    uint32_t result = 0;
    memset(vm->ring_blob.ptr, 0, APIR_RING_CTRL_SIZE);
    _Atomic uint32_t *word = (_Atomic uint32_t *)vm->reply.ptr;
    atomic_store(word, 0);
    bool ok =
        apir_vm_send_to(vm, APIR_VIRGL_CMD_FORWARD, APIR_VIRGL_FWD_RING_ATTACH, vm->reply.id,
                        attach, sizeof attach) &&
        apir_vm_poll(vm, word, 0, NULL, NULL) &&
        (result = atomic_load(word) - 1) == APIR_VIRGL_FORWARD_BASE + APIR_VIRGL_DISPATCH_OK &&
        apir_ring_layout(&vm->ring, vm->ring_blob.ptr, vm->ring_blob.size);
    if (!ok) {
        /* An older host library, or no thread: every call stays a command. No thread reads
         * the blob, so it can go. */
        if (vm->ring_blob.ptr)
            vm->vops->blob_destroy(vm, &vm->ring_blob);
        return;
    }
    vm->ring_seq = 0;
    vm->ring_on = true;
    vm->base.ring_on = true;
}

bool apir_vm_ring_submit(struct apir_vm *vm, const void *msg, size_t len)
{
    if (!vm->ring_on || len > vm->ring.cap)
        return false;
    struct apir_ring_ctrl *c = vm->ring.ctrl;
    memcpy(vm->ring.req, msg, len);
    atomic_store_explicit(&c->req_len, (uint32_t)len, memory_order_relaxed);
    /* Publish, then look at the idle flag (the host raises it, then looks at req_seq): if
     * the thread is going to sleep, it is kicked. */
    atomic_store(&c->req_seq, ++vm->ring_seq);
    if (atomic_load(&c->host_idle))
        apir_vm_send_to(vm, APIR_VIRGL_CMD_FORWARD, APIR_VIRGL_FWD_RING_KICK, vm->kick_blob.id,
                        NULL, 0);
    return true;
}

bool apir_vm_ring_wait(struct apir_vm *vm, struct apir_rep_hdr *hdr, struct apir_writer *reply)
{
    struct apir_ring_ctrl *c = vm->ring.ctrl;
    if (!apir_vm_poll(vm, &c->rep_seq, vm->ring_seq - 1, &c->closed, vm->pending_predict) ||
        atomic_load_explicit(&c->rep_seq, memory_order_acquire) != vm->ring_seq)
        return false;
    uint32_t n = atomic_load_explicit(&c->rep_len, memory_order_relaxed);
    return apir_ring_take_reply(&vm->ring, n, hdr, reply);
}

void apir_vm_ring_stop(struct apir_vm *vm)
{
    if (!vm->ring_on)
        return;
    /* The host's thread may be reading the blob right now: it is told to stop and the blob
     * is left to the context's end (virglrenderer stops the library before it frees the
     * context's blobs). */
    atomic_store(&vm->ring.ctrl->closed, 1);
    vm->ring_on = false;
    vm->base.ring_on = false;
}
