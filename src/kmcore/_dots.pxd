"""The strip products of ``_yinyang_dots.h`` (Yinyang's products, k-means++'s
candidate products): their declarations, and the one layout of the centers
they read, cimported by the modules that call them."""

from cython cimport floating

cdef extern from "_yinyang_dots.h" nogil:
    enum: KM_STRIP_BYTES  # a strip of centers: this many bytes of each feature
    void km_panel_dots_f32(const float* const*, Py_ssize_t, const float*, Py_ssize_t,
                           Py_ssize_t, float*, Py_ssize_t)
    void km_panel_dots_f64(const double* const*, Py_ssize_t, const double*, Py_ssize_t,
                           Py_ssize_t, double*, Py_ssize_t)


cdef inline void fill_strips(
    const floating[:, ::1] C,   # IN  (k, d)
    Py_ssize_t start,
    Py_ssize_t stop,
    floating* panel,            # OUT (ceil((stop - start) / W) * d * W,)
) noexcept nogil:
    """Rows ``start .. stop`` of C in strips of W (64 bytes of each feature):
    ``panel[(s * d + f) * W + l]`` is feature f of row ``start + s * W + l``,
    0 past ``stop``."""
    cdef Py_ssize_t d = C.shape[1], W = KM_STRIP_BYTES // sizeof(floating)
    cdef Py_ssize_t s, f, l, p0
    for s in range((stop - start + W - 1) // W):
        p0 = start + s * W
        for f in range(d):
            for l in range(W):
                panel[(s * d + f) * W + l] = C[p0 + l, f] if p0 + l < stop else 0
