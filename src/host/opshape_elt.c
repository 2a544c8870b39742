/* Per-op rules: element-wise, reduction and normalization ops.
 *
 * Most of these build their result with ggml_dup_tensor or ggml_view_tensor of src0 (same
 * type and shape). The kernels then walk src0's rows and write the same rows of dst with the
 * element type they dispatched on, so a dst of another type or shape is written out of range. */
#include "opshape_impl.h"

/* dst strides as the quantized kernels assert them: nb0 <= nb1 <= nb2 <= nb3. */
static bool apir_opshape_strides_ordered(const apir_wt *t)
{
    return t->nb[0] <= t->nb[1] && t->nb[1] <= t->nb[2] && t->nb[2] <= t->nb[3];
}

/* The element type combinations ggml-cpu/binary-ops.cpp instantiates (others abort). */
static bool apir_opshape_binary_types(uint32_t a, uint32_t b, uint32_t d)
{
    if (a == b && b == d)
        return apir_opshape_is_float(a);
    return b == GGML_TYPE_F32 && (a == GGML_TYPE_F16 || a == GGML_TYPE_BF16) &&
           (d == a || d == GGML_TYPE_F32);
}

/* apply_binary_op: src1 repeats into src0, dst has src0's shape, and dst and src0 rows are
 * walked element by element with the size of the type dispatched on (asserted nb0). */
static bool apir_opshape_binary_float(const apir_wt *t, const apir_wt *a, const apir_wt *b)
{
    return apir_opshape_can_repeat(b, a) && apir_opshape_same_ne(t, a) &&
           apir_opshape_binary_types(a->type, b->type, t->type) &&
           t->nb[0] == ggml_type_size((enum ggml_type)t->type) &&
           a->nb[0] == ggml_type_size((enum ggml_type)a->type);
}

bool apir_opshape_binary(const struct apir_opshape *o)
{
    const apir_wt *a = o->src[0], *b = o->src[1];
    /* ggml_sub/mul/div: the result is a duplicate (or view) of a. */
    return a && b && o->t->type == a->type && apir_opshape_binary_float(o->t, a, b);
}

/* add_q_f32: same shapes (asserted), a row dequantized into the work buffer, then requantized
 * into dst with dst's from_float; without one it memcpys ne0 * nb0 bytes of the work buffer,
 * which for a block type is far more than the row holds. ADD dispatches there every quantized
 * type that can be dequantized and aborts on the others (Q8_1, Q8_K), which the CPU reports
 * supported: a query may describe them. */
static bool apir_opshape_add_quant(const apir_wt *t, const apir_wt *a, const apir_wt *b)
{
    if (!apir_opshape_same_ne(a, b) || !apir_opshape_same_ne(t, a) || b->type != GGML_TYPE_F32 ||
        !apir_opshape_cpu_from_float(t->type))
        return false;
    /* It also asserts dense elements of both sources and dst strides in order. */
    return apir_opshape_query_only(t) ||
           (apir_opshape_to_float(a->type) && a->nb[0] == ggml_type_size((enum ggml_type)a->type) &&
            b->nb[0] == sizeof(float) && apir_opshape_strides_ordered(t));
}

bool apir_opshape_add(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0], *b = o->src[1];
    if (!a || !b || !apir_opshape_can_repeat(b, a) || !apir_opshape_same_ne(t, a))
        return false;
    /* ggml_add keeps a's type; ggml_add_cast (quantized/F16/BF16 a, b broadcast by rows only)
     * may give any type. */
    if (t->type != a->type && !((apir_opshape_is_quant(a->type) || a->type == GGML_TYPE_F16 ||
                                 a->type == GGML_TYPE_BF16) &&
                                b->ne[0] == a->ne[0]))
        return false;
    if (apir_opshape_is_quant(a->type))
        return apir_opshape_add_quant(t, a, b);
    return apir_opshape_binary_float(t, a, b);
}

bool apir_opshape_add_id(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0], *b = o->src[1], *ids = o->src[2];
    /* ggml_add_id's asserts; the kernel is F32 only (asserted) and looks up src1 rows by ids
     * (range-asserted), one per (row, matrix) of a; it asserts dense elements of a, b and dst. */
    return a && b && ids && apir_opshape_like(t, a) && a->ne[0] == b->ne[0] &&
           a->ne[1] == ids->ne[0] && a->ne[2] == ids->ne[1] && ids->type == GGML_TYPE_I32 &&
           a->type == GGML_TYPE_F32 && b->type == GGML_TYPE_F32 &&
           (apir_opshape_query_only(t) ||
            (a->nb[0] == sizeof(float) && b->nb[0] == sizeof(float) && t->nb[0] == sizeof(float)));
}

