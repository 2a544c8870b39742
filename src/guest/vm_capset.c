/* Which capset the guest's VM context uses (vm.h, apir_vm_capset_choose). Capset 10 is APIR's
 * own; capset 4 is Venus's, which virglrenderer serves as APIR only when started with
 * VIRGL_ROUTE_VENUS_TO_APIR=1 (src/proto/virgl_abi.h). The decision is made from the capsets'
 * contents before any context exists: a real Venus context fed APIR commands would take them
 * for Vulkan calls, so nothing is sent to capset 4 unless it carries the APIR capset. */
#include "vm.h"

#include "../proto/virgl_abi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum apir_vm_capset_mode { APIR_VM_CAPSET_AUTO, APIR_VM_CAPSET_APIR, APIR_VM_CAPSET_VENUS };

static bool apir_vm_capset_mode(enum apir_vm_capset_mode *mode, char *why, size_t n)
{
    const char *e = getenv("APIR_VIRTGPU_CAPSET");
    if (!e || !*e || strcmp(e, "auto") == 0)
        *mode = APIR_VM_CAPSET_AUTO;
    else if (strcmp(e, "apir") == 0)
        *mode = APIR_VM_CAPSET_APIR;
    else if (strcmp(e, "venus") == 0)
        *mode = APIR_VM_CAPSET_VENUS;
    else {
        snprintf(why, n, "APIR_VIRTGPU_CAPSET=%.40s is none of auto, apir, venus", e);
        return false;
    }
    return true;
}

/* Capset 4 carries the APIR capset exactly: version 1, blobs, reserved words zero. A real
 * Venus capset has its vk.xml version in word 1 and extension versions after it. */
static bool apir_vm_capset_is_routed(const struct apir_virgl_capset *c)
{
    if (c->apir_version != 1 || c->supports_blob_resources != 1)
        return false;
    for (size_t i = 0; i < sizeof c->reserved / sizeof c->reserved[0]; i++)
        if (c->reserved[i])
            return false;
    return true;
}

/* Reads capset id through the transport: whether it is offered; *broken when the transport
 * failed (the reason is then set once, for the first failure). */
static bool apir_vm_capset_read(const struct apir_vm_capset_source *src, uint32_t id,
                                struct apir_virgl_capset *c, bool *broken, char *why, size_t n)
{
    memset(c, 0, sizeof *c);
    int r = *broken ? -1 : src->read(src->ctx, id, c);
    if (r < 0 && !*broken) {
        snprintf(why, n, "%s: reading capset %u failed", src->where, id);
        *broken = true;
    }
    return r > 0;
}

bool apir_vm_capset_choose(const struct apir_vm_capset_source *src, uint32_t *id, char *why,
                           size_t n)
{
    enum apir_vm_capset_mode mode;
    if (!apir_vm_capset_mode(&mode, why, n))
        return false;
    /* Capset 10 first, unless told otherwise: offered and saying APIR runs (a server may
     * answer "valid" with zeros when it does not). */
    struct apir_virgl_capset apir;
    bool broken = false, apir_offered = false;
    if (mode != APIR_VM_CAPSET_VENUS) {
        apir_offered = apir_vm_capset_read(src, APIR_VIRGL_CAPSET_ID, &apir, &broken, why, n);
        if (apir_offered && apir.apir_version != 0) {
            *id = APIR_VIRGL_CAPSET_ID;
            return true;
        }
    }
    if (broken)
        return false;
    if (mode == APIR_VM_CAPSET_APIR) {
        snprintf(why, n, "%s %s (APIR_VIRTGPU_CAPSET=apir): %s", src->where,
                 apir_offered ? "offers capset 10 but APIR does not run behind it"
                              : "offers no APIR capset (10)",
                 src->hint);
        return false;
    }
    struct apir_virgl_capset venus;
    bool venus_offered = apir_vm_capset_read(src, APIR_VIRGL_CAPSET_VENUS, &venus, &broken, why, n);
    if (broken)
        return false;
    if (venus_offered && apir_vm_capset_is_routed(&venus)) {
        *id = APIR_VIRGL_CAPSET_VENUS;
        return true;
    }
    const char *forced = mode == APIR_VM_CAPSET_VENUS ? " (APIR_VIRTGPU_CAPSET=venus)" : "";
    if (venus_offered)
        snprintf(why, n,
                 "%s has no APIR context%s: its Venus capset (4) is Vulkan's, not routed to APIR "
                 "(start virglrenderer with VIRGL_ROUTE_VENUS_TO_APIR=1)",
                 src->where, forced);
    else
        snprintf(why, n, "%s has no APIR context%s: %s, no Venus capset (4) routed to APIR: %s",
                 src->where, forced,
                 apir_offered ? "APIR not running behind capset 10" : "no APIR capset (10)",
                 src->hint);
    return false;
}

void apir_vm_capset_use(struct apir_vm *vm, uint32_t id)
{
    vm->base.capset = id;
    vm->cmd_base = id == APIR_VIRGL_CAPSET_VENUS ? APIR_VIRGL_VENUS_CMD_BASE : 0;
}
