/* Helpers shared by the in-process dispatcher tests: build a request in `req`, run it through
 * a session, read the reply from `rep`. Header-only: each test is its own program. */
#ifndef APIR_TEST_SESSION_MSGS_H
#define APIR_TEST_SESSION_MSGS_H

#include "apir/host.h"
#include "check.h"
#include "proto/codec.h"
#include "proto/msg.h"
#include "proto/wire.h"

#include <ggml.h>
#include <stdlib.h>
#include <string.h>

static struct apir_writer req;
static struct apir_reader rep;

static inline struct apir_writer *msg_begin(void)
{
    apir_writer_reset(&req);
    apir_write_reserve(&req, APIR_HDR_SIZE);
    return &req;
}

/* Sends the message built in req; returns the reply status, reply payload in rep. */
static inline int msg_send(struct apir_session *s, uint16_t cmd)
{
    struct apir_req_hdr h = {APIR_MAGIC_REQ, cmd, 0, 42, (uint32_t)(req.len - APIR_HDR_SIZE)};
    apir_req_hdr_encode(req.buf, &h);
    const uint8_t *out;
    size_t out_len;
    int st = apir_session_dispatch(s, req.buf, req.len, &out, &out_len);
    struct apir_rep_hdr rh;
    CHECK(out_len >= APIR_HDR_SIZE && apir_rep_hdr_decode(out, &rh));
    CHECK(rh.status == st && rh.len == out_len - APIR_HDR_SIZE);
    apir_reader_init(&rep, out + APIR_HDR_SIZE, out_len - APIR_HDR_SIZE);
    return st;
}

/* Builds command NAME's request in req with the command table's encoder (src/proto/msg.h),
 * from the designated initializers given, and sends it; the reply status, payload in rep.
 * A request malformed on purpose is built by hand (msg_begin, apir_write_*, msg_send). */
#define MSG_CALL(s, NAME, name, ...)                                                               \
    (apir_req_##name##_put(msg_begin(), &(const struct apir_req_##name){__VA_ARGS__}),             \
     msg_send(s, APIR_CMD_##NAME))

/* Decodes the reply payload in rep exactly with command name's decoder (false: malformed). */
#define MSG_REP(name, out) apir_rep_##name##_get(rep.cur, apir_reader_left(&rep), out)

static inline int hello(struct apir_session *s, uint32_t major)
{
    return MSG_CALL(s, HELLO, hello, .major = major, .minor = 0, .features = 0);
}

/* HELLO asking for features; the reply (major, minor, features, devices) is left in rep. */
static inline int hello_features(struct apir_session *s, uint64_t features)
{
    return MSG_CALL(s, HELLO, hello, .major = APIR_PROTO_MAJOR, .minor = APIR_PROTO_MINOR,
                    .features = features);
}

static inline uint64_t dev_info(struct apir_session *s, uint64_t *buft)
{
    struct apir_rep_device_info_in info = {0};
    CHECK(MSG_CALL(s, DEVICE_INFO, device_info, .index = 0) == APIR_OK &&
          MSG_REP(device_info, &info));
    *buft = info.buft;
    return info.dev;
}

static inline uint64_t buffer_alloc(struct apir_session *s, uint64_t buft, uint64_t size, int *st)
{
    struct apir_rep_buffer_alloc_in r;
    *st = MSG_CALL(s, BUFFER_ALLOC, buffer_alloc, .buft = buft, .size = size);
    return *st == APIR_OK && MSG_REP(buffer_alloc, &r) ? r.buffer : 0;
}

static inline struct apir_wire_tensor f32_tensor(uint64_t buffer, uint64_t offset, int64_t n)
{
    struct apir_wire_tensor t;
    apir_wire_tensor_clear(&t);
    t.type = GGML_TYPE_F32;
    t.ne[0] = n;
    t.ne[1] = t.ne[2] = t.ne[3] = 1;
    t.nb[0] = 4;
    t.nb[1] = t.nb[2] = t.nb[3] = 4 * (uint64_t)n;
    t.buffer = buffer;
    t.offset = offset;
    return t;
}

/* TENSOR_SET of len bytes (at most APIR_MAX_DATA_CHUNK) into t from its start. */
static inline int tensor_set(struct apir_session *s, const struct apir_wire_tensor *t,
                             const void *data, size_t len)
{
    return MSG_CALL(s, TENSOR_SET, tensor_set, .tensor = t, .offset = 0,
                    .data = {.data = data, .len = len});
}

/* A graph as apir_wire_graph_encode's arrays, written into a request's GRAPH or OP field. */
struct msg_graph {
    const struct apir_wire_tensor *t;
    uint32_t n;
    const int32_t *nodes;
    uint32_t n_nodes;
};

static inline void msg_write_graph(struct apir_writer *w, const void *ctx)
{
    const struct msg_graph *g = ctx;
    apir_wire_graph_encode(w, g->t, g->n, g->nodes, g->n_nodes);
}

/* Sends GRAPH_COMPUTE for n tensors with the given node list; returns the status (the reply,
 * ggml's status, is left in rep). */
static inline int graph_compute(struct apir_session *s, uint64_t stream,
                                const struct apir_wire_tensor *t, uint32_t n, const int32_t *nodes,
                                uint32_t n_nodes)
{
    const struct msg_graph g = {.t = t, .n = n, .nodes = nodes, .n_nodes = n_nodes};
    return MSG_CALL(s, GRAPH_COMPUTE, graph_compute, .stream = stream,
                    .graph = {.write = msg_write_graph, .ctx = &g});
}

static inline int recompute(struct apir_session *s, uint64_t stream)
{
    return MSG_CALL(s, GRAPH_RECOMPUTE, graph_recompute, .stream = stream);
}

static inline float get_f32(struct apir_session *s, struct apir_wire_tensor t, int i)
{
    t.op = GGML_OP_NONE;
    for (unsigned k = 0; k < APIR_MAX_SRC; k++)
        t.src[k] = -1;
    float v = -12345.0f;
    struct apir_rep_tensor_get_in r;
    int st =
        MSG_CALL(s, TENSOR_GET, tensor_get, .tensor = &t, .offset = (uint64_t)i * 4, .size = 4);
    if (st == APIR_OK && MSG_REP(tensor_get, &r) && r.data.len == 4)
        memcpy(&v, r.data.data, 4);
    return v;
}

/* The loopback transport's regions (in-process, so plain heap memory stands in for what a
 * socket or virtio-gpu transport maps): map succeeds only for ids below 100, counts live
 * mappings. Drives the library's region code through its real callback ABI. */
static int loopback_regions_live;
static inline void *loopback_region_map(void *user, uint32_t id, uint64_t size)
{
    (void)user;
    void *p = id < 100 ? aligned_alloc(4096, (size_t)(size + 4095) / 4096 * 4096) : NULL;
    loopback_regions_live += p != NULL;
    return p;
}
static inline void loopback_region_unmap(void *user, uint32_t id, void *ptr, uint64_t size)
{
    (void)user, (void)id, (void)size;
    loopback_regions_live--;
    free(ptr);
}

/* cmd: REGION_ATTACH of (id, size), or REGION_DETACH of id (size unused). */
static inline int region_cmd(struct apir_session *s, uint16_t cmd, uint32_t id, uint64_t size)
{
    return cmd == APIR_CMD_REGION_ATTACH
               ? MSG_CALL(s, REGION_ATTACH, region_attach, .region = id, .size = size)
               : MSG_CALL(s, REGION_DETACH, region_detach, .region = id);
}

#endif
