/* Corpus entries: framing, commands, graph structure and shared regions. */
#include "corpus.h"

#include <ggml.h>
#include <string.h>

/* The encoded wire tensor's source-count byte: after type, op, flags (12), ne, nb (64),
 * op_params (64), buffer, offset (16), view_src (4), view_offs (8). */
#define WIRE_NSRC_AT 168u

static struct apir_wire_tensor f32(const struct hostile_ctx *c, uint64_t off, int64_t n)
{
    return hostile_tensor(GGML_TYPE_F32, c->buf, off, n, 1, 1, 1);
}

/* DEVICE_INFO(0) with the header's magic and length as given. */
static void raw_device_info(struct apir_writer *w, uint32_t magic, uint32_t len, size_t payload)
{
    hostile_begin(w, APIR_CMD_DEVICE_INFO);
    for (size_t i = 0; i < payload; i++)
        apir_write_u8(w, 0);
    struct apir_req_hdr h = {magic, APIR_CMD_DEVICE_INFO, 0, 1, len};
    apir_req_hdr_encode(w->buf, &h);
}

static void bad_magic(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)c;
    raw_device_info(w, v ? APIR_MAGIC_REQ : 0xdeadbeefu, 4, 4);
}

static void reply_magic(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)c;
    raw_device_info(w, v ? APIR_MAGIC_REQ : APIR_MAGIC_REP, 4, 4);
}

/* The header promises 4 payload bytes that never come. */
static void len_past_message(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)c;
    raw_device_info(w, APIR_MAGIC_REQ, 4, v ? 4 : 0);
}

/* The header says 0 bytes; 4 follow (on a stream, they would be read as the next header). */
static void len_short_of_message(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)c;
    raw_device_info(w, APIR_MAGIC_REQ, v ? 4 : 0, 4);
}

static void len_over_cap(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)c, (void)v;
    raw_device_info(w, APIR_MAGIC_REQ, APIR_MAX_PAYLOAD + 1, 0);
}

static void half_header(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)c;
    raw_device_info(w, APIR_MAGIC_REQ, 4, 4);
    if (!v)
        w->len = APIR_HDR_SIZE / 2;
}

static void device_info_sized(struct apir_writer *w, size_t bytes, uint32_t index)
{
    hostile_begin(w, APIR_CMD_DEVICE_INFO);
    if (bytes >= 4)
        apir_write_u32(w, index);
    for (size_t i = bytes >= 4 ? 4 : 0; i < bytes; i++)
        apir_write_u8(w, 0);
    hostile_end(w);
}

static void truncated_payload(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)c;
    device_info_sized(w, v ? 4 : 2, 0);
}

static void trailing_bytes(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)c;
    device_info_sized(w, v ? 4 : 5, 0);
}

static void device_index_past_count(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)c;
    device_info_sized(w, 4, v ? 0 : APIR_MAX_DEVICES);
}

static void device_index_max(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)c;
    device_info_sized(w, 4, v ? 0 : UINT32_MAX);
}

static void unknown_cmd(struct apir_writer *w, uint16_t cmd)
{
    hostile_begin(w, cmd);
    apir_write_u32(w, 0);
    hostile_end(w);
}

static void unknown_cmd_zero(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)c;
    unknown_cmd(w, v ? APIR_CMD_DEVICE_INFO : 0);
}

static void unknown_cmd_past_table(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)c;
    unknown_cmd(w, v ? APIR_CMD_DEVICE_INFO : APIR_CMD_LIMIT);
}

static void unknown_cmd_max(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)c;
    unknown_cmd(w, v ? APIR_CMD_DEVICE_INFO : 0xffff);
}

/* Mid-session every HELLO is refused: the major mismatch, and (once per session) the right
 * major asking for features again. */
static void hello_major_mismatch(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)c, (void)v;
    hostile_begin(w, APIR_CMD_HELLO);
    apir_write_u32(w, APIR_PROTO_MAJOR + 1);
    apir_write_u32(w, APIR_PROTO_MINOR);
    apir_write_u64(w, APIR_FEAT_REGIONS | APIR_FEAT_GRAPH_CACHE);
    hostile_end(w);
}

