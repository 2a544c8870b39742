/* Framing, names, and the structural codec of wire tensors and graphs. */
#include "wire.h"

#include <stdlib.h>
#include <string.h>

const char *apir_cmd_name(uint32_t cmd)
{
    switch (cmd) {
#define APIR_X_NAME(id, NAME, name, req, rep)                                                      \
    case id:                                                                                       \
        return #NAME;
        APIR_COMMANDS(APIR_X_NAME, APIR_F_NONE)
#undef APIR_X_NAME
    }
    return "UNKNOWN";
}

const char *apir_status_str(int status)
{
    static const char *const names[] = {
        [APIR_OK] = "ok",
        [APIR_E_DECODE] = "malformed message",
        [APIR_E_UNKNOWN_CMD] = "unknown command",
        [APIR_E_HANDLE] = "invalid handle",
        [APIR_E_INVALID] = "invalid argument",
        [APIR_E_QUOTA] = "quota exceeded",
        [APIR_E_NOMEM] = "out of memory",
        [APIR_E_BACKEND] = "backend failure",
        [APIR_E_VERSION] = "protocol version mismatch",
        [APIR_E_TRANSPORT] = "transport failure",
        [APIR_E_UNSUPPORTED] = "unsupported",
        [APIR_E_STALE] = "no valid cached graph",
    };
    if (status < 0 || (size_t)status >= sizeof names / sizeof names[0] || !names[status])
        return "unknown status";
    return names[status];
}

static void apir_hdr_encode4(uint8_t out[APIR_HDR_SIZE], const uint32_t v[4])
{
    memcpy(out, v, APIR_HDR_SIZE);
}

void apir_req_hdr_encode(uint8_t out[APIR_HDR_SIZE], const struct apir_req_hdr *h)
{
    uint32_t v[4] = {h->magic, (uint32_t)h->cmd | ((uint32_t)h->flags << 16), h->seq, h->len};
    apir_hdr_encode4(out, v);
}

bool apir_req_hdr_decode(const uint8_t in[APIR_HDR_SIZE], struct apir_req_hdr *h)
{
    uint32_t v[4];
    memcpy(v, in, sizeof v);
    h->magic = v[0];
    h->cmd = (uint16_t)(v[1] & 0xffff);
    h->flags = (uint16_t)(v[1] >> 16);
    h->seq = v[2];
    h->len = v[3];
    return h->magic == APIR_MAGIC_REQ && h->len <= APIR_MAX_PAYLOAD;
}

void apir_rep_hdr_encode(uint8_t out[APIR_HDR_SIZE], const struct apir_rep_hdr *h)
{
    uint32_t v[4] = {h->magic, (uint32_t)h->status, h->seq, h->len};
    apir_hdr_encode4(out, v);
}

bool apir_rep_hdr_decode(const uint8_t in[APIR_HDR_SIZE], struct apir_rep_hdr *h)
{
    uint32_t v[4];
    memcpy(v, in, sizeof v);
    h->magic = v[0];
    h->status = (int32_t)v[1];
    h->seq = v[2];
    h->len = v[3];
    return h->magic == APIR_MAGIC_REP && h->len <= APIR_MAX_PAYLOAD;
}

void apir_wire_tensor_clear(struct apir_wire_tensor *t)
{
    memset(t, 0, sizeof *t);
    t->view_src = -1;
    for (unsigned i = 0; i < APIR_MAX_SRC; i++)
        t->src[i] = -1;
}

void apir_wire_tensor_encode(struct apir_writer *w, const struct apir_wire_tensor *t)
{
    apir_write_u32(w, t->type);
    apir_write_u32(w, t->op);
    apir_write_i32(w, t->flags);
    for (int i = 0; i < 4; i++)
        apir_write_i64(w, t->ne[i]);
    for (int i = 0; i < 4; i++)
        apir_write_u64(w, t->nb[i]);
    apir_write_raw(w, t->op_params, sizeof t->op_params);
    apir_write_u64(w, t->buffer);
    apir_write_u64(w, t->offset);
    apir_write_i32(w, t->view_src);
    apir_write_u64(w, t->view_offs);
    /* Only up to the last used source: most tensors have 0-2 sources. */
    uint8_t n_src = 0;
    for (unsigned i = 0; i < APIR_MAX_SRC; i++)
        if (t->src[i] >= 0)
            n_src = (uint8_t)(i + 1);
    apir_write_u8(w, n_src);
    for (unsigned i = 0; i < n_src; i++)
        apir_write_i32(w, t->src[i]);
    apir_write_str(w, t->name);
}

