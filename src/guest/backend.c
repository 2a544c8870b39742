/* ggml backend (stream) interface: graphs go to the host as a tensor table + node list. */
#include "guest.h"

#include <ggml-impl.h>

#include <stdlib.h>
#include <string.h>

struct apir_stream {
    struct apir_device *dev;
    uint64_t handle;
    int n_threads; /* last value sent: llama.cpp sets it before every decode */
    struct apir_tensor_map map;
    /* The encoding of the last graph the host accepted on this stream, and the connection's
     * buffer epoch then: the same bytes under the same epoch are the host's cached graph. */
    struct apir_writer last;
    uint64_t last_epoch;
    uint64_t last_uid; /* ggml's id of that graph (0: none) */
};

static const char *apir_be_get_name(ggml_backend_t backend)
{
    return ((struct apir_stream *)backend->context)->dev->name;
}

static void apir_be_free(ggml_backend_t backend)
{
    struct apir_stream *s = backend->context;
    struct apir_call c;
    apir_write_u64(apir_call_begin(&c, s->dev->conn, APIR_CMD_STREAM_FREE), s->handle);
    apir_call_simple_end(&c);
    apir_tensor_map_free(&s->map);
    apir_writer_free(&s->last);
    free(s);
    free(backend);
}

/* Reads GRAPH_COMPUTE / GRAPH_RECOMPUTE's reply and ends the call. */
static int apir_be_compute_reply(struct apir_call *c, enum ggml_status *gs)
{
    int st = apir_call_end(c);
    *gs = GGML_STATUS_FAILED;
    if (st == APIR_OK) {
        int32_t v = apir_read_i32(&c->r);
        if (apir_reader_done(&c->r))
            *gs = (enum ggml_status)v;
    }
    apir_call_done(c);
    return st;
}

/* ggml's scheduler gives each split graph a fresh non-zero uid whenever it splits a graph
 * anew, and documents that equal non-zero uids mean the same graph (ggml-rpc skips sending on
 * it the same way): llama.cpp reusing its graph token after token then costs no encoding at
 * all. Graphs without a uid (built by hand, uid 0) are compared byte for byte below. */
static uint64_t ggml_graph_uid(const struct ggml_cgraph *g)
{
    return g->uid;
}

static bool apir_be_same_uid(const struct apir_stream *s, const struct apir_conn *conn,
                             const struct ggml_cgraph *g)
{
    return (conn->features & APIR_FEAT_GRAPH_CACHE) && g->uid != 0 && g->uid == s->last_uid &&
           s->last.len > 0 && s->last_epoch == conn->buffer_epoch;
}

/* A recompute of a graph the host validated is posted: graph_compute returns at once, like
 * a GPU backend's, and synchronize (or the next call) collects the outcome. A failure is
 * logged then and fails the next graph_compute (apir_conn_sync). */
static enum ggml_status apir_be_post(struct apir_call *c)
{
    return apir_call_post(c) == APIR_OK ? GGML_STATUS_SUCCESS : GGML_STATUS_FAILED;
}

/* Unless ggml's uid says it is the same graph, the graph is encoded (cheap next to a round
 * trip) and compared with the last one the host accepted: identical bytes mean an identical
 * graph, so an unchanged graph goes as GRAPH_RECOMPUTE of a few bytes and a changed one can
 * never be served from the cache. */
static enum ggml_status apir_be_graph_compute(ggml_backend_t backend, struct ggml_cgraph *cgraph)
{
    struct apir_stream *s = backend->context;
    struct apir_conn *conn = s->dev->conn;
    if (!apir_conn_sync(conn, true))
        return GGML_STATUS_FAILED; /* the previous, posted compute failed: report it */
    struct apir_call c;
    struct apir_writer *w = apir_call_begin(&c, conn, APIR_CMD_GRAPH_COMPUTE);
    apir_write_u64(w, s->handle);
    if (apir_be_same_uid(s, conn, cgraph)) {
        c.cmd = APIR_CMD_GRAPH_RECOMPUTE;
        return apir_be_post(&c);
    }
    size_t at = w->len;
    if (!apir_encode_graph(w, &s->map, cgraph)) {
        apir_call_done(&c);
        apir_log_emit(APIR_LOG_ERROR, "graph of %d nodes could not be encoded",
                      ggml_graph_n_nodes(cgraph));
        return GGML_STATUS_FAILED;
    }
    const uint8_t *graph = w->buf + at;
    size_t len = w->len - at;
    bool cached = (conn->features & APIR_FEAT_GRAPH_CACHE) && s->last.len == len &&
                  s->last_epoch == conn->buffer_epoch && memcmp(s->last.buf, graph, len) == 0;
    s->last_uid = ggml_graph_uid(cgraph);
    if (cached) {
        c.cmd = APIR_CMD_GRAPH_RECOMPUTE;
        w->len = at;
        return apir_be_post(&c);
    }
    apir_writer_reset(&s->last);
    apir_write_raw(&s->last, graph, len);
    s->last_epoch = conn->buffer_epoch;
    enum ggml_status gs;
    int st = apir_be_compute_reply(&c, &gs);
    if (st != APIR_OK || s->last.err)
        s->last.len = 0; /* the host holds no cache of it */
    return gs;
}

