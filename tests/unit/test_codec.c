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

/* Encodes t[0..n) with nodes[0..nn) and decodes it back into g: true when it decodes, exactly
 * (g is then the caller's to free). */
static bool graph_roundtrip(struct apir_writer *w, const struct apir_wire_tensor *t, uint32_t n,
                            const int32_t *nodes, uint32_t nn, struct apir_wire_graph *g)
{
    struct apir_reader r;
    apir_writer_reset(w);
    apir_wire_graph_encode(w, t, n, nodes, nn);
    apir_reader_init(&r, w->buf, w->len);
    if (w->err || !apir_wire_graph_decode(&r, g))
        return false;
    if (apir_reader_done(&r))
        return true;
    apir_wire_graph_free(g);
    return false;
}

/* The decoder's structural rules. The encoder writes whatever sources it is given, so it
 * frames the illegal tables too; only a count no encoder writes is written by hand. */
static void test_graph_structure(void)
{
    struct apir_writer w;
    apir_writer_init(&w, 1 << 20);
    struct apir_wire_tensor t[2];
    struct apir_wire_graph g;
    const int32_t both[2] = {0, 1}, second = 1, thrice[3] = {0, 0, 0};
    apir_wire_tensor_clear(&t[0]);
    t[0].ne[0] = t[0].ne[1] = t[0].ne[2] = t[0].ne[3] = 1;
    t[1] = t[0];
    t[1].src[0] = 2; /* refers to a later entry */
    CHECK(!graph_roundtrip(&w, t, 2, both, 2, &g));
    t[1] = t[0];
    t[1].view_src = 1; /* a view of itself is never legal */
    CHECK(!graph_roundtrip(&w, t, 2, &second, 1, &g));
    /* Same with a valid back-reference decodes. */
    t[1] = t[0];
    t[1].src[0] = 0;
    CHECK(graph_roundtrip(&w, t, 2, &second, 1, &g) && g.n_tensors == 2 &&
          g.tensors[1].src[0] == 0);
    apir_wire_graph_free(&g);
    /* A tensor naming itself as a source is legal (ggml_cast makes CPY with src[1] == itself);
     * a source after itself is not. */
    t[1].src[1] = 1;
    CHECK(graph_roundtrip(&w, t, 2, &second, 1, &g) && g.tensors[1].src[1] == 1);
    apir_wire_graph_free(&g);
    /* The same node more often than there are tensors: ggml_graph_add_node does not dedupe
     * (test-backend-ops perf adds one node 8192 times). Legal, so decoded. */
    CHECK(graph_roundtrip(&w, t, 1, thrice, 3, &g) && g.n_nodes == 3 && g.nodes[2] == 0);
    apir_wire_graph_free(&g);
    /* A tensor count larger than the payload could hold is refused before allocating. */
    struct apir_reader r;
    apir_writer_reset(&w);
    apir_write_u32(&w, 60000);
    apir_reader_init(&r, w.buf, w.len);
    CHECK(!apir_wire_graph_decode(&r, &g));
    apir_writer_free(&w);
}

/* Three tensors that differ everywhere the wire form has a field: 2 is ADD(0, 1), named. */
static void graph_sample(struct apir_wire_tensor t[3])
{
    for (int i = 0; i < 3; i++) {
        apir_wire_tensor_clear(&t[i]);
        t[i].type = 0;
        t[i].ne[0] = 16 + i, t[i].ne[1] = t[i].ne[2] = t[i].ne[3] = 1;
        t[i].nb[0] = 4, t[i].nb[1] = t[i].nb[2] = t[i].nb[3] = 4 * (uint64_t)t[i].ne[0];
        t[i].buffer = 0x1234000000500001ull;
        t[i].offset = 256u * (unsigned)i;
        t[i].op_params[0] = 7 + i;
    }
    t[1].view_src = 0, t[1].view_offs = 64;
    t[2].op = 2, t[2].flags = 1, t[2].src[0] = 0, t[2].src[1] = 1;
    memcpy(t[2].name, "sum", 4);
}

/* The graph form as the codec's primitives frame it (the hand-written framing the encoder
 * replaced everywhere): the reference the encoder's bytes must equal. */
static void graph_by_hand(struct apir_writer *w, const struct apir_wire_tensor *t, uint32_t n,
                          const int32_t *nodes, uint32_t nn)
{
    apir_write_u32(w, n);
    for (uint32_t i = 0; i < n; i++)
        apir_wire_tensor_encode(w, &t[i]);
    apir_write_u32(w, nn);
    for (uint32_t i = 0; i < nn; i++)
        apir_write_i32(w, nodes[i]);
}

static bool same_bytes(const struct apir_writer *a, const struct apir_writer *b)
{
    return !a->err && !b->err && a->len == b->len && memcmp(a->buf, b->buf, a->len) == 0;
}

/* Every form of the encoder writes the same bytes as the framing by hand, and decodes back to
 * the same tensors and nodes. */
