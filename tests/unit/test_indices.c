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
static int set_i32(const struct apir_wire_tensor *t, const int32_t *v, size_t n)
{
    struct apir_wire_tensor lone = *t;
    lone.op = GGML_OP_NONE;
    for (unsigned k = 0; k < APIR_MAX_SRC; k++)
        lone.src[k] = -1;
    return tensor_set(sess, &lone, v, n * sizeof *v);
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
    apir_session_destroy(sess);
    apir_writer_free(&req);
    apir_host_destroy(host);
    return apir_check_summary("indices");
}
