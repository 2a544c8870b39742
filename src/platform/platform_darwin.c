/* macOS: the kernel's VM map is asked with mach_vm_region, which returns the region that
 * contains the address (or the next one above it). A blob resource is one memory object
 * mapped on its own, so the region that starts at the blob's pointer is the blob.
 * NOT BUILT OR RUN IN THIS PROJECT'S CI (Linux only): written against Apple's documented
 * mach_vm_region interface; see docs/deploy.md. */
#include "platform.h"

#include <mach/mach.h>
#include <mach/mach_vm.h>

bool apir_platform_mapping_covers(const void *ptr, uint64_t size)
{
    mach_vm_address_t addr = (mach_vm_address_t)(uintptr_t)ptr;
    mach_vm_size_t len = 0;
    vm_region_basic_info_data_64_t info;
    mach_msg_type_number_t count = VM_REGION_BASIC_INFO_COUNT_64;
    mach_port_t object = MACH_PORT_NULL;
    kern_return_t kr = mach_vm_region(mach_task_self(), &addr, &len, VM_REGION_BASIC_INFO_64,
                                      (vm_region_info_t)&info, &count, &object);
    if (object != MACH_PORT_NULL)
        mach_port_deallocate(mach_task_self(), object);
    return kr == KERN_SUCCESS && addr == (mach_vm_address_t)(uintptr_t)ptr && len > 0 &&
           size <= (uint64_t)len;
}

/* macOS has no per-thread timer slack control: its timers are not coalesced for a thread
 * that sleeps this briefly. */
void apir_platform_thread_narrow_timer_slack(void)
{
}

/* mach_vm_remap without copy maps the same memory object a second time, holding its own
 * reference: virglrenderer's munmap of the blob leaves this mapping whole. The region must
 * be the one that starts at ptr and spans size bytes, as on Linux. */
void *apir_platform_mapping_hold(const void *ptr, uint64_t size)
{
    if (size == 0 || !apir_platform_mapping_covers(ptr, size))
        return NULL;
    mach_vm_address_t hold = 0;
    vm_prot_t cur = VM_PROT_NONE, max = VM_PROT_NONE;
    kern_return_t kr = mach_vm_remap(
        mach_task_self(), &hold, (mach_vm_size_t)size, 0, VM_FLAGS_ANYWHERE, mach_task_self(),
        (mach_vm_address_t)(uintptr_t)ptr, FALSE, &cur, &max, VM_INHERIT_NONE);
    if (kr != KERN_SUCCESS)
        return NULL;
    if ((cur & (VM_PROT_READ | VM_PROT_WRITE)) != (VM_PROT_READ | VM_PROT_WRITE)) {
        mach_vm_deallocate(mach_task_self(), hold, (mach_vm_size_t)size);
        return NULL;
    }
    return (void *)(uintptr_t)hold;
}

void apir_platform_mapping_release(void *hold, uint64_t size)
{
    if (hold)
        mach_vm_deallocate(mach_task_self(), (mach_vm_address_t)(uintptr_t)hold,
                           (mach_vm_size_t)size);
}
