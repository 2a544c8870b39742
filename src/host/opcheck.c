/* Per-op structure checks for graph nodes, before any backend sees them.
 *
 * Extent validation (validate.c) keeps every tensor inside its buffer. This file checks what
 * kernels assume about an op's operands: that the sources they dereference exist, and that
 * shapes, types and op params are what ggml's constructors would have built (opshape*.c, one
 * rule per op; an op without one is refused). */
#include "internal.h"
#include "opshape.h"

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

/* Shapes, types and op params: one rule per op, default-deny (opshape*.c). */
static bool apir_check_shapes(const struct apir_wire_graph *g, const struct apir_wire_tensor *t)
{
    switch ((enum ggml_op)t->op) {
    default:
        return apir_op_shape_ok(g, t);
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
