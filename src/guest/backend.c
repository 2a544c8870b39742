/* ggml backend (stream) interface: graphs go to the host as a tensor table + node list. */
#include "guest.h"

#include <stdlib.h>
#include <string.h>

struct apir_stream {
    struct apir_device *dev;
    uint64_t handle;
    int n_threads; /* last value sent: llama.cpp sets it before every decode */
    struct apir_tensor_map map;
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
    free(s);
    free(backend);
}

static enum ggml_status apir_be_graph_compute(ggml_backend_t backend, struct ggml_cgraph *cgraph)
{
    struct apir_stream *s = backend->context;
    struct apir_call c;
    struct apir_writer *w = apir_call_begin(&c, s->dev->conn, APIR_CMD_GRAPH_COMPUTE);
    apir_write_u64(w, s->handle);
    if (!apir_encode_graph(w, &s->map, cgraph)) {
        apir_call_done(&c);
        apir_log("graph of %d nodes could not be encoded", ggml_graph_n_nodes(cgraph));
        return GGML_STATUS_FAILED;
    }
    enum ggml_status gs = GGML_STATUS_FAILED;
    if (apir_call_end(&c) == APIR_OK) {
        int32_t v = apir_read_i32(&c.r);
        if (apir_reader_done(&c.r))
            gs = (enum ggml_status)v;
    }
    apir_call_done(&c);
    return gs;
}

/* v1 computes synchronously on the host before replying: nothing is ever pending here. */
static void apir_be_synchronize(ggml_backend_t backend)
{
    (void)backend;
}

static const struct ggml_backend_i apir_backend_iface = {
    .get_name = apir_be_get_name,
    .free = apir_be_free,
    .synchronize = apir_be_synchronize,
    .graph_compute = apir_be_graph_compute,
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
