/* Per-op rules: convolutions, im2col and friends, pooling and upscaling.
 *
 * Output sizes are recomputed with ggml's own formulas from the sources and the op params
 * (strides, paddings, dilations), refusing divisors of 0 and overflow. Kernels that index a
 * tensor as one flat array get a coverage check (apir_opshape_dense). */
#include "opshape_impl.h"

#include <math.h>

static uint64_t apir_opshape_ts(const apir_wt *t)
{
    return ggml_type_size((enum ggml_type)t->type);
}

/* ggml_conv_transpose_1d(a = [K, Cout, Cin], b = [L, Cin]): p0 == 0, d0 == 1 asserted; F32
 * result ((L - 1) * s0 + K, Cout). The kernel accumulates dst[i10 * s0 + i00] (a negative s0
 * writes before the row), keeps int element counts, and its planner aborts on other types. */
bool apir_opshape_conv_transpose_1d(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0], *b = o->src[1];
    int64_t s0 = apir_opshape_i32(t, 0), w;
    if (!a || !b || b->ne[2] != 1 || b->ne[3] != 1 || a->ne[2] != b->ne[1] || a->ne[3] != 1 ||
        apir_opshape_i32(t, 1) != 0 || apir_opshape_i32(t, 2) != 1)
        return false;
    if (__builtin_mul_overflow(b->ne[0] - 1, s0, &w) || __builtin_add_overflow(w, a->ne[0], &w))
        return false;
    if (t->type != GGML_TYPE_F32 || !apir_opshape_ne_is(t, w, a->ne[1], b->ne[2], 1))
        return false;
    return (a->type == GGML_TYPE_F32 || a->type == GGML_TYPE_F16) && b->type == GGML_TYPE_F32 &&
           a->nb[0] == apir_opshape_ts(a) && b->nb[0] == sizeof(float) &&
           (s0 >= 0 || b->ne[0] <= 1) && apir_opshape_nel(a) <= INT32_MAX &&
           apir_opshape_nel(b) <= INT32_MAX;
}

/* The im2col kernels read image plane (n, c) at the int-truncated strides of b's two outer
 * dims, then element iy * W + ix of that plane: rows must not overlap. */
static bool apir_opshape_im2col_image(const apir_wt *b, bool is_2d)
{
    int d = is_2d ? 2 : 1;
    if (b->nb[d] > INT32_MAX || b->nb[d + 1] > INT32_MAX)
        return false;
    return !is_2d || b->ne[1] <= 1 || b->nb[1] >= (uint64_t)b->ne[0] * apir_opshape_ts(b);
}

/* ggml_im2col(a = kernel, b = image): [N, OH, OW, IC*KH*KW] of dst_type (F16/F32 kernels),
 * written as one flat array. */
bool apir_opshape_im2col(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0], *b = o->src[1];
    int32_t is_2d = apir_opshape_i32(t, 6);
    int64_t oh = 1, ow, cols;
    if (!a || !b || (is_2d != 0 && is_2d != 1))
        return false;
    if (is_2d ? a->ne[2] != b->ne[2] : (b->ne[1] != a->ne[1] || b->ne[3] != 1))
        return false;
    if (!apir_opshape_conv_out(b->ne[0], a->ne[0], apir_opshape_i32(t, 0), apir_opshape_i32(t, 2),
                               apir_opshape_i32(t, 4), &ow) ||
        ow <= 0)
        return false;
    if (is_2d && (!apir_opshape_conv_out(b->ne[1], a->ne[1], apir_opshape_i32(t, 1),
                                         apir_opshape_i32(t, 3), apir_opshape_i32(t, 5), &oh) ||
                  oh <= 0))
        return false;
    if (!apir_opshape_mul(a->ne[1], a->ne[0], &cols) ||
        (is_2d && !apir_opshape_mul(cols, a->ne[2], &cols)))
        return false;
    if (!(is_2d ? apir_opshape_ne_is(t, cols, ow, oh, b->ne[3])
                : apir_opshape_ne_is(t, cols, ow, b->ne[2], 1)))
        return false;
    bool types = t->type == GGML_TYPE_F32 ? b->type == GGML_TYPE_F32
                                          : t->type == GGML_TYPE_F16 && (b->type == GGML_TYPE_F16 ||
                                                                         b->type == GGML_TYPE_F32);
    return types && b->nb[0] == apir_opshape_ts(b) && apir_opshape_dense(t) &&
           apir_opshape_im2col_image(b, is_2d);
}

