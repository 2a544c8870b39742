/* Corpus entries: what ggml-cpu's kernels do with op params and types the shape rules let
 * through. Two classes (issue #18): op params a kernel loops over without shaping the output
 * (pool kernel sizes, Sinkhorn iterations, group counts: a 0.4 KB message kept a core busy for
 * minutes), and type or param combinations a kernel meets with GGML_ASSERT/GGML_ABORT (the
 * session process dies). Each is a GRAPH_COMPUTE on the CPU backend whose honest twin, the node
 * ggml's constructor builds for the same sources, computes. */
#include "corpus.h"
#include "layout.h"

#include <ggml.h>
#include <string.h>

/* A graph laid out densely in buf from offset 0, 64-byte aligned. */

/* A kernel size the loops count to, one by one: 2^31 - 256 taps per output. */
#define HUGE_K 0x7fffff00

/* Pooling params {op, k0, k1, s0, s1, p0, p1} (ggml_pool_2d's layout). */
static void pool_params(struct apir_wire_tensor *t, int32_t k, int32_t s)
{
    int32_t p[7] = {GGML_OP_POOL_AVG, k, k, s, s, 0, 0};
    memcpy(t->op_params, p, sizeof p);
}

/* POOL_2D of 8x8 planes, 2x2 windows with stride 2 (4x4 out); hostile: windows of HUGE_K. The
 * output shape does not depend on them (the constructor's float padding is not recoverable),
 * so only the work does: (k1 + 8 * k0) loop steps per output. */
static void pool_2d_huge_kernel(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = {.c = c};
    int32_t a = add(&l, GGML_TYPE_F32, 8, 8, 2, 1);
    pool_params(node(&l, GGML_OP_POOL_2D, GGML_TYPE_F32, 4, 4, 2, 1, a, -1, -1), v ? 2 : HUGE_K, 2);
    send(w, &l);
}

/* POOL_2D_BACK(grad 4x4, forward input 8x8) into 8x8, same windows. */
static void pool_2d_back_huge_kernel(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = {.c = c};
    int32_t g = add(&l, GGML_TYPE_F32, 4, 4, 2, 1), f = add(&l, GGML_TYPE_F32, 8, 8, 2, 1);
    pool_params(node(&l, GGML_OP_POOL_2D_BACK, GGML_TYPE_F32, 8, 8, 2, 1, g, f, -1), v ? 2 : HUGE_K,
                2);
    send(w, &l);
}

/* POOL_1D over 64 rows of 16: k 2, s 2 (8 out). Hostile: k = HUGE_K with a padding that keeps
 * ggml's output size formula at 1, so every shape the rule recomputes matches. */
static void pool_1d_huge_kernel(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = {.c = c};
    int32_t a = add(&l, GGML_TYPE_F32, 16, 64, 1, 1);
    struct apir_wire_tensor *t =
        node(&l, GGML_OP_POOL_1D, GGML_TYPE_F32, v ? 8 : 1, 64, 1, 1, a, -1, -1);
    int32_t p[4] = {GGML_OP_POOL_MAX, v ? 2 : HUGE_K, v ? 2 : INT32_MAX, v ? 0 : (HUGE_K - 16) / 2};
    memcpy(t->op_params, p, sizeof p);
    send(w, &l);
}

/* DSV4_HC_COMB over 4 tokens: 20 Sinkhorn iterations (DeepSeek-V4's), or 2^31 - 1. */
static void hc_comb_many_iterations(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = {.c = c};
    int32_t m = add(&l, GGML_TYPE_F32, 24, 4, 1, 1), s = add(&l, GGML_TYPE_F32, 3, 1, 1, 1);
    int32_t b = add(&l, GGML_TYPE_F32, 24, 1, 1, 1);
    struct apir_wire_tensor *t = node(&l, GGML_OP_DSV4_HC_COMB, GGML_TYPE_F32, 4, 4, 4, 1, m, s, b);
    set_f32(t, 0, 1e-6f);
    t->op_params[1] = v ? 20 : INT32_MAX;
    send(w, &l);
}

/* GROUP_NORM of 32 channels in 32 groups, or in 2^31 - 32 groups (all but 32 of them empty,
 * each still a step of the kernel's loop). */
