"""``MarketData``: validated, aligned daily (or intraday) bars for N assets over T dates.

Axis order everywhere: **time is axis 0, asset is axis 1** — every price array is shaped ``(T, N)``,
C-contiguous ``float64``. Prices are in each asset's trading currency; volume is in shares (units).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from wealtharena_env.data._common import (
    MAX_EXAMPLES,
    as_float_array,
    fmt_date,
    fmt_list,
    fmt_pairs,
    normalize_tickers,
    to_datetime_index,
    to_timestamp,
)
from wealtharena_env.errors import ConfigError, WealthArenaDataError

if TYPE_CHECKING:  # pragma: no cover
    from os import PathLike

    from wealtharena_env.data.splits import DateSplits

_HASH_VERSION = b"wealtharena-marketdata-v1"


def check_bar_values(
    name: str, values: np.ndarray, tickers: Sequence[str], dates: Any = None, first_bar: int = 0
) -> None:
    """The one check of a bar field's values, wherever bars enter (``MarketData``, a user's duck-typed data in
    ``HistoricalMarket``, a live bar in ``Simulation.append_bar``): every cell finite; prices (``open``,
    ``high``, ``low``, ``close``, ``adj_close``) ``> 0``, ``volume >= 0``. ``values`` is (T, N); ``dates``
    (T,) names the bars (``None``: bar numbers ``first_bar + row``). Raises
    :class:`~wealtharena_env.errors.WealthArenaDataError` naming the field, the first cells (ticker, date) and
    the fix."""
    bad = ~np.isfinite(values)
    if bad.any():
        what, fix = (
            "is NaN or infinite",
            (
                "drop or fill those bars before building MarketData (load_market_data(..., "
                "on_bad_rows='drop') drops them)"
            ),
        )
    elif name == "volume":
        bad = values < 0
        what, fix = "is negative", "volume must be >= 0; fix the source rows"
    else:
        bad = values <= 0
        what, fix = "is <= 0", "prices must be > 0; drop those rows (on_bad_rows='drop') or fix the source"
    if not bad.any():
        return
    rows, cols = np.nonzero(bad)
    tick = [tickers[c] for c in cols[:MAX_EXAMPLES]]
    if dates is None:
        where = fmt_list([f"{t} bar {first_bar + r}" for t, r in zip(tick, rows[:MAX_EXAMPLES])])
    else:
        where = fmt_pairs(tick, [dates[r] for r in rows[:MAX_EXAMPLES]])
    more = f" (+{len(rows) - MAX_EXAMPLES} more)" if len(rows) > MAX_EXAMPLES else ""
    raise WealthArenaDataError(f"{name} {what} in {len(rows)} cell(s): {where}{more}. Fix: {fix}.")


@dataclass(frozen=True, eq=False, repr=False)
class MarketData:
    """Aligned OHLCV bars for ``N`` assets over ``T`` dates.

    Description:
        The one market-data container of wealtharena-env. Loaders (:func:`load_market_data`,
        :meth:`from_dataframe`, :meth:`from_csv`, :meth:`from_parquet`, :meth:`from_yfinance`) build it
        after validation and calendar alignment; environments read its arrays. It is immutable: the
        arrays are private read-only copies, and every method returns a new ``MarketData``.

    Fields:
        ============  ========================  ====================================================
        field         type                      meaning
        ============  ========================  ====================================================
        open          float64 (T, N)            opening price, > 0
        high          float64 (T, N)            highest price, > 0
        low           float64 (T, N)            lowest price, > 0
        close         float64 (T, N)            closing price, > 0
        volume        float64 (T, N)            traded volume, >= 0 (0 = no trade / filled bar)
        adj_close     float64 (T, N) or None    close adjusted for splits and dividends, > 0
        dates         datetime64[ns] (T,)       bar dates, strictly increasing, tz-naive
        tickers       tuple[str, ...] (N,)      unique asset names, column order of the arrays
        source        str                       free text: "yfinance", "csv:/path", "dataframe"...
        ============  ========================  ====================================================

    ``__post_init__`` checks shapes, dtypes, finiteness and positivity and raises
    :class:`~wealtharena_env.errors.WealthArenaDataError` naming the field, ticker and date. Row-level
    checks that need a policy (high < low, duplicates, splits, calendars) live in
    :mod:`wealtharena_env.data.validate` and run in the loaders.

    Example:
        >>> import numpy as np
        >>> from wealtharena_env.data import MarketData
        >>> close = np.array([[10.0, 20.0], [11.0, 19.0], [12.0, 21.0]])
        >>> md = MarketData(open=close, high=close * 1.01, low=close * 0.99, close=close,
        ...                 volume=np.full_like(close, 1e6),
        ...                 dates=np.array(["2024-01-02", "2024-01-03", "2024-01-04"], "datetime64[ns]"),
        ...                 tickers=("AAA", "BBB"))
        >>> md.n_steps, md.n_assets
        (3, 2)

    Version History:
        * v0: initial release.
    """

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    dates: np.ndarray
    tickers: tuple[str, ...]
    adj_close: np.ndarray | None = None
    source: str = "arrays"
    _hash: list = field(default_factory=list, init=False, repr=False, compare=False)

    # ------------------------------------------------------------------ validation
    def __post_init__(self) -> None:
        if isinstance(self.tickers, str):
            raise WealthArenaDataError(
                f"tickers must be a sequence of names, got the string {self.tickers!r}; "
                f"wrap it: tickers=({self.tickers!r},)"
            )
        try:
            tickers = normalize_tickers(self.tickers)
        except ConfigError as exc:
            raise WealthArenaDataError(str(exc)) from None
        object.__setattr__(self, "tickers", tickers)
        if not isinstance(self.source, str):
            raise WealthArenaDataError(f"source must be a string, got {type(self.source).__name__}")

        dates = np.asarray(self.dates)
        if dates.ndim != 1:
            raise WealthArenaDataError(f"dates must be 1-D (T,), got shape {dates.shape}")
        if dates.dtype.kind != "M":
            try:
                dates = to_datetime_index(dates).to_numpy()
            except ConfigError as exc:
                raise WealthArenaDataError(str(exc)) from None
        dates = np.array(dates, dtype="datetime64[ns]", copy=True)
        if np.isnat(dates).any():
            i = int(np.flatnonzero(np.isnat(dates))[0])
            raise WealthArenaDataError(f"dates contain NaT (first at position {i}); every bar needs a date")
        T, N = len(dates), len(tickers)
        if T == 0:
            raise WealthArenaDataError("MarketData needs at least one date; got 0 bars")
        if T > 1:
            step = np.diff(dates.view("int64"))
            if (step <= 0).any():
                i = int(np.flatnonzero(step <= 0)[0])
                kind = "duplicated" if step[i] == 0 else "out of order"
                raise WealthArenaDataError(
                    f"dates must be strictly increasing: {fmt_date(dates[i + 1])} at position {i + 1} is "
                    f"{kind} (previous {fmt_date(dates[i])}). Sort the bars and drop duplicate dates; "
                    "the loaders (load_market_data) do this with a warning or a clear error."
                )
        object.__setattr__(self, "dates", dates)

        names = ["open", "high", "low", "close", "volume"] + (
            ["adj_close"] if self.adj_close is not None else []
        )
        for name in names:
            arr = as_float_array(getattr(self, name), name=name, tickers=tickers, dates=dates)
            if arr.shape != (T, N):
                raise WealthArenaDataError(
                    f"{name} has shape {arr.shape}; expected (T, N) = ({T}, {N}) — time on axis 0 "
                    f"({T} dates), assets on axis 1 ({N} tickers)"
                )
            check_bar_values(name, arr, tickers, dates)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_hash"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            if isinstance(v, np.ndarray):
                v.setflags(write=False)  # unpickled arrays come back writeable
            object.__setattr__(self, k, v)
        object.__setattr__(self, "_hash", [])

    # ------------------------------------------------------------------ basics
    @property
    def n_steps(self) -> int:
        """Number of bars ``T`` (length of the time axis)."""
        return int(self.dates.shape[0])

    @property
    def n_assets(self) -> int:
        """Number of assets ``N`` (length of the asset axis)."""
        return len(self.tickers)

    @property
    def has_adj_close(self) -> bool:
        """``True`` when an adjusted close is present (then :meth:`adjusted` is meaningful)."""
        return self.adj_close is not None

    def __repr__(self) -> str:
        return (
            f"MarketData(T={self.n_steps}, N={self.n_assets}, dates={fmt_date(self.dates[0])}.."
            f"{fmt_date(self.dates[-1])}, tickers=[{fmt_list(self.tickers, 8)}], "
            f"adj_close={'yes' if self.has_adj_close else 'no'}, source={self.source!r})"
        )

    def __len__(self) -> int:
        return self.n_steps

    def _replace(self, **changes: Any) -> MarketData:
        return replace(self, **changes)

    # ------------------------------------------------------------------ transforms
    def adjusted(self) -> MarketData:
        """Return bars adjusted for splits and dividends using ``factor = adj_close / close``.

        ``open``, ``high``, ``low`` are multiplied by the factor, ``close`` becomes ``adj_close`` and
        ``volume`` is divided by the factor (so ``price × volume`` is unchanged). Returns computed from
        the result include dividends and splits. The result keeps ``adj_close`` equal to its close, so
        calling ``adjusted()`` twice is harmless. Without ``adj_close`` this returns ``self`` unchanged.
        """
        if self.adj_close is None:
            return self
        factor = self.adj_close / self.close
        close = np.array(self.adj_close, copy=True)
        return self._replace(
            open=self.open * factor,
            high=np.maximum(self.high * factor, close),
            low=np.minimum(self.low * factor, close),
            close=close,
            volume=self.volume / factor,
            adj_close=close,
            source=self.source if self.source.endswith("(adjusted)") else f"{self.source} (adjusted)",
        )

    def select(self, tickers: str | list[str] | tuple[str, ...]) -> MarketData:
        """Keep only ``tickers`` (in the order given)."""
        wanted = normalize_tickers(tickers)
        pos = {t: i for i, t in enumerate(self.tickers)}
        unknown = [t for t in wanted if t not in pos]
        if unknown:
            raise WealthArenaDataError(
                f"unknown ticker(s) {fmt_list(unknown)}; this data has {self.n_assets}: "
                f"{fmt_list(self.tickers, 10)}"
            )
        cols = [pos[t] for t in wanted]
        return self._replace(
            **{name: getattr(self, name)[:, cols] for name in self._array_fields()},
            tickers=wanted,
        )

    def slice(self, start: Any = None, end: Any = None) -> MarketData:
        """Keep the bars with ``start <= date < end`` (either bound may be ``None``)."""
        s = to_timestamp(start, what="start")
        e = to_timestamp(end, what="end")
        if s is not None and e is not None and s >= e:
            raise ConfigError(f"slice start {fmt_date(s)} must be before end {fmt_date(e)}")
        mask = np.ones(self.n_steps, dtype=bool)
        if s is not None:
            mask &= self.dates >= s.to_datetime64()
        if e is not None:
            mask &= self.dates < e.to_datetime64()
        if not mask.any():
            raise WealthArenaDataError(
                f"no bars in [{fmt_date(s) if s is not None else '-inf'}, "
                f"{fmt_date(e) if e is not None else '+inf'}); this data covers "
                f"{fmt_date(self.dates[0])}..{fmt_date(self.dates[-1])}"
            )
        return self._replace(
            **{name: getattr(self, name)[mask] for name in self._array_fields()},
            dates=self.dates[mask],
        )

    def split_by(self, splits: DateSplits, name: str) -> MarketData:
        """Restrict to split ``name`` ("train", "validation", "test") of ``splits``.

        The returned data *begins* at the split's start, so an environment's look-back window can never
        read bars from before the split.
        """
        from wealtharena_env.data.splits import resolve_split

        return resolve_split(self, (splits, name))

    def _array_fields(self) -> list[str]:
        names = ["open", "high", "low", "close", "volume"]
        if self.adj_close is not None:
            names.append("adj_close")
        return names

    # ------------------------------------------------------------------ export
    def content_hash(self) -> str:
        """SHA-256 hex digest of the arrays, dates and tickers (not ``source``).

        Computed on little-endian bytes, so it is identical across processes and platforms for the same
        data. Use it to key results and caches by dataset.
        """
        if self._hash:
            return self._hash[0]
        h = hashlib.sha256(_HASH_VERSION)
        h.update(np.array([self.n_steps, self.n_assets], dtype="<i8").tobytes())
        h.update("\x1f".join(self.tickers).encode("utf-8"))
        h.update(self.dates.astype("<i8").tobytes())
        for name in ("open", "high", "low", "close", "volume", "adj_close"):
            arr = getattr(self, name)
            h.update(name.encode("ascii"))
            if arr is None:
                h.update(b"\x00none")
            else:
                h.update(np.ascontiguousarray(arr, dtype="<f8").tobytes())
        digest = h.hexdigest()
        self._hash.append(digest)
        return digest

    def to_frame(self) -> pd.DataFrame:
        """Long DataFrame: one row per (ticker, date), columns ``date, ticker, open, high, low, close,
        [adj_close,] volume``, sorted by ticker then date (the layout :meth:`from_dataframe` reads)."""
        T, N = self.n_steps, self.n_assets
        cols: dict[str, Any] = {
            "date": np.tile(self.dates, N),
            "ticker": np.repeat(np.array(self.tickers, dtype=object), T),
        }
        for name in ("open", "high", "low", "close", "adj_close", "volume"):
            arr = getattr(self, name)
            if arr is not None:
                cols[name] = arr.T.reshape(-1).copy()
        return pd.DataFrame(cols)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_dataframe(cls, df: pd.DataFrame, **kwargs: Any) -> MarketData:
        """Build from a long, wide (MultiIndex columns) or single-ticker DataFrame.

        See :func:`wealtharena_env.data.loaders.from_dataframe` for the layouts and keyword arguments.
        """
        from wealtharena_env.data.loaders import from_dataframe

        return from_dataframe(df, **kwargs)

    @classmethod
    def from_csv(cls, path: str | PathLike[str], **kwargs: Any) -> MarketData:
        """Read a long or wide CSV (``.csv`` or ``.csv.gz``); see
        :func:`~wealtharena_env.data.loaders.from_csv`."""
        from wealtharena_env.data.loaders import from_csv

        return from_csv(path, **kwargs)

    @classmethod
    def from_parquet(cls, path: str | PathLike[str], **kwargs: Any) -> MarketData:
        """Read a long or wide Parquet file; see :func:`~wealtharena_env.data.loaders.from_parquet`."""
        from wealtharena_env.data.loaders import from_parquet

        return from_parquet(path, **kwargs)

    @classmethod
    def from_yfinance(cls, tickers: Any, start: Any, end: Any = None, **kwargs: Any) -> MarketData:
        """Download (through the cache) from Yahoo Finance; see
        :func:`~wealtharena_env.data.loaders.from_yfinance`."""
        from wealtharena_env.data.loaders import from_yfinance

        return from_yfinance(tickers, start, end, **kwargs)
