/* Shared regions over apir-hostd's socket, driven with the real protocol by a client that
 * plays both an honest and a hostile guest: attaches that must be refused (no descriptor, an
 * unsealed or short memfd, a pipe, a reused id), buffers placed outside or misaligned in a
 * region, a detach under a live buffer, and a flood of descriptors sent with other requests
 * (the host must close them, or its table fills and later attaches fail). The honest part
 * computes an ADD on tensors written and read directly in the shared mapping, with no data
 * message at all. Prints "region_client: N passed, M failed"; exits 1 on any failure. */
#include "check.h"
#include "proto/codec.h"
#include "proto/wire.h"
#include "sock/fdio.h"

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
static struct apir_writer req, rep;
static struct apir_reader r;

static struct apir_writer *begin(void)
{
    apir_writer_reset(&req);
    apir_write_reserve(&req, APIR_HDR_SIZE);
    return &req;
}

/* Sends req (with pass_fd when >= 0); returns the reply status, -1 when the connection died. */
static int call_fd(uint16_t cmd, int pass_fd)
{
    static uint32_t seq;
    struct apir_req_hdr h = {APIR_MAGIC_REQ, cmd, 0, ++seq, (uint32_t)(req.len - APIR_HDR_SIZE)};
    apir_req_hdr_encode(req.buf, &h);
    uint8_t hb[APIR_HDR_SIZE];
    struct apir_rep_hdr rh;
    if (!apir_fd_write_with_fd(sock, req.buf, req.len, pass_fd) ||
        !apir_fd_read_all(sock, hb, sizeof hb) || !apir_rep_hdr_decode(hb, &rh))
        return -1;
    apir_writer_reset(&rep);
    void *p = apir_write_reserve(&rep, rh.len);
    if (rh.len && (!p || !apir_fd_read_all(sock, p, rh.len)))
        return -1;
    apir_reader_init(&r, rep.buf, rep.len);
    return rh.status;
}

static int call(uint16_t cmd)
{
    return call_fd(cmd, -1);
}

static int memfd(size_t size, unsigned seals)
{
    int fd = memfd_create("region-client", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0 || ftruncate(fd, (off_t)size) != 0 || (seals && fcntl(fd, F_ADD_SEALS, seals)))
        exit(2);
    return fd;
}

static int attach(uint32_t id, uint64_t size, int fd)
{
    struct apir_writer *w = begin();
    apir_write_u32(w, id);
    apir_write_u64(w, size);
    int st = call_fd(APIR_CMD_REGION_ATTACH, fd);
    if (fd >= 0)
        close(fd);
    return st;
}

static int from_region(uint64_t dev, uint32_t id, uint64_t off, uint64_t size, uint64_t *buf)
{
    struct apir_writer *w = begin();
    apir_write_u64(w, dev);
    apir_write_u32(w, id);
    apir_write_u64(w, off);
    apir_write_u64(w, size);
    int st = call(APIR_CMD_BUFFER_FROM_REGION);
    *buf = st == APIR_OK ? apir_read_u64(&r) : 0;
    return st;
}

static int handle_cmd(uint16_t cmd, uint64_t h)
{
    apir_write_u64(begin(), h);
    return call(cmd);
}

static struct apir_wire_tensor f32(uint64_t buf, uint64_t off, int64_t n)
{
    struct apir_wire_tensor t;
    apir_wire_tensor_clear(&t);
    t.type = GGML_TYPE_F32;
    t.ne[0] = n;
    t.ne[1] = t.ne[2] = t.ne[3] = 1;
    t.nb[0] = 4;
    t.nb[1] = t.nb[2] = t.nb[3] = 4 * (uint64_t)n;
    t.buffer = buf;
    t.offset = off;
    return t;
}

/* c = a + b on tensors written and read only through the shared mapping. */
static void honest_add(uint64_t dev, uint64_t buf, float *mem)
{
    apir_write_u64(begin(), dev);
    CHECK(call(APIR_CMD_STREAM_NEW) == APIR_OK);
    uint64_t stream = apir_read_u64(&r);
    for (int i = 0; i < 64; i++) {
        mem[i] = (float)i;
        mem[64 + i] = 0.5f;
        mem[128 + i] = -1.0f;
    }
    struct apir_wire_tensor t[3] = {f32(buf, 0, 64), f32(buf, 256, 64), f32(buf, 512, 64)};
    t[2].op = GGML_OP_ADD;
    t[2].src[0] = 0;
    t[2].src[1] = 1;
    t[2].flags = GGML_TENSOR_FLAG_COMPUTE;
    const int32_t node = 2;
    struct apir_writer *w = begin();
    apir_write_u64(w, stream);
    apir_wire_graph_encode(w, t, 3, &node, 1);
    CHECK(call(APIR_CMD_GRAPH_COMPUTE) == APIR_OK && apir_read_u32(&r) == 0);
    int good = 0;
    for (int i = 0; i < 64; i++)
        good += mem[128 + i] == (float)i + 0.5f;
    CHECK(good == 64);
    CHECK(handle_cmd(APIR_CMD_STREAM_FREE, stream) == APIR_OK);
}

