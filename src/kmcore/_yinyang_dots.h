/* The SIMD loops of the Yinyang E-step (_yinyang.pyx): the products of rows
 * that need a group of centers with that group (-2 x.c for each pair, below)
 * and the direct distances that tighten the rows' upper bounds (further
 * down).
 *
 * A group holds 8 to a few dozen centers and each block needs it for a
 * scattered subset of its rows. Through BLAS such a product costs a copy of
 * every row into a contiguous array (once per group it needs), BLAS's
 * packing of that copy, and a micro-kernel that is inefficient for so few
 * columns. Here the rows are read where they are (a list of pointers) and
 * the group's centers are stored once per call in strips of KM_STRIP(T)
 * centers, feature-major (``panel[(s * d + f) * W + l]``: feature f of the
 * strip's center l, zero past the group's last center), so that one vector
 * load serves a strip's centers and each feature of a row is loaded once per
 * strip. KM_DOT_ROWS rows go together, their sums in separate registers.
 * The products are stored center-major (``out[j * ldc + q]``), the layout
 * of the plain pass's vectorised argmin that folds them.
 *
 * Every sum runs over the features in order, one product and one addition
 * each, rounded as the types say (setup.py turns FMA contraction off), so
 * every compiled version gives the same bits and a row's values do not
 * depend on which other rows share its tile. The caller trusts them to the
 * same relative error as a GEMM's (kmcore.distances.relative_error).
 */
#ifndef KMCORE_YINYANG_DOTS_H
#define KMCORE_YINYANG_DOTS_H

#include <stddef.h>
#include <string.h>

#include "_simd.h"

/* Centers per strip: 64 bytes of them (one AVX-512 register, two AVX2). */
#define KM_STRIP_BYTES 64
#define KM_STRIP(T) ((ptrdiff_t) (KM_STRIP_BYTES / sizeof(T)))
/* Rows per tile: their sums stay in registers on AVX2 (2 x 6 of 16) and AVX-512. */
#define KM_DOT_ROWS 6

#if defined(__GNUC__) || defined(__clang__)
typedef float km_strip_f32 __attribute__((vector_size(64)));
typedef double km_strip_f64 __attribute__((vector_size(64)));

/* Scalar-times-vector products are the GCC/clang vector extensions'
 * broadcast; the loads go through memcpy (the panel need not be aligned). */
#define KM_PANEL_DOTS(NAME, T, VT)                                            \
KM_CLONES static void NAME(                                                   \
    const T *const *rows, ptrdiff_t m, const T *restrict panel, ptrdiff_t d,  \
    ptrdiff_t nc, T *restrict out, ptrdiff_t ldc)                             \
{                                                                             \
    const ptrdiff_t W = KM_STRIP(T);                                          \
    ptrdiff_t q0, s, f, r, l;                                                 \
    for (q0 = 0; q0 < m; q0 += KM_DOT_ROWS) {                                 \
        const T *x[KM_DOT_ROWS];                                              \
        ptrdiff_t mr = m - q0 < KM_DOT_ROWS ? m - q0 : KM_DOT_ROWS;           \
        /* A short tile repeats its last row (computed, not stored). */       \
        for (r = 0; r < KM_DOT_ROWS; r++)                                     \
            x[r] = rows[q0 + (r < mr ? r : mr - 1)];                          \
        for (s = 0; s * W < nc; s++) {                                        \
            const T *restrict p = panel + s * d * W;                          \
            VT acc[KM_DOT_ROWS], col;                                         \
            for (r = 0; r < KM_DOT_ROWS; r++)                                 \
                acc[r] = (VT) {0};                                            \
            for (f = 0; f < d; f++) {                                         \
                memcpy(&col, p + f * W, sizeof col);                          \
                for (r = 0; r < KM_DOT_ROWS; r++)                             \
                    acc[r] = acc[r] + x[r][f] * col;                          \
            }                                                                 \
            ptrdiff_t nl = nc - s * W < W ? nc - s * W : W;                   \
            for (r = 0; r < mr; r++)                                          \
                for (l = 0; l < nl; l++)                                      \
                    out[(s * W + l) * ldc + q0 + r] = (T) -2 * acc[r][l];     \
        }                                                                     \
    }                                                                         \
}
KM_PANEL_DOTS(km_panel_dots_f32, float, km_strip_f32)
KM_PANEL_DOTS(km_panel_dots_f64, double, km_strip_f64)

#else
/* The same sums lane by lane. */
#define KM_PANEL_DOTS(NAME, T)                                                \
static void NAME(                                                             \
    const T *const *rows, ptrdiff_t m, const T *panel, ptrdiff_t d,           \
    ptrdiff_t nc, T *out, ptrdiff_t ldc)                                      \
{                                                                             \
    const ptrdiff_t W = KM_STRIP(T);                                          \
    ptrdiff_t q, j, f;                                                        \
    for (q = 0; q < m; q++)                                                   \
        for (j = 0; j < nc; j++) {                                            \
            const T *p = panel + (j / W) * d * W + j % W;                     \
            T acc = 0;                                                        \
            for (f = 0; f < d; f++)                                           \
                acc = acc + rows[q][f] * p[f * W];                            \
            out[j * ldc + q] = (T) -2 * acc;                                  \
        }                                                                     \
}
KM_PANEL_DOTS(km_panel_dots_f32, float)
KM_PANEL_DOTS(km_panel_dots_f64, double)
#endif

