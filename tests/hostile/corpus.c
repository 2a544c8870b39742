/* The corpus runner: session setup, each entry (twin, hostile request, follow-up), and the
 * message helpers the entry tables build with. */
#include "corpus.h"

#include "proto/msg.h"

#include <ggml.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void hostile_begin(struct apir_writer *w, uint16_t cmd)
{
    apir_writer_reset(w);
    uint8_t *h = apir_write_reserve(w, APIR_HDR_SIZE);
    struct apir_req_hdr hdr = {APIR_MAGIC_REQ, cmd, 0, 1, 0};
    if (h)
        apir_req_hdr_encode(h, &hdr);
}

void hostile_end(struct apir_writer *w)
{
    struct apir_req_hdr hdr;
    if (w->len < APIR_HDR_SIZE)
        return;
    apir_req_hdr_decode(w->buf, &hdr);
    hdr.magic = APIR_MAGIC_REQ;
    hdr.len = (uint32_t)(w->len - APIR_HDR_SIZE);
    apir_req_hdr_encode(w->buf, &hdr);
}

struct apir_wire_tensor hostile_tensor(uint32_t type, uint64_t buffer, uint64_t offset, int64_t n0,
                                       int64_t n1, int64_t n2, int64_t n3)
{
    struct apir_wire_tensor t;
    apir_wire_tensor_clear(&t);
    t.type = type;
    t.ne[0] = n0, t.ne[1] = n1, t.ne[2] = n2, t.ne[3] = n3;
    t.nb[0] = ggml_type_size((enum ggml_type)type);
    t.nb[1] = t.nb[0] * (uint64_t)(n0 / ggml_blck_size((enum ggml_type)type));
    t.nb[2] = t.nb[1] * (uint64_t)n1;
    t.nb[3] = t.nb[2] * (uint64_t)n2;
    t.buffer = buffer;
    t.offset = offset;
    return t;
}

uint64_t hostile_nbytes(const struct apir_wire_tensor *t)
{
    return t->nb[3] * (uint64_t)t->ne[3];
}

/* hostile_compute's graph: t[0..n) as the table, every tensor with an op a node. */
struct hostile_graph {
    const struct apir_wire_tensor *t;
    uint32_t n;
};

static void hostile_write_graph(struct apir_writer *w, const void *ctx)
{
    const struct hostile_graph *g = ctx;
    struct apir_wire_graph_enc e;
    apir_wire_graph_begin(&e, w);
    for (uint32_t i = 0; i < g->n; i++)
        apir_wire_graph_add(&e, &g->t[i]);
    for (uint32_t i = 0; i < g->n; i++)
        if (g->t[i].op != GGML_OP_NONE)
            apir_wire_graph_node(&e, (int32_t)i);
    apir_wire_graph_end(&e);
}

void hostile_compute(struct apir_writer *w, uint64_t stream, struct apir_wire_tensor *t, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (t[i].op != GGML_OP_NONE)
            t[i].flags |= GGML_TENSOR_FLAG_COMPUTE;
    const struct hostile_graph g = {.t = t, .n = n};
    const struct apir_req_graph_compute req = {.stream = stream,
                                               .graph = {.write = hostile_write_graph, .ctx = &g}};
    hostile_begin(w, APIR_CMD_GRAPH_COMPUTE);
    apir_req_graph_compute_put(w, &req);
    hostile_end(w);
}

void hostile_tensor_copy(struct apir_writer *w, const struct apir_wire_tensor *src,
                         const struct apir_wire_tensor *dst)
{
    const struct apir_wire_tensor pair[2] = {*src, *dst};
    const struct apir_req_tensor_copy req = {.tensors = pair};
    hostile_begin(w, APIR_CMD_TENSOR_COPY);
    apir_req_tensor_copy_put(w, &req);
    hostile_end(w);
}

void hostile_tensor_set(struct apir_writer *w, const struct apir_wire_tensor *t, uint64_t offset,
                        const void *data, size_t len)
{
    const struct apir_req_tensor_set req = {
        .tensor = t, .offset = offset, .data = {.data = data, .len = len}};
    hostile_begin(w, APIR_CMD_TENSOR_SET);
    apir_req_tensor_set_put(w, &req);
    hostile_end(w);
}

/* A whole TENSOR_GET message: size bytes of t from offset on. */
static void hostile_tensor_get(struct apir_writer *w, const struct apir_wire_tensor *t,
                               uint64_t offset, uint64_t size)
{
    const struct apir_req_tensor_get req = {.tensor = t, .offset = offset, .size = size};
    hostile_begin(w, APIR_CMD_TENSOR_GET);
    apir_req_tensor_get_put(w, &req);
    hostile_end(w);
}

