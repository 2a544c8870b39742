/*
 * apir-mkmodel: write a random-weight llama-architecture GGUF model.
 *
 * No model can be downloaded where ggml-apir is built and tested, yet the
 * benchmarks and end-to-end tests need a real model: real architecture, real
 * tokenizer, real compute graph, quantized weights. This tool makes one.
 *
 *   - The tokenizer (all tokenizer.* keys) is copied from a vocab-only GGUF,
 *     normally llama.cpp's models/ggml-vocab-llama-spm.gguf (32000 tokens).
 *   - The model is built by llama.cpp itself through its public API
 *     llama_model_init_from_user(), which creates every tensor the llama
 *     architecture asks for and calls us back to fill it, then written with
 *     llama_model_save_to_file(). So the file is exactly what the pinned
 *     llama.cpp expects, not our guess of it.
 *   - Weights are uniform random, deterministic in (--seed, tensor name), and
 *     scaled by 1/sqrt(fan_in) so activations stay finite; norms are 1.
 *   - 2D matmul weights (token_embd and output included) use the chosen type
 *     (f32, f16, q8_0, q4_0); norms stay f32.
 *
 * Usage: apir-mkmodel --out PATH [--type f16|q8_0|q4_0|f32] [--size NAME]
 *                     [--n-embd N] [--n-layer N] [--n-head N] [--n-head-kv N]
 *                     [--n-ff N] [--ctx N] [--seed N] [--vocab PATH]
 *                     [--backend-dir DIR] [--verbose]
 *
 * This file is the command line; gguf.c prepares the metadata and writes the
 * final file, weights.c builds the model and fills its tensors.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr */
#endif

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ggml-backend.h"
#include "mkmodel.h"

struct apir_mkmodel_preset {
    const char *name;
    int n_embd, n_layer, n_head, n_head_kv, n_ff;
};

/* Geometries: head size 64 everywhere, grouped-query attention everywhere
 * (as in current llama models); "1b" is the TinyLlama-1.1B shape. */
static const struct apir_mkmodel_preset apir_mkmodel_presets[] = {
    {"tiny", 256, 4, 4, 2, 768},
    {"small", 512, 8, 8, 4, 1536},
    {"medium", 1024, 16, 16, 4, 2816},
    {"1b", 2048, 22, 32, 4, 5632},
};

static bool apir_mkmodel_verbose_log = false;

static void apir_mkmodel_usage(FILE *f, const char *argv0)
{
    fprintf(f,
            "usage: %s --out PATH [options]\n"
            "Write a random-weight llama GGUF model with a real tokenizer.\n\n"
            "  --out PATH          output .gguf file (required)\n"
            "  --type T            weight type: f16 (default), q8_0, q4_0, f32\n"
            "  --size NAME         tiny (default), small, medium, 1b\n"
            "  --n-embd N          embedding size (overrides --size)\n"
            "  --n-layer N         number of blocks\n"
            "  --n-head N          attention heads\n"
            "  --n-head-kv N       key/value heads (divides --n-head)\n"
            "  --n-ff N            feed-forward size\n"
            "  --ctx N             training context length (default 2048)\n"
            "  --seed N            weight seed (default 42)\n"
            "  --vocab PATH        vocab-only GGUF to take the tokenizer from%s%s%s\n"
            "  --backend-dir DIR   where libggml-cpu*.so lives (default: ggml's own search\n"
            "                      path, then the llama.cpp build's, then beside libggml)\n"
            "  -v, --verbose       show llama.cpp's log\n"
            "  -h, --help          this text\n",
            argv0,
#ifdef APIR_DEFAULT_VOCAB
            " (default ", APIR_DEFAULT_VOCAB, ")"
#else
            "", "", ""
#endif
    );
}

static int apir_mkmodel_parse_int(const char *flag, const char *s, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v <= 0 || v > (1 << 20)) {
        fprintf(stderr, "apir-mkmodel: %s wants a positive integer, got '%s'\n", flag, s);
        return 1;
    }
    *out = (int)v;
    return 0;
}

static int apir_mkmodel_parse_type(const char *s, enum ggml_type *out)
{
    static const struct {
        const char *name;
        enum ggml_type type;
    } types[] = {
        {"f32", GGML_TYPE_F32},
        {"f16", GGML_TYPE_F16},
        {"q8_0", GGML_TYPE_Q8_0},
        {"q4_0", GGML_TYPE_Q4_0},
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcmp(s, types[i].name) == 0) {
            *out = types[i].type;
            return 0;
        }
    }
    return apir_mkmodel_fail("unknown --type '%s' (want f16, q8_0, q4_0 or f32)", s);
}

static int apir_mkmodel_parse_seed(const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-') {
        return apir_mkmodel_fail("--seed wants a non-negative integer, got '%s'", s);
    }
    *out = (uint64_t)v;
    return 0;
}

