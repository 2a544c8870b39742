/* What a session holds, for transports that end idle sessions (apir-hostd --idle-timeout). */
#include "internal.h"

size_t apir_session_held_objects(const struct apir_session *s)
{
    size_t n = s->n_regions;
    const enum apir_obj_type held[] = {APIR_OBJ_BUFFER, APIR_OBJ_STREAM};
    for (size_t i = 0; i < sizeof held / sizeof held[0]; i++) {
        uint32_t pos = 0;
        while (apir_handles_next(&s->handles, held[i], &pos))
            n++;
    }
    return n;
}
