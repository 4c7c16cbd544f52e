"""Envs on historical data: loading, splits, episode starts inside the split, no look-ahead."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from conftest import shared_file

from wealtharena_env import arena_v0
from wealtharena_env.config import arena_config
from wealtharena_env.data import MarketData, load_market_data
from wealtharena_env.errors import ConfigError
from wealtharena_env.kernels.market import BAR_CLOSE
from wealtharena_env.sim import Simulation


def synthetic_frame(n_days=400, tickers=("AAA", "BBB", "CCC"), seed=0):
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-01-01", periods=n_days)
    rows = []
    for k, t in enumerate(tickers):
        close = 50.0 * (k + 1) * np.exp(np.cumsum(rng.normal(0.0003, 0.012, n_days)))
        open_ = close * np.exp(rng.normal(0, 0.003, n_days))
        high = np.maximum(open_, close) * 1.004
        low = np.minimum(open_, close) * 0.996
        vol = rng.integers(100_000, 1_000_000, n_days)
        rows.append(
            pd.DataFrame(
                {
                    "date": dates,
                    "ticker": t,
                    "open": open_,
                    "high": high,
                    "low": low,
                    "close": close,
                    "volume": vol,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def test_env_on_real_dow30_train_split():
    path = shared_file("dow30_yahoo_2015_2020.csv.gz")
    tickers = ["AAPL", "JPM", "XOM", "KO", "MSFT"]
    env = arena_v0.parallel_env(
        data=path,
        split="train",
        episode_length=120,
        data_options={"tickers": tickers, "on_bad_rows": "repair"},
    )
    data = env.sim.source.data
    assert list(env.sim.tickers) == sorted(tickers) or set(env.sim.tickers) == set(tickers)
    full = load_market_data(path, tickers=tickers, on_bad_rows="repair").adjusted()
    assert data.dates[0] == full.dates[0] and data.n_steps < 0.75 * full.n_steps  # 70 % train split
    env.reset(seed=7)
    rng = np.random.default_rng(0)
    while env.agents:
        _obs, rewards, _, _, _infos = env.step(
            {a: rng.uniform(-1, 1, 6).astype(np.float32) for a in env.agents}
        )
        assert all(np.isfinite(r) for r in rewards.values())
    # the episode's bars are a contiguous run of the train split's adjusted closes
    closes = env.sim.bars[0, :, BAR_CLOSE, :]
    start = np.flatnonzero(np.all(np.isclose(data.close, closes[0]), axis=1))
    assert len(start) == 1
    np.testing.assert_allclose(data.close[start[0] : start[0] + len(closes)], closes)


def test_episode_starts_and_windows_stay_inside_the_split():
    frame = synthetic_frame(n_days=1000)
    data = load_market_data(frame)
    cfg = arena_config(episode_length=20, window=10, warmup=60)
    sim = Simulation(cfg, data=data, split="test")
    test_start = data.dates[int(0.85 * data.n_steps) - 2]
    seen = []
    for seed in range(10):
        sim.reset(seeds=[seed])
        first = np.flatnonzero(np.all(np.isclose(data.close, sim.bars[0, 0, BAR_CLOSE]), axis=1))[0]
        seen.append(data.dates[first])
    assert min(seen) >= test_start  # nothing, not even the warm-up window, comes from before the split


def test_no_look_ahead_on_historical_data():
    frame = synthetic_frame(seed=3)
    base = load_market_data(frame)
    cfg = arena_config(episode_length=10, warmup=60)
    t = 4
    sim_a = Simulation(cfg, data=base)
    sim_a.reset(seeds=[11])
    start = np.flatnonzero(np.all(np.isclose(base.close, sim_a.bars[0, 0, BAR_CLOSE]), axis=1))[0]
    cut = start + cfg.warmup + t + 1  # bars from here on are after the decision bar of step t
    arrays = {f: np.array(getattr(base, f)) for f in ("open", "high", "low", "close", "volume")}
    for f in ("open", "high", "low", "close"):
        arrays[f][cut:] *= 1.37
    changed = MarketData(dates=base.dates, tickers=base.tickers, **arrays)
    sim_b = Simulation(cfg, data=changed)
    (oa, _), (ob, _) = sim_a.reset(seeds=[11]), sim_b.reset(seeds=[11])
    np.testing.assert_array_equal(oa, ob)
    rng = np.random.default_rng(0)
    for k in range(t):
        acts = rng.uniform(-1, 1, (1, sim_a.n_agents, sim_a.n_action))
        (oa, ia), (ob, ib) = sim_a.step(acts), sim_b.step(acts)
        np.testing.assert_array_equal(oa, ob)
        np.testing.assert_array_equal(ia, ib)


def test_clear_errors_for_short_data_and_misplaced_options():
    data = load_market_data(synthetic_frame(n_days=100))
    with pytest.raises(ConfigError, match="needs 313 bars"):
        Simulation(arena_config(episode_length=252), data=data)
    with pytest.raises(ConfigError, match="historical data"):
        arena_v0.parallel_env(split="train")


def test_a_users_own_data_object_gets_the_same_checks_as_marketdata():
    """Bars from a duck-typed object (open/high/low/close/volume/tickers, not a MarketData) pass through the
    same value check as MarketData's constructor (data.market_data.check_bar_values): same messages, bars
    named by date when the object has dates, by number otherwise."""
    from types import SimpleNamespace

    from wealtharena_env.data import MarketData
    from wealtharena_env.errors import WealthArenaDataError
    from wealtharena_env.market_sources import HistoricalMarket

    close = np.linspace(10.0, 20.0, 40)[:, None] * np.array([1.0, 2.0])
    fields = {
        "open": close,
        "high": close * 1.01,
        "low": close * 0.99,
        "close": close,
        "volume": np.full_like(close, 1e6),
    }
    dates = np.arange("2024-01-01", 40, dtype="datetime64[D]").astype("datetime64[ns]")
    HistoricalMarket(SimpleNamespace(**fields, tickers=("A", "B")))  # clean data is accepted
    for name, bad, message in (
        ("close", np.nan, "close is NaN or infinite in 1 cell(s): B bar 7"),
        ("low", 0.0, "low is <= 0 in 1 cell(s): B bar 7"),
        ("volume", -1.0, "volume is negative in 1 cell(s): B bar 7"),
    ):
        broken = {k: v.copy() for k, v in fields.items()}
        broken[name][7, 1] = bad
        with pytest.raises(WealthArenaDataError, match=re.escape(message)):
            HistoricalMarket(SimpleNamespace(**broken, tickers=("A", "B")))
        with pytest.raises(WealthArenaDataError) as dated:
            HistoricalMarket(SimpleNamespace(**broken, tickers=("A", "B"), dates=dates))
        with pytest.raises(WealthArenaDataError) as reference:
            MarketData(**broken, dates=dates, tickers=("A", "B"))
        assert str(dated.value) == str(reference.value) and "B 2024-01-08" in str(dated.value)


# ============================================================================================== M6Crash-v0
def _m6_crash_test_split():
    from conftest_data import shared_path

    from wealtharena_env.leaderboard.evaluate import load_task_data
    from wealtharena_env.leaderboard.tasks import get_task

    task = get_task("M6Crash-v0")
    return task, load_task_data(task, shared_path("m6"))


def test_every_m6_crash_evaluation_episode_holds_the_2020_crash():
    """Each evaluation seed's 126 decisions start between the test split's warm-up and the 2020-02-19 peak,
    and its bars reach past the 2020-03-23 trough: the whole crash is inside every evaluation episode."""
    from wealtharena_env.market_sources import HistoricalMarket

    task, test = _m6_crash_test_split()
    assert test.tickers == task.historical.tickers and test.adj_close is not None
    first, last = (str(np.datetime_as_string(d, unit="D")) for d in (test.dates[0], test.dates[-1]))
    assert first >= "2019-07-15" and last < "2020-08-15"
    cfg = arena_config(episode_length=task.episode_length)
    market = HistoricalMarket(test)
    starts = []
    for seed in task.eval_seeds:
        start = market.start_bar(np.random.default_rng(seed), cfg.bars_per_episode)
        dates = test.dates[start + cfg.warmup : start + cfg.bars_per_episode]  # decision bar 0 .. last bar
        assert dates[0] <= np.datetime64("2020-02-19") and dates[-1] >= np.datetime64("2020-03-23")
        starts.append(start)
    assert len(set(starts)) >= 12  # the seeds play different windows around the crash


def test_m6_crash_evaluation_is_deterministic_with_benchmarks():
    from conftest_data import shared_path

    from wealtharena_env.leaderboard.evaluate import evaluate

    m6, etfs = shared_path("m6"), shared_path("etf15")
    runs = [
        evaluate(
            "M6Crash-v0",
            "kelly",
            data=m6,
            benchmark_data=etfs,
            n_seeds=2,
            episode_length=30,
            bootstrap_reps=50,
            progress=False,
        )
        for _ in range(2)
    ]
    for doc in runs:
        doc.pop("created_utc")
    assert runs[0] == runs[1]
    doc = runs[0]
    assert doc["task"]["fingerprint"] == "5e6ccadc5c2a4027" and doc["aggregates"]["n_ok"] == 2
    assert doc["data"]["split"] == "test" and len(doc["data"]["content_hash"]) == 64
    assert list(doc["aggregates"]["market_benchmarks"]) == ["SPY", "QQQ", "IWM"]
    assert doc["market_benchmark_data"]["tickers"]["SPY"]["returns"] == "price return (no dividends)"
