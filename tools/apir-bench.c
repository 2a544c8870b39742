/* apir-bench: the remoting cost itself, side by side in one run — the local CPU backend
 * (native: memcpy and a local call), ggml-apir (APIR0) and ggml-rpc (RPC0 on a given server):
 * a null call, tensor set/get throughput from 4 KiB to 256 MiB, and the latency of a one-node
 * graph. Everything goes through ggml's public backend API, as an application would.
 *
 *   apir-bench [--rpc HOST:PORT] [--apir DEVICE] [--iters N] [--threads N] [--max-mib N]
 *
 * --threads (default: the number of CPUs) is given to every backend that takes a thread
 * count; start ggml-rpc-server with the same -t.
 *
 * APIR needs GGML_BACKEND_PATH=libggml-apir.so and a running apir-hostd; a configuration
 * that cannot be reached is shown as "-". */
#include <ggml-alloc.h>
#include <ggml-backend.h>
#include <ggml.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define APIR_BENCH_COLS 3

struct apir_bench_target {
    const char *label;
    ggml_backend_dev_t dev;
    ggml_backend_t be;
};

static double apir_bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static int apir_bench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorts samples; returns the median and, through p99, the 99th percentile. */
static double apir_bench_stats(double *t, int n, double *p99)
{
    qsort(t, (size_t)n, sizeof *t, apir_bench_cmp);
    *p99 = t[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1];
    return t[n / 2];
}

static void apir_bench_null_call(struct apir_bench_target *tg, int iters, double *med, double *p99)
{
    double *t = calloc((size_t)iters, sizeof *t);
    for (int i = 0; i < iters; i++) {
        size_t f, tot;
        double t0 = apir_bench_now_us();
        ggml_backend_dev_memory(tg->dev, &f, &tot);
        t[i] = apir_bench_now_us() - t0;
    }
    *med = apir_bench_stats(t, iters, p99);
    free(t);
}

/* GB/s of ggml_backend_tensor_set (or get) of `bytes`, best of a few rounds. */
static double apir_bench_xfer(struct apir_bench_target *tg, size_t bytes, bool set, void *host)
{
    struct ggml_init_params ip = {ggml_tensor_overhead() * 2, NULL, true};
    struct ggml_context *ctx = ggml_init(ip);
    struct ggml_tensor *t = ggml_new_tensor_1d(ctx, GGML_TYPE_I8, (int64_t)bytes);
    ggml_backend_buffer_t buf = ggml_backend_alloc_ctx_tensors(ctx, tg->be);
    double best = 0;
    int rounds = bytes >= (64u << 20) ? 2 : bytes >= (1u << 20) ? 5 : 50;
    for (int r = 0; buf && r < rounds; r++) {
        double t0 = apir_bench_now_us();
        if (set)
            ggml_backend_tensor_set(t, host, 0, bytes);
        else
            ggml_backend_tensor_get(t, host, 0, bytes);
        double gbs = (double)bytes / ((apir_bench_now_us() - t0) * 1e3);
        best = gbs > best ? gbs : best;
    }
    if (buf)
        ggml_backend_buffer_free(buf);
    ggml_free(ctx);
    return best;
}

