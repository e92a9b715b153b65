"""Build the kmcore Cython extensions.

OpenMP is probed by compiling a tiny program with the compiler setuptools will
use; when that fails the kernels are built serial and a warning says so.
Set ``KMCORE_DEBUG=1`` to build with Cython's bounds and wraparound checks on.
"""

import os
import shutil
import sys
import tempfile
import textwrap
import warnings

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNEL_MODULES = ["_parallel", "_distances", "_assign", "_centers", "_seeding", "_split", "_soft",
                  "_yinyang"]

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
        for cflags, lflags in candidates:
            try:
                objs = compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
                compiler.link_executable(objs, "probe", output_dir=tmp, extra_postargs=lflags)
                return cflags, lflags
            except Exception:  # noqa: BLE001 - any compiler failure means "no"
                continue
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class BuildExtWithOpenMP(build_ext):
    def build_extensions(self):
        flags = openmp_flags(self.compiler)
        if flags is None:
            warnings.warn(
                "kmcore: the compiler does not support OpenMP; building serial "
                "kernels (n_threads is then always 1).",
                stacklevel=1,
            )
        # No FMA contraction: _simd.h's loops are also compiled for AVX2/AVX-512,
        # and every version must round the same way.
        opt = [] if self.compiler.compiler_type == "msvc" else ["-O3", "-ffp-contract=off"]
        for ext in self.extensions:
            ext.extra_compile_args = opt + (flags[0] if flags else [])
            ext.extra_link_args = flags[1] if flags else []
        super().build_extensions()


debug = os.environ.get("KMCORE_DEBUG", "") not in ("", "0")
directives = {
    "language_level": 3,
    "boundscheck": debug,
    "wraparound": debug,
    "initializedcheck": debug,
    "cdivision": True,
    "embedsignature": True,
    "autotestdict": False,  # no __test__ dict: the .pyi stubs are the interface
}

extensions = [
    Extension(f"kmcore.{name}", [f"src/kmcore/{name}.pyx"], include_dirs=["src/kmcore"])
    for name in KERNEL_MODULES
]

setup(
    ext_modules=cythonize(extensions, compiler_directives=directives, include_path=["src"]),
    cmdclass={"build_ext": BuildExtWithOpenMP},
)
