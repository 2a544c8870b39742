/* A hostile guest speaking the real protocol over the socket. Usage: SOCKET [MODE]
 *
 * index (default): a GET_ROWS whose index is out of range (ggml's CPU kernel would abort the
 * host on it). The host must refuse it with an error reply, and the same session must then
 * serve the same graph with a valid index.
 * workbuf: a MUL_MAT whose src1 is a zero-stride view (16 KiB of bytes, 256 rows: 64 elements
 * per byte, the most the host accepts) asks the CPU backend for a 2 MiB work buffer: past a
 * 1 MiB session quota it must be refused with APIR_E_QUOTA, and the same session must then
 * compute the same MUL_MAT over 8 rows.
 * spin: a dense F32 MUL_MAT of 8192^3 (1.1 TFLOP, 768 MiB of tensors), legal and over ten
 * seconds of work on a small host (4096^3 took 1.4 s on 2 idle cores): a 2 s compute watchdog
 * must end the session (the call sees the connection close).
 *
 * Exit 0 when the host behaves so; 1 when it does not; 2 on setup failure. */
#include "proto/codec.h"
#include "proto/wire.h"

#include <ggml.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int fd = -1;
static struct apir_writer req, rep;

static struct apir_writer *begin(void)
{
    apir_writer_reset(&req);
    apir_write_reserve(&req, APIR_HDR_SIZE);
    return &req;
}

/* Returns the reply status, or -1 when the connection closed. Reply payload in rep. */
static int call(uint16_t cmd, struct apir_reader *r)
{
    static uint32_t seq;
    struct apir_req_hdr h = {APIR_MAGIC_REQ, cmd, 0, ++seq, (uint32_t)(req.len - APIR_HDR_SIZE)};
    apir_req_hdr_encode(req.buf, &h);
    if (send(fd, req.buf, req.len, MSG_NOSIGNAL) != (ssize_t)req.len)
        return -1;
    uint8_t hb[APIR_HDR_SIZE];
    struct apir_rep_hdr rh;
    if (recv(fd, hb, sizeof hb, MSG_WAITALL) != (ssize_t)sizeof hb || !apir_rep_hdr_decode(hb, &rh))
        return -1;
    apir_writer_reset(&rep);
    void *p = apir_write_reserve(&rep, rh.len);
    if (rh.len && (!p || recv(fd, p, rh.len, MSG_WAITALL) != (ssize_t)rh.len))
        return -1;
    apir_reader_init(r, rep.buf, rep.len);
    return rh.status;
}

static struct apir_wire_tensor tensor(uint32_t type, int64_t ne0, int64_t ne1, uint64_t buf,
                                      uint64_t off)
{
    struct apir_wire_tensor t;
    apir_wire_tensor_clear(&t);
    t.type = type;
    t.ne[0] = ne0;
    t.ne[1] = ne1;
    t.ne[2] = t.ne[3] = 1;
    t.nb[0] = ggml_type_size(type);
    t.nb[1] = t.nb[0] * (uint64_t)ne0;
    t.nb[2] = t.nb[3] = t.nb[1] * (uint64_t)ne1;
    t.buffer = buf;
    t.offset = off;
    return t;
}

/* A view that repeats its first row: every stride past nb0 is 0. */
static struct apir_wire_tensor repeat_row(uint32_t type, int64_t ne0, int64_t ne1, int64_t ne2,
                                          int64_t ne3, uint64_t buf, uint64_t off)
{
    struct apir_wire_tensor t = tensor(type, ne0, ne1, buf, off);
    t.ne[2] = ne2;
    t.ne[3] = ne3;
    t.nb[1] = t.nb[2] = t.nb[3] = 0;
    return t;
}

static int set_index(uint64_t buf, int32_t value)
{
    struct apir_reader r;
    struct apir_wire_tensor idx = tensor(GGML_TYPE_I32, 1, 1, buf, 256);
    struct apir_writer *w = begin();
    apir_wire_graph_encode_lone(w, &idx);
    apir_write_u64(w, 0);
    apir_write_blob(w, &value, sizeof value);
    return call(APIR_CMD_TENSOR_SET, &r);
}

/* GRAPH_COMPUTE of n tensors, the last one the only node. */
static int compute(uint64_t stream, const struct apir_wire_tensor *ts, uint32_t n)
{
    struct apir_reader r;
    const int32_t last = (int32_t)n - 1;
    struct apir_writer *w = begin();
    apir_write_u64(w, stream);
    apir_wire_graph_encode(w, ts, n, &last, 1);
    int st = call(APIR_CMD_GRAPH_COMPUTE, &r);
    if (st == APIR_OK && apir_read_u32(&r) != 0)
        return -2; /* computed, but the backend failed */
    return st;
}

/* src0 F16 [4096, 1], src1 F32 [4096, rows] repeating one row, dst F32 [1, rows]. */
static int mul_mat_rows(uint64_t stream, uint64_t buf, int64_t rows)
{
    struct apir_wire_tensor ts[3] = {
        tensor(GGML_TYPE_F16, 4096, 1, buf, 0),
        repeat_row(GGML_TYPE_F32, 4096, rows, 1, 1, buf, 8192),
        tensor(GGML_TYPE_F32, 1, rows, buf, 24576),
    };
    ts[2].op = GGML_OP_MUL_MAT;
    ts[2].flags = GGML_TENSOR_FLAG_COMPUTE;
    ts[2].src[0] = 0;
    ts[2].src[1] = 1;
    return compute(stream, ts, 3);
}

