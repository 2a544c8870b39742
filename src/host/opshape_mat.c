/* Per-op rules: matrix products, attention, softmax, rope, and the training ops. */
#include "opshape_impl.h"

static uint64_t apir_opshape_ts(const apir_wt *t)
{
    return ggml_type_size((enum ggml_type)t->type);
}

/* "dst cannot be transposed or permuted": dense F32 elements, strides ordered. An empty dst
 * (never computed) has the zero strides ggml gives it. */
static bool apir_opshape_dst_f32_rows(const apir_wt *t)
{
    if (t->type != GGML_TYPE_F32 || t->nb[0] != sizeof(float))
        return false;
    return apir_opshape_empty(t) ||
           (t->nb[0] <= t->nb[1] && t->nb[1] <= t->nb[2] && t->nb[2] <= t->nb[3]);
}

/* ggml_mul_mat: a1 x b1 results per (b2, b3) matrix, a broadcast over b's dims 2 and 3, F32.
 * The kernel asserts dense rows of both sources, converts b to a's vec_dot_type unless it
 * already is that type (from F32, or from F16 only when that type is F32: it asserts so), and
 * calls a's dot product, which Q8_1, Q8_K and the integer types do not have. ggml-cpu's
 * supports_op says the same (b F32 or the vec_dot_type); a query may still describe the other
 * pairs ggml builds. With the Hadamard hint it instead runs a Walsh-Hadamard transform of each
 * b row (F32 or F16, a power-of-two length: both asserted) into dst rows of a1 elements. */
bool apir_opshape_mul_mat(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0], *b = o->src[1];
    uint32_t vdt;
    if (!a || !b || a->ne[0] != b->ne[0] || a->ne[2] <= 0 || a->ne[3] <= 0 ||
        b->ne[2] % a->ne[2] != 0 || b->ne[3] % a->ne[3] != 0 || !apir_opshape_not_transposed(a))
        return false;
    if (!apir_opshape_ne_is(t, a->ne[1], b->ne[1], b->ne[2], b->ne[3]) ||
        !apir_opshape_dst_f32_rows(t) || a->nb[0] != apir_opshape_ts(a) ||
        b->nb[0] != apir_opshape_ts(b))
        return false;
    bool fwht = apir_opshape_i32(t, 1) == GGML_HINT_SRC0_IS_HADAMARD;
    if (fwht && a->ne[0] > a->ne[1])
        return false;
    if (!apir_opshape_cpu_vec_dot(a->type, &vdt))
        return false;
    if (apir_opshape_query_only(t))
        return b->type == vdt || b->type == GGML_TYPE_F32 || b->type == GGML_TYPE_F16;
    if (fwht)
        return (b->type == GGML_TYPE_F32 || b->type == GGML_TYPE_F16) &&
               (b->ne[0] & (b->ne[0] - 1)) == 0;
    return b->type == vdt || b->type == GGML_TYPE_F32 ||
           (b->type == GGML_TYPE_F16 && vdt == GGML_TYPE_F32);
}

/* ggml_mul_mat_id(as, b, ids): as 3-D (one matrix per expert), b 3-D, ids I32 2-D with one
 * expert list per b matrix, b's rows broadcast over ids rows; result F32 (as1, ids0, b2). */
