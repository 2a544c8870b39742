/* See listen.h. A lock file beside the socket serializes daemons: whoever holds it owns the
 * path. Holding it, a socket left at the path is stale (its daemon died) only if nobody
 * answers a connect: then it is replaced. Anything else at the path is refused. */
#include "listen.h"

#include "../proto/log.h"
#include "../sock/sockpath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int apir_listen_lock(const char *path)
{
    char lock[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
    snprintf(lock, sizeof lock, "%s.lock", path);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        apir_log_host(APIR_LOG_ERROR, "apir-hostd", "cannot open %s: %s", lock, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        apir_log_host(APIR_LOG_ERROR, "apir-hostd", "another apir-hostd serves %s (%s is locked)",
                      path, lock);
        close(fd);
        return -1;
    }
    return fd;
}

/* What is at path may go: nothing, or a socket nobody answers on. */
static bool apir_listen_path_free(const char *path, const struct sockaddr_un *addr)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT;
    if (!S_ISSOCK(st.st_mode)) {
        apir_log_host(APIR_LOG_ERROR, "apir-hostd", "refusing to replace %s: it is not a socket",
                      path);
        return false;
    }
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool live = probe >= 0 && connect(probe, (const struct sockaddr *)addr, sizeof *addr) == 0;
    if (probe >= 0)
        close(probe);
    if (live) {
        apir_log_host(APIR_LOG_ERROR, "apir-hostd",
                      "a live server answers on %s: not taking it over", path);
        return false;
    }
    return unlink(path) == 0 || errno == ENOENT;
}

int apir_listen_claim(const char *path, struct apir_listener *l)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    char why[256];
    *l = (struct apir_listener){.fd = -1, .lock_fd = -1};
    if (strlen(path) + 6 > sizeof addr.sun_path) {
        apir_log_host(APIR_LOG_ERROR, "apir-hostd", "socket path too long: %s", path);
        return -1;
    }
    if (!apir_socket_dir_check(path, true, why, sizeof why)) {
        apir_log_host(APIR_LOG_ERROR, "apir-hostd", "%s", why);
        return -1;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    if ((l->lock_fd = apir_listen_lock(path)) < 0 || !apir_listen_path_free(path, &addr) ||
        (l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        apir_listen_release(NULL, l);
        return -1;
    }
    /* Created 0600 from the start (umask), not chmod-ed after: no window where others connect. */
    mode_t old = umask(0177);
    int rc = bind(l->fd, (struct sockaddr *)&addr, sizeof addr);
    umask(old);
    struct stat st;
    if (rc != 0 || listen(l->fd, 16) != 0 || lstat(path, &st) != 0) {
        apir_log_host(APIR_LOG_ERROR, "apir-hostd", "cannot listen on %s: %s", path,
                      strerror(errno));
        apir_listen_release(NULL, l);
        return -1;
    }
    l->dev = st.st_dev;
    l->ino = st.st_ino;
    return l->fd;
}

int apir_listen_adopt(int fd, const char *path, struct apir_listener *l)
{
    char why[256];
    *l = (struct apir_listener){.fd = fd, .lock_fd = -1, .inherited = true};
    if (!*path) /* an abstract or unnamed socket: no file to guard */
        return fd;
    if (!apir_socket_dir_check(path, false, why, sizeof why)) {
        fprintf(stderr, "apir-hostd: %s\n", why);
        apir_listen_release(NULL, l);
        return -1;
    }
    if ((l->lock_fd = apir_listen_lock(path)) < 0) {
        apir_listen_release(NULL, l);
        return -1;
    }
    return fd;
}

void apir_listen_release(const char *path, struct apir_listener *l)
{
    struct stat st;
    if (path && l->fd >= 0 && !l->inherited && lstat(path, &st) == 0 && st.st_dev == l->dev &&
        st.st_ino == l->ino)
        unlink(path);
    if (l->fd >= 0)
        close(l->fd);
    if (l->lock_fd >= 0)
        close(l->lock_fd); /* the lock file stays: removing it would race the next daemon */
    l->fd = l->lock_fd = -1;
}
