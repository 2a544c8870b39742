/* The second front door: virglrenderer's APIR context loads libapir-host.so and calls these
 * three entry points (src/proto/virgl_abi.h). One session per virgl context; ggml-apir
 * messages arrive inside Forward and their replies are written straight into the reply blob
 * the guest named; shared regions are blob resources resolved with get_shmem_ptr.
 *
 * Configuration comes from virglrenderer's get_config, read once at initialize (that call
 * allocates and logs on every use in the pinned virglrenderer), with an environment variable
 * of the same meaning as fallback (docs/deploy.md lists them). */
#include "../platform/platform.h"
#include "../proto/virgl_abi.h"
#include "internal.h"
#include "virgl_ring.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct apir_virgl_ctx {
    uint32_t ctx_id;
    struct apir_virgl_callbacks cbs;
    struct apir_session *session;
    uint8_t *copy; /* MESSAGE_IN_BLOB: the message, copied out of guest-writable memory */
    size_t copy_cap;
    pthread_mutex_t lock;         /* the session: the dispatcher and the ring thread */
    struct apir_virgl_ring *ring; /* RING_ATTACH */
    void *ring_hold;              /* our own mapping of the ring's blob (see region_map) */
    uint64_t ring_size;
};

/* Contexts of this process. With virglrenderer's render server each context has a process of
 * its own; in-process virglrenderer may hold several, served one call at a time each. */
static pthread_mutex_t apir_virgl_lock = PTHREAD_MUTEX_INITIALIZER;
static struct apir_virgl_ctx **apir_virgl_ctxs;
static size_t apir_virgl_n;
/* ggml's backend registry is process-wide: one host for every context of the process. */
static struct apir_host *apir_virgl_host;

static struct apir_virgl_ctx *apir_virgl_find(uint32_t ctx_id)
{
    for (size_t i = 0; i < apir_virgl_n; i++)
        if (apir_virgl_ctxs[i]->ctx_id == ctx_id)
            return apir_virgl_ctxs[i];
    return NULL;
}

/* A config value: virglrenderer's key first, then the environment. */
static const char *apir_virgl_config(struct apir_virgl_callbacks *cbs, uint32_t ctx_id,
                                     const char *key, const char *env)
{
    const char *v = cbs && cbs->get_config ? cbs->get_config(ctx_id, key) : NULL;
    if (!v || !*v)
        v = getenv(env);
    return v && *v ? v : NULL;
}

static uint64_t apir_virgl_config_u64(struct apir_virgl_callbacks *cbs, uint32_t ctx_id,
                                      const char *key, const char *env)
{
    const char *v = apir_virgl_config(cbs, ctx_id, key, env);
    return v ? strtoull(v, NULL, 10) : 0;
}

/* virglrenderer dlcloses this library when its context ends, while ggml's backends (and their
 * OpenMP threads) stay loaded: pin ourselves so our code and ggml are never unmapped under
 * them. */
static void apir_virgl_pin_library(void)
{
    Dl_info info;
    if (dladdr((void *)apir_virgl_pin_library, &info) && info.dli_fname)
        dlopen(info.dli_fname, RTLD_NOW | RTLD_NODELETE);
}

/* The compute watchdog (src/host/watchdog.c): a request running past ggml-apir.watchdog_s
 * seconds (default 300, under the guest's own 600 s call timeout; 0: none) ends this
 * process, the context's render worker. */
static bool apir_virgl_watchdog_start(struct apir_virgl_callbacks *cbs, uint32_t ctx_id)
{
    const char *v = apir_virgl_config(cbs, ctx_id, "ggml-apir.watchdog_s", "APIR_HOST_WATCHDOG_S");
    unsigned long s = v ? strtoul(v, NULL, 10) : 300;
    return apir_host_watchdog_start(s > 86400 ? 86400u : (unsigned)s,
                                    "ggml-apir.watchdog_s or APIR_HOST_WATCHDOG_S");
}

