/* The outer layer: virglrenderer's APIR context (virglrenderer merge request 1590, as pinned
 * in ../shared/deps), declared here from its documented layout (docs/protocol.md §Outer layer).
 * Nothing is included from virglrenderer: this is the ABI we speak, written down once for the
 * guest's VM transports and the host library's entry points.
 *
 * A command is dwords: cmd_type, flags, reply_res_id, payload (padded to 4 bytes, no length).
 * The host answers by writing reply data at byte 4 of the reply blob and then storing
 * 1 + result into the blob's first dword. ggml-apir messages travel inside Forward. */
#ifndef APIR_VIRGL_ABI_H
#define APIR_VIRGL_ABI_H

#include <stdint.h>

/* virtio-gpu capset id of APIR contexts, and its contents (GET_CAPS / vtest GET_CAPSET). */
#define APIR_VIRGL_CAPSET_ID 10u
struct apir_virgl_capset {
    uint32_t apir_version; /* 1; 0 means APIR is not running (the capset may be all zero) */
    uint32_t supports_blob_resources;
    uint32_t reserved[4];
};
_Static_assert(sizeof(struct apir_virgl_capset) == 24, "capset 10 is six dwords");

/* The transition route every deployed VMM carries (libkrun, QEMU >= 9.2 list only the capsets
 * they know): virglrenderer started with VIRGL_ROUTE_VENUS_TO_APIR=1 answers the Venus capset
 * (4) with the APIR capset's contents above and turns a Venus context into an APIR context,
 * subtracting the Venus command count from every command type at least that large. Without
 * the variable, capset 4 is Venus's own (its first words: wire format version, vk.xml version,
 * extension spec versions), and its context decodes Vulkan commands. */
#define APIR_VIRGL_CAPSET_VENUS 4u
#define APIR_VIRGL_VENUS_CMD_BASE 331u /* the Venus command count, added to each cmd_type */

/* Outer command types (dword 0). */
enum apir_virgl_cmd {
    APIR_VIRGL_CMD_HANDSHAKE = 0,    /* payload {major, minor}; result APIR_VIRGL_MAGIC */
    APIR_VIRGL_CMD_LOAD_LIBRARY = 1, /* no payload; result enum apir_virgl_load */
    APIR_VIRGL_CMD_FORWARD = 2,      /* flags = the library dispatcher's cmd_type */
};
#define APIR_VIRGL_OUTER_MAJOR 0u
#define APIR_VIRGL_OUTER_MINOR 1u
#define APIR_VIRGL_MAGIC 0xab1eu

enum apir_virgl_load {
    APIR_VIRGL_LOAD_OK = 0,
    APIR_VIRGL_LOAD_ALREADY = 2,
    APIR_VIRGL_LOAD_NO_CONFIG = 3,
    APIR_VIRGL_LOAD_CANNOT_OPEN = 4,
    APIR_VIRGL_LOAD_NO_SYMBOL = 5,
    APIR_VIRGL_LOAD_INIT_BASE = 6, /* + the library's initialize() return */
};

/* Forward's result is this base plus the dispatcher's return; lower values are virglrenderer's
 * own failures (1: no library loaded). */
#define APIR_VIRGL_FORWARD_BASE 4u

/* The reply word: 0 while pending, then 1 + result. Reply data starts after it. */
#define APIR_VIRGL_REPLY_DATA 4u

/* ggml-apir's use of Forward: flags (the dispatcher's cmd_type) says what the payload is. */
enum apir_virgl_forward {
    /* The payload is one framed ggml-apir message (16-byte header + payload, include/apir/
     * protocol.h); the reply data is one framed reply message. */
    APIR_VIRGL_FWD_MESSAGE = 1,
    /* The payload is {u32 res_id, u32 len}: one framed request of len bytes at the start of
     * blob res_id. For messages larger than a command may be: virglrenderer's render server
     * passes commands over a SOCK_SEQPACKET socket, which refuses datagrams past about 200 KiB
     * and ends the context. The host copies the message out before reading it. */
    APIR_VIRGL_FWD_MESSAGE_IN_BLOB = 2,
    /* The payload is {u32 res_id, u32 size}: blob res_id holds a ring (src/shm/ring.h
     * layout) from now on, served by a thread of the host library: requests that fit go
     * there, with no command at all while that thread polls. No reply message. */
    APIR_VIRGL_FWD_RING_ATTACH = 3,
    /* No payload: wakes the ring's thread, which sleeps once the ring's host_idle is set.
     * Sent with a reply blob of its own: the guest never waits for it. */
    APIR_VIRGL_FWD_RING_KICK = 4,
};
/* Commands up to this size carry the message inline; larger ones go through a blob. */
#define APIR_VIRGL_INLINE_MAX (64u << 10)

/* What apir_backend_dispatcher returns (Forward's result minus APIR_VIRGL_FORWARD_BASE). */
enum apir_virgl_dispatch {
    APIR_VIRGL_DISPATCH_OK = 0,         /* a reply message is in the window */
    APIR_VIRGL_DISPATCH_NO_SESSION = 1, /* initialize failed or never ran for this context */
    APIR_VIRGL_DISPATCH_BAD_TYPE = 2,   /* unknown cmd_type */
    APIR_VIRGL_DISPATCH_BAD_FRAME = 3,  /* the payload is not one request message */
    APIR_VIRGL_DISPATCH_NO_WINDOW = 4,  /* the reply blob cannot hold a reply header */
    APIR_VIRGL_DISPATCH_BAD_BLOB = 5,   /* MESSAGE_IN_BLOB: no such blob, or not that large */
    APIR_VIRGL_DISPATCH_NO_MEMORY = 6,  /* the host cannot copy the message out */
    APIR_VIRGL_DISPATCH_NO_RING = 7,    /* RING_ATTACH refused (one already, or no thread) */
};

/* The library's entry points, as virglrenderer calls them (dlsym by these names). */
struct apir_virgl_callbacks {
    const char *(*get_config)(uint32_t ctx_id, const char *key);
    volatile uint32_t *(*get_shmem_ptr)(uint32_t ctx_id, uint32_t res_id);
};

uint32_t apir_backend_initialize(uint32_t ctx_id, struct apir_virgl_callbacks *cbs);
uint32_t apir_backend_dispatcher(uint32_t ctx_id, struct apir_virgl_callbacks *cbs,
                                 uint32_t cmd_type, char *dec_cur, const char *dec_end,
                                 char *enc_cur, const char *enc_end, char **enc_cur_after);
void apir_backend_deinit(uint32_t ctx_id);

#endif
