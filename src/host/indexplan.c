/* Index-reading ops keep their indices inside their tensors (docs/security.md, "Indices").
 *
 * GET_ROWS, GET_ROWS_BACK, SET_ROWS, MUL_MAT_ID, ADD_ID and SSM_SCAN address memory with
 * values read from a tensor at run time. ggml's CPU kernels check some of them with aborting
 * assertions (the host would die), MUL_MAT_ID's check is compiled out of release builds,
 * GET_ROWS_BACK has none, and GPU kernels none at all. Values are data, not shapes: they are
 * only known once the nodes that write them have run. So the host computes a graph in
 * segments: a new segment starts right before a consumer whose indices a node of the current
 * segment writes, and at the start of the segment that consumes them the indices are copied
 * into memory of the host's own and checked there; the consumer reads that copy. What the
 * kernel reads is then exactly what was checked, whoever writes the original afterwards: the
 * guest (a shared region), a node through another mapping of the same memory, or the
 * consumer itself (placed over its own indices). A graph without such ops is one segment, as
 * before. The plan is made once per built graph and kept with the cached graph for
 * GRAPH_RECOMPUTE; copies are made and checked on every run. */
#include "internal.h"

#include <ggml-impl.h>
#include <stdlib.h>
#include <string.h>

/* The source slot of node n that holds indices, and the bound its values must stay under. */
static int apir_index_slot(const struct ggml_tensor *n, int64_t *limit)
{
    switch (n->op) {
    case GGML_OP_GET_ROWS: /* rows of src0 */
        *limit = n->src[0]->ne[1];
        return 1;
    case GGML_OP_GET_ROWS_BACK: /* rows of the result, which the kernel adds into */
    case GGML_OP_SET_ROWS:      /* rows of the result, a view of the destination */
        *limit = n->ne[1];
        return 1;
    case GGML_OP_MUL_MAT_ID: /* experts: src0's matrices */
        *limit = n->src[0]->ne[2];
        return 2;
    case GGML_OP_ADD_ID: /* rows of src1 */
        *limit = n->src[1]->ne[1];
        return 2;
    case GGML_OP_SSM_SCAN: /* sequences of the state src0 */
        *limit = n->src[0]->ne[3];
        return 6;
    default:
        return -1;
    }
}

/* [*lo, *hi): the bytes t spans by the host's one extent rule (validate.c: the strided span,
 * a dense row, ggml_nbytes' count, whichever is largest). ggml_nbytes alone is not enough: a
 * block type's row with nb0 = 0 counts 0 bytes there, while the kernels write it densely. */
static bool apir_index_span(const struct ggml_tensor *t, uintptr_t *lo, uintptr_t *hi)
{
    uint64_t nb[4], ext;
    for (int i = 0; i < 4; i++)
        nb[i] = t->nb[i];
    if (!t->data)
        return false;
    *lo = (uintptr_t)t->data;
    /* Validated tensors always have an extent; were one missing, it would count as all of
     * memory, never as none. */
    *hi = apir_tensor_extent(t->type, t->ne, nb, &ext) ? *lo + (uintptr_t)ext : UINTPTR_MAX;
    return *hi > *lo;
}

/* The tensors whose bytes node n's kernel writes. Every kernel writes its own tensor (ACC,
 * SET, SET_ROWS and CPY inside its extent, which their op rules bound); the optimizer steps
 * also update sources in place, and never write their own tensor at all: ggml-cpu's
 * OPT_STEP_SGD writes src0 (the weights), OPT_STEP_ADAMW src0 and its moments src2 and src3,
 * each at src0's byte offsets (their op rule gives them src0's strides). No other CPU kernel
 * writes a source: ggml-cpu's ops.cpp at the pinned commit was read for it (recurrent states,
 * RWKV, GATED_LINEAR_ATTN, SSM_SCAN and gated delta net, are read from a source and written
 * into the node). A new op that writes elsewhere must be added here. */
static unsigned apir_node_writes(const struct ggml_tensor *n, const struct ggml_tensor *w[4])
{
    unsigned k = 0;
    w[k++] = n;
    switch (n->op) {
    case GGML_OP_OPT_STEP_ADAMW:
        w[k++] = n->src[2];
        w[k++] = n->src[3];
        /* fall through */
    case GGML_OP_OPT_STEP_SGD:
        w[k++] = n->src[0];
        break;
    default:
        break;
    }
    return k;
}

/* Whether a node in [from, to) writes bytes in [lo, hi). */
static bool apir_written_in(struct ggml_cgraph *g, int from, int to, uintptr_t lo, uintptr_t hi)
{
    for (int j = from; j < to; j++) {
        const struct ggml_tensor *n = ggml_graph_node(g, j), *w[4];
        if (apir_op_is_noop(n->op))
            continue;
        unsigned k = apir_node_writes(n, w);
        for (unsigned i = 0; i < k; i++) {
            uintptr_t wlo, whi;
            if (w[i] && apir_index_span(w[i], &wlo, &whi) && wlo < hi && lo < whi)
                return true;
        }
    }
    return false;
}

