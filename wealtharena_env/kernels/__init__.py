"""Numba kernels: pure ``@njit(cache=True)`` functions on numpy arrays.

No Python objects, no pandas, no dicts, no globals. Each module states its axis order and units.

Numba's on-disk cache lives in a per-user directory chosen by :mod:`wealtharena_env` at import (never inside
the installed package), one sub-directory per digest of the kernels' sources, so machine code compiled from
another version of any kernel file is never reused and nothing is ever deleted.
"""

from __future__ import annotations

from typing import Any

#: Compile options of the kernels on the per-step path (market, execution, risk, reward, features, step).
#: ``_nrt=False`` compiles them without Numba's reference counting. They never allocate or return arrays;
#: with reference counting, every view they take (an agent's row of a state array) costs an atomic
#: increment and decrement of its parent array's counter: measured at about 40 % of a 1-asset step, and a
#: cache line that every thread of the ``prange`` driver writes, since all environments' views share it.
STEP_KERNEL_OPTIONS: dict[str, Any] = {"cache": True, "error_model": "numpy", "_nrt": False}
