/* Corpus entries: tensor extents and data commands (the quantized nb0 case, ranges past
 * buffers, overflowing strides), ggml-rpc's CVE classes, and resources. */
#include "corpus.h"

#include <ggml.h>
#include <string.h>

static const float zeros[64];

static struct apir_wire_tensor f32(const struct hostile_ctx *c, uint64_t off, int64_t n)
{
    return hostile_tensor(GGML_TYPE_F32, c->buf, off, n, 1, 1, 1);
}

static void set16(struct apir_writer *w, const struct apir_wire_tensor *t, uint64_t off, size_t len)
{
    hostile_tensor_set(w, t, off, zeros, len);
}

static void get(struct apir_writer *w, const struct apir_wire_tensor *t, uint64_t off,
                uint64_t size)
{
    hostile_begin(w, APIR_CMD_TENSOR_GET);
    apir_wire_graph_encode_lone(w, t);
    apir_write_u64(w, off);
    apir_write_u64(w, size);
    hostile_end(w);
}

/* One Q4_0 block (18 bytes) at the buffer's end with nb0 = 1 MiB: ggml_nbytes, which data
 * commands trust, counts ne0 * nb0 / 32 bytes, so 64 bytes would pass as 18. */
static struct apir_wire_tensor q4_tail(const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t =
        hostile_tensor(GGML_TYPE_Q4_0, c->buf, HOSTILE_BUF_SIZE - 18, 32, 1, 1, 1);
    if (!v)
        t.nb[0] = 1u << 20;
    return t;
}

static void quant_nb0_set(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t = q4_tail(c, v);
    set16(w, &t, 0, v ? 18 : 64);
}

static void quant_nb0_get(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t = q4_tail(c, v);
    get(w, &t, 0, v ? 18 : 64);
}

static void quant_nb0_memset(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t = q4_tail(c, v);
    hostile_begin(w, APIR_CMD_TENSOR_MEMSET);
    apir_wire_graph_encode_lone(w, &t);
    apir_write_u64(w, 0);
    apir_write_u64(w, v ? 18 : 64);
    apir_write_u32(w, 0);
    hostile_end(w);
}

static void set_past_buffer(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t = f32(c, HOSTILE_BUF_SIZE - (v ? 64 : 32), 16);
    set16(w, &t, 0, 64);
}

static void set_longer_than_tensor(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t = f32(c, 0, 4);
    set16(w, &t, 0, v ? 16 : 64);
}

static void set_offset_past_tensor(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t = f32(c, 0, 16);
    set16(w, &t, v ? 32 : 60, 8);
}

static void get_past_tensor(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t = f32(c, 0, 16);
    get(w, &t, 16, v ? 48 : 64);
}

static void get_size_overflow(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t = f32(c, 0, 16);
    get(w, &t, 8, v ? 8 : UINT64_MAX - 4);
}

static void memset_past_tensor(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t = f32(c, 0, 16);
    hostile_begin(w, APIR_CMD_TENSOR_MEMSET);
    apir_wire_graph_encode_lone(w, &t);
    apir_write_u64(w, 32);
    apir_write_u64(w, v ? 32 : 33);
    apir_write_u32(w, 7);
    hostile_end(w);
}

static void memset_value_wide(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t = f32(c, 0, 16);
    hostile_begin(w, APIR_CMD_TENSOR_MEMSET);
    apir_wire_graph_encode_lone(w, &t);
    apir_write_u64(w, 0);
    apir_write_u64(w, 64);
    apir_write_u32(w, v ? 255 : 0x1ff);
    hostile_end(w);
}

static void copy_dst_past_buffer(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor s = f32(c, 0, 64), d = f32(c, HOSTILE_BUF_SIZE - (v ? 256 : 128), 64);
    hostile_tensor_copy(w, &s, &d);
}

static void copy_size_mismatch(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor s = f32(c, 0, 64), d = f32(c, 1024, v ? 64 : 16);
    hostile_tensor_copy(w, &s, &d);
}

static void copy_stride_mismatch(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor s = hostile_tensor(GGML_TYPE_F32, c->buf, 0, 8, 8, 1, 1);
    struct apir_wire_tensor d = s;
    d.offset = 4096;
    if (!v)
        d.nb[1] = 4096, d.nb[2] = d.nb[3] = 8 * 4096; /* rows 4 KiB apart: 28 KiB past */
    hostile_tensor_copy(w, &s, &d);
}

