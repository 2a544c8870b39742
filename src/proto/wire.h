/* Message framing and the wire forms of tensors and graphs, shared by guest and host. */
#ifndef APIR_WIRE_H
#define APIR_WIRE_H

#include "apir/protocol.h"
#include "codec.h"

struct apir_req_hdr {
    uint32_t magic;
    uint16_t cmd;
    uint16_t flags;
    uint32_t seq;
    uint32_t len;
};

struct apir_rep_hdr {
    uint32_t magic;
    int32_t status;
    uint32_t seq;
    uint32_t len;
};

void apir_req_hdr_encode(uint8_t out[APIR_HDR_SIZE], const struct apir_req_hdr *h);
bool apir_req_hdr_decode(const uint8_t in[APIR_HDR_SIZE], struct apir_req_hdr *h);
void apir_rep_hdr_encode(uint8_t out[APIR_HDR_SIZE], const struct apir_rep_hdr *h);
bool apir_rep_hdr_decode(const uint8_t in[APIR_HDR_SIZE], struct apir_rep_hdr *h);

void apir_wire_tensor_clear(struct apir_wire_tensor *t);
void apir_wire_tensor_encode(struct apir_writer *w, const struct apir_wire_tensor *t);
/* Structural decode only (lengths, NUL, index ranges are checked against `index`, the tensor's
 * own position: sources must be earlier entries or the tensor itself, view sources earlier
 * entries). Semantic checks are the host's (src/host/validate.c). */
void apir_wire_tensor_decode(struct apir_reader *r, struct apir_wire_tensor *t, int32_t index);

/* A graph on the wire: u32 n_tensors, tensors, u32 n_nodes, i32 node indices. */
struct apir_wire_graph {
    uint32_t n_tensors;
    uint32_t n_nodes;
    struct apir_wire_tensor *tensors;
    int32_t *nodes;
};

/* Decodes into freshly allocated arrays (freed with apir_wire_graph_free). Returns false and
 * marks the reader on any structural error or cap exceeded. */
bool apir_wire_graph_decode(struct apir_reader *r, struct apir_wire_graph *g);
void apir_wire_graph_free(struct apir_wire_graph *g);

/* The one encoder of that form, for every writer of graphs: the guest, tests, seed corpora.
 * The two counts are written from what was added, so they always agree with the table and the
 * node list; a graph malformed on purpose (hostile tests) is written by hand.
 *
 * Incremental, for a writer that numbers tensors as it finds them (the guest, walking a ggml
 * graph): begin reserves the tensor count, add writes one tensor, node appends one node
 * index (the first call starts the node list), end patches both counts. Only the writer's own
 * buffer is used: nothing is allocated per graph. Errors are the writer's sticky err: a node
 * outside the table or a tensor added after the node list started sets it. */
struct apir_wire_graph_enc {
    struct apir_writer *w;
    size_t tensors_at;  /* where the counts sit in w->buf (offsets: the buffer may move) */
    size_t nodes_at;    /* 0 until the node list starts (the tensor count precedes it) */
    uint32_t n_tensors; /* also the index the next add gives (a tensor naming itself) */
    uint32_t n_nodes;
};

void apir_wire_graph_begin(struct apir_wire_graph_enc *e, struct apir_writer *w);
/* Returns the index t has in the table. */
int32_t apir_wire_graph_add(struct apir_wire_graph_enc *e, const struct apir_wire_tensor *t);
void apir_wire_graph_node(struct apir_wire_graph_enc *e, int32_t index);
/* Returns false when anything since begin failed (the writer's err). */
bool apir_wire_graph_end(struct apir_wire_graph_enc *e);

/* A whole graph from arrays: t[0..n) as the table, nodes[0..n_nodes) as the node list. */
void apir_wire_graph_encode(struct apir_writer *w, const struct apir_wire_tensor *t, uint32_t n,
                            const int32_t *nodes, uint32_t n_nodes);
/* One tensor as a graph of one node, the form of the single-tensor data commands. */
void apir_wire_graph_encode_lone(struct apir_writer *w, const struct apir_wire_tensor *t);

#endif