/* ggml_im2col_back(grad, kernel, ne): F32 of the forward input's shape (free). The kernel
 * reads grad as the flat [N, OH, OW, IC*KH*KW] array the forward im2col wrote and divides by
 * the strides. */
bool apir_opshape_im2col_back(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *g = o->src[0], *k = o->src[1];
    int32_t is_2d = apir_opshape_i32(t, 6);
    int64_t cols;
    if (!g || !k || (is_2d != 0 && is_2d != 1) || apir_opshape_i32(t, 0) == 0 ||
        (is_2d && apir_opshape_i32(t, 1) == 0))
        return false;
    if (g->type != GGML_TYPE_F32 || !(k->type == GGML_TYPE_F32 || k->type == GGML_TYPE_F16) ||
        t->type != GGML_TYPE_F32 || t->nb[0] != sizeof(float) || !apir_opshape_dense(g))
        return false;
    /* IC * KH * KW columns, and the batch dim of grad equal to dst's */
    if (!apir_opshape_mul(is_2d ? t->ne[2] : t->ne[1], k->ne[0], &cols) ||
        (is_2d && !apir_opshape_mul(cols, k->ne[1], &cols)) || g->ne[0] != cols)
        return false;
    if (is_2d ? g->ne[3] != t->ne[3] : (g->ne[2] != t->ne[2] || g->ne[3] != 1))
        return false;
    /* The kernel loops KH * KW taps for every output element, and the kernel operand is a
     * shape only (its data is never read): an empty one may claim 2^40 taps. */
    int64_t taps;
    if (!apir_opshape_mul(k->ne[0], is_2d ? k->ne[1] : 1, &taps) ||
        !apir_opshape_work_ok(apir_opshape_nel(t), taps, apir_opshape_nel(t) + apir_opshape_nel(g)))
        return false;
    return apir_opshape_im2col_image(t, is_2d);
}

/* ggml_im2col_3d(a = [KW, KH, KD, OC*IC], b = [IW, IH, ID, N*IC], IC in param 9): result
 * [KW*KH*KD*IC, OW, OH, OD*N] of dst_type; the kernel divides by IC and by N = b3 / IC. */
bool apir_opshape_im2col_3d(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0], *b = o->src[1];
    int64_t ic = apir_opshape_i32(t, 9), od, oh, ow, cols, depth;
    if (!a || !b || ic <= 0)
        return false;
    if (!apir_opshape_conv_out(b->ne[2], a->ne[2], apir_opshape_i32(t, 2), apir_opshape_i32(t, 5),
                               apir_opshape_i32(t, 8), &od) ||
        !apir_opshape_conv_out(b->ne[1], a->ne[1], apir_opshape_i32(t, 1), apir_opshape_i32(t, 4),
                               apir_opshape_i32(t, 7), &oh) ||
        !apir_opshape_conv_out(b->ne[0], a->ne[0], apir_opshape_i32(t, 0), apir_opshape_i32(t, 3),
                               apir_opshape_i32(t, 6), &ow) ||
        od <= 0 || oh <= 0 || ow <= 0)
        return false;
    if (!apir_opshape_mul(a->ne[0], a->ne[1], &cols) || !apir_opshape_mul(cols, a->ne[2], &cols) ||
        !apir_opshape_mul(cols, ic, &cols) || !apir_opshape_mul(od, b->ne[3] / ic, &depth))
        return false;
    return apir_opshape_ne_is(t, cols, ow, oh, depth) &&
           (t->type == GGML_TYPE_F32 || t->type == GGML_TYPE_F16) && b->type == GGML_TYPE_F32 &&
           b->nb[0] == sizeof(float) && apir_opshape_dense(t);
}

/* ggml_col2im_1d(a = [K*OC, T_in], s0, oc, p0): contiguous float matrix; result of a's type
 * [T_out, OC] with T_out = (T_in - 1) * s0 + K - 2 * p0; the kernel divides by s0 and OC and
 * writes dst as a flat array (contiguity asserted). */
