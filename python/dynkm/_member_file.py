"""Per-cluster member lists in a memory-mapped file: the disk store's memberships.

Every cluster's members (the indices of its points, in the order they joined)
are one *segment* of an int64 file: ``(offset, length, capacity)``. RAM holds
only these three numbers per cluster, O(K) whatever the number of points
seen; a split reads its cluster's segment, O(cluster), never the whole stream.

The file is never overwritten where the committed store reads it, so the
copy-on-write rules of :mod:`dynkm._atomic` hold without a journal:

- members joining a cluster go into its segment's spare capacity (past its
  committed length, which the committed store does not read) or, when it is
  full, into a new segment of twice the size past the end of the file's used
  part (the members copied first);
- a split or a cleared membership gives the cluster a new segment; the old one
  becomes garbage;
- when garbage outweighs the live segments, the live ones are copied into a
  new file (a *compaction*: same members, same order) instead of growing the
  old one. A file is deleted when no store object refers to it any more.

A failed batch therefore leaves the committed segments and their contents as
they were; the batch's fork of this object (:meth:`MemberFile.fork`) is
dropped.
"""

import os
import weakref

import numpy as np

from dynkm._grow import reserve

_MIN_SEGMENT = 16
_MIN_ENTRIES = 1 << 12


def _remove_quietly(path):
    try:
        os.remove(path)
    except OSError:
        pass


class _File:
    """One members file of ours; removed with the last store object using it."""

    def __init__(self, path):
        self.path = path
        self._cleanup = weakref.finalize(self, _remove_quietly, path)


def _capacity_for(length):
    """Segment capacity for ``length`` members: a power of two, at least ``_MIN_SEGMENT``."""
    return max(_MIN_SEGMENT, 1 << max(0, int(length) - 1).bit_length())