static void group_norm_many_groups(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = {.c = c};
    int32_t a = add(&l, GGML_TYPE_F32, 8, 8, 32, 1);
    struct apir_wire_tensor *t =
        node(&l, GGML_OP_GROUP_NORM, GGML_TYPE_F32, 8, 8, 32, 1, a, -1, -1);
    t->op_params[0] = v ? 32 : INT32_MAX - 31;
    set_f32(t, 1, 1e-6f);
    send(w, &l);
}

/* SOFT_MAX_BACK with an ALiBi bias: the kernel asserts max_bias == 0. */
static void soft_max_back_max_bias(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = {.c = c};
    int32_t dy = add(&l, GGML_TYPE_F32, 16, 4, 1, 1), y = add(&l, GGML_TYPE_F32, 16, 4, 1, 1);
    struct apir_wire_tensor *t =
        node(&l, GGML_OP_SOFT_MAX_BACK, GGML_TYPE_F32, 16, 4, 1, 1, dy, y, -1);
    set_f32(t, 0, 1.0f);
    set_f32(t, 1, v ? 0.0f : 8.0f);
    send(w, &l);
}

/* MUL_MAT of Q4_0 weights by F16 activations: src1 is converted to Q8_0 (Q4_0's vec_dot_type)
 * from F32 only; the F16 path asserts an F32 vec_dot_type. */
static void mul_mat_q4_0_by_f16(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = {.c = c};
    int32_t a = add(&l, GGML_TYPE_Q4_0, 64, 4, 1, 1);
    int32_t b = add(&l, v ? GGML_TYPE_F32 : GGML_TYPE_F16, 64, 2, 1, 1);
    node(&l, GGML_OP_MUL_MAT, GGML_TYPE_F32, 4, 2, 1, 1, a, b, -1);
    send(w, &l);
}

/* MUL_MAT with the Hadamard hint runs a fast Walsh-Hadamard transform of src1's rows, which
 * asserts a power-of-two row length. */
static void mul_mat_hadamard_not_pow2(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = {.c = c};
    int64_t n = v ? 32 : 24;
    int32_t a = add(&l, GGML_TYPE_F32, n, n, 1, 1), b = add(&l, GGML_TYPE_F32, n, 2, 1, 1);
    node(&l, GGML_OP_MUL_MAT, GGML_TYPE_F32, n, 2, 1, 1, a, b, -1)->op_params[1] =
        GGML_HINT_SRC0_IS_HADAMARD;
    send(w, &l);
}

/* CONV_2D (3x3 kernel, 2 -> 4 channels, on 8x8): the kernel asserts a contiguous kernel
 * tensor. Hostile: the same kernel read through rows of 4 floats (a view, inside its bytes). */
static void conv_2d_strided_kernel(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = {.c = c};
    int32_t k = add(&l, GGML_TYPE_F32, 4, 3, 2, 4), x = add(&l, GGML_TYPE_F32, 8, 8, 2, 1);
    struct apir_wire_tensor *kt = &l.t[k];
    kt->ne[0] = 3;
    if (v)
        kt->nb[1] = 12, kt->nb[2] = 36, kt->nb[3] = 72;
    struct apir_wire_tensor *t = node(&l, GGML_OP_CONV_2D, GGML_TYPE_F32, 6, 6, 4, 1, k, x, -1);
    int32_t p[6] = {1, 1, 0, 0, 1, 1};
    memcpy(t->op_params, p, sizeof p);
    send(w, &l);
}

/* OUT_PROD of an F16 a broadcast over b's matrices: the F32 kernel broadcasts, the F16 one
 * asserts equal batch dims. */
static void out_prod_f16_broadcast(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = {.c = c};
    int32_t a = add(&l, v ? GGML_TYPE_F32 : GGML_TYPE_F16, 4, 3, 1, 1);
    int32_t b = add(&l, GGML_TYPE_F32, 5, 3, 2, 1);
    node(&l, GGML_OP_OUT_PROD, GGML_TYPE_F32, 4, 5, 2, 1, a, b, -1);
    send(w, &l);
}

/* GET_ROWS_BACK has F32 and F16 kernels and aborts on any other gradient type. */
static void get_rows_back_i32_grad(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = {.c = c};
    int32_t a = add(&l, v ? GGML_TYPE_F32 : GGML_TYPE_I32, 4, 3, 1, 1);
    int32_t idx = add(&l, GGML_TYPE_I32, 3, 1, 1, 1);
    node(&l, GGML_OP_GET_ROWS_BACK, GGML_TYPE_F32, 4, 8, 1, 1, a, idx, -1);
    send(w, &l);
}

