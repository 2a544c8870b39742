/* Per-op shape checks (src/host/opshape*.c): for each class of hostile node a guest could
 * describe (a result bigger than its sources, a parameter that indexes out of a row, a divisor
 * of 0, a type the kernel writes with the wrong element size), the node is refused; the legal
 * node ggml's constructor would build for the same sources is accepted. Most cases call the
 * check directly on a wire graph; the last ones go through a session with the real CPU backend
 * (a refused node never runs, an accepted one computes). */
#include "host/opshape.h"
#include "session_msgs.h"

#include <ggml.h>
#include <string.h>

/* A wire tensor table under construction; tensors are dense unless a case changes them. */
struct tb {
    struct apir_wire_tensor t[16];
    uint32_t n;
};

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
    return (int32_t)b->n++;
}

/* A node of op over sources s0..s2 (-1: none); returns it for the case to adjust. */
static struct apir_wire_tensor *node(struct tb *b, uint32_t op, uint32_t type, int64_t n0,
                                     int64_t n1, int64_t n2, int64_t n3, int32_t s0, int32_t s1,
                                     int32_t s2)
{
    struct apir_wire_tensor *t = &b->t[add(b, type, n0, n1, n2, n3)];
    t->op = op;
    t->src[0] = s0, t->src[1] = s1, t->src[2] = s2;
    return t;
}

/* The last tensor of the table, checked as a node. */
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

static void test_argsort(void)
{
    struct tb b = {.n = 0};
    int32_t a = add(&b, GGML_TYPE_F32, 10, 4, 1, 1);
    struct apir_wire_tensor *t = node(&b, GGML_OP_ARGSORT, GGML_TYPE_I32, 10, 4, 1, 1, a, -1, -1);
    CHECK(ok(&b));
    t->op_params[0] = GGML_SORT_ORDER_DESC;
    CHECK(ok(&b));
    t->ne[1] = 2; /* dst has fewer rows than src: the kernel writes all 4 */
    CHECK(!ok(&b));
    t->ne[1] = 4, t->type = GGML_TYPE_F16; /* 4-byte indices into 2-byte elements */
    CHECK(!ok(&b));
    t->type = GGML_TYPE_I32, t->op_params[0] = 7;
    CHECK(!ok(&b));
    /* The kernel walks all rows as r * nb1: with (10, 2, 2) and src matrices aliased by
     * nb2 == 0, rows 2 and 3 lie past src's bytes. */
    t->op_params[0] = 0, b.t[a].ne[1] = t->ne[1] = 2, b.t[a].ne[2] = t->ne[2] = 2;
    CHECK(ok(&b));
    b.t[a].nb[2] = 0;
    CHECK(!ok(&b));
}

static void test_pad_reflect(void)
{
    struct tb b = {.n = 0};
    int32_t a = add(&b, GGML_TYPE_F32, 8, 3, 1, 1);
    struct apir_wire_tensor *t =
        node(&b, GGML_OP_PAD_REFLECT_1D, GGML_TYPE_F32, 11, 3, 1, 1, a, -1, -1);
    t->op_params[0] = 2, t->op_params[1] = 1;
    CHECK(ok(&b));
    t->op_params[0] = -1, t->op_params[1] = 1, t->ne[0] = 8; /* negative pad: writes before */
    CHECK(!ok(&b));
    t->op_params[0] = 8, t->op_params[1] = 0, t->ne[0] = 16; /* pad >= row: reads past it */
    CHECK(!ok(&b));
    t->op_params[0] = 2, t->op_params[1] = 1, t->ne[0] = 12; /* dst does not match the pads */
    CHECK(!ok(&b));
}

static void test_timestep_embedding(void)
{
    struct tb b = {.n = 0};
    int32_t a = add(&b, GGML_TYPE_F32, 5, 1, 1, 1);
    struct apir_wire_tensor *t =
        node(&b, GGML_OP_TIMESTEP_EMBEDDING, GGML_TYPE_F32, 16, 5, 1, 1, a, -1, -1);
    t->op_params[0] = 16, t->op_params[1] = 10000;
    CHECK(ok(&b));
    t->op_params[0] = 33; /* dim larger than dst rows: writes cos/sin past them */
    CHECK(!ok(&b));
    t->op_params[0] = -3; /* odd negative dim: writes embed[2 * (dim / 2)], before the row */
    CHECK(!ok(&b));
    t->op_params[0] = 16, t->ne[1] = 4; /* fewer rows than timesteps */
    CHECK(!ok(&b));
}

