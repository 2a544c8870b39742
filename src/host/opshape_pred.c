/* The shape, layout and type predicates the per-op rules (opshape_<family>.c) are written in:
 * ggml's own tensor queries (ggml_is_contiguous, ggml_can_repeat, ...) and what the CPU
 * backend's type traits provide, restated over wire tensors with overflow-checked arithmetic.
 * A file of their own below the rules: the rules call them, the dispatch (opshape.c) calls the
 * rules, and nothing here calls back up. */
#include "opshape_impl.h"

#include <stdint.h>
#include <string.h>

int32_t apir_opshape_i32(const apir_wt *t, int i)
{
    return t->op_params[i];
}

float apir_opshape_f32(const apir_wt *t, int i)
{
    float f;
    memcpy(&f, &t->op_params[i], sizeof f);
    return f;
}

/* validate.c proved ne >= 0 and that the product of the non-zero ne fits int64 (so every
 * partial product does), for every tensor. */
int64_t apir_opshape_nel(const apir_wt *t)
{
    return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
}

int64_t apir_opshape_nrows(const apir_wt *t)
{
    return t->ne[1] * t->ne[2] * t->ne[3];
}

bool apir_opshape_empty(const apir_wt *t)
{
    return apir_wire_tensor_is_empty(t);
}

bool apir_opshape_ne_is(const apir_wt *t, int64_t n0, int64_t n1, int64_t n2, int64_t n3)
{
    return t->ne[0] == n0 && t->ne[1] == n1 && t->ne[2] == n2 && t->ne[3] == n3;
}

bool apir_opshape_same_ne(const apir_wt *a, const apir_wt *b)
{
    return apir_opshape_ne_is(a, b->ne[0], b->ne[1], b->ne[2], b->ne[3]);
}

bool apir_opshape_like(const apir_wt *t, const apir_wt *b)
{
    return t->type == b->type && apir_opshape_same_ne(t, b);
}

bool apir_opshape_can_repeat(const apir_wt *a, const apir_wt *b)
{
    if (apir_opshape_empty(a))
        return apir_opshape_empty(b);
    for (int i = 0; i < 4; i++) {
        if (b->ne[i] % a->ne[i] != 0)
            return false;
    }
    return true;
}

bool apir_opshape_mul(int64_t a, int64_t b, int64_t *r)
{
    return a >= 0 && b >= 0 && !__builtin_mul_overflow(a, b, r);
}

bool apir_opshape_work_ok(int64_t items, int64_t steps, int64_t elements)
{
    int64_t work, budget;
    if (items <= 0 || steps <= 0)
        return true;
    if (!apir_opshape_mul(items, steps, &work))
        return false;
    return !apir_opshape_mul(elements > 1 ? elements : 1, APIR_OPSHAPE_STEPS_PER_ELEMENT,
                             &budget) ||
           work <= budget;
}

bool apir_opshape_conv_out(int64_t in, int64_t k, int32_t s, int32_t p, int32_t d, int64_t *out)
{
    int64_t span, v;
    if (s == 0 || __builtin_mul_overflow((int64_t)d, k - 1, &span))
        return false;
    if (__builtin_add_overflow(in, 2 * (int64_t)p, &v) || __builtin_sub_overflow(v, span, &v) ||
        __builtin_sub_overflow(v, 1, &v))
        return false;
    *out = v / s + 1;
    return true;
}

bool apir_opshape_contig(const apir_wt *t, int m)
{
    uint64_t next = ggml_type_size((enum ggml_type)t->type);
    int64_t blck = ggml_blck_size((enum ggml_type)t->type);
    if (t->ne[0] != blck && t->nb[0] != next)
        return false;
    next *= (uint64_t)(t->ne[0] / blck);
    for (int i = 1; i < 4; i++) {
        if (i > m) {
            if (t->ne[i] != 1 && t->nb[i] != next)
                return false;
            next *= (uint64_t)t->ne[i];
        } else {
            next = (uint64_t)t->ne[i] * t->nb[i];
        }
    }
    return true;
}

bool apir_opshape_rows_contig(const apir_wt *t)
{
    return t->ne[0] == ggml_blck_size((enum ggml_type)t->type) ||
           t->nb[0] == ggml_type_size((enum ggml_type)t->type);
}

bool apir_opshape_padded_1d(const apir_wt *t)
{
    return t->nb[0] == ggml_type_size((enum ggml_type)t->type) &&
           t->nb[2] == t->nb[1] * (uint64_t)t->ne[1] && t->nb[3] == t->nb[2] * (uint64_t)t->ne[2];
}

bool apir_opshape_not_transposed(const apir_wt *t)
{
    return t->nb[0] <= t->nb[1];
}

bool apir_opshape_covers(const apir_wt *t, uint64_t bytes)
{
    uint64_t ext;
    if (bytes == 0)
        return true;
    return apir_tensor_extent(t->type, t->ne, t->nb, &ext) && bytes <= ext;
}