class MemberFile:
    """The member lists of a disk store: segments of one int64 file.

    Attributes
    ----------
    segments : dict of int to (int, int, int)
        Cluster ID -> ``(offset, length, capacity)`` in entries of the file.
    end : int
        Entries of the file in use (segments, live or garbage, lie below).
    live : int
        Entries of the live segments' capacities (``end - live`` is garbage).
    """

    def __init__(self, directory, capacity=_MIN_ENTRIES, generation=0):
        self.directory = directory
        self.generation = generation
        self.file = _File(os.path.join(directory, f"members-{generation}.bin"))
        self.entries = {"m": self._map(self.file.path, max(_MIN_ENTRIES, capacity), "w+")}
        self.segments = {}
        self.end = 0
        self.live = 0
        self.read_only = False

    @staticmethod
    def _map(path, n, mode):
        return np.memmap(path, dtype=np.int64, mode=mode, shape=(n,))

    @classmethod
    def opened(cls, source, segments, directory):
        """Open a saved members file (path ``source``) read-only, or member lists given
        as an int64 array (a pickle's); ``segments`` maps IDs to (offset, length)
        (their capacity is their length: nothing is ever written there)."""
        if isinstance(source, np.ndarray):
            path, size = "the pickled member lists", source.nbytes
        else:
            path = source
            size = os.path.getsize(path) if os.path.isfile(path) else -1
        n = max(0, size) // 8
        for offset, length in segments.values():
            if offset < 0 or length < 0 or offset + length > n:
                raise ValueError(f"{path}: the member lists of this model need "
                                 f"{8 * (offset + length)} bytes, "
                                 + ("the file is missing" if size < 0 else f"found {size}"))
        new = object.__new__(cls)
        new.directory = directory
        new.generation = 0
        new.file = None  # not ours: a writable copy is made before any write
        if isinstance(source, np.ndarray):
            new.entries = {"m": source}
        else:
            new.entries = {"m": cls._map(path, n, "r") if n else np.zeros(0, np.int64)}
        new.segments = {cid: (off, ln, ln) for cid, (off, ln) in segments.items()}
        new.end = n
        new.live = sum(ln for _, ln in segments.values())
        new.read_only = True
        return new

    def fork(self):
        """A copy for one batch: the file shared, the segment table copied (O(K))."""
        new = object.__new__(type(self))
        vars(new).update(vars(self))
        new.segments = dict(self.segments)
        return new

    # -------------------------------------------------------------- reading
    def members(self, cluster_id):
        """The members of a cluster (a copy in RAM, O(cluster))."""
        offset, length, _ = self.segments.get(cluster_id, (0, 0, 0))
        return np.array(self.entries["m"][offset:offset + length], dtype=np.intp)

    def n_members(self, cluster_id):
        return self.segments.get(cluster_id, (0, 0, 0))[1]

    def labels(self, n, row_of_id):
        """Cluster row of each of the ``n`` points."""
        labels = np.full(n, -1, dtype=np.intp)
        m = self.entries["m"]
        for cid, (offset, length, _) in self.segments.items():
            labels[m[offset:offset + length]] = row_of_id[cid]
        return labels

    # -------------------------------------------------------------- writing
    def append(self, cluster_id, points):
        """``points`` join cluster ``cluster_id`` (after its members)."""
        offset, length, capacity = self.segments.get(cluster_id, (0, 0, 0))
        if length + len(points) > capacity:
            old = self.members(cluster_id)
            self._release(cluster_id)
            offset, capacity = self._allocate(length + len(points))
            self.entries["m"][offset:offset + length] = old
        self.entries["m"][offset + length:offset + length + len(points)] = points
        self.segments[cluster_id] = (offset, length + len(points), capacity)

    def set(self, cluster_id, points):
        """Cluster ``cluster_id`` holds exactly ``points`` (a new segment)."""
        self._release(cluster_id)
        offset, capacity = self._allocate(len(points))
        self.entries["m"][offset:offset + len(points)] = points
        self.segments[cluster_id] = (offset, len(points), capacity)

    def remove(self, cluster_id):
        self._release(cluster_id)

    def clear(self):
        self.segments = {}
        self.live = 0

    def _release(self, cluster_id):
        segment = self.segments.pop(cluster_id, None)
        if segment is not None:
            self.live -= segment[2]

    def _allocate(self, length):
        """A new segment for ``length`` members past the used end: (offset, capacity)."""
        if self.read_only:
            raise RuntimeError("a saved store's member lists are read-only (detach first)")
        capacity = _capacity_for(length)
        size = self.entries["m"].shape[0]
        if self.end + capacity > size:
            if self.end - self.live > self.live + capacity:
                self._compact_into(self.directory, capacity)
            else:
                self.entries["m"].flush()
                # The file grows; the old mapping stays valid for the committed store.
                self.entries = reserve(self.entries, self.end + capacity, self.end,
                                       lambda _, old, n: self._map(self.file.path, n, "r+"))
        offset = self.end
        self.end += capacity
        self.live += capacity
        return offset, capacity

    def _compact_into(self, directory, extra):
        """Copy the live segments, in table order, into a new file of ``directory``
        with room for ``extra`` more entries (and as many again)."""
        source = self.entries["m"]
        table, end = {}, 0
        for cid, (_, length, capacity) in self.segments.items():
            # (A saved store's segments have no spare capacity: give them some.)
            table[cid] = (end, length, max(capacity, _capacity_for(length)))
            end += table[cid][2]
        generation = self.generation + 1
        path = os.path.join(directory, f"members-{generation}.bin")
        new_file = _File(path)
        new = self._map(path, max(_MIN_ENTRIES, 2 * (end + extra)), "w+")
        for cid, (offset, length, _) in self.segments.items():
            new[table[cid][0]:table[cid][0] + length] = source[offset:offset + length]
        self.directory, self.generation, self.file = directory, generation, new_file
        self.entries, self.segments, self.end, self.live = {"m": new}, table, end, end
        self.read_only = False

    def detach(self, directory):
        """Copy the member lists into a new file of ``directory`` (writable)."""
        self._compact_into(directory, 0)

    # ---------------------------------------------------------- persistence
    def flush(self):
        if isinstance(self.entries["m"], np.memmap):
            self.entries["m"].flush()

    def write(self, path):
        """Write the member lists to ``path`` back to back; return their table as
        arrays (IDs, offsets, lengths)."""
        ids = np.fromiter(self.segments, dtype=np.int64, count=len(self.segments))
        lengths = np.array([self.segments[c][1] for c in ids], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        m = self.entries["m"]
        with open(path, "wb") as f:
            for cid in ids:
                offset, length, _ = self.segments[int(cid)]
                f.write(np.ascontiguousarray(m[offset:offset + length]).tobytes())
            f.flush()
            os.fsync(f.fileno())
        return ids, offsets, lengths

    def table(self):
        """The segment table as arrays (IDs, offsets, lengths), for a pickle."""
        ids = np.fromiter(self.segments, dtype=np.int64, count=len(self.segments))
        seg = np.array([self.segments[c][:2] for c in ids], dtype=np.int64).reshape(-1, 2)
        return ids, seg[:, 0].copy(), seg[:, 1].copy()
