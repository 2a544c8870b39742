/* Traces: a guest's requests as recorded from real traffic (src/guest/trace.c,
 * APIR_TRACE_DIR), replayed by the fuzz target tests/fuzz/fuzz_trace.c as its seed corpus.
 *
 * A trace file is a sequence of records: u16 command, u32 payload length, payload (all
 * little-endian). Handles cannot be replayed as they were (each session draws its own tags),
 * so each 8 bytes of a payload equal to a handle the host returned earlier in the same file
 * are written as a reference: APIR_TRACE_REF_BASE + k, for the k-th handle returned (k from
 * 0, in reply order). The replayer keeps the handles its own session returns in the same
 * order and substitutes them back. */
#ifndef APIR_PROTO_TRACE_H
#define APIR_PROTO_TRACE_H

#include <stddef.h>
#include <stdint.h>

#define APIR_TRACE_REF_BASE 0xa2a2a2a2a2a20000ull
#define APIR_TRACE_MAX_REFS 0x10000u
#define APIR_TRACE_RECORD_HDR 6u

/* The handles a successful reply to cmd carries, in the order they are counted for
 * references: its NEW fields (include/apir/protocol.h), in order: DEVICE_INFO (device, buffer
 * type), BUFFER_ALLOC and BUFFER_FROM_REGION (buffer), STREAM_NEW (stream). The handles inside
 * a list (DEVICE_EXTRA_BUFTS) are not counted, as recorded seeds never counted them. Returns
 * how many were written to out (at most 2). */
unsigned apir_trace_reply_handles(uint32_t cmd, const uint8_t *payload, size_t len,
                                  uint64_t out[2]);

/* Rewrites, in p[0..n), every 8 bytes equal to one of handles[0..count) into its reference
 * (record) or every reference below count into its handle (replay). Scans every byte offset:
 * payloads are packed, and a handle's 64 random-looking bits do not occur by chance. */
void apir_trace_to_refs(uint8_t *p, size_t n, const uint64_t *handles, size_t count);
void apir_trace_from_refs(uint8_t *p, size_t n, const uint64_t *handles, size_t count);

#endif
