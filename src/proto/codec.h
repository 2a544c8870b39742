/* Bounds-checked reader and writer for the wire protocol.
 *
 * Modelled on a sticky-error decoder: the first failed read or write sets `err`, every later
 * call is a no-op that yields zeros, so callers check once at the end instead of after every
 * field, and nothing decoded from a failed message is ever acted upon. */
#ifndef APIR_CODEC_H
#define APIR_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct apir_reader {
    const uint8_t *cur;
    const uint8_t *end;
    bool err;
};

struct apir_writer {
    uint8_t *buf;
    size_t len;
    size_t cap;
    size_t max; /* hard limit: growing past it is an error */
    bool err;
};

void apir_reader_init(struct apir_reader *r, const void *data, size_t len);
uint8_t apir_read_u8(struct apir_reader *r);
uint32_t apir_read_u32(struct apir_reader *r);
uint64_t apir_read_u64(struct apir_reader *r);
int32_t apir_read_i32(struct apir_reader *r);
int64_t apir_read_i64(struct apir_reader *r);
/* Copies len bytes out; on failure dst is zeroed. */
void apir_read_raw(struct apir_reader *r, void *dst, size_t len);
/* Returns a pointer into the message (valid while the message is) or NULL on failure. */
const void *apir_read_view(struct apir_reader *r, size_t len);
/* A u64 length then that many bytes, capped at max. */
const void *apir_read_blob(struct apir_reader *r, size_t max, size_t *len);
/* A u8 length then bytes, copied into dst[cap] and NUL-terminated. */
void apir_read_str(struct apir_reader *r, char *dst, size_t cap);
/* True when the reader consumed exactly all bytes without error: requests must decode exactly. */
bool apir_reader_done(const struct apir_reader *r);
size_t apir_reader_left(const struct apir_reader *r);

void apir_writer_init(struct apir_writer *w, size_t max);
void apir_writer_free(struct apir_writer *w);
void apir_writer_reset(struct apir_writer *w);
void apir_write_u8(struct apir_writer *w, uint8_t v);
void apir_write_u32(struct apir_writer *w, uint32_t v);
void apir_write_u64(struct apir_writer *w, uint64_t v);
void apir_write_i32(struct apir_writer *w, int32_t v);
void apir_write_i64(struct apir_writer *w, int64_t v);
void apir_write_raw(struct apir_writer *w, const void *src, size_t len);
void apir_write_blob(struct apir_writer *w, const void *src, size_t len);
void apir_write_str(struct apir_writer *w, const char *s);
/* Reserves len bytes and returns where to fill them, or NULL (sticky error). */
void *apir_write_reserve(struct apir_writer *w, size_t len);

#endif
