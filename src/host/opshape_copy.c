/* Per-op rules: copies, row gathers/scatters, repeats, padding, sorting and windowing. */
#include "opshape_impl.h"

#include <math.h>

/* ggml_compute_forward_dup_bytes (same type): its "dst contiguous" path copies ne00 * type_size
 * bytes per row, which for a block type is blck times the row: only the paths for two
 * contiguous tensors, or same-shape dense rows, are sound there. */
static bool apir_opshape_dup_same(const apir_wt *a, const apir_wt *d)
{
    uint64_t ts = ggml_type_size((enum ggml_type)a->type);
    if (ggml_blck_size((enum ggml_type)a->type) == 1 || !apir_opshape_contig(d, 0))
        return true;
    return apir_opshape_contig(a, 0) ||
           (apir_opshape_same_ne(a, d) && a->nb[0] == ts && d->nb[0] == ts);
}

/* dup_to_q: dense dst (else it aborts), each src row converted through a per-thread work
 * slice of src ne0 floats that ggml_graph_plan sized by dst ne0, and only for quantized dst
 * types (a plain dst type gets no work buffer at all). */
static bool apir_opshape_dup_to_quant(const apir_wt *a, const apir_wt *d)
{
    return apir_opshape_is_quant(d->type) && a->ne[0] <= d->ne[0] &&
           a->nb[0] == ggml_type_size((enum ggml_type)a->type) && apir_opshape_contig(d, 0) &&
           (apir_opshape_cpu_from_float(d->type) || apir_opshape_query_only(d));
}

/* dup_from_q: dequantizes blocks of src into dst at offsets computed from the layout of src1
 * (the CPY destination), whose nb0 must be dst's element and whose rows hold whole blocks. */
static bool apir_opshape_dup_from_quant(const apir_wt *a, const apir_wt *d, const apir_wt *lay)
{
    return lay && d->type == GGML_TYPE_F32 && apir_opshape_to_float(a->type) &&
           lay->nb[0] == sizeof(float) &&
           (lay->ne[0] % ggml_blck_size((enum ggml_type)a->type) == 0 || apir_opshape_contig(d, 0));
}

/* What ggml_compute_forward_dup (DUP, CPY, CONT) can do for src a into dst d. */
static bool apir_opshape_dup_kernel(const apir_wt *a, const apir_wt *d, const apir_wt *lay)
{
    if (apir_opshape_nel(a) != apir_opshape_nel(d))
        return false;
    if (a->type == d->type)
        return apir_opshape_dup_same(a, d);
    switch (a->type) {
    case GGML_TYPE_F16:
    case GGML_TYPE_BF16:
        return apir_opshape_is_float(d->type) || apir_opshape_dup_to_quant(a, d);
    case GGML_TYPE_F32:
        return apir_opshape_is_float(d->type) || d->type == GGML_TYPE_I32 ||
               apir_opshape_dup_to_quant(a, d);
    case GGML_TYPE_I32:
        return d->type == GGML_TYPE_F32;
    default:
        return apir_opshape_is_quant(a->type) && apir_opshape_dup_from_quant(a, d, lay);
    }
}

bool apir_opshape_dup(const struct apir_opshape *o)
{
    const apir_wt *a = o->src[0];
    return a && apir_opshape_like(o->t, a) && apir_opshape_dup_kernel(a, o->t, NULL);
}

/* ggml_cpy: the result is a view of b (ggml_cast: b is the node itself), so it has b's type,
 * shape and strides; the dequantizing path takes dst offsets from b's layout. */
bool apir_opshape_cpy(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0], *b = o->src[1];
    if (!a || !b || !apir_opshape_like(t, b) || apir_opshape_nel(a) != apir_opshape_nel(b))
        return false;
    for (int i = 0; i < 4; i++) {
        if (t->nb[i] != b->nb[i])
            return false;
    }
    return apir_opshape_dup_kernel(a, t, b);
}

/* ggml_cont / ggml_cont_4d: a's type, any shape with a's element count. */
bool apir_opshape_cont(const struct apir_opshape *o)
{
    const apir_wt *a = o->src[0];
    return a && o->t->type == a->type && apir_opshape_dup_kernel(a, o->t, NULL);
}

