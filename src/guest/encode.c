/* ggml tensors and graphs to their wire form (DESIGN §2.6-2.7). Data locations become
 * (buffer handle, offset from our invented base); source pointers become table indices. */
#include "guest.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void apir_wire_from_tensor(struct apir_wire_tensor *wt, const struct ggml_tensor *t,
                                  bool with_data)
{
    apir_wire_tensor_clear(wt);
    wt->type = (uint32_t)t->type;
    wt->op = (uint32_t)t->op;
    wt->flags = t->flags;
    for (int i = 0; i < 4; i++) {
        wt->ne[i] = t->ne[i];
        wt->nb[i] = t->nb[i];
    }
    memcpy(wt->op_params, t->op_params, sizeof wt->op_params);
    wt->view_offs = t->view_offs;
    if (with_data && t->data && t->buffer && apir_buffer_is_apir(t->buffer)) {
        const struct apir_buffer *b = t->buffer->context;
        wt->buffer = b->handle;
        wt->offset = (uint64_t)((const uint8_t *)t->data - b->base);
    }
    if (with_data)
        memcpy(wt->name, t->name, sizeof wt->name - 1);
}

void apir_encode_pair(struct apir_wire_tensor wt[2], const struct ggml_tensor *src,
                      const struct ggml_tensor *dst)
{
    apir_wire_from_tensor(&wt[0], src, true);
    apir_wire_from_tensor(&wt[1], dst, true);
}

void apir_encode_lone(struct apir_wire_tensor *wt, const struct ggml_tensor *t)
{
    apir_wire_from_tensor(wt, t, true);
    wt->view_offs = 0;
}

/* Sources first, then the op: a two-level table. Data locations and names are left out so the
 * encoding is the same for every instance of the same op shape, which makes it a cache key. */
void apir_encode_op_query(struct apir_writer *w, const struct ggml_tensor *op)
{
    struct apir_wire_graph_enc e;
    struct apir_wire_tensor wt;
    int32_t idx[GGML_MAX_SRC];
    apir_wire_graph_begin(&e, w);
    for (int i = 0; i < GGML_MAX_SRC; i++) {
        idx[i] = -1;
        if (!op->src[i])
            continue;
        apir_wire_from_tensor(&wt, op->src[i], false);
        wt.view_offs = 0;
        idx[i] = apir_wire_graph_add(&e, &wt);
    }
    apir_wire_from_tensor(&wt, op, false);
    wt.view_offs = 0;
    for (int i = 0; i < GGML_MAX_SRC && i < (int)APIR_MAX_SRC; i++)
        wt.src[i] = idx[i];
    apir_wire_graph_node(&e, apir_wire_graph_add(&e, &wt));
    apir_wire_graph_end(&e);
}

static size_t apir_ptr_hash(const void *p, size_t cap)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)x & (cap - 1);
}

static bool apir_tensor_map_reset(struct apir_tensor_map *m, size_t n)
{
    size_t cap = 64;
    while (cap < n * 2)
        cap *= 2;
    if (cap > m->cap) {
        free(m->keys);
        free(m->vals);
        m->keys = calloc(cap, sizeof *m->keys);
        m->vals = calloc(cap, sizeof *m->vals);
        m->cap = m->keys && m->vals ? cap : 0;
        if (!m->cap)
            return false;
    } else {
        memset(m->keys, 0, m->cap * sizeof *m->keys);
    }
    return true;
}

static int32_t *apir_tensor_map_slot(struct apir_tensor_map *m, const struct ggml_tensor *t,
                                     bool *found)
{
    size_t i = apir_ptr_hash(t, m->cap);
    while (m->keys[i] && m->keys[i] != t)
        i = (i + 1) & (m->cap - 1);
    *found = m->keys[i] == t;
    m->keys[i] = t;
    return &m->vals[i];
}

void apir_tensor_map_free(struct apir_tensor_map *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* Assigns t (after its sources) an index and writes it. Recursion only descends into tensors
 * not yet written: in a topologically ordered graph that is leaves and views, a few levels. */
static int32_t apir_encode_one(struct apir_wire_graph_enc *e, struct apir_tensor_map *m,
                               const struct ggml_tensor *t, int depth)
{
    bool found;
    int32_t *slot = apir_tensor_map_slot(m, t, &found);
    if (found)
        return *slot;
    /* Each tensor written is one key in the map: keep it at most half full. */
    if (depth > 4096 || (size_t)e->n_tensors * 2 + 2 > m->cap) {
        e->w->err = true;
        return -1;
    }
    *slot = -2; /* in progress: a cycle cannot happen in ggml, but never loop */
    struct apir_wire_tensor wt;
    apir_wire_from_tensor(&wt, t, true);
    for (int i = 0; i < GGML_MAX_SRC && i < (int)APIR_MAX_SRC; i++)
        if (t->src[i] && t->src[i] != t)
            wt.src[i] = apir_encode_one(e, m, t->src[i], depth + 1);
    wt.view_src = t->view_src ? apir_encode_one(e, m, t->view_src, depth + 1) : -1;
    if (e->w->err)
        return -1;
    int32_t idx = (int32_t)e->n_tensors; /* the index apir_wire_graph_add gives it */
    /* ggml_cast makes a CPY whose src[1] is itself: on the wire, its own index. */
    for (int i = 0; i < GGML_MAX_SRC && i < (int)APIR_MAX_SRC; i++)
        if (t->src[i] == t)
            wt.src[i] = idx;
    apir_wire_graph_add(e, &wt);
    /* Looked up again: the map never grows during an encode, but recursion inserted. */
    *apir_tensor_map_slot(m, t, &found) = idx;
    return idx;
}

bool apir_encode_graph(struct apir_writer *w, struct apir_tensor_map *m,
                       const struct ggml_cgraph *g)
{
    int n_nodes = ggml_graph_n_nodes((struct ggml_cgraph *)g);
    /* Upper bound on distinct tensors: each node plus its sources and view source. */
    if (!apir_tensor_map_reset(m, (size_t)n_nodes * (GGML_MAX_SRC + 2) + 16))
        return false;
    struct apir_wire_graph_enc e;
    apir_wire_graph_begin(&e, w);
    for (int i = 0; i < n_nodes; i++)
        apir_encode_one(&e, m, ggml_graph_node((struct ggml_cgraph *)g, i), 0);
    if (w->err)
        return false; /* some nodes are not in the map: no lookups below */
    for (int i = 0; i < n_nodes; i++) {
        bool found;
        apir_wire_graph_node(
            &e, *apir_tensor_map_slot(m, ggml_graph_node((struct ggml_cgraph *)g, i), &found));
    }
    return apir_wire_graph_end(&e);
}
