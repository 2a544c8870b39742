/* Per-op rules against what ggml-cpu's kernels do with op params and types (issue #18):
 * params a kernel loops over without shaping its output (pool windows, Sinkhorn iterations,
 * group counts, antialias windows) are bounded by the work the node's tensors justify, and
 * type or param combinations a kernel meets with GGML_ASSERT/GGML_ABORT are refused. Every
 * case also checks the node ggml builds for llama.cpp's models and test-backend-ops still
 * passes. Rules only (src/host/opshape*.c); unit.hostile and integration.hostile send the same
 * attacks to a live session. */
#include "check.h"
#include "host/opshape.h"

#include <ggml.h>
#include <math.h>
#include <string.h>

struct tb {
    struct apir_wire_tensor t[8];
    uint32_t n;
};

/* A dense tensor in a buffer (handle 1): nodes built from these can run, not only be asked
 * about. */
static int32_t add(struct tb *b, uint32_t type, int64_t n0, int64_t n1, int64_t n2, int64_t n3)
{
    struct apir_wire_tensor *t = &b->t[b->n];
    apir_wire_tensor_clear(t);
    t->type = type;
    t->ne[0] = n0, t->ne[1] = n1, t->ne[2] = n2, t->ne[3] = n3;
    t->nb[0] = ggml_type_size((enum ggml_type)type);
    t->nb[1] = t->nb[0] * (uint64_t)(n0 / ggml_blck_size((enum ggml_type)type));
    t->nb[2] = t->nb[1] * (uint64_t)n1;
    t->nb[3] = t->nb[2] * (uint64_t)n2;
    t->buffer = 1;
    return (int32_t)b->n++;
}

static struct apir_wire_tensor *node(struct tb *b, uint32_t op, uint32_t type, int64_t n0,
                                     int64_t n1, int64_t n2, int64_t n3, int32_t s0, int32_t s1,
                                     int32_t s2)
{
    struct apir_wire_tensor *t = &b->t[add(b, type, n0, n1, n2, n3)];
    t->op = op;
    t->src[0] = s0, t->src[1] = s1, t->src[2] = s2;
    return t;
}

static bool ok(struct tb *b)
{
    int32_t last = (int32_t)b->n - 1;
    struct apir_wire_graph g = {b->n, 1, b->t, &last};
    return apir_op_shape_ok(&g, &b->t[last]);
}

static void set_f32(struct apir_wire_tensor *t, int i, float v)
{
    memcpy(&t->op_params[i], &v, sizeof v);
}

static void pool2(struct apir_wire_tensor *t, int32_t op, int32_t k0, int32_t k1, int32_t s0,
                  int32_t s1, int32_t p0, int32_t p1)
{
    int32_t p[7] = {op, k0, k1, s0, s1, p0, p1};
    memcpy(t->op_params, p, sizeof p);
}

static void test_pool_2d(void)
{
    struct tb b = {.n = 0};
    int32_t a = add(&b, GGML_TYPE_F32, 10, 10, 3, 1);
    struct apir_wire_tensor *t = node(&b, GGML_OP_POOL_2D, GGML_TYPE_F32, 10, 10, 3, 1, a, -1, -1);
    pool2(t, GGML_OP_POOL_AVG, 3, 3, 1, 1, 1, 1); /* test-backend-ops' largest case */
    CHECK(ok(&b));
    pool2(t, GGML_OP_POOL_MAX, 1, 1, 1, 1, 0, 0);
    CHECK(ok(&b));
    pool2(t, GGML_OP_POOL_AVG, 0x7fffff00, 0x7fffff00, 1, 1, 0, 0); /* issue #18's message */
    CHECK(!ok(&b));
    pool2(t, GGML_OP_POOL_AVG, 3, 0x7fffff00, 1, 1, 1, 1); /* one dim is enough */
    CHECK(!ok(&b));
    pool2(t, GGML_OP_POOL_AVG, 3, 3, 0, 1, 1, 1); /* ggml's size formula divides by it */
    CHECK(!ok(&b));
    pool2(t, GGML_OP_POOL_AVG, 0, 3, 1, 1, 1, 1); /* AVG divides by k0 * k1 */
    CHECK(!ok(&b));
    pool2(t, GGML_OP_POOL_AVG, 3, 3, 0x40000000, 1, 1, 1); /* ix = ox * s - p in int */
    CHECK(!ok(&b));
    /* A window far wider than its input, with a padding that keeps the output at 10x10. */
    pool2(t, GGML_OP_POOL_AVG, 4096, 4096, 1, 1, 2048, 2048);
    CHECK(!ok(&b));

    /* llava's global average pool: one window over each whole 24x24 plane. */
    struct tb g = {.n = 0};
    int32_t x = add(&g, GGML_TYPE_F32, 24, 24, 1024, 1);
    t = node(&g, GGML_OP_POOL_2D, GGML_TYPE_F32, 1, 1, 1024, 1, x, -1, -1);
    pool2(t, GGML_OP_POOL_AVG, 24, 24, 24, 24, 0, 0);
    CHECK(ok(&g));
    /* siglip / gemma3's 4x4 average pool of a 64x64 patch grid, 1152 channels. */
    struct tb s = {.n = 0};
    x = add(&s, GGML_TYPE_F32, 64, 64, 1152, 1);
    t = node(&s, GGML_OP_POOL_2D, GGML_TYPE_F32, 16, 16, 1152, 1, x, -1, -1);
    pool2(t, GGML_OP_POOL_AVG, 4, 4, 4, 4, 0, 0);
    CHECK(ok(&s));
}

