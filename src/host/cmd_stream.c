/* Backend streams and graph compute. */
#include "internal.h"

#include <ggml-backend-impl.h>

enum apir_status apir_cmd_stream_new(struct apir_session *s, struct apir_reader *r,
                                     struct apir_writer *w)
{
    uint64_t h = apir_read_u64(r);
    if (!apir_reader_done(r))
        return APIR_E_DECODE;
    ggml_backend_dev_t dev = apir_handles_get(&s->handles, h, APIR_OBJ_DEVICE);
    if (!dev)
        return APIR_E_HANDLE;
    ggml_backend_t be = ggml_backend_dev_init(dev, NULL);
    if (!be)
        return APIR_E_BACKEND;
    uint64_t sh = apir_handles_add(&s->handles, APIR_OBJ_STREAM, be);
    if (!sh) {
        ggml_backend_free(be);
        return APIR_E_QUOTA;
    }
    apir_write_u64(w, sh);
    return APIR_OK;
}

enum apir_status apir_cmd_stream_free(struct apir_session *s, struct apir_reader *r,
                                      struct apir_writer *w)
{
    (void)w;
    uint64_t h = apir_read_u64(r);
    if (!apir_reader_done(r))
        return APIR_E_DECODE;
    ggml_backend_t be = apir_handles_remove(&s->handles, h, APIR_OBJ_STREAM);
    if (!be)
        return APIR_E_HANDLE;
    ggml_backend_free(be);
    return APIR_OK;
}

enum apir_status apir_cmd_stream_set_threads(struct apir_session *s, struct apir_reader *r,
                                             struct apir_writer *w)
{
    (void)w;
    uint64_t h = apir_read_u64(r);
    uint32_t n = apir_read_u32(r);
    if (!apir_reader_done(r))
        return APIR_E_DECODE;
    ggml_backend_t be = apir_handles_get(&s->handles, h, APIR_OBJ_STREAM);
    if (!be)
        return APIR_E_HANDLE;
    if (n == 0 || n > 512)
        return APIR_E_INVALID;
    ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(ggml_backend_get_device(be));
    ggml_backend_set_n_threads_t fn =
        reg ? (ggml_backend_set_n_threads_t)ggml_backend_reg_get_proc_address(
                  reg, "ggml_backend_set_n_threads")
            : NULL;
    if (!fn)
        return APIR_OK; /* a device without a thread count (GPU) ignores it, as in ggml */
    fn(be, (int)n);
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

enum apir_status apir_cmd_graph_compute(struct apir_session *s, struct apir_reader *r,
                                        struct apir_writer *w)
{
    uint64_t h = apir_read_u64(r);
    struct apir_wire_graph g;
    enum apir_status st = apir_graph_decode_valid(s, r, &g, APIR_GRAPH_COMPUTE);
    if (st != APIR_OK)
        return st;
    ggml_backend_t be = apir_handles_get(&s->handles, h, APIR_OBJ_STREAM);
    struct apir_built_graph b = {0};
    if (!apir_reader_done(r))
        st = APIR_E_DECODE;
    else if (!be)
        st = APIR_E_HANDLE;
    else
        st = apir_graph_build(s, &g, &b);
    if (st == APIR_OK && !apir_graph_buffers_usable(be, &b, g.n_tensors))
        st = APIR_E_INVALID;
    if (st == APIR_OK) {
        apir_graph_link_nodes(&b, &g);
        enum ggml_status gs = ggml_backend_graph_compute(be, b.graph);
        apir_write_u32(w, (uint32_t)gs);
    }
    apir_graph_release(&b);
    apir_wire_graph_free(&g);
    return st;
}

enum apir_status apir_cmd_stream_sync(struct apir_session *s, struct apir_reader *r,
                                      struct apir_writer *w)
{
    (void)w;
    uint64_t h = apir_read_u64(r);
    if (!apir_reader_done(r))
        return APIR_E_DECODE;
    ggml_backend_t be = apir_handles_get(&s->handles, h, APIR_OBJ_STREAM);
    if (!be)
        return APIR_E_HANDLE;
    ggml_backend_synchronize(be);
    return APIR_OK;
}
