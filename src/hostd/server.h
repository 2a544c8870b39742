/* apir-hostd's socket server: one process per guest connection. */
#ifndef APIR_HOSTD_SERVER_H
#define APIR_HOSTD_SERVER_H

#include "apir/host.h"

#include <stdbool.h>

struct apir_server_config {
    const char *socket_path;
    int inherited_fd; /* > 0: the listener passed by socket activation (socket_path is where
                         it is bound); 0: bind socket_path ourselves */
    struct apir_host_config host;
    unsigned max_sessions; /* connections served at once; more are closed (0: default 64) */
    unsigned max_sessions_per_peer; /* of those, from one peer process (SO_PEERCRED pid);
                                       0: no limit below max_sessions */
    unsigned idle_timeout_s;        /* a session holding nothing ends after this long without a
                                       request (0: never) */
};

#define APIR_HOSTD_MAX_SESSIONS 64
#define APIR_HOSTD_MAX_SESSIONS_PER_PEER 8
#define APIR_HOSTD_IDLE_TIMEOUT_S 300

/* Binds the socket (mode 0600) or serves the inherited one, and serves until SIGINT/SIGTERM.
 * Returns the exit code. */
int apir_server_run(const struct apir_server_config *cfg);

#endif
