/* The life of one guest connection, in its own process.
 *
 * A process per session isolates guests from each other completely: a kernel that aborts or
 * faults on a crafted graph ends only the session that sent it, and the OS frees everything the
 * session owned when it ends, whatever state it was in. Backends are loaded here, after fork,
 * because GPU runtimes and OpenMP do not survive a fork once initialised. */
#include "session_proc.h"

#include "confine.h"
#include "conn.h"
#include "sandbox.h"
#include "sanitize_hook.h"

#include "../proto/log.h"
#include "../proto/wire.h"
#include "../sock/fdio.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* How this process's log lines begin: one session per process, so one label. */
static char apir_session_label[64] = "apir-hostd: session";

/* Regions arrive as the descriptor passed with REGION_ATTACH; any other request's descriptor
 * is closed after it. */
static void *apir_hostd_region_map(void *user, uint32_t id, uint64_t size)
{
    (void)id;
    struct apir_hostd_conn *hc = user;
    int fd = hc->passed_fd;
    hc->passed_fd = -1;
    return fd >= 0 ? apir_hostd_map_sealed(hc, fd, size) : NULL;
}

static void apir_hostd_region_unmap(void *user, uint32_t id, void *ptr, uint64_t size)
{
    (void)id;
    apir_hostd_unmap_sealed(user, ptr, size);
}

/* Reads one request message into *buf (grown as needed), and a descriptor passed with it.
 * False on EOF, error, or a header that is not ours: such a peer is not a guest and the
 * connection ends. */
static bool apir_read_request_now(int fd, uint8_t **buf, size_t *cap, size_t *len, int *passed_fd)
{
    uint8_t hb[APIR_HDR_SIZE];
    struct apir_req_hdr h;
    if (!apir_fd_read_with_fd(fd, hb, sizeof hb, passed_fd))
        return false;
    if (!apir_req_hdr_decode(hb, &h))
        return false;
    size_t need = APIR_HDR_SIZE + (size_t)h.len;
    if (need > *cap) {
        uint8_t *nb = realloc(*buf, need);
        if (!nb)
            return false;
        *buf = nb;
        *cap = need;
    }
    memcpy(*buf, hb, sizeof hb);
    *len = need;
    return apir_fd_read_all(fd, *buf + APIR_HDR_SIZE, h.len);
}

static long apir_read_timeout_s(void)
{
    static long timeout_s = -1;
    if (timeout_s < 0) {
        const char *e = getenv("APIR_HOSTD_READ_TIMEOUT_S");
        timeout_s = e && *e ? strtol(e, NULL, 10) : 10;
    }
    return timeout_s;
}

/* Whether a session that sent nothing for idle_s holds nothing either (asked under the lock:
 * the ring thread may be serving a request). Such a guest loses nothing when it ends, and
 * ending it frees its place among --max-sessions. */
static bool apir_hostd_idle_empty(struct apir_hostd_conn *hc)
{
    long long quiet = apir_hostd_now_ms() - atomic_load(&hc->last_request_ms);
    if (!hc->idle_s || quiet < (long long)hc->idle_s * 1000)
        return false;
    pthread_mutex_lock(&hc->lock);
    size_t held = apir_session_held_objects(hc->session);
    pthread_mutex_unlock(&hc->lock);
    if (held)
        return false;
    apir_log_host(APIR_LOG_INFO, apir_session_label,
                  "idle for %u s holding no buffer, stream or region; closing (--idle-timeout)",
                  hc->idle_s);
    return true;
}

/* Waits for the guest's next request. The first (HELLO) must come within the read timeout: a
 * connection that says nothing holds one of --max-sessions only that long. After it, a guest
 * may stay idle as long as it likes while it holds something; one that holds nothing ends
 * after --idle-timeout (requests through the ring count: they leave the socket silent). */
