/* The shared-memory ring of apir-hostd's socket transport, driven by a client that lays out
 * the ring itself (src/shm/ring.h) and speaks the real protocol through it: refused attaches
 * (before HELLO, unsealed, too small, a second ring), calls through the ring, a reply too large for
 * the reply area that must arrive on the socket instead, and finally a request length beyond the
 * area, after which the host must end the connection rather than read past it.
 * Prints "ring_client: N passed, M failed"; exits 1 on any failure. */
#include "check.h"
#include "proto/codec.h"
#include "proto/wire.h"
#include "shm/ring.h"
#include "sock/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <ggml.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int sock = -1;
static struct apir_ring ring;
static struct apir_writer req, rep;
static struct apir_reader r;
static uint32_t seq;

static struct apir_writer *begin(void)
{
    apir_writer_reset(&req);
    apir_write_reserve(&req, APIR_HDR_SIZE);
    return &req;
}

static void frame(uint16_t cmd)
{
    struct apir_req_hdr h = {APIR_MAGIC_REQ, cmd, 0, ++seq, (uint32_t)(req.len - APIR_HDR_SIZE)};
    apir_req_hdr_encode(req.buf, &h);
}

static int read_socket_reply(void)
{
    uint8_t hb[APIR_HDR_SIZE];
    struct apir_rep_hdr rh;
    if (!apir_fd_read_all(sock, hb, sizeof hb) || !apir_rep_hdr_decode(hb, &rh))
        return -1;
    apir_writer_reset(&rep);
    void *p = rh.len ? apir_write_reserve(&rep, rh.len) : NULL;
    if (rh.len && (!p || !apir_fd_read_all(sock, p, rh.len)))
        return -1;
    apir_reader_init(&r, rep.buf, rep.len);
    return rh.status;
}

static int call_socket(uint16_t cmd, int pass_fd)
{
    frame(cmd);
    if (!apir_fd_write_with_fd(sock, req.buf, req.len, pass_fd))
        return -1;
    return read_socket_reply();
}

