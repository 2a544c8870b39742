/* Index-reading ops (src/host/indexplan.c), in-process on the CPU backend: every index a kernel
 * would use is checked against its tensor before the kernel runs, whether it comes from the
 * guest's data or from a node of the same graph; out-of-range, negative and huge ids are
 * refused (never an abort, never an access outside the tensor), in-range ones computed. */
#include "session_msgs.h"

static struct apir_session *sess;
static uint64_t buf, stream;

static struct apir_wire_tensor typed(uint32_t type, size_t esize, uint64_t offset, int64_t ne0,
                                     int64_t ne1, int64_t ne2)
{
    struct apir_wire_tensor t;
    apir_wire_tensor_clear(&t);
    t.type = type;
    t.ne[0] = ne0, t.ne[1] = ne1, t.ne[2] = ne2, t.ne[3] = 1;
    t.nb[0] = esize;
    t.nb[1] = esize * (uint64_t)ne0;
    t.nb[2] = t.nb[1] * (uint64_t)ne1;
    t.nb[3] = t.nb[2] * (uint64_t)ne2;
    t.buffer = buf;
    t.offset = offset;
    return t;
}

/* Data commands carry the tensor alone: without its op and sources. */
static int set_raw(const struct apir_wire_tensor *t, const void *v, size_t len)
{
    struct apir_wire_tensor lone = *t;
    lone.op = GGML_OP_NONE;
    for (unsigned k = 0; k < APIR_MAX_SRC; k++)
        lone.src[k] = -1;
    return tensor_set(sess, &lone, v, len);
}

static int set_i32(const struct apir_wire_tensor *t, const int32_t *v, size_t n)
{
    return set_raw(t, v, n * sizeof *v);
}

static int set_f32(const struct apir_wire_tensor *t, const float *v, size_t n)
{
    return set_raw(t, v, n * sizeof *v);
}

/* The float whose bits are the int32 v: an optimizer step that writes it over the bytes of an
 * I32 tensor writes the index v (small ints are subnormal floats, which SGD's w*1 + g and
 * ADAMW's m*0 + g reproduce exactly). */
static float bits_f32(int32_t v)
{
    float f;
    memcpy(&f, &v, sizeof f);
    return f;
}

static struct apir_wire_tensor node3(struct apir_wire_tensor t, uint32_t op, int32_t s0, int32_t s1,
                                     int32_t s2)
{
    t.op = op;
    t.src[0] = s0, t.src[1] = s1, t.src[2] = s2;
    t.flags = GGML_TENSOR_FLAG_COMPUTE;
    return t;
}

/* GET_ROWS of a 4-row matrix: rows 0..3 legal; -1, 4 and INT32_MAX refused. */
static void test_get_rows(void)
{
    struct apir_wire_tensor t[3] = {
        f32_tensor(buf, 0, 8), /* 2 x 4 below */
        typed(GGML_TYPE_I32, 4, 256, 2, 1, 1),
        typed(GGML_TYPE_F32, 4, 512, 2, 2, 1),
    };
    t[0].ne[0] = 2, t[0].ne[1] = 4, t[0].nb[1] = 8, t[0].nb[2] = t[0].nb[3] = 32;
    t[2].op = GGML_OP_GET_ROWS;
    t[2].src[0] = 0, t[2].src[1] = 1;
    t[2].flags = GGML_TENSOR_FLAG_COMPUTE;
    float m[8] = {0, 1, 10, 11, 20, 21, 30, 31};
    CHECK(tensor_set(sess, &t[0], m, sizeof m) == APIR_OK);
    const int32_t node = 2;
    int32_t good[2] = {3, 1};
    CHECK(set_i32(&t[1], good, 2) == APIR_OK);
    CHECK(graph_compute(sess, stream, t, 3, &node, 1) == APIR_OK);
    CHECK(get_f32(sess, t[2], 0) == 30.0f && get_f32(sess, t[2], 3) == 11.0f);
    const int32_t bad[][2] = {{-1, 0}, {0, 4}, {INT32_MAX, 0}};
    for (int k = 0; k < 3; k++) {
        CHECK(set_i32(&t[1], bad[k], 2) == APIR_OK);
        CHECK(recompute(sess, stream) == APIR_E_INVALID); /* the cached graph is checked too */
        CHECK(graph_compute(sess, stream, t, 3, &node, 1) == APIR_E_INVALID);
    }
    CHECK(set_i32(&t[1], good, 2) == APIR_OK);
    CHECK(recompute(sess, stream) == APIR_OK && get_f32(sess, t[2], 0) == 30.0f);
}

