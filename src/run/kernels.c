/* kernels.c — what each step does to its tile. Shapes: activations are [rows][width] f32,
 * rows = the call's token count (or 1 after LAST_ROW). Reduction orders are fixed here and
 * do not depend on the tile, the thread count or the number of rows:
 *
 *   sum of squares, dot products: element i goes to lane i % 16 (each lane adds in index
 *   order), then lanes are folded pairwise: l[i] += l[i + 8], then + 4, + 2, + 1.
 *   softmax sum and the weighted sum of values: keys in position order.
 *   matmul: see quant/quant.c.
 *
 * The inner loops with an AVX-512 version (kernels_simd.h: the lane dot, attention's scores
 * and weighted sums for a block of queries, the norm's scaling, add, the embedding's scale,
 * GLU, RoPE, the softmax's exponentials) keep these orders and the scalar operation
 * sequence exactly; which runs follows LOCKSTEP_ISA. */
#include <math.h>
#include <string.h>

#include "base/fmath.h"
#include "quant/quant.h"
#include "run/kernels_simd.h"
#include "run/runtime.h"

#define LANES 16

/* The canonical 16-lane fold of a[i] * b[i] (b == NULL: a[i] * a[i]). */
float ls_lane_dot_scalar(const float *a, const float *b, int64_t n) {
    float lanes[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) lanes[l] += a[i + l] * (b ? b[i + l] : a[i + l]);
    for (int l = 0; i < n; i++, l++) lanes[l] += a[i] * (b ? b[i] : a[i]);
    for (int width = LANES / 2; width >= 1; width /= 2)
        for (int l = 0; l < width; l++) lanes[l] += lanes[l + width];
    return lanes[0];
}

void ls_axpy_scalar(float *y, float w, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += w * x[i];
}

void ls_scale_mul_scalar(float *y, const float *x, float scale, const float *w, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = (x[i] * scale) * w[i];
}

void ls_add_scalar(float *y, const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void ls_scale_scalar(float *y, float s, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] *= s;
}

void ls_glu_scalar(float *y, const float *gate, const float *up, int64_t n, int gelu) {
    for (int64_t i = 0; i < n; i++) y[i] = (gelu ? ls_gelu_tanh(gate[i]) : ls_silu(gate[i])) * up[i];
}

void ls_exp_shifted_scalar(float *y, const float *x, const float *shift, int p, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float d = x[i] - shift[i % p];
        float e = ls_expf(d < LS_SOFTMAX_EXP_FLOOR ? LS_SOFTMAX_EXP_FLOOR : d);
        y[i] = d < LS_SOFTMAX_EXP_FLOOR ? 0.0f : e;
    }
}

void ls_scores_scalar(const float *const q[], int nq, const float *k, int64_t stride, int64_t keys,
                      int64_t n, float scale, float *s, int p) {
    for (int64_t j = 0; j < keys; j++)
        for (int i = 0; i < nq; i++) s[j * p + i] = ls_lane_dot_scalar(q[i], k + j * stride, n) * scale;
}

void ls_attend_scalar(float *const o[], int nq, const float *w, int p, const float *v, int64_t stride,
                      int64_t keys, int64_t n) {
    for (int64_t j = 0; j < keys; j++)
        for (int i = 0; i < nq; i++) ls_axpy_scalar(o[i], w[j * p + i], v + j * stride, n);
}

void ls_rope_head_scalar(float *y, const float *x, const float *angles, int64_t half, int interleaved) {
    for (int64_t i = 0; i < half; i++) {
        int64_t i0 = interleaved ? 2 * i : i, i1 = interleaved ? 2 * i + 1 : i + half;
        float c = angles[2 * i], sn = angles[2 * i + 1];
        float x0 = x[i0], x1 = x[i1];
        y[i0] = x0 * c - x1 * sn;
        y[i1] = x0 * sn + x1 * c;
    }
}

static bool simd(void) { return ls_isa_current() == LS_ISA_AVX512; }

static float lane_dot(const float *a, const float *b, int64_t n) {
    return simd() ? ls_lane_dot_avx512(a, b, n) : ls_lane_dot_scalar(a, b, n);
}

