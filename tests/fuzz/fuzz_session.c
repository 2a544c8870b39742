/* See fuzz_session.h. */
#include "fuzz_session.h"

#include "proto/msg.h"
#include "proto/wire.h"

#include <ggml.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct apir_host *host;
static struct apir_session *sess;
static uint64_t handles[4];
static uint8_t reply[1 << 16];

/* Writes command name's request into w (reset first) with the command table's encoder
 * (src/proto/msg.h), from the designated initializers given. */
#define FUZZ_PUT(w, name, ...)                                                                     \
    (apir_writer_reset(w), apir_req_##name##_put(w, &(const struct apir_req_##name){__VA_ARGS__}))

/* Runs the request in w; its reply payload is left in reply[0..*len). */
static int run(uint16_t cmd, const struct apir_writer *w, size_t *len)
{
    *len = 0;
    return apir_session_execute(sess, cmd, w->buf, w->len, reply, sizeof reply, len);
}

struct apir_session *fuzz_session_open(const char *who)
{
    char err[256];
    struct apir_host_config cfg = {
        .backend_dir = APIR_GGML_BACKEND_DIR, .device_name = "CPU", .max_session_bytes = 64u << 20};
    host = apir_host_create(&cfg, err, sizeof err);
    if (!host || !(sess = apir_session_create(host))) {
        fprintf(stderr, "%s: %s\n", who, host ? "no session" : err);
        exit(1);
    }
    /* A reply that does not decode leaves its handles 0. */
    struct apir_writer w;
    size_t n;
    struct apir_rep_device_info_in info;
    struct apir_rep_buffer_alloc_in buf;
    struct apir_rep_stream_new_in stream;
    apir_writer_init(&w, 1 << 12);
    FUZZ_PUT(&w, hello, .major = APIR_PROTO_MAJOR, .minor = APIR_PROTO_MINOR,
             .features = APIR_FEAT_GRAPH_CACHE);
    run(APIR_CMD_HELLO, &w, &n);
    FUZZ_PUT(&w, device_info, .index = 0);
    run(APIR_CMD_DEVICE_INFO, &w, &n);
    (void)apir_rep_device_info_get(reply, n, &info);
    handles[0] = info.dev, handles[1] = info.buft;
    FUZZ_PUT(&w, buffer_alloc, .buft = handles[1], .size = 1u << 16);
    run(APIR_CMD_BUFFER_ALLOC, &w, &n);
    (void)apir_rep_buffer_alloc_get(reply, n, &buf);
    handles[2] = buf.buffer;
    FUZZ_PUT(&w, stream_new, .dev = handles[0]);
    run(APIR_CMD_STREAM_NEW, &w, &n);
    (void)apir_rep_stream_new_get(reply, n, &stream);
    handles[3] = stream.stream;
    apir_writer_free(&w);
    return sess;
}

struct apir_host *fuzz_session_host(void)
{
    return host;
}

void fuzz_handles_patch(uint8_t *p, size_t n, const uint64_t h[4])
{
    for (size_t i = 0; i + 8 <= n; i++) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        if ((v & ~0xffull) == (FUZZ_H_DEV & ~0xffull) && (v & 0xff) >= 1 && (v & 0xff) <= 4)
            memcpy(p + i, &h[(v & 0xff) - 1], 8);
    }
}

void fuzz_session_patch(uint8_t *p, size_t n)
{
    fuzz_handles_patch(p, n, handles);
}

static struct apir_wire_tensor seed_tensor(uint32_t type, uint64_t off, int64_t n0, int64_t n1,
                                           int64_t n2, uint32_t op, int32_t s0, int32_t s1,
                                           int32_t s2)
{
    struct apir_wire_tensor t;
    apir_wire_tensor_clear(&t);
    t.type = type;
    t.ne[0] = n0, t.ne[1] = n1, t.ne[2] = n2, t.ne[3] = 1;
    t.nb[0] = ggml_type_size((enum ggml_type)type);
    t.nb[1] = t.nb[0] * (uint64_t)n0, t.nb[2] = t.nb[1] * (uint64_t)n1;
    t.nb[3] = t.nb[2] * (uint64_t)n2;
    t.buffer = FUZZ_H_BUF;
    t.offset = off;
    t.op = op;
    t.src[0] = s0, t.src[1] = s1, t.src[2] = s2;
    t.flags = op ? GGML_TENSOR_FLAG_COMPUTE : 0;
    return t;
}

