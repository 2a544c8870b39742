/* Buffer and tensor-data commands. Tensor data is addressed as (buffer handle, offset) and
 * every range is checked against the buffer before the backend sees it. */
#include "internal.h"

#include <ggml-backend-impl.h>
#include <stdlib.h>
#include <string.h>

uint32_t apir_buffer_flags(ggml_backend_buffer_t buf)
{
    return buf->iface.init_tensor ? APIR_BUF_HAS_INIT_TENSOR : 0;
}

enum apir_status apir_cmd_buffer_alloc(struct apir_session *s, struct apir_req_buffer_alloc_in *a,
                                       struct apir_writer *w)
{
    ggml_backend_buffer_type_t buft = a->buft;
    uint64_t size = a->size;
    if (size == 0 || size > ggml_backend_buft_get_max_size(buft) || size > SIZE_MAX / 2)
        return APIR_E_INVALID;
    uint64_t quota = s->host->max_session_bytes;
    if (quota && (size > quota || s->bytes_used > quota - size))
        return APIR_E_QUOTA;
    struct apir_host_buffer *hb = calloc(1, sizeof *hb);
    if (!hb)
        return APIR_E_NOMEM;
    hb->buf = ggml_backend_buft_alloc_buffer(buft, (size_t)size);
    if (!hb->buf) {
        free(hb);
        return APIR_E_NOMEM;
    }
    hb->base = ggml_backend_buffer_get_base(hb->buf);
    hb->size = ggml_backend_buffer_get_size(hb->buf);
    uint64_t handle = apir_handles_add(&s->handles, APIR_OBJ_BUFFER, hb);
    if (!handle) {
        ggml_backend_buffer_free(hb->buf);
        free(hb);
        return APIR_E_QUOTA;
    }
    s->bytes_used += hb->size;
    hb->extra = apir_extrabuf_is_extra(s->host, buft);
    s->n_extra_buffers += hb->extra;
    struct apir_rep_buffer_alloc rep = {
        .buffer = handle, .size = hb->size, .buffer_flags = apir_buffer_flags(hb->buf)};
    apir_rep_buffer_alloc_put(w, &rep);
    return APIR_OK;
}

enum apir_status apir_cmd_buffer_free(struct apir_session *s, struct apir_req_buffer_free_in *a,
                                      struct apir_writer *w)
{
    (void)w;
    apir_host_buffer_destroy(s, a->buffer);
    return APIR_OK;
}

void apir_host_buffer_destroy(struct apir_session *s, struct apir_host_buffer *hb)
{
    s->buffer_epoch++; /* graphs cached with pointers into it are stale now */
    s->n_extra_buffers -= hb->extra;
    if (hb->region)
        hb->region->users--; /* the region's bytes stay charged until it is detached */
    else
        s->bytes_used -= hb->size;
    ggml_backend_buffer_free(hb->buf);
    free(hb);
}

enum apir_status apir_cmd_buffer_clear(struct apir_session *s, struct apir_req_buffer_clear_in *a,
                                       struct apir_writer *w)
{
    (void)s, (void)w;
    if (a->value > 255)
        return APIR_E_INVALID;
    ggml_backend_buffer_clear(a->buffer->buf, (uint8_t)a->value);
    return APIR_OK;
}

enum apir_status apir_cmd_buffer_reset(struct apir_session *s, struct apir_req_buffer_reset_in *a,
                                       struct apir_writer *w)
{
    (void)w;
    s->buffer_epoch++; /* a reset may drop per-tensor state a cached graph relies on */
    ggml_backend_buffer_reset(a->buffer->buf);
    return APIR_OK;
}

bool apir_range_ok(const struct ggml_tensor *t, uint64_t offset, uint64_t size)
{
    uint64_t end;
    return !__builtin_add_overflow(offset, size, &end) && end <= ggml_nbytes(t);
}

/* The range a set writes: inside the tensor, and for a tensor of an extra buffer the whole
 * tensor, one its buffer type takes (its set_tensor asserts both and repacks what it gets). */
bool apir_data_range_ok(struct apir_session *s, struct ggml_tensor *t, uint64_t offset,
                        uint64_t size, bool set)
{
    if (!apir_extrabuf_tensor_in(s, t))
        return apir_range_ok(t, offset, size);
    return set && offset == 0 && size == ggml_nbytes(t) && apir_extrabuf_tensor_ok(t);
}

