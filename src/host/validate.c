/* Validation of guest-described tensors (DESIGN §3): the guest is hostile.
 *
 * Everything a kernel will touch is derived from (type, ne, nb, buffer, offset). We prove the
 * full byte extent lies inside a live buffer of this session using overflow-checked arithmetic,
 * and refuse ops whose parameters carry function pointers. */
#include "internal.h"

#include <string.h>

/* Ops that run guest-chosen code through function pointers in op_params: never allowed. */
static bool apir_op_allowed(uint32_t op)
{
    if (op >= GGML_OP_COUNT)
        return false;
    switch ((enum ggml_op)op) {
    case GGML_OP_MAP_CUSTOM1:
    case GGML_OP_MAP_CUSTOM2:
    case GGML_OP_MAP_CUSTOM3:
    case GGML_OP_CUSTOM:
        return false;
    default:
        return true;
    }
}

/* Sub-op selectors that kernels switch on and abort for when unknown. */
static bool apir_op_params_valid(const struct apir_wire_tensor *t)
{
    if (t->op == GGML_OP_UNARY)
        return t->op_params[0] >= 0 && t->op_params[0] < GGML_UNARY_OP_COUNT;
    if (t->op == GGML_OP_GLU)
        return t->op_params[0] >= 0 && t->op_params[0] < GGML_GLU_OP_COUNT;
    return true;
}

static bool apir_type_valid(uint32_t type)
{
    if (type >= GGML_TYPE_COUNT)
        return false;
    /* Removed types keep a slot in the enum with a zero block or type size. */
    return ggml_blck_size((enum ggml_type)type) > 0 && ggml_type_size((enum ggml_type)type) > 0;
}

/* Bytes from the tensor's first byte to one past its last, from ne/nb, overflow-checked: the
 * largest of what strided access reaches, a dense row (kernels that treat rows as contiguous
 * read that much whatever nb[0] says) and what ggml_nbytes computes (data commands use it). */
bool apir_tensor_extent(uint32_t type, const int64_t ne[4], const uint64_t nb[4], uint64_t *ext)
{
    if (!apir_type_valid(type))
        return false;
    int64_t blck = ggml_blck_size((enum ggml_type)type);
    uint64_t tsize = ggml_type_size((enum ggml_type)type);
    for (int i = 0; i < 4; i++) {
        if (ne[i] < 0)
            return false;
    }
    if (ne[0] % blck != 0)
        return false;
    /* The count must fit with the zero dimensions left out too: a zero ne0 makes the product 0
     * while ggml_nrows (ne1 * ne2 * ne3) and the op rules' row counts would still overflow. */
    uint64_t n_el = 1, n_nonzero = 1;
    for (int i = 0; i < 4; i++) {
        uint64_t d = ne[i] ? (uint64_t)ne[i] : 1;
        if (__builtin_mul_overflow(n_nonzero, d, &n_nonzero) || n_nonzero > (uint64_t)INT64_MAX)
            return false;
        n_el *= (uint64_t)ne[i];
    }
    if (n_el == 0) {
        *ext = 0;
        return true;
    }
    uint64_t blocks0 = (uint64_t)(ne[0] / blck), row, span0, e;
    if (__builtin_mul_overflow(blocks0, tsize, &row))
        return false;
    if (__builtin_mul_overflow(blocks0 - 1, nb[0], &span0) ||
        __builtin_add_overflow(span0, tsize, &span0))
        return false;
    e = row > span0 ? row : span0;
    /* ggml_nbytes, which every data command and some kernels trust, counts dimension 0 of a
     * block type as ne0 * nb0 / blck: with a large nb0 that exceeds the span above. */
    uint64_t nbytes0;
    if (blck > 1) {
        if (__builtin_mul_overflow((uint64_t)ne[0], nb[0], &nbytes0))
            return false;
        nbytes0 /= (uint64_t)blck;
        e = nbytes0 > e ? nbytes0 : e;
    }
    for (int i = 1; i < 4; i++) {
        uint64_t d;
        if (__builtin_mul_overflow((uint64_t)(ne[i] - 1), nb[i], &d) ||
            __builtin_add_overflow(e, d, &e))
            return false;
    }
    *ext = e;
    return true;
}

/* Here, beside the extent, because the op rules (opshape_pred.c) and the graph builder both ask
 * it, below the node checks (opcheck.c) that call the rules. */
bool apir_wire_tensor_is_empty(const struct apir_wire_tensor *t)
{
    return t->ne[0] == 0 || t->ne[1] == 0 || t->ne[2] == 0 || t->ne[3] == 0;
}

