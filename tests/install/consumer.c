/* An application built against an installed ggml-apir (tests/install/install.sh builds it with
 * find_package and with pkg-config): it creates a host with libapir-host (include/apir/host.h)
 * and lists the devices it serves, then loads the installed guest plugin through ggml and
 * lists the APIR devices the installed apir-hostd offers.
 *
 *   apir-consumer BACKEND_DIR [PLUGIN]
 *
 * BACKEND_DIR: where ggml's backends are (for the host). PLUGIN: the guest plugin (default: the
 * path the build was given, APIR_CONSUMER_PLUGIN). Exit 0 only if the host serves the CPU and
 * the plugin shows at least one APIR device. */
#include <apir/host.h>
#include <apir/protocol.h>
#include <ggml-apir.h> /* compiles with ggml's headers: the declaration an application sees */
#include <ggml-backend.h>

#include <stdio.h>
#include <string.h>

static int apir_consumer_host(const char *backend_dir)
{
    struct apir_host_config cfg = {.backend_dir = backend_dir, .device_name = "CPU"};
    char err[256];
    struct apir_host *h = apir_host_create(&cfg, err, sizeof err);
    if (!h) {
        fprintf(stderr, "apir-consumer: apir_host_create: %s\n", err);
        return 0;
    }
    int cpu = 0;
    for (size_t i = 0; i < apir_host_device_count(h); i++) {
        const char *name = apir_host_device_name(h, i);
        printf("host device %zu: %s\n", i, name);
        cpu |= !strcmp(name, "CPU");
    }
    apir_host_destroy(h);
    return cpu;
}

static int apir_consumer_plugin(const char *path)
{
    ggml_backend_reg_t reg = ggml_backend_load(path);
    if (!reg) {
        fprintf(stderr, "apir-consumer: ggml_backend_load(%s) failed\n", path);
        return 0;
    }
    printf("plugin %s: registry %s\n", path, ggml_backend_reg_name(reg));
    size_t n = ggml_backend_reg_dev_count(reg);
    for (size_t i = 0; i < n; i++) {
        ggml_backend_dev_t dev = ggml_backend_reg_dev_get(reg, i);
        printf("guest device %s: %s\n", ggml_backend_dev_name(dev),
               ggml_backend_dev_description(dev));
    }
    return n > 0 && !strncmp(ggml_backend_dev_name(ggml_backend_reg_dev_get(reg, 0)), "APIR", 4);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: apir-consumer BACKEND_DIR [PLUGIN]\n");
        return 2;
    }
    printf("protocol %u.%u\n", APIR_PROTO_MAJOR, APIR_PROTO_MINOR);
    int ok = apir_consumer_host(argv[1]);
    ok &= apir_consumer_plugin(argc > 2 ? argv[2] : APIR_CONSUMER_PLUGIN);
    printf("%s\n", ok ? "consumer: ok" : "consumer: FAILED");
    return ok ? 0 : 1;
}
