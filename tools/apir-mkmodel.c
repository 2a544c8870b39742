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
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr, strdup */
#endif

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ggml-backend.h"
#include "ggml.h"
#include "gguf.h"
#include "llama.h"

/* Elements generated per chunk: bounds memory for large tensors. */
#define APIR_MKMODEL_CHUNK_ELEMS (1 << 20)
/* Special tokens (bos/eos/unk/...) whose output rows are zeroed. */
#define APIR_MKMODEL_MAX_QUIET 8

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

struct apir_mkmodel_opts {
    const char *out;
    const char *vocab;
    const char *backend_dir;
    const char *size;
    enum ggml_type wtype;
    int n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx;
    uint64_t seed;
    bool verbose;
};

/* Userdata of the tensor-fill callback; the callback cannot return an
 * error, so it records one here for main to report. */
struct apir_mkmodel_fill {
    const struct gguf_context *meta; /* the declared weights get random values */
    uint64_t seed;
    int64_t quiet_rows[APIR_MKMODEL_MAX_QUIET];
    int n_quiet;
    bool failed;
    char error[192];
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
            "  --backend-dir DIR   where libggml-cpu*.so lives (default: beside libggml)\n"
            "  --verbose           show llama.cpp's log\n",
            argv0,
#ifdef APIR_DEFAULT_VOCAB
            " (default ", APIR_DEFAULT_VOCAB, ")"
#else
            "", "", ""
#endif
    );
}