/* y = a + b, element by element (y may be a or b). */
static void add_row(float *y, const float *a, const float *b, int64_t n) {
    if (simd()) ls_add_avx512(y, a, b, n);
    else ls_add_scalar(y, a, b, n);
}

static uint8_t *buffer(const ls_exec *e, int32_t id) {
    return e->arena + e->program->buffers[id].offset;
}

static int64_t row_bytes(const ls_weight *w) {
    const ls_dtype_info *info = ls_dtype_find(w->type);
    return w->n_in / info->block_elements * info->block_bytes;
}

/* The rows of the call that fall in this thread's tile. */
static void row_tile(const ls_exec *e, const ls_step *s, int thread, int64_t *first, int64_t *end) {
    int64_t rows = s->one_row ? 1 : e->n_rows;
    *first = s->tile[thread] < rows ? s->tile[thread] : rows;
    *end = s->tile[thread + 1] < rows ? s->tile[thread + 1] : rows;
}

static void embed(const ls_exec *e, const ls_step *s, const ls_node *n, int thread) {
    int64_t first, end;
    row_tile(e, s, thread, &first, &end);
    const int32_t *tokens = (const int32_t *)buffer(e, s->in[0]);
    float *out = (float *)buffer(e, s->out);
    const ls_weight *table = n->weight;
    int64_t bytes = row_bytes(table);
    for (int64_t t = first; t < end; t++) {
        float *row = out + t * n->width;
        ls_dequantize_row(table->type, (const uint8_t *)table->data + tokens[t] * bytes, row, n->width);
        if (n->p.scale != 1.0f) {
            if (simd()) ls_scale_avx512(row, n->p.scale, n->width);
            else ls_scale_scalar(row, n->p.scale, n->width);
        }
    }
}

/* x / sqrt(mean(x^2) + eps) * w over each group of w->n_in elements (a head, or the row);
 * with a fused residual ADD (in[2]), residual + that. */
static void rmsnorm(const ls_exec *e, const ls_step *s, const ls_node *n, int thread) {
    int64_t first, end;
    row_tile(e, s, thread, &first, &end);
    const float *in = (const float *)buffer(e, s->in[0]);
    float *out = (float *)buffer(e, s->out);
    const float *w = n->weight->data;
    int64_t group = n->weight->n_in;
    for (int64_t t = first; t < end; t++)
        for (int64_t g = 0; g < n->width; g += group) {
            const float *x = in + t * n->width + g;
            float *y = out + t * n->width + g;
            float mean = lane_dot(x, NULL, group) / (float)group;
            float scale = 1.0f / sqrtf(mean + n->p.eps);
            if (simd()) ls_scale_mul_avx512(y, x, scale, w, group);
            else ls_scale_mul_scalar(y, x, scale, w, group);
            if (s->in[2] >= 0) add_row(y, (const float *)buffer(e, s->in[2]) + t * n->width + g, y, group);
        }
}

/* Rows of the tile, or (cut by columns) the tile's columns of every row: a whole number of
 * activation groups from column c0, whose bytes start at the size of a row of c0 elements. */
static void quantize(const ls_exec *e, const ls_step *s, const ls_node *n, int thread) {
    const ls_buffer *in = &e->program->buffers[s->in[0]];
    const ls_buffer *out = &e->program->buffers[s->out];
    int64_t width = in->row_bytes / 4, first = 0, end = s->one_row ? 1 : e->n_rows, c0 = 0, c1 = width;
    if (s->split == LS_SPLIT_COLUMNS) {
        c0 = s->tile[thread];
        c1 = s->tile[thread + 1];
        if (c0 >= c1) return;
    } else {
        row_tile(e, s, thread, &first, &end);
    }
    size_t skip = ls_activation_row_bytes(n->weight->type, c0);
    for (int64_t t = first; t < end; t++)
        ls_quantize_activation_row(n->weight->type, (const float *)(e->arena + in->offset) + t * width + c0,
                                   e->arena + out->offset + t * out->row_bytes + skip, c1 - c0);
}

