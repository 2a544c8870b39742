/* TEST DOUBLE: a fake virtio-gpu render node (LD_PRELOAD), for machines without a VM.
 *
 * No VM runs on CI, so no kernel virtio-gpu driver exists to receive the guest's ioctls. This
 * shim stands in for the driver only: it makes one path (APIR_FAKE_DRM_NODE, default
 * /dev/dri/renderD128) open as a "render node" and turns the virtio-gpu ioctls issued on it
 * into the vtest commands they become on the host (APIR_FAKE_VTEST_SOCKET: a real
 * virgl_test_server). The guest's real virtgpu transport (src/guest/transport-virtgpu.c) thus
 * meets the real virglrenderer APIR context through its real ioctl code path:
 *
 *   DRM_IOCTL_VERSION                 -> "virtio_gpu" 0.1.0, date "0", desc "virtio GPU"
 *   VIRTGPU_GETPARAM                  -> 3D, capset fix, context init, blobs, host-visible,
 *                                        debug names: yes; cross-device: no; capsets: the
 *                                        VMM's (APIR_FAKE_CAPSET_IDS, below)
 *   VIRTGPU_GET_CAPS                  -> vtest GET_CAPSET (an id the VMM lacks: EINVAL)
 *   VIRTGPU_CONTEXT_INIT              -> vtest CONTEXT_INIT (capset id, rings, poll mask and
 *                                        debug name checked as the kernel checks them)
 *   VIRTGPU_RESOURCE_CREATE_BLOB      -> vtest SUBMIT_CMD2 of its cmd, if any, then
 *                                        RESOURCE_CREATE_BLOB (the blob's fd kept)
 *   VIRTGPU_MAP + mmap(node, offset)  -> mmap of that fd
 *   VIRTGPU_RESOURCE_INFO, WAIT       -> the blob's ids and size; idle (no fences here)
 *   VIRTGPU_EXECBUFFER                -> vtest SUBMIT_CMD2 (either request size; RING_IDX
 *                                        within the context's rings)
 *   GEM_CLOSE                         -> vtest RESOURCE_UNREF
 *
 * Requests of any size are taken as the kernel's drm_ioctl takes them: what the caller passed
 * is copied in, the rest of the driver's layout zero-filled, and as much as the caller's size
 * copied back. Not modelled, and refused with EINVAL (a guest using them can tell): fences
 * (FENCE_FD_IN/OUT, syncobjs), resources other than blobs, transfers, and DRM core ioctls other
 * than VERSION and GEM_CLOSE. Anything else on the node fails with EINVAL too.
 *
 * APIR_FAKE_CAPSET_IDS: the capset ids the "VMM" offers, comma-separated (default 10, a VMM
 * that routes APIR's own capset; 4 alone is QEMU >= 9.2 or libkrun, which know only Venus). */
#include "../../src/vtest/vtest_client.h"
#include "fake_virtgpu_kabi.h"

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
    uint64_t size;
    uint32_t blob_mem;
};

/* The open node's context, as the kernel keeps it per file: created by CONTEXT_INIT (or
 * implicitly by the first command or blob), with its rings. */
struct fake_ctx {
    bool created;
    uint32_t capset_id; /* 0: none given */
    uint32_t num_rings;
    uint64_t poll_rings_mask;
    bool rings_set, mask_set;
};

static pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;
static struct apir_vtest fake_vt = {.fd = -1};
static struct fake_bo fake_bos[FAKE_MAX_BOS]; /* index: GEM handle */
static struct fake_ctx fake_ctx;
static uint64_t fake_capset_mask; /* the capsets the "VMM" offers (APIR_FAKE_CAPSET_IDS) */

static const char *fake_node_path(void)
{
    const char *p = getenv("APIR_FAKE_DRM_NODE");
    return p && *p ? p : "/dev/dri/renderD128";
}

static bool fake_is_node(int fd)
{
    return fd >= 0 && fd == fake_vt.fd;
}