bool apir_opshape_col2im_1d(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    int64_t s0 = apir_opshape_i32(t, 0), oc = apir_opshape_i32(t, 1), p0 = apir_opshape_i32(t, 2);
    int64_t span;
    if (!a || a->ne[2] != 1 || a->ne[3] != 1 || !apir_opshape_contig(a, 0) ||
        !apir_opshape_is_float(a->type) || s0 <= 0 || oc <= 0 || p0 < 0)
        return false;
    int64_t k = a->ne[0] / oc;
    if (k * oc != a->ne[0] || k <= 0 || __builtin_mul_overflow(a->ne[1] - 1, s0, &span))
        return false;
    int64_t t_out = span + k - 2 * p0;
    return t_out > 0 && t->type == a->type && apir_opshape_ne_is(t, t_out, oc, 1, 1) &&
           apir_opshape_contig(t, 0);
}

/* ggml-cpu's planner gives CONV_2D and CONV_3D this much work buffer (ops.h,
 * GGML_IM2COL_WORK_SIZE); the kernels cut their patches to fit it and assert that at least one
 * (a kernel column plus one output per channel) does. */
#define APIR_OPSHAPE_CONV_WORK_BYTES (16u << 20)

/* One patch of a direct convolution: `taps` kernel elements of a plus `oc` F32 outputs. */
static bool apir_opshape_conv_patch(const apir_wt *a, int64_t taps, int64_t oc)
{
    int64_t bytes, out;
    return apir_opshape_mul(taps, (int64_t)apir_opshape_ts(a), &bytes) &&
           apir_opshape_mul(oc, (int64_t)sizeof(float), &out) &&
           !__builtin_add_overflow(bytes, out, &bytes) && bytes <= APIR_OPSHAPE_CONV_WORK_BYTES;
}

/* ggml_conv_2d_direct(a = [KW, KH, IC, OC], b = [W, H, IC, N]): result of b's type
 * [OW, OH, OC, N]. The kernel reads b and writes dst as floats, and asserts an F16/F32
 * contiguous kernel and a patch that fits its work buffer: a query may describe the others
 * (the CPU answers a strided kernel unsupported itself). */
bool apir_opshape_conv_2d(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0], *b = o->src[1];
    int64_t ow, oh;
    if (!a || !b || a->ne[2] != b->ne[2] || t->type != b->type || b->type != GGML_TYPE_F32)
        return false;
    if (!apir_opshape_conv_out(b->ne[0], a->ne[0], apir_opshape_i32(t, 0), apir_opshape_i32(t, 2),
                               apir_opshape_i32(t, 4), &ow) ||
        !apir_opshape_conv_out(b->ne[1], a->ne[1], apir_opshape_i32(t, 1), apir_opshape_i32(t, 3),
                               apir_opshape_i32(t, 5), &oh))
        return false;
    int64_t taps;
    if (!apir_opshape_ne_is(t, ow, oh, a->ne[3], b->ne[3]) ||
        !(a->type == GGML_TYPE_F32 || a->type == GGML_TYPE_F16))
        return false;
    if (apir_opshape_query_only(t))
        return true;
    return apir_opshape_contig(a, 0) && apir_opshape_mul(a->ne[0], a->ne[1], &taps) &&
           apir_opshape_mul(taps, a->ne[2], &taps) && apir_opshape_conv_patch(a, taps, a->ne[3]);
}

/* ggml_conv_3d_direct: a = [KW, KH, KD, c*oc], b = [W, H, D, c*n] (c, n, oc in params 9..11),
 * F32 result [OW, OH, OD, oc*n]; b read as floats. The kernel asserts what CONV_2D's does (a
 * contiguous kernel, a patch of KW*KH*KD*c taps and oc outputs in the work buffer), though the
 * CPU reports every CONV_3D supported: a query may describe the others. */
bool apir_opshape_conv_3d(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0], *b = o->src[1];
    int64_t c = apir_opshape_i32(t, 9), n = apir_opshape_i32(t, 10), oc = apir_opshape_i32(t, 11);
    int64_t out[3], x;
    if (!a || !b || c <= 0 || n <= 0 || oc <= 0 || a->ne[3] != c * oc || b->ne[3] != c * n)
        return false;
    for (int i = 0; i < 3; i++) {
        if (!apir_opshape_conv_out(b->ne[i], a->ne[i], apir_opshape_i32(t, i),
                                   apir_opshape_i32(t, 3 + i), apir_opshape_i32(t, 6 + i), &out[i]))
            return false;
    }
    x = oc * n;
    if (t->type != GGML_TYPE_F32 || !apir_opshape_ne_is(t, out[0], out[1], out[2], x) ||
        b->type != GGML_TYPE_F32 || !(a->type == GGML_TYPE_F32 || a->type == GGML_TYPE_F16))
        return false;
    if (apir_opshape_query_only(t))
        return true;
    int64_t taps;
    return apir_opshape_contig(a, 0) && apir_opshape_mul(a->ne[0], a->ne[1], &taps) &&
           apir_opshape_mul(taps, a->ne[2], &taps) && apir_opshape_mul(taps, c, &taps) &&
           apir_opshape_conv_patch(a, taps, oc);
}