/* ggml_set: dup/view of a; the F32/I32 kernels copy b's 4-byte elements into contiguous dst
 * viewed with strides and offset from op params (constructor: offset below 1 << 30). */
bool apir_opshape_set(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0], *b = o->src[1];
    return a && b && apir_opshape_like(t, a) &&
           (a->type == GGML_TYPE_F32 || a->type == GGML_TYPE_I32) && b->type == a->type &&
           apir_opshape_nel(a) >= apir_opshape_nel(b) && apir_opshape_i32(t, 3) < (1 << 30) &&
           apir_opshape_contig(a, 0) && apir_opshape_contig(t, 0) && b->nb[0] == sizeof(float) &&
           apir_opshape_view_params(t, b, sizeof(float));
}

/* The repeat kernels copy elements of 2 (F16, BF16, I16) or 4 (F32, I32) bytes, dense rows
 * asserted. */
static bool apir_opshape_repeat_type(const apir_wt *t, const apir_wt *a)
{
    uint64_t ts = ggml_type_size((enum ggml_type)a->type);
    bool known = a->type == GGML_TYPE_F16 || a->type == GGML_TYPE_BF16 ||
                 a->type == GGML_TYPE_I16 || a->type == GGML_TYPE_F32 || a->type == GGML_TYPE_I32;
    return known && t->type == a->type && a->nb[0] == ts && t->nb[0] == ts;
}

bool apir_opshape_repeat(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    return a && apir_opshape_repeat_type(t, a) && apir_opshape_can_repeat(a, t);
}

bool apir_opshape_repeat_back(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    return a && a->type == GGML_TYPE_F32 && apir_opshape_repeat_type(t, a) &&
           apir_opshape_can_repeat(t, a);
}

/* ggml_concat: same types, equal shapes except along dim, where they add up. The typed
 * kernels pick src1 for every index past src0's extent; concat_any copies whole rows. */
bool apir_opshape_concat(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0], *b = o->src[1];
    int32_t dim = apir_opshape_i32(t, 0);
    if (!a || !b || dim < 0 || dim > 3 || a->type != b->type || t->type != a->type)
        return false;
    for (int d = 0; d < 4; d++) {
        if (d != dim && (a->ne[d] != b->ne[d] || t->ne[d] != a->ne[d]))
            return false;
    }
    if (t->ne[dim] != a->ne[dim] + b->ne[dim])
        return false;
    switch (a->type) {
    case GGML_TYPE_F16:
    case GGML_TYPE_BF16:
    case GGML_TYPE_I16:
    case GGML_TYPE_I8:
    case GGML_TYPE_F32:
    case GGML_TYPE_I32:
        return true;
    default:
        /* concat_any copies whole rows (asserted dense). */
        return apir_opshape_rows_contig(a) && apir_opshape_rows_contig(b);
    }
}

/* ggml_get_rows: a's rows picked by I32 indices b (one index matrix per a matrix); the result
 * is F32 (I32 for an I32 a) of shape (a0, b0, b1, b2). Kernels exist for the float, I32 and
 * dequantizable types; each writes a dst row of F32 (or I32) elements. */
bool apir_opshape_get_rows(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0], *b = o->src[1];
    if (!a || !b || a->ne[2] != b->ne[1] || a->ne[3] != b->ne[2] || b->ne[3] != 1 ||
        b->type != GGML_TYPE_I32)
        return false;
    uint32_t type = a->type == GGML_TYPE_I32 ? GGML_TYPE_I32 : GGML_TYPE_F32;
    if (t->type != type || !apir_opshape_ne_is(t, a->ne[0], b->ne[0], b->ne[1], b->ne[2]))
        return false;
    return a->type == GGML_TYPE_F32 || a->type == GGML_TYPE_I32 || apir_opshape_to_float(a->type);
}

/* ggml_get_rows_back: matrix a, I32 vector b, F32 matrix result with a's rows (c is not a
 * source). The kernel reads one row of a per index (nelements(b) rows) and asserts a dense
 * dst; it has F32/F16 kernels (asserting a dense a row) and aborts for other types (which the
 * CPU reports unsupported: a query may describe them). */
