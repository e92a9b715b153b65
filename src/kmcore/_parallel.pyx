"""OpenMP facts of this build, for the Python layer that picks thread counts."""

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int kmcore_openmp_enabled(void) { return 1; }
    static int kmcore_omp_max_threads(void) { return omp_get_max_threads(); }
    #else
    static int kmcore_openmp_enabled(void) { return 0; }
    static int kmcore_omp_max_threads(void) { return 1; }
    #endif
    """
    int kmcore_openmp_enabled() noexcept nogil
    int kmcore_omp_max_threads() noexcept nogil


def openmp_enabled():
    """Return True when the kernels were compiled with OpenMP."""
    return bool(kmcore_openmp_enabled())


def omp_max_threads():
    """Return OpenMP's default team size (honours ``OMP_NUM_THREADS``); 1 without OpenMP."""
    return kmcore_omp_max_threads()