void apir_wire_tensor_decode(struct apir_reader *r, struct apir_wire_tensor *t, int32_t index)
{
    apir_wire_tensor_clear(t);
    t->type = apir_read_u32(r);
    t->op = apir_read_u32(r);
    t->flags = apir_read_i32(r);
    for (int i = 0; i < 4; i++)
        t->ne[i] = apir_read_i64(r);
    for (int i = 0; i < 4; i++)
        t->nb[i] = apir_read_u64(r);
    apir_read_raw(r, t->op_params, sizeof t->op_params);
    t->buffer = apir_read_u64(r);
    t->offset = apir_read_u64(r);
    t->view_src = apir_read_i32(r);
    t->view_offs = apir_read_u64(r);
    uint8_t n_src = apir_read_u8(r);
    if (n_src > APIR_MAX_SRC)
        r->err = true;
    for (unsigned i = 0; i < n_src && !r->err; i++)
        t->src[i] = apir_read_i32(r);
    apir_read_str(r, t->name, sizeof t->name);
    /* Earlier entries only: this makes every graph a DAG by construction. The one exception
     * is a tensor naming itself as a source, which ggml_cast does (a CPY whose src[1] is its
     * own destination); a self-loop is no cycle through other tensors. */
    if (t->view_src < -1 || t->view_src >= index)
        r->err = true;
    for (unsigned i = 0; i < APIR_MAX_SRC; i++)
        if (t->src[i] < -1 || t->src[i] > index)
            r->err = true;
}

bool apir_wire_graph_decode(struct apir_reader *r, struct apir_wire_graph *g)
{
    memset(g, 0, sizeof *g);
    uint32_t nt = apir_read_u32(r);
    /* Smallest encoded tensor is well over 64 bytes: reject counts the payload cannot hold
     * before allocating for them. */
    if (nt == 0 || nt > APIR_MAX_GRAPH_TENSORS || nt > apir_reader_left(r) / 64)
        r->err = true;
    if (r->err)
        return false;
    g->tensors = calloc(nt, sizeof *g->tensors);
    if (!g->tensors) {
        r->err = true;
        return false;
    }
    g->n_tensors = nt;
    for (uint32_t i = 0; i < nt && !r->err; i++)
        apir_wire_tensor_decode(r, &g->tensors[i], (int32_t)i);
    uint32_t nn = apir_read_u32(r);
    if (nn > APIR_MAX_GRAPH_NODES || nn > apir_reader_left(r) / 4)
        r->err = true;
    if (!r->err) {
        g->nodes = calloc(nn ? nn : 1, sizeof *g->nodes);
        if (!g->nodes)
            r->err = true;
        g->n_nodes = r->err ? 0 : nn;
    }
    for (uint32_t i = 0; i < g->n_nodes && !r->err; i++) {
        g->nodes[i] = apir_read_i32(r);
        if (g->nodes[i] < 0 || (uint32_t)g->nodes[i] >= nt)
            r->err = true;
    }
    if (r->err)
        apir_wire_graph_free(g);
    return !r->err;
}

void apir_wire_graph_free(struct apir_wire_graph *g)
{
    free(g->tensors);
    free(g->nodes);
    memset(g, 0, sizeof *g);
}

/* The counts go in as placeholders and are patched at the end: the guest learns how many
 * tensors a graph has only by walking it. */
static void apir_wire_graph_patch(struct apir_writer *w, size_t at, uint32_t v)
{
    memcpy(w->buf + at, &v, sizeof v);
}

void apir_wire_graph_begin(struct apir_wire_graph_enc *e, struct apir_writer *w)
{
    memset(e, 0, sizeof *e);
    e->w = w;
    e->tensors_at = w->len;
    apir_write_u32(w, 0);
}

int32_t apir_wire_graph_add(struct apir_wire_graph_enc *e, const struct apir_wire_tensor *t)
{
    if (e->nodes_at)
        e->w->err = true; /* the table is closed once the node list started */
    apir_wire_tensor_encode(e->w, t);
    return (int32_t)e->n_tensors++;
}

static void apir_wire_graph_start_nodes(struct apir_wire_graph_enc *e)
{
    if (e->nodes_at)
        return;
    e->nodes_at = e->w->len;
    apir_write_u32(e->w, 0);
}

void apir_wire_graph_node(struct apir_wire_graph_enc *e, int32_t index)
{
    apir_wire_graph_start_nodes(e);
    if (index < 0 || (uint32_t)index >= e->n_tensors)
        e->w->err = true;
    apir_write_i32(e->w, index);
    e->n_nodes++;
}

bool apir_wire_graph_end(struct apir_wire_graph_enc *e)
{
    apir_wire_graph_start_nodes(e);
    /* Sticky: without an error every reservation since begin succeeded, offsets included. */
    if (e->w->err)
        return false;
    apir_wire_graph_patch(e->w, e->tensors_at, e->n_tensors);
    apir_wire_graph_patch(e->w, e->nodes_at, e->n_nodes);
    return true;
}

void apir_wire_graph_encode(struct apir_writer *w, const struct apir_wire_tensor *t, uint32_t n,
                            const int32_t *nodes, uint32_t n_nodes)
{
    struct apir_wire_graph_enc e;
    apir_wire_graph_begin(&e, w);
    for (uint32_t i = 0; i < n; i++)
        apir_wire_graph_add(&e, &t[i]);
    for (uint32_t i = 0; i < n_nodes; i++)
        apir_wire_graph_node(&e, nodes[i]);
    apir_wire_graph_end(&e);
}

void apir_wire_graph_encode_lone(struct apir_writer *w, const struct apir_wire_tensor *t)
{
    const int32_t node = 0;
    apir_wire_graph_encode(w, t, 1, &node, 1);
}