static bool apir_hostd_wait_request(struct apir_hostd_conn *hc, bool first)
{
    long timeout_s = apir_read_timeout_s();
    struct pollfd p = {.fd = hc->sock, .events = POLLIN};
    int ms = first && timeout_s > 0 ? (int)(timeout_s * 1000) : hc->idle_s ? 1000 : -1, n;
    for (;;) {
        while ((n = poll(&p, 1, ms)) < 0 && errno == EINTR)
            ;
        if (n != 0 || first || atomic_load(&hc->stopping))
            break;
        if (apir_hostd_idle_empty(hc))
            return false;
    }
    if (n == 0)
        apir_log_host(APIR_LOG_WARN, apir_session_label,
                      "the guest sent nothing within %ld s; closing", timeout_s);
    return n > 0;
}

/* Once a request has begun, each further piece must come within the read timeout
 * (APIR_HOSTD_READ_TIMEOUT_S, default 10 s): half a message never pins a session process. */
static bool apir_read_request(struct apir_hostd_conn *hc, bool first, uint8_t **buf, size_t *cap,
                              size_t *len)
{
    int fd = hc->sock;
    long timeout_s = apir_read_timeout_s();
    if (!apir_hostd_wait_request(hc, first))
        return false;
    struct timeval tv = {.tv_sec = timeout_s}, none = {0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    bool ok = apir_read_request_now(fd, buf, cap, len, &hc->passed_fd);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
    if (!ok && (errno == EAGAIN || errno == EWOULDBLOCK))
        apir_log_host(APIR_LOG_WARN, apir_session_label, "a request stalled past %ld s; closing",
                      timeout_s);
    return ok;
}

/* RING_ATTACH belongs to this transport: answered here, with a reply header of our own. */
static bool apir_hostd_serve_ring_attach(struct apir_hostd_conn *hc, const uint8_t *msg, size_t len)
{
    struct apir_req_hdr h;
    apir_req_hdr_decode(msg, &h);
    int st = apir_hostd_ring_attach(hc, msg + APIR_HDR_SIZE, (uint32_t)(len - APIR_HDR_SIZE));
    uint8_t out[APIR_HDR_SIZE];
    struct apir_rep_hdr rh = {APIR_MAGIC_REP, st, h.seq, 0};
    apir_rep_hdr_encode(out, &rh);
    return apir_fd_write_all(hc->sock, out, sizeof out);
}

static void apir_hostd_serve_socket(struct apir_hostd_conn *hc)
{
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    bool first = true;
    while (!atomic_load(&hc->stopping) && apir_read_request(hc, first, &buf, &cap, &len)) {
        first = false;
        uint16_t cmd;
        memcpy(&cmd, buf + 4, sizeof cmd);
        bool ok;
        pthread_mutex_lock(&hc->lock);
        if (cmd == APIR_CMD_RING_ATTACH) {
            ok = apir_hostd_serve_ring_attach(hc, buf, len);
        } else {
            const uint8_t *rep;
            size_t rep_len;
            apir_hostd_dispatch(hc, buf, len, &rep, &rep_len);
            ok = apir_fd_write_all(hc->sock, rep, rep_len);
        }
        pthread_mutex_unlock(&hc->lock);
        if (!ok)
            break;
    }
    free(buf);
}

/* The compute watchdog (libapir-host's, src/host/watchdog.c): a request running past
 * APIR_HOSTD_COMPUTE_TIMEOUT_S (default 300 s, under the guest's own 600 s call timeout,
 * APIR_TIMEOUT_S; 0: none) ends this session process, and only it. */
static bool apir_hostd_watchdog_start(void)
{
    const char *e = getenv("APIR_HOSTD_COMPUTE_TIMEOUT_S");
    unsigned long s = e && *e ? strtoul(e, NULL, 10) : 300;
    return apir_host_watchdog_start(s > 86400 ? 86400u : (unsigned)s,
                                    "APIR_HOSTD_COMPUTE_TIMEOUT_S");
}

/* What a session process gives up before it reads a byte of the guest, in two steps: at its
 * start, single-threaded, namespaces and privileges (confine.c); once its host exists
 * (backends loaded, so their set-up needs nothing the filter denies), resource limits sized
 * from it, the compute watchdog and the seccomp filter (sandbox.c). A filter that cannot be
 * installed refuses the session: serving without one is the operator's choice
 * (APIR_HOSTD_SECCOMP=0). *what says what the session got. */
static struct apir_host *apir_session_enter(const struct apir_host_config *hcfg, char *what,
                                            size_t len)
{
    char ns[160], err[256];
    apir_confine_process(hcfg->rpc_servers && *hcfg->rpc_servers, ns, sizeof ns);
    struct apir_host *host = apir_host_create(hcfg, err, sizeof err);
    if (!host) {
        apir_log_host(APIR_LOG_ERROR, apir_session_label, "refused: %s", err);
        return NULL;
    }
    unsigned needs = apir_host_needs(host);
    apir_confine_limits(apir_host_session_quota(host), needs);
    struct apir_sandbox_policy p = {apir_sandbox_mode_from_env(),
                                    (needs & APIR_HOST_NEEDS_DRIVER) != 0,
                                    (needs & APIR_HOST_NEEDS_NETWORK) != 0};
    apir_sanitize_before_sandbox();
    int rc = p.mode == APIR_SANDBOX_OFF ? 0 : apir_sandbox_install(&p);
    if (!apir_hostd_watchdog_start() || rc != 0) {
        apir_log_host(APIR_LOG_ERROR, apir_session_label, "refused: %s%s",
                      rc ? "cannot install the seccomp filter: " : "no compute watchdog thread",
                      rc ? strerror(-rc) : "");
        apir_host_destroy(host);
        return NULL;
    }
    snprintf(what, len, "namespaces %s; seccomp filter %s%s%s", ns,
             p.mode == APIR_SANDBOX_OFF   ? "off (APIR_HOSTD_SECCOMP=0)"
             : p.mode == APIR_SANDBOX_LOG ? "logging only (APIR_HOSTD_SECCOMP=log)"
                                          : "on",
             p.driver ? ", driver calls allowed" : "", p.network ? ", TCP allowed" : "");
    return host;
}

int apir_session_proc_probe(const struct apir_host_config *hcfg)
{
    char what[512];
    struct apir_host *host = apir_session_enter(hcfg, what, sizeof what);
    if (!host) {
        if (apir_sandbox_mode_from_env() != APIR_SANDBOX_OFF)
            apir_log_host(APIR_LOG_ERROR, "apir-hostd",
                          "(APIR_HOSTD_SECCOMP=0 serves without the filter)");
        return 1;
    }
    for (size_t i = 0; i < apir_host_device_count(host); i++)
        apir_log_host(APIR_LOG_INFO, "apir-hostd", "serving device %zu: %s", i,
                      apir_host_device_name(host, i));
    apir_log_host(APIR_LOG_INFO, "apir-hostd", "sessions: %s", what);
    apir_host_destroy(host);
    return 0;
}

int apir_session_proc_serve(int fd, const struct apir_host_config *hcfg, unsigned number,
                            unsigned idle_s)
{
    char what[512];
    snprintf(apir_session_label, sizeof apir_session_label, "apir-hostd: session %u (pid %d)",
             number, (int)getpid());
    struct apir_host *host = apir_session_enter(hcfg, what, sizeof what);
    if (!host)
        return 1;
    apir_log_host(APIR_LOG_INFO, apir_session_label, "started (%zu device(s); %s)",
                  apir_host_device_count(host), what);
    struct apir_hostd_conn hc = {.sock = fd, .passed_fd = -1, .idle_s = idle_s};
    atomic_init(&hc.last_request_ms, apir_hostd_now_ms());
    pthread_mutex_init(&hc.lock, NULL);
    hc.session = apir_session_create(host);
    if (hc.session) {
        apir_session_set_label(hc.session, apir_session_label);
        struct apir_region_ops ops = {apir_hostd_region_map, apir_hostd_region_unmap, &hc};
        apir_session_set_region_ops(hc.session, &ops);
        apir_hostd_serve_socket(&hc);
    }
    apir_hostd_ring_stop(&hc);
    if (hc.passed_fd >= 0)
        close(hc.passed_fd);
    apir_session_destroy(hc.session);
    free(hc.maps); /* the regions went with the session, the ring before it */
    apir_host_destroy(host);
    pthread_mutex_destroy(&hc.lock);
    apir_log_host(APIR_LOG_INFO, apir_session_label, "ended");
    return 0;
}
