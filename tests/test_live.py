"""Paper and live trading (issue 18): replay parity with the backtest, the journal, brokers, bad input."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest
from test_historical import synthetic_frame

from wealtharena_env import arena_v0
from wealtharena_env.config import arena_config
from wealtharena_env.data import MarketData
from wealtharena_env.errors import BrokerError, ConfigError, TradingHalted, WealthArenaDataError
from wealtharena_env.kernels.market import BAR_CLOSE
from wealtharena_env.leaderboard.baselines import make_baseline
from wealtharena_env.leaderboard.policies import load_policy
from wealtharena_env.live.brokers import OrderRequest, PaperBroker, SimBroker
from wealtharena_env.live.journal import Journal, JournalError, client_order_id
from wealtharena_env.live.runner import Runner
from wealtharena_env.market_sources import ReplayMarket
from wealtharena_env.sim import Simulation

AGENTS = ["balanced_0", "aggressive_1", "conservative_2"]
N_DAYS = 110


@pytest.fixture(scope="module")
def market_data():
    return MarketData.from_dataframe(synthetic_frame(n_days=N_DAYS))


def _config(n_agents=3):
    # episode_length is cut to the replay by the runner; the env is built with the runner's config
    return arena_config(n_assets=3, agents=AGENTS[:n_agents], episode_length=10_000)


def _backtest(config, data, policy_fn):
    """The backtest env on the same bars: each step's infos (full) and the actions it took."""
    env = arena_v0.parallel_env(config=config, data=data, info_level="full")
    obs, _ = env.reset(seed=0)
    assert env.sim.bars[0, -1, BAR_CLOSE].tolist() == data.close[-1].tolist()  # the whole file, from bar 0
    steps = []
    while env.agents:
        batch = np.stack([obs[a] for a in env.agents])
        actions = np.asarray(policy_fn(batch), dtype=np.float64)
        obs, _, _, _, infos = env.step({a: actions[k] for k, a in enumerate(env.agents)})
        steps.append((actions, infos))
    return env, steps


def _assert_parity(runner, env, steps):
    sim, ref = runner.sim, env.sim
    assert int(sim.steps[0]) == int(ref.steps[0]) == len(steps)
    decisions = {bar: p for bar, _, _, p in runner.journal.entries("decision")}
    journaled = {bar: p for bar, _, _, p in runner.journal.entries("step")}
    assert len(decisions) == len(journaled) == len(steps)
    warmup = runner.config.warmup
    n_events = 0
    for k, (actions, infos) in enumerate(steps):
        d = warmup + k
        assert np.asarray(decisions[d]["actions"]).tolist() == actions.tolist()  # same decisions, bit for bit
        for name, row in journaled[d + 1]["agents"].items():
            info = infos[name]
            assert row["value"] == info["portfolio_value"]
            assert row["cash"] == info["cash"]
            assert row["cost"] == info["cost"]
            assert row["turnover"] == info["turnover"]
            assert row["drawdown"] == info["drawdown"]
            assert row["weights"] == [float(w) for w in info["weights"]]
            assert [(e["rule"], e["asset"], e["weight_removed"]) for e in row["risk_events"]] == [
                (e["rule"], e["asset"], e["weight_removed"]) for e in info["risk_events"]
            ]
            n_events += len(row["risk_events"])
    for name in ("positions", "returns", "zret", "asset_state", "clock"):
        assert np.array_equal(getattr(sim, name), getattr(ref, name)), name
    assert sim.agent_state.tobytes() == ref.agent_state.tobytes()
    return n_events


@pytest.mark.parametrize("baseline", ["equal_weight", "momentum"])
def test_replay_through_simbroker_reproduces_the_backtest(tmp_path, market_data, baseline):
    runner = Runner(
        baseline, ReplayMarket(market_data), SimBroker(), tmp_path / "j.sqlite", _config(), progress=None
    )
    summary = runner.run()
    assert summary.finished and summary.refused_bars == 0 and summary.policy_errors == 0
    env, steps = _backtest(runner.config, market_data, make_baseline(baseline, _FakeEnv(runner.sim)))
    n_events = _assert_parity(runner, env, steps)
    assert summary.orders > 0
    if baseline == "momentum":
        assert n_events > 0  # the risk layer acted (position caps of the conservative agent), and matched
    # the SimBroker's netted book adds up to the agents' ledgers
    book = runner.broker.positions()
    assert np.allclose(
        [book.get(t, 0.0) for t in runner.tickers], runner.sim.holdings[0].sum(axis=0), rtol=1e-12
    )
    runner.close()


