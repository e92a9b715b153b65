"""The dynkm model format's tree: estimator state <-> JSON metadata + named arrays.

:class:`Encoder` walks an estimator's state (what its ``__getstate__``
returns, i.e. ``vars(estimator)`` unless the class leaves views out) and
:class:`Decoder` rebuilds it, checking every node. Each value is a JSON node:
``null``, booleans, ints, finite floats and strings stand for themselves; every
other value is an object ``{"type": ..., ...}``:

- ``float`` (non-finite Python float, its 8 bytes), ``scalar`` (numpy scalar:
  dtype and bytes), ``dtype``, ``scalar_type`` (e.g. ``np.float32``),
  ``pytype`` (``float``, ``int``, ``bool``, ``complex``, ``str``);
- ``list``, ``tuple``, ``dict`` (``items``: [key, value] pairs, keys of any
  supported type), ``object_array`` (items in C order);
- ``ndarray``: dtype, shape and the zip ``member`` holding it; arrays up to
  64 KiB share one member per dtype (a "pool") at an ``offset``, in the order
  they are written, so the nodes must tile every member exactly;
- ``random_state`` (a RandomState by its ``get_state()``), ``object`` (a
  helper class named in :func:`internal_classes`, by its ``vars``);
- ``ref``: the object of an earlier node carrying the same ``id`` (objects
  shared between attributes stay shared; cycles are refused).
"""

import json
import math
import struct
import zipfile
import zlib

import numpy as np

from kmcore import __version__

FORMAT_NAME = "dynkm-model"
# Version of the file layout (containers and node types). A reader refuses
# files of a newer version rather than guess at them.
FORMAT_VERSION = 1
META = "metadata"
META_KEYS = {"format", "format_version", "dynkm_version", "numpy_version", "class",
             "state_version", "params", "state", "members"}
# Arrays up to this size share one member per dtype ("pool"): a streaming
# model holds thousands of small index arrays, and a zip member costs ~200 bytes.
_POOL_BYTES = 1 << 16
# Array kinds stored as arrays: bool, integers, floats, complex, bytes, unicode.
_ARRAY_KINDS = "biufcSU"
# What zipfile, zlib and numpy raise on a damaged archive (besides ValueError).
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, KeyError, OSError, NotImplementedError,
              struct.error, UnicodeDecodeError, OverflowError)
_BUILTIN_TYPES = {"bool": bool, "int": int, "float": float, "complex": complex, "str": str}


# The classes a file may name: filled by the package (dynkm/__init__.py), which
# sits above the estimators, so that this format layer imports none of them.
_ESTIMATORS: dict[str, tuple[type, int]] = {}
_INTERNAL: dict[str, type] = {}


def register_estimator(cls, state_version):
    """Let files hold ``cls`` (by its name), whose state layout is ``state_version``.

    Bump a class's number when its fitted attributes change in a way an older
    file cannot be read into; files of another number then raise clearly.
    """
    _ESTIMATORS[cls.__name__] = (cls, int(state_version))


def register_internal(cls):
    """Let an estimator's state hold objects of ``cls`` (saved as their ``vars``)."""
    _INTERNAL[f"{cls.__module__}.{cls.__name__}"] = cls


def estimator_classes():
    """The estimators a file may hold, by name, with the version of their state layout."""
    return dict(_ESTIMATORS)


def internal_classes():
    """Helper objects an estimator's state may hold: saved as their ``vars``."""
    return dict(_INTERNAL)


