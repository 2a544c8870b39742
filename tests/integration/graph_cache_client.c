/* The graph cache seen from a ggml application: the real plugin on APIR0 through apir-hostd.
 * An unchanged graph is recomputed (on the data as it is now), and a graph changed in place —
 * the same ggml_cgraph object, one op parameter different — is never served from the cache.
 * Recomputes are posted: the application's next read of an output must still see the new
 * result (ordered by the plugin), and an event recorded after a compute must mean it is done.
 * The script around it checks the counts of GRAPH_COMPUTE and GRAPH_RECOMPUTE the plugin
 * reports (APIR_STATS=1). Prints "graph_cache: N passed, M failed"; exit status = failures. */
#include <ggml-alloc.h>
#include <ggml-backend.h>
#include <ggml.h>
#include <stdio.h>
#include <string.h>

static int passed, failed;

/* y = scale * (x + k) for every element, after one compute. */
static void expect(ggml_backend_t be, struct ggml_cgraph *gf, struct ggml_tensor *y, float scale,
                   float k, const char *what)
{
    float out[64];
    bool ok = ggml_backend_graph_compute(be, gf) == GGML_STATUS_SUCCESS;
    ggml_backend_tensor_get(y, out, 0, sizeof out);
    for (int i = 0; ok && i < 64; i++)
        ok = out[i] == scale * ((float)i + k);
    if (ok)
        passed++;
    else {
        failed++;
        fprintf(stderr, "FAIL: %s (y[1] = %g)\n", what, out[1]);
    }
}

/* 20 posted recomputes, each read back at once (no explicit synchronize), then one more
 * waited for through an event. */
static void async_rounds(ggml_backend_t be, struct ggml_cgraph *gf, struct ggml_tensor *x,
                         struct ggml_tensor *y)
{
    float in[64], out[64];
    int good = 0;
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 64; i++)
            in[i] = (float)(i + round);
        ggml_backend_tensor_set(x, in, 0, sizeof in);
        if (ggml_backend_graph_compute_async(be, gf) != GGML_STATUS_SUCCESS)
            continue;
        ggml_backend_tensor_get(y, out, 0, sizeof out);
        good += out[63] == 3.0f * (float)(63 + round);
    }
    ggml_backend_event_t ev = ggml_backend_event_new(ggml_backend_get_device(be));
    for (int i = 0; i < 64; i++)
        in[i] = -1.0f;
    ggml_backend_tensor_set(x, in, 0, sizeof in);
    bool ok = ev && ggml_backend_graph_compute_async(be, gf) == GGML_STATUS_SUCCESS;
    if (ok) {
        ggml_backend_event_record(ev, be);
        ggml_backend_event_synchronize(ev);
        ggml_backend_tensor_get(y, out, 0, sizeof out);
        ok = out[0] == -3.0f;
    }
    if (ev)
        ggml_backend_event_free(ev);
    if (good == 20 && ok)
        passed++;
    else {
        failed++;
        fprintf(stderr, "FAIL: posted recomputes: %d of 20 right, event %s\n", good,
                ok ? "ok" : "wrong");
    }
}

int main(void)
{
    ggml_backend_load_all();
    ggml_backend_dev_t dev = ggml_backend_dev_by_name("APIR0");
    ggml_backend_t be = dev ? ggml_backend_dev_init(dev, NULL) : NULL;
    if (!be) {
        fprintf(stderr, "no APIR0 device\n");
        return 2;
    }
    struct ggml_init_params ip = {ggml_tensor_overhead() * 8 + ggml_graph_overhead(), NULL, true};
    struct ggml_context *ctx = ggml_init(ip);
    struct ggml_tensor *x = ggml_new_tensor_1d(ctx, GGML_TYPE_F32, 64);
    struct ggml_tensor *y = ggml_scale(ctx, x, 2.0f);
    struct ggml_cgraph *gf = ggml_new_graph(ctx);
    ggml_build_forward_expand(gf, y);
    ggml_backend_buffer_t buf = ggml_backend_alloc_ctx_tensors(ctx, be);
    float in[64];
    for (int i = 0; i < 64; i++)
        in[i] = (float)i;
    ggml_backend_tensor_set(x, in, 0, sizeof in);

    expect(be, gf, y, 2.0f, 0.0f, "first compute");   /* GRAPH_COMPUTE */
    expect(be, gf, y, 2.0f, 0.0f, "unchanged graph"); /* GRAPH_RECOMPUTE */
    for (int i = 0; i < 64; i++)
        in[i] = (float)i + 1.0f;
    ggml_backend_tensor_set(x, in, 0, sizeof in);
    expect(be, gf, y, 2.0f, 1.0f, "unchanged graph, new data"); /* GRAPH_RECOMPUTE */
    float three = 3.0f;
    memcpy(y->op_params, &three, sizeof three); /* the same graph object, changed in place */
    expect(be, gf, y, 3.0f, 1.0f, "op parameter changed"); /* GRAPH_COMPUTE */
    /* Another buffer freed: the host may no longer trust what it cached. */
    ggml_backend_buffer_free(ggml_backend_alloc_buffer(be, 4096));
    expect(be, gf, y, 3.0f, 1.0f, "after a buffer was freed"); /* GRAPH_COMPUTE */

    async_rounds(be, gf, x, y);

    ggml_backend_buffer_free(buf);
    ggml_backend_free(be);
    ggml_free(ctx);
    printf("graph_cache: %d passed, %d failed\n", passed, failed);
    return failed;
}
