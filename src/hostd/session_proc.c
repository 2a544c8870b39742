/* The life of one guest connection, in its own process.
 *
 * A process per session isolates guests from each other completely: a kernel that aborts or
 * faults on a crafted graph ends only the session that sent it, and the OS frees everything the
 * session owned when it ends, whatever state it was in. Backends are loaded here, after fork,
 * because GPU runtimes and OpenMP do not survive a fork once initialised. */
#include "session_proc.h"

#include "../proto/fdio.h"
#include "../proto/wire.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* The descriptor that came with the request being served (-1: none). Only REGION_ATTACH
 * consumes it, through apir_hostd_region_map; any other is closed after the request. */
struct apir_hostd_conn {
    int passed_fd;
};

/* A region is a memfd the guest sealed against shrinking: the host touches every byte of the
 * mapping, and a file that shrank under it would fault the session instead of failing a
 * request. Anything else (no descriptor, not sealed, smaller than claimed) is refused. */
static void *apir_hostd_region_map(void *user, uint32_t id, uint64_t size)
{
    (void)id;
    struct apir_hostd_conn *hc = user;
    int fd = hc->passed_fd;
    hc->passed_fd = -1;
    if (fd < 0)
        return NULL;
    struct stat st;
    int seals = fcntl(fd, F_GET_SEALS);
    void *p = NULL;
    if (seals >= 0 && (seals & F_SEAL_SHRINK) && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        (uint64_t)st.st_size >= size && size <= SIZE_MAX) {
        p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
            p = NULL;
    }
    close(fd);
    return p;
}

static void apir_hostd_region_unmap(void *user, uint32_t id, void *ptr, uint64_t size)
{
    (void)user;
    (void)id;
    munmap(ptr, (size_t)size);
}

/* Reads one request message into *buf (grown as needed), and a descriptor passed with it.
 * False on EOF, error, or a header that is not ours: such a peer is not a guest and the
 * connection ends. */
static bool apir_read_request(int fd, uint8_t **buf, size_t *cap, size_t *len, int *passed_fd)
{
    uint8_t hb[APIR_HDR_SIZE];
    struct apir_req_hdr h;
    if (!apir_fd_read_with_fd(fd, hb, sizeof hb, passed_fd))
        return false;
    if (!apir_req_hdr_decode(hb, &h))
        return false;
    size_t need = APIR_HDR_SIZE + (size_t)h.len;
    if (need > *cap) {
        uint8_t *nb = realloc(*buf, need);
        if (!nb)
            return false;
        *buf = nb;
        *cap = need;
    }
    memcpy(*buf, hb, sizeof hb);
    *len = need;
    return apir_fd_read_all(fd, *buf + APIR_HDR_SIZE, h.len);
}

int apir_session_proc_serve(int fd, const struct apir_host_config *hcfg)
{
    char err[256];
    struct apir_host *host = apir_host_create(hcfg, err, sizeof err);
    if (!host) {
        fprintf(stderr, "apir-hostd: session refused: %s\n", err);
        return 1;
    }
    struct apir_session *s = apir_session_create(host);
    struct apir_hostd_conn hc = {.passed_fd = -1};
    struct apir_region_ops ops = {apir_hostd_region_map, apir_hostd_region_unmap, &hc};
    apir_session_set_region_ops(s, &ops);
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    while (s && apir_read_request(fd, &buf, &cap, &len, &hc.passed_fd)) {
        const uint8_t *rep;
        size_t rep_len;
        apir_session_dispatch(s, buf, len, &rep, &rep_len);
        if (hc.passed_fd >= 0) { /* came with a request that did not take it */
            close(hc.passed_fd);
            hc.passed_fd = -1;
        }
        if (!apir_fd_write_all(fd, rep, rep_len))
            break;
    }
    if (hc.passed_fd >= 0)
        close(hc.passed_fd);
    free(buf);
    apir_session_destroy(s);
    apir_host_destroy(host);
    return 0;
}
