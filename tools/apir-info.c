/* apir-info: what a guest sees of its APIR host. It loads the real guest plugin the way an
 * application does (ggml_backend_load), so the transport is chosen, connected and diagnosed
 * by the plugin's own code: what apir-info says is what llama.cpp would get. Connection facts
 * come from the plugin's ggml_backend_apir_get_info (include/ggml-apir.h); devices from the
 * ggml device API of its registry.
 *
 * Exit status: 0 connected with at least one device; 1 nothing usable (one diagnosis line on
 * stderr); 2 usage error, or the plugin could not be loaded. */
#include "apir/protocol.h"
#include "ggml-apir.h"
#include "proto/msg.h"

#include <ggml-backend.h>
#include <ggml.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define APIR_INFO_JSON_VERSION 1

struct apir_info_opts {
    bool json;
    bool verbose;
    bool protocol;
    int calls;
    const char *plugin;
};

/* Round trips of one call (DEVICE_MEMORY of the first device: the cheapest call every device
 * answers, and the one apir-bench reports as its null call). */
struct apir_info_rtt {
    int calls;
    double median_us, min_us, max_us;
};

static void apir_info_usage(FILE *f)
{
    fprintf(
        f, "usage: apir-info [--json] [--plugin PATH] [--calls N] [--verbose]\n"
           "       apir-info --protocol\n"
           "Loads the ggml-apir guest plugin, connects to the host as an application would and\n"
           "reports: the transport and where it leads (and, in a VM, the virtio-gpu capset: 10\n"
           "APIR, 4 Venus routed to APIR), host and plugin protocol versions, the\n"
           "negotiated feature bits, whether calls go through a shared-memory ring, the round\n"
           "trip of one call, and each remote device (name, description, type, memory free and\n"
           "total, capabilities, buffer types with alignment and max size).\n"
           "\n"
           "  --json        one JSON object on stdout (its fields: README, apir-info)\n"
           "  --plugin PATH the plugin to load (default: $GGML_BACKEND_PATH, else\n"
           "                libggml-apir.so beside this program or in ../lib, else the loader's "
           "path)\n"
           "  --calls N     round trips to time, median reported (default 16; 0: none)\n"
           "  -v, --verbose also show the plugin's own log lines (APIR_LOG still filters them)\n"
           "  --protocol    print the protocol's field kinds and every command's request and\n"
           "                reply fields (Markdown tables, as docs/protocol.md has them) and exit\n"
           "  -h, --help    this text\n"
           "\n"
           "The transport is chosen as the plugin always chooses it: APIR_TRANSPORT, APIR_SOCKET,\n"
           "APIR_VTEST_SOCKET, APIR_VIRTGPU_NODE, APIR_VIRTGPU_CAPSET (README, docs/deploy.md).\n"
           "Exit status: 0 connected with devices; 1 no host reachable or no device, with one\n"
           "line on stderr saying why; 2 usage error or the plugin could not be loaded.\n");
}

static int apir_info_parse(int argc, char **argv, struct apir_info_opts *o)
{
    *o = (struct apir_info_opts){.calls = 16};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            apir_info_usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--protocol")) {
            o->protocol = true;
        } else if (!strcmp(a, "--json")) {
            o->json = true;
        } else if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
            o->verbose = true;
        } else if (!strcmp(a, "--plugin") && i + 1 < argc) {
            o->plugin = argv[++i];
        } else if (!strcmp(a, "--calls") && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 0 || n > 100000)
                return -1;
            o->calls = (int)n;
        } else {
            return -1;
        }
    }
    return 0;
}

/* The plugin's log lines: shown with --verbose only. Without it the one line apir-info prints
 * is the diagnosis, not the plugin's copy of the same reason. */
static void apir_info_log(enum ggml_log_level level, const char *text, void *user)
{
    (void)level;
    if (*(const bool *)user)
        fputs(text, stderr);
}

