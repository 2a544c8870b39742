/* A seccomp-bpf allowlist for the session process: what serving a guest needs, nothing more.
 *
 * It is installed after the session created its host (backend libraries loaded, devices
 * opened) and before the first guest byte is read, so everything the guest can steer runs
 * under it. What serving needs was measured (strace -f over the test suite's sessions: the
 * socket and the ring, regions, graph compute with OpenMP threads): memory, I/O on descriptors
 * the process already has, futexes and clocks, threads, signals to itself. Nothing opens a
 * file, makes a socket or starts a process after start-up, so those fail with EPERM; the
 * calls that only an attacker makes (exec, ptrace, reading another process's memory, signals
 * to other processes) end the process at once. A GPU runtime talks to its driver by ioctl and
 * opens device nodes and caches as it goes: those are allowed only when such a device is
 * served, and were not exercised here (no GPU); APIR_HOSTD_SECCOMP=log shows what a runtime
 * needs, APIR_HOSTD_SECCOMP=0 turns the filter off. Raw BPF (no libseccomp): the program is
 * a list of "syscall number -> action" tests, a few with an argument check. */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define APIR_SANDBOX_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define APIR_SANDBOX_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef APIR_SANDBOX_ARCH

#define APIR_BPF_MAX 512u
#define APIR_KILL SECCOMP_RET_KILL_PROCESS
#define APIR_ALLOW SECCOMP_RET_ALLOW

/* Always allowed, the most frequent first (the filter runs on every system call). */
static const long apir_sandbox_allowed[] = {
    SYS_futex,
    SYS_read,
    SYS_write,
    SYS_recvfrom,
    SYS_sendto,
    SYS_recvmsg,
    SYS_sendmsg,
    SYS_ppoll,
    SYS_setsockopt,
    SYS_clock_gettime,
    SYS_sched_yield,
    SYS_mmap,
    SYS_munmap,
    SYS_mprotect,
    SYS_madvise,
    SYS_brk,
    SYS_mremap,
    SYS_close,
    SYS_fcntl,
    SYS_fstat,
    SYS_readv,
    SYS_writev,
    SYS_pread64,
    SYS_pwrite64,
    SYS_lseek,
    SYS_shutdown,
    SYS_getsockopt,
    SYS_getsockname,
    SYS_getpeername,
    SYS_clock_getres,
    SYS_clock_nanosleep,
    SYS_nanosleep,
    SYS_gettimeofday,
    SYS_getpid,
    SYS_gettid,
    SYS_getppid,
    SYS_getuid,
    SYS_geteuid,
    SYS_getgid,
    SYS_getegid,
    SYS_sysinfo,
    SYS_uname,
    SYS_getrandom,
    SYS_getcpu,
    SYS_sched_getaffinity,
    SYS_set_robust_list,
    SYS_rt_sigreturn,
    SYS_rt_sigprocmask,
    SYS_rt_sigaction,
    SYS_sigaltstack,
    SYS_restart_syscall,
    SYS_exit,
    SYS_exit_group,
#ifdef SYS_poll
    SYS_poll,
#endif
#ifdef SYS_rseq
    SYS_rseq,
#endif
#ifdef SYS_time
    SYS_time,
#endif
#ifdef SYS_getrlimit
    SYS_getrlimit,
#endif
};

/* Only a served GPU-like device's runtime needs these: its driver's ioctls, its device nodes,
 * libraries and caches opened as it goes, its event and epoll descriptors. */
static const long apir_sandbox_driver[] = {
    SYS_ioctl,      SYS_openat,      SYS_statx,    SYS_faccessat,    SYS_readlinkat,
    SYS_getdents64, SYS_mkdirat,     SYS_unlinkat, SYS_renameat2,    SYS_ftruncate,
    SYS_fsync,      SYS_dup,         SYS_dup3,     SYS_eventfd2,     SYS_epoll_create1,
    SYS_epoll_ctl,  SYS_epoll_pwait, SYS_pipe2,    SYS_memfd_create, SYS_sched_setaffinity,
    SYS_mlock,      SYS_munlock,     SYS_mincore,
#ifdef SYS_open
    SYS_open,       SYS_stat,        SYS_lstat,    SYS_access,       SYS_readlink,
    SYS_mkdir,      SYS_unlink,      SYS_rename,   SYS_dup2,         SYS_epoll_wait,
#endif
#ifdef SYS_renameat
    SYS_renameat,
#endif
#ifdef SYS_faccessat2
    SYS_faccessat2,
#endif
};

