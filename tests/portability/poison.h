/* Forced first into every src/host and src/proto file by tests/portability/check.sh. The
 * standard headers the host library may use are included here, before the poison, so their
 * own declarations are seen; after it any use of a Linux-only interface in our code is a
 * compile error. The deny/ directory shadows the Linux-only and socket headers the same way.
 * What is allowed: C11, POSIX threads/time/dlopen, and dladdr (macOS and the BSDs have it). */
/* (a system header for diagnostics: poisoning a macro that glibc defines is the point) */
#pragma GCC system_header
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* Linux-only system calls and flags: memfd, futex, prctl, seccomp, epoll, the fd kinds. */
#pragma GCC poison memfd_create syscall prctl seccomp epoll_create epoll_create1 epoll_ctl
#pragma GCC poison epoll_wait epoll_pwait eventfd timerfd_create signalfd inotify_init
#pragma GCC poison pipe2 accept4 sendfile splice tee vmsplice getrandom mremap gettid
#pragma GCC poison sched_getcpu sched_setaffinity clock_nanosleep ppoll
#pragma GCC poison O_TMPFILE O_PATH F_ADD_SEALS F_GET_SEALS MAP_POPULATE MAP_HUGETLB
/* Sockets belong to the transports (src/sock, src/hostd, the guest), never the host library. */
#pragma GCC poison socket socketpair connect accept bind listen sendmsg recvmsg
#pragma GCC poison SO_PEERCRED MSG_NOSIGNAL SOCK_CLOEXEC SOCK_NONBLOCK
/* /proc is Linux's: the address-space query lives in src/platform. */
#pragma GCC poison proc_self_maps
