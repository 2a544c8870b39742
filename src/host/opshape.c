/* Per-op checks: the dispatch (default-deny) and the predicates the rules are written in.
 *
 * Each op's rule lives in an opshape_<family>.c file and re-derives the node from its sources
 * and op params by ggml's own rules: the result type and shape the op's constructor in ggml.c
 * gives, the constructor's asserts, and what the CPU kernel (ggml-cpu/ops.cpp, ggml-cpu.c)
 * further assumes. An op with no rule in the table is refused. */
#include "opshape_impl.h"

#include <string.h>

int32_t apir_opshape_i32(const apir_wt *t, int i)
{
    return t->op_params[i];
}

float apir_opshape_f32(const apir_wt *t, int i)
{
    float f;
    memcpy(&f, &t->op_params[i], sizeof f);
    return f;
}

/* validate.c proved ne >= 0 and that the product of the non-zero ne fits int64 (so every
 * partial product does), for every tensor. */
int64_t apir_opshape_nel(const apir_wt *t)
{
    return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
}

int64_t apir_opshape_nrows(const apir_wt *t)
{
    return t->ne[1] * t->ne[2] * t->ne[3];
}

bool apir_opshape_empty(const apir_wt *t)
{
    return apir_wire_tensor_is_empty(t);
}

bool apir_opshape_ne_is(const apir_wt *t, int64_t n0, int64_t n1, int64_t n2, int64_t n3)
{
    return t->ne[0] == n0 && t->ne[1] == n1 && t->ne[2] == n2 && t->ne[3] == n3;
}

bool apir_opshape_same_ne(const apir_wt *a, const apir_wt *b)
{
    return apir_opshape_ne_is(a, b->ne[0], b->ne[1], b->ne[2], b->ne[3]);
}

bool apir_opshape_like(const apir_wt *t, const apir_wt *b)
{
    return t->type == b->type && apir_opshape_same_ne(t, b);
}

bool apir_opshape_can_repeat(const apir_wt *a, const apir_wt *b)
{
    if (apir_opshape_empty(a))
        return apir_opshape_empty(b);
    for (int i = 0; i < 4; i++) {
        if (b->ne[i] % a->ne[i] != 0)
            return false;
    }
    return true;
}

bool apir_opshape_mul(int64_t a, int64_t b, int64_t *r)
{
    return a >= 0 && b >= 0 && !__builtin_mul_overflow(a, b, r);
}

bool apir_opshape_work_ok(int64_t items, int64_t steps, int64_t elements)
{
    int64_t work, budget;
    if (items <= 0 || steps <= 0)
        return true;
    if (!apir_opshape_mul(items, steps, &work))
        return false;
    return !apir_opshape_mul(elements > 1 ? elements : 1, APIR_OPSHAPE_STEPS_PER_ELEMENT,
                             &budget) ||
           work <= budget;
}

bool apir_opshape_conv_out(int64_t in, int64_t k, int32_t s, int32_t p, int32_t d, int64_t *out)
{
    int64_t span, v;
    if (s == 0 || __builtin_mul_overflow((int64_t)d, k - 1, &span))
        return false;
    if (__builtin_add_overflow(in, 2 * (int64_t)p, &v) || __builtin_sub_overflow(v, span, &v) ||
        __builtin_sub_overflow(v, 1, &v))
        return false;
    *out = v / s + 1;
    return true;
}

bool apir_opshape_contig(const apir_wt *t, int m)
{
    uint64_t next = ggml_type_size((enum ggml_type)t->type);
    int64_t blck = ggml_blck_size((enum ggml_type)t->type);
    if (t->ne[0] != blck && t->nb[0] != next)
        return false;
    next *= (uint64_t)(t->ne[0] / blck);
    for (int i = 1; i < 4; i++) {
        if (i > m) {
            if (t->ne[i] != 1 && t->nb[i] != next)
                return false;
            next *= (uint64_t)t->ne[i];
        } else {
            next = (uint64_t)t->ne[i] * t->nb[i];
        }
    }
    return true;
}

bool apir_opshape_rows_contig(const apir_wt *t)
{
    return t->ne[0] == ggml_blck_size((enum ggml_type)t->type) ||
           t->nb[0] == ggml_type_size((enum ggml_type)t->type);
}

bool apir_opshape_padded_1d(const apir_wt *t)
{
    return t->nb[0] == ggml_type_size((enum ggml_type)t->type) &&
           t->nb[2] == t->nb[1] * (uint64_t)t->ne[1] && t->nb[3] == t->nb[2] * (uint64_t)t->ne[2];
}

bool apir_opshape_not_transposed(const apir_wt *t)
{
    return t->nb[0] <= t->nb[1];
}

bool apir_opshape_covers(const apir_wt *t, uint64_t bytes)
{
    uint64_t ext;
    if (bytes == 0)
        return true;
    return apir_tensor_extent(t->type, t->ne, t->nb, &ext) && bytes <= ext;
}