/* MUL_MAT_ID with 2 experts: ids 0..1 legal; 2 and -1 refused (the CPU kernel's check is an
 * assert() compiled out of release builds). */
static void test_mul_mat_id(void)
{
    struct apir_wire_tensor t[4] = {
        typed(GGML_TYPE_F32, 4, 0, 4, 3, 2),    /* as: 2 experts of 3x4 */
        typed(GGML_TYPE_F32, 4, 1024, 4, 1, 1), /* b: one token */
        typed(GGML_TYPE_I32, 4, 1536, 1, 1, 1), /* ids: one expert per token */
        typed(GGML_TYPE_F32, 4, 2048, 3, 1, 1), /* result */
    };
    t[3].op = GGML_OP_MUL_MAT_ID;
    t[3].src[0] = 0, t[3].src[1] = 1, t[3].src[2] = 2;
    t[3].flags = GGML_TENSOR_FLAG_COMPUTE;
    float as[24], b[4] = {1, 1, 1, 1};
    for (int i = 0; i < 24; i++)
        as[i] = (float)i;
    CHECK(tensor_set(sess, &t[0], as, sizeof as) == APIR_OK);
    CHECK(tensor_set(sess, &t[1], b, sizeof b) == APIR_OK);
    const int32_t node = 3;
    int32_t id = 1;
    CHECK(set_i32(&t[2], &id, 1) == APIR_OK);
    CHECK(graph_compute(sess, stream, t, 4, &node, 1) == APIR_OK);
    CHECK(get_f32(sess, t[3], 0) == 12.0f + 13 + 14 + 15); /* expert 1, row 0 */
    const int32_t bad[] = {2, -1, 1 << 30};
    for (int k = 0; k < 3; k++) {
        CHECK(set_i32(&t[2], &bad[k], 1) == APIR_OK);
        CHECK(graph_compute(sess, stream, t, 4, &node, 1) == APIR_E_INVALID);
    }
}

/* Indices written by the graph itself: ARGSORT of 8 values gives 0..7, then GET_ROWS from a
 * 4-row matrix. Checked between the two nodes: refused, whatever the guest wrote before. */
static void test_indices_from_graph(void)
{
    struct apir_wire_tensor t[4] = {
        f32_tensor(buf, 0, 8),                  /* 2 x 4 matrix */
        typed(GGML_TYPE_F32, 4, 256, 8, 1, 1),  /* values to sort */
        typed(GGML_TYPE_I32, 4, 512, 8, 1, 1),  /* argsort result */
        typed(GGML_TYPE_F32, 4, 1024, 2, 8, 1), /* rows */
    };
    t[0].ne[0] = 2, t[0].ne[1] = 4, t[0].nb[1] = 8, t[0].nb[2] = t[0].nb[3] = 32;
    t[2].op = GGML_OP_ARGSORT;
    t[2].src[0] = 1;
    t[2].flags = GGML_TENSOR_FLAG_COMPUTE;
    t[3].op = GGML_OP_GET_ROWS;
    t[3].src[0] = 0, t[3].src[1] = 2;
    t[3].flags = GGML_TENSOR_FLAG_COMPUTE;
    float v[8] = {7, 6, 5, 4, 3, 2, 1, 0};
    CHECK(tensor_set(sess, &t[1], v, sizeof v) == APIR_OK);
    int32_t zeros[8] = {0};
    CHECK(set_i32(&t[2], zeros, 8) == APIR_OK); /* in range before the graph runs */
    const int32_t nodes[2] = {2, 3};
    CHECK(graph_compute(sess, stream, t, 4, nodes, 2) == APIR_E_INVALID);
    /* The same with a 8-row matrix is legal. */
    t[0].ne[0] = 1, t[0].ne[1] = 8, t[0].nb[1] = 4;
    t[3].ne[0] = 1, t[3].nb[1] = 4;
    CHECK(graph_compute(sess, stream, t, 4, nodes, 2) == APIR_OK && apir_read_u32(&rep) == 0);
}

