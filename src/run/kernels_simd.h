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

/* Attention's weighted sum of values, the same bits as zeroing o[0..n) and, for j = 0..keys-1
 * in turn, ls_axpy(o, s[j] * inv, v + j * stride, n): o stays in registers across the keys. */
void ls_attend_avx512(float *o, const float *s, float inv, const float *v, int64_t stride,
                      int64_t keys, int64_t n);
/* Two query heads of one KV head at once, each value row loaded once for both: the same
 * bits as ls_attend_avx512 for (o0, s0, inv0) and for (o1, s1, inv1). */
void ls_attend2_avx512(float *o0, float *o1, const float *s0, const float *s1, float inv0, float inv1,
                       const float *v, int64_t stride, int64_t keys, int64_t n);
/* out[h] = ls_lane_dot(q[h], k, n) for h = 0, 1, the key row loaded once: the same bits. */
void ls_lane_dot2_avx512(const float *q0, const float *q1, const float *k, int64_t n, float out[2]);

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

/* y[i] = ls_expf(x[i] - shift) (the softmax's exponentials; y may be x) */
void ls_exp_shifted_scalar(float *y, const float *x, float shift, int64_t n);
void ls_exp_shifted_avx512(float *y, const float *x, float shift, int64_t n);

/* Rotates one head of 2·half elements (y may be x): pair i is (x[i], x[i + half]), or
 * (x[2i], x[2i + 1]) when interleaved; c = angles[2i], s = angles[2i + 1];
 *   y0 = x0·c − x1·s,  y1 = x0·s + x1·c. */
void ls_rope_head_scalar(float *y, const float *x, const float *angles, int64_t half, int interleaved);
void ls_rope_head_avx512(float *y, const float *x, const float *angles, int64_t half, int interleaved);

#endif
