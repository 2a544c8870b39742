/* The encoders and decoders of src/proto/msg.h, expanded from the command table: one small
 * function per field kind, and per command a sequence of them in the table's field order. */
#include "msg.h"

#include "wire.h"

#include <string.h>

static void apir_msg_put_U32(struct apir_writer *w, uint32_t v, void **fill)
{
    (void)fill;
    apir_write_u32(w, v);
}

static void apir_msg_put_U64(struct apir_writer *w, uint64_t v, void **fill)
{
    (void)fill;
    apir_write_u64(w, v);
}

#define apir_msg_put_DEV apir_msg_put_U64
#define apir_msg_put_BUFT apir_msg_put_U64
#define apir_msg_put_BUFFER apir_msg_put_U64
#define apir_msg_put_STREAM apir_msg_put_U64
#define apir_msg_put_BUFFER_END apir_msg_put_U64
#define apir_msg_put_STREAM_END apir_msg_put_U64
#define apir_msg_put_NEW apir_msg_put_U64
#define apir_msg_put_REGION apir_msg_put_U32

static void apir_msg_put_STR(struct apir_writer *w, const char *v, void **fill)
{
    (void)fill;
    apir_write_str(w, v);
}

/* No data: the caller fills the reserved bytes itself (*fill). */
static void apir_msg_put_BYTES(struct apir_writer *w, struct apir_bytes v, void **fill)
{
    if (v.len > APIR_MAX_DATA_CHUNK) {
        w->err = true;
        return;
    }
    apir_write_u64(w, v.len);
    if (v.data)
        apir_write_raw(w, v.data, (size_t)v.len);
    else
        *fill = apir_write_reserve(w, (size_t)v.len);
}

static void apir_msg_put_TENSOR(struct apir_writer *w, const struct apir_wire_tensor *t,
                                void **fill)
{
    (void)fill;
    apir_wire_graph_encode_lone(w, t);
}

static void apir_msg_put_TENSOR_PAIR(struct apir_writer *w, const struct apir_wire_tensor *t,
                                     void **fill)
{
    static const int32_t nodes[2] = {0, 1};
    (void)fill;
    apir_wire_graph_encode(w, t, 2, nodes, 2);
}

static void apir_msg_put_OP(struct apir_writer *w, struct apir_graph_src g, void **fill)
{
    (void)fill;
    if (g.write)
        g.write(w, g.ctx);
    else
        apir_write_raw(w, g.bytes.data, (size_t)g.bytes.len);
}

#define apir_msg_put_GRAPH apir_msg_put_OP

static void apir_msg_put_BUFT_LIST(struct apir_writer *w, const struct apir_buft_list *l,
                                   void **fill)
{
    (void)fill;
    if (l->n > APIR_MAX_EXTRA_BUFTS) {
        w->err = true;
        return;
    }
    apir_write_u32(w, l->n);
    for (uint32_t i = 0; i < l->n; i++) {
        apir_write_u64(w, l->v[i].buft);
        apir_write_str(w, l->v[i].name);
        apir_write_u64(w, l->v[i].alignment);
        apir_write_u64(w, l->v[i].max_size);
        apir_write_u32(w, l->v[i].flags);
    }
}

#define APIR_F_PUT(kind, name) apir_msg_put_##kind(w, a->name, &fill);
// clang-format off
#define APIR_X_PUT(id, NAME, name, req, rep)                                                       \
    bool apir_req_##name##_put(struct apir_writer *w, const struct apir_req_##name *a)            \
    {                                                                                              \
        void *fill = NULL;                                                                         \
        (void)a;                                                                                   \
        req                                                                                        \
        (void)fill;                                                                                \
        return !w->err;                                                                            \
    }                                                                                              \
    void *apir_rep_##name##_put(struct apir_writer *w, const struct apir_rep_##name *a)           \
    {                                                                                              \
        void *fill = NULL;                                                                         \
        (void)a;                                                                                   \
        rep                                                                                        \
        return w->err ? NULL : fill;                                                               \
    }
// clang-format on
APIR_COMMANDS(APIR_X_PUT, APIR_F_PUT)
#undef APIR_X_PUT

static void apir_msg_get_U32(struct apir_reader *r, uint32_t *v)
{
    *v = apir_read_u32(r);
}

static void apir_msg_get_U64(struct apir_reader *r, uint64_t *v)
{
    *v = apir_read_u64(r);
}

#define apir_msg_get_NEW apir_msg_get_U64

static void apir_msg_get_STR(struct apir_reader *r, char (*v)[256])
{
    apir_read_str(r, *v, sizeof *v);
}

static void apir_msg_get_BYTES(struct apir_reader *r, struct apir_bytes *v)
{
    size_t n = 0;
    v->data = apir_read_blob(r, APIR_MAX_DATA_CHUNK, &n);
    v->len = n;
}

