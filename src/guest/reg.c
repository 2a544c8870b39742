/* The APIR backend registry: connects once, asks the host for its devices, and is the
 * plugin's entry point (ggml_backend_init / ggml_backend_score). */
#include "ggml-apir.h"
#include "guest.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct apir_reg_ctx {
    struct apir_conn *conn;
    struct apir_conn_report report; /* the connection attempt, for apir-info */
    struct apir_device devices[APIR_MAX_DEVICES];
    size_t n_devices;
};

static struct apir_reg_ctx apir_reg_state;

static const char *apir_reg_get_name(ggml_backend_reg_t reg)
{
    (void)reg;
    return "APIR";
}

static size_t apir_reg_get_device_count(ggml_backend_reg_t reg)
{
    return ((struct apir_reg_ctx *)reg->context)->n_devices;
}

static ggml_backend_dev_t apir_reg_get_device(ggml_backend_reg_t reg, size_t index)
{
    struct apir_reg_ctx *ctx = reg->context;
    return index < ctx->n_devices ? &ctx->devices[index].gdev : NULL;
}

static bool apir_reg_get_info(struct ggml_backend_apir_info *out)
{
    if (!out || out->version < 1 || out->version > GGML_BACKEND_APIR_INFO_VERSION)
        return false;
    const struct apir_reg_ctx *ctx = &apir_reg_state;
    const struct apir_conn *conn = ctx->conn;
    /* Filled whole here, then handed out in the caller's layout: a version 1 caller's struct
     * ends before capset. */
    struct ggml_backend_apir_info info = {
        .version = out->version,
        .connected = conn != NULL,
        .plugin_major = APIR_PROTO_MAJOR,
        .plugin_minor = APIR_PROTO_MINOR,
    };
    _Static_assert(sizeof info.transport == sizeof ctx->report.transport &&
                       sizeof info.endpoint == sizeof ctx->report.endpoint &&
                       sizeof info.error == sizeof ctx->report.error,
                   "the public info and the report hold the same strings");
    memcpy(info.transport, ctx->report.transport, sizeof info.transport);
    memcpy(info.endpoint, ctx->report.endpoint, sizeof info.endpoint);
    memcpy(info.error, ctx->report.error, sizeof info.error);
    if (conn) {
        info.host_major = conn->host_major;
        info.host_minor = conn->host_minor_seen;
        info.features_asked = conn->wanted_features;
        info.features = conn->features;
        info.host_devices = conn->n_devices;
        info.ring = conn->tp->ring_on;
        info.capset = conn->tp->capset;
    }
    memcpy(out, &info,
           info.version == 1 ? offsetof(struct ggml_backend_apir_info, capset) : sizeof info);
    return true;
}

static bool apir_reg_get_device_info(ggml_backend_dev_t dev,
                                     struct ggml_backend_apir_device_info *info)
{
    const struct apir_reg_ctx *ctx = &apir_reg_state;
    const struct apir_device *d = NULL;
    for (size_t i = 0; i < ctx->n_devices; i++)
        if (dev == &ctx->devices[i].gdev)
            d = &ctx->devices[i];
    if (!d || !info || info->version < 1 || info->version > GGML_BACKEND_APIR_INFO_VERSION)
        return false;
    static const char *const types[] = {[APIR_DEV_TYPE_CPU] = "cpu",
                                        [APIR_DEV_TYPE_GPU] = "gpu",
                                        [APIR_DEV_TYPE_IGPU] = "igpu",
                                        [APIR_DEV_TYPE_ACCEL] = "accel"};
    *info = (struct ggml_backend_apir_device_info){
        .version = info->version,
        .shared = apir_conn_shares(d->conn, d->caps),
    };
    _Static_assert(sizeof info->host_name == sizeof d->host_name &&
                       sizeof info->host_description == sizeof d->host_desc &&
                       sizeof info->host_buffer_type == sizeof d->host_buft_name,
                   "the public device info holds the host's strings whole");
    memcpy(info->host_name, d->host_name, sizeof info->host_name);
    memcpy(info->host_description, d->host_desc, sizeof info->host_description);
    memcpy(info->host_buffer_type, d->host_buft_name, sizeof info->host_buffer_type);
    snprintf(info->host_type, sizeof info->host_type, "%s",
             d->type < sizeof types / sizeof types[0] ? types[d->type] : "unknown");
    return true;
}

/* ggml_backend_dev_get_extra_bufts: NULL-terminated, empty for a device not of this plugin. */
static ggml_backend_buffer_type_t *apir_reg_get_extra_bufts(ggml_backend_dev_t dev)
{
    static ggml_backend_buffer_type_t none[1] = {NULL};
    struct apir_reg_ctx *ctx = &apir_reg_state;
    for (size_t i = 0; i < ctx->n_devices; i++)
        if (dev == &ctx->devices[i].gdev)
            return ctx->devices[i].extra_list;
    return none;
}

