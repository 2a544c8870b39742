/*
 * apir-mkmodel internals shared by its three files: main.c (command line),
 * gguf.c (metadata in, finished file out) and weights.c (building the model
 * and filling it with random values). See main.c for what the tool does.
 */

#ifndef APIR_MKMODEL_H
#define APIR_MKMODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ggml.h"
#include "gguf.h"
#include "llama.h"

/* Special tokens (bos/eos/unk/...) whose output rows are zeroed. */
#define APIR_MKMODEL_MAX_QUIET 8

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

/* Returns 1 so error paths can end in "return apir_mkmodel_fail(...)". Inline because all
 * three files report this way, and gguf.c and weights.c must not call up into main.c. */
static inline int apir_mkmodel_fail(const char *fmt, const char *arg)
{
    fprintf(stderr, "apir-mkmodel: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    return 1;
}

/* gguf.c */
int apir_mkmodel_copy_vocab(struct gguf_context *meta, const char *path,
                            struct apir_mkmodel_fill *fill, uint32_t *n_vocab);
void apir_mkmodel_set_hparams(struct gguf_context *meta, const struct apir_mkmodel_opts *o,
                              uint32_t n_vocab);
void apir_mkmodel_declare_weights(struct gguf_context *meta, const struct apir_mkmodel_opts *o,
                                  uint32_t n_vocab);
int apir_mkmodel_finalize(const char *raw, const char *out, const struct gguf_context *meta,
                          const struct apir_mkmodel_opts *o, int64_t *n_params);

/* weights.c */
struct llama_model *apir_mkmodel_build(struct gguf_context *meta, struct apir_mkmodel_fill *fill);

/* Inline because both gguf.c and weights.c classify tensors by name. */
static inline bool apir_mkmodel_ends_with(const char *s, const char *suffix)
{
    const size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

#endif
