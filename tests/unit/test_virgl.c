/* The host library's virglrenderer entry points (src/host/virgl.c), called in-process as
 * virglrenderer's APIR context calls them, with hostile arguments.
 *
 * TEST DOUBLE: the two callbacks stand in for virglrenderer's (the real ones run in
 * integration.vtest_*): get_config answers from a table, get_shmem_ptr from blobs this test
 * maps itself (anonymous shared mappings, as virglrenderer maps its memfds). */
#include "proto/virgl_abi.h"
#include "session_msgs.h"
#include "shm/ring.h"

#include <sys/mman.h>
#include <unistd.h>

#define CTX 7u
#define BLOB_SMALL 11u /* one page */
#define BLOB_LARGE 12u /* 64 KiB */
#define BLOB_RING 13u  /* a ring: 64 KiB + control block */
#define RING_SIZE (65536u + APIR_RING_CTRL_SIZE)

static unsigned config_calls;
static void *blob_small, *blob_large, *blob_ring;

static const char *cfg_get(uint32_t ctx, const char *key)
{
    config_calls++;
    if (ctx == CTX && strcmp(key, "ggml.library.path") == 0)
        return APIR_GGML_BACKEND_DIR "/libggml-cpu.so";
    return NULL;
}

static volatile uint32_t *shmem_get(uint32_t ctx, uint32_t res)
{
    if (ctx != CTX)
        return NULL;
    return res == BLOB_SMALL   ? blob_small
           : res == BLOB_LARGE ? blob_large
           : res == BLOB_RING  ? blob_ring
                               : NULL;
}

static struct apir_virgl_callbacks cbs = {cfg_get, shmem_get};
static uint8_t window[1 << 16];

/* Frames the request built in req (session_msgs.h) and forwards it. */
static uint32_t forward(uint32_t ctx, uint32_t type, const void *payload, size_t len, size_t win,
                        char **after)
{
    static char dec[1 << 17];
    if (len) /* payload may be NULL then, which memcpy may not be given */
        memcpy(dec, payload, len);
    return apir_backend_dispatcher(ctx, &cbs, type, dec, dec + len, (char *)window,
                                   (char *)window + win, after);
}

static void frame(uint16_t cmd)
{
    struct apir_req_hdr h = {APIR_MAGIC_REQ, cmd, 0, 9, (uint32_t)(req.len - APIR_HDR_SIZE)};
    apir_req_hdr_encode(req.buf, &h);
}

static void build_hello(uint64_t features)
{
    struct apir_writer *w = msg_begin();
    apir_write_u32(w, APIR_PROTO_MAJOR);
    apir_write_u32(w, APIR_PROTO_MINOR);
    apir_write_u64(w, features);
    frame(APIR_CMD_HELLO);
}

/* The reply in the window: its status, payload readable in rep. */
static int reply_status(const char *after)
{
    struct apir_rep_hdr rh;
    CHECK(apir_rep_hdr_decode(window, &rh));
    CHECK(rh.seq == 9 && after == (const char *)window + APIR_HDR_SIZE + rh.len);
    apir_reader_init(&rep, window + APIR_HDR_SIZE, rh.len);
    return rh.status;
}

static void test_framing(void)
{
    char *after;
    build_hello(APIR_FEAT_REGIONS);
    CHECK(forward(CTX + 1, APIR_VIRGL_FWD_MESSAGE, req.buf, req.len, sizeof window, &after) ==
          APIR_VIRGL_DISPATCH_NO_SESSION);
    CHECK(forward(CTX, 99, req.buf, req.len, sizeof window, &after) ==
          APIR_VIRGL_DISPATCH_BAD_TYPE);
    CHECK(after == (char *)window); /* nothing written: the cursor stays */
    CHECK(forward(CTX, APIR_VIRGL_FWD_MESSAGE, req.buf, req.len - 1, sizeof window, &after) ==
          APIR_VIRGL_DISPATCH_BAD_FRAME); /* shorter than its header says */
    uint8_t padded[64] = {0};
    memcpy(padded, req.buf, req.len);
    CHECK(forward(CTX, APIR_VIRGL_FWD_MESSAGE, padded, req.len + 4, sizeof window, &after) ==
          APIR_VIRGL_DISPATCH_BAD_FRAME); /* more than padding after it */
    CHECK(forward(CTX, APIR_VIRGL_FWD_MESSAGE, padded, 8, sizeof window, &after) ==
          APIR_VIRGL_DISPATCH_BAD_FRAME); /* not even a header */
    CHECK(forward(CTX, APIR_VIRGL_FWD_MESSAGE, req.buf, req.len, APIR_HDR_SIZE - 1, &after) ==
          APIR_VIRGL_DISPATCH_NO_WINDOW);
    /* A reply that does not fit: NOMEM, and nothing past the window. */
    memset(window, 0xee, sizeof window);
    CHECK(forward(CTX, APIR_VIRGL_FWD_MESSAGE, padded, req.len + 3, APIR_HDR_SIZE + 4, &after) ==
          APIR_VIRGL_DISPATCH_OK);
    CHECK(reply_status(after) == APIR_E_NOMEM && window[APIR_HDR_SIZE + 4] == 0xee);
    /* HELLO with padding (virglrenderer pads to 4 bytes): served. */
    CHECK(forward(CTX, APIR_VIRGL_FWD_MESSAGE, padded, req.len + 3, sizeof window, &after) ==
          APIR_VIRGL_DISPATCH_OK);
    CHECK(reply_status(after) == APIR_OK && apir_read_u32(&rep) == APIR_PROTO_MAJOR);
}

