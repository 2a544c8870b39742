/* A guest that connects, says HELLO and then holds its session idle for N seconds: a
 * session that stays open however fast the machine is, for tests of the session caps.
 *   idle_client SOCKET SECONDS            HELLO, then idle
 *   idle_client SOCKET SECONDS partial    then half a request header, and a stall
 *   idle_client SOCKET SECONDS mute       never says HELLO at all
 *   idle_client SOCKET SECONDS hold       then allocates a buffer of device 0, and idles
 *   idle_client SOCKET SECONDS many N     N connections from this one process, each HELLO
 * It prints "idle_client: connected" (many: "idle_client: K of N connected") once its
 * session(s) are served, and "idle_client: closed by the host" if the host ends an idle
 * session before SECONDS are over. */
#include "proto/codec.h"
#include "proto/wire.h"
#include "sock/fdio.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int client_connect(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One request; its reply payload (at most cap bytes) in out. The reply status, or -1. */
static int client_call(int fd, uint16_t cmd, const void *payload, uint32_t len, void *out,
                       uint32_t cap)
{
    uint8_t msg[APIR_HDR_SIZE + 64], rep[APIR_HDR_SIZE + 4096];
    struct apir_req_hdr h = {APIR_MAGIC_REQ, cmd, 0, 1, len};
    struct apir_rep_hdr rh;
    apir_req_hdr_encode(msg, &h);
    memcpy(msg + APIR_HDR_SIZE, payload, len);
    if (!apir_fd_write_all(fd, msg, APIR_HDR_SIZE + len) ||
        !apir_fd_read_all(fd, rep, APIR_HDR_SIZE) || !apir_rep_hdr_decode(rep, &rh) ||
        rh.len > 4096 || !apir_fd_read_all(fd, rep + APIR_HDR_SIZE, rh.len))
        return -1;
    memcpy(out, rep + APIR_HDR_SIZE, rh.len < cap ? rh.len : cap);
    return rh.status;
}

static bool client_hello(int fd)
{
    uint32_t v[4] = {APIR_PROTO_MAJOR, APIR_PROTO_MINOR, 0, 0};
    uint8_t out[64];
    return client_call(fd, APIR_CMD_HELLO, v, sizeof v, out, sizeof out) == APIR_OK;
}

/* A 4 KiB buffer of device 0's buffer type: the session then holds something. */
static bool client_hold(int fd)
{
    uint32_t dev = 0;
    uint64_t info[2], alloc[2], handle = 0;
    if (client_call(fd, APIR_CMD_DEVICE_INFO, &dev, sizeof dev, info, sizeof info) != APIR_OK)
        return false;
    alloc[0] = info[1], alloc[1] = 4096;
    return client_call(fd, APIR_CMD_BUFFER_ALLOC, alloc, sizeof alloc, &handle, sizeof handle) ==
               APIR_OK &&
           handle != 0;
}

/* Sleeps up to `seconds`; says so if the host ends the session first (EOF on the socket). */
static void client_idle(int fd, int seconds)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char c;
    if (poll(&p, 1, seconds * 1000) > 0 && recv(fd, &c, 1, 0) <= 0) {
        printf("idle_client: closed by the host\n");
        fflush(stdout);
    }
}

static int client_many(const char *path, int seconds, int n)
{
    int fds[64], served = 0;
    for (int i = 0; i < n && i < 64; i++) {
        fds[i] = client_connect(path);
        served += fds[i] >= 0 && client_hello(fds[i]);
    }
    printf("idle_client: %d of %d connected\n", served, n);
    fflush(stdout);
    sleep((unsigned)seconds);
    return 0;
}

int main(int argc, char **argv)
{
    struct sockaddr_un addr;
    if (argc < 3 || strlen(argv[1]) >= sizeof addr.sun_path)
        return 2;
    const char *mode = argc > 3 ? argv[3] : "";
    int seconds = atoi(argv[2]);
    if (strcmp(mode, "many") == 0)
        return argc > 4 ? client_many(argv[1], seconds, atoi(argv[4])) : 2;
    int fd = client_connect(argv[1]);
    if (fd < 0)
        return 2;
    if (strcmp(mode, "mute") == 0) {
        printf("idle_client: connected\n");
        fflush(stdout);
        sleep((unsigned)seconds);
        return 0;
    }
    if (!client_hello(fd) || (strcmp(mode, "hold") == 0 && !client_hold(fd)))
        return 1;
    printf("idle_client: connected\n");
    fflush(stdout);
    if (strcmp(mode, "partial") == 0) {
        uint8_t half[8] = {0};
        struct apir_req_hdr h = {APIR_MAGIC_REQ, APIR_CMD_HELLO, 0, 1, 16};
        uint8_t full[APIR_HDR_SIZE];
        apir_req_hdr_encode(full, &h);
        memcpy(half, full, sizeof half);
        if (!apir_fd_write_all(fd, half, sizeof half))
            return 1;
        sleep((unsigned)seconds);
        return 0;
    }
    client_idle(fd, seconds);
    close(fd);
    return 0;
}
