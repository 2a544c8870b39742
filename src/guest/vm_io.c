/* The two primitives the VM transport (vm.c) and its ring (vm_ring.c) are built on: handing
 * one outer command to the context, and waiting for a word the host writes (the reply word, the
 * ring's reply sequence) with liveness probes on long waits. Below both, so that the ring never
 * calls back into the transport that starts and stops it. */
#include "vm.h"

#include "../proto/virgl_abi.h"

#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#define APIR_VM_SLEEP_MIN_US 5u
#define APIR_VM_SLEEP_MAX_US 2000u
#define APIR_VM_PREDICT_MIN_US 200u
#define APIR_VM_ALIVE_US 100000u  /* how often a wait asks the transport if the host is gone */
#define APIR_VM_PROBE_US 1000000u /* how often a long wait probes the context itself */

static uint64_t apir_vm_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

bool apir_vm_send_to(struct apir_vm *vm, uint32_t type, uint32_t flags, uint32_t reply_id,
                     const void *payload, size_t len)
{
    size_t total = APIR_VM_CMD_HDR + (len + 3) / 4 * 4;
    if (total > vm->cmd_cap)
        return false;
    uint32_t hdr[3] = {vm->cmd_base + type, flags, reply_id};
    memcpy(vm->cmd, hdr, sizeof hdr);
    if (len)
        memcpy(vm->cmd + APIR_VM_CMD_HDR, payload, len);
    memset(vm->cmd + APIR_VM_CMD_HDR + len, 0, total - APIR_VM_CMD_HDR - len);
    return vm->vops->submit(vm, vm->cmd, total);
}

/* Sleeps for a fraction of the time already waited: a reply that comes after t is noticed at
 * most about t/32 late (3% of the wait), while a long compute costs few wakeups. The thread's
 * timer slack (50 us by default) would dwarf short sleeps: it is narrowed for the sleep and
 * restored after, so the application's own timers are untouched. */
static void apir_vm_nap_exact(uint64_t us)
{
    int slack = prctl(PR_GET_TIMERSLACK);
    prctl(PR_SET_TIMERSLACK, 1000ul);
    struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000};
    nanosleep(&ts, NULL);
    if (slack > 0)
        prctl(PR_SET_TIMERSLACK, (unsigned long)slack);
}

static void apir_vm_nap(uint64_t waited_us)
{
    uint64_t us = waited_us / 32;
    apir_vm_nap_exact(us < APIR_VM_SLEEP_MIN_US   ? APIR_VM_SLEEP_MIN_US
                      : us > APIR_VM_SLEEP_MAX_US ? APIR_VM_SLEEP_MAX_US
                                                  : us);
}

/* A context whose worker died (the host library aborted, the render worker was killed) leaves
 * the guest's reply word and ring untouched forever, and nothing tells the guest: it would
 * wait out its whole timeout. So a long wait submits, once a second, a command the context
 * answers harmlessly: a RING_KICK answered in the kick blob (without a ring, the host library
 * answers it BAD_TYPE there; with one, a spurious kick costs the ring thread one extra look).
 * A live worker takes it after the call in flight. A dead one fails the submit inside
 * virgl_test_server, which drops the client: alive() sees that, or our next submit fails. A
 * real virtio-gpu kernel reports nothing back, so there the timeout stays the bound. Only once
 * the library is loaded: before, nothing in the context would answer it. */
static bool apir_vm_probe(struct apir_vm *vm)
{
    if (!vm->probing)
        return true;
    return apir_vm_send_to(vm, APIR_VIRGL_CMD_FORWARD, APIR_VIRGL_FWD_RING_KICK, vm->kick_blob.id,
                           NULL, 0);
}

bool apir_vm_poll(struct apir_vm *vm, _Atomic uint32_t *word, uint32_t old,
                  _Atomic uint32_t *closed, uint64_t *predict_us)
{
    int limit_ms = vm->timeout_ms ? vm->timeout_ms : vm->default_timeout_ms;
    uint64_t start = apir_vm_now_us(), deadline = start + (uint64_t)limit_ms * 1000u;
    uint64_t next_alive = start + APIR_VM_ALIVE_US, next_probe = start + APIR_VM_PROBE_US;
    /* A long wait seen before is slept through for 7/8 of its time at once: one wakeup. */
    uint64_t predicted = predict_us && vm->predict ? *predict_us : 0;
    bool napped = predicted >= APIR_VM_PREDICT_MIN_US && predicted < (uint64_t)limit_ms * 1000u;
    if (napped)
        apir_vm_nap_exact(predicted - predicted / 8);
    for (bool first = true;; first = false) {
        if (atomic_load_explicit(word, memory_order_acquire) != old) {
            /* Done before the nap ended: the wait is unknown, only shorter. Halving the
             * guess keeps an oversleep from feeding itself. */
            if (predict_us)
                *predict_us = napped && first ? predicted / 2 : apir_vm_now_us() - start;
            return true;
        }
        if (closed && atomic_load(closed))
            return false;
        uint64_t now = apir_vm_now_us();
        if (now >= deadline)
            return false;
        if (now - start < vm->spin_us)
            continue;
        if (now - start < vm->yield_us) {
            sched_yield();
            continue;
        }
        if (now >= next_alive) {
            if (now >= next_probe) {
                if (!apir_vm_probe(vm))
                    return false;
                next_probe = now + APIR_VM_PROBE_US;
            }
            if (vm->vops->alive && !vm->vops->alive(vm))
                return false;
            next_alive = now + APIR_VM_ALIVE_US;
        }
        apir_vm_nap(now - start);
    }
}
