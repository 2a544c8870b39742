/* Device and buffer-type commands: what the guest needs to present host devices to ggml. */
#include "internal.h"

#include <ggml-backend-impl.h>
#include <string.h>

static uint32_t apir_dev_type_to_wire(enum ggml_backend_dev_type t)
{
    switch (t) {
    case GGML_BACKEND_DEVICE_TYPE_CPU:
        return APIR_DEV_TYPE_CPU;
    case GGML_BACKEND_DEVICE_TYPE_IGPU:
        return APIR_DEV_TYPE_IGPU;
    case GGML_BACKEND_DEVICE_TYPE_ACCEL:
        return APIR_DEV_TYPE_ACCEL;
    default:
        return APIR_DEV_TYPE_GPU;
    }
}

/* Only buffer types with their own get_alloc_size can answer other than ggml_nbytes; for the
 * rest the guest computes it locally and saves a round trip per tensor. */
static uint32_t apir_buft_flags(ggml_backend_buffer_type_t buft)
{
    return buft->iface.get_alloc_size ? APIR_BUFT_HAS_ALLOC_SIZE : 0;
}

enum apir_status apir_cmd_device_info(struct apir_session *s, struct apir_reader *r,
                                      struct apir_writer *w)
{
    uint32_t idx = apir_read_u32(r);
    if (!apir_reader_done(r))
        return APIR_E_DECODE;
    if (idx >= s->host->n_devices)
        return APIR_E_INVALID;
    ggml_backend_dev_t dev = s->host->devices[idx];
    ggml_backend_buffer_type_t buft = ggml_backend_dev_buffer_type(dev);
    struct ggml_backend_dev_props p;
    memset(&p, 0, sizeof p);
    ggml_backend_dev_get_props(dev, &p);
    uint32_t caps = (p.caps.async ? APIR_DEV_CAP_ASYNC : 0) |
                    (p.caps.host_buffer ? APIR_DEV_CAP_HOST_BUFFER : 0) |
                    (p.caps.buffer_from_host_ptr ? APIR_DEV_CAP_FROM_HOST_PTR : 0) |
                    (p.caps.events ? APIR_DEV_CAP_EVENTS : 0);
    apir_write_u64(w, s->dev_handles[idx]);
    apir_write_u64(w, s->buft_handles[idx]);
    apir_write_str(w, ggml_backend_dev_name(dev));
    apir_write_str(w, ggml_backend_dev_description(dev));
    apir_write_u32(w, apir_dev_type_to_wire(ggml_backend_dev_type(dev)));
    apir_write_u64(w, p.memory_free);
    apir_write_u64(w, p.memory_total);
    apir_write_u32(w, caps);
    apir_write_str(w, ggml_backend_buft_name(buft));
    apir_write_u64(w, ggml_backend_buft_get_alignment(buft));
    apir_write_u64(w, ggml_backend_buft_get_max_size(buft));
    apir_write_u32(w, apir_buft_flags(buft));
    return APIR_OK;
}

enum apir_status apir_cmd_device_memory(struct apir_session *s, struct apir_reader *r,
                                        struct apir_writer *w)
{
    uint64_t h = apir_read_u64(r);
    if (!apir_reader_done(r))
        return APIR_E_DECODE;
    ggml_backend_dev_t dev = apir_handles_get(&s->handles, h, APIR_OBJ_DEVICE);
    if (!dev)
        return APIR_E_HANDLE;
    size_t free_b = 0, total_b = 0;
    ggml_backend_dev_memory(dev, &free_b, &total_b);
    apir_write_u64(w, free_b);
    apir_write_u64(w, total_b);
    return APIR_OK;
}

/* Shared by supports_op / offload_op / alloc_size: an object handle, then a graph whose last
 * node is the op in question. */
typedef uint64_t (*apir_op_query_fn)(struct apir_session *s, void *obj, struct ggml_tensor *op);

