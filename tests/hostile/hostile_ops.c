/* Corpus entries: shapes, types and op params kernels trust; index values read by kernels;
 * custom ops and unknown op ids. Each is a GRAPH_COMPUTE on the CPU backend whose honest twin
 * (the node ggml's constructor would build) computes. */
#include "corpus.h"
#include "layout.h"

#include <ggml.h>
#include <string.h>

/* A graph laid out densely in buf from offset 0, 64-byte aligned. */

static void argsort_dst_fewer_rows(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = {.c = c};
    int32_t a = add(&l, GGML_TYPE_F32, 10, 4, 1, 1);
    node(&l, GGML_OP_ARGSORT, GGML_TYPE_I32, 10, v ? 4 : 2, 1, 1, a, -1, -1);
    send(w, &l);
}

static void argsort_bad_order(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = {.c = c};
    int32_t a = add(&l, GGML_TYPE_F32, 10, 4, 1, 1);
    node(&l, GGML_OP_ARGSORT, GGML_TYPE_I32, 10, 4, 1, 1, a, -1, -1)->op_params[0] = v ? 1 : 7;
    send(w, &l);
}

static void pad_reflect_negative(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = {.c = c};
    int32_t a = add(&l, GGML_TYPE_F32, 8, 3, 1, 1);
    struct apir_wire_tensor *t =
        node(&l, GGML_OP_PAD_REFLECT_1D, GGML_TYPE_F32, v ? 11 : 8, 3, 1, 1, a, -1, -1);
    t->op_params[0] = v ? 2 : -1, t->op_params[1] = 1;
    send(w, &l);
}

static void timestep_dim_over_dst(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = {.c = c};
    int32_t a = add(&l, GGML_TYPE_F32, 5, 1, 1, 1);
    struct apir_wire_tensor *t =
        node(&l, GGML_OP_TIMESTEP_EMBEDDING, GGML_TYPE_F32, 16, 5, 1, 1, a, -1, -1);
    t->op_params[0] = v ? 16 : 33, t->op_params[1] = 10000;
    send(w, &l);
}

static void win_part_too_many(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = {.c = c};
    int32_t a = add(&l, GGML_TYPE_F32, 8, 10, 10, 1);
    struct apir_wire_tensor *t = node(&l, GGML_OP_WIN_PART, GGML_TYPE_F32, 8, 4, 4, 9, a, -1, -1);
    t->op_params[0] = v ? 3 : 4, t->op_params[1] = 3, t->op_params[2] = 4;
    send(w, &l);
}

/* SET_ROWS: the node is a view of the destination cache (ggml_set_rows). */
static struct lay set_rows_graph(const struct hostile_ctx *c, uint32_t idx_type, int64_t dst_ne2)
{
    struct lay l = {.c = c};
    int32_t cache = add(&l, GGML_TYPE_F16, 64, 10, dst_ne2, 1);
    int32_t rows = add(&l, GGML_TYPE_F32, 64, 3, 2, 1), idx = add(&l, idx_type, 3, 2, 1, 1);
    struct apir_wire_tensor *t =
        node(&l, GGML_OP_SET_ROWS, GGML_TYPE_F16, 64, 10, dst_ne2, 1, rows, idx, -1);
    t->offset = l.t[cache].offset;
    t->view_src = cache;
    return l;
}

static void set_rows_src_ne2_over_dst(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = set_rows_graph(c, GGML_TYPE_I64, v ? 2 : 1);
    send(w, &l);
}

static void get_rows_dst_type(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = {.c = c};
    int32_t a = add(&l, GGML_TYPE_F16, 16, 10, 1, 1), idx = add(&l, GGML_TYPE_I32, 4, 1, 1, 1);
    node(&l, GGML_OP_GET_ROWS, v ? GGML_TYPE_F32 : GGML_TYPE_F16, 16, 4, 1, 1, a, idx, -1);
    send(w, &l);
}

