/* See activate.h. The protocol (sd_listen_fds(3)): the manager passes the sockets from fd 3
 * on, says how many in LISTEN_FDS, and names the process meant in LISTEN_PID, so that a child
 * that inherits the environment does not take them. */
#include "activate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define APIR_ACTIVATE_FIRST_FD 3

/* A decimal number filling the whole string, or -1. */
static long apir_activate_env_num(const char *name)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return -1;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    return errno == 0 && *end == '\0' && v >= 0 ? v : -1;
}

static int apir_activate_sockopt(int fd, int opt)
{
    int v = -1;
    socklen_t len = sizeof v;
    return getsockopt(fd, SOL_SOCKET, opt, &v, &len) == 0 ? v : -1;
}

/* Only what apir-hostd would have made itself: a unix stream socket that listens. */
static int apir_activate_check(int fd, char *path, size_t len)
{
    if (fcntl(fd, F_GETFD) < 0 || apir_activate_sockopt(fd, SO_DOMAIN) != AF_UNIX ||
        apir_activate_sockopt(fd, SO_TYPE) != SOCK_STREAM ||
        apir_activate_sockopt(fd, SO_ACCEPTCONN) != 1) {
        fprintf(stderr,
                "apir-hostd: socket activation: fd %d is not a listening unix stream "
                "socket (ListenStream= with a path in the .socket unit)\n",
                fd);
        return APIR_ACTIVATE_ERROR;
    }
    struct sockaddr_un addr = {0};
    socklen_t alen = sizeof addr;
    if (getsockname(fd, (struct sockaddr *)&addr, &alen) != 0)
        alen = 0;
    size_t n = alen > offsetof(struct sockaddr_un, sun_path)
                   ? strnlen(addr.sun_path, alen - offsetof(struct sockaddr_un, sun_path))
                   : 0;
    snprintf(path, len, "%.*s", (int)n, addr.sun_path); /* abstract or unnamed: "" */
    /* Session processes must not inherit the listening socket. */
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
}

int apir_activate_fd(char *path, size_t len)
{
    long pid = apir_activate_env_num("LISTEN_PID");
    long n = apir_activate_env_num("LISTEN_FDS");
    bool ours = getenv("LISTEN_PID") && pid == (long)getpid();
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (!ours || n == 0)
        return APIR_ACTIVATE_NONE;
    if (n != 1) {
        fprintf(stderr,
                "apir-hostd: socket activation passed %s sockets; one is served (a "
                "single ListenStream= in the .socket unit)\n",
                n < 0 ? "an unreadable number of" : "several");
        return APIR_ACTIVATE_ERROR;
    }
    return apir_activate_check(APIR_ACTIVATE_FIRST_FD, path, len);
}
