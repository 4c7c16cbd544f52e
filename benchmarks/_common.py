"""Shared helpers of the benchmark scripts: timing with warm-up and repeats, tables, machine info, peers.

Every benchmark prints medians of several repeats measured in the same process, side by side, so the
ratios are comparable even on a noisy (shared) machine. Nothing here asserts a timing.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@dataclass
class Timing:
    """Median (and spread) of the per-step time of one benchmark."""

    name: str
    us_per_step: float  # median over repeats
    us_min: float
    us_max: float
    units_per_step: int  # agent-asset pairs advanced by one step (K * A * N for a batch)
    note: str = ""

    @property
    def steps_per_s(self) -> float:
        return 1e6 / self.us_per_step

    @property
    def units_per_s(self) -> float:
        return self.units_per_step * self.steps_per_s


def measure(
    run: Callable[[int], None],
    n_steps: int,
    repeats: int = 7,
    warmup_steps: int | None = None,
    clock: Callable[[], float] = time.thread_time,
) -> tuple[float, float, float]:
    """``run(n)`` performs ``n`` steps; return (median, min, max) microseconds per step over ``repeats``.

    ``clock`` is the calling thread's CPU time by default: single-threaded rows then measure the work and not
    what other processes on the shared cores take from it. Threaded rows (``prange``) must pass wall time,
    ``time.perf_counter``.
    """
    run(warmup_steps if warmup_steps is not None else max(1, n_steps // 5))
    per_step = []
    for _ in range(repeats):
        t0 = clock()
        run(n_steps)
        per_step.append((clock() - t0) / n_steps * 1e6)
    return statistics.median(per_step), min(per_step), max(per_step)


def fmt_rate(x: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.2f}{unit}"
    return f"{x:.0f}"


def fmt_us(x: float) -> str:
    return f"{x:,.2f}" if x < 100 else f"{x:,.0f}"


def print_table(headers: list[str], rows: list[list[str]], title: str | None = None) -> None:
    """A GitHub-markdown table (so the output can be pasted into docs/benchmarks.md as is)."""
    if title:
        print(f"\n### {title}\n")
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")


def machine_summary() -> str:
    import numba

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        layer = "not initialised"
    return (
        f"{cpu}, {os.cpu_count()} CPUs, numba threads {numba.get_num_threads()} (layer: {layer}); "
        f"Python {sys.version.split()[0]}, numpy {np.__version__}, numba {numba.__version__}"
    )


def price_frame(n_assets: int = 1, n_bars: int = 1258, seed: int = 0):
    """A wide OHLCV DataFrame: dow30 from ../shared/data when present, else a seeded random walk.

    Returns
    ``(frame_by_ticker: dict[str, DataFrame with date index and open/high/low/close/volume], source)``.
    """
    import pandas as pd

    path = SHARED_DATA / "dow30_yahoo_2015_2020.csv.gz"
    if path.exists():
        df = pd.read_csv(path, parse_dates=["date"])
        tickers = sorted(df["ticker"].unique())[:n_assets]
        out = {}
        for t in tickers:
            sub = df[df["ticker"] == t].set_index("date").sort_index()
            out[t] = sub[["open", "high", "low", "close", "volume"]].astype(float)
        if len(out) == n_assets:
            return out, f"{path.name} ({', '.join(tickers[:3])}{', ...' if n_assets > 3 else ''})"
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2015-01-01", periods=n_bars)
    out = {}
    for i in range(n_assets):
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.015, n_bars)))
        open_ = close * np.exp(rng.normal(0, 0.003, n_bars))
        high = np.maximum(open_, close) * 1.005
        low = np.minimum(open_, close) * 0.995
        volume = rng.uniform(1e6, 2e6, n_bars)
        out[f"SYN{i:02d}"] = pd.DataFrame(
            {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=dates
        )
    return out, "synthetic random walk"


__all__ = [
    "SHARED_DATA",
    "Timing",
    "fmt_rate",
    "fmt_us",
    "machine_summary",
    "measure",
    "price_frame",
    "print_table",
]
