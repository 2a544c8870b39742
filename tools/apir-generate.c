/* apir-generate: greedy generation with llama.cpp's public API on a chosen device, printing the
 * token ids (so two runs can be compared exactly), the text, and the decode speed.
 *
 *   apir-generate -m MODEL [-d DEVICE|none] [-p PROMPT] [-n N] [-t THREADS]
 *
 * DEVICE is a ggml device name (APIR0, CPU...): all layers go there. "none" runs on the local
 * CPU only. Output lines: "tokens: <ids>", "text: <text>", "tps: <decoded tokens per second>",
 * "load_ms: <model load time>". On stderr, "apir-generate: decoding" once the model and the
 * context are ready and the first decode begins: a test that must interrupt a generation (not
 * its set-up) waits for that line. */
#include <ggml-backend.h>
#include <llama.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct apir_gen_args {
    const char *model;
    const char *device;
    const char *prompt;
    int n_predict;
    int n_threads;
};

static double apir_gen_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void apir_gen_usage(FILE *f)
{
    fprintf(f,
            "usage: apir-generate -m MODEL [-d DEVICE|none] [-p PROMPT] [-n N] [-t THREADS]\n"
            "Greedy generation with llama.cpp on one device; prints the token ids, the text,\n"
            "the decode speed and the model load time (lines tokens:, text:, tps:, load_ms:).\n\n"
            "  -m MODEL     GGUF model (required)\n"
            "  -d DEVICE    ggml device for every layer, e.g. APIR0 or CPU; none (default):\n"
            "               the local CPU only\n"
            "  -p PROMPT    prompt (default \"Once upon a time\")\n"
            "  -n N         tokens to generate (default 32)\n"
            "  -t THREADS   CPU threads (default 2)\n"
            "  -h, --help   this text\n\n"
            "ggml's backends are loaded from %s.\n"
            "Environment:\n"
            "  GGML_BACKEND_PATH   a further backend for ggml to load: the APIR guest plugin\n"
            "                      (libggml-apir.so), whose devices are APIR0, APIR1...\n"
            "  APIR_*              the plugin's own variables (APIR_SOCKET, APIR_TRANSPORT...:\n"
            "                      see README and docs/deploy.md)\n",
#ifdef APIR_GGML_BACKEND_DIR
            APIR_GGML_BACKEND_DIR
#else
            "ggml's default places"
#endif
    );
}

/* 0: go on; 1: help printed; -1: bad usage. */
static int apir_gen_parse(int argc, char **argv, struct apir_gen_args *a)
{
    *a = (struct apir_gen_args){NULL, "none", "Once upon a time", 32, 2};
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-m"))
            a->model = argv[i + 1];
        else if (!strcmp(argv[i], "-d"))
            a->device = argv[i + 1];
        else if (!strcmp(argv[i], "-p"))
            a->prompt = argv[i + 1];
        else if (!strcmp(argv[i], "-n"))
            a->n_predict = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-t"))
            a->n_threads = atoi(argv[i + 1]);
        else
            return -1;
    }
    return a->model && a->n_predict > 0 && a->n_threads > 0 && argc % 2 == 1 ? 0 : -1;
}

static struct llama_model *apir_gen_load(const struct apir_gen_args *a)
{
    static ggml_backend_dev_t devs[2];
    struct llama_model_params mp = llama_model_default_params();
    if (strcmp(a->device, "none") != 0) {
        devs[0] = ggml_backend_dev_by_name(a->device);
        if (!devs[0]) {
            fprintf(stderr, "apir-generate: no device named %s\n", a->device);
            return NULL;
        }
        mp.devices = devs;
        mp.n_gpu_layers = 999;
    } else {
        mp.devices = devs; /* empty list: CPU only */
        mp.n_gpu_layers = 0;
    }
    return llama_model_load_from_file(a->model, mp);
}

static int apir_gen_argmax(const float *logits, int n_vocab)
{
    int best = 0;
    for (int i = 1; i < n_vocab; i++)
        if (logits[i] > logits[best])
            best = i;
    return best;
}

/* Greedy decode; fills out[] with the generated ids, returns how many, and the decode time. */
static int apir_gen_run(struct llama_context *ctx, const struct llama_vocab *vocab,
                        llama_token *prompt, int n_prompt, llama_token *out, int n_out,
                        double *decode_s)
{
    int n_vocab = llama_vocab_n_tokens(vocab);
    fprintf(stderr, "apir-generate: decoding\n");
    if (llama_decode(ctx, llama_batch_get_one(prompt, n_prompt)) != 0)
        return -1;
    double t0 = apir_gen_now();
    int n = 0;
    for (; n < n_out; n++) {
        llama_token tok = apir_gen_argmax(llama_get_logits_ith(ctx, -1), n_vocab);
        out[n] = tok;
        if (n + 1 == n_out)
            break;
        if (llama_decode(ctx, llama_batch_get_one(&out[n], 1)) != 0)
            return -1;
    }
    *decode_s = apir_gen_now() - t0;
    return n + 1;
}

static void apir_gen_print(const struct llama_vocab *vocab, const llama_token *ids, int n,
                           int n_decoded, double secs)
{
    printf("tokens:");
    for (int i = 0; i < n; i++)
        printf(" %d", ids[i]);
    printf("\ntext: ");
    for (int i = 0; i < n; i++) {
        char piece[256];
        int len = llama_token_to_piece(vocab, ids[i], piece, sizeof piece, 0, false);
        if (len > 0)
            fwrite(piece, 1, (size_t)len, stdout);
    }
    printf("\ntps: %.2f\n", secs > 0 ? n_decoded / secs : 0.0);
}

int main(int argc, char **argv)
{
    struct apir_gen_args a;
    int rc = apir_gen_parse(argc, argv, &a);
    if (rc != 0) {
        apir_gen_usage(rc > 0 ? stdout : stderr);
        return rc > 0 ? 0 : 2;
    }
    /* Our binaries live apart from llama.cpp's: look for its backends where the build found
     * them (GGML_BACKEND_PATH, e.g. the APIR plugin, is loaded on top by ggml). */
#ifdef APIR_GGML_BACKEND_DIR
    ggml_backend_load_all_from_path(APIR_GGML_BACKEND_DIR);
#else
    ggml_backend_load_all();
#endif
    double t_load = apir_gen_now();
    struct llama_model *model = apir_gen_load(&a);
    if (!model)
        return 1;
    t_load = apir_gen_now() - t_load;
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 512;
    cp.n_batch = 512;
    cp.n_threads = cp.n_threads_batch = a.n_threads;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    llama_token prompt[256], *out = calloc((size_t)a.n_predict, sizeof *out);
    int n_prompt = llama_tokenize(vocab, a.prompt, (int)strlen(a.prompt), prompt, 256, true, false);
    double secs = 0;
    int n = ctx && out && n_prompt > 0
                ? apir_gen_run(ctx, vocab, prompt, n_prompt, out, a.n_predict, &secs)
                : -1;
    if (n > 0) {
        apir_gen_print(vocab, out, n, n - 1, secs);
        printf("load_ms: %.1f\n", t_load * 1e3);
    } else
        fprintf(stderr, "apir-generate: generation failed\n");
    free(out);
    llama_free(ctx);
    llama_model_free(model);
    return n > 0 ? 0 : 1;
}
