/* One guest connection inside its session process (conn.h): what both of its ways in, the
 * socket loop (session_proc.c) and the ring thread (ring_serve.c), do with a request. Below
 * both, so that the ring thread never calls back into the loop that started it. */
#include "conn.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static bool apir_hostd_mapped(const struct apir_hostd_conn *hc, const struct stat *st)
{
    for (size_t i = 0; i < hc->n_maps; i++)
        if (hc->maps[i].dev == (uint64_t)st->st_dev && hc->maps[i].ino == (uint64_t)st->st_ino)
            return true;
    return false;
}

void *apir_hostd_map_sealed(struct apir_hostd_conn *hc, int fd, uint64_t size)
{
    struct stat st;
    int seals = fcntl(fd, F_GET_SEALS);
    void *p = NULL;
    struct apir_hostd_mapping *grown = NULL;
    if (size > 0 && seals >= 0 && (seals & F_SEAL_SHRINK) && fstat(fd, &st) == 0 &&
        S_ISREG(st.st_mode) && (uint64_t)st.st_size >= size && size <= SIZE_MAX &&
        !apir_hostd_mapped(hc, &st) &&
        (grown = realloc(hc->maps, (hc->n_maps + 1) * sizeof *grown)) != NULL) {
        hc->maps = grown;
        p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
            p = NULL;
        else
            hc->maps[hc->n_maps++] = (struct apir_hostd_mapping){st.st_dev, st.st_ino, p};
    }
    close(fd);
    return p;
}

void apir_hostd_unmap_sealed(struct apir_hostd_conn *hc, void *map, uint64_t size)
{
    if (!map)
        return;
    for (size_t i = 0; i < hc->n_maps; i++)
        if (hc->maps[i].map == map) {
            hc->maps[i] = hc->maps[--hc->n_maps];
            break;
        }
    munmap(map, (size_t)size);
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