static void region_attach(uint32_t id, uint64_t size)
{
    struct apir_writer *w = msg_begin();
    apir_write_u32(w, id);
    apir_write_u64(w, size);
    frame(APIR_CMD_REGION_ATTACH);
}

/* Blobs: the host learns a blob's size from its mapping, never from the guest. */
static void test_blobs(void)
{
    char *after;
    region_attach(BLOB_SMALL, 8192); /* claims two pages of a one-page blob */
    CHECK(forward(CTX, APIR_VIRGL_FWD_MESSAGE, req.buf, req.len, sizeof window, &after) ==
          APIR_VIRGL_DISPATCH_OK);
    CHECK(reply_status(after) != APIR_OK);
    region_attach(BLOB_SMALL, 4096);
    CHECK(forward(CTX, APIR_VIRGL_FWD_MESSAGE, req.buf, req.len, sizeof window, &after) ==
          APIR_VIRGL_DISPATCH_OK);
    CHECK(reply_status(after) == APIR_OK);

    /* A message in a blob: copied out, then served like an inline one. */
    build_hello(0);
    memcpy(blob_large, req.buf, req.len);
    uint32_t ref[2] = {BLOB_LARGE, (uint32_t)req.len};
    CHECK(forward(CTX, APIR_VIRGL_FWD_MESSAGE_IN_BLOB, ref, sizeof ref, sizeof window, &after) ==
          APIR_VIRGL_DISPATCH_OK);
    CHECK(reply_status(after) == APIR_OK);
    uint32_t too_long[2] = {BLOB_SMALL, 8192};
    CHECK(forward(CTX, APIR_VIRGL_FWD_MESSAGE_IN_BLOB, too_long, sizeof too_long, sizeof window,
                  &after) == APIR_VIRGL_DISPATCH_BAD_BLOB);
    uint32_t unknown[2] = {99, (uint32_t)req.len};
    CHECK(forward(CTX, APIR_VIRGL_FWD_MESSAGE_IN_BLOB, unknown, sizeof unknown, sizeof window,
                  &after) == APIR_VIRGL_DISPATCH_BAD_BLOB);
    uint32_t huge[2] = {BLOB_LARGE, UINT32_MAX};
    CHECK(forward(CTX, APIR_VIRGL_FWD_MESSAGE_IN_BLOB, huge, sizeof huge, sizeof window, &after) ==
          APIR_VIRGL_DISPATCH_BAD_FRAME);
    CHECK(forward(CTX, APIR_VIRGL_FWD_MESSAGE_IN_BLOB, ref, 4, sizeof window, &after) ==
          APIR_VIRGL_DISPATCH_BAD_FRAME);
    /* The named length must cover the message exactly. */
    uint32_t short_ref[2] = {BLOB_LARGE, (uint32_t)req.len - 4};
    CHECK(forward(CTX, APIR_VIRGL_FWD_MESSAGE_IN_BLOB, short_ref, sizeof short_ref, sizeof window,
                  &after) == APIR_VIRGL_DISPATCH_BAD_FRAME);
}

