/* Laying out a compute graph for corpus entries: tensors placed one after another in the
 * session's buffer (64-byte aligned), nodes naming earlier ones. Header-only: static helpers
 * for the hostile_*.c files that build graphs. */
#ifndef APIR_HOSTILE_LAYOUT_H
#define APIR_HOSTILE_LAYOUT_H

#include "corpus.h"

#include <string.h>

struct lay {
    struct apir_wire_tensor t[8];
    uint32_t n;
    uint64_t off;
    const struct hostile_ctx *c;
};

static inline int32_t add(struct lay *l, uint32_t type, int64_t n0, int64_t n1, int64_t n2,
                          int64_t n3)
{
    struct apir_wire_tensor *t = &l->t[l->n];
    *t = hostile_tensor(type, l->c->buf, l->off, n0, n1, n2, n3);
    l->off += (hostile_nbytes(t) + 63) / 64 * 64;
    return (int32_t)l->n++;
}

static inline struct apir_wire_tensor *node(struct lay *l, uint32_t op, uint32_t type, int64_t n0,
                                            int64_t n1, int64_t n2, int64_t n3, int32_t s0,
                                            int32_t s1, int32_t s2)
{
    struct apir_wire_tensor *t = &l->t[add(l, type, n0, n1, n2, n3)];
    t->op = op;
    t->src[0] = s0, t->src[1] = s1, t->src[2] = s2;
    return t;
}

static inline void send(struct apir_writer *w, struct lay *l)
{
    hostile_compute(w, l->c->stream, l->t, l->n);
}

static inline void set_f32(struct apir_wire_tensor *t, int i, float v)
{
    memcpy(&t->op_params[i], &v, sizeof v);
}

#endif
