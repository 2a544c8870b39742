/* Backend streams, graph compute and the per-stream graph cache. */
#include "internal.h"

#include <ggml-backend-impl.h>
#include <stdlib.h>
#include <string.h>

void apir_host_stream_forget(struct apir_host_stream *hs)
{
    if (!hs->cached)
        return;
    apir_graph_release(&hs->built);
    apir_wire_graph_free(&hs->graph);
    apir_index_plan_free(&hs->plan);
    hs->cached = false;
    hs->work_threads = 0; /* the next graph is planned anew */
}

void apir_host_stream_destroy(struct apir_host_stream *hs)
{
    /* Work still queued on an asynchronous backend (a posted compute) uses the cached graph,
     * and ggml-rpc's dispatcher closes its socket under a command in flight when the backend
     * holding it goes (an abort): finish first. */
    ggml_backend_synchronize(hs->be);
    apir_host_stream_forget(hs);
    if (hs->index_buf)
        ggml_backend_buffer_free(hs->index_buf);
    apir_arena_free(&hs->arena);
    ggml_backend_free(hs->be);
    free(hs);
}

enum apir_status apir_cmd_stream_new(struct apir_session *s, struct apir_req_stream_new_in *a,
                                     struct apir_writer *w)
{
    ggml_backend_dev_t dev = a->dev;
    struct apir_host_stream *hs = calloc(1, sizeof *hs);
    if (!hs)
        return APIR_E_NOMEM;
    hs->be = ggml_backend_dev_init(dev, NULL);
    if (!hs->be) {
        free(hs);
        return APIR_E_BACKEND;
    }
    for (size_t i = 0; i < s->host->n_devices; i++)
        if (s->host->devices[i] == dev)
            hs->planner = s->host->planners[i];
    hs->n_threads = GGML_DEFAULT_N_THREADS; /* what ggml-cpu starts with */
    uint64_t sh = apir_handles_add(&s->handles, APIR_OBJ_STREAM, hs);
    if (!sh) {
        apir_host_stream_destroy(hs);
        return APIR_E_QUOTA;
    }
    struct apir_rep_stream_new rep = {.stream = sh};
    apir_rep_stream_new_put(w, &rep);
    return APIR_OK;
}

enum apir_status apir_cmd_stream_free(struct apir_session *s, struct apir_req_stream_free_in *a,
                                      struct apir_writer *w)
{
    (void)w;
    struct apir_host_stream *hs = a->stream;
    s->bytes_used -= hs->work_bytes + hs->index_bytes;
    apir_host_stream_destroy(hs);
    return APIR_OK;
}

enum apir_status apir_cmd_stream_set_threads(struct apir_session *s,
                                             struct apir_req_stream_set_threads_in *a,
                                             struct apir_writer *w)
{
    (void)w;
    struct apir_host_stream *hs = a->stream;
    uint32_t n = a->n_threads;
    if (n == 0)
        return APIR_E_INVALID;
    /* A hint, not a demand: never more threads than the host has cores. */
    if (n > s->host->max_threads)
        n = s->host->max_threads;
    ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(ggml_backend_get_device(hs->be));
    ggml_backend_set_n_threads_t fn =
        reg ? (ggml_backend_set_n_threads_t)ggml_backend_reg_get_proc_address(
                  reg, "ggml_backend_set_n_threads")
            : NULL;
    if (!fn)
        return APIR_OK; /* a device without a thread count (GPU) ignores it, as in ggml */
    fn(hs->be, (int)n);
    hs->n_threads = (int)n; /* a work buffer is planned per thread count */
    return APIR_OK;
}

/* A stream may only touch buffers its device can use: a kernel on one device reading another
 * device's memory is a fault, not an error. */
static bool apir_graph_buffers_usable(ggml_backend_t be, const struct apir_built_graph *b,
                                      uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        struct ggml_tensor *t = b->tensors[i];
        if (t->buffer && !ggml_backend_supports_buft(be, ggml_backend_buffer_get_type(t->buffer)))
            return false;
    }
    return true;
}

/* Runs the cached graph, its work buffer charged first (workbuf.c) and its index tensors
 * copied and checked on the way (indexplan.c). */
static enum apir_status apir_stream_run(struct apir_session *s, struct apir_host_stream *hs,
                                        struct apir_writer *w)
{
    enum ggml_status gs;
    enum apir_status st = apir_workbuf_charge(s, hs);
    if (st != APIR_OK)
        return st;
    uint64_t t0 = apir_now_ns();
    st = apir_index_plan_compute(hs->be, hs->built.graph, &hs->plan, &gs, &s->stats);
    s->stats.compute_ns += apir_now_ns() - t0;
    s->stats.runs++;
    if (st == APIR_OK) {
        struct apir_rep_graph_compute rep = {.ggml_status = (uint32_t)gs};
        apir_rep_graph_compute_put(w, &rep); /* GRAPH_RECOMPUTE's reply is the same */
    }
    return st;
}

/* The new graph replaces the stream's cached one: it is rebuilt in the stream's own arena and
 * kept there, ready for GRAPH_RECOMPUTE. */
enum apir_status apir_cmd_graph_compute(struct apir_session *s, struct apir_req_graph_compute_in *a,
                                        struct apir_writer *w)
{
    struct apir_host_stream *hs = a->stream;
    /* the previous graph is forgotten already (dispatch.c) */
    struct apir_wire_graph g = a->graph;
    memset(&a->graph, 0, sizeof a->graph); /* this handler owns it now */
    struct apir_built_graph b = {0};
    enum apir_status st = apir_graph_build(s, &hs->arena, &g, &b);
    if (st == APIR_OK && !apir_graph_buffers_usable(hs->be, &b, g.n_tensors))
        st = APIR_E_INVALID;
    if (st == APIR_OK) { /* before planning: the work size depends on the weights' layout */
        apir_graph_link_nodes(&b, &g);
        st = apir_extrabuf_check_graph(s, hs->be, &g, &b);
    }
    struct apir_index_plan plan = {0};
    if (st == APIR_OK)
        st = apir_index_plan_build(b.graph, &plan);
    if (st == APIR_OK)
        st = apir_index_plan_bind(s, hs, &plan);
    if (st != APIR_OK) {
        apir_index_plan_free(&plan);
        apir_graph_release(&b);
        apir_wire_graph_free(&g);
        return st;
    }
    hs->graph = g;
    hs->built = b;
    hs->plan = plan;
    hs->epoch = s->buffer_epoch;
    hs->cached = true;
    return apir_stream_run(s, hs, w);
}

/* Runs the stream's cached graph again: everything was validated when it was sent, and the
 * only thing that can invalidate it since is a buffer freed or reset (the epoch). */
enum apir_status apir_cmd_graph_recompute(struct apir_session *s,
                                          struct apir_req_graph_recompute_in *a,
                                          struct apir_writer *w)
{
    struct apir_host_stream *hs = a->stream;
    if (!(s->features & APIR_FEAT_GRAPH_CACHE))
        return APIR_E_UNSUPPORTED;
    if (!hs->cached || hs->epoch != s->buffer_epoch) {
        apir_host_stream_forget(hs);
        return APIR_E_STALE;
    }
    return apir_stream_run(s, hs, w);
}

enum apir_status apir_cmd_stream_sync(struct apir_session *s, struct apir_req_stream_sync_in *a,
                                      struct apir_writer *w)
{
    (void)s, (void)w;
    ggml_backend_synchronize(a->stream->be);
    return APIR_OK;
}