static enum apir_status apir_op_query(struct apir_session *s, struct apir_reader *r,
                                      struct apir_writer *w, enum apir_obj_type type,
                                      apir_op_query_fn fn, bool as_u64)
{
    uint64_t h = apir_read_u64(r);
    struct apir_wire_graph g;
    enum apir_status st = apir_graph_decode_valid(s, r, &g, APIR_GRAPH_QUERY);
    if (st != APIR_OK)
        return st;
    if (!apir_reader_done(r) || g.n_nodes != 1) {
        apir_wire_graph_free(&g);
        return APIR_E_DECODE;
    }
    void *obj = apir_handles_get(&s->handles, h, type);
    struct apir_built_graph b;
    if (!obj)
        st = APIR_E_HANDLE;
    else
        st = apir_graph_build(s, &s->arena, &g, &b);
    if (st == APIR_OK) {
        uint64_t v = fn(s, obj, b.tensors[g.nodes[0]]);
        if (as_u64)
            apir_write_u64(w, v);
        else
            apir_write_u32(w, (uint32_t)v);
        apir_graph_release(&b);
    }
    apir_wire_graph_free(&g);
    return st;
}

static uint64_t apir_q_supports(struct apir_session *s, void *dev, struct ggml_tensor *op)
{
    (void)s;
    return ggml_backend_dev_supports_op(dev, op);
}

static uint64_t apir_q_offload(struct apir_session *s, void *dev, struct ggml_tensor *op)
{
    (void)s;
    return ggml_backend_dev_offload_op(dev, op);
}

static uint64_t apir_q_alloc_size(struct apir_session *s, void *buft, struct ggml_tensor *t)
{
    (void)s;
    return ggml_backend_buft_get_alloc_size(buft, t);
}

static uint64_t apir_q_buft_supports(struct apir_session *s, void *buft, struct ggml_tensor *op)
{
    return apir_extrabuf_supports(s, buft, op);
}

enum apir_status apir_cmd_device_supports_op(struct apir_session *s, struct apir_reader *r,
                                             struct apir_writer *w)
{
    return apir_op_query(s, r, w, APIR_OBJ_DEVICE, apir_q_supports, false);
}

enum apir_status apir_cmd_device_offload_op(struct apir_session *s, struct apir_reader *r,
                                            struct apir_writer *w)
{
    return apir_op_query(s, r, w, APIR_OBJ_DEVICE, apir_q_offload, false);
}

enum apir_status apir_cmd_buft_alloc_size(struct apir_session *s, struct apir_reader *r,
                                          struct apir_writer *w)
{
    return apir_op_query(s, r, w, APIR_OBJ_BUFT, apir_q_alloc_size, true);
}

enum apir_status apir_cmd_buft_supports_op(struct apir_session *s, struct apir_reader *r,
                                           struct apir_writer *w)
{
    if (!(s->features & APIR_FEAT_EXTRA_BUFTS))
        return APIR_E_UNSUPPORTED;
    return apir_op_query(s, r, w, APIR_OBJ_BUFT, apir_q_buft_supports, false);
}

/* The device's extra buffer types, each a handle made once per session. */
enum apir_status apir_cmd_device_extra_bufts(struct apir_session *s, struct apir_reader *r,
                                             struct apir_writer *w)
{
    uint64_t h = apir_read_u64(r);
    if (!apir_reader_done(r))
        return APIR_E_DECODE;
    if (!(s->features & APIR_FEAT_EXTRA_BUFTS))
        return APIR_E_UNSUPPORTED;
    ggml_backend_dev_t dev = apir_handles_get(&s->handles, h, APIR_OBJ_DEVICE);
    if (!dev)
        return APIR_E_HANDLE;
    size_t d = 0;
    while (d < s->host->n_devices && s->host->devices[d] != dev)
        d++;
    if (d == s->host->n_devices)
        return APIR_E_HANDLE;
    uint32_t n = s->host->n_extra_bufts[d];
    for (uint32_t i = 0; i < n; i++) {
        if (!s->extra_buft_handles[d][i])
            s->extra_buft_handles[d][i] =
                apir_handles_add(&s->handles, APIR_OBJ_BUFT, s->host->extra_bufts[d][i]);
        if (!s->extra_buft_handles[d][i])
            return APIR_E_QUOTA;
    }
    apir_write_u32(w, n);
    for (uint32_t i = 0; i < n; i++) {
        ggml_backend_buffer_type_t buft = s->host->extra_bufts[d][i];
        apir_write_u64(w, s->extra_buft_handles[d][i]);
        apir_write_str(w, ggml_backend_buft_name(buft));
        apir_write_u64(w, ggml_backend_buft_get_alignment(buft));
        apir_write_u64(w, ggml_backend_buft_get_max_size(buft));
        apir_write_u32(w, apir_buft_flags(buft));
    }
    return APIR_OK;
}
