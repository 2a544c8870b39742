/* Host-internal types shared by the command files. */
#ifndef APIR_HOST_INTERNAL_H
#define APIR_HOST_INTERNAL_H

#include "../proto/codec.h"
#include "../proto/log.h"
#include "../proto/wire.h"
#include "apir/host.h"
#include "apir/protocol.h"
#include "handles.h"
#include "watchdog.h"

#include <ggml-backend.h>
#include <ggml-cpu.h>
#include <ggml.h>
#include <stdbool.h>

#define APIR_HOST_MAX_DEVICES APIR_MAX_DEVICES

/* ggml-cpu's graph planner (workbuf.c), NULL for devices without one. */
typedef struct ggml_cplan (*apir_graph_plan_fn)(const struct ggml_cgraph *g, int n_threads,
                                                struct ggml_threadpool *tp);

struct apir_host {
    ggml_backend_dev_t devices[APIR_HOST_MAX_DEVICES];
    size_t n_devices;
    /* One backend per ggml-rpc device, held for the host's life: ggml-rpc keeps a connection
     * only while something holds it, and otherwise reconnects for every query (and can close
     * a connection under a command still in flight). */
    ggml_backend_t rpc_keep[APIR_HOST_MAX_DEVICES];
    uint64_t max_session_bytes;
    uint32_t max_session_objects;
    uint32_t max_threads; /* SET_THREADS is capped here: the host's online cores */
    apir_graph_plan_fn planners[APIR_HOST_MAX_DEVICES]; /* per device: CPU work buffers */
    /* Per device: the extra buffer types served beside the default one (extrabuf.c). */
    ggml_backend_buffer_type_t extra_bufts[APIR_HOST_MAX_DEVICES][APIR_MAX_EXTRA_BUFTS];
    uint32_t n_extra_bufts[APIR_HOST_MAX_DEVICES];
};

/* A shared region attached to the session (region.c). */
struct apir_region {
    uint32_t id;
    uint8_t *ptr;
    uint64_t size;
    uint32_t users; /* buffers living in it: it cannot be detached under them */
};

struct apir_host_buffer {
    ggml_backend_buffer_t buf;
    uint8_t *base;
    size_t size;
    struct apir_region *region; /* NULL: memory of the host's own allocator */
    bool extra;                 /* of an extra buffer type (extrabuf.c) */
};

/* Memory a rebuilt graph lives in, reused so that a compute costs no malloc. */
struct apir_arena {
    void *mem;
    size_t size;
};

/* graph.c: rebuilt ggml tensors (and, for compute, the ggml_cgraph). */
struct apir_built_graph {
    struct ggml_context *ctx;
    struct ggml_tensor **tensors;
    struct ggml_cgraph *graph;
};

/* indexplan.c: where a graph's index tensors are copied and checked (after their writers
 * ran, before their readers run), kept with the built graph. Each consumer reads a private
 * dense copy of its indices, made and checked at the check. */
struct apir_index_check {
    int32_t pos;                 /* copied and checked before node pos runs */
    const struct ggml_tensor *t; /* the indices as the graph names them */
    struct ggml_tensor *node;    /* the consumer: its src[slot] is the copy once bound */
    int32_t slot;
    int64_t limit; /* every value in [0, limit) */
};
struct apir_index_plan {
    struct apir_index_check *checks;
    struct ggml_tensor *copies; /* one per check, in the stream's index buffer */
    uint32_t n, cap;
};
struct apir_host_stream;
enum apir_status apir_index_plan_build(struct ggml_cgraph *g, struct apir_index_plan *p);
/* Places the copies in hs's index buffer (grown and charged to s as needed) and points each
 * consumer at its copy. */
enum apir_status apir_index_plan_bind(struct apir_session *s, struct apir_host_stream *hs,
                                      struct apir_index_plan *p);
