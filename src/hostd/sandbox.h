/* The seccomp-bpf filter around an apir-hostd session process (Linux). */
#ifndef APIR_HOSTD_SANDBOX_H
#define APIR_HOSTD_SANDBOX_H

#include <stdbool.h>

enum apir_sandbox_mode {
    APIR_SANDBOX_OFF,     /* APIR_HOSTD_SECCOMP=0: no filter */
    APIR_SANDBOX_ENFORCE, /* the default: what is not allowed fails with EPERM */
    APIR_SANDBOX_LOG,     /* APIR_HOSTD_SECCOMP=log: what would fail is allowed and logged by the
                             kernel (audit / dmesg): for finding what a GPU runtime needs */
};

struct apir_sandbox_policy {
    enum apir_sandbox_mode mode;
    bool driver;  /* a device behind a kernel driver is served: ioctl, opening files */
    bool network; /* ggml-rpc devices are served: TCP sockets */
};

/* The mode APIR_HOSTD_SECCOMP asks for. */
enum apir_sandbox_mode apir_sandbox_mode_from_env(void);

/* Installs the filter on every thread of the process (no_new_privs must be set already).
 * 0 on success, else a negative errno: -ENOSYS when no filter exists for this architecture. */
int apir_sandbox_install(const struct apir_sandbox_policy *p);

#endif
