/* sample.c — the sampling chain of sample.h, with every buffer allocated in create.
 *
 * Shapes: logits [n_vocab]; penalized [n_vocab] (a copy, only when the penalty is on);
 * candidate ids and logits [n_vocab]; weights [n_vocab] (unnormalised probabilities
 * e^((l_i − l_max)/T) of the candidates, in candidate order); seen [n_vocab] bytes.
 *
 * Order of candidates: "better" = larger logit, then lower id. Top-k keeps the k best by
 * a bounded min-heap over one pass of the vocabulary (O(n + k log k log n) typically, never
 * a full sort), then orders them best first. Top-p without top-k selects growing prefixes
 * (1024, 8192, ... best) until the prefix's probability reaches p. When neither top-k nor
 * top-p is on, candidates stay in id order.
 * Reductions: sums of weights are double, in candidate order (best first when sorted). */
#include "text/sample.h"

#include "base/fmath.h"

#include <stdlib.h>
#include <string.h>

struct ls_sampler {
    ls_sampler_params params;
    int32_t n_vocab;
    float *penalized;        /* [n_vocab] logits after the repetition penalty */
    int32_t *candidate_ids;  /* [n_vocab] */
    float *candidate_logits; /* [n_vocab] */
    float *weights;          /* [n_vocab] */
    unsigned char *seen;     /* [n_vocab] 1 while a token is being penalised */
};

ls_sampler_params ls_sampler_defaults(void) {
    ls_sampler_params params = {
        .temperature = 0.8f,
        .top_k = 40,
        .top_p = 0.95f,
        .min_p = 0.05f,
        .repeat_penalty = 1.0f,
        .repeat_last_n = 64,
        .seed = 0,
    };
    return params;
}

ls_sampler *ls_sampler_create(const ls_sampler_params *params, int32_t n_vocab) {
    if (!params || n_vocab <= 0) return NULL;
    ls_sampler *sampler = calloc(1, sizeof *sampler);
    if (!sampler) return NULL;
    size_t n = (size_t)n_vocab;
    sampler->params = *params;
    sampler->n_vocab = n_vocab;
    sampler->penalized = malloc(n * sizeof(float));
    sampler->candidate_ids = malloc(n * sizeof(int32_t));
    sampler->candidate_logits = malloc(n * sizeof(float));
    sampler->weights = malloc(n * sizeof(float));
    sampler->seen = calloc(n, 1);
    if (!sampler->penalized || !sampler->candidate_ids || !sampler->candidate_logits ||
        !sampler->weights || !sampler->seen) {
        ls_sampler_free(sampler);
        return NULL;
    }
    return sampler;
}

void ls_sampler_free(ls_sampler *sampler) {
    if (!sampler) return;
    free(sampler->penalized);
    free(sampler->candidate_ids);
    free(sampler->candidate_logits);
    free(sampler->weights);
    free(sampler->seen);
    free(sampler);
}

/* a better than b: larger logit, ties to the lower id. NaN is never better. */
static int better(float logit_a, int32_t id_a, float logit_b, int32_t id_b) {
    return logit_a > logit_b || (logit_a == logit_b && id_a < id_b);
}

/* Min-heap on "better" (root = worst kept) over ids/logits[0..size). */
static void sift_down(int32_t *ids, float *logits, int32_t size, int32_t i) {
    for (;;) {
        int32_t worst = i, left = 2 * i + 1, right = 2 * i + 2;
        if (left < size && better(logits[worst], ids[worst], logits[left], ids[left])) worst = left;
        if (right < size && better(logits[worst], ids[worst], logits[right], ids[right]))
            worst = right;
        if (worst == i) return;
        int32_t id = ids[i];
        float logit = logits[i];
        ids[i] = ids[worst];
        logits[i] = logits[worst];
        ids[worst] = id;
        logits[worst] = logit;
        i = worst;
    }
}

/* The m best of source[0..n) into ids/logits[0..m), best first. */
static void select_best(const float *source, int32_t n, int32_t m, int32_t *ids, float *logits) {
    for (int32_t i = 0; i < m; i++) {
        ids[i] = i;
        logits[i] = source[i];
    }
    for (int32_t i = m / 2 - 1; i >= 0; i--) sift_down(ids, logits, m, i);
    for (int32_t i = m; i < n; i++) {
        float value = source[i];
        /* ids seen later are larger, so a tie with the root never replaces it */
        if (value > logits[0]) {
            ids[0] = i;
            logits[0] = value;
            sift_down(ids, logits, m, 0);
        }
    }
    /* heap sort: move the worst to the end repeatedly → best first */
    for (int32_t size = m - 1; size > 0; size--) {
        int32_t id = ids[0];
        float logit = logits[0];
        ids[0] = ids[size];
        logits[0] = logits[size];
        ids[size] = id;
        logits[size] = logit;
        sift_down(ids, logits, size, 0);
    }
}

/* The first i whose x[i] is greater than every earlier x (NaNs never are): the lowest id
 * of the maximum, 0 when x[0] is NaN. Found as the maximum, in 16 lanes the compiler keeps
 * in vector registers (x > m ? x : m is what maxps computes), then its first occurrence:
 * 0.03 instead of 0.25 ms for a 262144 vocabulary. */
