/* APIR_STATS=1: what the connection did, per command, printed at exit. */
#include "guest.h"

#include <stdio.h>

void apir_conn_count_local(struct apir_conn *conn, uint32_t cmd, size_t bytes)
{
    if (!conn->stats)
        return;
    /* Shared buffers are used without the connection lock: counts are approximate under
     * concurrent use, exact for the usual single-threaded decode loop. */
    conn->local_calls[cmd]++;
    conn->local_bytes[cmd] += bytes;
}

/* Round trips (and how many went through the shared-memory ring), message bytes each way,
 * and data operations done in place in shared memory, per command. */
void apir_conn_print_stats(const struct apir_conn *conn)
{
    if (!conn || !conn->stats)
        return;
    uint64_t calls = 0, ring = 0, out = 0, in = 0, local = 0, bulk = 0;
    for (uint32_t i = 1; i < APIR_CMD_LIMIT; i++) {
        if (!conn->calls[i] && !conn->local_calls[i])
            continue;
        fprintf(stderr,
                "ggml-apir stats: %-20s calls=%-8llu ring=%-8llu out=%-12llu in=%-12llu "
                "local=%-8llu bulk=%llu\n",
                apir_cmd_name(i), (unsigned long long)conn->calls[i],
                (unsigned long long)conn->via_ring[i], (unsigned long long)conn->bytes_out[i],
                (unsigned long long)conn->bytes_in[i], (unsigned long long)conn->local_calls[i],
                (unsigned long long)conn->local_bytes[i]);
        calls += conn->calls[i];
        ring += conn->via_ring[i];
        out += conn->bytes_out[i];
        in += conn->bytes_in[i];
        local += conn->local_calls[i];
        bulk += conn->local_bytes[i];
    }
    fprintf(stderr,
            "ggml-apir stats: %-20s calls=%-8llu ring=%-8llu out=%-12llu in=%-12llu local=%-8llu "
            "bulk=%llu\n",
            "TOTAL", (unsigned long long)calls, (unsigned long long)ring, (unsigned long long)out,
            (unsigned long long)in, (unsigned long long)local, (unsigned long long)bulk);
}
