/* A hostile guest speaking the real protocol over the socket: it sends a GET_ROWS whose index
 * is out of range (ggml's CPU kernel would abort the host on it). The host must refuse it with
 * an error reply, and the same session must then serve the same graph with a valid index.
 * Exit 0 when both hold; 1 when the host ended the session or answered wrongly; 2 on setup
 * failure. */
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

static int set_index(uint64_t buf, int32_t value)
{
    struct apir_reader r;
    struct apir_wire_tensor idx = tensor(GGML_TYPE_I32, 1, 1, buf, 256);
    struct apir_writer *w = begin();
    apir_write_u32(w, 1);
    apir_wire_tensor_encode(w, &idx);
    apir_write_u32(w, 1);
    apir_write_i32(w, 0);
    apir_write_u64(w, 0);
    apir_write_blob(w, &value, sizeof value);
    return call(APIR_CMD_TENSOR_SET, &r);
}

int main(int argc, char **argv)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (argc != 2 || strlen(argv[1]) >= sizeof addr.sun_path)
        return 2;
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
    apir_write_u64(w, 4096);
    if (call(APIR_CMD_BUFFER_ALLOC, &r) != APIR_OK)
        return 2;
    uint64_t buf = apir_read_u64(&r);
    apir_write_u64(begin(), dev);
    if (call(APIR_CMD_STREAM_NEW, &r) != APIR_OK)
        return 2;
    uint64_t stream = apir_read_u64(&r);
    if (set_index(buf, 1000) != APIR_OK) /* 2 rows exist; row 1000 does not */
        return 2;
    struct apir_wire_tensor rows = tensor(GGML_TYPE_F32, 4, 2, buf, 0);
    struct apir_wire_tensor idx = tensor(GGML_TYPE_I32, 1, 1, buf, 256);
    struct apir_wire_tensor out = tensor(GGML_TYPE_F32, 4, 1, buf, 512);
    out.op = GGML_OP_GET_ROWS;
    out.flags = GGML_TENSOR_FLAG_COMPUTE;
    out.src[0] = 0;
    out.src[1] = 1;
    w = begin();
    apir_write_u64(w, stream);
    apir_write_u32(w, 3);
    apir_wire_tensor_encode(w, &rows);
    apir_wire_tensor_encode(w, &idx);
    apir_wire_tensor_encode(w, &out);
    apir_write_u32(w, 1);
    apir_write_i32(w, 2);
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
