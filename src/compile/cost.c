/* cost.c — the predicted time of each step (see cost.h), from the machine model
 * (machine.c). */
#include "compile/cost.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fmath.h"
#include "quant/quant.h"

/* ---- prediction ---------------------------------------------------------------------- */

int ls_machine_threads(const ls_machine *m, int n) { return n < m->n_threads ? n : m->n_threads; }

/* Aggregate read bandwidth (bytes/us) for a working set, interpolated in log(size). */
static double bandwidth(const ls_machine *m, double working_set, int n_threads) {
    const double *gbs = m->read_gbs[ls_machine_threads(m, n_threads) - 1];
    double v;
    if (working_set <= m->size_bytes[0]) v = gbs[0];
    else if (working_set >= m->size_bytes[m->n_sizes - 1]) v = gbs[m->n_sizes - 1];
    else {
        int s = 1;
        while (m->size_bytes[s] < working_set) s++;
        double a = ls_logf((float)m->size_bytes[s - 1]), b = ls_logf((float)m->size_bytes[s]);
        double f = (ls_logf((float)working_set) - a) / (b - a);
        v = gbs[s - 1] + f * (gbs[s] - gbs[s - 1]);
    }
    return v * 1e3; /* GB/s = 1e3 bytes/us */
}

/* Per-thread share of an aggregate rate measured with min(T, measured) threads. */
static double share(const double *per_t, const ls_machine *m, int n_threads) {
    return per_t[ls_machine_threads(m, n_threads) - 1] / n_threads;
}

/* y at working set ws from the points (x[i] = log(size), y[i]), i <= LS_MACHINE_STREAMS:
 * y[0] below the first, linear in log(ws) between, the last beyond. */
static double at_working_set(const double x[], const double y[], double ws) {
    double lx = ls_logf((float)ws);
    if (lx <= x[0]) return y[0];
    for (int i = 1; i <= LS_MACHINE_STREAMS; i++)
        if (lx <= x[i]) return y[i - 1] + (y[i] - y[i - 1]) * (lx - x[i - 1]) / (x[i] - x[i - 1]);
    return y[LS_MACHINE_STREAMS];
}

/* One thread's us per weight byte of a one-token product of type k streaming a working set
 * of ws bytes, T threads at once: from the measured rates (rows of 1024, so bytes per
 * multiply-add are the type's) at the L2 size and at the stream sizes, those slowed by the
 * host's contention when `stretched` (stream_stretch), linear in log(ws) between, the last
 * beyond, never less than at a smaller size. */
static double stream_us_per_byte(const ls_machine *m, int k, double ws, int T, bool stretched) {
    const int th = ls_machine_threads(m, T) - 1;
    const ls_dtype_info *info = ls_dtype_find(ls_machine_types[k]);
    double bytes_per_mac = (double)info->block_bytes / (double)info->block_elements;
    double x[LS_MACHINE_STREAMS + 1], y[LS_MACHINE_STREAMS + 1];
    x[0] = ls_logf((float)(LS_MACHINE_MATMUL_BYTES * (double)T));
    y[0] = T / (m->matmul_gmacs[k][th][0] * 1e3 * bytes_per_mac);
    for (int i = 0; i < LS_MACHINE_STREAMS; i++) {
        x[i + 1] = ls_logf((float)ls_machine_stream_bytes[i]);
        double v = T / (m->matmul_stream_gmacs[k][th][i] * 1e3 * bytes_per_mac);
        if (stretched) v *= m->stream_stretch[th][i];
        y[i + 1] = v > y[i] ? v : y[i];
    }
    return at_working_set(x, y, ws);
}

/* The blend k of a one-row matmul's time (cost.h) with T threads: the k for which Q8_0 rows
 * of 288 over the first stream size come out as calibrate measured them, within [0, 1]. */
static double stream_blend(const ls_machine *m, int T) {
    const int th = ls_machine_threads(m, T) - 1, k = ls_machine_type_index(LS_Q8_0);
    const double bytes = 9.0 * 34.0;
    double compute = 288.0 / (m->matmul_gmacs_288[k][th][0] / T * 1e3);
    double l2 = bytes * stream_us_per_byte(m, k, 1, T, false);
    double stream = bytes * stream_us_per_byte(m, k, ls_machine_stream_bytes[0], T, false);
    double measured = 288.0 / (m->stream_short_gmacs[th] / T * 1e3);
    double most = compute > stream ? compute : stream, sum = compute + stream - l2;
    if (!(sum > most)) return 1;
    double blend = (measured - most) / (sum - most);
    return blend < 0 ? 0 : blend > 1 ? 1 : blend;
}

