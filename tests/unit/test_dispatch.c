/* The host dispatcher against hostile requests, in-process (loopback), with the real CPU
 * backend behind it. Every case must come back as an error reply, never a crash, and the
 * valid cases must compute right. */
#include "apir/host.h"
#include "check.h"
#include "proto/codec.h"
#include "proto/wire.h"

#include <ggml.h>
#include <stdlib.h>
#include <string.h>

static struct apir_writer req;
static struct apir_reader rep;

static struct apir_writer *msg_begin(void)
{
    apir_writer_reset(&req);
    apir_write_reserve(&req, APIR_HDR_SIZE);
    return &req;
}

/* Sends the message built in req; returns the reply status, reply payload in rep. */
static int msg_send(struct apir_session *s, uint16_t cmd)
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

static int hello(struct apir_session *s, uint32_t major)
{
    struct apir_writer *w = msg_begin();
    apir_write_u32(w, major);
    apir_write_u32(w, 0);
    apir_write_u64(w, 0);
    return msg_send(s, APIR_CMD_HELLO);
}

static uint64_t dev_info(struct apir_session *s, uint64_t *buft)
{
    apir_write_u32(msg_begin(), 0);
    CHECK(msg_send(s, APIR_CMD_DEVICE_INFO) == APIR_OK);
    uint64_t dev = apir_read_u64(&rep);
    *buft = apir_read_u64(&rep);
    return dev;
}

static uint64_t buffer_alloc(struct apir_session *s, uint64_t buft, uint64_t size, int *st)
{
    struct apir_writer *w = msg_begin();
    apir_write_u64(w, buft);
    apir_write_u64(w, size);
    *st = msg_send(s, APIR_CMD_BUFFER_ALLOC);
    return *st == APIR_OK ? apir_read_u64(&rep) : 0;
}

static struct apir_wire_tensor f32_tensor(uint64_t buffer, uint64_t offset, int64_t n)
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

static int tensor_set(struct apir_session *s, const struct apir_wire_tensor *t, const void *data,
                      size_t len)
{
    struct apir_writer *w = msg_begin();
    apir_write_u32(w, 1);
    apir_wire_tensor_encode(w, t);
    apir_write_u32(w, 1);
    apir_write_i32(w, 0);
    apir_write_u64(w, 0);
    apir_write_blob(w, data, len);
    return msg_send(s, APIR_CMD_TENSOR_SET);
}

static void test_framing(struct apir_session *s)
{
    CHECK(msg_send((msg_begin(), s), APIR_CMD_DEVICE_INFO) == APIR_E_VERSION); /* no HELLO */
    CHECK(hello(s, APIR_PROTO_MAJOR + 1) == APIR_E_VERSION);
    CHECK(hello(s, APIR_PROTO_MAJOR) == APIR_OK);
    CHECK(apir_read_u32(&rep) == APIR_PROTO_MAJOR);
    msg_begin();
    CHECK(msg_send(s, 999) == APIR_E_UNKNOWN_CMD);
    CHECK(msg_send((msg_begin(), s), 0) == APIR_E_UNKNOWN_CMD);
    /* Header says more bytes than the message has. */
    const uint8_t *out;
    size_t out_len;
    uint8_t bad[APIR_HDR_SIZE];
    struct apir_req_hdr h = {APIR_MAGIC_REQ, APIR_CMD_DEVICE_INFO, 0, 1, 4};
    apir_req_hdr_encode(bad, &h);
    CHECK(apir_session_dispatch(s, bad, sizeof bad, &out, &out_len) == APIR_E_DECODE);
    CHECK(apir_session_dispatch(s, bad, 3, &out, &out_len) == APIR_E_DECODE);
    /* Trailing bytes. */
    struct apir_writer *w = msg_begin();
    apir_write_u32(w, 0);
    apir_write_u8(w, 1);
    CHECK(msg_send(s, APIR_CMD_DEVICE_INFO) == APIR_E_DECODE);
    /* Short. */
    apir_write_u8(msg_begin(), 0);
    CHECK(msg_send(s, APIR_CMD_DEVICE_INFO) == APIR_E_DECODE);
    apir_write_u32(msg_begin(), 1000);
    CHECK(msg_send(s, APIR_CMD_DEVICE_INFO) == APIR_E_INVALID);
}

