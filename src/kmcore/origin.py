"""Where the distance kernels compute: around a nearby origin when the data sit far from 0.

Public for drivers that compute distances of their own next to kmcore's and
must use the same rule (see ``kmcore._origin``, which the kernels import, for
the rule and its reason; this module is its public name).
"""

from kmcore._origin import data_origin, shifted

__all__ = ["data_origin", "shifted"]