class Encoder:
    """Turns an estimator's state into a JSON tree plus named arrays."""

    def __init__(self):
        self.arrays = {}
        self.pools = {}      # dtype string -> [member name, parts, total size]
        self.memo = {}       # id -> (object, node): shared objects become references
        self.n_refs = 0
        self.active = set()  # ids on the current path: a cycle cannot be stored
        self.seen_arrays = []
        self.internal = {cls: name for name, cls in internal_classes().items()}

    def estimator(self, est):
        cls_name = type(est).__name__
        known = estimator_classes()
        if known.get(cls_name, (None,))[0] is not type(est):
            raise TypeError(f"cannot save a {type(est).__module__}.{type(est).__qualname__}: "
                            f"the dynkm format holds only {', '.join(sorted(known))}")
        self.cls_name = cls_name
        params = est.get_params(deep=False)
        state = dict(est.__getstate__())
        meta_params = {name: self.encode(value, name, "parameter")
                       for name, value in params.items()}
        meta_state = {name: self.encode(value, name, "attribute")
                      for name, value in state.items() if name not in params}
        self._check_no_views()
        for name, parts, _ in self.pools.values():
            self.arrays[name] = np.concatenate(parts) if len(parts) > 1 else parts[0]
        meta = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "dynkm_version": __version__,
            "numpy_version": np.__version__,
            "class": cls_name,
            "state_version": known[cls_name][1],
            "params": meta_params,
            "state": meta_state,
            "members": {name: {"dtype": a.dtype.str, "shape": list(a.shape)}
                        for name, a in self.arrays.items()},
        }
        return meta, self.arrays

    def fail(self, where, kind, what):
        raise ValueError(
            f"cannot save {self.cls_name}: {kind} {where} is {what}; the dynkm format stores "
            "arrays (numeric, bool, str), numbers, strings, None, lists, tuples, dicts and "
            "RandomState objects. Pickle such a model instead (joblib; trusted input only)."
        )

    def encode(self, obj, where, kind):
        if isinstance(obj, np.generic):
            return self._scalar(obj, where, kind)
        t = type(obj)
        if obj is None or t in (bool, int, str):
            return obj
        if t is float:
            return obj if math.isfinite(obj) else {"type": "float",
                                                    "bits": struct.pack(">d", obj).hex()}
        if isinstance(obj, np.dtype):
            return {"type": "dtype", "dtype": self._dtype(obj, where, kind)}
        if t is type:
            return self._type(obj, where, kind)
        if t not in (tuple, list, dict, np.ndarray, np.memmap, np.random.RandomState) and (
                t not in self.internal):
            what = f"a callable ({obj!r})" if callable(obj) else (
                f"a {t.__module__}.{t.__qualname__}")
            self.fail(where, kind, what)
        if id(obj) in self.active:
            self.fail(where, kind, "part of itself (a cycle)")
        if t is not tuple and id(obj) in self.memo:
            node = self.memo[id(obj)][1]
            if "id" not in node:
                node["id"] = self.n_refs
                self.n_refs += 1
            return {"type": "ref", "id": node["id"]}
        self.active.add(id(obj))
        try:
            node = self._container(obj, t, where, kind)
        finally:
            self.active.discard(id(obj))
        if t is not tuple:
            self.memo[id(obj)] = (obj, node)
        return node

    def _container(self, obj, t, where, kind):
        if t in (tuple, list):
            return {"type": t.__name__, "items": [self.encode(v, f"{where}[{i}]", kind)
                                                  for i, v in enumerate(obj)]}
        if t is dict:
            return {"type": "dict", "items": [
                [self.encode(k, f"{where} (a key)", kind), self.encode(v, f"{where}[{k!r}]", kind)]
                for k, v in obj.items()]}
        if t is np.random.RandomState:
            return {"type": "random_state", "state": self.encode(obj.get_state(), where, kind)}
        if t in (np.ndarray, np.memmap):
            return self._array(np.asarray(obj), where, kind)
        return {"type": "object", "class": self.internal[t],
                "attrs": {a: self.encode(v, f"{where}.{a}", kind) for a, v in vars(obj).items()}}

    def _dtype(self, dtype, where, kind):
        if dtype.kind not in _ARRAY_KINDS or dtype.fields is not None or dtype.subdtype:
            self.fail(where, kind, f"of dtype {dtype}")
        return dtype.str

    def _scalar(self, obj, where, kind):
        dtype = obj.dtype
        data = obj.tobytes()[:dtype.itemsize]  # a numpy str_ of length 0 gives 4 bytes
        return {"type": "scalar", "dtype": self._dtype(dtype, where, kind), "bytes": data.hex()}

    def _type(self, obj, where, kind):
        for name, builtin in _BUILTIN_TYPES.items():
            if obj is builtin:
                return {"type": "pytype", "name": name}
        if issubclass(obj, np.generic):
            try:
                dtype = np.dtype(obj)
            except TypeError:
                dtype = None
            if dtype is not None and dtype.type is obj:
                return {"type": "scalar_type", "dtype": self._dtype(dtype, where, kind)}
        self.fail(where, kind, f"the type {obj!r}")

    def _array(self, a, where, kind):
        if a.dtype.kind == "O":
            # Object arrays (feature names, labels) are stored item by item in the JSON.
            return {"type": "object_array", "shape": list(a.shape),
                    "items": [self.encode(v, f"{where}[{i}]", kind)
                              for i, v in enumerate(a.ravel(order="C"))]}
        dtype = self._dtype(a.dtype, where, kind)
        node = {"type": "ndarray", "dtype": dtype, "shape": list(a.shape)}
        self.seen_arrays.append((a, where))
        fortran = a.ndim > 1 and a.flags.f_contiguous and not a.flags.c_contiguous
        if a.nbytes <= _POOL_BYTES and not fortran:
            pool = self.pools.setdefault(dtype, [f"p{len(self.pools)}", [], 0])
            node.update(member=pool[0], offset=pool[2])
            pool[1].append(a.ravel(order="C"))
            pool[2] += a.size
        else:
            node["member"] = f"a{len(self.arrays)}"
            self.arrays[node["member"]] = a
        return node

    def _check_no_views(self):
        """Refuse distinct arrays that share memory: they would load as independent copies."""
        groups = {}
        for a, where in self.seen_arrays:
            root = a
            while isinstance(root, np.ndarray) and root.base is not None:
                root = root.base  # an array, or the buffer (bytes, mmap) under the last one
            if a.size:
                groups.setdefault(id(root), []).append((*_byte_bounds(a), a, where))
        for group in groups.values():
            active = []
            for low, high, a, where in sorted(group, key=lambda g: g[0]):
                active = [g for g in active if g[1] > low]
                for _, _, b, other in active:
                    if np.shares_memory(a, b):
                        raise ValueError(
                            f"cannot save {self.cls_name}: attributes {other} and {where} share "
                            "memory (views of one array) and would load as independent copies; "
                            "the class must leave the views out of __getstate__ and rebuild them "
                            "in __setstate__"
                        )
                active.append((low, high, a, where))


