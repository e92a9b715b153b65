"""Fitted attributes renamed so that one concept has one name across dynkm.

A class lists its renames in ``_renamed_attributes`` (old name -> new name).
Reading an old name still works, with a FutureWarning that says the new one;
files and pickles saved with an old name load under the new one. The old
names go two minor versions after the rename.
"""

import warnings

__all__ = ["RenamedAttributes"]


class RenamedAttributes:
    """Old attribute names as deprecated aliases of the new ones (see the module)."""

    _renamed_attributes: dict[str, str] = {}

    def __getattr__(self, name):
        # Only called when the normal lookup fails, so the new names cost nothing.
        new = type(self)._renamed_attributes.get(name)
        if new is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        warnings.warn(f"{type(self).__name__}.{name} is deprecated since dynkm 0.1 and will "
                      f"be removed in 0.3; use {new} (the same values)", FutureWarning,
                      stacklevel=2)
        return getattr(self, new)

    def __setstate__(self, state):
        state = dict(state)
        for old, new in type(self)._renamed_attributes.items():
            if old in state and new not in state:
                state[new] = state.pop(old)
        super().__setstate__(state)
