# Inline helpers shared by the kernels: BLAS wrappers, exact distances, the
# vectorised argmin and row sums of _simd.h (a .pxd only: each module that
# cimports it gets its own inlined copy, no cross-module call).
#
# BLAS is column-major. A row-major (m, d) array is a column-major (d, m) one,
# so the row-major product C = alpha * A @ B.T is computed as the column-major
# C.T = alpha * B.T' @ A' with B transposed: gemm("T", "N", n, m, d, ...).

from cython cimport floating
from libc.stdint cimport int32_t
from scipy.linalg.cython_blas cimport sgemm, dgemm, sdot, ddot


cdef inline void gemm_abt(
    const floating* A,   # IN  (m, d) row-major, rows contiguous
    int m,
    const floating* B,   # IN  (n, d) row-major, rows contiguous
    int n,
    int d,
    floating alpha,
    floating* C,         # OUT (m, n) row-major with row stride ldc: alpha * A @ B.T
    int ldc,
) noexcept nogil:
    """C = alpha * A @ B.T for row-major A, B, C (BLAS gemm, beta = 0)."""
    cdef char trans = b"T"
    cdef char notrans = b"N"
    cdef floating beta = 0.0
    if m == 0 or n == 0:
        return
    if floating is float:
        sgemm(&trans, &notrans, &n, &m, &d, &alpha, <float*> B, &d,
              <float*> A, &d, &beta, C, &ldc)
    else:
        dgemm(&trans, &notrans, &n, &m, &d, &alpha, <double*> B, &d,
              <double*> A, &d, &beta, C, &ldc)


cdef inline floating dot(
    const floating* a,   # IN (d,)
    const floating* b,   # IN (d,)
    int d,
) noexcept nogil:
    """a . b by BLAS (vectorised whatever the compiler flags)."""
    cdef int one = 1
    if floating is float:
        return sdot(&d, <float*> a, &one, <float*> b, &one)
    else:
        return ddot(&d, <double*> a, &one, <double*> b, &one)


cdef inline double sqdist(
    const floating* a,   # IN (d,)
    const floating* b,   # IN (d,)
    Py_ssize_t d,
) noexcept nogil:
    """||a - b||^2 summed directly (no cancellation), four partial sums.

    The GEMM expansion ||a||^2 - 2 a.b + ||b||^2 loses its digits when
    ||a - b||^2 is small against ||a||^2 + ||b||^2; the assignment falls back
    to this for those rows, and the split uses it for member distances.
    """
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0, t
    cdef Py_ssize_t j = 0
    cdef Py_ssize_t d4 = d - d % 4
    while j < d4:
        t = <double> a[j] - b[j]
        s0 += t * t
        t = <double> a[j + 1] - b[j + 1]
        s1 += t * t
        t = <double> a[j + 2] - b[j + 2]
        s2 += t * t
        t = <double> a[j + 3] - b[j + 3]
        s3 += t * t
        j += 4
    while j < d:
        t = <double> a[j] - b[j]
        s0 += t * t
        j += 1
    return (s0 + s1) + (s2 + s3)


cdef extern from "_simd.h" nogil:
    # Inner loops with runtime dispatch to AVX2/AVX-512 (see _simd.h).
    void km_argmin_block_f32(const float*, Py_ssize_t, Py_ssize_t, const float*, float*, int32_t*)
    void km_argmin_block_f64(const double*, Py_ssize_t, Py_ssize_t, const double*, double*, int32_t*)
    void km_add_scaled_row_f32(double*, const float*, double, Py_ssize_t)
    void km_add_scaled_row_f64(double*, const double*, double, Py_ssize_t)


cdef inline void argmin_block(
    const floating* block,       # IN  (kb, m) center-major: block[j * m + i]
    Py_ssize_t m,
    Py_ssize_t kb,
    const floating* c_sqnorms,   # IN  (kb,) added to each center's row of the block
    floating* best,              # OUT (m,) smallest block[j * m + i] + c_sqnorms[j]
    int32_t* label,              # OUT (m,) its j (lowest on ties)
) noexcept nogil:
    """Row-wise argmin over a block of centers (vectorised, see _simd.h)."""
    if floating is float:
        km_argmin_block_f32(block, m, kb, c_sqnorms, best, label)
    else:
        km_argmin_block_f64(block, m, kb, c_sqnorms, best, label)


cdef inline void add_scaled_row(
    double* acc,         # INOUT (d,) float64 accumulator
    const floating* x,   # IN    (d,)
    double w,
    Py_ssize_t d,
) noexcept nogil:
    """acc += w * x, accumulated in float64 (vectorised, see _simd.h)."""
    if floating is float:
        km_add_scaled_row_f32(acc, x, w, d)
    else:
        km_add_scaled_row_f64(acc, x, w, d)
