/* Per-op structure checks for graph nodes, before any backend sees them.
 *
 * Extent validation (validate.c) keeps every tensor inside its buffer. This file checks what
 * kernels assume about an op's operands: that the sources they dereference exist, and for the
 * ops every LLM runs, that shapes agree. CPU kernels assert on a mismatch (which would end the
 * session process); GPU kernels may simply read out of range. Ops not listed here get the
 * generic source check only; docs/security.md says what remains open. */
#include "internal.h"

/* Leading sources an op cannot run without (later ones may be optional, e.g. a mask). */
static unsigned apir_op_required_srcs(enum ggml_op op)
{
    switch (op) {
    case GGML_OP_NONE:
    case GGML_OP_ARANGE:
        return 0;
    case GGML_OP_ADD:
    case GGML_OP_ADD1:
    case GGML_OP_ACC:
    case GGML_OP_SUB:
    case GGML_OP_MUL:
    case GGML_OP_DIV:
    case GGML_OP_CPY:
    case GGML_OP_SET:
    case GGML_OP_GET_ROWS:
    case GGML_OP_GET_ROWS_BACK:
    case GGML_OP_SET_ROWS:
    case GGML_OP_MUL_MAT:
    case GGML_OP_OUT_PROD:
    case GGML_OP_CONCAT:
    case GGML_OP_SILU_BACK:
    case GGML_OP_RMS_NORM_BACK:
    case GGML_OP_SOFT_MAX_BACK:
    case GGML_OP_ROPE:
    case GGML_OP_ROPE_BACK:
    case GGML_OP_COUNT_EQUAL:
    case GGML_OP_CROSS_ENTROPY_LOSS:
    case GGML_OP_SSM_CONV:
    case GGML_OP_SOLVE_TRI:
    case GGML_OP_IM2COL:
    case GGML_OP_IM2COL_BACK:
    case GGML_OP_IM2COL_3D:
    case GGML_OP_CONV_TRANSPOSE_1D:
    case GGML_OP_CONV_TRANSPOSE_2D:
    case GGML_OP_CONV_2D:
    case GGML_OP_CONV_3D:
    case GGML_OP_CONV_2D_DW:
    case GGML_OP_POOL_2D_BACK:
        return 2;
    case GGML_OP_MUL_MAT_ID:
    case GGML_OP_ADD_ID:
    case GGML_OP_FLASH_ATTN_EXT:
    case GGML_OP_CROSS_ENTROPY_LOSS_BACK:
    case GGML_OP_OPT_STEP_SGD:
        return 3;
    case GGML_OP_OPT_STEP_ADAMW:
        return 5;
    case GGML_OP_RWKV_WKV6:
        return 6;
    case GGML_OP_SSM_SCAN:
    case GGML_OP_RWKV_WKV7:
        return 7;
    default:
        return 1;
    }
}

static bool apir_index_type(uint32_t type)
{
    return type == GGML_TYPE_I32 || type == GGML_TYPE_I64;
}

/* b broadcasts to a: every dimension of a is a whole multiple of b's. */
static bool apir_can_repeat(const struct apir_wire_tensor *b, const struct apir_wire_tensor *a)
{
    for (int i = 0; i < 4; i++) {
        if (b->ne[i] == 0 ? a->ne[i] != 0 : a->ne[i] % b->ne[i] != 0)
            return false;
    }
    return true;
}

static bool apir_same_shape(const struct apir_wire_tensor *a, const struct apir_wire_tensor *b)
{
    for (int i = 0; i < 4; i++) {
        if (a->ne[i] != b->ne[i])
            return false;
    }
    return true;
}

static int64_t apir_nelements(const struct apir_wire_tensor *t)
{
    /* validate.c proved the product fits in int64 before we get here. */
    return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
}

static bool apir_check_mul_mat(const struct apir_wire_tensor *d, const struct apir_wire_tensor *a,
                               const struct apir_wire_tensor *b)
{
    return a->ne[0] == b->ne[0] && a->ne[2] > 0 && a->ne[3] > 0 && b->ne[2] % a->ne[2] == 0 &&
           b->ne[3] % a->ne[3] == 0 && d->ne[0] == a->ne[1] && d->ne[1] == b->ne[1] &&
           d->ne[2] == b->ne[2] && d->ne[3] == b->ne[3];
}

static bool apir_check_get_rows(const struct apir_wire_tensor *d, const struct apir_wire_tensor *a,
                                const struct apir_wire_tensor *idx)
{
    return apir_index_type(idx->type) && a->ne[2] == idx->ne[1] && a->ne[3] == idx->ne[2] &&
           idx->ne[3] == 1 && d->ne[0] == a->ne[0] && d->ne[1] == idx->ne[0] &&
           d->ne[2] == idx->ne[1] && d->ne[3] == idx->ne[2];
}

static bool apir_check_shapes(const struct apir_wire_graph *g, const struct apir_wire_tensor *t)
{
    const struct apir_wire_tensor *s0 = t->src[0] >= 0 ? &g->tensors[t->src[0]] : NULL;
    const struct apir_wire_tensor *s1 = t->src[1] >= 0 ? &g->tensors[t->src[1]] : NULL;
    switch ((enum ggml_op)t->op) {
    case GGML_OP_ADD:
    case GGML_OP_SUB:
    case GGML_OP_MUL:
    case GGML_OP_DIV:
        return apir_can_repeat(s1, s0) && apir_same_shape(t, s0);
    case GGML_OP_MUL_MAT:
        return apir_check_mul_mat(t, s0, s1);
    case GGML_OP_GET_ROWS:
        return apir_check_get_rows(t, s0, s1);
    case GGML_OP_CPY:
        return apir_nelements(s0) == apir_nelements(s1) && apir_same_shape(t, s1);
    case GGML_OP_RMS_NORM:
    case GGML_OP_NORM:
    case GGML_OP_SCALE:
    case GGML_OP_CONT:
        return apir_nelements(t) == apir_nelements(s0);
    case GGML_OP_SOFT_MAX:
        return apir_same_shape(t, s0);
    case GGML_OP_ROPE:
        return apir_index_type(s1->type) && apir_same_shape(t, s0) && s1->ne[0] >= s0->ne[2];
    default:
        return true;
    }
}

bool apir_op_is_noop(uint32_t op)
{
    switch (op) {
    case GGML_OP_NONE:
    case GGML_OP_RESHAPE:
    case GGML_OP_VIEW:
    case GGML_OP_PERMUTE:
    case GGML_OP_TRANSPOSE:
        return true;
    default:
        return false;
    }
}

bool apir_wire_tensor_is_empty(const struct apir_wire_tensor *t)
{
    return t->ne[0] == 0 || t->ne[1] == 0 || t->ne[2] == 0 || t->ne[3] == 0;
}

/* Checks one node (a tensor the host will compute or ask a backend about). */
enum apir_status apir_check_node(const struct apir_wire_graph *g, const struct apir_wire_tensor *t)
{
    unsigned need = apir_op_required_srcs((enum ggml_op)t->op);
    for (unsigned i = 0; i < need && i < APIR_MAX_SRC; i++) {
        if (t->src[i] < 0)
            return APIR_E_INVALID;
    }
    return apir_check_shapes(g, t) ? APIR_OK : APIR_E_INVALID;
}
