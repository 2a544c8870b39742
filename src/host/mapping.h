/* Asking the process's own address space whether memory is there: for transports that hand
 * the host a pointer without a size (virglrenderer's get_shmem_ptr). */
#ifndef APIR_HOST_MAPPING_H
#define APIR_HOST_MAPPING_H

#include <stdbool.h>
#include <stdint.h>

/* True when one mapping starts at ptr and spans at least size bytes. Where the platform cannot
 * say, false: memory that is not proven there is not used. */
bool apir_mapping_covers(const void *ptr, uint64_t size);

#endif
