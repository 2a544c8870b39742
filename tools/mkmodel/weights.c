/*
 * apir-mkmodel weights: has llama.cpp build the model from the declared
 * metadata and fills every tensor it creates with deterministic random
 * values, converted to the tensor's type.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml-backend.h"
#include "mkmodel.h"

/* Elements generated per chunk: bounds memory for large tensors. */
#define APIR_MKMODEL_CHUNK_ELEMS (1 << 20)

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

static bool apir_mkmodel_quiet_progress(float progress, void *ud)
{
    (void)progress;
    (void)ud;
    return true;
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
struct llama_model *apir_mkmodel_build(struct gguf_context *meta, struct apir_mkmodel_fill *fill)
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
