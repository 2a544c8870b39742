/* Sessions and the dispatcher: one request message in, one reply message out.
 *
 * A session owns everything its guest created; destroying it (guest exit, crash, disconnect)
 * frees all of it. Each command's decoding and handler are dispatch.c's. */
#include "internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Distinct per session so a handle copied from another session never resolves here. */
/* A tag per session: a counter mixed with the process id and the clock, since apir-hostd
 * forks every session from the same state (a counter alone would give each the same tag). */
static uint16_t apir_session_next_tag(void)
{
    static atomic_uint counter;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint32_t mix = (atomic_fetch_add(&counter, 1) + 1) * 40503u;
    mix ^= (uint32_t)getpid() * 2654435761u ^ (uint32_t)ts.tv_nsec * 2246822519u;
    uint16_t tag = (uint16_t)(mix ^ (mix >> 16));
    return tag ? tag : 1;
}

struct apir_session *apir_session_create(struct apir_host *host)
{
    struct apir_session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->host = host;
    snprintf(s->label, sizeof s->label, "apir-host: session");
    apir_watch_add(&s->watch, s->label);
    apir_handles_init(&s->handles, apir_session_next_tag(), host->max_session_objects);
    apir_writer_init(&s->reply, APIR_HDR_SIZE + APIR_MAX_PAYLOAD);
    for (size_t i = 0; i < host->n_devices; i++) {
        ggml_backend_dev_t dev = host->devices[i];
        s->dev_handles[i] = apir_handles_add(&s->handles, APIR_OBJ_DEVICE, dev);
        s->buft_handles[i] =
            apir_handles_add(&s->handles, APIR_OBJ_BUFT, ggml_backend_dev_buffer_type(dev));
        if (!s->dev_handles[i] || !s->buft_handles[i]) {
            apir_session_destroy(s);
            return NULL;
        }
    }
    return s;
}

void apir_session_set_label(struct apir_session *s, const char *label)
{
    if (s && label)
        snprintf(s->label, sizeof s->label, "%s", label);
}

/* One line at the end of a session that computed: what its graphs cost, and what of that
 * the index-copy policy (indexplan.c) took. */
static void apir_session_log_stats(const struct apir_session *s)
{
    const struct apir_compute_stats *st = &s->stats;
    if (!st->runs)
        return;
    apir_log_host(APIR_LOG_INFO, s->label,
                  "graphs: %llu runs, %.1f ms; index checks: %llu copies, %.1f us "
                  "(%.4f%% of graph time), %llu extra segments",
                  (unsigned long long)st->runs, (double)st->compute_ns / 1e6,
                  (unsigned long long)st->index_copies, (double)st->index_ns / 1e3,
                  st->compute_ns ? 100.0 * (double)st->index_ns / (double)st->compute_ns : 0.0,
                  (unsigned long long)st->extra_segments);
}

void apir_session_destroy(struct apir_session *s)
{
    if (!s)
        return;
    apir_watch_remove(&s->watch);
    apir_session_log_stats(s);
    uint32_t pos = 0;
    struct apir_host_stream *hs;
    while ((hs = apir_handles_next(&s->handles, APIR_OBJ_STREAM, &pos)))
        apir_host_stream_destroy(hs);
    pos = 0;
    struct apir_host_buffer *hb;
    while ((hb = apir_handles_next(&s->handles, APIR_OBJ_BUFFER, &pos)))
        apir_host_buffer_destroy(s, hb);
    apir_regions_release(s); /* after the buffers that lived in them */
    apir_handles_fini(&s->handles);
    apir_writer_free(&s->reply);
    apir_arena_free(&s->arena);
    free(s);
}

static void apir_reply_finish(struct apir_session *s, int status, uint32_t seq)
{
    struct apir_writer *w = &s->reply;
    if (w->err || status != APIR_OK) {
        /* An error reply carries no payload: nothing half-written is ever sent. */
        if (status == APIR_OK)
            status = APIR_E_NOMEM;
        w->err = false;
        w->len = APIR_HDR_SIZE;
    }
    struct apir_rep_hdr h = {APIR_MAGIC_REP, status, seq, (uint32_t)(w->len - APIR_HDR_SIZE)};
    apir_rep_hdr_encode(w->buf, &h);
}

/* Runs one command on its payload, writing the reply payload into w. */
static enum apir_status apir_session_run(struct apir_session *s, uint32_t cmd,
                                         const uint8_t *payload, size_t len, struct apir_writer *w)
{
    if (!apir_dispatch_known(cmd))
        return APIR_E_UNKNOWN_CMD;
    if (!s->hello_done && cmd != APIR_CMD_HELLO)
        return APIR_E_VERSION;
    struct apir_reader r;
    apir_reader_init(&r, payload, len);
    bool greeted = s->hello_done;
    apir_watch_busy(&s->watch);
    enum apir_status st = apir_dispatch_run(s, cmd, &r, w);
    apir_watch_idle(&s->watch);
    /* A handler that succeeded on a request with trailing bytes still fails: requests decode
     * exactly. Handlers check before acting; this catches any that forgot. */
    if (st == APIR_OK && !apir_reader_done(&r))
        st = APIR_E_DECODE;
    if (st == APIR_OK && w->err)
        st = APIR_E_NOMEM; /* the reply did not fit */
    /* A HELLO the guest never got an OK for did not happen: it may say it again. */
    if (!greeted && st != APIR_OK) {
        s->hello_done = false;
        s->features = 0;
    }
    return st;
}

