/* The filter loop of k-means++'s projection bounds (_seeding.pyx): squared
 * distances in a few projected dimensions, for a block of rows against one
 * candidate.
 *
 * The projected rows are stored dimension-major (``pt[j * stride + i]``), so
 * the inner loop runs over contiguous rows: plain vector code, one
 * independent sum per row (no reassociation needed). The loop only decides
 * which rows a step reads; the bound it feeds covers any summation order
 * (sums of non-negative terms), so the version the CPU gets
 * (KM_CLONES, as for _simd.h's loops) never changes a picked row.
 */
#ifndef KMCORE_PROJECTION_H
#define KMCORE_PROJECTION_H

#include "_simd.h"

/* acc[i] = sum over j < dims of (pt[j * stride + i] - cand[j])^2, i < rows. */
KM_CLONES static void km_projected_sqdist(
    const float *__restrict pt, ptrdiff_t stride, ptrdiff_t rows, ptrdiff_t dims,
    const float *__restrict cand, float *__restrict acc)
{
    ptrdiff_t i, j = 0;
    for (i = 0; i < rows; i++)
        acc[i] = 0.0f;
    /* Two dimensions per sweep: half the loads and stores of acc. */
    for (; j + 1 < dims; j += 2) {
        const float *__restrict p0 = pt + j * stride;
        const float *__restrict p1 = p0 + stride;
        const float c0 = cand[j], c1 = cand[j + 1];
        for (i = 0; i < rows; i++) {
            const float t0 = p0[i] - c0, t1 = p1[i] - c1;
            acc[i] += t0 * t0 + t1 * t1;
        }
    }
    if (j < dims) {
        const float *__restrict p0 = pt + j * stride;
        const float c0 = cand[j];
        for (i = 0; i < rows; i++) {
            const float t0 = p0[i] - c0;
            acc[i] += t0 * t0;
        }
    }
}

#endif
