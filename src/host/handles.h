/* Per-session typed handle tables: the only way a guest can name a host object.
 *
 * A handle packs (session tag, type, generation, slot). Lookup fails for a handle of another
 * session (tag), of another type, of a freed object (generation), or out of range, so a guest
 * can neither forge a pointer nor reach an object it does not own. */
#ifndef APIR_HANDLES_H
#define APIR_HANDLES_H

#include <stdbool.h>
#include <stdint.h>

enum apir_obj_type {
    APIR_OBJ_NONE = 0,
    APIR_OBJ_DEVICE = 1,
    APIR_OBJ_BUFT = 2,
    APIR_OBJ_BUFFER = 3,
    APIR_OBJ_STREAM = 4,
    APIR_OBJ_TYPE_COUNT,
    APIR_OBJ_RETIRED = 0xff /* a slot whose generations are used up: never handed out again */
};

struct apir_handle_slot {
    void *obj;
    uint32_t gen;
    uint8_t type; /* APIR_OBJ_NONE when free */
};

struct apir_handle_table {
    struct apir_handle_slot *slots;
    uint32_t n_slots;
    uint32_t n_live;
    uint32_t max_live; /* object quota */
    uint32_t free_hint;
    uint16_t tag;
};

#define APIR_HANDLE_MAX_SLOTS (1u << 24)

void apir_handles_init(struct apir_handle_table *t, uint16_t tag, uint32_t max_live);
void apir_handles_fini(struct apir_handle_table *t);
/* Returns 0 when the quota is reached or memory runs out. */
uint64_t apir_handles_add(struct apir_handle_table *t, enum apir_obj_type type, void *obj);
/* NULL unless h names a live object of `type` in this table. */
void *apir_handles_get(const struct apir_handle_table *t, uint64_t h, enum apir_obj_type type);
/* Removes and returns the object (NULL, nothing removed, if the lookup fails). */
void *apir_handles_remove(struct apir_handle_table *t, uint64_t h, enum apir_obj_type type);
/* Iterates live objects of a type: returns the next slot index >= *pos holding one. */
void *apir_handles_next(const struct apir_handle_table *t, enum apir_obj_type type, uint32_t *pos);

#endif