static void test_tensor_data(struct apir_session *s, uint64_t dev, uint64_t buft)
{
    int st;
    CHECK(buffer_alloc(s, dev, 4096, &st) == 0 && st == APIR_E_HANDLE); /* wrong type */
    CHECK(buffer_alloc(s, buft, 0, &st) == 0 && st == APIR_E_INVALID);
    uint64_t buf = buffer_alloc(s, buft, 4096, &st);
    CHECK(st == APIR_OK && buf);
    float in[16], out[16];
    for (int i = 0; i < 16; i++)
        in[i] = (float)i * 1.5f;
    struct apir_wire_tensor t = f32_tensor(buf, 64, 16);
    CHECK(tensor_set(s, &t, in, sizeof in) == APIR_OK);
    struct apir_writer *w = msg_begin();
    apir_write_u32(w, 1);
    apir_wire_tensor_encode(w, &t);
    apir_write_u32(w, 1);
    apir_write_i32(w, 0);
    apir_write_u64(w, 0);
    apir_write_u64(w, sizeof out);
    CHECK(msg_send(s, APIR_CMD_TENSOR_GET) == APIR_OK);
    size_t n;
    const void *p = apir_read_blob(&rep, sizeof out, &n);
    CHECK(p && n == sizeof out && memcmp(p, in, n) == 0);

    /* Extent past the end of the buffer, by offset and by stride. */
    t = f32_tensor(buf, 4096 - 32, 16);
    CHECK(tensor_set(s, &t, in, sizeof in) == APIR_E_INVALID);
    t = f32_tensor(buf, UINT64_MAX - 8, 16);
    CHECK(tensor_set(s, &t, in, sizeof in) == APIR_E_INVALID);
    t = f32_tensor(buf, 0, 16);
    t.ne[1] = 2;
    t.nb[1] = UINT64_MAX / 2; /* (ne1-1)*nb1 + ... overflows */
    CHECK(tensor_set(s, &t, in, sizeof in) == APIR_E_INVALID);
    t = f32_tensor(buf, 0, 16);
    t.type = 9999; /* CVE-2024-42477 class: unchecked type */
    CHECK(tensor_set(s, &t, in, sizeof in) == APIR_E_INVALID);
    t = f32_tensor(buf, 0, 16);
    t.ne[2] = -1;
    CHECK(tensor_set(s, &t, in, sizeof in) == APIR_E_INVALID);
    t = f32_tensor(0, 0, 16); /* CVE-2026-34159 class: no buffer must not skip checks */
    CHECK(tensor_set(s, &t, in, sizeof in) == APIR_E_INVALID);
    t = f32_tensor(buf, 0, 4);
    CHECK(tensor_set(s, &t, in, sizeof in) == APIR_E_INVALID); /* data longer than tensor */
    t = f32_tensor(buf ^ 0x1000000, 0, 16);
    CHECK(tensor_set(s, &t, in, sizeof in) == APIR_E_HANDLE);
    t = f32_tensor(buf, 0, 16);
    t.type = GGML_TYPE_Q4_0;
    t.ne[0] = 17; /* not a multiple of the block size */
    CHECK(tensor_set(s, &t, in, 8) == APIR_E_INVALID);

    apir_write_u64(msg_begin(), buf);
    CHECK(msg_send(s, APIR_CMD_BUFFER_FREE) == APIR_OK);
    apir_write_u64(msg_begin(), buf);
    CHECK(msg_send(s, APIR_CMD_BUFFER_FREE) == APIR_E_HANDLE); /* double free */
    t = f32_tensor(buf, 0, 16);
    CHECK(tensor_set(s, &t, in, sizeof in) == APIR_E_HANDLE); /* use after free */
}