static int apir_mkmodel_fail(const char *fmt, const char *arg)
{
    fprintf(stderr, "apir-mkmodel: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    return 1;
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

static bool apir_mkmodel_quiet_progress(float progress, void *ud)
{
    (void)progress;
    (void)ud;
    return true;
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

/* Zeroing the output rows of bos/eos/unk/... keeps their logits at 0 while
 * ~32000 random logits compete, so greedy generation never stops early and
 * benchmarks always produce the requested number of tokens. */
static void apir_mkmodel_collect_quiet(const struct gguf_context *meta,
                                       struct apir_mkmodel_fill *fill)
{
    static const char *const keys[] = {
        "tokenizer.ggml.bos_token_id",     "tokenizer.ggml.eos_token_id",
        "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id",
        "tokenizer.ggml.eot_token_id",     "tokenizer.ggml.eom_token_id",
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) && fill->n_quiet < APIR_MKMODEL_MAX_QUIET;
         i++) {
        const int64_t id = gguf_find_key(meta, keys[i]);
        if (id < 0) {
            continue;
        }
        if (gguf_get_kv_type(meta, id) == GGUF_TYPE_UINT32) {
            fill->quiet_rows[fill->n_quiet++] = gguf_get_val_u32(meta, id);
        } else if (gguf_get_kv_type(meta, id) == GGUF_TYPE_INT32) {
            fill->quiet_rows[fill->n_quiet++] = gguf_get_val_i32(meta, id);
        }
    }
}

/* Copies the tokenizer.* keys of a vocab GGUF into meta. The vocab file also
 * carries the hparams of the model it came from; those are dropped. */
static int apir_mkmodel_copy_vocab(struct gguf_context *meta, const char *path,
                                   struct apir_mkmodel_fill *fill, uint32_t *n_vocab)
{
    struct gguf_init_params params = {.no_alloc = true, .ctx = NULL};
    struct gguf_context *voc = gguf_init_from_file(path, params);
    if (voc == NULL) {
        return apir_mkmodel_fail("cannot read vocab GGUF '%s'", path);
    }
    gguf_set_kv(meta, voc);
    gguf_free(voc);
    for (int64_t i = gguf_get_n_kv(meta) - 1; i >= 0; i--) {
        if (strncmp(gguf_get_key(meta, i), "tokenizer.", 10) == 0) {
            continue;
        }
        char *key = strdup(gguf_get_key(meta, i)); /* removal frees the original */
        if (key == NULL) {
            return apir_mkmodel_fail("%s", "out of memory");
        }
        gguf_remove_key(meta, key);
        free(key);
    }
    const int64_t id = gguf_find_key(meta, "tokenizer.ggml.tokens");
    if (id < 0 || gguf_get_kv_type(meta, id) != GGUF_TYPE_ARRAY ||
        gguf_get_arr_type(meta, id) != GGUF_TYPE_STRING || gguf_get_arr_n(meta, id) == 0) {
        return apir_mkmodel_fail("'%s' has no tokenizer.ggml.tokens list", path);
    }
    *n_vocab = (uint32_t)gguf_get_arr_n(meta, id);
    apir_mkmodel_collect_quiet(meta, fill);
    return 0;
}

static void apir_mkmodel_set_hparams(struct gguf_context *meta, const struct apir_mkmodel_opts *o,
                                     uint32_t n_vocab)
{
    char name[96];
    snprintf(name, sizeof(name), "apir-mkmodel %s %s", o->size, ggml_type_name(o->wtype));
    gguf_set_val_str(meta, "general.architecture", "llama");
    gguf_set_val_str(meta, "general.name", name);
    gguf_set_val_u32(meta, "llama.vocab_size", n_vocab);
    gguf_set_val_u32(meta, "llama.context_length", (uint32_t)o->n_ctx);
    gguf_set_val_u32(meta, "llama.embedding_length", (uint32_t)o->n_embd);
    gguf_set_val_u32(meta, "llama.block_count", (uint32_t)o->n_layer);
    gguf_set_val_u32(meta, "llama.feed_forward_length", (uint32_t)o->n_ff);
    gguf_set_val_u32(meta, "llama.attention.head_count", (uint32_t)o->n_head);
    gguf_set_val_u32(meta, "llama.attention.head_count_kv", (uint32_t)o->n_head_kv);
    gguf_set_val_u32(meta, "llama.rope.dimension_count", (uint32_t)(o->n_embd / o->n_head));
    gguf_set_val_f32(meta, "llama.rope.freq_base", 10000.0f);
    gguf_set_val_f32(meta, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
}

/* llama_model_init_from_user creates tensors as F32 unless meta holds a
 * tensor of the same name: only its type is read from it. */
static void apir_mkmodel_declare(struct gguf_context *meta, const char *name, enum ggml_type type,
                                 int64_t ne0, int64_t ne1)
{
    struct ggml_tensor t;
    memset(&t, 0, sizeof(t));
    t.type = type;
    t.ne[0] = ne0;
    t.ne[1] = ne1;
    t.ne[2] = t.ne[3] = 1;
    t.nb[0] = ggml_type_size(type);
    t.nb[1] = ggml_row_size(type, ne0);
    t.nb[2] = t.nb[3] = t.nb[1] * (size_t)ne1;
    ggml_set_name(&t, name);
    gguf_add_tensor(meta, &t);
}

static void apir_mkmodel_declare_weights(struct gguf_context *meta,
                                         const struct apir_mkmodel_opts *o, uint32_t n_vocab)
{
    const int64_t n_kv = (int64_t)(o->n_embd / o->n_head) * o->n_head_kv;
    const struct {
        const char *part;
        int64_t ne0, ne1;
    } blk[] = {
        {"attn_q", o->n_embd, o->n_embd}, {"attn_k", o->n_embd, n_kv},
        {"attn_v", o->n_embd, n_kv},      {"attn_output", o->n_embd, o->n_embd},
        {"ffn_gate", o->n_embd, o->n_ff}, {"ffn_up", o->n_embd, o->n_ff},
        {"ffn_down", o->n_ff, o->n_embd},
    };
    apir_mkmodel_declare(meta, "token_embd.weight", o->wtype, o->n_embd, n_vocab);
    apir_mkmodel_declare(meta, "output.weight", o->wtype, o->n_embd, n_vocab);
    for (int il = 0; il < o->n_layer; il++) {
        for (size_t i = 0; i < sizeof(blk) / sizeof(blk[0]); i++) {
            char name[GGML_MAX_NAME];
            snprintf(name, sizeof(name), "blk.%d.%s.weight", il, blk[i].part);
            apir_mkmodel_declare(meta, name, o->wtype, blk[i].ne0, blk[i].ne1);
        }
    }
}

/* splitmix64: tiny, fast, and identical on every platform. */
static uint64_t apir_mkmodel_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Per-tensor stream from (seed, name) so values do not depend on the order
 * llama.cpp happens to create or fill tensors in. */
static uint64_t apir_mkmodel_tensor_seed(uint64_t seed, const char *name)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        h = (h ^ *p) * 0x100000001b3ULL;
    }
    uint64_t state = seed ^ h;
    return apir_mkmodel_next(&state);
}

/* Square root by Newton's method: keeps the tool free of a libm link
 * dependency the build files would otherwise have to carry. */
static double apir_mkmodel_sqrt(double x)
{
    double r = x > 1.0 ? x : 1.0;
    for (int i = 0; i < 64; i++) {
        r = 0.5 * (r + x / r);
    }
    return r;
}

static bool apir_mkmodel_ends_with(const char *s, const char *suffix)
{
    const size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* What a tensor is filled with: constant when half_width is 0, else uniform
 * in [-half_width, half_width]. Uniform with half width sqrt(3)*std gives
 * std 1/sqrt(fan_in) for matmuls (fan_in = ne[0]); the embedding gets std 1
 * so token identity is not drowned by the residual updates. Tensors we did
 * not declare are norms or llama.cpp's optional extras (biases, per-tensor
 * scales, rope_freqs): they get their neutral value, 0 for a bias, else 1. */
static void apir_mkmodel_init_rule(const struct apir_mkmodel_fill *fill,
                                   const struct ggml_tensor *t, float *constant, float *half_width)
{
    const double sqrt3 = 1.7320508075688772;
    *constant = apir_mkmodel_ends_with(t->name, ".bias") ? 0.0f : 1.0f;
    *half_width = 0.0f;
    if (gguf_find_tensor(fill->meta, t->name) < 0) {
        return;
    }
    if (strcmp(t->name, "token_embd.weight") == 0) {
        *half_width = (float)sqrt3;
    } else {
        *half_width = (float)(sqrt3 / apir_mkmodel_sqrt((double)t->ne[0]));
    }
}

static bool apir_mkmodel_is_quiet_row(const struct apir_mkmodel_fill *fill,
                                      const struct ggml_tensor *t, int64_t row)
{
    if (strcmp(t->name, "output.weight") != 0) {
        return false;
    }
    for (int i = 0; i < fill->n_quiet; i++) {
        if (fill->quiet_rows[i] == row) {
            return true;
        }
    }
    return false;
}

static void apir_mkmodel_gen_rows(const struct apir_mkmodel_fill *fill, const struct ggml_tensor *t,
                                  uint64_t *state, float *dst, int64_t row0, int64_t n_rows)
{
    float constant, half_width;
    apir_mkmodel_init_rule(fill, t, &constant, &half_width);
    const int64_t n_per_row = t->ne[0];
    for (int64_t r = 0; r < n_rows; r++) {
        float *row = dst + r * n_per_row;
        for (int64_t i = 0; i < n_per_row; i++) {
            if (half_width == 0.0f) {
                row[i] = constant;
                continue;
            }
            const double u = (double)(apir_mkmodel_next(state) >> 11) * 0x1.0p-53; /* [0, 1) */
            row[i] = (float)((2.0 * u - 1.0) * half_width);
        }
        if (apir_mkmodel_is_quiet_row(fill, t, row0 + r)) {
            memset(row, 0, (size_t)n_per_row * sizeof(float));
        }
    }
}

/* Converts n_rows rows of f32 into the tensor's type; false if unsupported. */
static bool apir_mkmodel_convert(enum ggml_type type, const float *src, void *dst, int64_t n_rows,
                                 int64_t n_per_row)
{
    switch (type) {
    case GGML_TYPE_F32:
        memcpy(dst, src, (size_t)(n_rows * n_per_row) * sizeof(float));
        return true;
    case GGML_TYPE_F16:
        ggml_fp32_to_fp16_row(src, dst, n_rows * n_per_row);
        return true;
    case GGML_TYPE_Q8_0:
    case GGML_TYPE_Q4_0:
        ggml_quantize_chunk(type, src, dst, 0, n_rows, n_per_row, NULL);
        return true;
    default:
        return false;
    }
}

/* llama_model_set_tensor_data_t: called once per tensor by llama.cpp, with
 * the tensor already allocated in a backend buffer. */
static void apir_mkmodel_fill_tensor(struct ggml_tensor *t, void *ud)
{
    struct apir_mkmodel_fill *fill = ud;
    if (fill->failed) {
        return;
    }
    const int64_t n_per_row = t->ne[0];
    const int64_t n_rows = ggml_nrows(t);
    const int64_t chunk =
        n_per_row >= APIR_MKMODEL_CHUNK_ELEMS ? 1 : APIR_MKMODEL_CHUNK_ELEMS / n_per_row;
    const size_t row_size = ggml_row_size(t->type, n_per_row);
    float *src = malloc((size_t)(chunk * n_per_row) * sizeof(float));
    void *dst = malloc((size_t)chunk * row_size);
    uint64_t state = apir_mkmodel_tensor_seed(fill->seed, t->name);
    if (src == NULL || dst == NULL) {
        snprintf(fill->error, sizeof(fill->error), "out of memory filling %s", t->name);
        fill->failed = true;
    }
    for (int64_t row0 = 0; !fill->failed && row0 < n_rows; row0 += chunk) {
        const int64_t n = n_rows - row0 < chunk ? n_rows - row0 : chunk;
        apir_mkmodel_gen_rows(fill, t, &state, src, row0, n);
        if (!apir_mkmodel_convert(t->type, src, dst, n, n_per_row)) {
            snprintf(fill->error, sizeof(fill->error), "tensor %s has unsupported type %s", t->name,
                     ggml_type_name(t->type));
            fill->failed = true;
            break;
        }
        ggml_backend_tensor_set(t, dst, (size_t)row0 * row_size, (size_t)n * row_size);
    }
    free(src);
    free(dst);
}

/* Builds the model in memory: llama.cpp decides every tensor and its shape
 * from meta, we only choose types and fill values. CPU only, so tensor data
 * is host memory when llama_model_save_to_file reads it. */
static struct llama_model *apir_mkmodel_build(struct gguf_context *meta,
                                              struct apir_mkmodel_fill *fill)
{
    ggml_backend_dev_t no_devices[1] = {NULL};
    struct llama_model_params mp = llama_model_default_params();
    mp.devices = no_devices;
    mp.n_gpu_layers = 0;
    mp.progress_callback = apir_mkmodel_quiet_progress;
    struct llama_model *model =
        llama_model_init_from_user(meta, apir_mkmodel_fill_tensor, fill, mp);
    if (model == NULL) {
        apir_mkmodel_fail("%s", "llama_model_init_from_user failed (rerun with --verbose)");
        return NULL;
    }
    if (fill->failed) {
        apir_mkmodel_fail("%s", fill->error);
        llama_model_free(model);
        return NULL;
    }
    return model;
}

/* In init_from_user mode llama.cpp also creates every optional tensor the
 * architecture may have (biases, per-tensor scales, rope_freqs, ...). A real
 * llama-2 style model has none of them, and they would add no-op nodes to
 * every graph, so the file keeps only what we declared plus the norms. */
static bool apir_mkmodel_is_kept(const struct gguf_context *meta, const char *name)
{
    return gguf_find_tensor(meta, name) >= 0 || apir_mkmodel_ends_with(name, "norm.weight");
}

static uint32_t apir_mkmodel_ftype(enum ggml_type type)
{
    switch (type) {
    case GGML_TYPE_F16:
        return LLAMA_FTYPE_MOSTLY_F16;
    case GGML_TYPE_Q8_0:
        return LLAMA_FTYPE_MOSTLY_Q8_0;
    case GGML_TYPE_Q4_0:
        return LLAMA_FTYPE_MOSTLY_Q4_0;
    default:
        return LLAMA_FTYPE_ALL_F32;
    }
}

static void apir_mkmodel_set_provenance(struct gguf_context *g, const struct apir_mkmodel_opts *o)
{
    char desc[256];
    snprintf(desc, sizeof(desc),
             "random weights by ggml-apir apir-mkmodel: seed %" PRIu64
             ", n_embd %d, n_layer %d, n_head %d/%d, n_ff %d",
             o->seed, o->n_embd, o->n_layer, o->n_head, o->n_head_kv, o->n_ff);
    gguf_set_val_str(g, "general.description", desc);
    gguf_set_val_u32(g, "general.file_type", apir_mkmodel_ftype(o->wtype));
    gguf_set_val_u32(g, "general.quantization_version", GGML_QNT_VERSION);
}

/* Rewrites what llama_model_save_to_file wrote (raw) into out: drops the
 * placeholder tensors and adds provenance keys. Reading it back also checks
 * the save worked, which the void-returning save API cannot tell us. */
static int apir_mkmodel_finalize(const char *raw, const char *out, const struct gguf_context *meta,
                                 const struct apir_mkmodel_opts *o, int64_t *n_params)
{
    struct ggml_context *data = NULL;
    struct gguf_init_params params = {.no_alloc = false, .ctx = &data};
    struct gguf_context *in = gguf_init_from_file(raw, params);
    if (in == NULL) {
        return apir_mkmodel_fail("llama_model_save_to_file wrote no readable GGUF at '%s'", raw);
    }
    struct gguf_context *g = gguf_init_empty();
    gguf_set_kv(g, in);
    apir_mkmodel_set_provenance(g, o);
    *n_params = 0;
    for (int64_t i = 0; i < gguf_get_n_tensors(in); i++) {
        const char *name = gguf_get_tensor_name(in, i);
        if (apir_mkmodel_is_kept(meta, name)) {
            struct ggml_tensor *t = ggml_get_tensor(data, name);
            gguf_add_tensor(g, t);
            *n_params += ggml_nelements(t);
        }
    }
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", out);
    const bool ok = gguf_write_to_file(g, tmp, false);
    gguf_free(g);
    gguf_free(in);
    ggml_free(data);
    if (!ok || rename(tmp, out) != 0) {
        unlink(tmp);
        return apir_mkmodel_fail("cannot write '%s'", out);
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
