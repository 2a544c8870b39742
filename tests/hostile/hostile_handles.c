/* Corpus entries: handles (stale, freed, forged, foreign, wrong type, wrong session tag),
 * tensors pointing into another buffer, and the graph cache's stale graphs. */
#include "corpus.h"

#include <ggml.h>

static const float zeros[16];

/* A handle's top 16 bits are its session's tag (docs/protocol.md). */
static uint64_t retag(uint64_t h)
{
    return h ^ ((uint64_t)0x5a5a << 48);
}

static void set_in(struct apir_writer *w, uint64_t buffer)
{
    struct apir_wire_tensor t = hostile_tensor(GGML_TYPE_F32, buffer, 0, 16, 1, 1, 1);
    hostile_tensor_set(w, &t, 0, zeros, sizeof zeros);
}

static void u64_cmd(struct apir_writer *w, uint16_t cmd, uint64_t h)
{
    hostile_begin(w, cmd);
    apir_write_u64(w, h);
    hostile_end(w);
}

static void freed_buffer_set(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    set_in(w, v ? c->buf : c->freed_buf);
}

static void freed_buffer_free(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)v;
    u64_cmd(w, APIR_CMD_BUFFER_FREE, c->freed_buf);
}

static void forged_buffer(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    set_in(w, v ? c->buf : 0x0123456789abcdefull);
}

static void buffer_slot_forged(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    set_in(w, v ? c->buf : c->buf + 1); /* the next slot, same tag and type */
}

static void buffer_generation_forged(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    set_in(w, v ? c->buf : c->buf ^ ((uint64_t)1 << 24)); /* another generation */
}

static void wrong_session_tag(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    set_in(w, v ? c->buf : retag(c->buf));
}

static void foreign_buffer(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    set_in(w, v ? c->buf : c->other_buf);
}

static void foreign_buffer_free(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)v;
    u64_cmd(w, APIR_CMD_BUFFER_FREE, c->other_buf);
}

static void stream_as_buffer(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    set_in(w, v ? c->buf : c->stream);
}

static void buft_as_buffer_free(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)v;
    u64_cmd(w, APIR_CMD_BUFFER_FREE, c->buft);
}

static void dev_as_buft_alloc(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    hostile_begin(w, APIR_CMD_BUFFER_ALLOC);
    apir_write_u64(w, v ? c->buft : c->dev);
    apir_write_u64(w, 4096);
    hostile_end(w);
}

static void buft_zero_alloc(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    hostile_begin(w, APIR_CMD_BUFFER_ALLOC);
    apir_write_u64(w, v ? c->buft : 0);
    apir_write_u64(w, 4096);
    hostile_end(w);
}

static void forged_device_stream_new(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    u64_cmd(w, APIR_CMD_STREAM_NEW, v ? c->dev : retag(c->dev));
}

static void forged_device_memory(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    u64_cmd(w, APIR_CMD_DEVICE_MEMORY, v ? c->dev : UINT64_MAX);
}

static void add_graph(struct apir_writer *w, const struct hostile_ctx *c, uint64_t stream)
{
    struct apir_wire_tensor t[3];
    for (int i = 0; i < 3; i++)
        t[i] = hostile_tensor(GGML_TYPE_F32, c->buf, (uint64_t)i * 256, 16, 1, 1, 1);
    t[2].op = GGML_OP_ADD;
    t[2].src[0] = 0, t[2].src[1] = 1;
    hostile_compute(w, stream, t, 3);
}

static void freed_stream_compute(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    add_graph(w, c, v ? c->stream : c->freed_stream);
}

static void buffer_as_stream(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    add_graph(w, c, v ? c->stream : c->buf);
}

static void freed_stream_free(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)v;
    u64_cmd(w, APIR_CMD_STREAM_FREE, c->freed_stream);
}

static void freed_stream_sync(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    u64_cmd(w, APIR_CMD_STREAM_SYNC, v ? c->stream : c->freed_stream);
}

/* A computed node whose source sits in a buffer that was freed. */
static void freed_buffer_in_graph(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t[3];
    for (int i = 0; i < 3; i++)
        t[i] = hostile_tensor(GGML_TYPE_F32, c->buf, (uint64_t)i * 256, 16, 1, 1, 1);
    if (!v)
        t[1].buffer = c->freed_buf;
    t[2].op = GGML_OP_ADD;
    t[2].src[0] = 0, t[2].src[1] = 1;
    hostile_compute(w, c->stream, t, 3);
}