/* c = a + b through GRAPH_COMPUTE; then the same graph with a custom op is refused. */
static void test_graph(struct apir_session *s, uint64_t dev, uint64_t buft)
{
    int st;
    uint64_t buf = buffer_alloc(s, buft, 3 * 64, &st);
    apir_write_u64(msg_begin(), dev);
    CHECK(msg_send(s, APIR_CMD_STREAM_NEW) == APIR_OK);
    uint64_t stream = apir_read_u64(&rep);
    float a[16], b[16], c[16];
    for (int i = 0; i < 16; i++) {
        a[i] = (float)i;
        b[i] = 100.0f;
    }
    struct apir_wire_tensor ta = f32_tensor(buf, 0, 16), tb = f32_tensor(buf, 64, 16),
                            tc = f32_tensor(buf, 128, 16);
    CHECK(tensor_set(s, &ta, a, sizeof a) == APIR_OK);
    CHECK(tensor_set(s, &tb, b, sizeof b) == APIR_OK);
    tc.op = GGML_OP_ADD;
    tc.src[0] = 0;
    tc.src[1] = 1;
    tc.flags = GGML_TENSOR_FLAG_COMPUTE; /* as ggml_build_forward marks the nodes to run */
    for (int round = 0; round < 3; round++) {
        struct apir_writer *w = msg_begin();
        apir_write_u64(w, round == 2 ? buf : stream); /* round 2: a buffer is not a stream */
        apir_write_u32(w, 3);
        apir_wire_tensor_encode(w, &ta);
        apir_wire_tensor_encode(w, &tb);
        tc.op = round == 1 ? GGML_OP_MAP_CUSTOM1 : GGML_OP_ADD;
        apir_wire_tensor_encode(w, &tc);
        apir_write_u32(w, 1);
        apir_write_i32(w, 2);
        st = msg_send(s, APIR_CMD_GRAPH_COMPUTE);
        CHECK(st == (round == 0 ? APIR_OK : round == 1 ? APIR_E_INVALID : APIR_E_HANDLE));
    }
    tc.op = GGML_OP_NONE;
    tc.src[0] = tc.src[1] = -1;
    struct apir_writer *w = msg_begin();
    apir_write_u32(w, 1);
    apir_wire_tensor_encode(w, &tc);
    apir_write_u32(w, 1);
    apir_write_i32(w, 0);
    apir_write_u64(w, 0);
    apir_write_u64(w, sizeof c);
    CHECK(msg_send(s, APIR_CMD_TENSOR_GET) == APIR_OK);
    size_t n;
    const float *p = apir_read_blob(&rep, sizeof c, &n);
    CHECK(p && n == sizeof c);
    int good = 0;
    for (int i = 0; p && i < 16; i++)
        good += p[i] == (float)i + 100.0f;
    CHECK(good == 16);
    if (good != 16 && p)
        fprintf(stderr, "c[0..3] = %g %g %g %g\n", p[0], p[1], p[2], p[3]);
}

/* ggml_cast: a CPY whose src[1] is the tensor itself. The wire names it by its own index; the
 * host must rebuild the self-reference and convert f32 to f16. */
