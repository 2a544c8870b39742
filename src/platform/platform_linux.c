/* Linux: mappings are listed in /proc/self/maps. A blob is one mapping of its own file
 * (mappings of different files never merge), so the mapping that starts at the blob's pointer
 * is the blob. Timer slack is per thread (PR_SET_TIMERSLACK). */
#include "platform.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>

/* The length of the mapping that starts at ptr and whether it is shared; false when none
 * starts there. */
static bool apir_linux_mapping_at(const void *ptr, uint64_t *len, bool *shared)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return false;
    uintptr_t want = (uintptr_t)ptr;
    bool found = false;
    char line[4608]; /* a path is at most 4096 bytes: one line per read */
    while (fgets(line, sizeof line, f)) {
        uintptr_t start, end;
        char perms[8];
        if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s", &start, &end, perms) != 3 ||
            start != want)
            continue;
        found = end > start;
        *len = (uint64_t)(end - start);
        *shared = strlen(perms) == 4 && perms[3] == 's';
        break;
    }
    fclose(f);
    return found;
}

bool apir_platform_mapping_covers(const void *ptr, uint64_t size)
{
    uint64_t len;
    bool shared;
    return apir_linux_mapping_at(ptr, &len, &shared) && size <= len;
}

/* mremap with an old size of 0 maps the same pages of a shared mapping a second time (the
 * documented "duplicate a shared area" form): the new mapping holds its own reference to the
 * file, so the lender's munmap and close leave it whole. */
void *apir_platform_mapping_hold(const void *ptr, uint64_t size)
{
    uint64_t len;
    bool shared;
    if (size == 0 || size > SIZE_MAX || !apir_linux_mapping_at(ptr, &len, &shared) || !shared ||
        size > len)
        return NULL;
    void *hold = mremap((void *)ptr, 0, (size_t)size, MREMAP_MAYMOVE);
    return hold == MAP_FAILED ? NULL : hold;
}

void apir_platform_mapping_release(void *hold, uint64_t size)
{
    if (hold)
        munmap(hold, (size_t)size);
}

void apir_platform_thread_narrow_timer_slack(void)
{
    prctl(PR_SET_TIMERSLACK, 1000ul);
}
