/* Tensor data of buffers the host cannot share (GPU memory) through one staging region per
 * connection, in chunks, instead of inline in the command stream: the command carries only
 * (region, offset, size). One transfer at a time owns the region. */
#include "guest.h"

#include <string.h>

#define APIR_STAGING_SIZE ((size_t)16 << 20)

/* The staging region, made on first use; NULL when this connection cannot have one. */
static struct apir_shm_region *apir_staging_acquire(struct apir_conn *conn)
{
    pthread_mutex_lock(&conn->staging_lock);
    if (!conn->staging_ready && !conn->staging_failed && apir_conn_has_regions(conn)) {
        conn->staging_ready = apir_region_new(conn, APIR_STAGING_SIZE, &conn->staging);
        conn->staging_failed = !conn->staging_ready;
    }
    if (conn->staging_ready)
        return &conn->staging;
    pthread_mutex_unlock(&conn->staging_lock);
    return NULL;
}

static void apir_staging_release(struct apir_conn *conn)
{
    pthread_mutex_unlock(&conn->staging_lock);
}

static int apir_staging_call_in(struct apir_conn *conn, uint32_t region, uint32_t cmd,
                                const struct ggml_tensor *t, size_t offset, size_t n)
{
    struct apir_call c;
    struct apir_wire_tensor wt;
    apir_encode_lone(&wt, t);
    struct apir_writer *w = apir_call_begin(&c, conn, cmd);
    if (cmd == APIR_CMD_TENSOR_SET_STAGED) {
        struct apir_req_tensor_set_staged req = {
            .tensor = &wt, .offset = offset, .region = region, .region_offset = 0, .size = n};
        apir_req_tensor_set_staged_put(w, &req);
    } else {
        struct apir_req_tensor_get_staged req = {
            .tensor = &wt, .offset = offset, .region = region, .region_offset = 0, .size = n};
        apir_req_tensor_get_staged_put(w, &req);
    }
    return apir_call_simple_end(&c);
}

static int apir_staging_call(struct apir_conn *conn, uint32_t cmd, const struct ggml_tensor *t,
                             size_t offset, size_t n)
{
    return apir_staging_call_in(conn, conn->staging.id, cmd, t, offset, n);
}

bool apir_staging_set(struct apir_conn *conn, const struct ggml_tensor *t, const void *data,
                      size_t offset, size_t size)
{
    struct apir_shm_region *r = apir_staging_acquire(conn);
    if (!r)
        return false;
    const uint8_t *p = data;
    for (size_t done = 0; done < size;) {
        size_t n = size - done < r->size ? size - done : r->size;
        memcpy(r->ptr, p + done, n);
        if (apir_staging_call(conn, APIR_CMD_TENSOR_SET_STAGED, t, offset + done, n) != APIR_OK)
            break;
        apir_conn_count_local(conn, APIR_CMD_TENSOR_SET_STAGED, n);
        done += n;
    }
    apir_staging_release(conn);
    return true;
}

bool apir_staging_get(struct apir_conn *conn, const struct ggml_tensor *t, void *data,
                      size_t offset, size_t size)
{
    struct apir_shm_region *r = apir_staging_acquire(conn);
    if (!r)
        return false;
    uint8_t *p = data;
    for (size_t done = 0; done < size;) {
        size_t n = size - done < r->size ? size - done : r->size;
        if (apir_staging_call(conn, APIR_CMD_TENSOR_GET_STAGED, t, offset + done, n) != APIR_OK) {
            memset(p + done, 0, size - done); /* never stale bytes handed back as data */
            break;
        }
        memcpy(p + done, r->ptr, n);
        apir_conn_count_local(conn, APIR_CMD_TENSOR_GET_STAGED, n);
        done += n;
    }
    apir_staging_release(conn);
    return true;
}

bool apir_staging_set_whole(struct apir_conn *conn, const struct ggml_tensor *t, const void *data,
                            size_t size, int *status)
{
    struct apir_shm_region *r = apir_staging_acquire(conn);
    if (!r)
        return false;
    if (size <= r->size) {
        memcpy(r->ptr, data, size);
        *status = apir_staging_call(conn, APIR_CMD_TENSOR_SET_STAGED, t, 0, size);
    } else {
        /* Larger than the staging region (a big model's output matrix): a region of its own
         * for this one transfer, at load time only. */
        struct apir_shm_region tmp;
        *status = APIR_E_NOMEM;
        if (apir_region_new(conn, size, &tmp)) {
            memcpy(tmp.ptr, data, size);
            *status = apir_staging_call_in(conn, tmp.id, APIR_CMD_TENSOR_SET_STAGED, t, 0, size);
            apir_region_release(conn, &tmp, true);
        }
    }
    if (*status == APIR_OK)
        apir_conn_count_local(conn, APIR_CMD_TENSOR_SET_STAGED, size);
    apir_staging_release(conn);
    return true;
}