static bool apir_info_exists(const char *path)
{
    return access(path, R_OK) == 0;
}

/* --plugin, else GGML_BACKEND_PATH (how applications are pointed at it), else beside this
 * program (the build directory) or in ../lib (an install), else the dynamic loader's path. */
static const char *apir_info_plugin_path(const struct apir_info_opts *o, char *buf, size_t len)
{
    if (o->plugin)
        return o->plugin;
    const char *env = getenv("GGML_BACKEND_PATH");
    if (env && *env)
        return env;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(buf, len, "%s/libggml-apir.so", exe);
            if (apir_info_exists(buf))
                return buf;
            snprintf(buf, len, "%s/../lib/libggml-apir.so", exe);
            if (apir_info_exists(buf))
                return buf;
        }
    }
    return "libggml-apir.so";
}

static double apir_info_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int apir_info_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static struct apir_info_rtt apir_info_time(ggml_backend_dev_t dev, int calls)
{
    struct apir_info_rtt r = {0};
    double *t = calls > 0 ? calloc((size_t)calls, sizeof *t) : NULL;
    if (!t)
        return r;
    for (int i = 0; i < calls; i++) {
        size_t free_b, total_b;
        double t0 = apir_info_now_us();
        ggml_backend_dev_memory(dev, &free_b, &total_b);
        t[i] = apir_info_now_us() - t0;
    }
    qsort(t, (size_t)calls, sizeof *t, apir_info_cmp);
    r = (struct apir_info_rtt){calls, t[calls / 2], t[0], t[calls - 1]};
    free(t);
    return r;
}

static const char *apir_info_type_name(enum ggml_backend_dev_type t)
{
    switch (t) {
    case GGML_BACKEND_DEVICE_TYPE_CPU:
        return "cpu";
    case GGML_BACKEND_DEVICE_TYPE_GPU:
        return "gpu";
    case GGML_BACKEND_DEVICE_TYPE_IGPU:
        return "igpu";
    case GGML_BACKEND_DEVICE_TYPE_ACCEL:
        return "accel";
    default:
        return "unknown";
    }
}

