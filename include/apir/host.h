/* libapir-host: executes ggml-apir requests on the host's real ggml backend.
 *
 * The dispatcher is a pure function of (session, request bytes) -> reply bytes, so the same
 * library serves apir-hostd (unix socket), virglrenderer's APIR context, the in-process
 * loopback used by tests, and fuzzers. Nothing a guest sends can abort the host: every error
 * becomes a reply status. */
#ifndef APIR_HOST_H
#define APIR_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct apir_host;
struct apir_session;

struct apir_host_config {
    const char *backend_lib;      /* load this ggml backend library (NULL: discover all) */
    const char *backend_reg;      /* (optional) its registration function, for a library built
                                     without GGML_BACKEND_DL, e.g. "ggml_backend_metal_reg" */
    const char *device_name;      /* serve these devices, in this order: one name or a comma-
                                     separated list ("CUDA0,CPU", "CPU,RPC0"), or "all" (every
                                     device but APIR's). NULL: the GPU-like devices, else the
                                     CPU. The devices of rpc_servers follow, unless named */
    const char *backend_dir;      /* where to discover backend libraries (NULL: ggml default) */
    uint64_t max_session_bytes;   /* per-session memory quota (0: what the served devices hold) */
    uint32_t max_session_objects; /* per-session live handle quota (0: default) */
    const char *rpc_servers;      /* (optional) comma-separated ggml-rpc endpoints HOST:PORT to
                                     connect at creation; their devices (RPC0...) are served
                                     too. NULL: none */
};

/* Loads the backend(s) and picks the served devices. NULL with a message in err on failure. */
struct apir_host *apir_host_create(const struct apir_host_config *cfg, char *err, size_t errlen);
void apir_host_destroy(struct apir_host *host);
size_t apir_host_device_count(const struct apir_host *host);
const char *apir_host_device_name(const struct apir_host *host, size_t i);
/* The byte quota each session of this host is held to (configured, or the default). */
uint64_t apir_host_session_quota(const struct apir_host *host);
/* What the served devices need from the process beyond memory, threads and the transport's
 * own descriptors, for a sandbox around a session (apir-hostd's seccomp filter): */
enum apir_host_need {
    APIR_HOST_NEEDS_DRIVER = 1u << 0,  /* a device behind a kernel driver (GPU): device nodes,
                                          ioctl, files its runtime opens as it goes */
    APIR_HOST_NEEDS_NETWORK = 1u << 1, /* ggml-rpc devices: TCP connections to their servers */
};
unsigned apir_host_needs(const struct apir_host *host);

/* The process's compute watchdog: a request of any session of this process that runs past
 * limit_s seconds ends the process (_exit(3)) after one log line naming knob, the setting
 * that changes the limit. The transport calls it once its host exists (apir-hostd: each
 * session process; virglrenderer: each context's worker); later calls change nothing.
 * limit_s 0: no watchdog. False when its thread cannot start. */
bool apir_host_watchdog_start(unsigned limit_s, const char *knob);

/* One session per guest. Destroying it frees every object the guest created. */
struct apir_session *apir_session_create(struct apir_host *host);
void apir_session_destroy(struct apir_session *s);

/* Whether the guest's HELLO succeeded: a transport that answers a command itself (apir-hostd's
 * RING_ATTACH) holds it to the same rule as the dispatcher, E_VERSION before the handshake. */
bool apir_session_greeted(const struct apir_session *s);

/* How the session's log lines begin (at most 63 bytes): the transport names it, e.g.
 * "apir-hostd: session 3 (pid 812)" or "apir-host: virgl ctx 5", so an operator can tell which
 * guest a line is about. Default "apir-host: session". APIR_LOG filters the lines. */
void apir_session_set_label(struct apir_session *s, const char *label);

/* How many objects the guest holds in the session: buffers, streams and shared regions (the
 * device and buffer-type handles every session gets are not counted). A transport may end a
 * session that holds nothing and sends nothing for a while (apir-hostd's --idle-timeout):
 * ending it loses the guest nothing it made. */
size_t apir_session_held_objects(const struct apir_session *s);

/* Shared regions (APIR_FEAT_REGIONS): memory the guest maps too. The library never sees how
 * the memory arrives; the transport maps it when a REGION_ATTACH request names it, through
 * these callbacks (apir-hostd: the sealed memfd passed with the request; virglrenderer: the
 * blob resource of that id). Without them a session does not offer the feature.
 *
 * map: return a mapping of at least `size` bytes for region `id`, or NULL. The guest may write
 * it at any moment: the library copies out whatever it validates.
 * unmap: release what map returned (session end or REGION_DETACH). */
struct apir_region_ops {
    void *(*map)(void *user, uint32_t id, uint64_t size);
    void (*unmap)(void *user, uint32_t id, void *ptr, uint64_t size);
    void *user;
};
/* Before the guest's HELLO. ops is copied. */
void apir_session_set_region_ops(struct apir_session *s, const struct apir_region_ops *ops);

/* Executes one request message (16-byte header + payload). Always produces a reply message in
 * *reply / *reply_len (owned by the session, valid until the next call). Returns the reply's
 * status. A request whose header is not even a request header yields APIR_E_DECODE with
 * sequence 0: the transport should then drop the connection. */
int apir_session_dispatch(struct apir_session *s, const void *req, size_t req_len,
                          const uint8_t **reply, size_t *reply_len);

/* The same, without framing, for transports that frame commands their own way (the
 * virglrenderer APIR dispatcher, rings): runs command `cmd` on exactly `len` payload bytes and
 * writes the reply payload into the caller-owned window reply[0..reply_cap). Returns the
 * status (enum apir_status); *reply_len is the reply payload's length on success, 0 otherwise.
 * A reply that does not fit the window is APIR_E_NOMEM, with nothing written past it. */
int apir_session_execute(struct apir_session *s, uint32_t cmd, const void *payload, size_t len,
                         void *reply, size_t reply_cap, size_t *reply_len);

#ifdef __cplusplus
}
#endif

#endif