def _byte_bounds(a):
    """First and one-past-last byte addresses that array ``a`` can touch."""
    low = high = a.__array_interface__["data"][0]
    for n, stride in zip(a.shape, a.strides, strict=True):
        low += min(0, (n - 1) * stride)
        high += max(0, (n - 1) * stride)
    return low, high + a.itemsize


class InvalidFile(ValueError):
    """What a damaged or foreign file raises (a ValueError naming the path)."""


class Decoder:
    """Rebuilds an estimator from a checked metadata tree and the file's arrays."""

    def __init__(self, path, npz):
        self.path = path
        self.npz = npz
        self.refs = {}
        self.arrays = {}
        self.used = {}  # member -> elements read so far: the nodes must tile the members

    def fail(self, where, msg):
        raise InvalidFile(f"{self.path}: {where}: {msg}")

    def estimator(self, expected):
        meta = self._metadata()
        cls, params = self._check_header(meta, expected)
        self.members = self._members(meta["members"])
        try:
            est = self._build(cls, params, meta["state"])
        except RecursionError:
            self.fail(META, "nested too deeply")
        for name, (_, shape) in self.members.items():
            if self.used.get(name, 0) != math.prod(shape):
                self.fail(f"member {name}", f"{self.used.get(name, 0)} of its "
                          f"{math.prod(shape)} elements are used (the shapes do not add up)")
        return est

    def _metadata(self):
        if META not in self.npz.files:
            self.fail("not a dynkm model file", f"no {META!r} member (members: "
                      f"{', '.join(self.npz.files[:5]) or 'none'})")
        raw = self._read(META, ("|u1", None))
        if raw.ndim != 1:
            self.fail(META, f"expected a 1-D uint8 array, got shape {raw.shape}")
        try:
            meta = json.loads(raw.tobytes().decode("utf-8"), object_pairs_hook=_unique_keys,
                              parse_constant=_no_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            self.fail(META, f"not valid JSON ({exc})")
        if not isinstance(meta, dict):
            self.fail(META, "not a JSON object")
        return meta

    def _check_header(self, meta, expected):
        if meta.get("format") != FORMAT_NAME:
            self.fail("not a dynkm model file", f"format is {meta.get('format')!r}, "
                      f"expected {FORMAT_NAME!r}")
        version, written_by = meta.get("format_version"), meta.get("dynkm_version")
        if type(version) is not int or version < 1:
            self.fail(META, f"invalid format_version {version!r}")
        if version > FORMAT_VERSION:
            self.fail(META, f"written by a newer dynkm ({written_by!r}, file format version "
                      f"{version}); this dynkm ({__version__}) reads format versions up "
                      f"to {FORMAT_VERSION}: upgrade dynkm to load it")
        missing, extra = META_KEYS - set(meta), set(meta) - META_KEYS
        if missing or extra:
            self.fail(META, f"missing keys {sorted(missing)}, unknown keys {sorted(extra)}")
        known = estimator_classes()
        if type(meta["class"]) is not str or meta["class"] not in known:
            self.fail(META, f"unknown estimator class {meta['class']!r} (known: "
                      f"{', '.join(sorted(known))})")
        cls, state_version = known[meta["class"]]
        if expected is not None and not issubclass(cls, expected):
            raise TypeError(f"{self.path} holds a {cls.__name__}, not a {expected.__name__}; "
                            "dynkm.load(path) returns whichever model a file holds")
        if type(meta["state_version"]) is not int or meta["state_version"] != state_version:
            newer = type(meta["state_version"]) is int and meta["state_version"] > state_version
            self.fail(META, f"{cls.__name__} state version {meta['state_version']!r}, this "
                      f"dynkm reads {state_version}" + (
                          f": written by a newer dynkm ({written_by!r})" if newer else ""))
        for key in ("params", "state", "members"):
            if not isinstance(meta[key], dict):
                self.fail(META, f"{key!r} is not a JSON object")
        params, names = meta["params"], set(cls._get_param_names())
        if set(params) != names:
            self.fail("params", f"unknown {sorted(set(params) - names)}, missing "
                      f"{sorted(names - set(params))} for {cls.__name__}")
        return cls, params

    def _members(self, table):
        files = set(self.npz.files) - {META}
        if set(table) != files:
            self.fail(META, f"members listed {sorted(table)[:5]} do not match the file's "
                      f"{sorted(files)[:5]}")
        checked = {}
        for name, spec in table.items():
            if not isinstance(spec, dict) or set(spec) != {"dtype", "shape"}:
                self.fail(f"member {name}", "invalid description")
            checked[name] = (self._dtype(spec["dtype"], f"member {name}").str,
                             self._shape(spec["shape"], f"member {name}"))
        return checked

    def _build(self, cls, params, state):
        est = cls()
        est.set_params(**{name: self.decode(node, f"parameter {name}")
                          for name, node in params.items()})
        values = {}
        for name, node in state.items():
            if not name.isidentifier() or name.startswith("__") or name in params:
                self.fail("state", f"invalid attribute name {name!r}")
            values[name] = self.decode(node, f"attribute {name}")
        try:
            est.__setstate__(values)
        except (AttributeError, TypeError, ValueError, IndexError, KeyError) as exc:
            self.fail("state", f"inconsistent {cls.__name__} state ({exc!r})")
        return est

    # ----------------------------------------------------------- reading arrays
    def _read(self, name, spec):
        """Member ``name`` after checking its header against ``spec`` (before allocating)."""
        try:
            info = self.npz.zip.getinfo(name + ".npy")
            with self.npz.zip.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(f)
                elif version == (2, 0):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(f)
                else:
                    self.fail(f"member {name}", f"unsupported .npy version {version}")
                header = f.tell()
            if dtype.str != spec[0] or spec[1] not in (None, shape):
                self.fail(f"member {name}", f"holds {dtype.str} {shape}, the metadata says "
                          f"{spec[0]} {spec[1]}")
            if info.file_size != header + math.prod(shape) * dtype.itemsize:
                self.fail(f"member {name}", "size does not match its header (truncated?)")
            return self.npz[name]
        except InvalidFile:
            raise
        except (ValueError, *ZIP_ERRORS) as exc:
            self.fail(f"member {name}", f"unreadable ({exc!r})")

    def _member(self, name, where):
        if not isinstance(name, str) or name not in self.members:
            self.fail(where, f"unknown member {name!r}")
        if name not in self.arrays:
            self.arrays[name] = self._read(name, self.members[name])
        return self.arrays[name]

    # ------------------------------------------------------------- the tree
    def decode(self, node, where):
        if node is None or type(node) in (bool, int, str):
            return node
        if type(node) is float:
            if not math.isfinite(node):
                self.fail(where, "non-finite number outside a float node")
            return node
        if type(node) is not dict or not isinstance(node.get("type"), str):
            self.fail(where, f"invalid node {_short(node)}")
        method = getattr(self, "_node_" + node["type"], None)
        if method is None:
            self.fail(where, f"unknown node type {node['type']!r}")
        obj = method(node, where)
        if "id" in node and node["type"] != "ref":
            if type(node["id"]) is not int or node["id"] in self.refs:
                self.fail(where, f"invalid id {node['id']!r}")
            self.refs[node["id"]] = obj
        return obj

    def _fields(self, node, where, *names, shareable=True):
        allowed = {"type", *names} | ({"id"} if shareable else set())
        if not {"type", *names} <= set(node) <= allowed:
            self.fail(where, f"{node['type']} node needs keys {sorted(names)}, has "
                      f"{sorted(set(node) - {'type'})}")

    def _items(self, node, where):
        items = node["items"]
        if type(items) is not list:
            self.fail(where, "items is not a list")
        return items

    def _node_ref(self, node, where):
        self._fields(node, where, "id", shareable=False)
        if type(node["id"]) is not int or node["id"] not in self.refs:
            self.fail(where, f"reference to an unknown object {node['id']!r}")
        return self.refs[node["id"]]

    def _node_float(self, node, where):
        self._fields(node, where, "bits", shareable=False)
        data = self._hex(node["bits"], where)
        if len(data) != 8:
            self.fail(where, "a float needs 8 bytes")
        return struct.unpack(">d", data)[0]

    def _node_scalar(self, node, where):
        self._fields(node, where, "dtype", "bytes", shareable=False)
        dtype = self._dtype(node["dtype"], where)
        data = self._hex(node["bytes"], where)
        if len(data) != dtype.itemsize:
            self.fail(where, f"{dtype} needs {dtype.itemsize} bytes, got {len(data)}")
        return np.ndarray((), dtype=dtype, buffer=data)[()]

    def _node_dtype(self, node, where):
        self._fields(node, where, "dtype", shareable=False)
        return self._dtype(node["dtype"], where)

    def _node_scalar_type(self, node, where):
        return self._node_dtype(node, where).type

    def _node_pytype(self, node, where):
        self._fields(node, where, "name", shareable=False)
        if node["name"] not in _BUILTIN_TYPES:
            self.fail(where, f"unknown type {node['name']!r}")
        return _BUILTIN_TYPES[node["name"]]

    def _node_tuple(self, node, where):
        self._fields(node, where, "items", shareable=False)
        return tuple(self.decode(v, f"{where}[{i}]")
                     for i, v in enumerate(self._items(node, where)))

    def _node_list(self, node, where):
        self._fields(node, where, "items")
        return [self.decode(v, f"{where}[{i}]") for i, v in enumerate(self._items(node, where))]

    def _node_dict(self, node, where):
        self._fields(node, where, "items")
        out = {}
        for pair in self._items(node, where):
            if type(pair) is not list or len(pair) != 2:
                self.fail(where, "dict items must be [key, value] pairs")
            key = self.decode(pair[0], f"{where} (a key)")
            try:
                hash(key)
            except TypeError:
                self.fail(where, f"unhashable key {_short(pair[0])}")
            if key in out:
                self.fail(where, f"duplicate key {_short(key)}")
            out[key] = self.decode(pair[1], f"{where}[{key!r}]")
        return out

    def _node_random_state(self, node, where):
        self._fields(node, where, "state")
        state = self.decode(node["state"], where)
        rng = np.random.RandomState()
        try:
            if type(state) is not tuple or len(state) != 5 or state[0] != "MT19937":
                raise ValueError("not an MT19937 state")
            keys = state[1]
            if not isinstance(keys, np.ndarray) or keys.dtype != np.uint32 or keys.shape != (624,):
                raise ValueError("the key must be 624 uint32")
            rng.set_state(state)
        except (ValueError, TypeError, IndexError, OverflowError) as exc:
            self.fail(where, f"invalid RandomState state ({exc})")
        return rng

    def _node_object(self, node, where):
        self._fields(node, where, "class", "attrs")
        cls = internal_classes().get(node["class"]) if type(node["class"]) is str else None
        if cls is None:
            self.fail(where, f"unknown object class {node['class']!r}")
        if type(node["attrs"]) is not dict:
            self.fail(where, "attrs is not a JSON object")
        obj = cls.__new__(cls)
        for name, value in node["attrs"].items():
            if not name.isidentifier() or name.startswith("__"):
                self.fail(where, f"invalid attribute name {name!r}")
            vars(obj)[name] = self.decode(value, f"{where}.{name}")
        return obj

    def _node_object_array(self, node, where):
        self._fields(node, where, "shape", "items")
        shape = self._shape(node["shape"], where)
        items = self._items(node, where)
        if len(items) != math.prod(shape):
            self.fail(where, f"{len(items)} items for shape {shape}")
        flat = np.empty(len(items), dtype=object)
        for i, v in enumerate(items):
            flat[i] = self.decode(v, f"{where}[{i}]")
        return flat.reshape(shape)

    def _node_ndarray(self, node, where):
        pooled = "offset" in node
        self._fields(node, where, "dtype", "shape", "member", *(("offset",) if pooled else ()))
        dtype = self._dtype(node["dtype"], where)
        shape = self._shape(node["shape"], where)
        name = node["member"]
        a = self._member(name, where)
        used = self.used.get(name, 0)
        if not pooled:
            if a.dtype != dtype or a.shape != shape or used:
                self.fail(where, f"member {name} holds {a.dtype.str} {a.shape}, expected "
                          f"{dtype.str} {shape}" + (" (and is used twice)" if used else ""))
            self.used[name] = a.size
            return a
        start, size = node["offset"], math.prod(shape)
        if a.ndim != 1 or a.dtype != dtype:
            self.fail(where, f"member {name} is not a pool of {dtype.str}")
        if type(start) is not int or start + size > a.shape[0]:
            self.fail(where, f"offset {start!r} + {size} outside member {name}")
        if start != used:
            # Arrays are read in the order they were written, each right after the last.
            self.fail(where, f"offset {start} in member {name}, expected {used} (the shapes "
                      "do not add up)")
        self.used[name] = used + size
        return a[start:start + size].reshape(shape).copy()

    # ------------------------------------------------------------- leaves
    def _dtype(self, value, where):
        try:
            dtype = np.dtype(value) if isinstance(value, str) else None
        except TypeError:
            dtype = None
        if (dtype is None or dtype.str != value or dtype.kind not in _ARRAY_KINDS
                or dtype.fields is not None or dtype.subdtype is not None):
            self.fail(where, f"invalid dtype {_short(value)}")
        return dtype

    def _shape(self, value, where):
        if type(value) is not list or not all(type(n) is int and n >= 0 for n in value):
            self.fail(where, f"invalid shape {_short(value)}")
        return tuple(value)

    def _hex(self, value, where):
        try:
            return bytes.fromhex(value)
        except (TypeError, ValueError):
            self.fail(where, f"invalid hex bytes {_short(value)}")


def _unique_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate keys in a JSON object: {sorted(keys)[:5]}")
    return dict(pairs)


def _no_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
