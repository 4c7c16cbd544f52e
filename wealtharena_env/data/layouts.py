"""Recognise the DataFrame layouts people hand us and turn them into one canonical long frame.

Canonical long frame: one row per (ticker, date) with columns
``date`` (datetime64[ns], tz-naive), ``ticker`` (str), ``open, high, low, close, [adj_close,] volume``
(float64). Rows keep their input order; validation sorts them.

Accepted layouts:

* **long** — columns ``date, ticker, open, high, low, close[, adj_close], volume``. Names are matched
  case-, space- and punctuation-insensitively, so ``Date``, ``Adj Close``, ``adj_close``, ``AdjClose``,
  ``Symbol`` and Alpha Vantage's ``1. open`` all work. The date may also be the index (or an index
  level together with the ticker).
* **wide** — a column MultiIndex with one level of fields and one of tickers, in either order:
  ``(field, ticker)`` (yfinance ``group_by="column"``, the default: levels ``Price, Ticker``) or
  ``(ticker, field)`` (yfinance ``group_by="ticker"``). Dates are the index.
* **single ticker** — plain OHLCV columns without a ticker column (yfinance with
  ``multi_level_index=False``, or one CSV per ticker); the ticker name comes from ``ticker=``.
* **closes** — a plain table of closing prices, dates × tickers: the dates in the index or in a date column,
  every other column a ticker's numeric closes (``yf.download(...)["Close"]``, most CSV exports, most
  papers' datasets).

**Closes only.** Any layout may carry only ``close`` (or only ``adj_close``) per ticker, with or without a
volume: the missing fields are filled, once, with a :class:`~wealtharena_env.data.DataQualityWarning` that
says so — ``open = high = low = close`` (no intrabar range: fills happen at the close's price, and the
range-based indicators — NATR, stochastic %K, Williams %R, CCI, ADX — are degenerate), and an unknown
volume becomes ``UNKNOWN_VOLUME`` shares a bar: the participation cap and the square-root market impact
then never bind (half-spread and commission still apply) and the volume-based indicators (MFI, CMF) carry
no information.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pandas as pd

from wealtharena_env.data._common import (
    ALL_FIELDS,
    MAX_EXAMPLES,
    REQUIRED_FIELDS,
    fmt_date,
    fmt_list,
    to_datetime_index,
)
from wealtharena_env.errors import ConfigError, WealthArenaDataError

_FIELD_ALIASES: dict[str, str] = {
    "open": "open",
    "o": "open",
    "high": "high",
    "h": "high",
    "low": "low",
    "l": "low",
    "close": "close",
    "c": "close",
    "adjclose": "adj_close",
    "adjustedclose": "adj_close",
    "adjcloseprice": "adj_close",
    "volume": "volume",
    "vol": "volume",
    "v": "volume",
}
_DATE_ALIASES = {"date", "datetime", "timestamp", "time", "day", "datadate"}
#: The volume of a bar whose volume the data does not give: large enough that no participation cap or impact
#: binds, finite so that every check and indicator stays finite.
UNKNOWN_VOLUME = 1e15
_TICKER_ALIASES = {"ticker", "symbol", "tic", "asset", "name", "code", "instrument"}


def _key(name: Any) -> str:
    """Normalise a column name: ``' 1. Adj Close '`` → ``'adjclose'``."""
    s = str(name).strip().lower()
    s = re.sub(r"^\d+\.\s*", "", s)  # Alpha Vantage "1. open"
    return re.sub(r"[\s_\-\.]+", "", s)


def field_name(name: Any) -> str | None:
    """The canonical field for a column name (``'Adj Close'`` → ``'adj_close'``) or ``None``."""
    return _FIELD_ALIASES.get(_key(name))


def _is_date_name(name: Any) -> bool:
    return _key(name) in _DATE_ALIASES


def _is_ticker_name(name: Any) -> bool:
    return _key(name) in _TICKER_ALIASES


def detect_layout(df: pd.DataFrame) -> str:
    """Return ``"wide"``, ``"long"`` or ``"single"`` for a DataFrame (a clear error otherwise)."""
    if not isinstance(df, pd.DataFrame):
        raise ConfigError(f"expected a pandas DataFrame, got {type(df).__name__}")
    if isinstance(df.columns, pd.MultiIndex):
        return "wide"
    cols = list(df.columns) + [n for n in df.index.names if n is not None]
    if any(_is_ticker_name(c) for c in cols):
        return "long"
    if any(field_name(c) for c in df.columns):
        return "single"
    if _looks_like_closes(df):
        return "closes"
    raise WealthArenaDataError(
        f"cannot recognise the DataFrame layout: columns {fmt_list(map(str, df.columns), 12)}. Expected "
        "long (date, ticker, open, high, low, close[, adj_close], volume), wide (column MultiIndex of "
        "(field, ticker) or (ticker, field), as yfinance returns), one ticker's OHLCV columns, or a table of "
        "closes (dates in the index or a 'date' column, one numeric column per ticker)."
    )


def _looks_like_closes(df: pd.DataFrame) -> bool:
    """Dates (index or one date column) and only numeric columns otherwise: a dates x tickers table of
    closes."""
    values = [c for c in df.columns if not _is_date_name(c)]
    dated = (
        len(values) < len(df.columns)
        or isinstance(df.index, pd.DatetimeIndex)
        or (len(df.index) > 0 and df.index.dtype == object)
    )
    return bool(values) and dated and all(_mostly_numeric(df[c]) for c in values)


def _mostly_numeric(col: pd.Series) -> bool:
    """Numeric, or text of which most values are numbers (the others are then named as non-numeric values)."""
    if pd.api.types.is_numeric_dtype(col):
        return True
    if not (pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)):
        return False
    given = col.dropna()
    return len(given) > 0 and pd.to_numeric(given, errors="coerce").notna().mean() >= 0.5


def to_long(df: pd.DataFrame, *, ticker: str | None = None) -> pd.DataFrame:
    """Convert any accepted layout to the canonical long frame (see the module docstring)."""
    layout = detect_layout(df)
    filled: dict[str, list[str]] = {}  # field -> tickers whose field was filled (closes-only data)
    if layout == "wide":
        out = _wide_to_long(df, filled)
    elif layout == "long":
        out = _long_to_long(df, filled)
    elif layout == "closes":
        out = _closes_to_long(df, filled)
    else:
        out = _single_to_long(df, ticker, filled)
    if filled:
        from wealtharena_env.data.validate import DataQualityWarning, warn

        groups: dict[tuple[str, ...], list[str]] = {}  # tickers -> the fields filled for them
        for field, ts in filled.items():
            groups.setdefault(tuple(sorted(set(ts))), []).append(field)
        what = "; ".join(f"{', '.join(fields)} of {fmt_list(ts, 6)}" for ts, fields in groups.items())
        warn(
            DataQualityWarning,
            f"closes-only data: filled {what} — "
            f"open = high = low = close, unknown volume = {UNKNOWN_VOLUME:.0e} shares a bar, so the "
            "participation cap and market impact never bind and the range- and volume-based indicators are "
            "degenerate (docs/data.md)",
        )
    return out


# ---------------------------------------------------------------------------- layouts
def _field_level(columns: pd.MultiIndex) -> int:
    if columns.nlevels != 2:
        raise WealthArenaDataError(
            f"wide frames need a 2-level column MultiIndex (field, ticker) or (ticker, field); got "
            f"{columns.nlevels} levels {list(columns.names)}"
        )
    scores = []
    for lvl in range(2):
        values = list(columns.get_level_values(lvl).unique())
        scores.append(sum(field_name(v) is not None for v in values) / max(len(values), 1))
    if max(scores) == 0:
        raise WealthArenaDataError(
            "wide frame: neither column level holds OHLCV field names (Open, High, Low, Close, Adj Close, "
            f"Volume); levels are {list(columns.names)} with values "
            f"{fmt_list(columns.get_level_values(0).unique(), 6)} / "
            f"{fmt_list(columns.get_level_values(1).unique(), 6)}"
        )
    if scores[0] == scores[1]:
        # e.g. a ticker literally called "Open": prefer the level named like yfinance's "Price"
        names = [_key(n) for n in columns.names]
        if names[1] in {"price", "field", "attribute"}:
            return 1
        return 0
    return int(np.argmax(scores))


def _wide_to_long(df: pd.DataFrame, filled: dict[str, list[str]]) -> pd.DataFrame:
    flvl = _field_level(df.columns)
    tlvl = 1 - flvl
    tickers = list(dict.fromkeys(str(t) for t in df.columns.get_level_values(tlvl)))
    dates = _index_dates(df, tickers=tickers)
    parts = []
    for t in tickers:
        sub = df.loc[:, df.columns.get_level_values(tlvl).astype(str) == t]
        sub.columns = sub.columns.get_level_values(flvl)
        part = _rename_fields(
            sub, where=f"ticker {t!r}", filled=filled, ticker=t, row_tickers=t, row_dates=dates
        )
        part.insert(0, "ticker", t)
        part.insert(0, "date", dates)
        # a multi-ticker download has one row per date of the *union* calendar; rows where this
        # ticker has no bar at all are layout padding, not bad data
        fields = [c for c in ALL_FIELDS if c in part.columns]
        part = part.loc[~part[fields].isna().all(axis=1).to_numpy()]
        parts.append(part)
    if not parts:
        return _empty_long()
    return _finish(pd.concat(parts, ignore_index=True))


def _long_to_long(df: pd.DataFrame, filled: dict[str, list[str]]) -> pd.DataFrame:
    frame = df
    idx_names = [n for n in frame.index.names if n is not None]
    if idx_names and any(_is_date_name(n) or _is_ticker_name(n) for n in idx_names):
        frame = frame.reset_index()
    date_cols = [c for c in frame.columns if _is_date_name(c)]
    tick_cols = [c for c in frame.columns if _is_ticker_name(c)]
    if len(tick_cols) > 1:
        # "Name" is only a fallback (old Yahoo exports used it for the ticker); prefer the others
        tick_cols = [c for c in tick_cols if _key(c) != "name"] or tick_cols
    if len(tick_cols) > 1:
        raise WealthArenaDataError(f"long frame has several ticker columns {tick_cols}; keep one")
    if len(date_cols) > 1:
        raise WealthArenaDataError(f"long frame has several date columns {date_cols}; keep one")
    tick = frame[tick_cols[0]]
    raw_names = tick.to_numpy()
    if date_cols:
        dates = parse_dates(
            frame[date_cols[0]].to_numpy(), what=f"column {date_cols[0]!r}", tickers=raw_names
        )
    elif isinstance(frame.index, pd.DatetimeIndex):
        dates = _index_dates(frame)
    else:
        raise WealthArenaDataError(
            f"long frame has no date column: columns are {fmt_list(map(str, frame.columns), 12)}; "
            "name it 'date' (or put the dates in the index)"
        )
    names = tick.astype(str).str.strip().to_numpy()
    empty = tick.isna().to_numpy() | (names == "")
    if empty.any():
        rows = np.flatnonzero(empty)
        ex = "; ".join(f"row {i} (date {fmt_date(dates[i])})" for i in rows[:MAX_EXAMPLES])
        more = f" and {len(rows) - MAX_EXAMPLES} more" if len(rows) > MAX_EXAMPLES else ""
        raise WealthArenaDataError(
            f"long frame: ticker column {tick_cols[0]!r} is empty in {len(rows)} row(s): {ex}{more}; every "
            "row needs a ticker. Fix: fill in the ticker, or drop those rows."
        )
    body = frame.drop(columns=date_cols + tick_cols)
    out = _rename_fields(
        body,
        where="long frame",
        ignore_unknown=True,
        filled=filled,
        ticker=sorted(set(names)),
        row_tickers=names,
        row_dates=dates,
    )
    out.insert(0, "ticker", names)
    out.insert(0, "date", dates)
    return _finish(out.reset_index(drop=True))


def _single_to_long(df: pd.DataFrame, ticker: str | None, filled: dict[str, list[str]]) -> pd.DataFrame:
    if ticker is None:
        ticker = df.attrs.get("ticker") if isinstance(df.attrs.get("ticker"), str) else None
    if ticker is None:
        raise ConfigError(
            "this DataFrame holds one ticker's OHLCV columns but no ticker column; pass its name, "
            "e.g. from_dataframe(df, ticker='AAPL'), or add a 'ticker' column"
        )
    frame = df
    date_cols = [c for c in frame.columns if _is_date_name(c)]
    if date_cols:
        dates = parse_dates(
            frame[date_cols[0]].to_numpy(), what=f"column {date_cols[0]!r}", tickers=[str(ticker)]
        )
        frame = frame.drop(columns=date_cols)
    else:
        dates = _index_dates(frame, tickers=[str(ticker)])
    out = _rename_fields(
        frame,
        where=f"ticker {ticker!r}",
        ignore_unknown=True,
        filled=filled,
        ticker=str(ticker),
        row_tickers=str(ticker),
        row_dates=dates,
    )
    out.insert(0, "ticker", str(ticker))
    out.insert(0, "date", dates)
    fields = [c for c in ALL_FIELDS if c in out.columns]
    out = out.loc[~out[fields].isna().all(axis=1).to_numpy()]
    return _finish(out.reset_index(drop=True))


def _closes_to_long(df: pd.DataFrame, filled: dict[str, list[str]]) -> pd.DataFrame:
    """A dates x tickers table of closes (dates in the index or a date column) to the long frame."""
    date_cols = [c for c in df.columns if _is_date_name(c)]
    if len(date_cols) > 1:
        raise WealthArenaDataError(f"table of closes has several date columns {date_cols}; keep one")
    names = [str(c).strip() for c in df.columns if not _is_date_name(c)]
    if date_cols:
        dates = parse_dates(df[date_cols[0]].to_numpy(), what=f"column {date_cols[0]!r}", tickers=names)
        frame = df.drop(columns=date_cols)
    else:
        dates = _index_dates(df, tickers=names)
        frame = df
    parts = []
    for column in frame.columns:
        t = str(column).strip()
        part = _numeric_fields(
            frame[[column]], {column: "close"}, "table of closes", row_tickers=t, row_dates=dates
        )
        part = _rename_fields(part, where=f"ticker {t!r}", filled=filled, ticker=t)
        part.insert(0, "ticker", t)
        part.insert(0, "date", dates)
        parts.append(part.loc[~np.isnan(part["close"].to_numpy())])  # the union calendar's padding
    if not parts:
        return _empty_long()
    return _finish(pd.concat(parts, ignore_index=True))


# ---------------------------------------------------------------------------- helpers
def parse_dates(values: Any, *, what: str, tickers: Any = None) -> pd.DatetimeIndex:
    """Dates of a column (or index) as a tz-naive ``DatetimeIndex``; values that are not dates are named.

    ``tickers`` (one name, or one per value, or the frame's tickers when a row holds several) goes into the
    message: ``column 'date' holds 2 value(s) that are not dates: '2024-13-45' at row 8 (ticker BBB); ...``.
    Empty values become NaT (the validation then names their rows).
    """
    try:
        return to_datetime_index(values, what=what)
    except ConfigError as exc:
        raw = pd.Series(np.asarray(values, dtype=object))
        text = raw.where(raw.isna(), raw.astype(str).str.strip())
        first = text.dropna()
        fmt = None
        if len(first):
            from pandas.tseries.api import guess_datetime_format

            fmt = guess_datetime_format(str(first.iloc[0]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(text, format=fmt or "mixed", errors="coerce")
        bad = np.flatnonzero(parsed.isna().to_numpy() & text.notna().to_numpy())
        if len(bad) == 0:
            raise WealthArenaDataError(str(exc)) from None

        def who(i: int) -> str:
            if tickers is None:
                return ""
            if isinstance(tickers, str):
                return f" (ticker {tickers})"
            names = list(tickers)
            if len(names) == len(raw):
                return f" (ticker {names[i]})"
            return f" (tickers {fmt_list(names, 4)})"

        ex = "; ".join(f"{raw.iat[i]!r} at row {i}{who(i)}" for i in bad[:MAX_EXAMPLES])
        more = f" and {len(bad) - MAX_EXAMPLES} more" if len(bad) > MAX_EXAMPLES else ""
        in_fmt = f" in the format of the others ({fmt})" if fmt else ""
        raise WealthArenaDataError(
            f"{what} holds {len(bad)} value(s) that are not dates{in_fmt}: {ex}{more}. Fix: correct those "
            "values or drop their rows; every bar needs a date such as '2020-01-31', all in one format."
        ) from None


def _index_dates(df: pd.DataFrame, tickers: Any = None) -> pd.DatetimeIndex:
    idx = df.index
    if isinstance(idx, pd.MultiIndex):
        raise WealthArenaDataError(
            f"expected dates in the index, got a MultiIndex {list(idx.names)}; reset_index() first"
        )
    if len(idx) and not isinstance(idx, pd.DatetimeIndex) and idx.dtype.kind in "iuf":
        raise WealthArenaDataError(
            "the index holds numbers, not dates; put the dates in the index (df.set_index('Date')) "
            "or in a 'date' column"
        )
    return parse_dates(idx, what="the index (dates)", tickers=tickers)


def _rename_fields(
    frame: pd.DataFrame,
    *,
    where: str,
    ignore_unknown: bool = False,
    filled: dict[str, list[str]] | None = None,
    ticker: Any = None,
    row_tickers: Any = None,
    row_dates: Any = None,
) -> pd.DataFrame:
    mapping: dict[Any, str] = {}
    for c in frame.columns:
        f = field_name(c)
        if f is None:
            continue
        if f in mapping.values():
            other = next(k for k, v in mapping.items() if v == f)
            raise WealthArenaDataError(f"{where}: columns {other!r} and {c!r} both mean {f!r}; keep one")
        mapping[c] = f
    missing = [f for f in REQUIRED_FIELDS if f not in mapping.values()]
    has_close = "close" in mapping.values() or "adj_close" in mapping.values()
    closes_only = has_close and {"open", "high", "low"} <= set(missing)  # no intrabar prices at all
    if filled is not None and (closes_only or missing == ["volume"]):  # fill the rest (to_long warns once)
        return _fill_closes_only(frame, mapping, missing, filled, ticker, where, row_tickers, row_dates)
    if missing:
        raise WealthArenaDataError(
            f"{where}: missing column(s) {', '.join(missing)}; found "
            f"{fmt_list(map(str, frame.columns), 12)}. Expected open, high, low, close, volume (and "
            "optionally adj_close / 'Adj Close')."
        )
    out = _numeric_fields(frame, mapping, where, row_tickers=row_tickers, row_dates=row_dates)
    return out[[f for f in ALL_FIELDS if f in out.columns]]


def _fill_closes_only(
    frame: pd.DataFrame,
    mapping: dict[Any, str],
    missing: list[str],
    filled: dict[str, list[str]],
    ticker: Any,
    where: str,
    row_tickers: Any = None,
    row_dates: Any = None,
) -> pd.DataFrame:
    """Bars from closes: ``open = high = low = close`` where missing (``close := adj_close`` if only that is
    given), volume ``UNKNOWN_VOLUME`` where missing; records what was filled in ``filled``."""
    out = _numeric_fields(frame, mapping, where, row_tickers=row_tickers, row_dates=row_dates)
    if "close" not in out.columns:
        out["close"] = out["adj_close"]
    tickers = list(ticker) if isinstance(ticker, (list, tuple)) else [str(ticker)]
    for f in missing:
        out[f] = UNKNOWN_VOLUME if f == "volume" else out["close"]
        if f != "close":
            filled.setdefault(f, []).extend(tickers)
    return out[[f for f in ALL_FIELDS if f in out.columns]]


def _numeric_fields(
    frame: pd.DataFrame,
    mapping: dict[Any, str],
    where: str,
    *,
    row_tickers: Any = None,
    row_dates: Any = None,
) -> pd.DataFrame:
    """The mapped columns as float64 under their canonical names; non-numeric values are an error naming the
    column, the value, the row and — given ``row_tickers`` (one name or one per row) and ``row_dates`` — the
    ticker and date of each."""
    out = pd.DataFrame(index=range(len(frame)))
    for c, f in mapping.items():
        col = frame[c]
        values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.flatnonzero(np.isnan(values) & ~pd.isna(col).to_numpy())
        if len(bad):

            def cell(i: int, col: pd.Series = col) -> str:
                t = row_tickers if isinstance(row_tickers, str) or row_tickers is None else row_tickers[i]
                d = fmt_date(row_dates[i]) if row_dates is not None else f"index {frame.index[i]!r}"
                return (
                    f"{col.iloc[i]!r} at row {i} ("
                    + (f"ticker {t}, " if t is not None else "")
                    + f"date {d})"
                )

            more = ""
            if len(bad) > 1:
                more = f"; {len(bad) - 1} more: " + "; ".join(cell(i) for i in bad[1:MAX_EXAMPLES])
                more += f" and {len(bad) - MAX_EXAMPLES} others" if len(bad) > MAX_EXAMPLES else ""
            raise WealthArenaDataError(
                f"{where}: column {c!r}{'' if str(c) == f else f' ({f})'} holds non-numeric value "
                f"{cell(bad[0])}{more}. Fix: clean the source, "
                f"or convert with pd.to_numeric(df[{c!r}], errors='coerce') so that the values become NaN, "
                "which on_bad_rows='drop' / 'repair' handle."
            )
        out[f] = values
    return out


def _finish(out: pd.DataFrame) -> pd.DataFrame:
    out["date"] = pd.DatetimeIndex(out["date"]).as_unit("ns")
    out["ticker"] = out["ticker"].astype(object)
    return out.reset_index(drop=True)


def _empty_long() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": pd.DatetimeIndex([], dtype="datetime64[ns]"),
            "ticker": pd.Series([], dtype=object),
            **{f: pd.Series([], dtype=np.float64) for f in REQUIRED_FIELDS},
        }
    )
