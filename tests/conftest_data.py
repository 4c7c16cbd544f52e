"""Helpers shared by tests/test_data_*.py (imported as a module, not a pytest conftest).

* ``SHARED_DATA``: the real market-data fixtures in ``<repo>/../shared/data`` (see its README.md);
  :func:`shared_frame` loads one file (cached per process) and skips the test cleanly when it is absent.
* :class:`FakeYahoo`: a stand-in for ``yfinance.download`` that serves *recorded* bars (from the real
  CSVs) in the exact shapes yfinance returns, and records every call's tickers and date range.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

FILES = {
    "sp500": "sp500_yahoo_2015_2020.csv.gz",
    "dow30": "dow30_yahoo_2015_2020.csv.gz",
    "etf15": "etf15_alphavantage_1999_2024.csv.gz",
    "m6": "m6_universe_eodhd_2017_2022.csv.gz",
}


def shared_path(name: str) -> Path:
    p = SHARED_DATA / FILES[name]
    if not p.exists():
        pytest.skip(f"shared market data not available at {p}")
    return p


@functools.cache
def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(SHARED_DATA / FILES[name], parse_dates=["date"])


def shared_frame(name: str, tickers: list[str] | None = None) -> pd.DataFrame:
    """Rows of a shared file (long layout, as stored), optionally only some tickers; a fresh copy."""
    shared_path(name)
    df = _read(name)
    if tickers is not None:
        df = df[df["ticker"].isin(tickers)]
    return df.reset_index(drop=True).copy()


# ----------------------------------------------------------------------------- yfinance stand-in
def yahoo_frame(
    long: pd.DataFrame,
    tickers: list[str],
    *,
    auto_adjust: bool = True,
    group_by: str = "column",
    multi_level_index: bool = True,
) -> pd.DataFrame:
    """What ``yfinance.download`` returns for these bars (yfinance 0.2.5x / 1.x shapes).

    Multi-ticker (or ``multi_level_index=True``): columns MultiIndex ``(Price, Ticker)`` sorted by field
    then ticker, or ``(Ticker, Price)`` with ``group_by="ticker"``; index ``Date`` (tz-naive); one row per
    date of the union calendar, NaN where a ticker has no bar; tickers without data are all-NaN columns.
    ``auto_adjust=True`` scales OHLC by adj_close/close and drops ``Adj Close``.
    """
    fields = (
        ["Close", "High", "Low", "Open", "Volume"]
        if auto_adjust
        else ["Adj Close", "Close", "High", "Low", "Open", "Volume"]
    )
    sub = long[long["ticker"].isin(tickers)].copy()
    dates = pd.DatetimeIndex(sorted(sub["date"].unique()), name="Date")
    cols = {}
    for f in fields:
        for t in sorted(tickers):
            rows = sub[sub["ticker"] == t].set_index("date")
            if rows.empty:
                cols[(f, t)] = pd.Series(np.nan, index=dates)
                continue
            factor = rows["adj_close"] / rows["close"] if (auto_adjust and "adj_close" in rows) else 1.0
            src = {
                "Close": "close",
                "High": "high",
                "Low": "low",
                "Open": "open",
                "Volume": "volume",
                "Adj Close": "adj_close",
            }[f]
            if src not in rows:
                continue
            values = (
                rows[src] * factor if (auto_adjust and f in ("Open", "High", "Low", "Close")) else rows[src]
            )
            cols[(f, t)] = values.astype(float).reindex(dates)
    if not cols or dates.empty:
        frame = pd.DataFrame(
            index=pd.DatetimeIndex([], name="Date"),
            columns=pd.MultiIndex.from_product([fields, sorted(tickers)], names=["Price", "Ticker"]),
            dtype=float,
        )
    else:
        frame = pd.DataFrame(cols, index=dates)
        frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["Price", "Ticker"])
    if group_by == "ticker":
        frame = frame.swaplevel(0, 1, axis=1).sort_index(axis=1, level=0, sort_remaining=False)
        frame.columns = frame.columns.set_names(["Ticker", "Price"])
    if not multi_level_index and len(tickers) == 1:
        level = "Ticker"
        frame = frame.droplevel(level, axis=1)
        frame.columns.name = "Price" if group_by != "ticker" else None
    return frame


class FakeYahoo:
    """Serve recorded bars like ``yfinance.download``; ``calls`` records (tickers, start, end, kwargs).

    ``offline=True`` returns an empty frame (what yfinance does without network); ``scale`` multiplies
    every price (to simulate a re-adjusted history); ``delay`` sleeps inside each call (for races).
    """

    def __init__(self, long: pd.DataFrame, *, offline: bool = False, scale: float = 1.0, delay: float = 0.0):
        self.long = long
        self.offline = offline
        self.scale = scale
        self.delay = delay
        self.calls: list[dict[str, Any]] = []

    def __call__(self, tickers: Any = None, start: Any = None, end: Any = None, **kw: Any) -> pd.DataFrame:
        if isinstance(tickers, str):
            tickers = tickers.replace(",", " ").split()
        tickers = [t.upper() for t in tickers]
        self.calls.append(
            {"tickers": list(tickers), "start": pd.Timestamp(start), "end": pd.Timestamp(end), **kw}
        )
        if self.delay:
            import time

            time.sleep(self.delay)
        sub = self.long
        if self.offline:
            sub = sub.iloc[0:0]
        d = sub["date"]
        sub = sub[(d >= pd.Timestamp(start)) & (d < pd.Timestamp(end))].copy()
        if self.scale != 1.0:
            for c in ("open", "high", "low", "close", "adj_close"):
                if c in sub:
                    sub[c] = sub[c] * self.scale
        return yahoo_frame(
            sub,
            tickers,
            auto_adjust=kw.get("auto_adjust", True),
            group_by=kw.get("group_by", "column"),
            multi_level_index=kw.get("multi_level_index", True),
        )


def install_fake(monkeypatch: pytest.MonkeyPatch, fake: FakeYahoo) -> FakeYahoo:
    yf = pytest.importorskip("yfinance")
    monkeypatch.setattr(yf, "download", fake)
    return fake
