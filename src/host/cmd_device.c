/* Device and buffer-type commands: what the guest needs to present host devices to ggml. */
#include "internal.h"

#include <ggml-backend-impl.h>
#include <stdio.h>
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

enum apir_status apir_cmd_device_info(struct apir_session *s, struct apir_req_device_info_in *a,
                                      struct apir_writer *w)
{
    if (a->index >= s->host->n_devices)
        return APIR_E_INVALID;
    ggml_backend_dev_t dev = s->host->devices[a->index];
    ggml_backend_buffer_type_t buft = ggml_backend_dev_buffer_type(dev);
    struct ggml_backend_dev_props p;
    memset(&p, 0, sizeof p);
    ggml_backend_dev_get_props(dev, &p);
    uint32_t caps = (p.caps.async ? APIR_DEV_CAP_ASYNC : 0) |
                    (p.caps.host_buffer ? APIR_DEV_CAP_HOST_BUFFER : 0) |
                    (p.caps.buffer_from_host_ptr ? APIR_DEV_CAP_FROM_HOST_PTR : 0) |
                    (p.caps.events ? APIR_DEV_CAP_EVENTS : 0);
    struct apir_rep_device_info rep = {
        .dev = s->dev_handles[a->index],
        .buft = s->buft_handles[a->index],
        .name = ggml_backend_dev_name(dev),
        .desc = ggml_backend_dev_description(dev),
        .type = apir_dev_type_to_wire(ggml_backend_dev_type(dev)),
        .mem_free = p.memory_free,
        .mem_total = p.memory_total,
        .caps = caps,
        .buft_name = ggml_backend_buft_name(buft),
        .alignment = ggml_backend_buft_get_alignment(buft),
        .max_size = ggml_backend_buft_get_max_size(buft),
        .buft_flags = apir_buft_flags(buft),
    };
    apir_rep_device_info_put(w, &rep);
    return APIR_OK;
}

enum apir_status apir_cmd_device_memory(struct apir_session *s, struct apir_req_device_memory_in *a,
                                        struct apir_writer *w)
{
    (void)s;
    size_t free_b = 0, total_b = 0;
    ggml_backend_dev_memory(a->dev, &free_b, &total_b);
    struct apir_rep_device_memory rep = {.mem_free = free_b, .mem_total = total_b};
    apir_rep_device_memory_put(w, &rep);
    return APIR_OK;
}

enum apir_status apir_cmd_device_supports_op(struct apir_session *s,
                                             struct apir_req_device_supports_op_in *a,
                                             struct apir_writer *w)
{
    (void)s;
    struct apir_rep_device_supports_op rep = {.supported =
                                                  ggml_backend_dev_supports_op(a->dev, a->op.t[0])};
    apir_rep_device_supports_op_put(w, &rep);
    return APIR_OK;
}

enum apir_status apir_cmd_device_offload_op(struct apir_session *s,
                                            struct apir_req_device_offload_op_in *a,
                                            struct apir_writer *w)
{
    (void)s;
    struct apir_rep_device_offload_op rep = {.offload =
                                                 ggml_backend_dev_offload_op(a->dev, a->op.t[0])};
    apir_rep_device_offload_op_put(w, &rep);
    return APIR_OK;
}

enum apir_status apir_cmd_buft_alloc_size(struct apir_session *s,
                                          struct apir_req_buft_alloc_size_in *a,
                                          struct apir_writer *w)
{
    (void)s;
    struct apir_rep_buft_alloc_size rep = {
        .size = ggml_backend_buft_get_alloc_size(a->buft, a->tensor.t[0])};
    apir_rep_buft_alloc_size_put(w, &rep);
    return APIR_OK;
}

enum apir_status apir_cmd_buft_supports_op(struct apir_session *s,
                                           struct apir_req_buft_supports_op_in *a,
                                           struct apir_writer *w)
{
    if (!(s->features & APIR_FEAT_EXTRA_BUFTS))
        return APIR_E_UNSUPPORTED;
    struct apir_rep_buft_supports_op rep = {.supported =
                                                apir_extrabuf_supports(s, a->buft, a->op.t[0])};
    apir_rep_buft_supports_op_put(w, &rep);
    return APIR_OK;
}

/* The device's extra buffer types, each a handle made once per session. */
enum apir_status apir_cmd_device_extra_bufts(struct apir_session *s,
                                             struct apir_req_device_extra_bufts_in *a,
                                             struct apir_writer *w)
{
    if (!(s->features & APIR_FEAT_EXTRA_BUFTS))
        return APIR_E_UNSUPPORTED;
    size_t d = 0;
    while (d < s->host->n_devices && s->host->devices[d] != a->dev)
        d++;
    if (d == s->host->n_devices)
        return APIR_E_HANDLE;
    struct apir_rep_device_extra_bufts rep;
    struct apir_buft_list list = {.n = s->host->n_extra_bufts[d]};
    for (uint32_t i = 0; i < list.n; i++) {
        ggml_backend_buffer_type_t buft = s->host->extra_bufts[d][i];
        if (!s->extra_buft_handles[d][i])
            s->extra_buft_handles[d][i] = apir_handles_add(&s->handles, APIR_OBJ_BUFT, buft);
        if (!s->extra_buft_handles[d][i])
            return APIR_E_QUOTA;
        struct apir_buft_entry *e = &list.v[i];
        e->buft = s->extra_buft_handles[d][i];
        snprintf(e->name, sizeof e->name, "%s", ggml_backend_buft_name(buft));
        e->alignment = ggml_backend_buft_get_alignment(buft);
        e->max_size = ggml_backend_buft_get_max_size(buft);
        e->flags = apir_buft_flags(buft);
    }
    rep.bufts = &list;
    apir_rep_device_extra_bufts_put(w, &rep);
    return APIR_OK;
}