static struct apir_host *apir_virgl_host_get(struct apir_virgl_callbacks *cbs, uint32_t ctx_id)
{
    if (apir_virgl_host)
        return apir_virgl_host;
    /* A guest can make a kernel assert fire (docs/security.md), and ggml-rpc aborts on a lost
     * server: that must end this context's worker at once, not attach a debugger to it to
     * print a backtrace (apir-hostd does the same). Unless the operator asked for them. */
    setenv("GGML_NO_BACKTRACE", "1", 0);
    struct apir_host_config cfg = {
        .backend_lib =
            apir_virgl_config(cbs, ctx_id, "ggml.library.path", "APIR_LLAMA_CPP_GGML_LIBRARY_PATH"),
        .backend_reg =
            apir_virgl_config(cbs, ctx_id, "ggml.library.reg", "APIR_LLAMA_CPP_GGML_LIBRARY_REG"),
        .device_name = apir_virgl_config(cbs, ctx_id, "ggml-apir.device", "APIR_HOST_DEVICE"),
        .rpc_servers = apir_virgl_config(cbs, ctx_id, "ggml-apir.rpc", "APIR_HOST_RPC"),
        .backend_dir =
            apir_virgl_config(cbs, ctx_id, "ggml-apir.backend_dir", "APIR_HOST_BACKEND_DIR"),
        .max_session_bytes = apir_virgl_config_u64(cbs, ctx_id, "ggml-apir.max_session_mib",
                                                   "APIR_HOST_MAX_SESSION_MIB")
                             << 20,
        .max_session_objects = (uint32_t)apir_virgl_config_u64(cbs, ctx_id, "ggml-apir.max_objects",
                                                               "APIR_HOST_MAX_OBJECTS"),
    };
    char err[256], who[48];
    snprintf(who, sizeof who, "apir-host: virgl ctx %u", ctx_id);
    apir_virgl_host = apir_host_create(&cfg, err, sizeof err);
    if (!apir_virgl_host)
        apir_log_host(APIR_LOG_ERROR, who, "%s", err);
    else if (!apir_virgl_watchdog_start(cbs, ctx_id)) {
        apir_log_host(APIR_LOG_ERROR, who, "no compute watchdog thread");
        apir_host_destroy(apir_virgl_host);
        apir_virgl_host = NULL;
    }
    return apir_virgl_host;
}

/* Our own mapping of blob id, size bytes of it. virglrenderer gives a pointer but no size, so
 * the mapping itself is asked: a guest naming a small blob with a large size is refused.
 * Nor does it tell us when the guest destroys the blob: it munmaps it then, and the host's
 * next allocation may land in the range. So nothing here keeps virglrenderer's pointer past
 * the call: regions and the ring live in a mapping of the same pages that we hold ourselves
 * (platform.h), released at REGION_DETACH, ring stop or context end. A destroyed blob's
 * memory thus stays until then, charged to the session as before. */
static void *apir_virgl_blob_hold(struct apir_virgl_ctx *c, uint32_t id, uint64_t size)
{
    volatile uint32_t *p = c->cbs.get_shmem_ptr ? c->cbs.get_shmem_ptr(c->ctx_id, id) : NULL;
    return p ? apir_platform_mapping_hold((const void *)p, size) : NULL;
}

static void *apir_virgl_region_map(void *user, uint32_t id, uint64_t size)
{
    return apir_virgl_blob_hold(user, id, size);
}

static void apir_virgl_region_unmap(void *user, uint32_t id, void *ptr, uint64_t size)
{
    (void)user, (void)id;
    apir_platform_mapping_release(ptr, size);
}

static bool apir_virgl_add(struct apir_virgl_ctx *c)
{
    struct apir_virgl_ctx **grown =
        realloc(apir_virgl_ctxs, (apir_virgl_n + 1) * sizeof *apir_virgl_ctxs);
    if (!grown)
        return false;
    apir_virgl_ctxs = grown;
    apir_virgl_ctxs[apir_virgl_n++] = c;
    return true;
}

