/* Linux: mappings are listed in /proc/self/maps. A blob is one mapping of its own file
 * (mappings of different files never merge), so the mapping that starts at the blob's pointer
 * is the blob. Timer slack is per thread (PR_SET_TIMERSLACK). */
#include "platform.h"

#include <inttypes.h>
#include <stdio.h>
#include <sys/prctl.h>

bool apir_platform_mapping_covers(const void *ptr, uint64_t size)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return false;
    uintptr_t want = (uintptr_t)ptr;
    bool ok = false;
    char line[4608]; /* a path is at most 4096 bytes: one line per read */
    while (fgets(line, sizeof line, f)) {
        uintptr_t start, end;
        if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR, &start, &end) != 2 || start != want)
            continue;
        ok = end > start && size <= (uint64_t)(end - start);
        break;
    }
    fclose(f);
    return ok;
}

void apir_platform_thread_narrow_timer_slack(void)
{
    prctl(PR_SET_TIMERSLACK, 1000ul);
}
