/* Where apir-hostd's socket lives and who may be at the other end of it: shared by the daemon
 * and the guest's socket transport.
 *
 * Default path: APIR_SOCKET, else $XDG_RUNTIME_DIR/apir.sock, else
 * ${TMPDIR:-/tmp}/apir-<uid>/apir.sock. /tmp is writable by everyone, so the socket is never put
 * there directly (anyone could squat the name first): it goes in a directory that must be ours,
 * mode 0700, not a symlink. Both ends check the other's uid (SO_PEERCRED): the guest talks only to
 * a daemon of its own user or root, the daemon serves only its own user. */
#ifndef APIR_SOCKPATH_H
#define APIR_SOCKPATH_H

#include <stdbool.h>
#include <stddef.h>

/* The default path. When it falls back to /tmp, its directory is the private one. */
void apir_socket_default_path(char *out, size_t len);
/* For the fallback directory of path (if path is in it): create it (daemon) or find it, and
 * require it to be ours and private. false with a reason in why. Other paths: true. */
bool apir_socket_dir_check(const char *path, bool create, char *why, size_t whylen);
/* The uid of the process at the other end of a connected unix socket, or -1. */
long apir_socket_peer_uid(int fd);

#endif
