/* Codec and framing: truncated, oversized and trailing input, and the sticky-error contract. */
#include "check.h"
#include "proto/codec.h"
#include "proto/trace.h"
#include "proto/wire.h"

#include <string.h>

static void test_roundtrip(void)
{
    struct apir_writer w;
    apir_writer_init(&w, 1024);
    apir_write_u32(&w, 0xdeadbeef);
    apir_write_u64(&w, 0x0123456789abcdefull);
    apir_write_i32(&w, -7);
    apir_write_str(&w, "hello");
    apir_write_blob(&w, "xyz", 3);
    CHECK(!w.err);
    struct apir_reader r;
    char s[16];
    size_t n;
    apir_reader_init(&r, w.buf, w.len);
    CHECK(apir_read_u32(&r) == 0xdeadbeef);
    CHECK(apir_read_u64(&r) == 0x0123456789abcdefull);
    CHECK(apir_read_i32(&r) == -7);
    apir_read_str(&r, s, sizeof s);
    CHECK(strcmp(s, "hello") == 0);
    const char *b = apir_read_blob(&r, 16, &n);
    CHECK(b && n == 3 && memcmp(b, "xyz", 3) == 0);
    CHECK(apir_reader_done(&r));
    apir_writer_free(&w);
}

static void test_truncated(void)
{
    uint8_t buf[6] = {1, 2, 3, 4, 5, 6};
    struct apir_reader r;
    apir_reader_init(&r, buf, sizeof buf);
    CHECK(apir_read_u32(&r) == 0x04030201);
    CHECK(apir_read_u64(&r) == 0); /* only 2 bytes left: fails, yields zero */
    CHECK(r.err);
    /* Sticky: even a read that would fit now fails and yields zero. */
    CHECK(apir_read_u8(&r) == 0);
    CHECK(!apir_reader_done(&r));
    CHECK(apir_reader_left(&r) == 0);
}

static void test_trailing(void)
{
    uint8_t buf[5] = {1, 0, 0, 0, 9};
    struct apir_reader r;
    apir_reader_init(&r, buf, sizeof buf);
    CHECK(apir_read_u32(&r) == 1);
    CHECK(!r.err);
    CHECK(!apir_reader_done(&r)); /* one byte left over: the request does not decode exactly */
}

static void test_oversized(void)
{
    /* A blob that claims more than its cap, and one that claims more than the message holds. */
    struct apir_writer w;
    apir_writer_init(&w, 64);
    apir_write_u64(&w, 1000);
    apir_write_raw(&w, "abcd", 4);
    struct apir_reader r;
    size_t n = 123;
    apir_reader_init(&r, w.buf, w.len);
    CHECK(apir_read_blob(&r, 100, &n) == NULL && n == 0 && r.err);
    apir_reader_init(&r, w.buf, w.len);
    CHECK(apir_read_blob(&r, 1u << 20, &n) == NULL && r.err);
    /* Huge length that would wrap pointer arithmetic. */
    apir_writer_reset(&w);
    apir_write_u64(&w, UINT64_MAX);
    apir_reader_init(&r, w.buf, w.len);
    CHECK(apir_read_blob(&r, SIZE_MAX, &n) == NULL && r.err);
    /* String of 255 into a small buffer. */
    apir_writer_reset(&w);
    apir_write_str(&w, "a long string that does not fit");
    char s[8] = "zzzzzzz";
    apir_reader_init(&r, w.buf, w.len);
    apir_read_str(&r, s, sizeof s);
    CHECK(r.err && s[0] == '\0');
    /* Writer over its cap: sticky error, nothing past the cap. */
    apir_writer_reset(&w);
    apir_write_raw(&w, s, 8);
    for (int i = 0; i < 20; i++)
        apir_write_u64(&w, 1);
    CHECK(w.err && w.len <= 64);
    apir_writer_free(&w);
}

static void test_failed_reads_zero(void)
{
    struct apir_reader r;
    apir_reader_init(&r, NULL, 0);
    uint8_t raw[8];
    memset(raw, 0xaa, sizeof raw);
    apir_read_raw(&r, raw, sizeof raw);
    CHECK(r.err);
    CHECK(raw[0] == 0 && raw[7] == 0);
    CHECK(apir_read_i64(&r) == 0);
    CHECK(apir_read_view(&r, 1) == NULL);
}

