/* TEST DOUBLE: a host of another protocol major version, for apir-info's version-mismatch
 * diagnosis (no such host exists to run: there is only protocol 1). It listens on PATH for
 * SECONDS and answers each connection's HELLO the way a host of another major would:
 *   refuse: status APIR_E_VERSION, no payload (what libapir-host does for a major it does not
 *           speak, src/host/session.c);
 *   2.0:    status OK with major 2, minor 0 (a host that answers with its own version).
 * The guest's own code then decides what to say; nothing here imitates the guest. */
#include "apir/protocol.h"
#include "proto/codec.h"
#include "sock/fdio.h"
#include "proto/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void version_server_answer(int c, bool refuse)
{
    uint8_t hb[APIR_HDR_SIZE], payload[64];
    struct apir_req_hdr h;
    if (!apir_fd_read_all(c, hb, sizeof hb) || !apir_req_hdr_decode(hb, &h) ||
        h.len > sizeof payload || !apir_fd_read_all(c, payload, h.len))
        return;
    struct apir_writer w;
    apir_writer_init(&w, 256);
    apir_write_reserve(&w, APIR_HDR_SIZE);
    if (!refuse) {
        apir_write_u32(&w, 2);
        apir_write_u32(&w, 0);
        apir_write_u64(&w, 0);
        apir_write_u32(&w, 1);
    }
    struct apir_rep_hdr rh = {APIR_MAGIC_REP, refuse ? APIR_E_VERSION : APIR_OK, h.seq,
                              (uint32_t)(w.len - APIR_HDR_SIZE)};
    apir_rep_hdr_encode(w.buf, &rh);
    apir_fd_write_all(c, w.buf, w.len);
    apir_writer_free(&w);
}

int main(int argc, char **argv)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (argc != 4 || strlen(argv[1]) >= sizeof addr.sun_path ||
        (strcmp(argv[2], "refuse") && strcmp(argv[2], "2.0")))
        return 2;
    strcpy(addr.sun_path, argv[1]);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    unlink(argv[1]);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 4) != 0)
        return 2;
    /* accept blocks: the alarm ends the process on time even if nobody connects again. */
    alarm((unsigned)atoi(argv[3]));
    for (;;) {
        int c = accept(fd, NULL, NULL);
        if (c < 0)
            continue;
        version_server_answer(c, strcmp(argv[2], "refuse") == 0);
        close(c);
    }
}
