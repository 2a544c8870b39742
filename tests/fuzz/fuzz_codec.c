/* Fuzz target: the protocol decoders a guest's bytes meet first (headers, wire tensors and
 * graphs), without a host behind them. */
#include "proto/codec.h"
#include "proto/wire.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct apir_req_hdr rq;
    struct apir_rep_hdr rp;
    if (size >= APIR_HDR_SIZE) {
        apir_req_hdr_decode(data, &rq);
        apir_rep_hdr_decode(data, &rp);
    }
    struct apir_reader r;
    apir_reader_init(&r, data, size);
    struct apir_wire_graph g;
    if (apir_wire_graph_decode(&r, &g))
        apir_wire_graph_free(&g);
    apir_reader_init(&r, data, size);
    struct apir_wire_tensor t;
    apir_wire_tensor_decode(&r, &t, 0);
    size_t n;
    apir_read_blob(&r, 1u << 20, &n);
    apir_read_u64(&r);
    return 0;
}
