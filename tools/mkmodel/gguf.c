/*
 * apir-mkmodel metadata and file handling: the GGUF that goes into
 * llama_model_init_from_user (tokenizer, hparams, declared weight types)
 * and the rewrite of what llama_model_save_to_file wrote into the final file.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strdup */
#endif

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mkmodel.h"

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
int apir_mkmodel_copy_vocab(struct gguf_context *meta, const char *path,
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

void apir_mkmodel_set_hparams(struct gguf_context *meta, const struct apir_mkmodel_opts *o,
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

void apir_mkmodel_declare_weights(struct gguf_context *meta, const struct apir_mkmodel_opts *o,
                                  uint32_t n_vocab)
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
int apir_mkmodel_finalize(const char *raw, const char *out, const struct gguf_context *meta,
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