/* One thread's us per unit of an attention figure (g: per head size, all threads) with T
 * threads at once: linear in head_dim between the sizes measured, extended past the last
 * along the last segment, and taken as the first below the first. */
static double attention_us(const double *g, int64_t head_dim, int T) {
    const int *d = ls_machine_head_dims;
    int h = 0;
    while (h + 2 < LS_MACHINE_HEAD_DIMS && head_dim > d[h + 1]) h++;
    double lo = T / (g[h] * 1e3), hi = T / (g[h + 1] * 1e3);
    if (head_dim <= d[0]) return lo;
    return lo + (hi - lo) * (double)(head_dim - d[h]) / (double)(d[h + 1] - d[h]);
}

static double weight_bytes(const ls_weight *w) {
    const ls_dtype_info *info = ls_dtype_find(w->type);
    if (!info) return 0;
    return (double)w->n_out * (double)(w->n_in / info->block_elements) * info->block_bytes;
}

static int64_t clip(int64_t x, int64_t hi) { return x < hi ? x : hi; }

/* Keys a query at pos sees. */
static int64_t first_key(int64_t pos, int64_t window) {
    return window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0;
}

typedef struct call_shape {
    int64_t n_rows, position;
    double working_set;      /* bytes the whole call touches */
    double arena_bandwidth;  /* bytes/us, all threads, for activations */
    double blend;            /* a one-row matmul's k (stream_blend) */
    double stretch;          /* compute_stretch: compute-bound time in place over the fastest */
} call_shape;

/* max(memory, compute) of `work` units of kernel r on one of T threads (cost.h). */
static double time_of(const ls_machine *m, int T, const call_shape *c, double bytes, double bytes_per_us,
                      ls_rate r, double work) {
    double a = bytes / bytes_per_us, b = work / (share(m->rate_g[r], m, T) * 1e3) * c->stretch;
    return a > b ? a : b;
}

/* us for one thread to read `bytes` that a call's weight stream over working set ws
 * evicted (cost.h): 0 at the L2 size, the measured figures at the stream sizes, linear in
 * log(ws) between, the last beyond. */
static double cold(const ls_machine *m, int T, double bytes, double ws) {
    if (bytes <= 0) return 0;
    const int th = ls_machine_threads(m, T) - 1;
    double lines = (double)(((int64_t)bytes + 63) / 64);
    double x[LS_MACHINE_STREAMS + 1], y[LS_MACHINE_STREAMS + 1];
    x[0] = ls_logf((float)(LS_MACHINE_MATMUL_BYTES * (double)T));
    y[0] = 0;
    for (int i = 0; i < LS_MACHINE_STREAMS; i++) {
        x[i + 1] = ls_logf((float)ls_machine_stream_bytes[i]);
        y[i + 1] = m->cold_us[th][i] + m->cold_line_ns[th][i] * lines / 1e3;
    }
    return at_working_set(x, y, ws);
}

