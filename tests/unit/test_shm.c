/* The host library's shared-memory commands, in-process: regions (attached through the
 * loopback transport's callbacks), the per-stream graph cache and staged tensor data. */
#include "session_msgs.h"

static int staged(struct apir_session *s, uint16_t cmd, const struct apir_wire_tensor *t,
                  uint64_t off, uint32_t region, uint64_t roff, uint64_t size)
{
    struct apir_writer *w = msg_begin();
    apir_wire_graph_encode_lone(w, t);
    apir_write_u64(w, off);
    apir_write_u32(w, region);
    apir_write_u64(w, roff);
    apir_write_u64(w, size);
    return msg_send(s, cmd);
}

/* Regions are offered only by a transport that can map them, count against the byte quota,
 * and go away with the session. */
static void test_regions(struct apir_host *host)
{
    struct apir_session *s = apir_session_create(host);
    CHECK(hello_features(s, APIR_FEAT_REGIONS) == APIR_OK);
    apir_read_u32(&rep), apir_read_u32(&rep);
    CHECK((apir_read_u64(&rep) & APIR_FEAT_REGIONS) == 0); /* no region ops: not offered */
    CHECK(region_cmd(s, APIR_CMD_REGION_ATTACH, 1, 4096) == APIR_E_UNSUPPORTED);
    apir_session_destroy(s);

    s = apir_session_create(host);
    struct apir_region_ops ops = {loopback_region_map, loopback_region_unmap, NULL};
    apir_session_set_region_ops(s, &ops);
    CHECK(hello_features(s, APIR_FEAT_REGIONS) == APIR_OK);
    apir_read_u32(&rep), apir_read_u32(&rep);
    CHECK(apir_read_u64(&rep) & APIR_FEAT_REGIONS);
    CHECK(region_cmd(s, APIR_CMD_REGION_ATTACH, 1, 2u << 20) == APIR_E_QUOTA); /* 1 MiB quota */
    CHECK(loopback_regions_live == 0); /* refused before anything was mapped */
    CHECK(region_cmd(s, APIR_CMD_REGION_ATTACH, 100, 4096) == APIR_E_INVALID); /* map failed */
    CHECK(region_cmd(s, APIR_CMD_REGION_ATTACH, 1, 768u << 10) == APIR_OK);
    CHECK(region_cmd(s, APIR_CMD_REGION_ATTACH, 2, 512u << 10) == APIR_E_QUOTA);
    uint64_t buft;
    dev_info(s, &buft);
    int st;
    CHECK(buffer_alloc(s, buft, 512u << 10, &st) == 0 && st == APIR_E_QUOTA); /* shared quota */
    CHECK(region_cmd(s, APIR_CMD_REGION_DETACH, 1, 0) == APIR_OK);
    CHECK(region_cmd(s, APIR_CMD_REGION_ATTACH, 2, 512u << 10) == APIR_OK);
    CHECK(loopback_regions_live == 1);
    apir_session_destroy(s);
    CHECK(loopback_regions_live == 0);
}

/* The graph cache: GRAPH_RECOMPUTE runs the stream's last graph on the data as it is now, and
 * is refused (never a use of freed memory) once any buffer was freed since, after a refused
 * graph, or before any graph. */
