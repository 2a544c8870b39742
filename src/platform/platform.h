/* What the host library needs from the operating system beyond POSIX, behind one interface:
 * src/host and src/proto stay portable (macOS with Metal through krunkit is a main
 * deployment), and each platform's file answers for itself. CMake links the one for the
 * target: platform_linux.c, platform_darwin.c, else platform_other.c. */
#ifndef APIR_PLATFORM_H
#define APIR_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>

/* True when one mapping starts at ptr and spans at least size bytes: for transports that hand
 * the host a pointer without a size (virglrenderer's get_shmem_ptr). Where the platform cannot
 * say, false: memory that is not proven there is not used. */
bool apir_platform_mapping_covers(const void *ptr, uint64_t size);

/* Our own mapping of the memory that a shared mapping starting at ptr holds, size bytes of it
 * (the same pages, at an address of our own), or NULL when no such mapping starts at ptr,
 * spans size bytes and can be mapped again. A transport that lends the host a pointer into
 * memory the guest can make it release (virglrenderer munmaps a blob the guest destroys, and
 * tells nobody) gets a hold that outlives the lender's mapping: the pages stay until
 * apir_platform_mapping_release(hold, size), and the address never comes to hold anything
 * else. Where the platform cannot do that, NULL: such memory is not used across calls. */
void *apir_platform_mapping_hold(const void *ptr, uint64_t size);
void apir_platform_mapping_release(void *hold, uint64_t size);

/* Asks that the calling thread's short sleeps last as long as asked, not the scheduler's
 * default slack (50 us on Linux): the ring threads nap in steps of tens of microseconds.
 * Best effort: a no-op where there is no such control. */
void apir_platform_thread_narrow_timer_slack(void);

#endif
