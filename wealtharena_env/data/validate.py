"""Validation and documented repairs of market data, applied once, at the edge, by every loader.

Input is the canonical long frame of :mod:`wealtharena_env.data.layouts` (one row per ticker and date).
Checks run in this order; each either raises :class:`~wealtharena_env.errors.WealthArenaDataError`
(naming the tickers, the dates and the fix) or repairs the data and says so with a
:class:`DataRepairWarning`. Suspicious-but-kept data gets a :class:`DataQualityWarning`.

=====================  ==============================  ===========================================
check                  default                         alternatives
=====================  ==============================  ===========================================
empty bars (all NaN)   drop + DataRepairWarning        —
NaN / inf values       raise                           ``on_bad_rows="drop"`` / ``"repair"``
                                                       (repair: open/high/low := close, volume := 0)
prices <= 0, vol < 0   raise                           ``on_bad_rows="drop"`` (``"repair"`` drops)
unsorted dates         sort + DataRepairWarning        —
duplicate dates        identical rows: keep one +      differing rows: ``on_duplicate="raise"``
                       DataRepairWarning               (default) / ``"first"`` / ``"last"``
high < low, open or    raise                           ``on_bad_rows="drop"`` / ``"repair"``
close outside                                          (repair: high := max(o,h,l,c),
[low, high]                                            low := min(o,h,l,c))
split-like jump        raise                           ``on_split="warn"`` (keep) / ``"adjust"``
(\\|log r\\| > log 1.4,                                  (earlier bars × exact split ratio,
near log 2, 3, 1/2…,                                   volume ÷ ratio; the default with
not on news volume)                                    ``on_bad_rows="repair"``)
implausible jump       raise                           ``max_jump=None`` disables; ``on_bad_rows=
(ratio > max_jump)                                     "repair"`` drops the ticker
move implausible for   raise (bad print, 3:2 / 4:3 /   prints: ``on_bad_rows="drop"`` / ``"repair"``
its ticker (>          5:4 split, level shift)         drop the bar; splits: ``on_split``; level
max_move_sigma robust                                  shifts: ``"repair"`` drops the ticker;
sd, see                                                ``max_move_sigma=None`` disables
find_implausible_moves)
adj_close/close jump   DataQualityWarning              (``MarketData.adjusted()`` absorbs it)
volume == 0            DataQualityWarning, kept        —
calendars differ       ``calendar="intersect"``: drop  ``"ffill"`` (fill gaps up to
across tickers         dates + DataRepairWarning       ``ffill_limit`` bars), ``"strict"`` (raise)
hole (> max_gap_bars   raise (unless                   ``on_gap="drop_ticker"`` / ``"cut"`` /
missing in a row)      ``calendar="ffill"``)           ``"ffill"``
=====================  ==============================  ===========================================

Returns are measured on ``adj_close`` when present (that is what :meth:`MarketData.adjusted` trades),
otherwise on ``close``.
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass
from types import FrameType
from typing import Any

import numpy as np
import pandas as pd

from wealtharena_env.data._common import MAX_EXAMPLES, PRICE_FIELDS, fmt_date, fmt_list
from wealtharena_env.errors import ConfigError, WealthArenaDataError

__all__ = [
    "SMALL_SPLIT_RATIOS",
    "SPLIT_RATIOS",
    "DataQualityWarning",
    "DataRepairWarning",
    "DataWarning",
    "Moves",
    "align_calendars",
    "find_holes",
    "find_implausible_moves",
    "find_split_jumps",
    "validate_frame",
    "volume_ratio",
]


class DataWarning(UserWarning):
    """Base class of the data-layer warnings (filter this one to silence them all)."""


class DataRepairWarning(DataWarning):
    """The loader changed the data (dropped, sorted, filled, clipped or re-scaled rows) and says how."""


class DataQualityWarning(DataWarning):
    """The data were kept as they are but look suspicious (zero volume, unadjusted OHLC, ...)."""


#: Split ratios recognised by the split detector (and their reciprocals, for reverse splits).
SPLIT_RATIOS: tuple[float, ...] = (2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 15.0, 20.0, 25.0, 50.0, 100.0)
#: A move counts as a jump when ``|log return| > log(1 + SPLIT_MIN_MOVE)``.
SPLIT_MIN_MOVE = 0.40
#: ... and as split-like when ``|log return - log ratio| < SPLIT_LOG_TOL`` for a ratio above.
SPLIT_LOG_TOL = 0.05
#: Split ratios (and reciprocals) whose moves (-20 % to +50 %) are also ordinary market moves: a move is
#: called such a split only when it is already implausible for the ticker (:func:`find_implausible_moves`).
SMALL_SPLIT_RATIOS: tuple[float, ...] = (1.5, 4.0 / 3.0, 1.25)
#: Default of ``max_move_sigma``: a one-bar move beyond this many robust standard deviations of the ticker's
#: own moves, on ordinary volume, is implausible (the real files in ../shared/data peak at 12 with ordinary
#: volume and at 34 with heavy volume; see docs/data.md).
MAX_MOVE_SIGMA = 15.0
#: Bars each side of a move used for its ticker's robust scale and median volume.
MOVE_WINDOW = 32
#: A return spanning more than this many typical bar spacings (at least days) is not judged: it crosses a
#: hole.
MOVE_MAX_SPAN = 7
#: Tickers with fewer returns than this are not checked for implausible moves (no meaningful scale).
MOVE_MIN_RETURNS = 20
#: Lowest robust scale (log return per bar): stale, rarely changing prices do not turn every tick into a jump.
MOVE_SCALE_FLOOR = 1e-3
#: Tickers with a return on the date needed to measure moves net of the day's cross-sectional median.
MOVE_MIN_TICKERS = 10
#: A bar trading this many times its ticker's median volume around it has heavy volume (real news) ...
HEAVY_VOLUME = 2.0
#: ... and its move must exceed this many times ``max_move_sigma`` (also when the volume is unknown).
HEAVY_VOLUME_FACTOR = 3.0
#: A move comes back (an isolated bad print) when ``|r_t + r_{t+1}| <= REVERT_FRACTION * |r_t|``.
REVERT_FRACTION = 0.3
_MAD_TO_SD = 0.6745
#: Default of ``max_gap_bars``: more missing bars in a row than this inside the common span is a hole.
MAX_GAP_BARS = 5

_BAD_ROWS = ("raise", "drop", "repair")
_DUPLICATES = ("raise", "first", "last")
_SPLITS = ("raise", "warn", "adjust")
_CALENDARS = ("intersect", "ffill", "strict")
_GAPS = ("raise", "drop_ticker", "cut", "ffill")
_OHLC_RTOL = 1e-9
_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def warn(category: type[Warning], message: str) -> None:
    """``warnings.warn`` pointing at the first stack frame outside wealtharena_env (the user's line)."""
    frame: FrameType | None = sys._getframe(0)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PKG_DIR):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not valid; choose one of {', '.join(map(repr, allowed))}")
    return value


def _prefix(where: str | None) -> str:
    return f"{where}: " if where else ""


def _row_examples(df: pd.DataFrame, mask: np.ndarray, cols: list[str], limit: int = MAX_EXAMPLES) -> str:
    idx = np.flatnonzero(mask)
    parts = []
    for i in idx[:limit]:
        vals = ", ".join(f"{c}={_num(df[c].iat[i])}" for c in cols if c in df.columns)
        parts.append(f"{df['ticker'].iat[i]} {fmt_date(df['date'].iat[i])} ({vals})")
    more = f" and {len(idx) - limit} more" if len(idx) > limit else ""
    return "; ".join(parts) + more


def _num(x: float) -> str:
    if not np.isfinite(x):
        return str(x)
    return f"{x:.6g}"


def _tickers_summary(tickers: np.ndarray, limit: int = 8) -> str:
    vc = pd.Series(tickers).value_counts(sort=True)
    return fmt_list([f"{t} ({n})" for t, n in vc.items()], limit)


