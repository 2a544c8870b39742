/* A listener that accepts connections and never answers: what a guest meets when something
 * other than apir-hostd (or a hung one) sits on the socket. Exits after `seconds`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (argc != 3 || strlen(argv[1]) >= sizeof addr.sun_path)
        return 2;
    strcpy(addr.sun_path, argv[1]);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    unlink(argv[1]);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 4) != 0)
        return 2;
    time_t end = time(NULL) + atoi(argv[2]);
    while (time(NULL) < end) {
        int c = accept(fd, NULL, NULL); /* held open, never read or written */
        (void)c;
    }
    return 0;
}