/* Empty messages: no payload (NULL, 0) and a writer that has not grown yet. Arithmetic on a
 * null pointer, even "+ 0", is undefined in C: make test-asan (UBSan) fails here if the codec
 * does any, which a normal build cannot see. */
static void test_empty(void)
{
    struct apir_reader r;
    apir_reader_init(&r, NULL, 0);
    CHECK(!r.err && apir_reader_left(&r) == 0);
    apir_read_raw(&r, NULL, 0);
    CHECK(apir_read_view(&r, 0) != NULL && !r.err);
    CHECK(apir_reader_done(&r));
    apir_reader_init(&r, NULL, 4);
    CHECK(r.err && apir_reader_left(&r) == 0);

    struct apir_writer w;
    apir_writer_init(&w, 64);
    CHECK(apir_write_reserve(&w, 0) != NULL && !w.err && w.len == 0);
    apir_write_raw(&w, NULL, 0);
    CHECK(!w.err && w.len == 0);
    apir_writer_free(&w);
}

static void test_header(void)
{
    uint8_t b[APIR_HDR_SIZE];
    struct apir_req_hdr h = {APIR_MAGIC_REQ, 19, 0, 77, 1234}, d;
    apir_req_hdr_encode(b, &h);
    CHECK(apir_req_hdr_decode(b, &d) && d.cmd == 19 && d.seq == 77 && d.len == 1234);
    h.len = APIR_MAX_PAYLOAD + 1;
    apir_req_hdr_encode(b, &h);
    CHECK(!apir_req_hdr_decode(b, &d));
    h.len = 0;
    h.magic = APIR_MAGIC_REP;
    apir_req_hdr_encode(b, &h);
    CHECK(!apir_req_hdr_decode(b, &d)); /* a reply header is not a request */
}

static void test_graph_structure(void)
{
    struct apir_writer w;
    apir_writer_init(&w, 1 << 20);
    struct apir_wire_tensor t;
    struct apir_reader r;
    struct apir_wire_graph g;
    apir_wire_tensor_clear(&t);
    t.ne[0] = t.ne[1] = t.ne[2] = t.ne[3] = 1;
    apir_write_u32(&w, 2);
    apir_wire_tensor_encode(&w, &t);
    t.src[0] = 2; /* refers to a later entry */
    apir_wire_tensor_encode(&w, &t);
    t.src[0] = -1;
    apir_write_u32(&w, 2);
    apir_write_i32(&w, 0);
    apir_write_i32(&w, 1);
    apir_reader_init(&r, w.buf, w.len);
    CHECK(!apir_wire_graph_decode(&r, &g));
    apir_writer_reset(&w);
    apir_write_u32(&w, 2);
    apir_wire_tensor_encode(&w, &t);
    t.view_src = 1; /* a view of itself is never legal */
    apir_wire_tensor_encode(&w, &t);
    apir_write_u32(&w, 1);
    apir_write_i32(&w, 1);
    apir_reader_init(&r, w.buf, w.len);
    CHECK(!apir_wire_graph_decode(&r, &g));
    t.view_src = -1;
    /* Same with a valid back-reference decodes. */
    apir_writer_reset(&w);
    apir_write_u32(&w, 2);
    t.src[0] = -1;
    apir_wire_tensor_encode(&w, &t);
    t.src[0] = 0;
    apir_wire_tensor_encode(&w, &t);
    apir_write_u32(&w, 1);
    apir_write_i32(&w, 1);
    apir_reader_init(&r, w.buf, w.len);
    CHECK(apir_wire_graph_decode(&r, &g) && g.n_tensors == 2 && g.tensors[1].src[0] == 0);
    CHECK(apir_reader_done(&r));
    apir_wire_graph_free(&g);
    /* A tensor naming itself as a source is legal (ggml_cast makes CPY with src[1] == itself);
     * a source after itself is not. */
    apir_writer_reset(&w);
    apir_write_u32(&w, 2);
    t.src[0] = -1;
    apir_wire_tensor_encode(&w, &t);
    t.src[0] = 0;
    t.src[1] = 1;
    apir_wire_tensor_encode(&w, &t);
    apir_write_u32(&w, 1);
    apir_write_i32(&w, 1);
    apir_reader_init(&r, w.buf, w.len);
    CHECK(apir_wire_graph_decode(&r, &g) && g.tensors[1].src[1] == 1);
    apir_wire_graph_free(&g);
    t.src[1] = -1;
    /* The same node more often than there are tensors: ggml_graph_add_node does not dedupe
     * (test-backend-ops perf adds one node 8192 times). Legal, so decoded. */
    apir_writer_reset(&w);
    apir_write_u32(&w, 1);
    t.src[0] = -1;
    apir_wire_tensor_encode(&w, &t);
    apir_write_u32(&w, 3);
    for (int i = 0; i < 3; i++)
        apir_write_i32(&w, 0);
    apir_reader_init(&r, w.buf, w.len);
    CHECK(apir_wire_graph_decode(&r, &g) && g.n_nodes == 3 && g.nodes[2] == 0);
    apir_wire_graph_free(&g);
    /* A tensor count larger than the payload could hold is refused before allocating. */
    apir_writer_reset(&w);
    apir_write_u32(&w, 60000);
    apir_reader_init(&r, w.buf, w.len);
    CHECK(!apir_wire_graph_decode(&r, &g));
    apir_writer_free(&w);
}