bool apir_opshape_mul_mat_id(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *as = o->src[0], *b = o->src[1], *ids = o->src[2];
    uint32_t vdt;
    if (!as || !b || !ids || !apir_opshape_not_transposed(as) || ids->type != GGML_TYPE_I32 ||
        as->ne[3] != 1 || b->ne[3] != 1 || ids->ne[2] != 1 || ids->ne[3] != 1 ||
        ids->ne[1] != b->ne[2] || as->ne[0] != b->ne[0] || b->ne[1] <= 0 ||
        ids->ne[0] % b->ne[1] != 0)
        return false;
    if (!apir_opshape_ne_is(t, as->ne[1], ids->ne[0], b->ne[2], 1) ||
        !apir_opshape_dst_f32_rows(t) || as->nb[0] != apir_opshape_ts(as) ||
        b->nb[0] != apir_opshape_ts(b) || !apir_opshape_cpu_vec_dot(as->type, &vdt))
        return false;
    /* ggml_graph_plan sizes the row map as n_as * ids0 * ids1 entries in size_t arithmetic:
     * dims of two tensors, which must not wrap it into a small buffer the kernel overruns. */
    int64_t rows;
    if (!apir_opshape_mul(as->ne[2], ids->ne[0], &rows) ||
        !apir_opshape_mul(rows, ids->ne[1], &rows) || !apir_opshape_mul(rows, 64, &rows))
        return false;
    /* Converted to vdt from F32 only (asserted). */
    return b->type == vdt || b->type == GGML_TYPE_F32;
}

/* ggml_out_prod: result F32 (a0, b0, b2, b3), a broadcast over b's dims 2 and 3. The kernels
 * zero dst as one flat array and read b's elements as floats (the quantized one without
 * checking b's type): other type pairs are ones the CPU reports unsupported, fine to describe
 * in a query but not to run. */
bool apir_opshape_out_prod(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0], *b = o->src[1];
    if (!a || !b || a->ne[1] != b->ne[1] || a->ne[2] <= 0 || a->ne[3] <= 0 ||
        b->ne[2] % a->ne[2] != 0 || b->ne[3] % a->ne[3] != 0 || !apir_opshape_not_transposed(a))
        return false;
    if (t->type != GGML_TYPE_F32 || !apir_opshape_ne_is(t, a->ne[0], b->ne[0], b->ne[2], b->ne[3]))
        return false;
    if (apir_opshape_query_only(t))
        return true;
    /* Only the F32 kernel broadcasts a; the F16 and dequantizing ones assert equal batches. */
    bool a_ok = a->type == GGML_TYPE_F32 ||
                ((a->type == GGML_TYPE_F16 ||
                  (apir_opshape_is_quant(a->type) && apir_opshape_to_float(a->type))) &&
                 a->ne[2] == b->ne[2] && a->ne[3] == b->ne[3]);
    return a_ok && b->type == GGML_TYPE_F32 && apir_opshape_contig(t, 0) &&
           a->nb[0] == apir_opshape_ts(a);
}

/* ggml_soft_max_ext: contiguous a; optional mask (F16/F32, contiguous, a0 columns, at least a1
 * rows, broadcast over a's dims 2 and 3; the kernel reads mask row i01 for each row of a) and
 * sinks (F32, one per head). The F32 kernel writes dst rows of a0 floats. */
bool apir_opshape_soft_max(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0], *m = o->src[1], *sinks = o->src[2];
    if (!a || !apir_opshape_like(t, a) || a->type != GGML_TYPE_F32 || !apir_opshape_contig(a, 0))
        return false;
    if (m &&
        (!(m->type == GGML_TYPE_F16 || m->type == GGML_TYPE_F32) || !apir_opshape_contig(m, 0) ||
         m->ne[0] != a->ne[0] || m->ne[1] < a->ne[1] || m->ne[2] <= 0 || a->ne[2] % m->ne[2] != 0 ||
         m->ne[3] <= 0 || a->ne[3] % m->ne[3] != 0))
        return false;
    if (!m && apir_opshape_f32(t, 1) > 0.0f)
        return false;
    return !sinks || (sinks->type == GGML_TYPE_F32 && sinks->ne[0] == a->ne[2]);
}

/* ggml_soft_max_ext_back: dup/view of dy; the kernel asserts contiguous dy, y and dst of one
 * shape and max_bias == 0 (param 1), and reads y as floats. */
