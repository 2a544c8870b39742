/* Extra buffer types: what ggml-cpu offers beside its plain buffer type, served to the guest.
 *
 * Natively llama.cpp puts a quantized model's matmul weights in ggml-cpu's CPU_REPACK buffers
 * (ggml_backend_dev_get_extra_bufts): set_tensor rewrites each weight into an interleaved layout
 * whose kernels are much faster (Q4_0 on AVX2: ~1.3x for one token, ~2x for a prompt). A host
 * that only serves the plain buffer type runs every such model on the slower kernels. So the
 * host offers the device's extra buffer types and the guest presents them as its device's.
 *
 * Default deny. Only CPU_REPACK is served, because its contract was read: a buffer of it holds
 * whole tensors whose tensor->extra (set by init_tensor from type and shape) names the layout;
 * set_tensor asserts a whole, contiguous tensor and repacks it; there is no get_tensor or
 * cpy_tensor; its kernels assert a 2-D weight, an F32 src1 and 3-D shapes. The host asserts
 * none of that on guest input: data commands take whole contiguous tensors the type takes,
 * nothing reads them back, and a graph may use such a tensor only as the weight (src 0) of a
 * MUL_MAT the backend's supports_op accepts with it there. */
#include "internal.h"

#include <ggml-backend-impl.h>
#include <string.h>

typedef ggml_backend_buffer_type_t *(*apir_get_extra_bufts_fn)(ggml_backend_dev_t dev);

static bool apir_extrabuf_known(ggml_backend_buffer_type_t buft)
{
    return !strcmp(ggml_backend_buft_name(buft), "CPU_REPACK");
}

uint32_t apir_extrabuf_discover(ggml_backend_dev_t dev, ggml_backend_buffer_type_t *out,
                                uint32_t max)
{
    if (ggml_backend_dev_type(dev) != GGML_BACKEND_DEVICE_TYPE_CPU)
        return 0;
    ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(dev);
    apir_get_extra_bufts_fn fn = reg ? (apir_get_extra_bufts_fn)ggml_backend_reg_get_proc_address(
                                           reg, "ggml_backend_dev_get_extra_bufts")
                                     : NULL;
    ggml_backend_buffer_type_t *list = fn ? fn(dev) : NULL;
    uint32_t n = 0;
    for (; list && *list && n < max; list++)
        if (apir_extrabuf_known(*list))
            out[n++] = *list;
    return n;
}

bool apir_extrabuf_is_extra(const struct apir_host *h, ggml_backend_buffer_type_t buft)
{
    for (size_t d = 0; d < h->n_devices; d++)
        for (uint32_t i = 0; i < h->n_extra_bufts[d]; i++)
            if (h->extra_bufts[d][i] == buft)
                return true;
    return false;
}

bool apir_extrabuf_tensor_in(const struct apir_session *s, const struct ggml_tensor *t)
{
    return t && t->buffer &&
           apir_extrabuf_is_extra(s->host, ggml_backend_buffer_get_type(t->buffer));
}

bool apir_extrabuf_tensor_ok(struct ggml_tensor *t)
{
    if (t->view_src || !ggml_is_contiguous(t) || t->op != GGML_OP_NONE)
        return false;
    t->extra = NULL;
    return ggml_backend_buffer_init_tensor(t->buffer, t) == GGML_STATUS_SUCCESS && t->extra;
}

/* What the kernels assert beyond supports_op, checked here (src0 is the weight). */
static bool apir_extrabuf_matmul_shape_ok(const struct ggml_tensor *op)
{
    const struct ggml_tensor *w = op->src[0], *x = op->src[1];
    if (op->op != GGML_OP_MUL_MAT || !w || !x || op->src[2])
        return false;
    if (w->ne[2] != 1 || w->ne[3] != 1 || !ggml_is_contiguous(w) || w->view_src)
        return false;
    return x->type == GGML_TYPE_F32 && x->nb[0] == sizeof(float) && x->ne[3] == 1 &&
           op->type == GGML_TYPE_F32 && op->nb[0] == sizeof(float);
}

/* The served device a buffer type belongs to: from the host's own table, since ggml leaves
 * some buffer types' device unset (the CPU's plain one). */
static ggml_backend_dev_t apir_extrabuf_device(const struct apir_host *h,
                                               ggml_backend_buffer_type_t buft, bool *extra)
{
    for (size_t d = 0; d < h->n_devices; d++) {
        *extra = false;
        if (ggml_backend_dev_buffer_type(h->devices[d]) == buft)
            return h->devices[d];
        *extra = true;
        for (uint32_t i = 0; i < h->n_extra_bufts[d]; i++)
            if (h->extra_bufts[d][i] == buft)
                return h->devices[d];
    }
    return NULL;
}

bool apir_extrabuf_supports(struct apir_session *s, ggml_backend_buffer_type_t buft,
                            struct ggml_tensor *op)
{
    bool extra;
    ggml_backend_dev_t dev = apir_extrabuf_device(s->host, buft, &extra);
    if (!dev)
        return false;
    if (!extra)
        return ggml_backend_dev_supports_op(dev, op);
    if (!apir_extrabuf_matmul_shape_ok(op) || op->src[0]->buffer)
        return false;
    /* The question llama.cpp asks when it places a weight: ggml's zero-size stand-in buffer of
     * that type (no memory behind it) tells the backend where the weight would live. */
    ggml_backend_buffer_t probe = ggml_backend_buft_alloc_buffer(buft, 0);
    if (!probe)
        return false;
    op->src[0]->buffer = probe;
    bool ok = ggml_backend_dev_supports_op(dev, op);
    op->src[0]->buffer = NULL;
    ggml_backend_buffer_free(probe);
    return ok;
}

/* Every tensor in an extra buffer is a whole weight; sets its tensor extra. */
static enum apir_status apir_extrabuf_check_tensors(struct apir_session *s,
                                                    const struct apir_wire_graph *g,
                                                    struct apir_built_graph *b, bool *any)
{
    for (uint32_t i = 0; i < g->n_tensors; i++) {
        struct ggml_tensor *t = b->tensors[i];
        if (!apir_extrabuf_tensor_in(s, t))
            continue;
        *any = true;
        if (g->tensors[i].view_src >= 0 || !apir_extrabuf_tensor_ok(t))
            return APIR_E_INVALID;
    }
    return APIR_OK;
}

enum apir_status apir_extrabuf_check_graph(struct apir_session *s, ggml_backend_t be,
                                           const struct apir_wire_graph *g,
                                           struct apir_built_graph *b)
{
    if (s->n_extra_buffers == 0)
        return APIR_OK; /* the common case costs one comparison */
    bool any = false;
    enum apir_status st = apir_extrabuf_check_tensors(s, g, b, &any);
    if (st != APIR_OK || !any)
        return st;
    /* A view of such a tensor lies in the same buffer, so it was refused above. */
    ggml_backend_dev_t dev = ggml_backend_get_device(be);
    for (uint32_t n = 0; n < g->n_nodes; n++) {
        struct ggml_tensor *t = b->tensors[g->nodes[n]];
        bool uses = false;
        for (unsigned k = 0; k < GGML_MAX_SRC; k++)
            if (apir_extrabuf_tensor_in(s, t->src[k])) {
                if (k != 0)
                    return APIR_E_INVALID;
                uses = true;
            }
        if (uses && (!apir_extrabuf_matmul_shape_ok(t) || !ggml_backend_dev_supports_op(dev, t)))
            return APIR_E_INVALID;
    }
    return APIR_OK;
}
