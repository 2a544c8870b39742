/* See log.h. */
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum apir_log_level apir_log_level_parse(const char *s)
{
    static const char *const names[] = {NULL, "error", "warn", "info", "debug"};
    for (int l = APIR_LOG_ERROR; s && l <= APIR_LOG_DEBUG; l++)
        if (strcmp(s, names[l]) == 0)
            return (enum apir_log_level)l;
    return 0;
}

static pthread_once_t apir_log_once = PTHREAD_ONCE_INIT;
static enum apir_log_level apir_log_env_level; /* 0: APIR_LOG unset or unknown */
static char apir_log_bad[96];                  /* an unknown value, to report once */
static int apir_log_bad_taken;

static void apir_log_read_env(void)
{
    const char *e = getenv("APIR_LOG");
    apir_log_env_level = apir_log_level_parse(e);
    if (e && *e && !apir_log_env_level)
        snprintf(apir_log_bad, sizeof apir_log_bad,
                 "APIR_LOG=%.40s is none of error, warn, info, debug: ignored", e);
}

enum apir_log_level apir_log_threshold(enum apir_log_level fallback)
{
    pthread_once(&apir_log_once, apir_log_read_env);
    return apir_log_env_level ? apir_log_env_level : fallback;
}

bool apir_log_enabled(enum apir_log_level level, enum apir_log_level fallback)
{
    return level <= apir_log_threshold(fallback);
}

const char *apir_log_take_bad_value(void)
{
    pthread_once(&apir_log_once, apir_log_read_env);
    if (!apir_log_bad[0] || __atomic_exchange_n(&apir_log_bad_taken, 1, __ATOMIC_ACQ_REL))
        return NULL;
    return apir_log_bad;
}

void apir_log_vformat(char *out, size_t len, const char *who, const char *fmt, va_list ap)
{
    if (len < 2) {
        if (len)
            out[0] = '\0';
        return;
    }
    int n = snprintf(out, len - 1, "%s: ", who);
    size_t used = n < 0 ? 0 : (size_t)n < len - 1 ? (size_t)n : len - 2;
    int m = vsnprintf(out + used, len - 1 - used, fmt, ap);
    if (m > 0)
        used += (size_t)m < len - 1 - used ? (size_t)m : len - 2 - used;
    out[used] = '\n';
    out[used + 1] = '\0';
}

void apir_log_host(enum apir_log_level level, const char *who, const char *fmt, ...)
{
    const char *bad = apir_log_take_bad_value(); /* said once, whatever this line's level */
    if (bad)
        fprintf(stderr, "%s: %s\n", who, bad);
    if (!apir_log_enabled(level, APIR_LOG_INFO))
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    apir_log_vformat(line, sizeof line, who, fmt, ap);
    va_end(ap);
    /* One fputs of the whole line: session processes share the daemon's stderr, and a line
     * written in pieces could interleave with another session's. */
    fputs(line, stderr);
}
