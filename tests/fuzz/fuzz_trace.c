/* Fuzz target: whole sessions. An input is a trace (src/proto/trace.h): requests recorded
 * from real traffic by the guest plugin (APIR_TRACE_DIR; tests/fuzz/record.sh records
 * llama.cpp's test-backend-ops and a generation), handles written as references to the
 * replies before them. Each input runs on a fresh session of the real CPU backend (64 MiB
 * quota), which is destroyed after: everything the trace made must be freed (ASan's leak
 * check sees it otherwise). Mutations reach states one request cannot: buffers allocated,
 * tensors set, graphs cached, then hostile requests against them. */
#include "fuzz_session.h"

#include "apir/protocol.h"
#include "proto/trace.h"

#include <stdbool.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_TRACE_MAX_RECORDS 4096u

static uint8_t reply[1 << 20];
static uint64_t handles[APIR_TRACE_MAX_REFS];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fuzz_session_open("fuzz_trace");
    return 0;
}

/* Runs one record; false at the end of the input. */
static bool fuzz_trace_step(struct apir_session *s, const uint8_t **data, size_t *size,
                            size_t *n_handles)
{
    if (*size < APIR_TRACE_RECORD_HDR)
        return false;
    const uint8_t *d = *data;
    uint16_t cmd = (uint16_t)(d[0] | d[1] << 8);
    size_t len = (size_t)d[2] | (size_t)d[3] << 8 | (size_t)d[4] << 16 | (size_t)d[5] << 24;
    if (len > *size - APIR_TRACE_RECORD_HDR)
        len = *size - APIR_TRACE_RECORD_HDR;
    uint8_t *p = malloc(len ? len : 1);
    if (!p)
        return false;
    memcpy(p, d + APIR_TRACE_RECORD_HDR, len);
    apir_trace_from_refs(p, len, handles, *n_handles);
    size_t rlen = 0;
    int st = apir_session_execute(s, cmd, p, len, reply, sizeof reply, &rlen);
    free(p);
    if (rlen > sizeof reply)
        abort(); /* a reply larger than its window: the library wrote past it */
    uint64_t h[2];
    unsigned n = st == APIR_OK ? apir_trace_reply_handles(cmd, reply, rlen, h) : 0;
    for (unsigned i = 0; i < n && *n_handles < APIR_TRACE_MAX_REFS; i++)
        handles[(*n_handles)++] = h[i];
    *data += APIR_TRACE_RECORD_HDR + len;
    *size -= APIR_TRACE_RECORD_HDR + len;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct apir_session *s = apir_session_create(fuzz_session_host());
    if (!s)
        return 0;
    size_t n_handles = 0;
    for (unsigned i = 0; i < FUZZ_TRACE_MAX_RECORDS; i++)
        if (!fuzz_trace_step(s, &data, &size, &n_handles))
            break;
    apir_session_destroy(s);
    return 0;
}