bool apir_opshape_add1(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0], *b = o->src[1];
    if (!a || !b || !apir_opshape_like(t, a) || !apir_opshape_ne_is(b, 1, 1, 1, 1) ||
        !apir_opshape_padded_1d(a) || t->nb[0] != ggml_type_size((enum ggml_type)t->type))
        return false;
    /* The scalar is read as the type the kernel dispatched on: an F32 a reads a float. */
    switch (a->type) {
    case GGML_TYPE_F32:
        return b->type == GGML_TYPE_F32;
    case GGML_TYPE_F16:
    case GGML_TYPE_BF16:
        return b->type == a->type || b->type == GGML_TYPE_F32;
    default:
        /* add1_q_f32 dequantizes each row with a's to_float and requantizes it with its
         * from_float: Q8_1 has no to_float (a NULL call), Q8_K is not dispatched (an abort). */
        return apir_opshape_is_quant(a->type) && b->type == GGML_TYPE_F32 &&
               apir_opshape_cpu_from_float(a->type) &&
               (apir_opshape_query_only(t) ||
                (apir_opshape_to_float(a->type) && apir_opshape_strides_ordered(t)));
    }
}

/* ggml_acc: contiguous F32 a and dst, b (at most a's elements) added into dst viewed with
 * strides and offset from op params. */
bool apir_opshape_acc(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0], *b = o->src[1];
    return a && b && apir_opshape_like(t, a) && a->type == GGML_TYPE_F32 &&
           b->type == GGML_TYPE_F32 && apir_opshape_nel(b) <= apir_opshape_nel(a) &&
           apir_opshape_contig(a, 0) && apir_opshape_contig(t, 0) && b->nb[0] == sizeof(float) &&
           apir_opshape_view_params(t, b, sizeof(float));
}

/* SQR, SQRT, LOG, SIN, COS: ggml_dup_tensor of a; unary-ops.cpp asserts contiguous rows and
 * supports the float types. */
bool apir_opshape_math(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    return a && apir_opshape_like(t, a) && apir_opshape_is_float(a->type) &&
           apir_opshape_rows_contig(a) && apir_opshape_rows_contig(t);
}

bool apir_opshape_sum(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    /* One element of a's type; the kernel sums F32, F16 or BF16 and writes that type. */
    return a && t->type == a->type && apir_opshape_ne_is(t, 1, 1, 1, 1) &&
           apir_opshape_is_float(a->type);
}

bool apir_opshape_sum_rows(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    return a && t->type == a->type && apir_opshape_ne_is(t, 1, a->ne[1], a->ne[2], a->ne[3]) &&
           a->type == GGML_TYPE_F32 && a->nb[0] == sizeof(float) && t->nb[0] == sizeof(float);
}

bool apir_opshape_cumsum(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    return a && apir_opshape_like(t, a) && a->type == GGML_TYPE_F32 && a->nb[0] == sizeof(float) &&
           t->nb[0] == sizeof(float);
}

bool apir_opshape_mean(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    return a && t->type == GGML_TYPE_F32 && a->type == GGML_TYPE_F32 &&
           apir_opshape_ne_is(t, 1, a->ne[1], a->ne[2], a->ne[3]);
}

bool apir_opshape_argmax(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    /* One I32 index per row of a matrix; the kernel reads F32 rows. */
    return a && a->ne[2] == 1 && a->ne[3] == 1 && a->ne[0] <= INT32_MAX &&
           a->type == GGML_TYPE_F32 && t->type == GGML_TYPE_I32 &&
           apir_opshape_ne_is(t, a->ne[1], 1, 1, 1);
}

/* count_equal_i32 splits its row counter as if ne03 were ne02*ne01 and ne02 were ne01: its
 * row indices stay in range only for ne03 == 1 and ne02 in {1, ne01} (else it reads before
 * and after src0/src1). Its per-thread sums are int64 in a work buffer sized by dst's type. */
bool apir_opshape_count_equal(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0], *b = o->src[1];
    return a && b && apir_opshape_same_ne(a, b) && a->type == GGML_TYPE_I32 &&
           b->type == GGML_TYPE_I32 && t->type == GGML_TYPE_I64 &&
           apir_opshape_ne_is(t, 1, 1, 1, 1) && a->ne[3] == 1 &&
           (a->ne[2] == 1 || a->ne[2] == a->ne[1]);
}

/* Kernels that (debug-)assert contiguous_1 and so address row r at r * nb[1]. */
static bool apir_opshape_flat_like(const apir_wt *t, const apir_wt *a)
{
    uint64_t row = (uint64_t)a->ne[0] * ggml_type_size((enum ggml_type)a->type);
    return apir_opshape_flat_rows(a, row) && apir_opshape_flat_rows(t, row);
}

bool apir_opshape_silu_back(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *g = o->src[0], *x = o->src[1];
    return g && x && apir_opshape_like(t, g) && apir_opshape_like(x, g) &&
           (g->type == GGML_TYPE_F32 || g->type == GGML_TYPE_F16) && apir_opshape_flat_like(t, g) &&
           apir_opshape_flat_like(x, g);
}

/* NORM, RMS_NORM, L2_NORM: dup/view of a, F32 kernels, eps asserted non-negative. */
bool apir_opshape_norm(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    if (!a || !apir_opshape_like(t, a) || a->type != GGML_TYPE_F32 ||
        !(apir_opshape_f32(t, 0) >= 0.0f))
        return false;
    /* rms_norm asserts a dense src row; norm and l2_norm honour nb00. */
    return t->op != GGML_OP_RMS_NORM || a->nb[0] == sizeof(float);
}

