/* The distance loop of the low-dimensional bounds (_hamerly.pyx): one row
 * against blocks of centers, direct sums of squared differences, keeping the
 * nearest center and the second-smallest distance.
 *
 * In few dimensions a GEMM spends more on packing than on arithmetic; this
 * loop runs over blocks of centers instead, in SIMD lanes, with each block
 * stored transposed (feature-major) so that every load is contiguous. It is
 * compiled for the same x86-64 levels as _simd.h's loops (KM_CLONES). Every
 * version sums each distance in feature order with the same roundings
 * (setup.py turns FMA contraction off), so the result does not depend on the
 * version the CPU gets.
 */
#ifndef KMCORE_HAMERLY_H
#define KMCORE_HAMERLY_H

#include <math.h>
#include <string.h>

#include "_simd.h"

/* A hint to fetch a row that will be needed soon (the rows that fail the
 * bounds are scattered: the hardware prefetcher does not see them coming). */
#if defined(__GNUC__) || defined(__clang__)
#define KM_PREFETCH(p) __builtin_prefetch(p)
#else
#define KM_PREFETCH(p) ((void) 0)
#endif

/* Centers per block; the caller pads the last block with +inf centers (a
 * padding center is never nearest). */
#define KM_LANES 16

/* For one row x (d features) and the first nb blocks of a center table
 * (block b: KM_LANES centers stored feature-major, ``tab[(b * d + j) *
 * KM_LANES + l]``): the smallest distance *best, its position *pos in the
 * table (lowest position on ties) and the smallest distance to any other
 * position *second.
 *
 * A block's KM_LANES distances are summed over the features in one vector
 * (GCC's and clang's vector types: kept in registers, no store between two
 * features, whatever the target's vector width) and folded into per-lane
 * nearest and second nearest at once (branch-free blends); the lanes are
 * then merged pairwise, halving (KM_MERGE_LANES: a tree, short dependency
 * chains). Other compilers get the same arithmetic lane by lane. VT and VI
 * are the vector types of T and of an index type IT as wide as T (a
 * comparison's mask, the lanes' positions). */
#define KM_MERGE_LANES(T, IT)                                                 \
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
    *pos = (ptrdiff_t) i1[0];                                                 \
    *second = b2[0];

#if defined(__GNUC__) || defined(__clang__)
typedef float km_v16f __attribute__((vector_size(16 * sizeof(float))));
typedef int32_t km_v16i __attribute__((vector_size(16 * sizeof(int32_t))));
typedef double km_v16d __attribute__((vector_size(16 * sizeof(double))));
typedef int64_t km_v16l __attribute__((vector_size(16 * sizeof(int64_t))));

/* m ? a : b lane by lane, m a comparison's mask (all ones or all zeros). */
#define KM_BLEND(VT, VI, m, a, b) ((VT) (((m) & (VI) (a)) | (~(m) & (VI) (b))))

#define KM_NEAREST_TWO(NAME, T, IT, VT, VI)                                   \
KM_CLONES static void NAME(                                                   \
    const T *__restrict x, const T *__restrict tab, ptrdiff_t d,              \
    ptrdiff_t nb, T *best, T *second, ptrdiff_t *pos)                         \
{                                                                             \
    VT v1, v2, acc, col, t;                                                   \
    VI w1, lt, lt2, at, step;                                                 \
    T b1[KM_LANES], b2[KM_LANES];                                             \
    IT i1[KM_LANES];                                                          \
    ptrdiff_t b, j, l, h;                                                     \
    for (l = 0; l < KM_LANES; l++) {                                          \
        v1[l] = (T) INFINITY;                                                 \
        at[l] = (IT) l;                                                       \
        step[l] = (IT) KM_LANES;                                              \
    }                                                                         \
    v2 = v1;                                                                  \
    w1 = at;                                                                  \
    for (b = 0; b < nb; b++) {                                                \
        const T *__restrict blk = tab + b * d * KM_LANES;                     \
        memcpy(&col, blk, sizeof col);                                        \
        t = x[0] - col;                                                       \
        acc = t * t;                                                          \
        for (j = 1; j < d; j++) {                                             \
            memcpy(&col, blk + j * KM_LANES, sizeof col);                     \
            t = x[j] - col;                                                   \
            acc += t * t;                                                     \
        }                                                                     \
        lt = (VI) (acc < v1);                                                 \
        lt2 = (VI) (acc < v2);                                                \
        v2 = KM_BLEND(VT, VI, lt, v1, KM_BLEND(VT, VI, lt2, acc, v2));        \
        v1 = KM_BLEND(VT, VI, lt, acc, v1);                                   \
        w1 = KM_BLEND(VI, VI, lt, at, w1);                                    \
        at += step;                                                           \
    }                                                                         \
    memcpy(b1, &v1, sizeof b1);                                               \
    memcpy(b2, &v2, sizeof b2);                                               \
    memcpy(i1, &w1, sizeof i1);                                               \
    KM_MERGE_LANES(T, IT)                                                     \
}
#else
#define KM_NEAREST_TWO(NAME, T, IT, VT, VI)                                   \
KM_CLONES static void NAME(                                                   \
    const T *__restrict x, const T *__restrict tab, ptrdiff_t d,              \
    ptrdiff_t nb, T *best, T *second, ptrdiff_t *pos)                         \
{                                                                             \
    T b1[KM_LANES], b2[KM_LANES], acc[KM_LANES];                              \
    IT i1[KM_LANES];                                                          \
    ptrdiff_t b, j, l, h;                                                     \
    for (l = 0; l < KM_LANES; l++) {                                          \
        b1[l] = (T) INFINITY;                                                 \
        b2[l] = (T) INFINITY;                                                 \
        i1[l] = (IT) l;                                                       \
    }                                                                         \
    for (b = 0; b < nb; b++) {                                                \
        const T *__restrict blk = tab + b * d * KM_LANES;                     \
        for (l = 0; l < KM_LANES; l++) {                                      \
            T t = x[0] - blk[l];                                              \
            acc[l] = t * t;                                                   \
        }                                                                     \
        for (j = 1; j < d; j++) {                                             \
            for (l = 0; l < KM_LANES; l++) {                                  \
                T t = x[j] - blk[j * KM_LANES + l];                           \
                acc[l] += t * t;                                              \
            }                                                                 \
        }                                                                     \
        for (l = 0; l < KM_LANES; l++) {                                      \
            T v = acc[l];                                                     \
            int lt = v < b1[l];                                               \
            T nb2 = v < b2[l] ? v : b2[l];                                    \
            b2[l] = lt ? b1[l] : nb2;                                         \
            b1[l] = lt ? v : b1[l];                                           \
            i1[l] = lt ? (IT) (b * KM_LANES + l) : i1[l];                     \
        }                                                                     \
    }                                                                         \
    KM_MERGE_LANES(T, IT)                                                     \
}
#endif

KM_NEAREST_TWO(km_nearest_two_f32, float, int32_t, km_v16f, km_v16i)
KM_NEAREST_TWO(km_nearest_two_f64, double, int64_t, km_v16d, km_v16l)

#endif
