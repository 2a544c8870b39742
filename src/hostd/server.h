/* apir-hostd's socket server: one process per guest connection. */
#ifndef APIR_HOSTD_SERVER_H
#define APIR_HOSTD_SERVER_H

#include "apir/host.h"

#include <stdbool.h>

struct apir_server_config {
    const char *socket_path;
    struct apir_host_config host;
    unsigned max_sessions; /* connections served at once; more are closed (0: default 64) */
};

/* Binds the socket (mode 0600) and serves until SIGINT/SIGTERM. Returns the exit code. */
int apir_server_run(const struct apir_server_config *cfg);

#endif
