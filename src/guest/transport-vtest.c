/* The vtest transport: virglrenderer's APIR context through virgl_test_server, no VM. Blobs
 * are HOST3D + MAPPABLE (GUEST blobs never reach an APIR context), their memory arrives as a
 * descriptor; commands go with SUBMIT_CMD2, without fences (APIR has none). The context is on
 * capset 10, or on capset 4 when the server routes Venus to APIR (vm_capset.c). The outer
 * protocol is vm.c's. */
#include "vm.h"

#include "../proto/virgl_abi.h"
#include "../vtest/vtest_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct apir_vtest_transport {
    struct apir_vm vm;
    struct apir_vtest v;
};

static struct apir_vtest *apir_vt(struct apir_vm *vm)
{
    return &((struct apir_vtest_transport *)vm)->v;
}

static bool apir_vt_blob_create(struct apir_vm *vm, size_t size, struct apir_shm_region *out)
{
    if (!apir_shm_page_round(&size))
        return false;
    uint32_t res_id;
    int fd;
    if (!apir_vtest_blob_create(apir_vt(vm), APIR_VTEST_BLOB_HOST3D, APIR_VTEST_BLOB_FLAG_MAPPABLE,
                                size, 0, &res_id, &fd))
        return false;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd); /* the mapping keeps the memory */
    if (p == MAP_FAILED) {
        apir_vtest_resource_unref(apir_vt(vm), res_id);
        return false;
    }
    *out = (struct apir_shm_region){.id = res_id, .ptr = p, .size = size, .fd = -1};
    return true;
}

static void apir_vt_blob_destroy(struct apir_vm *vm, struct apir_shm_region *b)
{
    if (b->ptr)
        munmap(b->ptr, b->size);
    if (b->id)
        apir_vtest_resource_unref(apir_vt(vm), b->id);
    memset(b, 0, sizeof *b);
    b->fd = -1;
}

static bool apir_vt_submit(struct apir_vm *vm, const void *cmd, size_t len)
{
    return apir_vtest_submit(apir_vt(vm), cmd, len);
}

static bool apir_vt_alive(struct apir_vm *vm)
{
    return apir_vtest_alive(apir_vt(vm));
}

static void apir_vt_destroy(struct apir_vm *vm)
{
    apir_vtest_close(apir_vt(vm));
    free(vm);
}

static const struct apir_vm_ops apir_vtest_vm_ops = {
    .blob_create = apir_vt_blob_create,
    .blob_destroy = apir_vt_blob_destroy,
    .submit = apir_vt_submit,
    .alive = apir_vt_alive,
    .destroy = apir_vt_destroy,
};

/* A capset as the server answers GET_CAPSET: offered when "valid" with at least a word. */
static int apir_vt_read_capset(void *ctx, uint32_t id, struct apir_virgl_capset *caps)
{
    size_t got;
    bool valid;
    if (!apir_vtest_get_capset(ctx, id, 0, caps, sizeof *caps, &got, &valid))
        return -1;
    return valid && got >= sizeof caps->apir_version;
}

/* Capset 10, else a Venus capset 4 routed to APIR (vm_capset.c); then the context on it. */
static bool apir_vt_context(struct apir_vtest_transport *vt, const char *path, char *why, size_t n)
{
    char where[160];
    snprintf(where, sizeof where, "virgl_test_server at %.120s", path);
    const struct apir_vm_capset_source src = {
        .read = apir_vt_read_capset,
        .ctx = &vt->v,
        .where = where,
        .hint = "start it with --venus from a build with -Dapir=true",
    };
    uint32_t id;
    if (!apir_vm_capset_choose(&src, &id, why, n))
        return false;
    if (!apir_vtest_context_init(&vt->v, id)) {
        snprintf(why, n, "%s: CONTEXT_INIT failed", where);
        return false;
    }
    apir_vm_capset_use(&vt->vm, id);
    return true;
}

struct apir_transport *apir_transport_vtest_open(const char *path, char *why, size_t whylen)
{
    struct apir_vtest_transport *vt = calloc(1, sizeof *vt);
    if (!vt) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    why[0] = '\0';
    vt->vm.base.ops = &apir_vm_transport_ops;
    vt->vm.vops = &apir_vtest_vm_ops;
    vt->vm.reply.fd = -1;
    snprintf(vt->vm.base.desc, sizeof vt->vm.base.desc, "vtest:%.100s", path);
    if (!apir_vtest_connect(&vt->v, path, "ggml-apir", why, whylen)) {
        free(vt);
        return NULL;
    }
    if (!apir_vt_context(vt, path, why, whylen) ||
        !apir_vm_init(&vt->vm, &apir_vtest_vm_ops, why, whylen)) {
        vt->vm.base.ops->destroy(&vt->vm.base);
        return NULL;
    }
    return &vt->vm.base;
}
