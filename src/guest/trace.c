/* Recording real traffic for the fuzzers (src/proto/trace.h): with APIR_TRACE_DIR set, every
 * request this process sends is appended to DIR/trace-<pid>-<n>, handles turned into
 * references. Requests carrying bulk tensor data (payloads over APIR_TRACE_MAX_PAYLOAD) are
 * left out, so that a trace stays a fuzzer-sized input; a file is closed past
 * APIR_TRACE_FILE_BYTES (APIR_TRACE_MAX_FILES at most) and the next one starts with the session's
 * set-up requests again (HELLO and the device queries before anything else), so that each file
 * replays on its own. Off by default: a debugging and corpus-building aid, never in the way of a
 * call. */
#include "guest.h"

#include "../proto/trace.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define APIR_TRACE_MAX_PAYLOAD (16u << 10)
#define APIR_TRACE_FILE_BYTES (48u << 10)
#define APIR_TRACE_MAX_FILES 8u /* per process: seeds need variety, not volume */

static struct {
    pthread_mutex_t lock;
    _Atomic int state; /* 0 not looked at, 1 on, -1 off */
    const char *dir;
    FILE *f;
    unsigned files;
    size_t bytes;
    uint64_t handles[APIR_TRACE_MAX_REFS];
    size_t n_handles;
    struct apir_writer setup; /* the set-up records, already in reference form */
    size_t setup_handles;
    bool setup_done;
    uint32_t last_cmd;
} apir_trace = {.lock = PTHREAD_MUTEX_INITIALIZER};

static bool apir_trace_on(void)
{
    if (!atomic_load(&apir_trace.state)) {
        pthread_mutex_lock(&apir_trace.lock);
        if (!atomic_load(&apir_trace.state)) {
            apir_trace.dir = getenv("APIR_TRACE_DIR");
            bool on = apir_trace.dir && *apir_trace.dir;
            if (on)
                apir_writer_init(&apir_trace.setup, 1u << 20);
            atomic_store(&apir_trace.state, on ? 1 : -1);
        }
        pthread_mutex_unlock(&apir_trace.lock);
    }
    return atomic_load(&apir_trace.state) > 0;
}

static void apir_trace_write(const void *p, size_t n)
{
    if (apir_trace.f && fwrite(p, 1, n, apir_trace.f) == n)
        apir_trace.bytes += n;
}

/* A new file, begun with the set-up records; the handles they return keep their numbers. */
static void apir_trace_next_file(void)
{
    if (apir_trace.f)
        fclose(apir_trace.f);
    char path[4096];
    snprintf(path, sizeof path, "%s/trace-%ld-%u", apir_trace.dir, (long)getpid(),
             apir_trace.files++);
    apir_trace.f = fopen(path, "wb");
    apir_trace.bytes = 0;
    apir_trace.n_handles = apir_trace.setup_handles;
    apir_trace_write(apir_trace.setup.buf, apir_trace.setup.len);
}

void apir_trace_request(uint32_t cmd, const uint8_t *payload, size_t len)
{
    if (!apir_trace_on() || len > APIR_TRACE_MAX_PAYLOAD)
        return;
    pthread_mutex_lock(&apir_trace.lock);
    if (!apir_trace.setup_done && cmd != APIR_CMD_HELLO && cmd != APIR_CMD_DEVICE_INFO &&
        cmd != APIR_CMD_DEVICE_MEMORY) {
        apir_trace.setup_done = true;
        apir_trace.setup_handles = apir_trace.n_handles;
    }
    if (!apir_trace.f || apir_trace.bytes > APIR_TRACE_FILE_BYTES) {
        if (apir_trace.files == APIR_TRACE_MAX_FILES) {
            fclose(apir_trace.f);
            apir_trace.f = NULL;
            atomic_store(&apir_trace.state, -1);
            pthread_mutex_unlock(&apir_trace.lock);
            return;
        }
        apir_trace_next_file();
    }
    uint8_t *copy = malloc(len + APIR_TRACE_RECORD_HDR);
    if (copy) {
        uint8_t *p = copy + APIR_TRACE_RECORD_HDR;
        copy[0] = (uint8_t)cmd, copy[1] = (uint8_t)(cmd >> 8);
        for (int i = 0; i < 4; i++)
            copy[2 + i] = (uint8_t)(len >> (8 * i));
        memcpy(p, payload, len);
        apir_trace_to_refs(p, len, apir_trace.handles, apir_trace.n_handles);
        apir_trace_write(copy, len + APIR_TRACE_RECORD_HDR);
        if (!apir_trace.setup_done)
            apir_write_raw(&apir_trace.setup, copy, len + APIR_TRACE_RECORD_HDR);
        free(copy);
    }
    apir_trace.last_cmd = cmd;
    pthread_mutex_unlock(&apir_trace.lock);
}

void apir_trace_reply(uint32_t cmd, int status, const uint8_t *payload, size_t len)
{
    if (!apir_trace_on() || status != APIR_OK)
        return;
    pthread_mutex_lock(&apir_trace.lock);
    uint64_t h[2];
    unsigned n = apir_trace_reply_handles(cmd, payload, len, h);
    for (unsigned i = 0; i < n && apir_trace.n_handles < APIR_TRACE_MAX_REFS; i++)
        apir_trace.handles[apir_trace.n_handles++] = h[i];
    pthread_mutex_unlock(&apir_trace.lock);
}
