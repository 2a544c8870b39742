/* The guest's connection to the host: handshake, serialized calls, and the rule that a failed
 * transport fails calls with a status instead of aborting the application. */
#include "guest.h"

#include "../proto/virgl_abi.h"
#include "../sock/fdio.h"
#include "../sock/sockpath.h"
#include "../vtest/vtest_client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APIR_HANDSHAKE_TIMEOUT_MS 5000

/* Marks the connection gone, with one line saying so. */
static void apir_conn_lost(struct apir_conn *conn, uint32_t cmd)
{
    conn->broken = true;
    if (cmd != APIR_CMD_HELLO) /* a failed handshake is reported by the registry */
        apir_log_emit(APIR_LOG_ERROR,
                      "lost the host at %s during %s; APIR devices now fail every call",
                      conn->tp->desc, apir_cmd_name(cmd));
}

/* Frames and hands the request to the transport. */
static bool apir_call_submit(struct apir_call *c, uint32_t *seq)
{
    struct apir_conn *conn = c->conn;
    struct apir_req_hdr hdr = {APIR_MAGIC_REQ, (uint16_t)c->cmd, 0, ++conn->seq,
                               (uint32_t)(c->w->len - APIR_HDR_SIZE)};
    apir_req_hdr_encode(c->w->buf, &hdr);
    *seq = hdr.seq;
    conn->calls[c->cmd]++;
    conn->bytes_out[c->cmd] += c->w->len;
    apir_trace_request(c->cmd, c->w->buf + APIR_HDR_SIZE, c->w->len - APIR_HDR_SIZE);
    bool ok = conn->tp->ops->submit(conn->tp, c->w->buf, c->w->len, c->attach);
    conn->via_ring[c->cmd] += conn->tp->last_via_ring;
    return ok;
}

/* Collects the reply to the request in flight into conn->rep; its status, or
 * APIR_E_TRANSPORT (the connection is then gone). */
static int apir_call_collect(struct apir_conn *conn, uint32_t cmd, uint32_t seq)
{
    struct apir_rep_hdr rh;
    apir_writer_reset(&conn->rep);
    if (!conn->tp->ops->wait(conn->tp, &rh, &conn->rep) || rh.seq != seq) {
        apir_conn_lost(conn, cmd);
        return APIR_E_TRANSPORT;
    }
    conn->bytes_in[cmd] += APIR_HDR_SIZE + conn->rep.len;
    apir_trace_reply(cmd, rh.status, conn->rep.buf, conn->rep.len);
    /* A refused HELLO is reported once, by the registry, as the reason for zero devices. */
    if (rh.status != APIR_OK && cmd != APIR_CMD_HELLO)
        apir_log_emit(APIR_LOG_ERROR, "host refused %s: %s", apir_cmd_name(cmd),
                      apir_status_str(rh.status));
    return rh.status;
}

/* A posted call's reply, collected before anything else uses the connection. Its failure
 * (host status, or a ggml status other than success) is logged here and kept for the next
 * synchronization: never lost. */
static void apir_conn_complete_posted(struct apir_conn *conn)
{
    if (!conn->posted)
        return;
    conn->posted = false;
    int st = apir_call_collect(conn, conn->posted_cmd, conn->posted_seq);
    /* Only GRAPH_RECOMPUTE is posted (backend.c). */
    struct apir_rep_graph_recompute_in rep;
    bool decoded = apir_rep_graph_recompute_get(conn->rep.buf, conn->rep.len, &rep);
    uint32_t gs = rep.ggml_status;
    if (st == APIR_OK && (!decoded || gs != GGML_STATUS_SUCCESS)) {
        apir_log_emit(APIR_LOG_ERROR, "posted %s failed on the host: ggml status %d",
                      apir_cmd_name(conn->posted_cmd), (int)gs);
        st = APIR_E_BACKEND;
    }
    if (st == APIR_E_STALE)
        conn->buffer_epoch++; /* the host holds no graph we think it has: resend them all */
    if (st != APIR_OK)
        conn->posted_failed = true;
}

struct apir_writer *apir_call_begin(struct apir_call *c, struct apir_conn *conn, uint32_t cmd)
{
    pthread_mutex_lock(&conn->lock);
    apir_conn_complete_posted(conn);
    c->conn = conn;
    c->cmd = cmd;
    c->w = &conn->req;
    c->status = APIR_OK;
    c->attach = NULL;
    apir_reader_init(&c->r, NULL, 0);
    apir_writer_reset(c->w);
    apir_write_reserve(c->w, APIR_HDR_SIZE); /* filled in by end, once the length is known */
    return c->w;
}