/* Predicted us of thread t's tile of step s, and what it moves and computes. */
static double thread_cost(const ls_program *p, const ls_machine *m, const ls_step *s, int t,
                          const call_shape *c, double *bytes_out, double *work_out) {
    const ls_node *n = &p->graph.nodes[s->node];
    int T = p->n_threads;
    int64_t rows = s->one_row ? 1 : c->n_rows;
    int64_t a = s->tile[t], b = s->tile[t + 1];
    double arena_bw = c->arena_bandwidth / T;
    double bytes = 0, work = 0, us = 0;
    switch (s->kernel) {
    case LS_K_EMBED:
    case LS_K_RMSNORM:
    case LS_K_QUANTIZE:
    case LS_K_KV_STORE: {
        double r = (double)(clip(b, rows) - clip(a, rows));
        if (s->split == LS_SPLIT_COLUMNS) r = b > a ? (double)rows : 0; /* a quantize cut by columns */
        ls_rate rate = LS_RATE_EMBED;
        if (s->kernel == LS_K_EMBED) {
            work = r * n->width;
            bytes = r * (weight_bytes(n->weight) / (double)n->weight->n_out + n->width * 4.0);
        } else if (s->kernel == LS_K_RMSNORM) {
            rate = LS_RATE_RMSNORM;
            work = r * n->width;
            bytes = work * 8;
        } else if (s->kernel == LS_K_QUANTIZE) {
            rate = LS_RATE_QUANTIZE; /* per element: the kernel loops over the real ones */
            double share = s->split == LS_SPLIT_COLUMNS ? (double)(b - a) / (double)s->work : 1.0;
            work = r * share * (double)(p->buffers[s->in[0]].row_bytes / 4);
            bytes = r * share * (double)(p->buffers[s->in[0]].row_bytes + p->buffers[s->out].row_bytes);
        } else {
            rate = LS_RATE_KV_STORE;
            work = r * 2.0 * (double)p->graph.kv_width;
            bytes = work * 8;
        }
        us = time_of(m, T, c, bytes, arena_bw, rate, work);
        if (rows == 1 && r > 0) { /* the operands the weight stream evicted */
            if (s->kernel == LS_K_EMBED) us += cold(m, T, weight_bytes(n->weight) / (double)n->weight->n_out, c->working_set);
            if (s->kernel == LS_K_RMSNORM) us += cold(m, T, (double)n->weight->n_in * 4, c->working_set);
            if (s->kernel == LS_K_KV_STORE) us += cold(m, T, 2.0 * (double)p->graph.kv_width * 4, c->working_set);
        }
        break;
    }
    case LS_K_ADD:
    case LS_K_GLU: {
        ls_rate rate = s->kernel == LS_K_ADD ? LS_RATE_ADD
                       : n->p.activation == LS_ACT_GELU_TANH ? LS_RATE_GLU_GELU : LS_RATE_GLU_SILU;
        work = (double)(b - a) * (double)rows;
        bytes = work * 12;
        us = time_of(m, T, c, bytes, arena_bw, rate, work);
        break;
    }
    case LS_K_ROPE: {
        double r = (double)(clip(b, rows) - clip(a, rows));
        work = r * (double)n->p.rope.n_heads * (double)n->p.rope.head_dim;
        bytes = work * 8;
        us = time_of(m, T, c, bytes, arena_bw, LS_RATE_ROPE, work);
        if (rows == 1 && r > 0) us += cold(m, T, (double)n->p.rope.head_dim * 4, c->working_set); /* its angles */
        break;
    }
    case LS_K_ATTENTION: {
        if (b <= a) break;
        int64_t head_dim = n->p.attention.head_dim, window = n->p.attention.window;
        int64_t group = n->p.attention.n_head / n->p.attention.n_head_kv;
        double keys = 0;
        for (int64_t r = 0; r < rows; r++) {
            int64_t pos = c->position + r;
            keys += (double)(pos - first_key(pos, window) + 1);
        }
        int64_t last = c->position + rows - 1;
        double span = (double)(last - first_key(c->position, window) + 1);
        double kv_heads = (double)((b - 1) / group - a / group + 1);
        work = (double)(b - a) * keys * 2.0 * (double)head_dim;
        double kv_bytes = kv_heads * span * (double)head_dim * 8.0;
        bytes = kv_bytes + (double)(b - a) * (double)rows * (double)head_dim * 8.0;
        const int th = ls_machine_threads(m, T) - 1;
        double compute = ((double)(b - a) * keys * attention_us(m->attention_gpairs[th], head_dim, T) +
                          (double)(b - a) * (double)rows * attention_us(m->attention_grows[th], head_dim, T)) *
                         c->stretch;
        /* one row: its KV rows come cold, latency-bound; more: streamed */
        double kv_us = rows == 1 ? cold(m, T, kv_bytes, c->working_set) : kv_bytes / (bandwidth(m, c->working_set, T) / T);
        us = kv_us > compute ? kv_us : compute;
        break;
    }
    case LS_K_MATMUL: {
        if (b <= a) break;
        const ls_weight *w = n->weight;
        int k = ls_machine_type_index(w->type);
        if (k < 0) break;
        double matrix = weight_bytes(w);
        double tile_bytes = matrix * (double)(b - a) / (double)w->n_out;
        double first_bw = bandwidth(m, c->working_set, T) / T;
        double again_bw = bandwidth(m, matrix, T) / T;
        /* The calibrated rate already includes reading a matrix of this size per thread. */
        double in_rate_bw = bandwidth(m, (double)LS_MACHINE_MATMUL_BYTES * T, T) / T;
        /* one row: the tile streamed from the call's working set, and in L2 (cost.h) */
        double stream = rows == 1 ? tile_bytes * stream_us_per_byte(m, k, c->working_set, T, true) : 0;
        double stream_l2 = rows == 1 ? tile_bytes * stream_us_per_byte(m, k, 1, T, false) : 0;
        bool is_float = w->type == LS_F32 || w->type == LS_F16 || w->type == LS_BF16;
        /* quantized: full groups of 512 elements and a partial last one, of exactly 4 blocks
         * (priced from rows of 640), other counts up to 8 (the half-width code, from rows of
         * 256) or 9 to 15 (rows of 288);
         * float: units of 16 elements, n_in rounded up */
        int64_t full_groups = is_float ? 0 : w->n_in / 512;
        int64_t rest = is_float ? 0 : w->n_in % 512;
        int tail = rest == 0 ? 0 : rest == 128 ? 3 : rest <= 256 ? 1 : 2;
        double float_units = is_float ? (double)((w->n_in + 15) / 16 * 16) / 512.0 : 0;
        /* The kernel takes tokens `most` (8, or 4 for long rows), 4, 2, 1 at a time, reading
         * its weight tile each time. */
        const int most = ls_matmul_token_group(w->type, w->n_in);
        int64_t left = rows;
        bool first = true;
        while (left > 0) {
            int nt = left >= most ? most : left >= 4 ? 4 : left >= 2 ? 2 : 1;
            int g = nt == 8 ? 3 : nt == 4 ? 2 : nt == 2 ? 1 : 0;
            int64_t passes = nt == most ? left / most : 1;
            /* us per row: fixed + per 512 elements, from rows of 1024 and of 512; a short
             * last group from rows of 256 */
            const int th = ls_machine_threads(m, T) - 1;
            double us_1024 = 1024.0 * nt / (m->matmul_gmacs[k][th][g] / T * 1e3);
            double us_512 = 512.0 * nt / (m->matmul_gmacs_512[k][th][g] / T * 1e3);
            double us_256 = 256.0 * nt / (m->matmul_gmacs_256[k][th][g] / T * 1e3);
            double us_288 = 288.0 * nt / (m->matmul_gmacs_288[k][th][g] / T * 1e3);
            double us_640 = 640.0 * nt / (m->matmul_gmacs_640[k][th][g] / T * 1e3);
            double per_unit = us_1024 - us_512, fixed = us_512 - per_unit;
            if (per_unit < 0.5 * us_512) per_unit = 0.5 * us_512;
            if (fixed < 0) fixed = 0;
            double last = tail == 3 ? us_640 - fixed - per_unit : (tail == 1 ? us_256 : us_288) - fixed;
            double row_us = fixed + per_unit * ((double)full_groups + float_units) + (tail && last > 0 ? last : 0);
            for (int64_t i = 0; i < passes; i++) {
                double compute = (double)(b - a) * row_us;
                if (rows == 1) { /* bound by the stream: compute not stretched (cost.h) */
                    double most = compute > stream ? compute : stream;
                    us += most + c->blend * (compute + stream - stream_l2 - most);
                } else {
                    double memory = tile_bytes / (first ? first_bw : again_bw) - tile_bytes / in_rate_bw;
                    compute *= c->stretch;
                    us += memory > compute ? memory : compute;
                }
                first = false;
            }
            work += (double)(b - a) * (double)w->n_in * nt * (double)passes;
            bytes += tile_bytes * (double)passes;
            left -= nt * passes;
        }
        bytes += (double)rows * ((double)ls_activation_row_bytes(w->type, w->n_in) + (double)(b - a) * 4);
        break;
    }
    case LS_K_LAST_ROW:
        if (t == 0) {
            bytes = n->width * 8.0;
            work = (double)n->width;
            us = time_of(m, T, c, bytes, arena_bw, LS_RATE_ADD, work);
        }
        break;
    case LS_K_COUNT:
        break;
    }
    if (s->in[2] >= 0 && (s->kernel == LS_K_RMSNORM || s->kernel == LS_K_MATMUL)) {
        /* the fused residual add: its elements of this tile read twice and written once */
        double elements = s->kernel == LS_K_RMSNORM ? (double)(clip(b, rows) - clip(a, rows)) * n->width
                                                    : (double)(b > a ? b - a : 0) * (double)rows;
        us += time_of(m, T, c, elements * 12, arena_bw, LS_RATE_ADD, elements);
        bytes += elements * 12;
    }
    *bytes_out = bytes;
    *work_out = work;
    return us;
}