/* The runner's own requests (hw) and the entries' (ew): one writer each, reused. */
static struct apir_writer hw, ew;

/* A whole request of command NAME into w, its payload written by the command table's encoder
 * from the designated initializers given. */
#define HOSTILE_REQ(w, NAME, name, ...)                                                            \
    do {                                                                                           \
        hostile_begin(w, APIR_CMD_##NAME);                                                         \
        apir_req_##name##_put(w, &(const struct apir_req_##name){__VA_ARGS__});                    \
        hostile_end(w);                                                                            \
    } while (0)

/* Decodes the reply payload a link left in r, exactly, with the table's decoder. */
#define HOSTILE_REP(name, r, out) apir_rep_##name##_get((r)->cur, apir_reader_left(r), out)

static int hostile_send(struct hostile_link *l, struct apir_reader *r)
{
    return l->call(l, hw.buf, hw.len, r);
}

static uint64_t hostile_alloc(struct hostile_link *l, uint64_t buft, uint64_t size)
{
    struct apir_reader r;
    struct apir_rep_buffer_alloc_in rep;
    HOSTILE_REQ(&hw, BUFFER_ALLOC, buffer_alloc, .buft = buft, .size = size);
    bool ok = hostile_send(l, &r) == APIR_OK && HOSTILE_REP(buffer_alloc, &r, &rep);
    return ok ? rep.buffer : 0;
}

static uint64_t hostile_new_stream(struct hostile_link *l, uint64_t dev)
{
    struct apir_reader r;
    struct apir_rep_stream_new_in rep;
    HOSTILE_REQ(&hw, STREAM_NEW, stream_new, .dev = dev);
    bool ok = hostile_send(l, &r) == APIR_OK && HOSTILE_REP(stream_new, &r, &rep);
    return ok ? rep.stream : 0;
}

/* A GRAPH_COMPUTE built in hw: status OK and ggml status 0. */
static bool hostile_compute_ok(struct hostile_link *l)
{
    struct apir_reader r;
    struct apir_rep_graph_compute_in rep;
    return hostile_send(l, &r) == APIR_OK && HOSTILE_REP(graph_compute, &r, &rep) &&
           rep.ggml_status == 0;
}

/* out = a + b over 16 floats: a at off, b at off + 256, out at off + 512. */
static void hostile_add_graph(struct apir_writer *w, uint64_t stream, uint64_t buf, uint64_t off)
{
    struct apir_wire_tensor t[3] = {
        hostile_tensor(GGML_TYPE_F32, buf, off, 16, 1, 1, 1),
        hostile_tensor(GGML_TYPE_F32, buf, off + 256, 16, 1, 1, 1),
        hostile_tensor(GGML_TYPE_F32, buf, off + 512, 16, 1, 1, 1),
    };
    t[2].op = GGML_OP_ADD;
    t[2].src[0] = 0, t[2].src[1] = 1;
    hostile_compute(w, stream, t, 3);
}

/* A stream whose cached graph named a buffer that is gone: GRAPH_RECOMPUTE must be refused. */
static bool hostile_setup_stale(struct hostile_link *l, struct hostile_ctx *c)
{
    struct apir_reader r;
    uint64_t scratch = hostile_alloc(l, c->buft, 4096);
    c->stale_stream = hostile_new_stream(l, c->dev);
    if (!scratch || !c->stale_stream)
        return false;
    hostile_add_graph(&hw, c->stale_stream, scratch, 0);
    if (!hostile_compute_ok(l))
        return false;
    c->freed_buf = scratch;
    HOSTILE_REQ(&hw, BUFFER_FREE, buffer_free, .buffer = scratch);
    return hostile_send(l, &r) == APIR_OK;
}

/* A buffer of HOSTILE_RBUF_SIZE bytes over the region from offset on, or 0. */
static uint64_t hostile_region_buffer(struct hostile_link *l, const struct hostile_ctx *c,
                                      uint64_t offset)
{
    struct apir_reader r;
    struct apir_rep_buffer_from_region_in rep;
    HOSTILE_REQ(&hw, BUFFER_FROM_REGION, buffer_from_region, .dev = c->dev, .region = c->region,
                .offset = offset, .size = HOSTILE_RBUF_SIZE);
    bool ok = hostile_send(l, &r) == APIR_OK && HOSTILE_REP(buffer_from_region, &r, &rep);
    return ok ? rep.buffer : 0;
}

static bool hostile_setup_region(struct hostile_link *l, struct hostile_ctx *c)
{
    c->region = HOSTILE_REGION_ID;
    if (l->attach_region(l, c->region, HOSTILE_REGION_SIZE) != APIR_OK)
        return false;
    c->rbuf = hostile_region_buffer(l, c, 0);
    if (!c->rbuf)
        return false;
    /* A second buffer over the same region bytes, from HOSTILE_RBUF2_OFF on. */
    c->rbuf2 = hostile_region_buffer(l, c, HOSTILE_RBUF2_OFF);
    return c->rbuf2 != 0;
}

/* HELLO and the objects entries aim at. */
static bool hostile_setup(struct hostile_link *l, struct hostile_ctx *c)
{
    struct apir_reader r;
    struct apir_rep_device_info_in info;
    uint64_t other = c->other_buf;
    memset(c, 0, sizeof *c);
    c->other_buf = other;
    c->quota = l->quota;
    HOSTILE_REQ(&hw, HELLO, hello, .major = APIR_PROTO_MAJOR, .minor = APIR_PROTO_MINOR,
                .features = APIR_FEAT_REGIONS | APIR_FEAT_GRAPH_CACHE);
    if (hostile_send(l, &r) != APIR_OK)
        return false;
    HOSTILE_REQ(&hw, DEVICE_INFO, device_info, .index = 0);
    if (hostile_send(l, &r) != APIR_OK || !HOSTILE_REP(device_info, &r, &info))
        return false;
    c->dev = info.dev;
    c->buft = info.buft;
    c->buf = hostile_alloc(l, c->buft, HOSTILE_BUF_SIZE);
    c->stream = hostile_new_stream(l, c->dev);
    c->ok_stream = hostile_new_stream(l, c->dev);
    c->freed_stream = hostile_new_stream(l, c->dev);
    if (!c->buf || !c->stream || !c->ok_stream || !c->freed_stream)
        return false;
    HOSTILE_REQ(&hw, STREAM_FREE, stream_free, .stream = c->freed_stream);
    if (hostile_send(l, &r) != APIR_OK)
        return false;
    return hostile_setup_stale(l, c) && hostile_setup_region(l, c);
}

static int hostile_clear(struct hostile_link *l, const struct hostile_ctx *c)
{
    struct apir_reader r;
    HOSTILE_REQ(&hw, BUFFER_CLEAR, buffer_clear, .buffer = c->buf, .value = 0);
    return hostile_send(l, &r);
}

/* The session still serves: a + b computed right, with values unique to this entry (a stale
 * result from an earlier follow-up cannot pass). */
static const char *hostile_follow_up(struct hostile_link *l, const struct hostile_ctx *c,
                                     unsigned seed)
{
    struct apir_reader r;
    float a[16], b[16];
    for (int i = 0; i < 16; i++) {
        a[i] = (float)(seed * 16 + (unsigned)i);
        b[i] = 0.5f - (float)i;
    }
    const uint64_t off = HOSTILE_FOLLOW_OFF;
    struct apir_wire_tensor ta = hostile_tensor(GGML_TYPE_F32, c->buf, off, 16, 1, 1, 1);
    struct apir_wire_tensor tb = ta, tc = ta;
    tb.offset = off + 256, tc.offset = off + 512;
    hostile_tensor_set(&hw, &ta, 0, a, sizeof a);
    if (hostile_send(l, &r) != APIR_OK)
        return "follow-up TENSOR_SET refused";
    hostile_tensor_set(&hw, &tb, 0, b, sizeof b);
    if (hostile_send(l, &r) != APIR_OK)
        return "follow-up TENSOR_SET refused";
    hostile_add_graph(&hw, c->ok_stream, c->buf, off);
    if (!hostile_compute_ok(l))
        return "follow-up ADD refused or failed";
    hostile_tensor_get(&hw, &tc, 0, sizeof a);
    struct apir_rep_tensor_get_in got;
    if (hostile_send(l, &r) != APIR_OK || !HOSTILE_REP(tensor_get, &r, &got) ||
        got.data.len != sizeof a)
        return "follow-up TENSOR_GET refused";
    const float *p = got.data.data;
    for (int i = 0; i < 16; i++)
        if (p[i] != a[i] + b[i])
            return "follow-up ADD computed a wrong value";
    return NULL;
}

static const char *hostile_status_name(int st)
{
    return st == HOSTILE_CLOSED ? "session ended"
           : st == HOSTILE_HUNG ? "no reply (hang)"
                                : apir_status_str(st);
}

/* A request that must succeed: status OK and, for a compute, ggml status 0. */
static bool hostile_must_pass(struct hostile_link *l, struct apir_writer *w, int *st)
{
    struct apir_reader r;
    struct apir_rep_graph_compute_in rep;
    uint16_t cmd = w->len >= 8 ? (uint16_t)(w->buf[4] | w->buf[5] << 8) : 0;
    *st = l->call(l, w->buf, w->len, &r);
    return *st == APIR_OK && (cmd != APIR_CMD_GRAPH_COMPUTE ||
                              (HOSTILE_REP(graph_compute, &r, &rep) && rep.ggml_status == 0));
}

/* Runs the twin (when given), then the hostile request; NULL or why the entry failed. The
 * hostile status is left in *st. */
static const char *hostile_strike(struct hostile_link *l, const struct hostile_ctx *c,
                                  const struct hostile_entry *e, int *st)
{
    static char why[160];
    for (int variant = e->twin ? 1 : 0; variant >= 0; variant--) {
        const char *what = variant ? "honest twin" : "hostile request";
        if (e->prep) {
            e->prep(&ew, c, variant);
            if (!hostile_must_pass(l, &ew, st)) {
                snprintf(why, sizeof why, "%s: its preparation got %s", what,
                         hostile_status_name(*st));
                return why;
            }
        }
        e->build(&ew, c, variant);
        if (variant) {
            if (!hostile_must_pass(l, &ew, st)) {
                snprintf(why, sizeof why, "honest twin refused: %s", hostile_status_name(*st));
                return why;
            }
            if (hostile_clear(l, c) != APIR_OK)
                return "buffer clear after the twin refused";
            continue;
        }
        struct apir_reader r;
        *st = l->call(l, ew.buf, ew.len, &r);
    }
    bool closed_ok = e->framing && l->stream && *st == HOSTILE_CLOSED;
    if (e->accept ? *st == APIR_OK : (*st > 0 || closed_ok))
        return NULL;
    snprintf(why, sizeof why, "expected %s, got %s", e->accept ? "ok (capped)" : "an error reply",
             hostile_status_name(*st));
    return why;
}

static const struct hostile_entry *const hostile_tables[] = {
    hostile_framing, hostile_data,  hostile_handles, hostile_ops,
    hostile_overlap, hostile_index, hostile_kernels, NULL};

/* One entry: strike, then check the session (or a fresh one) still serves. */
static bool hostile_run_one(struct hostile_link *l, struct hostile_ctx *c,
                            const struct hostile_entry *e, unsigned seed)
{
    int st = APIR_OK;
    const char *why = hostile_clear(l, c) == APIR_OK ? NULL : "session unusable before the entry";
    int threads = l->threads(l);
    if (!why)
        why = hostile_strike(l, c, e, &st);
    bool fresh = st == HOSTILE_CLOSED || st == HOSTILE_HUNG || (e->framing && l->stream);
    if (fresh && !(l->reopen(l) && hostile_setup(l, c)))
        why = why ? why : "no fresh session after the entry";
    const char *follow = hostile_follow_up(l, c, seed);
    if (!why && follow)
        why = follow;
    /* A capped request runs (after: a compute on the stream it named) with no more threads
     * than the host has cores. */
    if (!why && e->after) {
        e->after(&hw, c, 0);
        if (!hostile_must_pass(l, &hw, &st))
            why = "the request after it was refused";
        else if (threads >= 0 && l->threads(l) > threads + (int)sysconf(_SC_NPROCESSORS_ONLN))
            why = "the host started more threads than it has cores";
    }
    if (why)
        printf("FAIL %s [%s]: %s\n", e->name, e->klass, why);
    else
        printf("ok %s [%s]: %s%s\n", e->name, e->klass, hostile_status_name(st),
               fresh ? ", fresh session served" : ", same session served");
    return !why;
}

int hostile_run(struct hostile_link *l, struct hostile_link *other, unsigned min_entries)
{
    struct hostile_ctx c = {0}, oc = {0};
    apir_writer_init(&hw, 1u << 20);
    apir_writer_init(&ew, APIR_HDR_SIZE + APIR_MAX_PAYLOAD + 64);
    if (!hostile_setup(other, &oc) || !hostile_setup(l, &c)) {
        printf("FAIL setup: the sessions could not be prepared\n");
        apir_writer_free(&hw);
        apir_writer_free(&ew);
        return 1;
    }
    c.other_buf = oc.buf;
    unsigned n = 0, failed = 0, refused = 0;
    for (unsigned k = 0; hostile_tables[k]; k++) {
        for (const struct hostile_entry *e = hostile_tables[k]; e->name; e++) {
            n++;
            refused += !e->accept;
            failed += !hostile_run_one(l, &c, e, n);
        }
    }
    apir_writer_free(&hw);
    apir_writer_free(&ew);
    printf("hostile corpus: %u entries (%u refused, %u capped), %u failed\n", n, refused,
           n - refused, failed);
    if (refused < min_entries) {
        printf("FAIL: fewer than %u hostile entries\n", min_entries);
        return 1;
    }
    return failed ? 1 : 0;
}
