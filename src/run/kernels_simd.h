/* kernels_simd.h — the inner loops of kernels.c that have an AVX-512 version.
 *
 * Each _scalar function is the reference and fixes the order of every float operation;
 * the _avx512 one (kernels_avx512.c, built with the ISA flags) does the same operations in
 * the same order, one vector lane per element or per canonical lane, so both give the same
 * bits. kernels.c picks the AVX-512 version when ls_isa_current() is LS_ISA_AVX512
 * (LOCKSTEP_ISA=scalar or avx2 keeps the scalar loops). No FMA anywhere. */
#ifndef LS_RUN_KERNELS_SIMD_H
#define LS_RUN_KERNELS_SIMD_H

#include <stdint.h>

/* sum of a[i] * b[i] (b NULL: a[i] * a[i]): element i into lane i % 16, each lane in index
 * order from +0, then lanes folded l[i] + l[i + 8], + 4, + 2, + 1. */
float ls_lane_dot_scalar(const float *a, const float *b, int64_t n);
float ls_lane_dot_avx512(const float *a, const float *b, int64_t n);

/* Attention, a block of nq <= LS_ATTENTION_QUERIES queries that share their key and value
 * rows (query heads of one KV head, rows of one sequence). Per-query arrays are interleaved
 * with a period p (a power of two, nq <= p <= 16): query i's value for key j is at j * p + i.
 *
 * Scores: s[j * p + i] = ls_lane_dot(q[i], k + j * stride, n) * scale, j in [0, keys), i < nq
 * (entries i >= nq untouched). The AVX-512 version takes tiles of keys x queries, each key
 * row loaded once per tile, and folds 16 dots together with the same pairwise tree. */
#define LS_ATTENTION_QUERIES 8
void ls_scores_scalar(const float *const q[], int nq, const float *k, int64_t stride, int64_t keys,
                      int64_t n, float scale, float *s, int p);
void ls_scores_avx512(const float *const q[], int nq, const float *k, int64_t stride, int64_t keys,
                      int64_t n, float scale, float *s, int p);
/* Weighted sum of values: for j = 0..keys-1 in order, for each i < nq,
 * ls_axpy(o[i], w[j * p + i], v + j * stride, n). The AVX-512 version keeps the o[i] in
 * registers across the keys and loads each value row once for all nq. */
void ls_attend_scalar(float *const o[], int nq, const float *w, int p, const float *v, int64_t stride,
                      int64_t keys, int64_t n);
void ls_attend_avx512(float *const o[], int nq, const float *w, int p, const float *v, int64_t stride,
                      int64_t keys, int64_t n);

/* y[i] = y[i] + w * x[i] */
void ls_axpy_scalar(float *y, float w, const float *x, int64_t n);

/* y[i] = (x[i] * scale) * w[i] */
void ls_scale_mul_scalar(float *y, const float *x, float scale, const float *w, int64_t n);
void ls_scale_mul_avx512(float *y, const float *x, float scale, const float *w, int64_t n);

/* y[i] = a[i] + b[i] */
void ls_add_scalar(float *y, const float *a, const float *b, int64_t n);
void ls_add_avx512(float *y, const float *a, const float *b, int64_t n);

/* y[i] = y[i] * s (the embedding's row scale) */
void ls_scale_scalar(float *y, float s, int64_t n);
void ls_scale_avx512(float *y, float s, int64_t n);

/* y[i] = act(gate[i]) * up[i], act = ls_gelu_tanh (gelu != 0) or ls_silu (base/fmath.h) */
void ls_glu_scalar(float *y, const float *gate, const float *up, int64_t n, int gelu);
void ls_glu_avx512(float *y, const float *gate, const float *up, int64_t n, int gelu);

/* y[i] = ls_expf(d) with d = x[i] - shift[i % p], or 0 where d < LS_SOFTMAX_EXP_FLOOR (the
 * softmax's exponentials, p queries interleaved as above; p a power of two <= 16; y may be
 * x). The floor: e^-87 = 1.6e-38, just above the smallest normal float. Below it the weight
 * of a key, against the 1 of the highest-scoring key, cannot change the softmax's sum, and
 * it would be a subnormal: on Intel cores every operation that produces or reads one without
 * flush-to-zero costs a microcode assist. A model whose scores spread wider than 87 paid
 * that in attention's exponentials, normalisation and weighted sum: a made-up model with
 * weights of 3x the usual spread ran its attention 35% slower (7.7 against 10.5 ms a prefill
 * call, one thread) before the floor. Such exponentials are computed at the floor, so no
 * subnormal arises, and then set to 0. */
#define LS_SOFTMAX_EXP_FLOOR (-87.0f)
void ls_exp_shifted_scalar(float *y, const float *x, const float *shift, int p, int64_t n);
void ls_exp_shifted_avx512(float *y, const float *x, const float *shift, int p, int64_t n);

/* Rotates one head of 2·half elements (y may be x): pair i is (x[i], x[i + half]), or
 * (x[2i], x[2i + 1]) when interleaved; c = angles[2i], s = angles[2i + 1];
 *   y0 = x0·c − x1·s,  y1 = x0·s + x1·c. */
void ls_rope_head_scalar(float *y, const float *x, const float *angles, int64_t half, int interleaved);
void ls_rope_head_avx512(float *y, const float *x, const float *angles, int64_t half, int interleaved);

#endif