/* Trace references (src/proto/trace.h): handles at any byte offset become references and
 * come back as the replaying session's own handles; other bytes are untouched. */
static void test_trace_refs(void)
{
    const uint64_t rec[2] = {0x1234000000500001ull, 0x1234000000600002ull};
    const uint64_t rep[2] = {0x9999000000700001ull, 0x9999000000800002ull};
    uint8_t p[29], orig[29];
    for (size_t i = 0; i < sizeof p; i++)
        p[i] = (uint8_t)(0x30 + i);
    memcpy(p + 3, &rec[1], 8); /* unaligned, little-endian as on the wire (x86/arm hosts) */
    memcpy(p + 17, &rec[0], 8);
    memcpy(orig, p, sizeof p);
    apir_trace_to_refs(p, sizeof p, rec, 2);
    uint64_t v;
    memcpy(&v, p + 3, 8);
    CHECK(v == APIR_TRACE_REF_BASE + 1);
    memcpy(&v, p + 17, 8);
    CHECK(v == APIR_TRACE_REF_BASE + 0);
    CHECK(memcmp(p, orig, 3) == 0 && memcmp(p + 11, orig + 11, 6) == 0 && p[25] == orig[25]);
    apir_trace_from_refs(p, sizeof p, rep, 2);
    memcpy(&v, p + 3, 8);
    CHECK(v == rep[1]);
    memcpy(&v, p + 17, 8);
    CHECK(v == rep[0]);
    /* A reference beyond the handles the replay has seen stays as it is (refused later). */
    uint64_t ref = APIR_TRACE_REF_BASE + 5;
    memcpy(p, &ref, 8);
    apir_trace_from_refs(p, 8, rep, 2);
    memcpy(&v, p, 8);
    CHECK(v == ref);
    uint8_t reply[24] = {0};
    uint64_t h[2];
    memcpy(reply, &rep[0], 8), memcpy(reply + 8, &rep[1], 8);
    CHECK(apir_trace_reply_handles(APIR_CMD_DEVICE_INFO, reply, sizeof reply, h) == 2 &&
          h[0] == rep[0] && h[1] == rep[1]);
    CHECK(apir_trace_reply_handles(APIR_CMD_STREAM_NEW, reply, 8, h) == 1 && h[0] == rep[0]);
    CHECK(apir_trace_reply_handles(APIR_CMD_STREAM_NEW, reply, 7, h) == 0);
    CHECK(apir_trace_reply_handles(APIR_CMD_TENSOR_GET, reply, 24, h) == 0);
}

int main(void)
{
    test_trace_refs();
    test_roundtrip();
    test_truncated();
    test_trailing();
    test_oversized();
    test_failed_reads_zero();
    test_empty();
    test_header();
    test_graph_structure();
    return apir_check_summary("codec");
}
