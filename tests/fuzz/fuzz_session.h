/* The fuzz targets' shared session (fuzz_session.c): the real CPU backend behind a session
 * pre-populated with a device, a buffer and a stream. Inputs name those handles through the
 * u64 placeholders FUZZ_H_* (a fuzzer cannot guess a session's random tags). */
#ifndef APIR_FUZZ_SESSION_H
#define APIR_FUZZ_SESSION_H

#include "apir/host.h"
#include "proto/codec.h"

#include <stddef.h>
#include <stdint.h>

#define FUZZ_H_DEV 0xa1a1a1a1a1a1a101ull
#define FUZZ_H_BUFT 0xa1a1a1a1a1a1a102ull
#define FUZZ_H_BUF 0xa1a1a1a1a1a1a103ull
#define FUZZ_H_STREAM 0xa1a1a1a1a1a1a104ull

/* The session (64 MiB quota, so allocations cannot exhaust the machine), after HELLO with
 * the graph cache offered; exits the process when it cannot be made. */
struct apir_session *fuzz_session_open(const char *who);
/* The host behind it, for targets that make sessions of their own. */
struct apir_host *fuzz_session_host(void);
/* Replaces every placeholder in p[0..n) by the session's real handle. */
void fuzz_session_patch(uint8_t *p, size_t n);
/* The same with handles of the caller's session: h[] = {device, buffer type, buffer, stream}. */
void fuzz_handles_patch(uint8_t *p, size_t n, const uint64_t h[4]);
/* Valid requests (command id, payload) for seed corpora, one call per seed. */
typedef void (*fuzz_seed_fn)(void *user, const char *name, uint16_t cmd,
                             const struct apir_writer *payload);
void fuzz_session_seeds(fuzz_seed_fn fn, void *user);

#endif
