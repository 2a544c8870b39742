/* Extra buffer types (APIR_FEAT_EXTRA_BUFTS, ggml-cpu's CPU_REPACK) through the in-process
 * dispatcher: a Q4_0 matmul with its weight in a repack buffer gives the plain buffer's
 * result, and every request ggml-cpu would assert (abort) on is refused instead: partial or
 * non-contiguous sets, tensors the type does not take, reads, copies, memsets, and graphs using
 * such a weight other than as a supported matmul's src 0. Skipped where this CPU does not
 * repack Q4_0 (no AVX2, NEON dotprod, ...). */
#include "session_msgs.h"

#include <math.h>
#include <stdio.h>

enum { K = 256, M = 64, N = 4 };
#define Q4_ROW (18 * K / 32)
#define Q4_BYTES (Q4_ROW * M)

static struct apir_wire_tensor q4_tensor(uint64_t buffer, uint64_t offset)
{
    struct apir_wire_tensor t;
    apir_wire_tensor_clear(&t);
    t.type = GGML_TYPE_Q4_0;
    t.ne[0] = K;
    t.ne[1] = M;
    t.ne[2] = t.ne[3] = 1;
    t.nb[0] = 18;
    t.nb[1] = Q4_ROW;
    t.nb[2] = t.nb[3] = Q4_BYTES;
    t.buffer = buffer;
    t.offset = offset;
    return t;
}

static struct apir_wire_tensor f32_2d(uint64_t buffer, uint64_t offset, int64_t n0, int64_t n1)
{
    struct apir_wire_tensor t = f32_tensor(buffer, offset, n0);
    t.ne[1] = n1;
    t.nb[2] = t.nb[3] = 4 * (uint64_t)(n0 * n1);
    return t;
}

static struct apir_wire_tensor node(struct apir_wire_tensor t, uint32_t op, int32_t a, int32_t b)
{
    t.op = op;
    t.src[0] = a;
    t.src[1] = b;
    t.flags = GGML_TENSOR_FLAG_COMPUTE;
    return t;
}

static int data_cmd(struct apir_session *s, uint16_t cmd, const struct apir_wire_tensor *t,
                    uint64_t offset, const void *data, uint64_t len)
{
    struct apir_writer *w = msg_begin();
    apir_wire_graph_encode_lone(w, t);
    apir_write_u64(w, offset);
    if (cmd == APIR_CMD_TENSOR_SET)
        apir_write_blob(w, data, (size_t)len);
    else
        apir_write_u64(w, len);
    if (cmd == APIR_CMD_TENSOR_MEMSET)
        apir_write_u32(w, 0);
    return msg_send(s, cmd);
}

/* BUFT_SUPPORTS_OP for MUL_MAT(weight of wtype, src1 of xtype). */
static int buft_supports(struct apir_session *s, uint64_t buft, uint32_t op, uint32_t xtype)
{
    struct apir_wire_tensor t[3] = {q4_tensor(0, 0), f32_2d(0, 0, K, N), f32_2d(0, 0, M, N)};
    if (xtype == GGML_TYPE_F16) {
        t[1].type = GGML_TYPE_F16;
        t[1].nb[0] = 2;
        t[1].nb[1] = 2 * K;
        t[1].nb[2] = t[1].nb[3] = 2 * K * N;
    }
    t[2] = node(t[2], op, 0, 1);
    if (op == GGML_OP_GET_ROWS) { /* rows of the weight, by I32 ids */
        t[1] = f32_tensor(0, 0, N);
        t[1].type = GGML_TYPE_I32;
        t[2] = node(f32_2d(0, 0, K, N), op, 0, 1);
    }
    const int32_t node = 2;
    struct apir_writer *w = msg_begin();
    apir_write_u64(w, buft);
    apir_wire_graph_encode(w, t, 3, &node, 1);
    int st = msg_send(s, APIR_CMD_BUFT_SUPPORTS_OP);

    return st == APIR_OK ? (int)apir_read_u32(&rep) : -st;
}

