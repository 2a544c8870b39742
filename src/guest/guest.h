/* Guest-internal types: the connection to the host and the ggml objects we present. */
#ifndef APIR_GUEST_H
#define APIR_GUEST_H

#include "../proto/log.h"
#include "../proto/msg.h"
#include "apir/protocol.h"
#include "transport.h"

#include <ggml-backend-impl.h>
#include <ggml-backend.h>
#include <ggml.h>
#include <pthread.h>

/* One connection per process, shared by every device and stream. Calls are serialized. */
struct apir_conn {
    struct apir_transport *tp;
    pthread_mutex_t lock;
    uint32_t seq;
    bool broken;
    struct apir_writer req;
    struct apir_writer rep;
    uint32_t host_minor;                  /* the minor both speak: min(host's, ours) */
    uint32_t host_major, host_minor_seen; /* what the host's HELLO said */
    uint64_t wanted_features;             /* what this guest asked for */
    uint32_t n_devices;
    /* APIR_STATS=1: per-command round trips and bytes, printed at exit. */
    bool stats;
    uint64_t calls[APIR_CMD_LIMIT];
    uint64_t bytes_out[APIR_CMD_LIMIT];
    uint64_t bytes_in[APIR_CMD_LIMIT];
    uint64_t via_ring[APIR_CMD_LIMIT];
    /* Data moved outside messages (indexed by command): in place on shared buffers
     * (TENSOR_SET/GET/MEMSET/COPY, BUFFER_CLEAR: no message at all), and through the
     * staging region (TENSOR_SET/GET_STAGED: the bytes the message points at). */
    uint64_t local_calls[APIR_CMD_LIMIT];
    uint64_t local_bytes[APIR_CMD_LIMIT];
    uint64_t features;
    /* Bumped with every BUFFER_FREE / BUFFER_RESET sent, as the host bumps its own: graphs
     * the host cached before may name that memory and are not reused after. */
    uint64_t buffer_epoch;
    /* A posted call whose reply is still to be collected (apir_call_post), and whether one
     * failed since the last synchronization. */
    bool posted;
    uint32_t posted_cmd;
    uint32_t posted_seq;
    bool posted_failed;
    /* staging.c: the region data of unshared buffers travels through (made there on first
     * use, destroyed by apir_conn_close). */
    pthread_mutex_t staging_lock;
    struct apir_shm_region staging;
    bool staging_ready, staging_failed;
    bool zero_copy; /* buffers in shared regions where the device allows (APIR_ZERO_COPY) */
};

/* A call in progress: begin (locks, returns the payload writer), end (sends, receives; the
 * reply reader is valid until done), done (unlocks). */
struct apir_call {
    struct apir_conn *conn;
    struct apir_writer *w;
    struct apir_reader r;
    uint32_t cmd;
    int status;
    const struct apir_shm_region *attach; /* set between begin and end: REGION_ATTACH */
};

/* Recording real traffic as fuzz seeds (trace.c; APIR_TRACE_DIR): every request sent, and
 * the handles in every reply. No-ops unless enabled. */
void apir_trace_request(uint32_t cmd, const uint8_t *payload, size_t len);
void apir_trace_reply(uint32_t cmd, int status, const uint8_t *payload, size_t len);

struct apir_writer *apir_call_begin(struct apir_call *c, struct apir_conn *conn, uint32_t cmd);
int apir_call_end(struct apir_call *c);
void apir_call_done(struct apir_call *c);
/* begin/end/done for calls whose reply must be empty. */
int apir_call_simple_end(struct apir_call *c);
/* Instead of end + done: sends the request and returns without its reply (unlocked). The reply
 * must be a u32 ggml status; it is collected before the connection's next call or at
 * apir_conn_sync, and a failure is logged and reported by the next apir_conn_sync. */
int apir_call_post(struct apir_call *c);
/* Waits for the posted call, if any. false when one failed (or the host is gone): the work
 * the caller waits for did not happen. take_failure: the caller reports it, so it is cleared. */
bool apir_conn_sync(struct apir_conn *conn, bool take_failure);

