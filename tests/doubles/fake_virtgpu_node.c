/* TEST DOUBLE: a fake virtio-gpu render node (LD_PRELOAD), for machines without a VM.
 *
 * No VM runs on CI, so no kernel virtio-gpu driver exists to receive the guest's ioctls. This
 * shim stands in for the driver only: it makes one path (APIR_FAKE_DRM_NODE, default
 * /dev/dri/renderD128) open as a "render node" and turns the virtio-gpu ioctls issued on it
 * into the vtest commands they become on the host (APIR_FAKE_VTEST_SOCKET: a real
 * virgl_test_server). The guest's real virtgpu transport (src/guest/transport-virtgpu.c) thus
 * meets the real virglrenderer APIR context through its real ioctl code path:
 *
 *   DRM_IOCTL_VERSION                 -> driver name "virtio_gpu"
 *   VIRTGPU_GETPARAM                  -> context init, blobs, host-visible: yes; capsets: 10
 *   VIRTGPU_GET_CAPS                  -> vtest GET_CAPSET
 *   VIRTGPU_CONTEXT_INIT              -> vtest CONTEXT_INIT (the capset id param)
 *   VIRTGPU_RESOURCE_CREATE_BLOB      -> vtest RESOURCE_CREATE_BLOB (the blob's fd kept)
 *   VIRTGPU_MAP + mmap(node, offset)  -> mmap of that fd
 *   VIRTGPU_EXECBUFFER                -> vtest SUBMIT_CMD2
 *   GEM_CLOSE                         -> vtest RESOURCE_UNREF
 *
 * Anything else on the node fails with EINVAL, as a driver refuses what it does not know. */
#include "../../src/guest/virtgpu_uapi.h"
#include "../../src/vtest/vtest_client.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Built with hidden visibility: only the interposed calls leave the library. */
#define FAKE_EXPORT __attribute__((visibility("default")))
#define FAKE_MAX_BOS 4096
#define FAKE_MAP_SHIFT 32 /* a blob's mmap offset: its handle in the high bits */

struct fake_bo {
    uint32_t res_id;
    int fd;
};

static pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;
static struct apir_vtest fake_vt = {.fd = -1};
static struct fake_bo fake_bos[FAKE_MAX_BOS]; /* index: GEM handle */

static const char *fake_node_path(void)
{
    const char *p = getenv("APIR_FAKE_DRM_NODE");
    return p && *p ? p : "/dev/dri/renderD128";
}

static bool fake_is_node(int fd)
{
    return fd >= 0 && fd == fake_vt.fd;
}

/* Opening the node connects to virgl_test_server: the socket is the node's descriptor. */
static int fake_open_node(void)
{
    pthread_mutex_lock(&fake_lock);
    int fd = -1;
    if (fake_vt.fd >= 0) {
        errno = EBUSY; /* one open node per process is all the guest transport uses */
    } else {
        const char *sock = getenv("APIR_FAKE_VTEST_SOCKET");
        char why[256];
        if (sock && apir_vtest_connect(&fake_vt, sock, "fake-virtgpu", why, sizeof why))
            fd = fake_vt.fd;
        else
            errno = ENOENT;
    }
    pthread_mutex_unlock(&fake_lock);
    return fd;
}

#define FAKE_REAL(ret, name, ...)                                                                  \
    static ret (*real_fn)(__VA_ARGS__);                                                            \
    if (!real_fn)                                                                                  \
        *(void **)&real_fn = dlsym(RTLD_NEXT, name);

/* open and open64 alike: the node's path opens the fake node, anything else the real file. */
static int fake_open(const char *path, int flags, va_list ap,
                     int (*real_fn)(const char *, int, ...))
{
    mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
    if (strcmp(path, fake_node_path()) == 0)
        return fake_open_node();
    return real_fn(path, flags, mode);
}

FAKE_EXPORT int open(const char *path, int flags, ...)
{
    FAKE_REAL(int, "open", const char *, int, ...)
    va_list ap;
    va_start(ap, flags);
    int fd = fake_open(path, flags, ap, real_fn);
    va_end(ap);
    return fd;
}

FAKE_EXPORT int open64(const char *path, int flags, ...)
{
    FAKE_REAL(int, "open64", const char *, int, ...)
    va_list ap;
    va_start(ap, flags);
    int fd = fake_open(path, flags, ap, real_fn);
    va_end(ap);
    return fd;
}

static int fake_version(struct apir_drm_version *v)
{
    static const char name[] = "virtio_gpu";
    size_t n = strlen(name);
    if (v->name && v->name_len)
        memcpy(v->name, name, v->name_len < n ? v->name_len : n);
    v->name_len = n;
    v->date_len = 0;
    v->desc_len = 0;
    return 0;
}

static int fake_getparam(struct apir_virtgpu_getparam *gp)
{
    int value;
    switch (gp->param) {
    case APIR_VIRTGPU_PARAM_RESOURCE_BLOB:
    case APIR_VIRTGPU_PARAM_HOST_VISIBLE:
    case APIR_VIRTGPU_PARAM_CONTEXT_INIT:
        value = 1;
        break;
    case APIR_VIRTGPU_PARAM_SUPPORTED_CAPSET_IDS:
        value = 1 << 10;
        break;
    default:
        return EINVAL;
    }
    memcpy((void *)(uintptr_t)gp->value, &value, sizeof value);
    return 0;
}

