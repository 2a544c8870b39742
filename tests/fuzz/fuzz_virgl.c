/* Fuzz target: the virglrenderer entry points (src/host/virgl.c) as virglrenderer calls them:
 * the first input byte picks the dispatcher's cmd_type, the rest is the command payload; the
 * reply window is a 64 KiB buffer. TEST DOUBLE: the callbacks serve a config table and two
 * blobs this program maps (a page, and 64 KiB), as virglrenderer's would. */
#include "proto/virgl_abi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *blobs[2];
static char window[1 << 16];

static const char *cfg_get(uint32_t ctx, const char *key)
{
    (void)ctx;
    return strcmp(key, "ggml.library.path") == 0 ? APIR_GGML_BACKEND_DIR "/libggml-cpu.so" : NULL;
}

static volatile uint32_t *shmem_get(uint32_t ctx, uint32_t res)
{
    (void)ctx;
    return res == 1 || res == 2 ? blobs[res - 1] : NULL;
}

static struct apir_virgl_callbacks cbs = {cfg_get, shmem_get};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    blobs[0] = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    blobs[1] = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    setenv("APIR_HOST_MAX_SESSION_MIB", "64", 0);
    if (blobs[0] == MAP_FAILED || blobs[1] == MAP_FAILED || apir_backend_initialize(1, &cbs)) {
        fprintf(stderr, "fuzz_virgl: cannot initialize\n");
        exit(1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* The payload as virglrenderer hands it: its own copy, padded to 4 bytes. */
    size_t n = (size - 1 + 3) / 4 * 4;
    char *dec = calloc(1, n ? n : 4);
    if (!dec)
        return 0;
    memcpy(dec, data + 1, size - 1);
    char *after;
    /* RING_ATTACH would start a thread polling the blob across inputs: not fuzzed here. */
    uint32_t type = data[0] % 5;
    if (type != APIR_VIRGL_FWD_RING_ATTACH)
        apir_backend_dispatcher(1, &cbs, type, dec, dec + n, window, window + sizeof window,
                                &after);
    free(dec);
    return 0;
}
