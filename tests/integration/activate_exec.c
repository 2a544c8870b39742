/* What a service manager does for socket activation (sd_listen_fds(3)), for tests on hosts
 * without systemd: bind a unix socket at PATH, put it at fd 3, set LISTEN_PID/LISTEN_FDS,
 * and exec the command. Modes make the hand-over wrong in the ways the daemon must notice:
 *
 *   activate_exec ok|other-pid|not-listening|two PATH CMD [ARGS...]
 *
 * ok: a listening socket for this process. other-pid: the same, but LISTEN_PID names another
 * process (the variables were inherited, not meant for us). not-listening: bound, never
 * listen()ed. two: LISTEN_FDS=2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int apir_activate_bind(const char *path, int listening)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path)
        return -1;
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    mode_t old = umask(0177);
    int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&addr, sizeof addr);
    umask(old);
    if (rc != 0 || (listening && listen(fd, 16) != 0))
        return -1;
    return fd;
}

/* Moves fd to want (fds below it are the standard streams, already taken). */
static int apir_activate_place(int fd, int want)
{
    if (fd == want)
        return 0;
    if (dup2(fd, want) != want)
        return -1;
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: activate_exec ok|other-pid|not-listening|two PATH CMD [ARGS...]\n");
        return 2;
    }
    const char *mode = argv[1], *path = argv[2];
    int fd = apir_activate_bind(path, strcmp(mode, "not-listening") != 0);
    if (fd < 0 || apir_activate_place(fd, 3) != 0) {
        perror("activate_exec: socket");
        return 1;
    }
    int n = 1;
    if (!strcmp(mode, "two")) {
        int second = socket(AF_UNIX, SOCK_STREAM, 0);
        if (second < 0 || apir_activate_place(second, 4) != 0)
            return 1;
        n = 2;
    }
    char pid[32], fds[16];
    snprintf(pid, sizeof pid, "%ld",
             (long)(!strcmp(mode, "other-pid") ? getppid() : getpid())); /* exec keeps the pid */
    snprintf(fds, sizeof fds, "%d", n);
    setenv("LISTEN_PID", pid, 1);
    setenv("LISTEN_FDS", fds, 1);
    execvp(argv[3], argv + 3);
    perror("activate_exec: exec");
    return 127;
}
