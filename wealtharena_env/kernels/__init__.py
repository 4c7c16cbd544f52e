"""Numba kernels: pure ``@njit(cache=True)`` functions on numpy arrays.

No Python objects, no pandas, no dicts, no globals. Each module states its axis order and units.

Numba's on-disk cache is keyed by each function's own source file, so a kernel compiled against an older
version of a kernel in *another* file could be reused. To rule that out, importing this package stamps the
cache with a digest of every kernel source file and drops the cached machine code when the digest changed.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

#: Compile options of the kernels on the per-step path (market, execution, risk, reward, features, step).
#: ``_nrt=False`` compiles them without Numba's reference counting. They never allocate or return arrays;
#: with reference counting, every view they take (an agent's row of a state array) costs an atomic
#: increment and decrement of its parent array's counter: measured at about 40 % of a 1-asset step, and a
#: cache line that every thread of the ``prange`` driver writes, since all environments' views share it.
STEP_KERNEL_OPTIONS: dict[str, Any] = {"cache": True, "error_model": "numpy", "_nrt": False}


def _invalidate_stale_numba_cache() -> None:
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for source in sorted(here.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    stamp_text = digest.hexdigest()
    cache_dirs = [here / "__pycache__"]
    if os.environ.get("NUMBA_CACHE_DIR"):
        cache_dirs.append(Path(os.environ["NUMBA_CACHE_DIR"]))
    for cache_dir in cache_dirs:
        stamp = cache_dir / "wealtharena-kernels.stamp"
        try:
            if stamp.exists() and stamp.read_text() == stamp_text:
                continue
            if cache_dir.is_dir():
                for pattern in ("*.nbi", "*.nbc"):
                    for path in cache_dir.rglob(pattern):
                        # __pycache__ holds only our kernels; under NUMBA_CACHE_DIR, only our package's tree
                        if cache_dir.name == "__pycache__" or "wealtharena_env" in str(path):
                            path.unlink(missing_ok=True)
            cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = stamp.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(stamp_text)
            os.replace(tmp, stamp)
        except OSError:  # a read-only install: numba then does not cache there either
            pass


_invalidate_stale_numba_cache()
