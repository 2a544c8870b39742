/* A client of virglrenderer's vtest protocol (vtest/vtest_protocol.h in virglrenderer): the
 * socket protocol virgl_test_server speaks to run contexts without a VM. Only what an APIR
 * context needs: a renderer, capsets, one context, HOST3D blobs, command submission.
 * Declared here from the protocol's documented layout; nothing is included from virglrenderer.
 *
 * Used by the guest's vtest transport and by the fake render node test double, which turns
 * virtio-gpu ioctls into these calls. */
#ifndef APIR_VTEST_CLIENT_H
#define APIR_VTEST_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* vtest commands used (header: {length, command id}, then length dwords — bytes for
 * CREATE_RENDERER). */
enum apir_vtest_cmd {
    APIR_VCMD_RESOURCE_UNREF = 3,
    APIR_VCMD_CREATE_RENDERER = 8,
    APIR_VCMD_PROTOCOL_VERSION = 11,
    APIR_VCMD_GET_CAPSET = 16,
    APIR_VCMD_CONTEXT_INIT = 17,
    APIR_VCMD_RESOURCE_CREATE_BLOB = 18,
    APIR_VCMD_SUBMIT_CMD2 = 24,
};
#define APIR_VTEST_PROTOCOL_VERSION 4u /* what we ask for; 3 is the least we accept */
#define APIR_VTEST_BLOB_HOST3D 2u
#define APIR_VTEST_BLOB_FLAG_MAPPABLE 1u
#define APIR_VTEST_DEFAULT_SOCKET "/tmp/.virgl_test"

struct apir_vtest {
    int fd;
    uint32_t version;
};

/* Connects, creates the renderer (named `name`) and agrees on a protocol version. */
bool apir_vtest_connect(struct apir_vtest *v, const char *path, const char *name, char *why,
                        size_t whylen);
void apir_vtest_close(struct apir_vtest *v);

/* GET_CAPSET: *valid is the server's answer; up to cap bytes of the capset are copied to out
 * (the rest of a larger one is read and dropped), *got says how many. */
bool apir_vtest_get_capset(struct apir_vtest *v, uint32_t id, uint32_t version, void *out,
                           size_t cap, size_t *got, bool *valid);
bool apir_vtest_context_init(struct apir_vtest *v, uint32_t capset_id);
/* RESOURCE_CREATE_BLOB: the server's resource id and the blob's memory as a descriptor. */
bool apir_vtest_blob_create(struct apir_vtest *v, uint32_t blob_mem, uint32_t flags, uint64_t size,
                            uint64_t blob_id, uint32_t *res_id, int *fd);
bool apir_vtest_resource_unref(struct apir_vtest *v, uint32_t res_id);
/* SUBMIT_CMD2 with one batch of len bytes (a multiple of 4) and no fences. */
bool apir_vtest_submit(struct apir_vtest *v, const void *cmd, size_t len);
/* The server is still connected (a peek, never blocks). */
bool apir_vtest_alive(const struct apir_vtest *v);

#endif
