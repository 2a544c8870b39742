/* The ring's doorbell: spin, then futex. See ring.h. */
#include "ring.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The words live in memory shared between processes: the futex calls must not be the
 * process-private kind. */
static void apir_futex_wake(_Atomic uint32_t *word)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static void apir_futex_wait(_Atomic uint32_t *word, uint32_t old, unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, old, &ts, NULL, 0);
}

void apir_ring_publish(_Atomic uint32_t *word, uint32_t v, _Atomic uint32_t *idle)
{
    /* seq_cst store then load, against the waiter's seq_cst store of idle then load of word:
     * one of the two sides always sees the other, so no wake-up is lost. */
    atomic_store(word, v);
    if (atomic_load(idle))
        apir_futex_wake(word);
}

static uint64_t apir_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

bool apir_ring_wait(_Atomic uint32_t *word, uint32_t old, _Atomic uint32_t *idle, unsigned spin_us,
                    unsigned poll_ms, bool (*alive)(void *user), void *user)
{
    uint64_t until = apir_now_us() + spin_us;
    for (unsigned i = 0; atomic_load_explicit(word, memory_order_acquire) == old; i++) {
        apir_cpu_relax();
        /* The clock is read now and then only: it costs more than a pause. */
        if ((i & 63) == 63 && apir_now_us() >= until)
            break;
    }
    while (atomic_load_explicit(word, memory_order_acquire) == old) {
        atomic_store(idle, 1);
        if (atomic_load(word) == old)
            apir_futex_wait(word, old, poll_ms);
        atomic_store(idle, 0);
        if (atomic_load_explicit(word, memory_order_acquire) == old && !alive(user))
            return false;
    }
    return true;
}
