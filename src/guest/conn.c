/* The guest's connection to the host: handshake, serialized calls, and the rule that a failed
 * transport fails calls with a status instead of aborting the application. */
#include "guest.h"

#include "../proto/fdio.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APIR_HANDSHAKE_TIMEOUT_MS 5000

void apir_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ggml-apir: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

struct apir_writer *apir_call_begin(struct apir_call *c, struct apir_conn *conn, uint32_t cmd)
{
    pthread_mutex_lock(&conn->lock);
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
    struct apir_req_hdr hdr = {APIR_MAGIC_REQ, (uint16_t)c->cmd, 0, ++conn->seq,
                               (uint32_t)(c->w->len - APIR_HDR_SIZE)};
    apir_req_hdr_encode(c->w->buf, &hdr);
    struct apir_rep_hdr rh;
    apir_writer_reset(&conn->rep);
    if (!conn->tp->ops->roundtrip(conn->tp, c->w->buf, c->w->len, c->attach, &rh, &conn->rep) ||
        rh.seq != hdr.seq) {
        conn->broken = true;
        if (c->cmd != APIR_CMD_HELLO) /* a failed handshake is reported by the registry */
            apir_log("lost the host at %s during %s; APIR devices now fail every call",
                     conn->tp->desc, apir_cmd_name(c->cmd));
        return c->status = APIR_E_TRANSPORT;
    }
    apir_reader_init(&c->r, conn->rep.buf, conn->rep.len);
    conn->calls[c->cmd]++;
    conn->via_ring[c->cmd] += conn->tp->last_via_ring;
    conn->bytes_out[c->cmd] += c->w->len;
    conn->bytes_in[c->cmd] += APIR_HDR_SIZE + conn->rep.len;
    c->status = rh.status;
    /* A refused HELLO is reported once, by the registry, as the reason for zero devices. */
    if (rh.status != APIR_OK && c->cmd != APIR_CMD_HELLO)
        apir_log("host refused %s: %s", apir_cmd_name(c->cmd), apir_status_str(rh.status));
    return c->status;
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

static bool apir_conn_hello(struct apir_conn *conn, uint32_t *n_devices, char *why, size_t len)
{
    uint64_t wanted = apir_conn_wanted_features(conn);
    struct apir_call c;
    struct apir_writer *w = apir_call_begin(&c, conn, APIR_CMD_HELLO);
    apir_write_u32(w, APIR_PROTO_MAJOR);
    apir_write_u32(w, APIR_PROTO_MINOR);
    apir_write_u64(w, wanted);
    int st = apir_call_end(&c);
    uint32_t major = apir_read_u32(&c.r);
    uint32_t minor = apir_read_u32(&c.r);
    conn->features = apir_read_u64(&c.r) & wanted;
    *n_devices = apir_read_u32(&c.r);
    bool ok = st == APIR_OK && apir_reader_done(&c.r) && major == APIR_PROTO_MAJOR;
    apir_call_done(&c);
    conn->host_minor = minor > APIR_PROTO_MINOR ? APIR_PROTO_MINOR : minor;
    if (!ok && st == APIR_E_TRANSPORT)
        snprintf(why, len, "no answer to the handshake from %s within %d s (is it apir-hostd?)",
                 conn->tp->desc, APIR_HANDSHAKE_TIMEOUT_MS / 1000);
    else if (!ok)
        snprintf(why, len, "handshake with %s failed: %s", conn->tp->desc,
                 st == APIR_OK ? "malformed reply" : apir_status_str(st));
    return ok;
}

struct apir_conn *apir_conn_open(char *why, size_t whylen)
{
    char path[256];
    apir_socket_default_path(path, sizeof path);
    struct apir_transport *tp = apir_transport_socket_open(path, why, whylen);
    if (!tp)
        return NULL;
    struct apir_conn *conn = calloc(1, sizeof *conn);
    if (!conn) {
        tp->ops->destroy(tp);
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    conn->tp = tp;
    const char *stats = getenv("APIR_STATS");
    conn->stats = stats && *stats && strcmp(stats, "0") != 0;
    pthread_mutex_init(&conn->lock, NULL);
    apir_writer_init(&conn->req, APIR_HDR_SIZE + APIR_MAX_PAYLOAD);
    apir_writer_init(&conn->rep, APIR_MAX_PAYLOAD);
    /* Whatever listens there may not be apir-hostd: bound the handshake so a silent peer
     * costs the application seconds, not a hang. Compute calls then wait as long as they take. */
    tp->ops->set_timeout(tp, APIR_HANDSHAKE_TIMEOUT_MS);
    if (!apir_conn_hello(conn, &conn->n_devices, why, whylen)) {
        apir_conn_close(conn);
        return NULL;
    }
    tp->ops->set_timeout(tp, 0);
    if (tp->ops->start)
        tp->ops->start(tp);
    return conn;
}

void apir_conn_count_local(struct apir_conn *conn, uint32_t cmd, size_t bytes)
{
    if (!conn->stats)
        return;
    /* Shared buffers are used without the connection lock: counts are approximate under
     * concurrent use, exact for the usual single-threaded decode loop. */
    conn->local_calls[cmd]++;
    conn->local_bytes[cmd] += bytes;
}

/* Round trips (and how many went through the shared-memory ring), message bytes each way,
 * and data operations done in place in shared memory, per command. */
void apir_conn_print_stats(const struct apir_conn *conn)
{
    if (!conn || !conn->stats)
        return;
    uint64_t calls = 0, ring = 0, out = 0, in = 0, local = 0, bulk = 0;
    for (uint32_t i = 1; i < APIR_CMD_LIMIT; i++) {
        if (!conn->calls[i] && !conn->local_calls[i])
            continue;
        fprintf(stderr,
                "ggml-apir stats: %-20s calls=%-8llu ring=%-8llu out=%-12llu in=%-12llu "
                "local=%-8llu bulk=%llu\n",
                apir_cmd_name(i), (unsigned long long)conn->calls[i],
                (unsigned long long)conn->via_ring[i], (unsigned long long)conn->bytes_out[i],
                (unsigned long long)conn->bytes_in[i], (unsigned long long)conn->local_calls[i],
                (unsigned long long)conn->local_bytes[i]);
        calls += conn->calls[i];
        ring += conn->via_ring[i];
        out += conn->bytes_out[i];
        in += conn->bytes_in[i];
        local += conn->local_calls[i];
        bulk += conn->local_bytes[i];
    }
    fprintf(stderr,
            "ggml-apir stats: %-20s calls=%-8llu ring=%-8llu out=%-12llu in=%-12llu local=%-8llu "
            "bulk=%llu\n",
            "TOTAL", (unsigned long long)calls, (unsigned long long)ring, (unsigned long long)out,
            (unsigned long long)in, (unsigned long long)local, (unsigned long long)bulk);
}

void apir_conn_close(struct apir_conn *conn)
{
    if (!conn)
        return;
    conn->tp->ops->destroy(conn->tp);
    apir_writer_free(&conn->req);
    apir_writer_free(&conn->rep);
    pthread_mutex_destroy(&conn->lock);
    free(conn);
}
