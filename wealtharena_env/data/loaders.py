"""Loaders: DataFrame / CSV / Parquet / yfinance → validated :class:`MarketData`.

:func:`load_market_data` is the single entry point the environments call for their ``data=`` argument.
Every loader runs the same pipeline: recognise the layout (:mod:`.layouts`), keep the requested tickers
and dates, validate and repair rows (:func:`.validate.validate_frame`), align the calendars
(:func:`.validate.align_calendars`) and build :class:`MarketData`.

yfinance is an optional dependency (extra ``data``), imported only inside :func:`from_yfinance` /
:func:`download_to_cache`. Offline, ``yfinance.download`` does not raise: it logs an error and returns
an empty frame — we turn that into a :class:`~wealtharena_env.errors.WealthArenaDataError` that names
the tickers, the date range and the likely causes.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wealtharena_env._progress import Progress, progress_enabled
from wealtharena_env.data._common import fmt_date, fmt_list, normalize_tickers, to_timestamp
from wealtharena_env.data.cache import CacheBackend, CacheEntry, CacheKey, open_cache
from wealtharena_env.data.layouts import _key, detect_layout, field_name, to_long
from wealtharena_env.data.market_data import MarketData
from wealtharena_env.data.validate import (
    MAX_GAP_BARS,
    MAX_MOVE_SIGMA,
    DataQualityWarning,
    DataRepairWarning,
    align_calendars,
    validate_frame,
    warn,
)
from wealtharena_env.errors import ConfigError, WealthArenaDataError

__all__ = [
    "YF_INTERVALS",
    "download_to_cache",
    "fetch_bars",
    "from_csv",
    "from_dataframe",
    "from_parquet",
    "from_yfinance",
    "load_market_data",
]

#: Intervals yfinance accepts.
YF_INTERVALS = ("1m", "2m", "5m", "15m", "30m", "60m", "90m", "1h", "1d", "5d", "1wk", "1mo", "3mo")
#: Calendar days re-downloaded next to cached bars to check that cached history is still current.
_OVERLAP_DAYS = {"1d": 5, "5d": 10, "1wk": 10, "1mo": 35, "3mo": 100}
#: Missing ranges at least this long that come back empty are reported (shorter ones are weekends/holidays).
_REPORT_EMPTY_DAYS = 5
#: Relative price change on overlapping cached bars that marks cached history as stale.
_STALE_RTOL = 1e-4

#: The loaders' data-quality and calendar options (every loader takes them, and so do the envs with data=).
POLICY_OPTIONS = (
    "calendar",
    "ffill_limit",
    "min_coverage",
    "on_bad_rows",
    "on_duplicate",
    "on_split",
    "max_jump",
    "max_move_sigma",
    "max_gap_bars",
    "on_gap",
)


# ============================================================================ pipeline
def _build(
    long: pd.DataFrame,
    *,
    source: str,
    tickers: Any = None,
    start: Any = None,
    end: Any = None,
    calendar: str = "intersect",
    ffill_limit: int | None = None,
    min_coverage: float = 0.9,
    on_bad_rows: str = "raise",
    on_duplicate: str = "raise",
    on_split: str | None = None,
    max_jump: float | None = 10.0,
    max_move_sigma: float | None = MAX_MOVE_SIGMA,
    max_gap_bars: int = MAX_GAP_BARS,
    on_gap: str | None = None,
) -> MarketData:
    s = to_timestamp(start, what="start")
    e = to_timestamp(end, what="end")
    if s is not None and e is not None and s >= e:
        raise ConfigError(f"start {fmt_date(s)} must be before end {fmt_date(e)}")
    if tickers is not None:
        wanted = normalize_tickers(tickers)
        have = list(dict.fromkeys(long["ticker"]))
        unknown = [t for t in wanted if t not in set(have)]
        if unknown:
            raise WealthArenaDataError(
                f"{source}: ticker(s) {fmt_list(unknown)} not in the data; it has {len(have)}: "
                f"{fmt_list(have, 10)}"
            )
        long = long.loc[long["ticker"].isin(wanted)]
        long = long.iloc[
            np.argsort(pd.Categorical(long["ticker"], categories=list(wanted)).codes, kind="stable")
        ]
    if s is not None or e is not None:
        d = long["date"]
        mask = np.ones(len(long), dtype=bool)
        if s is not None:
            mask &= (d >= s).to_numpy()
        if e is not None:
            mask &= (d < e).to_numpy()
        if len(long) and not mask.any():
            raise WealthArenaDataError(
                f"{source}: no bars in [{fmt_date(s) if s is not None else '-inf'}, "
                f"{fmt_date(e) if e is not None else '+inf'}); the data covers "
                f"{fmt_date(long['date'].min())}..{fmt_date(long['date'].max())}"
            )
        long = long.loc[mask]
    clean = validate_frame(
        long,
        on_bad_rows=on_bad_rows,
        on_duplicate=on_duplicate,
        on_split=on_split,
        max_jump=max_jump,
        max_move_sigma=max_move_sigma,
        where=source,
    )
    dates, names, arrays = align_calendars(
        clean,
        calendar=calendar,
        ffill_limit=ffill_limit,
        min_coverage=min_coverage,
        max_gap_bars=max_gap_bars,
        on_gap=on_gap,
        where=source,
    )
    return MarketData(
        open=arrays["open"],
        high=arrays["high"],
        low=arrays["low"],
        close=arrays["close"],
        volume=arrays["volume"],
        adj_close=arrays.get("adj_close"),
        dates=dates,
        tickers=names,
        source=source,
    )


def _check_kwargs(kwargs: Mapping[str, Any], allowed: Sequence[str], what: str) -> None:
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ConfigError(
            f"{what}: unknown argument(s) {', '.join(unknown)}; accepted: {', '.join(sorted(allowed))}"
        )


# ============================================================================ DataFrame / files
def from_dataframe(
    df: pd.DataFrame,
    *,
    ticker: str | None = None,
    tickers: Any = None,
    start: Any = None,
    end: Any = None,
    source: str = "dataframe",
    **policy: Any,
) -> MarketData:
    """Build :class:`MarketData` from a DataFrame in any accepted layout.

    Layouts: **long** (``date, ticker, open, high, low, close[, adj_close], volume``; names are matched
    case/space-insensitively, ``Adj Close`` works), **wide** (column MultiIndex ``(field, ticker)`` or
    ``(ticker, field)`` — both yfinance ``group_by`` layouts), or **one ticker's** OHLCV columns (yfinance
    with ``multi_level_index=False``; give its name as ``ticker=``).

    Args:
        ticker: the name for a single-ticker frame.
        tickers: keep only these tickers (in this order); default all, in first-appearance order.
        start, end: keep bars with ``start <= date < end`` (applied before validation, so you can cut away
            bad rows).
        source: label stored in ``MarketData.source`` and used in messages.
        **policy: validation options — ``calendar`` ("intersect" | "ffill" | "strict"), ``ffill_limit``,
            ``min_coverage`` (0.9), ``on_bad_rows`` ("raise" | "drop" | "repair"), ``on_duplicate``
            ("raise" | "first" | "last"), ``on_split`` ("raise" | "warn" | "adjust"; default "adjust" with
            ``on_bad_rows="repair"``), ``max_jump`` (10.0), ``max_move_sigma`` (15.0), ``max_gap_bars`` (5),
            ``on_gap`` ("raise" | "drop_ticker" | "cut" | "ffill"; default "ffill" with ``calendar="ffill"``);
            see :mod:`wealtharena_env.data.validate` and docs/data.md.
    """
    _check_kwargs(policy, POLICY_OPTIONS, "from_dataframe")
    try:
        long = to_long(df, ticker=ticker)
    except WealthArenaDataError as exc:  # say which data (the file) the bad cells are in
        raise WealthArenaDataError(f"{source}: {exc}") from None
    return _build(long, source=source, tickers=tickers, start=start, end=end, **policy)


def _stem(path: Path) -> str:
    name = path.name
    for suf in (".gz", ".csv", ".parquet", ".pq", ".txt"):
        if name.lower().endswith(suf):
            name = name[: -len(suf)]
    return name


def _read_csv_any(path: Path) -> pd.DataFrame:
    """Read a long, single-ticker or wide (two header rows, yfinance ``to_csv``) CSV."""
    try:
        head = pd.read_csv(path, nrows=3, header=None, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise WealthArenaDataError(f"cannot read {path} as CSV ({type(exc).__name__}: {exc})") from exc
    if head.empty:
        raise WealthArenaDataError(f"{path} is empty")
    row0 = [str(x) for x in head.iloc[0]]
    row1 = [str(x) for x in head.iloc[1]] if len(head) > 1 else []
    first0 = _key(row0[0])
    first1 = _key(row1[0]) if row1 else ""
    wide = ({first0, first1} & {"price", "ticker", "field", "attribute"} and len({first0, first1}) == 2) or (
        len(row0) != len(set(row0)) and any(field_name(x) for x in row0)
    )
    try:
        if wide:
            df = pd.read_csv(path, header=[0, 1], index_col=0)
            df.index = pd.to_datetime(df.index.astype(str), errors="coerce")
            df = df.loc[df.index.notna()]  # the "Date,,," line of a yfinance CSV
            return df
        return pd.read_csv(path)
    except Exception as exc:
        raise WealthArenaDataError(f"cannot read {path} as CSV ({type(exc).__name__}: {exc})") from exc


def from_csv(path: str | os.PathLike[str], *, ticker: str | None = None, **kwargs: Any) -> MarketData:
    """Read a CSV (``.csv`` or gzip ``.csv.gz``) in long, wide or single-ticker layout.

    A wide file is what ``DataFrame.to_csv`` writes for a yfinance multi-ticker frame (two header rows,
    ``Price``/``Ticker`` in either order). A single-ticker file without a ticker column takes its name from
    ``ticker=`` or the file name (``AAPL.csv`` → ``AAPL``). Other keywords: as :func:`from_dataframe`.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise WealthArenaDataError(f"no such file: {p}")
    df = _read_csv_any(p)
    return _from_file_frame(df, p, ticker, kwargs, kind="csv")


