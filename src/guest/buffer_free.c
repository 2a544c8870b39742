/* Giving an APIR buffer back: BUFFER_FREE to the host, then its memory here (the shared region,
 * or the reserved range that stood for the host's memory).
 *
 * The free function of ggml's buffer interface (buffer.c) is also what marks a ggml buffer as
 * ours (apir_buffer_is_apir), and encode.c asks that of every tensor it encodes. So it lives
 * here, below both: buffer.c encodes tensors, encode.c never calls up into buffer.c. */
#include "guest.h"

#include <stdlib.h>
#include <sys/mman.h>

void apir_buffer_free_remote(struct apir_device *d, uint64_t handle)
{
    struct apir_call c;
    struct apir_req_buffer_free req = {.buffer = handle};
    apir_req_buffer_free_put(apir_call_begin(&c, d->conn, APIR_CMD_BUFFER_FREE), &req);
    d->conn->buffer_epoch++;
    apir_call_simple_end(&c);
}

void apir_buffer_free(ggml_backend_buffer_t buffer)
{
    struct apir_buffer *b = buffer->context;
    apir_buffer_free_remote(b->dev, b->handle);
    if (b->shared)
        apir_region_release(b->dev->conn, &b->shm, true);
    else
        munmap(b->base, b->size);
    free(b);
}

bool apir_buffer_is_apir(ggml_backend_buffer_t buf)
{
    return buf && buf->iface.free_buffer == apir_buffer_free;
}
