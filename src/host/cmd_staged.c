/* Tensor data through a staging region (DESIGN §2.8): for buffers the host device cannot place
 * in shared memory (GPU memory), the bytes travel through a region both sides map instead of
 * inline in the command stream. The region holds data only: the host copies between it and the
 * tensor and never interprets it, so a guest rewriting it meanwhile only changes its own data. */
#include "internal.h"

/* The tensor's bytes [offset, offset + size) and the region's [region_offset, + size): both in
 * bounds and not overlapping (memcpy's ranges). */
static enum apir_status apir_staged_check(struct ggml_tensor *t, struct apir_region *reg,
                                          uint64_t offset, uint64_t roff, uint64_t size)
{
    uint64_t end;
    if (__builtin_add_overflow(roff, size, &end) || end > reg->size ||
        !apir_range_ok(t, offset, size))
        return APIR_E_INVALID;
    if (apir_bytes_overlap(NULL, reg->ptr + roff, size, t->buffer,
                           (const uint8_t *)t->data + offset, size))
        return APIR_E_INVALID; /* staging over the tensor's own bytes */
    return APIR_OK;
}

static enum apir_status apir_staged_copy(struct apir_session *s, struct ggml_tensor *t,
                                         struct apir_region *reg, uint64_t offset, uint64_t roff,
                                         uint64_t size, bool set)
{
    enum apir_status st = apir_staged_check(t, reg, offset, roff, size);
    if (st != APIR_OK)
        return st;
    uint8_t *staged = reg->ptr + roff;
    /* Tensors of extra buffers take whole sets only and are never read back (extrabuf.c). */
    if (!apir_data_range_ok(s, t, offset, size, set))
        return apir_extrabuf_tensor_in(s, t) && !set ? APIR_E_UNSUPPORTED : APIR_E_INVALID;
    if (size && set)
        ggml_backend_tensor_set(t, staged, (size_t)offset, (size_t)size);
    else if (size)
        ggml_backend_tensor_get(t, staged, (size_t)offset, (size_t)size);
    return APIR_OK;
}

enum apir_status apir_cmd_tensor_set_staged(struct apir_session *s,
                                            struct apir_req_tensor_set_staged_in *a,
                                            struct apir_writer *w)
{
    (void)w;
    return apir_staged_copy(s, a->tensor.t[0], a->region, a->offset, a->region_offset, a->size,
                            true);
}

enum apir_status apir_cmd_tensor_get_staged(struct apir_session *s,
                                            struct apir_req_tensor_get_staged_in *a,
                                            struct apir_writer *w)
{
    (void)w;
    return apir_staged_copy(s, a->tensor.t[0], a->region, a->offset, a->region_offset, a->size,
                            false);
}
