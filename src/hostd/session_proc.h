/* Serving one guest connection to the end, in the calling process. */
#ifndef APIR_HOSTD_SESSION_PROC_H
#define APIR_HOSTD_SESSION_PROC_H

#include "apir/host.h"

/* number: the daemon's count of sessions so far, for log lines ("session N (pid P)").
 * idle_s: the session ends once it holds nothing (apir_session_held_objects) and no request
 * came for that long (0: never). */
int apir_session_proc_serve(int fd, const struct apir_host_config *hcfg, unsigned number,
                            unsigned idle_s);
/* apir-hostd's start-up check, in a throw-away process: sets up a session process's host and
 * sandbox exactly as a session would, and logs the devices and the sandbox; non-zero when a
 * session could not be served. */
int apir_session_proc_probe(const struct apir_host_config *hcfg);

#endif
