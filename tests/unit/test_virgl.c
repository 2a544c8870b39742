/* The host library's virglrenderer entry points (src/host/virgl.c), called in-process as
 * virglrenderer's APIR context calls them, with hostile arguments.
 *
 * TEST DOUBLE: the two callbacks stand in for virglrenderer's (the real ones run in
 * integration.vtest_*): get_config answers from a table, get_shmem_ptr from blobs this test
 * maps itself (anonymous shared mappings, as virglrenderer maps its memfds). */
#include "proto/virgl_abi.h"
#include "session_msgs.h"
#include "shm/ring.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#define CTX 7u
#define BLOB_SMALL 11u /* one page */
#define BLOB_LARGE 12u /* 64 KiB */
#define BLOB_RING 13u  /* a ring: 64 KiB + control block */
#define RING_SIZE (65536u + APIR_RING_CTRL_SIZE)

static unsigned config_calls;
static void *blob_small, *blob_large, *blob_ring;

/* A second context whose blobs the test destroys the way virglrenderer destroys a blob the
 * guest unrefs (src/apir/apir-resource.c: munmap, close, forget), while the guest keeps its
 * own mapping of the same memory. */
#define CTX_LIFE 8u
#define BLOB_DATA 21u
#define BLOB_RING2 22u
#define DATA_SIZE 65536u
struct test_blob {
    int fd;
    void *virgl; /* virglrenderer's mapping: what get_shmem_ptr returns; NULL once destroyed */
    void *guest; /* the guest's mapping of the same memory */
    size_t size;
};
static struct test_blob life_data, life_ring;

static const char *cfg_get(uint32_t ctx, const char *key)
{
    config_calls++;
    if (ctx == CTX && strcmp(key, "ggml.library.path") == 0)
        return APIR_GGML_BACKEND_DIR "/libggml-cpu.so";
    return NULL;
}

static volatile uint32_t *shmem_get(uint32_t ctx, uint32_t res)
{
    if (ctx == CTX_LIFE)
        return res == BLOB_DATA ? life_data.virgl : res == BLOB_RING2 ? life_ring.virgl : NULL;
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

/* A request that any session after HELLO answers OK: DEVICE_INFO of device 0. */
static void build_device_info(void)
{
    apir_write_u32(msg_begin(), 0);
    frame(APIR_CMD_DEVICE_INFO);
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
    build_device_info();
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
    build_device_info();
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

static void blob_create(struct test_blob *b, size_t size)
{
    b->size = size;
    b->fd = memfd_create("apir-test-life", MFD_CLOEXEC);
    CHECK(b->fd >= 0 && ftruncate(b->fd, (off_t)size) == 0);
    b->virgl = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd, 0);
    b->guest = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd, 0);
    CHECK(b->virgl != MAP_FAILED && b->guest != MAP_FAILED);
}

/* As virglrenderer destroys a blob: its mapping and descriptor go. With reuse, the host's
 * next allocation lands in the freed range (here: an anonymous mapping full of 0x5a at that
 * address), which a stale pointer would then read and write. */
