/* The ring's layout (ring.h): portable, shared by every side that maps a ring, including the
 * host library (its virglrenderer ring, src/host/virgl_ring.c). */
#include "ring.h"

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
