/* The virtgpu transport: inside a VM, virglrenderer's APIR context through the virtio-gpu
 * render node (ioctls of virtgpu_uapi.h). The node must offer context init, blobs and
 * host-visible memory, and capset 10 must say APIR runs, or capset 4 carry the APIR capset
 * (virglrenderer's Venus route, what deployed VMMs carry: vm_capset.c). Blobs are HOST3D +
 * MAPPABLE, mapped through the node; commands go with EXECBUFFER (no fences: APIR has none). The
 * outer protocol is vm.c's. */
#include "vm.h"

#include "../proto/virgl_abi.h"
#include "virtgpu_uapi.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define APIR_DRI_FIRST_RENDER 128
#define APIR_DRI_RENDER_NODES 64

struct apir_virtgpu_transport {
    struct apir_vm vm;
    int fd;
};

static int apir_vg_fd(struct apir_vm *vm)
{
    return ((struct apir_virtgpu_transport *)vm)->fd;
}

/* ioctl, restarted as libdrm's drmIoctl does. */
static bool apir_vg_ioctl(int fd, unsigned long req, void *arg)
{
    int r;
    do
        r = ioctl(fd, req, arg);
    while (r == -1 && (errno == EINTR || errno == EAGAIN));
    return r == 0;
}

static bool apir_vg_is_virtio(int fd)
{
    char name[32] = {0};
    struct apir_drm_version v = {.name_len = sizeof name - 1, .name = name};
    return apir_vg_ioctl(fd, APIR_DRM_IOCTL_VERSION, &v) && strcmp(name, "virtio_gpu") == 0;
}

/* The first render node whose driver is virtio_gpu, or -1. */
static int apir_vg_find_node(char *path, size_t len)
{
    for (int i = 0; i < APIR_DRI_RENDER_NODES; i++) {
        snprintf(path, len, "/dev/dri/renderD%d", APIR_DRI_FIRST_RENDER + i);
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
            continue;
        if (apir_vg_is_virtio(fd))
            return fd;
        close(fd);
    }
    return -1;
}

bool apir_transport_virtgpu_present(void)
{
    char path[64];
    int fd = apir_vg_find_node(path, sizeof path);
    if (fd >= 0)
        close(fd);
    return fd >= 0;
}

static int apir_vg_param(int fd, uint64_t param)
{
    int value = 0;
    struct apir_virtgpu_getparam gp = {.param = param, .value = (uint64_t)(uintptr_t)&value};
    return apir_vg_ioctl(fd, APIR_DRM_IOCTL_VIRTGPU_GETPARAM, &gp) ? value : -1;
}

static bool apir_vg_blob_create(struct apir_vm *vm, size_t size, struct apir_shm_region *out)
{
    if (!apir_shm_page_round(&size))
        return false;
    int fd = apir_vg_fd(vm);
    struct apir_virtgpu_resource_create_blob cb = {.blob_mem = APIR_VIRTGPU_BLOB_MEM_HOST3D,
                                                   .blob_flags =
                                                       APIR_VIRTGPU_BLOB_FLAG_USE_MAPPABLE,
                                                   .size = size};
    if (!apir_vg_ioctl(fd, APIR_DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB, &cb))
        return false;
    struct apir_virtgpu_map map = {.handle = cb.bo_handle};
    void *p = MAP_FAILED;
    if (apir_vg_ioctl(fd, APIR_DRM_IOCTL_VIRTGPU_MAP, &map))
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)map.offset);
    if (p == MAP_FAILED) {
        struct apir_drm_gem_close gc = {.handle = cb.bo_handle};
        apir_vg_ioctl(fd, APIR_DRM_IOCTL_GEM_CLOSE, &gc);
        return false;
    }
    *out = (struct apir_shm_region){
        .id = cb.res_handle, .ptr = p, .size = size, .fd = -1, .handle = cb.bo_handle};
    return true;
}

static void apir_vg_blob_destroy(struct apir_vm *vm, struct apir_shm_region *b)
{
    if (b->ptr)
        munmap(b->ptr, b->size);
    if (b->handle) {
        struct apir_drm_gem_close gc = {.handle = b->handle};
        apir_vg_ioctl(apir_vg_fd(vm), APIR_DRM_IOCTL_GEM_CLOSE, &gc);
    }
    memset(b, 0, sizeof *b);
    b->fd = -1;
}

static bool apir_vg_submit(struct apir_vm *vm, const void *cmd, size_t len)
{
    if (len > UINT32_MAX)
        return false;
    struct apir_virtgpu_execbuffer eb = {
        .size = (uint32_t)len, .command = (uint64_t)(uintptr_t)cmd, .fence_fd = -1};
    return apir_vg_ioctl(apir_vg_fd(vm), APIR_DRM_IOCTL_VIRTGPU_EXECBUFFER, &eb);
}

static void apir_vg_destroy(struct apir_vm *vm)
{
    close(apir_vg_fd(vm));
    free(vm);
}

