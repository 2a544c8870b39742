/* See sockpath.h. */
#include "sockpath.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void apir_socket_private_dir(char *out, size_t len)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(out, len, "%s/apir-%u", tmp && *tmp ? tmp : "/tmp", (unsigned)getuid());
}

void apir_socket_default_path(char *out, size_t len)
{
    const char *p = getenv("APIR_SOCKET");
    const char *rt = getenv("XDG_RUNTIME_DIR");
    char dir[200];
    apir_socket_private_dir(dir, sizeof dir);
    if (p && *p)
        snprintf(out, len, "%s", p);
    else if (rt && *rt)
        snprintf(out, len, "%s/apir.sock", rt);
    else
        snprintf(out, len, "%s/apir.sock", dir);
}

bool apir_socket_dir_check(const char *path, bool create, char *why, size_t whylen)
{
    char dir[200];
    apir_socket_private_dir(dir, sizeof dir);
    size_t n = strlen(dir);
    if (strncmp(path, dir, n) != 0 || path[n] != '/')
        return true;
    if (create && mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(why, whylen, "cannot create %s: %s", dir, strerror(errno));
        return false;
    }
    struct stat st;
    if (lstat(dir, &st) != 0) {
        snprintf(why, whylen, "no apir-hostd at %s (%s: %s)", path, dir, strerror(errno));
        return false;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077) != 0) {
        snprintf(why, whylen,
                 "%s is not a private directory of this user (a directory, owner uid %u, "
                 "mode 0700): refusing it",
                 dir, (unsigned)getuid());
        return false;
    }
    return true;
}

long apir_socket_peer_uid(int fd)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred)
        return -1;
    return (long)cred.uid;
}
