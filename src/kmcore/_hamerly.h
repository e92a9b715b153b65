/* The distance loop of the low-dimensional bounds (_hamerly.pyx): one row
 * against every center, direct sums of squared differences, keeping the
 * nearest center and the second-smallest distance.
 *
 * In few dimensions a GEMM spends more on packing than on arithmetic; this
 * loop runs over the centers instead, in SIMD lanes, with
 * the centers stored transposed (feature-major, ``ct[j * kp + c]``) so that
 * every load is contiguous. It is compiled for the same x86-64 levels as
 * _simd.h's loops (KM_CLONES). Every version sums each distance in feature
 * order with the same roundings (setup.py turns FMA contraction off), so the
 * result does not depend on the version the CPU gets.
 */
#ifndef KMCORE_HAMERLY_H
#define KMCORE_HAMERLY_H

#include <math.h>

#include "_simd.h"

/* A hint to fetch a row that will be needed soon (the rows that fail the
 * bounds are scattered: the hardware prefetcher does not see them coming). */
#if defined(__GNUC__) || defined(__clang__)
#define KM_PREFETCH(p) __builtin_prefetch(p)
#else
#define KM_PREFETCH(p) ((void) 0)
#endif

/* Centers per pass; the caller pads the transposed centers to a multiple of
 * this with +inf (a padding center is never nearest). */
#define KM_LANES 16

/* For one row x (d features) and kp transposed centers ct: the smallest
 * distance *best, its center *label (lowest index on ties) and the smallest
 * distance to any other center *second; acc (kp values) is scratch.
 *
 * First every distance, feature by feature over all centers (the inner loop
 * runs over contiguous centers: plain vector code); then the selection, in
 * KM_LANES lanes that each keep their nearest and second nearest
 * (branch-free selects, which vectorise), merged at the end. IT is an index
 * type as wide as T, so that values and indices share vector lanes. */
#define KM_NEAREST_TWO(NAME, T, IT)                                           \
KM_CLONES static void NAME(                                                   \
    const T *__restrict x, const T *__restrict ct, ptrdiff_t d, ptrdiff_t kp, \
    T *__restrict acc, T *best, T *second, ptrdiff_t *label)                  \
{                                                                             \
    T b1[KM_LANES], b2[KM_LANES];                                             \
    IT i1[KM_LANES];                                                          \
    ptrdiff_t c, c0, j, l, h;                                                 \
    for (c = 0; c < kp; c++) {                                                \
        T t = x[0] - ct[c];                                                   \
        acc[c] = t * t;                                                       \
    }                                                                         \
    for (j = 1; j < d; j++) {                                                 \
        const T xj = x[j];                                                    \
        const T *__restrict row = ct + j * kp;                                \
        for (c = 0; c < kp; c++) {                                            \
            T t = xj - row[c];                                                \
            acc[c] += t * t;                                                  \
        }                                                                     \
    }                                                                         \
    for (l = 0; l < KM_LANES; l++) {                                          \
        b1[l] = (T) INFINITY;                                                 \
        b2[l] = (T) INFINITY;                                                 \
        i1[l] = (IT) l;                                                       \
    }                                                                         \
    for (c0 = 0; c0 < kp; c0 += KM_LANES) {                                   \
        for (l = 0; l < KM_LANES; l++) {                                      \
            T v = acc[c0 + l];                                                \
            int lt = v < b1[l];                                               \
            T nb2 = v < b2[l] ? v : b2[l];                                    \
            b2[l] = lt ? b1[l] : nb2;                                         \
            b1[l] = lt ? v : b1[l];                                           \
            i1[l] = lt ? (IT) (c0 + l) : i1[l];                               \
        }                                                                     \
    }                                                                         \
    /* The lanes merged pairwise, halving (a tree: short dependency        \
     * chains, branch-free selects over half the lanes at a time). */     \
    for (h = KM_LANES / 2; h >= 1; h /= 2) {                                  \
        for (l = 0; l < h; l++) {                                             \
            T av = b1[l], bv = b1[l + h];                                     \
            IT ai = i1[l], bi = i1[l + h];                                    \
            int take = bv < av || (bv == av && bi < ai);                      \
            T sa = b2[l] < bv ? b2[l] : bv;                                   \
            T sb = b2[l + h] < av ? b2[l + h] : av;                           \
            b1[l] = take ? bv : av;                                           \
            i1[l] = take ? bi : ai;                                           \
            b2[l] = take ? sb : sa;                                           \
        }                                                                     \
    }                                                                         \
    *best = b1[0];                                                            \
    *label = (ptrdiff_t) i1[0];                                               \
    *second = b2[0];                                                          \
}

KM_NEAREST_TWO(km_nearest_two_f32, float, int32_t)
KM_NEAREST_TWO(km_nearest_two_f64, double, int64_t)

#endif
