/* Internals of the per-op checks (opshape*.c): the node under check, the shape and layout
 * predicates the rules are written in (opshape_pred.c), and one entry point per op (the rules
 * in opshape_<family>.c, dispatched by opshape.c). */
#ifndef APIR_HOST_OPSHAPE_IMPL_H
#define APIR_HOST_OPSHAPE_IMPL_H

#include "internal.h"
#include "opshape.h"

#include <stdint.h>

typedef struct apir_wire_tensor apir_wt;

/* The node under check with its sources resolved (NULL: absent). */
struct apir_opshape {
    const apir_wt *t;
    const apir_wt *src[APIR_MAX_SRC];
};

typedef bool (*apir_opshape_fn)(const struct apir_opshape *o);

/* --- opshape_pred.c: op params (int32 words, as ggml stores them) --- */
int32_t apir_opshape_i32(const apir_wt *t, int i);
float apir_opshape_f32(const apir_wt *t, int i);

/* --- shapes --- */
int64_t apir_opshape_nel(const apir_wt *t);
int64_t apir_opshape_nrows(const apir_wt *t);
bool apir_opshape_empty(const apir_wt *t);
bool apir_opshape_ne_is(const apir_wt *t, int64_t n0, int64_t n1, int64_t n2, int64_t n3);
bool apir_opshape_same_ne(const apir_wt *a, const apir_wt *b);
/* Same type and shape: what ggml_dup_tensor / ggml_view_tensor of b gives. */
bool apir_opshape_like(const apir_wt *t, const apir_wt *b);
/* ggml_can_repeat(a, b): b is a whole repetition of a (an empty a only into an empty b). */
bool apir_opshape_can_repeat(const apir_wt *a, const apir_wt *b);
/* a * b for non-negative sizes; false on overflow. */
bool apir_opshape_mul(int64_t a, int64_t b, int64_t *r);
/* Loop steps a kernel may take per element of the node's tensors, for the op params it loops
 * over without their shaping any output (pool windows, iteration and group counts): what
 * bounds the work of one message by the memory it names, as validate.c bounds the elements
 * per byte. ggml's own graphs stay far below it (a 3x3 pool: 12 steps per output). */
#define APIR_OPSHAPE_STEPS_PER_ELEMENT 4096
/* items * steps <= APIR_OPSHAPE_STEPS_PER_ELEMENT * max(elements, 1), without overflow. */
bool apir_opshape_work_ok(int64_t items, int64_t steps, int64_t elements);
/* ggml_calc_conv_output_size, refusing what would divide by zero or overflow. */
bool apir_opshape_conv_out(int64_t in, int64_t k, int32_t s, int32_t p, int32_t d, int64_t *out);

/* --- layouts --- */
/* ggml_is_contiguous (m = 0), _1 (m = 1), _2 (m = 2): dims above m packed, dim 0 dense. */
bool apir_opshape_contig(const apir_wt *t, int m);
bool apir_opshape_rows_contig(const apir_wt *t); /* ggml_is_contiguous_rows */
bool apir_opshape_padded_1d(const apir_wt *t);   /* ggml_is_padded_1d */
bool apir_opshape_not_transposed(const apir_wt *t);
/* The kernel addresses `bytes` from the tensor's first byte: they must lie in its extent, which
 * validation proved lies in its buffer. Kernels that index a tensor as one flat array need
 * this whatever its strides say. */
bool apir_opshape_covers(const apir_wt *t, uint64_t bytes);
bool apir_opshape_dense(const apir_wt *t); /* covers the tensor's elements as one flat array */
/* Kernels that walk all rows as row_index * nb[1] (ignoring nb[2], nb[3]). */
bool apir_opshape_flat_rows(const apir_wt *t, uint64_t row_bytes);
/* A node without a buffer cannot be computed (every computed node needs bytes): it is only
 * described, in a supports_op or alloc-size query. */
bool apir_opshape_query_only(const apir_wt *t);

/* --- types, and what the CPU backend's type traits provide --- */
bool apir_opshape_is_float(uint32_t type); /* F32, F16, BF16 */
bool apir_opshape_is_quant(uint32_t type);
bool apir_opshape_cpu_from_float(uint32_t type);
/* A type the CPU can use as src0 of a dot product, and the type src1 is converted to. */
bool apir_opshape_cpu_vec_dot(uint32_t type, uint32_t *vec_dot_type);
/* ggml's type_traits[].to_float: the dequantizer kernels call on a type's rows. */
bool apir_opshape_to_float(uint32_t type);

/* ACC and SET view dst (contiguous, elements of es bytes) with byte strides nb1..nb3 and an
 * offset taken from op params 0..3, in the shape of b. */
bool apir_opshape_view_params(const apir_wt *t, const apir_wt *b, uint64_t es);