static void matmul(const ls_exec *e, const ls_step *s, const ls_node *n, int thread) {
    int64_t rows = s->one_row ? 1 : e->n_rows;
    int64_t r0 = s->tile[thread], r1 = s->tile[thread + 1];
    if (r0 >= r1) return;
    float *out = (float *)buffer(e, s->out);
    if (e->packed && e->packed[s->node])
        ls_matmul_packed(n->weight->type, e->packed[s->node], n->weight->n_in, r0, r1, buffer(e, s->in[0]),
                         rows, out, n->width);
    else
        ls_matmul(n->weight->type, n->weight->data, n->weight->n_in, r0, r1, buffer(e, s->in[0]),
                  rows, out, n->width);
    if (n->bias) {
        const float *bias = n->bias->data;
        for (int64_t t = 0; t < rows; t++) /* out = out + bias */
            add_row(out + t * n->width + r0, out + t * n->width + r0, bias + r0, r1 - r0);
    }
    if (s->in[2] >= 0) { /* fused residual ADD: out = residual + out, as the ADD step would */
        const float *residual = (const float *)buffer(e, s->in[2]);
        for (int64_t t = 0; t < rows; t++)
            add_row(out + t * n->width + r0, residual + t * n->width + r0, out + t * n->width + r0,
                    r1 - r0);
    }
}

static void add(const ls_exec *e, const ls_step *s, const ls_node *n, int thread) {
    int64_t rows = s->one_row ? 1 : e->n_rows;
    const float *a = (const float *)buffer(e, s->in[0]);
    const float *b = (const float *)buffer(e, s->in[1]);
    float *out = (float *)buffer(e, s->out);
    int64_t first = s->tile[thread], count = s->tile[thread + 1] - first;
    for (int64_t t = 0; t < rows && count > 0; t++) {
        int64_t at = t * n->width + first;
        add_row(out + at, a + at, b + at, count);
    }
}

static void glu(const ls_exec *e, const ls_step *s, const ls_node *n, int thread) {
    int64_t rows = s->one_row ? 1 : e->n_rows;
    const float *gate = (const float *)buffer(e, s->in[0]);
    const float *up = (const float *)buffer(e, s->in[1]);
    float *out = (float *)buffer(e, s->out);
    int gelu = n->p.activation == LS_ACT_GELU_TANH;
    int64_t first = s->tile[thread], count = s->tile[thread + 1] - first;
    for (int64_t t = 0; t < rows && count > 0; t++) {
        int64_t at = t * n->width + first;
        if (simd()) ls_glu_avx512(out + at, gate + at, up + at, count, gelu);
        else ls_glu_scalar(out + at, gate + at, up + at, count, gelu);
    }
}

/* Rotates pair (x0, x1) of each head by the angle of (position, pair index). */
static void rope(const ls_exec *e, const ls_step *s, const ls_node *n, int thread) {
    int64_t first, end;
    row_tile(e, s, thread, &first, &end);
    const float *in = (const float *)buffer(e, s->in[0]);
    float *out = (float *)buffer(e, s->out);
    int64_t head_dim = n->p.rope.head_dim, half = head_dim / 2;
    const float *table = e->rope + (size_t)n->p.rope.table * (size_t)e->program->context * (size_t)half * 2;
    int interleaved = n->p.rope.style == LS_ROPE_INTERLEAVED;
    bool vector = simd();
    for (int64_t t = first; t < end; t++) {
        const float *angles = table + (size_t)e->positions[t] * (size_t)half * 2;
        for (int64_t h = 0; h < n->p.rope.n_heads; h++) {
            const float *x = in + t * n->width + h * head_dim;
            float *y = out + t * n->width + h * head_dim;
            if (vector) ls_rope_head_avx512(y, x, angles, half, interleaved);
            else ls_rope_head_scalar(y, x, angles, half, interleaved);
        }
    }
}

/* Row `pos` of the keys (which 0) or values (1) of `layer` in sequence `sequence`'s cache. */
static float *kv_row(const ls_exec *e, int32_t sequence, int32_t layer, int which, int64_t pos) {
    const ls_graph *g = &e->program->graph;
    size_t plane = ((size_t)sequence * (size_t)g->n_layers_kv + (size_t)layer) * 2 + (size_t)which;
    return e->kv + (plane * (size_t)e->program->context + (size_t)pos) * (size_t)g->kv_width;
}

