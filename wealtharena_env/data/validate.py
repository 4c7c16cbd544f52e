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
near log 2, 3, 1/2…)                                   volume ÷ ratio)
implausible jump       raise                           ``max_jump=None`` disables
(ratio > max_jump)
adj_close/close jump   DataQualityWarning              (``MarketData.adjusted()`` absorbs it)
volume == 0            DataQualityWarning, kept        —
calendars differ       ``calendar="intersect"``: drop  ``"ffill"`` (fill gaps up to
across tickers         dates + DataRepairWarning       ``ffill_limit`` bars), ``"strict"`` (raise)
=====================  ==============================  ===========================================

Returns are measured on ``adj_close`` when present (that is what :meth:`MarketData.adjusted` trades),
otherwise on ``close``.
"""

from __future__ import annotations

import os
import sys
import warnings
from types import FrameType
from typing import Any

import numpy as np
import pandas as pd

from wealtharena_env.data._common import MAX_EXAMPLES, PRICE_FIELDS, fmt_date, fmt_list
from wealtharena_env.errors import ConfigError, WealthArenaDataError

__all__ = [
    "SPLIT_RATIOS",
    "DataQualityWarning",
    "DataRepairWarning",
    "DataWarning",
    "align_calendars",
    "find_split_jumps",
    "validate_frame",
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

_BAD_ROWS = ("raise", "drop", "repair")
_DUPLICATES = ("raise", "first", "last")
_SPLITS = ("raise", "warn", "adjust")
_CALENDARS = ("intersect", "ffill", "strict")
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
    on_split: str = "raise",
    max_jump: float | None = 10.0,
    where: str | None = None,
) -> pd.DataFrame:
    """Check (and where asked, repair) a canonical long frame; return it sorted by ticker, date.

    Args:
        df: canonical long frame (see :mod:`wealtharena_env.data.layouts`).
        on_bad_rows: ``"raise"`` | ``"drop"`` | ``"repair"`` for NaN/inf values, non-positive prices,
            negative volume and OHLC inconsistencies (high < low, open/close outside [low, high]).
        on_duplicate: ``"raise"`` | ``"first"`` | ``"last"`` for several *different* rows with the
            same (ticker, date). Identical duplicates are always collapsed with a warning.
        on_split: ``"raise"`` | ``"warn"`` | ``"adjust"`` for split-like jumps.
        max_jump: price ratio above which a one-bar move that is not split-like is rejected as junk
            (``None`` disables the check).
        where: a label for messages (file name, "yfinance", ...).
    """
    _choice("on_bad_rows", on_bad_rows, _BAD_ROWS)
    _choice("on_duplicate", on_duplicate, _DUPLICATES)
    _choice("on_split", on_split, _SPLITS)
    if max_jump is not None and not (np.isfinite(max_jump) and max_jump > 1.0):
        raise ConfigError(f"max_jump={max_jump!r} must be a ratio > 1 (e.g. 10.0) or None")
    pre = _prefix(where)
    if len(df) == 0:
        raise WealthArenaDataError(f"{pre}no rows of market data (the frame is empty)")
    df = df.reset_index(drop=True).copy()
    if df["date"].isna().any():
        bad = df["date"].isna().to_numpy()
        raise WealthArenaDataError(
            f"{pre}{int(bad.sum())} row(s) have no date (NaT), e.g. ticker {df['ticker'][bad].iloc[0]} at row "
            f"{int(np.flatnonzero(bad)[0])}; every bar needs a date"
        )
    df = _check_missing(df, on_bad_rows, pre)
    df = _check_nonpositive(df, on_bad_rows, pre)
    df = _sort(df, pre)
    df = _check_duplicates(df, on_duplicate, pre)
    df = _check_ohlc(df, on_bad_rows, pre)
    df = _check_jumps(df, on_split, max_jump, pre)
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
            f"them by date. First out-of-order bar: {tickers[ct[i]]} {fmt_date(dt[i].astype('datetime64[ns]'))}",
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
            "(high := max(o,h,l,c), low := min(o,h,l,c)), on_bad_rows='drop' to drop the rows, or clean the source."
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
    with np.errstate(invalid="ignore"):
        dist = np.abs(r[..., None] - cands)
        best = np.argmin(np.where(np.isnan(dist), np.inf, dist), axis=-1)
        near = np.take_along_axis(dist, best[..., None], axis=-1)[..., 0] < SPLIT_LOG_TOL
        big = np.abs(r) > np.log1p(SPLIT_MIN_MOVE)
    mask = near & big & np.isfinite(r)
    ratio = np.where(mask, np.exp(cands[best]), np.nan)
    return mask, ratio


def _ratio_label(q: float) -> str:
    """0.5 → '2:1 split', 4.0 → '1:4 reverse split'."""
    if q < 1:
        k = 1 / q
        return f"{k:g}:1 split" if k != 1.5 else "3:2 split"
    return f"1:{q:g} reverse split" if q != 1.5 else "2:3 reverse split"


def _check_jumps(df: pd.DataFrame, on_split: str, max_jump: float | None, pre: str) -> pd.DataFrame:
    col = "adj_close" if "adj_close" in df.columns else "close"
    lr, _ = _log_returns(df, col)
    split, ratio = find_split_jumps(lr)
    x = df[col].to_numpy(dtype=np.float64)
    if max_jump is not None:
        with np.errstate(invalid="ignore"):
            junk = (np.abs(lr) > np.log(max_jump)) & ~split
        if junk.any():
            idx = np.flatnonzero(junk)
            ex = "; ".join(
                f"{df['ticker'].iat[i]} {fmt_date(df['date'].iat[i])} ({col} {_num(x[i - 1])} → {_num(x[i])}, "
                f"x{np.exp(lr[i]):.4g})"
                for i in idx[:MAX_EXAMPLES]
            )
            more = f" and {len(idx) - MAX_EXAMPLES} more" if len(idx) > MAX_EXAMPLES else ""
            raise WealthArenaDataError(
                f"{pre}{len(idx)} implausible one-bar move(s) larger than x{max_jump:g} that are not a "
                f"split ratio: {ex}{more}. The bars before such a jump are usually junk placeholder prices "
                "(e.g. before a listing). Fix: start the data at the jump date (start=... or "
                "MarketData.slice), drop the ticker (tickers=[...]), or pass max_jump=None if the move is real."
            )
    if not split.any():
        return df
    idx = np.flatnonzero(split)
    ex = "; ".join(
        f"{df['ticker'].iat[i]} {fmt_date(df['date'].iat[i])} ({col} {_num(x[i - 1])} → {_num(x[i])}, "
        f"looks like a {_ratio_label(ratio[i])})"
        for i in idx[:MAX_EXAMPLES]
    )
    more = f" and {len(idx) - MAX_EXAMPLES} more" if len(idx) > MAX_EXAMPLES else ""
    desc = f"{len(idx)} jump(s) that look like unadjusted splits in {col}: {ex}{more}"
    if on_split == "raise":
        raise WealthArenaDataError(
            f"{pre}{desc}. Returns computed across them are wrong. Fix: use split-adjusted prices "
            "(yfinance auto_adjust=True, or an adj_close column), pass on_split='adjust' to back-adjust the "
            "earlier bars by the split ratio, or on_split='warn' if the moves are real."
        )
    if on_split == "warn":
        warn(DataQualityWarning, f"{pre}{desc}; kept as they are (on_split='warn')")
        return df
    # adjust: scale every earlier bar of the ticker by the exact split ratio
    df = df.copy()
    t = df["ticker"].to_numpy()
    d = df["date"].to_numpy()
    factor = np.ones(len(df))
    for i in idx:
        earlier = (t == t[i]) & (d < d[i])
        factor[earlier] *= ratio[i]
    for c in _price_cols(df):
        df[c] = df[c].to_numpy(dtype=np.float64) * factor
    df["volume"] = df["volume"].to_numpy(dtype=np.float64) / factor
    warn(
        DataRepairWarning,
        f"{pre}{desc}; back-adjusted the earlier bars (prices × ratio, volume ÷ ratio, on_split='adjust')",
    )
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
        "these events (a split, or an error in the raw prices), so returns computed from close show a phantom "
        "jump there. MarketData.adjusted() rescales OHLC by adj_close/close and removes it (the environments "
        "call it automatically when adj_close is present).",
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

    Returns:
        ``(dates, tickers, arrays)`` with ``dates`` datetime64[ns] (T,), ``tickers`` in first-appearance
        order and ``arrays[field]`` float64 (T, N) for each field present.
    """
    _choice("calendar", calendar, _CALENDARS)
    if ffill_limit is not None and (not isinstance(ffill_limit, (int, np.integer)) or ffill_limit < 0):
        raise ConfigError(f"ffill_limit={ffill_limit!r} must be a non-negative integer or None")
    if not (0.0 <= float(min_coverage) <= 1.0):
        raise ConfigError(f"min_coverage={min_coverage!r} must be in [0, 1]")
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

    if present.all():
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
            f"{tickers[j]} ({rows[j]} rows, {fmt_date(first[j])}..{fmt_date(last[j])}, lacks {lacking[j]} dates)"
            for j in order
            if lacking[j] > 0
        ]
        return fmt_list(items, MAX_EXAMPLES)

    if calendar == "strict":
        raise WealthArenaDataError(
            f"{pre}the tickers trade on different calendars ({U} dates in all): {limiting()}. Fix: "
            "calendar='intersect' keeps the common dates, calendar='ffill' fills holidays with the previous "
            "close, or select tickers from one exchange."
        )

    if calendar == "intersect":
        keep = np.asarray(present.all(axis=1))  # (U,): present is 2-D (the stubs also allow a scalar)
    else:
        lo, hi = first.max(), last.min()
        keep = (union >= lo) & (union <= hi)
    kept = int(keep.sum())
    if kept == 0 or kept < min_coverage * U:
        span_note = ""
        if calendar == "ffill":
            span_note = f" (the common span {fmt_date(first.max())}..{fmt_date(last.min())})"
        raise WealthArenaDataError(
            f"{pre}aligning {N} tickers with calendar={calendar!r} keeps only {kept} of {U} dates{span_note} "
            f"({kept / U:.1%} < min_coverage={min_coverage:g}). Tickers that limit it: {limiting()}. Fix: drop "
            "those tickers (tickers=[...] or MarketData.select), restrict the dates to where all of them trade "
            "(start=/end=), use calendar='ffill' for holiday gaps, or lower min_coverage."
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