uint32_t apir_backend_initialize(uint32_t ctx_id, struct apir_virgl_callbacks *cbs)
{
    pthread_mutex_lock(&apir_virgl_lock);
    apir_virgl_pin_library();
    uint32_t ret = 0;
    struct apir_host *host = apir_virgl_find(ctx_id) ? NULL : apir_virgl_host_get(cbs, ctx_id);
    struct apir_virgl_ctx *c = host ? calloc(1, sizeof *c) : NULL;
    if (!host)
        ret = 1; /* LoadLibrary answers APIR_VIRGL_LOAD_INIT_BASE + 1 */
    else if (!c || !cbs || !(c->session = apir_session_create(host)) || !apir_virgl_add(c))
        ret = 2;
    if (ret == 0) {
        pthread_mutex_init(&c->lock, NULL);
        c->ctx_id = ctx_id;
        c->cbs = *cbs;
        struct apir_region_ops ops = {apir_virgl_region_map, apir_virgl_region_unmap, c};
        apir_session_set_region_ops(c->session, &ops);
        char label[48];
        snprintf(label, sizeof label, "apir-host: virgl ctx %u", ctx_id);
        apir_session_set_label(c->session, label);
        apir_log_host(APIR_LOG_INFO, label, "session started (%zu device(s))",
                      apir_host_device_count(host));
    } else if (c) {
        if (c->session)
            apir_session_destroy(c->session);
        free(c);
    }
    pthread_mutex_unlock(&apir_virgl_lock);
    return ret;
}

void apir_backend_deinit(uint32_t ctx_id)
{
    pthread_mutex_lock(&apir_virgl_lock);
    for (size_t i = 0; i < apir_virgl_n; i++) {
        struct apir_virgl_ctx *c = apir_virgl_ctxs[i];
        if (c->ctx_id != ctx_id)
            continue;
        apir_virgl_ctxs[i] = apir_virgl_ctxs[--apir_virgl_n];
        if (c->ring)
            apir_virgl_ring_stop(c->ring);
        apir_platform_mapping_release(c->ring_hold, c->ring_size);
        apir_log_host(APIR_LOG_INFO, c->session->label, "session ended");
        apir_session_destroy(c->session);
        pthread_mutex_destroy(&c->lock);
        free(c->copy);
        free(c);
        break;
    }
    pthread_mutex_unlock(&apir_virgl_lock);
}

/* One framed request in [dec, dec_end) (virglrenderer pads it to 4 bytes), its reply framed
 * into [enc, enc_end). Returns enum apir_virgl_dispatch; *used: reply bytes written. */
static uint32_t apir_virgl_forward(struct apir_virgl_ctx *c, const uint8_t *dec, size_t avail,
                                   uint8_t *enc, size_t window, size_t *used)
{
    struct apir_req_hdr h;
    if (window < APIR_HDR_SIZE)
        return APIR_VIRGL_DISPATCH_NO_WINDOW;
    if (avail < APIR_HDR_SIZE || !apir_req_hdr_decode(dec, &h) || h.len > avail - APIR_HDR_SIZE ||
        avail - APIR_HDR_SIZE - h.len > 3)
        return APIR_VIRGL_DISPATCH_BAD_FRAME;
    size_t rlen = 0;
    pthread_mutex_lock(&c->lock);
    int st = apir_session_execute(c->session, h.cmd, dec + APIR_HDR_SIZE, h.len,
                                  enc + APIR_HDR_SIZE, window - APIR_HDR_SIZE, &rlen);
    pthread_mutex_unlock(&c->lock);
    struct apir_rep_hdr rh = {APIR_MAGIC_REP, st, h.seq, (uint32_t)rlen};
    apir_rep_hdr_encode(enc, &rh);
    *used = APIR_HDR_SIZE + rlen;
    return APIR_VIRGL_DISPATCH_OK;
}

/* MESSAGE_IN_BLOB: {res_id, len} names a message at the start of a blob. The guest can write
 * the blob at any moment, so the message is copied out first; the blob must really hold len
 * bytes (virglrenderer gives a pointer, the mapping gives the size). */