bool apir_opshape_dense(const apir_wt *t)
{
    uint64_t n = (uint64_t)apir_opshape_nel(t), bytes;
    n /= (uint64_t)ggml_blck_size((enum ggml_type)t->type);
    if (__builtin_mul_overflow(n, (uint64_t)ggml_type_size((enum ggml_type)t->type), &bytes))
        return false;
    return apir_opshape_covers(t, bytes);
}

bool apir_opshape_flat_rows(const apir_wt *t, uint64_t row_bytes)
{
    uint64_t rows = (uint64_t)apir_opshape_nrows(t), end;
    if (rows == 0 || row_bytes == 0)
        return true;
    if (__builtin_mul_overflow(rows - 1, t->nb[1], &end) ||
        __builtin_add_overflow(end, row_bytes, &end))
        return false;
    return apir_opshape_covers(t, end);
}

bool apir_opshape_query_only(const apir_wt *t)
{
    return t->buffer == 0;
}

bool apir_opshape_is_float(uint32_t type)
{
    return type == GGML_TYPE_F32 || type == GGML_TYPE_F16 || type == GGML_TYPE_BF16;
}

bool apir_opshape_is_quant(uint32_t type)
{
    return type < GGML_TYPE_COUNT && ggml_is_quantized((enum ggml_type)type);
}

/* The CPU backend's type_traits_cpu[].from_float (ggml-cpu.c): the IQ2/IQ3/IQ1 formats need
 * tables ggml_quantize_init builds, so the CPU cannot convert to them. */
bool apir_opshape_cpu_from_float(uint32_t type)
{
    switch (type) {
    case GGML_TYPE_IQ2_XXS:
    case GGML_TYPE_IQ2_XS:
    case GGML_TYPE_IQ2_S:
    case GGML_TYPE_IQ3_XXS:
    case GGML_TYPE_IQ3_S:
    case GGML_TYPE_IQ1_S:
    case GGML_TYPE_IQ1_M:
        return false;
    case GGML_TYPE_F32:
    case GGML_TYPE_F16:
    case GGML_TYPE_BF16:
    case GGML_TYPE_I32:
        return true;
    default:
        return apir_opshape_is_quant(type);
    }
}

/* type_traits_cpu[].vec_dot / .vec_dot_type: Q8_1 and Q8_K are only ever src1 formats and have
 * no dot product of their own; integer types have none either. */
bool apir_opshape_cpu_vec_dot(uint32_t type, uint32_t *vec_dot_type)
{
    switch (type) {
    case GGML_TYPE_F32:
    case GGML_TYPE_F16:
    case GGML_TYPE_BF16:
        *vec_dot_type = type;
        return true;
    case GGML_TYPE_Q4_1:
    case GGML_TYPE_Q5_1:
        *vec_dot_type = GGML_TYPE_Q8_1;
        return true;
    case GGML_TYPE_Q1_0:
    case GGML_TYPE_Q2_0:
    case GGML_TYPE_Q4_0:
    case GGML_TYPE_Q5_0:
    case GGML_TYPE_Q8_0:
    case GGML_TYPE_MXFP4:
    case GGML_TYPE_NVFP4:
    case GGML_TYPE_IQ4_NL:
        *vec_dot_type = GGML_TYPE_Q8_0;
        return true;
    case GGML_TYPE_Q8_1:
    case GGML_TYPE_Q8_K:
        return false;
    default:
        *vec_dot_type = GGML_TYPE_Q8_K; /* the K, IQ and TQ formats */
        return apir_opshape_is_quant(type);
    }
}

bool apir_opshape_to_float(uint32_t type)
{
    return type < GGML_TYPE_COUNT && ggml_get_type_traits((enum ggml_type)type)->to_float;
}

/* The kernels' own bounds asserts count the last element's first byte only, and the int32
 * params sign-extend into size_t strides: require non-negative params and the whole last
 * element inside dst. */
bool apir_opshape_view_params(const apir_wt *t, const apir_wt *b, uint64_t es)
{
    uint64_t end, d, size;
    for (int i = 0; i < 4; i++) {
        if (apir_opshape_i32(t, i) < 0)
            return false;
    }
    if (apir_opshape_empty(b))
        return true;
    end = (uint64_t)apir_opshape_i32(t, 3);
    for (int i = 0; i < 4; i++) {
        uint64_t stride = i == 0 ? es : (uint64_t)apir_opshape_i32(t, i - 1);
        if (__builtin_mul_overflow((uint64_t)(b->ne[i] - 1), stride, &d) ||
            __builtin_add_overflow(end, d, &end))
            return false;
    }
    return !__builtin_add_overflow(end, es, &end) &&
           !__builtin_mul_overflow((uint64_t)apir_opshape_nel(t), es, &size) && end <= size;
}

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
