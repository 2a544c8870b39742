/* Shared regions: memory the guest maps too, attached through the transport's callbacks, and
 * buffers that live inside them (DESIGN §2.8).
 *
 * The guest can write a region at any moment, so nothing the host decides on is read from it:
 * regions hold tensor bytes only, and every extent that names them is checked against the
 * size the transport mapped. A region cannot be detached while a buffer lives in it. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

void apir_session_set_region_ops(struct apir_session *s, const struct apir_region_ops *ops)
{
    if (s && ops)
        s->region_ops = *ops;
}

struct apir_region *apir_region_find(struct apir_session *s, uint32_t id)
{
    for (uint32_t i = 0; i < s->n_regions; i++)
        if (s->regions[i]->id == id)
            return s->regions[i];
    return NULL;
}

static uint32_t apir_region_limit(const struct apir_session *s)
{
    uint32_t objs = s->host->max_session_objects;
    return objs && objs < APIR_MAX_REGIONS ? objs : APIR_MAX_REGIONS;
}

/* Quota first, then the mapping: a guest over its quota never makes the transport map. */
static enum apir_status apir_region_charge(struct apir_session *s, uint64_t size)
{
    uint64_t quota = s->host->max_session_bytes;
    if (quota && (size > quota || s->bytes_used > quota - size))
        return APIR_E_QUOTA;
    if (s->n_regions >= apir_region_limit(s))
        return APIR_E_QUOTA;
    return APIR_OK;
}

enum apir_status apir_cmd_region_attach(struct apir_session *s, struct apir_req_region_attach_in *a,
                                        struct apir_writer *w)
{
    (void)w;
    uint32_t id = a->region;
    uint64_t size = a->size;
    if (!s->region_ops.map || !(s->features & APIR_FEAT_REGIONS))
        return APIR_E_UNSUPPORTED;
    if (size == 0 || size > SIZE_MAX / 2 || apir_region_find(s, id))
        return APIR_E_INVALID;
    enum apir_status st = apir_region_charge(s, size);
    if (st != APIR_OK)
        return st;
    struct apir_region **grown = realloc(s->regions, (s->n_regions + 1) * sizeof *grown);
    struct apir_region *reg = calloc(1, sizeof *reg);
    if (grown)
        s->regions = grown;
    if (!grown || !reg) {
        free(reg);
        return APIR_E_NOMEM;
    }
    reg->ptr = s->region_ops.map(s->region_ops.user, id, size);
    if (!reg->ptr) {
        free(reg);
        return APIR_E_INVALID; /* no memory came with it, or less than it claims */
    }
    reg->id = id;
    reg->size = size;
    s->regions[s->n_regions++] = reg;
    s->bytes_used += size;
    return APIR_OK;
}

static void apir_region_unmap(struct apir_session *s, struct apir_region *reg)
{
    if (s->region_ops.unmap)
        s->region_ops.unmap(s->region_ops.user, reg->id, reg->ptr, reg->size);
    s->bytes_used -= reg->size;
    free(reg);
}

enum apir_status apir_cmd_region_detach(struct apir_session *s, struct apir_req_region_detach_in *a,
                                        struct apir_writer *w)
{
    (void)w;
    uint32_t id = a->region;
    for (uint32_t i = 0; i < s->n_regions; i++) {
        struct apir_region *reg = s->regions[i];
        if (reg->id != id)
            continue;
        if (reg->users)
            return APIR_E_INVALID; /* buffers still live in it */
        s->regions[i] = s->regions[--s->n_regions];
        apir_region_unmap(s, reg);
        return APIR_OK;
    }
    return APIR_E_HANDLE;
}

/* At session end, after every buffer is gone. */
void apir_regions_release(struct apir_session *s)
{
    for (uint32_t i = 0; i < s->n_regions; i++)
        apir_region_unmap(s, s->regions[i]);
    free(s->regions);
    s->regions = NULL;
    s->n_regions = 0;
}

/* The range a buffer may occupy: inside the region, and aligned as the device's own buffers
 * are (the CPU backend asserts on an unaligned host pointer: check it first). */
static bool apir_region_range_ok(const struct apir_region *reg, uint64_t offset, uint64_t size,
                                 ggml_backend_dev_t dev)
{
    uint64_t end;
    if (size == 0 || __builtin_add_overflow(offset, size, &end) || end > reg->size)
        return false;
    ggml_backend_buffer_type_t buft = ggml_backend_dev_buffer_type(dev);
    size_t align = ggml_backend_buft_get_alignment(buft);
    if (align == 0 || ((uintptr_t)(reg->ptr + offset)) % align != 0)
        return false;
    return size <= ggml_backend_buft_get_max_size(buft);
}

enum apir_status apir_cmd_buffer_from_region(struct apir_session *s,
                                             struct apir_req_buffer_from_region_in *a,
                                             struct apir_writer *w)
{
    ggml_backend_dev_t dev = a->dev;
    struct apir_region *reg = a->region;
    uint64_t offset = a->offset, size = a->size;
    struct ggml_backend_dev_props p;
    memset(&p, 0, sizeof p);
    ggml_backend_dev_get_props(dev, &p);
    if (!p.caps.buffer_from_host_ptr)
        return APIR_E_UNSUPPORTED;
    if (!apir_region_range_ok(reg, offset, size, dev))
        return APIR_E_INVALID;
    struct apir_host_buffer *hb = calloc(1, sizeof *hb);
    if (!hb)
        return APIR_E_NOMEM;
    hb->buf =
        ggml_backend_dev_buffer_from_host_ptr(dev, reg->ptr + offset, (size_t)size, (size_t)size);
    if (!hb->buf) {
        free(hb);
        return APIR_E_BACKEND;
    }
    hb->base = ggml_backend_buffer_get_base(hb->buf);
    hb->size = ggml_backend_buffer_get_size(hb->buf);
    hb->region = reg;
    uint64_t handle = apir_handles_add(&s->handles, APIR_OBJ_BUFFER, hb);
    if (!handle) {
        ggml_backend_buffer_free(hb->buf);
        free(hb);
        return APIR_E_QUOTA;
    }
    reg->users++;
    struct apir_rep_buffer_from_region rep = {
        .buffer = handle, .size = hb->size, .buffer_flags = apir_buffer_flags(hb->buf)};
    apir_rep_buffer_from_region_put(w, &rep);
    return APIR_OK;
}
