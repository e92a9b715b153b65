"""Input checks of the kernels, public for callers that check their data once.

A driver that validates its arrays with these, then calls the kernels in a
loop with ``check_input=False``, gets the same errors (naming the argument
and the first bad row) as a direct kernel call, paid once instead of at
every call. The functions live in ``kmcore._validation``, which the kernels
import; this module is their public name.
"""

from kmcore._validation import (
    assert_finite,
    check_centers,
    check_data,
    check_int,
    check_n_clusters,
    check_positive_int,
    check_random_state,
    check_sample_weight,
    check_sqnorms,
    check_vector,
)

__all__ = [
    "assert_finite",
    "check_centers",
    "check_data",
    "check_int",
    "check_n_clusters",
    "check_positive_int",
    "check_random_state",
    "check_sample_weight",
    "check_sqnorms",
    "check_vector",
]