static bool apir_index_plan_add(struct apir_index_plan *p, const struct apir_index_check *c)
{
    if (p->n == p->cap) {
        uint32_t cap = p->cap ? 2 * p->cap : 16;
        struct apir_index_check *grown = realloc(p->checks, cap * sizeof *grown);
        if (!grown)
            return false;
        p->checks = grown;
        p->cap = cap;
    }
    p->checks[p->n++] = *c;
    return true;
}

enum apir_status apir_index_plan_build(struct ggml_cgraph *g, struct apir_index_plan *p)
{
    memset(p, 0, sizeof *p);
    int n = ggml_graph_n_nodes(g), segment = 0;
    for (int i = 0; i < n; i++) {
        struct ggml_tensor *node = ggml_graph_node(g, i);
        struct apir_index_check c = {.node = node};
        if (apir_op_is_noop(node->op) || ggml_nelements(node) == 0 ||
            (c.slot = apir_index_slot(node, &c.limit)) < 0)
            continue;
        const struct ggml_tensor *idx = node->src[c.slot];
        if (!idx || (idx->type != GGML_TYPE_I32 && idx->type != GGML_TYPE_I64)) {
            apir_index_plan_free(p);
            return APIR_E_INVALID;
        }
        uintptr_t lo, hi;
        if (apir_index_span(idx, &lo, &hi) && apir_written_in(g, segment, i, lo, hi))
            segment = i;
        c.pos = segment;
        c.t = idx;
        if (!apir_index_plan_add(p, &c)) {
            apir_index_plan_free(p);
            return APIR_E_NOMEM;
        }
    }
    return APIR_OK;
}

void apir_index_plan_free(struct apir_index_plan *p)
{
    free(p->checks);
    free(p->copies);
    memset(p, 0, sizeof *p);
}

/* The stream's index buffer holds at least `bytes`: grown (never shrunk, like the CPU work
 * buffer) with the growth charged to the session's byte quota. */
static enum apir_status apir_index_buffer_reserve(struct apir_session *s,
                                                  struct apir_host_stream *hs, uint64_t bytes)
{
    if (bytes <= hs->index_bytes)
        return APIR_OK;
    uint64_t more = bytes - hs->index_bytes, quota = s->host->max_session_bytes;
    if (bytes > SIZE_MAX || (quota && (more > quota || s->bytes_used > quota - more)))
        return APIR_E_QUOTA;
    /* Nothing may still be reading the old copies (the previous graph's last segment). */
    ggml_backend_synchronize(hs->be);
    if (hs->index_buf)
        ggml_backend_buffer_free(hs->index_buf);
    s->bytes_used -= hs->index_bytes;
    hs->index_bytes = 0;
    hs->index_buf =
        ggml_backend_buft_alloc_buffer(ggml_backend_get_default_buffer_type(hs->be), (size_t)bytes);
    if (!hs->index_buf)
        return APIR_E_NOMEM;
    s->bytes_used += bytes;
    hs->index_bytes = bytes;
    return APIR_OK;
}

/* A dense tensor of t's type and shape, in the index buffer at offset: nothing but the
 * consumer names it, so no node writes it and the guest cannot reach it. */
static void apir_index_copy_init(struct ggml_tensor *cp, const struct ggml_tensor *t,
                                 ggml_backend_buffer_t buf, uint64_t offset)
{
    memset(cp, 0, sizeof *cp);
    cp->type = t->type;
    cp->nb[0] = ggml_type_size(t->type);
    for (int i = 0; i < 4; i++) {
        cp->ne[i] = t->ne[i];
        if (i > 0)
            cp->nb[i] = cp->nb[i - 1] * (size_t)t->ne[i - 1];
    }
    cp->buffer = buf;
    cp->data = (uint8_t *)ggml_backend_buffer_get_base(buf) + offset;
    memcpy(cp->name, t->name, sizeof cp->name);
}

/* Gives every check its private copy in the stream's index buffer and points its consumer's
 * index operand at it. The copies' bytes are the dense sizes, each aligned as the buffer
 * type wants. */
enum apir_status apir_index_plan_bind(struct apir_session *s, struct apir_host_stream *hs,
                                      struct apir_index_plan *p)
{
    if (p->n == 0)
        return APIR_OK;
    uint64_t align = ggml_backend_buft_get_alignment(ggml_backend_get_default_buffer_type(hs->be));
    uint64_t total = 0, *offs = malloc(p->n * sizeof *offs);
    p->copies = calloc(p->n, sizeof *p->copies);
    if (!offs || !p->copies || align == 0) {
        free(offs);
        return APIR_E_NOMEM;
    }
    for (uint32_t k = 0; k < p->n; k++) {
        const struct ggml_tensor *t = p->checks[k].t;
        uint64_t bytes = (uint64_t)ggml_nelements(t) * ggml_type_size(t->type);
        offs[k] = (total + align - 1) / align * align;
        if (offs[k] < total || __builtin_add_overflow(offs[k], bytes, &total)) {
            free(offs);
            return APIR_E_QUOTA;
        }
    }
    enum apir_status st = apir_index_buffer_reserve(s, hs, total ? total : 1);
    for (uint32_t k = 0; k < p->n && st == APIR_OK; k++) {
        struct apir_index_check *c = &p->checks[k];
        apir_index_copy_init(&p->copies[k], c->t, hs->index_buf, offs[k]);
        c->node->src[c->slot] = &p->copies[k];
    }
    free(offs);
    return st;
}

