"""Declarations of the strip products of ``_yinyang_dots.h``, cimported by the
modules that call them (Yinyang's products, k-means++'s candidate products)."""

cdef extern from "_yinyang_dots.h" nogil:
    enum: KM_STRIP_BYTES  # a strip of centers: this many bytes of each feature
    void km_panel_dots_f32(const float* const*, Py_ssize_t, const float*, Py_ssize_t,
                           Py_ssize_t, float*, Py_ssize_t)
    void km_panel_dots_f64(const double* const*, Py_ssize_t, const double*, Py_ssize_t,
                           Py_ssize_t, double*, Py_ssize_t)