static void hello_again(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)c, (void)v;
    hostile_begin(w, APIR_CMD_HELLO);
    apir_write_u32(w, APIR_PROTO_MAJOR);
    apir_write_u32(w, APIR_PROTO_MINOR);
    apir_write_u64(w, APIR_FEAT_REGIONS | APIR_FEAT_GRAPH_CACHE);
    hostile_end(w);
}

/* TENSOR_SET of 16 floats whose table says n_tensors and n_nodes and holds `have` tensors.
 * Framed by hand: the graph encoder writes only counts that agree with what it wrote. */
static void set_with_counts(struct apir_writer *w, const struct hostile_ctx *c, uint32_t nt,
                            uint32_t have, uint32_t nn, int32_t node)
{
    struct apir_wire_tensor t = f32(c, 0, 16);
    float data[16] = {0};
    hostile_begin(w, APIR_CMD_TENSOR_SET);
    apir_write_u32(w, nt);
    for (uint32_t i = 0; i < have; i++)
        apir_wire_tensor_encode(w, &t);
    apir_write_u32(w, nn);
    apir_write_i32(w, node);
    apir_write_u64(w, 0);
    apir_write_blob(w, data, sizeof data);
    hostile_end(w);
}

static void graph_zero_tensors(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    set_with_counts(w, c, v ? 1 : 0, v ? 1 : 0, 1, 0);
}

static void graph_tensors_over_cap(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    set_with_counts(w, c, v ? 1 : APIR_MAX_GRAPH_TENSORS + 1, 1, 1, 0);
}

static void graph_tensors_past_payload(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    set_with_counts(w, c, v ? 1 : 1000, 1, 1, 0);
}

static void graph_nodes_over_cap(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    set_with_counts(w, c, 1, 1, v ? 1 : UINT32_MAX, 0);
}

static void graph_node_out_of_range(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    set_with_counts(w, c, 1, 1, 1, v ? 0 : 1);
}

static void graph_node_negative(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    set_with_counts(w, c, 1, 1, 1, v ? 0 : -1);
}

/* The tensor message ends in the middle of its tensor (the header's length is true). */
static void truncated_tensor(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t = f32(c, 0, 16);
    hostile_begin(w, APIR_CMD_TENSOR_INIT);
    apir_wire_graph_encode_lone(w, &t);
    if (!v)
        w->len -= 4 + 4 + 20; /* the node list and the tensor's name and sources */
    hostile_end(w);
}

/* c = a + b where the sources are named by the indices given (a at 0, b at 1, c at 2). */
static void add_with_srcs(struct apir_writer *w, const struct hostile_ctx *c, int32_t s0,
                          int32_t s1, int32_t view_src)
{
    struct apir_wire_tensor t[3] = {f32(c, 0, 16), f32(c, 256, 16), f32(c, 512, 16)};
    t[2].op = GGML_OP_ADD;
    t[2].src[0] = s0, t[2].src[1] = s1;
    t[2].view_src = view_src;
    hostile_compute(w, c->stream, t, 3);
}

static void src_out_of_range(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    add_with_srcs(w, c, 0, v ? 1 : 3, -1);
}

/* The encoder writes sources only up to the last one >= 0: -7 is patched into the bytes. */
static void src_below_minus_one(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t[3] = {f32(c, 0, 16), f32(c, 256, 16), f32(c, 512, 16)};
    t[2].op = GGML_OP_ADD;
    t[2].flags = GGML_TENSOR_FLAG_COMPUTE;
    t[2].src[0] = 0, t[2].src[1] = 1;
    struct apir_wire_graph_enc e;
    hostile_begin(w, APIR_CMD_GRAPH_COMPUTE);
    apir_write_u64(w, c->stream);
    apir_wire_graph_begin(&e, w);
    apir_wire_graph_add(&e, &t[0]);
    apir_wire_graph_add(&e, &t[1]);
    size_t at = w->len + WIRE_NSRC_AT + 1 + 4; /* src[1], after the count and src[0] */
    apir_wire_graph_node(&e, apir_wire_graph_add(&e, &t[2]));
    apir_wire_graph_end(&e);
    int32_t bad = -7;
    if (!v && at + 4 <= w->len)
        memcpy(w->buf + at, &bad, sizeof bad);
    hostile_end(w);
}

