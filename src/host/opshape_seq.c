/* Per-op rules: recurrent and state-space ops (Mamba, RWKV, gated linear/delta attention) and
 * DeepSeek-V4's hyper-connection ops. Their kernels index sources and the concatenated
 * output/state result as flat F32 arrays, so contiguity and exact element counts matter. */
#include "opshape_impl.h"

static bool apir_opshape_f32_contig(const apir_wt *t)
{
    return t && t->type == GGML_TYPE_F32 && apir_opshape_contig(t, 0);
}

/* ggml_ssm_conv(sx = [d_conv - 1 + n_t, d_inner, n_s], c = [d_conv, d_inner]): F32
 * [d_inner, n_t, n_s]. The kernel asserts dense sx rows and reads d_conv-long windows of sx and
 * rows of c as flat runs of floats. */
bool apir_opshape_ssm_conv(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *sx = o->src[0], *c = o->src[1];
    if (!sx || !c || sx->ne[3] != 1 || c->ne[2] != 1 || c->ne[3] != 1 || sx->ne[1] != c->ne[1])
        return false;
    int64_t n_t = sx->ne[0] - c->ne[0] + 1;
    return n_t >= 0 && t->type == GGML_TYPE_F32 &&
           apir_opshape_ne_is(t, c->ne[1], n_t, sx->ne[2], 1) && sx->type == GGML_TYPE_F32 &&
           c->type == GGML_TYPE_F32 && sx->nb[0] == sizeof(float) && c->nb[0] == sizeof(float) &&
           sx->nb[1] == (uint64_t)sx->ne[0] * sizeof(float) &&
           (c->ne[1] <= 1 || c->nb[1] >= (uint64_t)c->ne[0] * sizeof(float));
}

/* The dense-row layout ggml_ssm_scan asserts for x, B and C. */
static bool apir_opshape_scan_rows(const apir_wt *t)
{
    return t && t->type == GGML_TYPE_F32 && t->nb[0] == sizeof(float) &&
           t->nb[1] == (uint64_t)t->ne[0] * sizeof(float);
}

/* ggml_ssm_scan(s, x, dt, A, B, C, ids, K): the constructor's shape asserts; F32 result of
 * nelements(x) outputs followed by K state snapshots per sequence. The kernel (F32 only, dense
 * rows asserted) groups heads by B's ne1 (a divisor) and writes states at s's strides. */
bool apir_opshape_ssm_scan(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *s = o->src[0], *x = o->src[1], *dt = o->src[2], *A = o->src[3];
    const apir_wt *B = o->src[4], *C = o->src[5], *ids = o->src[6];
    int64_t k = apir_opshape_i32(t, 0), states, total;
    if (!apir_opshape_f32_contig(s) || !apir_opshape_scan_rows(x) || !apir_opshape_f32_contig(dt) ||
        !apir_opshape_f32_contig(A) || !apir_opshape_scan_rows(B) || !apir_opshape_scan_rows(C) ||
        !ids || ids->type != GGML_TYPE_I32 || ids->nb[0] != sizeof(int32_t) || k < 1)
        return false;
    if (!apir_opshape_same_ne(B, C) || !apir_opshape_ne_is(dt, x->ne[1], x->ne[2], x->ne[3], 1) ||
        s->ne[1] != x->ne[0] || s->ne[2] != x->ne[1] || B->ne[0] != s->ne[0] ||
        B->ne[2] != x->ne[2] || B->ne[3] != x->ne[3] ||
        !apir_opshape_ne_is(ids, x->ne[3], 1, 1, 1) || A->ne[1] != x->ne[1] || A->ne[2] != 1 ||
        A->ne[3] != 1 || (A->ne[0] != 1 && (A->ne[0] != s->ne[0] || k != 1)))
        return false;
    if (B->ne[1] <= 0 || x->ne[1] % B->ne[1] != 0)
        return false;
    if (!apir_opshape_mul(s->ne[0], s->ne[1], &states) ||
        !apir_opshape_mul(states, s->ne[2], &states) ||
        !apir_opshape_mul(states, ids->ne[0], &states) || !apir_opshape_mul(states, k, &states) ||
        __builtin_add_overflow(apir_opshape_nel(x), states, &total))
        return false;
    return t->type == GGML_TYPE_F32 && apir_opshape_ne_is(t, total, 1, 1, 1);
}