static void test_cast_self_source(struct apir_session *s, uint64_t dev, uint64_t buft)
{
    int st;
    uint64_t buf = buffer_alloc(s, buft, 256, &st);
    apir_write_u64(msg_begin(), dev);
    CHECK(msg_send(s, APIR_CMD_STREAM_NEW) == APIR_OK);
    uint64_t stream = apir_read_u64(&rep);
    float a[16];
    for (int i = 0; i < 16; i++)
        a[i] = (float)i * 0.5f;
    struct apir_wire_tensor ta = f32_tensor(buf, 0, 16), tc = f32_tensor(buf, 128, 16);
    CHECK(tensor_set(s, &ta, a, sizeof a) == APIR_OK);
    tc.type = GGML_TYPE_F16;
    tc.nb[0] = 2;
    tc.nb[1] = tc.nb[2] = tc.nb[3] = 32;
    tc.op = GGML_OP_CPY;
    tc.flags = GGML_TENSOR_FLAG_COMPUTE;
    tc.src[0] = 0;
    tc.src[1] = 1; /* itself */
    struct apir_writer *w = msg_begin();
    apir_write_u64(w, stream);
    apir_write_u32(w, 2);
    apir_wire_tensor_encode(w, &ta);
    apir_wire_tensor_encode(w, &tc);
    apir_write_u32(w, 1);
    apir_write_i32(w, 1);
    CHECK(msg_send(s, APIR_CMD_GRAPH_COMPUTE) == APIR_OK && apir_read_u32(&rep) == 0);
    tc.op = GGML_OP_NONE;
    tc.src[0] = tc.src[1] = -1;
    w = msg_begin();
    apir_write_u32(w, 1);
    apir_wire_tensor_encode(w, &tc);
    apir_write_u32(w, 1);
    apir_write_i32(w, 0);
    apir_write_u64(w, 0);
    apir_write_u64(w, 32);
    CHECK(msg_send(s, APIR_CMD_TENSOR_GET) == APIR_OK);
    size_t n;
    const ggml_fp16_t *p = apir_read_blob(&rep, 32, &n);
    int good = 0;
    for (int i = 0; p && n == 32 && i < 16; i++)
        good += ggml_fp16_to_fp32(p[i]) == a[i];
    CHECK(good == 16);
}

/* Sends GRAPH_COMPUTE for n tensors with the given node list; returns the status. */
static int graph_compute(struct apir_session *s, uint64_t stream, const struct apir_wire_tensor *t,
                         uint32_t n, const int32_t *nodes, uint32_t n_nodes)
{
    struct apir_writer *w = msg_begin();
    apir_write_u64(w, stream);
    apir_write_u32(w, n);
    for (uint32_t i = 0; i < n; i++)
        apir_wire_tensor_encode(w, &t[i]);
    apir_write_u32(w, n_nodes);
    for (uint32_t i = 0; i < n_nodes; i++)
        apir_write_i32(w, nodes[i]);
    return msg_send(s, APIR_CMD_GRAPH_COMPUTE);
}

/* ggml's scheduler puts a view node of a CPU input (mamba's rs_s_copy) into the remote split
 * by position, and graphs carry zero-element tensors (an empty GET_ROWS of rs_s_copy's extra
 * rows). Neither is touched by any kernel: the host must accept them with no buffer, and still
 * refuse a bufferless tensor that a computed node reads. */
