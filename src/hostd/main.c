/* apir-hostd: serves the host's ggml devices to guests over a unix socket.
 *
 *   apir-hostd [--socket PATH] [--backend LIB] [--device NAME]... [--rpc HOST:PORT]...
 *              [--backend-dir DIR] [--max-session-mib N] [--max-objects N] [--max-sessions N]
 *              [--max-sessions-per-peer N] [--idle-timeout S]
 *
 * Or socket-activated (systemd's apir-hostd.socket): the listening socket arrives as fd 3. */
#include "activate.h"
#include "server.h"
#include "session_proc.h"

#include "../proto/log.h"
#include "../sock/sockpath.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void apir_hostd_usage(FILE *f)
{
    fprintf(f,
            "usage: apir-hostd [options]\n"
            "Serve this host's ggml devices to ggml-apir guests (libggml-apir.so) on a unix\n"
            "socket, one process per guest.\n\n"
            "  --socket PATH         where to listen (default below)\n"
            "  --backend LIB         load only this ggml backend library (e.g.\n"
            "                        libggml-cuda.so) instead of discovering them\n"
            "  --device NAME         serve this ggml device (e.g. CPU, CUDA0); repeat it, or\n"
            "                        NAME1,NAME2; \"all\": every device. Guests see them as\n"
            "                        APIR0, APIR1... in this order. Default: every GPU-like\n"
            "                        device, else the CPU; --rpc devices follow\n"
            "  --rpc HOST:PORT       also serve the devices of this ggml-rpc-server\n"
            "                        (repeatable; named RPC0, RPC1... for --device)\n"
            "  --backend-dir DIR     where to discover ggml backend libraries\n"
            "                        (default %s)\n"
            "  --max-session-mib N   memory one guest may hold (default: what the served\n"
            "                        devices hold in total)\n"
            "  --max-objects N       live objects (buffers, graphs...) one guest may hold\n"
            "                        (default 16777215)\n"
            "  --max-sessions N      guests served at once (default 64); more are refused\n"
            "  --max-sessions-per-peer N  of those, from one guest process (its pid, from\n"
            "                        SO_PEERCRED; default 8; 0: no limit of its own)\n"
            "  --idle-timeout S      end a session that holds no buffer, stream or region\n"
            "                        and sent no request for S seconds (default 300; 0:\n"
            "                        never)\n"
            "  -h, --help            this text\n\n"
            "Default socket: $APIR_SOCKET, else $XDG_RUNTIME_DIR/apir.sock, else\n"
            "${TMPDIR:-/tmp}/apir-<uid>/apir.sock (a private 0700 directory).\n\n"
            "Environment:\n"
            "  APIR_SOCKET, XDG_RUNTIME_DIR, TMPDIR   the default socket, as above\n"
            "  LISTEN_PID, LISTEN_FDS     socket activation (sd_listen_fds): serve the\n"
            "                             listening unix socket passed as fd 3 instead\n"
            "  APIR_HOSTD_READ_TIMEOUT_S  a guest's first request, and every started one,\n"
            "                             must arrive within this (default 10)\n"
            "  APIR_HOSTD_COMPUTE_TIMEOUT_S  a request may run this long (default 300; 0:\n"
            "                             no limit); past it, its session ends\n"
            "  APIR_HOSTD_SECCOMP=0|log   session seccomp filter off, or logging only\n"
            "  APIR_HOSTD_NAMESPACES=0    sessions stay in the daemon's namespaces\n"
            "  APIR_HOSTD_RING_SPIN_US    polling of the shared ring after each reply\n"
            "                             (default 200)\n"
            "  APIR_LOG=error|warn|info|debug  what is logged (default info; debug: which\n"
            "                             tensor a refused graph failed on)\n"
            "  GGML_BACKEND_PATH          ignored (removed): the guest plugin never loads here\n"
            "  APIR_SANITIZE_LOGS         sanitizer builds (make test-asan) only: where each\n"
            "                             session opens its report file before its filter\n",
#ifdef APIR_GGML_BACKEND_DIR
            APIR_GGML_BACKEND_DIR
#else
            "ggml's own search path"
#endif
    );
}

/* Loads the backend once in a throw-away process, confined as a session would be, so a bad
 * --backend/--device or a sandbox the kernel refuses fails at start with a clear message, while the
 * daemon itself never initialises a GPU runtime (see session_proc.c for why). */
