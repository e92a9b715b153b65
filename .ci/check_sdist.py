"""Checks of the sdist for .ci/run: its file list, then the package installed from it.

``python .ci/check_sdist.py tarball DIST.tar.gz`` checks that the tarball has
what a build and the tests need (the Cython sources, the tests with their
conftest.py, LICENSE, ...) and nothing generated (Cython's .c, compiled
modules). ``python .ci/check_sdist.py installed`` is run by the virtual
environment's Python, from outside the source tree: it imports both packages,
checks that they come from that environment, fits a small KMeans and checks
that the plots say how to get matplotlib, which the plain install lacks.
"""

import sys
import tarfile
from pathlib import Path, PurePosixPath

# Every kernel of the source tree this script sits in (so the list cannot drift
# from setup.py's).
KERNELS = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "src" / "kmcore")
                 .glob("*.pyx"))
REQUIRED = (
    ["README.md", "LICENSE", "CHANGELOG.md", "pyproject.toml", "setup.py", "MANIFEST.in",
     "PKG-INFO", "src/kmcore/_simd.h", "src/kmcore/_common.pxd", "src/kmcore/_version.py",
     "src/kmcore/py.typed", "python/dynkm/py.typed", "python/dynkm/__main__.py",
     "tests/conftest.py", "tests/README.md", "tests/kernel_reference.py",
     "tests/kmcore/conftest.py", "tests/kmcore/_kernel_cases.py",
     "tests/kmcore/test_kernel_contract.py", "tests/kmcore/properties/_problems.py",
     "tests/dynkm/classifier/conftest.py", "tests/project/test_packaging.py",
     "benchmarks/conftest.py"]
    + [f"src/kmcore/{name}.pyx" for name in KERNELS]
    + [f"src/kmcore/{name}.pyi" for name in KERNELS]
)
GENERATED = (".c", ".so", ".pyd", ".dylib", ".html", ".pyc")


def check_tarball(path):
    with tarfile.open(path) as tar:
        names = [m.name for m in tar.getmembers() if m.isfile()]
    root = {PurePosixPath(n).parts[0] for n in names}
    if len(root) != 1:
        raise SystemExit(f"{path}: expected one top folder, found {sorted(root)}")
    files = {str(PurePosixPath(*PurePosixPath(n).parts[1:])) for n in names}
    missing = [f for f in REQUIRED if f not in files]
    generated = sorted(f for f in files if f.endswith(GENERATED))
    if missing or generated:
        raise SystemExit(f"{path}: missing {missing}; generated files shipped {generated}")
    print(f"{path}: {len(files)} files, the {len(KERNELS)} .pyx kernels, tests/conftest.py, "
          "LICENSE and CHANGELOG.md present; no generated C or binaries")


def check_installed():
    import importlib.util
    from pathlib import Path

    import numpy as np

    import dynkm
    import kmcore

    for module in (kmcore, dynkm):
        where = Path(module.__file__).resolve()
        if not where.is_relative_to(Path(sys.prefix).resolve()):
            raise SystemExit(f"{module.__name__} imported from {where}, not from {sys.prefix}")
    if "matplotlib" in sys.modules:
        raise SystemExit("import dynkm imported matplotlib")

    X = np.random.default_rng(0).normal(size=(500, 8))
    X[:250] += 6.0
    model = dynkm.KMeans(n_clusters=2, n_init=1, random_state=0).fit(X)
    sizes = np.bincount(model.labels_, minlength=2)
    if sorted(sizes.tolist()) != [250, 250]:
        raise SystemExit(f"KMeans did not separate two far-apart blobs: sizes {sizes}")

    plots = "installed"
    if importlib.util.find_spec("matplotlib") is None:
        from dynkm.plot import plot_clusters_2d

        try:
            plot_clusters_2d(X[:, :2], model.labels_, model.cluster_centers_[:, :2],
                             Path("never-written.png"))
        except ImportError as exc:
            if 'pip install "dynkm[plot]"' not in str(exc):
                raise
            plots = "absent, and dynkm.plot says to install dynkm[plot]"
        else:
            raise SystemExit("dynkm.plot drew a plot without matplotlib")
    print(f"kmcore {kmcore.__version__} and dynkm {dynkm.__version__} from "
          f"{Path(kmcore.__file__).parent.parent}; OpenMP {kmcore.openmp_enabled()}; "
          f"KMeans inertia {model.inertia_:.1f}; matplotlib {plots}")
    from importlib.metadata import version

    if not kmcore.__version__ == dynkm.__version__ == version("dynkm"):
        raise SystemExit(f"versions differ: kmcore {kmcore.__version__}, dynkm "
                         f"{dynkm.__version__}, metadata {version('dynkm')}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["tarball"] and len(sys.argv) == 3:
        check_tarball(sys.argv[2])
    elif sys.argv[1:] == ["installed"]:
        check_installed()
    else:
        raise SystemExit(__doc__)