static bool alive(void *user)
{
    (void)user;
    char b;
    ssize_t n = recv(sock, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n > 0 || (n < 0 && errno == EAGAIN);
}

/* Through the ring; *on_socket tells whether the reply came on the socket. -1: connection
 * gone. len_override: a length to publish instead of the true one (hostile). */
static int call_ring(uint16_t cmd, uint32_t len_override, bool *on_socket)
{
    frame(cmd);
    struct apir_ring_ctrl *c = ring.ctrl;
    memcpy(ring.req, req.buf, req.len);
    atomic_store(&c->req_len, len_override ? len_override : (uint32_t)req.len);
    uint32_t s = atomic_load(&c->req_seq) + 1;
    apir_ring_publish(&c->req_seq, s, &c->host_idle);
    if (!apir_ring_wait(&c->rep_seq, s - 1, &c->guest_idle, 5, 100, alive, NULL))
        return -1;
    uint32_t n = atomic_load(&c->rep_len);
    *on_socket = n == APIR_RING_REPLY_ON_SOCKET;
    if (*on_socket)
        return read_socket_reply();
    struct apir_rep_hdr rh;
    if (n < APIR_HDR_SIZE || n > ring.cap || !apir_rep_hdr_decode(ring.rep, &rh))
        return -1;
    apir_writer_reset(&rep);
    if (rh.len)
        memcpy(apir_write_reserve(&rep, rh.len), ring.rep + APIR_HDR_SIZE, rh.len);
    apir_reader_init(&r, rep.buf, rep.len);
    return rh.status;
}

static int memfd(size_t size, unsigned seals)
{
    int fd = memfd_create("ring-client", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0 || ftruncate(fd, (off_t)size) != 0 || (seals && fcntl(fd, F_ADD_SEALS, seals)))
        exit(2);
    return fd;
}

static int attach(uint32_t size, int fd)
{
    apir_write_u32(begin(), size);
    int st = call_socket(APIR_CMD_RING_ATTACH, fd);
    close(fd);
    return st;
}

/* A 2 MiB tensor read back through the ring: its reply cannot fit the 1 MiB reply area. */
static void large_reply(uint64_t buft)
{
    bool sock_reply;
    struct apir_writer *w = begin();
    apir_write_u64(w, buft);
    apir_write_u64(w, 2u << 20);
    CHECK(call_ring(APIR_CMD_BUFFER_ALLOC, 0, &sock_reply) == APIR_OK && !sock_reply);
    uint64_t buf = apir_read_u64(&r);
    struct apir_wire_tensor t;
    apir_wire_tensor_clear(&t);
    t.type = GGML_TYPE_F32;
    t.ne[0] = 512 * 1024;
    t.ne[1] = t.ne[2] = t.ne[3] = 1;
    t.nb[0] = 4;
    t.nb[1] = t.nb[2] = t.nb[3] = 2u << 20;
    t.buffer = buf;
    w = begin();
    apir_wire_graph_encode_lone(w, &t);
    apir_write_u64(w, 0);
    apir_write_u64(w, 2u << 20);
    size_t n = 0;
    CHECK(call_ring(APIR_CMD_TENSOR_GET, 0, &sock_reply) == APIR_OK && sock_reply &&
          apir_read_blob(&r, 2u << 20, &n) && n == (2u << 20));
}

int main(int argc, char **argv)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (argc != 2 || strlen(argv[1]) >= sizeof addr.sun_path)
        return 2;
    strcpy(addr.sun_path, argv[1]);
    sock = socket(AF_UNIX, SOCK_STREAM, 0);
    if (sock < 0 || connect(sock, (struct sockaddr *)&addr, sizeof addr) != 0)
        return 2;
    apir_writer_init(&req, 4 << 20);
    apir_writer_init(&rep, 4 << 20);
    const size_t size = APIR_RING_DEFAULT_SIZE;
    /* Before HELLO a ring is refused as every other command is. */
    CHECK(attach((uint32_t)size, memfd(size, F_SEAL_SHRINK)) == APIR_E_VERSION);
    struct apir_writer *w = begin();
    apir_write_u32(w, APIR_PROTO_MAJOR);
    apir_write_u32(w, APIR_PROTO_MINOR);
    apir_write_u64(w, 0);
    CHECK(call_socket(APIR_CMD_HELLO, -1) == APIR_OK);
    CHECK(attach((uint32_t)size, memfd(size, 0)) == APIR_E_INVALID);             /* unsealed */
    CHECK(attach((uint32_t)size, memfd(4096, F_SEAL_SHRINK)) == APIR_E_INVALID); /* short */
    int fd = memfd(size, F_SEAL_SHRINK);
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED || !apir_ring_layout(&ring, map, size))
        return 2;
    CHECK(attach((uint32_t)size, fd) == APIR_OK);
    CHECK(attach((uint32_t)size, memfd(size, F_SEAL_SHRINK)) == APIR_E_INVALID); /* a second */

    bool on_socket;
    w = begin();
    apir_write_u32(w, APIR_PROTO_MAJOR);
    apir_write_u32(w, APIR_PROTO_MINOR);
    apir_write_u64(w, 0);
    CHECK(call_ring(APIR_CMD_HELLO, 0, &on_socket) == APIR_E_INVALID); /* one per session */
    apir_write_u32(begin(), 0);
    CHECK(call_ring(APIR_CMD_DEVICE_INFO, 0, &on_socket) == APIR_OK && !on_socket);
    apir_read_u64(&r);
    uint64_t buft = apir_read_u64(&r);
    begin();
    CHECK(call_ring(999, 0, &on_socket) == APIR_E_UNKNOWN_CMD); /* errors come back as replies */
    large_reply(buft);
    /* A length past the request area: the host must not read it; it ends the connection. */
    apir_write_u32(begin(), 0);
    CHECK(call_ring(APIR_CMD_DEVICE_INFO, ring.cap + 4096, &on_socket) == -1);
    return apir_check_summary("ring_client");
}
