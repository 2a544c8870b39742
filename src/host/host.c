/* The host process's view of its hardware: which ggml backend is loaded and which devices are
 * served. Process-wide and read-only after creation; sessions only reference it. */
#include "internal.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __APPLE__
#define APIR_HOST_DL_SUFFIX ".dylib"
#else
#define APIR_HOST_DL_SUFFIX ".so"
#endif

/* Never serve ourselves: a host whose GGML_BACKEND_PATH points at the guest plugin would
 * otherwise forward to itself. ggml-rpc devices only when the configuration names them (an
 * rpc_servers endpoint): they reach another machine, which must be the operator's choice. */
static bool apir_host_dev_servable(ggml_backend_dev_t dev, bool explicit_choice)
{
    ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(dev);
    const char *rn = reg ? ggml_backend_reg_name(reg) : "";
    if (!strcmp(rn, "APIR"))
        return false;
    return explicit_choice || strcmp(rn, "RPC") != 0;
}

static bool apir_host_dev_is_rpc(ggml_backend_dev_t dev)
{
    ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(dev);
    return reg && !strcmp(ggml_backend_reg_name(reg), "RPC");
}

static bool apir_host_serves(const struct apir_host *h, ggml_backend_dev_t dev)
{
    for (size_t i = 0; i < h->n_devices; i++)
        if (h->devices[i] == dev)
            return true;
    return false;
}

static void apir_host_add(struct apir_host *h, ggml_backend_dev_t dev, bool explicit_choice)
{
    if (h->n_devices < APIR_HOST_MAX_DEVICES && apir_host_dev_servable(dev, explicit_choice) &&
        !apir_host_serves(h, dev))
        h->devices[h->n_devices++] = dev;
}

/* Default choice: every GPU-like device if there is one, else the CPU. Not the CPU beside a
 * GPU: the guest shows every remote device as a GPU (llama.cpp offloads only to those), so a
 * served host CPU would take layers from the real GPU by default. "all" asks for it. */
static void apir_host_pick_best(struct apir_host *h)
{
    for (size_t i = 0; i < ggml_backend_dev_count(); i++) {
        ggml_backend_dev_t d = ggml_backend_dev_get(i);
        enum ggml_backend_dev_type ty = ggml_backend_dev_type(d);
        if (ty == GGML_BACKEND_DEVICE_TYPE_GPU || ty == GGML_BACKEND_DEVICE_TYPE_IGPU)
            apir_host_add(h, d, false);
    }
    if (h->n_devices)
        return;
    for (size_t i = 0; i < ggml_backend_dev_count(); i++) {
        ggml_backend_dev_t d = ggml_backend_dev_get(i);
        if (ggml_backend_dev_type(d) == GGML_BACKEND_DEVICE_TYPE_CPU) {
            apir_host_add(h, d, false);
            if (h->n_devices)
                return;
        }
    }
}

/* Copies the next comma-separated item of *list into item (trimmed of nothing: names have no
 * spaces); false at the end. An item too long for the buffer is an error the caller sees as a
 * name that matches nothing. */
static bool apir_host_next_item(const char **list, char *item, size_t len)
{
    const char *p = *list;
    if (!p || !*p)
        return false;
    size_t n = strcspn(p, ",");
    snprintf(item, len, "%.*s", (int)n, p);
    *list = p[n] ? p + n + 1 : p + n;
    return true;
}

