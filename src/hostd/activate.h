/* Socket activation: a service manager (systemd's apir-hostd.socket) binds the socket and
 * hands it to apir-hostd already listening, by the sd_listen_fds protocol. Implemented here
 * without libsystemd, which a fresh host need not have. */
#ifndef APIR_HOSTD_ACTIVATE_H
#define APIR_HOSTD_ACTIVATE_H

#include <stddef.h>

#define APIR_ACTIVATE_NONE (-1)  /* not socket-activated: bind the socket ourselves */
#define APIR_ACTIVATE_ERROR (-2) /* activated, but what was passed cannot be served */

/* The inherited listening socket (fd 3) when LISTEN_PID is this process and LISTEN_FDS is 1,
 * with its path in path[0..len) ("" when it has none); else one of the values above, with one
 * line on stderr for an error. LISTEN_* are removed from the environment either way, so that
 * no session process takes them for its own. */
int apir_activate_fd(char *path, size_t len);

#endif