static void apir_be_synchronize(ggml_backend_t backend)
{
    apir_conn_sync(((struct apir_stream *)backend->context)->dev->conn, false);
}

/* Data access ordered with the stream: buffers wait for the posted call themselves. */
static void apir_be_set_tensor_async(ggml_backend_t backend, struct ggml_tensor *t,
                                     const void *data, size_t offset, size_t size)
{
    (void)backend;
    ggml_backend_tensor_set(t, data, offset, size);
}

static void apir_be_get_tensor_async(ggml_backend_t backend, const struct ggml_tensor *t,
                                     void *data, size_t offset, size_t size)
{
    (void)backend;
    ggml_backend_tensor_get(t, data, offset, size);
}

static bool apir_be_cpy_tensor_async(ggml_backend_t src_be, ggml_backend_t dst_be,
                                     const struct ggml_tensor *src, struct ggml_tensor *dst)
{
    (void)src_be, (void)dst_be;
    if (!apir_buffer_is_apir(src->buffer) || !apir_buffer_is_apir(dst->buffer))
        return false;
    ggml_backend_tensor_copy((struct ggml_tensor *)src, dst);
    return true;
}

/* Events. One connection carries every stream of the process in order, so whatever was
 * submitted before an event is done once the connection has nothing in flight: waiting on
 * another stream's event needs no action, and synchronizing an event is a sync. */
static void apir_be_event_record(ggml_backend_t backend, ggml_backend_event_t event)
{
    (void)backend, (void)event;
}

static void apir_be_event_wait(ggml_backend_t backend, ggml_backend_event_t event)
{
    (void)backend, (void)event;
}

static const struct ggml_backend_i apir_backend_iface = {
    .get_name = apir_be_get_name,
    .free = apir_be_free,
    .set_tensor_async = apir_be_set_tensor_async,
    .get_tensor_async = apir_be_get_tensor_async,
    .cpy_tensor_async = apir_be_cpy_tensor_async,
    .synchronize = apir_be_synchronize,
    .graph_compute = apir_be_graph_compute,
    .event_record = apir_be_event_record,
    .event_wait = apir_be_event_wait,
};

static ggml_guid_t apir_backend_guid(void)
{
    static ggml_guid guid = {0x61, 0x70, 0x69, 0x72, 0x2d, 0x67, 0x67, 0x6d,
                             0x6c, 0x2d, 0x72, 0x65, 0x6d, 0x6f, 0x74, 0x65};
    return &guid;
}

ggml_backend_t apir_backend_new(struct apir_device *d)
{
    struct apir_call c;
    apir_write_u64(apir_call_begin(&c, d->conn, APIR_CMD_STREAM_NEW), d->dev_h);
    int st = apir_call_end(&c);
    uint64_t h = apir_read_u64(&c.r);
    bool ok = st == APIR_OK && apir_reader_done(&c.r) && h;
    apir_call_done(&c);
    if (!ok)
        return NULL;
    struct apir_stream *s = calloc(1, sizeof *s);
    ggml_backend_t be = calloc(1, sizeof *be);
    if (!s || !be) {
        free(s);
        free(be);
        apir_write_u64(apir_call_begin(&c, d->conn, APIR_CMD_STREAM_FREE), h);
        apir_call_simple_end(&c);
        return NULL;
    }
    s->dev = d;
    s->handle = h;
    apir_writer_init(&s->last, APIR_MAX_PAYLOAD);
    be->guid = apir_backend_guid();
    be->iface = apir_backend_iface;
    be->device = &d->gdev;
    be->context = s;
    return be;
}

void apir_backend_set_n_threads(ggml_backend_t backend, int n_threads)
{
    if (!backend || backend->iface.graph_compute != apir_be_graph_compute || n_threads <= 0)
        return;
    struct apir_stream *s = backend->context;
    if (s->n_threads == n_threads)
        return;
    struct apir_call c;
    struct apir_writer *w = apir_call_begin(&c, s->dev->conn, APIR_CMD_STREAM_SET_THREADS);
    apir_write_u64(w, s->handle);
    apir_write_u32(w, (uint32_t)n_threads);
    if (apir_call_simple_end(&c) == APIR_OK)
        s->n_threads = n_threads;
}
