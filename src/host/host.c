/* The host process's view of its hardware: which ggml backend is loaded and which devices are
 * served. Process-wide and read-only after creation; sessions only reference it. */
#include "internal.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Never serve ourselves: a host whose GGML_BACKEND_PATH points at the guest plugin would
 * otherwise forward to itself. */
static bool apir_host_dev_servable(ggml_backend_dev_t dev)
{
    ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(dev);
    const char *rn = reg ? ggml_backend_reg_name(reg) : "";
    return strcmp(rn, "APIR") != 0 && strcmp(rn, "RPC") != 0;
}

static void apir_host_add(struct apir_host *h, ggml_backend_dev_t dev)
{
    if (h->n_devices < APIR_HOST_MAX_DEVICES && apir_host_dev_servable(dev))
        h->devices[h->n_devices++] = dev;
}

/* Default choice: every GPU-like device if there is one, else the CPU. */
static void apir_host_pick_best(struct apir_host *h)
{
    for (size_t i = 0; i < ggml_backend_dev_count(); i++) {
        ggml_backend_dev_t d = ggml_backend_dev_get(i);
        enum ggml_backend_dev_type ty = ggml_backend_dev_type(d);
        if (ty == GGML_BACKEND_DEVICE_TYPE_GPU || ty == GGML_BACKEND_DEVICE_TYPE_IGPU)
            apir_host_add(h, d);
    }
    if (h->n_devices)
        return;
    for (size_t i = 0; i < ggml_backend_dev_count(); i++) {
        ggml_backend_dev_t d = ggml_backend_dev_get(i);
        if (ggml_backend_dev_type(d) == GGML_BACKEND_DEVICE_TYPE_CPU) {
            apir_host_add(h, d);
            if (h->n_devices)
                return;
        }
    }
}

/* A backend library: a dynamic ggml backend (GGML_BACKEND_DL) through ggml's loader, or a
 * plain library whose registration function is named (virglrenderer's ggml.library.reg). The
 * library stays loaded for the life of the process, as ggml's own loader keeps its. */
static ggml_backend_reg_t apir_host_load_lib(const struct apir_host_config *cfg)
{
    if (!cfg->backend_reg)
        return ggml_backend_load(cfg->backend_lib);
    void *lib = dlopen(cfg->backend_lib, RTLD_NOW | RTLD_LOCAL);
    ggml_backend_reg_t (*reg_fn)(void) = NULL;
    if (lib)
        *(void **)&reg_fn = dlsym(lib, cfg->backend_reg);
    ggml_backend_reg_t reg = reg_fn ? reg_fn() : NULL;
    if (reg)
        ggml_backend_register(reg);
    return reg;
}

static bool apir_host_load(struct apir_host *h, const struct apir_host_config *cfg, char *err,
                           size_t errlen)
{
    if (cfg->backend_lib) {
        ggml_backend_reg_t reg = apir_host_load_lib(cfg);
        if (!reg) {
            snprintf(err, errlen, "cannot load ggml backend library %s", cfg->backend_lib);
            return false;
        }
        for (size_t i = 0; i < ggml_backend_reg_dev_count(reg); i++)
            apir_host_add(h, ggml_backend_reg_dev_get(reg, i));
        return true;
    }
    if (ggml_backend_dev_count() == 0) {
        if (cfg->backend_dir)
            ggml_backend_load_all_from_path(cfg->backend_dir);
        else
            ggml_backend_load_all();
    }
    if (cfg->device_name) {
        ggml_backend_dev_t d = ggml_backend_dev_by_name(cfg->device_name);
        if (!d) {
            snprintf(err, errlen, "no ggml device named %s on this host", cfg->device_name);
            return false;
        }
        apir_host_add(h, d);
        return true;
    }
    apir_host_pick_best(h);
    return true;
}

/* Without a configured quota a session may hold at most what its devices hold in total: a
 * guest asking for more could never use it, and lazily committed host memory would otherwise
 * let it reserve many times the machine's RAM. */
static uint64_t apir_host_default_quota(const struct apir_host *h)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < h->n_devices; i++) {
        size_t free_b = 0, total = 0;
        ggml_backend_dev_memory(h->devices[i], &free_b, &total);
        sum += total;
    }
    return sum ? sum : UINT64_MAX;
}

struct apir_host *apir_host_create(const struct apir_host_config *cfg, char *err, size_t errlen)
{
    struct apir_host *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->max_session_bytes = cfg->max_session_bytes;
    h->max_session_objects = cfg->max_session_objects;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    h->max_threads = cores > 0 ? (uint32_t)cores : 1;
    if (!apir_host_load(h, cfg, err, errlen)) {
        free(h);
        return NULL;
    }
    if (h->n_devices == 0) {
        snprintf(err, errlen, "no servable ggml device found (is a ggml backend installed?)");
        free(h);
        return NULL;
    }
    if (h->max_session_bytes == 0)
        h->max_session_bytes = apir_host_default_quota(h);
    return h;
}

void apir_host_destroy(struct apir_host *host)
{
    free(host);
}

size_t apir_host_device_count(const struct apir_host *host)
{
    return host->n_devices;
}

const char *apir_host_device_name(const struct apir_host *host, size_t i)
{
    return i < host->n_devices ? ggml_backend_dev_name(host->devices[i]) : NULL;
}
