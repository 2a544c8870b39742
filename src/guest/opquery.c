/* Per-op questions to the host (supports, offload, alloc size), asked once per op encoding and
 * cached (opcache.c). Below both of the files that ask: the device (device.c) and its extra
 * buffer types (extrabuf.c), which the device consults for ops on their buffers. */
#include "guest.h"

/* One op question: the request with its object and op, the reply a number. */
#define APIR_OP_ASK(NAME, name, obj_field, op_field, answer)                                       \
    case APIR_CMD_##NAME: {                                                                        \
        struct apir_req_##name req = {.obj_field = handle, .op_field = op};                        \
        struct apir_rep_##name##_in rep;                                                           \
        apir_req_##name##_put(c->w, &req);                                                         \
        ok = APIR_CALL_END_REPLY(c, name, &rep);                                                   \
        *v = rep.answer;                                                                           \
        break;                                                                                     \
    }

static bool apir_op_ask(struct apir_call *c, uint64_t handle, struct apir_graph_src op, uint64_t *v)
{
    bool ok = false;
    switch (c->cmd) {
        APIR_OP_ASK(DEVICE_SUPPORTS_OP, device_supports_op, dev, op, supported)
        APIR_OP_ASK(DEVICE_OFFLOAD_OP, device_offload_op, dev, op, offload)
        APIR_OP_ASK(BUFT_ALLOC_SIZE, buft_alloc_size, buft, tensor, size)
        APIR_OP_ASK(BUFT_SUPPORTS_OP, buft_supports_op, buft, op, supported)
    }
    return ok;
}

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
    struct apir_graph_src g = {.bytes = {key.buf, key.len}};
    if (key.err)
        w->err = true;
    uint64_t got;
    if (apir_op_ask(&c, handle, g, &got)) {
        v = got;
        apir_op_cache_put(cache, key.buf, key.len, v);
    }
    apir_call_done(&c);
    apir_writer_free(&key);
    return v;
}