class _FakeEnv:
    def __init__(self, sim):
        self.sim = sim


def test_replay_parity_with_a_trained_sb3_policy(tmp_path, market_data):
    import gymnasium
    import stable_baselines3 as sb3  # in the test extra

    env = gymnasium.make("WealthArena/Portfolio-v0", data=market_data, episode_length=40)
    model = sb3.PPO("MlpPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=256)
    path = tmp_path / "ppo.zip"
    model.save(path)
    config = env.unwrapped.sim.config.replace(episode_length=10_000)
    runner = Runner(
        str(path), ReplayMarket(market_data), SimBroker(), tmp_path / "j.sqlite", config, progress=None
    )
    assert runner.run().finished
    loaded = load_policy(str(path)).build(None, 0)
    arena, steps = _backtest(runner.config, market_data, loaded)
    _assert_parity(runner, arena, steps)
    runner.close()


def test_replay_holds_the_recorded_bars_and_never_reads_ahead(market_data):
    config = _config(1).replace(episode_length=N_DAYS - 61)
    sim = Simulation(config, data=ReplayMarket(market_data))
    sim.reset(seeds=0)
    warmup = config.warmup
    assert np.isnan(sim.bars[0, warmup + 1 :]).all()  # nothing after the warm-up exists yet
    with pytest.raises(ConfigError, match="shape"):
        sim.append_bar(np.ones((5, 2)))
    bad = ReplayMarket(market_data).next_bar(warmup + 1)[1].copy()
    bad[3, 2] = 0.0  # a zero close: refused by the one check of bar values, before anything is written
    with pytest.raises(WealthArenaDataError, match=rf"close is <= 0 in 1 cell\(s\): \S+ bar {warmup + 1}"):
        sim.append_bar(bad)
    assert np.isnan(sim.bars[0, warmup + 1 :]).all()
    reference = Simulation(config, data=market_data)
    reference.reset(seeds=0)
    for t in range(warmup + 1, warmup + 4):
        fields = ReplayMarket(market_data).next_bar(t)[1]
        assert sim.append_bar(fields) == t
        sim.step(np.zeros((1, 1, 4)))
        reference.step(np.zeros((1, 1, 4)))
        assert np.array_equal(sim.bars[0, : t + 1], reference.bars[0, : t + 1])
    assert np.isnan(sim.bars[0, warmup + 4 :]).all()
    with pytest.raises(ConfigError, match="bar-by-bar"):
        reference.append_bar(fields)


# ---------------------------------------------------------------------- journal


def test_journal_is_append_only_and_idempotent(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        assert j.bind_run({"run_id": "r", "policy": "p"})
        assert j.append(3, "decision", "decision:3", {"a": [0.1, 1e-17]})
        assert not j.append(3, "decision", "decision:3", {"a": [0.1, 1e-17]})  # the same entry again: no-op
        with pytest.raises(JournalError, match="diverged"):
            j.append(3, "decision", "decision:3", {"a": [0.2]})
        assert j.get("decision:3") == {"a": [0.1, 1e-17]}
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE entries SET payload = '{}'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM entries")
    db.close()
    with Journal(path) as j:
        assert not j.bind_run({"run_id": "r", "policy": "p"})
        with pytest.raises(JournalError, match="another run"):
            j.bind_run({"run_id": "r", "policy": "q"})
    assert client_order_id("r1", 61, "balanced_0", "AAA") == "r1-000061-balanced_0-AAA"
    with pytest.raises(ConfigError, match="128"):
        client_order_id("r" * 120, 1, "a", "b")


# ---------------------------------------------------------------------- paper broker


def test_paper_broker_fills_at_the_next_open_with_the_env_costs(tmp_path):
    broker = PaperBroker(
        tmp_path / "acct.sqlite", initial_cash=10_000.0, commission_bps=5.0, half_spread_bps=2.0
    )
    broker.submit(OrderRequest("o1", "AAA", 10.0))
    with pytest.raises(BrokerError, match="already exists"):
        broker.submit(OrderRequest("o1", "AAA", 10.0))
    assert broker.get_order("o1").status == "new" and broker.positions() == {}
    fields = np.array([[100.0], [101.0], [99.0], [100.5], [1e6]])
    broker.on_bar("2020-01-02", ("AAA",), fields)
    broker.on_bar("2020-01-02", ("AAA",), fields)  # the same bar again fills nothing twice
    s = broker.get_order("o1")
    assert s.status == "filled" and s.filled_qty == 10.0
    assert s.avg_price == pytest.approx(100.0 * (1 + 2e-4))
    assert broker.cash() == pytest.approx(10_000.0 - 10 * 100.0 * (1 + 2e-4) * (1 + 5e-4), rel=1e-14)
    assert broker.positions() == {"AAA": 10.0}
    broker.submit(OrderRequest("o2", "AAA", -20.0))  # more than held: rejected
    broker.submit(OrderRequest("o3", "AAA", 1000.0))  # more than the cash: partly filled, rest cancelled
    broker.submit(OrderRequest("o4", "ZZZ", 1.0))  # not quoted
    broker.on_bar("2020-01-03", ("AAA",), fields)
    assert broker.get_order("o2").status == "rejected" and "insufficient qty" in broker.get_order("o2").reason
    o3 = broker.get_order("o3")
    assert o3.status == "canceled" and 0 < o3.filled_qty < 1000 and "buying power" in o3.reason
    assert 0.0 <= broker.cash() < 1e-6
    assert broker.get_order("o4").status == "rejected"
    assert broker.submissions() == [("o1", True), ("o1", False), ("o2", True), ("o3", True), ("o4", True)]
    broker.close()
    reopened = PaperBroker(tmp_path / "acct.sqlite", initial_cash=1.0)  # the account persists
    assert reopened.positions()["AAA"] == pytest.approx(10.0 + o3.filled_qty)
    reopened.close()


def test_paper_trading_reconciles_every_bar_and_nets_the_agents_orders(tmp_path, market_data):
    broker = PaperBroker(tmp_path / "acct.sqlite", initial_cash=3e6)
    runner = Runner(
        "momentum", ReplayMarket(market_data), broker, tmp_path / "j.sqlite", _config(), progress=None
    )
    summary = runner.run()
    assert summary.finished
    reconciled = [p for _, _, _, p in runner.journal.entries("reconcile")]
    assert len(reconciled) == summary.bars and all(r["ok"] for r in reconciled)
    held = broker.positions()
    assert np.allclose([held[t] for t in runner.tickers], runner.sim.holdings[0].sum(axis=0), rtol=1e-12)
    assert broker.cash() == pytest.approx(float(runner.sim.cash[0].sum()), rel=1e-12)
    # one netted order per asset and bar reaches the broker; each agent's part is journaled as an intent
    sent = [cid for cid, _ in broker.submissions()]
    assert len(sent) == len(set(sent)) and all("-net-" in cid for cid in sent)
    assert runner.journal.count("intent") > len(sent)
    # the risk layer's events are journaled at the decision (the conservative agent's position cap)
    assert runner.journal.count("risk_event") > 0
    runner.close()


def test_a_ledger_that_does_not_reconcile_halts_trading(tmp_path, market_data):
    broker = PaperBroker(tmp_path / "acct.sqlite", initial_cash=3e6)
    runner = Runner(
        "equal_weight", ReplayMarket(market_data), broker, tmp_path / "j.sqlite", _config(), progress=None
    )
    runner.run(max_bars=3)
    broker.submit(OrderRequest("someone-else", "AAA", 5.0))  # an order the runner did not send
    with pytest.raises(TradingHalted, match="do not reconcile.*AAA"):
        runner.run(max_bars=3)
    runner.close()
    again = Runner(
        "equal_weight", ReplayMarket(market_data), broker, tmp_path / "j.sqlite", _config(), progress=None
    )
    with pytest.raises(TradingHalted, match="records a halt"):
        again.run()
    again.close()


def test_dry_run_journals_orders_without_sending(tmp_path, market_data):
    broker = PaperBroker(tmp_path / "acct.sqlite", initial_cash=3e6)
    runner = Runner(
        "equal_weight",
        ReplayMarket(market_data),
        broker,
        tmp_path / "j.sqlite",
        _config(),
        dry_run=True,
        progress=None,
    )
    runner.run(max_bars=5)
    assert runner.journal.count("order") > 0 and broker.submissions() == [] and broker.positions() == {}
    acks = [p for _, _, _, p in runner.journal.entries("order_ack")]
    assert acks and all(p.get("dry_run") for p in acks)
    assert np.all(runner.sim.holdings[0] == 0.0) and runner.journal.count("fill") == 0  # the ledgers stay put
    runner.close()


# ---------------------------------------------------------------------- bad input


class _Tampered(ReplayMarket):
    """A replay whose bars are altered as a broken feed would deliver them."""

    def __init__(self, data, edits):
        super().__init__(data)
        self.edits = edits

    def next_bar(self, t, after=None):
        got = super().next_bar(t, after)
        if got is None or t not in self.edits:
            return got
        return self.edits[t](*got)


def _nan_close(date, fields):
    fields[3, 1] = np.nan
    return date, fields


def _stale(date, fields):
    return "2000-01-01T00:00:00", fields


def _jump(date, fields):
    fields[:4, 0] *= 6.0  # a one-bar x6 on AAA that the next bar takes back: a bad print
    return date, fields


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_nan_close, "missing or non-finite values for \\['BBB'\\]"),
        (_stale, "stale"),
        (_jump, "data validator"),
    ],
)
def test_a_bad_bar_is_refused_journaled_and_never_traded_on(tmp_path, market_data, edit, message, capsys):
    import sys

    bad = 70
    market = _Tampered(market_data, {bad: edit})
    broker = PaperBroker(tmp_path / "acct.sqlite", initial_cash=3e6)
    runner = Runner("momentum", market, broker, tmp_path / "j.sqlite", _config(), progress=sys.stderr)
    summary = runner.run()
    assert summary.refused_bars == 1
    (entry,) = list(runner.journal.entries("refused_bar"))
    assert entry[3]["source_index"] == bad
    assert pd.Series([entry[3]["message"]]).str.contains(message).all()
    assert "refused" in capsys.readouterr().err
    # the bad bar never reached the Simulation: its bars are the recording without bar 70
    closes = market_data.close
    sim_closes = runner.sim.bars[0, :, BAR_CLOSE]
    assert np.array_equal(sim_closes[:-1], np.concatenate([closes[:bad], closes[bad + 1 :]]))
    assert np.isnan(sim_closes[-1]).all()  # the run's last bar never came (the replay had one bar less)
    # and no order was built from it: fills at the bar after it are those of orders decided before it
    for _, _, _, p in runner.journal.entries("bar"):
        assert p["source_index"] != bad
    runner.close()