static void kv_store(const ls_exec *e, const ls_step *s, const ls_node *n, int thread) {
    int64_t first, end;
    row_tile(e, s, thread, &first, &end);
    int64_t width = e->program->graph.kv_width;
    const float *k = (const float *)buffer(e, s->in[0]);
    const float *v = (const float *)buffer(e, s->in[1]);
    for (int64_t t = first; t < end; t++) {
        float *kc = kv_row(e, e->sequences[t], n->p.attention.layer, 0, e->positions[t]);
        float *vc = kv_row(e, e->sequences[t], n->p.attention.layer, 1, e->positions[t]);
        for (int64_t i = 0; i < width; i++) {
            kc[i] = k[t * width + i];
            vc[i] = v[t * width + i];
        }
    }
}

/* One block of attention: query heads [h0, h0 + nh) of one KV head for rows [t0, t0 + nr) of one
 * sequence at consecutive positions (nh * nr <= LS_ATTENTION_QUERIES; query i is row i / nh,
 * head h0 + i % nh). A row at position p sees keys [max(0, p - window + 1), p] of its sequence's
 * cache. Each query, alone, goes: scores over its keys; their max; exponentials of score - max
 * (0 below e^-87: LS_SOFTMAX_EXP_FLOOR); their sum in double, in key order; weights =
 * exponential * (float)(1 / sum); o = 0, then o += weight * value row, keys in order. Together:
 * scores are taken over the union of the rows' keys (the extra ones are never read), and the
 * weighted sum runs over segments of keys that the same rows see, in key order, o staying in
 * memory between segments. s: scratch of LS_ATTENTION_QUERIES * context floats. */
static void attention_block(const ls_exec *e, const ls_node *n, const float *qbuf, float *out, int64_t h0,
                            int nh, int64_t t0, int nr, float *s) {
    const int64_t head_dim = n->p.attention.head_dim, window = n->p.attention.window;
    const int64_t stride = e->program->graph.kv_width;
    const int32_t sequence = e->sequences[t0], layer = n->p.attention.layer;
    const int64_t kv_offset = (h0 / (n->p.attention.n_head / n->p.attention.n_head_kv)) * head_dim;
    const bool vector = simd();
    const int nq = nh * nr;
    int p = 1;
    while (p < nq) p *= 2;
    int64_t lo[LS_ATTENTION_QUERIES], hi[LS_ATTENTION_QUERIES];
    const float *q[LS_ATTENTION_QUERIES];
    float *o[LS_ATTENTION_QUERIES];
    float shift[16] = {0}, inv[16] = {0};
    for (int i = 0; i < nq; i++) {
        int r = i / nh;
        hi[r] = e->positions[t0 + r];
        lo[r] = window > 0 && hi[r] - window + 1 > 0 ? hi[r] - window + 1 : 0;
        size_t at = (size_t)(t0 + r) * (size_t)n->width + (size_t)(h0 + i % nh) * (size_t)head_dim;
        q[i] = qbuf + at;
        o[i] = out + at;
    }
    const int64_t first = lo[0], keys = hi[nr - 1] - first + 1; /* lo and hi grow with r */
    if (vector)
        ls_scores_avx512(q, nq, kv_row(e, sequence, layer, 0, first) + kv_offset, stride, keys, head_dim,
                         n->p.attention.scale, s, p);
    else
        ls_scores_scalar(q, nq, kv_row(e, sequence, layer, 0, first) + kv_offset, stride, keys, head_dim,
                         n->p.attention.scale, s, p);
    for (int i = 0; i < nq; i++) {
        float max = -INFINITY;
        for (int64_t j = lo[i / nh] - first; j <= hi[i / nh] - first; j++)
            if (s[j * p + i] > max) max = s[j * p + i];
        shift[i] = max;
    }
    if (vector) ls_exp_shifted_avx512(s, s, shift, p, keys * p);
    else ls_exp_shifted_scalar(s, s, shift, p, keys * p);
    for (int i = 0; i < nq; i++) {
        double sum = 0;
        for (int64_t j = lo[i / nh] - first; j <= hi[i / nh] - first; j++) sum += s[j * p + i];
        inv[i] = (float)(1.0 / sum);
    }
    for (int64_t x = 0; x < keys * p; x++) s[x] = s[x] * inv[x & (p - 1)]; /* p: a power of two */
    for (int i = 0; i < nq; i++) memset(o[i], 0, (size_t)head_dim * sizeof(float));
    /* segments [a, b): between consecutive bounds lo[r], hi[r] + 1 of the rows; the rows
     * seeing all of one are a run ra..rb-1 (lo and hi grow with r) */
    for (int64_t a = first; a <= hi[nr - 1];) {
        int64_t b = hi[nr - 1] + 1;
        for (int r = 0; r < nr; r++) {
            if (lo[r] > a && lo[r] < b) b = lo[r];
            if (hi[r] + 1 > a && hi[r] + 1 < b) b = hi[r] + 1;
        }
        int ra = 0, rb = nr;
        while (ra < nr && hi[ra] < a) ra++;
        while (rb > ra && lo[rb - 1] > a) rb--;
        if (rb > ra) {
            const float *w = s + (a - first) * p + ra * nh;
            const float *v = kv_row(e, sequence, layer, 1, a) + kv_offset;
            if (vector) ls_attend_avx512(o + ra * nh, (rb - ra) * nh, w, p, v, stride, b - a, head_dim);
            else ls_attend_scalar(o + ra * nh, (rb - ra) * nh, w, p, v, stride, b - a, head_dim);
        }
        a = b;
    }
}

