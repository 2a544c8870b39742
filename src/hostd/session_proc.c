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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Reads one request message into *buf (grown as needed). False on EOF, error, or a header
 * that is not ours: such a peer is not a guest and the connection ends. */
static bool apir_read_request(int fd, uint8_t **buf, size_t *cap, size_t *len)
{
    uint8_t hb[APIR_HDR_SIZE];
    struct apir_req_hdr h;
    if (!apir_fd_read_all(fd, hb, sizeof hb) || !apir_req_hdr_decode(hb, &h))
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
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    while (s && apir_read_request(fd, &buf, &cap, &len)) {
        const uint8_t *rep;
        size_t rep_len;
        apir_session_dispatch(s, buf, len, &rep, &rep_len);
        if (!apir_fd_write_all(fd, rep, rep_len))
            break;
    }
    free(buf);
    apir_session_destroy(s);
    apir_host_destroy(host);
    return 0;
}
