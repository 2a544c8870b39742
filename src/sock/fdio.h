/* Whole-buffer socket I/O, shared by the guest's transports and apir-hostd. */
#ifndef APIR_FDIO_H
#define APIR_FDIO_H

#include <stdbool.h>
#include <stddef.h>

/* Loop until all len bytes moved; false on EOF or error (EINTR is retried). */
bool apir_fd_read_all(int fd, void *buf, size_t len);
bool apir_fd_write_all(int fd, const void *buf, size_t len);
/* write_all that passes pass_fd (>= 0) with the first byte (SCM_RIGHTS). */
bool apir_fd_write_with_fd(int fd, const void *buf, size_t len, int pass_fd);
/* read_all that also receives a descriptor passed with the data: *got_fd is the first one
 * (close-on-exec) or -1; extra ones are closed. On failure nothing stays open. */
bool apir_fd_read_with_fd(int fd, void *buf, size_t len, int *got_fd);

#endif