static void concat_dst_larger(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = {.c = c};
    int32_t a = add(&l, GGML_TYPE_F32, 4, 3, 2, 1), b = add(&l, GGML_TYPE_F32, 4, 5, 2, 1);
    node(&l, GGML_OP_CONCAT, GGML_TYPE_F32, 4, v ? 8 : 9, 2, 1, a, b, -1)->op_params[0] = 1;
    send(w, &l);
}

static void soft_max_graph(struct apir_writer *w, const struct hostile_ctx *c, int64_t mask_rows,
                           int64_t sinks)
{
    struct lay l = {.c = c};
    int32_t a = add(&l, GGML_TYPE_F32, 32, 8, 4, 1);
    int32_t m = add(&l, GGML_TYPE_F16, 32, mask_rows, 1, 1);
    int32_t s = add(&l, GGML_TYPE_F32, sinks, 1, 1, 1);
    set_f32(node(&l, GGML_OP_SOFT_MAX, GGML_TYPE_F32, 32, 8, 4, 1, a, m, s), 0, 0.125f);
    send(w, &l);
}

static void soft_max_short_mask(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    soft_max_graph(w, c, v ? 8 : 4, 4);
}

static void soft_max_short_sinks(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    soft_max_graph(w, c, 8, v ? 4 : 2);
}

static void rope_graph(struct apir_writer *w, const struct hostile_ctx *c, int mode, int n_dims,
                       int64_t n_pos)
{
    struct lay l = {.c = c};
    int32_t a = add(&l, GGML_TYPE_F32, 64, 4, 6, 1), pos = add(&l, GGML_TYPE_I32, n_pos, 1, 1, 1);
    struct apir_wire_tensor *t = node(&l, GGML_OP_ROPE, GGML_TYPE_F32, 64, 4, 6, 1, a, pos, -1);
    t->op_params[1] = n_dims, t->op_params[2] = mode, t->op_params[3] = 4096;
    set_f32(t, 5, 10000.0f), set_f32(t, 6, 1.0f), set_f32(t, 8, 1.0f);
    set_f32(t, 9, 32.0f), set_f32(t, 10, 1.0f);
    if (mode == GGML_ROPE_TYPE_MROPE)
        t->op_params[11] = 16, t->op_params[12] = 8, t->op_params[13] = 8;
    send(w, &l);
}

static void rope_mrope_few_positions(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    rope_graph(w, c, GGML_ROPE_TYPE_MROPE, 64, v ? 24 : 6);
}

static void rope_dims_past_row(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    rope_graph(w, c, GGML_ROPE_TYPE_NEOX, v ? 64 : 66, 6);
}

static void group_norm_zero_groups(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = {.c = c};
    int32_t a = add(&l, GGML_TYPE_F32, 8, 8, 32, 1);
    struct apir_wire_tensor *t =
        node(&l, GGML_OP_GROUP_NORM, GGML_TYPE_F32, 8, 8, 32, 1, a, -1, -1);
    t->op_params[0] = v ? 32 : 0;
    set_f32(t, 1, 1e-6f);
    send(w, &l);
}

static void mul_mat_dst_larger(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = {.c = c};
    int32_t a = add(&l, GGML_TYPE_F32, 64, 16, 2, 1), x = add(&l, GGML_TYPE_F32, 64, 5, 6, 1);
    node(&l, GGML_OP_MUL_MAT, GGML_TYPE_F32, v ? 16 : 32, 5, 6, 1, a, x, -1);
    send(w, &l);
}

static void mul_mat_missing_src(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = {.c = c};
    int32_t a = add(&l, GGML_TYPE_F32, 64, 16, 1, 1), x = add(&l, GGML_TYPE_F32, 64, 5, 1, 1);
    node(&l, GGML_OP_MUL_MAT, GGML_TYPE_F32, 16, 5, 1, 1, a, v ? x : -1, -1);
    send(w, &l);
}