/* --- one rule per op (opshape_elt.c) --- */
bool apir_opshape_dup(const struct apir_opshape *o);
bool apir_opshape_add(const struct apir_opshape *o);
bool apir_opshape_add_id(const struct apir_opshape *o);
bool apir_opshape_add1(const struct apir_opshape *o);
bool apir_opshape_acc(const struct apir_opshape *o);
bool apir_opshape_binary(const struct apir_opshape *o);
bool apir_opshape_math(const struct apir_opshape *o);
bool apir_opshape_sum(const struct apir_opshape *o);
bool apir_opshape_sum_rows(const struct apir_opshape *o);
bool apir_opshape_cumsum(const struct apir_opshape *o);
bool apir_opshape_mean(const struct apir_opshape *o);
bool apir_opshape_argmax(const struct apir_opshape *o);
bool apir_opshape_count_equal(const struct apir_opshape *o);
bool apir_opshape_silu_back(const struct apir_opshape *o);
bool apir_opshape_norm(const struct apir_opshape *o);
bool apir_opshape_rms_norm_back(const struct apir_opshape *o);
bool apir_opshape_group_norm(const struct apir_opshape *o);
bool apir_opshape_scale(const struct apir_opshape *o);
bool apir_opshape_clamp(const struct apir_opshape *o);
bool apir_opshape_leaky_relu(const struct apir_opshape *o);
bool apir_opshape_tri(const struct apir_opshape *o);
bool apir_opshape_fill(const struct apir_opshape *o);
bool apir_opshape_unary(const struct apir_opshape *o);
bool apir_opshape_glu(const struct apir_opshape *o);

/* (opshape_copy.c) */
bool apir_opshape_cpy(const struct apir_opshape *o);
bool apir_opshape_cont(const struct apir_opshape *o);
bool apir_opshape_set(const struct apir_opshape *o);
bool apir_opshape_repeat(const struct apir_opshape *o);
bool apir_opshape_repeat_back(const struct apir_opshape *o);
bool apir_opshape_concat(const struct apir_opshape *o);
bool apir_opshape_get_rows(const struct apir_opshape *o);
bool apir_opshape_get_rows_back(const struct apir_opshape *o);
bool apir_opshape_set_rows(const struct apir_opshape *o);
bool apir_opshape_diag(const struct apir_opshape *o);
bool apir_opshape_diag_mask(const struct apir_opshape *o);
bool apir_opshape_pad(const struct apir_opshape *o);
bool apir_opshape_pad_reflect_1d(const struct apir_opshape *o);
bool apir_opshape_roll(const struct apir_opshape *o);
bool apir_opshape_arange(const struct apir_opshape *o);
bool apir_opshape_timestep_embedding(const struct apir_opshape *o);
bool apir_opshape_argsort(const struct apir_opshape *o);
bool apir_opshape_top_k(const struct apir_opshape *o);
bool apir_opshape_win_part(const struct apir_opshape *o);
bool apir_opshape_win_unpart(const struct apir_opshape *o);
bool apir_opshape_get_rel_pos(const struct apir_opshape *o);
bool apir_opshape_add_rel_pos(const struct apir_opshape *o);

/* (opshape_mat.c) */
bool apir_opshape_mul_mat(const struct apir_opshape *o);
bool apir_opshape_mul_mat_id(const struct apir_opshape *o);
bool apir_opshape_out_prod(const struct apir_opshape *o);
bool apir_opshape_soft_max(const struct apir_opshape *o);
bool apir_opshape_soft_max_back(const struct apir_opshape *o);
bool apir_opshape_rope(const struct apir_opshape *o);
bool apir_opshape_flash_attn_ext(const struct apir_opshape *o);
bool apir_opshape_lightning_indexer(const struct apir_opshape *o);
bool apir_opshape_solve_tri(const struct apir_opshape *o);
bool apir_opshape_cross_entropy_loss(const struct apir_opshape *o);
bool apir_opshape_cross_entropy_loss_back(const struct apir_opshape *o);
bool apir_opshape_opt_step_adamw(const struct apir_opshape *o);
bool apir_opshape_opt_step_sgd(const struct apir_opshape *o);

/* (opshape_conv.c) */
bool apir_opshape_conv_transpose_1d(const struct apir_opshape *o);
bool apir_opshape_im2col(const struct apir_opshape *o);
bool apir_opshape_im2col_back(const struct apir_opshape *o);
bool apir_opshape_im2col_3d(const struct apir_opshape *o);
bool apir_opshape_col2im_1d(const struct apir_opshape *o);
bool apir_opshape_conv_2d(const struct apir_opshape *o);
bool apir_opshape_conv_3d(const struct apir_opshape *o);
bool apir_opshape_conv_2d_dw(const struct apir_opshape *o);
bool apir_opshape_conv_transpose_2d(const struct apir_opshape *o);
bool apir_opshape_pool_1d(const struct apir_opshape *o);
bool apir_opshape_pool_2d(const struct apir_opshape *o);
bool apir_opshape_pool_2d_back(const struct apir_opshape *o);
bool apir_opshape_upscale(const struct apir_opshape *o);

/* (opshape_seq.c) */
bool apir_opshape_ssm_conv(const struct apir_opshape *o);
bool apir_opshape_ssm_scan(const struct apir_opshape *o);
bool apir_opshape_rwkv_wkv6(const struct apir_opshape *o);
bool apir_opshape_gated_linear_attn(const struct apir_opshape *o);
bool apir_opshape_rwkv_wkv7(const struct apir_opshape *o);
bool apir_opshape_gated_delta_net(const struct apir_opshape *o);
bool apir_opshape_dsv4_hc_comb(const struct apir_opshape *o);
bool apir_opshape_dsv4_hc_pre(const struct apir_opshape *o);
bool apir_opshape_dsv4_hc_post(const struct apir_opshape *o);

#endif
