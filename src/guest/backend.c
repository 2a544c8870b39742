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

static void apir_backend_free_remote(struct apir_device *d, uint64_t stream)
{
    struct apir_call c;
    struct apir_req_stream_free req = {.stream = stream};
    apir_req_stream_free_put(apir_call_begin(&c, d->conn, APIR_CMD_STREAM_FREE), &req);
    apir_call_simple_end(&c);
}

static void apir_be_free(ggml_backend_t backend)
{
    struct apir_stream *s = backend->context;
    apir_backend_free_remote(s->dev, s->handle);
    apir_tensor_map_free(&s->map);
    apir_writer_free(&s->last);
    free(s);
    free(backend);
}

/* Ends a GRAPH_COMPUTE call and reads its reply. */
static int apir_be_compute_reply(struct apir_call *c, enum ggml_status *gs)
{
    *gs = GGML_STATUS_FAILED;
    struct apir_rep_graph_compute_in rep;
    if (APIR_CALL_END_REPLY(c, graph_compute, &rep))
        *gs = (enum ggml_status)(int32_t)rep.ggml_status;
    apir_call_done(c);
    return c->status;
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

/* The call begun as GRAPH_COMPUTE goes as GRAPH_RECOMPUTE instead, its payload rewritten. */
static enum ggml_status apir_be_recompute(struct apir_call *c, const struct apir_stream *s,
                                          size_t start)
{
    struct apir_req_graph_recompute req = {.stream = s->handle};
    c->cmd = APIR_CMD_GRAPH_RECOMPUTE;
    c->w->len = start;
    apir_req_graph_recompute_put(c->w, &req);
    return apir_be_post(c);
}

/* GRAPH_COMPUTE's graph, encoded straight into the message; *at: where it begins. */
struct apir_be_graph {
    struct apir_tensor_map *map;
    const struct ggml_cgraph *g;
    size_t *at;
    bool *ok;
};

static void apir_be_write_graph(struct apir_writer *w, const void *ctx)
{
    const struct apir_be_graph *bg = ctx;
    *bg->at = w->len;
    *bg->ok = apir_encode_graph(w, bg->map, bg->g);
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
    size_t start = w->len;
    if (apir_be_same_uid(s, conn, cgraph))
        return apir_be_recompute(&c, s, start);
    size_t at = start;
    bool encoded = false;
    struct apir_be_graph bg = {&s->map, cgraph, &at, &encoded};
    struct apir_req_graph_compute req = {.stream = s->handle,
                                         .graph = {.write = apir_be_write_graph, .ctx = &bg}};
    if (!apir_req_graph_compute_put(w, &req) || !encoded) {
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
    if (cached)
        return apir_be_recompute(&c, s, start);
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
    struct apir_req_stream_new req = {.dev = d->dev_h};
    apir_req_stream_new_put(apir_call_begin(&c, d->conn, APIR_CMD_STREAM_NEW), &req);
    struct apir_rep_stream_new_in rep;
    bool ok = APIR_CALL_END_REPLY(&c, stream_new, &rep) && rep.stream;
    apir_call_done(&c);
    if (!ok)
        return NULL;
    uint64_t h = rep.stream;
    struct apir_stream *s = calloc(1, sizeof *s);
    ggml_backend_t be = calloc(1, sizeof *be);
    if (!s || !be) {
        free(s);
        free(be);
        apir_backend_free_remote(d, h);
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
    struct apir_req_stream_set_threads req = {.stream = s->handle,
                                              .n_threads = (uint32_t)n_threads};
    apir_req_stream_set_threads_put(apir_call_begin(&c, s->dev->conn, APIR_CMD_STREAM_SET_THREADS),
                                    &req);
    if (apir_call_simple_end(&c) == APIR_OK)
        s->n_threads = n_threads;
}