def test_an_unknown_ticker_is_a_clear_error_before_any_order(tmp_path, market_data):
    from wealtharena_env.cli import main

    path = tmp_path / "bars.csv"
    synthetic_frame(n_days=N_DAYS).to_csv(path, index=False)
    journal = tmp_path / "j.sqlite"
    code = main(
        [
            "trade",
            "--policy",
            "equal_weight",
            "--broker",
            "paper",
            "--bars",
            str(path),
            "--tickers",
            "AAA",
            "NOPE",
            "--journal",
            str(journal),
            "--paper-account",
            str(tmp_path / "a.sqlite"),
            "-q",
        ]
    )
    assert code == 2
    assert not journal.exists() or Journal(journal).count("order") == 0
    with pytest.raises(WealthArenaDataError, match="NOPE"):
        ReplayMarket(path, data_options={"tickers": ["AAA", "NOPE"]})


def _raising(obs):
    raise RuntimeError("model crashed")


def _nan_policy(obs):
    return np.full((obs.shape[0], 4), np.nan)


@pytest.mark.parametrize(
    ("policy", "message"), [(_raising, "raised RuntimeError: model crashed"), (_nan_policy, "NaN")]
)
def test_a_failing_policy_holds_and_is_journaled(tmp_path, market_data, policy, message):
    broker = PaperBroker(tmp_path / "acct.sqlite", initial_cash=3e6)
    runner = Runner(
        policy, ReplayMarket(market_data), broker, tmp_path / "j.sqlite", _config(), progress=None
    )
    summary = runner.run(max_bars=5)
    assert summary.policy_errors == 5 * 3 + 3  # every agent on every decision (5 filled, 1 waiting)
    errors = [p["message"] for _, _, _, p in runner.journal.entries("policy_error")]
    assert all(message in m and "holds" in m for m in errors)
    assert runner.journal.count("order") == 0 and broker.submissions() == []
    assert np.all(runner.sim.holdings[0] == 0.0)
    runner.close()