static void refused_attaches(void)
{
    CHECK(attach(1, 65536, -1) == APIR_E_INVALID);              /* no memory came with it */
    CHECK(attach(1, 65536, memfd(65536, 0)) == APIR_E_INVALID); /* could shrink */
    CHECK(attach(1, 65536, memfd(4096, F_SEAL_SHRINK)) == APIR_E_INVALID); /* too small */
    int p[2];
    if (pipe(p) != 0)
        exit(2);
    CHECK(attach(1, 65536, p[0]) == APIR_E_INVALID); /* not shared memory at all */
    close(p[1]);
    CHECK(attach(1, 0, memfd(4096, F_SEAL_SHRINK)) == APIR_E_INVALID); /* empty */
}

/* Descriptors sent with requests that take none: each must be closed by the host. */
static void descriptor_flood(uint64_t dev)
{
    int bad = 0, fd = memfd(4096, F_SEAL_SHRINK);
    for (int i = 0; i < 1500; i++) {
        apir_write_u64(begin(), dev);
        bad += call_fd(APIR_CMD_DEVICE_MEMORY, fd) != APIR_OK;
    }
    close(fd);
    CHECK(bad == 0);
}

/* The memory of region 7 again, under another id or as the ring: mapped twice its bytes sit
 * at two host addresses, and every overlap rule (which compares host addresses) would miss
 * that two tensors are the same bytes. Refused, whatever descriptor names the memory. */
static void same_memory_twice(int fd)
{
    CHECK(attach(9, 65536, dup(fd)) == APIR_E_INVALID);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    CHECK(attach(10, 4096, open(path, O_RDWR | O_CLOEXEC)) == APIR_E_INVALID);
    int again = dup(fd);
    apir_write_u32(begin(), 65536);
    CHECK(call_fd(APIR_CMD_RING_ATTACH, again) == APIR_E_INVALID);
    close(again);
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
    apir_writer_init(&req, 1 << 20);
    apir_writer_init(&rep, 1 << 20);
    struct apir_writer *w = begin();
    apir_write_u32(w, APIR_PROTO_MAJOR);
    apir_write_u32(w, APIR_PROTO_MINOR);
    apir_write_u64(w, APIR_FEAT_REGIONS);
    if (call(APIR_CMD_HELLO) != APIR_OK)
        return 2;
    apir_read_u32(&r);
    apir_read_u32(&r);
    CHECK(apir_read_u64(&r) & APIR_FEAT_REGIONS);
    apir_write_u32(begin(), 0);
    if (call(APIR_CMD_DEVICE_INFO) != APIR_OK)
        return 2;
    uint64_t dev = apir_read_u64(&r);

    refused_attaches();
    descriptor_flood(dev);
    int fd = memfd(65536, F_SEAL_SHRINK | F_SEAL_GROW);
    float *mem = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mem == MAP_FAILED)
        return 2;
    int same = dup(fd); /* attach closes what it sends */
    CHECK(same >= 0 && attach(7, 65536, fd) == APIR_OK);
    CHECK(attach(7, 65536, memfd(65536, F_SEAL_SHRINK)) == APIR_E_INVALID); /* id in use */
    same_memory_twice(same);
    close(same);
    uint64_t buf;
    CHECK(from_region(dev, 7, 4096, 65536, &buf) == APIR_E_INVALID); /* past its end */
    CHECK(from_region(dev, 7, 1, 4096, &buf) == APIR_E_INVALID);     /* misaligned */
    CHECK(from_region(dev, 8, 0, 4096, &buf) == APIR_E_HANDLE);      /* no such region */
    CHECK(from_region(dev, 7, 0, 0, &buf) == APIR_E_INVALID);
    CHECK(from_region(dev, 7, 0, 32768, &buf) == APIR_OK && buf);
    honest_add(dev, buf, mem);
    apir_write_u32(begin(), 7);
    CHECK(call(APIR_CMD_REGION_DETACH) == APIR_E_INVALID); /* a buffer lives in it */
    CHECK(handle_cmd(APIR_CMD_BUFFER_FREE, buf) == APIR_OK);
    apir_write_u32(begin(), 7);
    CHECK(call(APIR_CMD_REGION_DETACH) == APIR_OK);
    CHECK(handle_cmd(APIR_CMD_BUFFER_FREE, buf) == APIR_E_HANDLE);
    apir_write_u32(begin(), 7);
    CHECK(call(APIR_CMD_REGION_DETACH) == APIR_E_HANDLE);
    return apir_check_summary("region_client");
}
