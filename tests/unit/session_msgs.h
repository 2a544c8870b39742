/* Helpers shared by the in-process dispatcher tests: build a request in `req`, run it through
 * a session, read the reply from `rep`. Header-only: each test is its own program. */
#ifndef APIR_TEST_SESSION_MSGS_H
#define APIR_TEST_SESSION_MSGS_H

#include "apir/host.h"
#include "check.h"
#include "proto/codec.h"
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

static inline int hello(struct apir_session *s, uint32_t major)
{
    struct apir_writer *w = msg_begin();
    apir_write_u32(w, major);
    apir_write_u32(w, 0);
    apir_write_u64(w, 0);
    return msg_send(s, APIR_CMD_HELLO);
}

/* HELLO asking for features; the reply (major, minor, features, devices) is left in rep. */
static inline int hello_features(struct apir_session *s, uint64_t features)
{
    struct apir_writer *w = msg_begin();
    apir_write_u32(w, APIR_PROTO_MAJOR);
    apir_write_u32(w, APIR_PROTO_MINOR);
    apir_write_u64(w, features);
    return msg_send(s, APIR_CMD_HELLO);
}

static inline uint64_t dev_info(struct apir_session *s, uint64_t *buft)
{
    apir_write_u32(msg_begin(), 0);
    CHECK(msg_send(s, APIR_CMD_DEVICE_INFO) == APIR_OK);
    uint64_t dev = apir_read_u64(&rep);
    *buft = apir_read_u64(&rep);
    return dev;
}

static inline uint64_t buffer_alloc(struct apir_session *s, uint64_t buft, uint64_t size, int *st)
{
    struct apir_writer *w = msg_begin();
    apir_write_u64(w, buft);
    apir_write_u64(w, size);
    *st = msg_send(s, APIR_CMD_BUFFER_ALLOC);
    return *st == APIR_OK ? apir_read_u64(&rep) : 0;
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

static inline int tensor_set(struct apir_session *s, const struct apir_wire_tensor *t,
                             const void *data, size_t len)
{
    struct apir_writer *w = msg_begin();
    apir_wire_graph_encode_lone(w, t);
    apir_write_u64(w, 0);
    apir_write_blob(w, data, len);
    return msg_send(s, APIR_CMD_TENSOR_SET);
}

/* Sends GRAPH_COMPUTE for n tensors with the given node list; returns the status. */
static inline int graph_compute(struct apir_session *s, uint64_t stream,
                                const struct apir_wire_tensor *t, uint32_t n, const int32_t *nodes,
                                uint32_t n_nodes)
{
    struct apir_writer *w = msg_begin();
    apir_write_u64(w, stream);
    apir_wire_graph_encode(w, t, n, nodes, n_nodes);
    return msg_send(s, APIR_CMD_GRAPH_COMPUTE);
}

static inline int recompute(struct apir_session *s, uint64_t stream)
{
    apir_write_u64(msg_begin(), stream);
    return msg_send(s, APIR_CMD_GRAPH_RECOMPUTE);
}

static inline float get_f32(struct apir_session *s, struct apir_wire_tensor t, int i)
{
    t.op = GGML_OP_NONE;
    for (unsigned k = 0; k < APIR_MAX_SRC; k++)
        t.src[k] = -1;
    struct apir_writer *w = msg_begin();
    apir_wire_graph_encode_lone(w, &t);
    apir_write_u64(w, (uint64_t)i * 4);
    apir_write_u64(w, 4);
    float v = -12345.0f;
    size_t n;
    const void *p = msg_send(s, APIR_CMD_TENSOR_GET) == APIR_OK ? apir_read_blob(&rep, 4, &n) : 0;
    if (p && n == 4)
        memcpy(&v, p, 4);
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

static inline int region_cmd(struct apir_session *s, uint16_t cmd, uint32_t id, uint64_t size)
{
    struct apir_writer *w = msg_begin();
    apir_write_u32(w, id);
    if (cmd == APIR_CMD_REGION_ATTACH)
        apir_write_u64(w, size);
    return msg_send(s, cmd);
}

#endif