static void test_untouched_tensors(struct apir_session *s, uint64_t dev, uint64_t buft)
{
    int st;
    uint64_t buf = buffer_alloc(s, buft, 256, &st);
    apir_write_u64(msg_begin(), dev);
    CHECK(msg_send(s, APIR_CMD_STREAM_NEW) == APIR_OK);
    uint64_t stream = apir_read_u64(&rep);
    float a[16];
    for (int i = 0; i < 16; i++)
        a[i] = (float)i;
    struct apir_wire_tensor t[6];
    t[0] = f32_tensor(buf, 0, 16); /* x, in the session's buffer */
    t[1] = f32_tensor(0, 0, 4);    /* an input living in the guest's CPU buffer */
    t[2] = f32_tensor(0, 0, 2);    /* a VIEW node of it: a no-op for every backend */
    t[2].op = GGML_OP_VIEW;
    t[2].view_src = t[2].src[0] = 1;
    t[3] = f32_tensor(0, 0, 0); /* zero rows of indices */
    t[3].type = GGML_TYPE_I32;
    t[4] = f32_tensor(0, 0, 4); /* GET_ROWS of zero rows: an empty node */
    t[4].ne[1] = 0;
    t[4].op = GGML_OP_GET_ROWS;
    t[4].src[0] = 0;
    t[4].src[1] = 3;
    t[0].ne[0] = 4, t[0].ne[1] = 4, t[0].nb[1] = 16; /* x as 4 rows for GET_ROWS */
    t[4].flags = t[2].flags = GGML_TENSOR_FLAG_COMPUTE;
    t[5] = f32_tensor(buf, 128, 16); /* y = x + x, really computed */
    t[5].ne[0] = 4, t[5].ne[1] = 4, t[5].nb[1] = 16;
    t[5].op = GGML_OP_ADD;
    t[5].src[0] = t[5].src[1] = 0;
    t[5].flags = GGML_TENSOR_FLAG_COMPUTE;
    CHECK(tensor_set(s, &t[0], a, sizeof a) == APIR_OK);
    const int32_t nodes[] = {2, 4, 5};
    CHECK(graph_compute(s, stream, t, 6, nodes, 3) == APIR_OK && apir_read_u32(&rep) == 0);
    struct apir_wire_tensor y = t[5];
    y.op = GGML_OP_NONE;
    y.src[0] = y.src[1] = -1;
    struct apir_writer *w = msg_begin();
    apir_write_u32(w, 1);
    apir_wire_tensor_encode(w, &y);
    apir_write_u32(w, 1);
    apir_write_i32(w, 0);
    apir_write_u64(w, 0);
    apir_write_u64(w, sizeof a);
    CHECK(msg_send(s, APIR_CMD_TENSOR_GET) == APIR_OK);
    size_t n;
    const float *p = apir_read_blob(&rep, sizeof a, &n);
    int good = 0;
    for (int i = 0; p && n == sizeof a && i < 16; i++)
        good += p[i] == 2.0f * a[i];
    CHECK(good == 16);
    /* A computed node reading the bufferless view: it has no bytes in this session. */
    t[5].src[1] = 2;
    t[5].ne[0] = 2, t[5].ne[1] = 1, t[5].nb[1] = 8;
    t[5].src[0] = 2;
    CHECK(graph_compute(s, stream, t, 6, nodes, 3) == APIR_E_INVALID);
    t[5] = f32_tensor(0, 0, 16); /* a computed node with nowhere to write */
    t[5].op = GGML_OP_ADD;
    t[5].src[0] = t[5].src[1] = 0;
    t[5].ne[0] = 4, t[5].ne[1] = 4, t[5].nb[1] = 16;
    CHECK(graph_compute(s, stream, t, 6, nodes, 3) == APIR_E_INVALID);
    t[5].buffer = buf, t[5].offset = 128;
    t[2].offset = 64; /* no buffer with an offset is a pointer in disguise */
    CHECK(graph_compute(s, stream, t, 6, nodes, 3) == APIR_E_INVALID);
    t[2].offset = 0;
    CHECK(graph_compute(s, stream, t, 6, nodes, 3) == APIR_OK);
    apir_write_u64(msg_begin(), stream);
    CHECK(msg_send(s, APIR_CMD_STREAM_FREE) == APIR_OK);
}

/* The loopback transport's regions (in-process, so plain heap memory stands in for what a
 * socket or virtio-gpu transport maps): map succeeds only for ids below 100, counts live
 * mappings. Drives the library's region code through its real callback ABI. */
static int loopback_regions_live;
static void *loopback_region_map(void *user, uint32_t id, uint64_t size)
{
    (void)user;
    void *p = id < 100 ? aligned_alloc(4096, (size_t)(size + 4095) / 4096 * 4096) : NULL;
    loopback_regions_live += p != NULL;
    return p;
}
static void loopback_region_unmap(void *user, uint32_t id, void *ptr, uint64_t size)
{
    (void)user, (void)id, (void)size;
    loopback_regions_live--;
    free(ptr);
}

static int region_cmd(struct apir_session *s, uint16_t cmd, uint32_t id, uint64_t size)
{
    struct apir_writer *w = msg_begin();
    apir_write_u32(w, id);
    if (cmd == APIR_CMD_REGION_ATTACH)
        apir_write_u64(w, size);
    return msg_send(s, cmd);
}

