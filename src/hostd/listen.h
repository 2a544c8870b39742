/* apir-hostd's claim on its socket path: never replace what is not our own stale socket,
 * never take over a live daemon's path, never delete another daemon's socket on exit. */
#ifndef APIR_HOSTD_LISTEN_H
#define APIR_HOSTD_LISTEN_H

#include <stdbool.h>
#include <sys/types.h>

struct apir_listener {
    int fd;      /* listening socket */
    int lock_fd; /* <path>.lock, flock-ed for the daemon's life */
    dev_t dev;   /* the socket file we bound, to unlink only that one */
    ino_t ino;
    bool inherited; /* passed by the service manager, whose socket file it is */
};

/* Claims path and listens (mode 0600). -1 with one line on stderr when the path is not ours
 * to take: a live daemon holds it, or something other than a socket is there. */
int apir_listen_claim(const char *path, struct apir_listener *l);
/* Serves fd, a listening socket bound at path by a service manager (socket activation). The
 * path is locked as a claimed one is, so a daemon started by hand beside it is refused; the
 * socket file is the manager's and is never removed. -1 with one line on stderr. */
int apir_listen_adopt(int fd, const char *path, struct apir_listener *l);
/* Closes and, if the socket at path is still the one we bound, removes it. */
void apir_listen_release(const char *path, struct apir_listener *l);

#endif
