/* Corpus entries: index values rewritten inside the graph, after the host checked them. A node
 * that writes memory other than its own tensor (the optimizer steps update their weights and
 * moments in place), or more than ggml_nbytes says (a block row with nb0 = 0), turns ids that
 * were in range when the graph started into ids past the rows a later GET_ROWS, GET_ROWS_BACK
 * or MUL_MAT_ID addresses. Views written over the ids (CPY, SET) are the plain case. Each
 * entry's prep writes the values the writer copies (the buffer is all zeros before: the ids
 * start at 0); its honest twin writes the last legal id instead of one past it. Small ints are
 * written through float math as the subnormal floats with their bits. */
#include "corpus.h"

#include <ggml.h>
#include <string.h>

static float bits_f32(int32_t v)
{
    float f;
    memcpy(&f, &v, sizeof f);
    return f;
}

static struct apir_wire_tensor at(const struct hostile_ctx *c, uint32_t type, uint64_t off,
                                  int64_t n0, int64_t n1, int64_t n2)
{
    return hostile_tensor(type, c->buf, off, n0, n1, n2, 1);
}

static struct apir_wire_tensor op3(struct apir_wire_tensor t, uint32_t op, int32_t s0, int32_t s1,
                                   int32_t s2)
{
    t.op = op;
    t.src[0] = s0, t.src[1] = s1, t.src[2] = s2;
    return t;
}

/* The consumers, appended to t[*n] with their ids at t[ids]: GET_ROWS_BACK adds 4 grad rows
 * into rows 0..7 (id 8 is past them), GET_ROWS gathers from 8 rows, MUL_MAT_ID picks one of
 * 2 experts (id 2 is past them). */
enum consumer { GRB, GR, MMID };

static void consume(const struct hostile_ctx *c, struct apir_wire_tensor *t, uint32_t *n,
                    int32_t ids, enum consumer k)
{
    int32_t a = (int32_t)*n;
    switch (k) {
    case GRB:
        t[(*n)++] = at(c, GGML_TYPE_F32, 1536, 2, 4, 1);
        t[(*n)++] = op3(at(c, GGML_TYPE_F32, 1792, 2, 8, 1), GGML_OP_GET_ROWS_BACK, a, ids, -1);
        break;
    case GR:
        t[(*n)++] = at(c, GGML_TYPE_F32, 1536, 4, 8, 1);
        t[(*n)++] = op3(at(c, GGML_TYPE_F32, 1792, 4, 4, 1), GGML_OP_GET_ROWS, a, ids, -1);
        break;
    case MMID:
        t[(*n)++] = at(c, GGML_TYPE_F32, 1536, 4, 3, 2);
        t[(*n)++] = at(c, GGML_TYPE_F32, 1664, 4, 1, 1);
        t[(*n)++] = op3(at(c, GGML_TYPE_F32, 1792, 3, 1, 1), GGML_OP_MUL_MAT_ID, a, a + 1, ids);
        break;
    }
}

/* The past-the-end id (hostile) or the last legal one (twin). */
static int32_t pick(enum consumer k, int v)
{
    return (k == MMID ? 2 : 8) - (v ? 1 : 0);
}

/* OPT_STEP_SGD: W (0) = W + G (64), alpha -1 and wd 0 at 80; the step's own tensor at 1024,
 * away from W. W's bytes are the ids. */
static void sgd_prep(struct apir_writer *w, const struct hostile_ctx *c, enum consumer k, int v)
{
    float g[6] = {bits_f32(0), bits_f32(pick(k, v)), bits_f32(1), bits_f32(2), -1, 0};
    if (k == MMID)
        g[0] = g[1], g[1] = 0;
    struct apir_wire_tensor t = at(c, GGML_TYPE_F32, 64, 6, 1, 1);
    hostile_tensor_set(w, &t, 0, g, sizeof g);
}

static void sgd_build(struct apir_writer *w, const struct hostile_ctx *c, enum consumer k)
{
    int64_t n_ids = k == MMID ? 1 : 4;
    struct apir_wire_tensor t[8] = {
        at(c, GGML_TYPE_F32, 0, n_ids, 1, 1),
        at(c, GGML_TYPE_F32, 64, n_ids, 1, 1),
        at(c, GGML_TYPE_F32, 80, 2, 1, 1),
        op3(at(c, GGML_TYPE_F32, 1024, n_ids, 1, 1), GGML_OP_OPT_STEP_SGD, 0, 1, 2),
        at(c, GGML_TYPE_I32, 0, n_ids, 1, 1),
    };
    uint32_t n = 5;
    consume(c, t, &n, 4, k);
    hostile_compute(w, c->stream, t, n);
}

#define SGD_ENTRY(name, k)                                                                         \
    static void name##_prep(struct apir_writer *w, const struct hostile_ctx *c, int v)             \
    {                                                                                              \
        sgd_prep(w, c, k, v);                                                                      \
    }                                                                                              \
    static void name(struct apir_writer *w, const struct hostile_ctx *c, int v)                    \
    {                                                                                              \
        (void)v;                                                                                   \
        sgd_build(w, c, k);                                                                        \
    }
SGD_ENTRY(sgd_rewrites_get_rows_back_ids, GRB)
SGD_ENTRY(sgd_rewrites_get_rows_ids, GR)
SGD_ENTRY(sgd_rewrites_expert_id, MMID)

/* OPT_STEP_ADAMW with beta1 = beta2 = 0: m = g, v = g * g (g = 2^-74 makes v the int 2).
 * W at 0, g at 64, the 7 params at 80, m at 128, v at 192, the step's tensor at 1024. */
