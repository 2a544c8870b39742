/* libapir-host.so's exported surface: the functions of include/apir/host.h. The core is a
 * static library (shared with tests and fuzzers); referencing each public function here makes
 * the linker keep it and lets the version script-free build export it. */
#include "../proto/virgl_abi.h"
#include "apir/host.h"

typedef void (*apir_export_fn)(void);

__attribute__((used)) static const apir_export_fn apir_host_exports[] = {
    (apir_export_fn)apir_host_create,
    (apir_export_fn)apir_host_destroy,
    (apir_export_fn)apir_host_device_count,
    (apir_export_fn)apir_host_device_name,
    (apir_export_fn)apir_host_session_quota,
    (apir_export_fn)apir_host_needs,
    (apir_export_fn)apir_host_watchdog_start,
    (apir_export_fn)apir_session_create,
    (apir_export_fn)apir_session_destroy,
    (apir_export_fn)apir_session_dispatch,
    (apir_export_fn)apir_session_set_region_ops,
    (apir_export_fn)apir_session_held_objects,
    (apir_export_fn)apir_session_execute,
    /* virglrenderer's APIR context (src/host/virgl.c) */
    (apir_export_fn)apir_backend_initialize,
    (apir_export_fn)apir_backend_dispatcher,
    (apir_export_fn)apir_backend_deinit,
};
