/* A tiny test harness: CHECK records a failure with its location and goes on, so one run
 * reports every broken assertion; apir_check_summary prints "N passed, N failed". */
#ifndef APIR_CHECK_H
#define APIR_CHECK_H

#include <stdio.h>

static int apir_checks_passed, apir_checks_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            apir_checks_passed++;                                                                  \
        } else {                                                                                   \
            apir_checks_failed++;                                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

static inline int apir_check_summary(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, apir_checks_passed, apir_checks_failed);
    return apir_checks_failed ? 1 : 0;
}

#endif