/* Made only by code that has taken the process over: ends it. */
static const long apir_sandbox_hostile[] = {
    SYS_execve, SYS_execveat, SYS_ptrace, SYS_process_vm_readv, SYS_process_vm_writev,
};

struct apir_bpf {
    struct sock_filter ins[APIR_BPF_MAX];
    unsigned n;
};

static void apir_bpf_put(struct apir_bpf *b, uint16_t code, uint32_t k, uint8_t jt, uint8_t jf)
{
    if (b->n < APIR_BPF_MAX)
        b->ins[b->n] = (struct sock_filter)BPF_JUMP(code, k, jt, jf);
    b->n++; /* past the end: apir_sandbox_install refuses the program */
}

/* Where the low and high 32 bits of a system call argument are in struct seccomp_data. */
static uint32_t apir_bpf_arg(unsigned i, bool high)
{
    bool hi_first = __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__;
    return (uint32_t)(offsetof(struct seccomp_data, args) + 8 * i + (high != hi_first ? 4 : 0));
}

static void apir_bpf_ret(struct apir_bpf *b, uint32_t action)
{
    apir_bpf_put(b, BPF_RET | BPF_K, action, 0, 0);
}

/* nr -> action. The accumulator holds nr throughout: every argument check below returns on
 * all of its paths, so the next test still sees nr. */
static void apir_bpf_nr(struct apir_bpf *b, long nr, uint32_t action)
{
    apir_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 1);
    apir_bpf_ret(b, action);
}

static void apir_bpf_list(struct apir_bpf *b, const long *nrs, size_t n, uint32_t action)
{
    for (size_t i = 0; i < n; i++)
        apir_bpf_nr(b, nrs[i], action);
}

/* nr whose int argument `arg` equals v: ok, else bad (an int argument is its low word: the
 * kernel truncates it the same way). */
static void apir_bpf_arg_eq(struct apir_bpf *b, long nr, unsigned arg, uint32_t v, uint32_t ok,
                            uint32_t bad)
{
    apir_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 4);
    apir_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, apir_bpf_arg(arg, false), 0, 0);
    apir_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, v, 0, 1);
    apir_bpf_ret(b, ok);
    apir_bpf_ret(b, bad);
}

/* nr whose argument `arg` has one of `bits` set (low word): ok, else bad. */
static void apir_bpf_arg_has(struct apir_bpf *b, long nr, unsigned arg, uint32_t bits, uint32_t ok,
                             uint32_t bad)
{
    apir_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 4);
    apir_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, apir_bpf_arg(arg, false), 0, 0);
    apir_bpf_put(b, BPF_JMP | BPF_JSET | BPF_K, bits, 0, 1);
    apir_bpf_ret(b, ok);
    apir_bpf_ret(b, bad);
}

/* prlimit64(0, resource, NULL, old): reading the process's own limits, never setting them
 * (the soft limits could otherwise be raised back up to the hard ones). */
static void apir_bpf_prlimit_get(struct apir_bpf *b, uint32_t bad)
{
    apir_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, SYS_prlimit64, 0, 10);
    for (unsigned i = 0; i < 4; i++) {
        unsigned arg = i < 2 ? 0 : 2;
        apir_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, apir_bpf_arg(arg, i % 2), 0, 0);
        apir_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, (uint8_t)(7 - 2 * i));
    }
    apir_bpf_ret(b, APIR_ALLOW);
    apir_bpf_ret(b, bad);
}

/* socket() for ggml-rpc: TCP over IPv4 or IPv6 only. */
static void apir_bpf_socket_inet(struct apir_bpf *b, uint32_t bad)
{
    apir_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 0, 5);
    apir_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, apir_bpf_arg(0, false), 0, 0);
    apir_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, AF_INET, 2, 0);
    apir_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, AF_INET6, 1, 0);
    apir_bpf_ret(b, bad);
    apir_bpf_ret(b, APIR_ALLOW);
}

/* The architecture first: a system call number means something else under another ABI
 * (i386 through int 0x80, x32). */
