/* Per-op questions to the host (supports, offload, alloc size), asked once per op encoding and
 * cached (opcache.c). Below both of the files that ask: the device (device.c) and its extra
 * buffer types (extrabuf.c), which the device consults for ops on their buffers. */
#include "guest.h"

uint64_t apir_dev_op_query(struct apir_device *d, struct apir_op_cache *cache, uint32_t cmd,
                           uint64_t handle, const struct ggml_tensor *op, uint64_t fallback)
{
    struct apir_writer key;
    apir_writer_init(&key, APIR_MAX_PAYLOAD);
    apir_encode_op_query(&key, op);
    uint64_t v = fallback;
    if (!key.err && apir_op_cache_get(cache, key.buf, key.len, &v)) {
        apir_writer_free(&key);
        return v;
    }
    struct apir_call c;
    struct apir_writer *w = apir_call_begin(&c, d->conn, cmd);
    apir_write_u64(w, handle);
    apir_write_raw(w, key.buf, key.len);
    if (key.err)
        w->err = true;
    if (apir_call_end(&c) == APIR_OK) {
        v = cmd == APIR_CMD_BUFT_ALLOC_SIZE ? apir_read_u64(&c.r) : apir_read_u32(&c.r);
        if (apir_reader_done(&c.r))
            apir_op_cache_put(cache, key.buf, key.len, v);
        else
            v = fallback;
    }
    apir_call_done(&c);
    apir_writer_free(&key);
    return v;
}
