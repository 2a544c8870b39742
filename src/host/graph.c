/* Rebuilding guest graphs as ggml graphs on the host.
 *
 * The wire graph is decoded (structure), validated (every tensor, DESIGN §3), then rebuilt in a
 * per-session arena: tensors are plain ggml tensors whose data points into the session's own
 * buffers at validated offsets. Nothing the guest sent is used as a pointer. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Data commands only locate bytes: whatever op the guest's tensor had is dropped, so no op
 * code or source of theirs reaches a backend call. */
static void apir_graph_strip_ops(struct apir_wire_graph *g)
{
    for (uint32_t i = 0; i < g->n_tensors; i++) {
        struct apir_wire_tensor *t = &g->tensors[i];
        t->op = GGML_OP_NONE;
        memset(t->op_params, 0, sizeof t->op_params);
        t->view_src = -1;
        for (unsigned k = 0; k < APIR_MAX_SRC; k++)
            t->src[k] = -1;
    }
}

/* APIR_LOG=debug on the host says which tensor a refused graph failed on: the guest only sees
 * a status, and an operator needs the reason. Not at a default level, since a guest could
 * flood it. */
static enum apir_status apir_graph_refuse(const struct apir_session *s,
                                          const struct apir_wire_tensor *t, uint32_t i,
                                          enum apir_status st, const char *stage)
{
    apir_log_host(APIR_LOG_DEBUG, s->label, "refused tensor %u '%.*s' (%s, type %u) at %s: %s", i,
                  (int)sizeof t->name, t->name, t->op < GGML_OP_COUNT ? ggml_op_name(t->op) : "?",
                  t->type, stage, apir_status_str(st));
    return st;
}

/* Marks the tensors a backend kernel will read or write: every node it computes, and that
 * node's sources. Backends skip nodes with no elements or a no-op op (ggml's rule for what a
 * graph_compute runs), so those and tensors only named as view sources touch no bytes. ggml
 * legally sends such tensors without data here: its scheduler puts a view of a CPU input into
 * a remote split by position, and shapes with zero rows are ordinary (mamba's rs_s_copy). */
static void apir_graph_mark_touched(const struct apir_wire_graph *g, bool *touched)
{
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        const struct apir_wire_tensor *t = &g->tensors[g->nodes[i]];
        if (apir_op_is_noop(t->op) || apir_wire_tensor_is_empty(t))
            continue;
        touched[g->nodes[i]] = true;
        for (unsigned k = 0; k < APIR_MAX_SRC; k++)
            if (t->src[k] >= 0)
                touched[t->src[k]] = true;
    }
}

/* A kernel writes its node while reading its sources, row by row and often with memcpy: a
 * destination that overlaps a source without starting where it starts (in place) makes the
 * kernel read what it already wrote, and memcpy's ranges overlap (undefined behaviour). ggml's
 * allocator only ever places a node exactly over its source (in place); only a hand-made view
 * overlaps partially, so it is refused. Bytes are compared, not handles: two buffers over the
 * same region bytes are caught as one buffer is. */
static bool apir_node_overlaps_source(struct apir_session *s, const struct apir_wire_graph *g,
                                      const struct apir_wire_tensor *t)
{
    uint64_t ext, sext;
    ggml_backend_buffer_t tb, sb;
    const void *ta = apir_wire_tensor_addr(s, t, &tb);
    if (!ta || apir_op_is_noop(t->op) || apir_wire_tensor_is_empty(t) ||
        !apir_tensor_extent(t->type, t->ne, t->nb, &ext))
        return false;
    for (unsigned k = 0; k < APIR_MAX_SRC; k++) {
        if (t->src[k] < 0)
            continue;
        const struct apir_wire_tensor *src = &g->tensors[t->src[k]];
        const void *sa = apir_wire_tensor_addr(s, src, &sb);
        if (!sa || sa == ta || apir_wire_tensor_is_empty(src) ||
            !apir_tensor_extent(src->type, src->ne, src->nb, &sext))
            continue;
        if (apir_bytes_overlap(tb, ta, ext, sb, sa, sext))
            return true;
    }
    return false;
}

/* Data commands need every tensor in a buffer; queries describe ops not yet allocated; compute
 * needs bytes for exactly the tensors kernels touch. */
static enum apir_status apir_graph_check(struct apir_session *s, const struct apir_wire_graph *g,
                                         enum apir_graph_use use)
{
    bool *touched = NULL;
    if (use == APIR_GRAPH_COMPUTE) {
        touched = calloc(g->n_tensors, sizeof *touched);
        if (!touched)
            return APIR_E_NOMEM;
        apir_graph_mark_touched(g, touched);
    }
    enum apir_status st = APIR_OK;
    for (uint32_t i = 0; i < g->n_tensors && st == APIR_OK; i++) {
        bool need_data = touched ? touched[i] : use == APIR_GRAPH_DATA;
        st = apir_validate_tensor(s, &g->tensors[i], g, need_data);
        if (st != APIR_OK)
            apir_graph_refuse(s, &g->tensors[i], i, st, "validation");
    }
    free(touched);
    if (st != APIR_OK || use == APIR_GRAPH_DATA)
        return st;
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        const struct apir_wire_tensor *t = &g->tensors[g->nodes[i]];
        st = apir_check_node(g, t);
        if (st == APIR_OK && apir_node_overlaps_source(s, g, t))
            st = APIR_E_INVALID;
        if (st != APIR_OK)
            return apir_graph_refuse(s, t, (uint32_t)g->nodes[i], st, "op check");
    }
    return APIR_OK;
}