# ---------------------------------------------------------------------- report


def test_report_reads_a_journal(tmp_path, market_data):
    from wealtharena_env.cli import main  # (matplotlib is in the test extra)

    broker = PaperBroker(tmp_path / "acct.sqlite", initial_cash=3e6)
    runner = Runner(
        "momentum",
        _Tampered(market_data, {70: _nan_close}),
        broker,
        tmp_path / "j.sqlite",
        _config(),
        progress=None,
    )
    runner.run()
    final = dict(zip(runner.agents, runner.sim.portfolio_values[0].tolist()))
    fees = runner.sim.total_costs[0].tolist()
    runner.close()
    assert main(["report", str(tmp_path / "j.sqlite"), "-o", str(tmp_path / "report")]) == 0
    page = (tmp_path / "report" / "index.html").read_text()
    for name in ("equity", "drawdown", "weights", "risk_events"):
        assert (tmp_path / "report" / f"{name}.png").stat().st_size > 10_000
    from wealtharena_env.analytics.report import journal_trajectory

    doc = journal_trajectory(tmp_path / "j.sqlite")
    for k, name in enumerate(runner.agents):
        assert doc["agents"][name]["values"][-1] == final[name]
        assert doc["agents"][name]["cost"] == pytest.approx(fees[k], rel=1e-9)  # the broker's fees, booked
        ret = final[name] / 1e6 - 1.0
        assert f"<td>{name}</td><td>{100 * ret:.2f}%</td>" in page
    assert "refused: missing or non-finite values" in page  # the journal's problems are listed


