/* See trace.h. */
#include "trace.h"

#include "apir/protocol.h"
#include "msg.h"

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
    size_t nf;
    const struct apir_field *f = apir_msg_fields(cmd, true, &nf);
    struct apir_reader r;
    apir_reader_init(&r, payload, len);
    unsigned n = 0;
    for (size_t i = 0; i < nf && !r.err; i++) {
        char str[256];
        size_t skip;
        switch (f[i].kind) {
        case APIR_K_NEW: {
            uint64_t h = apir_read_u64(&r);
            if (!r.err && n < 2)
                out[n++] = h;
            break;
        }
        case APIR_K_U32:
            apir_read_u32(&r);
            break;
        case APIR_K_U64:
            apir_read_u64(&r);
            break;
        case APIR_K_STR:
            apir_read_str(&r, str, sizeof str);
            break;
        case APIR_K_BYTES:
            apir_read_blob(&r, APIR_MAX_DATA_CHUNK, &skip);
            break;
        default: /* BUFT_LIST: the handles in a list are not counted (trace.h) */
            return n;
        }
    }
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
