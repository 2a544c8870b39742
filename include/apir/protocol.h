/* ggml-apir wire protocol: the one definition both the guest and the host compile against.
 *
 * Every message is a fixed 16-byte header followed by a payload encoded with the bounds-checked
 * codec (src/proto/codec.c). All integers are little-endian. The guest never sees a host address:
 * objects are named by 64-bit handles, tensor data by (buffer handle, offset). */
#ifndef APIR_PROTOCOL_H
#define APIR_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#define APIR_PROTO_MAJOR 1
#define APIR_PROTO_MINOR 3

#define APIR_MAGIC_REQ 0x51524941u /* "AIRQ" */
#define APIR_MAGIC_REP 0x50524941u /* "AIRP" */
#define APIR_HDR_SIZE 16u

/* Feature bits exchanged in HELLO; the session uses the intersection. */
enum apir_feature {
    APIR_FEAT_NONE = 0,
    /* Shared regions (minor 1): memory both sides map, attached by the transport (a sealed
     * memfd over the socket, a blob resource over virtio-gpu). Buffers of devices that can
     * wrap host memory live in them, and the guest reads and writes tensor data directly. */
    APIR_FEAT_REGIONS = 1u << 0,
    /* Graph cache (minor 1): each stream keeps its last graph, decoded, validated and rebuilt;
     * GRAPH_RECOMPUTE runs it again with a message of a few bytes. */
    APIR_FEAT_GRAPH_CACHE = 1u << 1,
    /* Extra buffer types (minor 2): a host device's buffer types beside its default one whose
     * buffers hold weights in a layout of their own (ggml-cpu's CPU_REPACK). The guest offers
     * them as the device's extra buffer types, so llama.cpp places matmul weights there as it
     * does natively; their data is set whole and never read back. */
    APIR_FEAT_EXTRA_BUFTS = 1u << 2,
};
#define APIR_FEATURES_SUPPORTED                                                                    \
    ((uint64_t)(APIR_FEAT_REGIONS | APIR_FEAT_GRAPH_CACHE | APIR_FEAT_EXTRA_BUFTS))

/* Caps that keep one hostile message from costing the host unbounded memory or time. */
#define APIR_MAX_PAYLOAD (80u << 20)    /* a chunk of tensor data plus its tensor header */
#define APIR_MAX_DATA_CHUNK (64u << 20) /* the guest splits set/get larger than this */
#define APIR_MAX_GRAPH_TENSORS 65536u
#define APIR_MAX_GRAPH_NODES 32768u
#define APIR_MAX_DEVICES 16u
#define APIR_MAX_REGIONS 4096u
#define APIR_MAX_EXTRA_BUFTS 4u /* extra buffer types of one device */
#define APIR_MAX_NAME 64u
#define APIR_MAX_SRC 10u
#define APIR_OP_PARAMS_BYTES 64u

/* The command table: the one definition of every command's payload. Row:
 *   X(id, NAME, name, request fields, reply fields)
 * and each field F(kind, name), in wire order. Ids are append-only. The enum, the names, the
 * host's dispatcher and decoders, the guest's encoders, the trace recorder and the field
 * tables of docs/protocol.md (`apir-info --protocol`) all expand from this list
 * (src/proto/msg.h), so a command is added by its row here and its handler.
 *
 * Field kinds and their wire form (little-endian):
 *   U32, U64         the integer
 *   DEV, BUFT, BUFFER, STREAM
 *                    u64 handle of that object type; the host looks it up before the handler
 *                    runs (stale, foreign or wrong-type: APIR_E_HANDLE)
 *   BUFFER_END, STREAM_END
 *                    the same, for a command that ends the object's life
 *   REGION           u32 id of a region this session attached (else APIR_E_HANDLE)
 *   NEW              u64 handle the host made for the guest (replies)
 *   STR              u8 length, that many bytes (replies)
 *   BYTES            u64 length, that many bytes (at most APIR_MAX_DATA_CHUNK)
 *   TENSOR           a graph of one tensor that is its one node, in this session's buffers
 *   TENSOR_PAIR      a graph of two such tensors, both nodes: (source, destination)
 *   OP               a graph whose last node is an op; data locations need not be set
 *   GRAPH            a graph to compute
 *   BUFT_LIST        u32 n (at most APIR_MAX_EXTRA_BUFTS), then n times:
 *                    NEW buft, STR name, U64 alignment, U64 max_size, U32 flags
 * A graph is a tensor table and a node list (docs/protocol.md, "Wire tensor and graph"). */