/* A session without the feature sees none of it. */
static void test_not_negotiated(struct apir_host *host)
{
    struct apir_session *s = apir_session_create(host);
    CHECK(hello_features(s, APIR_FEAT_GRAPH_CACHE) == APIR_OK);
    uint64_t buft, dev = dev_info(s, &buft);
    apir_write_u64(msg_begin(), dev);
    CHECK(msg_send(s, APIR_CMD_DEVICE_EXTRA_BUFTS) == APIR_E_UNSUPPORTED);
    CHECK(buft_supports(s, buft, GGML_OP_MUL_MAT, GGML_TYPE_F32) == -APIR_E_UNSUPPORTED);
    apir_session_destroy(s);
}

/* The device's extra buffer type named CPU_REPACK, or 0. */
static uint64_t repack_buft(struct apir_session *s, uint64_t dev)
{
    uint64_t found = 0;
    for (int round = 0; round < 2; round++) { /* asked twice: the same handle */
        apir_write_u64(msg_begin(), dev);
        CHECK(msg_send(s, APIR_CMD_DEVICE_EXTRA_BUFTS) == APIR_OK);
        uint32_t n = apir_read_u32(&rep);
        CHECK(n <= APIR_MAX_EXTRA_BUFTS);
        for (uint32_t i = 0; i < n; i++) {
            uint64_t h = apir_read_u64(&rep);
            char name[APIR_MAX_NAME];
            apir_read_str(&rep, name, sizeof name);
            apir_read_u64(&rep), apir_read_u64(&rep), apir_read_u32(&rep);
            if (!strcmp(name, "CPU_REPACK")) {
                CHECK(round == 0 || h == found);
                found = h;
            }
        }
        CHECK(apir_reader_done(&rep));
    }
    return found;
}

static void fill_q4(void *q4, float scale)
{
    float w[K * M];
    for (int i = 0; i < K * M; i++)
        w[i] = scale * (float)((i * 37 % 101) - 50) / 50.0f;
    ggml_quantize_chunk(GGML_TYPE_Q4_0, w, q4, 0, M, K, NULL);
}

/* Data commands: whole contiguous tensors the type takes, set only. */
static void test_data(struct apir_session *s, uint64_t xbuf, uint64_t pbuf, const void *q4)
{
    struct apir_wire_tensor w = q4_tensor(xbuf, 0);
    CHECK(data_cmd(s, APIR_CMD_TENSOR_SET, &w, 0, q4, Q4_BYTES / 2) == APIR_E_INVALID);
    CHECK(data_cmd(s, APIR_CMD_TENSOR_SET, &w, Q4_ROW, q4, Q4_BYTES - Q4_ROW) == APIR_E_INVALID);
    struct apir_wire_tensor gap = w; /* rows with gaps: not contiguous */
    gap.ne[1] = M / 2;
    gap.nb[1] = 2 * Q4_ROW;
    CHECK(data_cmd(s, APIR_CMD_TENSOR_SET, &gap, 0, q4, Q4_BYTES - Q4_ROW) == APIR_E_INVALID);
    struct apir_wire_tensor f = f32_tensor(xbuf, 0, 64); /* a type CPU_REPACK does not take */
    CHECK(data_cmd(s, APIR_CMD_TENSOR_SET, &f, 0, q4, 256) == APIR_E_INVALID);
    apir_wire_graph_encode_lone(msg_begin(), &f);
    CHECK(msg_send(s, APIR_CMD_TENSOR_INIT) == APIR_E_INVALID);
    apir_wire_graph_encode_lone(msg_begin(), &w);
    CHECK(msg_send(s, APIR_CMD_TENSOR_INIT) == APIR_OK);
    CHECK(data_cmd(s, APIR_CMD_TENSOR_SET, &w, 0, q4, Q4_BYTES) == APIR_OK);
    CHECK(data_cmd(s, APIR_CMD_TENSOR_GET, &w, 0, NULL, 64) == APIR_E_UNSUPPORTED);
    CHECK(data_cmd(s, APIR_CMD_TENSOR_MEMSET, &w, 0, NULL, 64) == APIR_E_UNSUPPORTED);
    struct apir_wire_tensor pair[2] = {w, q4_tensor(pbuf, 8192)}; /* TENSOR_COPY's (src, dst) */
    const int32_t both[2] = {0, 1};
    apir_wire_graph_encode(msg_begin(), pair, 2, both, 2);
    CHECK(msg_send(s, APIR_CMD_TENSOR_COPY) == APIR_E_UNSUPPORTED);
    CHECK(data_cmd(s, APIR_CMD_TENSOR_SET, &pair[1], 0, q4, Q4_BYTES) == APIR_OK); /* plain twin */
}