def from_parquet(path: str | os.PathLike[str], *, ticker: str | None = None, **kwargs: Any) -> MarketData:
    """Read a Parquet file in long, wide (MultiIndex columns) or single-ticker layout (needs pyarrow)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise WealthArenaDataError(f"no such file: {p}")
    try:
        df = pd.read_parquet(p)
    except ImportError as exc:
        raise ImportError(f"reading {p} needs pyarrow: pip install 'wealtharena-env[data]'") from exc
    except Exception as exc:
        raise WealthArenaDataError(f"cannot read {p} as Parquet ({type(exc).__name__}: {exc})") from exc
    return _from_file_frame(df, p, ticker, kwargs, kind="parquet")


def _from_file_frame(df: pd.DataFrame, p: Path, ticker: str | None, kwargs: dict, *, kind: str) -> MarketData:
    _check_kwargs(kwargs, ("tickers", "start", "end", "source", *POLICY_OPTIONS), f"from_{kind}")
    if ticker is None and detect_layout(df) == "single":
        ticker = _stem(p)
    kwargs.setdefault("source", f"{kind}:{p}")
    return from_dataframe(df, ticker=ticker, **kwargs)


# ============================================================================ yfinance
def _import_yfinance() -> Any:
    try:
        import yfinance
    except ImportError as exc:
        raise ImportError(
            "downloading market data needs yfinance: pip install 'wealtharena-env[data]' — or pass your own "
            "CSV / Parquet / DataFrame as data=..."
        ) from exc
    return yfinance


def _ns(ts: pd.Timestamp) -> int:
    return int(ts.value)


def _day(ns: int) -> str:
    return pd.Timestamp(ns).strftime("%Y-%m-%d")


@contextlib.contextmanager
def _quiet_yfinance() -> Iterator[None]:
    """Silence yfinance's own chatter during one of our calls: its loggers (DNS errors, "possibly delisted",
    "N Failed downloads"), what it prints, and the pandas deprecation warnings it triggers. Our own message —
    the error raised when nothing came back, or the data — is what the user sees."""
    loggers = [
        logging.getLogger(name)
        for name in (
            "yfinance",
            "yfinance.base",
            "yfinance.multi",
            "yfinance.data",
            "yfinance.utils",
            "peewee",
        )
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _yf_download(
    tickers: Sequence[str], start_ns: int, end_ns: int, interval: str, auto_adjust: bool
) -> dict:
    """One ``yfinance.download`` call → {ticker: frame of date + fields} (tickers with no bars absent)."""
    yf = _import_yfinance()
    start = pd.Timestamp(start_ns)
    end = pd.Timestamp(end_ns)
    daily = interval in _OVERLAP_DAYS
    kwargs: dict[str, Any] = {
        "tickers": list(tickers),
        "start": start.strftime("%Y-%m-%d") if daily else start,
        "end": end.strftime("%Y-%m-%d") if daily else end,
        "interval": interval,
        "auto_adjust": auto_adjust,
        "actions": False,
        "group_by": "column",
        "multi_level_index": True,
        "progress": False,
        "threads": True,
    }
    try:
        try:
            with _quiet_yfinance():
                raw = yf.download(**kwargs)
        except TypeError as exc:  # yfinance < 0.2.48 has no multi_level_index (and always nests >1 ticker)
            if "multi_level_index" not in str(exc):
                raise
            kwargs.pop("multi_level_index")
            with _quiet_yfinance():
                raw = yf.download(**kwargs)
    except Exception as exc:  # yfinance raises for bad arguments, not for network failures
        raise WealthArenaDataError(
            f"yfinance.download({fmt_list(tickers)}, {_day(start_ns)}..{_day(end_ns)}, "
            f"interval={interval!r}) failed: {type(exc).__name__}: {exc}"
        ) from exc
    return _split_by_ticker(raw, tickers)


def _split_by_ticker(raw: Any, tickers: Sequence[str]) -> dict[str, pd.DataFrame]:
    if raw is None or not isinstance(raw, pd.DataFrame) or raw.empty or raw.shape[1] == 0:
        return {}
    if isinstance(raw.columns, pd.MultiIndex):
        long = to_long(raw)
    else:
        if len(tickers) != 1:
            raise WealthArenaDataError(
                f"yfinance returned flat columns {fmt_list(map(str, raw.columns), 8)} for {len(tickers)} "
                "tickers; expected a (Price, Ticker) MultiIndex"
            )
        long = to_long(raw, ticker=tickers[0])
    by_upper = {t.upper(): t for t in tickers}
    out: dict[str, pd.DataFrame] = {}
    for name, part in long.groupby("ticker", sort=False):
        t = by_upper.get(str(name).upper())
        if t is not None and len(part):
            out[t] = part.drop(columns="ticker").reset_index(drop=True)
    return out


def _today_ns() -> int:
    """Midnight (UTC) today: bars from today on are not final, so they are never marked as cached."""
    return _ns(pd.Timestamp.now(tz="UTC").tz_localize(None).normalize())


def fetch_bars(
    tickers: Sequence[str],
    start: Any,
    end: Any = None,
    interval: str = "1d",
    *,
    auto_adjust: bool = True,
    cache: Any = True,
    progress: bool | None = None,
    batch_size: int = 50,
) -> dict[str, pd.DataFrame]:
    """Bars per ticker in ``[start, end)`` from the cache, downloading only what is missing.

    Returns ``{ticker: frame}`` with columns ``date, open, high, low, close, [adj_close,] volume`` (no
    validation yet; tickers without bars map to an empty frame). See :mod:`wealtharena_env.data.cache`
    for the incremental / locking / corruption rules.

    Next to cached bars the download reaches a few days into the cached range (5 days for daily bars);
    if the overlapping bars changed (a split or dividend re-adjusted Yahoo's history since they were
    cached), the entry is re-downloaded whole for the requested range, with a warning.
    """
    tickers = normalize_tickers(tickers)
    if interval not in YF_INTERVALS:
        raise ConfigError(
            f"interval={interval!r} is not a yfinance interval; use one of {', '.join(YF_INTERVALS)}"
        )
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size={batch_size!r} must be a positive integer")
    s = to_timestamp(start, what="start")
    if s is None:
        raise ConfigError("start is required, e.g. start='2020-01-01'")
    e = to_timestamp(end, what="end")
    if e is None:
        e = pd.Timestamp(_today_ns() + 86_400_000_000_000)
    if s >= e:
        raise ConfigError(f"start {fmt_date(s)} must be before end {fmt_date(e)}")
    s_ns, e_ns = _ns(s), _ns(e)
    backend = open_cache(cache)
    adjust = "adjusted" if auto_adjust else "raw"
    # nothing shown for one ticker, nor until the first real download (cached tickers count silently)
    prog = Progress(
        len(tickers),
        "wealtharena: downloading",
        progress_enabled(progress) and len(tickers) > 1,
        unit="ticker",
        defer=True,
    )
    try:
        if backend is None:
            out: dict[str, pd.DataFrame] = {}
            for i in range(0, len(tickers), batch_size):
                batch: Sequence[str] = tickers[i : i + batch_size]
                out.update(_yf_download(batch, s_ns, e_ns, interval, auto_adjust))
                prog.update(len(batch))
            return {t: out.get(t, _empty_bars()) for t in tickers}
        result: dict[str, pd.DataFrame] = {}
        ordered = sorted(tickers)  # one global lock order: no deadlock between processes
        for i in range(0, len(ordered), batch_size):
            batch = ordered[i : i + batch_size]
            result.update(_fetch_batch(backend, batch, s_ns, e_ns, interval, adjust, auto_adjust, prog))
        return {t: result[t] for t in tickers}
    finally:
        prog.close()


def _empty_bars() -> pd.DataFrame:
    return CacheEntry.empty(CacheKey("_")).frame


def _fetch_batch(
    backend: CacheBackend,
    batch: Sequence[str],
    s_ns: int,
    e_ns: int,
    interval: str,
    adjust: str,
    auto_adjust: bool,
    prog: Progress,
) -> dict[str, pd.DataFrame]:
    keys = {t: CacheKey(t, interval, adjust) for t in batch}
    overlap = _OVERLAP_DAYS.get(interval, 1) * 86_400_000_000_000
    cover_end = min(e_ns, _today_ns())
    with contextlib.ExitStack() as stack:
        for t in batch:
            stack.enter_context(backend.lock(keys[t]))
        entries = {t: backend.read(keys[t]) or CacheEntry.empty(keys[t]) for t in batch}

        # plan: tickers that miss the same ranges are downloaded together
        plan: dict[tuple, list[str]] = {}
        for t, ent in entries.items():
            ends = {b for _, b in ent.coverage}
            starts = {a for a, _ in ent.coverage}
            ranges = []
            for a, b in ent.missing(s_ns, e_ns):
                da = a - overlap if (a in ends and not ent.frame.empty) else a
                db = b + overlap if (b in starts and not ent.frame.empty) else b
                ranges.append((da, db, a, b))
            if ranges:
                plan.setdefault(tuple(ranges), []).append(t)
            else:
                prog.update(1, shown=False)

        new_rows: dict[str, list[pd.DataFrame]] = {t: [] for t in batch}
        new_cov: dict[str, list[tuple[int, int]]] = {t: [] for t in batch}
        failed: dict[str, list[tuple[int, int]]] = {t: [] for t in batch}
        for planned, group in plan.items():
            for da, db, a, b in planned:
                got = _yf_download(group, da, db, interval, auto_adjust)
                for t in group:
                    rows = got.get(t)
                    if rows is not None or got:  # answered: this ticker, or the server for others
                        if min(b, cover_end) > a:
                            new_cov[t].append((a, min(b, cover_end)))
                        if rows is not None:
                            new_rows[t].append(rows)
                    elif b - a >= _REPORT_EMPTY_DAYS * 86_400_000_000_000:
                        failed[t].append((a, b))
            prog.update(len(group))

        stale: list[str] = []
        stale_notes: list[str] = []
        for t in batch:
            if not new_rows[t] and not new_cov[t]:
                continue
            ent = entries[t]
            new = pd.concat(new_rows[t], ignore_index=True) if new_rows[t] else _empty_bars()
            note = _stale_note(ent, new)
            if note:
                stale.append(t)
                stale_notes.append(f"{t} ({note})")
                continue
            entries[t] = ent.merged(new, new_cov[t])
            backend.write(entries[t])
        if stale:
            warn(
                DataQualityWarning,
                f"cached history changed at the source for {fmt_list(stale_notes)} — Yahoo re-adjusted it "
                "(a split or dividend since it was cached); re-downloading the whole requested range "
                f"{_day(s_ns)}..{_day(e_ns)} for them",
            )
            got = _yf_download(stale, s_ns, e_ns, interval, auto_adjust)
            for t in stale:
                rows = got.get(t, _empty_bars())
                cov = [(s_ns, cover_end)] if cover_end > s_ns and t in got else []
                entries[t] = entries[t].merged(rows, cov, replace=True)
                backend.write(entries[t])
        out = {t: entries[t].rows_between(s_ns, e_ns) for t in batch}
        for t, bad in failed.items():
            if bad and len(out[t]):
                warn(
                    DataQualityWarning,
                    f"yfinance returned no bars for {t} in "
                    f"{', '.join(f'[{_day(a)}, {_day(b)})' for a, b in bad)} (offline, Yahoo unreachable, or "
                    f"no trading there); using the {len(out[t])} bars the {backend.describe()} has for "
                    f"{_day(s_ns)}..{_day(e_ns)}",
                )
        return out


def _stale_note(ent: CacheEntry, new: pd.DataFrame) -> str | None:
    """Describe how the re-downloaded overlap differs from the cached bars (None when consistent)."""
    if ent.frame.empty or new.empty:
        return None
    d = new["date"].to_numpy().astype("datetime64[ns]").view("int64")
    in_cov = np.zeros(len(d), dtype=bool)
    for a, b in ent.coverage:
        in_cov |= (d >= a) & (d < b)
    if not in_cov.any():
        return None
    old = ent.frame.set_index("date")
    nw = new.loc[in_cov].set_index("date")
    common = old.index.intersection(nw.index)
    if common.empty:
        return None
    worst = 0.0
    for c in ("close", "adj_close"):
        if c in old.columns and c in nw.columns:
            a = old.loc[common, c].to_numpy(dtype=np.float64)
            b = nw.loc[common, c].to_numpy(dtype=np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = np.abs(b / a - 1.0)
            rel = rel[np.isfinite(rel)]
            if rel.size:
                worst = max(worst, float(rel.max()))
    if worst > _STALE_RTOL:
        return f"close moved by up to {worst:.3%} on {len(common)} overlapping bar(s)"
    return None


def from_yfinance(
    tickers: str | Sequence[str],
    start: Any,
    end: Any = None,
    interval: str = "1d",
    *,
    auto_adjust: bool = True,
    cache: Any = True,
    progress: bool | None = None,
    on_missing: str = "raise",
    batch_size: int = 50,
    **policy: Any,
) -> MarketData:
    """Download daily (or intraday) bars from Yahoo Finance through the local cache.

    Args:
        tickers: Yahoo symbols (case-insensitive; stored upper-case), e.g. ``["SPY", "TLT", "GLD"]``.
        start, end: ``[start, end)``; ``end=None`` means up to today.
        interval: a yfinance interval (``"1d"``, ``"1wk"``, ``"1h"``...).
        auto_adjust: ``True`` (default, as yfinance): OHLC adjusted for splits and dividends, no adj_close.
            ``False``: raw OHLC plus ``adj_close`` (then :meth:`MarketData.adjusted` adjusts).
        cache: ``True`` (default disk cache, see :func:`~wealtharena_env.data.cache.default_cache_dir`),
            ``False`` (always download), a directory, a ``redis://host:port/db`` URL or a cache backend.
        progress: show a progress bar (tqdm if installed, else a stderr counter) for several tickers; default
            ``None``: only when stderr is a terminal.
        on_missing: ``"raise"`` (default) when some tickers return no bars, or ``"drop"`` them with a warning.
        batch_size: tickers per ``yfinance.download`` call (and per cache lock batch).
        **policy: validation options as in :func:`from_dataframe`.

    Raises:
        WealthArenaDataError: nothing came back (offline — yfinance returns an empty frame rather than
            raising —, Yahoo unreachable, bad symbols, or no trading days in the range), or some tickers
            are missing and ``on_missing="raise"``.
    """
    _check_kwargs(policy, POLICY_OPTIONS, "from_yfinance")
    if on_missing not in ("raise", "drop"):
        raise ConfigError(f"on_missing={on_missing!r} must be 'raise' or 'drop'")
    names = tuple(t.upper() for t in normalize_tickers(tickers))
    frames = fetch_bars(
        names,
        start,
        end,
        interval,
        auto_adjust=auto_adjust,
        cache=cache,
        progress=progress,
        batch_size=batch_size,
    )
    s = to_timestamp(start, what="start")
    e = to_timestamp(end, what="end")
    rng = f"[{fmt_date(s)}, {fmt_date(e) if e is not None else 'today'})"
    got = [t for t in names if len(frames[t])]
    missing = [t for t in names if not len(frames[t])]
    causes = (
        "Likely causes: no network or Yahoo Finance unreachable (yfinance does not raise offline — it logs "
        "an error and returns an empty frame), a misspelt or delisted symbol, or a date range with no "
        "trading days (weekend, holiday, before the listing)"
    )
    if not got:
        raise WealthArenaDataError(
            f"yfinance returned no data for {fmt_list(names, 10)} in {rng} (interval={interval}). {causes}. "
            "Fix: check the connection and the symbols (https://finance.yahoo.com/lookup), widen the dates, "
            "or load local data instead: load_market_data('prices.csv') / a DataFrame."
        )
    if missing:
        msg = (
            f"yfinance returned no data for {len(missing)} of {len(names)} tickers: "
            f"{fmt_list(missing, 10)} in {rng}"
        )
        if on_missing == "raise":
            raise WealthArenaDataError(
                f"{msg}. {causes}. Fix: correct or remove those symbols, or pass on_missing='drop' to "
                "continue without them."
            )
        warn(DataRepairWarning, f"{msg}; dropped them (on_missing='drop')")
    long = pd.concat([frames[t].assign(ticker=t) for t in got], ignore_index=True)
    long = long[["date", "ticker", *[c for c in long.columns if c not in ("date", "ticker")]]]
    long["ticker"] = long["ticker"].astype(object)
    source = f"yfinance:{interval}:{'adjusted' if auto_adjust else 'raw'}"
    return _build(long, source=source, **policy)


def download_to_cache(
    tickers: str | Sequence[str],
    start: Any,
    end: Any,
    interval: str = "1d",
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    *,
    auto_adjust: bool = True,
    on_missing: str = "raise",
) -> dict[str, int]:
    """Fill the cache for ``tickers`` over ``[start, end)``; return ``{ticker: bars in range}``.

    This is what ``wealtharena download`` runs. ``cache_dir=None`` uses the default cache
    (``$WEALTHARENA_CACHE_DIR`` or the user cache dir); a ``redis://`` URL selects the Redis backend.
    Tickers with no bars raise (``on_missing="raise"``) or are reported with 0 (``"drop"``).
    """
    if on_missing not in ("raise", "drop"):
        raise ConfigError(f"on_missing={on_missing!r} must be 'raise' or 'drop'")
    names = tuple(t.upper() for t in normalize_tickers(tickers))
    cache: Any = True if cache_dir is None else cache_dir
    frames = fetch_bars(names, start, end, interval, auto_adjust=auto_adjust, cache=cache, progress=progress)
    counts = {t: len(frames[t]) for t in names}
    missing = [t for t, n in counts.items() if n == 0]
    if missing and (on_missing == "raise" or len(missing) == len(names)):
        raise WealthArenaDataError(
            f"yfinance returned no data for {fmt_list(missing, 10)} in "
            f"[{fmt_date(to_timestamp(start, what='start'))}, "
            f"{fmt_date(to_timestamp(end, what='end')) if end is not None else 'today'}) "
            f"(interval={interval}). Likely causes: no network or Yahoo Finance unreachable (yfinance "
            "returns an empty frame offline), a misspelt or delisted symbol, or no trading days in the range."
        )
    return counts


# ============================================================================ entry point
_FILE_SUFFIXES = (".csv", ".csv.gz", ".txt", ".txt.gz", ".parquet", ".pq")


def load_market_data(data: Any, **kwargs: Any) -> MarketData:
    """Turn whatever an environment's ``data=`` argument holds into validated :class:`MarketData`.

    ``data`` may be:

    * a :class:`MarketData` — returned as is (``tickers=`` / ``start=`` / ``end=`` select and slice it;
      validation options are ignored, it is already validated);
    * a ``pandas.DataFrame`` in any accepted layout → :func:`from_dataframe`;
    * a ``{ticker: DataFrame}`` mapping of single-ticker frames;
    * a path (``str`` / ``Path``) to ``.csv``, ``.csv.gz`` or ``.parquet`` → :func:`from_csv` /
      :func:`from_parquet`;
    * a list or tuple of tickers → :func:`from_yfinance` (``start=`` required).

    Keyword arguments are those of the chosen loader; unknown ones raise :class:`ConfigError`.
    """
    if isinstance(data, MarketData):
        _check_kwargs(
            kwargs, ("tickers", "start", "end", "source", *POLICY_OPTIONS), "load_market_data(MarketData)"
        )
        out = data
        if kwargs.get("tickers") is not None:
            out = out.select(kwargs["tickers"])
        if kwargs.get("start") is not None or kwargs.get("end") is not None:
            out = out.slice(kwargs.get("start"), kwargs.get("end"))
        return out
    if isinstance(data, pd.DataFrame):
        return from_dataframe(data, **kwargs)
    if isinstance(data, Mapping):
        if not data or not all(isinstance(k, str) and isinstance(v, pd.DataFrame) for k, v in data.items()):
            raise ConfigError("a mapping passed as data must be {ticker: DataFrame} with at least one entry")
        _check_kwargs(
            kwargs, ("tickers", "start", "end", "source", *POLICY_OPTIONS), "load_market_data(dict)"
        )
        parts = [to_long(df, ticker=t).assign(ticker=t) for t, df in data.items()]
        long = pd.concat(parts, ignore_index=True)
        long["ticker"] = long["ticker"].astype(object)
        kwargs.setdefault("source", "dict")
        src = kwargs.pop("source")
        return _build(long, source=src, **kwargs)
    if isinstance(data, (str, os.PathLike)):
        p = Path(data).expanduser()
        name = p.name.lower()
        if name.endswith((".parquet", ".pq")):
            return from_parquet(p, **kwargs)
        if name.endswith((".csv", ".csv.gz", ".txt", ".txt.gz")):
            return from_csv(p, **kwargs)
        if p.exists():
            raise ConfigError(f"{p}: unknown file type; use .csv, .csv.gz or .parquet")
        raise ConfigError(
            f"data={str(data)!r} is neither an existing .csv/.csv.gz/.parquet file nor a list of tickers. To "
            f"download from Yahoo Finance pass a list: data=[{str(data)!r}], start='2020-01-01'"
        )
    if isinstance(data, (list, tuple)) and data and all(isinstance(t, str) for t in data):
        if kwargs.get("start") is None:
            raise ConfigError(
                f"downloading {fmt_list(data)} needs a start date: load_market_data({list(data)!r}, "
                "start='2020-01-01')"
            )
        kw = dict(kwargs)
        start = kw.pop("start")
        end = kw.pop("end", None)
        if "tickers" in kw:
            raise ConfigError("pass the tickers as data=[...], not also as tickers=")
        return from_yfinance(list(data), start, end, **kw)
    raise ConfigError(
        f"data of type {type(data).__name__} is not supported; pass a MarketData, a DataFrame, a path to "
        ".csv/.csv.gz/.parquet, a {ticker: DataFrame} dict or a list of tickers"
    )