/* What an attempt to reach the host found; the registry keeps it (for apir-info). */
struct apir_conn_report {
    char transport[16]; /* socket, vtest, virtgpu: as chosen (or the unknown APIR_TRANSPORT) */
    char endpoint[200]; /* where: socket path, vtest socket, render node ("": the first found) */
    char error[256];    /* why there is no connection; "" once connected */
};
/* Connects and handshakes. NULL with rep->error the one line saying why. */
struct apir_conn *apir_conn_open(struct apir_conn_report *rep);
void apir_conn_close(struct apir_conn *conn);
void apir_conn_print_stats(const struct apir_conn *conn);
/* Counts a data operation done in place on a shared buffer (APIR_STATS). */
void apir_conn_count_local(struct apir_conn *conn, uint32_t cmd, size_t bytes);
/* The session may place buffers in shared regions (negotiated at HELLO). */
bool apir_conn_has_regions(const struct apir_conn *conn);
/* Buffers of this device (caps) live in shared regions: negotiated and not turned off. */
bool apir_conn_shares(const struct apir_conn *conn, uint32_t dev_caps);

/* staging.c: data of unshared buffers through the staging region; false when the connection
 * has none (the caller then sends it inline). Once true, the transfer was done or failed
 * (a failed get leaves zeros). */
bool apir_staging_set(struct apir_conn *conn, const struct ggml_tensor *t, const void *data,
                      size_t offset, size_t size);
bool apir_staging_get(struct apir_conn *conn, const struct ggml_tensor *t, void *data,
                      size_t offset, size_t size);
/* A whole tensor in one TENSOR_SET_STAGED (buffers whose host side repacks what it gets):
 * through the staging region, or a region of its own when larger. false: no regions here. */
bool apir_staging_set_whole(struct apir_conn *conn, const struct ggml_tensor *t, const void *data,
                            size_t size, int *status);

/* region.c: a region created by the transport and attached to the host session (false:
 * nothing left behind); release detaches it (when attached) and unmaps it. */
bool apir_region_new(struct apir_conn *conn, size_t size, struct apir_shm_region *r);
void apir_region_release(struct apir_conn *conn, struct apir_shm_region *r, bool attached);

/* Small cache from an op's wire encoding to the host's answer: supports_op is asked for every
 * node of every scheduled graph, and the answer only depends on the encoding. */
struct apir_op_cache_entry {
    uint64_t hash;
    uint32_t len;
    uint8_t *key;
    uint64_t value;
};
struct apir_op_cache {
    struct apir_op_cache_entry *e;
    size_t n, cap;
    pthread_mutex_t lock;
};
bool apir_op_cache_get(struct apir_op_cache *c, const void *key, size_t len, uint64_t *value);
void apir_op_cache_put(struct apir_op_cache *c, const void *key, size_t len, uint64_t value);
void apir_op_cache_free(struct apir_op_cache *c);

/* An extra buffer type of a host device (extrabuf.c): buffers held by the host in a layout of
 * its backend's own (ggml-cpu's CPU_REPACK), set whole and never read back. */
struct apir_extra_buft {
    struct ggml_backend_buffer_type buft;
    struct apir_device *dev;
    uint64_t handle;
    char name[48];
    char host_name[APIR_MAX_NAME];
    uint64_t alignment;
    uint64_t max_size;
    uint32_t flags;
    struct apir_op_cache supports; /* BUFT_SUPPORTS_OP answers */
};

struct apir_device {
    struct ggml_backend_device gdev;
    struct ggml_backend_buffer_type buft;
    struct apir_conn *conn;
    uint64_t dev_h;
    uint64_t buft_h;
    char name[16];
    char desc[APIR_MAX_NAME + 256 + 32];
    char buft_name[32];
    /* The host's names (for apir-info): the ggml name, description and buffer type there. */
    char host_name[APIR_MAX_NAME];
    char host_desc[256];
    char host_buft_name[APIR_MAX_NAME];
    uint32_t type;
    uint32_t caps;
    uint64_t alignment;
    uint64_t max_size;
    uint32_t buft_flags;
    struct apir_op_cache supports, offload, alloc_size;
    struct apir_extra_buft extra[APIR_MAX_EXTRA_BUFTS];
    uint32_t n_extra;
    ggml_backend_buffer_type_t extra_list[APIR_MAX_EXTRA_BUFTS + 1]; /* NULL-terminated */
};

