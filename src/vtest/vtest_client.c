/* vtest wire: every command is {length, id} then its dwords; answers come back the same way,
 * and a blob's memory as one byte carrying a descriptor (SCM_RIGHTS). */
#include "vtest_client.h"

#include "../sock/fdio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static bool apir_vtest_send(struct apir_vtest *v, uint32_t id, uint32_t len, const void *data,
                            size_t bytes)
{
    uint32_t hdr[2] = {len, id};
    return apir_fd_write_all(v->fd, hdr, sizeof hdr) &&
           (bytes == 0 || apir_fd_write_all(v->fd, data, bytes));
}

/* An answer's header: it must be for `id`; its length (dwords) in *len. */
static bool apir_vtest_recv_hdr(struct apir_vtest *v, uint32_t id, uint32_t *len)
{
    uint32_t hdr[2];
    if (!apir_fd_read_all(v->fd, hdr, sizeof hdr) || hdr[1] != id)
        return false;
    *len = hdr[0];
    return true;
}

/* Reads and drops n bytes of an answer we do not keep. */
static bool apir_vtest_skip(struct apir_vtest *v, size_t n)
{
    uint8_t sink[256];
    while (n) {
        size_t k = n < sizeof sink ? n : sizeof sink;
        if (!apir_fd_read_all(v->fd, sink, k))
            return false;
        n -= k;
    }
    return true;
}

static bool apir_vtest_handshake(struct apir_vtest *v, const char *name)
{
    size_t nlen = strlen(name) + 1; /* CREATE_RENDERER's length counts bytes */
    uint32_t ver = APIR_VTEST_PROTOCOL_VERSION, len;
    if (!apir_vtest_send(v, APIR_VCMD_CREATE_RENDERER, (uint32_t)nlen, name, nlen) ||
        !apir_vtest_send(v, APIR_VCMD_PROTOCOL_VERSION, 1, &ver, sizeof ver) ||
        !apir_vtest_recv_hdr(v, APIR_VCMD_PROTOCOL_VERSION, &len) || len != 1 ||
        !apir_fd_read_all(v->fd, &ver, sizeof ver))
        return false;
    v->version = ver;
    return ver >= 3; /* blobs, capsets and context init arrived with version 3 */
}

bool apir_vtest_connect(struct apir_vtest *v, const char *path, const char *name, char *why,
                        size_t whylen)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    v->fd = -1;
    if (strlen(path) >= sizeof addr.sun_path) {
        snprintf(why, whylen, "vtest socket path too long: %s", path);
        return false;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    v->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (v->fd < 0 || connect(v->fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        snprintf(why, whylen, "no virgl_test_server at %s (%s)", path, strerror(errno));
        apir_vtest_close(v);
        return false;
    }
    if (!apir_vtest_handshake(v, name)) {
        snprintf(why, whylen, "%s does not speak vtest protocol 3 or later", path);
        apir_vtest_close(v);
        return false;
    }
    return true;
}

void apir_vtest_close(struct apir_vtest *v)
{
    if (v->fd >= 0)
        close(v->fd);
    v->fd = -1;
}

bool apir_vtest_get_capset(struct apir_vtest *v, uint32_t id, uint32_t version, void *out,
                           size_t cap, size_t *got, bool *valid)
{
    uint32_t req[2] = {id, version}, len, ok;
    *got = 0;
    if (!apir_vtest_send(v, APIR_VCMD_GET_CAPSET, 2, req, sizeof req) ||
        !apir_vtest_recv_hdr(v, APIR_VCMD_GET_CAPSET, &len) || len < 1 ||
        !apir_fd_read_all(v->fd, &ok, sizeof ok))
        return false;
    size_t bytes = (size_t)(len - 1) * 4;
    size_t keep = bytes < cap ? bytes : cap;
    *valid = ok != 0;
    *got = keep;
    return (keep == 0 || apir_fd_read_all(v->fd, out, keep)) && apir_vtest_skip(v, bytes - keep);
}

bool apir_vtest_context_init(struct apir_vtest *v, uint32_t capset_id)
{
    return apir_vtest_send(v, APIR_VCMD_CONTEXT_INIT, 1, &capset_id, sizeof capset_id);
}

bool apir_vtest_blob_create(struct apir_vtest *v, uint32_t blob_mem, uint32_t flags, uint64_t size,
                            uint64_t blob_id, uint32_t *res_id, int *fd)
{
    uint32_t req[6] = {blob_mem,          flags,
                       (uint32_t)size,    (uint32_t)(size >> 32),
                       (uint32_t)blob_id, (uint32_t)(blob_id >> 32)};
    uint32_t len;
    uint8_t byte;
    *fd = -1;
    return apir_vtest_send(v, APIR_VCMD_RESOURCE_CREATE_BLOB, 6, req, sizeof req) &&
           apir_vtest_recv_hdr(v, APIR_VCMD_RESOURCE_CREATE_BLOB, &len) && len == 1 &&
           apir_fd_read_all(v->fd, res_id, sizeof *res_id) &&
           apir_fd_read_with_fd(v->fd, &byte, 1, fd) && *fd >= 0;
}

bool apir_vtest_resource_unref(struct apir_vtest *v, uint32_t res_id)
{
    return apir_vtest_send(v, APIR_VCMD_RESOURCE_UNREF, 1, &res_id, sizeof res_id);
}

bool apir_vtest_submit(struct apir_vtest *v, const void *cmd, size_t len)
{
    /* One batch: {count} then 8 dwords per batch (flags, cmd offset and size in dwords, sync
     * offset and count, ring index, in/out syncobj counts), then the commands. */
    enum { BATCH_DW = 1 + 8 };
    if (len % 4 || len / 4 > UINT32_MAX - BATCH_DW)
        return false;
    uint32_t ndw = (uint32_t)(len / 4);
    uint32_t batch[BATCH_DW] = {1, 0, BATCH_DW, ndw, 0, 0, 0, 0, 0};
    return apir_vtest_send(v, APIR_VCMD_SUBMIT_CMD2, BATCH_DW + ndw, batch, sizeof batch) &&
           apir_fd_write_all(v->fd, cmd, len);
}

bool apir_vtest_alive(const struct apir_vtest *v)
{
    char b;
    ssize_t n = recv(v->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR));
}