static void adamw_prep(struct apir_writer *w, const struct hostile_ctx *c, bool moment_v, int v)
{
    float g[11] = {
        bits_f32(0), bits_f32(8 - (v ? 1 : 0)), bits_f32(1), bits_f32(2), 0.001f, 0, 0, 1, 0, 1, 1};
    if (moment_v)
        g[0] = v ? 0.0f : 0x1p-74f, g[1] = 0;
    struct apir_wire_tensor t = at(c, GGML_TYPE_F32, 64, 11, 1, 1);
    hostile_tensor_set(w, &t, 0, g, sizeof g);
}

static void adamw_build(struct apir_writer *w, const struct hostile_ctx *c, bool moment_v)
{
    struct apir_wire_tensor t[10] = {
        at(c, GGML_TYPE_F32, 0, 4, 1, 1),
        at(c, GGML_TYPE_F32, 64, 4, 1, 1),
        at(c, GGML_TYPE_F32, 128, 4, 1, 1),
        at(c, GGML_TYPE_F32, 192, 4, 1, 1),
        at(c, GGML_TYPE_F32, 80, 7, 1, 1),
        op3(at(c, GGML_TYPE_F32, 1024, 4, 1, 1), GGML_OP_OPT_STEP_ADAMW, 0, 1, 2),
        moment_v ? at(c, GGML_TYPE_I32, 192, 1, 1, 1) : at(c, GGML_TYPE_I32, 128, 4, 1, 1),
    };
    t[5].src[3] = 3, t[5].src[4] = 4;
    uint32_t n = 7;
    consume(c, t, &n, 6, moment_v ? MMID : GRB);
    hostile_compute(w, c->stream, t, n);
}

static void adamw_m_rewrites_ids_prep(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    adamw_prep(w, c, false, v);
}

static void adamw_m_rewrites_ids(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)v;
    adamw_build(w, c, false);
}

static void adamw_v_rewrites_expert_id_prep(struct apir_writer *w, const struct hostile_ctx *c,
                                            int v)
{
    adamw_prep(w, c, true, v);
}

static void adamw_v_rewrites_expert_id(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)v;
    adamw_build(w, c, true);
}

/* CPY of 32 floats into one Q8_0 block at 256 whose nb0 is 0: ggml_nbytes says 0 bytes, the
 * kernel writes 34. x = {127, 0, k} quantizes to d = 1 and quants {127, 0, k}: bytes 260..263
 * (quants 2..5), MUL_MAT_ID's expert id, become k. */
static void cpy_q8_zero_stride_over_id_prep(struct apir_writer *w, const struct hostile_ctx *c,
                                            int v)
{
    float x[32] = {127, 0, (float)pick(MMID, v)};
    struct apir_wire_tensor t = at(c, GGML_TYPE_F32, 0, 32, 1, 1);
    hostile_tensor_set(w, &t, 0, x, sizeof x);
}

static void cpy_q8_zero_stride_over_id(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)v;
    struct apir_wire_tensor t[8] = {at(c, GGML_TYPE_F32, 0, 32, 1, 1),
                                    at(c, GGML_TYPE_Q8_0, 256, 32, 1, 1)};
    t[1].nb[0] = 0;
    t[2] = op3(t[1], GGML_OP_CPY, 0, 1, -1);
    t[3] = at(c, GGML_TYPE_I32, 260, 1, 1, 1);
    uint32_t n = 4;
    consume(c, t, &n, 3, MMID);
    hostile_compute(w, c->stream, t, n);
}

/* Views written over GET_ROWS_BACK's ids at 0: a CPY of 4 ids from 64, a SET of one id (at 96)
 * into element 1 of a copy of 4 ids (at 64). */
static void view_over_ids_prep(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    int32_t ids[9] = {0, pick(GRB, v), 1, 2, 0, 0, 0, 0, pick(GRB, v)};
    struct apir_wire_tensor t = at(c, GGML_TYPE_I32, 64, 9, 1, 1);
    hostile_tensor_set(w, &t, 0, ids, sizeof ids);
}

static void view_over_ids(struct apir_writer *w, const struct hostile_ctx *c, bool set)
{
    struct apir_wire_tensor t[8] = {at(c, GGML_TYPE_I32, 64, 4, 1, 1),
                                    at(c, GGML_TYPE_I32, set ? 96 : 0, set ? 1 : 4, 1, 1)};
    t[2] = op3(at(c, GGML_TYPE_I32, 0, 4, 1, 1), set ? GGML_OP_SET : GGML_OP_CPY, 0, 1, -1);
    if (set) /* b viewed with dst strides 16, at byte offset 4, not in place */
        t[2].op_params[0] = t[2].op_params[1] = t[2].op_params[2] = 16, t[2].op_params[3] = 4;
    t[3] = at(c, GGML_TYPE_I32, 0, 4, 1, 1);
    uint32_t n = 4;
    consume(c, t, &n, 3, GRB);
    hostile_compute(w, c->stream, t, n);
}

#define cpy_view_over_ids_prep view_over_ids_prep
#define set_view_over_ids_prep view_over_ids_prep
static void cpy_view_over_ids(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)v;
    view_over_ids(w, c, false);
}

static void set_view_over_ids(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)v;
    view_over_ids(w, c, true);
}

#define W(n)                                                                                       \
    {                                                                                              \
        .name = #n, .klass = "index-writer", .build = n, .prep = n##_prep, .twin = true            \
    }

const struct hostile_entry hostile_index[] = {
    W(sgd_rewrites_get_rows_back_ids),
    W(sgd_rewrites_get_rows_ids),
    W(sgd_rewrites_expert_id),
    W(adamw_m_rewrites_ids),
    W(adamw_v_rewrites_expert_id),
    W(cpy_q8_zero_stride_over_id),
    W(cpy_view_over_ids),
    W(set_view_over_ids),
    {0},
};