bool apir_opshape_soft_max_back(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *dy = o->src[0], *y = o->src[1];
    if (!dy || !y || !apir_opshape_like(t, dy) || !apir_opshape_same_ne(y, dy))
        return false;
    if (apir_opshape_query_only(t))
        return true;
    /* max_bias must be exactly 0: the kernel has no ALiBi backward and asserts it (a NaN is
     * refused too) */
    return dy->type == GGML_TYPE_F32 && y->type == GGML_TYPE_F32 && apir_opshape_contig(dy, 0) &&
           apir_opshape_contig(y, 0) && apir_opshape_contig(t, 0) && apir_opshape_f32(t, 1) == 0.0f;
}

/* The rope kernel's parameter preconditions (asserted, except n_dims > 0: with n_dims <= 0 its
 * loop that copies the unrotated channels steps backwards, before the row, or never ends). */
static bool apir_opshape_rope_dims(const apir_wt *t, int32_t mode)
{
    int32_t n_dims = apir_opshape_i32(t, 1), n_offs = apir_opshape_i32(t, 15);
    if (n_dims <= 0 || n_dims % 2 != 0 || n_dims > t->ne[0] || n_offs < 0 || n_offs % 2 != 0 ||
        (int64_t)n_offs + n_dims > t->ne[0])
        return false;
    if (mode == GGML_ROPE_TYPE_VISION && (n_dims != t->ne[0] / 2 || n_offs != 0))
        return false;
    if (!(mode & GGML_ROPE_TYPE_MROPE))
        return true;
    /* M-RoPE sections: the kernel takes positions modulo their sum. */
    int64_t sum = 0;
    for (int i = 11; i < 15; i++) {
        if (apir_opshape_i32(t, i) < 0)
            return false;
        sum += apir_opshape_i32(t, i);
    }
    return (apir_opshape_i32(t, 11) > 0 || apir_opshape_i32(t, 12) > 0 ||
            apir_opshape_i32(t, 13) > 0) &&
           sum <= t->ne[0];
}

/* ggml_rope_*: dup/view of a (F32/F16, dense rows asserted), one I32 position per a2 (four
 * per a2 for M-RoPE, read as pos[i2 + k*a2]), optional F32 frequency factors. */
bool apir_opshape_rope(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0], *pos = o->src[1], *ff = o->src[2];
    int32_t mode = apir_opshape_i32(t, 2);
    if (!a || !pos || !apir_opshape_like(t, a) ||
        (a->type != GGML_TYPE_F32 && a->type != GGML_TYPE_F16) || a->nb[0] != apir_opshape_ts(a) ||
        t->nb[0] != a->nb[0])
        return false;
    if (mode != GGML_ROPE_TYPE_NORMAL && mode != GGML_ROPE_TYPE_NEOX &&
        mode != GGML_ROPE_TYPE_MROPE && mode != GGML_ROPE_TYPE_VISION &&
        mode != GGML_ROPE_TYPE_IMROPE)
        return false;
    int64_t n_pos = (mode & GGML_ROPE_TYPE_MROPE) ? a->ne[2] * 4 : a->ne[2];
    if (pos->type != GGML_TYPE_I32 || !apir_opshape_ne_is(pos, n_pos, 1, 1, 1))
        return false;
    if (ff && (ff->type != GGML_TYPE_F32 || ff->ne[0] < apir_opshape_i32(t, 1) / 2))
        return false;
    /* ggml builds ropes its kernel cannot run (llama.cpp's worst-case graphs carry n_dims 0
     * for some architectures): they may be described, not computed. */
    return apir_opshape_query_only(t) || apir_opshape_rope_dims(t, mode);
}

/* Flash attention's optional mask and sinks: the kernel reads mask row iq1 (q1 rows), columns
 * up to the KV length k1, broadcast over q's dims 2 and 3; one sink per q head. */