/* The two image layouts the depthwise kernel has code for: WHCN (contiguous) and CWHN
 * (ggml_is_contiguous_channels: channels innermost, with a kernel laid out to match, which it
 * asserts); any other layout aborts. A query may describe them (the CPU says supported). */
static bool apir_opshape_conv_2d_dw_layout(const apir_wt *a, const apir_wt *b)
{
    if (apir_opshape_contig(b, 0))
        return true;
    return b->nb[0] > b->nb[2] && b->nb[1] > b->nb[0] && b->nb[2] == apir_opshape_ts(b) &&
           a->nb[0] >= a->nb[2] && a->nb[1] >= a->nb[0];
}

/* ggml_conv_2d_dw_direct(a = [KW, KH, 1, C], b = [W, H, C, N]): result of b's type
 * [OW, OH, C, N]. Both kernel layouts (WHCN for a contiguous b, CWHN for a channels-innermost
 * one) index the kernel, image and dst as flat arrays of floats (kernel: F16/F32). */
bool apir_opshape_conv_2d_dw(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0], *b = o->src[1];
    int64_t ow, oh;
    if (!a || !b || a->ne[2] != 1 || a->ne[3] != b->ne[2] || t->type != b->type ||
        b->type != GGML_TYPE_F32 || !(a->type == GGML_TYPE_F32 || a->type == GGML_TYPE_F16))
        return false;
    if (!apir_opshape_conv_out(b->ne[0], a->ne[0], apir_opshape_i32(t, 0), apir_opshape_i32(t, 2),
                               apir_opshape_i32(t, 4), &ow) ||
        !apir_opshape_conv_out(b->ne[1], a->ne[1], apir_opshape_i32(t, 1), apir_opshape_i32(t, 3),
                               apir_opshape_i32(t, 5), &oh))
        return false;
    return apir_opshape_ne_is(t, ow, oh, b->ne[2], b->ne[3]) && apir_opshape_dense(a) &&
           apir_opshape_dense(b) && apir_opshape_dense(t) &&
           (apir_opshape_query_only(t) || apir_opshape_conv_2d_dw_layout(a, b));
}

/* ggml_conv_transpose_2d_p0(a = [KW, KH, Cout, Cin], b = [W, H, Cin, N], stride): F32
 * [(W-1)*s + KW, (H-1)*s + KH, Cout, N]. The kernel (and its planner) assert the types, reads
 * kernel planes as [KH][KW] arrays, accumulates into dst planes as flat arrays at
 * (y*s + ky) * ne0 + x*s + kx (a negative stride writes before them) and counts in int. */
bool apir_opshape_conv_transpose_2d(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0], *b = o->src[1];
    int64_t s = apir_opshape_i32(t, 0), w, h;
    if (!a || !b || a->ne[3] != b->ne[2] || __builtin_mul_overflow(b->ne[0] - 1, s, &w) ||
        __builtin_mul_overflow(b->ne[1] - 1, s, &h) || __builtin_add_overflow(w, a->ne[0], &w) ||
        __builtin_add_overflow(h, a->ne[1], &h))
        return false;
    if (t->type != GGML_TYPE_F32 || !apir_opshape_ne_is(t, w, h, a->ne[2], b->ne[3]))
        return false;
    return (a->type == GGML_TYPE_F32 || a->type == GGML_TYPE_F16) && b->type == GGML_TYPE_F32 &&
           a->nb[0] == apir_opshape_ts(a) && b->nb[0] == sizeof(float) &&
           (a->ne[1] <= 1 || a->nb[1] >= (uint64_t)a->ne[0] * apir_opshape_ts(a)) &&
           (s >= 0 || (b->ne[0] <= 1 && b->ne[1] <= 1)) && apir_opshape_contig(t, 0) &&
           apir_opshape_nel(a) <= INT32_MAX && apir_opshape_nel(b) <= INT32_MAX;
}