double ls_cost_working_set(const ls_program *p, int64_t n_rows, int64_t position) {
    double ws = (double)p->arena_bytes;
    for (int32_t i = 0; i < p->n_steps; i++) {
        const ls_step *s = &p->steps[i];
        const ls_node *n = &p->graph.nodes[s->node];
        if (s->kernel == LS_K_MATMUL) ws += weight_bytes(n->weight);
        if (s->kernel == LS_K_ATTENTION) {
            int64_t last = position + n_rows - 1;
            ws += (double)(last - first_key(position, n->p.attention.window) + 1) *
                  (double)p->graph.kv_width * 8.0;
        }
    }
    return ws;
}

double ls_cost_call(const ls_program *p, const ls_machine *m, int64_t n_rows, int64_t position,
                    ls_step_cost *costs) {
    int T = p->n_threads;
    call_shape c = {.n_rows = n_rows, .position = position};
    c.working_set = ls_cost_working_set(p, n_rows, position);
    c.arena_bandwidth = bandwidth(m, (double)p->arena_bytes, T);
    c.blend = stream_blend(m, T);
    c.stretch = m->compute_stretch[ls_machine_threads(m, T) - 1];
    double barrier = m->barrier_us[ls_machine_threads(m, T) - 1];
    double total = m->call_us[ls_machine_threads(m, T) - 1];
    for (int32_t i = 0; i < p->n_steps; i++) {
        double slowest = 0, bytes = 0, work = 0;
        for (int t = 0; t < T; t++) {
            double tb, tw;
            double us = thread_cost(p, m, &p->steps[i], t, &c, &tb, &tw);
            if (us > slowest) slowest = us;
            bytes += tb;
            work += tw;
        }
        double us = slowest + (p->steps[i].barrier_after ? barrier : 0.0);
        if (costs) costs[i] = (ls_step_cost){.us = us, .bytes = bytes, .work = work};
        total += us;
    }
    return total;
}

