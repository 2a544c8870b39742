/* ggml-apir guest backend: presents a remote host's ggml devices as local ggml devices.
 *
 * Normally loaded as a plugin (GGML_BACKEND_PATH=/path/libggml-apir.so); the registry is named
 * "APIR" and its devices "APIR0", "APIR1", ... The host is reached through the unix socket
 * named by APIR_SOCKET, else $XDG_RUNTIME_DIR/apir.sock. With no host reachable the registry
 * has zero devices and says why in one log line. */
#ifndef GGML_APIR_H
#define GGML_APIR_H

#include <ggml-backend.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

GGML_BACKEND_API ggml_backend_reg_t ggml_backend_apir_reg(void);

/* What the plugin knows of its connection, for tools such as apir-info. Reached the way
 * ggml-rpc exposes its extras, so a program that loads the plugin with ggml_backend_load needs
 * no link to it:
 *   ggml_backend_apir_get_info_t f = (ggml_backend_apir_get_info_t)
 *       ggml_backend_reg_get_proc_address(reg, GGML_BACKEND_APIR_GET_INFO);
 * The caller sets info->version to GGML_BACKEND_APIR_INFO_VERSION; the plugin fills the
 * fields of that layout and returns false for a version it does not know. Devices themselves
 * (name, description, memory, buffer type) come through the ggml device API of the registry. */
#define GGML_BACKEND_APIR_GET_INFO "ggml_backend_apir_get_info"
/* 2 added capset; a caller of version 1 gets the version 1 layout (up to ring). */
#define GGML_BACKEND_APIR_INFO_VERSION 2

struct ggml_backend_apir_info {
    uint32_t version;      /* in: GGML_BACKEND_APIR_INFO_VERSION */
    bool connected;        /* the handshake succeeded (the host may still serve 0 devices) */
    char transport[16];    /* "socket", "vtest" or "virtgpu": as chosen, connected or not */
    char endpoint[200];    /* socket path, vtest socket or render node; "" if none was found */
    char error[256];       /* !connected: why, in one line (the line the plugin logged) */
    uint32_t plugin_major; /* protocol the plugin speaks */
    uint32_t plugin_minor;
    uint32_t host_major; /* protocol the host answered with (0.0: no answer) */
    uint32_t host_minor;
    uint64_t features_asked; /* APIR_FEAT_* bits the plugin asked for (include/apir/protocol.h) */
    uint64_t features;       /* the bits the session uses: asked and granted */
    uint32_t host_devices;   /* devices the host announced */
    bool ring;               /* calls go through a shared-memory ring */
    /* version 2: the virtio-gpu capset of the VM context (vtest, virtgpu): 10 (APIR's own) or
     * 4 (Venus, routed to APIR by virglrenderer's VIRGL_ROUTE_VENUS_TO_APIR); 0: socket or
     * not connected */
    uint32_t capset;
};
typedef bool (*ggml_backend_apir_get_info_t)(struct ggml_backend_apir_info *info);

/* The host's side of one APIR device (what the ggml device API cannot say: an APIR device is
 * a GPU to ggml whatever it is on the host). Its layout is the same in versions 1 and 2; false
 * for another version or a device that is not one of this plugin's. */
#define GGML_BACKEND_APIR_GET_DEVICE_INFO "ggml_backend_apir_get_device_info"

struct ggml_backend_apir_device_info {
    uint32_t version;   /* in: GGML_BACKEND_APIR_INFO_VERSION */
    char host_name[64]; /* the device's ggml name on the host: "CPU", "CUDA0" */
    char host_description[256];
    char host_type[8];         /* "cpu", "gpu", "igpu" or "accel" */
    char host_buffer_type[64]; /* the host buffer type's name */
    bool shared;               /* buffers live in memory both sides map (no copies) */
};
typedef bool (*ggml_backend_apir_get_device_info_t)(ggml_backend_dev_t dev,
                                                    struct ggml_backend_apir_device_info *info);

#ifdef __cplusplus
}
#endif

#endif