/* Y = W x through the repack buffer equals the plain buffer's result, and recomputes. */
static void test_matmul(struct apir_session *s, uint64_t stream, uint64_t xbuf, uint64_t pbuf)
{
    float x[K * N];
    for (int i = 0; i < K * N; i++)
        x[i] = (float)((i * 13 % 29) - 14) / 14.0f;
    struct apir_wire_tensor xt = f32_2d(pbuf, 0, K, N);
    CHECK(tensor_set(s, &xt, x, sizeof x) == APIR_OK);
    for (int plain = 0; plain < 2; plain++) {
        struct apir_wire_tensor t[3] = {plain ? q4_tensor(pbuf, 8192) : q4_tensor(xbuf, 0), xt,
                                        f32_2d(pbuf, plain ? 20480 : 4096, M, N)};
        t[2] = node(t[2], GGML_OP_MUL_MAT, 0, 1);
        int32_t nodes[] = {2};
        CHECK(graph_compute(s, stream, t, 3, nodes, 1) == APIR_OK);
        CHECK(recompute(s, stream) == APIR_OK);
    }
    int close = 0;
    for (int i = 0; i < M * N; i++) {
        float a = get_f32(s, f32_2d(pbuf, 4096, M, N), i);
        float b = get_f32(s, f32_2d(pbuf, 20480, M, N), i);
        close += fabsf(a - b) <= 1e-3f * fabsf(b) + 1e-3f && b != 0.0f;
    }
    CHECK(close == M * N);
}

/* Graphs using the repack weight any other way are refused before any kernel runs; the same
 * graph on the plain twin is accepted (the refusal is about the buffer, nothing else). */
static void test_graph_refusals(struct apir_session *s, uint64_t stream, uint64_t xbuf,
                                uint64_t pbuf)
{
    int32_t nodes[] = {2};
    for (int plain = 0; plain < 2; plain++) {
        int want = plain ? APIR_OK : APIR_E_INVALID;
        struct apir_wire_tensor w = plain ? q4_tensor(pbuf, 8192) : q4_tensor(xbuf, 0);
        struct apir_wire_tensor ids = f32_tensor(pbuf, 24576, N);
        ids.type = GGML_TYPE_I32;
        int32_t zero[N] = {0};
        CHECK(tensor_set(s, &ids, zero, sizeof zero) == APIR_OK);
        struct apir_wire_tensor t[3] = {w, ids,
                                        node(f32_2d(pbuf, 4096, K, N), GGML_OP_GET_ROWS, 0, 1)};
        CHECK(graph_compute(s, stream, t, 3, nodes, 1) == want); /* rows read as plain Q4_0 */
        t[1] = node(q4_tensor(pbuf, 32768), GGML_OP_CPY, 0, -1);
        t[1].src[1] = 1; /* the weight copied out (the copy's destination is its own src 1) */
        int32_t cpy[] = {1};
        CHECK(graph_compute(s, stream, t, 2, cpy, 1) == want);
    }
    /* An F16 src1 (the repack kernel asserts F32); a view of the weight, even as a matmul's
     * src 0; a node written into the repack buffer. */
    struct apir_wire_tensor x16 = f32_2d(pbuf, 0, K, N);
    x16.type = GGML_TYPE_F16;
    x16.nb[0] = 2;
    x16.nb[1] = 2 * K;
    x16.nb[2] = x16.nb[3] = 2 * K * N;
    struct apir_wire_tensor t[3] = {q4_tensor(xbuf, 0), x16, f32_2d(pbuf, 4096, M, N)};
    t[2] = node(t[2], GGML_OP_MUL_MAT, 0, 1);
    CHECK(graph_compute(s, stream, t, 3, nodes, 1) == APIR_E_INVALID);
    t[1] = f32_2d(pbuf, 0, K, N);
    t[2].op = GGML_OP_NONE;
    t[2].src[0] = t[2].src[1] = -1;
    struct apir_wire_tensor v = q4_tensor(xbuf, 0);
    v.op = GGML_OP_VIEW;
    v.src[0] = 0;
    v.view_src = 0;
    struct apir_wire_tensor tv[4] = {t[0], v, t[1], node(t[2], GGML_OP_MUL_MAT, 1, 2)};
    int32_t vnodes[] = {1, 3};
    CHECK(graph_compute(s, stream, tv, 4, vnodes, 2) == APIR_E_INVALID);
    struct apir_wire_tensor ta[3] = {f32_tensor(pbuf, 0, 16), f32_tensor(pbuf, 64, 16),
                                     node(f32_tensor(xbuf, 0, 16), GGML_OP_ADD, 0, 1)};
    CHECK(graph_compute(s, stream, ta, 3, nodes, 1) == APIR_E_INVALID);
    /* After all of that the real matmul still runs. */
    t[2] = node(t[2], GGML_OP_MUL_MAT, 0, 1);
    CHECK(graph_compute(s, stream, t, 3, nodes, 1) == APIR_OK);
}

