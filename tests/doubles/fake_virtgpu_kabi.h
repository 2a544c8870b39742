/* TEST DOUBLE support: what the fake render node (fake_virtgpu_node.c) must know of the Linux
 * DRM core and virtio-gpu driver beyond what the guest plugin uses (src/guest/virtgpu_uapi.h),
 * so that it answers as the kernel does for other virtio-gpu guests too (libdrm-based ones:
 * llama.cpp's ggml-virtgpu, Mesa's venus). Declared here from the kernel's documented UAPI
 * (include/uapi/drm/virtgpu_drm.h) and DRM core behaviour (drm_ioctl, drm_version); nothing
 * is included from a kernel or libdrm tree. */
#ifndef APIR_FAKE_VIRTGPU_KABI_H
#define APIR_FAKE_VIRTGPU_KABI_H

#include "../../src/guest/virtgpu_uapi.h"

/* The driver's DRM_IOCTL_VERSION answer (virtio_gpu: DRIVER_NAME, DESC, DATE, 0.1.0). */
#define FAKE_DRV_NAME "virtio_gpu"
#define FAKE_DRV_DESC "virtio GPU"
#define FAKE_DRV_DATE "0"
#define FAKE_DRV_MAJOR 0
#define FAKE_DRV_MINOR 1

/* ioctl numbers: the DRM core's, then the driver's at APIR_DRM_COMMAND_BASE + n. */
#define FAKE_NR_VERSION 0x00
#define FAKE_NR_GEM_CLOSE 0x09
#define FAKE_NR_MAP 0x41
#define FAKE_NR_EXECBUFFER 0x42
#define FAKE_NR_GETPARAM 0x43
#define FAKE_NR_RESOURCE_INFO 0x45
#define FAKE_NR_WAIT 0x48
#define FAKE_NR_GET_CAPS 0x49
#define FAKE_NR_RESOURCE_CREATE_BLOB 0x4a
#define FAKE_NR_CONTEXT_INIT 0x4b

/* The execbuffer request as current kernels define it (64 bytes: syncobjs appended to the
 * original 40-byte layout). The kernel takes either size: drm_ioctl copies in what the caller
 * passed and zero-fills the rest. */
struct fake_virtgpu_execbuffer {
    uint32_t flags;
    uint32_t size;
    uint64_t command;
    uint64_t bo_handles;
    uint32_t num_bo_handles;
    int32_t fence_fd;
    uint32_t ring_idx;
    uint32_t syncobj_stride;
    uint32_t num_in_syncobjs;
    uint32_t num_out_syncobjs;
    uint64_t in_syncobjs;
    uint64_t out_syncobjs;
};
_Static_assert(sizeof(struct fake_virtgpu_execbuffer) == 64, "kernel UAPI layout (current)");
#define FAKE_EXECBUF_FENCE_FD_IN 0x01u
#define FAKE_EXECBUF_FENCE_FD_OUT 0x02u
#define FAKE_EXECBUF_RING_IDX 0x04u
#define FAKE_EXECBUF_FLAGS                                                                         \
    (FAKE_EXECBUF_FENCE_FD_IN | FAKE_EXECBUF_FENCE_FD_OUT | FAKE_EXECBUF_RING_IDX)

struct fake_virtgpu_resource_info {
    uint32_t bo_handle;
    uint32_t res_handle; /* out */
    uint32_t size;       /* out */
    uint32_t blob_mem;   /* out */
};
_Static_assert(sizeof(struct fake_virtgpu_resource_info) == 16, "kernel UAPI layout");

struct fake_virtgpu_wait {
    uint32_t handle;
    uint32_t flags;
};
_Static_assert(sizeof(struct fake_virtgpu_wait) == 8, "kernel UAPI layout");

/* GETPARAM ids beyond the guest's. */
#define FAKE_PARAM_3D_FEATURES 1
#define FAKE_PARAM_CAPSET_QUERY_FIX 2
#define FAKE_PARAM_CROSS_DEVICE 5
#define FAKE_PARAM_EXPLICIT_DEBUG_NAME 8

/* CONTEXT_INIT params beyond the capset id. */
#define FAKE_CTX_PARAM_NUM_RINGS 2
#define FAKE_CTX_PARAM_POLL_RINGS_MASK 3
#define FAKE_CTX_PARAM_DEBUG_NAME 4
#define FAKE_MAX_RINGS 64
#define FAKE_MAX_CAPSET_ID 63

/* Blob kinds and flags the kernel accepts. */
#define FAKE_BLOB_MEM_GUEST 1
#define FAKE_BLOB_MEM_HOST3D_GUEST 3
#define FAKE_BLOB_FLAG_MASK 0x7u /* mappable, shareable, cross-device */

#endif