static void test_pool_2d_back(void)
{
    struct tb b = {.n = 0};
    int32_t g = add(&b, GGML_TYPE_F32, 4, 4, 2, 1), f = add(&b, GGML_TYPE_F32, 8, 8, 2, 1);
    struct apir_wire_tensor *t =
        node(&b, GGML_OP_POOL_2D_BACK, GGML_TYPE_F32, 8, 8, 2, 1, g, f, -1);
    pool2(t, GGML_OP_POOL_MAX, 2, 2, 2, 2, 0, 0);
    CHECK(ok(&b));
    pool2(t, GGML_OP_POOL_MAX, 0x7fffff00, 2, 2, 2, 0, 0);
    CHECK(!ok(&b));
    pool2(t, GGML_OP_POOL_AVG, 2, 2, 2, -1, 0, 0);
    CHECK(!ok(&b));
    pool2(t, GGML_OP_POOL_AVG, 0x10000, 0x10000, 2, 2, 0, 0); /* k0 * k1 past int */
    CHECK(!ok(&b));
}

static void test_pool_1d(void)
{
    struct tb b = {.n = 0};
    int32_t a = add(&b, GGML_TYPE_F32, 10, 3, 2, 1);
    /* test-backend-ops: k 1, s 1, p 3 (a padding wider than the window) gives 16 outputs */
    struct apir_wire_tensor *t = node(&b, GGML_OP_POOL_1D, GGML_TYPE_F32, 16, 3, 2, 1, a, -1, -1);
    int32_t p[4] = {GGML_OP_POOL_AVG, 1, 1, 3};
    memcpy(t->op_params, p, sizeof p);
    CHECK(ok(&b));
    /* a window of 2^31 - 256 taps padded so that ggml's formula still gives 1 output */
    t->ne[0] = 1;
    int32_t h[4] = {GGML_OP_POOL_MAX, 0x7fffff00, INT32_MAX, (0x7fffff00 - 10) / 2};
    memcpy(t->op_params, h, sizeof h);
    CHECK(!ok(&b));
}

static void test_hc_comb(void)
{
    struct tb b = {.n = 0};
    int32_t m = add(&b, GGML_TYPE_F32, 24, 4, 1, 1), s = add(&b, GGML_TYPE_F32, 3, 1, 1, 1);
    int32_t base = add(&b, GGML_TYPE_F32, 24, 1, 1, 1);
    struct apir_wire_tensor *t =
        node(&b, GGML_OP_DSV4_HC_COMB, GGML_TYPE_F32, 4, 4, 4, 1, m, s, base);
    set_f32(t, 0, 1e-6f);
    t->op_params[1] = 20; /* DeepSeek-V4's Sinkhorn iterations */
    CHECK(ok(&b));
    t->op_params[1] = 4096;
    CHECK(ok(&b));
    t->op_params[1] = 4097;
    CHECK(!ok(&b));
    t->op_params[1] = INT32_MAX;
    CHECK(!ok(&b));
}

