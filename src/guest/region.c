/* Shared regions on the guest side: the transport makes the memory, REGION_ATTACH hands it to
 * the host session (the memory travels with that one message), REGION_DETACH takes it back. */
#include "guest.h"

#include <string.h>

bool apir_region_new(struct apir_conn *conn, size_t size, struct apir_shm_region *r)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
    if (!conn->tp->ops->region_create || !conn->tp->ops->region_create(conn->tp, size, r))
        return false;
    struct apir_call c;
    struct apir_req_region_attach req = {.region = r->id, .size = r->size};
    apir_req_region_attach_put(apir_call_begin(&c, conn, APIR_CMD_REGION_ATTACH), &req);
    c.attach = r;
    if (apir_call_simple_end(&c) != APIR_OK) {
        conn->tp->ops->region_destroy(conn->tp, r);
        return false;
    }
    return true;
}

void apir_region_release(struct apir_conn *conn, struct apir_shm_region *r, bool attached)
{
    if (attached) {
        struct apir_call c;
        struct apir_req_region_detach req = {.region = r->id};
        apir_req_region_detach_put(apir_call_begin(&c, conn, APIR_CMD_REGION_DETACH), &req);
        apir_call_simple_end(&c);
    }
    conn->tp->ops->region_destroy(conn->tp, r);
}