bool apir_opshape_get_rows_back(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0], *b = o->src[1];
    bool runs = (a && (a->type == GGML_TYPE_F32 || a->type == GGML_TYPE_F16) &&
                 a->nb[0] == ggml_type_size((enum ggml_type)a->type)) ||
                apir_opshape_query_only(t);
    return a && b && runs && a->ne[2] == 1 && a->ne[3] == 1 && b->ne[1] == 1 && b->ne[2] == 1 &&
           b->ne[3] == 1 && b->type == GGML_TYPE_I32 && t->type == GGML_TYPE_F32 &&
           t->ne[0] == a->ne[0] && t->ne[2] == 1 && t->ne[3] == 1 && b->ne[0] <= a->ne[1] &&
           apir_opshape_contig(t, 0);
}

/* ggml_set_rows(a, b, c): the result is a view of a (src[2]); rows of b (F32/F16) go to the
 * rows of dst that I32/I64 indices c name, c broadcast over b's dims 2 and 3. Rows are
 * converted with dst's from_float (the IQ formats have none: CPU says unsupported). */
bool apir_opshape_set_rows(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *b = o->src[0], *c = o->src[1], *a = o->src[2];
    if (!b || !c || (a && !apir_opshape_like(t, a)))
        return false;
    if (t->ne[0] != b->ne[0] || t->ne[2] != b->ne[2] || t->ne[3] != b->ne[3] ||
        b->ne[1] != c->ne[0] || c->ne[1] <= 0 || b->ne[2] % c->ne[1] != 0 || c->ne[2] <= 0 ||
        b->ne[3] % c->ne[2] != 0 || c->ne[3] != 1)
        return false;
    if ((b->type != GGML_TYPE_F32 && b->type != GGML_TYPE_F16) ||
        (c->type != GGML_TYPE_I64 && c->type != GGML_TYPE_I32))
        return false;
    return apir_opshape_rows_contig(t) && apir_opshape_rows_contig(b) &&
           (apir_opshape_cpu_from_float(t->type) || apir_opshape_query_only(t));
}

bool apir_opshape_diag(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    return a && a->ne[1] == 1 && t->type == a->type && a->type == GGML_TYPE_F32 &&
           apir_opshape_ne_is(t, a->ne[0], a->ne[0], a->ne[2], a->ne[3]) &&
           a->nb[0] == sizeof(float) && t->nb[0] == sizeof(float);
}

/* diag_mask writes dst as (row j, matrix k) at k * nb2 for k over ne2 * ne3 matrices, i.e. as
 * if dims 2 and 3 were packed; n_past is asserted non-negative. */
bool apir_opshape_diag_mask(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    uint64_t end, d;
    if (!a || !apir_opshape_like(t, a) || a->type != GGML_TYPE_F32 || a->nb[0] != sizeof(float) ||
        t->nb[0] != sizeof(float) || apir_opshape_i32(t, 0) < 0)
        return false;
    if (apir_opshape_empty(t))
        return true;
    if (__builtin_mul_overflow((uint64_t)(t->ne[2] * t->ne[3] - 1), t->nb[2], &end) ||
        __builtin_mul_overflow((uint64_t)(t->ne[1] - 1), t->nb[1], &d) ||
        __builtin_add_overflow(end, d, &end) ||
        __builtin_add_overflow(end, (uint64_t)t->ne[0] * sizeof(float), &end))
        return false;
    return apir_opshape_covers(t, end);
}

/* ggml_pad_ext: dst = a padded by (lp, rp) per dim (op params 0..7), written as one flat F32
 * array. The circular variant (param 8) wraps source indices with one add and a modulo:
 * correct only while the left pad is at most the source size, and a size of 0 divides by 0. */
bool apir_opshape_pad(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    bool circular = apir_opshape_i32(t, 8) != 0;
    if (!a || a->type != GGML_TYPE_F32 || t->type != GGML_TYPE_F32 || !apir_opshape_dense(t))
        return false;
    for (int i = 0; i < 4; i++) {
        int64_t lp = apir_opshape_i32(t, 2 * i), rp = apir_opshape_i32(t, 2 * i + 1);
        if (t->ne[i] != a->ne[i] + lp + rp)
            return false;
        if (circular && !apir_opshape_empty(t) && (a->ne[i] < 1 || lp > a->ne[i]))
            return false;
    }
    return true;
}