/* MUL_MAT_ID's operands at fixed places: as (2 experts of 3 x 4, as[i] = i) at 1536, then 100s
 * where an expert id of 2 would read, b (ones) at 1664, the result at 1792. */
#define MMID_EXPERT1 (12.0f + 13 + 14 + 15) /* row 0 of expert 1 times b */
static void mmid_operands(struct apir_wire_tensor *as, struct apir_wire_tensor *b,
                          struct apir_wire_tensor *out)
{
    *as = typed(GGML_TYPE_F32, 4, 1536, 4, 3, 2);
    *b = typed(GGML_TYPE_F32, 4, 1664, 4, 1, 1);
    *out = typed(GGML_TYPE_F32, 4, 1792, 3, 1, 1);
    float v[32], ones[4] = {1, 1, 1, 1};
    for (int i = 0; i < 32; i++)
        v[i] = i < 24 ? (float)i : 100.0f;
    struct apir_wire_tensor all = typed(GGML_TYPE_F32, 4, 1536, 32, 1, 1);
    CHECK(set_f32(&all, v, 32) == APIR_OK);
    CHECK(set_f32(b, ones, 4) == APIR_OK);
}

/* GET_ROWS_BACK's operands: 4 grad rows of 2 (1..8) at grad_off, the result (rows 0..7) at
 * 512; an id of 8 would add into the bytes past it. */
static void grb_operands(uint64_t grad_off, struct apir_wire_tensor *grad,
                         struct apir_wire_tensor *out)
{
    *grad = typed(GGML_TYPE_F32, 4, grad_off, 2, 4, 1);
    *out = typed(GGML_TYPE_F32, 4, 512, 2, 8, 1);
    float v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    CHECK(set_f32(grad, v, 8) == APIR_OK);
}

/* OPT_STEP_SGD writes its weights (src0), not its own tensor: with alpha -1 and wd 0 it turns
 * W into W + G. W's bytes are the ids of a later GET_ROWS_BACK, in range (0) when the graph
 * starts: they must be checked again after the step. The step's tensor lies away from W
 * (the kernel never writes it) or over W (as ggml builds it): both are writers of W. */
static void test_sgd_rewrites_ids(void)
{
    struct apir_wire_tensor t[7] = {
        typed(GGML_TYPE_F32, 4, 0, 4, 1, 1),    /* W */
        typed(GGML_TYPE_F32, 4, 64, 4, 1, 1),   /* G */
        typed(GGML_TYPE_F32, 4, 128, 2, 1, 1),  /* alpha, wd */
        typed(GGML_TYPE_F32, 4, 1024, 4, 1, 1), /* the step's own tensor */
        typed(GGML_TYPE_I32, 4, 0, 4, 1, 1),    /* W's bytes as ids */
    };
    grb_operands(256, &t[5], &t[6]);
    t[3] = node3(t[3], GGML_OP_OPT_STEP_SGD, 0, 1, 2);
    t[6] = node3(t[6], GGML_OP_GET_ROWS_BACK, 5, 4, -1);
    const int32_t nodes[2] = {3, 6};
    float zero[4] = {0}, p[2] = {-1, 0};
    CHECK(set_f32(&t[2], p, 2) == APIR_OK);
    for (int place = 0; place < 2; place++) {
        t[3].offset = place ? 0 : 1024;
        for (int32_t k = 8; k >= 7; k--) { /* row 8 is past the result, 7 its last */
            float g[4] = {bits_f32(0), bits_f32(k), bits_f32(1), bits_f32(2)};
            CHECK(set_f32(&t[0], zero, 4) == APIR_OK);
            CHECK(set_f32(&t[1], g, 4) == APIR_OK);
            CHECK(graph_compute(sess, stream, t, 7, nodes, 2) ==
                  (k == 8 ? APIR_E_INVALID : APIR_OK));
        }
        /* id 7 was used: row 7 holds grad row 1 (the step's write reached the kernel). */
        CHECK(get_f32(sess, t[6], 14) == 3.0f && get_f32(sess, t[6], 15) == 4.0f);
        /* Rerun from the cache: the step makes id 7 + 7 = 14, checked after it again. */
        CHECK(recompute(sess, stream) == APIR_E_INVALID);
    }
}

