/* Handle tables: stale, foreign-session, wrong-type and forged handles never resolve. */
#include "check.h"
#include "host/handles.h"

static void test_basic_and_stale(void)
{
    struct apir_handle_table t;
    int a, b;
    apir_handles_init(&t, 0x1234, 0);
    uint64_t ha = apir_handles_add(&t, APIR_OBJ_BUFFER, &a);
    CHECK(ha != 0);
    CHECK(apir_handles_get(&t, ha, APIR_OBJ_BUFFER) == &a);
    CHECK(apir_handles_remove(&t, ha, APIR_OBJ_BUFFER) == &a);
    CHECK(apir_handles_get(&t, ha, APIR_OBJ_BUFFER) == NULL);    /* stale */
    CHECK(apir_handles_remove(&t, ha, APIR_OBJ_BUFFER) == NULL); /* double free */
    /* The slot is reused, but the old handle stays stale: the generation moved on. */
    uint64_t hb = apir_handles_add(&t, APIR_OBJ_BUFFER, &b);
    CHECK(hb != 0 && hb != ha);
    CHECK(apir_handles_get(&t, ha, APIR_OBJ_BUFFER) == NULL);
    CHECK(apir_handles_get(&t, hb, APIR_OBJ_BUFFER) == &b);
    apir_handles_fini(&t);
}

static void test_wrong_type(void)
{
    struct apir_handle_table t;
    int a;
    apir_handles_init(&t, 7, 0);
    uint64_t h = apir_handles_add(&t, APIR_OBJ_STREAM, &a);
    CHECK(apir_handles_get(&t, h, APIR_OBJ_BUFFER) == NULL);
    CHECK(apir_handles_get(&t, h, APIR_OBJ_DEVICE) == NULL);
    CHECK(apir_handles_remove(&t, h, APIR_OBJ_BUFFER) == NULL);
    CHECK(apir_handles_get(&t, h, APIR_OBJ_STREAM) == &a); /* still there */
    apir_handles_fini(&t);
}

static void test_foreign(void)
{
    struct apir_handle_table s1, s2;
    int a, b;
    apir_handles_init(&s1, 100, 0);
    apir_handles_init(&s2, 200, 0);
    uint64_t h1 = apir_handles_add(&s1, APIR_OBJ_BUFFER, &a);
    uint64_t h2 = apir_handles_add(&s2, APIR_OBJ_BUFFER, &b);
    /* Same slot and generation in both tables: only the session tag tells them apart. */
    CHECK(apir_handles_get(&s2, h1, APIR_OBJ_BUFFER) == NULL);
    CHECK(apir_handles_get(&s1, h2, APIR_OBJ_BUFFER) == NULL);
    CHECK(apir_handles_get(&s1, h1, APIR_OBJ_BUFFER) == &a);
    apir_handles_fini(&s1);
    apir_handles_fini(&s2);
}

static void test_forged(void)
{
    struct apir_handle_table t;
    int a;
    apir_handles_init(&t, 9, 0);
    uint64_t h = apir_handles_add(&t, APIR_OBJ_BUFFER, &a);
    CHECK(apir_handles_get(&t, 0, APIR_OBJ_BUFFER) == NULL);
    CHECK(apir_handles_get(&t, h + 1, APIR_OBJ_BUFFER) == NULL);            /* next slot: empty */
    CHECK(apir_handles_get(&t, h | 0xffffff, APIR_OBJ_BUFFER) == NULL);     /* out of range */
    CHECK(apir_handles_get(&t, h ^ (1ull << 30), APIR_OBJ_BUFFER) == NULL); /* other gen */
    CHECK(apir_handles_get(&t, (uint64_t)(uintptr_t)&a, APIR_OBJ_BUFFER) == NULL); /* a pointer */
    apir_handles_fini(&t);
}

static void test_quota(void)
{
    struct apir_handle_table t;
    int objs[4];
    apir_handles_init(&t, 3, 3);
    CHECK(apir_handles_add(&t, APIR_OBJ_BUFFER, &objs[0]) != 0);
    CHECK(apir_handles_add(&t, APIR_OBJ_BUFFER, &objs[1]) != 0);
    uint64_t h = apir_handles_add(&t, APIR_OBJ_BUFFER, &objs[2]);
    CHECK(h != 0);
    CHECK(apir_handles_add(&t, APIR_OBJ_BUFFER, &objs[3]) == 0); /* quota of 3 */
    apir_handles_remove(&t, h, APIR_OBJ_BUFFER);
    CHECK(apir_handles_add(&t, APIR_OBJ_BUFFER, &objs[3]) != 0);
    /* Many objects: table growth keeps every handle valid. */
    struct apir_handle_table big;
    apir_handles_init(&big, 5, 0);
    static int many[1000];
    uint64_t hs[1000];
    for (int i = 0; i < 1000; i++)
        hs[i] = apir_handles_add(&big, APIR_OBJ_BUFFER, &many[i]);
    int ok = 0;
    for (int i = 0; i < 1000; i++)
        ok += apir_handles_get(&big, hs[i], APIR_OBJ_BUFFER) == &many[i];
    CHECK(ok == 1000);
    apir_handles_fini(&big);
    apir_handles_fini(&t);
}

/* The generation has 20 bits: after 2^20 frees of one slot it would come back to the value of
 * the first handle, which would name a live object again. A slot whose generation is used up
 * is retired instead, never reused. */
static void test_generation_wrap(void)
{
    struct apir_handle_table t;
    apir_handles_init(&t, 9, 0);
    static int obj;
    uint64_t first = apir_handles_add(&t, APIR_OBJ_BUFFER, &obj);
    apir_handles_remove(&t, first, APIR_OBJ_BUFFER);
    int reused_slot = 0;
    for (uint32_t i = 1; i < (1u << 20); i++) {
        uint64_t h = apir_handles_add(&t, APIR_OBJ_BUFFER, &obj);
        reused_slot += (h & 0xffffff) == (first & 0xffffff);
        apir_handles_remove(&t, h, APIR_OBJ_BUFFER);
    }
    CHECK(reused_slot == (1 << 20) - 1); /* the same slot, cycled through every generation */
    uint64_t again = apir_handles_add(&t, APIR_OBJ_BUFFER, &obj);
    CHECK(again != 0 && again != first);
    CHECK(apir_handles_get(&t, first, APIR_OBJ_BUFFER) == NULL);
    CHECK(apir_handles_get(&t, again, APIR_OBJ_BUFFER) == &obj);
    apir_handles_fini(&t);
}

int main(void)
{
    test_basic_and_stale();
    test_wrong_type();
    test_foreign();
    test_forged();
    test_quota();
    test_generation_wrap();
    return apir_check_summary("handles");
}