static void test_graph_cache(struct apir_host *host)
{
    struct apir_session *s = apir_session_create(host);
    CHECK(hello_features(s, APIR_FEAT_GRAPH_CACHE) == APIR_OK);
    uint64_t buft, dev = dev_info(s, &buft);
    int st;
    uint64_t buf = buffer_alloc(s, buft, 4096, &st), other = buffer_alloc(s, buft, 4096, &st);
    apir_write_u64(msg_begin(), dev);
    CHECK(msg_send(s, APIR_CMD_STREAM_NEW) == APIR_OK);
    uint64_t stream = apir_read_u64(&rep);
    CHECK(recompute(s, stream) == APIR_E_STALE); /* nothing cached yet */
    struct apir_wire_tensor t[2] = {f32_tensor(buf, 0, 16), f32_tensor(buf, 64, 16)};
    t[1].op = GGML_OP_ADD;
    t[1].src[0] = t[1].src[1] = 0;
    t[1].flags = GGML_TENSOR_FLAG_COMPUTE;
    float a[16];
    for (int i = 0; i < 16; i++)
        a[i] = (float)i;
    CHECK(tensor_set(s, &t[0], a, sizeof a) == APIR_OK);
    const int32_t node = 1;
    CHECK(graph_compute(s, stream, t, 2, &node, 1) == APIR_OK && get_f32(s, t[1], 5) == 10.0f);
    a[5] = 100.0f;
    CHECK(tensor_set(s, &t[0], a, sizeof a) == APIR_OK);
    CHECK(recompute(s, stream) == APIR_OK && apir_read_u32(&rep) == 0);
    CHECK(get_f32(s, t[1], 5) == 200.0f); /* ran again, on the new data */
    apir_write_u64(msg_begin(), other);
    CHECK(msg_send(s, APIR_CMD_BUFFER_FREE) == APIR_OK);
    CHECK(recompute(s, stream) == APIR_E_STALE); /* a buffer went away: never trusted again */
    CHECK(graph_compute(s, stream, t, 2, &node, 1) == APIR_OK);
    CHECK(recompute(s, stream) == APIR_OK);
    t[1].op = GGML_OP_MAP_CUSTOM1; /* refused: the stream must not keep the old graph */
    CHECK(graph_compute(s, stream, t, 2, &node, 1) == APIR_E_INVALID);
    CHECK(recompute(s, stream) == APIR_E_STALE);
    apir_session_destroy(s);
}

/* Data through a staging region: both ranges checked (region and tensor), and the bytes land
 * where they should, both ways. */
static void test_staged(struct apir_host *host)
{
    struct apir_session *s = apir_session_create(host);
    struct apir_region_ops ops = {loopback_region_map, loopback_region_unmap, NULL};
    apir_session_set_region_ops(s, &ops);
    CHECK(hello_features(s, APIR_FEAT_REGIONS) == APIR_OK);
    uint64_t buft;
    dev_info(s, &buft);
    int st;
    uint64_t buf = buffer_alloc(s, buft, 4096, &st);
    CHECK(region_cmd(s, APIR_CMD_REGION_ATTACH, 3, 4096) == APIR_OK);
    struct apir_wire_tensor t = f32_tensor(buf, 256, 64);
    CHECK(staged(s, APIR_CMD_TENSOR_SET_STAGED, &t, 0, 4, 0, 256) == APIR_E_HANDLE);
    CHECK(staged(s, APIR_CMD_TENSOR_SET_STAGED, &t, 0, 3, 4000, 256) == APIR_E_INVALID);
    CHECK(staged(s, APIR_CMD_TENSOR_SET_STAGED, &t, 0, 3, UINT64_MAX - 8, 256) == APIR_E_INVALID);
    CHECK(staged(s, APIR_CMD_TENSOR_SET_STAGED, &t, 64, 3, 0, 256) == APIR_E_INVALID); /* past t */
    /* The loopback map is heap memory we cannot see from here: write through SET (inline),
     * read back through GET_STAGED into the region, then SET_STAGED that into another tensor
     * and compare inline. */
    float a[64];
    for (int i = 0; i < 64; i++)
        a[i] = (float)i * 0.25f;
    CHECK(tensor_set(s, &t, a, sizeof a) == APIR_OK);
    CHECK(staged(s, APIR_CMD_TENSOR_GET_STAGED, &t, 0, 3, 1024, 256) == APIR_OK);
    struct apir_wire_tensor u = f32_tensor(buf, 1024, 64);
    CHECK(staged(s, APIR_CMD_TENSOR_SET_STAGED, &u, 0, 3, 1024, 256) == APIR_OK);
    CHECK(get_f32(s, u, 0) == 0.0f && get_f32(s, u, 63) == 63 * 0.25f);
    apir_session_destroy(s);
}

int main(void)
{
    char err[256];
    struct apir_host_config cfg = {
        .backend_dir = APIR_GGML_BACKEND_DIR, .device_name = "CPU", .max_session_bytes = 1u << 20};
    struct apir_host *host = apir_host_create(&cfg, err, sizeof err);
    if (!host) {
        fprintf(stderr, "cannot create host: %s\n", err);
        return 1;
    }
    apir_writer_init(&req, 1u << 20);
    test_regions(host);
    test_graph_cache(host);
    test_staged(host);
    apir_writer_free(&req);
    apir_host_destroy(host);
    return apir_check_summary("shm");
}
