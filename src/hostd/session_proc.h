/* Serving one guest connection to the end, in the calling process. */
#ifndef APIR_HOSTD_SESSION_PROC_H
#define APIR_HOSTD_SESSION_PROC_H

#include "apir/host.h"

/* number: the daemon's count of sessions so far, for log lines ("session N (pid P)"). */
int apir_session_proc_serve(int fd, const struct apir_host_config *hcfg, unsigned number);

#endif