/* Feature bits by name (include/apir/protocol.h); bits this tool does not know as hex. */
static void apir_info_feature_names(uint64_t f, char *out, size_t len, bool json)
{
    static const struct {
        uint64_t bit;
        const char *name;
    } names[] = {{APIR_FEAT_REGIONS, "regions"}, {APIR_FEAT_GRAPH_CACHE, "graph_cache"}};
    size_t used = 0;
    out[0] = '\0';
    const char *sep = json ? "," : " ";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(f & names[i].bit))
            continue;
        f &= ~names[i].bit;
        used += (size_t)snprintf(out + used, len - used, json ? "%s\"%s\"" : "%s%s",
                                 used ? sep : "", names[i].name);
        if (used >= len)
            return;
    }
    if (f)
        snprintf(out + used, len - used, json ? "%s\"0x%llx\"" : "%s0x%llx", used ? sep : "",
                 (unsigned long long)f);
    else if (!used && !json)
        snprintf(out, len, "none");
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void apir_info_json_str(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void apir_info_json_key_str(const char *key, const char *value, bool comma)
{
    printf("  \"%s\": ", key);
    if (value)
        apir_info_json_str(value);
    else
        printf("null");
    printf("%s\n", comma ? "," : "");
}

/* The host's side of a device; zeros (empty names) if the plugin cannot say. */
static struct ggml_backend_apir_device_info apir_info_host_side(ggml_backend_reg_t reg,
                                                                ggml_backend_dev_t dev)
{
    ggml_backend_apir_get_device_info_t get =
        (ggml_backend_apir_get_device_info_t)ggml_backend_reg_get_proc_address(
            reg, GGML_BACKEND_APIR_GET_DEVICE_INFO);
    struct ggml_backend_apir_device_info h = {.version = GGML_BACKEND_APIR_INFO_VERSION};
    if (!get || !get(dev, &h))
        h = (struct ggml_backend_apir_device_info){0};
    return h;
}

static void apir_info_json_device(ggml_backend_reg_t reg, ggml_backend_dev_t dev, bool last)
{
    struct ggml_backend_dev_props p;
    ggml_backend_dev_get_props(dev, &p);
    struct ggml_backend_apir_device_info h = apir_info_host_side(reg, dev);
    ggml_backend_buffer_type_t buft = ggml_backend_dev_buffer_type(dev);
    ggml_backend_buffer_type_t host = ggml_backend_dev_host_buffer_type(dev);
    printf("    {\"name\": ");
    apir_info_json_str(ggml_backend_dev_name(dev));
    printf(", \"description\": ");
    apir_info_json_str(ggml_backend_dev_description(dev));
    printf(",\n     \"host\": {\"name\": ");
    apir_info_json_str(h.host_name);
    printf(", \"description\": ");
    apir_info_json_str(h.host_description);
    printf(", \"type\": ");
    apir_info_json_str(h.host_type);
    printf(", \"buffer_type\": ");
    apir_info_json_str(h.host_buffer_type);
    printf(", \"shared_memory\": %s},\n", h.shared ? "true" : "false");
    printf("     \"type\": \"%s\", \"memory_free\": %zu, \"memory_total\": %zu,\n",
           apir_info_type_name(p.type), p.memory_free, p.memory_total);
    printf("     \"caps\": {\"async\": %s, \"host_buffer\": %s, \"buffer_from_host_ptr\": %s, "
           "\"events\": %s},\n",
           p.caps.async ? "true" : "false", p.caps.host_buffer ? "true" : "false",
           p.caps.buffer_from_host_ptr ? "true" : "false", p.caps.events ? "true" : "false");
    printf("     \"buffer_type\": {\"name\": ");
    apir_info_json_str(buft ? ggml_backend_buft_name(buft) : "");
    printf(", \"alignment\": %zu, \"max_size\": %zu},\n",
           buft ? ggml_backend_buft_get_alignment(buft) : 0,
           buft ? ggml_backend_buft_get_max_size(buft) : 0);
    printf("     \"host_buffer_type\": ");
    if (host)
        apir_info_json_str(ggml_backend_buft_name(host));
    else
        printf("null");
    printf("}%s\n", last ? "" : ",");
}

/* The documented object (README, "apir-info"): every key always present, null when unknown. */
static void apir_info_json(const char *plugin, const struct ggml_backend_apir_info *in,
                           const char *diagnosis, ggml_backend_reg_t reg,
                           const struct apir_info_rtt *rtt)
{
    char names[128];
    printf("{\n  \"apir_info\": %d,\n", APIR_INFO_JSON_VERSION);
    apir_info_json_key_str("plugin", plugin, true);
    printf("  \"connected\": %s,\n", in->connected ? "true" : "false");
    apir_info_json_key_str("error", diagnosis, true);
    apir_info_json_key_str("transport", in->transport[0] ? in->transport : NULL, true);
    apir_info_json_key_str("endpoint", in->endpoint[0] ? in->endpoint : NULL, true);
    if (in->capset)
        printf("  \"capset\": %u,\n", in->capset);
    else
        printf("  \"capset\": null,\n");
    printf("  \"protocol\": {\"plugin\": \"%u.%u\", \"host\": ", in->plugin_major,
           in->plugin_minor);
    if (in->connected)
        printf("\"%u.%u\"},\n", in->host_major, in->host_minor);
    else
        printf("null},\n");
    apir_info_feature_names(in->features, names, sizeof names, true);
    printf("  \"features\": {\"asked\": %llu, \"granted\": %llu, \"names\": [%s]},\n",
           (unsigned long long)in->features_asked, (unsigned long long)in->features, names);
    printf("  \"ring\": %s,\n", in->ring ? "true" : "false");
    if (rtt->calls)
        printf("  \"round_trip_us\": {\"calls\": %d, \"median\": %.2f, \"min\": %.2f, "
               "\"max\": %.2f},\n",
               rtt->calls, rtt->median_us, rtt->min_us, rtt->max_us);
    else
        printf("  \"round_trip_us\": null,\n");
    size_t n = reg ? ggml_backend_reg_dev_count(reg) : 0;
    printf("  \"devices\": [%s", n ? "\n" : "");
    for (size_t i = 0; i < n; i++)
        apir_info_json_device(reg, ggml_backend_reg_dev_get(reg, i), i + 1 == n);
    printf("%s]\n}\n", n ? "  " : "");
}

static void apir_info_text_device(ggml_backend_reg_t reg, ggml_backend_dev_t dev)
{
    struct ggml_backend_dev_props p;
    ggml_backend_dev_get_props(dev, &p);
    struct ggml_backend_apir_device_info h = apir_info_host_side(reg, dev);
    ggml_backend_buffer_type_t buft = ggml_backend_dev_buffer_type(dev);
    ggml_backend_buffer_type_t host = ggml_backend_dev_host_buffer_type(dev);
    const double mib = 1024.0 * 1024.0;
    printf("\n%s: %s\n", ggml_backend_dev_name(dev), ggml_backend_dev_description(dev));
    printf("  on the host       %s (%s), type %s, buffer type %s\n", h.host_name,
           h.host_description, h.host_type, h.host_buffer_type);
    printf("  type              %s (as ggml sees it here)\n", apir_info_type_name(p.type));
    printf("  memory            %.0f MiB free of %.0f MiB (%zu / %zu bytes)\n", p.memory_free / mib,
           p.memory_total / mib, p.memory_free, p.memory_total);
    printf("  caps              async %s, host buffer %s, buffer from host ptr %s, events %s\n",
           p.caps.async ? "yes" : "no", p.caps.host_buffer ? "yes" : "no",
           p.caps.buffer_from_host_ptr ? "yes" : "no", p.caps.events ? "yes" : "no");
    if (buft) {
        size_t max = ggml_backend_buft_get_max_size(buft);
        printf("  buffer type       %s: alignment %zu, max size ", ggml_backend_buft_name(buft),
               ggml_backend_buft_get_alignment(buft));
        if (max == SIZE_MAX)
            printf("unlimited\n");
        else
            printf("%zu\n", max);
    }
    printf("  host buffer type  %s\n", host ? ggml_backend_buft_name(host) : "none");
    printf("  tensor data       %s\n",
           h.shared ? "in shared memory (read and written in place)" : "copied through the host");
}

/* The VM context's capset: APIR's own, or Venus's that virglrenderer routes to APIR. */
static const char *apir_info_capset_name(uint32_t capset)
{
    switch (capset) {
    case 10:
        return "APIR";
    case 4:
        return "Venus, routed to APIR by VIRGL_ROUTE_VENUS_TO_APIR";
    default:
        return "unknown";
    }
}

static void apir_info_text(const char *plugin, const struct ggml_backend_apir_info *in,
                           ggml_backend_reg_t reg, const struct apir_info_rtt *rtt)
{
    char got[128], asked[128];
    apir_info_feature_names(in->features, got, sizeof got, false);
    apir_info_feature_names(in->features_asked, asked, sizeof asked, false);
    printf("plugin            %s\n", plugin);
    printf("transport         %s, %s\n", in->transport, in->endpoint);
    if (in->capset)
        printf("capset            %u (%s)\n", in->capset, apir_info_capset_name(in->capset));
    printf("protocol          host %u.%u, plugin %u.%u\n", in->host_major, in->host_minor,
           in->plugin_major, in->plugin_minor);
    printf("features          %s (asked: %s)\n", got, asked);
    printf("call path         %s\n", in->ring ? "shared-memory ring" : "transport messages");
    if (rtt->calls)
        printf("round trip        %.1f us median of %d calls (min %.1f, max %.1f)\n",
               rtt->median_us, rtt->calls, rtt->min_us, rtt->max_us);
    size_t n = ggml_backend_reg_dev_count(reg);
    printf("devices           %zu\n", n);
    for (size_t i = 0; i < n; i++)
        apir_info_text_device(reg, ggml_backend_reg_dev_get(reg, i));
}

static void apir_info_fields(uint32_t cmd, bool reply)
{
    size_t n;
    const struct apir_field *f = apir_msg_fields(cmd, reply, &n);
    for (size_t i = 0; i < n; i++)
        printf("%s%s: %s", i ? ", " : "", f[i].name, apir_kind_name(f[i].kind));
    if (!n)
        printf("—");
}

/* The one definition of the protocol (include/apir/protocol.h) as docs/protocol.md's tables:
 * unit.protocol_doc checks the doc has each of these lines. */
static void apir_info_protocol(void)
{
    printf("| kind | wire form |\n|---|---|\n");
    for (int k = 0; k < APIR_KIND_COUNT; k++)
        printf("| %s | %s |\n", apir_kind_name(k), apir_kind_wire(k));
    printf("\n| id | command | request | reply |\n|---|---|---|---|\n");
    for (uint32_t cmd = 1; cmd < APIR_CMD_LIMIT; cmd++) {
        printf("| %u | %s | ", cmd, apir_cmd_name(cmd));
        apir_info_fields(cmd, false);
        printf(" | ");
        apir_info_fields(cmd, true);
        printf(" |\n");
    }
}

int main(int argc, char **argv)
{
    struct apir_info_opts o;
    if (apir_info_parse(argc, argv, &o) != 0) {
        apir_info_usage(stderr);
        return 2;
    }
    if (o.protocol) {
        apir_info_protocol();
        return 0;
    }
    ggml_log_set(apir_info_log, &o.verbose);
    char buf[PATH_MAX + 32];
    const char *plugin = apir_info_plugin_path(&o, buf, sizeof buf);
    ggml_backend_reg_t reg = ggml_backend_load(plugin);
    ggml_backend_apir_get_info_t get_info =
        reg ? (ggml_backend_apir_get_info_t)ggml_backend_reg_get_proc_address(
                  reg, GGML_BACKEND_APIR_GET_INFO)
            : NULL;
    /* A plugin older than this tool knows only version 1 (no capset). */
    struct ggml_backend_apir_info info = {.version = GGML_BACKEND_APIR_INFO_VERSION};
    bool got = get_info && get_info(&info);
    if (!got && get_info) {
        info = (struct ggml_backend_apir_info){.version = 1};
        got = get_info(&info);
    }
    if (!reg || !got) {
        fprintf(stderr, "apir-info: %s %s\n", plugin,
                !reg ? "could not be loaded as a ggml backend (--plugin PATH)"
                     : "is not a ggml-apir plugin of this version");
        return 2;
    }
    size_t n = ggml_backend_reg_dev_count(reg);
    char diagnosis[512] = "";
    if (!info.connected)
        snprintf(diagnosis, sizeof diagnosis, "no APIR host reachable over %s: %s",
                 info.transport[0] ? info.transport : "any transport", info.error);
    else if (n == 0)
        snprintf(diagnosis, sizeof diagnosis, "the host at %s (%s) serves no device", info.endpoint,
                 info.transport);
    struct apir_info_rtt rtt = {0};
    if (n > 0)
        rtt = apir_info_time(ggml_backend_reg_dev_get(reg, 0), o.calls);
    if (o.json)
        apir_info_json(plugin, &info, diagnosis[0] ? diagnosis : NULL, reg, &rtt);
    if (diagnosis[0]) {
        fprintf(stderr, "apir-info: %s\n", diagnosis);
        return 1;
    }
    if (!o.json)
        apir_info_text(plugin, &info, reg, &rtt);
    return 0;
}