/* APIR_FAKE_CAPSET_IDS (default "10") as the kernel's capset id mask. */
static uint64_t fake_capsets_offered(void)
{
    const char *e = getenv("APIR_FAKE_CAPSET_IDS");
    if (!e || !*e)
        e = "10";
    uint64_t mask = 0;
    for (char *end; *e; e = *end ? end + 1 : end) {
        unsigned long id = strtoul(e, &end, 10);
        if (end == e)
            break;
        if (id <= FAKE_MAX_CAPSET_ID)
            mask |= 1ull << id;
    }
    return mask;
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
        if (sock && apir_vtest_connect(&fake_vt, sock, "fake-virtgpu", why, sizeof why)) {
            fd = fake_vt.fd;
            fake_capset_mask = fake_capsets_offered();
            memset(&fake_ctx, 0, sizeof fake_ctx);
        } else {
            errno = ENOENT;
        }
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

/* The kernel's drm_copy_field: as much of the string as fits, and its full length back. */
static void fake_copy_field(char *buf, size_t *len, const char *value)
{
    size_t n = strlen(value);
    if (buf && *len)
        memcpy(buf, value, *len < n ? *len : n);
    *len = n;
}

static int fake_version(void *arg)
{
    struct apir_drm_version *v = arg;
    v->version_major = FAKE_DRV_MAJOR;
    v->version_minor = FAKE_DRV_MINOR;
    v->version_patchlevel = 0;
    fake_copy_field(v->name, &v->name_len, FAKE_DRV_NAME);
    fake_copy_field(v->date, &v->date_len, FAKE_DRV_DATE);
    fake_copy_field(v->desc, &v->desc_len, FAKE_DRV_DESC);
    return 0;
}

static int fake_getparam(void *arg)
{
    struct apir_virtgpu_getparam *gp = arg;
    int value;
    switch (gp->param) {
    case FAKE_PARAM_3D_FEATURES:
    case FAKE_PARAM_CAPSET_QUERY_FIX:
    case APIR_VIRTGPU_PARAM_RESOURCE_BLOB:
    case APIR_VIRTGPU_PARAM_HOST_VISIBLE:
    case APIR_VIRTGPU_PARAM_CONTEXT_INIT:
    case FAKE_PARAM_EXPLICIT_DEBUG_NAME:
        value = 1;
        break;
    case FAKE_PARAM_CROSS_DEVICE:
        value = 0;
        break;
    case APIR_VIRTGPU_PARAM_SUPPORTED_CAPSET_IDS:
        value = (int)(uint32_t)fake_capset_mask; /* the kernel hands out an int */
        break;
    default:
        return EINVAL;
    }
    memcpy((void *)(uintptr_t)gp->value, &value, sizeof value);
    return 0;
}

/* Only the capsets the VMM offers; of those, at most as many bytes as the caller asked for,
 * the rest of its buffer untouched (the kernel copies min(size, capset size)). */
static int fake_get_caps(void *arg)
{
    struct apir_virtgpu_get_caps *gc = arg;
    size_t got;
    bool valid;
    if (gc->size == 0 || gc->cap_set_id > FAKE_MAX_CAPSET_ID ||
        !(fake_capset_mask & (1ull << gc->cap_set_id)))
        return EINVAL;
    if (!apir_vtest_get_capset(&fake_vt, gc->cap_set_id, gc->cap_set_ver,
                               (void *)(uintptr_t)gc->addr, gc->size, &got, &valid))
        return EIO;
    return valid ? 0 : EINVAL;
}

/* One CONTEXT_INIT param, checked as virtio_gpu_context_init_ioctl checks it. */
static int fake_context_param(struct fake_ctx *c, const struct apir_virtgpu_context_set_param *p)
{
    switch (p->param) {
    case APIR_VIRTGPU_CONTEXT_PARAM_CAPSET_ID:
        if (p->value > FAKE_MAX_CAPSET_ID || !(fake_capset_mask & (1ull << p->value)) ||
            c->capset_id)
            return EINVAL;
        c->capset_id = (uint32_t)p->value;
        return 0;
    case FAKE_CTX_PARAM_NUM_RINGS:
        if (c->rings_set || p->value > FAKE_MAX_RINGS)
            return EINVAL;
        c->num_rings = (uint32_t)p->value;
        c->rings_set = true;
        return 0;
    case FAKE_CTX_PARAM_POLL_RINGS_MASK:
        if (c->mask_set)
            return EINVAL;
        c->poll_rings_mask = p->value;
        c->mask_set = true;
        return 0;
    case FAKE_CTX_PARAM_DEBUG_NAME:
        return 0; /* the host sees the name in its logs only; vtest has no field for it */
    default:
        return EINVAL;
    }
}

static int fake_context_init(void *arg)
{
    const struct apir_virtgpu_context_init *ci = arg;
    if (ci->num_params == 0)
        return EINVAL;
    if (fake_ctx.created)
        return EEXIST;
    struct fake_ctx c = {0};
    const struct apir_virtgpu_context_set_param *p = (const void *)(uintptr_t)ci->ctx_set_params;
    for (uint32_t i = 0; i < ci->num_params; i++) {
        int err = fake_context_param(&c, &p[i]);
        if (err)
            return err;
    }
    uint64_t rings = c.num_rings >= 64 ? ~0ull : (1ull << c.num_rings) - 1;
    if (c.poll_rings_mask & ~rings)
        return EINVAL;
    /* Without a capset id the kernel creates a virgl context; vtest does the same lazily. */
    if (c.capset_id && !apir_vtest_context_init(&fake_vt, c.capset_id))
        return EIO;
    c.created = true;
    fake_ctx = c;
    return 0;
}

static struct fake_bo *fake_bo(uint32_t h)
{
    return h > 0 && h < FAKE_MAX_BOS && fake_bos[h].res_id ? &fake_bos[h] : NULL;
}

/* virtio_gpu_verify_blob's rules, then the blob's command (if any) and the blob. */
static int fake_create_blob(void *arg)
{
    struct apir_virtgpu_resource_create_blob *cb = arg;
    bool host3d =
        cb->blob_mem == APIR_VIRTGPU_BLOB_MEM_HOST3D || cb->blob_mem == FAKE_BLOB_MEM_HOST3D_GUEST;
    if ((cb->blob_flags & ~FAKE_BLOB_FLAG_MASK) || (cb->size & 4095) ||
        (!host3d && cb->blob_mem != FAKE_BLOB_MEM_GUEST) ||
        (host3d ? cb->cmd_size % 4 != 0 : cb->blob_id != 0 || cb->cmd_size != 0))
        return EINVAL;
    uint32_t h = 1;
    while (h < FAKE_MAX_BOS && fake_bos[h].res_id)
        h++;
    if (h == FAKE_MAX_BOS)
        return ENOMEM;
    fake_ctx.created = true;
    if (cb->cmd_size &&
        !apir_vtest_submit(&fake_vt, (const void *)(uintptr_t)cb->cmd, cb->cmd_size))
        return EIO;
    uint32_t res_id;
    int fd;
    if (!apir_vtest_blob_create(&fake_vt, cb->blob_mem, cb->blob_flags, cb->size, cb->blob_id,
                                &res_id, &fd))
        return EINVAL;
    fake_bos[h] = (struct fake_bo){res_id, fd, cb->size, cb->blob_mem};
    cb->bo_handle = h;
    cb->res_handle = res_id;
    return 0;
}

static int fake_gem_close(void *arg)
{
    struct fake_bo *bo = fake_bo(((const struct apir_drm_gem_close *)arg)->handle);
    if (!bo)
        return EINVAL;
    apir_vtest_resource_unref(&fake_vt, bo->res_id);
    close(bo->fd);
    memset(bo, 0, sizeof *bo);
    return 0;
}

static int fake_map(void *arg)
{
    struct apir_virtgpu_map *map = arg;
    if (!fake_bo(map->handle))
        return ENOENT;
    map->offset = (uint64_t)map->handle << FAKE_MAP_SHIFT;
    return 0;
}

static int fake_resource_info(void *arg)
{
    struct fake_virtgpu_resource_info *ri = arg;
    const struct fake_bo *bo = fake_bo(ri->bo_handle);
    if (!bo)
        return ENOENT;
    ri->res_handle = bo->res_id;
    ri->size = (uint32_t)bo->size;
    ri->blob_mem = bo->blob_mem;
    return 0;
}

/* No fence is ever attached to a blob here (execbuffers carry none), so every blob is idle. */
static int fake_wait(void *arg)
{
    return fake_bo(((const struct fake_virtgpu_wait *)arg)->handle) ? 0 : ENOENT;
}

static int fake_execbuffer(void *arg)
{
    const struct fake_virtgpu_execbuffer *eb = arg;
    if (eb->flags & ~FAKE_EXECBUF_FLAGS)
        return EINVAL;
    if ((eb->flags & FAKE_EXECBUF_RING_IDX) && eb->ring_idx >= fake_ctx.num_rings)
        return EINVAL;
    /* Fences are not modelled: refused rather than faked (the file comment). */
    if ((eb->flags & (FAKE_EXECBUF_FENCE_FD_IN | FAKE_EXECBUF_FENCE_FD_OUT)) ||
        eb->num_in_syncobjs || eb->num_out_syncobjs)
        return EINVAL;
    const uint32_t *handles = (const uint32_t *)(uintptr_t)eb->bo_handles;
    for (uint32_t i = 0; i < eb->num_bo_handles; i++)
        if (!fake_bo(handles[i]))
            return ENOENT;
    fake_ctx.created = true;
    /* A ring index only picks the fence timeline, and no fence is asked for here: the
     * command itself goes as any other. */
    return apir_vtest_submit(&fake_vt, (const void *)(uintptr_t)eb->command, eb->size) ? 0 : EIO;
}

/* The ioctls the node answers: number, the driver's direction and layout size, handler. */
static const struct fake_ioctl_def {
    unsigned nr, dir;
    size_t size;
    int (*fn)(void *arg);
} fake_ioctls[] = {
    {FAKE_NR_VERSION, _IOC_READ | _IOC_WRITE, sizeof(struct apir_drm_version), fake_version},
    {FAKE_NR_GEM_CLOSE, _IOC_WRITE, sizeof(struct apir_drm_gem_close), fake_gem_close},
    {FAKE_NR_MAP, _IOC_READ | _IOC_WRITE, sizeof(struct apir_virtgpu_map), fake_map},
    {FAKE_NR_EXECBUFFER, _IOC_READ | _IOC_WRITE, sizeof(struct fake_virtgpu_execbuffer),
     fake_execbuffer},
    {FAKE_NR_GETPARAM, _IOC_READ | _IOC_WRITE, sizeof(struct apir_virtgpu_getparam), fake_getparam},
    {FAKE_NR_RESOURCE_INFO, _IOC_READ | _IOC_WRITE, sizeof(struct fake_virtgpu_resource_info),
     fake_resource_info},
    {FAKE_NR_WAIT, _IOC_READ | _IOC_WRITE, sizeof(struct fake_virtgpu_wait), fake_wait},
    {FAKE_NR_GET_CAPS, _IOC_READ | _IOC_WRITE, sizeof(struct apir_virtgpu_get_caps), fake_get_caps},
    {FAKE_NR_RESOURCE_CREATE_BLOB, _IOC_READ | _IOC_WRITE,
     sizeof(struct apir_virtgpu_resource_create_blob), fake_create_blob},
    {FAKE_NR_CONTEXT_INIT, _IOC_READ | _IOC_WRITE, sizeof(struct apir_virtgpu_context_init),
     fake_context_init},
};

/* As the kernel's drm_ioctl: the handler is found by number whatever size the caller's
 * request encodes; the caller's bytes are copied in (when both directions write), the rest of
 * the driver's layout zero-filled, and the caller's size copied back (when both read). */
static int fake_ioctl(unsigned long req, void *arg)
{
    if (_IOC_TYPE(req) != APIR_DRM_IOCTL_BASE)
        return EINVAL;
    const struct fake_ioctl_def *d = NULL;
    for (size_t i = 0; i < sizeof fake_ioctls / sizeof fake_ioctls[0]; i++)
        if (fake_ioctls[i].nr == _IOC_NR(req))
            d = &fake_ioctls[i];
    if (!d)
        return EINVAL;
    size_t usize = _IOC_SIZE(req);
    size_t in = (_IOC_DIR(req) & d->dir & _IOC_WRITE) ? usize : 0;
    size_t out = (_IOC_DIR(req) & d->dir & _IOC_READ) ? usize : 0;
    size_t k = d->size > usize ? d->size : usize;
    uint8_t *buf = calloc(1, k);
    if (!buf)
        return ENOMEM;
    memcpy(buf, arg, in);
    int err = d->fn(buf);
    memcpy(arg, buf, out);
    free(buf);
    return err;
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
        memset(&fake_ctx, 0, sizeof fake_ctx);
        pthread_mutex_unlock(&fake_lock);
    }
    return real_fn(fd);
}
