/* The Linux DRM and virtio-gpu ioctls the virtgpu transport uses, declared from the kernel's
 * stable UAPI layout (include/uapi/drm/drm.h and virtgpu_drm.h): Debian 12's libdrm headers
 * predate blobs and context init, and declaring them keeps the guest plugin free of a runtime
 * dependency. Shared with the fake render node test double. */
#ifndef APIR_VIRTGPU_UAPI_H
#define APIR_VIRTGPU_UAPI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

#define APIR_DRM_IOCTL_BASE 'd'
#define APIR_DRM_COMMAND_BASE 0x40

struct apir_drm_version {
    int version_major;
    int version_minor;
    int version_patchlevel;
    size_t name_len;
    char *name;
    size_t date_len;
    char *date;
    size_t desc_len;
    char *desc;
};

struct apir_drm_gem_close {
    uint32_t handle;
    uint32_t pad;
};

struct apir_virtgpu_getparam {
    uint64_t param;
    uint64_t value; /* user pointer to an int the kernel writes */
};
#define APIR_VIRTGPU_PARAM_RESOURCE_BLOB 3
#define APIR_VIRTGPU_PARAM_HOST_VISIBLE 4
#define APIR_VIRTGPU_PARAM_CONTEXT_INIT 6
#define APIR_VIRTGPU_PARAM_SUPPORTED_CAPSET_IDS 7

struct apir_virtgpu_get_caps {
    uint32_t cap_set_id;
    uint32_t cap_set_ver;
    uint64_t addr;
    uint32_t size;
    uint32_t pad;
};

struct apir_virtgpu_context_set_param {
    uint64_t param;
    uint64_t value;
};
#define APIR_VIRTGPU_CONTEXT_PARAM_CAPSET_ID 1

struct apir_virtgpu_context_init {
    uint32_t num_params;
    uint32_t pad;
    uint64_t ctx_set_params; /* user pointer to apir_virtgpu_context_set_param[num_params] */
};

struct apir_virtgpu_resource_create_blob {
    uint32_t blob_mem;
    uint32_t blob_flags;
    uint32_t bo_handle;  /* out */
    uint32_t res_handle; /* out */
    uint64_t size;
    uint32_t pad;
    uint32_t cmd_size;
    uint64_t cmd;
    uint64_t blob_id;
};
#define APIR_VIRTGPU_BLOB_MEM_HOST3D 2
#define APIR_VIRTGPU_BLOB_FLAG_USE_MAPPABLE 1

struct apir_virtgpu_map {
    uint64_t offset; /* out: for mmap on the DRM fd */
    uint32_t handle;
    uint32_t pad;
};

/* The original execbuffer layout: newer kernels extend it (syncobjs) and zero-fill what an
 * older caller does not pass. */
struct apir_virtgpu_execbuffer {
    uint32_t flags;
    uint32_t size;
    uint64_t command; /* user pointer */
    uint64_t bo_handles;
    uint32_t num_bo_handles;
    int32_t fence_fd;
    uint32_t ring_idx;
    uint32_t pad;
};

#define APIR_DRM_IOCTL_VERSION _IOWR(APIR_DRM_IOCTL_BASE, 0x00, struct apir_drm_version)
#define APIR_DRM_IOCTL_GEM_CLOSE _IOW(APIR_DRM_IOCTL_BASE, 0x09, struct apir_drm_gem_close)
#define APIR_VIRTGPU_IOWR(nr, type) _IOWR(APIR_DRM_IOCTL_BASE, APIR_DRM_COMMAND_BASE + (nr), type)
#define APIR_DRM_IOCTL_VIRTGPU_MAP APIR_VIRTGPU_IOWR(0x01, struct apir_virtgpu_map)
#define APIR_DRM_IOCTL_VIRTGPU_EXECBUFFER APIR_VIRTGPU_IOWR(0x02, struct apir_virtgpu_execbuffer)
#define APIR_DRM_IOCTL_VIRTGPU_GETPARAM APIR_VIRTGPU_IOWR(0x03, struct apir_virtgpu_getparam)
#define APIR_DRM_IOCTL_VIRTGPU_GET_CAPS APIR_VIRTGPU_IOWR(0x09, struct apir_virtgpu_get_caps)
#define APIR_DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB                                                \
    APIR_VIRTGPU_IOWR(0x0a, struct apir_virtgpu_resource_create_blob)
#define APIR_DRM_IOCTL_VIRTGPU_CONTEXT_INIT                                                        \
    APIR_VIRTGPU_IOWR(0x0b, struct apir_virtgpu_context_init)

_Static_assert(sizeof(struct apir_virtgpu_resource_create_blob) == 48, "kernel UAPI layout");
_Static_assert(sizeof(struct apir_virtgpu_execbuffer) == 40, "kernel UAPI layout (v1)");
_Static_assert(sizeof(struct apir_virtgpu_get_caps) == 24, "kernel UAPI layout");
_Static_assert(sizeof(struct apir_virtgpu_map) == 16, "kernel UAPI layout");
_Static_assert(sizeof(struct apir_virtgpu_context_init) == 16, "kernel UAPI layout");

#endif