static void offset_overflow(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t = f32(c, v ? 0 : UINT64_MAX - 8, 16);
    set16(w, &t, 0, 64);
}

static void stride_overflow(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t = hostile_tensor(GGML_TYPE_F32, c->buf, 0, 16, 2, 1, 1);
    if (!v)
        t.nb[1] = UINT64_MAX / 2; /* (ne1 - 1) * nb1 + a row wraps */
    set16(w, &t, 0, 64);
}

static void ne_negative(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t = f32(c, 0, 16);
    t.ne[2] = v ? 1 : -1;
    set16(w, &t, 0, 64);
}

static void ne_product_overflow(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t = f32(c, 0, 16);
    if (!v) /* 2^62 * 4 elements wraps int64; nb = 0 keeps the span small */
        t.ne[1] = t.ne[2] = (int64_t)1 << 31, t.nb[1] = t.nb[2] = t.nb[3] = 0;
    set16(w, &t, 0, 64);
}

static void ne0_not_block_multiple(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t = hostile_tensor(GGML_TYPE_Q4_0, c->buf, 0, 32, 1, 1, 1);
    t.ne[0] = v ? 32 : 17;
    set16(w, &t, 0, 18);
}

/* CVE-2024-42477 class: the type indexes ggml's type table unchecked. */
static void type_out_of_range(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t = f32(c, 0, 16);
    t.type = v ? GGML_TYPE_F32 : 9999;
    set16(w, &t, 0, 64);
}

/* A removed type keeps its enum slot with a zero block size (a divisor). */
static void type_removed(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t = f32(c, 0, 16);
    t.type = v ? GGML_TYPE_F32 : 4; /* Q4_2, removed */
    set16(w, &t, 0, 64);
}

/* CVE-2024-42478/42479 class: a host address where a location goes. The wire has no data
 * pointer: whatever the guest puts in offset is an offset into its own buffer. */
static void raw_pointer_read(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t = f32(c, v ? 0 : 0x7f0000001000ull, 16);
    get(w, &t, 0, 64);
}

static void raw_pointer_write(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t = f32(c, v ? 0 : 0x555555554000ull, 16);
    set16(w, &t, 0, 64);
}

/* CVE-2026-34159 class: buffer = 0 must not mean "skip the checks". */
static void buffer_zero_set(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t = f32(c, 0, 16);
    t.buffer = v ? c->buf : 0;
    set16(w, &t, 0, 64);
}

static void buffer_zero_get(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t = f32(c, 0, 16);
    t.buffer = v ? c->buf : 0;
    get(w, &t, 0, 64);
}

static void buffer_zero_offset_query(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t[2] = {f32(c, 0, 16), f32(c, 64, 16)};
    t[0].buffer = t[1].buffer = 0;
    t[0].offset = v ? 0 : 0x7f0000001000ull; /* no buffer and an offset: a pointer in disguise */
    t[1].offset = 0;
    t[1].op = GGML_OP_ADD;
    t[1].src[0] = t[1].src[1] = 0;
    const int32_t op = 1;
    hostile_begin(w, APIR_CMD_DEVICE_SUPPORTS_OP);
    apir_write_u64(w, c->dev);
    apir_wire_graph_encode(w, t, 2, &op, 1);
    hostile_end(w);
}

/* A computed node reads (src) or writes (dst) a tensor with no buffer. */
static void buffer_zero_compute(struct apir_writer *w, const struct hostile_ctx *c, int v,
                                int which)
{
    struct apir_wire_tensor t[3] = {f32(c, 0, 16), f32(c, 256, 16), f32(c, 512, 16)};
    if (!v)
        t[which].buffer = 0, t[which].offset = 0;
    t[2].op = GGML_OP_ADD;
    t[2].src[0] = 0, t[2].src[1] = 1;
    hostile_compute(w, c->stream, t, 3);
}

static void buffer_zero_src(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    buffer_zero_compute(w, c, v, 1);
}

static void buffer_zero_dst(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    buffer_zero_compute(w, c, v, 2);
}

/* 2^40 elements over 4 KiB with zero strides: every byte is in the buffer, but a kernel
 * would loop 2^40 times. */