static void apir_bpf_prologue(struct apir_bpf *b)
{
    apir_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch), 0, 0);
    apir_bpf_put(b, BPF_JMP | BPF_JEQ | BPF_K, APIR_SANDBOX_ARCH, 1, 0);
    apir_bpf_ret(b, APIR_KILL);
    apir_bpf_put(b, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), 0, 0);
#ifdef __x86_64__
    apir_bpf_put(b, BPF_JMP | BPF_JGE | BPF_K, 0x40000000u /* __X32_SYSCALL_BIT */, 0, 1);
    apir_bpf_ret(b, APIR_KILL);
#endif
}

static void apir_bpf_build(struct apir_bpf *b, const struct apir_sandbox_policy *p)
{
    uint32_t deny = p->mode == APIR_SANDBOX_LOG ? SECCOMP_RET_LOG : SECCOMP_RET_ERRNO | EPERM;
    uint32_t self = (uint32_t)getpid();
    apir_bpf_prologue(b);
    apir_bpf_list(b, apir_sandbox_allowed,
                  sizeof apir_sandbox_allowed / sizeof apir_sandbox_allowed[0], APIR_ALLOW);
    /* Threads (OpenMP's pool is made at the first compute, the ring's at RING_ATTACH), never
     * a process. clone3's arguments sit in memory a filter cannot read: ENOSYS makes glibc
     * fall back to clone, whose flags it can. */
    apir_bpf_arg_has(b, SYS_clone, 0, CLONE_THREAD, APIR_ALLOW, deny);
    apir_bpf_nr(b, SYS_clone3, SECCOMP_RET_ERRNO | ENOSYS);
    /* fstat through fstatat(fd, "", AT_EMPTY_PATH) only, not a path lookup. */
    if (!p->driver)
        apir_bpf_arg_has(b, SYS_newfstatat, 3, AT_EMPTY_PATH, APIR_ALLOW, deny);
    /* Signals to itself only (raise, pthread_kill): the session shares its uid with the
     * daemon and its siblings, so a signal elsewhere is an attack. */
    apir_bpf_arg_eq(b, SYS_kill, 0, self, APIR_ALLOW, APIR_KILL);
    apir_bpf_arg_eq(b, SYS_tgkill, 0, self, APIR_ALLOW, APIR_KILL);
    apir_bpf_prlimit_get(b, deny);
    apir_bpf_list(b, apir_sandbox_hostile,
                  sizeof apir_sandbox_hostile / sizeof apir_sandbox_hostile[0], APIR_KILL);
    if (p->network) {
        apir_bpf_socket_inet(b, deny);
        apir_bpf_nr(b, SYS_connect, APIR_ALLOW);
    }
    if (p->driver) {
        apir_bpf_list(b, apir_sandbox_driver,
                      sizeof apir_sandbox_driver / sizeof apir_sandbox_driver[0], APIR_ALLOW);
        apir_bpf_nr(b, SYS_newfstatat, APIR_ALLOW);
        /* Thread names only: other prctls could make the process dumpable again. */
        apir_bpf_arg_eq(b, SYS_prctl, 0, PR_SET_NAME, APIR_ALLOW, deny);
    }
    apir_bpf_ret(b, deny);
}

int apir_sandbox_install(const struct apir_sandbox_policy *p)
{
    static struct apir_bpf b; /* 4 KiB: not on a thread's stack */
    memset(&b, 0, sizeof b);
    apir_bpf_build(&b, p);
    if (b.n > APIR_BPF_MAX)
        return -E2BIG;
    struct sock_fprog prog = {.len = (unsigned short)b.n, .filter = b.ins};
    /* TSYNC: threads a backend started during set-up get the filter too. */
    long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
    if (rc != 0)
        return rc < 0 ? -errno : -EBUSY; /* > 0: a thread that could not be synchronised */
    return 0;
}

#else /* no filter written for this architecture */

int apir_sandbox_install(const struct apir_sandbox_policy *p)
{
    (void)p;
    return -ENOSYS;
}

#endif

enum apir_sandbox_mode apir_sandbox_mode_from_env(void)
{
    const char *e = getenv("APIR_HOSTD_SECCOMP");
    if (e && !strcmp(e, "0"))
        return APIR_SANDBOX_OFF;
    if (e && !strcmp(e, "log"))
        return APIR_SANDBOX_LOG;
    return APIR_SANDBOX_ENFORCE;
}
