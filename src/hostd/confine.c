/* Namespaces, privileges and resource limits of a session process.
 *
 * The session runs as the daemon's user, beside its siblings: what it may not do is decided
 * here and by the seccomp filter (sandbox.c), never by trusting the guest's requests.
 *
 * Namespaces: a user namespace of its own means the process holds no capability over anything
 * outside it (a daemon run as root leaves its sessions none), and lets an unprivileged process
 * take its own network (no network at all: only the inherited socket and the guest's
 * descriptors reach out) and IPC (no System V objects shared with the host) namespaces. No
 * uid map is written: inside, the process is the overflow user, and files keep being checked
 * against its real uid, so libraries still load. The network namespace is skipped when
 * ggml-rpc devices are served (their servers are reached over TCP). Kernels or containers
 * that refuse user namespaces get the IPC and network namespaces alone when the daemon is
 * privileged, else none: the daemon logs which at start-up.
 *
 * Limits: RLIMIT_CORE 0 (no guest data in core files); RLIMIT_NOFILE 64 and RLIMIT_AS (the
 * quota plus room for libraries, thread stacks and malloc arenas) unless a GPU-like device is
 * served: GPU runtimes reserve address space in terabytes and hold many descriptors.
 * Not set, on purpose: RLIMIT_NPROC counts every process of the uid (the daemon, sibling
 * sessions, the user's own), so a value that holds a session would fail its siblings; the
 * filter allows threads only, and the number of threads is bounded by the capped thread
 * count. RLIMIT_CPU counts a session's whole life, hours for a chat: the compute watchdog
 * bounds one request instead. RLIMIT_FSIZE 0 would kill a session logging to a file with
 * SIGXFSZ, and the filter lets a CPU session open no file to write. */
#include "confine.h"

#include "apir/host.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

static void apir_confine_namespaces(bool keep_network, char *what, size_t len)
{
    const char *e = getenv("APIR_HOSTD_NAMESPACES");
    if (e && !strcmp(e, "0")) {
        snprintf(what, len, "none (APIR_HOSTD_NAMESPACES=0)");
        return;
    }
    int net = keep_network ? 0 : CLONE_NEWNET;
    const char *net_name = keep_network ? "" : ",net";
    if (unshare(CLONE_NEWUSER | CLONE_NEWIPC | net) == 0) {
        snprintf(what, len, "user%s,ipc", net_name);
        return;
    }
    int user_err = errno;
    if (unshare(CLONE_NEWIPC | net) == 0) {
        snprintf(what, len, "ipc%s (no user namespace: %s)", net_name, strerror(user_err));
        return;
    }
    snprintf(what, len, "none (%s)", strerror(user_err));
}

void apir_confine_process(bool keep_network, char *what, size_t len)
{
    apir_confine_namespaces(keep_network, what, len);
    /* After the namespaces: a change of credentials may reset dumpability. */
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
}

/* Lowers both limits, never raises them (an operator's lower limit stands). */
static void apir_confine_lower(int resource, rlim_t v)
{
    struct rlimit rl;
    if (getrlimit(resource, &rl) != 0)
        return;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < v)
        v = rl.rlim_max;
    rl.rlim_cur = rl.rlim_max = v;
    setrlimit(resource, &rl);
}

/* The address space mapped now: the libraries and backends the session loaded. */
static uint64_t apir_confine_vm_now(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long pages = 0;
    if (f) {
        if (fscanf(f, "%llu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    long ps = sysconf(_SC_PAGESIZE);
    return pages * (uint64_t)(ps > 0 ? ps : 4096);
}

void apir_confine_limits(uint64_t quota, unsigned needs)
{
    if (needs & APIR_HOST_NEEDS_DRIVER)
        return;
    /* The socket, a passed descriptor at a time, stdio, and ggml-rpc's connections. */
    apir_confine_lower(RLIMIT_NOFILE, 64);
    uint64_t base = apir_confine_vm_now();
    if (quota == UINT64_MAX || base == 0)
        return;
    /* Beyond what the session may hold (buffers, regions and CPU work buffers, all counted
     * in the quota): request and reply buffers (80 MiB each), the ring (64 MiB), decoded
     * graphs, and per thread an 8 MiB stack plus a malloc arena (reserved 128 MiB while it
     * is made): threads are two OpenMP teams of at most the cores, the ring's, the
     * watchdog's and the main one. */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t threads = 2 * (uint64_t)(cores > 0 ? cores : 1) + 4;
    uint64_t slack = (1ull << 30) + threads * (136ull << 20);
    if (quota > UINT64_MAX - base - slack)
        return;
    apir_confine_lower(RLIMIT_AS, (rlim_t)(base + quota + slack));
}
