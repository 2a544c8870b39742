/* Any other platform: no way to ask the address space is known here, so no pointer without a
 * size is trusted (virglrenderer's blob regions are refused, messages still work). */
#include "platform.h"

bool apir_platform_mapping_covers(const void *ptr, uint64_t size)
{
    (void)ptr, (void)size;
    return false;
}

void apir_platform_thread_narrow_timer_slack(void)
{
}

void *apir_platform_mapping_hold(const void *ptr, uint64_t size)
{
    (void)ptr, (void)size;
    return 0;
}

void apir_platform_mapping_release(void *hold, uint64_t size)
{
    (void)hold, (void)size;
}
