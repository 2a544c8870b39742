/* integration.hostile: the hostile corpus over the socket against a real apir-hostd, speaking
 * the protocol byte for byte as a hostile guest would (no ring: every message on the socket).
 * A framing error may end the session (the daemon cannot resynchronise a byte stream); then
 * the entry's follow-up runs on a fresh connection. Usage: hostile_socket SOCKET_PATH */
#include "corpus.h"
#include "sock/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

/* Longer than the daemon's read timeout the test sets (1 s): a session that neither answers
 * nor ends by then is hung. */
#define SOCK_REPLY_TIMEOUT_S 5

struct sock_link {
    struct hostile_link base;
    const char *path;
    int fd;
    struct apir_writer rep;
};

static bool sock_connect(struct sock_link *l)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(l->path) >= sizeof addr.sun_path)
        return false;
    strcpy(addr.sun_path, l->path);
    l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {.tv_sec = SOCK_REPLY_TIMEOUT_S};
    return l->fd >= 0 && connect(l->fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
           setsockopt(l->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0;
}

/* The reply to what was just sent: its status, HOSTILE_CLOSED or HOSTILE_HUNG. */
static int sock_reply(struct sock_link *l, struct apir_reader *r)
{
    uint8_t hb[APIR_HDR_SIZE];
    struct apir_rep_hdr h;
    ssize_t n = recv(l->fd, hb, sizeof hb, MSG_WAITALL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return HOSTILE_HUNG;
    if (n != (ssize_t)sizeof hb || !apir_rep_hdr_decode(hb, &h))
        return HOSTILE_CLOSED;
    apir_writer_reset(&l->rep);
    void *p = apir_write_reserve(&l->rep, h.len);
    if (h.len && (!p || !apir_fd_read_all(l->fd, p, h.len)))
        return HOSTILE_CLOSED;
    apir_reader_init(r, l->rep.buf, l->rep.len);
    return h.status;
}

static int sock_call(struct hostile_link *hl, const void *msg, size_t len, struct apir_reader *r)
{
    struct sock_link *l = (struct sock_link *)hl;
    if (!apir_fd_write_all(l->fd, msg, len))
        return HOSTILE_CLOSED;
    return sock_reply(l, r);
}

static bool sock_reopen(struct hostile_link *hl)
{
    struct sock_link *l = (struct sock_link *)hl;
    if (l->fd >= 0)
        close(l->fd);
    return sock_connect(l);
}

/* A sealed memfd, passed with the REGION_ATTACH message as the plugin does. */
static int sock_attach_region(struct hostile_link *hl, uint32_t id, uint64_t size)
{
    struct sock_link *l = (struct sock_link *)hl;
    int mfd = memfd_create("hostile-region", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (mfd < 0 || ftruncate(mfd, (off_t)size) != 0 ||
        fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        if (mfd >= 0)
            close(mfd);
        return HOSTILE_CLOSED;
    }
    uint8_t msg[APIR_HDR_SIZE + 12];
    struct apir_req_hdr h = {APIR_MAGIC_REQ, APIR_CMD_REGION_ATTACH, 0, 1, 12};
    apir_req_hdr_encode(msg, &h);
    memcpy(msg + APIR_HDR_SIZE, &id, 4);
    memcpy(msg + APIR_HDR_SIZE + 4, &size, 8);
    bool sent = apir_fd_write_with_fd(l->fd, msg, sizeof msg, mfd);
    close(mfd); /* the daemon holds its own */
    struct apir_reader r;
    return sent ? sock_reply(l, &r) : HOSTILE_CLOSED;
}

/* The session process is the daemon's, not ours: the thread cap is checked in-process. */
static int sock_threads(struct hostile_link *hl)
{
    (void)hl;
    return -1;
}

static bool sock_open(struct sock_link *l, const char *path, uint64_t quota)
{
    *l = (struct sock_link){
        .base = {sock_call, sock_reopen, sock_attach_region, sock_threads, true, quota},
        .path = path,
        .fd = -1};
    apir_writer_init(&l->rep, APIR_MAX_PAYLOAD);
    return sock_connect(l);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s SOCKET QUOTA_MIB\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* a session the daemon ended is a status, not a signal */
    uint64_t quota = strtoull(argv[2], NULL, 10) << 20;
    struct sock_link l, other;
    if (!sock_open(&l, argv[1], quota) || !sock_open(&other, argv[1], quota)) {
        fprintf(stderr, "cannot connect to %s\n", argv[1]);
        return 2;
    }
    int rc = hostile_run(&l.base, &other.base, 60);
    close(l.fd);
    close(other.fd);
    apir_writer_free(&l.rep);
    apir_writer_free(&other.rep);
    return rc;
}
