/* Requests as the host's handlers receive them, expanded from the command table
 * (include/apir/protocol.h): for a command `name`, struct apir_req_name_in holds each field
 * decoded, its handles looked up (a typed pointer, never a number), its region found and its
 * tensors validated and rebuilt. The dispatcher (dispatch.c) does all of that, and the exact-
 * length check, before calling
 *   enum apir_status apir_cmd_name(struct apir_session *s, struct apir_req_name_in *a,
 *                                  struct apir_writer *w);
 * which writes its reply with apir_rep_name_put (src/proto/msg.h). */
#ifndef APIR_HOST_ARGS_H
#define APIR_HOST_ARGS_H

#include "../proto/msg.h"

struct apir_session;
struct apir_host_buffer;
struct apir_host_stream;
struct apir_region;

/* TENSOR, TENSOR_PAIR and OP: the graph as decoded and as rebuilt; t[] are its tensors (TENSOR,
 * TENSOR_PAIR: in table order) or its op (OP: t[0]). */
struct apir_tensors_in {
    struct apir_wire_graph g;
    struct apir_built_graph b;
    bool decoded, built;
    struct ggml_tensor *t[2];
};

#define APIR_TH_U32 uint32_t
#define APIR_TH_U64 uint64_t
#define APIR_TH_DEV ggml_backend_dev_t
#define APIR_TH_BUFT ggml_backend_buffer_type_t
#define APIR_TH_BUFFER struct apir_host_buffer *
#define APIR_TH_STREAM struct apir_host_stream *
/* Taken out of the handle table before the handler runs, which must then end the object. */
#define APIR_TH_BUFFER_END struct apir_host_buffer *
#define APIR_TH_STREAM_END struct apir_host_stream *
#define APIR_TH_REGION struct apir_region *
#define APIR_TH_BYTES struct apir_bytes
#define APIR_TH_TENSOR struct apir_tensors_in
#define APIR_TH_TENSOR_PAIR struct apir_tensors_in
#define APIR_TH_OP struct apir_tensors_in
/* Validated, not rebuilt: compute rebuilds it in its stream's arena. A handler that keeps it
 * takes it (and leaves the member zeroed); otherwise the dispatcher frees it. */
#define APIR_TH_GRAPH struct apir_wire_graph

#define APIR_F_HMEMBER(kind, name) APIR_TH_##kind name;
#define APIR_X_HARGS(id, NAME, name, req, rep)                                                     \
    struct apir_req_##name##_in {                                                                  \
        req char end_;                                                                             \
    };                                                                                             \
    enum apir_status apir_cmd_##name(struct apir_session *s, struct apir_req_##name##_in *a,       \
                                     struct apir_writer *w);
APIR_COMMANDS(APIR_X_HARGS, APIR_F_HMEMBER)
#undef APIR_X_HARGS

/* Decodes, checks and runs one command (dispatch.c). */
enum apir_status apir_dispatch_run(struct apir_session *s, uint32_t cmd, struct apir_reader *r,
                                   struct apir_writer *w);
bool apir_dispatch_known(uint32_t cmd);

#endif
