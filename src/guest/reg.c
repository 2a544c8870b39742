/* The APIR backend registry: connects once, asks the host for its devices, and is the
 * plugin's entry point (ggml_backend_init / ggml_backend_score). */
#include "ggml-apir.h"
#include "guest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct apir_reg_ctx {
    struct apir_conn *conn;
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

static void *apir_reg_get_proc_address(ggml_backend_reg_t reg, const char *name)
{
    (void)reg;
    if (strcmp(name, "ggml_backend_set_n_threads") == 0)
        return (void *)apir_backend_set_n_threads;
    return NULL;
}

static const struct ggml_backend_reg_i apir_reg_iface = {
    .get_name = apir_reg_get_name,
    .get_device_count = apir_reg_get_device_count,
    .get_device = apir_reg_get_device,
    .get_proc_address = apir_reg_get_proc_address,
};

static struct ggml_backend_reg apir_reg = {
    .api_version = GGML_BACKEND_API_VERSION,
    .iface = apir_reg_iface,
    .context = &apir_reg_state,
};

static bool apir_reg_fetch_device(struct apir_conn *conn, uint32_t index, struct apir_device *d)
{
    char host_name[APIR_MAX_NAME], host_desc[256];
    struct apir_call c;
    apir_write_u32(apir_call_begin(&c, conn, APIR_CMD_DEVICE_INFO), index);
    int st = apir_call_end(&c);
    d->conn = conn;
    d->dev_h = apir_read_u64(&c.r);
    d->buft_h = apir_read_u64(&c.r);
    apir_read_str(&c.r, host_name, sizeof host_name);
    apir_read_str(&c.r, host_desc, sizeof host_desc);
    d->type = apir_read_u32(&c.r);
    apir_read_u64(&c.r); /* memory is asked fresh by get_memory */
    apir_read_u64(&c.r);
    d->caps = apir_read_u32(&c.r);
    char buft_name[APIR_MAX_NAME];
    apir_read_str(&c.r, buft_name, sizeof buft_name);
    d->alignment = apir_read_u64(&c.r);
    d->max_size = apir_read_u64(&c.r);
    d->buft_flags = apir_read_u32(&c.r);
    bool ok = st == APIR_OK && apir_reader_done(&c.r) && d->alignment &&
              (d->alignment & (d->alignment - 1)) == 0;
    apir_call_done(&c);
    snprintf(d->name, sizeof d->name, "APIR%u", index);
    snprintf(d->desc, sizeof d->desc, "%s (%s) via ggml-apir", host_name, host_desc);
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
    char why[256] = "";
    ctx->conn = apir_conn_open(why, sizeof why);
    if (!ctx->conn) {
        apir_log("no APIR devices: %s", why);
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
        ctx->n_devices++;
    }
    if (ctx->n_devices == 0)
        apir_log("no APIR devices: the host at %s serves none", ctx->conn->tp->desc);
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