static const struct apir_vm_ops apir_virtgpu_vm_ops = {
    .blob_create = apir_vg_blob_create,
    .blob_destroy = apir_vg_blob_destroy,
    .submit = apir_vg_submit,
    .destroy = apir_vg_destroy,
};

struct apir_vg_node {
    int fd;
    int capset_ids; /* SUPPORTED_CAPSET_IDS, or -1 when the kernel cannot say */
};

/* A capset through GET_CAPS, if the node lists it (kernels before the capset list are asked
 * directly). The kernel refuses a capset it does not know with EINVAL (ENOSYS: none at all). */
static int apir_vg_read_capset(void *ctx, uint32_t id, struct apir_virgl_capset *caps)
{
    const struct apir_vg_node *node = ctx;
    if (node->capset_ids != -1 && !(node->capset_ids & (1 << id)))
        return 0;
    struct apir_virtgpu_get_caps gc = {
        .cap_set_id = id, .addr = (uint64_t)(uintptr_t)caps, .size = sizeof *caps};
    if (apir_vg_ioctl(node->fd, APIR_DRM_IOCTL_VIRTGPU_GET_CAPS, &gc))
        return 1;
    return errno == EINVAL || errno == ENOSYS ? 0 : -1;
}

/* What an APIR context needs of the node, the capset (10, or 4 routed: vm_capset.c), then the
 * context itself. *capset: the one chosen. */
static bool apir_vg_context(int fd, const char *path, uint32_t *capset, char *why, size_t n)
{
    if (apir_vg_param(fd, APIR_VIRTGPU_PARAM_CONTEXT_INIT) != 1 ||
        apir_vg_param(fd, APIR_VIRTGPU_PARAM_RESOURCE_BLOB) != 1 ||
        apir_vg_param(fd, APIR_VIRTGPU_PARAM_HOST_VISIBLE) != 1) {
        snprintf(why, n, "%s lacks context init, blobs or host-visible memory", path);
        return false;
    }
    struct apir_vg_node node = {fd, apir_vg_param(fd, APIR_VIRTGPU_PARAM_SUPPORTED_CAPSET_IDS)};
    const struct apir_vm_capset_source src = {
        .read = apir_vg_read_capset,
        .ctx = &node,
        .where = path,
        .hint = "the VMM or virglrenderer lacks APIR",
    };
    if (!apir_vm_capset_choose(&src, capset, why, n))
        return false;
    struct apir_virtgpu_context_set_param p = {APIR_VIRTGPU_CONTEXT_PARAM_CAPSET_ID, *capset};
    struct apir_virtgpu_context_init ci = {.num_params = 1,
                                           .ctx_set_params = (uint64_t)(uintptr_t)&p};
    if (!apir_vg_ioctl(fd, APIR_DRM_IOCTL_VIRTGPU_CONTEXT_INIT, &ci)) {
        snprintf(why, n, "%s: CONTEXT_INIT with capset %u failed (%s)", path, *capset,
                 strerror(errno));
        return false;
    }
    return true;
}

static int apir_vg_open_node(const char *path, char *found, size_t flen, char *why, size_t n)
{
    if (!path) {
        int fd = apir_vg_find_node(found, flen);
        if (fd < 0)
            snprintf(why, n, "no virtio-gpu render node (/dev/dri/renderD*)");
        return fd;
    }
    snprintf(found, flen, "%s", path);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        snprintf(why, n, "cannot open %s (%s)", path, strerror(errno));
    else if (!apir_vg_is_virtio(fd)) {
        snprintf(why, n, "%s is not a virtio-gpu render node", path);
        close(fd);
        fd = -1;
    }
    return fd;
}

struct apir_transport *apir_transport_virtgpu_open(const char *path, char *why, size_t whylen)
{
    char node[256];
    why[0] = '\0';
    int fd = apir_vg_open_node(path, node, sizeof node, why, whylen);
    if (fd < 0)
        return NULL;
    struct apir_virtgpu_transport *vg = calloc(1, sizeof *vg);
    uint32_t capset = 0;
    if (!vg || !apir_vg_context(fd, node, &capset, why, whylen)) {
        if (!vg)
            snprintf(why, whylen, "out of memory");
        free(vg);
        close(fd);
        return NULL;
    }
    vg->fd = fd;
    vg->vm.base.ops = &apir_vm_transport_ops;
    vg->vm.vops = &apir_virtgpu_vm_ops;
    vg->vm.reply.fd = -1;
    apir_vm_capset_use(&vg->vm, capset);
    snprintf(vg->vm.base.desc, sizeof vg->vm.base.desc, "virtgpu:%.100s", node);
    if (!apir_vm_init(&vg->vm, &apir_virtgpu_vm_ops, why, whylen)) {
        vg->vm.base.ops->destroy(&vg->vm.base);
        return NULL;
    }
    return &vg->vm.base;
}