enum apir_status apir_cmd_tensor_init(struct apir_session *s, struct apir_req_tensor_init_in *a,
                                      struct apir_writer *w)
{
    (void)w;
    struct ggml_tensor *t = a->tensor.t[0];
    if (apir_extrabuf_tensor_in(s, t))
        return apir_extrabuf_tensor_ok(t) ? APIR_OK : APIR_E_INVALID;
    if (ggml_backend_buffer_init_tensor(t->buffer, t) != GGML_STATUS_SUCCESS)
        return APIR_E_BACKEND;
    return APIR_OK;
}

enum apir_status apir_cmd_tensor_set(struct apir_session *s, struct apir_req_tensor_set_in *a,
                                     struct apir_writer *w)
{
    (void)w;
    struct ggml_tensor *t = a->tensor.t[0];
    if (!apir_data_range_ok(s, t, a->offset, a->data.len, true))
        return APIR_E_INVALID;
    if (a->data.len)
        ggml_backend_tensor_set(t, a->data.data, (size_t)a->offset, (size_t)a->data.len);
    return APIR_OK;
}

static enum apir_status apir_tensor_get_into(struct apir_session *s,
                                             const struct apir_wire_tensor *wt,
                                             struct ggml_tensor *t, void *dst, uint64_t offset,
                                             uint64_t size)
{
    struct apir_host_buffer *hb = apir_handles_get(&s->handles, wt->buffer, APIR_OBJ_BUFFER);
    if (!hb || !hb->region) {
        ggml_backend_tensor_get(t, dst, (size_t)offset, (size_t)size);
        return APIR_OK;
    }
    void *bounce = malloc((size_t)size);
    if (!bounce)
        return APIR_E_NOMEM;
    ggml_backend_tensor_get(t, bounce, (size_t)offset, (size_t)size);
    memcpy(dst, bounce, (size_t)size);
    free(bounce);
    return APIR_OK;
}

enum apir_status apir_cmd_tensor_get(struct apir_session *s, struct apir_req_tensor_get_in *a,
                                     struct apir_writer *w)
{
    struct ggml_tensor *t = a->tensor.t[0];
    if (apir_extrabuf_tensor_in(s, t))
        return APIR_E_UNSUPPORTED; /* held in the backend's own layout: nothing to read back */
    if (a->size > APIR_MAX_DATA_CHUNK || !apir_range_ok(t, a->offset, a->size))
        return APIR_E_INVALID;
    struct apir_rep_tensor_get rep = {.data = {NULL, a->size}};
    void *dst = apir_rep_tensor_get_put(w, &rep);
    if (w->err)
        return APIR_E_NOMEM;
    if (!a->size)
        return APIR_OK;
    return apir_tensor_get_into(s, &a->tensor.g.tensors[0], t, dst, a->offset, a->size);
}

enum apir_status apir_cmd_tensor_memset(struct apir_session *s, struct apir_req_tensor_memset_in *a,
                                        struct apir_writer *w)
{
    (void)w;
    struct ggml_tensor *t = a->tensor.t[0];
    if (apir_extrabuf_tensor_in(s, t))
        return APIR_E_UNSUPPORTED;
    if (a->value > 255 || !apir_range_ok(t, a->offset, a->size))
        return APIR_E_INVALID;
    if (a->size)
        ggml_backend_tensor_memset(t, (uint8_t)a->value, (size_t)a->offset, (size_t)a->size);
    return APIR_OK;
}

enum apir_status apir_cmd_tensor_copy(struct apir_session *s, struct apir_req_tensor_copy_in *a,
                                      struct apir_writer *w)
{
    struct ggml_tensor *src = a->tensors.t[0], *dst = a->tensors.t[1];
    size_t n = ggml_nbytes(src);
    if (apir_extrabuf_tensor_in(s, src) || apir_extrabuf_tensor_in(s, dst))
        return APIR_E_UNSUPPORTED; /* no get_tensor or cpy_tensor there */
    if (ggml_nbytes(src) != ggml_nbytes(dst) || !ggml_are_same_shape(src, dst) ||
        !ggml_are_same_stride(src, dst) || src->type != dst->type)
        return APIR_E_INVALID; /* ggml_backend_tensor_copy asserts same layout: check first */
    if (src->data == dst->data && src->buffer == dst->buffer)
        ; /* a tensor onto itself: nothing to do (ggml's own copy returns early too) */
    else if (apir_bytes_overlap(src->buffer, src->data, n, dst->buffer, dst->data, n))
        return APIR_E_INVALID; /* the backends copy with memcpy: ranges must not overlap */
    else
        ggml_backend_tensor_copy(src, dst);
    struct apir_rep_tensor_copy rep = {.copied = 1};
    apir_rep_tensor_copy_put(w, &rep);
    return APIR_OK;
}
