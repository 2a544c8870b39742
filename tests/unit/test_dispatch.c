/* The host dispatcher against hostile requests, in-process (loopback), with the real CPU
 * backend behind it. Every case must come back as an error reply, never a crash, and the
 * valid cases must compute right. */
#include "proto/msg.h"
#include "session_msgs.h"

#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ggml.h>
#include <stdlib.h>
#include <string.h>

static void test_framing(struct apir_session *s)
{
    CHECK(msg_send((msg_begin(), s), APIR_CMD_DEVICE_INFO) == APIR_E_VERSION); /* no HELLO */
    CHECK(hello(s, APIR_PROTO_MAJOR + 1) == APIR_E_VERSION);
    CHECK(hello(s, APIR_PROTO_MAJOR) == APIR_OK);
    CHECK(apir_read_u32(&rep) == APIR_PROTO_MAJOR);
    /* One HELLO per session: a second one is refused and changes nothing. */
    CHECK(hello_features(s, APIR_FEAT_GRAPH_CACHE) == APIR_E_INVALID);
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
    apir_wire_graph_encode_lone(w, &t);
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
    /* One Q4_0 block (18 bytes) at the buffer's end with a huge nb[0]: ggml_nbytes, which
     * every data command trusts, counts ne0 * nb0 / 32 bytes: the extent must count them too
     * (it used to count 18, and a 64-byte TENSOR_SET then wrote past the buffer). */
    t = f32_tensor(buf, 4096 - 18, 32);
    t.type = GGML_TYPE_Q4_0;
    t.nb[0] = 1u << 20;
    t.nb[1] = t.nb[2] = t.nb[3] = 18;
    CHECK(tensor_set(s, &t, in, sizeof in) == APIR_E_INVALID);
    t.nb[0] = 18; /* the same block, honest: 18 bytes */
    CHECK(tensor_set(s, &t, in, 18) == APIR_OK);
    CHECK(tensor_set(s, &t, in, 19) == APIR_E_INVALID);

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
        tc.op = round == 1 ? GGML_OP_MAP_CUSTOM1 : GGML_OP_ADD;
        const struct apir_wire_tensor g[3] = {ta, tb, tc};
        const int32_t node = 2;
        struct apir_writer *w = msg_begin();
        apir_write_u64(w, round == 2 ? buf : stream); /* round 2: a buffer is not a stream */
        apir_wire_graph_encode(w, g, 3, &node, 1);
        st = msg_send(s, APIR_CMD_GRAPH_COMPUTE);
        CHECK(st == (round == 0 ? APIR_OK : round == 1 ? APIR_E_INVALID : APIR_E_HANDLE));
    }
    tc.op = GGML_OP_NONE;
    tc.src[0] = tc.src[1] = -1;
    struct apir_writer *w = msg_begin();
    apir_wire_graph_encode_lone(w, &tc);
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
    const struct apir_wire_tensor g[2] = {ta, tc};
    const int32_t node = 1;
    struct apir_writer *w = msg_begin();
    apir_write_u64(w, stream);
    apir_wire_graph_encode(w, g, 2, &node, 1);
    CHECK(msg_send(s, APIR_CMD_GRAPH_COMPUTE) == APIR_OK && apir_read_u32(&rep) == 0);
    tc.op = GGML_OP_NONE;
    tc.src[0] = tc.src[1] = -1;
    w = msg_begin();
    apir_wire_graph_encode_lone(w, &tc);
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
    apir_wire_graph_encode_lone(w, &y);
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

