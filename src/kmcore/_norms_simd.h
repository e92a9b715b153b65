/* Squared row norms in one streaming pass, compiled for several x86-64
 * levels like the loops of _simd.h (whose KM_CLONES dispatch this reuses).
 *
 * One BLAS dot call per row costs several read passes of X for short rows
 * (call overhead, no prefetch across rows); this loop streams through the
 * rows. Each row is summed in float64 (also float32 rows, whose products are
 * then exact) over KM_NORM_LANES partial sums, lane q taking the columns
 * j with j % KM_NORM_LANES == q in column order, added in a fixed tree at
 * the end and rounded once to the row's dtype. The order is written out in
 * full, so every compiled version (and every compiler) gives the same bits:
 * setup.py turns FMA contraction off, and no reassociation is allowed
 * without -ffast-math.
 */
#ifndef KMCORE_NORMS_SIMD_H
#define KMCORE_NORMS_SIMD_H

#include <stddef.h>

#include "_simd.h"

/* Sixteen partial sums: two AVX-512 (four AVX2) vectors of float64, enough
 * independent additions to hide their latency. */
#define KM_NORM_LANES 16

static inline double km_norm_lanes_total(const double *s)
{
    return (((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])))
         + (((s[8] + s[9]) + (s[10] + s[11])) + ((s[12] + s[13]) + (s[14] + s[15])));
}

/* out[i] = sum_j X[i, j]^2 for m rows of d contiguous values. */
#define KM_ROW_SQNORMS(NAME, T)                                               \
KM_CLONES static void NAME(const T *X, ptrdiff_t m, ptrdiff_t d, T *out)      \
{                                                                             \
    for (ptrdiff_t i = 0; i < m; i++) {                                       \
        const T *x = X + i * d;                                               \
        double s[KM_NORM_LANES] = {0.0};                                      \
        ptrdiff_t j = 0;                                                      \
        for (; j + KM_NORM_LANES <= d; j += KM_NORM_LANES)                    \
            for (int q = 0; q < KM_NORM_LANES; q++)                           \
                s[q] += (double) x[j + q] * (double) x[j + q];                \
        for (int q = 0; j < d; j++, q++)                                      \
            s[q] += (double) x[j] * (double) x[j];                            \
        out[i] = (T) km_norm_lanes_total(s);                                  \
    }                                                                         \
}

KM_ROW_SQNORMS(km_row_sqnorms_f32, float)
KM_ROW_SQNORMS(km_row_sqnorms_f64, double)

#endif