/* One flag with its value; returns 0 ok, 1 error, 2 unknown flag. */
static int apir_mkmodel_parse_flag(struct apir_mkmodel_opts *o, const char *flag, const char *v)
{
    if (strcmp(flag, "--out") == 0) {
        o->out = v;
        return 0;
    }
    if (strcmp(flag, "--vocab") == 0) {
        o->vocab = v;
        return 0;
    }
    if (strcmp(flag, "--backend-dir") == 0) {
        o->backend_dir = v;
        return 0;
    }
    if (strcmp(flag, "--size") == 0) {
        o->size = v;
        return 0;
    }
    if (strcmp(flag, "--type") == 0) {
        return apir_mkmodel_parse_type(v, &o->wtype);
    }
    if (strcmp(flag, "--seed") == 0) {
        return apir_mkmodel_parse_seed(v, &o->seed);
    }
    if (strcmp(flag, "--n-embd") == 0) {
        return apir_mkmodel_parse_int(flag, v, &o->n_embd);
    }
    if (strcmp(flag, "--n-layer") == 0) {
        return apir_mkmodel_parse_int(flag, v, &o->n_layer);
    }
    if (strcmp(flag, "--n-head") == 0) {
        return apir_mkmodel_parse_int(flag, v, &o->n_head);
    }
    if (strcmp(flag, "--n-head-kv") == 0) {
        return apir_mkmodel_parse_int(flag, v, &o->n_head_kv);
    }
    if (strcmp(flag, "--n-ff") == 0) {
        return apir_mkmodel_parse_int(flag, v, &o->n_ff);
    }
    if (strcmp(flag, "--ctx") == 0) {
        return apir_mkmodel_parse_int(flag, v, &o->n_ctx);
    }
    return 2;
}

/* Returns 0 to go on, 1 on error, -1 when help was printed. */
static int apir_mkmodel_parse_args(int argc, char **argv, struct apir_mkmodel_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        if (strcmp(flag, "-h") == 0 || strcmp(flag, "--help") == 0) {
            apir_mkmodel_usage(stdout, argv[0]);
            return -1;
        }
        if (strcmp(flag, "--verbose") == 0 || strcmp(flag, "-v") == 0) {
            o->verbose = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "apir-mkmodel: %s needs a value (or is unknown); see --help\n", flag);
            return 1;
        }
        int rc = apir_mkmodel_parse_flag(o, flag, argv[++i]);
        if (rc == 2) {
            return apir_mkmodel_fail("unknown option '%s'; see --help", flag);
        }
        if (rc != 0) {
            return 1;
        }
    }
    return 0;
}

/* Fills the geometry fields the user did not set from the named preset. */
static int apir_mkmodel_apply_size(struct apir_mkmodel_opts *o)
{
    const size_t n = sizeof(apir_mkmodel_presets) / sizeof(apir_mkmodel_presets[0]);
    for (size_t i = 0; i < n; i++) {
        const struct apir_mkmodel_preset *p = &apir_mkmodel_presets[i];
        if (strcmp(o->size, p->name) != 0) {
            continue;
        }
        o->n_embd = o->n_embd ? o->n_embd : p->n_embd;
        o->n_layer = o->n_layer ? o->n_layer : p->n_layer;
        o->n_head = o->n_head ? o->n_head : p->n_head;
        o->n_ff = o->n_ff ? o->n_ff : p->n_ff;
        /* an explicit --n-head without --n-head-kv means plain MHA */
        o->n_head_kv =
            o->n_head_kv ? o->n_head_kv : (o->n_head == p->n_head ? p->n_head_kv : o->n_head);
        return 0;
    }
    return apir_mkmodel_fail("unknown --size '%s' (want tiny, small, medium or 1b)", o->size);
}

/* Rejects geometries llama.cpp would refuse or compute wrongly, with a
 * message naming the rule, instead of an assert deep inside llama.cpp. */
static int apir_mkmodel_check_opts(const struct apir_mkmodel_opts *o)
{
    char msg[160];
    const int64_t blck = ggml_blck_size(o->wtype);
    if (o->out == NULL) {
        return apir_mkmodel_fail("%s", "--out PATH is required; see --help");
    }
    if (o->vocab == NULL) {
        return apir_mkmodel_fail("%s",
                                 "--vocab PATH is required (no APIR_DEFAULT_VOCAB was built in)");
    }
    if (o->n_embd % o->n_head != 0 || (o->n_embd / o->n_head) % 2 != 0) {
        snprintf(msg, sizeof(msg), "--n-embd %d must be n_head (%d) times an even head size",
                 o->n_embd, o->n_head);
        return apir_mkmodel_fail("%s", msg);
    }
    if (o->n_head % o->n_head_kv != 0) {
        snprintf(msg, sizeof(msg), "--n-head %d must be a multiple of --n-head-kv %d", o->n_head,
                 o->n_head_kv);
        return apir_mkmodel_fail("%s", msg);
    }
    /* matmul weights are quantized along ne[0], which is n_embd or n_ff */
    if (o->n_embd % blck != 0 || o->n_ff % blck != 0) {
        snprintf(msg, sizeof(msg),
                 "--n-embd %d and --n-ff %d must be multiples of %s's block size %" PRId64,
                 o->n_embd, o->n_ff, ggml_type_name(o->wtype), blck);
        return apir_mkmodel_fail("%s", msg);
    }
    return 0;
}