bool apir_opshape_pad_reflect_1d(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    int32_t p0 = apir_opshape_i32(t, 0), p1 = apir_opshape_i32(t, 1);
    /* The kernel mirrors p0/p1 elements around each row with float pointer steps. */
    return a && p0 >= 0 && p1 >= 0 && p0 < a->ne[0] && p1 < a->ne[0] && apir_opshape_contig(a, 0) &&
           a->type == GGML_TYPE_F32 && t->type == GGML_TYPE_F32 &&
           apir_opshape_ne_is(t, a->ne[0] + p0 + p1, a->ne[1], a->ne[2], a->ne[3]) &&
           t->nb[0] == sizeof(float);
}

/* ggml_roll: each shift strictly inside its dim, which the kernel's single wrap relies on. */
bool apir_opshape_roll(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    if (!a || !apir_opshape_like(t, a) || a->type != GGML_TYPE_F32 || a->nb[0] != sizeof(float))
        return false;
    for (int i = 0; i < 4; i++) {
        int64_t s = apir_opshape_i32(t, i);
        if ((s < 0 ? -s : s) >= a->ne[i])
            return false;
    }
    return true;
}

/* ggml_arange: F32 vector of ceil((stop - start) / step) values, computed as ggml does (the
 * kernel asserts the same count and writes it densely). */
bool apir_opshape_arange(const struct apir_opshape *o)
{
    const apir_wt *t = o->t;
    float start = apir_opshape_f32(t, 0), stop = apir_opshape_f32(t, 1);
    float steps = ceilf((stop - start) / apir_opshape_f32(t, 2));
    if (!(stop > start) || !(steps >= 0.0f && steps < 9.2e18f))
        return false;
    return t->type == GGML_TYPE_F32 && apir_opshape_ne_is(t, (int64_t)steps, 1, 1, 1) &&
           t->nb[0] == sizeof(float);
}

/* ggml_timestep_embedding: F32 (dim, n); the kernel writes dim values per timestep row. */
bool apir_opshape_timestep_embedding(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    return a && a->type == GGML_TYPE_F32 && a->nb[0] == sizeof(float) && t->type == GGML_TYPE_F32 &&
           apir_opshape_ne_is(t, apir_opshape_i32(t, 0), a->ne[0], 1, 1);
}

/* ggml_argsort: I32 of a's shape. The kernel sorts ne0 indices per row, rows at r * nb1. */
bool apir_opshape_argsort(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    int32_t order = apir_opshape_i32(t, 0);
    return a && a->type == GGML_TYPE_F32 && t->type == GGML_TYPE_I32 && a->ne[0] <= INT32_MAX &&
           apir_opshape_same_ne(t, a) &&
           (order == GGML_SORT_ORDER_ASC || order == GGML_SORT_ORDER_DESC) &&
           t->nb[0] == sizeof(int32_t) && apir_opshape_flat_rows(a, (uint64_t)a->ne[0] * 4) &&
           apir_opshape_flat_rows(t, (uint64_t)t->ne[0] * 4);
}

/* ggml_top_k: I32 (k, a1, a2, a3), k <= a0 (partial_sort over a row's ne0 indices). */
bool apir_opshape_top_k(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    return a && a->type == GGML_TYPE_F32 && t->type == GGML_TYPE_I32 && t->ne[0] <= a->ne[0] &&
           t->ne[1] == a->ne[1] && t->ne[2] == a->ne[2] && t->ne[3] == a->ne[3] &&
           t->nb[0] == sizeof(int32_t) && apir_opshape_flat_rows(a, (uint64_t)a->ne[0] * 4) &&
           apir_opshape_flat_rows(t, (uint64_t)t->ne[0] * 4);
}

/* ggml_win_part: F32 (a0, w, w, npx * npy) windows of a (3-D), params {npx, npy, w} derived
 * from a and w. The kernel indexes a and dst as flat arrays. */
