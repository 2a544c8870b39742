/* The hostile corpus: named requests a guest could send to break the host, each run against a
 * live session. Every entry must get an error reply (or, for a framing error on a byte stream,
 * end its session), and the same session (a fresh one after a framing error on a stream) must
 * then compute a small ADD correctly. Entries whose honest twin is given also prove that the
 * refusal is the hostile detail's doing: the twin, differing only there, must succeed.
 *
 * The table is transport-free: a link sends message bytes and hands back the reply. Two links
 * run it: in-process against apir_session_dispatch (unit.hostile) and over the socket against
 * a real apir-hostd (integration.hostile). */
#ifndef APIR_HOSTILE_CORPUS_H
#define APIR_HOSTILE_CORPUS_H

#include "proto/codec.h"
#include "proto/wire.h"

#include <stdbool.h>
#include <stdint.h>

/* The link could not deliver a reply: the peer ended the session, or none came in time. */
#define HOSTILE_CLOSED (-1)
#define HOSTILE_HUNG (-2)

/* How entries reach a session. */
struct hostile_link {
    /* Sends one message (header included, sent as is); returns the reply status or
     * HOSTILE_CLOSED / HOSTILE_HUNG. The reply payload is left in *r until the next call. */
    int (*call)(struct hostile_link *l, const void *msg, size_t len, struct apir_reader *r);
    /* Ends the session and opens a fresh one (no HELLO yet). */
    bool (*reopen)(struct hostile_link *l);
    /* Sends REGION_ATTACH for (id, size) with memory the transport provides. */
    int (*attach_region)(struct hostile_link *l, uint32_t id, uint64_t size);
    /* Threads of the serving process, or -1 where the link cannot tell. */
    int (*threads)(struct hostile_link *l);
    /* A framing error may end the session instead of drawing a reply (a byte stream cannot
     * resynchronise after a header it cannot trust). */
    bool stream;
    uint64_t quota; /* the host's per-session byte quota */
};

/* What a session holds when an entry runs (hostile_setup). */
struct hostile_ctx {
    uint64_t dev, buft;
    uint64_t buf;          /* HOSTILE_BUF_SIZE bytes, cleared to 0 before each entry */
    uint64_t stream;       /* entries compute on it */
    uint64_t ok_stream;    /* the follow-up computes on it */
    uint64_t stale_stream; /* its cached graph named a buffer that was freed since */
    uint64_t freed_buf;    /* a buffer handle already freed */
    uint64_t freed_stream; /* a stream handle already freed */
    uint64_t other_buf;    /* a live buffer of another session */
    uint64_t rbuf;         /* a buffer inside the region, at its start */
    uint64_t rbuf2;        /* another, over the same bytes from HOSTILE_RBUF2_OFF on */
    uint32_t region;       /* an attached region of HOSTILE_REGION_SIZE bytes */
    uint64_t quota;
};

#define HOSTILE_BUF_SIZE (256u << 10)
#define HOSTILE_REGION_ID 7u
#define HOSTILE_REGION_SIZE (1u << 20)
#define HOSTILE_RBUF_SIZE (64u << 10)
#define HOSTILE_RBUF2_OFF 4096u
/* The follow-up's tensors, at the end of buf: entries lay theirs out from offset 0. */
#define HOSTILE_FOLLOW_OFF (HOSTILE_BUF_SIZE - 3 * 256)

/* Builds one message into w: variant 0 the hostile request, 1 its honest twin. */
typedef void (*hostile_build_fn)(struct apir_writer *w, const struct hostile_ctx *c, int variant);

struct hostile_entry {
    const char *name;
    const char *klass;
    hostile_build_fn build;
    hostile_build_fn prep;  /* optional: a valid request first (e.g. index values), must be OK */
    bool twin;              /* build(…, 1) is the honest request, which must succeed */
    bool framing;           /* a stream link may end the session instead of replying */
    bool accept;            /* the right answer is OK: the host caps the request (see entry) */
    hostile_build_fn after; /* accept entries: a request that must then succeed */
};

/* The per-class tables (hostile_*.c), each ending with a NULL name. */
extern const struct hostile_entry hostile_framing[];
extern const struct hostile_entry hostile_data[];
extern const struct hostile_entry hostile_handles[];
extern const struct hostile_entry hostile_ops[];
extern const struct hostile_entry hostile_overlap[];
extern const struct hostile_entry hostile_index[];
extern const struct hostile_entry hostile_kernels[];

/* Runs every entry on l (other: a second session, for foreign handles); prints `ok NAME` or
 * `FAIL NAME: why` per entry and a summary. Returns 0 when all passed and there were at
 * least `min_entries`. */
int hostile_run(struct hostile_link *l, struct hostile_link *other, unsigned min_entries);

/* Message building (corpus.c). */
void hostile_begin(struct apir_writer *w, uint16_t cmd);
void hostile_end(struct apir_writer *w); /* fills in the header with the true length */
/* A dense tensor of `type` at (buffer, offset), ne[1..3] as given. */
struct apir_wire_tensor hostile_tensor(uint32_t type, uint64_t buffer, uint64_t offset, int64_t n0,
                                       int64_t n1, int64_t n2, int64_t n3);
uint64_t hostile_nbytes(const struct apir_wire_tensor *t);
/* The next three build well-formed messages: their payloads are written by the command table's
 * encoders (src/proto/msg.h), byte for byte what a guest sends, hostile only in the values
 * given. Tensor data is at most APIR_MAX_DATA_CHUNK bytes (the encoder refuses more); a
 * request malformed on purpose is written by hand.
 *
 * A whole GRAPH_COMPUTE message on stream: n tensors, and as nodes, in table order, every one
 * with an op (which gets the compute flag, as ggml_build_forward marks nodes). */
void hostile_compute(struct apir_writer *w, uint64_t stream, struct apir_wire_tensor *t,
                     uint32_t n);
/* A whole TENSOR_COPY message: src, then dst. */
void hostile_tensor_copy(struct apir_writer *w, const struct apir_wire_tensor *src,
                         const struct apir_wire_tensor *dst);
/* A whole TENSOR_SET message: len bytes of data into t from offset on. */
void hostile_tensor_set(struct apir_writer *w, const struct apir_wire_tensor *t, uint64_t offset,
                        const void *data, size_t len);

#endif