int apir_call_end(struct apir_call *c)
{
    struct apir_conn *conn = c->conn;
    if (conn->broken)
        return c->status = APIR_E_TRANSPORT;
    if (c->w->err)
        return c->status = APIR_E_NOMEM;
    uint32_t seq;
    if (!apir_call_submit(c, &seq)) {
        apir_conn_lost(conn, c->cmd);
        return c->status = APIR_E_TRANSPORT;
    }
    c->status = apir_call_collect(conn, c->cmd, seq);
    apir_reader_init(&c->r, conn->rep.buf, conn->rep.len);
    return c->status;
}

int apir_call_post(struct apir_call *c)
{
    struct apir_conn *conn = c->conn;
    int st = APIR_OK;
    uint32_t seq = 0;
    if (conn->broken)
        st = APIR_E_TRANSPORT;
    else if (c->w->err)
        st = APIR_E_NOMEM;
    else if (!apir_call_submit(c, &seq)) {
        apir_conn_lost(conn, c->cmd);
        st = APIR_E_TRANSPORT;
    }
    if (st == APIR_OK) {
        conn->posted = true;
        conn->posted_cmd = c->cmd;
        conn->posted_seq = seq;
    }
    pthread_mutex_unlock(&conn->lock);
    return st;
}

bool apir_conn_sync(struct apir_conn *conn, bool take_failure)
{
    pthread_mutex_lock(&conn->lock);
    apir_conn_complete_posted(conn);
    bool ok = !conn->posted_failed && !conn->broken;
    if (take_failure)
        conn->posted_failed = false;
    pthread_mutex_unlock(&conn->lock);
    return ok;
}

int apir_call_simple_end(struct apir_call *c)
{
    int st = apir_call_end(c);
    if (st == APIR_OK && !apir_reader_done(&c->r))
        st = APIR_E_DECODE;
    apir_call_done(c);
    return st;
}

void apir_call_done(struct apir_call *c)
{
    pthread_mutex_unlock(&c->conn->lock);
}

/* What this guest asks for: shared regions when the transport can make them, unless
 * APIR_REGIONS=0 forces every byte through messages (the fallback path, and a baseline). */
static uint64_t apir_conn_wanted_features(const struct apir_conn *conn)
{
    uint64_t f = APIR_FEATURES_SUPPORTED;
    const char *e = getenv("APIR_REGIONS");
    if (!conn->tp->ops->region_create || (e && strcmp(e, "0") == 0))
        f &= ~(uint64_t)APIR_FEAT_REGIONS;
    return f;
}

bool apir_conn_has_regions(const struct apir_conn *conn)
{
    return (conn->features & APIR_FEAT_REGIONS) != 0;
}

bool apir_conn_shares(const struct apir_conn *conn, uint32_t dev_caps)
{
    return apir_conn_has_regions(conn) && conn->zero_copy &&
           (dev_caps & APIR_DEV_CAP_FROM_HOST_PTR);
}

/* The handshake. Its failure is said in why as the one diagnosis line: which end speaks which
 * protocol when they differ, a silent peer when nothing answers. */
static bool apir_conn_hello(struct apir_conn *conn, char *why, size_t len)
{
    uint64_t wanted = apir_conn_wanted_features(conn);
    struct apir_call c;
    struct apir_req_hello req = {
        .major = APIR_PROTO_MAJOR, .minor = APIR_PROTO_MINOR, .features = wanted};
    apir_req_hello_put(apir_call_begin(&c, conn, APIR_CMD_HELLO), &req);
    struct apir_rep_hello_in rep;
    bool decoded = APIR_CALL_END_REPLY(&c, hello, &rep);
    int st = c.status;
    apir_call_done(&c);
    uint32_t major = rep.major, minor = rep.minor;
    conn->features = rep.features & wanted;
    conn->n_devices = rep.n_devices;
    conn->wanted_features = wanted;
    if (decoded) {
        conn->host_major = major;
        conn->host_minor_seen = minor;
    }
    conn->host_minor = minor > APIR_PROTO_MINOR ? APIR_PROTO_MINOR : minor;
    if (decoded && major == APIR_PROTO_MAJOR)
        return true;
    const char *at = conn->tp->desc;
    if (decoded)
        snprintf(why, len,
                 "protocol version mismatch: the host at %s speaks %u.%u, this plugin %u.%u", at,
                 major, minor, APIR_PROTO_MAJOR, APIR_PROTO_MINOR);
    else if (st == APIR_E_VERSION)
        snprintf(why, len,
                 "protocol version mismatch: the host at %s refused protocol %u.%u (it speaks "
                 "another major version)",
                 at, APIR_PROTO_MAJOR, APIR_PROTO_MINOR);
    else if (st == APIR_E_TRANSPORT)
        snprintf(why, len, "no answer to the handshake from %s within %d s (is it apir-hostd?)", at,
                 APIR_HANDSHAKE_TIMEOUT_MS / 1000);
    else
        snprintf(why, len, "handshake with %s failed: %s", at,
                 st == APIR_OK ? "malformed reply" : apir_status_str(st));
    return false;
}