static void test_concat(void)
{
    struct tb b = {.n = 0};
    int32_t a = add(&b, GGML_TYPE_F32, 4, 3, 2, 1), c = add(&b, GGML_TYPE_F32, 4, 5, 2, 1);
    struct apir_wire_tensor *t = node(&b, GGML_OP_CONCAT, GGML_TYPE_F32, 4, 8, 2, 1, a, c, -1);
    t->op_params[0] = 1;
    CHECK(ok(&b));
    t->ne[1] = 9; /* dst larger than both sources: the extra row is read past src1 */
    CHECK(!ok(&b));
    t->ne[1] = 8, t->op_params[0] = 4;
    CHECK(!ok(&b));
    t->op_params[0] = 0; /* along dim 0 the shapes disagree */
    CHECK(!ok(&b));
    t->op_params[0] = 1, b.t[c].type = GGML_TYPE_F16;
    CHECK(!ok(&b));
}

static void test_soft_max(void)
{
    struct tb b = {.n = 0};
    int32_t a = add(&b, GGML_TYPE_F32, 32, 8, 4, 1), m = add(&b, GGML_TYPE_F16, 32, 8, 1, 1);
    int32_t s = add(&b, GGML_TYPE_F32, 4, 1, 1, 1);
    struct apir_wire_tensor *t = node(&b, GGML_OP_SOFT_MAX, GGML_TYPE_F32, 32, 8, 4, 1, a, m, s);
    set_f32(t, 0, 0.125f);
    CHECK(ok(&b));
    t->src[2] = -1, t->src[1] = -1; /* plain softmax */
    CHECK(ok(&b));
    set_f32(t, 1, 8.0f); /* ALiBi without a mask */
    CHECK(!ok(&b));
    set_f32(t, 1, 0.0f), t->src[1] = m, t->src[2] = s;
    b.t[m].ne[1] = 4; /* mask shorter than the rows: rows 4..7 read past it */
    CHECK(!ok(&b));
    b.t[m].ne[1] = 8, b.t[m].ne[0] = 16;
    CHECK(!ok(&b));
    b.t[m].ne[0] = 32, b.t[s].ne[0] = 2; /* one sink per head, read as sk[head] */
    CHECK(!ok(&b));
    b.t[s].ne[0] = 4, b.t[s].type = GGML_TYPE_F16;
    CHECK(!ok(&b));
    b.t[s].type = GGML_TYPE_F32, t->ne[1] = 16; /* dst rows differ from src */
    CHECK(!ok(&b));
}

static void test_rope(void)
{
    struct tb b = {.n = 0};
    int32_t a = add(&b, GGML_TYPE_F32, 64, 4, 6, 1), pos = add(&b, GGML_TYPE_I32, 24, 1, 1, 1);
    struct apir_wire_tensor *t = node(&b, GGML_OP_ROPE, GGML_TYPE_F32, 64, 4, 6, 1, a, pos, -1);
    t->buffer = 1; /* a node that can run */
    t->op_params[1] = 64, t->op_params[2] = GGML_ROPE_TYPE_MROPE;
    t->op_params[11] = 16, t->op_params[12] = 8, t->op_params[13] = 8;
    CHECK(ok(&b));
    b.t[pos].ne[0] = 6; /* M-RoPE reads 4 positions per token */
    CHECK(!ok(&b));
    t->op_params[2] = GGML_ROPE_TYPE_NEOX;
    CHECK(ok(&b));
    b.t[pos].ne[0] = 5;
    CHECK(!ok(&b));
    b.t[pos].ne[0] = 6, t->op_params[1] = 66; /* n_dims past the row */
    CHECK(!ok(&b));
    t->op_params[1] = 32, t->op_params[15] = 40; /* offset + n_dims past the row */
    CHECK(!ok(&b));
    t->op_params[15] = 0, t->op_params[1] = 0; /* never-ending loop in the kernel */
    CHECK(!ok(&b));
    t->buffer = 0; /* ... which ggml builds in worst-case graphs: a query may describe it */
    CHECK(ok(&b));
    t->buffer = 1, t->op_params[1] = 64, t->op_params[2] = GGML_ROPE_TYPE_MROPE;
    b.t[pos].ne[0] = 24, t->op_params[11] = -8, t->op_params[12] = 8; /* sections sum to 0 */
    t->op_params[13] = 0;
    CHECK(!ok(&b));
    t->op_params[11] = 16, t->op_params[2] = 3; /* mode & 1 */
    CHECK(!ok(&b));
}