void ls_cost_program(ls_program *p, const ls_machine *m) {
    ls_step_cost *costs = malloc((size_t)p->n_steps * sizeof *costs);
    if (!costs) return;
    ls_cost_call(p, m, p->max_rows, 0, costs);
    for (int32_t i = 0; i < p->n_steps; i++) p->steps[i].predicted_us = costs[i].us;
    free(costs);
}

double ls_cost_decode_ms(const ls_program *p, const ls_machine *m, int64_t first, int64_t n) {
    double total = 0;
    for (int64_t i = 0; i < n; i++) total += ls_cost_call(p, m, 1, first + i, NULL);
    return n > 0 ? total / (double)n / 1e3 : 0;
}

double ls_cost_prefill_ms(const ls_program *p, const ls_machine *m, int64_t n) {
    double total = 0;
    for (int64_t done = 0; done < n;) {
        int64_t chunk = n - done < p->max_rows ? n - done : p->max_rows;
        total += ls_cost_call(p, m, chunk, done, NULL);
        done += chunk;
    }
    return total / 1e3;
}

uint64_t ls_program_weight_bytes(const ls_program *p) {
    /* Distinct weights (a tied output matrix is the embedding table: counted once). */
    const void **seen = malloc((size_t)(2 * p->graph.n_nodes + 1) * sizeof *seen);
    int32_t n_seen = 0;
    double total = 0;
    for (int32_t i = 0; i < p->graph.n_nodes; i++) {
        const ls_node *n = &p->graph.nodes[i];
        const ls_weight *ws[2] = {n->weight, n->bias};
        for (int k = 0; k < 2; k++) {
            if (!ws[k] || !ws[k]->data) continue;
            bool dup = false;
            for (int32_t j = 0; seen && j < n_seen && !dup; j++) dup = seen[j] == ws[k]->data;
            if (dup) continue;
            if (seen) seen[n_seen++] = ws[k]->data;
            total += weight_bytes(ws[k]);
        }
    }
    free(seen);
    return (uint64_t)total;
}

uint64_t ls_program_kv_bytes(const ls_program *p) {
    uint64_t sequences = p->max_sequences > 0 ? (uint64_t)p->max_sequences : 1;
    return sequences * (uint64_t)p->graph.n_layers_kv * 2 * (uint64_t)p->context *
           (uint64_t)p->graph.kv_width * 4;
}
