/* See fuzz_session.h. */
#include "fuzz_session.h"

#include "proto/wire.h"

#include <ggml.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct apir_host *host;
static struct apir_session *sess;
static uint64_t handles[4];
static uint8_t reply[1 << 16];

static int run(uint16_t cmd, const void *p, size_t n, struct apir_reader *r)
{
    size_t len = 0;
    int st = apir_session_execute(sess, cmd, p, n, reply, sizeof reply, &len);
    apir_reader_init(r, reply, len);
    return st;
}

struct apir_session *fuzz_session_open(const char *who)
{
    char err[256];
    struct apir_host_config cfg = {
        .backend_dir = APIR_GGML_BACKEND_DIR, .device_name = "CPU", .max_session_bytes = 64u << 20};
    host = apir_host_create(&cfg, err, sizeof err);
    if (!host || !(sess = apir_session_create(host))) {
        fprintf(stderr, "%s: %s\n", who, host ? "no session" : err);
        exit(1);
    }
    uint8_t p[16] = {0};
    uint32_t v[2] = {APIR_PROTO_MAJOR, APIR_PROTO_MINOR};
    uint64_t feat = APIR_FEAT_GRAPH_CACHE;
    memcpy(p, v, 8), memcpy(p + 8, &feat, 8);
    struct apir_reader r;
    uint32_t zero = 0;
    run(APIR_CMD_HELLO, p, sizeof p, &r);
    run(APIR_CMD_DEVICE_INFO, &zero, sizeof zero, &r);
    handles[0] = apir_read_u64(&r), handles[1] = apir_read_u64(&r);
    uint64_t alloc[2] = {handles[1], 1u << 16};
    run(APIR_CMD_BUFFER_ALLOC, alloc, sizeof alloc, &r);
    handles[2] = apir_read_u64(&r);
    run(APIR_CMD_STREAM_NEW, &handles[0], sizeof handles[0], &r);
    handles[3] = apir_read_u64(&r);
    return sess;
}

struct apir_host *fuzz_session_host(void)
{
    return host;
}

void fuzz_session_patch(uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 8 <= n; i++) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        if ((v & ~0xffull) == (FUZZ_H_DEV & ~0xffull) && (v & 0xff) >= 1 && (v & 0xff) <= 4)
            memcpy(p + i, &handles[(v & 0xff) - 1], 8);
    }
}

void fuzz_session_seeds(fuzz_seed_fn seed, void *user)
{
    struct apir_writer w;
    apir_writer_init(&w, 1 << 16);
    apir_write_u32(&w, 0);
    seed(user, "device_info", APIR_CMD_DEVICE_INFO, &w);
    apir_writer_reset(&w);
    apir_write_u64(&w, FUZZ_H_BUFT);
    apir_write_u64(&w, 4096);
    seed(user, "buffer_alloc", APIR_CMD_BUFFER_ALLOC, &w);
    struct apir_wire_tensor t[3];
    for (int i = 0; i < 3; i++) {
        apir_wire_tensor_clear(&t[i]);
        t[i].type = GGML_TYPE_F32;
        t[i].ne[0] = 16, t[i].ne[1] = t[i].ne[2] = t[i].ne[3] = 1;
        t[i].nb[0] = 4, t[i].nb[1] = t[i].nb[2] = t[i].nb[3] = 64;
        t[i].buffer = FUZZ_H_BUF;
        t[i].offset = 64u * (unsigned)i;
    }
    t[2].op = GGML_OP_ADD, t[2].src[0] = 0, t[2].src[1] = 1;
    t[2].flags = GGML_TENSOR_FLAG_COMPUTE;
    apir_writer_reset(&w);
    apir_write_u64(&w, FUZZ_H_STREAM);
    apir_write_u32(&w, 3);
    for (int i = 0; i < 3; i++)
        apir_wire_tensor_encode(&w, &t[i]);
    apir_write_u32(&w, 1);
    apir_write_i32(&w, 2);
    seed(user, "graph_compute_add", APIR_CMD_GRAPH_COMPUTE, &w);
    apir_writer_reset(&w);
    apir_write_u64(&w, FUZZ_H_STREAM);
    seed(user, "graph_recompute", APIR_CMD_GRAPH_RECOMPUTE, &w);
    apir_writer_reset(&w);
    apir_write_u32(&w, 1);
    apir_wire_tensor_encode(&w, &t[0]);
    apir_write_u32(&w, 1);
    apir_write_i32(&w, 0);
    apir_write_u64(&w, 0);
    float v[16] = {1, 2, 3};
    apir_write_blob(&w, v, sizeof v);
    seed(user, "tensor_set", APIR_CMD_TENSOR_SET, &w);
    apir_writer_free(&w);
}
