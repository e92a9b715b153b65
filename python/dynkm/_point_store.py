"""The exact point stores of :class:`dynkm.DynamicKMeans`: every row seen, kept.

A store keeps, for every point seen, its row, sample weight and arrival
time, and for every cluster the list of its points (in the order they
joined), so that a split is 2-means over the members and ``labels_`` is
known. :class:`MemoryStore` keeps all of it in memory (``store="memory"``;
also each point's cluster ID); :class:`DiskStore` in memory-mapped files of
a scratch directory (``store="disk"``), the member lists as segments of a
file (:mod:`dynkm._member_file`), so that RAM holds O(clusters), not
O(points seen). Both give each cluster the same members in the same order
and run the same code on them, so their results are bitwise equal.

Copy-on-write (:mod:`dynkm._atomic`): the estimator takes a :meth:`fork` of
its store before a batch (a shallow copy: O(clusters), no row is copied).
New rows are written past the committed length ``n``, into spare capacity
that the committed store does not read. A memory store writes the cluster
IDs of earlier points that splits and merges change through
:func:`dynkm._atomic.write`; a disk store never overwrites what the
committed store reads (see :mod:`dynkm._member_file`). The rows of a disk
store are only ever appended: a file holds the committed rows and, past
them, whatever a failed batch wrote, which is ignored.
"""

import contextvars
import os
import secrets
import shutil
import sys
import tempfile
import warnings
import weakref

import numpy as np

from dynkm import _atomic
from dynkm._grow import new_columns, reserve
from dynkm._member_file import MemberFile

STORES = ("memory", "disk", "summary")
# Column names: those of the estimator's attributes before the stores existed.
_ROWS, _IDS, _W, _T = "_data", "_point_ids", "_point_w", "_point_t"
_FILES = {_ROWS: "rows.bin", _W: "weights.bin", _T: "times.bin"}
_MEMBERS_FILE = "members.bin"
_MIN_CAPACITY = 1024
_MAX_PARTS = 8
# While a model is being saved: the directory name its disk store's rows are copied to
# and the table of the member lists written there.
_SAVING_ROWS_AS = contextvars.ContextVar("dynkm_saving_rows_as", default=None)


def store_kind(store, keep_data):
    """The store a DynamicKMeans uses: ``store``, or what the deprecated ``keep_data``
    asks for (with a FutureWarning)."""
    if store not in STORES:
        raise ValueError(f"store must be one of {STORES}, got {store!r}")
    if isinstance(keep_data, str) and keep_data == "deprecated":
        return store
    if not isinstance(keep_data, (bool, np.bool_)):
        raise TypeError(f"keep_data must be a bool, got {keep_data!r}")
    asked = "memory" if keep_data else "summary"
    if store != "memory" and store != asked:
        raise ValueError(f"keep_data={keep_data} contradicts store={store!r}; "
                         "keep_data is deprecated: give store only")
    warnings.warn(f"keep_data is deprecated: use store={asked!r} (keep_data="
                  f"{bool(keep_data)} means that)", FutureWarning, stacklevel=5)
    return asked