# ---------------------------------------------------------------------- live feed (yfinance, faked)


def _yahoo(frame_days, tickers=("AAA", "BBB", "CCC")):
    frame = synthetic_frame(n_days=frame_days, tickers=tickers)
    by_ticker = {t: part.drop(columns="ticker").reset_index(drop=True) for t, part in frame.groupby("ticker")}
    calls = []

    def download(symbols, start, end):
        calls.append((tuple(symbols), start, end))
        return {t: f[(f["date"] >= start) & (f["date"] < end)] for t, f in by_ticker.items() if t in symbols}

    return frame, download, calls


def test_yfinance_feed_serves_complete_bars_after_the_last_one():
    from wealtharena_env.live.feeds import YFinanceFeed

    frame, download, calls = _yahoo(120)
    dates = sorted(frame["date"].unique())
    now = {"t": pd.Timestamp(dates[99]) + pd.Timedelta(hours=12)}  # bar 99 is today's: not complete yet
    feed = YFinanceFeed(["aaa", "bbb", "ccc"], download=download, now=lambda: now["t"])
    bars = np.empty((61, 6, 3))
    feed.sample(np.random.default_rng(0), bars)
    assert [c[0] for c in calls] == [("AAA", "BBB", "CCC")]  # one download, of the upper-cased symbols
    assert feed.dates[-1] == pd.Timestamp(dates[98]).isoformat() and len(feed.dates) == 61
    closes = frame.pivot(index="date", columns="ticker", values="close").to_numpy()
    assert np.array_equal(bars[:, BAR_CLOSE], closes[38:99])
    assert bars[0, 5].tolist() == [0.0, 0.0, 0.0]
    assert feed.next_bar(61) is None  # nothing new yet: bar 99 is still forming
    now["t"] += pd.Timedelta(days=1)
    date, fields = feed.next_bar(61)
    assert date == pd.Timestamp(dates[99]).isoformat() and fields[3].tolist() == closes[99].tolist()
    assert feed.next_bar(62, after=date) is None  # a restarted runner passes the journal's last bar
    assert feed.next_bar(62, after=feed.dates[-2])[0] == feed.dates[-1]


