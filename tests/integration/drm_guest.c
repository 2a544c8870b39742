/* A libdrm-based virtio-gpu guest, as llama.cpp's ggml-virtgpu and Mesa's venus are: it finds
 * the driver with libdrm's drmGetVersion and talks through drmIoctl with the kernel's current
 * request layouts (the 64-byte EXECBUFFER, RING_IDX on a context with one ring). Run against
 * the fake render node (TEST DOUBLE, tests/doubles/fake_virtgpu_node.c) in front of a real
 * virgl_test_server, it checks that the double answers such a guest as the kernel would, and
 * that the Venus route carries the APIR outer protocol:
 *
 *   drm_guest NODE routed   capset 4 holds the APIR capset: HandShake and LoadLibrary answered
 *   drm_guest NODE venus    capset 4 is Venus's own: creates the context anyway and sends one
 *                           APIR HandShake to it (the control for route.sh: what the server
 *                           logs when a Venus context is fed an APIR command)
 *
 * Prints one line per check; exit 0 when all passed. */
#include "../../src/proto/virgl_abi.h"
#include "../doubles/fake_virtgpu_kabi.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <xf86drm.h>

#define DRM_GUEST_EXECBUFFER                                                                       \
    APIR_VIRTGPU_IOWR(FAKE_NR_EXECBUFFER - APIR_DRM_COMMAND_BASE, struct fake_virtgpu_execbuffer)
#define DRM_GUEST_RESOURCE_INFO                                                                    \
    APIR_VIRTGPU_IOWR(FAKE_NR_RESOURCE_INFO - APIR_DRM_COMMAND_BASE,                               \
                      struct fake_virtgpu_resource_info)

static int drm_guest_failed;

static void drm_guest_check(const char *what, bool ok)
{
    printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    drm_guest_failed += !ok;
}

/* drmGetVersion allocates and copies every string: an empty date or description crashes
 * callers that strdup them (libdrm's drmCopyVersion does). */
static void drm_guest_version(int fd)
{
    drmVersionPtr v = drmGetVersion(fd);
    drm_guest_check("drmGetVersion answers", v != NULL);
    if (!v)
        return;
    printf("driver %s %d.%d.%d, date \"%s\", desc \"%s\"\n", v->name, v->version_major,
           v->version_minor, v->version_patchlevel, v->date ? v->date : "(null)",
           v->desc ? v->desc : "(null)");
    drm_guest_check("driver virtio_gpu 0.1", !strcmp(v->name, "virtio_gpu") &&
                                                 v->version_major == 0 && v->version_minor == 1);
    drm_guest_check("date and description as the kernel's",
                    v->date && !strcmp(v->date, "0") && v->desc && !strcmp(v->desc, "virtio GPU"));
    drmFreeVersion(v);
}

/* ggml-virtgpu's context: the capset, one ring, no ring polling. */
static bool drm_guest_context(int fd, uint32_t capset)
{
    struct apir_virtgpu_context_set_param p[3] = {
        {APIR_VIRTGPU_CONTEXT_PARAM_CAPSET_ID, capset},
        {FAKE_CTX_PARAM_NUM_RINGS, 1},
        {FAKE_CTX_PARAM_POLL_RINGS_MASK, 0},
    };
    struct apir_virtgpu_context_init ci = {.num_params = 3,
                                           .ctx_set_params = (uint64_t)(uintptr_t)p};
    bool ok = drmIoctl(fd, APIR_DRM_IOCTL_VIRTGPU_CONTEXT_INIT, &ci) == 0;
    drm_guest_check("CONTEXT_INIT with capset, NUM_RINGS and POLL_RINGS_MASK", ok);
    int r = drmIoctl(fd, APIR_DRM_IOCTL_VIRTGPU_CONTEXT_INIT, &ci);
    drm_guest_check("a second CONTEXT_INIT: EEXIST", r == -1 && errno == EEXIST);
    return ok;
}

static void *drm_guest_blob(int fd, uint32_t *res_id)
{
    struct apir_virtgpu_resource_create_blob cb = {.blob_mem = APIR_VIRTGPU_BLOB_MEM_HOST3D,
                                                   .blob_flags =
                                                       APIR_VIRTGPU_BLOB_FLAG_USE_MAPPABLE,
                                                   .size = 4096};
    struct apir_virtgpu_map map = {0};
    if (drmIoctl(fd, APIR_DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB, &cb) != 0)
        return NULL;
    map.handle = cb.bo_handle;
    struct fake_virtgpu_resource_info ri = {.bo_handle = cb.bo_handle};
    drm_guest_check("RESOURCE_INFO: the blob's resource id and size",
                    drmIoctl(fd, DRM_GUEST_RESOURCE_INFO, &ri) == 0 &&
                        ri.res_handle == cb.res_handle && ri.size == 4096);
    if (drmIoctl(fd, APIR_DRM_IOCTL_VIRTGPU_MAP, &map) != 0)
        return NULL;
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)map.offset);
    *res_id = cb.res_handle;
    return p == MAP_FAILED ? NULL : p;
}

/* One outer command on the routed context (type + the Venus command count), through the
 * current 64-byte request with RING_IDX; its reply word, or 0 after wait_ms. */
