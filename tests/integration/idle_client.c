/* A guest that connects, says HELLO and then holds its session idle for N seconds: a
 * session that stays open however fast the machine is, for tests of the session cap.
 * With a third argument "partial", it then sends half a request header and stalls; with
 * "mute", it never says HELLO at all. */
#include "proto/wire.h"
#include "sock/fdio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (argc < 3 || strlen(argv[1]) >= sizeof addr.sun_path)
        return 2;
    strcpy(addr.sun_path, argv[1]);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0)
        return 2;
    if (argc > 3 && strcmp(argv[3], "mute") == 0) {
        printf("idle_client: connected\n");
        fflush(stdout);
        sleep((unsigned)atoi(argv[2]));
        return 0;
    }
    uint8_t msg[APIR_HDR_SIZE + 16] = {0};
    struct apir_req_hdr h = {APIR_MAGIC_REQ, APIR_CMD_HELLO, 0, 1, 16};
    apir_req_hdr_encode(msg, &h);
    uint32_t v[2] = {APIR_PROTO_MAJOR, APIR_PROTO_MINOR};
    memcpy(msg + APIR_HDR_SIZE, v, sizeof v);
    uint8_t rep[APIR_HDR_SIZE + 64];
    struct apir_rep_hdr rh;
    if (!apir_fd_write_all(fd, msg, sizeof msg) || !apir_fd_read_all(fd, rep, APIR_HDR_SIZE) ||
        !apir_rep_hdr_decode(rep, &rh) || rh.status != APIR_OK || rh.len > 64 ||
        !apir_fd_read_all(fd, rep + APIR_HDR_SIZE, rh.len))
        return 1;
    printf("idle_client: connected\n");
    fflush(stdout);
    if (argc > 3 && strcmp(argv[3], "partial") == 0 && !apir_fd_write_all(fd, msg, 8))
        return 1;
    sleep((unsigned)atoi(argv[2]));
    close(fd);
    return 0;
}