static int workbuf_abuse(uint64_t stream, uint64_t buf)
{
    int st = mul_mat_rows(stream, buf, 256);
    printf("MUL_MAT asking for a 2 MiB work buffer: %s\n",
           st == -1 ? "session ended by the host" : apir_status_str(st));
    if (st != APIR_E_QUOTA)
        return 1;
    st = mul_mat_rows(stream, buf, 8);
    printf("the same MUL_MAT over 8 rows: %s\n", st == -2 ? "backend failed" : apir_status_str(st));
    return st == APIR_OK ? 0 : 1;
}

#define APIR_SPIN_N 8192

static int spin(uint64_t stream, uint64_t buft)
{
    struct apir_reader r;
    struct apir_writer *w = begin();
    apir_write_u64(w, buft);
    apir_write_u64(w, 3ull * APIR_SPIN_N * APIR_SPIN_N * 4);
    if (call(APIR_CMD_BUFFER_ALLOC, &r) != APIR_OK)
        return 2;
    uint64_t big = apir_read_u64(&r);
    struct apir_wire_tensor ts[3] = {
        tensor(GGML_TYPE_F32, APIR_SPIN_N, APIR_SPIN_N, big, 0),
        tensor(GGML_TYPE_F32, APIR_SPIN_N, APIR_SPIN_N, big, 1ull * APIR_SPIN_N * APIR_SPIN_N * 4),
        tensor(GGML_TYPE_F32, APIR_SPIN_N, APIR_SPIN_N, big, 2ull * APIR_SPIN_N * APIR_SPIN_N * 4),
    };
    ts[2].op = GGML_OP_MUL_MAT;
    ts[2].flags = GGML_TENSOR_FLAG_COMPUTE;
    ts[2].src[0] = 0;
    ts[2].src[1] = 1;
    int st = compute(stream, ts, 3);
    printf("MUL_MAT of 8192^3: %s\n", st == -1   ? "session ended by the host"
                                      : st == -2 ? "backend failed"
                                                 : apir_status_str(st));
    return st == -1 ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (argc < 2 || strlen(argv[1]) >= sizeof addr.sun_path)
        return 2;
    const char *mode = argc > 2 ? argv[2] : "index";
    strcpy(addr.sun_path, argv[1]);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0)
        return 2;
    apir_writer_init(&req, 1 << 20);
    apir_writer_init(&rep, 1 << 20);
    struct apir_reader r;
    struct apir_writer *w = begin();
    apir_write_u32(w, APIR_PROTO_MAJOR);
    apir_write_u32(w, APIR_PROTO_MINOR);
    apir_write_u64(w, 0);
    if (call(APIR_CMD_HELLO, &r) != APIR_OK)
        return 2;
    apir_write_u32(begin(), 0);
    if (call(APIR_CMD_DEVICE_INFO, &r) != APIR_OK)
        return 2;
    uint64_t dev = apir_read_u64(&r), buft = apir_read_u64(&r);
    w = begin();
    apir_write_u64(w, buft);
    apir_write_u64(w, 65536);
    if (call(APIR_CMD_BUFFER_ALLOC, &r) != APIR_OK)
        return 2;
    uint64_t buf = apir_read_u64(&r);
    apir_write_u64(begin(), dev);
    if (call(APIR_CMD_STREAM_NEW, &r) != APIR_OK)
        return 2;
    uint64_t stream = apir_read_u64(&r);
    if (!strcmp(mode, "workbuf"))
        return workbuf_abuse(stream, buf);
    if (!strcmp(mode, "spin"))
        return spin(stream, buft);
    if (set_index(buf, 1000) != APIR_OK) /* 2 rows exist; row 1000 does not */
        return 2;
    struct apir_wire_tensor t[3] = {tensor(GGML_TYPE_F32, 4, 2, buf, 0), /* rows */
                                    tensor(GGML_TYPE_I32, 1, 1, buf, 256),
                                    tensor(GGML_TYPE_F32, 4, 1, buf, 512)};
    t[2].op = GGML_OP_GET_ROWS;
    t[2].flags = GGML_TENSOR_FLAG_COMPUTE;
    t[2].src[0] = 0;
    t[2].src[1] = 1;
    const int32_t node = 2;
    w = begin();
    apir_write_u64(w, stream);
    apir_wire_graph_encode(w, t, 3, &node, 1);
    struct apir_writer graph = req; /* the same request again, with a valid index */
    int st = call(APIR_CMD_GRAPH_COMPUTE, &r);
    printf("hostile GET_ROWS: %s\n", st < 0 ? "session ended by the host" : apir_status_str(st));
    if (st != APIR_E_INVALID)
        return 1;
    uint8_t *copy = malloc(graph.len);
    size_t len = graph.len;
    if (!copy)
        return 2;
    memcpy(copy, graph.buf, len);
    if (set_index(buf, 1) != APIR_OK)
        return 1;
    apir_writer_reset(&req);
    memcpy(apir_write_reserve(&req, len), copy, len);
    free(copy);
    st = call(APIR_CMD_GRAPH_COMPUTE, &r);
    uint32_t gs = apir_read_u32(&r);
    printf("valid GET_ROWS on the same session: %s, ggml status %u\n", apir_status_str(st), gs);
    return st == APIR_OK && gs == 0 ? 0 : 1;
}
