/* Bounds-checked codec: see codec.h for the sticky-error contract. */
#include "codec.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the wire is little-endian; add swaps");

/* What an empty reader points at: a message without payload may come as (NULL, 0), and
 * arithmetic on a null pointer, even adding 0, is undefined. */
static const uint8_t apir_reader_nothing[1];

void apir_reader_init(struct apir_reader *r, const void *data, size_t len)
{
    r->err = data == NULL && len != 0;
    r->cur = data && !r->err ? data : apir_reader_nothing;
    r->end = data && !r->err ? r->cur + len : r->cur;
}

/* Every read goes through here: the only place that compares against the end. */
static const uint8_t *apir_reader_take(struct apir_reader *r, size_t len)
{
    if (r->err || len > (size_t)(r->end - r->cur)) {
        r->err = true;
        return NULL;
    }
    const uint8_t *p = r->cur;
    r->cur += len;
    return p;
}

void apir_read_raw(struct apir_reader *r, void *dst, size_t len)
{
    const uint8_t *p = apir_reader_take(r, len);
    if (len == 0) /* dst may be NULL then, which memcpy may not be given */
        return;
    if (p)
        memcpy(dst, p, len);
    else
        memset(dst, 0, len);
}

uint8_t apir_read_u8(struct apir_reader *r)
{
    uint8_t v;
    apir_read_raw(r, &v, sizeof v);
    return v;
}

uint32_t apir_read_u32(struct apir_reader *r)
{
    uint32_t v;
    apir_read_raw(r, &v, sizeof v);
    return v;
}

uint64_t apir_read_u64(struct apir_reader *r)
{
    uint64_t v;
    apir_read_raw(r, &v, sizeof v);
    return v;
}

int32_t apir_read_i32(struct apir_reader *r)
{
    return (int32_t)apir_read_u32(r);
}

int64_t apir_read_i64(struct apir_reader *r)
{
    return (int64_t)apir_read_u64(r);
}

const void *apir_read_view(struct apir_reader *r, size_t len)
{
    return apir_reader_take(r, len);
}

const void *apir_read_blob(struct apir_reader *r, size_t max, size_t *len)
{
    uint64_t n = apir_read_u64(r);
    if (n > max)
        r->err = true;
    const void *p = apir_reader_take(r, r->err ? 0 : (size_t)n);
    *len = r->err ? 0 : (size_t)n;
    return r->err ? NULL : p;
}

void apir_read_str(struct apir_reader *r, char *dst, size_t cap)
{
    size_t n = apir_read_u8(r);
    if (n >= cap)
        r->err = true;
    const uint8_t *p = apir_reader_take(r, r->err ? 0 : n);
    if (r->err || !p) {
        if (cap)
            dst[0] = '\0';
        return;
    }
    memcpy(dst, p, n);
    dst[n] = '\0';
}

bool apir_reader_done(const struct apir_reader *r)
{
    return !r->err && r->cur == r->end;
}

size_t apir_reader_left(const struct apir_reader *r)
{
    return r->err ? 0 : (size_t)(r->end - r->cur);
}

void apir_writer_init(struct apir_writer *w, size_t max)
{
    memset(w, 0, sizeof *w);
    w->max = max;
}

void apir_writer_free(struct apir_writer *w)
{
    free(w->buf);
    memset(w, 0, sizeof *w);
}

void apir_writer_reset(struct apir_writer *w)
{
    w->len = 0;
    w->err = false;
}

void *apir_write_reserve(struct apir_writer *w, size_t len)
{
    if (w->err || len > w->max || w->len > w->max - len) {
        w->err = true;
        return NULL;
    }
    /* A first reservation allocates even for 0 bytes: no pointer is ever formed from NULL. */
    if (w->len + len > w->cap || !w->buf) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + len)
            cap = cap > w->max / 2 ? w->max : cap * 2;
        uint8_t *nb = realloc(w->buf, cap);
        if (!nb) {
            w->err = true;
            return NULL;
        }
        w->buf = nb;
        w->cap = cap;
    }
    void *p = w->buf + w->len;
    w->len += len;
    return p;
}

void apir_write_raw(struct apir_writer *w, const void *src, size_t len)
{
    void *p = apir_write_reserve(w, len);
    if (p && len)
        memcpy(p, src, len);
}

void apir_write_u8(struct apir_writer *w, uint8_t v)
{
    apir_write_raw(w, &v, sizeof v);
}

void apir_write_u32(struct apir_writer *w, uint32_t v)
{
    apir_write_raw(w, &v, sizeof v);
}

void apir_write_u64(struct apir_writer *w, uint64_t v)
{
    apir_write_raw(w, &v, sizeof v);
}

void apir_write_i32(struct apir_writer *w, int32_t v)
{
    apir_write_u32(w, (uint32_t)v);
}

void apir_write_i64(struct apir_writer *w, int64_t v)
{
    apir_write_u64(w, (uint64_t)v);
}

void apir_write_blob(struct apir_writer *w, const void *src, size_t len)
{
    apir_write_u64(w, len);
    apir_write_raw(w, src, len);
}

void apir_write_str(struct apir_writer *w, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > 255)
        n = 255;
    apir_write_u8(w, (uint8_t)n);
    apir_write_raw(w, s, n);
}
