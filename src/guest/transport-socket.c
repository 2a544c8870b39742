/* The socket transport to apir-hostd: a unix stream socket for setup, descriptors and large
 * messages; requests and replies through a shared-memory ring once the host accepted one
 * (src/shm/ring.h); shared regions are sealed memfds passed with SCM_RIGHTS. */
#include "transport.h"

#include "../shm/ring.h"
#include "../sock/fdio.h"
#include "../sock/sockpath.h"

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
#include <time.h>
#include <unistd.h>

struct apir_socket_transport {
    struct apir_transport base;
    int fd;
    uint32_t next_region;
    /* The shared-memory ring (src/shm/ring.h), once the host accepted it. */
    struct apir_shm_region ring_shm;
    struct apir_ring ring;
    bool ring_on;
    uint32_t ring_seq;
    unsigned spin_us;
    int timeout_ms;       /* set_timeout's, 0: the call timeout */
    uint64_t deadline_ms; /* of the ring call in flight (CLOCK_MONOTONIC) */
};

static uint64_t apir_sock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int apir_sock_timeout_ms(const struct apir_socket_transport *st)
{
    return st->timeout_ms ? st->timeout_ms : apir_transport_call_timeout_ms();
}

/* How long the guest polls for a reply before it sleeps. Short by default: while the host
 * computes, a spinning guest takes a core from the host's compute threads. */
#define APIR_SOCK_RING_SPIN_US 5u
#define APIR_SOCK_RING_POLL_MS 100u

static bool apir_sock_peer_alive(void *user)
{
    struct apir_socket_transport *st = user;
    if (atomic_load(&st->ring.ctrl->closed))
        return false;
    /* Alive but silent past the call's deadline (stopped, deadlocked): lost as well. */
    if (apir_sock_now_ms() > st->deadline_ms)
        return false;
    char b;
    ssize_t n = recv(st->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR));
}

static bool apir_sock_read_reply(struct apir_socket_transport *st, struct apir_rep_hdr *hdr,
                                 struct apir_writer *reply)
{
    uint8_t hb[APIR_HDR_SIZE];
    if (!apir_fd_read_all(st->fd, hb, sizeof hb) || !apir_rep_hdr_decode(hb, hdr))
        return false;
    if (hdr->len == 0)
        return true;
    void *dst = apir_write_reserve(reply, hdr->len);
    return dst && apir_fd_read_all(st->fd, dst, hdr->len);
}

/* Requests through the ring: publish, then wait for the reply word and copy the reply out
 * (the host is not trusted with our memory either: lengths are checked before use). */
static void apir_sock_ring_submit(struct apir_socket_transport *st, const void *msg, size_t len)
{
    struct apir_ring_ctrl *c = st->ring.ctrl;
    memcpy(st->ring.req, msg, len);
    atomic_store_explicit(&c->req_len, (uint32_t)len, memory_order_relaxed);
    st->deadline_ms = apir_sock_now_ms() + (uint64_t)apir_sock_timeout_ms(st);
    apir_ring_publish(&c->req_seq, ++st->ring_seq, &c->host_idle);
}

static bool apir_sock_ring_wait(struct apir_socket_transport *st, struct apir_rep_hdr *hdr,
                                struct apir_writer *reply)
{
    struct apir_ring_ctrl *c = st->ring.ctrl;
    uint32_t seq = st->ring_seq;
    if (!apir_ring_wait(&c->rep_seq, seq - 1, &c->guest_idle, st->spin_us, APIR_SOCK_RING_POLL_MS,
                        apir_sock_peer_alive, st) ||
        atomic_load_explicit(&c->rep_seq, memory_order_acquire) != seq)
        return false;
    uint32_t n = atomic_load_explicit(&c->rep_len, memory_order_relaxed);
    if (n == APIR_RING_REPLY_ON_SOCKET)
        return apir_sock_read_reply(st, hdr, reply);
    return apir_ring_take_reply(&st->ring, n, hdr, reply);
}

/* Descriptors and messages larger than the ring's area take the socket. */
static bool apir_sock_submit(struct apir_transport *t, const void *msg, size_t len,
                             const struct apir_shm_region *attach)
{
    struct apir_socket_transport *st = (struct apir_socket_transport *)t;
    t->last_via_ring = st->ring_on && !attach && len <= st->ring.cap;
    if (t->last_via_ring) {
        apir_sock_ring_submit(st, msg, len);
        return true;
    }
    return apir_fd_write_with_fd(st->fd, msg, len, attach ? attach->fd : -1);
}

static bool apir_sock_wait(struct apir_transport *t, struct apir_rep_hdr *hdr,
                           struct apir_writer *reply)
{
    struct apir_socket_transport *st = (struct apir_socket_transport *)t;
    return t->last_via_ring ? apir_sock_ring_wait(st, hdr, reply)
                            : apir_sock_read_reply(st, hdr, reply);
}

