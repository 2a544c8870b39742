/* ggml-apir guest backend: presents a remote host's ggml devices as local ggml devices.
 *
 * Normally loaded as a plugin (GGML_BACKEND_PATH=/path/libggml-apir.so); the registry is named
 * "APIR" and its devices "APIR0", "APIR1", ... The host is reached through the unix socket
 * named by APIR_SOCKET, else $XDG_RUNTIME_DIR/apir.sock. With no host reachable the registry
 * has zero devices and says why in one log line. */
#ifndef GGML_APIR_H
#define GGML_APIR_H

#include <ggml-backend.h>

#ifdef __cplusplus
extern "C" {
#endif

GGML_BACKEND_API ggml_backend_reg_t ggml_backend_apir_reg(void);

#ifdef __cplusplus
}
#endif

#endif