/* out[q] = ||x_q - c_q||^2 for q < m, summed directly in float64 exactly as
 * kmcore._common.sqdist sums it: four partial sums over the features j = 0,
 * 1, 2, 3 mod 4 (the features past the last multiple of four go to the
 * first), each difference and square rounded to float64, then (s0 + s1) +
 * (s2 + s3). So the values are sqdist's, bit for bit (the kernel compares
 * them with sqdist's own). KM_DIRECT_ROWS rows go together: their sums are
 * independent chains, which keeps the additions' pipeline full where one
 * row's four sums leave it waiting. */
#define KM_DIRECT_ROWS 4

/* __builtin_convertvector: GCC 9 and clang. */
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 9)
typedef double km_quad_f64 __attribute__((vector_size(4 * sizeof(double))));
typedef float km_quad_f32 __attribute__((vector_size(4 * sizeof(float))));

#define KM_QUAD_F64_float(v) __builtin_convertvector(v, km_quad_f64)
#define KM_QUAD_F64_double(v) (v)
#define KM_SQDIST_ROWS(NAME, T, QT)                                           \
KM_CLONES static void NAME(                                                   \
    const T *const *x, const T *const *c, ptrdiff_t m, ptrdiff_t d,           \
    double *restrict out)                                                     \
{                                                                             \
    const ptrdiff_t d4 = d - d % 4;                                           \
    ptrdiff_t q0, r, j;                                                       \
    for (q0 = 0; q0 < m; q0 += KM_DIRECT_ROWS) {                              \
        const T *a[KM_DIRECT_ROWS], *b[KM_DIRECT_ROWS];                       \
        km_quad_f64 acc[KM_DIRECT_ROWS];                                      \
        ptrdiff_t mr = m - q0 < KM_DIRECT_ROWS ? m - q0 : KM_DIRECT_ROWS;     \
        for (r = 0; r < KM_DIRECT_ROWS; r++) {                                \
            a[r] = x[q0 + (r < mr ? r : mr - 1)];                             \
            b[r] = c[q0 + (r < mr ? r : mr - 1)];                             \
            acc[r] = (km_quad_f64) {0};                                       \
        }                                                                     \
        for (j = 0; j < d4; j += 4)                                           \
            for (r = 0; r < KM_DIRECT_ROWS; r++) {                            \
                QT u, w;                                                      \
                memcpy(&u, a[r] + j, sizeof u);                               \
                memcpy(&w, b[r] + j, sizeof w);                               \
                km_quad_f64 t = KM_QUAD_F64_##T(u) - KM_QUAD_F64_##T(w);      \
                acc[r] = acc[r] + t * t;                                      \
            }                                                                 \
        for (r = 0; r < mr; r++) {                                            \
            double s0 = acc[r][0];                                            \
            for (j = d4; j < d; j++) {                                        \
                double t = (double) a[r][j] - (double) b[r][j];               \
                s0 += t * t;                                                  \
            }                                                                 \
            out[q0 + r] = (s0 + acc[r][1]) + (acc[r][2] + acc[r][3]);         \
        }                                                                     \
    }                                                                         \
}
KM_SQDIST_ROWS(km_sqdist_rows_f32, float, km_quad_f32)
KM_SQDIST_ROWS(km_sqdist_rows_f64, double, km_quad_f64)

#else
#define KM_SQDIST_ROWS(NAME, T)                                               \
static void NAME(                                                             \
    const T *const *x, const T *const *c, ptrdiff_t m, ptrdiff_t d,           \
    double *out)                                                              \
{                                                                             \
    const ptrdiff_t d4 = d - d % 4;                                           \
    ptrdiff_t q, j;                                                           \
    for (q = 0; q < m; q++) {                                                 \
        double s[4] = {0, 0, 0, 0}, t;                                        \
        for (j = 0; j < d4; j++) {                                            \
            t = (double) x[q][j] - (double) c[q][j];                          \
            s[j % 4] += t * t;                                                \
        }                                                                     \
        for (j = d4; j < d; j++) {                                            \
            t = (double) x[q][j] - (double) c[q][j];                          \
            s[0] += t * t;                                                    \
        }                                                                     \
        out[q] = (s[0] + s[1]) + (s[2] + s[3]);                               \
    }                                                                         \
}
KM_SQDIST_ROWS(km_sqdist_rows_f32, float)
KM_SQDIST_ROWS(km_sqdist_rows_f64, double)
#endif

#endif