/* One ADD of two 16-float vectors: compute, then synchronize, per iteration. */
static void apir_bench_graph(struct apir_bench_target *tg, int iters, double *med, double *p99)
{
    struct ggml_init_params ip = {ggml_tensor_overhead() * 4 + ggml_graph_overhead(), NULL, true};
    struct ggml_context *ctx = ggml_init(ip);
    struct ggml_tensor *a = ggml_new_tensor_1d(ctx, GGML_TYPE_F32, 16);
    struct ggml_tensor *b = ggml_new_tensor_1d(ctx, GGML_TYPE_F32, 16);
    struct ggml_tensor *c = ggml_add(ctx, a, b);
    struct ggml_cgraph *gf = ggml_new_graph(ctx);
    ggml_build_forward_expand(gf, c);
    ggml_backend_buffer_t buf = ggml_backend_alloc_ctx_tensors(ctx, tg->be);
    double *t = calloc((size_t)iters, sizeof *t);
    *med = *p99 = -1;
    if (buf) {
        ggml_backend_buffer_clear(buf, 0);
        ggml_backend_graph_compute(tg->be, gf); /* first: the graph travels and is cached */
        for (int i = 0; i < iters; i++) {
            double t0 = apir_bench_now_us();
            ggml_backend_graph_compute_async(tg->be, gf);
            ggml_backend_synchronize(tg->be);
            t[i] = apir_bench_now_us() - t0;
        }
        *med = apir_bench_stats(t, iters, p99);
        ggml_backend_buffer_free(buf);
    }
    free(t);
    ggml_free(ctx);
}

static ggml_backend_dev_t apir_bench_rpc_dev(const char *endpoint)
{
    ggml_backend_reg_t rpc = ggml_backend_reg_by_name("RPC");
    typedef ggml_backend_reg_t (*add_server_fn)(const char *);
    add_server_fn add =
        rpc ? (add_server_fn)ggml_backend_reg_get_proc_address(rpc, "ggml_backend_rpc_add_server")
            : NULL;
    ggml_backend_reg_t reg = add && endpoint ? add(endpoint) : NULL;
    return reg && ggml_backend_reg_dev_count(reg) ? ggml_backend_reg_dev_get(reg, 0) : NULL;
}

/* The same thread count for every backend that has one (ggml-rpc-server has its own -t). */
static void apir_bench_set_threads(struct apir_bench_target *tg, int n)
{
    if (!tg->be)
        return;
    ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(tg->dev);
    ggml_backend_set_n_threads_t fn =
        reg ? (ggml_backend_set_n_threads_t)ggml_backend_reg_get_proc_address(
                  reg, "ggml_backend_set_n_threads")
            : NULL;
    if (fn)
        fn(tg->be, n);
}

static void apir_bench_cell(double v, double p99, bool with_p99)
{
    if (v < 0)
        printf(" %18s", "-");
    else if (with_p99)
        printf(" %9.2f (%6.1f)", v, p99);
    else
        printf(" %18.2f", v);
}

static void apir_bench_usage(FILE *f)
{
    fprintf(f,
            "usage: apir-bench [--rpc HOST:PORT] [--apir DEVICE] [--iters N] [--threads N]\n"
            "                  [--max-mib N]\n"
            "The remoting cost side by side: the local CPU backend, ggml-apir and ggml-rpc; a\n"
            "null call, a one-node graph (median and p99 in us) and set/get throughput (GB/s).\n"
            "A column that cannot be reached shows \"-\".\n\n"
            "  --rpc HOST:PORT  ggml-rpc-server to measure (default: none, column \"-\")\n"
            "  --apir DEVICE    the APIR device (default APIR0)\n"
            "  --iters N        calls per latency measurement (default 2000, at least 10)\n"
            "  --threads N      threads for every backend that takes a count (default: the\n"
            "                   online CPUs); start ggml-rpc-server with the same -t\n"
            "  --max-mib N      largest set/get size in MiB (default 256, sizes from 4 KiB\n"
            "                   by x16)\n"
            "  -h, --help       this text\n\n"
            "ggml's backends are loaded from %s.\n"
            "Environment:\n"
            "  GGML_BACKEND_PATH   the APIR guest plugin (libggml-apir.so): needed for the\n"
            "                      ggml-apir column, with a running apir-hostd\n"
            "  APIR_*              the plugin's own variables (APIR_SOCKET, APIR_TRANSPORT...:\n"
            "                      see README and docs/deploy.md)\n",
#ifdef APIR_GGML_BACKEND_DIR
            APIR_GGML_BACKEND_DIR
#else
            "ggml's default places"
#endif
    );
}