static void test_group_norm_groups(void)
{
    struct tb b = {.n = 0};
    int32_t a = add(&b, GGML_TYPE_F32, 9, 9, 1280, 1); /* test-backend-ops */
    struct apir_wire_tensor *t =
        node(&b, GGML_OP_GROUP_NORM, GGML_TYPE_F32, 9, 9, 1280, 1, a, -1, -1);
    t->op_params[0] = 32;
    CHECK(ok(&b));
    t->op_params[0] = 1281; /* one empty group: legal, cheap */
    CHECK(ok(&b));
    t->op_params[0] = INT32_MAX - 1279; /* 2^31 loop steps over empty groups */
    CHECK(!ok(&b));
}

static void test_soft_max_back(void)
{
    struct tb b = {.n = 0};
    int32_t dy = add(&b, GGML_TYPE_F32, 16, 4, 1, 1), y = add(&b, GGML_TYPE_F32, 16, 4, 1, 1);
    struct apir_wire_tensor *t =
        node(&b, GGML_OP_SOFT_MAX_BACK, GGML_TYPE_F32, 16, 4, 1, 1, dy, y, -1);
    set_f32(t, 0, 1.0f);
    CHECK(ok(&b));
    set_f32(t, 1, 8.0f); /* GGML_ASSERT(max_bias == 0.0f) */
    CHECK(!ok(&b));
    set_f32(t, 1, NAN);
    CHECK(!ok(&b));
    set_f32(t, 1, -0.0f);
    CHECK(ok(&b));
    set_f32(t, 1, 8.0f), t->buffer = 0; /* ggml builds it: a query may describe it */
    CHECK(ok(&b));
}

static struct apir_wire_tensor *mul_mat(struct tb *b, uint32_t ta, uint32_t tb_, int64_t n)
{
    b->n = 0;
    int32_t a = add(b, ta, n, n, 1, 1), x = add(b, tb_, n, 2, 1, 1);
    return node(b, GGML_OP_MUL_MAT, GGML_TYPE_F32, n, 2, 1, 1, a, x, -1);
}

static void test_mul_mat_types(void)
{
    struct tb b;
    mul_mat(&b, GGML_TYPE_Q4_0, GGML_TYPE_F32, 64);
    CHECK(ok(&b));
    mul_mat(&b, GGML_TYPE_Q4_0, GGML_TYPE_Q8_0, 64); /* already the vec_dot_type */
    CHECK(ok(&b));
    mul_mat(&b, GGML_TYPE_Q4_0, GGML_TYPE_F16, 64); /* the F16 path needs an F32 vec_dot_type */
    CHECK(!ok(&b));
    mul_mat(&b, GGML_TYPE_Q6_K, GGML_TYPE_F16, 256);
    CHECK(!ok(&b));
    mul_mat(&b, GGML_TYPE_Q4_0, GGML_TYPE_F16, 64)->buffer = 0; /* a query: ggml builds it */
    CHECK(ok(&b));
    mul_mat(&b, GGML_TYPE_F16, GGML_TYPE_F16, 64);
    CHECK(ok(&b));
    mul_mat(&b, GGML_TYPE_BF16, GGML_TYPE_F32, 64);
    CHECK(ok(&b));
    mul_mat(&b, GGML_TYPE_F32, GGML_TYPE_F16, 64); /* converted to F32 in the work buffer */
    CHECK(ok(&b));

    /* The Hadamard hint: a Walsh-Hadamard transform of src1's power-of-two rows, F32/F16. */
    mul_mat(&b, GGML_TYPE_F32, GGML_TYPE_F32, 128)->op_params[1] = GGML_HINT_SRC0_IS_HADAMARD;
    CHECK(ok(&b));
    mul_mat(&b, GGML_TYPE_F32, GGML_TYPE_F16, 128)->op_params[1] = GGML_HINT_SRC0_IS_HADAMARD;
    CHECK(ok(&b));
    mul_mat(&b, GGML_TYPE_F32, GGML_TYPE_F32, 96)->op_params[1] = GGML_HINT_SRC0_IS_HADAMARD;
    CHECK(!ok(&b));
    mul_mat(&b, GGML_TYPE_Q8_0, GGML_TYPE_Q8_0, 128)->op_params[1] = GGML_HINT_SRC0_IS_HADAMARD;
    CHECK(!ok(&b));
}