static void acc_negative_stride(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = {.c = c};
    int32_t a = add(&l, GGML_TYPE_F32, 8, 4, 1, 1), b = add(&l, GGML_TYPE_F32, 4, 2, 1, 1);
    struct apir_wire_tensor *t = node(&l, GGML_OP_ACC, GGML_TYPE_F32, 8, 4, 1, 1, a, b, -1);
    t->op_params[0] = v ? 32 : -32, t->op_params[1] = 128, t->op_params[2] = 128;
    t->op_params[3] = 16;
    send(w, &l);
}

/* One element-wise node over (a, b) with op and its first param as given. */
static void elt(struct apir_writer *w, const struct hostile_ctx *c, uint32_t op, int32_t p0,
                int64_t dst_ne0, bool with_b)
{
    struct lay l = {.c = c};
    int32_t a = add(&l, GGML_TYPE_F32, 16, 4, 1, 1), b = add(&l, GGML_TYPE_F32, 16, 4, 1, 1);
    struct apir_wire_tensor *t =
        node(&l, op, GGML_TYPE_F32, dst_ne0, 4, 1, 1, a, with_b ? b : -1, -1);
    t->op_params[0] = p0;
    for (int i = 1; i < 16 && op != GGML_OP_GLU; i++)
        t->op_params[i] = 0x41414141; /* what a function pointer and its userdata look like */
    send(w, &l);
}

static void unary_subop_past_table(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    elt(w, c, GGML_OP_UNARY, v ? GGML_UNARY_OP_RELU : GGML_UNARY_OP_COUNT, 16, false);
}

static void glu_subop_past_table(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    elt(w, c, GGML_OP_GLU, v ? GGML_GLU_OP_SWIGLU : GGML_GLU_OP_COUNT, 8, false);
}

static void op_id_past_table(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    elt(w, c, v ? GGML_OP_ADD : GGML_OP_COUNT, 0, 16, true);
}

static void op_id_huge(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    elt(w, c, v ? GGML_OP_ADD : 0xffffffffu, 0, 16, true);
}

/* Custom ops carry a function pointer (and userdata) in their op params. */
static void map_custom1(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    elt(w, c, v ? GGML_OP_ADD : GGML_OP_MAP_CUSTOM1, 0x41414141, 16, true);
}

static void map_custom2(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    elt(w, c, v ? GGML_OP_ADD : GGML_OP_MAP_CUSTOM2, 0x41414141, 16, true);
}

static void map_custom3(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    elt(w, c, v ? GGML_OP_ADD : GGML_OP_MAP_CUSTOM3, 0x41414141, 16, true);
}

static void custom_op(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    elt(w, c, v ? GGML_OP_ADD : GGML_OP_CUSTOM, 0x41414141, 16, true);
}

static void flash_attn_back(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = {.c = c};
    int32_t a = add(&l, GGML_TYPE_F32, 4, 4, 1, 1);
    struct apir_wire_tensor *t =
        node(&l, v ? GGML_OP_ADD : GGML_OP_FLASH_ATTN_BACK, GGML_TYPE_F32, 4, 4, 1, 1, a, a, -1);
    t->src[2] = v ? -1 : a, t->src[3] = v ? -1 : a;
    send(w, &l);
}

/* Index ops: prep writes the index values (the buffer is all zeros before), build computes. */
static void put_i32(struct apir_writer *w, const struct hostile_ctx *c, uint64_t off,
                    const int32_t *v, int n)
{
    struct apir_wire_tensor t = hostile_tensor(GGML_TYPE_I32, c->buf, off, n, 1, 1, 1);
    hostile_tensor_set(w, &t, 0, v, (size_t)n * 4);
}