/* llama.cpp logs every key and tensor; keep only trouble unless --verbose. */
static void apir_mkmodel_log(enum ggml_log_level level, const char *text, void *ud)
{
    (void)ud;
    if (apir_mkmodel_verbose_log || level == GGML_LOG_LEVEL_ERROR || level == GGML_LOG_LEVEL_WARN) {
        fputs(text, stderr);
    }
}

/* The build uses dynamically loaded backends (GGML_BACKEND_DL), and this
 * tool usually does not sit beside them, so look where libggml itself was
 * loaded from when the default search (exe dir, cwd) finds no CPU backend. */
static int apir_mkmodel_load_backends(const char *dir)
{
    if (dir != NULL) {
        ggml_backend_load_all_from_path(dir);
    } else {
        ggml_backend_load_all();
#ifdef APIR_DEFAULT_BACKEND_DIR
        if (ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU) == NULL) {
            ggml_backend_load_all_from_path(APIR_DEFAULT_BACKEND_DIR);
        }
#endif
        Dl_info info;
        if (ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU) == NULL &&
            dladdr((void *)(uintptr_t)&ggml_backend_load_all, &info) != 0 &&
            info.dli_fname != NULL) {
            char *path = strdup(info.dli_fname);
            if (path != NULL) {
                ggml_backend_load_all_from_path(dirname(path));
                free(path);
            }
        }
    }
    if (ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU) == NULL) {
        return apir_mkmodel_fail("%s",
                                 "no CPU backend found (libggml-cpu*.so); pass --backend-dir DIR");
    }
    return 0;
}

/* Fails fast, with the OS's reason, before minutes of weight generation;
 * llama_model_save_to_file itself cannot report a failure. */
static int apir_mkmodel_check_writable(const char *path)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        fprintf(stderr, "apir-mkmodel: cannot write '%s': %s\n", path, strerror(errno));
        return 1;
    }
    fclose(f);
    unlink(path);
    return 0;
}

/* Builds, saves to a side file, then finalizes into o->out. */
static int apir_mkmodel_write(const struct apir_mkmodel_opts *o, int64_t *n_params)
{
    char raw[4096];
    snprintf(raw, sizeof(raw), "%s.raw.tmp", o->out);
    if (apir_mkmodel_check_writable(raw) != 0) {
        return 1;
    }
    struct apir_mkmodel_fill fill;
    memset(&fill, 0, sizeof(fill));
    uint32_t n_vocab = 0;
    struct gguf_context *meta = gguf_init_empty();
    fill.meta = meta;
    fill.seed = o->seed;
    int rc = apir_mkmodel_copy_vocab(meta, o->vocab, &fill, &n_vocab);
    if (rc == 0) {
        apir_mkmodel_set_hparams(meta, o, n_vocab);
        apir_mkmodel_declare_weights(meta, o, n_vocab);
        struct llama_model *model = apir_mkmodel_build(meta, &fill);
        rc = model == NULL;
        if (model != NULL) {
            llama_model_save_to_file(model, raw);
            llama_model_free(model);
            rc = apir_mkmodel_finalize(raw, o->out, meta, o, n_params);
            unlink(raw);
        }
    }
    gguf_free(meta);
    return rc;
}

int main(int argc, char **argv)
{
    struct apir_mkmodel_opts o;
    memset(&o, 0, sizeof(o));
    o.wtype = GGML_TYPE_F16;
    o.size = "tiny";
    o.n_ctx = 2048;
    o.seed = 42;
#ifdef APIR_DEFAULT_VOCAB
    o.vocab = APIR_DEFAULT_VOCAB;
#endif
    int rc = apir_mkmodel_parse_args(argc, argv, &o);
    if (rc != 0) {
        return rc < 0 ? 0 : 2;
    }
    if (apir_mkmodel_apply_size(&o) != 0 || apir_mkmodel_check_opts(&o) != 0) {
        return 2;
    }
    apir_mkmodel_verbose_log = o.verbose;
    llama_log_set(apir_mkmodel_log, NULL);
    if (apir_mkmodel_load_backends(o.backend_dir) != 0) {
        return 1;
    }
    llama_backend_init();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int64_t n_params = 0;
    rc = apir_mkmodel_write(&o, &n_params);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    llama_backend_free();
    struct stat st;
    if (rc != 0 || stat(o.out, &st) != 0) {
        return 1;
    }
    const double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    printf("apir-mkmodel: wrote %s: %.1f MiB, type %s, size %s (n_embd %d, n_layer %d, n_head "
           "%d/%d, n_ff %d), "
           "%.1fM params, seed %" PRIu64 ", %.2f s\n",
           o.out, (double)st.st_size / (1024.0 * 1024.0), ggml_type_name(o.wtype), o.size, o.n_embd,
           o.n_layer, o.n_head, o.n_head_kv, o.n_ff, (double)n_params * 1e-6, o.seed, secs);
    return 0;
}
