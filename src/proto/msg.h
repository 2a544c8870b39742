/* Every command's payload as C types, expanded from the one definition in
 * include/apir/protocol.h (APIR_COMMANDS), with the encoders and decoders that execute it.
 *
 * For a command `name`:
 *   struct apir_req_name        the request as its sender fills it (handles as u64)
 *   apir_req_name_put(w, a)     writes it; the guest, tests and seed corpora all use this
 *   struct apir_rep_name        the reply as the host fills it
 *   apir_rep_name_put(w, a)     writes it; returns where a BYTES field with data == NULL is
 *                               to be filled (the host reads tensor data straight into the
 *                               reply), else NULL
 *   struct apir_rep_name_in     the reply as the guest decodes it
 *   apir_rep_name_get(p, n, o)  decodes exactly n bytes (false: short, long or malformed)
 * The host's side of requests (decoded, handles looked up) is src/host/args.h.
 *
 * C has no empty structs: each ends with a member `end_` that is never on the wire. */
#ifndef APIR_PROTO_MSG_H
#define APIR_PROTO_MSG_H

#include "apir/protocol.h"
#include "codec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* BYTES: a view of len bytes (in a decoded message: into the message itself). */
struct apir_bytes {
    const void *data;
    uint64_t len;
};

/* OP and GRAPH as a sender gives them: a function that writes the graph (the guest encodes a
 * ggml graph straight into the message, with no copy), or pre-encoded bytes when write is
 * NULL (an op query's cache key). */
struct apir_graph_src {
    void (*write)(struct apir_writer *w, const void *ctx);
    const void *ctx;
    struct apir_bytes bytes;
};

/* One entry of BUFT_LIST. */
struct apir_buft_entry {
    uint64_t buft;
    char name[256];
    uint64_t alignment;
    uint64_t max_size;
    uint32_t flags;
};
struct apir_buft_list {
    uint32_t n;
    struct apir_buft_entry v[APIR_MAX_EXTRA_BUFTS];
};

/* The C type of each kind as a sender fills it. */
#define APIR_T_U32 uint32_t
#define APIR_T_U64 uint64_t
#define APIR_T_DEV uint64_t
#define APIR_T_BUFT uint64_t
#define APIR_T_BUFFER uint64_t
#define APIR_T_STREAM uint64_t
#define APIR_T_BUFFER_END uint64_t
#define APIR_T_STREAM_END uint64_t
#define APIR_T_REGION uint32_t
#define APIR_T_NEW uint64_t
#define APIR_T_STR const char *
#define APIR_T_BYTES struct apir_bytes
#define APIR_T_TENSOR const struct apir_wire_tensor *
#define APIR_T_TENSOR_PAIR const struct apir_wire_tensor *
#define APIR_T_OP struct apir_graph_src
#define APIR_T_GRAPH struct apir_graph_src
#define APIR_T_BUFT_LIST const struct apir_buft_list *

#define APIR_F_MEMBER(kind, name) APIR_T_##kind name;
#define APIR_X_MSG_TYPES(id, NAME, name, req, rep)                                                 \
    struct apir_req_##name {                                                                       \
        req char end_;                                                                             \
    };                                                                                             \
    struct apir_rep_##name {                                                                       \
        rep char end_;                                                                             \
    };                                                                                             \
    bool apir_req_##name##_put(struct apir_writer *w, const struct apir_req_##name *a);            \
    void *apir_rep_##name##_put(struct apir_writer *w, const struct apir_rep_##name *a);
APIR_COMMANDS(APIR_X_MSG_TYPES, APIR_F_MEMBER)
#undef APIR_X_MSG_TYPES

/* STR decodes into its own array (a u8 length always fits), so reply structs that carry
 * strings are declared with that member type. */
#define APIR_X_MSG_IN(id, NAME, name, req, rep)                                                    \
    struct apir_rep_##name##_in {                                                                  \
        rep char end_;                                                                             \
    };                                                                                             \
    bool apir_rep_##name##_get(const void *payload, size_t len, struct apir_rep_##name##_in *out);
#define APIR_F_MEMBER_IN_ANY(kind, name) APIR_MSG_IN_MEMBER_##kind(name)
#define APIR_MSG_IN_MEMBER_U32(name) uint32_t name;
#define APIR_MSG_IN_MEMBER_U64(name) uint64_t name;
#define APIR_MSG_IN_MEMBER_NEW(name) uint64_t name;
#define APIR_MSG_IN_MEMBER_STR(name) char name[256];
#define APIR_MSG_IN_MEMBER_BYTES(name) struct apir_bytes name;
#define APIR_MSG_IN_MEMBER_BUFT_LIST(name) struct apir_buft_list name;
APIR_COMMANDS(APIR_X_MSG_IN, APIR_F_MEMBER_IN_ANY)
#undef APIR_X_MSG_IN

/* The definition as data, for tools and checks: apir-info --protocol prints it, the docs test
 * compares docs/protocol.md with it field by field, the trace recorder finds the handles a
 * reply carries. */
enum apir_kind {
    APIR_K_U32,
    APIR_K_U64,
    APIR_K_DEV,
    APIR_K_BUFT,
    APIR_K_BUFFER,
    APIR_K_STREAM,
    APIR_K_BUFFER_END,
    APIR_K_STREAM_END,
    APIR_K_REGION,
    APIR_K_NEW,
    APIR_K_STR,
    APIR_K_BYTES,
    APIR_K_TENSOR,
    APIR_K_TENSOR_PAIR,
    APIR_K_OP,
    APIR_K_GRAPH,
    APIR_K_BUFT_LIST,
};
struct apir_field {
    enum apir_kind kind;
    const char *name;
};
/* The fields of cmd's request (reply false) or reply, in wire order; *n is 0 and the result
 * NULL for an unknown command. */
const struct apir_field *apir_msg_fields(uint32_t cmd, bool reply, size_t *n);
#define APIR_KIND_COUNT (APIR_K_BUFT_LIST + 1)
/* A kind as docs/protocol.md's tables name it ("device", "tensor pair"), and its wire form. */
const char *apir_kind_name(enum apir_kind k);
const char *apir_kind_wire(enum apir_kind k);

#endif