/* GET_ROWS of a 16 x 10 matrix (rows 0..9) by 4 indices at offset 640. */
static struct lay get_rows_graph(const struct hostile_ctx *c)
{
    struct lay l = {.c = c};
    int32_t a = add(&l, GGML_TYPE_F32, 16, 10, 1, 1), idx = add(&l, GGML_TYPE_I32, 4, 1, 1, 1);
    node(&l, GGML_OP_GET_ROWS, GGML_TYPE_F32, 16, 4, 1, 1, a, idx, -1);
    return l;
}

static void get_rows_build(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)v;
    struct lay l = get_rows_graph(c);
    send(w, &l);
}

static void get_rows_put(struct apir_writer *w, const struct hostile_ctx *c, int32_t bad)
{
    struct lay l = get_rows_graph(c);
    int32_t ids[4] = {9, 0, bad, 3};
    put_i32(w, c, l.t[1].offset, ids, 4);
}

static void get_rows_past_rows(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    get_rows_put(w, c, v ? 5 : 10);
}

static void get_rows_negative(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    get_rows_put(w, c, v ? 5 : -1);
}

static void get_rows_huge(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    get_rows_put(w, c, v ? 5 : INT32_MAX);
}

static void set_rows_build(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)v;
    struct lay l = set_rows_graph(c, GGML_TYPE_I64, 2);
    send(w, &l);
}

static void set_rows_put(struct apir_writer *w, const struct hostile_ctx *c, int64_t bad)
{
    struct lay l = set_rows_graph(c, GGML_TYPE_I64, 2);
    int64_t ids[6] = {0, 9, 4, 1, bad, 2};
    struct apir_wire_tensor t = l.t[2];
    t.ne[0] = 6, t.ne[1] = 1, t.nb[2] = t.nb[3] = t.nb[1] = 48;
    hostile_tensor_set(w, &t, 0, ids, sizeof ids);
}

static void set_rows_past_rows(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    set_rows_put(w, c, v ? 8 : 10);
}

static void set_rows_negative(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    set_rows_put(w, c, v ? 8 : -1);
}

static void set_rows_huge(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    set_rows_put(w, c, v ? 8 : (int64_t)1 << 40);
}

/* MUL_MAT_ID: 2 experts of 3 x 4, one token, one id. */
static struct lay mul_mat_id_graph(const struct hostile_ctx *c)
{
    struct lay l = {.c = c};
    int32_t as = add(&l, GGML_TYPE_F32, 4, 3, 2, 1), b = add(&l, GGML_TYPE_F32, 4, 1, 1, 1);
    int32_t ids = add(&l, GGML_TYPE_I32, 1, 1, 1, 1);
    node(&l, GGML_OP_MUL_MAT_ID, GGML_TYPE_F32, 3, 1, 1, 1, as, b, ids);
    return l;
}

static void mul_mat_id_build(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)v;
    struct lay l = mul_mat_id_graph(c);
    send(w, &l);
}

static void mul_mat_id_put(struct apir_writer *w, const struct hostile_ctx *c, int32_t id)
{
    struct lay l = mul_mat_id_graph(c);
    put_i32(w, c, l.t[2].offset, &id, 1);
}

static void mul_mat_id_n_as(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    mul_mat_id_put(w, c, v ? 1 : 2);
}

static void mul_mat_id_minus_one(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    mul_mat_id_put(w, c, v ? 1 : -1);
}

static void mul_mat_id_huge(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    mul_mat_id_put(w, c, v ? 1 : 1 << 30);
}

/* ADD_ID(a [8, 2 used, 3 tokens], b [8, 4 experts], ids [2, 3]). */
static struct lay add_id_graph(const struct hostile_ctx *c)
{
    struct lay l = {.c = c};
    int32_t a = add(&l, GGML_TYPE_F32, 8, 2, 3, 1), b = add(&l, GGML_TYPE_F32, 8, 4, 1, 1);
    int32_t ids = add(&l, GGML_TYPE_I32, 2, 3, 1, 1);
    node(&l, GGML_OP_ADD_ID, GGML_TYPE_F32, 8, 2, 3, 1, a, b, ids);
    return l;
}