/* a's source is c, which is computed from a: a cycle, as a forward reference. */
static void src_cycle(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t[3] = {f32(c, 0, 16), f32(c, 256, 16), f32(c, 512, 16)};
    if (!v) {
        t[0].op = GGML_OP_ADD;
        t[0].src[0] = 2, t[0].src[1] = 1;
    }
    t[2].op = GGML_OP_ADD;
    t[2].src[0] = 0, t[2].src[1] = 1;
    hostile_compute(w, c->stream, t, 3);
}

static void view_src_out_of_range(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    add_with_srcs(w, c, 0, 1, v ? -1 : 40);
}

static void view_src_self(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    add_with_srcs(w, c, 0, 1, v ? -1 : 2);
}

/* One tensor encoded by hand: its source count or name length byte says more than allowed.
 * The graph is framed by hand too: the bytes the patched byte claims sit between the tensor
 * and the node list, where the encoder puts nothing. */
static void patched_tensor(struct apir_writer *w, const struct hostile_ctx *c, bool name,
                           uint8_t value)
{
    struct apir_wire_tensor t = f32(c, 0, 16);
    hostile_begin(w, APIR_CMD_TENSOR_INIT);
    apir_write_u32(w, 1);
    size_t at = w->len;
    apir_wire_tensor_encode(w, &t); /* no sources, empty name: [168] = 0, [169] = 0 */
    for (unsigned i = 0; i < 64; i++)
        apir_write_u8(w, 'x'); /* room for what the patched byte claims */
    apir_write_u32(w, 1);
    apir_write_i32(w, 0);
    w->buf[at + WIRE_NSRC_AT + (name ? 1 : 0)] = value;
    hostile_end(w);
}

static void src_count_over_max(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)v;
    patched_tensor(w, c, false, APIR_MAX_SRC + 1);
}

static void name_unterminated(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)v;
    patched_tensor(w, c, true, APIR_MAX_NAME);
}

/* The ring's memory comes with the message on the socket; none came. */
static void ring_attach_without_memory(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)c, (void)v;
    hostile_begin(w, APIR_CMD_RING_ATTACH);
    apir_write_u32(w, 2u << 20);
    hostile_end(w);
}

static void region_attach(struct apir_writer *w, uint32_t id, uint64_t size)
{
    hostile_begin(w, APIR_CMD_REGION_ATTACH);
    apir_write_u32(w, id);
    apir_write_u64(w, size);
    hostile_end(w);
}

static void region_attach_without_memory(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)c, (void)v;
    region_attach(w, 50, 1u << 20);
}

static void region_attach_size_zero(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)c, (void)v;
    region_attach(w, 51, 0);
}

static void region_attach_duplicate(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)v;
    region_attach(w, c->region, HOSTILE_REGION_SIZE);
}

static void region_attach_over_quota(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)v;
    region_attach(w, 52, c->quota + 4096);
}

static void region_detach(struct apir_writer *w, uint32_t id)
{
    hostile_begin(w, APIR_CMD_REGION_DETACH);
    apir_write_u32(w, id);
    hostile_end(w);
}

static void region_detach_unknown(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)c, (void)v;
    region_detach(w, 0xabcdef);
}

/* rbuf lives in the region: detaching it would leave the buffer on unmapped memory. */
static void region_detach_in_use(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)v;
    region_detach(w, c->region);
}

static void from_region(struct apir_writer *w, const struct hostile_ctx *c, uint32_t id,
                        uint64_t off, uint64_t size)
{
    hostile_begin(w, APIR_CMD_BUFFER_FROM_REGION);
    apir_write_u64(w, c->dev);
    apir_write_u32(w, id);
    apir_write_u64(w, off);
    apir_write_u64(w, size);
    hostile_end(w);
}

static void from_region_unknown(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    from_region(w, c, v ? c->region : 999, 128u << 10, 4096);
}

static void from_region_past_end(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    from_region(w, c, c->region, HOSTILE_REGION_SIZE - 4096, v ? 4096 : 8192);
}

static void from_region_overflow(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    from_region(w, c, c->region, v ? 256u << 10 : UINT64_MAX - 4095, 8192);
}