/* RWKV6 / GLA / RWKV7: every input contiguous F32; S = k0 (head size), H = k1, T = k2 tokens;
 * state holds S*S*H per sequence; result F32 [S*H, T + S*n_seqs]. The kernels give each
 * sequence T / n_seqs tokens (a divisor: T must split evenly). */
static bool apir_opshape_wkv_common(const apir_wt *t, const apir_wt *k, const apir_wt *state)
{
    int64_t s = k->ne[0], h = k->ne[1], n_t = k->ne[2], n_seqs = state->ne[1], sh, n;
    if (!apir_opshape_mul(s, h, &sh) || !apir_opshape_mul(sh, s, &n) ||
        !apir_opshape_mul(n, n_seqs, &n) || apir_opshape_nel(state) != n)
        return false;
    if (n_t > 0 && (n_seqs < 1 || n_t % n_seqs != 0))
        return false;
    return t->type == GGML_TYPE_F32 && apir_opshape_ne_is(t, sh, n_t + s * n_seqs, 1, 1);
}

static bool apir_opshape_wkv_like(const apir_wt *x, const apir_wt *k)
{
    return apir_opshape_f32_contig(x) && x->ne[0] == k->ne[0] && x->ne[1] == k->ne[1] &&
           x->ne[2] == k->ne[2];
}

bool apir_opshape_rwkv_wkv6(const struct apir_opshape *o)
{
    const apir_wt *k = o->src[0], *tf = o->src[3], *state = o->src[5];
    /* time_faaaa is read per (head, channel): S*H values. */
    return apir_opshape_f32_contig(k) && apir_opshape_wkv_like(o->src[1], k) &&
           apir_opshape_wkv_like(o->src[2], k) && apir_opshape_f32_contig(tf) &&
           apir_opshape_nel(tf) >= k->ne[0] * k->ne[1] && apir_opshape_wkv_like(o->src[4], k) &&
           apir_opshape_f32_contig(state) && apir_opshape_wkv_common(o->t, k, state);
}

bool apir_opshape_gated_linear_attn(const struct apir_opshape *o)
{
    const apir_wt *k = o->src[0], *state = o->src[4];
    return apir_opshape_f32_contig(k) && apir_opshape_wkv_like(o->src[1], k) &&
           apir_opshape_wkv_like(o->src[2], k) && apir_opshape_wkv_like(o->src[3], k) &&
           apir_opshape_f32_contig(state) && apir_opshape_wkv_common(o->t, k, state);
}

/* ggml_rwkv_wkv7(r, w, k, v, a, b, state): r's shape is not asserted by ggml but the kernel
 * reads it like k. */
bool apir_opshape_rwkv_wkv7(const struct apir_opshape *o)
{
    const apir_wt *k = o->src[2], *state = o->src[6];
    if (!apir_opshape_f32_contig(k) || !apir_opshape_f32_contig(state))
        return false;
    for (int i = 0; i < 6; i++) {
        if (i != 2 && !apir_opshape_wkv_like(o->src[i], k))
            return false;
    }
    return apir_opshape_wkv_common(o->t, k, state);
}

/* q and k rows per (head, token, sequence): the kernel takes heads modulo their ne1 and
 * sequences divided by v3 / ne3, and reads S_v floats per row. */
static bool apir_opshape_gdn_qk(const apir_wt *x, const apir_wt *v)
{
    return x && x->type == GGML_TYPE_F32 && apir_opshape_rows_contig(x) && x->ne[0] >= v->ne[0] &&
           x->ne[1] >= 1 && x->ne[2] >= v->ne[2] && x->ne[3] >= 1 && x->ne[3] <= v->ne[3] &&
           v->ne[3] % x->ne[3] == 0;
}

/* g and beta: one value (or S_v for a vector gate) per (head, token, sequence). */
static bool apir_opshape_gdn_gate(const apir_wt *x, const apir_wt *v, bool vec)
{
    return apir_opshape_f32_contig(x) && (x->ne[0] == 1 || (vec && x->ne[0] == v->ne[0])) &&
           x->ne[1] >= v->ne[1] && x->ne[2] >= v->ne[2] && x->ne[3] >= v->ne[3];
}

/* ggml_gated_delta_net(q, k, v, g, beta, state, K): F32 result [S_v*H, T*n_seqs + K*S_v*n_seqs]
 * (outputs, then K state snapshots) written as a flat array. */
