"""Live bar feeds for the trading runner: bars polled from a provider, handed over one at a time.

A feed is a bar-by-bar market source (``bar_by_bar = True``, see :mod:`wealtharena_env.market_sources`):
``sample`` fills the warm-up with the provider's last complete bars, and ``next_bar(t, after)`` returns the
first complete bar dated after ``after`` (the last bar the runner accepted; a restarted runner passes the
journal's), or ``None`` when there is none yet. The runner validates every bar before it trades on it.

:class:`PollingFeed` turns any ``download(tickers, start, end)`` into such a feed; :class:`YFinanceFeed` polls
Yahoo Finance through the package's own downloader (the ``data`` extra; no key), ``AlpacaFeed``
(:mod:`wealtharena_env.live.alpaca`, the ``live`` extra) Alpaca's market data.
Offline, yfinance returns an empty frame and logs an error instead of raising: the warm-up then raises a
:class:`~wealtharena_env.errors.WealthArenaDataError` that says so, and a poll returns ``None`` (no new bar).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from wealtharena_env.errors import ConfigError, WealthArenaDataError
from wealtharena_env.market_sources import OHLCV, write_bar_fields

#: The bar length of each yfinance interval (a bar is complete once its start plus this has passed).
_INTERVALS = {
    "1m": pd.Timedelta(minutes=1),
    "2m": pd.Timedelta(minutes=2),
    "5m": pd.Timedelta(minutes=5),
    "15m": pd.Timedelta(minutes=15),
    "30m": pd.Timedelta(minutes=30),
    "60m": pd.Timedelta(hours=1),
    "1h": pd.Timedelta(hours=1),
    "1d": pd.Timedelta(days=1),
}

Download = Callable[[Sequence[str], pd.Timestamp, pd.Timestamp], dict[str, pd.DataFrame]]


def _yfinance_download(interval: str) -> Download:
    from wealtharena_env.data.loaders import _yf_download

    def download(tickers: Sequence[str], start: pd.Timestamp, end: pd.Timestamp) -> dict[str, pd.DataFrame]:
        return _yf_download(tickers, int(start.value), int(end.value), interval, True)

    return download


def _iso(ts: pd.Timestamp) -> str:
    return str(ts.isoformat())


class PollingFeed:
    """Bars of ``tickers`` polled from a provider's ``download`` (see the module docstring).

    Args:
        tickers: the symbols traded (their order is the assets' order).
        download: ``(tickers, start, end) -> {ticker: frame(date, open, high, low, close, volume)}``, dates as
            tz-naive UTC timestamps of the bars' starts; ``{}`` when the provider has nothing (offline).
        interval: the bar length, a key of :data:`_INTERVALS` (a bar is complete
            once ``start + length <= now``).
        history_days: calendar days downloaded for the warm-up.
        now: the current UTC time, tz-naive (tests pass a clock).
        provider: the provider's name in messages.
    """

    bar_by_bar = True
    n_bars = None
    provider = "the provider"

    def __init__(
        self,
        tickers: Sequence[str],
        download: Download,
        interval: str = "1d",
        history_days: int = 730,
        now: Callable[[], pd.Timestamp] | None = None,
    ):
        if interval not in _INTERVALS:
            raise ConfigError(f"interval={interval!r}: the live feed polls one of {sorted(_INTERVALS)}.")
        self.tickers = tuple(str(t).upper() for t in tickers)
        if not self.tickers or len(set(self.tickers)) != len(self.tickers):
            raise ConfigError(f"tickers must be distinct and at least one, got {list(tickers)}.")
        self.n_assets = len(self.tickers)
        self.interval = interval
        self.length = _INTERVALS[interval]
        self.history_days = int(history_days)
        self._download = download
        self._now = now or (lambda: pd.Timestamp.now(tz="UTC").tz_localize(None))
        self.dates: list[str] = []

    def _complete_bars(self, days: float) -> tuple[list[pd.Timestamp], np.ndarray]:
        """The complete bars of the last ``days`` days: their dates and fields (T, 5, N), NaN where a ticker
        has no bar."""
        now = self._now()
        frames = self._download(self.tickers, now - pd.Timedelta(days=days), now + pd.Timedelta(days=1))
        if not frames:
            return [], np.empty((0, len(OHLCV), self.n_assets))
        dates = sorted(
            {
                pd.Timestamp(d)
                for f in frames.values()
                for d in f["date"]
                if pd.Timestamp(d) + self.length <= now
            }
        )
        fields = np.full((len(dates), len(OHLCV), self.n_assets), np.nan)
        index = {d: k for k, d in enumerate(dates)}
        columns = OHLCV
        for i, ticker in enumerate(self.tickers):
            frame = frames.get(ticker)
            if frame is None:
                continue
            for row in frame.itertuples(index=False):
                k = index.get(pd.Timestamp(row.date))
                if k is not None:
                    fields[k, :, i] = [float(getattr(row, c)) for c in columns]
        return dates, fields

    def sample(self, rng: np.random.Generator, bars_out: np.ndarray) -> None:
        """The warm-up: the last ``len(bars_out)`` complete bars on which every ticker traded."""
        n = bars_out.shape[0]
        dates, fields = self._complete_bars(self.history_days)
        if not dates:
            raise WealthArenaDataError(
                f"no bars for {list(self.tickers)} from {self.provider}: offline (yfinance returns an empty "
                "frame without raising), or the tickers are unknown. Check the connection and the symbols."
            )
        missing = [
            t for i, t in enumerate(self.tickers) if np.isnan(fields[:, OHLCV.index("close"), i]).all()
        ]
        if missing:
            raise WealthArenaDataError(
                f"{self.provider} has no bars for {missing}: unknown or delisted ticker(s). Fix --tickers."
            )
        full = ~np.isnan(fields).any(axis=(1, 2))
        rows = np.flatnonzero(full)[-n:]
        if rows.size < n:
            raise WealthArenaDataError(
                f"the warm-up needs {n} complete bars of {list(self.tickers)} but the last "
                f"{self.history_days} days hold {rows.size}; raise history_days or lower the warmup."
            )
        write_bar_fields(fields[rows], bars_out)
        self.dates[:] = [_iso(dates[k]) for k in rows]

    def next_bar(self, t: int, after: str | None = None) -> tuple[str, np.ndarray] | None:
        """The first complete bar dated after ``after`` (default: the warm-up's last), or ``None``. A bar on
        which a ticker did not trade is returned with NaN there (the runner refuses and journals it)."""
        last = pd.Timestamp(after if after is not None else self.dates[-1])
        dates, fields = self._complete_bars(max(10.0, 5.0 * self.length / pd.Timedelta(days=1)))
        for k, date in enumerate(dates):
            if date > last:
                return _iso(date), fields[k]
        return None


class YFinanceFeed(PollingFeed):
    """Bars of ``tickers`` polled from Yahoo Finance (``interval`` ``"1d"`` by default), split/dividend
    adjusted, through the package's yfinance downloader (quiet, without the cache). ``download`` replaces
    it (tests)."""

    provider = "Yahoo Finance"

    def __init__(
        self,
        tickers: Sequence[str],
        interval: str = "1d",
        history_days: int = 730,
        download: Download | None = None,
        now: Callable[[], pd.Timestamp] | None = None,
    ):
        if interval not in _INTERVALS:
            raise ConfigError(f"interval={interval!r}: the live feed polls one of {sorted(_INTERVALS)}.")
        super().__init__(tickers, download or _yfinance_download(interval), interval, history_days, now)


__all__ = ["PollingFeed", "YFinanceFeed"]