void apir_index_plan_free(struct apir_index_plan *p);
/* What the index-copy policy costs a session, logged when it ends (bench/compare.sh reads
 * the line): graphs run and their time, index copies made and checked and theirs, and the
 * segments a graph was cut into beyond its first. */
struct apir_compute_stats {
    uint64_t runs, compute_ns;
    uint64_t index_copies, index_ns, extra_segments;
};
uint64_t apir_now_ns(void);
/* Computes g in the plan's segments; APIR_E_INVALID (the graph partly computed) when an index
 * is out of range, else APIR_OK with the backend's status in *gs. Counts into *stats. */
enum apir_status apir_index_plan_compute(ggml_backend_t be, struct ggml_cgraph *g,
                                         const struct apir_index_plan *p, enum ggml_status *gs,
                                         struct apir_compute_stats *stats);

/* A backend stream and its graph cache (cmd_stream.c). */
struct apir_host_stream {
    ggml_backend_t be;
    struct apir_arena arena;
    /* The last graph computed, kept decoded, validated and rebuilt for GRAPH_RECOMPUTE. It
     * holds pointers into session buffers, so it is valid only while none has been freed or
     * reset since (epoch == the session's buffer_epoch). */
    bool cached;
    uint64_t epoch;
    struct apir_wire_graph graph;
    struct apir_built_graph built;
    struct apir_index_plan plan;
    /* The CPU backend's work buffer (workbuf.c): planner NULL for other devices. work_bytes
     * is charged to the session; work_threads is the thread count the cached graph was
     * planned with (0: not yet). */
    apir_graph_plan_fn planner;
    int n_threads;
    int work_threads;
    uint64_t work_bytes;
    /* The private copies of index tensors (indexplan.c), in the device's default buffer type:
     * grown to the largest plan, charged to the session like the work buffer. */
    ggml_backend_buffer_t index_buf;
    uint64_t index_bytes;
};
void apir_host_stream_destroy(struct apir_host_stream *hs);
/* Drops the stream's cached graph: GRAPH_RECOMPUTE is refused until a graph is accepted. */
void apir_host_stream_forget(struct apir_host_stream *hs);

struct apir_session {
    struct apir_host *host;
    struct apir_handle_table handles;
    uint64_t dev_handles[APIR_HOST_MAX_DEVICES];
    uint64_t buft_handles[APIR_HOST_MAX_DEVICES];
    /* Handles of the devices' extra buffer types, made when the guest first asks for them
     * (DEVICE_EXTRA_BUFTS), so a guest that never does spends none of its object quota. */
    uint64_t extra_buft_handles[APIR_HOST_MAX_DEVICES][APIR_MAX_EXTRA_BUFTS];
    uint32_t n_extra_buffers; /* live buffers of extra buffer types: graphs are checked then */
    bool hello_done;
    uint64_t features;
    uint64_t bytes_used;
    struct apir_writer reply;
    struct apir_region_ops region_ops; /* map == NULL: no shared regions */
    struct apir_region **regions;
    uint32_t n_regions;
    /* Arena for the one-tensor graphs of data commands and op queries. */
    struct apir_arena arena;
    /* Bumped whenever a buffer is freed or reset: cached graphs built before are stale. */
    uint64_t buffer_epoch;
    char label[64];          /* how this session's log lines begin (apir_session_set_label) */
    struct apir_watch watch; /* the compute watchdog's clock of the running request */
    struct apir_compute_stats stats;
};

/* The handlers and what they receive. */
#include "args.h"

/* workbuf.c */
apir_graph_plan_fn apir_workbuf_planner(ggml_backend_dev_t dev);
enum apir_status apir_workbuf_charge(struct apir_session *s, struct apir_host_stream *hs);

/* extrabuf.c: extra buffer types (ggml-cpu's CPU_REPACK). Their buffers hold weights in the
 * backend's own layout, set whole and never read back, used only as a matmul's weights. */
