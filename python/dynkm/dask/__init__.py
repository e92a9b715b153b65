"""dynkm on dask arrays: data beyond one machine, the same kmcore kernels.

``pip install "dynkm[dask]"`` (``dask[array]`` and ``distributed``).

- :class:`KMeans`: Lloyd's algorithm chunk by chunk (Lloyd's pass or the
  bounded strategies, their bounds kept with each chunk); from the same init
  it runs the iterations of ``dynkm.KMeans`` (labels and n_iter equal,
  centers and inertia to rounding), and its result does not depend on the
  workers.
- :func:`fit_chunks`: ``partial_fit`` of a streaming estimator
  (``dynkm.MiniBatchKMeans``, ``dynkm.DynamicKMeans``) on the chunks in order.
"""

try:
    import dask.array  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "dynkm.dask needs dask: pip install 'dynkm[dask]' (dask[array] and distributed)"
    ) from exc

from dynkm.dask._kmeans import KMeans, fit_chunks

__all__ = ["KMeans", "fit_chunks"]