# ============================================================================ row checks
def validate_frame(
    df: pd.DataFrame,
    *,
    on_bad_rows: str = "raise",
    on_duplicate: str = "raise",
    on_split: str | None = None,
    max_jump: float | None = 10.0,
    max_move_sigma: float | None = MAX_MOVE_SIGMA,
    where: str | None = None,
) -> pd.DataFrame:
    """Check (and where asked, repair) a canonical long frame; return it sorted by ticker, date.

    Args:
        df: canonical long frame (see :mod:`wealtharena_env.data.layouts`).
        on_bad_rows: ``"raise"`` | ``"drop"`` | ``"repair"`` for NaN/inf values, non-positive prices,
            negative volume and OHLC inconsistencies (high < low, open/close outside [low, high]).
        on_duplicate: ``"raise"`` | ``"first"`` | ``"last"`` for several *different* rows with the
            same (ticker, date). Identical duplicates are always collapsed with a warning.
        on_split: ``"raise"`` | ``"warn"`` | ``"adjust"`` for split-like jumps; ``None`` (default):
            ``"adjust"`` with ``on_bad_rows="repair"``, else ``"raise"``.
        max_jump: price ratio above which a one-bar move that is not split-like is rejected as junk
            (``None`` disables the check). With ``on_bad_rows="repair"`` such tickers are dropped.
        max_move_sigma: a one-bar move beyond this many robust standard deviations of the ticker's own moves
            is implausible (:func:`find_implausible_moves`): a bad print that the next bar takes back is an
            error (``on_bad_rows="drop"`` / ``"repair"`` drop the bar), a small-ratio split (3:2, 4:3, 5:4) is
            handled like any split, a permanent level shift is an error (``"repair"`` drops the ticker).
            ``None`` disables the check.
        where: a label for messages (file name, "yfinance", ...).
    """
    _choice("on_bad_rows", on_bad_rows, _BAD_ROWS)
    _choice("on_duplicate", on_duplicate, _DUPLICATES)
    if on_split is None:
        on_split = "adjust" if on_bad_rows == "repair" else "raise"
    _choice("on_split", on_split, _SPLITS)
    if max_jump is not None and not (np.isfinite(max_jump) and max_jump > 1.0):
        raise ConfigError(f"max_jump={max_jump!r} must be a ratio > 1 (e.g. 10.0) or None")
    if max_move_sigma is not None and not (
        isinstance(max_move_sigma, (int, float, np.integer, np.floating))
        and np.isfinite(max_move_sigma)
        and max_move_sigma > 0
    ):
        raise ConfigError(
            f"max_move_sigma={max_move_sigma!r} must be a positive number of robust standard "
            f"deviations (default {MAX_MOVE_SIGMA:g}) or None"
        )
    pre = _prefix(where)
    if len(df) == 0:
        raise WealthArenaDataError(f"{pre}no rows of market data (the frame is empty)")
    df = df.reset_index(drop=True).copy()
    if df["date"].isna().any():
        bad = df["date"].isna().to_numpy()
        rows = np.flatnonzero(bad)
        ex = "; ".join(
            f"ticker {df['ticker'].iat[i]} at row {i} (close={_num(df['close'].iat[i])})"
            for i in rows[:MAX_EXAMPLES]
        )
        more = f" and {len(rows) - MAX_EXAMPLES} more" if len(rows) > MAX_EXAMPLES else ""
        raise WealthArenaDataError(
            f"{pre}{len(rows)} row(s) have no date (column 'date' is empty or NaT): {ex}{more}; every bar "
            "needs a date. Fix: fill in the dates, or drop those rows."
        )
    df = _check_missing(df, on_bad_rows, pre)
    df = _check_nonpositive(df, on_bad_rows, pre)
    df = _sort(df, pre)
    df = _check_duplicates(df, on_duplicate, pre)
    df = _check_ohlc(df, on_bad_rows, pre)
    df = _check_jumps(df, on_split, max_jump, max_move_sigma, on_bad_rows, pre)
    _check_adj_ratio(df, pre)
    _check_zero_volume(df, pre)
    return df


def _price_cols(df: pd.DataFrame) -> list[str]:
    return [c for c in (*PRICE_FIELDS, "adj_close") if c in df.columns]


def _check_missing(df: pd.DataFrame, policy: str, pre: str) -> pd.DataFrame:
    prices = _price_cols(df)
    p = df[prices].to_numpy(dtype=np.float64)
    v = df["volume"].to_numpy(dtype=np.float64)
    empty = np.isnan(p).all(axis=1)
    if empty.any():
        warn(
            DataRepairWarning,
            f"{pre}dropped {int(empty.sum())} empty bar(s) with no prices at all (NaN): "
            f"{_row_examples(df, empty, [])}",
        )
        df = df.loc[~empty].reset_index(drop=True)
        p, v = p[~empty], v[~empty]
    bad_p = ~np.isfinite(p)
    bad = bad_p.any(axis=1) | ~np.isfinite(v)
    if not bad.any():
        return df
    cols = prices + ["volume"]
    if policy == "raise":
        raise WealthArenaDataError(
            f"{pre}{int(bad.sum())} row(s) have missing (NaN) or infinite values: "
            f"{_row_examples(df, bad, cols)}. Fix: clean the source, or pass on_bad_rows='drop' to drop "
            "these rows, or on_bad_rows='repair' to fill missing open/high/low from close and missing "
            "volume with 0 (rows without a valid close are dropped)."
        )
    if policy == "drop":
        warn(
            DataRepairWarning,
            f"{pre}dropped {int(bad.sum())} row(s) with NaN/inf values: {_row_examples(df, bad, cols)}",
        )
        return df.loc[~bad].reset_index(drop=True)
    # repair
    df = df.copy()
    close = df["close"].to_numpy(dtype=np.float64)
    no_close = bad & ~np.isfinite(close)
    for c in ("open", "high", "low"):
        x = df[c].to_numpy(dtype=np.float64).copy()
        fill = ~np.isfinite(x) & np.isfinite(close)
        x[fill] = close[fill]
        df[c] = x
    if "adj_close" in df.columns:
        a = df["adj_close"].to_numpy(dtype=np.float64)
        no_close |= bad & ~np.isfinite(a)
    vol = v.copy()
    vol[~np.isfinite(vol)] = 0.0
    df["volume"] = vol
    msg = (
        f"{pre}repaired {int((bad & ~no_close).sum())} row(s) with NaN/inf values (open/high/low := close, "
        f"volume := 0): {_row_examples(df, bad & ~no_close, [])}"
    )
    if no_close.any():
        msg += (
            f"; dropped {int(no_close.sum())} row(s) without a valid close / adj_close: "
            f"{_row_examples(df, no_close, [])}"
        )
    warn(DataRepairWarning, msg)
    return df.loc[~no_close].reset_index(drop=True)


def _check_nonpositive(df: pd.DataFrame, policy: str, pre: str) -> pd.DataFrame:
    prices = _price_cols(df)
    p = df[prices].to_numpy(dtype=np.float64)
    bad = (p <= 0).any(axis=1) | (df["volume"].to_numpy(dtype=np.float64) < 0)
    if not bad.any():
        return df
    cols = prices + ["volume"]
    notes = []
    allzero = bad & (p == 0).all(axis=1)
    if allzero.any():
        key = df["ticker"].astype(str) + "|" + df["date"].astype("int64").astype(str)
        dup = key.duplicated(keep=False).to_numpy()
        notes.append(
            f"{int(allzero.sum())} of them are all-zero placeholder rows"
            + (" next to a real row on the same date" if (allzero & dup).any() else "")
        )
    note = f" ({'; '.join(notes)})" if notes else ""
    if policy == "raise":
        raise WealthArenaDataError(
            f"{pre}{int(bad.sum())} row(s) have non-positive prices or negative volume{note}: "
            f"{_row_examples(df, bad, cols)}. Prices must be > 0. Fix: pass on_bad_rows='drop' to drop these "
            "rows, or clean the source."
        )
    warn(
        DataRepairWarning,
        f"{pre}dropped {int(bad.sum())} row(s) with non-positive prices or negative volume{note}: "
        f"{_row_examples(df, bad, cols)}",
    )
    return df.loc[~bad].reset_index(drop=True)