/* APIR_TRANSPORT picks the way to the host: socket (apir-hostd), vtest (virgl_test_server)
 * or virtgpu (a virtio-gpu render node). Default: virtgpu in a VM that has such a node, else
 * the socket. The choice and where it looked go into rep, connected or not. */
static struct apir_transport *apir_conn_transport(struct apir_conn_report *rep)
{
    const char *kind = getenv("APIR_TRANSPORT");
    if (!kind || !*kind)
        kind = apir_transport_virtgpu_present() ? "virtgpu" : "socket";
    snprintf(rep->transport, sizeof rep->transport, "%s", kind);
    char *why = rep->error;
    size_t whylen = sizeof rep->error;
    if (strcmp(kind, "vtest") == 0) {
        const char *p = getenv("APIR_VTEST_SOCKET");
        snprintf(rep->endpoint, sizeof rep->endpoint, "%s",
                 p && *p ? p : APIR_VTEST_DEFAULT_SOCKET);
        return apir_transport_vtest_open(rep->endpoint, why, whylen);
    }
    if (strcmp(kind, "virtgpu") == 0) {
        const char *node = getenv("APIR_VIRTGPU_NODE");
        snprintf(rep->endpoint, sizeof rep->endpoint, "%s", node && *node ? node : "");
        return apir_transport_virtgpu_open(node && *node ? node : NULL, why, whylen);
    }
    if (strcmp(kind, "socket") != 0) {
        snprintf(why, whylen, "APIR_TRANSPORT=%s is none of socket, vtest, virtgpu", kind);
        return NULL;
    }
    apir_socket_default_path(rep->endpoint, sizeof rep->endpoint);
    return apir_transport_socket_open(rep->endpoint, why, whylen);
}

struct apir_conn *apir_conn_open(struct apir_conn_report *rep)
{
    memset(rep, 0, sizeof *rep);
    struct apir_transport *tp = apir_conn_transport(rep);
    if (!tp)
        return NULL;
    /* Where it went, as the transport names it (virtgpu: the node it found). */
    const char *colon = strchr(tp->desc, ':');
    bool prefixed = colon && strncmp(tp->desc, rep->transport, (size_t)(colon - tp->desc)) == 0;
    snprintf(rep->endpoint, sizeof rep->endpoint, "%s", prefixed ? colon + 1 : tp->desc);
    struct apir_conn *conn = calloc(1, sizeof *conn);
    if (!conn) {
        tp->ops->destroy(tp);
        snprintf(rep->error, sizeof rep->error, "out of memory");
        return NULL;
    }
    conn->tp = tp;
    const char *stats = getenv("APIR_STATS");
    conn->stats = stats && *stats && strcmp(stats, "0") != 0;
    pthread_mutex_init(&conn->lock, NULL);
    pthread_mutex_init(&conn->staging_lock, NULL);
    const char *zc = getenv("APIR_ZERO_COPY");
    conn->zero_copy = !(zc && strcmp(zc, "0") == 0);
    apir_writer_init(&conn->req, APIR_HDR_SIZE + APIR_MAX_PAYLOAD);
    apir_writer_init(&conn->rep, APIR_MAX_PAYLOAD);
    /* Whatever listens there may not be apir-hostd: bound the handshake so a silent peer
     * costs the application seconds, not a hang. Compute calls then wait as long as they take. */
    tp->ops->set_timeout(tp, APIR_HANDSHAKE_TIMEOUT_MS);
    if (!apir_conn_hello(conn, rep->error, sizeof rep->error)) {
        apir_conn_close(conn);
        return NULL;
    }
    tp->ops->set_timeout(tp, 0);
    if (tp->ops->start)
        tp->ops->start(tp);
    char capset[48] = "";
    if (tp->capset)
        snprintf(capset, sizeof capset, " (capset %u%s)", tp->capset,
                 tp->capset == APIR_VIRGL_CAPSET_VENUS ? ", Venus routed to APIR" : ", APIR");
    apir_log_emit(APIR_LOG_INFO,
                  "connected to %s over %s%s: protocol %u.%u (plugin %u.%u), features 0x%llx, "
                  "%u device(s)%s",
                  rep->endpoint, rep->transport, capset, conn->host_major, conn->host_minor_seen,
                  APIR_PROTO_MAJOR, APIR_PROTO_MINOR, (unsigned long long)conn->features,
                  conn->n_devices, tp->ring_on ? ", calls through the shared-memory ring" : "");
    return conn;
}

void apir_conn_close(struct apir_conn *conn)
{
    if (!conn)
        return;
    /* The staging region (staging.c) is the one region the connection itself holds: it goes
     * here, with the transport that made it, not through the layer above that fills it. */
    if (conn->staging_ready)
        conn->tp->ops->region_destroy(conn->tp, &conn->staging);
    conn->tp->ops->destroy(conn->tp);
    apir_writer_free(&conn->req);
    apir_writer_free(&conn->rep);
    pthread_mutex_destroy(&conn->lock);
    free(conn);
}
