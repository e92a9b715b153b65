/* The two inner loops of Lloyd's algorithm that are not BLAS, compiled for
 * several x86-64 levels and picked when the module loads.
 *
 * A wheel is built for the baseline x86-64 (SSE2) so that it runs on any
 * x86-64 CPU. These loops are where an iteration spends its time outside the
 * GEMM: the argmin over a block of distances (n x k compares) and the
 * float64 accumulation of the M-step (n x d adds). For the baseline, the
 * argmin written in Cython did not vectorise at all (3% of an iteration at
 * k = 1024 on MNIST) and the accumulation ran 2 doubles wide. gcc's
 * target_clones also compiles these for x86-64-v3 (AVX2) and x86-64-v4
 * (AVX-512) and the dynamic loader (an ifunc) binds the best version the CPU
 * runs. Other compilers and platforms get the plain C below, which their own
 * flags vectorise as they can.
 *
 * The version picked never changes a result: the argmin compares exactly,
 * and setup.py turns FMA contraction off (-ffp-contract=off) so every
 * version rounds the same products and sums in the same order.
 */
#ifndef KMCORE_SIMD_H
#define KMCORE_SIMD_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* Building with CPPFLAGS=-DKM_CLONES= gives the baseline version alone (to
 * check that the clones give the same results). The clones need an ifunc,
 * which glibc provides and musl does not: musl defines no macro of its own,
 * so glibc's __GLIBC__ (set by <stdint.h> above) is what is tested. */
#ifndef KM_CLONES
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 \
    && defined(__x86_64__) && defined(__linux__) && defined(__GLIBC__)
#define KM_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define KM_CLONES
#endif
#endif

/* MSVC's C compiler knows restrict only in its C11/C17 modes, which Python
 * extensions are not built in; __restrict means the same there. */
#if defined(_MSC_VER) && !defined(__cplusplus) \
    && (!defined(__STDC_VERSION__) || __STDC_VERSION__ < 201112L)
#define restrict __restrict
#define KM_UNDEF_RESTRICT
#endif

/* Nearest of kb centers for m rows, from a center-major block of partial
 * distances: block[j * m + i] + c_sqnorms[j] for center j and row i (the
 * row's own ||x||^2 is left out, it does not change the argmin).
 *
 * best[i] receives the smallest value and label[i] its center, counted from
 * the block's first center; the strict < keeps the lowest index on ties,
 * as numpy.argmin. second[i] receives the second smallest value (the
 * smallest over the other centers; +inf for a block of one), so that the
 * caller can tell a near tie, decided by rounding, from a clear winner.
 * Centers are taken two at a time so that best, second and label are loaded
 * and stored once per pair of centers rather than once per center.
 * Branch-free selects, so the compiler can vectorise over rows.
 */
#define KM_ARGMIN_BLOCK(NAME, T)                                              \
KM_CLONES static void NAME(                                                   \
    const T *restrict block, ptrdiff_t m, ptrdiff_t kb,                       \
    const T *restrict c_sqnorms, T *restrict best, T *restrict second,        \
    int32_t *restrict label)                                                  \
{                                                                             \
    ptrdiff_t i, j = 1;                                                       \
    for (i = 0; i < m; i++) {                                                 \
        best[i] = block[i] + c_sqnorms[0];                                    \
        second[i] = (T) INFINITY;                                             \
        label[i] = 0;                                                         \
    }                                                                         \
    for (; j + 1 < kb; j += 2) {                                              \
        const T *restrict r0 = block + j * m;                                 \
        const T *restrict r1 = r0 + m;                                        \
        const T c0 = c_sqnorms[j], c1 = c_sqnorms[j + 1];                     \
        const int32_t l0 = (int32_t) j, l1 = (int32_t) j + 1;                 \
        for (i = 0; i < m; i++) {                                             \
            T v0 = r0[i] + c0, v1 = r1[i] + c1;                               \
            int first = v1 < v0;                                              \
            T lo = first ? v1 : v0, hi = first ? v0 : v1;                     \
            int32_t l = first ? l1 : l0;                                      \
            T b = best[i], s = second[i];                                     \
            /* second smallest of {b, s, lo, hi}, given b <= s, lo <= hi */   \
            T up = lo < b ? b : lo;                                           \
            s = hi < s ? hi : s;                                              \
            second[i] = up < s ? up : s;                                      \
            int take = lo < b;                                                \
            best[i] = take ? lo : b;                                          \
            label[i] = take ? l : label[i];                                   \
        }                                                                     \
    }                                                                         \
    for (; j < kb; j++) {                                                     \
        const T *restrict r0 = block + j * m;                                 \
        const T c0 = c_sqnorms[j];                                            \
        for (i = 0; i < m; i++) {                                             \
            T v = r0[i] + c0, b = best[i];                                    \
            T up = v < b ? b : v;                                             \
            second[i] = up < second[i] ? up : second[i];                      \
            int take = v < b;                                                 \
            best[i] = take ? v : b;                                           \
            label[i] = take ? (int32_t) j : label[i];                         \
        }                                                                     \
    }                                                                         \
}

KM_ARGMIN_BLOCK(km_argmin_block_f32, float)
KM_ARGMIN_BLOCK(km_argmin_block_f64, double)

/* acc[j] += w * x[j] for j < d, in float64 (one row into its cluster's sum). */
#define KM_ADD_SCALED_ROW(NAME, T)                                            \
KM_CLONES static void NAME(                                                   \
    double *restrict acc, const T *restrict x, double w, ptrdiff_t d)         \
{                                                                             \
    for (ptrdiff_t j = 0; j < d; j++)                                         \
        acc[j] += w * (double) x[j];                                          \
}

KM_ADD_SCALED_ROW(km_add_scaled_row_f32, float)
KM_ADD_SCALED_ROW(km_add_scaled_row_f64, double)

#ifdef KM_UNDEF_RESTRICT
#undef restrict
#undef KM_UNDEF_RESTRICT
#endif

#endif
