/* kernels.c — what each step does to its tile. Shapes: activations are [rows][width] f32,
 * rows = the call's token count (or 1 after LAST_ROW). Reduction orders are fixed here and
 * do not depend on the tile, the thread count or the number of rows:
 *
 *   sum of squares, dot products: element i goes to lane i % 16 (each lane adds in index
 *   order), then lanes are folded pairwise: l[i] += l[i + 8], then + 4, + 2, + 1.
 *   softmax sum and the weighted sum of values: keys in position order.
 *   matmul: see quant/quant.c.
 *
 * The inner loops with an AVX-512 version (kernels_simd.h: the lane dot, y += w x, the
 * norm's scaling, add, the embedding's scale, GLU, RoPE, the softmax's exponentials) keep
 * these orders and the scalar operation sequence exactly; which runs follows LOCKSTEP_ISA. */
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

void ls_exp_shifted_scalar(float *y, const float *x, float shift, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = ls_expf(x[i] - shift);
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

static void quantize(const ls_exec *e, const ls_step *s, const ls_node *n, int thread) {
    int64_t first, end;
    row_tile(e, s, thread, &first, &end);
    const ls_buffer *in = &e->program->buffers[s->in[0]];
    const ls_buffer *out = &e->program->buffers[s->out];
    int64_t width = in->row_bytes / 4;
    for (int64_t t = first; t < end; t++)
        ls_quantize_activation_row(n->weight->type, (const float *)(e->arena + in->offset) + t * width,
                                   e->arena + out->offset + t * out->row_bytes, width);
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
    int64_t rows = s->one_row ? 1 : e->n_rows;
    const float *in = (const float *)buffer(e, s->in[0]);
    float *out = (float *)buffer(e, s->out);
    int64_t head_dim = n->p.rope.head_dim, half = head_dim / 2;
    const float *table = e->rope + (size_t)n->p.rope.table * (size_t)e->program->context * (size_t)half * 2;
    int interleaved = n->p.rope.style == LS_ROPE_INTERLEAVED;
    bool vector = simd();
    for (int64_t t = 0; t < rows; t++) {
        const float *angles = table + (size_t)e->positions[t] * (size_t)half * 2;
        for (int64_t h = s->tile[thread]; h < s->tile[thread + 1]; h++) {
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

/* For each query head in the tile and each row: scores over the visible keys, softmax,
 * weighted sum of values. A row at position p sees keys [max(0, p - window + 1), p] of its
 * own sequence's cache, nothing of the other rows' sequences.
 * The softmax sum is taken in double, in key order. On the AVX-512 path two query heads of
 * one KV head go together (each key and value row loaded once for both); every head's
 * operations and their order stay those of one head alone. */
static void attention(const ls_exec *e, const ls_step *s, const ls_node *n, int thread) {
    int64_t rows = s->one_row ? 1 : e->n_rows;
    const float *q = (const float *)buffer(e, s->in[0]);
    float *out = (float *)buffer(e, s->out);
    const int64_t head_dim = n->p.attention.head_dim, context = e->program->context;
    int64_t group = n->p.attention.n_head / n->p.attention.n_head_kv;
    int64_t window = n->p.attention.window;
    float *scratch = e->scratch + (size_t)thread * 2 * (size_t)(context + e->program->graph.kv_width);
    float *scores[2] = {scratch, scratch + context};
    float *query[2] = {scratch + 2 * context, scratch + 2 * context + e->program->graph.kv_width};
    bool vector = simd();
    for (int64_t h = s->tile[thread], pair; h < s->tile[thread + 1]; h += pair) {
        pair = vector && h + 1 < s->tile[thread + 1] && (h + 1) / group == h / group ? 2 : 1;
        int64_t kv_offset = (h / group) * head_dim;
        for (int64_t t = 0; t < rows; t++) {
            int64_t pos = e->positions[t];
            int32_t sequence = e->sequences[t];
            int64_t lo = window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0;
            float max[2] = {-INFINITY, -INFINITY};
            float inv[2];
            for (int u = 0; u < pair; u++) {
                const float *qh = q + t * n->width + (h + u) * head_dim;
                for (int64_t d = 0; d < head_dim; d++) query[u][d] = qh[d];
            }
            for (int64_t j = lo; j <= pos; j++) {
                const float *k = kv_row(e, sequence, n->p.attention.layer, 0, j) + kv_offset;
                float dot[2];
                if (pair == 2) ls_lane_dot2_avx512(query[0], query[1], k, head_dim, dot);
                else dot[0] = vector ? ls_lane_dot_avx512(query[0], k, head_dim) : ls_lane_dot_scalar(query[0], k, head_dim);
                for (int u = 0; u < pair; u++) {
                    float score = dot[u] * n->p.attention.scale;
                    scores[u][j] = score;
                    if (score > max[u]) max[u] = score;
                }
            }
            for (int u = 0; u < pair; u++) {
                if (vector) ls_exp_shifted_avx512(scores[u] + lo, scores[u] + lo, max[u], pos - lo + 1);
                else ls_exp_shifted_scalar(scores[u] + lo, scores[u] + lo, max[u], pos - lo + 1);
                double sum = 0;
                for (int64_t j = lo; j <= pos; j++) sum += scores[u][j];
                inv[u] = (float)(1.0 / sum);
            }
            float *o = out + t * n->width + h * head_dim;
            const float *v = kv_row(e, sequence, n->p.attention.layer, 1, lo) + kv_offset;
            int64_t stride = e->program->graph.kv_width, keys = pos - lo + 1;
            if (pair == 2) {
                ls_attend2_avx512(o, o + head_dim, scores[0] + lo, scores[1] + lo, inv[0], inv[1], v, stride,
                                  keys, head_dim);
            } else if (vector) {
                ls_attend_avx512(o, scores[0] + lo, inv[0], v, stride, keys, head_dim);
            } else {
                for (int64_t d = 0; d < head_dim; d++) o[d] = 0;
                for (int64_t j = 0; j < keys; j++) ls_axpy_scalar(o, scores[0][lo + j] * inv[0], v + j * stride, head_dim);
            }
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
