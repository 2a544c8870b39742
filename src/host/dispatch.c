/* The dispatcher: every command's prologue, expanded from the command table. Before a handler
 * runs, its request is decoded field by field (a graph also validated), checked to have no
 * byte left over, its handles looked up by type and its tensors rebuilt; afterwards whatever
 * the prologue made is released. Errors keep that order: APIR_E_DECODE (or a graph's own
 * verdict) before APIR_E_HANDLE before anything a rebuild or the handler finds. */
#include "internal.h"

#include <string.h>

enum apir_phase { APIR_PH_DECODE, APIR_PH_RESOLVE, APIR_PH_BUILD, APIR_PH_FREE };

struct apir_args_ctx {
    struct apir_session *s;
    struct apir_reader *r;
    enum apir_phase ph;
    bool bad_handle;                 /* a handle that did not resolve: APIR_E_HANDLE */
    struct apir_host_stream *stream; /* the request's stream, for GRAPH */
};

/* Each kind: (context, the field as sent, the field as the handler gets it, the status so far).
 * Until FREE, a kind does nothing once the status is an error. */
static enum apir_status apir_arg_U32(struct apir_args_ctx *c, const uint32_t *raw, uint32_t *v,
                                     enum apir_status st)
{
    (void)raw;
    if (c->ph == APIR_PH_DECODE && st == APIR_OK)
        *v = apir_read_u32(c->r);
    return st;
}

static enum apir_status apir_arg_U64(struct apir_args_ctx *c, const uint64_t *raw, uint64_t *v,
                                     enum apir_status st)
{
    (void)raw;
    if (c->ph == APIR_PH_DECODE && st == APIR_OK)
        *v = apir_read_u64(c->r);
    return st;
}

/* A handle: read and looked up as sent (a lookup changes nothing), refused once the whole
 * request has decoded. One that ends with the command leaves the table only then. */
static enum apir_status apir_arg_handle(struct apir_args_ctx *c, uint64_t *raw, void **v,
                                        enum apir_obj_type type, bool end, enum apir_status st)
{
    if (st != APIR_OK)
        return st;
    struct apir_handle_table *t = &c->s->handles;
    if (c->ph == APIR_PH_DECODE) {
        *raw = apir_read_u64(c->r);
        *v = apir_handles_get(t, *raw, type);
        c->bad_handle |= !*v;
        if (type == APIR_OBJ_STREAM)
            c->stream = *v;
    } else if (c->ph == APIR_PH_RESOLVE) {
        if (c->bad_handle)
            return APIR_E_HANDLE;
        if (end)
            *v = apir_handles_remove(t, *raw, type);
    }
    return st;
}

#define APIR_ARG_HANDLE(kind, ctype, type, end)                                                    \
    static enum apir_status apir_arg_##kind(struct apir_args_ctx *c, uint64_t *raw, ctype *v,      \
                                            enum apir_status st)                                   \
    {                                                                                              \
        void *p = *v;                                                                              \
        st = apir_arg_handle(c, raw, &p, type, end, st);                                           \
        *v = p;                                                                                    \
        return st;                                                                                 \
    }
APIR_ARG_HANDLE(DEV, ggml_backend_dev_t, APIR_OBJ_DEVICE, false)
APIR_ARG_HANDLE(BUFT, ggml_backend_buffer_type_t, APIR_OBJ_BUFT, false)
APIR_ARG_HANDLE(BUFFER, struct apir_host_buffer *, APIR_OBJ_BUFFER, false)
APIR_ARG_HANDLE(STREAM, struct apir_host_stream *, APIR_OBJ_STREAM, false)
APIR_ARG_HANDLE(BUFFER_END, struct apir_host_buffer *, APIR_OBJ_BUFFER, true)
APIR_ARG_HANDLE(STREAM_END, struct apir_host_stream *, APIR_OBJ_STREAM, true)

static enum apir_status apir_arg_REGION(struct apir_args_ctx *c, uint32_t *raw,
                                        struct apir_region **v, enum apir_status st)
{
    if (st != APIR_OK)
        return st;
    if (c->ph == APIR_PH_DECODE)
        *raw = apir_read_u32(c->r);
    else if (c->ph == APIR_PH_RESOLVE && !(*v = apir_region_find(c->s, *raw)))
        return APIR_E_HANDLE;
    return st;
}

static enum apir_status apir_arg_BYTES(struct apir_args_ctx *c, const struct apir_bytes *raw,
                                       struct apir_bytes *v, enum apir_status st)
{
    (void)raw;
    if (c->ph == APIR_PH_DECODE && st == APIR_OK) {
        size_t n = 0;
        v->data = apir_read_blob(c->r, APIR_MAX_DATA_CHUNK, &n);
        v->len = n;
    }
    return st;
}