static void test_group_norm(void)
{
    struct tb b = {.n = 0};
    int32_t a = add(&b, GGML_TYPE_F32, 8, 8, 32, 1);
    struct apir_wire_tensor *t =
        node(&b, GGML_OP_GROUP_NORM, GGML_TYPE_F32, 8, 8, 32, 1, a, -1, -1);
    t->op_params[0] = 32;
    CHECK(ok(&b));
    t->op_params[0] = 0; /* a divisor: SIGFPE */
    CHECK(!ok(&b));
    t->op_params[0] = -1;
    CHECK(!ok(&b));
    t->op_params[0] = INT32_MAX; /* channels + groups - 1 overflows int */
    CHECK(!ok(&b));
}

static void test_set_rows(void)
{
    struct tb b = {.n = 0};
    int32_t cache = add(&b, GGML_TYPE_F16, 64, 10, 2, 1);
    int32_t rows = add(&b, GGML_TYPE_F32, 64, 3, 2, 1), idx = add(&b, GGML_TYPE_I64, 3, 2, 1, 1);
    struct apir_wire_tensor *t =
        node(&b, GGML_OP_SET_ROWS, GGML_TYPE_F16, 64, 10, 2, 1, rows, idx, cache);
    CHECK(ok(&b));
    t->ne[2] = 1, b.t[cache].ne[2] = 1; /* src ne2 > dst ne2: writes past dst's matrices */
    CHECK(!ok(&b));
    t->ne[2] = 2, b.t[cache].ne[2] = 2, b.t[idx].type = GGML_TYPE_F32;
    CHECK(!ok(&b));
    b.t[idx].type = GGML_TYPE_I32, b.t[idx].ne[1] = 0; /* a divisor of b's dim 2 */
    CHECK(!ok(&b));
    b.t[idx].ne[1] = 2, t->ne[0] = 32, b.t[cache].ne[0] = 32; /* rows longer than dst's */
    CHECK(!ok(&b));
    t->ne[0] = 64, b.t[cache].ne[0] = 64, t->type = GGML_TYPE_IQ2_XXS;
    b.t[cache].type = GGML_TYPE_IQ2_XXS; /* no CPU from_float: only a query may name it */
    t->nb[0] = b.t[cache].nb[0] = ggml_type_size(GGML_TYPE_IQ2_XXS);
    CHECK(ok(&b));
    t->buffer = 1;
    CHECK(!ok(&b));
}

static void test_get_rows(void)
{
    struct tb b = {.n = 0};
    int32_t a = add(&b, GGML_TYPE_F16, 16, 10, 1, 1), idx = add(&b, GGML_TYPE_I32, 4, 1, 1, 1);
    struct apir_wire_tensor *t = node(&b, GGML_OP_GET_ROWS, GGML_TYPE_F32, 16, 4, 1, 1, a, idx, -1);
    CHECK(ok(&b));
    t->type = GGML_TYPE_F16; /* the kernel writes F32 rows: twice the bytes of an F16 row */
    CHECK(!ok(&b));
    t->type = GGML_TYPE_F32, t->ne[1] = 5;
    CHECK(!ok(&b));
    t->ne[1] = 4, b.t[idx].type = GGML_TYPE_I64;
    CHECK(!ok(&b));
    b.t[idx].type = GGML_TYPE_I32, b.t[a].type = GGML_TYPE_I32, t->type = GGML_TYPE_I32;
    b.t[a].nb[1] = 64, b.t[a].nb[2] = b.t[a].nb[3] = 640;
    CHECK(ok(&b)); /* I32 rows stay I32 */
}

static void test_win_part(void)
{
    struct tb b = {.n = 0};
    int32_t a = add(&b, GGML_TYPE_F32, 8, 10, 10, 1);
    struct apir_wire_tensor *t = node(&b, GGML_OP_WIN_PART, GGML_TYPE_F32, 8, 4, 4, 9, a, -1, -1);
    t->op_params[0] = 3, t->op_params[1] = 3, t->op_params[2] = 4;
    CHECK(ok(&b));
    t->op_params[0] = 4; /* more windows than dst holds */
    CHECK(!ok(&b));
    t->op_params[0] = 3, t->ne[3] = 12;
    CHECK(!ok(&b));
    t->ne[3] = 9, t->op_params[2] = 0;
    CHECK(!ok(&b));
    /* WIN_UNPART back to 10 x 10 from those 9 windows; a window too small reads past a. */
    struct tb u = {.n = 0};
    int32_t w = add(&u, GGML_TYPE_F32, 8, 4, 4, 9);
    struct apir_wire_tensor *v =
        node(&u, GGML_OP_WIN_UNPART, GGML_TYPE_F32, 8, 10, 10, 1, w, -1, -1);
    v->op_params[0] = 4;
    CHECK(ok(&u));
    u.t[w].ne[3] = 8, u.t[w].nb[3] = u.t[w].nb[2] * 4;
    CHECK(!ok(&u));
    u.t[w].ne[3] = 9, v->op_params[0] = 0;
    CHECK(!ok(&u));
}