#define APIR_COMMANDS(X, F)                                                                        \
    X(1, HELLO, hello, F(U32, major) F(U32, minor) F(U64, features),                               \
      F(U32, major) F(U32, minor) F(U64, features) F(U32, n_devices))                              \
    X(2, DEVICE_INFO, device_info, F(U32, index),                                                  \
      F(NEW, dev) F(NEW, buft) F(STR, name) F(STR, desc) F(U32, type) F(U64, mem_free)             \
          F(U64, mem_total) F(U32, caps) F(STR, buft_name) F(U64, alignment) F(U64, max_size)      \
              F(U32, buft_flags))                                                                  \
    X(3, DEVICE_MEMORY, device_memory, F(DEV, dev), F(U64, mem_free) F(U64, mem_total))            \
    X(4, DEVICE_SUPPORTS_OP, device_supports_op, F(DEV, dev) F(OP, op), F(U32, supported))         \
    X(5, DEVICE_OFFLOAD_OP, device_offload_op, F(DEV, dev) F(OP, op), F(U32, offload))             \
    X(6, BUFT_ALLOC_SIZE, buft_alloc_size, F(BUFT, buft) F(OP, tensor), F(U64, size))              \
    X(7, BUFFER_ALLOC, buffer_alloc, F(BUFT, buft) F(U64, size),                                   \
      F(NEW, buffer) F(U64, size) F(U32, buffer_flags))                                            \
    X(8, BUFFER_FREE, buffer_free, F(BUFFER_END, buffer), )                                        \
    X(9, BUFFER_CLEAR, buffer_clear, F(BUFFER, buffer) F(U32, value), )                            \
    X(10, BUFFER_RESET, buffer_reset, F(BUFFER, buffer), )                                         \
    X(11, TENSOR_INIT, tensor_init, F(TENSOR, tensor), )                                           \
    X(12, TENSOR_SET, tensor_set, F(TENSOR, tensor) F(U64, offset) F(BYTES, data), )               \
    X(13, TENSOR_GET, tensor_get, F(TENSOR, tensor) F(U64, offset) F(U64, size), F(BYTES, data))   \
    X(14, TENSOR_MEMSET, tensor_memset,                                                            \
      F(TENSOR, tensor) F(U64, offset) F(U64, size) F(U32, value), )                               \
    X(15, TENSOR_COPY, tensor_copy, F(TENSOR_PAIR, tensors), F(U32, copied))                       \
    X(16, STREAM_NEW, stream_new, F(DEV, dev), F(NEW, stream))                                     \
    X(17, STREAM_FREE, stream_free, F(STREAM_END, stream), )                                       \
    X(18, STREAM_SET_THREADS, stream_set_threads, F(STREAM, stream) F(U32, n_threads), )           \
    X(19, GRAPH_COMPUTE, graph_compute, F(STREAM, stream) F(GRAPH, graph), F(U32, ggml_status))    \
    X(20, STREAM_SYNC, stream_sync, F(STREAM, stream), )                                           \
    X(21, REGION_ATTACH, region_attach, F(U32, region) F(U64, size), )                             \
    X(22, REGION_DETACH, region_detach, F(U32, region), )                                          \
    X(23, BUFFER_FROM_REGION, buffer_from_region,                                                  \
      F(DEV, dev) F(REGION, region) F(U64, offset) F(U64, size),                                   \
      F(NEW, buffer) F(U64, size) F(U32, buffer_flags))                                            \
    X(24, GRAPH_RECOMPUTE, graph_recompute, F(STREAM, stream), F(U32, ggml_status))                \
    X(25, RING_ATTACH, ring_attach, F(U32, size), )                                                \
    X(26, TENSOR_SET_STAGED, tensor_set_staged,                                                    \
      F(TENSOR, tensor) F(U64, offset) F(REGION, region) F(U64, region_offset) F(U64, size), )     \
    X(27, TENSOR_GET_STAGED, tensor_get_staged,                                                    \
      F(TENSOR, tensor) F(U64, offset) F(REGION, region) F(U64, region_offset) F(U64, size), )     \
    X(28, DEVICE_EXTRA_BUFTS, device_extra_bufts, F(DEV, dev), F(BUFT_LIST, bufts))                \
    X(29, BUFT_SUPPORTS_OP, buft_supports_op, F(BUFT, buft) F(OP, op), F(U32, supported))          \
    X(30, ECHO, echo, F(BYTES, data), F(BYTES, data)) /* minor 3 */

