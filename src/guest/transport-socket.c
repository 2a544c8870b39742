/* The socket transport: a unix stream socket to apir-hostd, request/response; shared regions
 * are sealed memfds passed with SCM_RIGHTS. */
#include "transport.h"

#include "../proto/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

struct apir_socket_transport {
    struct apir_transport base;
    int fd;
    uint32_t next_region;
};

static bool apir_sock_roundtrip(struct apir_transport *t, const void *msg, size_t len,
                                const struct apir_shm_region *attach, struct apir_rep_hdr *hdr,
                                struct apir_writer *reply)
{
    struct apir_socket_transport *st = (struct apir_socket_transport *)t;
    uint8_t hb[APIR_HDR_SIZE];
    if (!apir_fd_write_with_fd(st->fd, msg, len, attach ? attach->fd : -1) ||
        !apir_fd_read_all(st->fd, hb, sizeof hb))
        return false;
    if (!apir_rep_hdr_decode(hb, hdr))
        return false;
    void *dst = apir_write_reserve(reply, hdr->len);
    return dst && apir_fd_read_all(st->fd, dst, hdr->len);
}

static void apir_sock_set_timeout(struct apir_transport *t, int ms)
{
    struct apir_socket_transport *st = (struct apir_socket_transport *)t;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    setsockopt(st->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(st->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* A sealed memfd: the host maps it knowing it can never shrink under its mapping (a shrunk
 * file would fault the host on access), and refuses one without the seal. */
static bool apir_sock_region_create(struct apir_transport *t, size_t size,
                                    struct apir_shm_region *out)
{
    struct apir_socket_transport *st = (struct apir_socket_transport *)t;
    long page = sysconf(_SC_PAGESIZE);
    size_t ps = page > 0 ? (size_t)page : 4096;
    if (size == 0 || size > SIZE_MAX - ps)
        return false;
    size = (size + ps - 1) / ps * ps;
    int fd = memfd_create("ggml-apir", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return false;
    void *p = MAP_FAILED;
    if (ftruncate(fd, (off_t)size) == 0 &&
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0)
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        close(fd);
        return false;
    }
    *out = (struct apir_shm_region){++st->next_region, p, size, fd};
    return true;
}

static void apir_sock_region_destroy(struct apir_transport *t, struct apir_shm_region *r)
{
    (void)t;
    if (r->ptr)
        munmap(r->ptr, r->size);
    if (r->fd >= 0)
        close(r->fd);
    memset(r, 0, sizeof *r);
    r->fd = -1;
}

static void apir_sock_destroy(struct apir_transport *t)
{
    struct apir_socket_transport *st = (struct apir_socket_transport *)t;
    close(st->fd);
    free(st);
}

static const struct apir_transport_ops apir_socket_ops = {
    .roundtrip = apir_sock_roundtrip,
    .region_create = apir_sock_region_create,
    .region_destroy = apir_sock_region_destroy,
    .set_timeout = apir_sock_set_timeout,
    .destroy = apir_sock_destroy,
};

struct apir_transport *apir_transport_socket_open(const char *path, char *why, size_t whylen)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) {
        snprintf(why, whylen, "socket path too long: %s", path);
        return NULL;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(why, whylen, "socket(): %s", strerror(errno));
        return NULL;
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        snprintf(why, whylen, "no apir-hostd at %s (%s)", path, strerror(errno));
        close(fd);
        return NULL;
    }
    struct apir_socket_transport *st = calloc(1, sizeof *st);
    if (!st) {
        close(fd);
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    st->base.ops = &apir_socket_ops;
    snprintf(st->base.desc, sizeof st->base.desc, "%s", path);
    st->fd = fd;
    return &st->base;
}