static void test_mul_mat(void)
{
    struct tb b = {.n = 0};
    int32_t a = add(&b, GGML_TYPE_Q4_0, 64, 16, 2, 1), x = add(&b, GGML_TYPE_F32, 64, 5, 6, 1);
    struct apir_wire_tensor *t = node(&b, GGML_OP_MUL_MAT, GGML_TYPE_F32, 16, 5, 6, 1, a, x, -1);
    CHECK(ok(&b));
    t->ne[0] = 32; /* dst rows longer than src0's row count */
    CHECK(!ok(&b));
    t->ne[0] = 16, t->type = GGML_TYPE_F16;
    CHECK(!ok(&b));
    t->type = GGML_TYPE_F32, b.t[x].ne[2] = 5; /* 5 is no multiple of 2 */
    CHECK(!ok(&b));
    b.t[x].ne[2] = 6, b.t[a].type = GGML_TYPE_Q8_1; /* no dot product for it */
    b.t[a].nb[0] = ggml_type_size(GGML_TYPE_Q8_1);
    CHECK(!ok(&b));
    b.t[a].type = GGML_TYPE_F32, b.t[a].nb[0] = 4, b.t[a].nb[1] = 256; /* F32 rows of 64 */
    b.t[a].nb[2] = b.t[a].nb[3] = 256 * 16;
    t->op_params[1] = GGML_HINT_SRC0_IS_HADAMARD; /* writes b0 = 64 values into 16-wide rows */
    CHECK(!ok(&b));
    t->op_params[1] = 0;
    CHECK(ok(&b));
}

static void test_mul_mat_id(void)
{
    struct tb b = {.n = 0};
    int32_t as = add(&b, GGML_TYPE_Q8_0, 64, 16, 8, 1), x = add(&b, GGML_TYPE_F32, 64, 1, 5, 1);
    int32_t ids = add(&b, GGML_TYPE_I32, 2, 5, 1, 1);
    struct apir_wire_tensor *t =
        node(&b, GGML_OP_MUL_MAT_ID, GGML_TYPE_F32, 16, 2, 5, 1, as, x, ids);
    CHECK(ok(&b));
    t->ne[1] = 3; /* more expert slots than ids lists */
    CHECK(!ok(&b));
    t->ne[1] = 2, b.t[ids].type = GGML_TYPE_I64;
    CHECK(!ok(&b));
    b.t[ids].type = GGML_TYPE_I32, b.t[x].ne[1] = 0; /* ids0 % b1 divides by 0 */
    CHECK(!ok(&b));
    /* experts * ids0 * ids1 row-map entries: a product the planner's size_t would wrap */
    b.t[x].ne[1] = 1, b.t[as].ne[2] = (int64_t)1 << 40, b.t[ids].ne[0] = (int64_t)1 << 30;
    t->ne[1] = b.t[ids].ne[0];
    CHECK(!ok(&b));
}