/* Sends DEVICE_SUPPORTS_OP for a table whose last entry is the op. */
static int supports_op(struct apir_session *s, uint64_t dev, const struct apir_wire_tensor *t,
                       uint32_t n)
{
    const int32_t last = (int32_t)n - 1;
    struct apir_writer *w = msg_begin();
    apir_write_u64(w, dev);
    apir_wire_graph_encode(w, t, n, &last, 1);
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

/* Features come with a minor version: a guest saying minor 0 is granted none of minor 1's,
 * whatever bits it sent; the same bits from a minor-1 guest are granted. */
static void test_minor_features(struct apir_host *host)
{
    for (uint32_t minor = 0; minor <= 1; minor++) {
        struct apir_session *s = apir_session_create(host);
        struct apir_writer *w = msg_begin();
        apir_write_u32(w, APIR_PROTO_MAJOR);
        apir_write_u32(w, minor);
        apir_write_u64(w, APIR_FEAT_GRAPH_CACHE);
        CHECK(msg_send(s, APIR_CMD_HELLO) == APIR_OK);
        apir_read_u32(&rep), apir_read_u32(&rep);
        CHECK(apir_read_u64(&rep) == (minor ? APIR_FEAT_GRAPH_CACHE : 0));
        apir_session_destroy(s);
    }
}

/* ECHO (minor 3): any bytes come back as sent, through the encoder and decoder of the one
 * definition; a malformed payload is refused like any other. */
static void test_echo(struct apir_session *s)
{
    uint8_t data[4099];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 131u + 7u); /* zeros and every byte value included */
    for (size_t len = 0; len <= sizeof data; len += sizeof data) {
        struct apir_req_echo echo = {.data = {data, len}};
        CHECK(apir_req_echo_put(msg_begin(), &echo));
        CHECK(msg_send(s, APIR_CMD_ECHO) == APIR_OK);
        struct apir_rep_echo_in out;
        CHECK(apir_rep_echo_get(rep.cur, apir_reader_left(&rep), &out));
        CHECK(out.data.len == len && (!len || memcmp(out.data.data, data, len) == 0));
    }
    struct apir_writer *w = msg_begin(); /* one byte more than the length says */
    apir_write_blob(w, data, 8);
    apir_write_u8(w, 0);
    CHECK(msg_send(s, APIR_CMD_ECHO) == APIR_E_DECODE);
    w = msg_begin(); /* one byte less */
    apir_write_u64(w, 8);
    apir_write_raw(w, data, 7);
    CHECK(msg_send(s, APIR_CMD_ECHO) == APIR_E_DECODE);
    w = msg_begin(); /* a length past the data cap, with no bytes behind it */
    apir_write_u64(w, (uint64_t)APIR_MAX_DATA_CHUNK + 1);
    CHECK(msg_send(s, APIR_CMD_ECHO) == APIR_E_DECODE);
}

/* The framing-free entry (what the virglrenderer dispatcher and rings call): replies go into
 * the caller's window and never past it. */
static void test_execute(struct apir_host *host)
{
    struct apir_session *s = apir_session_create(host);
    uint8_t payload[16], win[512];
    size_t n = 99;
    CHECK(apir_session_execute(s, APIR_CMD_DEVICE_INFO, payload, 4, win, sizeof win, &n) ==
              APIR_E_VERSION &&
          n == 0);
    uint32_t hello[4] = {APIR_PROTO_MAJOR, APIR_PROTO_MINOR, 0, 0};
    memcpy(payload, hello, sizeof hello);
    CHECK(apir_session_execute(s, APIR_CMD_HELLO, payload, 16, win, sizeof win, &n) == APIR_OK &&
          n == 20);
    CHECK(apir_session_execute(s, APIR_CMD_HELLO, payload, 15, win, sizeof win, &n) ==
          APIR_E_DECODE);
    memset(payload, 0, 4); /* device 0 */
    memset(win, 0xa5, sizeof win);
    CHECK(apir_session_execute(s, APIR_CMD_DEVICE_INFO, payload, 4, win, 24, &n) == APIR_E_NOMEM &&
          n == 0);
    int untouched = 0;
    for (size_t i = 24; i < sizeof win; i++)
        untouched += win[i] == 0xa5;
    CHECK(untouched == (int)sizeof win - 24);
    CHECK(apir_session_execute(s, APIR_CMD_DEVICE_INFO, payload, 4, win, sizeof win, &n) ==
              APIR_OK &&
          n > 24);
    CHECK(apir_session_execute(s, 999, payload, 0, win, sizeof win, &n) == APIR_E_UNKNOWN_CMD);
    apir_session_destroy(s);
}

