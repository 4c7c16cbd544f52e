"""Small helpers shared by the data modules: field names, date conversion, message formatting.

Private module: nothing here is public API.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from wealtharena_env.errors import ConfigError, WealthArenaDataError

#: Price fields in the order they are stored; ``adj_close`` is optional.
PRICE_FIELDS: tuple[str, ...] = ("open", "high", "low", "close")
#: Every numeric field a bar may carry, in canonical order.
ALL_FIELDS: tuple[str, ...] = ("open", "high", "low", "close", "adj_close", "volume")
#: Fields a bar must carry.
REQUIRED_FIELDS: tuple[str, ...] = ("open", "high", "low", "close", "volume")

#: How many examples an error message lists before saying "and N more".
MAX_EXAMPLES = 5


def to_datetime_index(values: Any, *, what: str = "dates") -> pd.DatetimeIndex:
    """Convert ``values`` to a tz-naive ``DatetimeIndex`` with nanosecond resolution.

    Time-zone-aware stamps keep their local wall time (``2020-01-02 00:00-05:00`` becomes
    ``2020-01-02 00:00``), so a daily bar keeps its exchange date.
    """
    try:
        idx = pd.DatetimeIndex(pd.to_datetime(values))
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(
            f"cannot interpret {what} as dates ({exc}); expected ISO dates such as '2020-01-31' "
            "or datetime64 values"
        ) from exc
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    try:
        return idx.as_unit("ns")
    except (ValueError, OverflowError) as exc:  # pragma: no cover - dates beyond year 2262
        raise ConfigError(f"{what} are out of the datetime64[ns] range (1677..2262): {exc}") from exc


def to_timestamp(value: Any, *, what: str) -> pd.Timestamp | None:
    """Convert one date-like value to a tz-naive ``Timestamp`` (``None`` stays ``None``)."""
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{what}={value!r} is not a date; expected e.g. '2020-01-31'") from exc
    if ts is pd.NaT:
        raise ConfigError(f"{what}={value!r} is not a date; expected e.g. '2020-01-31'")
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return ts.as_unit("ns")


def fmt_date(value: Any) -> str:
    """Format a date for messages: ``2020-01-02`` for midnight stamps, full ISO otherwise."""
    ts = pd.Timestamp(value)
    if ts is pd.NaT:
        return "NaT"
    if ts == ts.normalize():
        return ts.strftime("%Y-%m-%d")
    return ts.isoformat()


def fmt_list(items: Sequence[Any] | Iterable[Any], limit: int = MAX_EXAMPLES) -> str:
    """``a, b, c and 7 more`` — keeps error messages short for huge universes."""
    items = [str(x) for x in items]
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" and {len(items) - limit} more"


def fmt_pairs(tickers: Sequence[Any], dates: Sequence[Any], limit: int = MAX_EXAMPLES) -> str:
    """``AAPL 2020-01-02, MSFT 2020-01-03 and 4 more`` for (ticker, date) examples."""
    pairs = [f"{t} {fmt_date(d)}" for t, d in zip(tickers, dates)]
    return fmt_list(pairs, limit)


def normalize_tickers(tickers: Any, *, what: str = "tickers") -> tuple[str, ...]:
    """Accept one ticker or an iterable of tickers; return a tuple of unique stripped strings."""
    if isinstance(tickers, str):
        items = [tickers]
    else:
        try:
            items = list(tickers)
        except TypeError as exc:
            raise ConfigError(f"{what} must be a string or a list of strings, got {tickers!r}") from exc
    out: list[str] = []
    for t in items:
        if not isinstance(t, str) or not t.strip():
            raise ConfigError(f"{what} must be non-empty strings, got {t!r} in {items!r}")
        t = t.strip()
        if t in out:
            raise ConfigError(f"{what} lists {t!r} twice; each ticker may appear once")
        out.append(t)
    if not out:
        raise ConfigError(f"{what} is empty; pass at least one ticker such as ['SPY']")
    return tuple(out)


def as_float_array(
    values: Any, *, name: str, tickers: Sequence[str] | None = None, dates: Any = None
) -> np.ndarray:
    """A fresh C-contiguous float64 copy of ``values`` (a clear error for non-numeric input).

    For a (T, N) array with ``tickers`` (N) and ``dates`` (T), the error names the cells that are not numbers
    by ticker and date.
    """
    arr = np.asarray(values)
    if arr.dtype.kind not in "biuf":
        where = ""
        if (
            arr.dtype.kind in "OUS"
            and arr.ndim == 2
            and tickers is not None
            and dates is not None
            and arr.shape == (len(dates), len(tickers))
        ):
            flat = pd.Series(arr.reshape(-1).astype(object))
            number = pd.to_numeric(flat, errors="coerce").notna().to_numpy() | flat.isna().to_numpy()
            bad = np.flatnonzero(~number)
            cells = [
                f"{tickers[i % arr.shape[1]]} {fmt_date(dates[i // arr.shape[1]])} ({flat.iat[i]!r})"
                for i in bad[:MAX_EXAMPLES]
            ]
            if cells:
                more = f" and {len(bad) - MAX_EXAMPLES} more" if len(bad) > MAX_EXAMPLES else ""
                where = f": {len(bad)} cell(s) are not numbers: {', '.join(cells)}{more}"
        raise WealthArenaDataError(
            f"{name} has dtype {arr.dtype}{where}; expected a numeric array (float64). Convert the column "
            "with pd.to_numeric(...) and check for stray text such as 'null' or '-'."
        )
    return np.array(arr, dtype=np.float64, order="C", copy=True)