int32_t ls_argmax(const float *x, int32_t n) {
    if (n <= 0 || x[0] != x[0]) return 0;
    float lanes[16];
    for (int j = 0; j < 16; j++) lanes[j] = x[0];
    int32_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) lanes[j] = x[i + j] > lanes[j] ? x[i + j] : lanes[j];
    float best = lanes[0];
    for (int j = 1; j < 16; j++) best = lanes[j] > best ? lanes[j] : best;
    for (; i < n; i++) best = x[i] > best ? x[i] : best;
    for (i = 0; i < n; i++)
        if (x[i] == best) break;
    return i;
}

static int32_t argmax(const float *logits, int32_t n) { return ls_argmax(logits, n); }

/* llama.cpp's rule, once per distinct token among the last repeat_last_n. */
static const float *apply_penalty(ls_sampler *sampler, const float *logits,
                                  const int32_t *recent, int32_t n_recent) {
    const ls_sampler_params *p = &sampler->params;
    float penalty = p->repeat_penalty;
    if (!(penalty > 0.0f) || penalty == 1.0f || p->repeat_last_n <= 0 || n_recent <= 0 ||
        !recent)
        return logits;
    int32_t window = n_recent < p->repeat_last_n ? n_recent : p->repeat_last_n;
    const int32_t *tokens = recent + (n_recent - window);
    memcpy(sampler->penalized, logits, (size_t)sampler->n_vocab * sizeof(float));
    for (int32_t i = 0; i < window; i++) {
        int32_t id = tokens[i];
        if (id < 0 || id >= sampler->n_vocab || sampler->seen[id]) continue;
        sampler->seen[id] = 1;
        float l = sampler->penalized[id];
        sampler->penalized[id] = l > 0.0f ? l / penalty : l * penalty;
    }
    for (int32_t i = 0; i < window; i++) {
        int32_t id = tokens[i];
        if (id >= 0 && id < sampler->n_vocab) sampler->seen[id] = 0;
    }
    return sampler->penalized;
}

/* weights[i] = e^((logit_i − best)/T) in candidate order; returns their double sum. */
static double compute_weights(const float *logits, float *weights, int32_t count,
                              float best, float temperature) {
    double sum = 0.0;
    float scaled_best = best / temperature;
    for (int32_t i = 0; i < count; i++) {
        weights[i] = ls_expf(logits[i] / temperature - scaled_best);
        sum += weights[i];
    }
    return sum;
}

int32_t ls_sampler_sample(ls_sampler *sampler, const float *logits, const int32_t *recent,
                          int32_t n_recent, uint64_t sequence, uint64_t position) {
    if (!sampler || !logits) return -1;
    const ls_sampler_params *p = &sampler->params;
    const int32_t n = sampler->n_vocab;
    const float *source = apply_penalty(sampler, logits, recent, n_recent);
    if (!(p->temperature > 0.0f)) return argmax(source, n);

    int32_t *ids = sampler->candidate_ids;
    float *cand = sampler->candidate_logits;
    float *weights = sampler->weights;
    const float temperature = p->temperature;
    const int top_p_on = p->top_p < 1.0f; /* NaN: off */
    int32_t count;
    int sorted = 1;
    double sum;

    if (p->top_k > 0 && p->top_k < n) {
        count = p->top_k;
        select_best(source, n, count, ids, cand);
        sum = compute_weights(cand, weights, count, cand[0], temperature);
    } else if (top_p_on) {
        /* normaliser over the whole vocabulary, in id order */
        float best = source[argmax(source, n)];
        float scaled_best = best / temperature;
        double total = 0.0;
        for (int32_t i = 0; i < n; i++) total += ls_expf(source[i] / temperature - scaled_best);
        int32_t m = n < 1024 ? n : 1024;
        for (;;) {
            select_best(source, n, m, ids, cand);
            double prefix = compute_weights(cand, weights, m, best, temperature);
            if (prefix >= (double)p->top_p * total || m == n) break;
            m = m > n / 8 ? n : m * 8;
        }
        count = m;
        sum = total;
    } else {
        count = n;
        sorted = 0;
        for (int32_t i = 0; i < n; i++) ids[i] = i;
        memcpy(cand, source, (size_t)n * sizeof(float));
        sum = compute_weights(cand, weights, n, source[argmax(source, n)], temperature);
    }
    if (!(sum > 0.0) || sum != sum) return ids[0]; /* all -inf or NaN logits */

    /* top-p: the smallest best-first prefix with cumulative probability >= p (>= 1 kept) */
    if (top_p_on && sorted) {
        double target = (double)p->top_p * sum, cumulative = 0.0;
        int32_t keep = 0;
        while (keep < count) {
            cumulative += weights[keep++];
            if (cumulative >= target) break;
        }
        count = keep;
    }

    /* min-p: keep p_i >= min_p · p_max, i.e. weight_i >= min_p (the best has weight 1) */
    if (p->min_p > 0.0f) {
        int32_t kept = 0;
        for (int32_t i = 0; i < count; i++) {
            if (weights[i] >= p->min_p) {
                ids[kept] = ids[i];
                weights[kept] = weights[i];
                kept++;
            }
        }
        if (kept > 0) count = kept;
    }

    /* draw: the first candidate whose cumulative weight exceeds u · total */
    double total = 0.0;
    for (int32_t i = 0; i < count; i++) total += weights[i];
    double target = (double)ls_random_uniform(p->seed, sequence, position) * total;
    double cumulative = 0.0;
    for (int32_t i = 0; i < count; i++) {
        cumulative += weights[i];
        if (cumulative > target) return ids[i];
    }
    return ids[count - 1];
}