static void add_id_build(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)v;
    struct lay l = add_id_graph(c);
    send(w, &l);
}

static void add_id_past_experts(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = add_id_graph(c);
    int32_t ids[6] = {0, 1, 2, 3, v ? 3 : 4, 0};
    put_i32(w, c, l.t[2].offset, ids, 6);
}

/* GET_ROWS_BACK(grad [4, 3], idx [3], into [4, 8]): the kernel adds grad rows into rows idx. */
static struct lay get_rows_back_graph(const struct hostile_ctx *c)
{
    struct lay l = {.c = c};
    int32_t a = add(&l, GGML_TYPE_F32, 4, 3, 1, 1), idx = add(&l, GGML_TYPE_I32, 3, 1, 1, 1);
    node(&l, GGML_OP_GET_ROWS_BACK, GGML_TYPE_F32, 4, 8, 1, 1, a, idx, -1);
    return l;
}

static void get_rows_back_build(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)v;
    struct lay l = get_rows_back_graph(c);
    send(w, &l);
}

static void get_rows_back_past_rows(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct lay l = get_rows_back_graph(c);
    int32_t ids[3] = {0, v ? 7 : 8, 2};
    put_i32(w, c, l.t[1].offset, ids, 3);
}

#define T(n, k, ...)                                                                               \
    {                                                                                              \
        .name = #n, .klass = k, .build = n, __VA_ARGS__                                            \
    }
#define I(n, b)                                                                                    \
    {                                                                                              \
        .name = #n, .klass = "index", .build = b, .prep = n, .twin = true                          \
    }

const struct hostile_entry hostile_ops[] = {
    T(argsort_dst_fewer_rows, "opshape", .twin = true),
    T(argsort_bad_order, "opshape", .twin = true),
    T(pad_reflect_negative, "opshape", .twin = true),
    T(timestep_dim_over_dst, "opshape", .twin = true),
    T(win_part_too_many, "opshape", .twin = true),
    T(set_rows_src_ne2_over_dst, "opshape", .twin = true),
    T(get_rows_dst_type, "opshape", .twin = true),
    T(concat_dst_larger, "opshape", .twin = true),
    T(soft_max_short_mask, "opshape", .twin = true),
    T(soft_max_short_sinks, "opshape", .twin = true),
    T(rope_mrope_few_positions, "opshape", .twin = true),
    T(rope_dims_past_row, "opshape", .twin = true),
    T(group_norm_zero_groups, "opshape", .twin = true),
    T(mul_mat_dst_larger, "opshape", .twin = true),
    T(mul_mat_missing_src, "opshape", .twin = true),
    T(acc_negative_stride, "opshape", .twin = true),
    T(unary_subop_past_table, "opshape", .twin = true),
    T(glu_subop_past_table, "opshape", .twin = true),
    T(op_id_past_table, "custom", .twin = true),
    T(op_id_huge, "custom", .twin = true),
    T(map_custom1, "custom", .twin = true),
    T(map_custom2, "custom", .twin = true),
    T(map_custom3, "custom", .twin = true),
    T(custom_op, "custom", .twin = true),
    T(flash_attn_back, "custom", .twin = true),
    I(get_rows_past_rows, get_rows_build),
    I(get_rows_negative, get_rows_build),
    I(get_rows_huge, get_rows_build),
    I(set_rows_past_rows, set_rows_build),
    I(set_rows_negative, set_rows_build),
    I(set_rows_huge, set_rows_build),
    I(mul_mat_id_n_as, mul_mat_id_build),
    I(mul_mat_id_minus_one, mul_mat_id_build),
    I(mul_mat_id_huge, mul_mat_id_build),
    I(add_id_past_experts, add_id_build),
    I(get_rows_back_past_rows, get_rows_back_build),
    {0},
};
