/* What a session process gives up besides its system calls (sandbox.h): namespaces,
 * privileges and resource limits (Linux). */
#ifndef APIR_HOSTD_CONFINE_H
#define APIR_HOSTD_CONFINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* First thing in a session process, while it is single-threaded (a user namespace cannot be
 * entered later): its own user, IPC and, unless keep_network, network namespaces where the
 * kernel allows them (APIR_HOSTD_NAMESPACES=0: none); then no_new_privs, not dumpable, no
 * core files. Writes what it got into what (e.g. "user,net,ipc" or "none: <reason>"). */
void apir_confine_process(bool keep_network, char *what, size_t len);

/* Once the host exists: resource limits sized from its session quota and what its devices
 * need (apir_host_needs). */
void apir_confine_limits(uint64_t quota, unsigned needs);

#endif