static void test_cpy(void)
{
    struct tb b = {.n = 0};
    int32_t a = add(&b, GGML_TYPE_Q4_0, 64, 4, 3, 1), d = add(&b, GGML_TYPE_Q4_0, 64, 4, 3, 1);
    struct apir_wire_tensor *t = node(&b, GGML_OP_CPY, GGML_TYPE_Q4_0, 64, 4, 3, 1, a, d, -1);
    CHECK(ok(&b));
    /* a permuted src (dims 1, 2 swapped): same shape, dense rows: copied row by row */
    b.t[a].ne[1] = 3, b.t[a].ne[2] = 4, t->ne[1] = b.t[d].ne[1] = 3, t->ne[2] = b.t[d].ne[2] = 4;
    uint64_t nb1 = b.t[a].nb[1];
    b.t[a].nb[1] = nb1 * 4, b.t[a].nb[2] = nb1;
    t->nb[2] = b.t[d].nb[2] = b.t[d].nb[1] * 3, t->nb[3] = b.t[d].nb[3] = t->nb[2] * 4;
    CHECK(ok(&b));
    /* the same src into a dense dst of another shape: the kernel copies ne00 * 18 bytes per
     * row of 2 blocks, 16 times too much */
    t->ne[0] = b.t[d].ne[0] = 32, t->ne[1] = b.t[d].ne[1] = 6;
    t->nb[1] = b.t[d].nb[1] = 18, t->nb[2] = b.t[d].nb[2] = 18 * 6;
    CHECK(!ok(&b));
    /* a CPY whose dst is not laid out like src[1] (its view) */
    struct tb c = {.n = 0};
    int32_t s = add(&c, GGML_TYPE_F32, 8, 4, 1, 1), v = add(&c, GGML_TYPE_F16, 8, 4, 1, 1);
    struct apir_wire_tensor *u = node(&c, GGML_OP_CPY, GGML_TYPE_F16, 8, 4, 1, 1, s, v, -1);
    CHECK(ok(&c));
    u->type = GGML_TYPE_F32;
    CHECK(!ok(&c));
    u->type = GGML_TYPE_F16, u->nb[1] = 64;
    CHECK(!ok(&c));
    /* F32 -> Q8_0 with src rows longer than dst rows: the work slice is sized by dst ne0 */
    u->nb[1] = 16, c.t[s].ne[0] = 64, c.t[s].ne[1] = 1, c.t[s].nb[1] = c.t[s].nb[2] = 256;
    c.t[s].nb[3] = 256, u->type = c.t[v].type = GGML_TYPE_Q8_0;
    u->ne[0] = c.t[v].ne[0] = 32, u->ne[1] = c.t[v].ne[1] = 2;
    u->nb[0] = c.t[v].nb[0] = 34, u->nb[1] = c.t[v].nb[1] = 34;
    u->nb[2] = u->nb[3] = c.t[v].nb[2] = c.t[v].nb[3] = 68;
    CHECK(!ok(&c));
}

static void test_acc_set(void)
{
    struct tb b = {.n = 0};
    int32_t a = add(&b, GGML_TYPE_F32, 8, 4, 1, 1), c = add(&b, GGML_TYPE_F32, 4, 2, 1, 1);
    struct apir_wire_tensor *t = node(&b, GGML_OP_ACC, GGML_TYPE_F32, 8, 4, 1, 1, a, c, -1);
    t->op_params[0] = 32, t->op_params[1] = 128, t->op_params[2] = 128, t->op_params[3] = 16;
    CHECK(ok(&b));
    t->op_params[3] = 84; /* the last element starts inside dst but ends past it */
    CHECK(!ok(&b));
    t->op_params[3] = 0, t->op_params[0] = -32; /* sign-extends into a huge stride */
    CHECK(!ok(&b));
    t->op_params[0] = 32;
    t->op = GGML_OP_SET;
    CHECK(ok(&b));
    t->op_params[3] = 100;
    CHECK(!ok(&b));
}

static void test_misc_divisors(void)
{
    struct tb b = {.n = 0};
    int32_t a = add(&b, GGML_TYPE_I32, 4, 6, 5, 3), c = add(&b, GGML_TYPE_I32, 4, 6, 5, 3);
    node(&b, GGML_OP_COUNT_EQUAL, GGML_TYPE_I64, 1, 1, 1, 1, a, c, -1);
    CHECK(!ok(&b)); /* the kernel's row split leaves the tensors for 4-D shapes */
    b.t[a].ne[2] = b.t[a].ne[3] = b.t[c].ne[2] = b.t[c].ne[3] = 1;
    CHECK(ok(&b));

    struct tb p = {.n = 0};
    int32_t x = add(&p, GGML_TYPE_F32, 4, 4, 1, 1);
    struct apir_wire_tensor *t = node(&p, GGML_OP_PAD, GGML_TYPE_F32, 12, 4, 1, 1, x, -1, -1);
    t->op_params[0] = 6, t->op_params[1] = 2;
    CHECK(ok(&p));
    t->op_params[8] = 1; /* circular: a left pad beyond the source wraps to a negative index */
    CHECK(!ok(&p));
    t->op_params[0] = 4, t->op_params[1] = 4;
    CHECK(ok(&p));

    struct tb d = {.n = 0};
    int32_t y = add(&d, GGML_TYPE_F32, 6, 6, 2, 1);
    struct apir_wire_tensor *m =
        node(&d, GGML_OP_DIAG_MASK_INF, GGML_TYPE_F32, 6, 6, 2, 1, y, -1, -1);
    CHECK(ok(&d));
    m->op_params[0] = -1;
    CHECK(!ok(&d));
}

