/* Index-reading ops keep their indices inside their tensors (docs/security.md, "Indices").
 *
 * GET_ROWS, GET_ROWS_BACK, SET_ROWS, MUL_MAT_ID, ADD_ID and SSM_SCAN address memory with
 * values read from a tensor at run time. ggml's CPU kernels check some of them with aborting
 * assertions (the host would die), MUL_MAT_ID's check is compiled out of release builds,
 * GET_ROWS_BACK has none, and GPU kernels none at all. Values are data, not
 * shapes: they are only known once the nodes that write them have run. So the host computes
 * a graph in segments: every index tensor is read back and checked at the start of the
 * segment that consumes it, and a new segment starts right before a consumer whose indices
 * were written inside the current one. A graph without such ops is one segment, as before.
 * The plan is made once per built graph and kept with the cached graph for GRAPH_RECOMPUTE;
 * the values are checked on every run. */
#include "internal.h"

#include <ggml-impl.h>
#include <stdlib.h>
#include <string.h>

/* The operand of node n that holds indices, and the bound its values must stay under. */
static bool apir_index_operand(const struct ggml_tensor *n, const struct ggml_tensor **idx,
                               int64_t *limit)
{
    switch (n->op) {
    case GGML_OP_GET_ROWS: /* rows of src0 */
        *idx = n->src[1], *limit = n->src[0]->ne[1];
        return true;
    case GGML_OP_GET_ROWS_BACK: /* rows of the result, which the kernel adds into */
    case GGML_OP_SET_ROWS:      /* rows of the result, a view of the destination */
        *idx = n->src[1], *limit = n->ne[1];
        return true;
    case GGML_OP_MUL_MAT_ID: /* experts: src0's matrices */
        *idx = n->src[2], *limit = n->src[0]->ne[2];
        return true;
    case GGML_OP_ADD_ID: /* rows of src1 */
        *idx = n->src[2], *limit = n->src[1]->ne[1];
        return true;
    case GGML_OP_SSM_SCAN: /* sequences of the state src0 */
        *idx = n->src[6], *limit = n->src[0]->ne[3];
        return true;
    default:
        return false;
    }
}

static bool apir_ranges_overlap(const struct ggml_tensor *a, const struct ggml_tensor *b)
{
    if (!a->data || !b->data)
        return false;
    uintptr_t a0 = (uintptr_t)a->data, a1 = a0 + ggml_nbytes(a);
    uintptr_t b0 = (uintptr_t)b->data, b1 = b0 + ggml_nbytes(b);
    return a0 < b1 && b0 < a1;
}

/* Whether a node in [from, to) writes memory that t occupies. */
static bool apir_written_in(struct ggml_cgraph *g, int from, int to, const struct ggml_tensor *t)
{
    for (int j = from; j < to; j++) {
        const struct ggml_tensor *w = ggml_graph_node(g, j);
        if (!apir_op_is_noop(w->op) && apir_ranges_overlap(w, t))
            return true;
    }
    return false;
}

static bool apir_index_plan_add(struct apir_index_plan *p, int pos, const struct ggml_tensor *t,
                                int64_t limit)
{
    if (p->n == p->cap) {
        uint32_t cap = p->cap ? 2 * p->cap : 16;
        struct apir_index_check *grown = realloc(p->checks, cap * sizeof *grown);
        if (!grown)
            return false;
        p->checks = grown;
        p->cap = cap;
    }
    p->checks[p->n++] = (struct apir_index_check){pos, t, limit};
    return true;
}

enum apir_status apir_index_plan_build(struct ggml_cgraph *g, struct apir_index_plan *p)
{
    memset(p, 0, sizeof *p);
    int n = ggml_graph_n_nodes(g), segment = 0;
    for (int i = 0; i < n; i++) {
        const struct ggml_tensor *node = ggml_graph_node(g, i), *idx;
        int64_t limit;
        if (apir_op_is_noop(node->op) || ggml_nelements(node) == 0 ||
            !apir_index_operand(node, &idx, &limit))
            continue;
        if (!idx || (idx->type != GGML_TYPE_I32 && idx->type != GGML_TYPE_I64))
            return APIR_E_INVALID;
        if (apir_written_in(g, segment, i, idx))
            segment = i;
        if (!apir_index_plan_add(p, segment, idx, limit)) {
            apir_index_plan_free(p);
            return APIR_E_NOMEM;
        }
    }
    return APIR_OK;
}

void apir_index_plan_free(struct apir_index_plan *p)
{
    free(p->checks);
    memset(p, 0, sizeof *p);
}

/* Every element of t (any strides) lies in [0, limit). Memory a backend keeps to itself is
 * read back first. */
static bool apir_indices_in_range(const struct ggml_tensor *t, int64_t limit)
{
    size_t bytes = ggml_nbytes(t);
    const uint8_t *base = t->data;
    uint8_t *copy = NULL;
    if (bytes && !ggml_backend_buffer_is_host(t->buffer)) {
        if (!(copy = malloc(bytes)))
            return false;
        ggml_backend_tensor_get(t, copy, 0, bytes);
        base = copy;
    }
    bool ok = true;
    for (int64_t i3 = 0; i3 < t->ne[3] && ok; i3++)
        for (int64_t i2 = 0; i2 < t->ne[2] && ok; i2++)
            for (int64_t i1 = 0; i1 < t->ne[1] && ok; i1++)
                for (int64_t i0 = 0; i0 < t->ne[0] && ok; i0++) {
                    const uint8_t *e =
                        base + i0 * t->nb[0] + i1 * t->nb[1] + i2 * t->nb[2] + i3 * t->nb[3];
                    int64_t v;
                    if (t->type == GGML_TYPE_I32) {
                        int32_t v32;
                        memcpy(&v32, e, sizeof v32);
                        v = v32;
                    } else {
                        memcpy(&v, e, sizeof v);
                    }
                    ok = v >= 0 && v < limit;
                }
    free(copy);
    return ok;
}

static enum ggml_status apir_compute_range(ggml_backend_t be, struct ggml_cgraph *g, int i0, int i1)
{
    if (i0 == 0 && i1 == ggml_graph_n_nodes(g))
        return ggml_backend_graph_compute(be, g);
    struct ggml_cgraph view = ggml_graph_view(g, i0, i1);
    return ggml_backend_graph_compute(be, &view);
}

enum apir_status apir_index_plan_compute(ggml_backend_t be, struct ggml_cgraph *g,
                                         const struct apir_index_plan *p, enum ggml_status *gs)
{
    int done = 0, n = ggml_graph_n_nodes(g);
    *gs = GGML_STATUS_SUCCESS;
    for (uint32_t k = 0; k < p->n; k++) {
        const struct apir_index_check *c = &p->checks[k];
        if (c->pos > done) {
            *gs = apir_compute_range(be, g, done, c->pos);
            if (*gs != GGML_STATUS_SUCCESS)
                return APIR_OK;
            done = c->pos;
        }
        if (!apir_indices_in_range(c->t, c->limit))
            return APIR_E_INVALID;
    }
    if (done < n)
        *gs = apir_compute_range(be, g, done, n);
    return APIR_OK;
}