struct apir_buffer {
    struct apir_device *dev;
    uint64_t handle;
    /* Shared buffers: the guest's mapping of the region the host buffer lives in, read and
     * written directly. Others: a reserved, inaccessible range, never dereferenced. */
    uint8_t *base;
    size_t size;
    uint32_t flags;
    bool shared;
    bool whole; /* of an extra buffer type: whole-tensor sets only, nothing read back */
    struct apir_shm_region shm;
};

/* buffer_free.c: BUFFER_FREE for a handle; the buffer interface's free_buffer, whose presence
 * is what makes a ggml buffer one of ours (apir_buffer_is_apir). */
void apir_buffer_free_remote(struct apir_device *d, uint64_t handle);
void apir_buffer_free(ggml_backend_buffer_t buffer);
bool apir_buffer_is_apir(ggml_backend_buffer_t buf);

/* encode.c: ggml tensors to wire form. A tensor table maps each ggml tensor once. */
struct apir_tensor_map {
    const struct ggml_tensor **keys;
    int32_t *vals;
    size_t cap;
};
/* Ends call c, made as command `name`, and decodes its reply into out (struct
 * apir_rep_name_in, zeroed first whatever happens): false unless the call succeeded and its
 * payload is exactly that reply. */
#define APIR_CALL_END_REPLY(c, name, out)                                                          \
    (apir_call_end(c), apir_rep_##name##_get((c)->r.cur, apir_reader_left(&(c)->r), (out)) &&      \
                           (c)->status == APIR_OK)
void apir_encode_pair(struct apir_wire_tensor wt[2], const struct ggml_tensor *src,
                      const struct ggml_tensor *dst);
/* One tensor alone (no sources): a TENSOR field, the form of data commands. */
void apir_encode_lone(struct apir_wire_tensor *wt, const struct ggml_tensor *t);
/* The op and its direct sources, without data locations: the form of op queries. */
void apir_encode_op_query(struct apir_writer *w, const struct ggml_tensor *op);
bool apir_encode_graph(struct apir_writer *w, struct apir_tensor_map *m,
                       const struct ggml_cgraph *g);
void apir_tensor_map_free(struct apir_tensor_map *m);

/* opquery.c: asks the host an op question (cmd: supports / offload / alloc size) about handle
 * (a device or buffer type), through the cache; fallback when the host gives no answer. */
uint64_t apir_dev_op_query(struct apir_device *d, struct apir_op_cache *cache, uint32_t cmd,
                           uint64_t handle, const struct ggml_tensor *op, uint64_t fallback);

/* device.c / buffer.c / backend.c */
void apir_device_setup(struct apir_device *d, ggml_backend_reg_t reg);
ggml_backend_buffer_t apir_buffer_alloc(struct apir_device *d, size_t size);
/* A host-held buffer of an extra buffer type. */
ggml_backend_buffer_t apir_buffer_alloc_extra(struct apir_extra_buft *e, size_t size);

/* extrabuf.c: the host device's extra buffer types (negotiated: APIR_FEAT_EXTRA_BUFTS). */
void apir_extrabuf_fetch(struct apir_device *d);
struct apir_extra_buft *apir_extrabuf_find(struct apir_device *d, ggml_backend_buffer_type_t b);
/* supports_op for ops touching extra buffer types; false: not such an op, ask as usual. */
bool apir_extrabuf_supports_op(struct apir_device *d, const struct ggml_tensor *op, bool *v);
ggml_backend_t apir_backend_new(struct apir_device *d);
void apir_backend_set_n_threads(ggml_backend_t backend, int n_threads);

/* log.c: one line through ggml's log callback, if APIR_LOG lets it through (default warn). */
void apir_log_emit(enum apir_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
bool apir_log_on(enum apir_log_level level);

#endif
