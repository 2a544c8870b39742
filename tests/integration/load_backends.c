/* LD_PRELOAD shim for llama.cpp's test-llama-archs, which needs two things it does not do
 * itself when run against a GGML_BACKEND_DL build:
 *
 * 1. Load the dynamic backends before main. The program counts devices first thing, and with
 *    GGML_BACKEND_DL nothing is registered until ggml_backend_load_all() runs: the same loader
 *    and the same GGML_BACKEND_PATH that llama-cli uses at startup.
 *
 * 2. Drain llama.cpp's log queue at exit. common_log_main() is leaked on purpose upstream (its
 *    comment: "this design may cause logs to be lost if not flushed before the program
 *    exits"), and test-llama-archs returns from main right after logging its last rows and
 *    summary, so the log thread races exit(). Under CPU load the tail is lost with or without
 *    the APIR plugin (measured: 2 of 20 runs without it, 5 of 20 with it while the host's
 *    session process tears down on the other core). Flushing at exit makes every line the
 *    program wrote reach its output, so the test judges complete output. */
#include <dlfcn.h>
#include <ggml-backend.h>
#include <stdlib.h>

typedef void *(*apir_log_main_fn)(void);
typedef void (*apir_log_flush_fn)(void *);

static void apir_test_flush_log(void)
{
    /* The C++ names of common_log_main() and common_log_flush(common_log *), exported by
     * libllama-common. Absent (another program): nothing to flush. */
    apir_log_main_fn log_main = (apir_log_main_fn)dlsym(RTLD_DEFAULT, "_Z15common_log_mainv");
    apir_log_flush_fn log_flush =
        (apir_log_flush_fn)dlsym(RTLD_DEFAULT, "_Z16common_log_flushP10common_log");
    if (log_main && log_flush)
        log_flush(log_main());
}

/* APIR_TEST_FLUSH_ONLY=1: only the flush, for programs that load their backends themselves
 * (llama-cli in integration.no_host). */
__attribute__((constructor)) static void apir_test_load_backends(void)
{
    const char *only = getenv("APIR_TEST_FLUSH_ONLY");
    if (!(only && *only == '1'))
        ggml_backend_load_all();
    atexit(apir_test_flush_log);
}