static void from_region_misaligned(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    from_region(w, c, c->region, (384u << 10) + (v ? 0 : 3), 4096);
}

static void from_region_size_zero(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    from_region(w, c, c->region, 512u << 10, v ? 4096 : 0);
}

/* TENSOR_{SET,GET}_STAGED of 16 floats of buf, through (region, roff, size). */
static void staged(struct apir_writer *w, const struct hostile_ctx *c, bool set, uint64_t toff,
                   uint32_t region, uint64_t roff, uint64_t size)
{
    struct apir_wire_tensor t = f32(c, 0, 16);
    hostile_begin(w, set ? APIR_CMD_TENSOR_SET_STAGED : APIR_CMD_TENSOR_GET_STAGED);
    apir_wire_graph_encode_lone(w, &t);
    apir_write_u64(w, toff);
    apir_write_u32(w, region);
    apir_write_u64(w, roff);
    apir_write_u64(w, size);
    hostile_end(w);
}

static void staged_past_region(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    staged(w, c, true, 0, c->region, HOSTILE_REGION_SIZE - (v ? 64 : 32), 64);
}

static void staged_region_offset_overflow(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    staged(w, c, false, 0, c->region, v ? 0 : UINT64_MAX - 16, 64);
}

static void staged_unknown_region(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    staged(w, c, false, 0, v ? c->region : 4242, 0, 64);
}

static void staged_past_tensor(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    staged(w, c, false, v ? 0 : 32, c->region, 0, 64);
}

#define T(n, k, ...)                                                                               \
    {                                                                                              \
        .name = #n, .klass = k, .build = n, __VA_ARGS__                                            \
    }

const struct hostile_entry hostile_framing[] = {
    T(bad_magic, "framing", .twin = true, .framing = true),
    T(reply_magic, "framing", .twin = true, .framing = true),
    T(len_past_message, "framing", .twin = true, .framing = true),
    T(len_short_of_message, "framing", .twin = true, .framing = true),
    T(len_over_cap, "framing", .framing = true),
    T(half_header, "framing", .twin = true, .framing = true),
    T(truncated_payload, "framing", .twin = true),
    T(trailing_bytes, "framing", .twin = true),
    T(truncated_tensor, "framing", .twin = true),
    T(unknown_cmd_zero, "command", .twin = true),
    T(unknown_cmd_past_table, "command", .twin = true),
    T(unknown_cmd_max, "command", .twin = true),
    T(hello_major_mismatch, "command"),
    T(hello_again, "command"),
    T(device_index_past_count, "command", .twin = true),
    T(device_index_max, "command", .twin = true),
    T(ring_attach_without_memory, "command"),
    T(graph_zero_tensors, "graph", .twin = true),
    T(graph_tensors_over_cap, "graph", .twin = true),
    T(graph_tensors_past_payload, "graph", .twin = true),
    T(graph_nodes_over_cap, "graph", .twin = true),
    T(graph_node_out_of_range, "graph", .twin = true),
    T(graph_node_negative, "graph", .twin = true),
    T(src_out_of_range, "graph", .twin = true),
    T(src_below_minus_one, "graph", .twin = true),
    T(src_cycle, "graph", .twin = true),
    T(view_src_out_of_range, "graph", .twin = true),
    T(view_src_self, "graph", .twin = true),
    T(src_count_over_max, "graph"),
    T(name_unterminated, "graph"),
    T(region_attach_without_memory, "region"),
    T(region_attach_size_zero, "region"),
    T(region_attach_duplicate, "region"),
    T(region_attach_over_quota, "region"),
    T(region_detach_unknown, "region"),
    T(region_detach_in_use, "region"),
    T(from_region_unknown, "region", .twin = true),
    T(from_region_past_end, "region", .twin = true),
    T(from_region_overflow, "region", .twin = true),
    T(from_region_misaligned, "region", .twin = true),
    T(from_region_size_zero, "region", .twin = true),
    T(staged_past_region, "region", .twin = true),
    T(staged_region_offset_overflow, "region", .twin = true),
    T(staged_unknown_region, "region", .twin = true),
    T(staged_past_tensor, "region", .twin = true),
    {0},
};
