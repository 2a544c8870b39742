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

#endif
