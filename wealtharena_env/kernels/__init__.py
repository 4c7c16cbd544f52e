"""Numba kernels: pure ``@njit(cache=True)`` functions on numpy arrays.

No Python objects, no pandas, no dicts, no globals. Each module states its axis order and units.

Numba's on-disk cache lives in a per-user directory chosen by :mod:`wealtharena_env` at import (never inside
the installed package), one sub-directory per digest of the kernels' sources, so machine code compiled from
another version of any kernel file is never reused and nothing is ever deleted.
"""

from __future__ import annotations

import os
from typing import Any

#: Compile options of the kernels on the per-step path (market, execution, risk, reward, features, step).
#: ``_nrt=False`` compiles them without Numba's reference counting. They never allocate or return arrays;
#: with reference counting, every view they take (an agent's row of a state array) costs an atomic
#: increment and decrement of its parent array's counter, and a cache line that every thread of the
#: ``prange`` driver writes, since all environments' views share it. ``_nrt`` is an option Numba does not
#: document: this dict is its one place, ``tests/test_kernel_options.py`` checks every step kernel carries
#: it, and ``benchmarks/bench_step.py`` measures what it buys (the step kernel 1.8-2.7x faster per 1 x 1
#: environment, 1.2-1.5x per 5 x 30 one, on the machine of docs/benchmarks.md).
STEP_KERNEL_OPTIONS: dict[str, Any] = {"cache": True, "error_model": "numpy", "_nrt": False}

#: ``WEALTHARENA_REFCOUNTED_KERNELS=1`` in the environment (read at import) compiles the step path with
#: Numba's reference counting, as a plain ``@njit`` would: for the benchmark that shows what ``_nrt=False``
#: saves, or to rule the option out when debugging. It is part of the kernels' cache digest, and under a set
#: ``NUMBA_CACHE_DIR`` the build caches in a sub-directory of it (``wealtharena_env._numba_cache``), so the
#: two builds never share a cache directory.
REFCOUNTED_KERNELS = os.environ.get("WEALTHARENA_REFCOUNTED_KERNELS") == "1"
if REFCOUNTED_KERNELS:
    del STEP_KERNEL_OPTIONS["_nrt"]