/* Regions are offered only by a transport that can map them, count against the byte quota,
 * and go away with the session. */
static void test_regions(struct apir_host *host)
{
    struct apir_session *s = apir_session_create(host);
    struct apir_writer *w = msg_begin();
    apir_write_u32(w, APIR_PROTO_MAJOR);
    apir_write_u32(w, APIR_PROTO_MINOR);
    apir_write_u64(w, APIR_FEAT_REGIONS);
    CHECK(msg_send(s, APIR_CMD_HELLO) == APIR_OK);
    apir_read_u32(&rep), apir_read_u32(&rep);
    CHECK((apir_read_u64(&rep) & APIR_FEAT_REGIONS) == 0); /* no region ops: not offered */
    CHECK(region_cmd(s, APIR_CMD_REGION_ATTACH, 1, 4096) == APIR_E_UNSUPPORTED);
    apir_session_destroy(s);

    s = apir_session_create(host);
    struct apir_region_ops ops = {loopback_region_map, loopback_region_unmap, NULL};
    apir_session_set_region_ops(s, &ops);
    w = msg_begin();
    apir_write_u32(w, APIR_PROTO_MAJOR);
    apir_write_u32(w, APIR_PROTO_MINOR);
    apir_write_u64(w, APIR_FEAT_REGIONS);
    CHECK(msg_send(s, APIR_CMD_HELLO) == APIR_OK);
    apir_read_u32(&rep), apir_read_u32(&rep);
    CHECK(apir_read_u64(&rep) & APIR_FEAT_REGIONS);
    CHECK(region_cmd(s, APIR_CMD_REGION_ATTACH, 1, 2u << 20) == APIR_E_QUOTA); /* 1 MiB quota */
    CHECK(loopback_regions_live == 0); /* refused before anything was mapped */
    CHECK(region_cmd(s, APIR_CMD_REGION_ATTACH, 100, 4096) == APIR_E_INVALID); /* map failed */
    CHECK(region_cmd(s, APIR_CMD_REGION_ATTACH, 1, 768u << 10) == APIR_OK);
    CHECK(region_cmd(s, APIR_CMD_REGION_ATTACH, 2, 512u << 10) == APIR_E_QUOTA);
    uint64_t buft;
    dev_info(s, &buft);
    int st;
    CHECK(buffer_alloc(s, buft, 512u << 10, &st) == 0 && st == APIR_E_QUOTA); /* shared quota */
    CHECK(region_cmd(s, APIR_CMD_REGION_DETACH, 1, 0) == APIR_OK);
    CHECK(region_cmd(s, APIR_CMD_REGION_ATTACH, 2, 512u << 10) == APIR_OK);
    CHECK(loopback_regions_live == 1);
    apir_session_destroy(s);
    CHECK(loopback_regions_live == 0);
}

static int recompute(struct apir_session *s, uint64_t stream)
{
    apir_write_u64(msg_begin(), stream);
    return msg_send(s, APIR_CMD_GRAPH_RECOMPUTE);
}

static float get_f32(struct apir_session *s, struct apir_wire_tensor t, int i)
{
    t.op = GGML_OP_NONE;
    for (unsigned k = 0; k < APIR_MAX_SRC; k++)
        t.src[k] = -1;
    struct apir_writer *w = msg_begin();
    apir_write_u32(w, 1);
    apir_wire_tensor_encode(w, &t);
    apir_write_u32(w, 1);
    apir_write_i32(w, 0);
    apir_write_u64(w, (uint64_t)i * 4);
    apir_write_u64(w, 4);
    float v = -12345.0f;
    size_t n;
    const void *p = msg_send(s, APIR_CMD_TENSOR_GET) == APIR_OK ? apir_read_blob(&rep, 4, &n) : 0;
    if (p && n == 4)
        memcpy(&v, p, 4);
    return v;
}

