/* The op-answer cache: exact keys (the op's wire encoding), linear probing on a 64-bit hash.
 * Bounded: past the cap it stops caching and every miss asks the host, which is only slower. */
#include "guest.h"

#include <stdlib.h>
#include <string.h>

#define APIR_OP_CACHE_MAX 65536u

static uint64_t apir_fnv1a(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h ? h : 1;
}

static struct apir_op_cache_entry *apir_op_cache_find(struct apir_op_cache *c, uint64_t h,
                                                      const void *key, size_t len)
{
    if (!c->cap)
        return NULL;
    for (size_t i = h & (c->cap - 1);; i = (i + 1) & (c->cap - 1)) {
        struct apir_op_cache_entry *e = &c->e[i];
        if (!e->hash)
            return e;
        if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0)
            return e;
    }
}

bool apir_op_cache_get(struct apir_op_cache *c, const void *key, size_t len, uint64_t *value)
{
    uint64_t h = apir_fnv1a(key, len);
    pthread_mutex_lock(&c->lock);
    struct apir_op_cache_entry *e = apir_op_cache_find(c, h, key, len);
    bool hit = e && e->hash;
    if (hit)
        *value = e->value;
    pthread_mutex_unlock(&c->lock);
    return hit;
}

static bool apir_op_cache_grow(struct apir_op_cache *c)
{
    size_t cap = c->cap ? c->cap * 2 : 256;
    struct apir_op_cache_entry *ne = calloc(cap, sizeof *ne), *old = c->e;
    if (!ne)
        return false;
    size_t old_cap = c->cap;
    c->e = ne;
    c->cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].hash)
            *apir_op_cache_find(c, old[i].hash, old[i].key, old[i].len) = old[i];
    }
    free(old);
    return true;
}

void apir_op_cache_put(struct apir_op_cache *c, const void *key, size_t len, uint64_t value)
{
    uint64_t h = apir_fnv1a(key, len);
    pthread_mutex_lock(&c->lock);
    if (c->n < APIR_OP_CACHE_MAX && ((c->n + 1) * 2 <= c->cap || apir_op_cache_grow(c))) {
        struct apir_op_cache_entry *e = apir_op_cache_find(c, h, key, len);
        uint8_t *k = e->hash ? e->key : malloc(len ? len : 1);
        if (k) {
            if (!e->hash) {
                memcpy(k, key, len);
                c->n++;
            }
            *e = (struct apir_op_cache_entry){h, (uint32_t)len, k, value};
        }
    }
    pthread_mutex_unlock(&c->lock);
}

void apir_op_cache_free(struct apir_op_cache *c)
{
    for (size_t i = 0; i < c->cap; i++)
        free(c->e[i].key);
    free(c->e);
    c->e = NULL;
    c->n = c->cap = 0;
}
