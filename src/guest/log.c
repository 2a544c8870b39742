/* The plugin's log lines go where the application's ggml log goes: through the callback ggml
 * holds (ggml_log_set; llama.cpp's llama_log_set sets the same one), with a ggml level, so the
 * application filters, formats and routes them like every backend's. Without a callback set,
 * ggml's default prints to stderr as the plugin always did. APIR_LOG filters first (default
 * warn: only what needs the user's attention). */
#include "guest.h"

#include <stdarg.h>
#include <stdio.h>

static enum ggml_log_level apir_log_ggml_level(enum apir_log_level level)
{
    switch (level) {
    case APIR_LOG_ERROR:
        return GGML_LOG_LEVEL_ERROR;
    case APIR_LOG_WARN:
        return GGML_LOG_LEVEL_WARN;
    case APIR_LOG_INFO:
        return GGML_LOG_LEVEL_INFO;
    default:
        return GGML_LOG_LEVEL_DEBUG;
    }
}

static void apir_log_send(enum apir_log_level level, const char *line)
{
    ggml_log_callback cb = NULL;
    void *user = NULL;
    ggml_log_get(&cb, &user);
    if (cb)
        cb(apir_log_ggml_level(level), line, user);
}

bool apir_log_on(enum apir_log_level level)
{
    return apir_log_enabled(level, APIR_LOG_WARN);
}

void apir_log_emit(enum apir_log_level level, const char *fmt, ...)
{
    /* Before the filter: the registry logs at least once (connected or why not), so a
     * mistyped APIR_LOG is said even when the line that carries the news is filtered. */
    char line[1024];
    const char *bad = apir_log_take_bad_value();
    if (bad) {
        snprintf(line, sizeof line, "ggml-apir: %s\n", bad);
        apir_log_send(APIR_LOG_WARN, line);
    }
    if (!apir_log_on(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    apir_log_vformat(line, sizeof line, "ggml-apir", fmt, ap);
    va_end(ap);
    apir_log_send(level, line);
}