/* ggml_calc_pool_output_size, in the float arithmetic ggml uses. */
static bool apir_opshape_pool_out(int64_t in, int32_t k, int32_t s, int32_t p, int64_t *out)
{
    float v = ((float)in + 2 * (float)p - (float)k) / (float)s + 1;
    if (s == 0 || !(v > -9.2e18f && v < 9.2e18f))
        return false;
    *out = (int64_t)v;
    return true;
}

/* Pooling reads F32/F16 sources (asserted only in debug builds) and writes F32. */
static bool apir_opshape_pool_types(const apir_wt *t, const apir_wt *a)
{
    int32_t op = apir_opshape_i32(t, 0);
    return (op == GGML_OP_POOL_MAX || op == GGML_OP_POOL_AVG) && t->type == GGML_TYPE_F32 &&
           (a->type == GGML_TYPE_F32 || a->type == GGML_TYPE_F16);
}

/* One pooled dim as the kernels walk it, in int: window ox starts at ox * s - p and has k taps,
 * for ox < out. ggml's size formula divides by s; AVG divides by the window size. */
static bool apir_opshape_pool_dim(int64_t in, int64_t out, int32_t k, int32_t s, int32_t p)
{
    int64_t span;
    if (k < 1 || s < 1 || in > INT32_MAX)
        return false;
    if (out <= 0)
        return true;
    return apir_opshape_mul(out - 1, s, &span) &&
           !__builtin_add_overflow(span, (int64_t)k + (p < 0 ? -(int64_t)p : p), &span) &&
           span <= INT32_MAX;
}

/* The 2-D kernels' windows over `in` for each element of `out` (POOL_2D: a into dst; the
 * backward pass: over dst for each element of the gradient). Per element they step through all
 * k1 window rows and, in each row inside the input, all k0 taps, skipping those outside one by
 * one: a window of 2^31 over an 8x8 plane is billions of steps per output while the output
 * shape stays that of a 2x2 window. The work is bounded by the tensors' elements
 * (APIR_OPSHAPE_STEPS_PER_ELEMENT), which any pool ggml builds for a model stays far below. */
static bool apir_opshape_pool_2d_params(const apir_wt *t, const apir_wt *in, const apir_wt *out,
                                        int64_t elements)
{
    int32_t k0 = apir_opshape_i32(t, 1), k1 = apir_opshape_i32(t, 2);
    int64_t ka, rows = in->ne[1] < k1 ? in->ne[1] : k1;
    if (!apir_opshape_pool_dim(in->ne[0], out->ne[0], k0, apir_opshape_i32(t, 3),
                               apir_opshape_i32(t, 5)) ||
        !apir_opshape_pool_dim(in->ne[1], out->ne[1], k1, apir_opshape_i32(t, 4),
                               apir_opshape_i32(t, 6)) ||
        !apir_opshape_mul(k0, k1, &ka) || ka > INT32_MAX)
        return false;
    return apir_opshape_work_ok(apir_opshape_nel(out), k1 + k0 * rows, elements);
}

/* ggml_pool_1d: [OW, a1, a2, a3]; the kernel walks the rows of a and dst as r * nb1, and each
 * output steps through its k taps (bounded as POOL_2D's). */
bool apir_opshape_pool_1d(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    int32_t k = apir_opshape_i32(t, 1), s = apir_opshape_i32(t, 2), p = apir_opshape_i32(t, 3);
    int64_t ow;
    if (!a || !apir_opshape_pool_types(t, a) || !apir_opshape_pool_out(a->ne[0], k, s, p, &ow) ||
        ow <= 0 || !apir_opshape_pool_dim(a->ne[0], ow, k, s, p))
        return false;
    return apir_opshape_ne_is(t, ow, a->ne[1], a->ne[2], a->ne[3]) &&
           apir_opshape_flat_rows(a, (uint64_t)a->ne[0] * apir_opshape_ts(a)) &&
           apir_opshape_flat_rows(t, (uint64_t)ow * sizeof(float)) &&
           apir_opshape_work_ok(apir_opshape_nel(t), k, apir_opshape_nel(a) + apir_opshape_nel(t));
}

/* ggml_pool_2d: [OW, OH, a2, a3]. The constructor computed OW, OH from float paddings that the
 * int params truncate, so they cannot be recomputed; the kernel bounds every source index by
 * a's shape anyway. It walks a's planes as nbytes / nb2 steps (a must be contiguous) and
 * writes dst planes as flat OW * OH arrays. */
