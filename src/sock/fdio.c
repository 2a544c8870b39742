/* Socket I/O helpers: see fdio.h. */
#include "fdio.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

bool apir_fd_read_all(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

bool apir_fd_write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len) {
        /* MSG_NOSIGNAL: a peer that went away is an error to report, not a SIGPIPE. */
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

bool apir_fd_write_with_fd(int fd, const void *buf, size_t len, int pass_fd)
{
    if (pass_fd < 0)
        return apir_fd_write_all(fd, buf, len);
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(int))];
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    struct msghdr m = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = ctl.space,
                       .msg_controllen = sizeof ctl.space};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
    ssize_t n;
    do
        n = sendmsg(fd, &m, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return false;
    /* The descriptor went with the first byte; the rest is plain data. */
    return apir_fd_write_all(fd, (const uint8_t *)buf + n, len - (size_t)n);
}

/* Keeps the first descriptor of a control message and closes any others: a peer must not be
 * able to pile descriptors up in our table. */
static void apir_fd_take_rights(struct msghdr *m, int *got_fd)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (*got_fd < 0)
                *got_fd = fd;
            else
                close(fd);
        }
    }
}

bool apir_fd_read_with_fd(int fd, void *buf, size_t len, int *got_fd)
{
    *got_fd = -1;
    uint8_t *p = buf;
    while (len) {
        union {
            struct cmsghdr h;
            char space[CMSG_SPACE(4 * sizeof(int))];
        } ctl;
        struct iovec iov = {.iov_base = p, .iov_len = len};
        struct msghdr m = {.msg_iov = &iov,
                           .msg_iovlen = 1,
                           .msg_control = ctl.space,
                           .msg_controllen = sizeof ctl.space};
        ssize_t n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n > 0)
            apir_fd_take_rights(&m, got_fd);
        if (n <= 0 || (m.msg_flags & MSG_CTRUNC)) {
            if (*got_fd >= 0)
                close(*got_fd);
            *got_fd = -1;
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}
