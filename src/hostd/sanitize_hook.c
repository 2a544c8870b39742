/* make test-asan only (APIR_SANITIZE builds): a session process installs a seccomp filter
 * before it reads the guest's first byte, and the filter denies what the sanitizer runtime
 * does lazily at its first report: opening the report file (log_path) and starting the
 * external symbolizer (exec), which suppressions by function or file name need as well. Both
 * are done here, before the filter: the report file (in the directory tests/sanitize/run.sh
 * names in APIR_SANITIZE_LOGS; an empty file is no report) is opened and handed to the
 * runtime, and one symbolization starts the symbolizer, which then runs beside the session,
 * talked to over pipes the filter allows. Other builds compile to an empty function. */
#include "sanitize_hook.h"

#ifdef APIR_SANITIZE
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The runtime's public interface (sanitizer/common_interface_defs.h, not on every system). */
void __sanitizer_set_report_fd(void *fd);
void __sanitizer_symbolize_pc(void *pc, const char *fmt, char *out_buf, size_t out_buf_size);

void apir_sanitize_before_sandbox(void)
{
    const char *dir = getenv("APIR_SANITIZE_LOGS");
    if (dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/report.%d", dir, (int)getpid());
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0)
            __sanitizer_set_report_fd((void *)(intptr_t)fd);
    }
    char buf[256];
    __sanitizer_symbolize_pc(__builtin_return_address(0), "%p %F %L", buf, sizeof buf);
}
#else
void apir_sanitize_before_sandbox(void)
{
}
#endif
