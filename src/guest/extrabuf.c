/* A host device's extra buffer types (APIR_FEAT_EXTRA_BUFTS), offered to ggml as the APIR
 * device's own (ggml_backend_dev_get_extra_bufts).
 *
 * Natively llama.cpp stores a quantized model's matmul weights in ggml-cpu's CPU_REPACK
 * buffers, whose kernels are much faster; a remote CPU served only through its plain buffer
 * type runs such a model at ~0.75 of native. llama.cpp lists a GPU-type device's extra buffer
 * types after its default one and picks the first that supports a weight's op, so they would
 * never be chosen. The device therefore answers llama.cpp's placement probe — supports_op on a
 * weight in ggml's zero-size stand-in buffer of the default type — "no" where an extra buffer
 * type takes the weight: the order ggml-cpu's own device gives them (extra types first). Real
 * buffers get the true answer, so every other use of the device is unchanged. */
#include "guest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct apir_extra_buft *apir_xb(ggml_backend_buffer_type_t buft)
{
    return buft->context;
}

static const char *apir_xb_get_name(ggml_backend_buffer_type_t buft)
{
    return apir_xb(buft)->name;
}

static ggml_backend_buffer_t apir_xb_alloc_buffer(ggml_backend_buffer_type_t buft, size_t size)
{
    return apir_buffer_alloc_extra(apir_xb(buft), size);
}

static size_t apir_xb_get_alignment(ggml_backend_buffer_type_t buft)
{
    return (size_t)apir_xb(buft)->alignment;
}

static size_t apir_xb_get_max_size(ggml_backend_buffer_type_t buft)
{
    return (size_t)apir_xb(buft)->max_size;
}

static size_t apir_xb_get_alloc_size(ggml_backend_buffer_type_t buft, const struct ggml_tensor *t)
{
    struct apir_extra_buft *e = apir_xb(buft);
    size_t nbytes = ggml_nbytes(t);
    if (!(e->flags & APIR_BUFT_HAS_ALLOC_SIZE))
        return nbytes;
    uint64_t v = apir_dev_op_query(e->dev, &e->dev->alloc_size, APIR_CMD_BUFT_ALLOC_SIZE, e->handle,
                                   t, nbytes);
    return v < nbytes ? nbytes : (size_t)v;
}

static const struct ggml_backend_buffer_type_i apir_xb_iface = {
    .get_name = apir_xb_get_name,
    .alloc_buffer = apir_xb_alloc_buffer,
    .get_alignment = apir_xb_get_alignment,
    .get_max_size = apir_xb_get_max_size,
    .get_alloc_size = apir_xb_get_alloc_size,
    .is_host = NULL,
};

/* "APIR0_REPACK" for the host's "CPU_REPACK": the device's name, then what follows the
 * host's device prefix. */
static void apir_xb_name(struct apir_extra_buft *e, const char *dev_name)
{
    const char *us = strchr(e->host_name, '_');
    snprintf(e->name, sizeof e->name, "%s_%s", dev_name, us ? us + 1 : e->host_name);
}

static bool apir_xb_read(const struct apir_buft_entry *in, struct apir_device *d,
                         struct apir_extra_buft *e)
{
    memset(e, 0, sizeof *e);
    e->handle = in->buft;
    snprintf(e->host_name, sizeof e->host_name, "%.*s", (int)sizeof e->host_name - 1, in->name);
    e->alignment = in->alignment;
    e->max_size = in->max_size;
    e->flags = in->flags;
    e->dev = d;
    e->buft.iface = apir_xb_iface;
    e->buft.device = &d->gdev;
    e->buft.context = e;
    apir_xb_name(e, d->name);
    return e->handle && e->alignment && (e->alignment & (e->alignment - 1)) == 0;
}

/* APIR_EXTRA_BUFTS=0: the plain buffer type only (a baseline, or a host's layout unwanted). */
static bool apir_xb_wanted(const struct apir_conn *conn)
{
    const char *e = getenv("APIR_EXTRA_BUFTS");
    return (conn->features & APIR_FEAT_EXTRA_BUFTS) && !(e && strcmp(e, "0") == 0);
}

void apir_extrabuf_fetch(struct apir_device *d)
{
    d->n_extra = 0;
    d->extra_list[0] = NULL;
    if (!apir_xb_wanted(d->conn))
        return;
    struct apir_call c;
    struct apir_req_device_extra_bufts req = {.dev = d->dev_h};
    apir_req_device_extra_bufts_put(apir_call_begin(&c, d->conn, APIR_CMD_DEVICE_EXTRA_BUFTS),
                                    &req);
    struct apir_rep_device_extra_bufts_in rep;
    bool ok = APIR_CALL_END_REPLY(&c, device_extra_bufts, &rep);
    apir_call_done(&c);
    uint32_t n = ok ? rep.bufts.n : 0;
    for (uint32_t i = 0; ok && i < n; i++)
        ok = apir_xb_read(&rep.bufts.v[i], d, &d->extra[i]);
    if (!ok) {
        apir_log_emit(APIR_LOG_WARN, "%s: the host's extra buffer types are unreadable: none used",
                      d->name);
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        pthread_mutex_init(&d->extra[i].supports.lock, NULL);
        d->extra_list[i] = &d->extra[i].buft;
        apir_log_emit(APIR_LOG_DEBUG, "%s: extra buffer type %s (host %s)", d->name,
                      d->extra[i].name, d->extra[i].host_name);
    }
    d->extra_list[n] = NULL;
    d->n_extra = n;
}

struct apir_extra_buft *apir_extrabuf_find(struct apir_device *d, ggml_backend_buffer_type_t b)
{
    for (uint32_t i = 0; b && i < d->n_extra; i++)
        if (b == &d->extra[i].buft)
            return &d->extra[i];
    return NULL;
}

static bool apir_xb_query(struct apir_extra_buft *e, const struct ggml_tensor *op)
{
    return apir_dev_op_query(e->dev, &e->supports, APIR_CMD_BUFT_SUPPORTS_OP, e->handle, op, 0) !=
           0;
}

/* ggml_backend_buft_alloc_buffer(buft, 0) hands out a stand-in with no memory and no
 * interface: what llama.cpp places a weight in to ask where it may live. */
static bool apir_xb_is_probe(const struct apir_device *d, ggml_backend_buffer_t buf)
{
    return buf && buf->buft == &d->buft && !apir_buffer_is_apir(buf) &&
           ggml_backend_buffer_get_size(buf) == 0;
}

bool apir_extrabuf_supports_op(struct apir_device *d, const struct ggml_tensor *op, bool *v)
{
    if (d->n_extra == 0)
        return false;
    /* As ggml-cpu: the first sources decide, by the buffer type they live in. */
    for (int i = 0; i < 4; i++) {
        struct apir_extra_buft *e = op->src[i] && op->src[i]->buffer
                                        ? apir_extrabuf_find(d, op->src[i]->buffer->buft)
                                        : NULL;
        if (e) { /* the host takes such a tensor only as a matmul's weight, src 0 */
            *v = i == 0 && apir_xb_query(e, op);
            return true;
        }
    }
    if (op->op != GGML_OP_MUL_MAT || !op->src[0] || !apir_xb_is_probe(d, op->src[0]->buffer))
        return false;
    for (uint32_t i = 0; i < d->n_extra; i++)
        if (apir_xb_query(&d->extra[i], op)) {
            *v = false; /* an extra buffer type takes this weight: place it there */
            return true;
        }
    return false;
}
