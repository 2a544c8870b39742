/* The shared log module: APIR_LOG names, the threshold with an unknown value, and the line
 * format (prefix, one newline, truncation that keeps the newline). */
#include "check.h"
#include "proto/log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void fmt(char *out, size_t len, const char *who, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    apir_log_vformat(out, len, who, f, ap);
    va_end(ap);
}

int main(void)
{
    CHECK(apir_log_level_parse("error") == APIR_LOG_ERROR);
    CHECK(apir_log_level_parse("warn") == APIR_LOG_WARN);
    CHECK(apir_log_level_parse("info") == APIR_LOG_INFO);
    CHECK(apir_log_level_parse("debug") == APIR_LOG_DEBUG);
    CHECK(apir_log_level_parse("DEBUG") == 0);
    CHECK(apir_log_level_parse("warning") == 0);
    CHECK(apir_log_level_parse("") == 0);
    CHECK(apir_log_level_parse(NULL) == 0);

    /* An unknown value: ignored (the side's default applies) and reported exactly once. */
    setenv("APIR_LOG", "loud", 1);
    CHECK(apir_log_threshold(APIR_LOG_WARN) == APIR_LOG_WARN);
    CHECK(apir_log_enabled(APIR_LOG_ERROR, APIR_LOG_WARN));
    CHECK(apir_log_enabled(APIR_LOG_WARN, APIR_LOG_WARN));
    CHECK(!apir_log_enabled(APIR_LOG_INFO, APIR_LOG_WARN));
    const char *bad = apir_log_take_bad_value();
    CHECK(bad && strstr(bad, "APIR_LOG=loud") && strstr(bad, "error, warn, info, debug"));
    CHECK(apir_log_take_bad_value() == NULL);
    /* Read once: a later change of the variable does not flip levels mid-run. */
    setenv("APIR_LOG", "debug", 1);
    CHECK(!apir_log_enabled(APIR_LOG_DEBUG, APIR_LOG_WARN));

    char line[64];
    fmt(line, sizeof line, "ggml-apir", "lost the host at %s", "/x.sock");
    CHECK(strcmp(line, "ggml-apir: lost the host at /x.sock\n") == 0);
    char small[16];
    fmt(small, sizeof small, "apir-hostd", "%s", "a message far longer than sixteen bytes");
    CHECK(strlen(small) == sizeof small - 1 && small[sizeof small - 2] == '\n');
    CHECK(strncmp(small, "apir-hostd: a m", 14) == 0);
    char tiny[2];
    fmt(tiny, sizeof tiny, "who", "%s", "x");
    CHECK(strcmp(tiny, "\n") == 0);
    return apir_check_summary("unit.log");
}