static void apir_msg_get_BUFT_LIST(struct apir_reader *r, struct apir_buft_list *l)
{
    l->n = apir_read_u32(r);
    if (l->n > APIR_MAX_EXTRA_BUFTS) {
        r->err = true;
        l->n = 0;
    }
    for (uint32_t i = 0; i < l->n; i++) {
        l->v[i].buft = apir_read_u64(r);
        apir_read_str(r, l->v[i].name, sizeof l->v[i].name);
        l->v[i].alignment = apir_read_u64(r);
        l->v[i].max_size = apir_read_u64(r);
        l->v[i].flags = apir_read_u32(r);
    }
}

#define APIR_F_GET(kind, name) apir_msg_get_##kind(&r, &out->name);
// clang-format off
#define APIR_X_GET(id, NAME, name, req, rep)                                                       \
    bool apir_rep_##name##_get(const void *payload, size_t len, struct apir_rep_##name##_in *out)  \
    {                                                                                              \
        struct apir_reader r;                                                                      \
        apir_reader_init(&r, payload, len);                                                        \
        memset(out, 0, sizeof *out);                                                               \
        rep                                                                                        \
        return apir_reader_done(&r);                                                               \
    }
// clang-format on
APIR_COMMANDS(APIR_X_GET, APIR_F_GET)
#undef APIR_X_GET

#define APIR_F_DESC(kind, name) {APIR_K_##kind, #name},
#define APIR_X_DESC(id, NAME, name, req, rep)                                                      \
    static const struct apir_field apir_req_fields_##name[] = {req{APIR_K_U32, NULL}};             \
    static const struct apir_field apir_rep_fields_##name[] = {rep{APIR_K_U32, NULL}};
APIR_COMMANDS(APIR_X_DESC, APIR_F_DESC)
#undef APIR_X_DESC

const struct apir_field *apir_msg_fields(uint32_t cmd, bool reply, size_t *n)
{
    const struct apir_field *f = NULL;
    switch (cmd) {
#define APIR_X_CASE(id, NAME, name, req, rep)                                                      \
    case id:                                                                                       \
        f = reply ? apir_rep_fields_##name : apir_req_fields_##name;                               \
        break;
        APIR_COMMANDS(APIR_X_CASE, APIR_F_NONE)
#undef APIR_X_CASE
    }
    *n = 0;
    while (f && f[*n].name)
        (*n)++;
    return f;
}

/* Per kind: its name in the field tables, and its wire form. */
static const struct {
    const char *name, *wire;
} apir_kinds[] = {
    [APIR_K_U32] = {"u32", "4 bytes"},
    [APIR_K_U64] = {"u64", "8 bytes"},
    [APIR_K_DEV] = {"device", "u64 handle of a device (else `APIR_E_HANDLE`)"},
    [APIR_K_BUFT] = {"buffer type", "u64 handle of a buffer type (else `APIR_E_HANDLE`)"},
    [APIR_K_BUFFER] = {"buffer", "u64 handle of a buffer (else `APIR_E_HANDLE`)"},
    [APIR_K_STREAM] = {"stream", "u64 handle of a stream (else `APIR_E_HANDLE`)"},
    [APIR_K_BUFFER_END] = {"buffer (ends)", "u64 handle of a buffer, invalid after the command"},
    [APIR_K_STREAM_END] = {"stream (ends)", "u64 handle of a stream, invalid after the command"},
    [APIR_K_REGION] = {"region", "u32 id of a region this session attached (else "
                                 "`APIR_E_HANDLE`)"},
    [APIR_K_NEW] = {"new handle", "u64 handle the host made"},
    [APIR_K_STR] = {"str", "u8 length, then that many bytes (no NUL)"},
    [APIR_K_BYTES] = {"bytes", "u64 length (at most `APIR_MAX_DATA_CHUNK`), then that many bytes"},
    [APIR_K_TENSOR] = {"tensor", "graph of 1 tensor, 1 node, in this session's buffers"},
    [APIR_K_TENSOR_PAIR] = {"tensor pair", "graph of 2 tensors (source, destination), both nodes, "
                                           "in this session's buffers"},
    [APIR_K_OP] = {"op", "graph of 1 node (the op, after its sources); data locations optional"},
    [APIR_K_GRAPH] = {"graph", "graph to compute"},
    [APIR_K_BUFT_LIST] = {"buffer-type list", "u32 n (at most `APIR_MAX_EXTRA_BUFTS`), then n x "
                                              "(new handle, str name, u64 alignment, u64 max size, "
                                              "u32 flags)"},
};

const char *apir_kind_name(enum apir_kind k)
{
    return (unsigned)k < sizeof apir_kinds / sizeof apir_kinds[0] ? apir_kinds[k].name : "?";
}

const char *apir_kind_wire(enum apir_kind k)
{
    return (unsigned)k < sizeof apir_kinds / sizeof apir_kinds[0] ? apir_kinds[k].wire : "?";
}