/* Waits (bounded) for the ring thread to answer request seq, or to close the ring. */
static bool ring_answered(struct apir_ring *r, uint32_t seq)
{
    for (int i = 0; i < 20000; i++) {
        if (atomic_load(&r->ctrl->rep_seq) == seq || atomic_load(&r->ctrl->closed))
            return atomic_load(&r->ctrl->rep_seq) == seq;
        usleep(100);
    }
    return false;
}

static void ring_publish(struct apir_ring *r, uint32_t seq, const void *msg, uint32_t len)
{
    memcpy(r->req, msg, len);
    atomic_store(&r->ctrl->req_len, len);
    atomic_store(&r->ctrl->req_seq, seq);
    if (atomic_load(&r->ctrl->host_idle)) {
        char *after;
        forward(CTX, APIR_VIRGL_FWD_RING_KICK, NULL, 0, sizeof window, &after);
    }
}

/* A ring in a blob, served by the library's thread: requests answered in place, a claim
 * larger than the blob refused, one ring per context, a bad length closes it. */
static void test_ring(void)
{
    char *after;
    uint32_t too_big[2] = {BLOB_SMALL, RING_SIZE};
    CHECK(forward(CTX, APIR_VIRGL_FWD_RING_ATTACH, too_big, sizeof too_big, sizeof window,
                  &after) == APIR_VIRGL_DISPATCH_BAD_BLOB);
    uint32_t attach[2] = {BLOB_RING, RING_SIZE};
    CHECK(forward(CTX, APIR_VIRGL_FWD_RING_ATTACH, attach, sizeof attach, sizeof window, &after) ==
          APIR_VIRGL_DISPATCH_OK);
    CHECK(forward(CTX, APIR_VIRGL_FWD_RING_ATTACH, attach, sizeof attach, sizeof window, &after) ==
          APIR_VIRGL_DISPATCH_NO_RING);
    struct apir_ring r;
    CHECK(apir_ring_layout(&r, blob_ring, RING_SIZE));
    build_hello(0);
    ring_publish(&r, 1, req.buf, (uint32_t)req.len);
    CHECK(ring_answered(&r, 1));
    struct apir_rep_hdr rh;
    CHECK(apir_rep_hdr_decode(r.rep, &rh) && rh.status == APIR_OK && rh.seq == 9);
    CHECK(atomic_load(&r.ctrl->rep_len) == APIR_HDR_SIZE + rh.len);
    /* After the thread went to sleep (its napping is 20 ms): a kick wakes it. */
    usleep(60000);
    CHECK(atomic_load(&r.ctrl->host_idle) == 1);
    ring_publish(&r, 2, req.buf, (uint32_t)req.len);
    CHECK(ring_answered(&r, 2));
    /* A length past the area: the ring closes, the context's command path still serves. */
    memcpy(r.req, req.buf, req.len);
    atomic_store(&r.ctrl->req_len, r.cap + 1);
    atomic_store(&r.ctrl->req_seq, 3);
    forward(CTX, APIR_VIRGL_FWD_RING_KICK, NULL, 0, sizeof window, &after);
    CHECK(!ring_answered(&r, 3) && atomic_load(&r.ctrl->closed) == 1);
    CHECK(forward(CTX, APIR_VIRGL_FWD_MESSAGE, req.buf, req.len, sizeof window, &after) ==
          APIR_VIRGL_DISPATCH_OK);
    CHECK(reply_status(after) == APIR_OK);
}

int main(void)
{
    apir_writer_init(&req, 1 << 16);
    blob_small = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    blob_large = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    blob_ring = mmap(NULL, RING_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(blob_small != MAP_FAILED && blob_large != MAP_FAILED && blob_ring != MAP_FAILED);

    CHECK(apir_backend_initialize(CTX, &cbs) == 0);
    unsigned after_init = config_calls;
    CHECK(after_init > 0);
    CHECK(apir_backend_initialize(CTX, &cbs) != 0); /* one session per context */
    test_framing();
    test_blobs();
    test_ring();
    CHECK(config_calls == after_init); /* configuration is read at initialize only */
    apir_backend_deinit(CTX);
    char *after;
    build_hello(0);
    CHECK(forward(CTX, APIR_VIRGL_FWD_MESSAGE, req.buf, req.len, sizeof window, &after) ==
          APIR_VIRGL_DISPATCH_NO_SESSION);
    apir_backend_deinit(CTX); /* twice: harmless */
    apir_writer_free(&req);
    return apir_check_summary("unit.virgl");
}
