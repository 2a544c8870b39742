/* Fuzz target: the host dispatcher with the real CPU backend behind it (fuzz_session.c). An
 * input is a command id (2 bytes, the first modulo 32) and its payload, in which the
 * placeholders FUZZ_H_* stand for the session's handles. APIR_FUZZ_SEEDS=dir writes a seed
 * corpus of valid requests. */
#include "fuzz_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct apir_session *sess;
static uint8_t reply[1 << 20];

static void write_seed(void *user, const char *name, uint16_t cmd, const struct apir_writer *w)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", (const char *)user, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    fwrite(&cmd, sizeof cmd, 1, f);
    fwrite(w->buf, 1, w->len, f);
    fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    sess = fuzz_session_open("fuzz_dispatch");
    const char *dir = getenv("APIR_FUZZ_SEEDS");
    if (dir)
        fuzz_session_seeds(write_seed, (void *)dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > (1u << 20))
        return 0;
    /* Only the low byte picks the command (ids are small): most inputs reach a handler. */
    uint16_t cmd = data[0] % 32;
    size_t n = size - 2;
    uint8_t *p = malloc(n ? n : 1);
    if (!p)
        return 0;
    memcpy(p, data + 2, n);
    fuzz_session_patch(p, n);
    size_t len = 0;
    apir_session_execute(sess, cmd, p, n, reply, sizeof reply, &len);
    if (len > sizeof reply)
        abort(); /* a reply larger than its window: the library wrote past it */
    free(p);
    return 0;
}
