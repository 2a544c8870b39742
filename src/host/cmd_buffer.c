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

enum apir_status apir_cmd_buffer_alloc(struct apir_session *s, struct apir_reader *r,
                                       struct apir_writer *w)
{
    uint64_t h = apir_read_u64(r);
    uint64_t size = apir_read_u64(r);
    if (!apir_reader_done(r))
        return APIR_E_DECODE;
    ggml_backend_buffer_type_t buft = apir_handles_get(&s->handles, h, APIR_OBJ_BUFT);
    if (!buft)
        return APIR_E_HANDLE;
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
    apir_write_u64(w, handle);
    apir_write_u64(w, hb->size);
    apir_write_u32(w, apir_buffer_flags(hb->buf));
    return APIR_OK;
}

enum apir_status apir_cmd_buffer_free(struct apir_session *s, struct apir_reader *r,
                                      struct apir_writer *w)
{
    (void)w;
    uint64_t h = apir_read_u64(r);
    if (!apir_reader_done(r))
        return APIR_E_DECODE;
    struct apir_host_buffer *hb = apir_handles_remove(&s->handles, h, APIR_OBJ_BUFFER);
    if (!hb)
        return APIR_E_HANDLE;
    apir_host_buffer_destroy(s, hb);
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

enum apir_status apir_cmd_buffer_clear(struct apir_session *s, struct apir_reader *r,
                                       struct apir_writer *w)
{
    (void)w;
    uint64_t h = apir_read_u64(r);
    uint32_t value = apir_read_u32(r);
    if (!apir_reader_done(r))
        return APIR_E_DECODE;
    struct apir_host_buffer *hb = apir_handles_get(&s->handles, h, APIR_OBJ_BUFFER);
    if (!hb)
        return APIR_E_HANDLE;
    if (value > 255)
        return APIR_E_INVALID;
    ggml_backend_buffer_clear(hb->buf, (uint8_t)value);
    return APIR_OK;
}

enum apir_status apir_cmd_buffer_reset(struct apir_session *s, struct apir_reader *r,
                                       struct apir_writer *w)
{
    (void)w;
    uint64_t h = apir_read_u64(r);
    if (!apir_reader_done(r))
        return APIR_E_DECODE;
    struct apir_host_buffer *hb = apir_handles_get(&s->handles, h, APIR_OBJ_BUFFER);
    if (!hb)
        return APIR_E_HANDLE;
    s->buffer_epoch++; /* a reset may drop per-tensor state a cached graph relies on */
    ggml_backend_buffer_reset(hb->buf);
    return APIR_OK;
}

/* Decodes a one-tensor table that must name data in a buffer of this session. */
enum apir_status apir_tensor_arg(struct apir_session *s, struct apir_reader *r,
                                 struct apir_wire_graph *g, struct apir_built_graph *b, uint32_t n)
{
    enum apir_status st = apir_graph_decode_valid(s, r, g, APIR_GRAPH_DATA);
    if (st != APIR_OK)
        return st;
    if (g->n_tensors != n || g->n_nodes != n) {
        apir_wire_graph_free(g);
        return APIR_E_INVALID;
    }
    st = apir_graph_build(s, &s->arena, g, b);
    if (st != APIR_OK)
        apir_wire_graph_free(g);
    return st;
}

void apir_tensor_arg_free(struct apir_wire_graph *g, struct apir_built_graph *b)
{
    apir_graph_release(b);
    apir_wire_graph_free(g);
}

/* offset + size inside the tensor's bytes, which validation proved are inside the buffer. */
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

enum apir_status apir_cmd_tensor_init(struct apir_session *s, struct apir_reader *r,
                                      struct apir_writer *w)
{
    (void)w;
    struct apir_wire_graph g;
    struct apir_built_graph b;
    enum apir_status st = apir_tensor_arg(s, r, &g, &b, 1);
    if (st != APIR_OK)
        return st;
    if (!apir_reader_done(r))
        st = APIR_E_DECODE;
    else if (apir_extrabuf_tensor_in(s, b.tensors[0]))
        st = apir_extrabuf_tensor_ok(b.tensors[0]) ? APIR_OK : APIR_E_INVALID;
    else if (ggml_backend_buffer_init_tensor(b.tensors[0]->buffer, b.tensors[0]) !=
             GGML_STATUS_SUCCESS)
        st = APIR_E_BACKEND;
    apir_tensor_arg_free(&g, &b);
    return st;
}

enum apir_status apir_cmd_tensor_set(struct apir_session *s, struct apir_reader *r,
                                     struct apir_writer *w)
{
    (void)w;
    struct apir_wire_graph g;
    struct apir_built_graph b;
    enum apir_status st = apir_tensor_arg(s, r, &g, &b, 1);
    if (st != APIR_OK)
        return st;
    uint64_t offset = apir_read_u64(r);
    size_t size = 0;
    const void *data = apir_read_blob(r, APIR_MAX_DATA_CHUNK, &size);
    if (!apir_reader_done(r))
        st = APIR_E_DECODE;
    else if (!apir_data_range_ok(s, b.tensors[0], offset, size, true))
        st = APIR_E_INVALID;
    else if (size)
        ggml_backend_tensor_set(b.tensors[0], data, (size_t)offset, size);
    apir_tensor_arg_free(&g, &b);
    return st;
}

/* Reads tensor bytes into a reply. The reply window is guest memory on some transports (a
 * virtio-gpu reply blob, the ring's reply area) and may be the very memory a region buffer
 * lives in, reached at another address: the copy would then read what it writes. A region
 * buffer's bytes therefore go through host memory first. Honest guests read region buffers
 * themselves and never ask (guest/buffer.c), so this costs them nothing. */
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

enum apir_status apir_cmd_tensor_get(struct apir_session *s, struct apir_reader *r,
                                     struct apir_writer *w)
{
    struct apir_wire_graph g;
    struct apir_built_graph b;
    enum apir_status st = apir_tensor_arg(s, r, &g, &b, 1);
    if (st != APIR_OK)
        return st;
    uint64_t offset = apir_read_u64(r);
    uint64_t size = apir_read_u64(r);
    if (!apir_reader_done(r))
        st = APIR_E_DECODE;
    else if (apir_extrabuf_tensor_in(s, b.tensors[0]))
        st = APIR_E_UNSUPPORTED; /* held in the backend's own layout: nothing to read back */
    else if (size > APIR_MAX_DATA_CHUNK || !apir_range_ok(b.tensors[0], offset, size))
        st = APIR_E_INVALID;
    if (st == APIR_OK) {
        apir_write_u64(w, size);
        void *dst = apir_write_reserve(w, (size_t)size);
        if (!dst)
            st = APIR_E_NOMEM;
        else if (size)
            st = apir_tensor_get_into(s, &g.tensors[0], b.tensors[0], dst, offset, size);
    }
    apir_tensor_arg_free(&g, &b);
    return st;
}

enum apir_status apir_cmd_tensor_memset(struct apir_session *s, struct apir_reader *r,
                                        struct apir_writer *w)
{
    (void)w;
    struct apir_wire_graph g;
    struct apir_built_graph b;
    enum apir_status st = apir_tensor_arg(s, r, &g, &b, 1);
    if (st != APIR_OK)
        return st;
    uint64_t offset = apir_read_u64(r);
    uint64_t size = apir_read_u64(r);
    uint32_t value = apir_read_u32(r);
    if (!apir_reader_done(r))
        st = APIR_E_DECODE;
    else if (apir_extrabuf_tensor_in(s, b.tensors[0]))
        st = APIR_E_UNSUPPORTED;
    else if (value > 255 || !apir_range_ok(b.tensors[0], offset, size))
        st = APIR_E_INVALID;
    else if (size)
        ggml_backend_tensor_memset(b.tensors[0], (uint8_t)value, (size_t)offset, (size_t)size);
    apir_tensor_arg_free(&g, &b);
    return st;
}

enum apir_status apir_cmd_tensor_copy(struct apir_session *s, struct apir_reader *r,
                                      struct apir_writer *w)
{
    struct apir_wire_graph g;
    struct apir_built_graph b;
    enum apir_status st = apir_tensor_arg(s, r, &g, &b, 2);
    if (st != APIR_OK)
        return st;
    struct ggml_tensor *src = b.tensors[0], *dst = b.tensors[1];
    size_t n = ggml_nbytes(src);
    if (!apir_reader_done(r))
        st = APIR_E_DECODE;
    else if (apir_extrabuf_tensor_in(s, src) || apir_extrabuf_tensor_in(s, dst))
        st = APIR_E_UNSUPPORTED; /* no get_tensor or cpy_tensor there */
    else if (ggml_nbytes(src) != ggml_nbytes(dst) || !ggml_are_same_shape(src, dst) ||
             !ggml_are_same_stride(src, dst) || src->type != dst->type)
        st = APIR_E_INVALID; /* ggml_backend_tensor_copy asserts same layout: check first */
    else if (src->data == dst->data && src->buffer == dst->buffer)
        ; /* a tensor onto itself: nothing to do (ggml's own copy returns early too) */
    else if (apir_bytes_overlap(src->buffer, src->data, n, dst->buffer, dst->data, n))
        st = APIR_E_INVALID; /* the backends copy with memcpy: ranges must not overlap */
    else
        ggml_backend_tensor_copy(src, dst);
    if (st == APIR_OK)
        apir_write_u32(w, 1);
    apir_tensor_arg_free(&g, &b);
    return st;
}
