/* The filter loop of k-means++'s projection bounds (_seeding.pyx): squared
 * distances in a few projected dimensions, for a block of rows against one
 * candidate.
 *
 * The projected rows are stored dimension-major (``pt[j * stride + i]``), so
 * the inner loop runs over contiguous rows: plain vector code, one
 * independent sum per row (no reassociation needed). They are stored as
 * bfloat16 (the high half of a float32's bits, read back exactly as that
 * float32): the loop streams through them at every step, so half the bytes
 * is about half the time, and twice the directions fit in the same memory.
 * The loop only decides which rows a step reads; the bound it feeds covers
 * any summation order (sums of non-negative terms) and the rounding to
 * bfloat16, so the version the CPU gets (KM_CLONES, as for _simd.h's loops)
 * never changes a picked row.
 */
#ifndef KMCORE_PROJECTION_H
#define KMCORE_PROJECTION_H

#include <stdint.h>
#include <string.h>

#include "_simd.h"

/* A bfloat16 value as the float32 it is the high half of (exact). */
static inline float km_bf16(uint16_t h)
{
    uint32_t b = (uint32_t) h << 16;
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

/* acc[i] = sum over j < dims of (pt[j * stride + i] - cand[j])^2, i < rows,
 * pt read as bfloat16. */
KM_CLONES static void km_projected_sqdist(
    const uint16_t *__restrict pt, ptrdiff_t stride, ptrdiff_t rows, ptrdiff_t dims,
    const float *__restrict cand, float *__restrict acc)
{
    ptrdiff_t i, j = 0;
    for (i = 0; i < rows; i++)
        acc[i] = 0.0f;
    /* Two dimensions per sweep: half the loads and stores of acc. */
    for (; j + 1 < dims; j += 2) {
        const uint16_t *__restrict p0 = pt + j * stride;
        const uint16_t *__restrict p1 = p0 + stride;
        const float c0 = cand[j], c1 = cand[j + 1];
        for (i = 0; i < rows; i++) {
            const float t0 = km_bf16(p0[i]) - c0, t1 = km_bf16(p1[i]) - c1;
            acc[i] += t0 * t0 + t1 * t1;
        }
    }
    if (j < dims) {
        const uint16_t *__restrict p0 = pt + j * stride;
        const float c0 = cand[j];
        for (i = 0; i < rows; i++) {
            const float t0 = km_bf16(p0[i]) - c0;
            acc[i] += t0 * t0;
        }
    }
}

#endif