static void *apir_reg_get_proc_address(ggml_backend_reg_t reg, const char *name)
{
    (void)reg;
    if (strcmp(name, "ggml_backend_dev_get_extra_bufts") == 0)
        return (void *)apir_reg_get_extra_bufts;
    if (strcmp(name, "ggml_backend_set_n_threads") == 0)
        return (void *)apir_backend_set_n_threads;
    if (strcmp(name, GGML_BACKEND_APIR_GET_INFO) == 0)
        return (void *)apir_reg_get_info;
    if (strcmp(name, GGML_BACKEND_APIR_GET_DEVICE_INFO) == 0)
        return (void *)apir_reg_get_device_info;
    return NULL;
}

/* The interface written in place: a const struct object is not a constant expression in C11
 * (gcc accepts one as an extension, clang refuses it). */
static struct ggml_backend_reg apir_reg = {
    .api_version = GGML_BACKEND_API_VERSION,
    .iface =
        {
            .get_name = apir_reg_get_name,
            .get_device_count = apir_reg_get_device_count,
            .get_device = apir_reg_get_device,
            .get_proc_address = apir_reg_get_proc_address,
        },
    .context = &apir_reg_state,
};

static bool apir_reg_fetch_device(struct apir_conn *conn, uint32_t index, struct apir_device *d)
{
    struct apir_call c;
    struct apir_req_device_info req = {.index = index};
    apir_req_device_info_put(apir_call_begin(&c, conn, APIR_CMD_DEVICE_INFO), &req);
    struct apir_rep_device_info_in rep; /* memory is asked fresh by get_memory */
    bool ok = APIR_CALL_END_REPLY(&c, device_info, &rep) && rep.alignment &&
              (rep.alignment & (rep.alignment - 1)) == 0;
    apir_call_done(&c);
    d->conn = conn;
    d->dev_h = rep.dev;
    d->buft_h = rep.buft;
    d->type = rep.type;
    d->caps = rep.caps;
    d->alignment = rep.alignment;
    d->max_size = rep.max_size;
    d->buft_flags = rep.buft_flags;
    snprintf(d->host_name, sizeof d->host_name, "%.*s", (int)sizeof d->host_name - 1, rep.name);
    snprintf(d->host_desc, sizeof d->host_desc, "%.*s", (int)sizeof d->host_desc - 1, rep.desc);
    snprintf(d->host_buft_name, sizeof d->host_buft_name, "%.*s", (int)sizeof d->host_buft_name - 1,
             rep.buft_name);
    snprintf(d->name, sizeof d->name, "APIR%u", index);
    snprintf(d->desc, sizeof d->desc, "%s (%s) via ggml-apir", d->host_name, d->host_desc);
    snprintf(d->buft_name, sizeof d->buft_name, "APIR%u", index);
    return ok;
}

static void apir_reg_print_stats(void)
{
    apir_conn_print_stats(apir_reg_state.conn);
}

static void apir_reg_init_once(void)
{
    struct apir_reg_ctx *ctx = &apir_reg_state;
    ctx->conn = apir_conn_open(&ctx->report);
    if (!ctx->conn) {
        apir_log_emit(APIR_LOG_ERROR, "no APIR devices: %s", ctx->report.error);
        return;
    }
    if (ctx->conn->stats)
        atexit(apir_reg_print_stats);
    uint32_t n = ctx->conn->n_devices < APIR_MAX_DEVICES ? ctx->conn->n_devices : APIR_MAX_DEVICES;
    for (uint32_t i = 0; i < n; i++) {
        struct apir_device *d = &ctx->devices[ctx->n_devices];
        if (!apir_reg_fetch_device(ctx->conn, i, d))
            break;
        apir_device_setup(d, &apir_reg);
        apir_extrabuf_fetch(d);
        ctx->n_devices++;
        apir_log_emit(APIR_LOG_DEBUG, "%s: %s, alignment %llu, max size %llu", d->name, d->desc,
                      (unsigned long long)d->alignment, (unsigned long long)d->max_size);
    }
    if (ctx->n_devices == 0)
        apir_log_emit(APIR_LOG_ERROR, "no APIR devices: the host at %s serves none",
                      ctx->conn->tp->desc);
}

ggml_backend_reg_t ggml_backend_apir_reg(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, apir_reg_init_once);
    return &apir_reg;
}

/* Loadable even with no host: the registry then simply has no devices. */
static int apir_backend_score(void)
{
    return 1;
}

GGML_BACKEND_DL_IMPL(ggml_backend_apir_reg)
GGML_BACKEND_DL_SCORE_IMPL(apir_backend_score)
