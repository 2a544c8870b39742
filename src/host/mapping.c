/* apir_mapping_covers: the blob a guest names must really be as large as it claims, or the
 * host would read and write past it. Linux reports mappings in /proc/self/maps; a blob is one
 * mapping of its own file (mappings of different files never merge), so the mapping that
 * starts at the blob's pointer is the blob. Other platforms answer false until they have a
 * query of their own (docs/deploy.md). */
#include "mapping.h"

#include <inttypes.h>
#include <stdio.h>

#ifdef __linux__
bool apir_mapping_covers(const void *ptr, uint64_t size)
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
#else
bool apir_mapping_covers(const void *ptr, uint64_t size)
{
    (void)ptr, (void)size;
    return false;
}
#endif