static int apir_hostd_probe(const struct apir_host_config *hcfg)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(apir_session_proc_probe(hcfg));
    int status = 1;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return 1;
    if (WIFSIGNALED(status))
        fprintf(stderr,
                "apir-hostd: setting up the backends ended with signal %d (an "
                "unreachable --rpc server makes ggml-rpc abort)\n",
                WTERMSIG(status));
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* Repeated options build the host config's comma-separated lists. */
static void apir_hostd_list_append(char *list, size_t len, const char *item)
{
    size_t n = strlen(list);
    snprintf(list + n, len - n, "%s%s", n ? "," : "", item);
}

/* 0: go on; 1: help printed (exit 0); 2: bad usage. */
static int apir_hostd_parse(int argc, char **argv, struct apir_server_config *cfg)
{
    static char devices[1024], rpc[1024];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            apir_hostd_usage(stdout);
            return 1;
        }
        if (!v) {
            apir_hostd_usage(stderr);
            return 2;
        }
        i++;
        if (!strcmp(a, "--socket"))
            cfg->socket_path = v;
        else if (!strcmp(a, "--backend"))
            cfg->host.backend_lib = v;
        else if (!strcmp(a, "--device"))
            apir_hostd_list_append(devices, sizeof devices, v);
        else if (!strcmp(a, "--rpc"))
            apir_hostd_list_append(rpc, sizeof rpc, v);
        else if (!strcmp(a, "--backend-dir"))
            cfg->host.backend_dir = v;
        else if (!strcmp(a, "--max-session-mib"))
            cfg->host.max_session_bytes = strtoull(v, NULL, 10) << 20;
        else if (!strcmp(a, "--max-sessions"))
            cfg->max_sessions = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--max-sessions-per-peer"))
            cfg->max_sessions_per_peer = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--idle-timeout"))
            cfg->idle_timeout_s = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--max-objects"))
            cfg->host.max_session_objects = (uint32_t)strtoul(v, NULL, 10);
        else {
            apir_hostd_usage(stderr);
            return 2;
        }
    }
    if (devices[0])
        cfg->host.device_name = devices;
    if (rpc[0])
        cfg->host.rpc_servers = rpc;
    return 0;
}

/* Socket activation decides where we listen: the manager bound the socket, so --socket (the
 * unit may pass one, to serve the same path when started without its .socket) yields to it. */
static int apir_hostd_take_activation(struct apir_server_config *cfg, char *path, size_t len)
{
    int fd = apir_activate_fd(path, len);
    if (fd == APIR_ACTIVATE_ERROR)
        return -1;
    if (fd == APIR_ACTIVATE_NONE)
        return 0;
    if (strcmp(cfg->socket_path, path) != 0 && *path)
        fprintf(stderr, "apir-hostd: serving the activated socket %s, not %s\n", path,
                cfg->socket_path);
    cfg->inherited_fd = fd;
    cfg->socket_path = *path ? path : "(unnamed socket)";
    return 0;
}

int main(int argc, char **argv)
{
    char sock[256], activated[sizeof sock];
    apir_socket_default_path(sock, sizeof sock);
    struct apir_server_config cfg = {.socket_path = sock,
                                     .max_sessions_per_peer = APIR_HOSTD_MAX_SESSIONS_PER_PEER,
                                     .idle_timeout_s = APIR_HOSTD_IDLE_TIMEOUT_S};
    int rc = apir_hostd_parse(argc, argv, &cfg);
    if (rc != 0)
        return rc == 1 ? 0 : 2;
    if (apir_hostd_take_activation(&cfg, activated, sizeof activated) != 0)
        return 1;
#ifdef APIR_GGML_BACKEND_DIR
    if (!cfg.host.backend_dir && !cfg.host.backend_lib)
        cfg.host.backend_dir = APIR_GGML_BACKEND_DIR;
#endif
    /* The guest plugin must never load inside the host: it would connect back to this very
     * daemon, which would fork a session that loads it again. */
    if (getenv("GGML_BACKEND_PATH")) {
        apir_log_host(APIR_LOG_WARN, "apir-hostd",
                      "ignoring GGML_BACKEND_PATH in the host process");
        unsetenv("GGML_BACKEND_PATH");
    }
    /* A guest can make a kernel assert fire on purpose (see docs/security.md): that must end
     * its session quickly, not attach a debugger to print a backtrace each time. */
    setenv("GGML_NO_BACKTRACE", "1", 0);
    if (apir_hostd_probe(&cfg.host) != 0)
        return 1;
    return apir_server_run(&cfg);
}
