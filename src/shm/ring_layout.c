/* The ring's portable part (ring.h): its layout, shared by every side that maps a ring
 * (including the host library's virglrenderer ring, src/host/virgl_ring.c), and the guest's
 * checked read of a reply. */
#include "ring.h"

#include "../proto/wire.h"

#include <string.h>

bool apir_ring_layout(struct apir_ring *r, void *base, size_t size)
{
    if (!base || size < APIR_RING_CTRL_SIZE + 2 * 64u)
        return false;
    size_t cap = (size - APIR_RING_CTRL_SIZE) / 2 / 64 * 64;
    if (cap > UINT32_MAX - 1)
        cap = (size_t)(UINT32_MAX - 1) / 64 * 64;
    r->ctrl = base;
    r->req = (uint8_t *)base + APIR_RING_CTRL_SIZE;
    r->rep = r->req + cap;
    r->cap = (uint32_t)cap;
    return true;
}

bool apir_ring_take_reply(const struct apir_ring *r, uint32_t n, struct apir_rep_hdr *hdr,
                          struct apir_writer *reply)
{
    if (n < APIR_HDR_SIZE || n > r->cap || !apir_rep_hdr_decode(r->rep, hdr) ||
        hdr->len != n - APIR_HDR_SIZE)
        return false;
    if (hdr->len == 0)
        return true;
    void *dst = apir_write_reserve(reply, hdr->len);
    if (!dst)
        return false;
    memcpy(dst, r->rep + APIR_HDR_SIZE, hdr->len);
    return true;
}
