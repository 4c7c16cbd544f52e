"""Market benchmarks of the historical tasks: buy-and-hold SPY, QQQ and IWM over an entry's own bars.

Every evaluation episode of a historical task is compared with buying and holding each market ETF of
:data:`MARKET_BENCHMARKS` over **the same bars** (the episode's dates) at **the same costs**:

* the benchmark starts in cash with the focal agent's initial cash at the episode's first decision bar
  ``W`` (the warm-up), orders the whole portfolio into the ETF there, and the order fills at the next bar's
  open (or close: the task's :class:`~wealtharena_env.config.CostModel` ``fill_price``) through the env's own
  execution kernel, :func:`wealtharena_env.kernels.execution.rebalance_to_targets`: half-spread, square-root
  impact (on the ETF's EWMA volatility over the warm-up, computed as the env's reset computes an asset's,
  and the decision bar's volume), commission, participation cap and lot size, exactly as an entry's first
  order pays them;
* it then holds: its value is ``V_t = cash' + q C_{W+t}`` on the episode's bars, and its per-step simple
  returns are compared with the entry's (net of its costs) by
  :func:`wealtharena_env.kernels.metrics.relative_metrics`: excess return, beta, alpha (annualised),
  tracking error, information ratio, up- and down-capture.

The ETF bars come from the data layer (:func:`wealtharena_env.data.load_market_data`): a file, frame or
``MarketData`` given as ``benchmark_data`` (``wealtharena evaluate --benchmark-data PATH``), the tickers of
the task's own ``data`` when it holds them, or else Yahoo Finance through the cache. Files are loaded with
``on_bad_rows="repair"``, which back-adjusts split jumps in unadjusted closes (the Alpha Vantage ETF file
has a QQQ 2:1 split in 2000 and an IWM 2:1 split in 2005), so returns never see a split. When the data has
``adj_close`` the benchmark is a total return (dividends reinvested); without it (the Alpha Vantage file) it
is a **price return**: dividends are left out, which understates SPY by about 1.5-2 % a year and IWM by
about 1-1.5 % (recorded per ticker as ``"returns"`` in the results).

Missing benchmark data is never an error: yfinance offline returns an empty frame, a file may lack a
ticker, an ETF may not cover an episode. Each of these gives one :class:`MarketBenchmarkWarning` saying
which ticker and why, and that ticker's columns are absent from the results.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wealtharena_env.config import CostModel
from wealtharena_env.data.validate import DataQualityWarning
from wealtharena_env.errors import ConfigError, WealthArenaDataError

#: The market ETFs every historical entry is compared with.
MARKET_BENCHMARKS: tuple[str, ...] = ("SPY", "QQQ", "IWM")

#: Most consecutive episode dates an ETF may lack (its last close is carried over, a 0 return) before the
#: benchmark is left out of that episode.
MAX_FILLED_BARS = 5


class MarketBenchmarkWarning(DataQualityWarning):
    """A market benchmark could not be computed (no data, a missing ticker, dates not covered)."""


@dataclass(frozen=True)
class MarketBenchmarks:
    """The benchmark ETFs' bars (``{ticker: MarketData}``, adjusted when they have ``adj_close``), for each
    ticker without bars why (``problems``), where they came from, and which are total returns
    (``adjusted``: the data had ``adj_close``)."""

    data: dict[str, Any]
    problems: dict[str, str] = field(default_factory=dict)
    source: str = ""
    adjusted: dict[str, bool] = field(default_factory=dict)
    #: where each ticker's bars came from (a path, a type name, or yfinance)
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def tickers(self) -> tuple[str, ...]:
        return tuple(self.data)

    def describe(self) -> dict[str, Any]:
        """Provenance for the results document: source, per ticker its dates, content hash and return kind."""
        out: dict[str, Any] = {"source": self.source, "tickers": {}, "unavailable": dict(self.problems)}
        for ticker, md in self.data.items():
            dates = np.asarray(md.dates)
            out["tickers"][ticker] = {
                "content_hash": md.content_hash(),
                "first_date": str(np.datetime_as_string(dates[0], unit="D")),
                "last_date": str(np.datetime_as_string(dates[-1], unit="D")),
                "n_bars": int(md.n_steps),
                "returns": "total return (adj_close)"
                if self.adjusted[ticker]
                else "price return (no dividends)",
                "source": self.sources.get(ticker, self.source),
            }
        return out


def _load_one(source: Any, ticker: str, start: str, end: str) -> Any:
    from wealtharena_env.data import MarketData, load_market_data

    if source is None:
        return load_market_data([ticker], start=start, end=end)
    if isinstance(source, MarketData):
        return load_market_data(source, tickers=[ticker], start=start, end=end)
    return load_market_data(source, tickers=[ticker], start=start, end=end, on_bad_rows="repair")


def load_market_benchmarks(
    benchmark_data: Any,
    task_data: Any,
    start: str,
    end: str,
    tickers: tuple[str, ...] = MARKET_BENCHMARKS,
) -> MarketBenchmarks:
    """The benchmark ETFs' bars over ``[start, end)``, from the first source that has each ticker.

    Args:
        benchmark_data: a path / frame / ``MarketData`` holding the ETFs (their only source when given).
            ``None``: the task's ``task_data`` when it holds a ticker, else Yahoo Finance through the cache.
        task_data: the task's own data (``evaluate(data=...)``), searched for the tickers first.
        start, end: the task's date range.
        tickers: the ETFs.

    Never raises on missing data: a ticker no source has is listed in ``problems`` with the reason (one
    :class:`MarketBenchmarkWarning` names them all).
    """
    loaded: dict[str, Any] = {}
    adjusted: dict[str, bool] = {}
    origin: dict[str, str] = {}
    problems: dict[str, str] = {}
    if benchmark_data is not None:
        sources: list[tuple[str, Any]] = [(_describe_source(benchmark_data), benchmark_data)]
    else:
        sources = [(_describe_source(task_data), task_data)] if task_data is not None else []
        sources.append(("yfinance (through the cache)", None))
    used: list[str] = []
    for ticker in tickers:
        reasons = []
        for label, source in sources:
            try:
                md = _load_one(source, ticker, start, end)
            except (WealthArenaDataError, ConfigError, ImportError, OSError) as exc:
                reasons.append(f"{label}: {_first_line(exc)}")
                continue
            adjusted[ticker] = md.adj_close is not None
            loaded[ticker] = md.adjusted() if adjusted[ticker] else md
            origin[ticker] = label
            if label not in used:
                used.append(label)
            break
        else:
            problems[ticker] = "; ".join(reasons) or "no source"
    if problems:
        warnings.warn(
            MarketBenchmarkWarning(
                f"market benchmark(s) {', '.join(problems)} unavailable, their columns are left out of the "
                f"results: {'; '.join(f'{t}: {why}' for t, why in problems.items())}. Give "
                "--benchmark-data PATH (daily bars of SPY, QQQ, IWM; e.g. the ETF file of docs/data.md), or "
                f"download them while online: wealtharena download {' '.join(problems)} --start {start}"
            ),
            stacklevel=2,
        )
    return MarketBenchmarks(loaded, problems, ", ".join(used), adjusted, origin)


def _describe_source(source: Any) -> str:
    if isinstance(source, (str, bytes)) or hasattr(source, "__fspath__"):
        return str(source)
    return type(source).__name__


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 300 else line[:297] + "..."


# ============================================================================================== maths
def warmup_variance(log_returns: np.ndarray, window: int, ewma_decay: float) -> float:
    """An asset's EWMA daily variance at the first decision bar, as the env's reset computes it (the step
    kernel's ``reset_env``): ``v = max(mean(r_1^2 .. r_W^2), 1e-12)`` over the first ``W = window`` warm-up
    returns, then ``v <- decay v + (1 - decay) r_t^2`` for the rest of the warm-up.

    ``log_returns``: the warm-up bars' log returns ``r_0 .. r_warmup`` (``r_0`` is not used).
    """
    r = np.asarray(log_returns, dtype=np.float64)
    variance = max(float(np.mean(r[1 : window + 1] ** 2)), 1e-12)
    for value in r[window + 1 :]:
        variance = ewma_decay * variance + (1.0 - ewma_decay) * value * value
    return variance


def buy_and_hold_values(
    bars: np.ndarray,
    costs: CostModel,
    warmup: int,
    window: int,
    ewma_decay: float,
    initial_cash: float,
) -> np.ndarray:
    """Values ``V_0 .. V_L`` of buying one asset with all of ``initial_cash`` at the first decision, then
    holding it.

    ``bars``: ``(T, 3)`` open, close, volume of the episode's bars ``0 .. T - 1`` (``T = warmup + L + 1``).
    The order is decided at bar ``warmup`` (sized on its close) and fills at bar ``warmup + 1``'s open (or
    close, ``costs.fill_price``) through :func:`~wealtharena_env.kernels.execution.rebalance_to_targets` with
    the costs of ``costs`` (slippage's impact on :func:`warmup_variance`'s volatility and the decision bar's
    volume, the participation cap, commission, lots). ``V_0 = initial_cash`` at bar ``warmup``;
    ``V_t = cash' + q C_{warmup + t}`` for ``t >= 1``.
    """
    from wealtharena_env.kernels.execution import ExecutionCosts, OrderBar, rebalance_to_targets

    bars = np.asarray(bars, dtype=np.float64)
    opens, closes, volumes = bars[:, 0], bars[:, 1], bars[:, 2]
    log_returns = np.zeros(warmup + 1)
    log_returns[1:] = np.log(closes[1 : warmup + 1] / closes[:warmup])
    sigma = np.sqrt(warmup_variance(log_returns, window, ewma_decay))
    volume = float(volumes[warmup])
    fill = opens[warmup + 1] if costs.fill_price == "open" else closes[warmup + 1]
    holdings = np.zeros(1)
    cash, _cost, _traded, _scale = rebalance_to_targets(
        np.array([1.0, 0.0]),
        holdings,
        float(initial_cash),
        OrderBar(
            np.array([closes[warmup]]),
            np.array([fill]),
            np.array([costs.impact_coefficient * sigma / np.sqrt(max(volume, 1.0))]),
            np.array([costs.max_participation * volume]),
        ),
        ExecutionCosts(costs.commission_bps * 1e-4, costs.half_spread_bps * 1e-4, float(costs.lot_size)),
        np.zeros(1),
        np.zeros(1),
    )
    values = np.empty(bars.shape[0] - warmup)
    values[0] = initial_cash
    values[1:] = cash + holdings[0] * closes[warmup + 1 :]
    return values


def aligned_bars(
    data: Any, dates: np.ndarray, max_filled: int = MAX_FILLED_BARS
) -> tuple[np.ndarray, int] | None:
    """``(T, 3)`` open, close, volume of ``data``'s (one ticker) bars on ``dates``, and how many dates were
    filled; ``None`` when it does not cover them.

    A date the data lacks takes its last earlier close as open and close with volume 0 (a 0 return), at
    most ``max_filled`` dates in a row; a first date before the data's first bar, or a longer run, gives
    ``None``.
    """
    own = np.asarray(data.dates).astype("datetime64[ns]")
    want = np.asarray(dates).astype("datetime64[ns]")
    idx = np.searchsorted(own, want, side="right") - 1
    if idx.size == 0 or idx[0] < 0:
        return None
    exact = own[idx] == want
    run = longest = 0
    for ok in exact:
        run = 0 if ok else run + 1
        longest = max(longest, run)
    if longest > max_filled:
        return None
    close = np.asarray(data.close)[idx, 0]
    out = np.empty((want.size, 3))
    out[:, 0] = np.where(exact, np.asarray(data.open)[idx, 0], close)
    out[:, 1] = close
    out[:, 2] = np.where(exact, np.asarray(data.volume)[idx, 0], 0.0)
    return out, int((~exact).sum())


def benchmark_returns(
    benchmarks: MarketBenchmarks,
    dates: np.ndarray,
    costs: CostModel,
    warmup: int,
    window: int,
    ewma_decay: float,
    initial_cash: float,
) -> dict[str, tuple[np.ndarray | None, int]]:
    """Per ticker, ``(returns, filled)``: the buy-and-hold simple returns over the episode whose bars fall on
    ``dates`` (:func:`buy_and_hold_values`), ``None`` when the ETF's bars do not cover those dates, and the
    number of dates filled with its last close."""
    out: dict[str, tuple[np.ndarray | None, int]] = {}
    for ticker, md in benchmarks.data.items():
        aligned = aligned_bars(md, dates)
        if aligned is None:
            out[ticker] = (None, 0)
            continue
        bars, filled = aligned
        values = buy_and_hold_values(bars, costs, warmup, window, ewma_decay, initial_cash)
        out[ticker] = (values[1:] / values[:-1] - 1.0, filled)
    return out


def relative_record(
    focal_returns: list[np.ndarray], bench: np.ndarray, periods_per_year: float
) -> dict[str, Any]:
    """One episode against one ETF: the ETF's own total return, Sharpe, max drawdown and volatility
    (``"benchmark"``) and the mean over focal agents of
    ``kernels.metrics.RELATIVE_METRIC_NAMES`` (``"focal"``)."""
    from wealtharena_env.kernels import metrics as km

    own = km.summary_metrics(bench, None, periods_per_year)
    per_agent = [
        km.relative_metrics(r, bench[: r.size], periods_per_year) for r in focal_returns if r.size > 0
    ]
    return {
        "benchmark": {
            m: float(own[m][0]) for m in ("total_return", "sharpe_ratio", "max_drawdown", "annual_volatility")
        },
        "focal": {
            m: (float(np.mean([float(a[m][0]) for a in per_agent])) if per_agent else None)
            for m in km.RELATIVE_METRIC_NAMES
        },
    }


__all__ = [
    "MARKET_BENCHMARKS",
    "MAX_FILLED_BARS",
    "MarketBenchmarkWarning",
    "MarketBenchmarks",
    "aligned_bars",
    "benchmark_returns",
    "buy_and_hold_values",
    "load_market_benchmarks",
    "relative_record",
    "warmup_variance",
]
