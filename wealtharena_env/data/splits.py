"""Train / validation / test date splits and walk-forward folds.

A split restricts :class:`MarketData` so that it *begins* at the split's first bar: an environment's
look-back window can then never read across the split's start. Ranges are half-open ``[start, end)``.

Example:
    >>> from wealtharena_env.data import DateSplits
    >>> splits = DateSplits(train=("2015-01-01", "2018-01-01"), validation=("2018-01-01", "2019-01-01"),
    ...                     test=("2019-01-01", None))
    >>> splits.names
    ('train', 'validation', 'test')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from wealtharena_env.data._common import fmt_date, to_timestamp
from wealtharena_env.data.market_data import MarketData
from wealtharena_env.data.validate import DataWarning, warn
from wealtharena_env.errors import ConfigError

__all__ = [
    "DEFAULT_SPLITS",
    "SPLIT_NAMES",
    "DateSplits",
    "Fold",
    "SplitOverlapWarning",
    "resolve_split",
    "walk_forward",
]

SPLIT_NAMES = ("train", "validation", "test")


class SplitOverlapWarning(DataWarning):
    """Splits overlap in time (only with ``allow_overlap=True``): evaluation on them is optimistic."""


def _is_fraction(x: Any) -> bool:
    return isinstance(x, (float, int, np.floating, np.integer)) and not isinstance(x, bool)


@dataclass(frozen=True)
class DateSplits:
    """Named date ranges (``train``, ``validation``, ``test``), given as dates or as fractions.

    Description:
        Either every split is a ``(start, end)`` pair of dates (``None`` for an open end), half-open
        ``[start, end)``; or every split is a fraction of the bars (``train=0.7, validation=0.15,
        test=0.15``), laid out in that order, contiguous from the first bar. Unused splits are ``None``.

    Arguments:
        train, validation, test: ``(start, end)`` tuples, fractions in (0, 1), or ``None``.
        allow_overlap: date ranges may not overlap (a :class:`ConfigError` says which and where);
            ``True`` allows it with a :class:`SplitOverlapWarning`.
    """

    train: Any = None
    validation: Any = None
    test: Any = None
    allow_overlap: bool = False

    def __post_init__(self) -> None:
        given = {n: getattr(self, n) for n in SPLIT_NAMES if getattr(self, n) is not None}
        if not given:
            raise ConfigError("DateSplits needs at least one of train, validation, test")
        kinds = {n: ("fraction" if _is_fraction(v) else "range") for n, v in given.items()}
        if len(set(kinds.values())) > 1:
            raise ConfigError(
                f"DateSplits mixes fractions and date ranges ({kinds}); use one kind, e.g. "
                "DateSplits(train=0.7, validation=0.15, test=0.15) or train=('2015-01-01', '2019-01-01')"
            )
        if next(iter(kinds.values())) == "fraction":
            for n, v in given.items():
                if not 0.0 < float(v) <= 1.0:
                    raise ConfigError(f"DateSplits {n}={v!r}: a fraction must be in (0, 1]")
            total = sum(float(v) for v in given.values())
            if total > 1.0 + 1e-9:
                raise ConfigError(f"DateSplits fractions sum to {total:g} > 1 ({given})")
            for n, v in given.items():
                object.__setattr__(self, n, float(v))
            return
        parsed: dict[str, tuple[pd.Timestamp | None, pd.Timestamp | None]] = {}
        for n, v in given.items():
            if not isinstance(v, (tuple, list)) or len(v) != 2:
                raise ConfigError(f"DateSplits {n}={v!r} must be a (start, end) pair of dates or a fraction")
            s = to_timestamp(v[0], what=f"{n} start")
            e = to_timestamp(v[1], what=f"{n} end")
            if s is not None and e is not None and s >= e:
                raise ConfigError(f"DateSplits {n}: start {fmt_date(s)} must be before end {fmt_date(e)}")
            parsed[n] = (s, e)
            object.__setattr__(self, n, (s, e))
        overlaps = []
        names = list(parsed)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                lo = max(_lo(parsed[a][0]), _lo(parsed[b][0]))
                hi = min(_hi(parsed[a][1]), _hi(parsed[b][1]))
                if lo < hi:
                    overlaps.append(
                        f"{a} {_fmt_range(parsed[a])} and {b} {_fmt_range(parsed[b])} share "
                        f"{_fmt_range((_none_lo(lo), _none_hi(hi)))}"
                    )
        if overlaps:
            msg = "DateSplits overlap: " + "; ".join(overlaps)
            if not self.allow_overlap:
                raise ConfigError(
                    f"{msg}. Overlapping splits leak the evaluation period into training. Fix: make the "
                    "ranges disjoint (end of one = start of the next, ends are exclusive), or pass "
                    "allow_overlap=True if you really want it."
                )
            warn(
                SplitOverlapWarning,
                f"{msg} (allow_overlap=True): results on the overlapping bars are in-sample and optimistic.",
            )

    @property
    def names(self) -> tuple[str, ...]:
        """The defined split names, in the order train, validation, test."""
        return tuple(n for n in SPLIT_NAMES if getattr(self, n) is not None)

    @property
    def is_fractional(self) -> bool:
        return _is_fraction(getattr(self, self.names[0]))

    def bounds(self, dates: Any = None) -> dict[str, tuple[pd.Timestamp | None, pd.Timestamp | None]]:
        """``{name: (start, end)}``; fractional splits need the bar ``dates`` (or a MarketData) to cut."""
        if not self.is_fractional:
            return {n: getattr(self, n) for n in self.names}
        if dates is None:
            raise ConfigError("fractional DateSplits need the data's dates to compute the date bounds")
        if isinstance(dates, MarketData):
            dates = dates.dates
        d = np.asarray(dates, dtype="datetime64[ns]")
        T = len(d)
        out: dict[str, tuple[pd.Timestamp | None, pd.Timestamp | None]] = {}
        cut = 0
        for n in SPLIT_NAMES:
            f = getattr(self, n)
            if f is None:
                continue
            size = round(T * f)
            if size < 1:
                raise ConfigError(
                    f"DateSplits {n}={f:g} of {T} bars is empty; use a larger fraction or more data"
                )
            lo, hi = cut, min(cut + size, T)
            if lo >= T:
                raise ConfigError(f"DateSplits {n}: no bars left after the previous splits ({T} bars)")
            out[n] = (pd.Timestamp(d[lo]), pd.Timestamp(d[hi]) if hi < T else None)
            cut = hi
        return out

    def range(self, name: str, dates: Any = None) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """``(start, end)`` of one split (see :meth:`bounds`)."""
        if name not in SPLIT_NAMES:
            raise ConfigError(f"unknown split {name!r}; use one of {', '.join(SPLIT_NAMES)}")
        if getattr(self, name) is None:
            raise ConfigError(f"this DateSplits has no {name!r} split; it defines {', '.join(self.names)}")
        return self.bounds(dates)[name]


#: Used when an environment asks for ``split="train"`` (etc.) without giving a :class:`DateSplits`.
DEFAULT_SPLITS = DateSplits(train=0.7, validation=0.15, test=0.15)


def _lo(x: pd.Timestamp | None) -> int:
    return np.iinfo(np.int64).min if x is None else int(x.value)


def _hi(x: pd.Timestamp | None) -> int:
    return np.iinfo(np.int64).max if x is None else int(x.value)


def _none_lo(v: int) -> pd.Timestamp | None:
    return None if v == np.iinfo(np.int64).min else pd.Timestamp(v)


def _none_hi(v: int) -> pd.Timestamp | None:
    return None if v == np.iinfo(np.int64).max else pd.Timestamp(v)


def _fmt_range(r: tuple[Any, Any]) -> str:
    s, e = r
    return f"[{fmt_date(s) if s is not None else '-inf'}, {fmt_date(e) if e is not None else '+inf'})"


def resolve_split(data: MarketData, split: Any, splits: DateSplits | None = None) -> MarketData:
    """Restrict ``data`` to ``split`` — what an environment does with its ``split=`` argument.

    ``split`` may be ``None`` (all data), ``"train"`` / ``"validation"`` / ``"test"`` (from ``splits``,
    default :data:`DEFAULT_SPLITS` = 70 / 15 / 15 % of the bars), a ``(start, end)`` pair of dates, or a
    ``(DateSplits, name)`` pair. The result begins at the split's first bar.
    """
    if not isinstance(data, MarketData):
        raise ConfigError(
            f"resolve_split needs MarketData, got {type(data).__name__}; use load_market_data first"
        )
    if split is None:
        return data
    if isinstance(split, str):
        return _cut(data, (splits or DEFAULT_SPLITS).range(split, data), split)
    if isinstance(split, DateSplits):
        raise ConfigError(
            "a DateSplits needs a split name: pass (splits, 'train') or splits=..., split='train'"
        )
    if isinstance(split, (tuple, list)) and len(split) == 2:
        if isinstance(split[0], DateSplits):
            if not isinstance(split[1], str):
                raise ConfigError(f"(DateSplits, name): name must be a string, got {split[1]!r}")
            return _cut(data, split[0].range(split[1], data), split[1])
        s = to_timestamp(split[0], what="split start")
        e = to_timestamp(split[1], what="split end")
        return _cut(data, (s, e), "split")
    raise ConfigError(
        f"split={split!r} is not valid; use None, 'train', 'validation', 'test', a (start, end) pair of "
        "dates or (DateSplits, name)"
    )


def _cut(data: MarketData, rng: tuple[Any, Any], name: str) -> MarketData:
    s, e = rng
    if s is None and e is None:
        return data
    return data.slice(s, e)


@dataclass(frozen=True)
class Fold:
    """One walk-forward fold: ``train`` then ``test`` data, with their ``[start, end)`` date ranges."""

    index: int
    train: MarketData
    test: MarketData
    train_range: tuple[pd.Timestamp, pd.Timestamp]
    test_range: tuple[pd.Timestamp, pd.Timestamp]

    def __repr__(self) -> str:
        return (
            f"Fold({self.index}, train={_fmt_range(self.train_range)} ({self.train.n_steps} bars), "
            f"test={_fmt_range(self.test_range)} ({self.test.n_steps} bars))"
        )


def _size(x: Any, T: int, name: str) -> int:
    """A bar count (int >= 1) or a fraction of the ``T`` bars (float in (0, 1))."""
    if x is None:
        raise ConfigError(f"walk_forward needs {name}")
    if isinstance(x, bool) or not isinstance(x, (int, np.integer, float, np.floating)):
        raise ConfigError(f"walk_forward {name}={x!r} must be a number of bars or a fraction of the data")
    if isinstance(x, (float, np.floating)) and float(x) < 1.0:
        if not float(x) > 0.0:
            raise ConfigError(f"walk_forward {name}={x!r}: a fraction must be in (0, 1)")
        n = round(float(x) * T)
    else:
        if not float(x).is_integer():
            raise ConfigError(f"walk_forward {name}={x!r}: a bar count must be a whole number")
        n = int(x)
    if n < 1:
        raise ConfigError(f"walk_forward {name}={x!r} gives {n} bars; it must be at least 1")
    return n


def walk_forward(
    data: MarketData,
    n_folds: int | None = None,
    train_size: float | None = None,
    test_size: float | None = None,
    step: float | None = None,
    *,
    expanding: bool = False,
    gap: int = 0,
) -> list[Fold]:
    """Rolling (or expanding) walk-forward folds over the bars of ``data``.

    Fold ``k`` trains on bars ``[k·step, k·step + train_size)`` (from bar 0 if ``expanding``) and tests on
    the ``test_size`` bars that follow after ``gap`` bars. Sizes are bar counts, or fractions of all bars.

    ``step`` defaults to ``test_size`` (back-to-back test windows); with ``n_folds`` and no ``step``, the
    step spreads the folds over all the data (the last test window ends at or just before the last bar).
    With ``n_folds`` given, exactly that many folds are returned, or a :class:`ConfigError` says how many fit.
    """
    if not isinstance(data, MarketData):
        raise ConfigError(f"walk_forward needs MarketData, got {type(data).__name__}")
    T = data.n_steps
    tr = _size(train_size, T, "train_size")
    te = _size(test_size, T, "test_size")
    if not isinstance(gap, (int, np.integer)) or gap < 0:
        raise ConfigError(f"walk_forward gap={gap!r} must be a non-negative number of bars")
    need = tr + int(gap) + te
    if need > T:
        raise ConfigError(
            f"walk_forward: train_size {tr} + gap {gap} + test_size {te} = {need} bars > the {T} bars of the "
            "data"
        )
    if n_folds is not None and (not isinstance(n_folds, (int, np.integer)) or n_folds < 1):
        raise ConfigError(f"walk_forward n_folds={n_folds!r} must be a positive integer")
    if step is None:
        if n_folds is not None and n_folds > 1:
            st = (T - need) // (n_folds - 1)
            if st < 1:
                raise ConfigError(
                    f"walk_forward: {n_folds} folds of {need} bars do not fit in {T} bars with a step of at "
                    "least 1"
                )
        else:
            st = te
    else:
        st = _size(step, T, "step")
    available = (T - need) // st + 1
    if n_folds is not None and available < n_folds:
        raise ConfigError(
            f"walk_forward: only {available} fold(s) of train {tr} + gap {gap} + test {te} bars with step "
            f"{st} fit in {T} bars, not {n_folds}; shrink the sizes or the step, or ask for fewer folds"
        )
    count = n_folds if n_folds is not None else available
    d = data.dates

    def bound(j: int) -> pd.Timestamp:
        return pd.Timestamp(d[j]) if j < T else pd.Timestamp(d[-1]) + pd.Timedelta(1, "ns")

    folds = []
    for k in range(count):
        a = 0 if expanding else k * st
        b = k * st + tr
        c = b + int(gap)
        e = c + te
        folds.append(
            Fold(k, _rows(data, a, b), _rows(data, c, e), (bound(a), bound(b)), (bound(c), bound(e)))
        )
    return folds


def _rows(data: MarketData, i: int, j: int) -> MarketData:
    arrays = {n: getattr(data, n)[i:j] for n in data._array_fields()}
    return data._replace(**arrays, dates=data.dates[i:j])