struct apir_bench_opts {
    const char *rpc_ep, *apir_name;
    int iters, threads;
    size_t max_bytes;
};

/* 0: go on; 1: help printed; -1: bad usage. */
static int apir_bench_parse(int argc, char **argv, struct apir_bench_opts *o)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    *o = (struct apir_bench_opts){NULL, "APIR0", 2000, ncpu > 0 ? (int)ncpu : 1, 256u << 20};
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--rpc"))
            o->rpc_ep = argv[i + 1];
        else if (!strcmp(argv[i], "--apir"))
            o->apir_name = argv[i + 1];
        else if (!strcmp(argv[i], "--iters"))
            o->iters = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads"))
            o->threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--max-mib"))
            o->max_bytes = (size_t)strtoul(argv[i + 1], NULL, 10) << 20;
        else
            return -1;
    }
    return argc % 2 == 0 || o->iters < 10 || o->max_bytes < 4096 || o->threads < 1 ? -1 : 0;
}

int main(int argc, char **argv)
{
    struct apir_bench_opts o;
    int rc = apir_bench_parse(argc, argv, &o);
    if (rc != 0) {
        apir_bench_usage(rc > 0 ? stdout : stderr);
        return rc > 0 ? 0 : 2;
    }
    const char *rpc_ep = o.rpc_ep, *apir_name = o.apir_name;
    int iters = o.iters, threads = o.threads;
    size_t max_bytes = o.max_bytes;
#ifdef APIR_GGML_BACKEND_DIR
    ggml_backend_load_all_from_path(APIR_GGML_BACKEND_DIR);
#else
    ggml_backend_load_all();
#endif
    struct apir_bench_target tg[APIR_BENCH_COLS] = {
        {"native (CPU)", ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU), NULL},
        {"ggml-apir", ggml_backend_dev_by_name(apir_name), NULL},
        {"ggml-rpc", apir_bench_rpc_dev(rpc_ep), NULL},
    };
    for (int k = 0; k < APIR_BENCH_COLS; k++) {
        tg[k].be = tg[k].dev ? ggml_backend_dev_init(tg[k].dev, NULL) : NULL;
        apir_bench_set_threads(&tg[k], threads);
    }
    void *host = malloc(max_bytes);
    if (!host)
        return 1;
    memset(host, 1, max_bytes);

    printf("%-22s", "operation");
    for (int k = 0; k < APIR_BENCH_COLS; k++)
        printf(" %18s", tg[k].label);
    printf("\n%-22s", "null call us (p99)");
    for (int k = 0; k < APIR_BENCH_COLS; k++) {
        double med = -1, p99 = 0;
        if (tg[k].be)
            apir_bench_null_call(&tg[k], iters, &med, &p99);
        apir_bench_cell(med, p99, true);
    }
    printf("\n%-22s", "1-node graph us (p99)");
    for (int k = 0; k < APIR_BENCH_COLS; k++) {
        double med = -1, p99 = 0;
        if (tg[k].be)
            apir_bench_graph(&tg[k], iters, &med, &p99);
        apir_bench_cell(med, p99, true);
    }
    for (int set = 1; set >= 0; set--) {
        for (size_t bytes = 4096; bytes <= max_bytes; bytes *= 16) {
            char label[32];
            snprintf(label, sizeof label, "%s %zu KiB GB/s", set ? "set" : "get", bytes >> 10);
            printf("\n%-22s", label);
            for (int k = 0; k < APIR_BENCH_COLS; k++)
                apir_bench_cell(tg[k].be ? apir_bench_xfer(&tg[k], bytes, set, host) : -1, 0,
                                false);
        }
    }
    printf("\n");
    for (int k = 0; k < APIR_BENCH_COLS; k++)
        if (tg[k].be)
            ggml_backend_free(tg[k].be);
    free(host);
    return 0;
}