static void test_attention(void)
{
    struct tb b = {.n = 0};
    int32_t q = add(&b, GGML_TYPE_F32, 64, 7, 8, 1), k = add(&b, GGML_TYPE_F16, 64, 256, 2, 1);
    int32_t v = add(&b, GGML_TYPE_F16, 64, 256, 2, 1), m = add(&b, GGML_TYPE_F16, 256, 8, 1, 1);
    struct apir_wire_tensor *t =
        node(&b, GGML_OP_FLASH_ATTN_EXT, GGML_TYPE_F32, 64, 8, 7, 1, q, k, v);
    t->src[3] = m;
    set_f32(t, 0, 0.125f);
    CHECK(ok(&b));
    b.t[m].ne[1] = 4; /* mask rows for 4 of the 7 query rows */
    CHECK(!ok(&b));
    b.t[m].ne[1] = 8, b.t[m].ne[0] = 128; /* mask columns for half the KV */
    CHECK(!ok(&b));
    b.t[m].ne[0] = 256, b.t[v].ne[1] = 100; /* fewer V rows than K rows */
    CHECK(!ok(&b));
    b.t[v].ne[1] = 256, b.t[v].ne[2] = 3; /* 8 heads do not split over 3 */
    CHECK(!ok(&b));
    b.t[v].ne[2] = 2, b.t[q].type = GGML_TYPE_F16; /* q is read as floats */
    CHECK(!ok(&b));
    b.t[q].type = GGML_TYPE_F32, t->ne[1] = 7;
    CHECK(!ok(&b));
}

/* Ops with no rule, or that ggml cannot build, are refused; no-op views are not checked. */
static void test_default_deny(void)
{
    struct tb b = {.n = 0};
    int32_t a = add(&b, GGML_TYPE_F32, 4, 4, 1, 1);
    struct apir_wire_tensor *t =
        node(&b, GGML_OP_FLASH_ATTN_BACK, GGML_TYPE_F32, 16, 1, 1, 1, a, a, a);
    t->src[3] = a;
    CHECK(!ok(&b));
    t->op = GGML_OP_MAP_CUSTOM1;
    CHECK(!ok(&b));
    t->op = GGML_OP_COUNT;
    CHECK(!ok(&b));
    t->op = GGML_OP_VIEW;
    CHECK(ok(&b));
}

/* Type pairs the CPU reports unsupported but ggml builds: a query gets the CPU's answer, a
 * runnable node is refused (OUT_PROD's quantized kernel would read F16 b as floats). */
static void test_query_only(void)
{
    struct tb b = {.n = 0};
    int32_t a = add(&b, GGML_TYPE_Q4_0, 32, 16, 1, 1), c = add(&b, GGML_TYPE_F16, 8, 16, 1, 1);
    struct apir_wire_tensor *t = node(&b, GGML_OP_OUT_PROD, GGML_TYPE_F32, 32, 8, 1, 1, a, c, -1);
    CHECK(ok(&b));
    t->buffer = 1;
    CHECK(!ok(&b));
    b.t[c].type = GGML_TYPE_F32, b.t[c].nb[1] = 32, b.t[c].nb[2] = b.t[c].nb[3] = 512;
    CHECK(ok(&b));
    t->ne[1] = 9; /* shapes are checked for queries too */
    CHECK(!ok(&b));
}