/* The same step rewriting MUL_MAT_ID's expert id: 2 of 2 experts is refused, 1 computed. */
static void test_sgd_rewrites_expert_id(void)
{
    struct apir_wire_tensor t[8] = {
        typed(GGML_TYPE_F32, 4, 0, 1, 1, 1),    /* W */
        typed(GGML_TYPE_F32, 4, 64, 1, 1, 1),   /* G */
        typed(GGML_TYPE_F32, 4, 128, 2, 1, 1),  /* alpha, wd */
        typed(GGML_TYPE_F32, 4, 1024, 1, 1, 1), /* the step's own tensor */
        typed(GGML_TYPE_I32, 4, 0, 1, 1, 1),    /* W's bytes as the expert id */
    };
    mmid_operands(&t[5], &t[6], &t[7]);
    t[3] = node3(t[3], GGML_OP_OPT_STEP_SGD, 0, 1, 2);
    t[7] = node3(t[7], GGML_OP_MUL_MAT_ID, 5, 6, 4);
    const int32_t nodes[2] = {3, 7};
    float zero = 0, p[2] = {-1, 0};
    CHECK(set_f32(&t[2], p, 2) == APIR_OK);
    for (int32_t k = 2; k >= 1; k--) {
        float g = bits_f32(k);
        CHECK(set_f32(&t[0], &zero, 1) == APIR_OK);
        CHECK(set_f32(&t[1], &g, 1) == APIR_OK);
        CHECK(graph_compute(sess, stream, t, 8, nodes, 2) == (k == 2 ? APIR_E_INVALID : APIR_OK));
    }
    CHECK(get_f32(sess, t[7], 0) == MMID_EXPERT1);
}

/* OPT_STEP_ADAMW writes its weights and both moments: with beta1 = beta2 = 0, m becomes g and
 * v becomes g * g. m's bytes are GET_ROWS_BACK's ids, v's MUL_MAT_ID's expert id
 * (g = 2^-74: g * g has the bits of the int 2). */
static void test_adamw_rewrites_ids(void)
{
    struct apir_wire_tensor t[10] = {
        typed(GGML_TYPE_F32, 4, 0, 4, 1, 1),    /* W */
        typed(GGML_TYPE_F32, 4, 64, 4, 1, 1),   /* g */
        typed(GGML_TYPE_F32, 4, 128, 4, 1, 1),  /* m */
        typed(GGML_TYPE_F32, 4, 192, 4, 1, 1),  /* v */
        typed(GGML_TYPE_F32, 4, 256, 7, 1, 1),  /* alpha, beta1, beta2, eps, wd, beta1h, beta2h */
        typed(GGML_TYPE_F32, 4, 1024, 4, 1, 1), /* the step's own tensor */
    };
    t[5] = node3(t[5], GGML_OP_OPT_STEP_ADAMW, 0, 1, 2);
    t[5].src[3] = 3, t[5].src[4] = 4;
    float zero[52] = {0}, p[7] = {0.001f, 0, 0, 1, 0, 1, 1};
    CHECK(set_f32(&t[4], p, 7) == APIR_OK);
    /* m over GET_ROWS_BACK's ids */
    t[6] = typed(GGML_TYPE_I32, 4, 128, 4, 1, 1);
    grb_operands(320, &t[7], &t[8]);
    t[8] = node3(t[8], GGML_OP_GET_ROWS_BACK, 7, 6, -1);
    const int32_t nodes[2] = {5, 8};
    struct apir_wire_tensor wmv = typed(GGML_TYPE_F32, 4, 0, 52, 1, 1); /* W, g, m, v */
    for (int32_t k = 8; k >= 7; k--) {
        float g[4] = {bits_f32(0), bits_f32(k), bits_f32(1), bits_f32(2)};
        CHECK(set_f32(&wmv, zero, 52) == APIR_OK);
        CHECK(set_f32(&t[1], g, 4) == APIR_OK);
        CHECK(graph_compute(sess, stream, t, 9, nodes, 2) == (k == 8 ? APIR_E_INVALID : APIR_OK));
    }
    CHECK(get_f32(sess, t[8], 14) == 3.0f);
    /* v over MUL_MAT_ID's expert id */
    t[6] = typed(GGML_TYPE_I32, 4, 192, 1, 1, 1);
    mmid_operands(&t[7], &t[8], &t[9]);
    t[9] = node3(t[9], GGML_OP_MUL_MAT_ID, 7, 8, 6);
    const int32_t nodes2[2] = {5, 9};
    for (int hostile = 1; hostile >= 0; hostile--) {
        float g[4] = {hostile ? 0x1p-74f : 0.0f, 0, 0, 0};
        CHECK(set_f32(&wmv, zero, 52) == APIR_OK);
        CHECK(set_f32(&t[1], g, 4) == APIR_OK);
        CHECK(graph_compute(sess, stream, t, 10, nodes2, 2) ==
              (hostile ? APIR_E_INVALID : APIR_OK));
    }
    CHECK(get_f32(sess, t[9], 0) == 0.0f + 1 + 2 + 3); /* expert 0 */
}