static int thread_count(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

/* SET_THREADS asks for 500 threads: the host runs at most as many as it has cores (a guest's
 * thread count is a hint, capped, not an error), and a compute still works. */
static void test_thread_cap(struct apir_session *s, uint64_t dev, uint64_t buft)
{
    int st;
    uint64_t buf = buffer_alloc(s, buft, 256, &st);
    apir_write_u64(msg_begin(), dev);
    CHECK(msg_send(s, APIR_CMD_STREAM_NEW) == APIR_OK);
    uint64_t stream = apir_read_u64(&rep);
    struct apir_writer *w = msg_begin();
    apir_write_u64(w, stream);
    apir_write_u32(w, 500);
    CHECK(msg_send(s, APIR_CMD_STREAM_SET_THREADS) == APIR_OK);
    struct apir_wire_tensor t[2] = {f32_tensor(buf, 0, 16), f32_tensor(buf, 64, 16)};
    t[1].op = GGML_OP_ADD;
    t[1].src[0] = t[1].src[1] = 0;
    t[1].flags = GGML_TENSOR_FLAG_COMPUTE;
    int before = thread_count();
    const int32_t node = 1;
    CHECK(graph_compute(s, stream, t, 2, &node, 1) == APIR_OK && apir_read_u32(&rep) == 0);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    CHECK(thread_count() <= before + (int)cores);
}

/* The handle tag a session forked from this process gets (apir-hostd forks one per guest). */
static uint16_t tag_in_child(struct apir_host *host)
{
    int p[2];
    if (pipe(p) != 0)
        return 0;
    pid_t pid = fork();
    if (pid == 0) {
        struct apir_session *s = apir_session_create(host);
        uint64_t buft, dev = (hello(s, APIR_PROTO_MAJOR), dev_info(s, &buft));
        uint16_t tag = (uint16_t)(dev >> 48);
        _exit(write(p[1], &tag, sizeof tag) == sizeof tag ? 0 : 1);
    }
    uint16_t tag = 0;
    if (read(p[0], &tag, sizeof tag) != sizeof tag)
        tag = 0;
    waitpid(pid, NULL, 0);
    close(p[0]);
    close(p[1]);
    return tag;
}

/* Sessions forked from one daemon state still get distinct tags: a handle of one guest's
 * session is never well-formed in another's. */
static void test_tags_after_fork(struct apir_host *host)
{
    uint16_t a = tag_in_child(host), b = tag_in_child(host);
    CHECK(a != 0 && b != 0 && a != b);
}

/* Without a configured quota, a session may not allocate more than its devices hold (the
 * CPU's RAM here): twice the machine's memory is refused, not accepted lazily. */
static void test_default_quota(void)
{
    char err[256];
    struct apir_host_config cfg = {.backend_dir = APIR_GGML_BACKEND_DIR, .device_name = "CPU"};
    struct apir_host *host = apir_host_create(&cfg, err, sizeof err);
    CHECK(host != NULL);
    if (!host)
        return;
    struct apir_session *s = apir_session_create(host);
    CHECK(hello(s, APIR_PROTO_MAJOR) == APIR_OK);
    uint64_t buft;
    dev_info(s, &buft);
    uint64_t ram = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
    int st;
    uint64_t big = buffer_alloc(s, buft, 2 * ram, &st);
    CHECK(big == 0 && st == APIR_E_QUOTA);
    uint64_t small = buffer_alloc(s, buft, 1u << 20, &st);
    CHECK(small != 0 && st == APIR_OK);
    apir_session_destroy(s);
    apir_host_destroy(host);
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
    test_thread_cap(s, dev, buft);
    test_echo(s);
    apir_session_destroy(s);
    test_foreign_and_quota(host);
    test_execute(host);
    test_minor_features(host);
    test_tags_after_fork(host);
    test_default_quota();
    apir_writer_free(&req);
    apir_host_destroy(host);
    return apir_check_summary("dispatch");
}
