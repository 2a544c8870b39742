/* ggml buffer interface over a host buffer handle (its free function, which encode.c
 * recognizes our buffers by, is buffer_free.c's).
 *
 * Two kinds of buffer. Shared: where the host device can wrap host memory (CPU, unified
 * memory), the buffer lives in a region both sides map, its base is the guest's mapping, and
 * set/get/memset/copy are local memory operations with no round trip. They are ordered against
 * compute by waiting for the posted call, if one is in flight, first (apir_conn_sync): no
 * kernel runs on the host while ggml touches the bytes here. Otherwise the guest invents the
 * buffer's base address: an inaccessible reserved range, so ggml-alloc can place tensors at base +
 * offset, any accidental dereference faults loudly, and data moves in messages. Either way no host
 * address reaches the guest: on the wire a tensor's data is (handle, data - base). */
#include "guest.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static struct apir_buffer *apir_buf(ggml_backend_buffer_t buffer)
{
    return buffer->context;
}

static void *apir_buf_get_base(ggml_backend_buffer_t buffer)
{
    return apir_buf(buffer)->base;
}

static enum ggml_status apir_status_to_ggml(int st)
{
    return st == APIR_OK ? GGML_STATUS_SUCCESS : GGML_STATUS_FAILED;
}

static enum ggml_status apir_buf_init_tensor(ggml_backend_buffer_t buffer, struct ggml_tensor *t)
{
    struct apir_buffer *b = apir_buf(buffer);
    /* Views share their source's storage, which was initialised already. */
    if (!(b->flags & APIR_BUF_HAS_INIT_TENSOR) || t->view_src)
        return GGML_STATUS_SUCCESS;
    struct apir_call c;
    struct apir_wire_tensor wt;
    apir_encode_lone(&wt, t);
    struct apir_req_tensor_init req = {.tensor = &wt};
    apir_req_tensor_init_put(apir_call_begin(&c, b->dev->conn, APIR_CMD_TENSOR_INIT), &req);
    return apir_status_to_ggml(apir_call_simple_end(&c));
}

/* Buffers of an extra buffer type hold each tensor in the host backend's own layout: the host
 * rewrites what it is given, as a whole tensor, and has nothing to give back. Natively those
 * buffers have no get_tensor (ggml asserts); here a read is an error and yields zeros. */
static void apir_buf_whole_refused(const struct apir_buffer *b, const struct ggml_tensor *t,
                                   const char *what)
{
    apir_log_emit(APIR_LOG_ERROR,
                  "%s: %s of tensor '%s' refused: a %s buffer takes whole tensors "
                  "and is never read back",
                  b->dev->name, what, t->name, b->dev->name);
}

static void apir_buf_set_whole(struct apir_buffer *b, struct ggml_tensor *t, const void *data,
                               size_t offset, size_t size)
{
    if (offset != 0 || size != ggml_nbytes(t)) {
        apir_buf_whole_refused(b, t, "a partial set");
        return;
    }
    int st = APIR_OK;
    if (!apir_staging_set_whole(b->dev->conn, t, data, size, &st)) {
        st = APIR_E_UNSUPPORTED; /* no regions: one inline message, if it fits one */
        if (size <= APIR_MAX_DATA_CHUNK) {
            struct apir_call c;
            struct apir_wire_tensor wt;
            apir_encode_lone(&wt, t);
            struct apir_req_tensor_set req = {.tensor = &wt, .offset = 0, .data = {data, size}};
            apir_req_tensor_set_put(apir_call_begin(&c, b->dev->conn, APIR_CMD_TENSOR_SET), &req);
            st = apir_call_simple_end(&c);
        }
    }
    if (st != APIR_OK)
        apir_log_emit(APIR_LOG_ERROR, "%s: setting tensor '%s' (%zu bytes) failed: %s",
                      b->dev->name, t->name, size, apir_status_str(st));
}

static void apir_buf_memset_tensor(ggml_backend_buffer_t buffer, struct ggml_tensor *t,
                                   uint8_t value, size_t offset, size_t size)
{
    if (apir_buf(buffer)->whole) {
        apir_buf_whole_refused(apir_buf(buffer), t, "memset");
        return;
    }
    if (apir_buf(buffer)->shared) {
        apir_conn_sync(apir_buf(buffer)->dev->conn, false); /* after posted compute */
        memset((uint8_t *)t->data + offset, value, size);
        apir_conn_count_local(apir_buf(buffer)->dev->conn, APIR_CMD_TENSOR_MEMSET, size);
        return;
    }
    struct apir_call c;
    struct apir_wire_tensor wt;
    apir_encode_lone(&wt, t);
    struct apir_req_tensor_memset req = {
        .tensor = &wt, .offset = offset, .size = size, .value = value};
    apir_req_tensor_memset_put(
        apir_call_begin(&c, apir_buf(buffer)->dev->conn, APIR_CMD_TENSOR_MEMSET), &req);
    apir_call_simple_end(&c);
}