static void test_conv(void)
{
    struct tb b = {.n = 0};
    int32_t k = add(&b, GGML_TYPE_F16, 3, 3, 4, 1), img = add(&b, GGML_TYPE_F32, 10, 10, 4, 2);
    struct apir_wire_tensor *t = node(&b, GGML_OP_IM2COL, GGML_TYPE_F16, 36, 8, 8, 2, k, img, -1);
    t->op_params[0] = t->op_params[1] = 1, t->op_params[4] = t->op_params[5] = 1;
    t->op_params[6] = 1;
    CHECK(ok(&b));
    t->ne[1] = 9; /* OW past the image's output size */
    CHECK(!ok(&b));
    t->ne[1] = 8, t->op_params[0] = 0; /* a stride of 0 divides by zero */
    CHECK(!ok(&b));
    t->op_params[0] = 1, t->op_params[6] = 2;
    CHECK(!ok(&b));

    struct tb c = {.n = 0};
    int32_t w = add(&c, GGML_TYPE_F32, 3, 2, 4, 1), x = add(&c, GGML_TYPE_F32, 2, 4, 1, 1);
    struct apir_wire_tensor *u =
        node(&c, GGML_OP_CONV_TRANSPOSE_1D, GGML_TYPE_F32, 5, 2, 1, 1, w, x, -1);
    u->op_params[0] = 2, u->op_params[2] = 1;
    CHECK(ok(&c));
    u->op_params[0] = -2, u->ne[0] = 1; /* (2-1)*-2 + 3: a negative stride writes before */
    CHECK(!ok(&c));
    u->op_params[0] = 2, u->op_params[1] = 1; /* ggml asserts p0 == 0 */
    u->ne[0] = 5;
    CHECK(!ok(&c));

    struct tb d = {.n = 0};
    int32_t in = add(&d, GGML_TYPE_F32, 4, 4, 2, 1);
    struct apir_wire_tensor *up = node(&d, GGML_OP_UPSCALE, GGML_TYPE_F32, 8, 8, 3, 1, in, -1, -1);
    CHECK(ok(&d));
    /* nearest maps dst index i to (int)(i / sf) in floats: from 1 source column to 2^25, the
     * last one rounds to source column 1 of 1 */
    d.t[in].ne[0] = 1, up->ne[0] = 1 << 25;
    CHECK(!ok(&d));
    up->ne[0] = 1 << 24;
    CHECK(ok(&d));
    up->ne[0] = 8, d.t[in].ne[0] = 4, d.t[in].ne[1] = 0; /* upscaling nothing into something */
    CHECK(!ok(&d));
}

static void test_recurrent(void)
{
    struct tb b = {.n = 0};
    int32_t k = add(&b, GGML_TYPE_F32, 8, 2, 6, 1), v = add(&b, GGML_TYPE_F32, 8, 2, 6, 1);
    int32_t r = add(&b, GGML_TYPE_F32, 8, 2, 6, 1), tf = add(&b, GGML_TYPE_F32, 8, 2, 1, 1);
    int32_t td = add(&b, GGML_TYPE_F32, 8, 2, 6, 1), st = add(&b, GGML_TYPE_F32, 128, 2, 1, 1);
    struct apir_wire_tensor *t =
        node(&b, GGML_OP_RWKV_WKV6, GGML_TYPE_F32, 16, 6 + 16, 1, 1, k, v, r);
    t->src[3] = tf, t->src[4] = td, t->src[5] = st;
    CHECK(ok(&b));
    b.t[k].ne[2] = b.t[v].ne[2] = b.t[r].ne[2] = b.t[td].ne[2] = 5; /* 5 tokens, 2 sequences */
    t->ne[1] = 5 + 16;
    CHECK(!ok(&b));
    b.t[k].ne[2] = b.t[v].ne[2] = b.t[r].ne[2] = b.t[td].ne[2] = 6, t->ne[1] = 6 + 16;
    b.t[tf].ne[1] = 1; /* time_first read per (head, channel): 16 values */
    CHECK(!ok(&b));
}

/* ADD: the result keeps src0's type (ggml_add) or casts a quantized src0 (ggml_add_cast) to a
 * type the CPU can quantize to. */
static void test_add(void)
{
    struct tb b = {.n = 0};
    int32_t a = add(&b, GGML_TYPE_F32, 8, 4, 1, 1), c = add(&b, GGML_TYPE_F32, 8, 1, 1, 1);
    struct apir_wire_tensor *t = node(&b, GGML_OP_ADD, GGML_TYPE_F32, 8, 4, 1, 1, a, c, -1);
    CHECK(ok(&b));
    b.t[c].ne[0] = 3; /* 3 does not repeat into 8 */
    CHECK(!ok(&b));
    b.t[c].ne[0] = 8, t->type = GGML_TYPE_F16, t->nb[0] = 2; /* F32 src0 cannot cast */
    CHECK(!ok(&b));
    struct tb q = {.n = 0};
    int32_t x = add(&q, GGML_TYPE_Q8_0, 32, 4, 1, 1), y = add(&q, GGML_TYPE_F32, 32, 4, 1, 1);
    struct apir_wire_tensor *u = node(&q, GGML_OP_ADD, GGML_TYPE_F32, 32, 4, 1, 1, x, y, -1);
    CHECK(ok(&q));
    u->type = GGML_TYPE_IQ2_XXS; /* no from_float: the kernel memcpys ne0 * nb0 bytes */
    CHECK(!ok(&q));
}