/* A graph argument of n tensors (0: an op query's graph, built whatever its size). */
static enum apir_status apir_arg_graph(struct apir_args_ctx *c, struct apir_tensors_in *v,
                                       uint32_t n, enum apir_status st)
{
    if (c->ph == APIR_PH_FREE) {
        if (v->built)
            apir_graph_release(&v->b);
        if (v->decoded)
            apir_wire_graph_free(&v->g);
        return st;
    }
    if (st != APIR_OK)
        return st;
    if (c->ph == APIR_PH_DECODE) {
        st = apir_graph_decode_valid(c->s, c->r, &v->g, n ? APIR_GRAPH_DATA : APIR_GRAPH_QUERY);
        v->decoded = st == APIR_OK;
        if (st == APIR_OK && n && (v->g.n_tensors != n || v->g.n_nodes != n))
            st = APIR_E_INVALID; /* the data commands' form: each tensor its own node */
        else if (st == APIR_OK && !n && v->g.n_nodes != 1)
            st = APIR_E_DECODE;
    } else if (c->ph == APIR_PH_BUILD) {
        st = apir_graph_build(c->s, &c->s->arena, &v->g, &v->b);
        v->built = st == APIR_OK;
        for (uint32_t i = 0; v->built && i < (n ? n : 1); i++)
            v->t[i] = v->b.tensors[n ? (int32_t)i : v->g.nodes[0]];
    }
    return st;
}

static enum apir_status apir_arg_TENSOR(struct apir_args_ctx *c, const void *raw,
                                        struct apir_tensors_in *v, enum apir_status st)
{
    (void)raw;
    return apir_arg_graph(c, v, 1, st);
}

static enum apir_status apir_arg_TENSOR_PAIR(struct apir_args_ctx *c, const void *raw,
                                             struct apir_tensors_in *v, enum apir_status st)
{
    (void)raw;
    return apir_arg_graph(c, v, 2, st);
}

static enum apir_status apir_arg_OP(struct apir_args_ctx *c, const void *raw,
                                    struct apir_tensors_in *v, enum apir_status st)
{
    (void)raw;
    return apir_arg_graph(c, v, 0, st);
}

/* A graph sent on a stream replaces the stream's last graph at once, whatever becomes of it:
 * a graph refused or failed leaves nothing for GRAPH_RECOMPUTE to run. */
static enum apir_status apir_arg_GRAPH(struct apir_args_ctx *c, const void *raw,
                                       struct apir_wire_graph *v, enum apir_status st)
{
    (void)raw;
    if (c->ph == APIR_PH_FREE) {
        apir_wire_graph_free(v); /* zeroed (a no-op) when the handler took it */
    } else if (c->ph == APIR_PH_DECODE && st == APIR_OK) {
        if (c->stream)
            apir_host_stream_forget(c->stream);
        st = apir_graph_decode_valid(c->s, c->r, v, APIR_GRAPH_COMPUTE);
    }
    return st;
}

/* Each phase runs over every field in order (req expands to one apir_arg_<kind> per field). */
#define APIR_F_ARG(kind, name) st = apir_arg_##kind(&c, &raw.name, &in.name, st);
// clang-format off
#define APIR_X_RUN(id, NAME, name, req, rep)                                                       \
    static enum apir_status apir_run_##name(struct apir_session *s, struct apir_reader *r,         \
                                            struct apir_writer *w)                                 \
    {                                                                                              \
        struct apir_req_##name raw;                                                                \
        struct apir_req_##name##_in in;                                                            \
        memset(&raw, 0, sizeof raw);                                                               \
        memset(&in, 0, sizeof in);                                                                 \
        struct apir_args_ctx c = {s, r, APIR_PH_DECODE, false, NULL};                              \
        enum apir_status st = APIR_OK;                                                             \
        req                                                                                        \
        if (st == APIR_OK && !apir_reader_done(r))                                                 \
            st = APIR_E_DECODE;                                                                    \
        c.ph = APIR_PH_RESOLVE;                                                                    \
        req                                                                                        \
        c.ph = APIR_PH_BUILD;                                                                      \
        req                                                                                        \
        if (st == APIR_OK)                                                                         \
            st = apir_cmd_##name(s, &in, w);                                                       \
        enum apir_status done = st;                                                                \
        c.ph = APIR_PH_FREE;                                                                       \
        req                                                                                        \
        return done;                                                                               \
    }
// clang-format on
APIR_COMMANDS(APIR_X_RUN, APIR_F_ARG)
#undef APIR_X_RUN

typedef enum apir_status (*apir_run_fn)(struct apir_session *s, struct apir_reader *r,
                                        struct apir_writer *w);

static const apir_run_fn apir_dispatch_table[APIR_CMD_LIMIT] = {
#define APIR_X_TABLE(id, NAME, name, req, rep) [id] = apir_run_##name,
    APIR_COMMANDS(APIR_X_TABLE, APIR_F_NONE)
#undef APIR_X_TABLE
};

bool apir_dispatch_known(uint32_t cmd)
{
    return cmd != 0 && cmd < APIR_CMD_LIMIT && apir_dispatch_table[cmd];
}

enum apir_status apir_dispatch_run(struct apir_session *s, uint32_t cmd, struct apir_reader *r,
                                   struct apir_writer *w)
{
    if (!apir_dispatch_known(cmd))
        return APIR_E_UNKNOWN_CMD;
    return apir_dispatch_table[cmd](s, r, w);
}