static void test_conv_kernels(void)
{
    struct tb b = {.n = 0};
    int32_t k = add(&b, GGML_TYPE_F32, 4, 3, 2, 4), x = add(&b, GGML_TYPE_F32, 8, 8, 2, 1);
    b.t[k].ne[0] = 3; /* rows of 4 floats: not contiguous */
    struct apir_wire_tensor *t = node(&b, GGML_OP_CONV_2D, GGML_TYPE_F32, 6, 6, 4, 1, k, x, -1);
    int32_t p[6] = {1, 1, 0, 0, 1, 1};
    memcpy(t->op_params, p, sizeof p);
    CHECK(!ok(&b));
    b.t[k].nb[1] = 12, b.t[k].nb[2] = 36, b.t[k].nb[3] = 72;
    CHECK(ok(&b));
    t->op = GGML_OP_CONV_3D; /* same assert; params {s, p, d} x 3, then c, n, oc */
    b.t[k].ne[2] = 1, b.t[k].ne[3] = 8, b.t[k].nb[3] = 36;
    b.t[x].ne[2] = 1, b.t[x].ne[3] = 2, b.t[x].nb[3] = b.t[x].nb[2];
    int32_t q[12] = {1, 1, 1, 0, 0, 0, 1, 1, 1, 2, 1, 4};
    memcpy(t->op_params, q, sizeof q);
    t->ne[2] = 1, t->ne[3] = 4, t->nb[3] = t->nb[2];
    CHECK(ok(&b));
    b.t[k].nb[1] = 16, b.t[k].nb[2] = 48, b.t[k].nb[3] = 48;
    CHECK(!ok(&b));

    /* CONV_2D's patch (kernel column plus one output per channel) must fit the 16 MiB work
     * buffer ggml-cpu plans for it. */
    struct tb h = {.n = 0};
    k = add(&h, GGML_TYPE_F16, 1, 1, 8u << 20, 1), x = add(&h, GGML_TYPE_F32, 1, 1, 8u << 20, 1);
    t = node(&h, GGML_OP_CONV_2D, GGML_TYPE_F32, 1, 1, 1, 1, k, x, -1);
    memcpy(t->op_params, p, sizeof p);
    CHECK(!ok(&h));
    h.t[k].ne[2] = h.t[x].ne[2] = 4u << 20, h.t[k].nb[3] = 8u << 20;
    CHECK(ok(&h));

    /* CONV_2D_DW reads the image as WHCN (contiguous) or CWHN (channels innermost), else it
     * aborts. */
    struct tb d = {.n = 0};
    k = add(&d, GGML_TYPE_F32, 3, 3, 1, 4), x = add(&d, GGML_TYPE_F32, 8, 8, 4, 1);
    t = node(&d, GGML_OP_CONV_2D_DW, GGML_TYPE_F32, 6, 6, 4, 1, k, x, -1);
    memcpy(t->op_params, p, sizeof p);
    CHECK(ok(&d));
    d.t[x].nb[0] = 16, d.t[x].nb[1] = 128, d.t[x].nb[2] = 4; /* CWHN */
    CHECK(!ok(&d)); /* ... read with a WHCN kernel: the kernel asserts the kernel's layout */
    d.t[k].nb[0] = 16, d.t[k].nb[1] = 48, d.t[k].nb[2] = d.t[k].nb[3] = 4;
    CHECK(ok(&d));
    d.t[x].nb[0] = 32, d.t[x].nb[1] = 4, d.t[x].nb[2] = 256; /* W and H swapped: neither */
    CHECK(!ok(&d));
}