def _sort(df: pd.DataFrame, pre: str) -> pd.DataFrame:
    """Sort by ticker (first-appearance order), then date; stable, so duplicates keep file order."""
    tickers = list(dict.fromkeys(df["ticker"]))
    code = pd.Categorical(df["ticker"], categories=tickers).codes
    d = df["date"].to_numpy().astype("datetime64[ns]").view("int64")
    by_ticker = np.argsort(code, kind="stable")
    ct, dt = code[by_ticker], d[by_ticker]
    back = np.zeros(len(d), dtype=bool)
    back[1:] = (ct[1:] == ct[:-1]) & (dt[1:] < dt[:-1])
    if back.any():
        bad = sorted({tickers[c] for c in ct[back]})
        i = int(np.flatnonzero(back)[0])
        warn(
            DataRepairWarning,
            f"{pre}dates were not in increasing order for {len(bad)} ticker(s) ({fmt_list(bad)}); sorted "
            f"them by date. First out-of-order bar: {tickers[ct[i]]} "
            f"{fmt_date(dt[i].astype('datetime64[ns]'))}",
        )
    keys = np.lexsort((d, code))
    return df.iloc[keys].reset_index(drop=True)


def _check_duplicates(df: pd.DataFrame, policy: str, pre: str) -> pd.DataFrame:
    d = df["date"].to_numpy().view("int64")
    t = df["ticker"].to_numpy()
    same = np.zeros(len(df), dtype=bool)
    same[1:] = (t[1:] == t[:-1]) & (d[1:] == d[:-1])  # row i repeats row i-1's (ticker, date)
    if not same.any():
        return df
    fields = [c for c in df.columns if c not in ("date", "ticker")]
    vals = df[fields].to_numpy(dtype=np.float64)
    # group id per (ticker, date) run
    gid = np.cumsum(~same) - 1
    first_of_group = np.flatnonzero(~same)
    identical_to_first = (vals == vals[first_of_group[gid]]).all(axis=1)
    group_identical = pd.Series(identical_to_first).groupby(gid).all().to_numpy()
    dup_groups = np.unique(gid[same])
    ident = dup_groups[group_identical[dup_groups]]
    differ = dup_groups[~group_identical[dup_groups]]
    keep = np.ones(len(df), dtype=bool)
    if len(ident):
        drop = same & np.isin(gid, ident)
        keep &= ~drop
        warn(
            DataRepairWarning,
            f"{pre}dropped {int(drop.sum())} exact duplicate row(s) (same ticker, date and values): "
            f"{_row_examples(df, drop, [])}",
        )
    if len(differ):
        in_differ = np.isin(gid, differ)
        examples = []
        for g in differ[:MAX_EXAMPLES]:
            rows = np.flatnonzero(gid == g)
            closes = " / ".join(_num(df["close"].iat[i]) for i in rows)
            examples.append(
                f"{t[rows[0]]} {fmt_date(df['date'].iat[rows[0]])} ({len(rows)} rows, close {closes})"
            )
        more = f" and {len(differ) - MAX_EXAMPLES} more" if len(differ) > MAX_EXAMPLES else ""
        desc = (
            f"{len(differ)} (ticker, date) pair(s) have several different rows: {'; '.join(examples)}{more}"
        )
        if policy == "raise":
            raise WealthArenaDataError(
                f"{pre}{desc}. Fix: pass on_duplicate='first' or 'last' to keep one row per date (in file "
                "order), or remove the extra rows from the source."
            )
        if policy == "first":
            drop = in_differ & same
        else:  # last: drop every row that has a later row in the same group
            nxt = np.zeros(len(df), dtype=bool)
            nxt[:-1] = same[1:]
            drop = in_differ & nxt
        keep &= ~drop
        warn(DataRepairWarning, f"{pre}{desc}; kept the {policy} row of each")
    return df.loc[keep].reset_index(drop=True)


def _check_ohlc(df: pd.DataFrame, policy: str, pre: str) -> pd.DataFrame:
    o, h, lo, c = (df[k].to_numpy(dtype=np.float64) for k in PRICE_FIELDS)
    up, dn = 1.0 + _OHLC_RTOL, 1.0 - _OHLC_RTOL
    hl = h < lo * dn
    c_out = (c > h * up) | (c < lo * dn)
    o_out = (o > h * up) | (o < lo * dn)
    bad = hl | c_out | o_out
    if not bad.any():
        return df
    kinds = []
    for mask, label in (  # each row listed once, under its first problem
        (hl, "high < low"),
        (c_out & ~hl, "close outside [low, high]"),
        (o_out & ~hl & ~c_out, "open outside [low, high]"),
    ):
        if mask.any():
            kinds.append(f"{label}: {_row_examples(df, mask, list(PRICE_FIELDS))}")
    desc = f"{int(bad.sum())} row(s) with inconsistent OHLC — " + " | ".join(kinds)
    if policy == "raise":
        raise WealthArenaDataError(
            f"{pre}{desc}. Fix: pass on_bad_rows='repair' to widen high/low to include open and close "
            "(high := max(o,h,l,c), low := min(o,h,l,c)), on_bad_rows='drop' to drop the rows, or clean the "
            "source."
        )
    if policy == "drop":
        warn(DataRepairWarning, f"{pre}dropped {desc}")
        return df.loc[~bad].reset_index(drop=True)
    df = df.copy()
    stack = np.vstack([o, h, lo, c])
    df["high"] = np.where(bad, stack.max(axis=0), h)
    df["low"] = np.where(bad, stack.min(axis=0), lo)
    warn(DataRepairWarning, f"{pre}repaired {desc} (high := max(o,h,l,c), low := min(o,h,l,c))")
    return df