static void *blob_destroy(struct test_blob *b, bool reuse)
{
    void *at = b->virgl;
    CHECK(munmap(b->virgl, b->size) == 0 && close(b->fd) == 0);
    b->virgl = NULL;
    if (!reuse)
        return NULL;
    void *p =
        mmap(at, b->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK(p == at);
    memset(p, 0x5a, b->size);
    return p;
}

/* Frames the message in req and forwards it to the lifetime context; the reply's status. */
static int life_send(uint16_t cmd)
{
    char *after;
    frame(cmd);
    CHECK(forward(CTX_LIFE, APIR_VIRGL_FWD_MESSAGE, req.buf, req.len, sizeof window, &after) ==
          APIR_VIRGL_DISPATCH_OK);
    return reply_status(after);
}

static void life_tensor_get(const struct apir_wire_tensor *t, uint64_t size)
{
    struct apir_writer *w = msg_begin();
    apir_wire_graph_encode_lone(w, t);
    apir_write_u64(w, 0);
    apir_write_u64(w, size);
}

/* The reply window is the region's own blob (virglrenderer maps the reply blob the guest
 * names, which may be the one a region buffer lives in): TENSOR_GET must still answer the
 * tensor's bytes as they were, not a copy that read what it had just written. */
static void test_reply_window_is_region(uint64_t buf)
{
    enum { N = 4096 };
    float *guest = life_data.guest;
    for (int i = 0; i < N; i++)
        guest[i] = (float)i;
    struct apir_wire_tensor t = f32_tensor(buf, 0, N);
    life_tensor_get(&t, N * 4);
    frame(APIR_CMD_TENSOR_GET);
    static char dec[4096];
    memcpy(dec, req.buf, req.len);
    char *win = life_data.guest, *after;
    CHECK(apir_backend_dispatcher(CTX_LIFE, &cbs, APIR_VIRGL_FWD_MESSAGE, dec, dec + req.len, win,
                                  win + DATA_SIZE, &after) == APIR_VIRGL_DISPATCH_OK);
    struct apir_rep_hdr rh;
    CHECK(apir_rep_hdr_decode((const uint8_t *)win, &rh) && rh.status == APIR_OK);
    float got[N];
    memcpy(got, win + APIR_HDR_SIZE + 8, sizeof got);
    /* The reply's own u64 length went over floats 4 and 5 before the data was read (the
     * window is that memory); every later float must come back as it was. */
    int wrong = 0;
    for (int i = 6; i < N; i++)
        wrong += got[i] != (float)i;
    CHECK(wrong == 0);
}

/* A region buffer over a blob the guest then destroys: the host's own hold keeps the memory,
 * so TENSOR_GET reads the blob's bytes (not whatever took the freed range), TENSOR_SET
 * writes them (the guest's mapping sees it), and the reused range is never touched. */
static void test_blob_destroyed_under_region(void)
{
    blob_create(&life_data, DATA_SIZE);
    build_hello(APIR_FEAT_REGIONS);
    CHECK(life_send(APIR_CMD_HELLO) == APIR_OK);
    apir_write_u32(msg_begin(), 0);
    CHECK(life_send(APIR_CMD_DEVICE_INFO) == APIR_OK);
    uint64_t dev = apir_read_u64(&rep);
    region_attach(BLOB_DATA, DATA_SIZE);
    CHECK(life_send(APIR_CMD_REGION_ATTACH) == APIR_OK);
    struct apir_writer *w = msg_begin();
    apir_write_u64(w, dev);
    apir_write_u32(w, BLOB_DATA);
    apir_write_u64(w, 0);
    apir_write_u64(w, DATA_SIZE);
    CHECK(life_send(APIR_CMD_BUFFER_FROM_REGION) == APIR_OK);
    uint64_t buf = apir_read_u64(&rep);

    test_reply_window_is_region(buf);
    float *guest = life_data.guest;
    for (int i = 0; i < 16; i++)
        guest[i] = (float)i + 0.5f;
    uint8_t *reused = blob_destroy(&life_data, true);
    struct apir_wire_tensor t = f32_tensor(buf, 0, 16);
    life_tensor_get(&t, 64);
    CHECK(life_send(APIR_CMD_TENSOR_GET) == APIR_OK);
    CHECK(apir_read_u64(&rep) == 64);
    const float *got = apir_read_view(&rep, 64);
    CHECK(got != NULL);
    for (int i = 0; got && i < 16; i++)
        CHECK(got[i] == (float)i + 0.5f);
    float v[16];
    for (int i = 0; i < 16; i++)
        v[i] = -(float)i;
    w = msg_begin();
    apir_wire_graph_encode_lone(w, &t);
    apir_write_u64(w, 0);
    apir_write_blob(w, v, sizeof v);
    CHECK(life_send(APIR_CMD_TENSOR_SET) == APIR_OK);
    CHECK(memcmp(life_data.guest, v, sizeof v) == 0);
    bool untouched = true;
    for (size_t i = 0; i < DATA_SIZE; i++)
        untouched &= reused[i] == 0x5a;
    CHECK(untouched);
    munmap(reused, DATA_SIZE);
}

/* A ring whose blob the guest destroys: the ring thread keeps serving through its own hold
 * (the guest still reaches the memory through its mapping), and does not fault. */
static void test_blob_destroyed_under_ring(void)
{
    char *after;
    blob_create(&life_ring, RING_SIZE);
    uint32_t attach[2] = {BLOB_RING2, RING_SIZE};
    CHECK(forward(CTX_LIFE, APIR_VIRGL_FWD_RING_ATTACH, attach, sizeof attach, sizeof window,
                  &after) == APIR_VIRGL_DISPATCH_OK);
    blob_destroy(&life_ring, false);
    usleep(50000); /* the thread polls the words of the blob meanwhile */
    struct apir_ring r;
    CHECK(apir_ring_layout(&r, life_ring.guest, RING_SIZE));
    build_device_info();
    memcpy(r.req, req.buf, req.len);
    atomic_store(&r.ctrl->req_len, (uint32_t)req.len);
    atomic_store(&r.ctrl->req_seq, 1);
    forward(CTX_LIFE, APIR_VIRGL_FWD_RING_KICK, NULL, 0, sizeof window, &after);
    CHECK(ring_answered(&r, 1));
    struct apir_rep_hdr rh;
    CHECK(apir_rep_hdr_decode(r.rep, &rh) && rh.status == APIR_OK);
}

/* How many mappings of the lifetime test's memfds this process still has. */
static int life_mappings(void)
{
    FILE *f = fopen("/proc/self/maps", "re");
    int n = 0;
    char line[4608];
    while (f && fgets(line, sizeof line, f))
        n += strstr(line, "apir-test-life") != NULL;
    if (f)
        fclose(f);
    return n;
}

static void test_blob_lifetime(void)
{
    CHECK(apir_backend_initialize(CTX_LIFE, &cbs) == 0);
    test_blob_destroyed_under_region();
    test_blob_destroyed_under_ring();
    apir_backend_deinit(CTX_LIFE);
    munmap(life_data.guest, life_data.size);
    munmap(life_ring.guest, life_ring.size);
    CHECK(life_mappings() == 0); /* the host released its holds with the context */
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
    test_blob_lifetime();
    apir_backend_deinit(CTX);
    char *after;
    build_hello(0);
    CHECK(forward(CTX, APIR_VIRGL_FWD_MESSAGE, req.buf, req.len, sizeof window, &after) ==
          APIR_VIRGL_DISPATCH_NO_SESSION);
    apir_backend_deinit(CTX); /* twice: harmless */
    apir_writer_free(&req);
    return apir_check_summary("unit.virgl");
}
