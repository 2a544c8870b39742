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

/* Session processes alive, each with the peer process it serves: each costs a process and its
 * backend, so their number is capped, in all and per peer (one client holding every session
 * would lock the other guests out). The peer is the connecting process (SO_PEERCRED): every
 * peer has the daemon's uid, so the uid tells none apart. */
struct apir_live_session {
    pid_t pid, peer;
};
static struct apir_live_session *apir_live;
static unsigned apir_live_sessions;

static void apir_reap(void)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (unsigned i = 0; i < apir_live_sessions; i++) {
            if (apir_live[i].pid == pid) {
                apir_live[i] = apir_live[--apir_live_sessions];
                break;
            }
        }
        if (WIFSIGNALED(status))
            apir_log_host(APIR_LOG_WARN, "apir-hostd",
                          "session with pid %d ended by signal %d (other sessions unaffected)",
                          (int)pid, WTERMSIG(status));
    }
}

static pid_t apir_peer_pid(int fd)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred)
        return -1;
    return cred.pid;
}

/* Whether one more session fits, in all and for this peer; logs why not. */
static bool apir_session_fits(const struct apir_server_config *cfg, pid_t peer)
{
    unsigned max = cfg->max_sessions ? cfg->max_sessions : APIR_HOSTD_MAX_SESSIONS, mine = 0;
    if (apir_live_sessions >= max) {
        apir_log_host(APIR_LOG_WARN, "apir-hostd",
                      "refused a connection: %u sessions already (--max-sessions)",
                      apir_live_sessions);
        return false;
    }
    for (unsigned i = 0; i < apir_live_sessions; i++)
        mine += apir_live[i].peer == peer;
    if (cfg->max_sessions_per_peer && mine >= cfg->max_sessions_per_peer) {
        apir_log_host(APIR_LOG_WARN, "apir-hostd",
                      "refused a connection from pid %d: it holds %u sessions already "
                      "(--max-sessions-per-peer)",
                      (int)peer, mine);
        return false;
    }
    return true;
}

static void apir_spawn_session(int listen_fd, int fd, const struct apir_server_config *cfg)
{
    pid_t peer = apir_peer_pid(fd);
    if (peer <= 0 || !apir_session_fits(cfg, peer)) {
        /* Closed before any byte: the guest reports no devices and says why. */
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
        _exit(apir_session_proc_serve(fd, hcfg, number, cfg->idle_timeout_s));
    }
    apir_live[apir_live_sessions++] = (struct apir_live_session){pid, peer};
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
    apir_live =
        calloc(cfg->max_sessions ? cfg->max_sessions : APIR_HOSTD_MAX_SESSIONS, sizeof *apir_live);
    if (!apir_live) {
        apir_listen_release(cfg->socket_path, &listener);
        return 1;
    }
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
    free(apir_live);
    apir_log_host(APIR_LOG_INFO, "apir-hostd", "stopped");
    return 0;
}