def _log_returns(df: pd.DataFrame, col: str) -> tuple[np.ndarray, np.ndarray]:
    """Log return of ``col`` vs the previous row of the same ticker (NaN for each ticker's first row)."""
    x = df[col].to_numpy(dtype=np.float64)
    t = df["ticker"].to_numpy()
    lr = np.full(len(x), np.nan)
    same = np.zeros(len(x), dtype=bool)
    if len(x) > 1:
        same[1:] = t[1:] == t[:-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            lr[1:] = np.where(same[1:], np.log(x[1:] / x[:-1]), np.nan)
    return lr, same


def find_split_jumps(log_returns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split-like jumps in an array of log returns.

    A return is split-like when ``|r| > log(1 + SPLIT_MIN_MOVE)`` (a > 40 % move) and it is within
    ``SPLIT_LOG_TOL`` of ``±log(k)`` for a ratio ``k`` in :data:`SPLIT_RATIOS`.

    Returns:
        ``(mask, ratio)``: boolean mask of split-like returns and, for each, the exact price ratio
        ``after / before`` of the matching split (``0.5`` for a 2:1 split, ``4.0`` for a 1:4 reverse
        split; NaN elsewhere).
    """
    r = np.asarray(log_returns, dtype=np.float64)
    cands = np.log(np.asarray(SPLIT_RATIOS))
    cands = np.concatenate([cands, -cands])
    mask = np.zeros(r.shape, dtype=bool)
    ratio = np.full(r.shape, np.nan)
    with np.errstate(invalid="ignore"):
        big = np.flatnonzero(
            (np.abs(r) > np.log1p(SPLIT_MIN_MOVE)).reshape(-1)
        )  # few: only these are compared
    if len(big):
        x = r.reshape(-1)[big]
        dist = np.abs(x[:, None] - cands)
        best = np.argmin(dist, axis=1)
        near = dist[np.arange(len(x)), best] < SPLIT_LOG_TOL
        mask.reshape(-1)[big[near]] = True
        ratio.reshape(-1)[big[near]] = np.exp(cands[best[near]])
    return mask, ratio


def _ratio_label(q: float) -> str:
    """0.5 → '2:1 split', 4.0 → '1:4 reverse split', 2/3 → '3:2 split', 1.25 → '4:5 reverse split'."""
    k = 1 / q if q < 1 else q
    frac = next(((a, b) for a, b in ((3, 2), (4, 3), (5, 4)) if abs(k - a / b) < 1e-9), None)
    if q < 1:
        return f"{frac[0]}:{frac[1]} split" if frac else f"{k:g}:1 split"
    return f"{frac[1]}:{frac[0]} reverse split" if frac else f"1:{k:g} reverse split"


@dataclass(frozen=True)
class Moves:
    """One-bar moves that are implausible for their ticker (see :func:`find_implausible_moves`).

    Every field is an array with one entry per move: ``row`` (position in the frame), ``kind``
    (``"print"``: the bar jumps and the next bar comes back; ``"split"``: the level changes by a small split
    ratio and stays; ``"shift"``: the level changes by another ratio and stays), ``ratio`` (the split's exact
    ``after / before`` price ratio, NaN unless a split), ``sigma`` (the move in robust standard deviations of
    the ticker's moves around that bar) and ``volume_ratio`` (the bar's volume over the ticker's median volume
    around it; NaN when the volume is unknown).
    """

    row: np.ndarray
    kind: np.ndarray
    ratio: np.ndarray
    sigma: np.ndarray
    volume_ratio: np.ndarray

    def __len__(self) -> int:
        return len(self.row)

    def of(self, kind: str) -> np.ndarray:
        """Rows of the moves of one kind."""
        return self.row[self.kind == kind]


def _empty_moves() -> Moves:
    f = np.zeros(0)
    return Moves(np.zeros(0, dtype=np.int64), np.zeros(0, dtype="<U5"), f, f, f)


def find_implausible_moves(
    log_returns: np.ndarray,
    same_ticker: np.ndarray,
    dates: np.ndarray,
    volume: np.ndarray,
    *,
    max_move_sigma: float = 15.0,
    skip: np.ndarray | None = None,
) -> Moves:
    """One-bar moves that are implausible for their own ticker, classified as bad print, split or level shift.

    Inputs are aligned arrays over the rows of a long frame sorted by ticker, then date: ``log_returns[i]``
    is the log return from row ``i - 1`` to row ``i`` (NaN on each ticker's first row), ``same_ticker[i]``
    says row ``i`` has the ticker of row ``i - 1``, ``dates`` the rows' datetime64 dates, ``volume`` their
    volumes. ``skip`` marks rows already handled elsewhere (split-like and junk jumps).

    A move ``r`` at row ``i`` is measured against the ticker's **robust scale** ``s``: the median absolute log
    return over ``MOVE_WINDOW`` bars each side of ``i`` divided by 0.6745 (the standard deviation for Gaussian
    returns, unmoved by the outliers it looks for), at least half the whole series' and at least
    ``MOVE_SCALE_FLOOR``. With at least ``MOVE_MIN_TICKERS`` tickers on the date, the move is also measured
    net of the day's cross-sectional median return, and the smaller of the two counts: a market-wide crash
    moves every ticker at once and is not suspect. Tickers with fewer than ``MOVE_MIN_RETURNS`` returns are
    not checked, nor returns across more than ``MOVE_MAX_SPAN`` typical bar spacings (a hole, which
    :func:`align_calendars` reports).

    A move is implausible when ``|r| / s`` exceeds ``max_move_sigma`` — or ``HEAVY_VOLUME_FACTOR`` times
    that when the bar trades at least ``HEAVY_VOLUME`` times the ticker's median volume around it (real news
    moves come with heavy volume; bad prints, unadjusted splits and rescaled histories do not) or when the
    volume is unknown (constant). It is then a **print** when the next bar comes back
    (``|r_i + r_{i+1}| <= REVERT_FRACTION * |r_i|``; the next bar is not reported again), a **split** when the
    level stays, ``r`` is within ``clip(2 s, 0.01, 0.02)`` of ``±log k`` for ``k`` in
    :data:`SMALL_SPLIT_RATIOS` and the volume is not heavy for such a split, and a **shift** otherwise.
    """
    r = np.asarray(log_returns, dtype=np.float64)
    n = len(r)
    if n == 0:
        return _empty_moves()
    same = np.asarray(same_ticker, dtype=bool)
    a = np.abs(r)
    gid = np.cumsum(~same) - 1
    starts = np.flatnonzero(~same)
    ends = np.append(starts[1:], n)
    by_ticker = pd.Series(a).groupby(gid)
    counts = by_ticker.count().to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        whole = by_ticker.median().to_numpy() / _MAD_TO_SD
    base = np.maximum(np.nan_to_num(0.5 * whole, nan=0.0), MOVE_SCALE_FLOOR)
    with np.errstate(invalid="ignore"):
        cand = (counts[gid] >= MOVE_MIN_RETURNS) & (a >= max_move_sigma * base[gid])
    if skip is not None:
        cand &= ~skip
    idx = np.flatnonzero(cand)
    if len(idx) == 0:
        return _empty_moves()
    d = np.asarray(dates).astype("datetime64[ns]").view("int64")
    step = np.diff(d)[same[1:]]
    if len(step):  # a return across a long hole is not a one-bar move (the calendar check reports the hole)
        idx = idx[(d[idx] - d[idx - 1]) <= MOVE_MAX_SPAN * max(float(np.median(step)), 86_400e9)]
        if len(idx) == 0:
            return _empty_moves()
    # cross-sectional median return of each candidate's date (only with enough tickers that day)
    cand_days = np.unique(d[idx])
    on_day = np.isin(d, cand_days) & np.isfinite(r)
    day_stats = pd.Series(r[on_day]).groupby(d[on_day]).agg(["median", "count"])
    market = day_stats["median"].where(day_stats["count"] >= MOVE_MIN_TICKERS, 0.0)
    market_of = market.reindex(d[idx]).fillna(0.0).to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows
        local = np.nanmedian(_windows(a, idx, starts[gid[idx]], ends[gid[idx]]), axis=1) / _MAD_TO_SD
    scale = np.fmax(local, base[gid[idx]])
    sigma = np.minimum(a[idx], np.abs(r[idx] - market_of)) / scale
    vr = volume_ratio(volume, idx, same)
    heavy = ~(vr < HEAVY_VOLUME)  # NaN (unknown volume) counts as heavy
    flagged = sigma >= max_move_sigma * np.where(heavy, HEAVY_VOLUME_FACTOR, 1.0)

    rows, kinds, ratios = [], [], []
    log_small = np.log(np.asarray(SMALL_SPLIT_RATIOS))
    split_logs = np.concatenate([log_small, -log_small])
    previous_print = -2
    keep = np.zeros(len(idx), dtype=bool)
    for k in np.flatnonzero(flagged):
        i = idx[k]
        if i == previous_print + 1:
            continue  # the bar that comes back after a bad print
        nxt = r[i + 1] if i + 1 < ends[gid[i]] else np.nan
        ratio = np.nan
        if np.isfinite(nxt) and abs(r[i] + nxt) <= REVERT_FRACTION * a[i]:
            kind = "print"
            previous_print = i
        else:
            dist = np.abs(r[i] - split_logs)
            j = int(np.argmin(dist))
            q = float(np.exp(split_logs[j]))
            near = dist[j] <= min(max(2.0 * scale[k], 0.01), 0.02)
            kind, ratio = ("split", q) if near and not _heavy_for_split(vr[k], q) else ("shift", np.nan)
        keep[k] = True
        rows.append(i)
        kinds.append(kind)
        ratios.append(ratio)
    if not rows:
        return _empty_moves()
    return Moves(np.array(rows, dtype=np.int64), np.array(kinds), np.array(ratios), sigma[keep], vr[keep])


def _windows(values: np.ndarray, rows: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``values`` over ``MOVE_WINDOW`` rows each side of each of ``rows``, NaN outside ``[lo, hi)``:
    (k, 2W+1)."""
    pos = rows[:, None] + np.arange(-MOVE_WINDOW, MOVE_WINDOW + 1)[None, :]
    inside = (pos >= lo[:, None]) & (pos < hi[:, None])
    out = np.asarray(values, dtype=np.float64)[np.clip(pos, 0, len(values) - 1)]
    return np.where(inside, out, np.nan)


def volume_ratio(volume: np.ndarray, rows: np.ndarray, same_ticker: np.ndarray) -> np.ndarray:
    """Volume of each of ``rows`` over its ticker's median volume within ``MOVE_WINDOW`` bars each side.

    NaN when the volume is unknown there (the same positive number on every bar of the window, e.g. the filled
    volume of closes-only data), 0 when the median is 0 (a ticker that hardly trades: stale prints).
    """
    vol = np.asarray(volume, dtype=np.float64)
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) == 0:
        return np.zeros(0)
    same = np.asarray(same_ticker, dtype=bool)
    gid = np.cumsum(~same) - 1
    starts = np.flatnonzero(~same)
    ends = np.append(starts[1:], len(vol))
    w = _windows(vol, rows, starts[gid[rows]], ends[gid[rows]])
    med = np.nanmedian(w, axis=1)
    known = (np.nanmax(w, axis=1) > np.nanmin(w, axis=1)) | (med == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(med > 0, vol[rows] / med, 0.0)
    return np.where(known, ratio, np.nan)


def _heavy_for_split(volume_ratio: float, price_ratio: float) -> bool:
    """Heavy volume for a split of ``price_ratio`` (after / before): a k:1 split multiplies the share volume
    by k, so only more than ``HEAVY_VOLUME`` times that is news-like. Unknown volume (NaN) is not heavy
    here."""
    return bool(volume_ratio >= HEAVY_VOLUME * max(1.0, 1.0 / price_ratio))


def _spread(rows: np.ndarray, tickers: np.ndarray) -> np.ndarray:
    """``rows`` reordered so that examples cover many tickers: each ticker's first row, then each one's
    second..."""
    if len(rows) < 2:
        return rows
    names = tickers[rows]
    rank = pd.Series(names).groupby(names, sort=False).cumcount().to_numpy()
    return rows[np.lexsort((rows, rank))]


def _move_examples(
    df: pd.DataFrame,
    col: str,
    rows: np.ndarray,
    moves: Moves | None = None,
    label: Any = None,
    spread: bool = True,
) -> str:
    """``AAA 2021-03-15 (close 100 → 145, x1.45, 37 sd of AAA's moves, volume 1.0x its median)``; ..."""
    x = df[col].to_numpy(dtype=np.float64)
    c = df["close"].to_numpy(dtype=np.float64)
    t = df["ticker"].to_numpy()
    at = {int(i): j for j, i in enumerate(moves.row)} if moves is not None else {}
    parts = []
    rows = np.asarray(rows, dtype=np.int64)
    if spread:
        rows = _spread(rows, t)
    for i in rows[:MAX_EXAMPLES]:
        i = int(i)
        path = f"{col} {_num(x[i - 1])} → {_num(x[i])}"
        j = at.get(i)
        printed = j is not None and moves is not None and moves.kind[j] == "print" and i + 1 < len(x)
        if printed:
            path += f" → {_num(x[i + 1])}"
        if col != "close" and not np.isclose(c[i] / c[i - 1], x[i] / x[i - 1], rtol=1e-6):
            path += f"; close {_num(c[i - 1])} → {_num(c[i])}" + (f" → {_num(c[i + 1])}" if printed else "")
        bits = [path, f"x{x[i] / x[i - 1]:.4g}"]
        if label is not None:
            bits.append(label(i, j))
        if j is not None and moves is not None:
            bits.append(f"{moves.sigma[j]:.0f} sd of {t[i]}'s moves")
            vr = moves.volume_ratio[j]
            bits.append("volume unknown" if np.isnan(vr) else f"volume {vr:.1f}x its median")
        parts.append(f"{t[i]} {fmt_date(df['date'].iat[i])} ({', '.join(bits)})")
    more = f" and {len(rows) - MAX_EXAMPLES} more" if len(rows) > MAX_EXAMPLES else ""
    return "; ".join(parts) + more


def _check_jumps(
    df: pd.DataFrame,
    on_split: str,
    max_jump: float | None,
    max_move_sigma: float | None,
    on_bad_rows: str,
    pre: str,
) -> pd.DataFrame:
    col = "adj_close" if "adj_close" in df.columns else "close"
    lr, same = _log_returns(df, col)
    split, ratio = find_split_jumps(lr)
    vol = df["volume"].to_numpy(dtype=np.float64)
    if split.any():  # a split does not trade like news: a split-like move on heavy volume is a real move
        rows = np.flatnonzero(split)
        vr = volume_ratio(vol, rows, same)
        real = np.array([_heavy_for_split(v, q) for v, q in zip(vr, ratio[rows])], dtype=bool)
        split[rows[real]] = False
        ratio[rows[real]] = np.nan
    junk = np.zeros(len(lr), dtype=bool)
    if max_jump is not None:
        with np.errstate(invalid="ignore"):
            junk = (np.abs(lr) > np.log(max_jump)) & ~split
    moves = _empty_moves()
    if max_move_sigma is not None:
        moves = find_implausible_moves(
            lr, same, df["date"].to_numpy(), vol, max_move_sigma=max_move_sigma, skip=split | junk
        )
    small = moves.row[moves.kind == "split"]
    split[small] = True
    ratio[small] = moves.ratio[moves.kind == "split"]
    prints, shifts = moves.of("print"), moves.of("shift")
    if not (split.any() or junk.any() or len(moves)):
        return df
    t = df["ticker"].to_numpy()

    errors = []
    junk_rows = np.flatnonzero(junk)
    if len(junk_rows) and on_bad_rows != "repair":
        errors.append(
            f"{pre}{len(junk_rows)} implausible one-bar move(s) larger than x{max_jump:g} that are not a "
            f"split ratio: {_move_examples(df, col, junk_rows)}. The bars before such a jump are usually "
            "junk placeholder prices (e.g. before a listing). Fix: start the data at the jump date "
            "(start=... or MarketData.slice), drop the ticker (tickers=[...]), on_bad_rows='repair' to drop "
            "such tickers with a warning, or pass max_jump=None if the move is real."
        )
    if len(shifts) and on_bad_rows != "repair":
        errors.append(
            f"{pre}{len(shifts)} implausible one-bar move(s) that do not come back and match no split ratio "
            f"(max_move_sigma={max_move_sigma:g}): {_move_examples(df, col, shifts, moves)}. A permanent "
            "level shift this large for the ticker, without the heavy volume of real news, is usually a data "
            "error: an unadjusted spin-off or special distribution, part of the history rescaled, or another "
            "instrument's prices. Fix: check the source, cut the bad part away (start=/end=) or drop the "
            "ticker (tickers=[...]); on_bad_rows='repair' drops such tickers with a warning; pass a larger "
            "max_move_sigma (or None) if the moves are real."
        )
    if len(prints) and on_bad_rows == "raise":
        errors.append(
            f"{pre}{len(prints)} isolated bad print(s), a one-bar move that the next bar takes back "
            f"(max_move_sigma={max_move_sigma:g}): {_move_examples(df, col, prints, moves)}. Fix: "
            "on_bad_rows='drop' or 'repair' drops these bars (the calendar option then treats the date as a "
            "missing bar), or pass a larger max_move_sigma (or None) if the moves are real."
        )
    split_rows = np.flatnonzero(split)

    def split_label(i: int, j: int | None) -> str:
        return f"looks like a {_ratio_label(ratio[i])}"

    split_desc = ""
    if len(split_rows):
        split_desc = (
            f"{len(split_rows)} jump(s) that look like unadjusted splits in {col}: "
            f"{_move_examples(df, col, split_rows, moves, split_label, spread=False)}"
        )
    if len(split_rows) and on_split == "raise":
        errors.append(
            f"{pre}{split_desc}. Returns computed across them are wrong. Fix: use split-adjusted prices "
            "(yfinance auto_adjust=True, or an adj_close column), pass on_split='adjust' (or "
            "on_bad_rows='repair') to back-adjust the earlier bars by the split ratio, or on_split='warn' if "
            "the moves are real."
        )
    if errors:
        raise WealthArenaDataError("\n".join(errors))

    keep = np.ones(len(df), dtype=bool)
    bad_tickers = list(dict.fromkeys(t[np.concatenate([junk_rows, shifts]).astype(np.int64)]))
    if bad_tickers:  # on_bad_rows == "repair": what cannot be repaired goes, with the reason
        reasons = []
        for name in bad_tickers[: MAX_EXAMPLES * 2]:
            junk_t, shift_t = junk_rows[t[junk_rows] == name], shifts[t[shifts] == name]
            if len(junk_t):
                what = f"a move larger than x{max_jump:g}: {_move_examples(df, col, junk_t[:1])}"
            else:
                what = f"a permanent level shift: {_move_examples(df, col, shift_t[:1], moves)}"
            others = len(junk_t) + len(shift_t) - 1
            reasons.append(what + (f" (+{others} more)" if others else ""))
        more = (
            f"; and {len(bad_tickers) - MAX_EXAMPLES * 2} more tickers"
            if len(bad_tickers) > MAX_EXAMPLES * 2
            else ""
        )
        keep &= ~np.isin(t, bad_tickers)
        warn(
            DataRepairWarning,
            f"{pre}dropped {len(bad_tickers)} ticker(s) ({fmt_list(bad_tickers, MAX_EXAMPLES * 2)}) with "
            "implausible moves that on_bad_rows='repair' cannot repair (which side of the jump is wrong is "
            f"unknown) — {'; '.join(reasons)}{more}. Keep a ticker by cutting the bad part away "
            "(start=/end=) or, if the move is real, with a larger max_move_sigma / max_jump.",
        )
    prints = prints[keep[prints]]
    if len(prints):
        keep[prints] = False
        warn(
            DataRepairWarning,
            f"{pre}dropped {len(prints)} isolated bad print(s) (on_bad_rows={on_bad_rows!r}): "
            f"{_move_examples(df, col, prints, moves)}",
        )
    split_rows = split_rows[keep[split_rows]]
    if len(split_rows):
        split_desc = (
            f"{len(split_rows)} jump(s) that look like unadjusted splits in {col}: "
            f"{_move_examples(df, col, split_rows, moves, split_label, spread=False)}"
        )
        if on_split == "warn":
            warn(DataQualityWarning, f"{pre}{split_desc}; kept as they are (on_split='warn')")
        else:  # adjust: scale every earlier bar of the ticker by the exact split ratio
            gid = np.cumsum(~same) - 1
            first = np.flatnonzero(~same)[gid]
            factor = np.ones(len(df))
            for i in split_rows:
                factor[first[i] : i] *= ratio[i]
            df = df.copy()
            for c in _price_cols(df):
                df[c] = df[c].to_numpy(dtype=np.float64) * factor
            df["volume"] = df["volume"].to_numpy(dtype=np.float64) / factor
            warn(
                DataRepairWarning,
                f"{pre}{split_desc}; back-adjusted the earlier bars (prices × ratio, volume ÷ ratio, "
                f"on_split='adjust')",
            )
    if not keep.all():
        df = df.loc[keep].reset_index(drop=True)
    return df


def _check_adj_ratio(df: pd.DataFrame, pre: str) -> None:
    if "adj_close" not in df.columns:
        return
    ratio = df["adj_close"].to_numpy(dtype=np.float64) / df["close"].to_numpy(dtype=np.float64)
    t = df["ticker"].to_numpy()
    if len(ratio) < 2:
        return
    same = t[1:] == t[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        jump = np.zeros(len(ratio), dtype=bool)
        jump[1:] = same & (np.abs(np.log(ratio[1:] / ratio[:-1])) > np.log1p(SPLIT_MIN_MOVE))
    if not jump.any():
        return
    idx = np.flatnonzero(jump)
    c = df["close"].to_numpy()
    a = df["adj_close"].to_numpy()
    ex = "; ".join(
        f"{t[i]} {fmt_date(df['date'].iat[i])} (adj_close/close {ratio[i - 1]:.3g} → {ratio[i]:.3g}; close "
        f"{_num(c[i - 1])} → {_num(c[i])} while adj_close {_num(a[i - 1])} → {_num(a[i])})"
        for i in idx[:MAX_EXAMPLES]
    )
    more = f" and {len(idx) - MAX_EXAMPLES} more" if len(idx) > MAX_EXAMPLES else ""
    warn(
        DataQualityWarning,
        f"{pre}the adj_close/close ratio jumps on {len(idx)} bar(s): {ex}{more}. OHLC are not adjusted for "
        "these events (a split, or an error in the raw prices), so returns computed from close show a "
        "phantom jump there. MarketData.adjusted() rescales OHLC by adj_close/close and removes it (the "
        "environments call it automatically when adj_close is present).",
    )


def _check_zero_volume(df: pd.DataFrame, pre: str) -> None:
    zero = df["volume"].to_numpy(dtype=np.float64) == 0
    if zero.any():
        warn(
            DataQualityWarning,
            f"{pre}{int(zero.sum())} bar(s) have volume 0 (kept: no trades that bar, often stale prints): "
            f"by ticker {_tickers_summary(df['ticker'].to_numpy()[zero])}; first "
            f"{_row_examples(df, zero, ['close'], 3)}",
        )


# ============================================================================ calendars
def align_calendars(
    df: pd.DataFrame,
    *,
    calendar: str = "intersect",
    ffill_limit: int | None = None,
    min_coverage: float = 0.9,
    max_gap_bars: int = MAX_GAP_BARS,
    on_gap: str | None = None,
    where: str | None = None,
) -> tuple[np.ndarray, tuple[str, ...], dict[str, np.ndarray]]:
    """Put a validated long frame on one calendar shared by all tickers.

    Args:
        calendar: ``"intersect"`` keeps the dates every ticker trades (dropped dates are listed in a
            DataRepairWarning); ``"ffill"`` keeps every date inside the common span (from the latest
            first date to the earliest last date) and fills a ticker's missing bar with the previous
            close (open = high = low = close, volume 0), at most ``ffill_limit`` bars in a row;
            ``"strict"`` raises if any calendar differs.
        ffill_limit: longest run of filled bars allowed per ticker (``None``: unlimited).
        min_coverage: raise if the aligned calendar keeps fewer than this fraction of all dates (the
            error names the tickers that start late, end early or have holes).
        max_gap_bars: a **hole** is a run of more than this many missing bars inside the common span — a
            ticker without bars between two of its bars, counted on the union calendar of all tickers, or a
            gap of the union calendar itself (no ticker has a bar), counted in weekdays for daily bars and in
            typical bar spacings for weekly or monthly bars (intraday calendars are not checked for the
            latter). Shorter runs are holidays and halts that ``calendar`` handles.
        on_gap: what to do with holes: ``"raise"`` (the default, unless ``calendar="ffill"``: a bar across a
            hole would span weeks or months), ``"drop_ticker"`` (drop the tickers with holes), ``"cut"`` (keep
            the longest range of dates without a hole) or ``"ffill"`` (fill the hole with the last close,
            volume 0; the default with ``calendar="ffill"``; a gap of the union calendar cannot be filled).
            Each policy says what it did in a DataRepairWarning naming tickers and dates.

    Returns:
        ``(dates, tickers, arrays)`` with ``dates`` datetime64[ns] (T,), ``tickers`` in first-appearance
        order and ``arrays[field]`` float64 (T, N) for each field present.
    """
    _choice("calendar", calendar, _CALENDARS)
    if ffill_limit is not None and (not isinstance(ffill_limit, (int, np.integer)) or ffill_limit < 0):
        raise ConfigError(f"ffill_limit={ffill_limit!r} must be a non-negative integer or None")
    if not (0.0 <= float(min_coverage) <= 1.0):
        raise ConfigError(f"min_coverage={min_coverage!r} must be in [0, 1]")
    if isinstance(max_gap_bars, bool) or not isinstance(max_gap_bars, (int, np.integer)) or max_gap_bars < 0:
        raise ConfigError(
            f"max_gap_bars={max_gap_bars!r} must be a non-negative integer (default {MAX_GAP_BARS})"
        )
    if on_gap is None:
        on_gap = "ffill" if calendar == "ffill" else "raise"
    _choice("on_gap", on_gap, _GAPS)
    pre = _prefix(where)
    tickers = tuple(dict.fromkeys(map(str, df["ticker"])))
    fields = [f for f in ("open", "high", "low", "close", "adj_close", "volume") if f in df.columns]
    tcode = pd.Categorical(df["ticker"].astype(str), categories=list(tickers)).codes
    union, dcode = np.unique(df["date"].to_numpy().astype("datetime64[ns]"), return_inverse=True)
    U, N = len(union), len(tickers)
    present = np.zeros((U, N), dtype=bool)
    present[dcode, tcode] = True
    wide = {}
    for f in fields:
        a = np.full((U, N), np.nan)
        a[dcode, tcode] = df[f].to_numpy(dtype=np.float64)
        wide[f] = a

    holes = find_holes(union, present, max_gap_bars)
    if holes and on_gap != "raise":
        union, tickers, present, wide = _resolve_holes(
            holes, on_gap, union, tickers, present, wide, max_gap_bars, ffill_limit, pre
        )
        holes = []
        U, N = len(union), len(tickers)

    if present.all() and not holes:
        return union, tickers, wide

    lacking = (~present).sum(axis=0)
    rows = present.sum(axis=0)
    first = np.array([union[present[:, j]][0] for j in range(N)])
    last = np.array([union[present[:, j]][-1] for j in range(N)])

    def limiting(mask_cols: np.ndarray | None = None) -> str:
        order: np.ndarray | list[int] = np.argsort(-lacking, kind="stable")
        if mask_cols is not None:
            order = [j for j in order if mask_cols[j]]
        items = [
            f"{tickers[j]} ({rows[j]} rows, {fmt_date(first[j])}..{fmt_date(last[j])}, lacks {lacking[j]} "
            "dates)"
            for j in order
            if lacking[j] > 0
        ]
        return fmt_list(items, MAX_EXAMPLES)

    hole_note = (
        f" Holes longer than max_gap_bars={max_gap_bars}: {_hole_examples(holes, union, tickers)}."
        if holes
        else ""
    )
    if calendar == "strict" and not present.all():
        raise WealthArenaDataError(
            f"{pre}the tickers trade on different calendars ({U} dates in all): {limiting()}. Fix: "
            "calendar='intersect' keeps the common dates, calendar='ffill' fills holidays with the previous "
            f"close, or select tickers from one exchange.{hole_note}"
        )

    if calendar == "ffill":
        lo, hi = first.max(), last.min()
        keep = (union >= lo) & (union <= hi)
    else:
        keep = np.asarray(present.all(axis=1))  # (U,): present is 2-D (the stubs also allow a scalar)
    kept = int(keep.sum())
    if kept == 0 or kept < min_coverage * U:
        span_note = ""
        if calendar == "ffill":
            span_note = f" (the common span {fmt_date(first.max())}..{fmt_date(last.min())})"
        raise WealthArenaDataError(
            f"{pre}aligning {N} tickers with calendar={calendar!r} keeps only {kept} of {U} dates{span_note} "
            f"({kept / U:.1%} < min_coverage={min_coverage:g}). Tickers that limit it: {limiting()}. Fix: "
            "drop those tickers (tickers=[...] or MarketData.select), restrict the dates to where all of "
            "them trade (start=/end=), use calendar='ffill' for holiday gaps, or lower "
            f"min_coverage.{hole_note}"
        )
    if holes:
        raise WealthArenaDataError(
            f"{pre}{len(holes)} hole(s) longer than max_gap_bars={max_gap_bars} bar(s): "
            f"{_hole_examples(holes, union, tickers)}. With calendar={calendar!r} the bars on either side of "
            "a hole would be stitched into one bar whose return spans the whole hole. Fix: "
            "on_gap='drop_ticker' drops these tickers, on_gap='cut' keeps the longest range of dates without "
            "a hole, on_gap='ffill' fills the hole with the last close (volume 0); or cut the dates "
            "(start=/end=), drop the tickers (tickers=[...]), or raise max_gap_bars if such closures are "
            "expected."
        )
    dropped = np.flatnonzero(~keep)
    if calendar == "intersect" and len(dropped):
        ex = []
        for i in dropped[:MAX_EXAMPLES]:
            missing = [tickers[j] for j in np.flatnonzero(~present[i])]
            ex.append(f"{fmt_date(union[i])} (no bar for {fmt_list(missing, 3)})")
        more = f" and {len(dropped) - MAX_EXAMPLES} more" if len(dropped) > MAX_EXAMPLES else ""
        warn(
            DataRepairWarning,
            f"{pre}calendar='intersect' dropped {len(dropped)} of {U} dates where some tickers have no bar: "
            f"{'; '.join(ex)}{more}. Tickers with gaps: {limiting()}. Use calendar='ffill' to keep them.",
        )
    dates = union[keep]
    if calendar == "ffill":
        if len(dropped):
            warn(
                DataRepairWarning,
                f"{pre}calendar='ffill' trimmed {len(dropped)} dates outside the common span "
                f"{fmt_date(dates[0])}..{fmt_date(dates[-1])} (tickers start or end at different dates: "
                f"{limiting()})",
            )
        wide = _ffill(wide, present, keep, union, tickers, ffill_limit, pre)
    out = {f: np.ascontiguousarray(a[keep]) for f, a in wide.items()}
    return dates, tickers, out


#: A hole: ``column`` (ticker position, -1 for a gap of the union calendar), the union-calendar rows
#: ``before`` and ``after`` it (the bars on either side), and ``bars``, the number of bars missing in between.
Hole = tuple[int, int, int, int]


def _expected_missing(dates: np.ndarray) -> np.ndarray:
    """Trading bars expected but absent between consecutive ``dates``: weekdays for daily bars, multiples of
    the typical spacing for weekly or monthly bars, zeros for intraday bars (their nights and weekends are not
    bars)."""
    if len(dates) < 3:
        return np.zeros(max(len(dates) - 1, 0), dtype=np.int64)
    step = np.diff(dates.astype("datetime64[ns]").view("int64")) / 86_400e9
    typical = float(np.median(step))
    if typical < 0.9:
        return np.zeros(len(step), dtype=np.int64)
    if typical <= 1.5:
        days = dates.astype("datetime64[D]")
        return np.busday_count(days[:-1] + 1, days[1:]).astype(np.int64)
    return np.maximum(np.round(step / typical).astype(np.int64) - 1, 0)


def find_holes(dates: np.ndarray, present: np.ndarray, max_gap_bars: int) -> list[Hole]:
    """Runs of more than ``max_gap_bars`` missing bars inside the common span of ``present`` (dates ×
    tickers).

    A ticker's hole lies between two of its own bars, counted on the union calendar ``dates``; a gap of the
    union calendar itself (two consecutive dates farther apart than ``max_gap_bars`` trading bars) is a hole
    of every ticker (``column = -1``). Runs at the edges of the common span are late starts or early ends, not
    holes.
    """
    U, N = present.shape
    if U < 2 or N == 0:
        return []
    any_bar = present.any(axis=0)
    first = np.where(any_bar, np.argmax(present, axis=0), U)
    last = np.where(any_bar, U - 1 - np.argmax(present[::-1], axis=0), -1)
    lo, hi = int(first.max()), int(last.min())
    if lo >= hi:
        return []
    holes: list[Hole] = []
    for j in np.flatnonzero((present[lo : hi + 1] == 0).any(axis=0)):
        pos = np.flatnonzero(present[:, j])
        gap = np.diff(pos) - 1
        for k in np.flatnonzero((gap > max_gap_bars) & (pos[:-1] >= lo) & (pos[1:] <= hi)):
            holes.append((int(j), int(pos[k]), int(pos[k + 1]), int(gap[k])))
    missing = _expected_missing(dates[lo : hi + 1])
    for k in np.flatnonzero(missing > max_gap_bars):
        holes.append((-1, lo + int(k), lo + int(k) + 1, int(missing[k])))
    holes.sort(key=lambda h: (h[1], h[0]))
    return holes


def _hole_examples(holes: list[Hole], dates: np.ndarray, tickers: tuple[str, ...]) -> str:
    parts = []
    for j, before, after, bars in holes[:MAX_EXAMPLES]:
        if j < 0:
            parts.append(
                f"every ticker {fmt_date(dates[before])} → {fmt_date(dates[after])} (no bar at all for "
                f"{bars} trading days)"
            )
        else:
            parts.append(
                f"{tickers[j]} {fmt_date(dates[before + 1])}..{fmt_date(dates[after - 1])} ({bars} bars "
                f"missing between its bars of {fmt_date(dates[before])} and {fmt_date(dates[after])})"
            )
    more = f" and {len(holes) - MAX_EXAMPLES} more" if len(holes) > MAX_EXAMPLES else ""
    return "; ".join(parts) + more


def _resolve_holes(
    holes: list[Hole],
    on_gap: str,
    union: np.ndarray,
    tickers: tuple[str, ...],
    present: np.ndarray,
    wide: dict[str, np.ndarray],
    max_gap_bars: int,
    ffill_limit: int | None,
    pre: str,
) -> tuple[np.ndarray, tuple[str, ...], np.ndarray, dict[str, np.ndarray]]:
    """Apply ``on_gap`` ("drop_ticker", "cut" or "ffill") to ``holes``; return the new calendar and arrays."""
    U, N = present.shape
    what = _hole_examples(holes, union, tickers)
    if on_gap == "drop_ticker":
        cols = sorted(
            {j for j, *_ in holes if j >= 0} | (set(range(N)) if any(j < 0 for j, *_ in holes) else set())
        )
        if len(cols) == N:
            raise WealthArenaDataError(
                f"{pre}on_gap='drop_ticker' would drop every ticker: holes longer than "
                f"max_gap_bars={max_gap_bars} bar(s): {what}. Use on_gap='cut' to keep the longest range of "
                "dates without a hole."
            )
        keep_cols = np.setdiff1d(np.arange(N), cols)
        warn(
            DataRepairWarning,
            f"{pre}on_gap='drop_ticker' dropped {len(cols)} ticker(s) "
            f"({fmt_list([tickers[j] for j in cols], 10)}) with holes longer than "
            f"max_gap_bars={max_gap_bars} bar(s): {what}",
        )
        present = present[:, keep_cols]
        rows = present.any(axis=1)  # dates only the dropped tickers traded
        return (
            union[rows],
            tuple(tickers[j] for j in keep_cols),
            present[rows],
            {f: a[rows][:, keep_cols] for f, a in wide.items()},
        )
    if on_gap == "cut":
        starts = sorted({0} | {after for _, _, after, _ in holes})
        best = (-1, 0, 0)
        for s0 in starts:
            end = min([before for _, before, _, _ in holes if before >= s0] + [U - 1])
            best = max(best, (end - s0 + 1, s0, end))
        _, s0, end = best
        warn(
            DataRepairWarning,
            f"{pre}on_gap='cut' kept {fmt_date(union[s0])}..{fmt_date(union[end])} ({end - s0 + 1} of {U} "
            f"dates), the longest range without a hole longer than max_gap_bars={max_gap_bars} bar(s): "
            f"{what}",
        )
        kept = slice(s0, end + 1)
        keep_cols = np.flatnonzero(present[kept].any(axis=0))  # tickers without a bar there are gone
        if len(keep_cols) < N:
            gone = [tickers[j] for j in np.setdiff1d(np.arange(N), keep_cols)]
            warn(
                DataRepairWarning,
                f"{pre}on_gap='cut': {fmt_list(gone, 10)} have no bar in the kept range; dropped",
            )
        return (
            union[kept],
            tuple(tickers[j] for j in keep_cols),
            present[kept][:, keep_cols],
            {f: a[kept][:, keep_cols] for f, a in wide.items()},
        )
    # ffill
    gaps = [h for h in holes if h[0] < 0]
    if gaps:
        raise WealthArenaDataError(
            f"{pre}on_gap='ffill' cannot fill a gap of the calendar itself (no ticker has a bar there, so "
            f"its dates are unknown): {_hole_examples(gaps, union, tickers)}. Use on_gap='cut' to keep the "
            "longest range of dates without it, or start=/end=."
        )
    if ffill_limit is not None and any(bars > ffill_limit for *_, bars in holes):
        long_ones = [h for h in holes if h[3] > ffill_limit]
        raise WealthArenaDataError(
            f"{pre}holes longer than ffill_limit={ffill_limit} bar(s): "
            f"{_hole_examples(long_ones, union, tickers)}. Fix: raise ffill_limit, pass on_gap='drop_ticker' "
            "or 'cut', or drop those tickers."
        )
    present = present.copy()
    wide = {f: a.copy() for f, a in wide.items()}
    for j, before, after, _ in holes:
        filled = slice(before + 1, after)
        for f, a in wide.items():
            if f == "volume":
                a[filled, j] = 0.0
            elif f == "adj_close":
                a[filled, j] = a[before, j]
            else:
                a[filled, j] = wide["close"][before, j]
        present[filled, j] = True
    warn(
        DataRepairWarning,
        f"{pre}on_gap='ffill' filled {len(holes)} hole(s) longer than max_gap_bars={max_gap_bars} bar(s) "
        f"with the last close (open = high = low = close, volume 0): {what}",
    )
    return union, tickers, present, wide


def _ffill(
    arrays: dict[str, np.ndarray],
    present: np.ndarray,
    keep: np.ndarray,
    dates: np.ndarray,
    tickers: tuple[str, ...],
    limit: int | None,
    pre: str,
) -> dict[str, np.ndarray]:
    """Fill the missing cells of the kept rows from the last bar at or before them (full calendar)."""
    T, N = present.shape
    need = ~present & keep[:, None]
    if not need.any():
        return arrays
    # length of the run of missing bars ending at each cell
    run = np.zeros((T, N), dtype=np.int64)
    for i in range(T):
        run[i] = np.where(present[i], 0, (run[i - 1] if i else 0) + 1)
    over = (run > limit) & need if limit is not None else np.zeros_like(need)
    if over.any():
        ex = []
        for j in np.flatnonzero(over.any(axis=0))[:MAX_EXAMPLES]:
            end = int(np.argmax(np.where(need[:, j], run[:, j], -1)))
            start = end - int(run[end, j]) + 1
            ex.append(f"{tickers[j]} {fmt_date(dates[start])}..{fmt_date(dates[end])} ({run[end, j]} bars)")
        raise WealthArenaDataError(
            f"{pre}gaps longer than ffill_limit={limit} bar(s): {'; '.join(ex)}. Fix: raise ffill_limit, "
            "use calendar='intersect', or drop those tickers."
        )
    # row of the last present bar at or before each cell
    idx = np.where(present, np.arange(T)[:, None], 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    cols = np.arange(N)[None, :]
    prev_close = arrays["close"][idx, cols]
    out = {}
    for f, a in arrays.items():
        if f == "volume":
            filled = np.where(need, 0.0, a)
        elif f == "adj_close":
            filled = np.where(need, a[idx, cols], a)
        else:
            filled = np.where(need, prev_close, a)
        out[f] = filled
    per = {tickers[j]: int(need[:, j].sum()) for j in range(N) if need[:, j].any()}
    warn(
        DataRepairWarning,
        f"{pre}calendar='ffill' filled {int(need.sum())} missing bar(s) with the previous close "
        f"(open=high=low=close, volume 0): {fmt_list([f'{t} ({k})' for t, k in per.items()], 8)}",
    )
    return out