static int fake_get_caps(struct apir_virtgpu_get_caps *gc)
{
    size_t got;
    bool valid;
    void *out = (void *)(uintptr_t)gc->addr;
    memset(out, 0, gc->size);
    if (!apir_vtest_get_capset(&fake_vt, gc->cap_set_id, gc->cap_set_ver, out, gc->size, &got,
                               &valid))
        return EIO;
    return valid ? 0 : EINVAL;
}

static int fake_context_init(struct apir_virtgpu_context_init *ci)
{
    const struct apir_virtgpu_context_set_param *p = (const void *)(uintptr_t)ci->ctx_set_params;
    for (uint32_t i = 0; i < ci->num_params; i++)
        if (p[i].param == APIR_VIRTGPU_CONTEXT_PARAM_CAPSET_ID)
            return apir_vtest_context_init(&fake_vt, (uint32_t)p[i].value) ? 0 : EIO;
    return EINVAL;
}

static int fake_create_blob(struct apir_virtgpu_resource_create_blob *cb)
{
    uint32_t h = 1;
    while (h < FAKE_MAX_BOS && fake_bos[h].res_id)
        h++;
    if (h == FAKE_MAX_BOS)
        return ENOMEM;
    uint32_t res_id;
    int fd;
    if (cb->cmd_size || !apir_vtest_blob_create(&fake_vt, cb->blob_mem, cb->blob_flags, cb->size,
                                                cb->blob_id, &res_id, &fd))
        return EINVAL;
    fake_bos[h] = (struct fake_bo){res_id, fd};
    cb->bo_handle = h;
    cb->res_handle = res_id;
    return 0;
}

static struct fake_bo *fake_bo(uint32_t h)
{
    return h > 0 && h < FAKE_MAX_BOS && fake_bos[h].res_id ? &fake_bos[h] : NULL;
}

static int fake_gem_close(const struct apir_drm_gem_close *gc)
{
    struct fake_bo *bo = fake_bo(gc->handle);
    if (!bo)
        return EINVAL;
    apir_vtest_resource_unref(&fake_vt, bo->res_id);
    close(bo->fd);
    memset(bo, 0, sizeof *bo);
    return 0;
}

static int fake_execbuffer(const struct apir_virtgpu_execbuffer *eb)
{
    if (eb->flags || eb->num_bo_handles) /* fences and BO lists: not used by APIR */
        return EINVAL;
    return apir_vtest_submit(&fake_vt, (const void *)(uintptr_t)eb->command, eb->size) ? 0 : EIO;
}

static int fake_ioctl(unsigned long req, void *arg)
{
    struct apir_virtgpu_map *map = arg;
    switch (req) {
    case APIR_DRM_IOCTL_VERSION:
        return fake_version(arg);
    case APIR_DRM_IOCTL_VIRTGPU_GETPARAM:
        return fake_getparam(arg);
    case APIR_DRM_IOCTL_VIRTGPU_GET_CAPS:
        return fake_get_caps(arg);
    case APIR_DRM_IOCTL_VIRTGPU_CONTEXT_INIT:
        return fake_context_init(arg);
    case APIR_DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB:
        return fake_create_blob(arg);
    case APIR_DRM_IOCTL_VIRTGPU_MAP:
        if (!fake_bo(map->handle))
            return EINVAL;
        map->offset = (uint64_t)map->handle << FAKE_MAP_SHIFT;
        return 0;
    case APIR_DRM_IOCTL_VIRTGPU_EXECBUFFER:
        return fake_execbuffer(arg);
    case APIR_DRM_IOCTL_GEM_CLOSE:
        return fake_gem_close(arg);
    default:
        return EINVAL;
    }
}

FAKE_EXPORT int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (!fake_is_node(fd)) {
        FAKE_REAL(int, "ioctl", int, unsigned long, ...)
        return real_fn(fd, req, arg);
    }
    pthread_mutex_lock(&fake_lock);
    int err = fake_ioctl(req, arg);
    pthread_mutex_unlock(&fake_lock);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

FAKE_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    FAKE_REAL(void *, "mmap", void *, size_t, int, int, int, off_t)
    if (!fake_is_node(fd))
        return real_fn(addr, len, prot, flags, fd, off);
    pthread_mutex_lock(&fake_lock);
    struct fake_bo *bo = fake_bo((uint32_t)((uint64_t)off >> FAKE_MAP_SHIFT));
    void *p = bo ? real_fn(addr, len, prot, flags, bo->fd, 0) : MAP_FAILED;
    pthread_mutex_unlock(&fake_lock);
    if (!bo)
        errno = EINVAL;
    return p;
}

FAKE_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return mmap(addr, len, prot, flags, fd, off);
}

FAKE_EXPORT int close(int fd)
{
    FAKE_REAL(int, "close", int)
    if (fake_is_node(fd)) {
        pthread_mutex_lock(&fake_lock);
        for (uint32_t h = 1; h < FAKE_MAX_BOS; h++)
            if (fake_bos[h].res_id) {
                real_fn(fake_bos[h].fd);
                memset(&fake_bos[h], 0, sizeof fake_bos[h]);
            }
        fake_vt.fd = -1;
        pthread_mutex_unlock(&fake_lock);
    }
    return real_fn(fd);
}
