"""Declarative parameter specs: each estimator states its parameters' rules once.

An estimator lists, in a class attribute ``_param_specs``, one spec per
constructor parameter it checks (``Int``, ``Real``, ``Bool``, ``Options``,
``Either``, ``Rule``); ``check_params(estimator)`` applies them all, in the
order they are listed, and returns a read-only ``Params`` of the checked
values, read by attribute (``params.n_clusters``). Rules that relate two
parameters (``min_size <= max_size``) stay in the estimator, after this call.
Errors are those of ``check_int``/``check_float``: a TypeError for a wrong
type and a ValueError for a wrong value, both naming the parameter.

This plays the role of scikit-learn's ``_parameter_constraints`` (whose
module is private); like it, specs are data a test can read, and the checks
run when ``fit`` starts, not in ``__init__`` (scikit-learn's convention).
"""

import numpy as np

from dynkm._validation import INT_MAX, check_float, check_int

__all__ = ["Bool", "Either", "Int", "Options", "Params", "Real", "Rule", "check_params"]


class Spec:
    """One parameter's rule; ``none=True`` also accepts None (returned as is)."""

    none = False

    def __call__(self, value, name):
        if value is None and self.none:
            return None
        return self.check(value, name)

    def check(self, value, name):  # pragma: no cover - every spec defines it
        raise NotImplementedError

    def describe(self):
        """A short text of what the spec accepts (for docs and error messages)."""
        text = self._describe()
        return f"{text} or None" if self.none else text


class Int(Spec):
    """An integer in [low, high] (``high=None``: unbounded; C int by default).

    bools are refused unless ``bools=True`` (for ``verbose``, where True
    means 1, as in scikit-learn).
    """

    def __init__(self, low=1, high=INT_MAX, none=False, bools=False):
        self.low, self.high, self.none, self.bools = low, high, none, bools

    def check(self, value, name):
        if self.bools and isinstance(value, (bool, np.bool_)):
            value = int(value)
        return check_int(value, name, low=self.low, high=self.high)

    def _describe(self):
        # The C-int ceiling is every integer's; only a tighter bound is worth saying.
        high = "" if self.high in (None, INT_MAX) else f" and <= {self.high}"
        return f"an integer >= {self.low}{high}"


class Real(Spec):
    """A finite real number >= low (``exclusive``: > low); ``high``: also <= high."""

    def __init__(self, low=0.0, high=None, none=False, exclusive=False):
        self.low, self.high, self.none, self.exclusive = low, high, none, exclusive

    def check(self, value, name):
        value = check_float(value, name, low=self.low)
        if self.high is not None and (value > self.high or (self.exclusive
                                                            and value == self.low)):
            left = "(" if self.exclusive else "["
            raise ValueError(f"{name} must lie in {left}{self.low:g}, {self.high:g}], "
                             f"got {value}")
        if self.exclusive and value == self.low:
            raise ValueError(f"{name} must be > {self.low:g}, got {value:g}")
        return value

    def _describe(self):
        op = ">" if self.exclusive else ">="
        high = "" if self.high is None else f" and <= {self.high}"
        return f"a real number {op} {self.low}{high}"


class Bool(Spec):
    """A bool (numpy bools accepted, returned as bool)."""

    def __init__(self, none=False):
        self.none = none

    def check(self, value, name):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool, got {value!r}")
        return bool(value)

    def _describe(self):
        return "a bool"


class Options(Spec):
    """One of a fixed set of strings."""

    def __init__(self, *values, none=False):
        self.values, self.none = tuple(values), none

    def check(self, value, name):
        if not isinstance(value, str) or value not in self.values:
            raise ValueError(f"{name} must be one of {self.values}, got {value!r}")
        return value

    def _describe(self):
        return " or ".join(repr(v) for v in self.values)


class Either(Spec):
    """A string option or a value another spec accepts (``n_init``: "auto" or an int).

    Strings go to the options, anything else to ``spec``; the error for a
    string that is not an option names every accepted form.
    """

    def __init__(self, options, spec, none=False):
        self.options, self.spec, self.none = tuple(options), spec, none

    def check(self, value, name):
        if isinstance(value, str):
            if value in self.options:
                return value
            raise ValueError(f"{name} must be {self._describe()}, got {value!r}")
        return self.spec(value, name)

    def _describe(self):
        words = " or ".join(repr(v) for v in self.options)
        return f"{words} or {self.spec.describe()}"


class Rule(Spec):
    """A check written as a function ``check(value, name) -> value`` (kept for rules
    no spec above expresses, e.g. kmcore's ``check_beta``)."""

    def __init__(self, check, text, none=False):
        self._check, self.text, self.none = check, text, none

    def check(self, value, name):
        return self._check(value, name)

    def _describe(self):
        return self.text


class Params:
    """The checked parameters of one call, read by attribute; read-only."""

    __slots__ = ("_values",)

    def __init__(self, values):
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no checked parameter {name!r}") from None

    def __setattr__(self, name, value):
        raise AttributeError("checked parameters are read-only; use replace()")

    def replace(self, **changes):
        """A copy with some values changed (for rules resolved after the checks)."""
        unknown = set(changes) - set(self._values)
        if unknown:
            raise AttributeError(f"no checked parameter(s) {sorted(unknown)}")
        return Params({**self._values, **changes})

    def as_dict(self):
        return dict(self._values)

    def __eq__(self, other):
        return isinstance(other, Params) and self._values == other._values

    __hash__ = None  # type: ignore[assignment]  # equal by value: unhashable

    def __repr__(self):
        inner = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"Params({inner})"


def check_params(estimator, specs=None):
    """Check ``estimator``'s parameters against ``specs`` (default: its ``_param_specs``).

    Returns a ``Params`` of the checked values, one per spec, in the specs'
    order; the first failing parameter raises. The estimator is not changed.
    """
    specs = type(estimator)._param_specs if specs is None else specs
    return Params({name: spec(getattr(estimator, name), name) for name, spec in specs.items()})