int apir_session_execute(struct apir_session *s, uint32_t cmd, const void *payload, size_t len,
                         void *reply, size_t reply_cap, size_t *reply_len)
{
    /* A writer over the caller's window that never grows: a reply that does not fit is an
     * error, and nothing is written past the window. */
    struct apir_writer w = {.buf = reply, .cap = reply_cap, .max = reply_cap};
    *reply_len = 0;
    if (!payload && len)
        return APIR_E_DECODE;
    if (len > APIR_MAX_PAYLOAD)
        return APIR_E_DECODE;
    enum apir_status st = apir_session_run(s, cmd, payload, len, &w);
    if (st == APIR_OK)
        *reply_len = w.len;
    return st;
}

int apir_session_dispatch(struct apir_session *s, const void *req, size_t req_len,
                          const uint8_t **reply, size_t *reply_len)
{
    struct apir_req_hdr h = {0};
    enum apir_status st;
    apir_writer_reset(&s->reply);
    apir_write_reserve(&s->reply, APIR_HDR_SIZE);
    if (s->reply.err) {
        /* Not even a header fits: report through a static reply. */
        static uint8_t nomem[APIR_HDR_SIZE];
        struct apir_rep_hdr rh = {APIR_MAGIC_REP, APIR_E_NOMEM, 0, 0};
        apir_rep_hdr_encode(nomem, &rh);
        *reply = nomem;
        *reply_len = APIR_HDR_SIZE;
        return APIR_E_NOMEM;
    }
    if (!req || req_len < APIR_HDR_SIZE || !apir_req_hdr_decode(req, &h) ||
        h.len != req_len - APIR_HDR_SIZE)
        st = APIR_E_DECODE;
    else
        st = apir_session_run(s, h.cmd, (const uint8_t *)req + APIR_HDR_SIZE, h.len, &s->reply);
    apir_reply_finish(s, st, h.seq);
    *reply = s->reply.buf;
    *reply_len = s->reply.len;
    return st;
}

bool apir_session_greeted(const struct apir_session *s)
{
    return s && s->hello_done;
}

/* The features a guest of protocol minor `minor` may be granted: each feature came with a
 * minor version, and a guest older than it does not know the bit it (maybe) sent. */
static uint64_t apir_features_of_minor(uint32_t minor)
{
    uint64_t f = 0;
    if (minor >= 1)
        f |= APIR_FEAT_REGIONS | APIR_FEAT_GRAPH_CACHE;
    if (minor >= 2)
        f |= APIR_FEAT_EXTRA_BUFTS;
    return f;
}

enum apir_status apir_cmd_hello(struct apir_session *s, struct apir_req_hello_in *a,
                                struct apir_writer *w)
{
    /* One handshake per session: features decided at HELLO shape state the session already
     * holds (regions, cached graphs), so they do not change under it. */
    if (s->hello_done)
        return APIR_E_INVALID;
    /* minor versions are additive: each side uses min(minor) */
    if (a->major != APIR_PROTO_MAJOR) {
        apir_log_host(APIR_LOG_WARN, s->label,
                      "refused the guest's protocol %u.%u (this host speaks %u.%u)", a->major,
                      a->minor, APIR_PROTO_MAJOR, APIR_PROTO_MINOR);
        return APIR_E_VERSION;
    }
    s->features = a->features & APIR_FEATURES_SUPPORTED & apir_features_of_minor(a->minor);
    if (!s->region_ops.map) /* this transport cannot bring shared memory */
        s->features &= ~(uint64_t)APIR_FEAT_REGIONS;
    s->hello_done = true;
    apir_log_host(APIR_LOG_DEBUG, s->label,
                  "handshake: guest protocol %u.%u, features asked 0x%llx, granted 0x%llx",
                  a->major, a->minor, (unsigned long long)a->features,
                  (unsigned long long)s->features);
    struct apir_rep_hello rep = {.major = APIR_PROTO_MAJOR,
                                 .minor = APIR_PROTO_MINOR,
                                 .features = s->features,
                                 .n_devices = (uint32_t)s->host->n_devices};
    apir_rep_hello_put(w, &rep);
    return APIR_OK;
}

/* ECHO (minor 3): the payload back unchanged, for liveness probes and round-trip timing. */
enum apir_status apir_cmd_echo(struct apir_session *s, struct apir_req_echo_in *a,
                               struct apir_writer *w)
{
    (void)s;
    struct apir_rep_echo rep = {.data = {NULL, a->data.len}};
    uint8_t *dst = apir_rep_echo_put(w, &rep);
    if (w->err)
        return APIR_E_NOMEM;
    if (a->data.len) /* memmove: a transport may hand the request in the reply's memory */
        memmove(dst, a->data.data, (size_t)a->data.len);
    return APIR_OK;
}

/* The shared-memory command ring is the socket transport's business: apir-hostd answers
 * RING_ATTACH itself, before dispatch. A session reached any other way (in-process, through
 * virglrenderer) has no ring to offer. */
enum apir_status apir_cmd_ring_attach(struct apir_session *s, struct apir_req_ring_attach_in *a,
                                      struct apir_writer *w)
{
    (void)s, (void)a, (void)w;
    return APIR_E_UNSUPPORTED;
}