static uint32_t apir_virgl_forward_blob(struct apir_virgl_ctx *c, const uint8_t *dec, size_t avail,
                                        uint8_t *enc, size_t window, size_t *used)
{
    uint32_t ref[2];
    if (avail != sizeof ref)
        return APIR_VIRGL_DISPATCH_BAD_FRAME;
    memcpy(ref, dec, sizeof ref);
    uint32_t len = ref[1];
    if (len < APIR_HDR_SIZE || len > APIR_HDR_SIZE + APIR_MAX_PAYLOAD)
        return APIR_VIRGL_DISPATCH_BAD_FRAME;
    volatile uint32_t *p = c->cbs.get_shmem_ptr ? c->cbs.get_shmem_ptr(c->ctx_id, ref[0]) : NULL;
    if (!p || !apir_platform_mapping_covers((const void *)p, len))
        return APIR_VIRGL_DISPATCH_BAD_BLOB;
    if (c->copy_cap < len) {
        uint8_t *grown = realloc(c->copy, len);
        if (!grown)
            return APIR_VIRGL_DISPATCH_NO_MEMORY;
        c->copy = grown;
        c->copy_cap = len;
    }
    memcpy(c->copy, (const void *)p, len);
    return apir_virgl_forward(c, c->copy, len, enc, window, used);
}

/* RING_ATTACH {res_id, size}: a ring in a blob whose mapping really is that large, served
 * through our own hold of it (the thread outlives any one call). */
static uint32_t apir_virgl_ring_attach(struct apir_virgl_ctx *c, const uint8_t *dec, size_t avail)
{
    uint32_t ref[2];
    if (avail != sizeof ref)
        return APIR_VIRGL_DISPATCH_BAD_FRAME;
    memcpy(ref, dec, sizeof ref);
    if (c->ring)
        return APIR_VIRGL_DISPATCH_NO_RING;
    void *hold = apir_virgl_blob_hold(c, ref[0], ref[1]);
    if (!hold)
        return APIR_VIRGL_DISPATCH_BAD_BLOB;
    c->ring = apir_virgl_ring_start(c->session, &c->lock, hold, ref[1]);
    if (!c->ring) {
        apir_platform_mapping_release(hold, ref[1]);
        return APIR_VIRGL_DISPATCH_NO_RING;
    }
    c->ring_hold = hold;
    c->ring_size = ref[1];
    return APIR_VIRGL_DISPATCH_OK;
}

uint32_t apir_backend_dispatcher(uint32_t ctx_id, struct apir_virgl_callbacks *cbs,
                                 uint32_t cmd_type, char *dec_cur, const char *dec_end,
                                 char *enc_cur, const char *enc_end, char **enc_cur_after)
{
    (void)cbs; /* the ones given at initialize are kept */
    if (enc_cur_after)
        *enc_cur_after = enc_cur;
    if (!dec_cur || !dec_end || !enc_cur || !enc_end || !enc_cur_after || dec_end < dec_cur ||
        enc_end < enc_cur)
        return APIR_VIRGL_DISPATCH_BAD_FRAME;
    pthread_mutex_lock(&apir_virgl_lock);
    struct apir_virgl_ctx *c = apir_virgl_find(ctx_id);
    pthread_mutex_unlock(&apir_virgl_lock);
    if (!c)
        return APIR_VIRGL_DISPATCH_NO_SESSION;
    size_t used = 0, avail = (size_t)(dec_end - dec_cur), window = (size_t)(enc_end - enc_cur);
    uint32_t r;
    if (cmd_type == APIR_VIRGL_FWD_MESSAGE)
        r = apir_virgl_forward(c, (const uint8_t *)dec_cur, avail, (uint8_t *)enc_cur, window,
                               &used);
    else if (cmd_type == APIR_VIRGL_FWD_MESSAGE_IN_BLOB)
        r = apir_virgl_forward_blob(c, (const uint8_t *)dec_cur, avail, (uint8_t *)enc_cur, window,
                                    &used);
    else if (cmd_type == APIR_VIRGL_FWD_RING_ATTACH)
        r = apir_virgl_ring_attach(c, (const uint8_t *)dec_cur, avail);
    else if (cmd_type == APIR_VIRGL_FWD_RING_KICK && c->ring)
        apir_virgl_ring_kick(c->ring), r = APIR_VIRGL_DISPATCH_OK;
    else
        r = APIR_VIRGL_DISPATCH_BAD_TYPE;
    *enc_cur_after = enc_cur + used;
    return r;
}