/* Data moves in chunks so no single message exceeds the protocol's payload cap. */
static void apir_buf_set_tensor(ggml_backend_buffer_t buffer, struct ggml_tensor *t,
                                const void *data, size_t offset, size_t size)
{
    if (apir_buf(buffer)->whole) {
        apir_buf_set_whole(apir_buf(buffer), t, data, offset, size);
        return;
    }
    if (apir_buf(buffer)->shared) {
        apir_conn_sync(apir_buf(buffer)->dev->conn, false); /* after posted compute */
        memcpy((uint8_t *)t->data + offset, data, size);
        apir_conn_count_local(apir_buf(buffer)->dev->conn, APIR_CMD_TENSOR_SET, size);
        return;
    }
    if (apir_staging_set(apir_buf(buffer)->dev->conn, t, data, offset, size))
        return;
    const uint8_t *p = data;
    struct apir_wire_tensor wt;
    apir_encode_lone(&wt, t);
    do {
        size_t n = size < APIR_MAX_DATA_CHUNK ? size : APIR_MAX_DATA_CHUNK;
        struct apir_call c;
        struct apir_req_tensor_set req = {.tensor = &wt, .offset = offset, .data = {p, n}};
        apir_req_tensor_set_put(
            apir_call_begin(&c, apir_buf(buffer)->dev->conn, APIR_CMD_TENSOR_SET), &req);
        if (apir_call_simple_end(&c) != APIR_OK)
            return;
        p += n;
        offset += n;
        size -= n;
    } while (size);
}

static void apir_buf_get_tensor(ggml_backend_buffer_t buffer, const struct ggml_tensor *t,
                                void *data, size_t offset, size_t size)
{
    if (apir_buf(buffer)->whole) {
        apir_buf_whole_refused(apir_buf(buffer), t, "a read");
        memset(data, 0, size);
        return;
    }
    if (apir_buf(buffer)->shared) {
        apir_conn_sync(apir_buf(buffer)->dev->conn, false); /* after posted compute */
        memcpy(data, (const uint8_t *)t->data + offset, size);
        apir_conn_count_local(apir_buf(buffer)->dev->conn, APIR_CMD_TENSOR_GET, size);
        return;
    }
    if (apir_staging_get(apir_buf(buffer)->dev->conn, t, data, offset, size))
        return;
    uint8_t *p = data;
    struct apir_wire_tensor wt;
    apir_encode_lone(&wt, t);
    do {
        size_t n = size < APIR_MAX_DATA_CHUNK ? size : APIR_MAX_DATA_CHUNK;
        struct apir_call c;
        struct apir_req_tensor_get req = {.tensor = &wt, .offset = offset, .size = n};
        apir_req_tensor_get_put(
            apir_call_begin(&c, apir_buf(buffer)->dev->conn, APIR_CMD_TENSOR_GET), &req);
        struct apir_rep_tensor_get_in rep;
        bool ok = APIR_CALL_END_REPLY(&c, tensor_get, &rep) && rep.data.len == n;
        if (ok)
            memcpy(p, rep.data.data, n);
        else
            memset(p, 0, size); /* never hand back stale or partial bytes as if they were data */
        apir_call_done(&c);
        if (!ok)
            return;
        p += n;
        offset += n;
        size -= n;
    } while (size);
}

static bool apir_buf_cpy_tensor(ggml_backend_buffer_t buffer, const struct ggml_tensor *src,
                                struct ggml_tensor *dst)
{
    struct apir_buffer *b = apir_buf(buffer);
    if (!apir_buffer_is_apir(src->buffer) || apir_buf(src->buffer)->dev->conn != b->dev->conn ||
        b->whole || apir_buf(src->buffer)->whole)
        return false;
    if (b->shared && apir_buf(src->buffer)->shared) {
        apir_conn_sync(b->dev->conn, false);
        memcpy(dst->data, src->data, ggml_nbytes(src));
        apir_conn_count_local(b->dev->conn, APIR_CMD_TENSOR_COPY, ggml_nbytes(src));
        return true;
    }
    struct apir_call c;
    struct apir_wire_tensor wt[2];
    apir_encode_pair(wt, src, dst);
    struct apir_req_tensor_copy req = {.tensors = wt};
    apir_req_tensor_copy_put(apir_call_begin(&c, b->dev->conn, APIR_CMD_TENSOR_COPY), &req);
    struct apir_rep_tensor_copy_in rep;
    bool ok = APIR_CALL_END_REPLY(&c, tensor_copy, &rep) && rep.copied == 1;
    apir_call_done(&c);
    return ok;
}

static void apir_buf_clear(ggml_backend_buffer_t buffer, uint8_t value)
{
    struct apir_buffer *b = apir_buf(buffer);
    if (b->shared) {
        apir_conn_sync(b->dev->conn, false);
        memset(b->base, value, b->size);
        apir_conn_count_local(b->dev->conn, APIR_CMD_BUFFER_CLEAR, b->size);
        return;
    }
    struct apir_call c;
    struct apir_req_buffer_clear req = {.buffer = b->handle, .value = value};
    apir_req_buffer_clear_put(apir_call_begin(&c, b->dev->conn, APIR_CMD_BUFFER_CLEAR), &req);
    apir_call_simple_end(&c);
}