/* A view whose source lives in another buffer: its bytes would be reached through one
 * buffer's handle and another's memory. */
static void view_into_other_buffer(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t[3];
    t[0] = hostile_tensor(GGML_TYPE_F32, v ? c->buf : c->rbuf, 0, 16, 1, 1, 1);
    t[1] = hostile_tensor(GGML_TYPE_F32, c->buf, 256, 16, 1, 1, 1);
    t[1].op = GGML_OP_VIEW;
    t[1].view_src = t[1].src[0] = 0;
    t[1].view_offs = 256;
    t[2] = hostile_tensor(GGML_TYPE_F32, c->buf, 512, 16, 1, 1, 1);
    t[2].op = GGML_OP_ADD;
    t[2].src[0] = t[2].src[1] = 1;
    hostile_compute(w, c->stream, t, 3);
}

/* A tensor of one session buffer whose extent runs on into whatever follows it. */
static void extent_into_next_buffer(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t =
        hostile_tensor(GGML_TYPE_F32, c->rbuf, HOSTILE_RBUF_SIZE - 64, v ? 16 : 32, 1, 1, 1);
    hostile_tensor_set(w, &t, 0, zeros, sizeof zeros);
}

static void recompute_stale_graph(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)v;
    u64_cmd(w, APIR_CMD_GRAPH_RECOMPUTE, c->stale_stream);
}

static void recompute_forged_stream(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)v;
    u64_cmd(w, APIR_CMD_GRAPH_RECOMPUTE, retag(c->ok_stream));
}

static void supports_op_with_stream(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t[2];
    t[0] = hostile_tensor(GGML_TYPE_F32, 0, 0, 16, 1, 1, 1);
    t[1] = t[0];
    t[1].op = GGML_OP_ADD;
    t[1].src[0] = t[1].src[1] = 0;
    const int32_t op = 1;
    hostile_begin(w, APIR_CMD_DEVICE_SUPPORTS_OP);
    apir_write_u64(w, v ? c->dev : c->stream);
    apir_wire_graph_encode(w, t, 2, &op, 1);
    hostile_end(w);
}

static void region_buffer_foreign_dev(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    hostile_begin(w, APIR_CMD_BUFFER_FROM_REGION);
    apir_write_u64(w, v ? c->dev : c->buft); /* a buffer type is not a device */
    apir_write_u32(w, c->region);
    apir_write_u64(w, 128u << 10);
    apir_write_u64(w, 4096);
    hostile_end(w);
}

#define T(n, k, ...)                                                                               \
    {                                                                                              \
        .name = #n, .klass = k, .build = n, __VA_ARGS__                                            \
    }

const struct hostile_entry hostile_handles[] = {
    T(freed_buffer_set, "handle", .twin = true),
    T(freed_buffer_free, "handle"),
    T(forged_buffer, "handle", .twin = true),
    T(buffer_slot_forged, "handle", .twin = true),
    T(buffer_generation_forged, "handle", .twin = true),
    T(wrong_session_tag, "handle", .twin = true),
    T(foreign_buffer, "handle", .twin = true),
    T(foreign_buffer_free, "handle"),
    T(stream_as_buffer, "handle", .twin = true),
    T(buft_as_buffer_free, "handle"),
    T(dev_as_buft_alloc, "handle", .twin = true),
    T(buft_zero_alloc, "handle", .twin = true),
    T(forged_device_stream_new, "handle", .twin = true),
    T(forged_device_memory, "handle", .twin = true),
    T(freed_stream_compute, "handle", .twin = true),
    T(buffer_as_stream, "handle", .twin = true),
    T(freed_stream_free, "handle"),
    T(freed_stream_sync, "handle", .twin = true),
    T(freed_buffer_in_graph, "handle", .twin = true),
    T(view_into_other_buffer, "handle", .twin = true),
    T(extent_into_next_buffer, "handle", .twin = true),
    T(recompute_stale_graph, "handle"),
    T(recompute_forged_stream, "handle"),
    T(supports_op_with_stream, "handle", .twin = true),
    T(region_buffer_foreign_dev, "handle", .twin = true),
    {0},
};