/* A writer's bytes are its full extent, not ggml_nbytes: a Q8_0 row of one block with nb0 = 0
 * has a ggml_nbytes of 0, yet the quantizing CPY writes its 34 bytes. Bytes 4..7 of the block
 * (quants 2..5) are MUL_MAT_ID's expert id: x = {127, 0, k, 0...} quantizes to d = 1 and
 * quants {127, 0, k, 0...}, so the id becomes k. */
static void test_odd_stride_writer(void)
{
    struct apir_wire_tensor t[8] = {
        typed(GGML_TYPE_F32, 4, 0, 32, 1, 1),    /* x */
        typed(GGML_TYPE_Q8_0, 0, 256, 32, 1, 1), /* the destination, nb0 = 0 */
        typed(GGML_TYPE_Q8_0, 0, 256, 32, 1, 1), /* CPY */
        typed(GGML_TYPE_I32, 4, 260, 1, 1, 1),   /* the expert id, inside the block */
    };
    t[2] = node3(t[2], GGML_OP_CPY, 0, 1, -1);
    mmid_operands(&t[4], &t[5], &t[6]);
    t[6] = node3(t[6], GGML_OP_MUL_MAT_ID, 4, 5, 3);
    const int32_t nodes[2] = {2, 6};
    int32_t zero = 0;
    for (int32_t k = 2; k >= 1; k--) {
        float x[32] = {127, 0, (float)k};
        CHECK(set_f32(&t[0], x, 32) == APIR_OK);
        CHECK(set_i32(&t[3], &zero, 1) == APIR_OK);
        CHECK(graph_compute(sess, stream, t, 7, nodes, 2) == (k == 2 ? APIR_E_INVALID : APIR_OK));
    }
    CHECK(get_f32(sess, t[6], 0) == MMID_EXPERT1);
}

/* A consumer over its own ids: GET_ROWS_BACK's result placed where its ids are (in place,
 * which ggml's allocator never does but a graph may say). The kernel clears its result, then
 * adds grad rows into it: it would read ids it has just overwritten (here, a row 9 of 8). The
 * kernel must read the ids that were checked: {0, 5, 2}. */