/* The graph cache: GRAPH_RECOMPUTE runs the stream's last graph on the data as it is now, and
 * is refused (never a use of freed memory) once any buffer was freed since, after a refused
 * graph, or before any graph. */
static void test_graph_cache(struct apir_host *host)
{
    struct apir_session *s = apir_session_create(host);
    struct apir_writer *w = msg_begin();
    apir_write_u32(w, APIR_PROTO_MAJOR);
    apir_write_u32(w, APIR_PROTO_MINOR);
    apir_write_u64(w, APIR_FEAT_GRAPH_CACHE);
    CHECK(msg_send(s, APIR_CMD_HELLO) == APIR_OK);
    uint64_t buft, dev = dev_info(s, &buft);
    int st;
    uint64_t buf = buffer_alloc(s, buft, 4096, &st), other = buffer_alloc(s, buft, 4096, &st);
    apir_write_u64(msg_begin(), dev);
    CHECK(msg_send(s, APIR_CMD_STREAM_NEW) == APIR_OK);
    uint64_t stream = apir_read_u64(&rep);
    CHECK(recompute(s, stream) == APIR_E_STALE); /* nothing cached yet */
    struct apir_wire_tensor t[2] = {f32_tensor(buf, 0, 16), f32_tensor(buf, 64, 16)};
    t[1].op = GGML_OP_ADD;
    t[1].src[0] = t[1].src[1] = 0;
    t[1].flags = GGML_TENSOR_FLAG_COMPUTE;
    float a[16];
    for (int i = 0; i < 16; i++)
        a[i] = (float)i;
    CHECK(tensor_set(s, &t[0], a, sizeof a) == APIR_OK);
    const int32_t node = 1;
    CHECK(graph_compute(s, stream, t, 2, &node, 1) == APIR_OK && get_f32(s, t[1], 5) == 10.0f);
    a[5] = 100.0f;
    CHECK(tensor_set(s, &t[0], a, sizeof a) == APIR_OK);
    CHECK(recompute(s, stream) == APIR_OK && apir_read_u32(&rep) == 0);
    CHECK(get_f32(s, t[1], 5) == 200.0f); /* ran again, on the new data */
    apir_write_u64(msg_begin(), other);
    CHECK(msg_send(s, APIR_CMD_BUFFER_FREE) == APIR_OK);
    CHECK(recompute(s, stream) == APIR_E_STALE); /* a buffer went away: never trusted again */
    CHECK(graph_compute(s, stream, t, 2, &node, 1) == APIR_OK);
    CHECK(recompute(s, stream) == APIR_OK);
    t[1].op = GGML_OP_MAP_CUSTOM1; /* refused: the stream must not keep the old graph */
    CHECK(graph_compute(s, stream, t, 2, &node, 1) == APIR_E_INVALID);
    CHECK(recompute(s, stream) == APIR_E_STALE);
    apir_session_destroy(s);
}

/* Sends DEVICE_SUPPORTS_OP for a table whose last entry is the op. */
static int supports_op(struct apir_session *s, uint64_t dev, const struct apir_wire_tensor *t,
                       uint32_t n)
{
    struct apir_writer *w = msg_begin();
    apir_write_u64(w, dev);
    apir_write_u32(w, n);
    for (uint32_t i = 0; i < n; i++)
        apir_wire_tensor_encode(w, &t[i]);
    apir_write_u32(w, 1);
    apir_write_i32(w, (int32_t)n - 1);
    return msg_send(s, APIR_CMD_DEVICE_SUPPORTS_OP);
}

/* Per-op structure: the CPU backend's supports_op dereferences MUL_MAT's src1 unchecked, so a
 * missing source used to crash the host; shapes that disagree would make kernels read out of
 * range. Both must be refused before any backend call. */