static void test_type_aborts(void)
{
    struct tb b = {.n = 0};
    int32_t a = add(&b, GGML_TYPE_F16, 4, 3, 1, 1), x = add(&b, GGML_TYPE_F32, 5, 3, 2, 1);
    struct apir_wire_tensor *t = node(&b, GGML_OP_OUT_PROD, GGML_TYPE_F32, 4, 5, 2, 1, a, x, -1);
    CHECK(!ok(&b)); /* the F16 kernel asserts ne02 == ne12 */
    b.t[a].type = GGML_TYPE_F32, b.t[a].nb[0] = 4, b.t[a].nb[1] = 16, b.t[a].nb[2] = 48;
    b.t[a].nb[3] = 48;
    CHECK(ok(&b)); /* the F32 one broadcasts */
    t->buffer = 0, b.t[a].type = GGML_TYPE_F16;
    CHECK(ok(&b));

    struct tb g = {.n = 0};
    a = add(&g, GGML_TYPE_I32, 4, 3, 1, 1);
    int32_t idx = add(&g, GGML_TYPE_I32, 3, 1, 1, 1);
    node(&g, GGML_OP_GET_ROWS_BACK, GGML_TYPE_F32, 4, 8, 1, 1, a, idx, -1);
    CHECK(!ok(&g));
    g.t[a].type = GGML_TYPE_F16, g.t[a].nb[0] = 2, g.t[a].nb[1] = 8;
    g.t[a].nb[2] = g.t[a].nb[3] = 24;
    CHECK(ok(&g));
}

static void test_add_quant(void)
{
    /* ADD and ADD1 of a quantized src0 dequantize its rows: Q8_1 and Q8_K cannot be (ADD
     * aborts on both, ADD1 aborts on Q8_K and calls a NULL dequantizer for Q8_1). */
    const uint32_t q[3] = {GGML_TYPE_Q8_0, GGML_TYPE_Q8_1, GGML_TYPE_Q8_K};
    for (int i = 0; i < 3; i++) {
        int64_t n = q[i] == GGML_TYPE_Q8_K ? 256 : 32;
        struct tb s = {.n = 0};
        int32_t x = add(&s, q[i], n, 2, 1, 1), y = add(&s, GGML_TYPE_F32, n, 2, 1, 1);
        struct apir_wire_tensor *d = node(&s, GGML_OP_ADD, q[i], n, 2, 1, 1, x, y, -1);
        CHECK(ok(&s) == (i == 0));
        d->buffer = 0; /* a query may describe it: the CPU answers supported */
        CHECK(ok(&s));
        y = add(&s, GGML_TYPE_F32, 1, 1, 1, 1);
        d = node(&s, GGML_OP_ADD1, q[i], n, 2, 1, 1, x, y, -1);
        CHECK(ok(&s) == (i == 0));
    }
    /* add_q_f32 and add1_q_f32 assert dst strides in order, add_q_f32 a dense F32 src1, and
     * ADD_ID dense F32 elements everywhere. */
    struct tb s = {.n = 0};
    int32_t x = add(&s, GGML_TYPE_Q8_0, 32, 2, 1, 1), y = add(&s, GGML_TYPE_F32, 32, 2, 1, 1);
    struct apir_wire_tensor *d = node(&s, GGML_OP_ADD, GGML_TYPE_Q8_0, 32, 2, 1, 1, x, y, -1);
    CHECK(ok(&s));
    d->nb[2] = d->nb[3] = 1; /* a single matrix: its nb2 is never used to step, but asserted */
    CHECK(!ok(&s));
    d->nb[2] = d->nb[3] = 68, s.t[y].nb[0] = 8, s.t[y].nb[1] = 256;
    CHECK(!ok(&s));
    struct tb m = {.n = 0};
    x = add(&m, GGML_TYPE_F32, 8, 2, 3, 1), y = add(&m, GGML_TYPE_F32, 8, 4, 1, 1);
    int32_t ids = add(&m, GGML_TYPE_I32, 2, 3, 1, 1);
    node(&m, GGML_OP_ADD_ID, GGML_TYPE_F32, 8, 2, 3, 1, x, y, ids);
    CHECK(ok(&m));
    m.t[y].nb[0] = 8, m.t[y].nb[1] = 64; /* every other float of a 16-float row */
    CHECK(!ok(&m));
}

