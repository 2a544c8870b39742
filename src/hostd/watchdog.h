/* The compute watchdog of a session process: one request may run only so long. */
#ifndef APIR_HOSTD_WATCHDOG_H
#define APIR_HOSTD_WATCHDOG_H

#include <stdbool.h>

/* Starts the watchdog thread with APIR_HOSTD_COMPUTE_TIMEOUT_S (default 300; 0: none).
 * False when the thread cannot be made. */
bool apir_watchdog_start(void);
/* Around each request's execution. */
void apir_watchdog_busy(void);
void apir_watchdog_idle(void);

#endif