/* A kernel's work grows with a tensor's elements, its memory only with its bytes: zero or
 * overlapping strides let 4 KiB describe 2^40 elements, a message of a few hundred bytes that
 * keeps the host's cores busy for minutes to years. A dense tensor holds at most ~5 elements
 * per byte (IQ1_S: 256 in 50 bytes) and the overlapping views ggml graphs use (sliding
 * windows) a few times that; more than 64 per byte of extent is refused. */
#define APIR_MAX_ELEMENTS_PER_BYTE 64u

static bool apir_tensor_work_ok(const struct apir_wire_tensor *t, uint64_t ext)
{
    uint64_t n_el = 1, cap;
    for (int i = 0; i < 4; i++)
        n_el *= (uint64_t)t->ne[i]; /* apir_tensor_extent proved the product fits */
    if (__builtin_mul_overflow(ext, (uint64_t)APIR_MAX_ELEMENTS_PER_BYTE, &cap))
        return true;
    return n_el <= cap;
}

static enum apir_status apir_validate_data(struct apir_session *s, const struct apir_wire_tensor *t,
                                           uint64_t ext)
{
    if (!apir_tensor_work_ok(t, ext))
        return APIR_E_INVALID;
    struct apir_host_buffer *hb = apir_handles_get(&s->handles, t->buffer, APIR_OBJ_BUFFER);
    if (!hb)
        return APIR_E_HANDLE;
    uint64_t end;
    if (__builtin_add_overflow(t->offset, ext, &end) || end > hb->size)
        return APIR_E_INVALID;
    return APIR_OK;
}

/* g gives the table for view-source checks (NULL for a lone tensor). need_data: every tensor
 * must live in a buffer (graph compute, data commands); queries such as supports_op may
 * describe tensors not yet allocated. */
enum apir_status apir_validate_tensor(struct apir_session *s, const struct apir_wire_tensor *t,
                                      const struct apir_wire_graph *g, bool need_data)
{
    uint64_t ext;
    if (!apir_op_allowed(t->op) || !apir_op_params_valid(t))
        return APIR_E_INVALID;
    if (!apir_tensor_extent(t->type, t->ne, t->nb, &ext))
        return APIR_E_INVALID;
    if (memchr(t->name, '\0', sizeof t->name) == NULL)
        return APIR_E_INVALID;
    if (t->buffer == 0) {
        /* No buffer means no data: an offset would be a pointer in disguise. */
        if (need_data || t->offset != 0)
            return APIR_E_INVALID;
    } else {
        enum apir_status st = apir_validate_data(s, t, ext);
        if (st != APIR_OK)
            return st;
    }
    if (t->view_src >= 0) {
        if (!g || (uint32_t)t->view_src >= g->n_tensors)
            return APIR_E_INVALID;
        /* A view shares its source's storage: same buffer, by construction in ggml. */
        if (g->tensors[t->view_src].buffer != t->buffer)
            return APIR_E_INVALID;
    }
    return APIR_OK;
}

/* Whether two byte ranges share bytes. The rule works on addresses, not on handles: two
 * buffers over the same bytes of a region are one memory, as one buffer is. Addresses are
 * compared within one address space only: the same buffer type's, or host memory (a NULL
 * buffer is plain host memory, such as a region's staging range); memories of different
 * devices never share bytes. */
bool apir_bytes_overlap(ggml_backend_buffer_t ba, const void *a, uint64_t alen,
                        ggml_backend_buffer_t bb, const void *b, uint64_t blen)
{
    if (!a || !b || alen == 0 || blen == 0)
        return false;
    bool a_host = !ba || ggml_backend_buffer_is_host(ba);
    bool b_host = !bb || ggml_backend_buffer_is_host(bb);
    bool one_space =
        (a_host && b_host) ||
        (ba && bb && ggml_backend_buffer_get_type(ba) == ggml_backend_buffer_get_type(bb));
    if (!one_space)
        return false;
    uintptr_t a0 = (uintptr_t)a, b0 = (uintptr_t)b;
    return a0 - b0 < blen || b0 - a0 < alen; /* unsigned: one starts inside the other */
}

/* The host address of a wire tensor's first byte (validated: its buffer is live), and its
 * buffer; NULL for a tensor without data. */
const void *apir_wire_tensor_addr(struct apir_session *s, const struct apir_wire_tensor *t,
                                  ggml_backend_buffer_t *buf)
{
    struct apir_host_buffer *hb =
        t->buffer ? apir_handles_get(&s->handles, t->buffer, APIR_OBJ_BUFFER) : NULL;
    *buf = hb ? hb->buf : NULL;
    return hb ? hb->base + t->offset : NULL;
}
