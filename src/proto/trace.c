/* See trace.h. */
#include "trace.h"

#include "apir/protocol.h"

#include <string.h>

static uint64_t apir_trace_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void apir_trace_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

unsigned apir_trace_reply_handles(uint32_t cmd, const uint8_t *payload, size_t len, uint64_t out[2])
{
    unsigned n = 0;
    switch (cmd) {
    case APIR_CMD_DEVICE_INFO:
        n = 2;
        break;
    case APIR_CMD_BUFFER_ALLOC:
    case APIR_CMD_BUFFER_FROM_REGION:
    case APIR_CMD_STREAM_NEW:
        n = 1;
        break;
    default:
        return 0;
    }
    if (len < 8u * n)
        return 0;
    for (unsigned i = 0; i < n; i++)
        out[i] = apir_trace_u64(payload + 8u * i);
    return n;
}

void apir_trace_to_refs(uint8_t *p, size_t n, const uint64_t *handles, size_t count)
{
    if (!count)
        return;
    /* The handles of one session share their top 16 bits (the session tag, docs/protocol.md):
     * that filters nearly every offset before the search. */
    uint64_t tag = handles[0] >> 48;
    for (size_t i = 0; i + 8 <= n; i++) {
        uint64_t v = apir_trace_u64(p + i);
        if (v >> 48 != tag)
            continue;
        for (size_t k = 0; k < count && k < APIR_TRACE_MAX_REFS; k++)
            if (v == handles[k] && v != 0) {
                apir_trace_put_u64(p + i, APIR_TRACE_REF_BASE + k);
                i += 7;
                break;
            }
    }
}

void apir_trace_from_refs(uint8_t *p, size_t n, const uint64_t *handles, size_t count)
{
    for (size_t i = 0; i + 8 <= n; i++) {
        uint64_t v = apir_trace_u64(p + i);
        if (v >= APIR_TRACE_REF_BASE && v - APIR_TRACE_REF_BASE < count) {
            apir_trace_put_u64(p + i, handles[v - APIR_TRACE_REF_BASE]);
            i += 7;
        }
    }
}