int main(void)
{
    char err[256];
    struct apir_host_config cfg = {
        .backend_dir = APIR_GGML_BACKEND_DIR, .device_name = "CPU", .max_session_bytes = 64u << 20};
    struct apir_host *host = apir_host_create(&cfg, err, sizeof err);
    if (!host) {
        fprintf(stderr, "cannot create host: %s\n", err);
        return 1;
    }
    apir_writer_init(&req, 1u << 20);
    test_not_negotiated(host);
    struct apir_session *s = apir_session_create(host);
    CHECK(hello_features(s, APIR_FEATURES_SUPPORTED) == APIR_OK);
    uint64_t buft, dev = dev_info(s, &buft);
    uint64_t xb = repack_buft(s, dev);
    if (!xb) {
        printf("SKIPPED: this CPU's ggml-cpu has no CPU_REPACK buffer type\n");
        apir_session_destroy(s);
        apir_host_destroy(host);
        apir_writer_free(&req);
        return 77;
    }
    CHECK(buft_supports(s, xb, GGML_OP_MUL_MAT, GGML_TYPE_F32) == 1);
    CHECK(buft_supports(s, xb, GGML_OP_MUL_MAT, GGML_TYPE_F16) == 0);
    CHECK(buft_supports(s, xb, GGML_OP_GET_ROWS, GGML_TYPE_F32) == 0);
    CHECK(buft_supports(s, buft, GGML_OP_GET_ROWS, GGML_TYPE_F32) == 1); /* the plain type */
    int st;
    uint64_t xbuf = buffer_alloc(s, xb, Q4_BYTES, &st);
    uint64_t pbuf = buffer_alloc(s, buft, 65536, &st);
    CHECK(xbuf && pbuf);
    apir_write_u64(msg_begin(), dev);
    CHECK(msg_send(s, APIR_CMD_STREAM_NEW) == APIR_OK);
    uint64_t stream = apir_read_u64(&rep);
    static uint8_t q4[Q4_BYTES];
    fill_q4(q4, 1.0f);
    test_data(s, xbuf, pbuf, q4);
    test_matmul(s, stream, xbuf, pbuf);
    test_graph_refusals(s, stream, xbuf, pbuf);
    apir_session_destroy(s);
    apir_writer_free(&req);
    apir_host_destroy(host);
    return apir_check_summary("extrabuf");
}