/* Attention over the tile's query heads: blocks of the heads of one KV head and of rows of
 * one sequence at consecutive positions, as many as fit LS_ATTENTION_QUERIES. The queries'
 * buffer may be the output's: a block reads its queries (scores) before it writes its
 * outputs, and touches no other block's rows and heads. */
static void attention(const ls_exec *e, const ls_step *s, const ls_node *n, int thread) {
    const int64_t rows = s->one_row ? 1 : e->n_rows, group = n->p.attention.n_head / n->p.attention.n_head_kv;
    const float *q = (const float *)buffer(e, s->in[0]);
    float *out = (float *)buffer(e, s->out);
    float *scores = e->scratch + (size_t)thread * LS_ATTENTION_QUERIES * (size_t)e->program->context;
    for (int64_t h0 = s->tile[thread], h1; h0 < s->tile[thread + 1]; h0 = h1) {
        h1 = (h0 / group + 1) * group; /* the heads of h0's KV head in the tile, at most 8 */
        if (h1 > s->tile[thread + 1]) h1 = s->tile[thread + 1];
        if (h1 > h0 + LS_ATTENTION_QUERIES) h1 = h0 + LS_ATTENTION_QUERIES;
        int nh = (int)(h1 - h0), most = LS_ATTENTION_QUERIES / nh;
        for (int64_t t0 = 0, t1; t0 < rows; t0 = t1) {
            for (t1 = t0 + 1; t1 < rows && t1 - t0 < most && e->sequences[t1] == e->sequences[t0] &&
                              e->positions[t1] == e->positions[t1 - 1] + 1;
                 t1++) {
            }
            attention_block(e, n, q, out, h0, nh, t0, (int)(t1 - t0), scores);
        }
    }
}

static void last_row(const ls_exec *e, const ls_step *s, const ls_node *n, int thread) {
    if (thread != 0) return;
    const float *in = (const float *)buffer(e, s->in[0]);
    memcpy(buffer(e, s->out), in + (e->n_rows - 1) * n->width, (size_t)n->width * 4);
}

void ls_run_step(const ls_exec *e, const ls_step *s, int thread) {
    const ls_node *n = &e->program->graph.nodes[s->node];
    switch (s->kernel) {
    case LS_K_EMBED: embed(e, s, n, thread); break;
    case LS_K_RMSNORM: rmsnorm(e, s, n, thread); break;
    case LS_K_QUANTIZE: quantize(e, s, n, thread); break;
    case LS_K_MATMUL: matmul(e, s, n, thread); break;
    case LS_K_ADD: add(e, s, n, thread); break;
    case LS_K_ROPE: rope(e, s, n, thread); break;
    case LS_K_KV_STORE: kv_store(e, s, n, thread); break;
    case LS_K_ATTENTION: attention(e, s, n, thread); break;
    case LS_K_GLU: glu(e, s, n, thread); break;
    case LS_K_LAST_ROW: last_row(e, s, n, thread); break;
    case LS_K_COUNT: break;
    }
}