def test_yfinance_feed_offline_or_unknown_tickers():
    from wealtharena_env.live.feeds import YFinanceFeed

    _, download, _calls = _yahoo(120)
    offline = YFinanceFeed(["AAA"], download=lambda *a: {})  # yfinance offline: an empty frame, no exception
    with pytest.raises(WealthArenaDataError, match="offline"):
        offline.sample(np.random.default_rng(0), np.empty((61, 6, 1)))
    offline.dates = ["2020-01-01T00:00:00"]
    assert offline.next_bar(61) is None  # a poll that gets nothing is "no new bar"
    unknown = YFinanceFeed(["AAA", "NOPE"], download=download, now=lambda: pd.Timestamp("2021-01-01"))
    with pytest.raises(WealthArenaDataError, match="NOPE"):
        unknown.sample(np.random.default_rng(0), np.empty((61, 6, 2)))


def test_trade_command_replays_resumes_and_prints_a_progress_line(tmp_path, capsys):
    from wealtharena_env.cli import main

    path = tmp_path / "bars.csv"
    synthetic_frame(n_days=75).to_csv(path, index=False)
    args = ["trade", "--policy", "equal_weight", "--broker", "sim", "--bars", str(path),
            "--agents", "balanced_0", "aggressive_1", "--journal", str(tmp_path / "j.sqlite"),
            "--run-id", "cli"]  # fmt: skip
    assert main([*args, "--max-bars", "5"]) == 0
    out = capsys.readouterr()
    lines = [line for line in out.err.splitlines() if line.startswith("[cli] bar ")]
    assert (
        len(lines) == 5 and "| value 1,999," in lines[0] and "| orders " in lines[0] and "| sim" in lines[0]
    )
    assert "stopped (re-run the same command to resume): 5 bars" in out.out
    assert main(args) == 0  # the same command again: resumes from the journal and finishes
    out = capsys.readouterr()
    assert "resuming run 'cli'" in out.err and "finished: 14 bars" in out.out
    assert len([line for line in out.err.splitlines() if line.startswith("[cli] bar ")]) == 9  # only new bars
    with Journal(tmp_path / "j.sqlite") as journal:
        assert journal.count("step") == 14 and journal.count("bar") == 14


def test_replay_parity_with_the_indicator_features(tmp_path, market_data):
    """The "full" feature set's indicators are recomputed on the bars reached as they arrive: the
    same values."""
    config = _config().replace(feature_set="full")
    runner = Runner(
        "momentum", ReplayMarket(market_data), SimBroker(), tmp_path / "j.sqlite", config, progress=None
    )
    assert runner.run().finished
    env, steps = _backtest(runner.config, market_data, make_baseline("momentum", _FakeEnv(runner.sim)))
    _assert_parity(runner, env, steps)
    assert np.array_equal(runner.sim.indicators, env.sim.indicators)
    runner.close()


def test_runner_polls_a_live_feed_until_it_goes_quiet(tmp_path):
    """The live path end to end, offline: a feed whose clock advances a day per poll, a SimBroker."""
    from wealtharena_env.live.feeds import YFinanceFeed

    frame, download, _calls = _yahoo(100)
    dates = sorted(frame["date"].unique())
    clock = {"t": pd.Timestamp(dates[70])}

    def now():
        return clock["t"]

    feed = YFinanceFeed(["AAA", "BBB", "CCC"], download=download, now=now)

    def next_bar(t, after=None):
        clock["t"] += pd.Timedelta(days=1)  # one more day has passed at each poll
        return YFinanceFeed.next_bar(feed, t, after)

    feed.next_bar = next_bar
    # a weekend is two polls without a bar; the runner gives up after four
    runner = Runner("equal_weight", feed, SimBroker(), tmp_path / "j.sqlite", _config(2), poll_interval=0.001,
                    max_wait=0.0035, progress=None)  # fmt: skip
    summary = runner.run()
    # the warm-up ends on bar 69 (bar 70 is still forming at the start); bars 70..99 arrive, then nothing
    assert not summary.finished and summary.bars == 30
    assert runner.dates[: runner.config.warmup + 1][-1] == pd.Timestamp(dates[69]).isoformat()
    journaled = [p["date"] for _, _, _, p in runner.journal.entries("bar")]
    assert journaled == [pd.Timestamp(d).isoformat() for d in dates[70:100]]
    assert runner.journal.count("refused_bar") == 0
    runner.close()
