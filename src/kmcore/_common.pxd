# Inline helpers shared by the kernels: argument checks, BLAS wrappers, exact
# distances, rows shifted to a nearby origin, the vectorised argmin and row
# sums of _simd.h (a .pxd only: each module that cimports it gets its own
# inlined copy, no cross-module call).
#
# BLAS is column-major. A row-major (m, d) array is a column-major (d, m) one,
# so the row-major product C = alpha * A @ B.T is computed as the column-major
# C.T = alpha * B.T' @ A' with B transposed: gemm("T", "N", n, m, d, ...).

from cython cimport floating
from libc.limits cimport INT_MAX
from libc.stdint cimport int32_t
from scipy.linalg.cython_blas cimport sgemm, dgemm, sdot, ddot


# Argument checks of the kernel entries. The kernels trust no caller: every
# shape, length and index they rely on is checked before they go nogil, so
# that a slip in the Python layer raises ValueError naming the argument
# instead of reading or writing past a buffer. Each is O(1) except
# check_indices (one pass over the indices, cheap next to any kernel that
# uses them).

cdef inline int check_equal(Py_ssize_t got, Py_ssize_t want, str kernel, str what) except -1:
    """Raise ValueError unless ``got == want``; ``what`` names the argument and axis."""
    if got != want:
        raise ValueError(f"{kernel}: {what} must be {want}, got {got}")
    return 0


cdef inline int check_at_least(Py_ssize_t got, Py_ssize_t want, str kernel,
                               str what) except -1:
    """Raise ValueError unless ``got >= want``."""
    if got < want:
        raise ValueError(f"{kernel}: {what} must be at least {want}, got {got}")
    return 0


cdef inline int check_optional(Py_ssize_t got, Py_ssize_t want, str kernel,
                               str what) except -1:
    """Raise ValueError unless ``got`` is ``want`` or 0 (an empty, optional vector)."""
    if got != want and got != 0:
        raise ValueError(f"{kernel}: {what} must be {want} (or 0 for none), got {got}")
    return 0


cdef inline int check_blas_int(Py_ssize_t got, str kernel, str what) except -1:
    """Raise ValueError unless ``got`` fits the C int of a BLAS dimension."""
    if got > INT_MAX:
        raise ValueError(f"{kernel}: {what} must be at most {INT_MAX} (BLAS int), got {got}")
    return 0


cdef inline int check_threads(int n_threads, str kernel) except -1:
    """Raise ValueError unless ``n_threads >= 1`` (an OpenMP team size)."""
    if n_threads < 1:
        raise ValueError(f"{kernel}: n_threads must be >= 1, got {n_threads}")
    return 0


cdef inline int check_indices(const Py_ssize_t[::1] idx, Py_ssize_t bound, str kernel,
                              str name) except -1:
    """Raise ValueError unless every ``idx[i]`` lies in ``[0, bound)``.

    A min/max reduction (vectorised, no branch); only when it fails is the
    first offending position looked for, to name it.
    """
    cdef Py_ssize_t i, n = idx.shape[0]
    cdef Py_ssize_t lo = 0, hi = 0
    if n == 0:
        return 0
    with nogil:
        lo = idx[0]
        hi = idx[0]
        for i in range(n):
            lo = idx[i] if idx[i] < lo else lo
            hi = idx[i] if idx[i] > hi else hi
    if lo >= 0 and hi < bound:
        return 0
    for i in range(n):
        if idx[i] < 0 or idx[i] >= bound:
            raise ValueError(
                f"{kernel}: {name} must lie in [0, {bound}), got {idx[i]} at position {i}")
    return 0


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


cdef inline void shift_rows(
    const floating* X,       # IN  (m, d) row-major, rows contiguous
    Py_ssize_t m,
    int d,
    const double* origin,    # IN  (d,)
    floating* out,           # OUT (m, d) X - origin, rounded once to floating
    floating* sqnorms,       # OUT (m,) squared norms of the rows of out
) noexcept nogil:
    """Copy rows minus an origin, with the squared norms of the copies.

    The norms are those of the rounded copies (the GEMM's operands), summed
    directly: never as ||x||^2 - 2 x.m + ||m||^2, which cancels exactly
    where the shift is needed.
    """
    cdef Py_ssize_t i, j
    cdef const floating* x
    cdef floating* y
    for i in range(m):
        x = X + i * d
        y = out + i * d
        for j in range(d):
            y[j] = <floating> (<double> x[j] - origin[j])
        sqnorms[i] = dot(y, y, d)


cdef inline double shifted_dot(
    const floating* x,       # IN (d,)
    const double* origin,    # IN (d,)
    const floating* v,       # IN (d,)
    Py_ssize_t d,
) noexcept nogil:
    """(x - origin) . v in float64, four partial sums (no cancellation in x . v)."""
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    cdef Py_ssize_t j = 0
    cdef Py_ssize_t d4 = d - d % 4
    while j < d4:
        s0 += (<double> x[j] - origin[j]) * v[j]
        s1 += (<double> x[j + 1] - origin[j + 1]) * v[j + 1]
        s2 += (<double> x[j + 2] - origin[j + 2]) * v[j + 2]
        s3 += (<double> x[j + 3] - origin[j + 3]) * v[j + 3]
        j += 4
    while j < d:
        s0 += (<double> x[j] - origin[j]) * v[j]
        j += 1
    return (s0 + s1) + (s2 + s3)


cdef extern from "_simd.h" nogil:
    # Inner loops with runtime dispatch to AVX2/AVX-512 (see _simd.h).
    void km_argmin_block_f32(const float*, Py_ssize_t, Py_ssize_t, const float*, float*, float*,
                             int32_t*)
    void km_argmin_block_f64(const double*, Py_ssize_t, Py_ssize_t, const double*, double*,
                             double*, int32_t*)
    void km_add_scaled_row_f32(double*, const float*, double, Py_ssize_t)
    void km_add_scaled_row_f64(double*, const double*, double, Py_ssize_t)


cdef inline void argmin_block(
    const floating* block,       # IN  (kb, m) center-major: block[j * m + i]
    Py_ssize_t m,
    Py_ssize_t kb,
    const floating* c_sqnorms,   # IN  (kb,) added to each center's row of the block
    floating* best,              # OUT (m,) smallest block[j * m + i] + c_sqnorms[j]
    floating* second,            # OUT (m,) second smallest (+inf when kb == 1)
    int32_t* label,              # OUT (m,) its j (lowest on ties)
) noexcept nogil:
    """Row-wise argmin and runner-up over a block of centers (vectorised, see _simd.h)."""
    if floating is float:
        km_argmin_block_f32(block, m, kb, c_sqnorms, best, second, label)
    else:
        km_argmin_block_f64(block, m, kb, c_sqnorms, best, second, label)


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
