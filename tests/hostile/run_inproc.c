/* unit.hostile: the hostile corpus against apir_session_dispatch in-process, on the real CPU
 * backend (what the fuzzers and a sanitizer build run too).
 *
 * TEST DOUBLE: the regions. In-process there is no transport to bring shared memory, so the
 * link's region callbacks hand out heap memory, and only for a REGION_ATTACH the link itself
 * sends (as apir-hostd maps only the descriptor that came with the message). The library's
 * real region code runs behind its real callback ABI. */
#include "apir/host.h"
#include "corpus.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct inproc_link {
    struct hostile_link base;
    struct apir_host *host;
    struct apir_session *s;
    bool memory_comes; /* the next map is the link's own attach */
};

static void *inproc_region_map(void *user, uint32_t id, uint64_t size)
{
    struct inproc_link *l = user;
    (void)id;
    if (!l->memory_comes)
        return NULL; /* no memory came with this message */
    l->memory_comes = false;
    return aligned_alloc(4096, (size_t)(size + 4095) / 4096 * 4096);
}

static void inproc_region_unmap(void *user, uint32_t id, void *ptr, uint64_t size)
{
    (void)user, (void)id, (void)size;
    free(ptr);
}

static int inproc_call(struct hostile_link *hl, const void *msg, size_t len, struct apir_reader *r)
{
    struct inproc_link *l = (struct inproc_link *)hl;
    const uint8_t *out;
    size_t out_len;
    int st = apir_session_dispatch(l->s, msg, len, &out, &out_len);
    struct apir_rep_hdr h;
    if (out_len < APIR_HDR_SIZE || !apir_rep_hdr_decode(out, &h) || h.status != st ||
        h.len != out_len - APIR_HDR_SIZE)
        return HOSTILE_CLOSED; /* a malformed reply: as bad as no reply */
    apir_reader_init(r, out + APIR_HDR_SIZE, h.len);
    return st;
}

static bool inproc_reopen(struct hostile_link *hl)
{
    struct inproc_link *l = (struct inproc_link *)hl;
    apir_session_destroy(l->s);
    l->s = apir_session_create(l->host);
    struct apir_region_ops ops = {inproc_region_map, inproc_region_unmap, l};
    apir_session_set_region_ops(l->s, &ops);
    return l->s != NULL;
}

static int inproc_attach_region(struct hostile_link *hl, uint32_t id, uint64_t size)
{
    struct inproc_link *l = (struct inproc_link *)hl;
    uint8_t msg[APIR_HDR_SIZE + 12];
    struct apir_req_hdr h = {APIR_MAGIC_REQ, APIR_CMD_REGION_ATTACH, 0, 1, 12};
    apir_req_hdr_encode(msg, &h);
    memcpy(msg + APIR_HDR_SIZE, &id, 4);
    memcpy(msg + APIR_HDR_SIZE + 4, &size, 8);
    l->memory_comes = true;
    struct apir_reader r;
    int st = inproc_call(hl, msg, sizeof msg, &r);
    l->memory_comes = false;
    return st;
}

static int inproc_threads(struct hostile_link *hl)
{
    (void)hl;
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return d ? n : -1;
}

static bool inproc_open(struct inproc_link *l, struct apir_host *host, uint64_t quota)
{
    *l = (struct inproc_link){
        .base = {inproc_call, inproc_reopen, inproc_attach_region, inproc_threads, false, quota},
        .host = host};
    return inproc_reopen(&l->base);
}

int main(void)
{
    char err[256];
    const uint64_t quota = 64u << 20;
    struct apir_host_config cfg = {
        .backend_dir = APIR_GGML_BACKEND_DIR, .device_name = "CPU", .max_session_bytes = quota};
    struct apir_host *host = apir_host_create(&cfg, err, sizeof err);
    if (!host) {
        fprintf(stderr, "cannot create host: %s\n", err);
        return 1;
    }
    struct inproc_link l, other;
    if (!inproc_open(&l, host, quota) || !inproc_open(&other, host, quota)) {
        fprintf(stderr, "cannot create sessions\n");
        return 1;
    }
    int rc = hostile_run(&l.base, &other.base, 60);
    apir_session_destroy(l.s);
    apir_session_destroy(other.s);
    apir_host_destroy(host);
    return rc;
}
