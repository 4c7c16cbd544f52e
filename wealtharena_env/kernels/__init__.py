"""Numba kernels: pure ``@njit(cache=True)`` functions on numpy arrays.

No Python objects, no pandas, no dicts, no globals. Each module states its axis order and units.
"""