static void test_upscale_antialias(void)
{
    struct tb b = {.n = 0};
    int32_t a = add(&b, GGML_TYPE_F32, 64, 64, 3, 1);
    struct apir_wire_tensor *t = node(&b, GGML_OP_UPSCALE, GGML_TYPE_F32, 16, 16, 3, 1, a, -1, -1);
    t->op_params[0] = GGML_SCALE_MODE_BILINEAR | GGML_SCALE_FLAG_ANTIALIAS;
    CHECK(ok(&b)); /* a 4x downscale: 9x9 source pixels per output */
    /* Every one of 2^20 output planes reads a whole 1024x1024 source plane. */
    struct tb r = {.n = 0};
    a = add(&r, GGML_TYPE_F32, 1024, 1024, 1, 1);
    t = node(&r, GGML_OP_UPSCALE, GGML_TYPE_F32, 1, 1, 1u << 20, 1, a, -1, -1);
    t->op_params[0] = GGML_SCALE_MODE_BILINEAR | GGML_SCALE_FLAG_ANTIALIAS;
    CHECK(!ok(&r));
    t->op_params[0] = GGML_SCALE_MODE_BILINEAR; /* a fixed 2x2 stencil without antialiasing */
    CHECK(ok(&r));
}

/* IM2COL_BACK loops KH * KW kernel taps for every output element, and the kernel tensor is
 * shape only (its data is never read): an empty one (ne1 = 0) may claim ne0 = 2^40 taps.
 * make fuzz found it (fuzz_ring: one 0.5 KB request, minutes of a core). */
static void test_im2col_back_taps(void)
{
    /* ggml_im2col_back 1D: grad [IC*KW = 6, OW = 16, N = 1], kernel [KW = 3, IC = 2, OC = 4],
     * into [IW = 16, IC = 2, N = 1]; s0 = p0 = d0 = 1. */
    int32_t p[7] = {1, 0, 1, 0, 1, 0, 0};
    struct tb b = {.n = 0};
    int32_t g = add(&b, GGML_TYPE_F32, 6, 16, 1, 1), k = add(&b, GGML_TYPE_F32, 3, 2, 4, 1);
    struct apir_wire_tensor *t =
        node(&b, GGML_OP_IM2COL_BACK, GGML_TYPE_F32, 16, 2, 1, 1, g, k, -1);
    memcpy(t->op_params, p, sizeof p);
    CHECK(ok(&b));
    struct tb h = {.n = 0};
    int32_t e = add(&h, GGML_TYPE_F32, (int64_t)1 << 40, 0, 1, 1); /* empty, 2^40 "taps" */
    t = node(&h, GGML_OP_IM2COL_BACK, GGML_TYPE_F32, 16, 1, 1, 1, e, e, -1);
    memcpy(t->op_params, p, sizeof p);
    CHECK(!ok(&h));
}

/* SET (and ACC) assert, before their row loop, that the last element of src1's view lies in
 * dst: offset + sum (ne1i - 1, 0 when empty) * stride <= nbytes(dst), counted in int. An empty
 * src1 copies nothing yet meets the assert (make fuzz: fuzz_ring, the session aborted). */
static void test_set_view_asserts(void)
{
    int32_t p[5] = {16, 16, 16, 8, 0}; /* nb1, nb2, nb3, offset, inplace */
    struct tb b = {.n = 0};
    int32_t a = add(&b, GGML_TYPE_F32, 4, 1, 1, 1), s = add(&b, GGML_TYPE_F32, 2, 1, 1, 1);
    struct apir_wire_tensor *t = node(&b, GGML_OP_SET, GGML_TYPE_F32, 4, 1, 1, 1, a, s, -1);
    memcpy(t->op_params, p, sizeof p);
    CHECK(ok(&b));    /* two floats at byte 8 of four */
    b.t[s].ne[3] = 0; /* empty: nothing copied, the kernel's assert still computed */
    CHECK(ok(&b));
    t->op_params[3] = 141824; /* the fuzzer's offset, far past dst's 16 bytes */
    CHECK(!ok(&b));
    t->op_params[3] = 8, b.t[s].ne[2] = ((int64_t)1 << 48) + 1; /* the kernel counts in int */
    CHECK(!ok(&b));
}

int main(void)
{
    test_pool_2d();
    test_pool_2d_back();
    test_pool_1d();
    test_hc_comb();
    test_group_norm_groups();
    test_soft_max_back();
    test_mul_mat_types();
    test_conv_kernels();
    test_type_aborts();
    test_add_quant();
    test_upscale_antialias();
    test_im2col_back_taps();
    test_set_view_asserts();
    return apir_check_summary("opshape_kernels");
}
