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

void apir_encode_tensor(struct apir_writer *w, const struct ggml_tensor *t, bool with_data)
{
    struct apir_wire_tensor wt;
    apir_wire_from_tensor(&wt, t, with_data);
    apir_wire_tensor_encode(w, &wt);
}

void apir_encode_lone(struct apir_writer *w, const struct ggml_tensor *t)
{
    apir_write_u32(w, 1);
    struct apir_wire_tensor wt;
    apir_wire_from_tensor(&wt, t, true);
    wt.view_offs = 0;
    apir_wire_tensor_encode(w, &wt);
    apir_write_u32(w, 1);
    apir_write_i32(w, 0);
}

/* Sources first, then the op: a two-level table. Data locations and names are left out so the
 * encoding is the same for every instance of the same op shape, which makes it a cache key. */
void apir_encode_op_query(struct apir_writer *w, const struct ggml_tensor *op)
{
    int32_t n = 0;
    struct apir_wire_tensor wt;
    int32_t idx[GGML_MAX_SRC];
    for (int i = 0; i < GGML_MAX_SRC; i++)
        idx[i] = op->src[i] ? n++ : -1;
    apir_write_u32(w, (uint32_t)n + 1);
    for (int i = 0; i < GGML_MAX_SRC; i++) {
        if (!op->src[i])
            continue;
        apir_wire_from_tensor(&wt, op->src[i], false);
        wt.view_offs = 0;
        apir_wire_tensor_encode(w, &wt);
    }
    apir_wire_from_tensor(&wt, op, false);
    wt.view_offs = 0;
    for (int i = 0; i < GGML_MAX_SRC && i < (int)APIR_MAX_SRC; i++)
        wt.src[i] = idx[i];
    apir_wire_tensor_encode(w, &wt);
    apir_write_u32(w, 1);
    apir_write_i32(w, n);
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
    m->n = 0;
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
static int32_t apir_encode_one(struct apir_writer *w, struct apir_tensor_map *m,
                               const struct ggml_tensor *t, int depth)
{
    bool found;
    int32_t *slot = apir_tensor_map_slot(m, t, &found);
    if (found)
        return *slot;
    if (depth > 4096 || (size_t)m->n * 2 + 2 > m->cap) {
        w->err = true;
        return -1;
    }
    *slot = -2; /* in progress: a cycle cannot happen in ggml, but never loop */
    struct apir_wire_tensor wt;
    apir_wire_from_tensor(&wt, t, true);
    for (int i = 0; i < GGML_MAX_SRC && i < (int)APIR_MAX_SRC; i++)
        if (t->src[i] && t->src[i] != t)
            wt.src[i] = apir_encode_one(w, m, t->src[i], depth + 1);
    wt.view_src = t->view_src ? apir_encode_one(w, m, t->view_src, depth + 1) : -1;
    if (w->err)
        return -1;
    int32_t idx = m->n++;
    /* ggml_cast makes a CPY whose src[1] is itself: on the wire, its own index. */
    for (int i = 0; i < GGML_MAX_SRC && i < (int)APIR_MAX_SRC; i++)
        if (t->src[i] == t)
            wt.src[i] = idx;
    apir_wire_tensor_encode(w, &wt);
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
    size_t count_at = w->len;
    apir_write_u32(w, 0); /* patched below */
    for (int i = 0; i < n_nodes; i++)
        apir_encode_one(w, m, ggml_graph_node((struct ggml_cgraph *)g, i), 0);
    if (w->err)
        return false;
    uint32_t nt = (uint32_t)m->n;
    memcpy(w->buf + count_at, &nt, sizeof nt);
    apir_write_u32(w, (uint32_t)n_nodes);
    for (int i = 0; i < n_nodes; i++) {
        bool found;
        apir_write_i32(
            w, *apir_tensor_map_slot(m, ggml_graph_node((struct ggml_cgraph *)g, i), &found));
    }
    return !w->err;
}
