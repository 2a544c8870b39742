/* Fuzz target: the virglrenderer entry points (src/host/virgl.c) as virglrenderer calls them.
 *
 * An input whose first byte is below 0x80 is one dispatcher call: that byte picks cmd_type,
 * the rest is the command payload, the reply window a 64 KiB buffer (context 1, kept).
 *
 * From 0x80 it is a scenario on a fresh context (2) whose blobs come and go the way the
 * guest makes virglrenderer destroy them (src/apir/apir-resource.c: munmap, close, forget)
 * between calls: a region buffer over blob A and a stream are set up, then each op byte
 * (op % 8) does one of
 *   0-2 MESSAGE: cmd (u8, modulo 32), len (u16), payload, FUZZ_H_* patched to the
 *       context's device, buffer type, region buffer and stream (fuzz_session.h)
 *   3   destroy blob A; with the next byte odd, a fresh mapping full of 0x5a takes its range
 *       (what the host's next allocation would do)
 *   4   make blob A anew (a new memfd of the same id)
 *   5   MESSAGE_IN_BLOB: the next message written into blob A and forwarded by reference
 *   6   RING: attach a ring in blob R if none yet, then the next message through it
 *   7   destroy blob R
 * The context ends with the input: the host releases what it held.
 * APIR_FUZZ_SEEDS=dir writes scenario seeds: each valid request of fuzz_session.c on a
 * region buffer, alone, after blob A is destroyed, through the ring, and around its destroy.
 *
 * TEST DOUBLE: the callbacks serve a config table and blobs this program maps, as
 * virglrenderer's would. */
#include "fuzz_session.h"
#include "proto/virgl_abi.h"
#include "proto/wire.h"
#include "shm/ring.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SCENE_CTX 2u
#define BLOB_A 21u
#define BLOB_R 22u
#define BLOB_A_SIZE 65536u
#define BLOB_R_SIZE (65536u + APIR_RING_CTRL_SIZE)

static void *blobs[2];
static char window[1 << 16];

struct scene_blob {
    int fd;
    void *virgl;  /* what get_shmem_ptr answers; NULL once destroyed */
    void *guest;  /* the guest's own mapping, which outlives a destroy */
    void *reused; /* a mapping that took the destroyed range */
    size_t size;
};
static struct scene_blob scene[2]; /* A, R */

static const char *cfg_get(uint32_t ctx, const char *key)
{
    (void)ctx;
    return strcmp(key, "ggml.library.path") == 0 ? APIR_GGML_BACKEND_DIR "/libggml-cpu.so" : NULL;
}

static volatile uint32_t *shmem_get(uint32_t ctx, uint32_t res)
{
    if (ctx == SCENE_CTX)
        return res == BLOB_A ? scene[0].virgl : res == BLOB_R ? scene[1].virgl : NULL;
    return res == 1 || res == 2 ? blobs[res - 1] : NULL;
}

static struct apir_virgl_callbacks cbs = {cfg_get, shmem_get};

static void blob_make(struct scene_blob *b, size_t size)
{
    b->size = size;
    b->fd = memfd_create("fuzz-virgl-blob", MFD_CLOEXEC);
    if (b->fd < 0 || ftruncate(b->fd, (off_t)size) != 0)
        abort();
    b->virgl = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd, 0);
    b->guest = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd, 0);
    if (b->virgl == MAP_FAILED || b->guest == MAP_FAILED)
        abort();
}