static bool apir_opshape_fa_extras(const apir_wt *t, const apir_wt *q, const apir_wt *k,
                                   const apir_wt *m, const apir_wt *sinks)
{
    if (m && (m->type != GGML_TYPE_F16 || !apir_opshape_contig(m, 0) || m->ne[0] < k->ne[1] ||
              m->ne[1] < q->ne[1] || m->ne[2] <= 0 || q->ne[2] % m->ne[2] != 0 || m->ne[3] <= 0 ||
              q->ne[3] % m->ne[3] != 0))
        return false;
    if (!m && apir_opshape_f32(t, 1) > 0.0f)
        return false;
    return !sinks || (sinks->type == GGML_TYPE_F32 && sinks->ne[0] == q->ne[2]);
}

/* ggml_flash_attn_ext: q F32 (read as floats), K heads broadcast over q heads, V rows per KV
 * position, result F32 (v0, q2, q1, q3) written one contiguous row per (q1, q2, q3). */
bool apir_opshape_flash_attn_ext(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *q = o->src[0], *k = o->src[1], *v = o->src[2];
    uint32_t vdt;
    int32_t prec = apir_opshape_i32(t, 3);
    if (!q || !k || !v || k->ne[0] != q->ne[0] || k->ne[2] <= 0 || q->ne[2] % k->ne[2] != 0 ||
        k->ne[3] <= 0 || q->ne[3] % k->ne[3] != 0 || q->ne[3] != k->ne[3] || q->ne[3] != v->ne[3] ||
        v->ne[2] <= 0 || q->ne[2] % v->ne[2] != 0 || v->ne[1] < k->ne[1])
        return false;
    if (!apir_opshape_ne_is(t, v->ne[0], q->ne[2], q->ne[1], q->ne[3]) ||
        !apir_opshape_dst_f32_rows(t) || !apir_opshape_contig(t, 0))
        return false;
    if (q->type != GGML_TYPE_F32 || q->nb[0] != sizeof(float) || k->nb[0] != apir_opshape_ts(k) ||
        v->nb[0] != apir_opshape_ts(v) || !apir_opshape_cpu_vec_dot(k->type, &vdt) ||
        !(v->type == GGML_TYPE_F32 || apir_opshape_to_float(v->type)))
        return false;
    /* The planner's decode scratch is heads * chunks * (2 + DV) floats (chunks <= threads). */
    int64_t scratch;
    if ((prec != GGML_PREC_DEFAULT && prec != GGML_PREC_F32) ||
        !apir_opshape_mul(q->ne[2], v->ne[0] + 2, &scratch) ||
        !apir_opshape_mul(scratch, 4096, &scratch))
        return false;
    return apir_opshape_fa_extras(t, q, k, o->src[3], o->src[4]);
}

/* ggml_lightning_indexer: the constructor's shape asserts; the kernel asserts the types and
 * dense rows, and dequantizes K rows (F32 or a type with to_float). */
bool apir_opshape_lightning_indexer(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *q = o->src[0], *k = o->src[1], *w = o->src[2], *m = o->src[3];
    if (!q || !k || !w || !m || q->type != GGML_TYPE_F32 || w->type != GGML_TYPE_F32 ||
        m->type != GGML_TYPE_F16 || q->ne[0] != k->ne[0] || m->ne[0] != k->ne[2] ||
        q->ne[1] != w->ne[0] || k->ne[1] != 1 || m->ne[1] != q->ne[2] || q->ne[2] != w->ne[1] ||
        w->ne[2] != 1 || m->ne[2] != 1 || q->ne[3] != k->ne[3] || k->ne[3] != w->ne[3] ||
        m->ne[3] <= 0 || w->ne[3] % m->ne[3] != 0)
        return false;
    return t->type == GGML_TYPE_F32 && apir_opshape_ne_is(t, k->ne[2], q->ne[2], 1, q->ne[3]) &&
           t->nb[0] == sizeof(float) && q->nb[0] == sizeof(float) &&
           k->nb[0] == apir_opshape_ts(k) && w->nb[0] == sizeof(float) && m->nb[0] == 2 &&
           (k->type == GGML_TYPE_F32 || apir_opshape_to_float(k->type));
}