class MemoryStore:
    """Every row seen, in memory (``store="memory"``)."""

    exact = True

    def __init__(self, n_features, dtype, capacity):
        self.cols = new_columns({_ROWS: ((n_features,), dtype), _IDS: ((), np.int64),
                                 _W: ((), np.float64), _T: ((), np.float64)},
                                max(_MIN_CAPACITY, capacity))
        self.n = 0
        self.members = {}

    def fork(self):
        """A copy for one batch: the columns are shared, the member lists copied."""
        new = object.__new__(type(self))
        vars(new).update(vars(self))
        new.members = {cid: list(parts) for cid, parts in self.members.items()}
        return new

    def _reserve(self, n_rows):
        self.cols = reserve(self.cols, n_rows, self.n)

    def ram_bytes(self):
        """Bytes of the arrays the store holds in RAM."""
        return (sum(a.nbytes for a in self.cols.values())
                + sum(p.nbytes for parts in self.members.values() for p in parts))

    # -------------------------------------------------------------- points
    @property
    def data(self):
        return self.cols[_ROWS]

    def append(self, X, sample_weight, now):
        """Add the batch's rows (past the committed ones); return their indices."""
        start, n = self.n, X.shape[0]
        self._reserve(start + n)
        new = slice(start, start + n)
        self.cols[_ROWS][new] = X
        self.cols[_W][new] = 1.0 if sample_weight is None else sample_weight
        self.cols[_T][new] = now
        self.n = start + n
        return np.arange(start, start + n, dtype=np.intp)

    def effective_weights(self, points, decay, now):
        """Sample weight times decay since arrival."""
        w = self.cols[_W][points]
        if decay < 1:
            w = w * decay ** (now - self.cols[_T][points])
        return w

    def labels(self, row_of_id):
        return row_of_id[self.cols[_IDS][: self.n]]

    # ------------------------------------------------------------- members
    def assign(self, owner, points, cluster_ids, rows):
        """Points ``points`` now belong to clusters ``cluster_ids`` (of cluster rows
        ``rows``): new members, listed by cluster row."""
        _atomic.write(owner, self.cols[_IDS], points, cluster_ids)
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        starts = np.flatnonzero(np.r_[True, sorted_rows[1:] != sorted_rows[:-1]])
        for cid, part in zip(cluster_ids[order][starts], np.split(points[order], starts[1:]),
                             strict=True):
            parts = self.members.setdefault(int(cid), [])
            parts.append(part)
            if len(parts) > _MAX_PARTS:
                # One small array per batch and cluster would cost ~100 bytes each: join
                # them (in order, so the members and every result stay the same).
                self.members[int(cid)] = [np.concatenate(parts)]

    def member_rows(self, cluster_id):
        """The points of a cluster, as one array (the parts are joined once)."""
        parts = self.members.get(cluster_id, [])
        members = np.concatenate(parts) if len(parts) > 1 else (
            parts[0] if parts else np.empty(0, np.intp))
        self.members[cluster_id] = [members]
        return members

    def n_members(self, cluster_id):
        return sum(len(part) for part in self.members.get(cluster_id, []))

    def set_members(self, owner, cluster_id, points):
        """Cluster ``cluster_id`` holds exactly ``points`` (their IDs are written)."""
        _atomic.write(owner, self.cols[_IDS], points, cluster_id)
        self.members[cluster_id] = [points]

    def move_all(self, owner, source_id, target_id):
        """Every point of ``source_id`` joins ``target_id`` (a merge)."""
        moved = self.member_rows(source_id)
        _atomic.write(owner, self.cols[_IDS], moved, target_id)
        self.members.setdefault(target_id, []).append(moved)
        del self.members[source_id]

    def clear_members(self):
        """Forget every membership (refinement reassigns every point)."""
        self.members = {}


