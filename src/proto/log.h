/* Log levels, the APIR_LOG filter and the line format, shared by both halves. Each side
 * decides where a line goes: the guest hands it to ggml's log callback (the application owns
 * its log), the host writes it to stderr (its operator's log). Nothing here is OS-specific.
 *
 * APIR_LOG=error|warn|info|debug sets the most verbose level shown. The defaults differ by
 * side, each matching what that side always printed: a plugin inside someone else's program
 * stays quiet unless something is wrong (warn); a daemon's log is its operator's record of
 * what it serves (info). */
#ifndef APIR_LOG_H
#define APIR_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum apir_log_level {
    APIR_LOG_ERROR = 1, /* something failed: a call, a connection, a session */
    APIR_LOG_WARN = 2,  /* it works, worse than it should (a fallback, a refusal of a peer) */
    APIR_LOG_INFO = 3,  /* once-per-connection facts: connected, serving, session start/end */
    APIR_LOG_DEBUG = 4, /* details an operator asks for: per device, per refused tensor */
};

/* "error", "warn", "info" or "debug" (case-sensitive) as a level; 0 for anything else. */
enum apir_log_level apir_log_level_parse(const char *s);
/* The threshold: APIR_LOG when it names a level, else fallback. APIR_LOG is read once per
 * process; an unknown value is reported once, with the first line logged (shown or not). */
enum apir_log_level apir_log_threshold(enum apir_log_level fallback);
/* Whether a line of this level is shown under the threshold (same fallback as above). */
bool apir_log_enabled(enum apir_log_level level, enum apir_log_level fallback);
/* An unknown APIR_LOG value, once: the text to warn with, or NULL (none, or already taken). */
const char *apir_log_take_bad_value(void);
/* Formats "<who>: <message>\n" into out (truncated to fit, always newline-terminated). */
void apir_log_vformat(char *out, size_t len, const char *who, const char *fmt, va_list ap);
/* Host side: one line to stderr, in one write, if the level passes (default threshold info). */
void apir_log_host(enum apir_log_level level, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
