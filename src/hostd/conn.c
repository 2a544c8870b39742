/* One guest connection inside its session process (conn.h): what both of its ways in, the
 * socket loop (session_proc.c) and the ring thread (ring_serve.c), do with a request. Below
 * both, so that the ring thread never calls back into the loop that started it. */
#include "conn.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void *apir_hostd_map_sealed(int fd, uint64_t size)
{
    struct stat st;
    int seals = fcntl(fd, F_GET_SEALS);
    void *p = NULL;
    if (size > 0 && seals >= 0 && (seals & F_SEAL_SHRINK) && fstat(fd, &st) == 0 &&
        S_ISREG(st.st_mode) && (uint64_t)st.st_size >= size && size <= SIZE_MAX) {
        p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
            p = NULL;
    }
    close(fd);
    return p;
}

long long apir_hostd_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void apir_hostd_dispatch(struct apir_hostd_conn *hc, const void *req, size_t len,
                         const uint8_t **rep, size_t *rep_len)
{
    apir_session_dispatch(hc->session, req, len, rep, rep_len);
    atomic_store(&hc->last_request_ms, apir_hostd_now_ms());
    if (hc->passed_fd >= 0) { /* came with a request that did not take it */
        close(hc->passed_fd);
        hc->passed_fd = -1;
    }
}