/* A seed's graph: t[0..n) as the table; as nodes nodes[0..n_nodes), or when nodes is NULL
 * every tensor with an op, in table order. */
struct seed_graph_src {
    const struct apir_wire_tensor *t;
    uint32_t n;
    const int32_t *nodes;
    uint32_t n_nodes;
};

static void seed_write_graph(struct apir_writer *w, const void *ctx)
{
    const struct seed_graph_src *g = ctx;
    if (g->nodes) {
        apir_wire_graph_encode(w, g->t, g->n, g->nodes, g->n_nodes);
        return;
    }
    struct apir_wire_graph_enc e;
    apir_wire_graph_begin(&e, w);
    for (uint32_t i = 0; i < g->n; i++)
        apir_wire_graph_add(&e, &g->t[i]);
    for (uint32_t i = 0; i < g->n; i++)
        if (g->t[i].op != GGML_OP_NONE)
            apir_wire_graph_node(&e, (int32_t)i);
    apir_wire_graph_end(&e);
}

/* GRAPH_COMPUTE on the stream of g. */
static void seed_compute(fuzz_seed_fn seed, void *user, const char *name, struct apir_writer *w,
                         const struct seed_graph_src *g)
{
    FUZZ_PUT(w, graph_compute, .stream = FUZZ_H_STREAM,
             .graph = {.write = seed_write_graph, .ctx = g});
    seed(user, name, APIR_CMD_GRAPH_COMPUTE, w);
}

/* GRAPH_COMPUTE of t[0..n), every tensor with an op a node, in table order. */
static void seed_graph(fuzz_seed_fn seed, void *user, const char *name, struct apir_writer *w,
                       const struct apir_wire_tensor *t, uint32_t n)
{
    const struct seed_graph_src g = {.t = t, .n = n, .nodes = NULL, .n_nodes = 0};
    seed_compute(seed, user, name, w, &g);
}

/* Graphs whose index operands a node writes first, other than through its own tensor (the
 * optimizer steps, a block row with nb0 = 0), through a view (CPY), or the consumer itself
 * (GET_ROWS_BACK over its ids): the index plan's writer rule and private copies. */
