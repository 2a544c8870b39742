/* apir-hostd: serves the host's ggml devices to guests over a unix socket.
 *
 *   apir-hostd [--socket PATH] [--backend LIB | --device NAME] [--backend-dir DIR]
 *              [--max-session-mib N] [--max-objects N] [--max-sessions N] */
#include "server.h"

#include "../proto/log.h"
#include "../proto/sockpath.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void apir_hostd_usage(FILE *f)
{
    fprintf(f, "usage: apir-hostd [--socket PATH] [--backend LIB | --device NAME]\n"
               "                  [--backend-dir DIR] [--max-session-mib N] [--max-objects N]\n"
               "                  [--max-sessions N]   guests served at once (default 64)\n"
               "--max-session-mib N: memory one guest may hold (default: what the served\n"
               "                     devices hold in total)\n"
               "APIR_HOSTD_READ_TIMEOUT_S: a started request must keep coming (default 10)\n"
               "APIR_LOG=error|warn|info|debug: what is logged (default info)\n"
               "Default socket: $APIR_SOCKET, else $XDG_RUNTIME_DIR/apir.sock, else "
               "${TMPDIR:-/tmp}/apir-<uid>/apir.sock (a private 0700 directory)\n");
}

/* Loads the backend once in a throw-away process, so a bad --backend/--device fails at start
 * with a clear message, while the daemon itself never initialises a GPU runtime (see
 * session_proc.c for why). */
static int apir_hostd_probe(const struct apir_host_config *hcfg)
{
    pid_t pid = fork();
    if (pid == 0) {
        char err[256];
        struct apir_host *h = apir_host_create(hcfg, err, sizeof err);
        if (!h) {
            apir_log_host(APIR_LOG_ERROR, "apir-hostd", "%s", err);
            _exit(1);
        }
        for (size_t i = 0; i < apir_host_device_count(h); i++)
            apir_log_host(APIR_LOG_INFO, "apir-hostd", "serving device %zu: %s", i,
                          apir_host_device_name(h, i));
        apir_host_destroy(h);
        _exit(0);
    }
    int status = 1;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return 1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(int argc, char **argv)
{
    char sock[256];
    apir_socket_default_path(sock, sizeof sock);
    struct apir_server_config cfg = {.socket_path = sock};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            apir_hostd_usage(stdout);
            return 0;
        }
        if (!v) {
            apir_hostd_usage(stderr);
            return 2;
        }
        i++;
        if (!strcmp(a, "--socket"))
            cfg.socket_path = v;
        else if (!strcmp(a, "--backend"))
            cfg.host.backend_lib = v;
        else if (!strcmp(a, "--device"))
            cfg.host.device_name = v;
        else if (!strcmp(a, "--backend-dir"))
            cfg.host.backend_dir = v;
        else if (!strcmp(a, "--max-session-mib"))
            cfg.host.max_session_bytes = strtoull(v, NULL, 10) << 20;
        else if (!strcmp(a, "--max-sessions"))
            cfg.max_sessions = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--max-objects"))
            cfg.host.max_session_objects = (uint32_t)strtoul(v, NULL, 10);
        else {
            apir_hostd_usage(stderr);
            return 2;
        }
    }
    if (cfg.host.backend_lib && cfg.host.device_name) {
        fprintf(stderr, "apir-hostd: --backend and --device are exclusive\n");
        return 2;
    }
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
