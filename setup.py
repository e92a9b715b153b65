"""Build the kmcore Cython extensions.

OpenMP is probed by compiling a tiny program with the compiler setuptools will
use; when that fails the kernels are built serial and a warning says so.
Set ``KMCORE_DEBUG=1`` to build with Cython's bounds and wraparound checks on
(and with debug information). ``CPPFLAGS=-DKM_CLONES=`` builds _simd.h's loops
for the baseline only (no AVX2/AVX-512 clones); _simd.h already does so where
gcc's ifunc dispatch is unavailable (musl, macOS, Windows, clang). Use
CPPFLAGS, not CFLAGS, for such a switch: recent setuptools appends $CPPFLAGS to
Python's compiler flags but lets $CFLAGS replace them (-DNDEBUG, -fwrapv).

The .pyx files are cythonized when the extensions are built, not when this
file is read, so making the sdist neither runs Cython nor ships the generated
C (MANIFEST.in keeps the sources and drops the .c).
"""

import glob
import os
import shlex
import shutil
import sys
import tempfile
import textwrap
import warnings

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNEL_MODULES = ["_parallel", "_distances", "_assign", "_centers", "_seeding", "_split", "_soft",
                  "_yinyang", "_yinyang_sums", "_hamerly"]

OPENMP_PROBE = textwrap.dedent(
    """
    #include <omp.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        return n > 0 ? 0 : 1;
    }
    """
)


def openmp_flags(compiler):
    """Return (compile_args, link_args) enabling OpenMP, or None if unusable."""
    if sys.platform == "win32":
        candidates = [(["/openmp"], [])]
    elif sys.platform == "darwin":
        candidates = [(["-Xpreprocessor", "-fopenmp"], ["-lomp"]), (["-fopenmp"], ["-fopenmp"])]
    else:
        candidates = [(["-fopenmp"], ["-fopenmp"])]
    tmp = tempfile.mkdtemp(prefix="kmcore-omp-")
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(OPENMP_PROBE)
        # The extensions are linked with $LDFLAGS but an executable is not:
        # pass them here so that a libomp found only through them (Homebrew's
        # on macOS) is found by the probe too.
        env_ldflags = shlex.split(os.environ.get("LDFLAGS", ""))
        for cflags, lflags in candidates:
            try:
                objs = compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
                compiler.link_executable(objs, "probe", output_dir=tmp,
                                         extra_postargs=lflags + env_ldflags)
                return cflags, lflags
            except Exception:  # noqa: BLE001 - any compiler failure means "no"
                continue
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class BuildExtWithOpenMP(build_ext):
    def build_extensions(self):
        # Cythonize here rather than when setup.py is read: making the sdist
        # then needs no Cython and lists the .pyx files as the sources.
        from Cython.Build import cythonize

        nthreads = self.parallel if isinstance(self.parallel, int) else 0
        generated = cythonize(self.extensions, compiler_directives=DIRECTIVES,
                              include_path=["src"], nthreads=nthreads)
        c_sources = {ext.name: ext.sources for ext in generated}
        for ext in self.extensions:
            ext.sources = c_sources[ext.name]

        flags = openmp_flags(self.compiler)
        if flags is None:
            warnings.warn(
                "kmcore: the compiler does not support OpenMP; building serial "
                "kernels (n_threads is then always 1).",
                stacklevel=1,
            )
        # No FMA contraction: _simd.h's loops are also compiled for AVX2/AVX-512,
        # and every version must round the same way. -g0 undoes the -g that
        # Python's own CFLAGS usually carry (about 1 MB of debug information
        # per module, in every wheel); a KMCORE_DEBUG build keeps it.
        if self.compiler.compiler_type == "msvc":
            opt = []
        else:
            opt = ["-O3", "-ffp-contract=off"] + ([] if debug else ["-g0"])
        for ext in self.extensions:
            ext.extra_compile_args = opt + (flags[0] if flags else [])
            ext.extra_link_args = flags[1] if flags else []
        super().build_extensions()


debug = os.environ.get("KMCORE_DEBUG", "") not in ("", "0")
DIRECTIVES = {
    "language_level": 3,
    "boundscheck": debug,
    "wraparound": debug,
    "initializedcheck": debug,
    "cdivision": True,
    "embedsignature": True,
    "autotestdict": False,  # no __test__ dict: the .pyi stubs are the interface
}

# Every kernel may include any of these: a change to one rebuilds the extensions
# (build_ext compares only the sources and `depends` with the built library).
SHARED_SOURCES = sorted(glob.glob("src/kmcore/*.h") + glob.glob("src/kmcore/*.pxd"))

extensions = [
    Extension(f"kmcore.{name}", [f"src/kmcore/{name}.pyx"], include_dirs=["src/kmcore"],
              depends=SHARED_SOURCES)
    for name in KERNEL_MODULES
]

setup(
    ext_modules=extensions,
    cmdclass={"build_ext": BuildExtWithOpenMP},
)