bool apir_opshape_rms_norm_back(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *dz = o->src[0], *x = o->src[1];
    return dz && x && apir_opshape_like(t, dz) && apir_opshape_like(x, dz) &&
           dz->type == GGML_TYPE_F32 && dz->nb[0] == sizeof(float) && x->nb[0] == sizeof(float);
}

/* group_norm divides the channels (ne2, as an int) by n_groups: 0 is SIGFPE, and a sum that
 * overflows int gives negative channel indices. It loops over every group (ne3 steps each),
 * the empty ones past the channels too: their number is bounded like any loop count. */
bool apir_opshape_group_norm(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    int32_t groups = apir_opshape_i32(t, 0);
    return a && apir_opshape_like(t, a) && a->type == GGML_TYPE_F32 && a->nb[0] == sizeof(float) &&
           groups >= 1 && a->ne[2] + groups - 1 <= INT32_MAX &&
           apir_opshape_work_ok(groups, a->ne[3], apir_opshape_nel(a));
}

bool apir_opshape_scale(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    /* The kernel walks rows as r * nb1 of both tensors (contiguity asserted). */
    return a && apir_opshape_like(t, a) && a->type == GGML_TYPE_F32 && apir_opshape_padded_1d(a) &&
           apir_opshape_contig(a, 0) && apir_opshape_contig(t, 0);
}

bool apir_opshape_clamp(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    /* Rows addressed as r * nb1 over all rows; nb0 asserted dense. */
    return a && apir_opshape_like(t, a) && (a->type == GGML_TYPE_F32 || a->type == GGML_TYPE_F16) &&
           a->nb[0] == ggml_type_size((enum ggml_type)a->type) && t->nb[0] == a->nb[0] &&
           apir_opshape_flat_like(t, a);
}

bool apir_opshape_leaky_relu(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    return a && apir_opshape_like(t, a) && (a->type == GGML_TYPE_F32 || a->type == GGML_TYPE_F16) &&
           apir_opshape_flat_like(t, a);
}

bool apir_opshape_tri(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    int32_t tri = apir_opshape_i32(t, 0);
    return a && apir_opshape_like(t, a) && a->type == GGML_TYPE_F32 && apir_opshape_contig(a, 0) &&
           a->ne[0] == a->ne[1] && tri >= GGML_TRI_TYPE_UPPER_DIAG && tri <= GGML_TRI_TYPE_LOWER;
}

bool apir_opshape_fill(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    return a && apir_opshape_like(t, a) && (a->type == GGML_TYPE_F32 || a->type == GGML_TYPE_F16) &&
           apir_opshape_contig(a, 0);
}

/* ggml_unary: dup/view of a with contiguous rows. GELU, GELU_ERF, GELU_QUICK and SILU have
 * F32/F16 kernels in ops.cpp; the others run in unary-ops.cpp (float types, contiguous rows
 * asserted), XIELU there through a functor that asserts contiguous_1. */
bool apir_opshape_unary(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    if (!a || !apir_opshape_like(t, a) || !apir_opshape_rows_contig(a) ||
        !apir_opshape_rows_contig(t))
        return false;
    switch (apir_opshape_i32(t, 0)) {
    case GGML_UNARY_OP_GELU:
    case GGML_UNARY_OP_GELU_ERF:
    case GGML_UNARY_OP_GELU_QUICK:
    case GGML_UNARY_OP_SILU:
        return a->type == GGML_TYPE_F32 || a->type == GGML_TYPE_F16;
    case GGML_UNARY_OP_XIELU:
        return apir_opshape_is_float(a->type) && apir_opshape_contig(a, 1) &&
               apir_opshape_contig(t, 1);
    default:
        return apir_opshape_i32(t, 0) >= 0 && apir_opshape_i32(t, 0) < GGML_UNARY_OP_COUNT &&
               apir_opshape_is_float(a->type);
    }
}

/* ggml_glu: a (and the optional gate b, same shape and type) contiguous_1; the result has a's
 * type and a's shape (split) or half of a's rows (fused, ne0 / 2). The kernels assert
 * contiguous_1 dst and matching row counts, and read both halves of a row by its nb1. */
bool apir_opshape_glu(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0], *b = o->src[1];
    if (!a || t->type != a->type || !apir_opshape_contig(a, 1) || !apir_opshape_contig(t, 1))
        return false;
    if (b &&
        (!apir_opshape_like(b, a) || !apir_opshape_contig(b, 1) || !apir_opshape_same_ne(t, a)))
        return false;
    if (!b && !apir_opshape_ne_is(t, a->ne[0] / 2, a->ne[1], a->ne[2], a->ne[3]))
        return false;
    if (apir_opshape_i32(t, 0) == GGML_GLU_OP_SWIGLU_OAI)
        return a->type == GGML_TYPE_F32;
    return a->type == GGML_TYPE_F32 || a->type == GGML_TYPE_F16;
}