static void blob_destroy(struct scene_blob *b, bool reuse)
{
    if (!b->virgl)
        return;
    void *at = b->virgl;
    munmap(b->virgl, b->size);
    close(b->fd);
    b->virgl = NULL;
    if (reuse && !b->reused) {
        void *p = mmap(at, b->size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (p == at)
            memset(p, 0x5a, b->size), b->reused = p;
        else if (p != MAP_FAILED)
            munmap(p, b->size);
    }
}

/* Forgets a blob for good: the guest's mapping and any reused range go too. */
static void blob_forget(struct scene_blob *b)
{
    blob_destroy(b, false);
    if (b->guest)
        munmap(b->guest, b->size);
    if (b->reused)
        munmap(b->reused, b->size);
    memset(b, 0, sizeof *b);
}

/* Frames cmd and its payload at out (cap bytes); the message's length, 0 if it does not fit. */
static size_t frame(uint8_t *out, size_t cap, uint16_t cmd, const void *p, size_t n)
{
    if (cap < APIR_HDR_SIZE || n > cap - APIR_HDR_SIZE)
        return 0;
    struct apir_req_hdr h = {APIR_MAGIC_REQ, cmd, 0, 7, (uint32_t)n};
    apir_req_hdr_encode(out, &h);
    if (n)
        memcpy(out + APIR_HDR_SIZE, p, n);
    return APIR_HDR_SIZE + n;
}

/* MESSAGE to the scene's context; the reply's status (-1: none), payload readable in *r. */
static int scene_call(uint16_t cmd, const void *p, size_t n, struct apir_reader *r)
{
    static uint8_t dec[1 << 17];
    size_t len = frame(dec, sizeof dec, cmd, p, n);
    char *after;
    if (!len || apir_backend_dispatcher(SCENE_CTX, &cbs, APIR_VIRGL_FWD_MESSAGE, (char *)dec,
                                        (char *)dec + (len + 3) / 4 * 4, window,
                                        window + sizeof window, &after) != APIR_VIRGL_DISPATCH_OK)
        return -1;
    struct apir_rep_hdr rh;
    if (!apir_rep_hdr_decode((const uint8_t *)window, &rh) ||
        rh.len > sizeof window - APIR_HDR_SIZE)
        abort(); /* the library's own reply is always well formed */
    apir_reader_init(r, (const uint8_t *)window + APIR_HDR_SIZE, rh.len);
    return rh.status;
}

/* The context's handles: {device, buffer type, region buffer over blob A, stream}. */
static uint64_t scene_handles[4];

static void scene_setup(void)
{
    struct apir_reader r;
    uint8_t p[32];
    uint32_t v[2] = {APIR_PROTO_MAJOR, APIR_PROTO_MINOR}, zero = 0;
    uint64_t feat = APIR_FEAT_REGIONS | APIR_FEAT_GRAPH_CACHE;
    memcpy(p, v, 8), memcpy(p + 8, &feat, 8);
    memset(scene_handles, 0, sizeof scene_handles);
    if (scene_call(APIR_CMD_HELLO, p, 16, &r) != APIR_OK ||
        scene_call(APIR_CMD_DEVICE_INFO, &zero, 4, &r) != APIR_OK)
        abort();
    scene_handles[0] = apir_read_u64(&r), scene_handles[1] = apir_read_u64(&r);
    uint32_t id = BLOB_A;
    uint64_t size = BLOB_A_SIZE, off = 0;
    memcpy(p, &id, 4), memcpy(p + 4, &size, 8);
    if (scene_call(APIR_CMD_REGION_ATTACH, p, 12, &r) != APIR_OK)
        abort();
    memcpy(p, &scene_handles[0], 8), memcpy(p + 8, &id, 4), memcpy(p + 12, &off, 8);
    memcpy(p + 20, &size, 8);
    if (scene_call(APIR_CMD_BUFFER_FROM_REGION, p, 28, &r) == APIR_OK)
        scene_handles[2] = apir_read_u64(&r);
    if (scene_call(APIR_CMD_STREAM_NEW, &scene_handles[0], 8, &r) == APIR_OK)
        scene_handles[3] = apir_read_u64(&r);
}

/* The next message of the input at *d: cmd, u16 length, payload (patched); false at the end. */
static bool scene_next_msg(const uint8_t **d, const uint8_t *end, uint16_t *cmd, uint8_t *p,
                           size_t *n)
{
    if (end - *d < 3)
        return false;
    *cmd = (*d)[0] % 32;
    size_t len = (size_t)(*d)[1] | (size_t)(*d)[2] << 8;
    *d += 3;
    if (len > (size_t)(end - *d))
        len = (size_t)(end - *d);
    memcpy(p, *d, len);
    *d += len;
    fuzz_handles_patch(p, len, scene_handles);
    *n = len;
    return true;
}

/* RING op: a ring in blob R (attached once), one message through it, a bounded wait. */
static void scene_ring(uint16_t cmd, const uint8_t *p, size_t n, bool *attached)
{
    char *after;
    if (!*attached) {
        uint32_t ref[2] = {BLOB_R, BLOB_R_SIZE};
        if (apir_backend_dispatcher(SCENE_CTX, &cbs, APIR_VIRGL_FWD_RING_ATTACH, (char *)ref,
                                    (char *)(ref + 2), window, window + sizeof window,
                                    &after) != APIR_VIRGL_DISPATCH_OK)
            return;
        *attached = true;
    }
    struct apir_ring ring;
    if (!apir_ring_layout(&ring, scene[1].guest, BLOB_R_SIZE))
        abort();
    size_t len = frame(ring.req, ring.cap, cmd, p, n);
    if (!len)
        return;
    uint32_t seq = atomic_load(&ring.ctrl->req_seq) + 1;
    atomic_store(&ring.ctrl->req_len, (uint32_t)len);
    atomic_store(&ring.ctrl->req_seq, seq);
    apir_backend_dispatcher(SCENE_CTX, &cbs, APIR_VIRGL_FWD_RING_KICK, NULL, NULL, window,
                            window + sizeof window, &after);
    for (int i = 0; i < 2000 && atomic_load(&ring.ctrl->rep_seq) != seq; i++)
        usleep(100);
}

static void scene_run(const uint8_t *d, const uint8_t *end)
{
    static uint8_t p[1 << 16];
    blob_make(&scene[0], BLOB_A_SIZE);
    blob_make(&scene[1], BLOB_R_SIZE);
    if (apir_backend_initialize(SCENE_CTX, &cbs) != 0)
        abort();
    scene_setup();
    bool ring = false;
    uint16_t cmd;
    size_t n;
    struct apir_reader r;
    while (d < end) {
        uint8_t op = *d++ % 8;
        if (op <= 2 && scene_next_msg(&d, end, &cmd, p, &n))
            scene_call(cmd, p, n, &r);
        else if (op == 3)
            blob_destroy(&scene[0], d < end && (*d++ & 1));
        else if (op == 4 && !scene[0].virgl && !scene[0].reused)
            blob_forget(&scene[0]), blob_make(&scene[0], BLOB_A_SIZE);
        else if (op == 5 && scene_next_msg(&d, end, &cmd, p, &n)) {
            uint32_t ref[2] = {BLOB_A, (uint32_t)frame(scene[0].guest, BLOB_A_SIZE, cmd, p, n)};
            char *after;
            apir_backend_dispatcher(SCENE_CTX, &cbs, APIR_VIRGL_FWD_MESSAGE_IN_BLOB, (char *)ref,
                                    (char *)(ref + 2), window, window + sizeof window, &after);
        } else if (op == 6 && scene_next_msg(&d, end, &cmd, p, &n))
            scene_ring(cmd, p, n, &ring);
        else if (op == 7)
            blob_destroy(&scene[1], false);
    }
    apir_backend_deinit(SCENE_CTX);
    /* A stale pointer would have written the reused range: it must be as it was left. */
    for (size_t i = 0; scene[0].reused && i < BLOB_A_SIZE; i++)
        if (((const uint8_t *)scene[0].reused)[i] != 0x5a)
            abort();
    blob_forget(&scene[0]);
    blob_forget(&scene[1]);
}

/* One op carrying a message, as scene_next_msg reads it; its length. */
static size_t seed_msg(uint8_t *out, uint8_t op, uint16_t cmd, const struct apir_writer *w)
{
    size_t len = w->len > 0xffff ? 0xffff : w->len;
    out[0] = op, out[1] = (uint8_t)cmd, out[2] = (uint8_t)len, out[3] = (uint8_t)(len >> 8);
    memcpy(out + 4, w->buf, len);
    return 4 + len;
}

static void seed_write(const char *dir, const char *name, const char *variant, const uint8_t *p,
                       size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/virgl-%s%s", dir, name, variant);
    FILE *f = fopen(path, "wb");
    if (f)
        fwrite(p, 1, n, f), fclose(f);
}

/* Scenario seeds of one valid request: alone, after blob A is destroyed (its range reused),
 * before and after that destroy, by reference in blob A, and through the ring before blob R
 * is destroyed. */
static void write_seed(void *user, const char *name, uint16_t cmd, const struct apir_writer *w)
{
    static uint8_t s[2 * (4 + 0xffff) + 8];
    size_t n;
    s[0] = 0x80;
    n = 1 + seed_msg(s + 1, 0, cmd, w);
    seed_write(user, name, "", s, n);
    s[1] = 3, s[2] = 1;
    n = 3 + seed_msg(s + 3, 0, cmd, w);
    seed_write(user, name, "-after-destroy", s, n);
    n = 1 + seed_msg(s + 1, 0, cmd, w);
    s[n++] = 3, s[n++] = 1;
    n += seed_msg(s + n, 1, cmd, w);
    seed_write(user, name, "-around-destroy", s, n);
    n = 1 + seed_msg(s + 1, 5, cmd, w);
    seed_write(user, name, "-in-blob", s, n);
    n = 1 + seed_msg(s + 1, 6, cmd, w);
    s[n++] = 7;
    n += seed_msg(s + n, 6, cmd, w);
    seed_write(user, name, "-ring", s, n);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    blobs[0] = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    blobs[1] = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    setenv("APIR_HOST_MAX_SESSION_MIB", "64", 0);
    if (blobs[0] == MAP_FAILED || blobs[1] == MAP_FAILED || apir_backend_initialize(1, &cbs)) {
        fprintf(stderr, "fuzz_virgl: cannot initialize\n");
        exit(1);
    }
    const char *dir = getenv("APIR_FUZZ_SEEDS");
    if (dir)
        fuzz_session_seeds(write_seed, (void *)dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] >= 0x80) {
        scene_run(data + 1, data + size);
        return 0;
    }
    /* The payload as virglrenderer hands it: its own copy, padded to 4 bytes. */
    size_t n = (size - 1 + 3) / 4 * 4;
    char *dec = calloc(1, n ? n : 4);
    if (!dec)
        return 0;
    memcpy(dec, data + 1, size - 1);
    char *after;
    /* RING_ATTACH would start a thread polling the blob across inputs: scenarios do it. */
    uint32_t type = data[0] % 5;
    if (type != APIR_VIRGL_FWD_RING_ATTACH)
        apir_backend_dispatcher(1, &cbs, type, dec, dec + n, window, window + sizeof window,
                                &after);
    free(dec);
    return 0;
}
