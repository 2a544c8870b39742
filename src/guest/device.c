/* ggml device and buffer-type interfaces for one host device. Static facts come from
 * DEVICE_INFO once; per-op questions go to the host and are cached by their encoding
 * (opquery.c). */
#include "guest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct apir_device *apir_dev(ggml_backend_dev_t dev)
{
    return dev->context;
}

static const char *apir_dev_get_name(ggml_backend_dev_t dev)
{
    return apir_dev(dev)->name;
}

static const char *apir_dev_get_description(ggml_backend_dev_t dev)
{
    return apir_dev(dev)->desc;
}

static void apir_dev_get_memory(ggml_backend_dev_t dev, size_t *free_b, size_t *total_b)
{
    struct apir_device *d = apir_dev(dev);
    struct apir_call c;
    struct apir_req_device_memory req = {.dev = d->dev_h};
    apir_req_device_memory_put(apir_call_begin(&c, d->conn, APIR_CMD_DEVICE_MEMORY), &req);
    struct apir_rep_device_memory_in rep;
    APIR_CALL_END_REPLY(&c, device_memory, &rep); /* no answer: no memory (zeroed) */
    *free_b = (size_t)rep.mem_free;
    *total_b = (size_t)rep.mem_total;
    apir_call_done(&c);
}

/* A remote device is an accelerator from the guest's point of view, whatever it is on the
 * host: llama.cpp only offloads layers to GPU-type devices, and the guest's own CPU backend
 * stays the CPU device. */
static enum ggml_backend_dev_type apir_dev_get_type(ggml_backend_dev_t dev)
{
    return apir_dev(dev)->type == APIR_DEV_TYPE_IGPU ? GGML_BACKEND_DEVICE_TYPE_IGPU
                                                     : GGML_BACKEND_DEVICE_TYPE_GPU;
}

static void apir_dev_get_props(ggml_backend_dev_t dev, struct ggml_backend_dev_props *props)
{
    memset(props, 0, sizeof *props);
    props->name = apir_dev_get_name(dev);
    props->description = apir_dev_get_description(dev);
    props->type = apir_dev_get_type(dev);
    apir_dev_get_memory(dev, &props->memory_free, &props->memory_total);
    /* Recomputes are posted and events are ordered by the connection (backend.c). No
     * buffer_from_host_ptr: guest memory is not the host's (shared regions are ours to make).
     * mmap_support: weights load from a file mapping like from any memory (set_tensor copies
     * them), and llama.cpp's default load mode turns mmap off for the whole model, the layers
     * left on the guest's CPU included, when one device says otherwise. */
    props->caps.async = true;
    props->caps.events = true;
    props->caps.mmap_support = true;
}

/* An event has nothing to hold: the connection's order is the only clock (backend.c). */
static ggml_backend_event_t apir_dev_event_new(ggml_backend_dev_t dev)
{
    ggml_backend_event_t ev = calloc(1, sizeof *ev);
    if (ev)
        ev->device = dev;
    return ev;
}

static void apir_dev_event_free(ggml_backend_dev_t dev, ggml_backend_event_t event)
{
    (void)dev;
    free(event);
}

static void apir_dev_event_synchronize(ggml_backend_dev_t dev, ggml_backend_event_t event)
{
    (void)event;
    apir_conn_sync(apir_dev(dev)->conn, false);
}

static ggml_backend_t apir_dev_init_backend(ggml_backend_dev_t dev, const char *params)
{
    (void)params;
    return apir_backend_new(apir_dev(dev));
}

static ggml_backend_buffer_type_t apir_dev_get_buffer_type(ggml_backend_dev_t dev)
{
    return &apir_dev(dev)->buft;
}

static bool apir_dev_supports_op(ggml_backend_dev_t dev, const struct ggml_tensor *op)
{
    struct apir_device *d = apir_dev(dev);
    bool v;
    if (apir_extrabuf_supports_op(d, op, &v))
        return v;
    return apir_dev_op_query(d, &d->supports, APIR_CMD_DEVICE_SUPPORTS_OP, d->dev_h, op, 0) != 0;
}

static bool apir_dev_offload_op(ggml_backend_dev_t dev, const struct ggml_tensor *op)
{
    struct apir_device *d = apir_dev(dev);
    return apir_dev_op_query(d, &d->offload, APIR_CMD_DEVICE_OFFLOAD_OP, d->dev_h, op, 0) != 0;
}

static bool apir_dev_supports_buft(ggml_backend_dev_t dev, ggml_backend_buffer_type_t buft)
{
    return buft == &apir_dev(dev)->buft || apir_extrabuf_find(apir_dev(dev), buft);
}

static const struct ggml_backend_device_i apir_device_iface = {
    .get_name = apir_dev_get_name,
    .get_description = apir_dev_get_description,
    .get_memory = apir_dev_get_memory,
    .get_type = apir_dev_get_type,
    .get_props = apir_dev_get_props,
    .init_backend = apir_dev_init_backend,
    .get_buffer_type = apir_dev_get_buffer_type,
    .supports_op = apir_dev_supports_op,
    .supports_buft = apir_dev_supports_buft,
    .offload_op = apir_dev_offload_op,
    .event_new = apir_dev_event_new,
    .event_free = apir_dev_event_free,
    .event_synchronize = apir_dev_event_synchronize,
};

static const char *apir_buft_get_name(ggml_backend_buffer_type_t buft)
{
    return ((struct apir_device *)buft->context)->buft_name;
}

static ggml_backend_buffer_t apir_buft_alloc_buffer(ggml_backend_buffer_type_t buft, size_t size)
{
    return apir_buffer_alloc(buft->context, size);
}

static size_t apir_buft_get_alignment(ggml_backend_buffer_type_t buft)
{
    return (size_t)((struct apir_device *)buft->context)->alignment;
}

static size_t apir_buft_get_max_size(ggml_backend_buffer_type_t buft)
{
    return (size_t)((struct apir_device *)buft->context)->max_size;
}

static size_t apir_buft_get_alloc_size(ggml_backend_buffer_type_t buft, const struct ggml_tensor *t)
{
    struct apir_device *d = buft->context;
    size_t nbytes = ggml_nbytes(t);
    if (!(d->buft_flags & APIR_BUFT_HAS_ALLOC_SIZE))
        return nbytes;
    uint64_t v =
        apir_dev_op_query(d, &d->alloc_size, APIR_CMD_BUFT_ALLOC_SIZE, d->buft_h, t, nbytes);
    return v < nbytes ? nbytes : (size_t)v;
}

static const struct ggml_backend_buffer_type_i apir_buft_iface = {
    .get_name = apir_buft_get_name,
    .alloc_buffer = apir_buft_alloc_buffer,
    .get_alignment = apir_buft_get_alignment,
    .get_max_size = apir_buft_get_max_size,
    .get_alloc_size = apir_buft_get_alloc_size,
    .is_host = NULL, /* host memory is never the guest's memory */
};

void apir_device_setup(struct apir_device *d, ggml_backend_reg_t reg)
{
    d->gdev.iface = apir_device_iface;
    d->gdev.reg = reg;
    d->gdev.context = d;
    d->buft.iface = apir_buft_iface;
    d->buft.device = &d->gdev;
    d->buft.context = d;
    pthread_mutex_init(&d->supports.lock, NULL);
    pthread_mutex_init(&d->offload.lock, NULL);
    pthread_mutex_init(&d->alloc_size.lock, NULL);
}