bool apir_opshape_pool_2d(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    return a && apir_opshape_pool_types(t, a) && t->ne[0] > 0 && t->ne[1] > 0 &&
           t->ne[2] == a->ne[2] && t->ne[3] == a->ne[3] && apir_opshape_contig(a, 0) &&
           apir_opshape_dense(t) &&
           apir_opshape_pool_2d_params(t, a, t, apir_opshape_nel(a) + apir_opshape_nel(t));
}

/* ggml_pool_2d_back(a = grad of the pooled output, af = forward input): F32 of af's shape.
 * The kernel walks dst planes as nbytes / nb2 steps, reads af at dst's strides and as dst's
 * type, and reads a as flat [a0 * a1] planes, one per dst plane; its windows are POOL_2D's,
 * one per element of a. */
bool apir_opshape_pool_2d_back(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0], *af = o->src[1];
    int32_t op = apir_opshape_i32(t, 0);
    return a && af && (op == GGML_OP_POOL_MAX || op == GGML_OP_POOL_AVG) &&
           t->type == GGML_TYPE_F32 && apir_opshape_like(af, t) && a->type == GGML_TYPE_F32 &&
           a->ne[2] == t->ne[2] && a->ne[3] == t->ne[3] && apir_opshape_contig(t, 0) &&
           apir_opshape_contig(af, 0) && apir_opshape_dense(a) &&
           apir_opshape_pool_2d_params(t, t, a, 2 * apir_opshape_nel(t) + apir_opshape_nel(a));
}

/* The upscale kernel maps dst index i to source index (int64)(i / sf) in float arithmetic,
 * unclamped for dims 2 and 3 (and for 0 and 1 in nearest mode): recompute the largest one
 * exactly as the kernel does (i / sf grows with i). */
static bool apir_opshape_upscale_dim(int64_t ne, int64_t src_ne, float sf)
{
    float v = (float)(ne - 1) / sf;
    return ne <= 0 || (v >= 0.0f && v < (float)INT64_MAX && (int64_t)v < src_ne);
}

/* Source pixels the antialiased bilinear kernel visits in one dim per output: a window of
 * 2 * max(1, 1 / scale) + 1 pixels (the scale is (n - 1) / (src - 1) with aligned corners),
 * clipped to the source. */
static int64_t apir_opshape_antialias_taps(int64_t n, int64_t src)
{
    int64_t den = n > 1 ? n - 1 : 1, support = (src + den - 1) / den;
    int64_t taps = 2 * (support > 1 ? support : 1) + 3;
    return taps < src ? taps : src;
}

/* ggml_interpolate: F32 a to an F32 result of any shape; mode in param 0. Antialiasing reads a
 * window per output that grows with the downscale, and dims 2 and 3 may repeat whole source
 * planes: its work is bounded like a loop count. */
bool apir_opshape_upscale(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *a = o->src[0];
    int32_t flags = apir_opshape_i32(t, 0), mode = flags & 0xFF;
    if (!a || a->type != GGML_TYPE_F32 || t->type != GGML_TYPE_F32 || mode < 0 ||
        mode >= GGML_SCALE_MODE_COUNT ||
        ((flags & GGML_SCALE_FLAG_ANTIALIAS) && mode != GGML_SCALE_MODE_BILINEAR))
        return false;
    if (apir_opshape_empty(t))
        return true;
    if (apir_opshape_empty(a))
        return false;
    float sf[4];
    for (int i = 0; i < 4; i++)
        sf[i] = (float)t->ne[i] / (float)a->ne[i];
    if (flags & GGML_SCALE_FLAG_ALIGN_CORNERS) {
        for (int i = 0; i < 2; i++) {
            if (t->ne[i] > 1 && a->ne[i] > 1)
                sf[i] = (float)(t->ne[i] - 1) / (float)(a->ne[i] - 1);
        }
    }
    for (int i = mode == GGML_SCALE_MODE_NEAREST ? 0 : 2; i < 4; i++) {
        if (!apir_opshape_upscale_dim(t->ne[i], a->ne[i], sf[i]))
            return false;
    }
    if (!(flags & GGML_SCALE_FLAG_ANTIALIAS))
        return true;
    return apir_opshape_work_ok(apir_opshape_nel(t),
                                apir_opshape_antialias_taps(t->ne[0], a->ne[0]) *
                                    apir_opshape_antialias_taps(t->ne[1], a->ne[1]),
                                apir_opshape_nel(a) + apir_opshape_nel(t));
}