bool apir_opshape_win_part(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    int64_t w = apir_opshape_i32(t, 2), np;
    if (!a || a->ne[3] != 1 || a->type != GGML_TYPE_F32 || t->type != GGML_TYPE_F32 || w <= 0)
        return false;
    int64_t npx = ((w - a->ne[1] % w) % w + a->ne[1]) / w;
    int64_t npy = ((w - a->ne[2] % w) % w + a->ne[2]) / w;
    if (npx > INT32_MAX || npy > INT32_MAX || !apir_opshape_mul(npx, npy, &np))
        return false;
    return apir_opshape_i32(t, 0) == npx && apir_opshape_i32(t, 1) == npy &&
           apir_opshape_ne_is(t, a->ne[0], w, w, np) && apir_opshape_dense(a) &&
           apir_opshape_dense(t);
}

/* ggml_win_unpart: F32 (a0, w0, h0) from windows of w (param 0, a divisor in the kernel).
 * The kernel reads a as a flat array at window (i2 / w, i1 / w), offset (i2 % w, i1 % w):
 * its largest index must lie inside a. */
bool apir_opshape_win_unpart(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    int64_t w = apir_opshape_i32(t, 0), plane, win, hi, x;
    if (!a || a->type != GGML_TYPE_F32 || t->type != GGML_TYPE_F32 || w <= 0 ||
        t->ne[0] != a->ne[0] || t->ne[3] != 1 || !apir_opshape_dense(a) || !apir_opshape_dense(t))
        return false;
    if (apir_opshape_empty(t))
        return true;
    int64_t npx = ((w - t->ne[1] % w) % w + t->ne[1]) / w;
    int64_t windows = (t->ne[2] - 1) / w * npx + npx; /* the last window index, plus one */
    if (!apir_opshape_mul(a->ne[2], a->ne[1], &plane) ||
        !apir_opshape_mul(plane, a->ne[0], &plane) || !apir_opshape_mul(windows - 1, plane, &win) ||
        !apir_opshape_mul(w - 1, a->ne[1], &hi) || __builtin_add_overflow(hi, w - 1, &hi) ||
        !apir_opshape_mul(hi, a->ne[0], &x))
        return false;
    /* window start + (w-1) * ne01*ne00 + (w-1) * ne00 + ne00 - 1 */
    return !__builtin_add_overflow(win, x, &x) && !__builtin_add_overflow(x, a->ne[0] - 1, &x) &&
           x < apir_opshape_nel(a);
}

/* ggml_get_rel_pos: F16 (a0, kh, qh) with qh == kh and 2*kh - 1 rows in a; the kernel copies
 * 2-byte elements between flat arrays. */
bool apir_opshape_get_rel_pos(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    return a && (a->type == GGML_TYPE_F16 || a->type == GGML_TYPE_BF16) &&
           t->type == GGML_TYPE_F16 && t->ne[1] == t->ne[2] && t->ne[0] == a->ne[0] &&
           t->ne[3] == 1 && a->ne[1] == 2 * t->ne[1] - 1 && apir_opshape_dense(a) &&
           apir_opshape_dense(t);
}

/* ggml_add_rel_pos: dup/view of contiguous F32 a; pw, ph contiguous F32 of equal shape with
 * pw0 * pw0 == a0, pw1 * pw2 == a1, pw3 == a2. The kernel adds them into dst as flat arrays. */
bool apir_opshape_add_rel_pos(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0], *pw = o->src[1], *ph = o->src[2];
    int64_t sq, rows;
    return a && pw && ph && apir_opshape_like(t, a) && a->type == GGML_TYPE_F32 &&
           apir_opshape_like(ph, pw) && pw->type == GGML_TYPE_F32 && apir_opshape_contig(a, 0) &&
           apir_opshape_contig(pw, 0) && apir_opshape_contig(ph, 0) && apir_opshape_contig(t, 0) &&
           pw->ne[3] == a->ne[2] && apir_opshape_mul(pw->ne[0], pw->ne[0], &sq) && sq == a->ne[0] &&
           apir_opshape_mul(pw->ne[1], pw->ne[2], &rows) && rows == a->ne[1];
}