static void zero_strides_huge(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t[3] = {f32(c, 0, 1024), f32(c, 4096, 1024), f32(c, 8192, 1024)};
    for (int i = 0; i < 3 && !v; i++) {
        t[i].ne[1] = t[i].ne[2] = t[i].ne[3] = 1024;
        t[i].nb[1] = t[i].nb[2] = t[i].nb[3] = 0;
    }
    t[2].op = GGML_OP_ADD;
    t[2].src[0] = 0, t[2].src[1] = 1;
    hostile_compute(w, c->stream, t, 3);
}

static void alloc(struct apir_writer *w, uint64_t buft, uint64_t size)
{
    hostile_begin(w, APIR_CMD_BUFFER_ALLOC);
    apir_write_u64(w, buft);
    apir_write_u64(w, size);
    hostile_end(w);
}

static void alloc_over_quota(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    alloc(w, c->buft, v ? 4096 : c->quota);
}

static void alloc_huge(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    alloc(w, c->buft, v ? 4096 : (uint64_t)1 << 62);
}

static void alloc_max(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    alloc(w, c->buft, v ? 4096 : UINT64_MAX);
}

static void alloc_zero(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    alloc(w, c->buft, v ? 4096 : 0);
}

static void set_threads(struct apir_writer *w, const struct hostile_ctx *c, uint32_t n)
{
    hostile_begin(w, APIR_CMD_STREAM_SET_THREADS);
    apir_write_u64(w, c->stream);
    apir_write_u32(w, n);
    hostile_end(w);
}

static void set_threads_zero(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    set_threads(w, c, v ? 1 : 0);
}

/* A thread count is a hint: capped to the host's cores, not refused (see `after`). */
static void set_threads_512(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    (void)v;
    set_threads(w, c, 512);
}

static void compute_on_stream(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    struct apir_wire_tensor t[3] = {f32(c, 0, 4096), f32(c, 16384, 4096), f32(c, 32768, 4096)};
    (void)v;
    t[2].op = GGML_OP_ADD;
    t[2].src[0] = 0, t[2].src[1] = 1;
    hostile_compute(w, c->stream, t, 3);
}

static void clear_value_wide(struct apir_writer *w, const struct hostile_ctx *c, int v)
{
    hostile_begin(w, APIR_CMD_BUFFER_CLEAR);
    apir_write_u64(w, c->buf);
    apir_write_u32(w, v ? 0 : 256);
    hostile_end(w);
}

#define T(n, k, ...)                                                                               \
    {                                                                                              \
        .name = #n, .klass = k, .build = n, __VA_ARGS__                                            \
    }

const struct hostile_entry hostile_data[] = {
    T(quant_nb0_set, "extent", .twin = true),
    T(quant_nb0_get, "extent", .twin = true),
    T(quant_nb0_memset, "extent", .twin = true),
    T(set_past_buffer, "extent", .twin = true),
    T(set_longer_than_tensor, "extent", .twin = true),
    T(set_offset_past_tensor, "extent", .twin = true),
    T(get_past_tensor, "extent", .twin = true),
    T(get_size_overflow, "extent", .twin = true),
    T(memset_past_tensor, "extent", .twin = true),
    T(memset_value_wide, "extent", .twin = true),
    T(copy_dst_past_buffer, "extent", .twin = true),
    T(copy_size_mismatch, "extent", .twin = true),
    T(copy_stride_mismatch, "extent", .twin = true),
    T(offset_overflow, "extent", .twin = true),
    T(stride_overflow, "extent", .twin = true),
    T(ne_negative, "extent", .twin = true),
    T(ne_product_overflow, "extent", .twin = true),
    T(ne0_not_block_multiple, "extent", .twin = true),
    T(type_out_of_range, "cve", .twin = true),
    T(type_removed, "cve", .twin = true),
    T(raw_pointer_read, "cve", .twin = true),
    T(raw_pointer_write, "cve", .twin = true),
    T(buffer_zero_set, "cve", .twin = true),
    T(buffer_zero_get, "cve", .twin = true),
    T(buffer_zero_offset_query, "cve", .twin = true),
    T(buffer_zero_src, "cve", .twin = true),
    T(buffer_zero_dst, "cve", .twin = true),
    T(zero_strides_huge, "resource", .twin = true),
    T(alloc_over_quota, "resource", .twin = true),
    T(alloc_huge, "resource", .twin = true),
    T(alloc_max, "resource", .twin = true),
    T(alloc_zero, "resource", .twin = true),
    T(set_threads_zero, "resource", .twin = true),
    T(set_threads_512, "resource", .accept = true, .after = compute_on_stream),
    T(clear_value_wide, "resource", .twin = true),
    {0},
};
