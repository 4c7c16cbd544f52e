"""The results document of a leaderboard evaluation and its file.

Results JSON (``schema_version`` 1)
-----------------------------------
``schema``, ``schema_version``, ``created_utc`` (the only field that changes between identical runs),
``package`` / ``versions``, ``task`` (key, fingerprint, suite version, env ID, scenarios), ``entry`` and
``policy``, ``seeds``, ``budget`` (seeds and episode length used, ``official`` when the full protocol was
played), ``data`` (historical tracks: content hash, tickers, dates), ``episodes`` (per episode: scenario,
seed, status, error, focal metric means and per-agent metrics), ``aggregates`` (score intervals, metric
means with intervals, per-scenario breakdown, the equal-weight benchmark), ``failures`` and, optionally,
``trajectories`` (equity, weights, costs and risk events ``{rule: [steps]}`` of the first seeds, for
reports). Floats are rounded to 10 significant digits; NaN and inf are written as ``null``; the JSON is
compact (``python -m json.tool`` pretty-prints it). The file is written atomically.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from wealtharena_env._files import atomic_write
from wealtharena_env.errors import ConfigError

SCHEMA = "wealtharena-results"
SCHEMA_VERSION = 1


def round_float(x: float) -> float | None:
    """``x`` rounded to 10 significant digits; ``None`` for NaN, inf and ``None``."""
    if x is None:
        return None
    x = float(x)
    if not math.isfinite(x):
        return None
    return float(f"{x:.10g}")


def clean_json(value: Any) -> Any:
    """``value`` as plain JSON data: dict keys as strings, tuples as lists, NumPy scalars and arrays as Python
    numbers and lists, floats through :func:`round_float`."""
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return round_float(float(value))
    if isinstance(value, np.ndarray):
        return clean_json(value.tolist())
    return value


def dumps_results(doc: dict[str, Any]) -> str:
    """The canonical text of a results document (what :func:`write_results` writes)."""
    return json.dumps(clean_json(doc), separators=(",", ":"), allow_nan=False) + "\n"


def write_results(doc: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``doc`` to ``path`` atomically (temp file in the same directory, fsync, ``os.replace``)."""
    return atomic_write(path, dumps_results(doc))


def read_results(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a results file, checking its schema."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read results file {path}: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ConfigError(f"{path} is not a wealtharena results file (schema {SCHEMA!r}).")
    if doc.get("schema_version") != SCHEMA_VERSION:
        raise ConfigError(
            f"{path} has schema_version {doc.get('schema_version')!r}; this version reads "
            f"{SCHEMA_VERSION}. Re-run `wealtharena evaluate` with this package version."
        )
    return doc


__all__ = ["SCHEMA", "SCHEMA_VERSION", "dumps_results", "read_results", "write_results"]