bool apir_opshape_dense(const apir_wt *t)
{
    uint64_t n = (uint64_t)apir_opshape_nel(t), bytes;
    n /= (uint64_t)ggml_blck_size((enum ggml_type)t->type);
    if (__builtin_mul_overflow(n, (uint64_t)ggml_type_size((enum ggml_type)t->type), &bytes))
        return false;
    return apir_opshape_covers(t, bytes);
}

bool apir_opshape_flat_rows(const apir_wt *t, uint64_t row_bytes)
{
    uint64_t rows = (uint64_t)apir_opshape_nrows(t), end;
    if (rows == 0 || row_bytes == 0)
        return true;
    if (__builtin_mul_overflow(rows - 1, t->nb[1], &end) ||
        __builtin_add_overflow(end, row_bytes, &end))
        return false;
    return apir_opshape_covers(t, end);
}

bool apir_opshape_query_only(const apir_wt *t)
{
    return t->buffer == 0;
}

bool apir_opshape_is_float(uint32_t type)
{
    return type == GGML_TYPE_F32 || type == GGML_TYPE_F16 || type == GGML_TYPE_BF16;
}

bool apir_opshape_is_quant(uint32_t type)
{
    return type < GGML_TYPE_COUNT && ggml_is_quantized((enum ggml_type)type);
}

/* The CPU backend's type_traits_cpu[].from_float (ggml-cpu.c): the IQ2/IQ3/IQ1 formats need
 * tables ggml_quantize_init builds, so the CPU cannot convert to them. */
bool apir_opshape_cpu_from_float(uint32_t type)
{
    switch (type) {
    case GGML_TYPE_IQ2_XXS:
    case GGML_TYPE_IQ2_XS:
    case GGML_TYPE_IQ2_S:
    case GGML_TYPE_IQ3_XXS:
    case GGML_TYPE_IQ3_S:
    case GGML_TYPE_IQ1_S:
    case GGML_TYPE_IQ1_M:
        return false;
    case GGML_TYPE_F32:
    case GGML_TYPE_F16:
    case GGML_TYPE_BF16:
    case GGML_TYPE_I32:
        return true;
    default:
        return apir_opshape_is_quant(type);
    }
}

/* type_traits_cpu[].vec_dot / .vec_dot_type: Q8_1 and Q8_K are only ever src1 formats and have
 * no dot product of their own; integer types have none either. */
bool apir_opshape_cpu_vec_dot(uint32_t type, uint32_t *vec_dot_type)
{
    switch (type) {
    case GGML_TYPE_F32:
    case GGML_TYPE_F16:
    case GGML_TYPE_BF16:
        *vec_dot_type = type;
        return true;
    case GGML_TYPE_Q4_1:
    case GGML_TYPE_Q5_1:
        *vec_dot_type = GGML_TYPE_Q8_1;
        return true;
    case GGML_TYPE_Q1_0:
    case GGML_TYPE_Q2_0:
    case GGML_TYPE_Q4_0:
    case GGML_TYPE_Q5_0:
    case GGML_TYPE_Q8_0:
    case GGML_TYPE_MXFP4:
    case GGML_TYPE_NVFP4:
    case GGML_TYPE_IQ4_NL:
        *vec_dot_type = GGML_TYPE_Q8_0;
        return true;
    case GGML_TYPE_Q8_1:
    case GGML_TYPE_Q8_K:
        return false;
    default:
        *vec_dot_type = GGML_TYPE_Q8_K; /* the K, IQ and TQ formats */
        return apir_opshape_is_quant(type);
    }
}

bool apir_opshape_to_float(uint32_t type)
{
    return type < GGML_TYPE_COUNT && ggml_get_type_traits((enum ggml_type)type)->to_float;
}

/* The kernels' own bounds asserts count the last element's first byte only, and the int32
 * params sign-extend into size_t strides: require non-negative params and the whole last
 * element inside dst. The assert is computed before the row loop, also for an empty src1 (its
 * empty dims count 0, and nothing is copied: then only the assert's own bound applies), with
 * each dim's count in an int. */
bool apir_opshape_view_params(const apir_wt *t, const apir_wt *b, uint64_t es)
{
    uint64_t end, d, size;
    for (int i = 0; i < 4; i++) {
        if (apir_opshape_i32(t, i) < 0 || b->ne[i] > INT32_MAX)
            return false;
    }
    end = (uint64_t)apir_opshape_i32(t, 3);
    for (int i = 0; i < 4; i++) {
        uint64_t stride = i == 0 ? es : (uint64_t)apir_opshape_i32(t, i - 1);
        uint64_t last = b->ne[i] > 0 ? (uint64_t)(b->ne[i] - 1) : 0;
        if (__builtin_mul_overflow(last, stride, &d) || __builtin_add_overflow(end, d, &end))
            return false;
    }
    if (__builtin_mul_overflow((uint64_t)apir_opshape_nel(t), es, &size))
        return false;
    if (apir_opshape_empty(b))
        return end <= size;
    return !__builtin_add_overflow(end, es, &end) && end <= size;
}