uint32_t apir_extrabuf_discover(ggml_backend_dev_t dev, ggml_backend_buffer_type_t *out,
                                uint32_t max);
bool apir_extrabuf_is_extra(const struct apir_host *h, ggml_backend_buffer_type_t buft);
bool apir_extrabuf_tensor_in(const struct apir_session *s, const struct ggml_tensor *t);
/* A tensor of an extra buffer that its buffer type takes (sets the backend's tensor extra). */
bool apir_extrabuf_tensor_ok(struct ggml_tensor *t);
/* BUFT_SUPPORTS_OP's answer for an op whose weight (src 0) lives in a buffer of buft. */
bool apir_extrabuf_supports(struct apir_session *s, ggml_backend_buffer_type_t buft,
                            struct ggml_tensor *op);
/* Before a graph with tensors in extra buffers runs: each is a whole weight read only as the
 * weight of a matmul the backend takes. */
enum apir_status apir_extrabuf_check_graph(struct apir_session *s, ggml_backend_t be,
                                           const struct apir_wire_graph *g,
                                           struct apir_built_graph *b);

/* region.c */
struct apir_region *apir_region_find(struct apir_session *s, uint32_t id);
void apir_regions_release(struct apir_session *s);
/* Frees a host buffer object and its ggml buffer, and drops its hold on a region. */
void apir_host_buffer_destroy(struct apir_session *s, struct apir_host_buffer *hb);
/* cmd_buffer.c: APIR_BUF_* flags the guest needs for a host buffer. */
uint32_t apir_buffer_flags(ggml_backend_buffer_t buf);
/* offset + size within the tensor's bytes (which validation proved are in its buffer). */
bool apir_range_ok(const struct ggml_tensor *t, uint64_t offset, uint64_t size);
/* apir_range_ok, and for tensors of extra buffers: a set of the whole tensor, or nothing. */
bool apir_data_range_ok(struct apir_session *s, struct ggml_tensor *t, uint64_t offset,
                        uint64_t size, bool set);

/* validate.c */
enum apir_status apir_validate_tensor(struct apir_session *s, const struct apir_wire_tensor *wt,
                                      const struct apir_wire_graph *g, bool need_data);
bool apir_tensor_extent(uint32_t type, const int64_t ne[4], const uint64_t nb[4], uint64_t *ext);
/* Some dimension is 0 (ggml_is_empty): no bytes at all, whatever the strides say. */
bool apir_wire_tensor_is_empty(const struct apir_wire_tensor *t);
bool apir_bytes_overlap(ggml_backend_buffer_t ba, const void *a, uint64_t alen,
                        ggml_backend_buffer_t bb, const void *b, uint64_t blen);
const void *apir_wire_tensor_addr(struct apir_session *s, const struct apir_wire_tensor *t,
                                  ggml_backend_buffer_t *buf);

/* What a decoded graph is for decides what is checked: data commands need every tensor in a
 * buffer and ignore ops; queries describe ops not yet allocated; compute needs both. */
enum apir_graph_use {
    APIR_GRAPH_DATA,
    APIR_GRAPH_QUERY,
    APIR_GRAPH_COMPUTE,
};
enum apir_status apir_graph_decode_valid(struct apir_session *s, struct apir_reader *r,
                                         struct apir_wire_graph *g, enum apir_graph_use use);
/* opcheck.c */
enum apir_status apir_check_node(const struct apir_wire_graph *g, const struct apir_wire_tensor *t);
/* Ops no backend computes: the node only names memory (ggml's ggml_op_is_empty). */
bool apir_op_is_noop(uint32_t op);
enum apir_status apir_graph_build(struct apir_session *s, struct apir_arena *arena,
                                  const struct apir_wire_graph *g, struct apir_built_graph *out);
void apir_arena_free(struct apir_arena *a);
void apir_graph_link_nodes(struct apir_built_graph *b, const struct apir_wire_graph *g);
void apir_graph_release(struct apir_built_graph *b);

#endif