bool apir_opshape_gated_delta_net(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *v = o->src[2], *state = o->src[5];
    int64_t k = apir_opshape_i32(t, 0), rows, snaps;
    if (!v || v->type != GGML_TYPE_F32 || !apir_opshape_rows_contig(v) || k < 1 ||
        !apir_opshape_gdn_qk(o->src[0], v) || !apir_opshape_gdn_qk(o->src[1], v) ||
        !apir_opshape_gdn_gate(o->src[3], v, true) || !apir_opshape_gdn_gate(o->src[4], v, false))
        return false;
    if (!apir_opshape_f32_contig(state) ||
        !apir_opshape_ne_is(state, v->ne[0], v->ne[0], v->ne[1], v->ne[3]))
        return false;
    if (!apir_opshape_mul(v->ne[2], v->ne[3], &rows) || !apir_opshape_mul(k, v->ne[0], &snaps) ||
        !apir_opshape_mul(snaps, v->ne[3], &snaps) || __builtin_add_overflow(rows, snaps, &rows))
        return false;
    return t->type == GGML_TYPE_F32 && apir_opshape_ne_is(t, v->ne[0] * v->ne[1], rows, 1, 1) &&
           apir_opshape_contig(t, 0);
}

/* ggml_dsv4_hc_comb(mixes, scale, base): hc must be 4, so mixes0 == (2 + 4) * 4; F32
 * [4, 4, n_tokens]; n_iter > 0 (asserted) Sinkhorn iterations per token, which the kernel
 * loops over: bounded like every other loop count (DeepSeek-V4 uses 20). */
bool apir_opshape_dsv4_hc_comb(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *m = o->src[0], *s = o->src[1], *b = o->src[2];
    return m && s && b && m->type == GGML_TYPE_F32 && s->type == GGML_TYPE_F32 &&
           b->type == GGML_TYPE_F32 && m->ne[0] == 24 && m->ne[2] == 1 && m->ne[3] == 1 &&
           s->ne[0] >= 3 && s->ne[1] == 1 && s->ne[2] == 1 && s->ne[3] == 1 &&
           apir_opshape_ne_is(b, 24, 1, 1, 1) && apir_opshape_i32(t, 1) > 0 &&
           apir_opshape_i32(t, 1) <= APIR_OPSHAPE_STEPS_PER_ELEMENT && t->type == GGML_TYPE_F32 &&
           apir_opshape_ne_is(t, 4, 4, m->ne[1], 1);
}

/* ggml_dsv4_hc_pre(_gated)(x = [n_embd, hc, n_tokens], weights): F32 [n_embd, n_tokens];
 * weights [hc, n_tokens] or, gated (param 1), [n_embd, hc, n_tokens]. */
bool apir_opshape_dsv4_hc_pre(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *x = o->src[0], *w = o->src[1];
    if (!x || !w || x->type != GGML_TYPE_F32 || w->type != GGML_TYPE_F32 || x->ne[1] <= 0 ||
        x->ne[3] != 1 || w->ne[3] != 1)
        return false;
    bool shape = apir_opshape_i32(t, 1) != 0
                     ? apir_opshape_ne_is(w, x->ne[0], x->ne[1], x->ne[2], 1)
                     : apir_opshape_ne_is(w, x->ne[1], x->ne[2], 1, 1);
    return shape && t->type == GGML_TYPE_F32 && apir_opshape_ne_is(t, x->ne[0], x->ne[2], 1, 1);
}

/* ggml_dsv4_hc_post(x = [n_embd, n_tokens], residual = [n_embd, hc, n_tokens],
 * post = [hc, n_tokens], optional comb = [hc, hc, n_tokens]): F32 [n_embd, hc, n_tokens]. */
bool apir_opshape_dsv4_hc_post(const struct apir_opshape *o)
{
    const apir_wt *t = o->t, *x = o->src[0], *r = o->src[1], *p = o->src[2], *c = o->src[3];
    if (!x || !r || !p || x->type != GGML_TYPE_F32 || r->type != GGML_TYPE_F32 ||
        p->type != GGML_TYPE_F32 || r->ne[1] <= 0 || x->ne[2] != 1 || x->ne[3] != 1)
        return false;
    int64_t hc = r->ne[1], n_tokens = x->ne[1];
    if (!apir_opshape_ne_is(r, x->ne[0], hc, n_tokens, 1) ||
        !apir_opshape_ne_is(p, hc, n_tokens, 1, 1))
        return false;
    if (c && (c->type != GGML_TYPE_F32 || !apir_opshape_ne_is(c, hc, hc, n_tokens, 1)))
        return false;
    return t->type == GGML_TYPE_F32 && apir_opshape_ne_is(t, x->ne[0], hc, n_tokens, 1);
}