/* The devices the configuration names, in its order. */
static bool apir_host_pick_named(struct apir_host *h, const char *names, char *err, size_t errlen)
{
    if (!strcmp(names, "all")) {
        for (size_t i = 0; i < ggml_backend_dev_count(); i++)
            apir_host_add(h, ggml_backend_dev_get(i), true);
        return true;
    }
    char name[128];
    while (apir_host_next_item(&names, name, sizeof name)) {
        ggml_backend_dev_t d = ggml_backend_dev_by_name(name);
        if (!d || !apir_host_dev_servable(d, true)) {
            snprintf(err, errlen, "no servable ggml device named %s on this host", name);
            return false;
        }
        if (apir_host_serves(h, d) || h->n_devices == APIR_HOST_MAX_DEVICES) {
            snprintf(err, errlen, "device %s named twice, or more than %u devices", name,
                     APIR_HOST_MAX_DEVICES);
            return false;
        }
        apir_host_add(h, d, true);
    }
    return true;
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

/* Connects each ggml-rpc endpoint through the RPC backend's own entry point and registers the
 * result, as llama.cpp's --rpc does, so its devices (RPC0, RPC1... in endpoint order) can be
 * named. A host configured with one backend library finds ggml-rpc beside it (rpc_dir).
 * ggml-rpc aborts the process on an endpoint it cannot reach: apir-hostd checks them in
 * its start-up probe; in a session the abort ends only that session. */
static bool apir_host_connect_rpc(const char *servers, const char *rpc_dir, char *err,
                                  size_t errlen)
{
    ggml_backend_reg_t rpc = ggml_backend_reg_by_name("RPC");
    if (!rpc && rpc_dir) {
        char path[4200];
        snprintf(path, sizeof path, "%.4096s/libggml-rpc%s", rpc_dir, APIR_HOST_DL_SUFFIX);
        rpc = ggml_backend_load(path);
    }
    ggml_backend_reg_t (*add_server)(const char *) = NULL;
    if (rpc)
        *(void **)&add_server =
            ggml_backend_reg_get_proc_address(rpc, "ggml_backend_rpc_add_server");
    if (!add_server) {
        snprintf(err, errlen, "rpc servers configured but no ggml-rpc backend is loaded");
        return false;
    }
    char ep[256];
    while (apir_host_next_item(&servers, ep, sizeof ep)) {
        ggml_backend_reg_t reg = add_server(ep);
        if (!reg) {
            snprintf(err, errlen, "ggml-rpc server %s offers no device", ep);
            return false;
        }
        bool known = false;
        for (size_t i = 0; i < ggml_backend_reg_count(); i++)
            known |= ggml_backend_reg_get(i) == reg;
        if (!known)
            ggml_backend_register(reg);
    }
    return true;
}

/* The library's devices, else the default choice. */
static void apir_host_pick_default(struct apir_host *h, ggml_backend_reg_t lib)
{
    if (!lib) {
        apir_host_pick_best(h);
        return;
    }
    for (size_t i = 0; i < ggml_backend_reg_dev_count(lib); i++)
        apir_host_add(h, ggml_backend_reg_dev_get(lib, i), false);
}

/* Every device of the configured rpc servers is served, after the others unless named among
 * them: --rpc is itself the operator's choice to share that machine. */
static void apir_host_pick_rpc(struct apir_host *h)
{
    for (size_t i = 0; i < ggml_backend_dev_count(); i++)
        if (apir_host_dev_is_rpc(ggml_backend_dev_get(i)))
            apir_host_add(h, ggml_backend_dev_get(i), true);
}

/* Where ggml-rpc may be found when ggml's loader did not discover it: the backend directory,
 * or the directory of the configured backend library. NULL: nowhere known. */
static const char *apir_host_rpc_dir(const struct apir_host_config *cfg, char *dir, size_t len)
{
    const char *slash = cfg->backend_lib ? strrchr(cfg->backend_lib, '/') : NULL;
    if (cfg->backend_dir)
        snprintf(dir, len, "%s", cfg->backend_dir);
    else if (slash)
        snprintf(dir, len, "%.*s", (int)(slash - cfg->backend_lib), cfg->backend_lib);
    else
        return NULL;
    return dir;
}

static bool apir_host_load(struct apir_host *h, const struct apir_host_config *cfg, char *err,
                           size_t errlen)
{
    ggml_backend_reg_t lib = NULL;
    if (cfg->backend_lib) {
        lib = apir_host_load_lib(cfg);
        if (!lib) {
            snprintf(err, errlen, "cannot load ggml backend library %s", cfg->backend_lib);
            return false;
        }
    } else if (ggml_backend_dev_count() == 0) {
        if (cfg->backend_dir)
            ggml_backend_load_all_from_path(cfg->backend_dir);
        else
            ggml_backend_load_all();
    }
    if (cfg->rpc_servers && *cfg->rpc_servers) {
        char dir[4096];
        if (!apir_host_connect_rpc(cfg->rpc_servers, apir_host_rpc_dir(cfg, dir, sizeof dir), err,
                                   errlen))
            return false;
    }
    if (cfg->device_name && *cfg->device_name) {
        if (!apir_host_pick_named(h, cfg->device_name, err, errlen))
            return false;
    } else {
        apir_host_pick_default(h, lib);
    }
    apir_host_pick_rpc(h);
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
    for (size_t i = 0; i < h->n_devices; i++) {
        h->planners[i] = apir_workbuf_planner(h->devices[i]);
        h->n_extra_bufts[i] =
            apir_extrabuf_discover(h->devices[i], h->extra_bufts[i], APIR_MAX_EXTRA_BUFTS);
        if (apir_host_dev_is_rpc(h->devices[i]))
            h->rpc_keep[i] = ggml_backend_dev_init(h->devices[i], NULL);
    }
    return h;
}

void apir_host_destroy(struct apir_host *host)
{
    for (size_t i = 0; i < host->n_devices; i++)
        if (host->rpc_keep[i])
            ggml_backend_free(host->rpc_keep[i]);
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

uint64_t apir_host_session_quota(const struct apir_host *host)
{
    return host->max_session_bytes;
}

/* The CPU needs nothing beyond memory and threads; ggml-rpc's devices reach their server over
 * TCP; anything else (CUDA, Vulkan, Metal...) goes through a driver. */
unsigned apir_host_needs(const struct apir_host *host)
{
    unsigned needs = 0;
    for (size_t i = 0; i < host->n_devices; i++) {
        ggml_backend_dev_t d = host->devices[i];
        ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(d);
        if (reg && !strcmp(ggml_backend_reg_name(reg), "RPC"))
            needs |= APIR_HOST_NEEDS_NETWORK;
        else if (ggml_backend_dev_type(d) != GGML_BACKEND_DEVICE_TYPE_CPU)
            needs |= APIR_HOST_NEEDS_DRIVER;
    }
    return needs;
}