static void test_op_structure(struct apir_session *s, uint64_t dev)
{
    struct apir_wire_tensor t[3];
    t[0] = f32_tensor(0, 0, 64);
    t[0].ne[1] = 8;
    t[0].nb[2] = t[0].nb[3] = 64 * 8 * 4;
    t[1] = f32_tensor(0, 0, 64);
    t[2] = f32_tensor(0, 0, 8);
    t[2].op = GGML_OP_MUL_MAT;
    t[2].src[0] = 0;
    t[2].src[1] = 1;
    CHECK(supports_op(s, dev, t, 3) == APIR_OK && apir_read_u32(&rep) == 1);
    t[2].src[1] = -1; /* missing source */
    CHECK(supports_op(s, dev, t, 3) == APIR_E_INVALID);
    t[2].src[1] = 1;
    t[1].ne[0] = 32; /* inner dimensions disagree */
    t[1].nb[1] = t[1].nb[2] = t[1].nb[3] = 32 * 4;
    CHECK(supports_op(s, dev, t, 3) == APIR_E_INVALID);
    t[1] = f32_tensor(0, 0, 4); /* GET_ROWS with float indices */
    t[2] = f32_tensor(0, 0, 64);
    t[2].ne[1] = 4;
    t[2].op = GGML_OP_GET_ROWS;
    t[2].src[0] = 0;
    t[2].src[1] = 1;
    CHECK(supports_op(s, dev, t, 3) == APIR_E_INVALID);
    t[1].type = GGML_TYPE_I32;
    CHECK(supports_op(s, dev, t, 3) == APIR_OK);
}

static void test_foreign_and_quota(struct apir_host *host)
{
    struct apir_session *s1 = apir_session_create(host), *s2 = apir_session_create(host);
    uint64_t buft1, buft2;
    int st;
    CHECK(hello(s1, APIR_PROTO_MAJOR) == APIR_OK && hello(s2, APIR_PROTO_MAJOR) == APIR_OK);
    dev_info(s1, &buft1);
    dev_info(s2, &buft2);
    uint64_t b1 = buffer_alloc(s1, buft1, 1024, &st);
    CHECK(b1 != 0);
    /* Session 2 names session 1's buffer: it does not exist there. */
    apir_write_u64(msg_begin(), b1);
    CHECK(msg_send(s2, APIR_CMD_BUFFER_FREE) == APIR_E_HANDLE);
    CHECK(buffer_alloc(s2, buft1, 1024, &st) == 0 && st == APIR_E_HANDLE);
    /* Quota: the host was created with 1 MiB per session. */
    CHECK(buffer_alloc(s2, buft2, 2u << 20, &st) == 0 && st == APIR_E_QUOTA);
    CHECK(buffer_alloc(s2, buft2, 512u << 10, &st) != 0 && st == APIR_OK);
    CHECK(buffer_alloc(s2, buft2, 768u << 10, &st) == 0 && st == APIR_E_QUOTA);
    apir_session_destroy(s1); /* frees b1 with it */
    apir_session_destroy(s2);
}

int main(void)
{
    char err[256];
    struct apir_host_config cfg = {
        .backend_dir = APIR_GGML_BACKEND_DIR, .device_name = "CPU", .max_session_bytes = 1u << 20};
    struct apir_host *host = apir_host_create(&cfg, err, sizeof err);
    if (!host) {
        fprintf(stderr, "cannot create host: %s\n", err);
        return 1;
    }
    apir_writer_init(&req, 1u << 20);
    struct apir_session *s = apir_session_create(host);
    test_framing(s);
    uint64_t buft, dev = dev_info(s, &buft);
    test_tensor_data(s, dev, buft);
    test_graph(s, dev, buft);
    test_op_structure(s, dev);
    test_cast_self_source(s, dev, buft);
    test_untouched_tensors(s, dev, buft);
    apir_session_destroy(s);
    test_foreign_and_quota(host);
    test_regions(host);
    test_graph_cache(host);
    apir_writer_free(&req);
    apir_host_destroy(host);
    return apir_check_summary("dispatch");
}