static void apir_sock_set_timeout(struct apir_transport *t, int ms)
{
    struct apir_socket_transport *st = (struct apir_socket_transport *)t;
    st->timeout_ms = ms;
    ms = apir_sock_timeout_ms(st);
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
    if (!apir_shm_page_round(&size))
        return false;
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
    *out = (struct apir_shm_region){.id = ++st->next_region, .ptr = p, .size = size, .fd = fd};
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

/* After the handshake: offer the host a ring. A host that does not take it (an older one, or
 * no memory) leaves every call on the socket. */
static void apir_sock_start(struct apir_transport *t)
{
    struct apir_socket_transport *st = (struct apir_socket_transport *)t;
    const char *off = getenv("APIR_RING");
    if ((off && strcmp(off, "0") == 0) ||
        !apir_sock_region_create(t, APIR_RING_DEFAULT_SIZE, &st->ring_shm))
        return;
    uint8_t msg[APIR_HDR_SIZE + 4];
    struct apir_req_hdr h = {APIR_MAGIC_REQ, APIR_CMD_RING_ATTACH, 0, 0, 4};
    apir_req_hdr_encode(msg, &h);
    uint32_t size = (uint32_t)st->ring_shm.size;
    memcpy(msg + APIR_HDR_SIZE, &size, sizeof size);
    struct apir_rep_hdr rh;
    struct apir_writer none;
    apir_writer_init(&none, 0);
    bool ok = apir_fd_write_with_fd(st->fd, msg, sizeof msg, st->ring_shm.fd) &&
              apir_sock_read_reply(st, &rh, &none) && rh.status == APIR_OK && rh.len == 0 &&
              apir_ring_layout(&st->ring, st->ring_shm.ptr, st->ring_shm.size);
    apir_writer_free(&none);
    close(st->ring_shm.fd); /* the host holds its own */
    st->ring_shm.fd = -1;
    if (!ok) {
        apir_sock_region_destroy(t, &st->ring_shm);
        return;
    }
    const char *e = getenv("APIR_RING_SPIN_US");
    st->spin_us = e && *e ? (unsigned)strtoul(e, NULL, 10) : APIR_SOCK_RING_SPIN_US;
    st->ring_on = true;
    t->ring_on = true;
}

static void apir_sock_destroy(struct apir_transport *t)
{
    struct apir_socket_transport *st = (struct apir_socket_transport *)t;
    if (st->ring_on) {
        struct apir_ring_ctrl *c = st->ring.ctrl;
        atomic_store(&c->closed, 1);
        apir_ring_publish(&c->req_seq, atomic_load(&c->req_seq), &c->host_idle);
        apir_sock_region_destroy(t, &st->ring_shm);
    }
    close(st->fd);
    free(st);
}

static const struct apir_transport_ops apir_socket_ops = {
    .submit = apir_sock_submit,
    .wait = apir_sock_wait,
    .region_create = apir_sock_region_create,
    .region_destroy = apir_sock_region_destroy,
    .start = apir_sock_start,
    .set_timeout = apir_sock_set_timeout,
    .destroy = apir_sock_destroy,
};

/* The diagnosis line for a failed connect: what the user must change differs by cause. */
static void apir_sock_connect_error(const char *path, int err, char *why, size_t whylen)
{
    if (err == EACCES || err == EPERM)
        snprintf(why, whylen,
                 "permission denied connecting to apir-hostd at %s (the socket or a directory "
                 "above it is not open to uid %u)",
                 path, (unsigned)getuid());
    else if (err == ECONNREFUSED)
        snprintf(why, whylen, "no apir-hostd at %s (nothing listens there: a stale socket)", path);
    else
        snprintf(why, whylen, "no apir-hostd at %s (%s)", path, strerror(err));
}

struct apir_transport *apir_transport_socket_open(const char *path, char *why, size_t whylen)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) {
        snprintf(why, whylen, "socket path too long: %s", path);
        return NULL;
    }
    if (!apir_socket_dir_check(path, false, why, whylen))
        return NULL;
    memcpy(addr.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(why, whylen, "socket(): %s", strerror(errno));
        return NULL;
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        apir_sock_connect_error(path, errno, why, whylen);
        close(fd);
        return NULL;
    }
    /* Our data goes only to a daemon of our own user, or root's. */
    long uid = apir_socket_peer_uid(fd);
    if (uid != (long)getuid() && uid != 0) {
        snprintf(why, whylen, "%s is served by uid %ld, not by this user (%u) or root", path, uid,
                 (unsigned)getuid());
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