static void test_graph_encode(void)
{
    struct apir_wire_tensor t[3];
    const int32_t nodes[3] = {2, 0, 2}, zero = 0;
    struct apir_writer w, ref;
    struct apir_reader r;
    struct apir_wire_graph g;
    graph_sample(t);
    apir_writer_init(&w, 1 << 20);
    apir_writer_init(&ref, 1 << 20);
    apir_wire_graph_encode(&w, t, 3, nodes, 3);
    graph_by_hand(&ref, t, 3, nodes, 3);
    CHECK(same_bytes(&w, &ref));
    apir_reader_init(&r, w.buf, w.len);
    CHECK(apir_wire_graph_decode(&r, &g) && apir_reader_done(&r));
    CHECK(g.n_tensors == 3 && g.n_nodes == 3 && memcmp(g.nodes, nodes, sizeof nodes) == 0);
    for (uint32_t i = 0; i < g.n_tensors; i++) {
        const struct apir_wire_tensor *a = &g.tensors[i], *b = &t[i];
        CHECK(a->op == b->op && a->flags == b->flags && a->ne[0] == b->ne[0] &&
              a->nb[1] == b->nb[1] && a->buffer == b->buffer && a->offset == b->offset &&
              a->view_src == b->view_src && a->view_offs == b->view_offs &&
              a->op_params[0] == b->op_params[0] && a->src[0] == b->src[0] &&
              a->src[1] == b->src[1] && a->src[2] == -1 && strcmp(a->name, b->name) == 0);
    }
    apir_wire_graph_free(&g);
    /* The lone form: the tensor as a table of one, node list {0}. */
    apir_writer_reset(&w), apir_writer_reset(&ref);
    apir_wire_graph_encode_lone(&w, &t[0]);
    graph_by_hand(&ref, t, 1, &zero, 1);
    CHECK(same_bytes(&w, &ref) && w.len > 12);
    uint32_t u;
    memcpy(&u, w.buf, 4);
    CHECK(u == 1);
    memcpy(&u, w.buf + w.len - 8, 4);
    CHECK(u == 1 && memcmp(w.buf + w.len - 4, &zero, 4) == 0);
    apir_writer_free(&w);
    apir_writer_free(&ref);
}

/* The incremental form behind a prefix (as a GRAPH_COMPUTE's stream handle): the counts are
 * patched at their offsets even though the buffer moved (3 tensors outgrow its first 256
 * bytes), and a tensor naming itself takes the index add is about to give. */
static void test_graph_encode_incremental(void)
{
    struct apir_wire_tensor t[3];
    const int32_t nodes[2] = {2, 1};
    struct apir_writer w, ref;
    struct apir_wire_graph_enc e;
    graph_sample(t);
    t[2].src[2] = 2; /* itself, as ggml_cast's CPY */
    apir_writer_init(&w, 1 << 20);
    apir_writer_init(&ref, 1 << 20);
    apir_write_u64(&w, 0xabcdull);
    apir_write_u64(&ref, 0xabcdull);
    apir_wire_graph_begin(&e, &w);
    CHECK(apir_wire_graph_add(&e, &t[0]) == 0 && apir_wire_graph_add(&e, &t[1]) == 1);
    CHECK(e.n_tensors == 2 && apir_wire_graph_add(&e, &t[2]) == 2);
    apir_wire_graph_node(&e, 2);
    apir_wire_graph_node(&e, 1);
    CHECK(apir_wire_graph_end(&e));
    graph_by_hand(&ref, t, 3, nodes, 2);
    CHECK(same_bytes(&w, &ref) && w.cap > 256);
    /* Misuse sets the writer's err: a node outside the table, a tensor after the nodes. */
    apir_writer_reset(&w);
    apir_wire_graph_begin(&e, &w);
    apir_wire_graph_add(&e, &t[0]);
    apir_wire_graph_node(&e, 1);
    CHECK(!apir_wire_graph_end(&e) && w.err);
    apir_writer_reset(&w);
    apir_wire_graph_begin(&e, &w);
    apir_wire_graph_add(&e, &t[0]);
    apir_wire_graph_node(&e, -1);
    CHECK(!apir_wire_graph_end(&e) && w.err);
    apir_writer_reset(&w);
    apir_wire_graph_begin(&e, &w);
    apir_wire_graph_add(&e, &t[0]);
    apir_wire_graph_node(&e, 0);
    apir_wire_graph_add(&e, &t[1]);
    CHECK(!apir_wire_graph_end(&e) && w.err);
    /* A writer that runs out of room: end reports it and patches nothing. */
    apir_writer_free(&w);
    apir_writer_init(&w, 100);
    apir_wire_graph_begin(&e, &w);
    apir_wire_graph_add(&e, &t[0]);
    CHECK(!apir_wire_graph_end(&e) && w.err);
    /* No node at all: the node list is an empty one, still written. */
    apir_writer_free(&w);
    apir_writer_init(&w, 1 << 20);
    apir_writer_reset(&ref);
    apir_wire_graph_begin(&e, &w);
    apir_wire_graph_add(&e, &t[0]);
    CHECK(apir_wire_graph_end(&e));
    graph_by_hand(&ref, t, 1, NULL, 0);
    CHECK(same_bytes(&w, &ref));
    apir_writer_free(&w);
    apir_writer_free(&ref);
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
    test_graph_encode();
    test_graph_encode_incremental();
    return apir_check_summary("codec");
}