enum apir_status apir_graph_decode_valid(struct apir_session *s, struct apir_reader *r,
                                         struct apir_wire_graph *g, enum apir_graph_use use)
{
    if (!apir_wire_graph_decode(r, g))
        return APIR_E_DECODE;
    if (use == APIR_GRAPH_DATA)
        apir_graph_strip_ops(g);
    enum apir_status st = apir_graph_check(s, g, use);
    if (st != APIR_OK)
        apir_wire_graph_free(g);
    return st;
}

static bool apir_arena_reserve(struct apir_arena *a, size_t size)
{
    if (size <= a->size)
        return true;
    void *p = realloc(a->mem, size);
    if (!p)
        return false;
    a->mem = p;
    a->size = size;
    return true;
}

void apir_arena_free(struct apir_arena *a)
{
    free(a->mem);
    a->mem = NULL;
    a->size = 0;
}

/* Fills a fresh ggml tensor from a validated wire tensor. Every pointer it receives is one
 * the host derived itself: a session buffer's base + offset, or an earlier rebuilt tensor. */
static void apir_tensor_fill(struct apir_session *s, struct ggml_tensor *t,
                             const struct apir_wire_tensor *wt, struct ggml_tensor **built,
                             int32_t self)
{
    t->type = (enum ggml_type)wt->type;
    t->op = (enum ggml_op)wt->op;
    t->flags = wt->flags;
    for (int i = 0; i < 4; i++) {
        t->ne[i] = wt->ne[i];
        t->nb[i] = (size_t)wt->nb[i];
    }
    memcpy(t->op_params, wt->op_params, sizeof t->op_params);
    for (unsigned i = 0; i < APIR_MAX_SRC; i++)
        t->src[i] = wt->src[i] < 0 ? NULL : wt->src[i] == self ? t : built[wt->src[i]];
    t->view_src = wt->view_src >= 0 ? built[wt->view_src] : NULL;
    t->view_offs = (size_t)wt->view_offs;
    t->buffer = NULL;
    t->data = NULL;
    if (wt->buffer) {
        struct apir_host_buffer *hb = apir_handles_get(&s->handles, wt->buffer, APIR_OBJ_BUFFER);
        t->buffer = hb->buf;
        t->data = hb->base + wt->offset;
    }
    memcpy(t->name, wt->name, sizeof t->name);
    t->name[sizeof t->name - 1] = '\0';
}

enum apir_status apir_graph_build(struct apir_session *s, struct apir_arena *arena,
                                  const struct apir_wire_graph *g, struct apir_built_graph *out)
{
    memset(out, 0, sizeof *out);
    size_t n_nodes = g->n_nodes ? g->n_nodes : 1;
    size_t need = (size_t)g->n_tensors * ggml_tensor_overhead() +
                  ggml_graph_overhead_custom(n_nodes, false) + 1024;
    out->tensors = calloc(g->n_tensors, sizeof *out->tensors);
    if (!out->tensors || !apir_arena_reserve(arena, need)) {
        free(out->tensors);
        out->tensors = NULL;
        return APIR_E_NOMEM;
    }
    struct ggml_init_params ip = {.mem_size = need, .mem_buffer = arena->mem, .no_alloc = true};
    out->ctx = ggml_init(ip);
    if (!out->ctx) {
        apir_graph_release(out);
        return APIR_E_NOMEM;
    }
    for (uint32_t i = 0; i < g->n_tensors; i++) {
        /* Created as a 1-element tensor so ggml's constructor sees nothing guest-controlled;
         * the validated shape is written afterwards. */
        struct ggml_tensor *t = ggml_new_tensor_1d(out->ctx, GGML_TYPE_F32, 1);
        apir_tensor_fill(s, t, &g->tensors[i], out->tensors, (int32_t)i);
        out->tensors[i] = t;
    }
    return APIR_OK;
}

/* Only compute needs a ggml_cgraph (with its hash set); data commands and op queries use the
 * rebuilt tensors alone, so they do not pay for one. The arena was sized for it in build. */
void apir_graph_link_nodes(struct apir_built_graph *b, const struct apir_wire_graph *g)
{
    b->graph = ggml_new_graph_custom(b->ctx, g->n_nodes ? g->n_nodes : 1, false);
    for (uint32_t i = 0; i < g->n_nodes; i++)
        ggml_graph_add_node(b->graph, b->tensors[g->nodes[i]]);
}

void apir_graph_release(struct apir_built_graph *b)
{
    if (b->ctx)
        ggml_free(b->ctx);
    free(b->tensors);
    memset(b, 0, sizeof *b);
}