/* Expanding a field list for its names alone (the enum and the name table need no fields). */
#define APIR_F_NONE(kind, name)

enum apir_cmd {
#define APIR_X_ENUM(id, NAME, name, req, rep) APIR_CMD_##NAME = id,
    APIR_COMMANDS(APIR_X_ENUM, APIR_F_NONE)
#undef APIR_X_ENUM
        APIR_CMD_LIMIT
};

/* Reply status. Errors are values: the host answers every request, and a guest maps these to
 * ggml error statuses instead of aborting. */
enum apir_status {
    APIR_OK = 0,
    APIR_E_DECODE = 1,       /* payload short, oversized or with trailing bytes */
    APIR_E_UNKNOWN_CMD = 2,  /* command id not in the table */
    APIR_E_HANDLE = 3,       /* stale, foreign or wrong-type handle */
    APIR_E_INVALID = 4,      /* well-formed but rejected by validation */
    APIR_E_QUOTA = 5,        /* per-session memory or object quota exceeded */
    APIR_E_NOMEM = 6,        /* the host could not allocate */
    APIR_E_BACKEND = 7,      /* the host's ggml backend failed */
    APIR_E_VERSION = 8,      /* protocol major mismatch, or no HELLO yet */
    APIR_E_TRANSPORT = 9,    /* guest side: the host is unreachable or misbehaved */
    APIR_E_UNSUPPORTED = 10, /* valid, but this host cannot do it */
    APIR_E_STALE = 11        /* GRAPH_RECOMPUTE: no cached graph, or a buffer it names is gone */
};

const char *apir_status_str(int status);
const char *apir_cmd_name(uint32_t cmd);

/* Device capability bits in DEVICE_INFO (mirror ggml_backend_dev_caps). */
enum apir_dev_caps {
    APIR_DEV_CAP_ASYNC = 1u << 0,
    APIR_DEV_CAP_HOST_BUFFER = 1u << 1,
    APIR_DEV_CAP_FROM_HOST_PTR = 1u << 2,
    APIR_DEV_CAP_EVENTS = 1u << 3,
};

/* Buffer-type flags in DEVICE_INFO and buffer flags in BUFFER_ALLOC. */
enum apir_buf_flags {
    APIR_BUFT_HAS_ALLOC_SIZE = 1u << 0, /* alloc size may differ from ggml_nbytes: ask the host */
    APIR_BUF_HAS_INIT_TENSOR = 1u << 1, /* the host buffer wants init_tensor forwarded */
};

/* Device type on the wire (what the guest reports to ggml). */
enum apir_dev_type {
    APIR_DEV_TYPE_CPU = 0,
    APIR_DEV_TYPE_GPU = 1,
    APIR_DEV_TYPE_IGPU = 2,
    APIR_DEV_TYPE_ACCEL = 3,
};

/* A tensor as it crosses the wire. No data pointer: (buffer handle, offset) instead; no source
 * pointers: indices into the same message's tensor table, which must be earlier entries. */
struct apir_wire_tensor {
    uint32_t type;
    uint32_t op;
    int32_t flags;
    int64_t ne[4];
    uint64_t nb[4];
    int32_t op_params[APIR_OP_PARAMS_BYTES / 4];
    uint64_t buffer; /* 0: no data (only legal for tensors never read or written) */
    uint64_t offset;
    int32_t view_src; /* -1: not a view */
    uint64_t view_offs;
    int32_t src[APIR_MAX_SRC]; /* -1: none */
    char name[APIR_MAX_NAME];  /* NUL-terminated */
};

#endif
