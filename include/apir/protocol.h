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
#define APIR_PROTO_MINOR 2

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

/* The command table. X(id, NAME, name, request, reply): ids are append-only; the enum, the name
 * table and the host dispatch table all expand from this list. Field lists are documentation
 * of the payload order; "tensor" is an apir_wire_tensor, "graph" a tensor table + node list. */
#define APIR_COMMANDS(X)                                                                           \
    X(1, HELLO, hello, "u32 major, u32 minor, u64 features",                                       \
      "u32 major, u32 minor, u64 features, u32 n_devices")                                         \
    X(2, DEVICE_INFO, device_info, "u32 index",                                                    \
      "u64 dev, u64 buft, str name, str desc, u32 type, u64 mem_free, u64 mem_total, u32 caps, "   \
      "str buft_name, u64 alignment, u64 max_size, u32 buft_flags")                                \
    X(3, DEVICE_MEMORY, device_memory, "u64 dev", "u64 mem_free, u64 mem_total")                   \
    X(4, DEVICE_SUPPORTS_OP, device_supports_op, "u64 dev, graph(1 node)", "u32 supported")        \
    X(5, DEVICE_OFFLOAD_OP, device_offload_op, "u64 dev, graph(1 node)", "u32 offload")            \
    X(6, BUFT_ALLOC_SIZE, buft_alloc_size, "u64 buft, graph(1 node)", "u64 size")                  \
    X(7, BUFFER_ALLOC, buffer_alloc, "u64 buft, u64 size",                                         \
      "u64 buffer, u64 size, u32 buffer_flags")                                                    \
    X(8, BUFFER_FREE, buffer_free, "u64 buffer", "")                                               \
    X(9, BUFFER_CLEAR, buffer_clear, "u64 buffer, u32 value", "")                                  \
    X(10, BUFFER_RESET, buffer_reset, "u64 buffer", "")                                            \
    X(11, TENSOR_INIT, tensor_init, "graph(1 node)", "")                                           \
    X(12, TENSOR_SET, tensor_set, "graph(1 node), u64 offset, bytes data", "")                     \
    X(13, TENSOR_GET, tensor_get, "graph(1 node), u64 offset, u64 size", "bytes data")             \
    X(14, TENSOR_MEMSET, tensor_memset, "graph(1 node), u64 offset, u64 size, u32 value", "")      \
    X(15, TENSOR_COPY, tensor_copy, "graph(2 nodes: src, dst)", "u32 copied")                      \
    X(16, STREAM_NEW, stream_new, "u64 dev", "u64 stream")                                         \
    X(17, STREAM_FREE, stream_free, "u64 stream", "")                                              \
    X(18, STREAM_SET_THREADS, stream_set_threads, "u64 stream, u32 n_threads", "")                 \
    X(19, GRAPH_COMPUTE, graph_compute, "u64 stream, graph", "u32 ggml_status")                    \
    X(20, STREAM_SYNC, stream_sync, "u64 stream", "")                                              \
    X(21, REGION_ATTACH, region_attach, "u32 region, u64 size (+ the memory, from the transport)", \
      "")                                                                                          \
    X(22, REGION_DETACH, region_detach, "u32 region", "")                                          \
    X(23, BUFFER_FROM_REGION, buffer_from_region, "u64 dev, u32 region, u64 offset, u64 size",     \
      "u64 buffer, u64 size, u32 buffer_flags")                                                    \
    X(24, GRAPH_RECOMPUTE, graph_recompute, "u64 stream", "u32 ggml_status")                       \
    X(25, RING_ATTACH, ring_attach, "u32 size (+ the memory: socket transport only)", "")          \
    X(26, TENSOR_SET_STAGED, tensor_set_staged,                                                    \
      "graph(1 node), u64 offset, u32 region, u64 region_offset, u64 size", "")                    \
    X(27, TENSOR_GET_STAGED, tensor_get_staged,                                                    \
      "graph(1 node), u64 offset, u32 region, u64 region_offset, u64 size", "")                    \
    X(28, DEVICE_EXTRA_BUFTS, device_extra_bufts, "u64 dev",                                       \
      "u32 n, n x (u64 buft, str buft_name, u64 alignment, u64 max_size, u32 buft_flags)")         \
    X(29, BUFT_SUPPORTS_OP, buft_supports_op, "u64 buft, graph(1 node)", "u32 supported")

enum apir_cmd {
#define APIR_X_ENUM(id, NAME, name, req, rep) APIR_CMD_##NAME = id,
    APIR_COMMANDS(APIR_X_ENUM)
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
