/* Corpus entries: copies whose source and destination share bytes (#18, class 3). The rule
 * compares bytes, not handles: two buffers over the same region bytes, a staging range over
 * the tensor it stages, a copy onto part of itself. Each honest twin moves the same bytes to
 * a range that does not overlap. */
#include "corpus.h"

#include <ggml.h>

static struct apir_wire_tensor f32_in(uint64_t buf, uint64_t off, int64_t n)
{
    return hostile_tensor(GGML_TYPE_F32, buf, off, n, 1, 1, 1);
}

/* TENSOR_COPY of 256 floats onto the same buffer 512 bytes further: the ranges overlap. */
static void copy_overlapping(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor src = f32_in(c->buf, 0, 256);
    struct apir_wire_tensor dst = f32_in(c->buf, v ? 1024 : 512, 256);
    hostile_tensor_copy(w, &src, &dst);
}

/* The same through two buffers over one region: rbuf2's byte 0 is rbuf's HOSTILE_RBUF2_OFF. */
static void copy_region_alias(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor src = f32_in(c->rbuf, 0, 2048); /* region bytes [0, 8192) */
    struct apir_wire_tensor dst = f32_in(c->rbuf2, v ? 8192 : 0, 2048);
    hostile_tensor_copy(w, &src, &dst);
}

/* A node in rbuf2 whose source lies in rbuf over the same bytes, not where the node starts
 * (in place would be): the partial-overlap rule must see through the two handles. */
static void compute_region_alias(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t[3] = {
        f32_in(c->rbuf, v ? 40960 : 0, 4096),               /* region [0, 16384) */
        f32_in(c->buf, 0, 4096), f32_in(c->rbuf2, 0, 4096), /* region [4096, 20480) */
    };
    t[2].op = GGML_OP_ADD;
    t[2].src[0] = 0, t[2].src[1] = 1;
    hostile_compute(w, c->stream, t, 3);
}

/* TENSOR_{SET,GET}_STAGED of 1 KiB of a tensor in rbuf (region bytes [0, 64 KiB)), staged
 * at region offset 512: inside the tensor's own bytes. */
static void staged(struct apir_writer *w, const struct hostile_ctx *c, int v, uint16_t cmd)
{
    struct apir_wire_tensor t = f32_in(c->rbuf, 0, 1024);
    hostile_begin(w, cmd);
    apir_wire_graph_encode_lone(w, &t);
    apir_write_u64(w, 0);
    apir_write_u32(w, c->region);
    apir_write_u64(w, v ? HOSTILE_RBUF_SIZE + HOSTILE_RBUF2_OFF : 512);
    apir_write_u64(w, 1024);
    hostile_end(w);
}

static void staged_set_over_tensor(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    staged(w, c, v, APIR_CMD_TENSOR_SET_STAGED);
}

static void staged_get_over_tensor(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    staged(w, c, v, APIR_CMD_TENSOR_GET_STAGED);
}

#define T(n, k, ...)                                                                               \
    {                                                                                              \
        .name = #n, .klass = k, .build = n, __VA_ARGS__                                            \
    }

const struct hostile_entry hostile_overlap[] = {
    T(copy_overlapping, "overlap", .twin = true),
    T(copy_region_alias, "overlap", .twin = true),
    T(compute_region_alias, "overlap", .twin = true),
    T(staged_set_over_tensor, "overlap", .twin = true),
    T(staged_get_over_tensor, "overlap", .twin = true),
    {0},
};