/* ADD and ADD1 of quantized rows dequantize them: Q8_K has no dequantizer (ADD and ADD1 abort
 * on it), Q8_1 none either (ADD aborts, ADD1 calls a NULL function pointer). */
static void add_quant(struct apir_writer *w, const struct hostile_ctx *c, uint32_t op,
                      uint32_t type)
{
    struct lay l = {.c = c};
    int64_t n = type == GGML_TYPE_Q8_K ? 256 : 32;
    int32_t a = add(&l, type, n, 2, 1, 1);
    int32_t b = op == GGML_OP_ADD1 ? add(&l, GGML_TYPE_F32, 1, 1, 1, 1)
                                   : add(&l, GGML_TYPE_F32, n, 2, 1, 1);
    node(&l, op, type, n, 2, 1, 1, a, b, -1);
    send(w, &l);
}

static void add_q8_k_rows(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    add_quant(w, c, GGML_OP_ADD, v ? GGML_TYPE_Q8_0 : GGML_TYPE_Q8_K);
}

static void add1_q8_1_rows(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    add_quant(w, c, GGML_OP_ADD1, v ? GGML_TYPE_Q8_0 : GGML_TYPE_Q8_1);
}

/* IM2COL_BACK's kernel operand is shape only: an empty one (ne1 = 0) claiming 2^40 taps in
 * ne0, as grad too, over 16 outputs (found by make fuzz). Twin: ggml_im2col_back of a 3-tap
 * kernel over 2 channels. */
static void im2col_back_empty_kernel_taps(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = {.c = c};
    int32_t p[7] = {1, 0, 1, 0, 1, 0, 0};
    int32_t g =
        v ? add(&l, GGML_TYPE_F32, 6, 16, 1, 1) : add(&l, GGML_TYPE_F32, 1LL << 40, 0, 1, 1);
    int32_t k = v ? add(&l, GGML_TYPE_F32, 3, 2, 4, 1) : g;
    struct apir_wire_tensor *t =
        node(&l, GGML_OP_IM2COL_BACK, GGML_TYPE_F32, 16, v ? 2 : 1, 1, 1, g, k, -1);
    memcpy(t->op_params, p, sizeof p);
    send(w, &l);
}

/* SET asserts its src1 view inside dst before the row loop, also when src1 is empty (found
 * by make fuzz): an empty src1 with the offset 141824 bytes into 16. Twin: two floats at byte 8. */
static void set_empty_src_far_offset(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = {.c = c};
    int32_t a = add(&l, GGML_TYPE_F32, 4, 1, 1, 1), b = add(&l, GGML_TYPE_F32, 2, 1, 1, v ? 1 : 0);
    struct apir_wire_tensor *t = node(&l, GGML_OP_SET, GGML_TYPE_F32, 4, 1, 1, 1, a, b, -1);
    int32_t p[5] = {16, 16, 16, v ? 8 : 141824, 0};
    memcpy(t->op_params, p, sizeof p);
    send(w, &l);
}

#define T(n, k)                                                                                    \
    {                                                                                              \
        .name = #n, .klass = k, .build = n, .twin = true                                           \
    }

const struct hostile_entry hostile_kernels[] = {
    T(pool_2d_huge_kernel, "kernel loop"),       T(pool_2d_back_huge_kernel, "kernel loop"),
    T(pool_1d_huge_kernel, "kernel loop"),       T(hc_comb_many_iterations, "kernel loop"),
    T(group_norm_many_groups, "kernel loop"),    T(soft_max_back_max_bias, "kernel abort"),
    T(mul_mat_q4_0_by_f16, "kernel abort"),      T(mul_mat_hadamard_not_pow2, "kernel abort"),
    T(conv_2d_strided_kernel, "kernel abort"),   T(out_prod_f16_broadcast, "kernel abort"),
    T(get_rows_back_i32_grad, "kernel abort"),   T(add_q8_k_rows, "kernel abort"),
    T(add1_q8_1_rows, "kernel abort"),           T(im2col_back_empty_kernel_taps, "kernel loop"),
    T(set_empty_src_far_offset, "kernel abort"), {0},
};