static void test_consumer_over_own_ids(void)
{
    struct apir_wire_tensor t[3] = {
        typed(GGML_TYPE_F32, 4, 256, 2, 3, 1), /* grad rows */
        typed(GGML_TYPE_I32, 4, 0, 3, 1, 1),   /* ids, in the result's first row */
        typed(GGML_TYPE_F32, 4, 0, 2, 8, 1),   /* result: rows 0..7 */
    };
    t[2] = node3(t[2], GGML_OP_GET_ROWS_BACK, 0, 1, -1);
    struct apir_wire_tensor past = typed(GGML_TYPE_F32, 4, 64, 4, 1, 1); /* rows 8, 9 */
    float grad[6] = {1, bits_f32(9), 3, 4, 5, 6}, sentinel[4] = {-7, -7, -7, -7};
    int32_t ids[3] = {0, 5, 2};
    CHECK(set_f32(&t[0], grad, 6) == APIR_OK);
    CHECK(set_i32(&t[1], ids, 3) == APIR_OK);
    CHECK(set_f32(&past, sentinel, 4) == APIR_OK);
    const int32_t node = 2;
    CHECK(graph_compute(sess, stream, t, 3, &node, 1) == APIR_OK && apir_read_u32(&rep) == 0);
    CHECK(get_f32(sess, t[2], 10) == 3.0f && get_f32(sess, t[2], 11) == 4.0f); /* row 5 */
    CHECK(get_f32(sess, t[2], 4) == 5.0f && get_f32(sess, t[2], 5) == 6.0f);   /* row 2 */
    CHECK(get_f32(sess, past, 2) == -7.0f && get_f32(sess, past, 3) == -7.0f); /* row 9 */
}

/* GET_ROWS_BACK's kernel reads its ids as a dense int32 array whatever their strides: ids of 3
 * elements with nb0 = 0 are checked as the first element three times, while the kernel would
 * read the two after it (here 1 << 20: a write 8 MiB past the result). The kernel must read
 * the three values that were checked. */
static void test_ids_read_densely(void)
{
    struct apir_wire_tensor t[3] = {
        typed(GGML_TYPE_F32, 4, 256, 2, 3, 1), /* grad rows */
        typed(GGML_TYPE_I32, 0, 128, 3, 1, 1), /* ids: nb0 = 0 */
        typed(GGML_TYPE_F32, 4, 512, 2, 8, 1), /* result: rows 0..7 */
    };
    t[1].nb[1] = t[1].nb[2] = t[1].nb[3] = 12;
    t[2] = node3(t[2], GGML_OP_GET_ROWS_BACK, 0, 1, -1);
    float grad[6] = {1, 2, 3, 4, 5, 6};
    int32_t bytes[3] = {0, 1 << 20, 5};
    struct apir_wire_tensor dense = typed(GGML_TYPE_I32, 4, 128, 3, 1, 1);
    CHECK(set_f32(&t[0], grad, 6) == APIR_OK);
    CHECK(set_i32(&dense, bytes, 3) == APIR_OK);
    const int32_t node = 2;
    CHECK(graph_compute(sess, stream, t, 3, &node, 1) == APIR_OK && apir_read_u32(&rep) == 0);
    CHECK(get_f32(sess, t[2], 0) == 9.0f && get_f32(sess, t[2], 1) == 12.0f); /* 3 rows in 0 */
    CHECK(get_f32(sess, t[2], 10) == 0.0f);                                   /* row 5 */
}

int main(void)
{
    char err[256];
    struct apir_host_config cfg = {.backend_dir = APIR_GGML_BACKEND_DIR, .device_name = "CPU"};
    struct apir_host *host = apir_host_create(&cfg, err, sizeof err);
    if (!host) {
        fprintf(stderr, "cannot create host: %s\n", err);
        return 1;
    }
    apir_writer_init(&req, 1u << 20);
    sess = apir_session_create(host);
    CHECK(hello_features(sess, APIR_FEAT_GRAPH_CACHE) == APIR_OK);
    uint64_t buft, dev = dev_info(sess, &buft);
    int st;
    buf = buffer_alloc(sess, buft, 4096, &st);
    apir_write_u64(msg_begin(), dev);
    CHECK(msg_send(sess, APIR_CMD_STREAM_NEW) == APIR_OK);
    stream = apir_read_u64(&rep);
    test_get_rows();
    test_mul_mat_id();
    test_indices_from_graph();
    test_sgd_rewrites_ids();
    test_sgd_rewrites_expert_id();
    test_adamw_rewrites_ids();
    test_odd_stride_writer();
    test_consumer_over_own_ids();
    test_ids_read_densely();
    apir_session_destroy(sess);
    apir_writer_free(&req);
    apir_host_destroy(host);
    return apir_check_summary("indices");
}