/* Through a session on the CPU backend: a legal ARGSORT computes; one whose dst holds fewer
 * rows than its source is refused, as a query and as a graph, and never runs (the bytes after
 * the short dst keep their guard value). */
static void test_session(void)
{
    char err[256];
    struct apir_host_config cfg = {
        .backend_dir = APIR_GGML_BACKEND_DIR, .device_name = "CPU", .max_session_bytes = 1u << 20};
    struct apir_host *host = apir_host_create(&cfg, err, sizeof err);
    CHECK(host != NULL);
    if (!host)
        return;
    struct apir_session *s = apir_session_create(host);
    CHECK(hello(s, APIR_PROTO_MAJOR) == APIR_OK);
    uint64_t buft, dev = dev_info(s, &buft);
    int st;
    uint64_t buf = buffer_alloc(s, buft, 4096, &st);
    apir_write_u64(msg_begin(), dev);
    CHECK(msg_send(s, APIR_CMD_STREAM_NEW) == APIR_OK);
    uint64_t stream = apir_read_u64(&rep);

    struct apir_wire_tensor t[2] = {f32_tensor(buf, 0, 16), f32_tensor(buf, 256, 16)};
    t[0].ne[0] = 4, t[0].ne[1] = 4, t[0].nb[1] = 16; /* 4 rows of 4 */
    float in[16], guard[16];
    for (int i = 0; i < 16; i++)
        in[i] = (float)((i * 7) % 16), guard[i] = -1.0f;
    CHECK(tensor_set(s, &t[0], in, sizeof in) == APIR_OK);
    CHECK(tensor_set(s, &t[1], guard, sizeof guard) == APIR_OK);
    t[1].type = GGML_TYPE_I32, t[1].op = GGML_OP_ARGSORT, t[1].src[0] = 0;
    t[1].ne[0] = 4, t[1].ne[1] = 1, t[1].nb[1] = t[1].nb[2] = t[1].nb[3] = 16; /* 1 row of 4 */
    t[1].flags = GGML_TENSOR_FLAG_COMPUTE;
    const int32_t n1 = 1;

    struct apir_writer *w = msg_begin();
    apir_write_u64(w, dev);
    apir_wire_graph_encode(w, t, 2, &n1, 1);
    CHECK(msg_send(s, APIR_CMD_DEVICE_SUPPORTS_OP) == APIR_E_INVALID);
    CHECK(graph_compute(s, stream, t, 2, &n1, 1) == APIR_E_INVALID);
    struct apir_wire_tensor g = t[1];
    g.type = GGML_TYPE_F32, g.ne[0] = 16, g.nb[1] = g.nb[2] = g.nb[3] = 64;
    CHECK(get_f32(s, g, 4) == -1.0f && get_f32(s, g, 15) == -1.0f);

    t[1].ne[1] = 4, t[1].nb[2] = t[1].nb[3] = 64; /* the legal node: 4 rows */
    CHECK(graph_compute(s, stream, t, 2, &n1, 1) == APIR_OK && apir_read_u32(&rep) == 0);
    int sorted = 0;
    for (int r = 0; r < 4; r++) {
        float prev = -1.0f;
        for (int j = 0; j < 4; j++) {
            float ix = get_f32(s, g, r * 4 + j);
            int32_t ii;
            memcpy(&ii, &ix, sizeof ii);
            sorted += ii >= 0 && ii < 4 && in[r * 4 + ii] >= prev;
            if (ii >= 0 && ii < 4)
                prev = in[r * 4 + ii];
        }
    }
    CHECK(sorted == 16);
    apir_session_destroy(s);
    apir_host_destroy(host);
}

int main(void)
{
    apir_writer_init(&req, 1u << 20);
    test_argsort();
    test_pad_reflect();
    test_timestep_embedding();
    test_concat();
    test_soft_max();
    test_rope();
    test_group_norm();
    test_set_rows();
    test_get_rows();
    test_win_part();
    test_mul_mat();
    test_mul_mat_id();
    test_cpy();
    test_acc_set();
    test_misc_divisors();
    test_attention();
    test_default_deny();
    test_query_only();
    test_conv();
    test_recurrent();
    test_add();
    test_session();
    apir_writer_free(&req);
    return apir_check_summary("opshape");
}
