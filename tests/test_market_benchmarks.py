"""Market benchmarks of historical tasks: relative metrics (golden), buy-and-hold at the env's own costs,
date alignment, loading (splits, offline yfinance), and their place in results, board and report."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest_data import FakeYahoo, install_fake, shared_frame, shared_path
from test_historical import synthetic_frame

from wealtharena_env.config import AgentProfile, CostModel, arena_config
from wealtharena_env.data import load_market_data
from wealtharena_env.kernels import metrics as km
from wealtharena_env.kernels.features import observation_slices
from wealtharena_env.kernels.market import BAR_CLOSE, BAR_OPEN, BAR_VOLUME
from wealtharena_env.leaderboard.board import build_board, to_html, to_markdown
from wealtharena_env.leaderboard.evaluate import evaluate
from wealtharena_env.leaderboard.market_benchmarks import (
    MARKET_BENCHMARKS,
    MarketBenchmarkWarning,
    aligned_bars,
    buy_and_hold_values,
    load_market_benchmarks,
    warmup_variance,
)
from wealtharena_env.leaderboard.tasks import HistoricalSpec, Scenario, Task
from wealtharena_env.sim import Simulation

R = np.array([0.02, -0.01, 0.03, -0.02])
B = np.array([0.01, -0.02, 0.02, 0.01])


# ============================================================================================== metrics
def test_relative_metrics_of_a_small_example_computed_by_hand():
    """r = (2, -1, 3, -2) %, b = (1, -2, 2, 1) %: means 0.5 % each; deviations r (1.5, -1.5, 2.5, -2.5) %,
    b (0.5, -2.5, 1.5, 0.5) %: sxy = 7e-4, syy = 9e-4, beta = 7/9; alpha = (0.005 - 7/9 0.005) 252 = 0.28;
    active (1, 1, 1, -3) %: mean 0, sample sd 2 %, TE = 0.02 sqrt(252), IR 0; up days of b (t = 0, 2, 3):
    mean r 1 % / mean b 4/3 % = 0.75; down day t = 1: -1 % / -2 % = 0.5; excess = 1.02 0.99 1.03 0.98 - 1.01
    0.98 1.02 1.01 = 1.01929212 - 1.01969196."""
    m = km.relative_metrics(R, B, 252)
    assert m["beta"][0] == pytest.approx(7 / 9, rel=1e-12)
    assert m["alpha"][0] == pytest.approx(0.28, rel=1e-10)
    assert m["tracking_error"][0] == pytest.approx(0.02 * math.sqrt(252), rel=1e-12)
    assert m["information_ratio"][0] == pytest.approx(0.0, abs=1e-12)
    assert m["up_capture"][0] == pytest.approx(0.75, rel=1e-12)
    assert m["down_capture"][0] == pytest.approx(0.5, rel=1e-12)
    assert m["excess_return"][0] == pytest.approx(1.01929212 - 1.01969196, abs=1e-15)
    assert list(m) == list(km.RELATIVE_METRIC_NAMES)


def test_a_series_against_itself_and_twice_itself():
    rng = np.random.default_rng(0)
    b = rng.normal(0.0005, 0.01, 250)
    same = km.relative_metrics(b, b, 252)
    assert same["beta"][0] == pytest.approx(1.0, rel=1e-12) and same["alpha"][0] == pytest.approx(
        0.0, abs=1e-15
    )
    assert same["up_capture"][0] == 1.0 and same["down_capture"][0] == 1.0
    assert same["excess_return"][0] == 0.0 and same["tracking_error"][0] == 0.0
    assert math.isnan(same["information_ratio"][0])  # zero tracking error: the ratio is undefined
    double = km.relative_metrics(2 * b, b, 252)
    assert double["beta"][0] == pytest.approx(2.0, rel=1e-12)
    assert double["alpha"][0] == pytest.approx(0.0, abs=1e-12)
    assert double["up_capture"][0] == pytest.approx(2.0, rel=1e-12)
    assert double["down_capture"][0] == pytest.approx(2.0, rel=1e-12)
    cash = km.relative_metrics(np.zeros_like(b), b, 252)
    assert cash["beta"][0] == 0.0 and cash["up_capture"][0] == 0.0 and cash["down_capture"][0] == 0.0


def test_individual_kernels_equal_the_fused_kernel_and_batches_equal_rows():
    rng = np.random.default_rng(1)
    r = rng.normal(0, 0.01, (5, 40))
    b = rng.normal(0, 0.01, (5, 40))
    fused = km.relative_metrics(r, b, 252)
    for name, kernel in (
        ("up_capture", km.up_capture),
        ("down_capture", km.down_capture),
        ("excess_return", km.excess_return),
        ("beta", km.beta),
    ):
        np.testing.assert_array_equal(fused[name], kernel(r, b))
    np.testing.assert_array_equal(fused["alpha"], km.alpha(r, b, 252.0))
    np.testing.assert_array_equal(fused["information_ratio"], km.information_ratio(r, b, 252.0))
    for k in range(5):
        row = km.relative_metrics(r[k], b[k], 252)
        assert all(row[name][0] == fused[name][k] or np.isnan(fused[name][k]) for name in row)
    shared = km.relative_metrics(r, b[0], 252)  # a (T,) benchmark broadcasts
    np.testing.assert_array_equal(shared["beta"], km.beta(r, np.broadcast_to(b[0], r.shape).copy()))


def test_undefined_relative_metrics_are_nan_never_an_error():
    up_only = np.array([0.01, 0.02, 0.0])
    m = km.relative_metrics(np.array([0.03, -0.01, 0.02]), up_only, 252)
    assert m["up_capture"][0] == pytest.approx((0.03 - 0.01) / 2 / 0.015) and math.isnan(m["down_capture"][0])
    nan = km.relative_metrics(np.array([0.01, np.nan, 0.02]), up_only, 252)
    assert all(math.isnan(v[0]) for v in nan.values())
    empty = km.relative_metrics(np.zeros((1, 0)), np.zeros((1, 0)), 252)
    assert all(math.isnan(v[0]) for v in empty.values())
    with pytest.raises(ValueError, match="same T"):
        km.relative_metrics(np.zeros(3), np.zeros(4))


# ============================================================================================== buy and hold
@pytest.mark.parametrize(
    "costs",
    [
        CostModel(),
        CostModel(fill_price="close", impact_coefficient=2.0, max_participation=1e-6),
        CostModel(lot_size=7.0, commission_bps=20.0),
    ],
    ids=["default", "close-impact-participation", "lots"],
)
def test_buy_and_hold_pays_exactly_what_the_env_charges(costs):
    """One asset, risk layer off, full rebalancing: an agent that buys everything at the first decision and
    then holds has, bar for bar, the values of buy_and_hold_values (same kernel, same volatility, same
    bars)."""
    md = load_market_data(synthetic_frame(n_days=300, tickers=("SPY",), seed=4))
    cfg = arena_config(
        agents=[AgentProfile("a")],
        episode_length=30,
        risk_enabled=False,
        rebalance_rate=1.0,
        action_mapping="simplex",
        costs=costs,
    )
    sim = Simulation(cfg, data=md)
    sim.reset(seeds=[5])
    values = [float(sim.agent_state["value"][0, 0])]
    for t in range(30):
        sim.actions[...] = 0.0
        if t == 0:
            sim.actions[0, 0, :] = [1.0, 0.0, 1.0]  # all in the asset, then hold (no action)
        sim.step()
        values.append(float(sim.agent_state["value"][0, 0]))
    bars = np.stack([sim.bars[0, :, f, 0] for f in (BAR_OPEN, BAR_CLOSE, BAR_VOLUME)], axis=1)
    reference = buy_and_hold_values(
        bars, costs, cfg.warmup, cfg.window, 0.5 ** (1 / cfg.volatility_halflife), 1_000_000.0
    )
    np.testing.assert_array_equal(np.array(values), reference)
    assert reference[1] < 1_000_000.0 * bars[cfg.warmup + 1, 1] / bars[cfg.warmup + 1, 0]  # costs were paid


def test_buy_and_hold_without_costs_is_the_price_ratio():
    close = np.linspace(100.0, 130.0, 90)
    bars = np.stack([close * 0.999, close, np.full(90, 1e6)], axis=1)
    values = buy_and_hold_values(bars, CostModel.zero(), 60, 20, 0.5 ** (1 / 20), 1e6)
    np.testing.assert_allclose(values[1:], 1e6 * close[61:] / bars[61, 0], rtol=1e-11)
    assert values[0] == 1e6 and values.size == 90 - 60


def test_warmup_variance_is_the_resets_asset_variance():
    md = load_market_data(synthetic_frame(n_days=200, tickers=("AAA",), seed=2))
    cfg = arena_config(agents=[AgentProfile("a")], episode_length=10)
    sim = Simulation(cfg, data=md)
    sim.reset(seeds=[3])
    log_returns = sim.returns[0, 0, : cfg.warmup + 1]
    expected = warmup_variance(log_returns, cfg.window, 0.5 ** (1 / cfg.volatility_halflife))
    assert sim.covariance[0, 0, 0] == pytest.approx(expected, rel=1e-13)


def test_aligned_bars_fill_short_gaps_and_refuse_long_ones():
    frame = synthetic_frame(n_days=40, tickers=("SPY",), seed=1)
    md = load_market_data(frame.drop(index=[10, 11]))  # two dates missing
    dates = pd.bdate_range("2020-01-01", periods=40).to_numpy()
    bars, filled = aligned_bars(md, dates)
    assert filled == 2 and bars.shape == (40, 3)
    assert bars[10, 1] == bars[9, 1] == bars[11, 1] == bars[10, 0] and bars[10, 2] == 0.0
    assert aligned_bars(md, dates, max_filled=1) is None
    earlier = pd.bdate_range("2019-12-20", periods=20).to_numpy()
    assert aligned_bars(md, earlier) is None  # the ETF's data starts after the episode's first bar


# ============================================================================================== loading
def _etf_frame(n_days=400, seed=11):
    return synthetic_frame(n_days=n_days, tickers=MARKET_BENCHMARKS, seed=seed)


def test_offline_yfinance_gives_a_warning_and_no_benchmarks(monkeypatch, tmp_path):
    monkeypatch.setenv("WEALTHARENA_CACHE_DIR", str(tmp_path))
    fake = install_fake(monkeypatch, FakeYahoo(_etf_frame(), offline=True))
    with pytest.warns(MarketBenchmarkWarning, match="SPY, QQQ, IWM unavailable") as caught:
        found = load_market_benchmarks(None, None, "2020-01-01", "2021-06-01")
    assert found.data == {} and set(found.problems) == set(MARKET_BENCHMARKS)
    assert "--benchmark-data" in str(caught[0].message) and fake.calls


def test_split_jumps_in_unadjusted_closes_are_adjusted():
    frame = _etf_frame(n_days=60)
    spy = frame["ticker"] == "SPY"
    split = spy & (frame["date"] < frame["date"].iloc[30])
    for col in ("open", "high", "low", "close"):
        frame.loc[split, col] *= 2.0  # a 2:1 split after bar 29, not adjusted
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = load_market_benchmarks(frame, None, "2019-01-01", "2021-01-01")
    close = np.asarray(found.data["SPY"].close)[:, 0]
    assert np.max(np.abs(np.diff(np.log(close)))) < 0.1  # no -50 % day left
    assert found.adjusted == {t: False for t in MARKET_BENCHMARKS}


def test_the_real_etf_file_handles_the_qqq_and_iwm_splits():
    path = shared_path("etf15")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = load_market_benchmarks(path, None, "1999-11-01", "2006-01-01")
    assert found.tickers == MARKET_BENCHMARKS and not found.problems
    for ticker in ("QQQ", "IWM"):
        raw = shared_frame("etf15", [ticker]).set_index("date")["close"]
        raw_moves = np.abs(np.diff(np.log(raw[raw.index < "2006-01-01"].to_numpy())))
        assert raw_moves.max() > np.log(1.9)  # the raw closes hold the split
        close = np.asarray(found.data[ticker].close)[:, 0]
        assert np.max(np.abs(np.diff(np.log(close)))) < 0.2  # the loaded ones do not
    assert found.describe()["tickers"]["SPY"]["returns"] == "price return (no dividends)"


# ============================================================================================== evaluation
def _tiny_task(**env_kwargs):
    return Task(
        name="TinyHistorical",
        version=0,
        env_id="WealthArena/Portfolio-v0",
        env_kwargs=tuple(sorted({"episode_length": 20, **env_kwargs}.items())),
        scenarios=(Scenario("test", held_out=True),),
        historical=HistoricalSpec(
            tickers=("AAA", "BBB", "CCC"),
            start="2020-01-01",
            end="2021-07-15",
            train=("2020-01-01", "2020-09-01"),
            validation=("2020-09-01", "2021-01-01"),
            test=("2021-01-01", "2021-07-15"),
        ),
    )


FAST = {"n_seeds": 3, "bootstrap_reps": 50, "progress": False}


def _buy_first_then_hold(n_assets: int, window: int):
    """All in the first asset at the first decision, then the held weights (no trade)."""
    slices = observation_slices(n_assets, window, 0)

    def act(obs):
        weights = obs[:, slices["weights"]].astype(np.float64)
        first = np.zeros_like(weights)
        first[:, 0] = 1.0
        return np.where(weights[:, -1:] > 0.5, first, weights).astype(np.float32)

    return act


def test_an_entry_that_holds_the_etf_matches_it_exactly():
    """The task's first asset is the benchmark's SPY, bar for bar: a policy that buys it and holds has beta 1,
    capture ratios 1, excess return and tracking error 0 against SPY -- same dates, same costs."""
    frame = synthetic_frame(n_days=400)
    etfs = _etf_frame()
    etfs = etfs[etfs["ticker"] != "SPY"]
    spy = frame[frame["ticker"] == "AAA"].assign(ticker="SPY")
    # risk layer off, full rebalancing, and a no-trade band that leaves the float32 noise of held weights
    task = _tiny_task(risk_enabled=False, rebalance_rate=1.0, rebalance_band=0.01, action_mapping="simplex")
    doc = evaluate(
        task,
        _buy_first_then_hold(3, 20),
        data=frame,
        benchmark_data=pd.concat([etfs, spy], ignore_index=True),
        **FAST,
    )
    assert doc["aggregates"]["n_ok"] == 3
    for ep in doc["episodes"]:
        vs = ep["market_benchmarks"]["SPY"]["focal"]
        assert vs["beta"] == pytest.approx(1.0, rel=1e-9) and vs["excess_return"] == pytest.approx(
            0, abs=1e-12
        )
        assert vs["up_capture"] == pytest.approx(1.0, rel=1e-9) and vs["down_capture"] == pytest.approx(1.0)
        assert vs["tracking_error"] == pytest.approx(0.0, abs=1e-9)
        assert ep["market_benchmarks"]["QQQ"]["focal"]["beta"] != pytest.approx(1.0, abs=0.05)
        assert ep["market_benchmarks"]["SPY"]["benchmark"]["total_return"] == pytest.approx(
            ep["focal"]["total_return"], abs=1e-12
        )
    market = doc["aggregates"]["market_benchmarks"]
    assert list(market) == list(MARKET_BENCHMARKS) and market["SPY"]["n_episodes"] == 3
    assert market["SPY"]["metrics"]["beta"]["point"] == pytest.approx(1.0, rel=1e-9)
    assert doc["market_benchmark_data"]["unavailable"] == {}


def test_missing_benchmark_data_leaves_the_columns_out_with_a_warning(monkeypatch, tmp_path):
    monkeypatch.setenv("WEALTHARENA_CACHE_DIR", str(tmp_path))
    install_fake(monkeypatch, FakeYahoo(_etf_frame(), offline=True))
    with pytest.warns(MarketBenchmarkWarning, match="unavailable"):
        doc = evaluate(_tiny_task(), "equal_weight", data=synthetic_frame(n_days=400), **FAST)
    assert doc["aggregates"]["n_ok"] == 3 and doc["aggregates"]["market_benchmarks"] == {}
    assert set(doc["market_benchmark_data"]["unavailable"]) == set(MARKET_BENCHMARKS)
    assert all(ep["market_benchmarks"] == {} for ep in doc["episodes"])
    # only some tickers: the others are there
    partial = _etf_frame()
    with pytest.warns(MarketBenchmarkWarning, match="IWM"):
        doc = evaluate(
            _tiny_task(),
            "equal_weight",
            data=synthetic_frame(n_days=400),
            benchmark_data=partial[partial["ticker"] != "IWM"],
            **FAST,
        )
    assert list(doc["aggregates"]["market_benchmarks"]) == ["SPY", "QQQ"]
    no_market = evaluate(
        _tiny_task(), "equal_weight", data=synthetic_frame(n_days=400), benchmark_data=False, **FAST
    )
    assert no_market["market_benchmark_data"] is None and "market_benchmarks" not in no_market["aggregates"]


def test_benchmarks_found_in_the_task_data_and_shown_on_board_and_report(tmp_path):
    frame = pd.concat([synthetic_frame(n_days=400), _etf_frame()], ignore_index=True)
    docs = [evaluate(_tiny_task(), name, data=frame, **FAST) for name in ("equal_weight", "kelly")]
    assert all(list(d["aggregates"]["market_benchmarks"]) == list(MARKET_BENCHMARKS) for d in docs)
    assert docs[0]["market_benchmark_data"]["tickers"]["QQQ"]["source"] == "DataFrame"  # from the task's data
    md = to_markdown(build_board(docs))
    assert "Against the market" in md and "| kelly | SPY (price) |" in md and "down capture" in md
    assert "up capture" in to_html(build_board(docs))
    pytest.importorskip("matplotlib")
    from wealtharena_env.analytics.report import write_report

    page = write_report(docs[1], tmp_path / "report").read_text()
    assert "Against the market" in page and "vs SPY" in page and "information ratio" in page


def test_cli_evaluates_both_historical_tasks_from_several_data_files(tmp_path, capsys):
    from wealtharena_env import cli

    dow30, m6, etfs = shared_path("dow30"), shared_path("m6"), shared_path("etf15")
    common = [
        "--policy",
        "equal_weight",
        "--seeds",
        "2",
        "--episode-length",
        "12",
        "--bootstrap-reps",
        "50",
        "-q",
    ]
    code = cli.main(
        ["evaluate", "--task", "Dow30-v0", "M6Crash-v0", "--data", str(dow30), str(m6)]
        + ["--benchmark-data", str(etfs), "--output-dir", str(tmp_path)]
        + common
    )
    assert code == 0
    assert sorted(p.name for p in tmp_path.glob("*.json")) == [
        "Dow30-v0__equal_weight.json",
        "M6Crash-v0__equal_weight.json",
    ]
    printed = capsys.readouterr().out
    assert printed.count("vs SPY") == 2 and printed.count("up/down capture") == 6
    code = cli.main(
        ["evaluate", "--task", "M6Crash-v0", "--data", str(dow30), "--benchmark-data", "none"]
        + ["--output-dir", str(tmp_path)]
        + common
    )
    assert code == 2 and "XLB" in capsys.readouterr().err  # the Dow-30 file lacks the task's tickers
    code = cli.main(
        ["evaluate", "--task", "M6Crash-v0", "--data", str(m6), "--benchmark-data", "none"]
        + ["--output-dir", str(tmp_path / "plain")]
        + common
    )
    assert code == 0 and "vs SPY" not in capsys.readouterr().out
