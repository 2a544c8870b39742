/* Socket I/O helpers: see fdio.h. */
#include "fdio.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

void apir_socket_default_path(char *out, size_t len)
{
    const char *p = getenv("APIR_SOCKET");
    const char *rt = getenv("XDG_RUNTIME_DIR");
    if (p && *p)
        snprintf(out, len, "%s", p);
    else if (rt && *rt)
        snprintf(out, len, "%s/apir.sock", rt);
    else
        snprintf(out, len, "/tmp/apir-%u.sock", (unsigned)getuid());
}
