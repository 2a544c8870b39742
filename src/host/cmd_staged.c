/* Tensor data through a staging region (DESIGN §2.8): for buffers the host device cannot place
 * in shared memory (GPU memory), the bytes travel through a region both sides map instead of
 * inline in the command stream. The region holds data only: the host copies between it and the
 * tensor and never interprets it, so a guest rewriting it meanwhile only changes its own data. */
#include "internal.h"

/* The tensor, its byte range and the region's byte range, all checked. */
static enum apir_status apir_staged_args(struct apir_session *s, struct apir_reader *r,
                                         struct apir_wire_graph *g, struct apir_built_graph *b,
                                         uint64_t *offset, uint8_t **staged, uint64_t *size)
{
    enum apir_status st = apir_tensor_arg(s, r, g, b, 1);
    if (st != APIR_OK)
        return st;
    *offset = apir_read_u64(r);
    uint32_t id = apir_read_u32(r);
    uint64_t roff = apir_read_u64(r);
    *size = apir_read_u64(r);
    struct apir_region *reg = apir_reader_done(r) ? apir_region_find(s, id) : NULL;
    uint64_t end;
    if (!apir_reader_done(r))
        st = APIR_E_DECODE;
    else if (!reg)
        st = APIR_E_HANDLE;
    else if (__builtin_add_overflow(roff, *size, &end) || end > reg->size ||
             !apir_range_ok(b->tensors[0], *offset, *size))
        st = APIR_E_INVALID;
    else if (apir_bytes_overlap(NULL, reg->ptr + roff, *size, b->tensors[0]->buffer,
                                (const uint8_t *)b->tensors[0]->data + *offset, *size))
        st = APIR_E_INVALID; /* staging over the tensor's own bytes: memcpy's ranges overlap */
    if (st != APIR_OK) {
        apir_tensor_arg_free(g, b);
        return st;
    }
    *staged = reg->ptr + roff;
    return APIR_OK;
}

/* set: region to tensor; get: tensor to region. */
static enum apir_status apir_staged_copy(struct apir_session *s, struct apir_reader *r, bool set)
{
    struct apir_wire_graph g;
    struct apir_built_graph b;
    uint64_t offset, size;
    uint8_t *staged;
    enum apir_status st = apir_staged_args(s, r, &g, &b, &offset, &staged, &size);
    if (st != APIR_OK)
        return st;
    /* Tensors of extra buffers take whole sets only and are never read back (extrabuf.c). */
    if (!apir_data_range_ok(s, b.tensors[0], offset, size, set))
        st = apir_extrabuf_tensor_in(s, b.tensors[0]) && !set ? APIR_E_UNSUPPORTED : APIR_E_INVALID;
    else if (size && set)
        ggml_backend_tensor_set(b.tensors[0], staged, (size_t)offset, (size_t)size);
    else if (size)
        ggml_backend_tensor_get(b.tensors[0], staged, (size_t)offset, (size_t)size);
    apir_tensor_arg_free(&g, &b);
    return st;
}

enum apir_status apir_cmd_tensor_set_staged(struct apir_session *s, struct apir_reader *r,
                                            struct apir_writer *w)
{
    (void)w;
    return apir_staged_copy(s, r, true);
}

enum apir_status apir_cmd_tensor_get_staged(struct apir_session *s, struct apir_reader *r,
                                            struct apir_writer *w)
{
    (void)w;
    return apir_staged_copy(s, r, false);
}
