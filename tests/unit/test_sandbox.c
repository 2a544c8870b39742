/* apir-hostd's seccomp filter (src/hostd/sandbox.c), installed for real in child processes:
 * what serving needs still works (memory, threads through clone3's fallback, I/O on open
 * descriptors, clocks, signals to itself), what it does not is denied with EPERM (opening
 * files, sockets, processes, ioctl, raising limits, prctl, namespaces), and what only an
 * attacker does ends the process with SIGSYS (exec, ptrace, signalling another process).
 * Threads that existed before the filter get it too. The driver and network policies open
 * exactly their own additions. Each scenario runs in its own child, which reports its checks
 * through a pipe opened before the filter. */
#include "check.h"
#include "hostd/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int report_fd = -1;

static int install(bool driver, bool network, enum apir_sandbox_mode mode)
{
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    struct apir_sandbox_policy p = {mode, driver, network};
    return apir_sandbox_install(&p);
}

static bool denied(long rc)
{
    return rc == -1 && errno == EPERM;
}

static void *thread_main(void *arg)
{
    return arg;
}

/* A thread started before the filter, released after it: it must be filtered too (TSYNC). */
static int gate[2];
static void *early_thread(void *arg)
{
    (void)arg;
    char c;
    if (read(gate[0], &c, 1) != 1)
        return NULL;
    long rc = open("/dev/null", O_RDONLY);
    return (void *)(intptr_t)denied(rc);
}

static void cpu_policy(void)
{
    pthread_t early;
    CHECK(pipe(gate) == 0);
    CHECK(pthread_create(&early, NULL, early_thread, NULL) == 0);
    int keep = open("/dev/null", O_RDONLY); /* a descriptor the process had before */
    CHECK(install(false, false, APIR_SANDBOX_ENFORCE) == 0);
    /* Serving still works. */
    void *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED && munmap(m, 1 << 20) == 0);
    void *big = malloc(64 << 20);
    CHECK(big != NULL);
    free(big);
    pthread_t t;
    void *ret = NULL;
    static int token;
    CHECK(pthread_create(&t, NULL, thread_main, &token) == 0 && pthread_join(t, &ret) == 0 &&
          ret == &token);
    CHECK(write(gate[1], "x", 1) == 1);
    CHECK(pthread_join(early, &ret) == 0 && ret == (void *)1);
    struct stat st;
    CHECK(fstat(keep, &st) == 0 && close(keep) == 0);
    struct timespec now, nap = {0, 1000};
    CHECK(clock_gettime(CLOCK_MONOTONIC, &now) == 0 && nanosleep(&nap, NULL) == 0);
    CHECK(kill(getpid(), 0) == 0);
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    /* Everything else: EPERM. */
    CHECK(denied(setrlimit(RLIMIT_NOFILE, &rl)));
    CHECK(denied(open("/dev/null", O_RDONLY)));
    CHECK(denied(stat("/", &st)));
    CHECK(denied(socket(AF_UNIX, SOCK_STREAM, 0)));
    CHECK(denied(socket(AF_INET, SOCK_STREAM, 0)));
    CHECK(denied(ioctl(gate[0], FIONREAD, &(int){0})));
    CHECK(denied(fork()));
    CHECK(denied(unshare(CLONE_NEWUSER)));
    CHECK(denied(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)));
    CHECK(denied(syscall(SYS_memfd_create, "x", 0)));
}

/* ggml-rpc: TCP sockets, nothing else new. */
static void network_policy(void)
{
    CHECK(install(false, true, APIR_SANDBOX_ENFORCE) == 0);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(s >= 0);
    close(s);
    CHECK(denied(socket(AF_UNIX, SOCK_STREAM, 0)));
    CHECK(denied(open("/dev/null", O_RDONLY)));
    CHECK(denied(ioctl(0, FIONREAD, &(int){0})));
}

/* A GPU runtime: ioctl and files, still no processes and no prctl but thread names. */
static void driver_policy(void)
{
    CHECK(install(true, false, APIR_SANDBOX_ENFORCE) == 0);
    int fd = open("/dev/null", O_RDONLY);
    CHECK(fd >= 0);
    errno = 0;
    CHECK(ioctl(fd, TIOCGWINSZ, &(struct winsize){0}) == -1 && errno == ENOTTY);
    struct stat st;
    CHECK(stat("/", &st) == 0);
    CHECK(prctl(PR_SET_NAME, "apir-test", 0, 0, 0) == 0);
    CHECK(denied(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)));
    CHECK(denied(fork()));
    CHECK(denied(socket(AF_INET, SOCK_STREAM, 0)));
}

/* APIR_HOSTD_SECCOMP=log: denials become logged permissions, kills stay. */
static void log_policy(void)
{
    CHECK(install(false, false, APIR_SANDBOX_LOG) == 0);
    int fd = open("/dev/null", O_RDONLY);
    CHECK(fd >= 0);
}

static void hostile_exec(void)
{
    install(false, false, APIR_SANDBOX_ENFORCE);
    char *argv[] = {"/bin/true", NULL};
    execv("/bin/true", argv);
}

static void hostile_kill_parent(void)
{
    install(false, false, APIR_SANDBOX_ENFORCE);
    kill(getppid(), 0);
}

static void hostile_kill_group(void)
{
    install(false, false, APIR_SANDBOX_ENFORCE);
    kill(0, 0);
}

static void hostile_ptrace(void)
{
    install(false, false, APIR_SANDBOX_ENFORCE);
    ptrace(PTRACE_ATTACH, getppid(), NULL, NULL);
}

/* Runs fn in a child; its checks are added to ours. Returns the child's wait status. */
static int run_child(void (*fn)(void))
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        report_fd = p[1];
        apir_checks_passed = apir_checks_failed = 0; /* the child's own checks only */
        fn();
        int counts[2] = {apir_checks_passed, apir_checks_failed};
        _exit(write(report_fd, counts, sizeof counts) == sizeof counts ? 0 : 1);
    }
    close(p[1]);
    int counts[2] = {0, 0};
    ssize_t n = read(p[0], counts, sizeof counts);
    close(p[0]);
    int status = -1;
    waitpid(pid, &status, 0);
    if (n == (ssize_t)sizeof counts) {
        apir_checks_passed += counts[0];
        apir_checks_failed += counts[1];
    }
    return status;
}

static bool killed_by_filter(int status)
{
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS;
}

int main(void)
{
    fflush(stdout);
    int st = run_child(cpu_policy);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    st = run_child(network_policy);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    st = run_child(driver_policy);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    st = run_child(log_policy);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(killed_by_filter(run_child(hostile_exec)));
    CHECK(killed_by_filter(run_child(hostile_kill_parent)));
    CHECK(killed_by_filter(run_child(hostile_kill_group)));
    CHECK(killed_by_filter(run_child(hostile_ptrace)));
    return apir_check_summary("sandbox");
}
