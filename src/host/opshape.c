/* Per-op checks: the dispatch (default-deny) from each ggml_op to its rule.
 *
 * Each op's rule lives in an opshape_<family>.c file and re-derives the node from its sources
 * and op params by ggml's own rules: the result type and shape the op's constructor in ggml.c
 * gives, the constructor's asserts, and what the CPU kernel (ggml-cpu/ops.cpp, ggml-cpu.c)
 * further assumes. The rules are written in the predicates of opshape_pred.c. An op with no
 * rule in the table is refused. */
#include "opshape_impl.h"

/* Ops that only name memory (apir_op_is_noop: the caller skips them) have nothing to check. */
static bool apir_opshape_noop(const struct apir_opshape *o)
{
    (void)o;
    return true;
}

/* One rule per ggml_op. Absent: refused. MAP_CUSTOM1..3 and CUSTOM carry function pointers
 * (validate.c refuses them first); FLASH_ATTN_BACK cannot be built at all (its constructor
 * aborts unconditionally in this ggml). */
static const apir_opshape_fn apir_opshape_rules[GGML_OP_COUNT] = {
    [GGML_OP_NONE] = apir_opshape_noop,
    [GGML_OP_DUP] = apir_opshape_dup,
    [GGML_OP_ADD] = apir_opshape_add,
    [GGML_OP_ADD_ID] = apir_opshape_add_id,
    [GGML_OP_ADD1] = apir_opshape_add1,
    [GGML_OP_ACC] = apir_opshape_acc,
    [GGML_OP_SUB] = apir_opshape_binary,
    [GGML_OP_MUL] = apir_opshape_binary,
    [GGML_OP_DIV] = apir_opshape_binary,
    [GGML_OP_SQR] = apir_opshape_math,
    [GGML_OP_SQRT] = apir_opshape_math,
    [GGML_OP_LOG] = apir_opshape_math,
    [GGML_OP_SIN] = apir_opshape_math,
    [GGML_OP_COS] = apir_opshape_math,
    [GGML_OP_SUM] = apir_opshape_sum,
    [GGML_OP_SUM_ROWS] = apir_opshape_sum_rows,
    [GGML_OP_CUMSUM] = apir_opshape_cumsum,
    [GGML_OP_MEAN] = apir_opshape_mean,
    [GGML_OP_ARGMAX] = apir_opshape_argmax,
    [GGML_OP_COUNT_EQUAL] = apir_opshape_count_equal,
    [GGML_OP_REPEAT] = apir_opshape_repeat,
    [GGML_OP_REPEAT_BACK] = apir_opshape_repeat_back,
    [GGML_OP_CONCAT] = apir_opshape_concat,
    [GGML_OP_SILU_BACK] = apir_opshape_silu_back,
    [GGML_OP_NORM] = apir_opshape_norm,
    [GGML_OP_RMS_NORM] = apir_opshape_norm,
    [GGML_OP_RMS_NORM_BACK] = apir_opshape_rms_norm_back,
    [GGML_OP_GROUP_NORM] = apir_opshape_group_norm,
    [GGML_OP_L2_NORM] = apir_opshape_norm,
    [GGML_OP_MUL_MAT] = apir_opshape_mul_mat,
    [GGML_OP_MUL_MAT_ID] = apir_opshape_mul_mat_id,
    [GGML_OP_OUT_PROD] = apir_opshape_out_prod,
    [GGML_OP_SCALE] = apir_opshape_scale,
    [GGML_OP_SET] = apir_opshape_set,
    [GGML_OP_CPY] = apir_opshape_cpy,
    [GGML_OP_CONT] = apir_opshape_cont,
    [GGML_OP_RESHAPE] = apir_opshape_noop,
    [GGML_OP_VIEW] = apir_opshape_noop,
    [GGML_OP_PERMUTE] = apir_opshape_noop,
    [GGML_OP_TRANSPOSE] = apir_opshape_noop,
    [GGML_OP_GET_ROWS] = apir_opshape_get_rows,
    [GGML_OP_GET_ROWS_BACK] = apir_opshape_get_rows_back,
    [GGML_OP_SET_ROWS] = apir_opshape_set_rows,
    [GGML_OP_DIAG] = apir_opshape_diag,
    [GGML_OP_DIAG_MASK_INF] = apir_opshape_diag_mask,
    [GGML_OP_DIAG_MASK_ZERO] = apir_opshape_diag_mask,
    [GGML_OP_SOFT_MAX] = apir_opshape_soft_max,
    [GGML_OP_SOFT_MAX_BACK] = apir_opshape_soft_max_back,
    [GGML_OP_ROPE] = apir_opshape_rope,
    [GGML_OP_ROPE_BACK] = apir_opshape_rope,
    [GGML_OP_CLAMP] = apir_opshape_clamp,
    [GGML_OP_CONV_TRANSPOSE_1D] = apir_opshape_conv_transpose_1d,
    [GGML_OP_IM2COL] = apir_opshape_im2col,
    [GGML_OP_IM2COL_BACK] = apir_opshape_im2col_back,
    [GGML_OP_IM2COL_3D] = apir_opshape_im2col_3d,
    [GGML_OP_COL2IM_1D] = apir_opshape_col2im_1d,
    [GGML_OP_CONV_2D] = apir_opshape_conv_2d,
    [GGML_OP_CONV_3D] = apir_opshape_conv_3d,
    [GGML_OP_CONV_2D_DW] = apir_opshape_conv_2d_dw,
    [GGML_OP_CONV_TRANSPOSE_2D] = apir_opshape_conv_transpose_2d,
    [GGML_OP_POOL_1D] = apir_opshape_pool_1d,
    [GGML_OP_POOL_2D] = apir_opshape_pool_2d,
    [GGML_OP_POOL_2D_BACK] = apir_opshape_pool_2d_back,
    [GGML_OP_UPSCALE] = apir_opshape_upscale,
    [GGML_OP_PAD] = apir_opshape_pad,
    [GGML_OP_PAD_REFLECT_1D] = apir_opshape_pad_reflect_1d,
    [GGML_OP_ROLL] = apir_opshape_roll,
    [GGML_OP_ARANGE] = apir_opshape_arange,
    [GGML_OP_TIMESTEP_EMBEDDING] = apir_opshape_timestep_embedding,
    [GGML_OP_ARGSORT] = apir_opshape_argsort,
    [GGML_OP_TOP_K] = apir_opshape_top_k,
    [GGML_OP_LEAKY_RELU] = apir_opshape_leaky_relu,
    [GGML_OP_TRI] = apir_opshape_tri,
    [GGML_OP_FILL] = apir_opshape_fill,
    [GGML_OP_FLASH_ATTN_EXT] = apir_opshape_flash_attn_ext,
    [GGML_OP_SSM_CONV] = apir_opshape_ssm_conv,
    [GGML_OP_SSM_SCAN] = apir_opshape_ssm_scan,
    [GGML_OP_WIN_PART] = apir_opshape_win_part,
    [GGML_OP_WIN_UNPART] = apir_opshape_win_unpart,
    [GGML_OP_GET_REL_POS] = apir_opshape_get_rel_pos,
    [GGML_OP_ADD_REL_POS] = apir_opshape_add_rel_pos,
    [GGML_OP_RWKV_WKV6] = apir_opshape_rwkv_wkv6,
    [GGML_OP_GATED_LINEAR_ATTN] = apir_opshape_gated_linear_attn,
    [GGML_OP_RWKV_WKV7] = apir_opshape_rwkv_wkv7,
    [GGML_OP_SOLVE_TRI] = apir_opshape_solve_tri,
    [GGML_OP_GATED_DELTA_NET] = apir_opshape_gated_delta_net,
    [GGML_OP_LIGHTNING_INDEXER] = apir_opshape_lightning_indexer,
    [GGML_OP_DSV4_HC_COMB] = apir_opshape_dsv4_hc_comb,
    [GGML_OP_DSV4_HC_PRE] = apir_opshape_dsv4_hc_pre,
    [GGML_OP_DSV4_HC_POST] = apir_opshape_dsv4_hc_post,
    [GGML_OP_UNARY] = apir_opshape_unary,
    [GGML_OP_CROSS_ENTROPY_LOSS] = apir_opshape_cross_entropy_loss,
    [GGML_OP_CROSS_ENTROPY_LOSS_BACK] = apir_opshape_cross_entropy_loss_back,
    [GGML_OP_OPT_STEP_ADAMW] = apir_opshape_opt_step_adamw,
    [GGML_OP_OPT_STEP_SGD] = apir_opshape_opt_step_sgd,
    [GGML_OP_GLU] = apir_opshape_glu,
};

bool apir_op_shape_ok(const struct apir_wire_graph *g, const struct apir_wire_tensor *t)
{
    if (t->op >= GGML_OP_COUNT || !apir_opshape_rules[t->op])
        return false;
    struct apir_opshape o = {.t = t};
    for (unsigned i = 0; i < APIR_MAX_SRC; i++) {
        /* The decoder bounds source indices by the tensor's own position in the table. */
        if (t->src[i] >= 0 && (uint32_t)t->src[i] < g->n_tensors)
            o.src[i] = &g->tensors[t->src[i]];
    }
    return apir_opshape_rules[t->op](&o);
}
