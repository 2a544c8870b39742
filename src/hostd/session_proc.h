/* Serving one guest connection to the end, in the calling process. */
#ifndef APIR_HOSTD_SESSION_PROC_H
#define APIR_HOSTD_SESSION_PROC_H

#include "apir/host.h"

int apir_session_proc_serve(int fd, const struct apir_host_config *hcfg);

#endif