static void apir_buf_reset(ggml_backend_buffer_t buffer)
{
    struct apir_buffer *b = apir_buf(buffer);
    if (!(b->flags & APIR_BUF_HAS_INIT_TENSOR))
        return; /* nothing tensor-specific lives on the host */
    struct apir_call c;
    struct apir_req_buffer_reset req = {.buffer = b->handle};
    apir_req_buffer_reset_put(apir_call_begin(&c, b->dev->conn, APIR_CMD_BUFFER_RESET), &req);
    b->dev->conn->buffer_epoch++;
    apir_call_simple_end(&c);
}

static const struct ggml_backend_buffer_i apir_buffer_iface = {
    .free_buffer = apir_buffer_free, /* buffer_free.c */
    .get_base = apir_buf_get_base,
    .init_tensor = apir_buf_init_tensor,
    .memset_tensor = apir_buf_memset_tensor,
    .set_tensor = apir_buf_set_tensor,
    .get_tensor = apir_buf_get_tensor,
    .cpy_tensor = apir_buf_cpy_tensor,
    .clear = apir_buf_clear,
    .reset = apir_buf_reset,
};

/* BUFFER_ALLOC's or BUFFER_FROM_REGION's reply: handle, size, flags. */
static bool apir_buffer_read_reply(struct apir_call *c, size_t size, uint64_t *handle,
                                   uint64_t *got, uint32_t *flags)
{
    bool ok = false;
    if (c->cmd == APIR_CMD_BUFFER_ALLOC) {
        struct apir_rep_buffer_alloc_in rep;
        ok = APIR_CALL_END_REPLY(c, buffer_alloc, &rep);
        *handle = rep.buffer, *got = rep.size, *flags = rep.buffer_flags;
    } else {
        struct apir_rep_buffer_from_region_in rep;
        ok = APIR_CALL_END_REPLY(c, buffer_from_region, &rep);
        *handle = rep.buffer, *got = rep.size, *flags = rep.buffer_flags;
    }
    apir_call_done(c);
    return ok && *handle && *got >= size;
}

/* A buffer inside a fresh shared region. false (nothing left behind) when the transport or
 * the host cannot: the caller then falls back to a message-path buffer. */
static bool apir_buffer_alloc_shared(struct apir_device *d, size_t size, struct apir_buffer *b)
{
    if (!apir_region_new(d->conn, size, &b->shm))
        return false;
    struct apir_call c;
    struct apir_req_buffer_from_region req = {
        .dev = d->dev_h, .region = b->shm.id, .offset = 0, .size = size};
    apir_req_buffer_from_region_put(apir_call_begin(&c, d->conn, APIR_CMD_BUFFER_FROM_REGION),
                                    &req);
    uint64_t got;
    if (!apir_buffer_read_reply(&c, size, &b->handle, &got, &b->flags)) {
        apir_region_release(d->conn, &b->shm, true);
        return false;
    }
    b->dev = d;
    b->base = b->shm.ptr;
    b->size = size;
    b->shared = true;
    return true;
}

static bool apir_buffer_alloc_remote(struct apir_device *d, uint64_t buft_h, size_t size,
                                     struct apir_buffer *b)
{
    struct apir_call c;
    struct apir_req_buffer_alloc req = {.buft = buft_h, .size = size};
    apir_req_buffer_alloc_put(apir_call_begin(&c, d->conn, APIR_CMD_BUFFER_ALLOC), &req);
    uint64_t got;
    if (!apir_buffer_read_reply(&c, size, &b->handle, &got, &b->flags))
        return false;
    void *base = mmap(NULL, got, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) {
        apir_buffer_free_remote(d, b->handle);
        return false;
    }
    b->dev = d;
    b->base = base;
    b->size = (size_t)got;
    return true;
}

ggml_backend_buffer_t apir_buffer_alloc(struct apir_device *d, size_t size)
{
    struct apir_buffer *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    if (size == 0)
        size = 1;
    bool shareable = apir_conn_shares(d->conn, d->caps);
    if (!(shareable && apir_buffer_alloc_shared(d, size, b)) &&
        !apir_buffer_alloc_remote(d, d->buft_h, size, b)) {
        free(b);
        return NULL;
    }
    return ggml_backend_buffer_init(&d->buft, apir_buffer_iface, b, b->size);
}

/* Always host memory: the layout is the host backend's, of no use to the guest. */
ggml_backend_buffer_t apir_buffer_alloc_extra(struct apir_extra_buft *e, size_t size)
{
    struct apir_buffer *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    if (!apir_buffer_alloc_remote(e->dev, e->handle, size ? size : 1, b)) {
        free(b);
        return NULL;
    }
    b->whole = true;
    return ggml_backend_buffer_init(&e->buft, apir_buffer_iface, b, b->size);
}
