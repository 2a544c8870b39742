/* apir-hostd's listener: accepts guests on a unix socket and forks a session process each. */
#include "server.h"
#include "../proto/log.h"
#include "../sock/sockpath.h"
#include "listen.h"
#include "session_proc.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t apir_stop;

static void apir_on_signal(int sig)
{
    (void)sig;
    apir_stop = 1;
}

/* Only our own user's guests (the socket is 0600 too; this also covers a socket made
 * reachable by a directory or mode change). */
static bool apir_peer_allowed(int fd)
{
    long uid = apir_socket_peer_uid(fd);
    if (uid == (long)getuid())
        return true;
    apir_log_host(APIR_LOG_WARN, "apir-hostd",
                  "refused a connection from uid %ld (serving uid %u only)", uid,
                  (unsigned)getuid());
    return false;
}

/* Session processes alive: each costs a process and its backend, so their number is capped. */
static unsigned apir_live_sessions;

static void apir_reap(void)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        apir_live_sessions--;
        if (WIFSIGNALED(status))
            apir_log_host(APIR_LOG_WARN, "apir-hostd",
                          "session with pid %d ended by signal %d (other sessions unaffected)",
                          (int)pid, WTERMSIG(status));
    }
}

static void apir_spawn_session(int listen_fd, int fd, const struct apir_server_config *cfg)
{
    unsigned max = cfg->max_sessions ? cfg->max_sessions : 64;
    if (apir_live_sessions >= max) {
        /* Closed before any byte: the guest reports no devices and says why. */
        apir_log_host(APIR_LOG_WARN, "apir-hostd",
                      "refused a connection: %u sessions already (--max-sessions)",
                      apir_live_sessions);
        close(fd);
        return;
    }
    const struct apir_host_config *hcfg = &cfg->host;
    static unsigned sessions_started;
    unsigned number = ++sessions_started;
    pid_t pid = fork();
    if (pid < 0) {
        apir_log_host(APIR_LOG_ERROR, "apir-hostd", "fork: %s", strerror(errno));
        close(fd);
        return;
    }
    if (pid == 0) {
        close(listen_fd);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* a session never outlives its daemon */
        _exit(apir_session_proc_serve(fd, hcfg, number));
    }
    apir_live_sessions++;
    close(fd);
}

int apir_server_run(const struct apir_server_config *cfg)
{
    struct apir_listener listener;
    int lfd = cfg->inherited_fd > 0
                  ? apir_listen_adopt(cfg->inherited_fd, cfg->socket_path, &listener)
                  : apir_listen_claim(cfg->socket_path, &listener);
    if (lfd < 0)
        return 1;
    struct sigaction sa = {.sa_handler = apir_on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    apir_log_host(APIR_LOG_INFO, "apir-hostd", "listening on %s%s", cfg->socket_path,
                  listener.inherited ? " (socket activation)" : "");
    while (!apir_stop) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        int n = poll(&p, 1, 500);
        apir_reap();
        if (n <= 0)
            continue;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0 && !apir_peer_allowed(fd))
            close(fd);
        else if (fd >= 0)
            apir_spawn_session(lfd, fd, cfg);
    }
    apir_listen_release(cfg->socket_path, &listener);
    apir_log_host(APIR_LOG_INFO, "apir-hostd", "stopped");
    return 0;
}