static uint32_t drm_guest_call(int fd, _Atomic uint32_t *word, uint32_t type, uint32_t reply,
                               const uint32_t *payload, size_t n, int wait_ms)
{
    uint32_t cmd[8] = {APIR_VIRGL_VENUS_CMD_BASE + type, 0, reply};
    if (n) /* payload may be NULL then, which memcpy may not be given */
        memcpy(cmd + 3, payload, n * 4);
    atomic_store(word, 0);
    struct fake_virtgpu_execbuffer eb = {.flags = FAKE_EXECBUF_RING_IDX,
                                         .size = (uint32_t)(3 + n) * 4,
                                         .command = (uint64_t)(uintptr_t)cmd,
                                         .ring_idx = 0};
    if (drmIoctl(fd, DRM_GUEST_EXECBUFFER, &eb) != 0)
        return 0;
    for (int i = 0; i < wait_ms && atomic_load(word) == 0; i++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    return atomic_load(word);
}

static void drm_guest_routed(int fd, _Atomic uint32_t *word, uint32_t reply)
{
    uint32_t ver[2] = {APIR_VIRGL_OUTER_MAJOR, APIR_VIRGL_OUTER_MINOR};
    drm_guest_check("HandShake (type 331) through a 64-byte RING_IDX execbuffer: the magic",
                    drm_guest_call(fd, word, APIR_VIRGL_CMD_HANDSHAKE, reply, ver, 2, 30000) ==
                        1 + APIR_VIRGL_MAGIC);
    uint32_t r = drm_guest_call(fd, word, APIR_VIRGL_CMD_LOAD_LIBRARY, reply, NULL, 0, 60000);
    drm_guest_check("LoadLibrary (type 332): loaded",
                    r == 1 + APIR_VIRGL_LOAD_OK || r == 1 + APIR_VIRGL_LOAD_ALREADY);
    /* The original 40-byte request, as the plugin sends it: the kernel takes both sizes. */
    uint32_t cmd[5] = {APIR_VIRGL_VENUS_CMD_BASE + APIR_VIRGL_CMD_HANDSHAKE, 0, reply, ver[0],
                       ver[1]};
    atomic_store(word, 0);
    struct apir_virtgpu_execbuffer v1 = {
        .size = sizeof cmd, .command = (uint64_t)(uintptr_t)cmd, .fence_fd = -1};
    bool sent = drmIoctl(fd, APIR_DRM_IOCTL_VIRTGPU_EXECBUFFER, &v1) == 0;
    for (int i = 0; sent && i < 30000 && atomic_load(word) == 0; i++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    drm_guest_check("the 40-byte execbuffer too", atomic_load(word) == 1 + APIR_VIRGL_MAGIC);
    struct fake_virtgpu_execbuffer bad = {.flags = FAKE_EXECBUF_RING_IDX,
                                          .size = sizeof cmd,
                                          .command = (uint64_t)(uintptr_t)cmd,
                                          .ring_idx = 1};
    drm_guest_check("RING_IDX past the context's one ring: EINVAL",
                    drmIoctl(fd, DRM_GUEST_EXECBUFFER, &bad) == -1 && errno == EINVAL);
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[2], "routed") && strcmp(argv[2], "venus"))) {
        fprintf(stderr, "usage: drm_guest NODE routed|venus\n");
        return 2;
    }
    int fd = open(argv[1], O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    drm_guest_version(fd);
    struct apir_virgl_capset caps = {0};
    struct apir_virtgpu_get_caps gc = {.cap_set_id = APIR_VIRGL_CAPSET_VENUS,
                                       .addr = (uint64_t)(uintptr_t)&caps,
                                       .size = sizeof caps};
    drm_guest_check("GET_CAPS of capset 4",
                    drmIoctl(fd, APIR_DRM_IOCTL_VIRTGPU_GET_CAPS, &gc) == 0);
    bool routed = caps.apir_version == 1 && caps.supports_blob_resources == 1 &&
                  !caps.reserved[0] && !caps.reserved[1];
    printf("capset 4: %u %u %u %u ...\n", caps.apir_version, caps.supports_blob_resources,
           caps.reserved[0], caps.reserved[1]);
    drm_guest_check(strcmp(argv[2], "routed") == 0 ? "capset 4 holds the APIR capset"
                                                   : "capset 4 is Venus's own",
                    routed == (strcmp(argv[2], "routed") == 0));
    uint32_t reply = 0;
    _Atomic uint32_t *word = NULL;
    if (drm_guest_context(fd, APIR_VIRGL_CAPSET_VENUS))
        word = drm_guest_blob(fd, &reply);
    drm_guest_check("a mapped reply blob", word != NULL);
    if (word && routed)
        drm_guest_routed(fd, word, reply);
    else if (word) {
        /* The control: an APIR command fed to a real Venus context; route.sh reads the
         * server's log for what that looks like. No reply comes. */
        uint32_t ver[2] = {APIR_VIRGL_OUTER_MAJOR, APIR_VIRGL_OUTER_MINOR};
        drm_guest_check("no answer from a Venus context",
                        drm_guest_call(fd, word, APIR_VIRGL_CMD_HANDSHAKE, reply, ver, 2, 2000) ==
                            0);
    }
    close(fd);
    printf("drm_guest: %s\n", drm_guest_failed ? "FAILED" : "passed");
    return drm_guest_failed ? 1 : 0;
}