/* Every value of a dense I32/I64 array lies in [0, limit). */
static bool apir_index_values_ok(const uint8_t *v, int64_t n, enum ggml_type type, int64_t limit)
{
    for (int64_t i = 0; i < n; i++) {
        int64_t x;
        if (type == GGML_TYPE_I32) {
            int32_t x32;
            memcpy(&x32, v + 4 * i, sizeof x32);
            x = x32;
        } else {
            memcpy(&x, v + 8 * i, sizeof x);
        }
        if (x < 0 || x >= limit)
            return false;
    }
    return true;
}

/* Gathers t's elements (any strides) from base into the dense array out. */
static void apir_index_gather(const struct ggml_tensor *t, const uint8_t *base, uint8_t *out)
{
    size_t es = ggml_type_size(t->type), row = es * (size_t)t->ne[0];
    for (int64_t i3 = 0; i3 < t->ne[3]; i3++)
        for (int64_t i2 = 0; i2 < t->ne[2]; i2++)
            for (int64_t i1 = 0; i1 < t->ne[1]; i1++) {
                const uint8_t *r = base + i1 * t->nb[1] + i2 * t->nb[2] + i3 * t->nb[3];
                if (t->nb[0] == es) {
                    memcpy(out, r, row);
                    out += row;
                    continue;
                }
                for (int64_t i0 = 0; i0 < t->ne[0]; i0++, out += es)
                    memcpy(out, r + i0 * t->nb[0], es);
            }
}

/* Copies check c's indices into its private copy cp and checks them there, after the copy:
 * the original may be written at any moment (a region), the copy by no one. Memory a backend
 * keeps to itself is read back first, and the checked bytes uploaded. */
static enum apir_status apir_index_copy_checked(const struct apir_index_check *c,
                                                struct ggml_tensor *cp)
{
    const struct ggml_tensor *t = c->t;
    size_t span = ggml_nbytes(t), dense = ggml_nbytes(cp);
    if (dense == 0)
        return APIR_OK;
    const uint8_t *from = t->data;
    uint8_t *read = NULL, *stage = NULL, *to = cp->data;
    enum apir_status st = APIR_OK;
    if (!ggml_backend_buffer_is_host(t->buffer)) {
        if ((read = malloc(span)) != NULL)
            ggml_backend_tensor_get(t, read, 0, span);
        from = read;
    }
    if (!ggml_backend_buffer_is_host(cp->buffer))
        to = stage = malloc(dense);
    if (!from || !to)
        st = APIR_E_NOMEM;
    if (st == APIR_OK) {
        apir_index_gather(t, from, to);
        if (!apir_index_values_ok(to, ggml_nelements(t), t->type, c->limit))
            st = APIR_E_INVALID;
    }
    if (st == APIR_OK && stage)
        ggml_backend_tensor_set(cp, stage, 0, dense);
    free(read);
    free(stage);
    return st;
}

static enum ggml_status apir_compute_range(ggml_backend_t be, struct ggml_cgraph *g, int i0, int i1)
{
    if (i0 == 0 && i1 == ggml_graph_n_nodes(g))
        return ggml_backend_graph_compute(be, g);
    struct ggml_cgraph view = ggml_graph_view(g, i0, i1);
    return ggml_backend_graph_compute(be, &view);
}

enum apir_status apir_index_plan_compute(ggml_backend_t be, struct ggml_cgraph *g,
                                         const struct apir_index_plan *p, enum ggml_status *gs,
                                         struct apir_compute_stats *stats)
{
    int done = 0, n = ggml_graph_n_nodes(g);
    *gs = GGML_STATUS_SUCCESS;
    for (uint32_t k = 0; k < p->n; k++) {
        const struct apir_index_check *c = &p->checks[k];
        if (c->pos > done) {
            stats->extra_segments += done > 0;
            *gs = apir_compute_range(be, g, done, c->pos);
            if (*gs != GGML_STATUS_SUCCESS)
                return APIR_OK;
            done = c->pos;
        }
        uint64_t t0 = apir_now_ns();
        enum apir_status st = apir_index_copy_checked(c, &p->copies[k]);
        stats->index_ns += apir_now_ns() - t0;
        stats->index_copies++;
        if (st != APIR_OK)
            return st;
    }
    if (done < n) {
        stats->extra_segments += done > 0;
        *gs = apir_compute_range(be, g, done, n);
    }
    return APIR_OK;
}