static void fuzz_seeds_index_writers(fuzz_seed_fn seed, void *user, struct apir_writer *w)
{
    const uint32_t F = GGML_TYPE_F32, I = GGML_TYPE_I32, N = GGML_OP_NONE;
    struct apir_wire_tensor sgd[7] = {
        seed_tensor(F, 0, 4, 1, 1, N, -1, -1, -1),
        seed_tensor(F, 64, 4, 1, 1, N, -1, -1, -1),
        seed_tensor(F, 128, 2, 1, 1, N, -1, -1, -1),
        seed_tensor(F, 1024, 4, 1, 1, GGML_OP_OPT_STEP_SGD, 0, 1, 2),
        seed_tensor(I, 0, 4, 1, 1, N, -1, -1, -1),
        seed_tensor(F, 256, 2, 4, 1, N, -1, -1, -1),
        seed_tensor(F, 512, 2, 8, 1, GGML_OP_GET_ROWS_BACK, 5, 4, -1),
    };
    seed_graph(seed, user, "graph_sgd_get_rows_back", w, sgd, 7);
    struct apir_wire_tensor adamw[10] = {
        seed_tensor(F, 0, 4, 1, 1, N, -1, -1, -1),
        seed_tensor(F, 64, 4, 1, 1, N, -1, -1, -1),
        seed_tensor(F, 128, 4, 1, 1, N, -1, -1, -1),
        seed_tensor(F, 192, 4, 1, 1, N, -1, -1, -1),
        seed_tensor(F, 256, 7, 1, 1, N, -1, -1, -1),
        seed_tensor(F, 1024, 4, 1, 1, GGML_OP_OPT_STEP_ADAMW, 0, 1, 2),
        seed_tensor(I, 192, 1, 1, 1, N, -1, -1, -1),
        seed_tensor(F, 1536, 4, 3, 2, N, -1, -1, -1),
        seed_tensor(F, 1664, 4, 1, 1, N, -1, -1, -1),
        seed_tensor(F, 1792, 3, 1, 1, GGML_OP_MUL_MAT_ID, 7, 8, 6),
    };
    adamw[5].src[3] = 3, adamw[5].src[4] = 4;
    seed_graph(seed, user, "graph_adamw_mul_mat_id", w, adamw, 10);
    struct apir_wire_tensor q8[7] = {
        seed_tensor(F, 0, 32, 1, 1, N, -1, -1, -1),
        seed_tensor(GGML_TYPE_Q8_0, 256, 32, 1, 1, N, -1, -1, -1),
        seed_tensor(GGML_TYPE_Q8_0, 256, 32, 1, 1, GGML_OP_CPY, 0, 1, -1),
        seed_tensor(I, 260, 1, 1, 1, N, -1, -1, -1),
        seed_tensor(F, 1536, 4, 8, 1, N, -1, -1, -1),
        seed_tensor(F, 1792, 4, 1, 1, GGML_OP_GET_ROWS, 4, 3, -1),
    };
    q8[1].nb[0] = q8[2].nb[0] = 0;
    seed_graph(seed, user, "graph_cpy_q8_get_rows", w, q8, 6);
    struct apir_wire_tensor self[3] = {
        seed_tensor(F, 256, 2, 3, 1, N, -1, -1, -1),
        seed_tensor(I, 0, 3, 1, 1, N, -1, -1, -1),
        seed_tensor(F, 0, 2, 8, 1, GGML_OP_GET_ROWS_BACK, 0, 1, -1),
    };
    seed_graph(seed, user, "graph_get_rows_back_over_ids", w, self, 3);
}

void fuzz_session_seeds(fuzz_seed_fn seed, void *user)
{
    struct apir_writer w;
    apir_writer_init(&w, 1 << 16);
    FUZZ_PUT(&w, device_info, .index = 0);
    seed(user, "device_info", APIR_CMD_DEVICE_INFO, &w);
    FUZZ_PUT(&w, buffer_alloc, .buft = FUZZ_H_BUFT, .size = 4096);
    seed(user, "buffer_alloc", APIR_CMD_BUFFER_ALLOC, &w);
    /* The session persists across inputs: a cleared buffer makes the graphs' ids legal. */
    FUZZ_PUT(&w, buffer_clear, .buffer = FUZZ_H_BUF, .value = 0);
    seed(user, "buffer_clear", APIR_CMD_BUFFER_CLEAR, &w);
    struct apir_wire_tensor t[3];
    for (int i = 0; i < 3; i++) {
        apir_wire_tensor_clear(&t[i]);
        t[i].type = GGML_TYPE_F32;
        t[i].ne[0] = 16, t[i].ne[1] = t[i].ne[2] = t[i].ne[3] = 1;
        t[i].nb[0] = 4, t[i].nb[1] = t[i].nb[2] = t[i].nb[3] = 64;
        t[i].buffer = FUZZ_H_BUF;
        t[i].offset = 64u * (unsigned)i;
    }
    t[2].op = GGML_OP_ADD, t[2].src[0] = 0, t[2].src[1] = 1;
    t[2].flags = GGML_TENSOR_FLAG_COMPUTE;
    const int32_t add = 2;
    const struct seed_graph_src g = {.t = t, .n = 3, .nodes = &add, .n_nodes = 1};
    seed_compute(seed, user, "graph_compute_add", &w, &g);
    FUZZ_PUT(&w, graph_recompute, .stream = FUZZ_H_STREAM);
    seed(user, "graph_recompute", APIR_CMD_GRAPH_RECOMPUTE, &w);
    float v[16] = {1, 2, 3};
    FUZZ_PUT(&w, tensor_set, .tensor = &t[0], .offset = 0, .data = {.data = v, .len = sizeof v});
    seed(user, "tensor_set", APIR_CMD_TENSOR_SET, &w);
    fuzz_seeds_index_writers(seed, user, &w);
    apir_writer_free(&w);
}