/* ggml_solve_tri: square contiguous F32 a, contiguous F32 b of a's rows, result F32 of b's
 * shape; the kernel indexes each batch matrix of a, b and dst densely. */
bool apir_opshape_solve_tri(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0], *b = o->src[1];
    return a && b && a->type == GGML_TYPE_F32 && b->type == GGML_TYPE_F32 && a->ne[0] == a->ne[1] &&
           a->ne[1] == b->ne[1] && a->ne[2] == b->ne[2] && a->ne[3] == b->ne[3] &&
           apir_opshape_contig(a, 0) && apir_opshape_contig(b, 0) && t->type == GGML_TYPE_F32 &&
           apir_opshape_same_ne(t, b) && apir_opshape_contig(t, 0);
}

/* ggml_cross_entropy_loss: one element of a's type (F32, asserted) from a and b of one shape,
 * whose rows the kernel walks as r * nb1. */
bool apir_opshape_cross_entropy_loss(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0], *b = o->src[1];
    uint64_t row;
    if (!a || !b || !apir_opshape_same_ne(a, b) || a->type != GGML_TYPE_F32 ||
        b->type != GGML_TYPE_F32 || t->type != GGML_TYPE_F32 || !apir_opshape_ne_is(t, 1, 1, 1, 1))
        return false;
    row = (uint64_t)a->ne[0] * sizeof(float);
    return a->nb[0] == sizeof(float) && b->nb[0] == sizeof(float) &&
           apir_opshape_flat_rows(a, row) && apir_opshape_flat_rows(b, row);
}

/* ggml_cross_entropy_loss_back(grad, a, b): scalar grad, dup of a; contiguity asserted, a and b
 * read as floats. */
bool apir_opshape_cross_entropy_loss_back(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *g = o->src[0], *a = o->src[1], *b = o->src[2];
    return g && a && b && apir_opshape_ne_is(g, 1, 1, 1, 1) && apir_opshape_same_ne(a, b) &&
           apir_opshape_like(t, a) && g->type == GGML_TYPE_F32 && a->type == GGML_TYPE_F32 &&
           b->type == GGML_TYPE_F32 && apir_opshape_contig(t, 0) && apir_opshape_contig(a, 0) &&
           apir_opshape_contig(b, 0) && apir_opshape_contig(g, 0);
}

/* The optimizer kernels update a in place and read the other tensors at a's byte offsets. */
static bool apir_opshape_opt_peer(const apir_wt *a, const apir_wt *p)
{
    return p && p->type == GGML_TYPE_F32 && apir_opshape_same_ne(p, a) && p->nb[0] == a->nb[0] &&
           p->nb[1] == a->nb[1] && p->nb[2] == a->nb[2] && p->nb[3] == a->nb[3];
}

/* The hyper-parameters: n F32 values read as a flat array. */
static bool apir_opshape_opt_params(const apir_wt *p, int64_t n)
{
    return p && p->type == GGML_TYPE_F32 && apir_opshape_nel(p) == n && apir_opshape_dense(p);
}

bool apir_opshape_opt_step_adamw(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    return a && apir_opshape_like(t, a) && a->type == GGML_TYPE_F32 && a->nb[0] == sizeof(float) &&
           apir_opshape_opt_peer(a, o->src[1]) && apir_opshape_opt_peer(a, o->src[2]) &&
           apir_opshape_opt_peer(a, o->src[3]) && apir_opshape_opt_params(o->src[4], 7);
}

bool apir_opshape_opt_step_sgd(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    return a && apir_opshape_like(t, a) && a->type == GGML_TYPE_F32 && a->nb[0] == sizeof(float) &&
           apir_opshape_opt_peer(a, o->src[1]) && apir_opshape_opt_params(o->src[2], 2);
}
