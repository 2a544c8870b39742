/* The shared-memory command channel between a guest and apir-hostd (DESIGN §5, "Ring").
 *
 * One region, laid out once: a control block, a request area and a reply area. The guest
 * writes a request and publishes its sequence number; the host copies it out before decoding,
 * executes it and publishes the reply the same way. Each side waits for the other's word by
 * spinning briefly and then sleeping on it as a futex; the other side wakes it only when its
 * idle flag says it sleeps, so a busy exchange makes no system call at all. Calls are
 * serialized by the guest, so one request and one reply area suffice. The unix socket stays
 * for setup, descriptors, oversized messages and liveness: a peer that died is noticed while
 * waiting, never waited on forever.
 *
 * The layout (ring_layout.c) is portable and part of the protocol library. publish and wait
 * (ring.c) are Linux-specific (futex): linked into the guest plugin and apir-hostd, never
 * into the host library, whose virglrenderer ring polls instead (src/host/virgl_ring.c). */
#ifndef APIR_SHM_RING_H
#define APIR_SHM_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* rep_len value meaning "this reply did not fit: it comes on the socket". */
#define APIR_RING_REPLY_ON_SOCKET UINT32_MAX
#define APIR_RING_CTRL_SIZE 128u
#define APIR_RING_DEFAULT_SIZE ((size_t)(2u << 20) + APIR_RING_CTRL_SIZE)

struct apir_ring_ctrl {
    /* guest to host, own cache line */
    _Atomic uint32_t req_seq;
    _Atomic uint32_t host_idle; /* the host sleeps (or is about to) on req_seq */
    _Atomic uint32_t req_len;
    uint32_t pad0[13];
    /* host to guest */
    _Atomic uint32_t rep_seq;
    _Atomic uint32_t guest_idle; /* the guest sleeps (or is about to) on rep_seq */
    _Atomic uint32_t rep_len;
    _Atomic uint32_t closed; /* set by either side when it leaves */
    uint32_t pad1[12];
};
_Static_assert(sizeof(struct apir_ring_ctrl) == APIR_RING_CTRL_SIZE, "ring control block layout");

/* The layout parsed once from a mapping; the areas' capacity is derived from its size. */
struct apir_ring {
    struct apir_ring_ctrl *ctrl;
    uint8_t *req;
    uint8_t *rep;
    uint32_t cap;
};

/* One pause in a spin loop: lets the sibling hyperthread run, saves power. */
static inline void apir_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

struct apir_rep_hdr;
struct apir_writer;
/* The reply of n bytes (rep_len, read once) in the reply area, checked against the area and
 * copied out: its header into *hdr, its payload appended to reply. The peer is not trusted. */
bool apir_ring_take_reply(const struct apir_ring *r, uint32_t n, struct apir_rep_hdr *hdr,
                          struct apir_writer *reply);

/* False when size cannot hold a control block and two areas of a message header. */
bool apir_ring_layout(struct apir_ring *r, void *base, size_t size);

/* Stores v into *word and wakes a sleeper on it if *idle says there is one. */
void apir_ring_publish(_Atomic uint32_t *word, uint32_t v, _Atomic uint32_t *idle);

/* Waits until *word != old: spins about spin_us, then sleeps on the futex, asking alive(user)
 * every poll_ms. False when alive says the peer is gone. */
bool apir_ring_wait(_Atomic uint32_t *word, uint32_t old, _Atomic uint32_t *idle, unsigned spin_us,
                    unsigned poll_ms, bool (*alive)(void *user), void *user);

#endif