class DiskStore(MemoryStore):
    """Every row seen, in memory-mapped files (``store="disk"``).

    The rows, weights and arrival times are appended to files in a scratch
    directory made inside ``parent`` (the system's temporary directory when
    None) and deleted with the last model object that uses it; the member
    lists are segments of another file there (:mod:`dynkm._member_file`).
    RAM holds O(clusters), never O(points seen): three numbers per cluster
    locate its members, and a point's cluster is known from the lists (there
    is no per-point column in RAM). A store opened from a saved model
    (:meth:`from_ref`) maps the saved files read-only and copies them into a
    new scratch directory before its first append, so that a saved model
    stays what it was however many times it is loaded.
    """

    def __init__(self, n_features, dtype, capacity, parent=None):
        self.dir = _ScratchDir(parent)
        self.n_features = n_features
        self.dtype = np.dtype(dtype).str
        self.n = 0
        self.read_only = False
        capacity = max(_MIN_CAPACITY, capacity)
        self.cols = {name: self._map(self.dir.path, name, capacity, "w+") for name in _FILES}
        self.members = MemberFile(self.dir.path, capacity)

    def fork(self):
        """A copy for one batch: the files shared, the segment table copied (O(K))."""
        new = object.__new__(type(self))
        vars(new).update(vars(self))
        new.members = self.members.fork()
        return new

    def ram_bytes(self):
        """Bytes of what the store holds in RAM: the segment table (the files' pages
        are the page cache's)."""
        table = self.members.segments
        return sys.getsizeof(table) + len(table) * (sys.getsizeof((0, 0, 0)) + 3 * 28)

    def _row_shape(self, name):
        return ((self.n_features,), np.dtype(self.dtype)) if name == _ROWS else (
            (), np.dtype(np.float64))

    def _map(self, directory, name, capacity, mode):
        shape, dtype = self._row_shape(name)
        return np.memmap(os.path.join(directory, _FILES[name]), dtype=dtype, mode=mode,
                         shape=(capacity,) + shape)

    def _reserve(self, n_rows):
        if self.read_only:
            self._detach(max(n_rows, 2 * self.n))

        def allocate(name, old, capacity):
            # The file grows (its committed rows stay where they are) and is mapped anew;
            # the old mapping stays valid for the committed store.
            old.flush()
            return self._map(self.dir.path, name, capacity, "r+")

        self.cols = reserve(self.cols, n_rows, self.n, allocate)

    def _detach(self, capacity):
        """Copy the committed rows and member lists of a saved store into a scratch
        directory of our own."""
        scratch = _ScratchDir(self.dir.parent)
        cols = {}
        for name in _FILES:
            new = self._map(scratch.path, name, capacity, "w+")
            step = max(1, (64 << 20) // max(1, new[:1].nbytes))
            for start in range(0, self.n, step):
                stop = min(self.n, start + step)
                new[start:stop] = self.cols[name][start:stop]
            cols[name] = new
        members = self.members.fork()
        members.detach(scratch.path)
        self.dir, self.cols, self.members, self.read_only = scratch, cols, members, False

    # ------------------------------------------------------------- members
    def labels(self, row_of_id):
        return self.members.labels(self.n, row_of_id)

    def assign(self, owner, points, cluster_ids, rows):
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        starts = np.flatnonzero(np.r_[True, sorted_rows[1:] != sorted_rows[:-1]])
        for cid, part in zip(cluster_ids[order][starts], np.split(points[order], starts[1:]),
                             strict=True):
            self.members.append(int(cid), part)

    def member_rows(self, cluster_id):
        return self.members.members(cluster_id)

    def n_members(self, cluster_id):
        return self.members.n_members(cluster_id)

    def set_members(self, owner, cluster_id, points):
        self.members.set(cluster_id, points)

    def move_all(self, owner, source_id, target_id):
        moved = self.members.members(source_id)
        self.members.remove(source_id)
        self.members.append(target_id, moved)

    def clear_members(self):
        self.members.clear()

    # --------------------------------------------------------- persistence
    def flush(self):
        for name in _FILES:
            self.cols[name].flush()
        self.members.flush()

    def copy_files(self, directory):
        """Write the committed rows into ``directory`` (files of exactly ``n`` rows) and
        the member lists (back to back); return the lists' table."""
        os.makedirs(directory)
        for name, file in _FILES.items():
            src = self.cols[name]
            with open(os.path.join(directory, file), "wb") as f:
                step = max(1, (64 << 20) // max(1, src[:1].nbytes))
                for start in range(0, self.n, step):
                    f.write(np.ascontiguousarray(src[start:min(self.n, start + step)]).tobytes())
                f.flush()
                os.fsync(f.fileno())
        return self.members.write(os.path.join(directory, _MEMBERS_FILE))

    def ref(self, directory, table=None):
        """What a saved model holds in place of the store: data, no mapping. ``table``:
        the member lists' (IDs, offsets, lengths) in ``directory``'s members file. None
        (a pickle): the member lists themselves, 8 bytes a point, go into the pickle
        (the live members file may be replaced by a compaction before it is loaded)."""
        data = None
        if table is None:
            table = self.members.table()
            data = np.concatenate([np.empty(0, np.int64)] + [
                self.members.members(int(c)).astype(np.int64) for c in table[0]])
            table = (table[0], np.r_[0, np.cumsum(table[2])[:-1]].astype(np.int64), table[2])
        ref = object.__new__(DiskStoreRef)
        vars(ref).update(directory=directory, n=self.n, n_features=self.n_features,
                         dtype=self.dtype, member_ids=table[0], member_offsets=table[1],
                         member_lengths=table[2], members_file=None if data is not None
                         else _MEMBERS_FILE, member_data=data, parent=self.dir.parent)
        return ref

    @classmethod
    def from_ref(cls, ref, directory):
        """Open the files of a saved store (read-only until the first append)."""
        ids, offsets, lengths = ref.member_ids, ref.member_offsets, ref.member_lengths
        if (type(ref.n) is not int or type(ref.n_features) is not int or ref.n < 0
                or type(ref.dtype) is not str or np.dtype(ref.dtype).kind != "f"
                or (ref.members_file != _MEMBERS_FILE and not (
                    ref.members_file is None and isinstance(ref.member_data, np.ndarray)
                    and ref.member_data.dtype == np.int64 and ref.member_data.ndim == 1))
                or any(not isinstance(a, np.ndarray) or a.dtype != np.int64 or a.ndim != 1
                       or a.shape != ids.shape for a in (ids, offsets, lengths))
                or len(np.unique(ids)) != len(ids) or ref.n_features < 1):
            raise ValueError(f"{directory}: inconsistent disk store description")
        store = object.__new__(cls)
        store.n_features, store.dtype, store.n = ref.n_features, ref.dtype, ref.n
        store.read_only = True
        store.dir = _ScratchDir.existing(directory, ref.parent)
        store.cols = {}
        for name, file in _FILES.items():
            shape, dtype = store._row_shape(name)
            path = os.path.join(directory, file)
            need = ref.n * int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            size = os.path.getsize(path) if os.path.isfile(path) else -1
            if size < need:
                raise ValueError(f"{path}: the disk store of this model needs {need} bytes, "
                                 + ("the file is missing" if size < 0 else f"found {size}"))
            store.cols[name] = (store._map(directory, name, ref.n, "r") if ref.n
                                else np.zeros((0,) + shape, dtype=dtype))
        store.members = MemberFile.opened(
            ref.member_data if ref.members_file is None
            else os.path.join(directory, ref.members_file),
            {int(c): (int(o), int(n)) for c, o, n in zip(ids, offsets, lengths, strict=True)},
            directory)
        if int(lengths.sum()) != ref.n:
            raise ValueError(f"{directory}: the member lists do not hold the {ref.n} points")
        if ref.n == 0:
            store._detach(_MIN_CAPACITY)
        return store


class DiskStoreRef:
    """A disk store as a saved model holds it: where its files are, the name of its
    members file and the table of its member lists (O(clusters) numbers).

    ``directory`` is the path of the files, relative to the model file's
    directory when the model was saved with :meth:`DynamicKMeans.save`.
    """


class _PickledDiskStore(DiskStoreRef):
    """A disk store in a pickle: names the live scratch directory (absolute). Not a
    class a model file may hold, so loading a file never opens an absolute path."""


class _ScratchDir:
    """A directory shared by the forks of one disk store; deleted with the last of them
    when it is a scratch directory of ours."""

    def __init__(self, parent):
        # (A loaded model's store_path may not exist here: then the system's temp dir.)
        self.parent = parent if parent is not None and os.path.isdir(parent) else None
        self.path = tempfile.mkdtemp(prefix="dynkm-store-", dir=self.parent)
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.path, True)

    @classmethod
    def existing(cls, path, parent):
        new = object.__new__(cls)
        new.parent, new.path, new._cleanup = parent, path, None
        return new


# ------------------------------------------------------------- persistence
def save_with_rows(model, path, save):
    """Save a disk-store model: the committed rows into ``<name>.rows-<random>`` beside
    ``path``, then the model file (by ``save()``) naming that directory, then older
    ``<name>.rows-*`` directories of the same name are removed."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    rows_name = f"{base}.rows-{secrets.token_hex(6)}"
    rows_dir = os.path.join(directory, rows_name)
    table = model._points.copy_files(rows_dir)
    token = _SAVING_ROWS_AS.set((rows_name, table))
    try:
        save()
    except BaseException:
        shutil.rmtree(rows_dir, ignore_errors=True)
        raise
    finally:
        _SAVING_ROWS_AS.reset(token)
    for name in os.listdir(directory):
        if name.startswith(f"{base}.rows-") and name != rows_name:
            shutil.rmtree(os.path.join(directory, name), ignore_errors=True)


def saved_ref(store):
    """What a model's state holds in place of its disk store: while being saved by
    :func:`save_with_rows`, a :class:`DiskStoreRef` naming the rows directory
    (relative to the model file); otherwise (a pickle, a deep copy) a reference
    to the live scratch directory."""
    store.flush()
    saving = _SAVING_ROWS_AS.get()
    if saving is None:
        ref = store.ref(store.dir.path)
        ref.__class__ = _PickledDiskStore
        return ref
    return store.ref(*saving)


def open_ref(points, model_path=None):
    """``points``, with a reference to a disk store opened: a pickled one at once, a
    saved one (:class:`DiskStoreRef`) against ``model_path``'s directory."""
    if isinstance(points, _PickledDiskStore):
        return DiskStore.from_ref(points, points.directory)
    if not isinstance(points, DiskStoreRef) or model_path is None:
        return points
    directory = points.directory
    if (not isinstance(directory, str) or os.path.isabs(directory) or os.sep in directory
            or (os.altsep and os.altsep in directory) or directory in ("", ".", "..")):
        raise ValueError(f"{model_path}: invalid disk store directory {directory!r}")
    try:
        return DiskStore.from_ref(
            points, os.path.join(os.path.dirname(os.path.abspath(model_path)), directory))
    except (TypeError, AttributeError, KeyError, OverflowError) as exc:
        raise ValueError(f"{model_path}: invalid disk store description ({exc!r})") from None


class StorePersistMixin:
    """DynamicKMeans' persistence of its store: a disk store's rows stay in files."""

    def save(self, path: str | os.PathLike[str], *, compress: bool = False) -> None:
        """Write the model to ``path`` (see :meth:`dynkm.persist.PersistMixin.save`).

        With ``store="disk"`` the committed rows also go into a directory beside
        the file, ``<name>.rows-<random>``, which the file names (older ones of
        that name are removed): keep the two together. A loaded model maps them
        read-only and copies them to a scratch directory before its first batch.
        """
        from dynkm.persist import save

        if isinstance(getattr(self, "_points", None), DiskStore):
            save_with_rows(self, path, lambda: save(self, path, compress=compress))
        else:
            save(self, path, compress=compress)

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: the base returns __dict__ itself
        if isinstance(state.get("_points"), DiskStore):
            # The rows stay in their files: a saved model names them (beside the model
            # file), a pickle the live scratch directory (same machine, trusted input).
            state["_points"] = saved_ref(state["_points"])
        elif hasattr(state.get("_points"), "saved"):
            # A summary store: its reservoirs without the unused tail of their pool.
            state["_points"] = state["_points"].saved()
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "_points" in vars(self):
            self._points = open_ref(self._points)
            if hasattr(self._points, "restored"):  # a summary store (see __getstate__)
                self._points = self._points.restored()

    def _after_load(self, path):
        """Open a saved disk store, named relative to the model file ``path``."""
        if "_points" in vars(self):
            self._points = open_ref(self._points, path)
