/* Handle tables: see handles.h. */
#include "handles.h"

#include <stdlib.h>
#include <string.h>

#define APIR_GEN_BITS 20u
#define APIR_GEN_MASK ((1u << APIR_GEN_BITS) - 1)

static uint64_t apir_handle_pack(uint16_t tag, uint8_t type, uint32_t gen, uint32_t slot)
{
    return ((uint64_t)tag << 48) | ((uint64_t)(type & 0xf) << 44) |
           ((uint64_t)(gen & APIR_GEN_MASK) << 24) | (uint64_t)(slot + 1);
}

void apir_handles_init(struct apir_handle_table *t, uint16_t tag, uint32_t max_live)
{
    memset(t, 0, sizeof *t);
    t->tag = tag;
    t->max_live = max_live ? max_live : APIR_HANDLE_MAX_SLOTS - 1;
}

void apir_handles_fini(struct apir_handle_table *t)
{
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static bool apir_handles_grow(struct apir_handle_table *t)
{
    uint32_t n = t->n_slots ? t->n_slots * 2 : 64;
    if (n > APIR_HANDLE_MAX_SLOTS - 1)
        n = APIR_HANDLE_MAX_SLOTS - 1;
    if (n <= t->n_slots)
        return false;
    struct apir_handle_slot *s = realloc(t->slots, (size_t)n * sizeof *s);
    if (!s)
        return false;
    memset(s + t->n_slots, 0, (size_t)(n - t->n_slots) * sizeof *s);
    t->slots = s;
    t->n_slots = n;
    return true;
}

uint64_t apir_handles_add(struct apir_handle_table *t, enum apir_obj_type type, void *obj)
{
    if (type <= APIR_OBJ_NONE || type >= APIR_OBJ_TYPE_COUNT || !obj || t->n_live >= t->max_live)
        return 0;
    uint32_t i = t->free_hint;
    while (i < t->n_slots && t->slots[i].type != APIR_OBJ_NONE)
        i++;
    if (i >= t->n_slots) {
        i = t->n_slots;
        if (!apir_handles_grow(t))
            return 0;
    }
    struct apir_handle_slot *s = &t->slots[i];
    s->obj = obj;
    s->type = (uint8_t)type;
    t->n_live++;
    t->free_hint = i + 1;
    return apir_handle_pack(t->tag, s->type, s->gen, i);
}

static struct apir_handle_slot *apir_handles_find(const struct apir_handle_table *t, uint64_t h,
                                                  enum apir_obj_type type)
{
    uint32_t slot1 = (uint32_t)(h & 0xffffff);
    if (h == 0 || slot1 == 0 || slot1 > t->n_slots)
        return NULL;
    struct apir_handle_slot *s = &t->slots[slot1 - 1];
    if (s->type == APIR_OBJ_NONE || s->type != type)
        return NULL;
    /* Exact re-pack: tag, type and generation must all match this live slot. */
    if (apir_handle_pack(t->tag, s->type, s->gen, slot1 - 1) != h)
        return NULL;
    return s;
}

void *apir_handles_get(const struct apir_handle_table *t, uint64_t h, enum apir_obj_type type)
{
    struct apir_handle_slot *s = apir_handles_find(t, h, type);
    return s ? s->obj : NULL;
}

void *apir_handles_remove(struct apir_handle_table *t, uint64_t h, enum apir_obj_type type)
{
    struct apir_handle_slot *s = apir_handles_find(t, h, type);
    if (!s)
        return NULL;
    void *obj = s->obj;
    s->obj = NULL;
    t->n_live--;
    if (s->gen == APIR_GEN_MASK) {
        /* Every generation was used: the next would repeat the first handle, which could then
         * name a new object. The slot is retired for good (one slot per 2^20 frees). */
        s->type = APIR_OBJ_RETIRED;
        return obj;
    }
    s->type = APIR_OBJ_NONE;
    s->gen++; /* the old handle is now stale */
    uint32_t i = (uint32_t)(s - t->slots);
    if (i < t->free_hint)
        t->free_hint = i;
    return obj;
}

void *apir_handles_next(const struct apir_handle_table *t, enum apir_obj_type type, uint32_t *pos)
{
    for (uint32_t i = *pos; i < t->n_slots; i++) {
        if (t->slots[i].type == type) {
            *pos = i + 1;
            return t->slots[i].obj;
        }
    }
    *pos = t->n_slots;
    return NULL;
}
