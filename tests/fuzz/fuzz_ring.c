/* Fuzz target: the host library's ring step (apir_virgl_ring_serve_one, what its ring thread
 * does inside virglrenderer for each request) with the real CPU backend behind it. The input
 * is what a hostile guest controls in the ring blob: the req_len word (4 bytes) and the
 * request area's bytes (the rest), placeholders FUZZ_H_* standing for the session's handles.
 * The ring must close (false) or produce one reply that fits its area and that the guest's
 * parser (apir_ring_take_reply) accepts; nothing may be read or written outside the blob (ASan
 * watches a blob allocated to its exact size). The same bytes then go to the guest's parser as
 * a hostile host's reply.
 * APIR_FUZZ_SEEDS=dir writes seeds: valid requests framed as the guest puts them in a ring. */
#include "fuzz_session.h"

#include "host/virgl_ring.h"
#include "proto/wire.h"
#include "shm/ring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_RING_SIZE (64u << 10)

static struct apir_session *sess;
static struct apir_writer reply;

static void write_seed(void *user, const char *name, uint16_t cmd, const struct apir_writer *w)
{
    char path[512];
    snprintf(path, sizeof path, "%s/ring_%s", (const char *)user, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    uint8_t hdr[APIR_HDR_SIZE];
    struct apir_req_hdr h = {APIR_MAGIC_REQ, cmd, 0, 1, (uint32_t)w->len};
    apir_req_hdr_encode(hdr, &h);
    uint32_t len = (uint32_t)(APIR_HDR_SIZE + w->len);
    fwrite(&len, sizeof len, 1, f);
    fwrite(hdr, 1, sizeof hdr, f);
    fwrite(w->buf, 1, w->len, f);
    fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    sess = fuzz_session_open("fuzz_ring");
    apir_writer_init(&reply, 1 << 16);
    const char *dir = getenv("APIR_FUZZ_SEEDS");
    if (dir)
        fuzz_session_seeds(write_seed, (void *)dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    uint8_t *blob = calloc(1, FUZZ_RING_SIZE);
    uint8_t *copy = NULL;
    struct apir_ring ring;
    if (!blob || !apir_ring_layout(&ring, blob, FUZZ_RING_SIZE) || !(copy = malloc(ring.cap)))
        abort();
    uint32_t req_len;
    memcpy(&req_len, data, 4);
    size_t n = size - 4 < ring.cap ? size - 4 : ring.cap;
    memcpy(ring.req, data + 4, n);
    fuzz_session_patch(ring.req, n);
    atomic_store(&ring.ctrl->req_len, req_len);
    atomic_store(&ring.ctrl->req_seq, 1u);
    if (apir_virgl_ring_serve_one(&ring, sess, NULL, copy)) {
        uint32_t rep_len = atomic_load(&ring.ctrl->rep_len);
        struct apir_rep_hdr rh;
        /* The guest's own reply parser must accept what the host wrote. */
        if (atomic_load(&ring.ctrl->rep_seq) != 1u || rep_len > ring.cap ||
            !apir_ring_take_reply(&ring, rep_len, &rh, &reply))
            abort();
    }
    /* The other way round: the guest's parser facing a hostile host's reply words and area. */
    struct apir_rep_hdr rh;
    memcpy(ring.rep, data + 4, n);
    apir_ring_take_reply(&ring, req_len, &rh, &reply);
    apir_writer_reset(&reply);
    free(copy);
    free(blob);
    return 0;
}
