/* The compute watchdog on the virglrenderer path (src/host/watchdog.c through src/host/virgl.c):
 * a context's request that runs past ggml-apir.watchdog_s ends the process, its render worker,
 * with a log line; a context idle for longer than the limit is left alone.
 *
 * The context runs in a child process, as virglrenderer's render server runs each context in
 * a worker. TEST DOUBLE: the get_config callback stands in for virglrenderer's (the real one
 * runs in integration.vtest_*), answering the library path and a 1 s limit. */
#include "host/watchdog.h"
#include "proto/virgl_abi.h"
#include "session_msgs.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CTX 5u
#define SPIN_N 8192 /* a dense F32 MUL_MAT of 8192^3: 1.1 TFLOP, over ten seconds on 2 cores */

static const char *cfg_get(uint32_t ctx, const char *key)
{
    if (ctx == CTX && strcmp(key, "ggml.library.path") == 0)
        return APIR_GGML_BACKEND_DIR "/libggml-cpu.so";
    if (ctx == CTX && strcmp(key, "ggml-apir.watchdog_s") == 0)
        return "1";
    return NULL;
}

static volatile uint32_t *shmem_get(uint32_t ctx, uint32_t res)
{
    (void)ctx, (void)res;
    return NULL;
}

static struct apir_virgl_callbacks cbs = {cfg_get, shmem_get};
static uint8_t window[1 << 16];

/* Frames the request in req as cmd and forwards it; the reply's status, payload in rep. */
static int send_cmd(uint16_t cmd)
{
    struct apir_req_hdr h = {APIR_MAGIC_REQ, cmd, 0, 1, (uint32_t)(req.len - APIR_HDR_SIZE)};
    apir_req_hdr_encode(req.buf, &h);
    char *after;
    if (apir_backend_dispatcher(CTX, &cbs, APIR_VIRGL_FWD_MESSAGE, (char *)req.buf,
                                (char *)req.buf + req.len, (char *)window,
                                (char *)window + sizeof window, &after) != APIR_VIRGL_DISPATCH_OK)
        return -1;
    struct apir_rep_hdr rh;
    if (!apir_rep_hdr_decode(window, &rh))
        return -1;
    apir_reader_init(&rep, window + APIR_HDR_SIZE, rh.len);
    return rh.status;
}

static struct apir_wire_tensor square(uint64_t buf, uint64_t offset)
{
    struct apir_wire_tensor t = f32_tensor(buf, offset, SPIN_N);
    t.ne[1] = SPIN_N;
    t.nb[2] = t.nb[3] = (uint64_t)SPIN_N * SPIN_N * 4;
    return t;
}

/* The context's life in the child: prints "idle-ok" once a request after an idle stretch
 * longer than the limit is served, then spins; exit 0 only if the spin ever returned. */
static int child(void)
{
    apir_writer_init(&req, 1 << 16);
    if (apir_backend_initialize(CTX, &cbs) != 0)
        return 2;
    struct apir_writer *w = msg_begin();
    apir_write_u32(w, APIR_PROTO_MAJOR);
    apir_write_u32(w, APIR_PROTO_MINOR);
    apir_write_u64(w, 0);
    if (send_cmd(APIR_CMD_HELLO) != APIR_OK)
        return 2;
    sleep(2); /* idle past the limit: nothing is running, nothing ends */
    apir_write_u32(msg_begin(), 0);
    if (send_cmd(APIR_CMD_DEVICE_INFO) != APIR_OK)
        return 2;
    uint64_t dev = apir_read_u64(&rep), buft = apir_read_u64(&rep);
    printf("idle-ok\n");
    fflush(stdout);
    const uint64_t one = (uint64_t)SPIN_N * SPIN_N * 4;
    w = msg_begin();
    apir_write_u64(w, buft);
    apir_write_u64(w, 3 * one);
    if (send_cmd(APIR_CMD_BUFFER_ALLOC) != APIR_OK)
        return 2;
    uint64_t buf = apir_read_u64(&rep);
    apir_write_u64(msg_begin(), dev);
    if (send_cmd(APIR_CMD_STREAM_NEW) != APIR_OK)
        return 2;
    uint64_t stream = apir_read_u64(&rep);
    struct apir_wire_tensor t[3] = {square(buf, 0), square(buf, one), square(buf, 2 * one)};
    t[2].op = GGML_OP_MUL_MAT;
    t[2].flags = GGML_TENSOR_FLAG_COMPUTE;
    t[2].src[0] = 0;
    t[2].src[1] = 1;
    const int32_t node = 2;
    w = msg_begin();
    apir_write_u64(w, stream);
    apir_wire_graph_encode(w, t, 3, &node, 1);
    int st = send_cmd(APIR_CMD_GRAPH_COMPUTE);
    printf("the spin returned: %s\n", apir_status_str(st));
    fflush(stdout); /* the child ends with _exit */
    return 0;
}

/* Everything fd gives until EOF, at most cap - 1 bytes, as a string. */
static void drain(int fd, char *out, size_t cap)
{
    size_t n = 0;
    ssize_t got;
    while (n + 1 < cap && (got = read(fd, out + n, cap - 1 - n)) > 0)
        n += (size_t)got;
    out[n] = 0;
}

/* The overdue rule itself. A request may start after the watchdog read the clock and before
 * it read the request's start: a start later than "now" is a request just begun, not one
 * running for 2^64 ns (that wrap ended a fuzzer's process after 600 s of healthy work). */
static void test_overdue_rule(void)
{
    const uint64_t s = 1000000000u;
    CHECK(!apir_watch_is_overdue(0, 500 * s, 300 * s));           /* idle */
    CHECK(!apir_watch_is_overdue(100 * s, 399 * s, 300 * s));     /* 299 s */
    CHECK(apir_watch_is_overdue(100 * s, 401 * s, 300 * s));      /* 301 s */
    CHECK(!apir_watch_is_overdue(500 * s + 1, 500 * s, 300 * s)); /* began after the clock read */
}

int main(void)
{
    test_overdue_rule();
    int out[2], err[2];
    CHECK(pipe(out) == 0 && pipe(err) == 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(300); /* a watchdog that never fires must not hang the suite */
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(out[0]), close(err[0]);
        _exit(child());
    }
    close(out[1]), close(err[1]);
    static char said[4096], logged[65536];
    drain(out[0], said, sizeof said);
    drain(err[0], logged, sizeof logged);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("child said: %s", said);
    printf("child exit %d after %ld s\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
           (long)(t1.tv_sec - t0.tv_sec));
    CHECK(strstr(said, "idle-ok") != NULL);               /* idle past the limit: still served */
    CHECK(strstr(said, "spin returned") == NULL);         /* the spin never came back */
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3); /* the watchdog's exit */
    CHECK(strstr(logged, "ran past 1 s (ggml-apir.watchdog_s") != NULL);
    CHECK(strstr(logged, "apir-host: virgl ctx 5") != NULL); /* names the context */
    return apir_check_summary("unit.virgl_watchdog");
}
