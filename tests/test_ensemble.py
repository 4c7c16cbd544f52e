"""Ensembles (blend, rolling-Sharpe switch, regime gate), the regime gate and the observation reader."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from conftest_market import FixedMarket
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wealtharena_env.config import CostModel, arena_config
from wealtharena_env.errors import ConfigError
from wealtharena_env.kernels.market import BAR_HIGH, BAR_LOW, BAR_OPEN, fill_log_returns
from wealtharena_env.leaderboard.baselines import make_baseline
from wealtharena_env.leaderboard.ensemble import (
    ActionMapping,
    EnsemblePolicy,
    EpisodeRows,
    parse_ensemble_spec,
    rolling_sharpe,
    sticky_best,
)
from wealtharena_env.leaderboard.evaluate import evaluate
from wealtharena_env.leaderboard.observation import ObservationLayout, drift_weights, sanitize_weights
from wealtharena_env.leaderboard.policies import PolicyCaller, PolicyLoadError, load_policy
from wealtharena_env.leaderboard.regime_gate import RegimeGate, VolatilityRegime, sticky_regime
from wealtharena_env.market_sources import SyntheticMarket
from wealtharena_env.sim import Simulation

PROPERTY = settings(deadline=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow])
MEMBERS = ["equal_weight", "risk_parity", "vol_timing"]


def small_config(**kw):
    base = {"n_assets": 3, "episode_length": 40, "window": 5, "warmup": 60, "agents": ["balanced_0"]}
    base.update(kw)
    return arena_config(**base)


def synthetic_bars(cfg, seed):
    bars = np.zeros((cfg.bars_per_episode, 6, cfg.n_assets))
    SyntheticMarket(cfg.market).sample(np.random.default_rng(seed), bars)
    return bars


def env_of(sim):
    """What policies are built for: anything with a ``sim``."""
    return SimpleNamespace(sim=sim, possible_agents=list(sim.config.agent_names))


def play(sim, policy, seed=0):
    """Closed loop: the policy drives every agent of a batch-1 Simulation; returns the actions (T, A, n)."""
    obs, _ = sim.reset(seeds=[seed])
    agents = range(sim.n_agents)
    actions = []
    for _ in range(sim.config.episode_length):
        act = policy(obs[0], episode_keys=list(agents))
        actions.append(np.array(act, dtype=np.float64))
        obs, _ = sim.step(np.asarray(act, dtype=np.float64)[None])
    return np.stack(actions)


# ---------------------------------------------------------------------------------------------- observation
def test_latest_log_returns_are_the_simulation_returns():
    """r_t = z_t sigma(t-1) / sqrt(P) from two consecutive observations equals the bar's log return."""
    cfg = small_config(n_assets=4)
    sim = Simulation(cfg)
    layout = ObservationLayout.from_env(env_of(sim))
    obs, _ = sim.reset(seeds=[3])
    previous = layout.annual_volatility(layout.batch(obs[0, 0]))
    for t in range(5):
        obs, _ = sim.step(np.zeros((1, 1, sim.n_action)))
        row = layout.batch(obs[0, 0])
        recovered = layout.latest_log_returns(row, previous)[0]
        bar = cfg.warmup + t + 1
        np.testing.assert_allclose(recovered, sim.history[0, :, bar], rtol=2e-6, atol=1e-9)
        previous = layout.annual_volatility(row)


def test_sanitize_and_drift_weights():
    w = sanitize_weights(np.array([[np.nan, 0.5, -1.0, 0.5], [0.0, 0.0, 0.0, 0.0], [0.2, 0.2, 0.2, 0.4]]))
    np.testing.assert_allclose(w, [[0, 0.5, 0, 0.5], [0, 0, 0, 1], [0.2, 0.2, 0.2, 0.4]])
    drifted = drift_weights(np.array([0.5, 0.0, 0.5]), np.array([1.0, 0.3]))  # asset 0 doubles
    np.testing.assert_allclose(drifted, [1.0 / 1.5, 0.0, 0.5 / 1.5])
    assert drift_weights(np.array([1.0, 0.0]), np.array([-1.0]))[-1] == 1.0  # wiped out: all cash


# ---------------------------------------------------------------------------------------------- mapping
@PROPERTY
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 6),
    zeros=st.integers(0, 6),
    mapping=st.sampled_from(["exponential", "simplex"]),
    dead_zone=st.sampled_from([0.0, 0.3]),
)
def test_action_mapping_inverts_exactly(seed, n, zeros, mapping, dead_zone):
    """exponential and simplex: the blend's action maps back to the blend (zeros and all-cash included)."""
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.ones(n + 1), size=4)
    w[:, rng.permutation(n + 1)[: min(zeros, n)]] = 0.0
    w[0] = 0.0
    w[0, -1] = 1.0  # all cash
    w = sanitize_weights(w)
    am = ActionMapping(n, action_mapping=mapping, dead_zone=dead_zone if mapping == "exponential" else 0.0)
    back = am.to_weights(am.to_actions(w, w), np.full_like(w, np.nan))
    np.testing.assert_allclose(back, w, atol=2e-6)


@PROPERTY
@given(seed=st.integers(0, 10_000), n=st.integers(1, 6), temperature=st.sampled_from([1.0, 3.0, 5.0]))
def test_softmax_inverse_is_within_its_documented_bound(seed, n, temperature):
    """softmax: exact within a factor exp(2T) of the largest weight; elsewhere off by <= (N+1) exp(-2T)."""
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.full(n + 1, 0.3), size=4)
    w[:, 0] = 0.0
    w = sanitize_weights(w)
    am = ActionMapping(n, action_mapping="softmax", temperature=temperature)
    back = am.to_weights(am.to_actions(w, w), w)
    bound = (n + 1) * np.exp(-2.0 * temperature)
    assert np.max(np.abs(back - w)) <= bound + 1e-6
    big = w >= w.max(axis=1, keepdims=True) * np.exp(-2.0 * temperature)
    if big.all():
        np.testing.assert_allclose(back, w, atol=1e-6)


def test_nan_member_action_holds():
    am = ActionMapping(2)
    held = np.array([[0.2, 0.3, 0.5]])
    np.testing.assert_array_equal(am.to_weights(np.full((1, 3), np.nan), held), held)


# ---------------------------------------------------------------------------------------------- maths
@PROPERTY
@given(
    data=st.lists(st.floats(-0.05, 0.05), min_size=0, max_size=30),
    length=st.integers(2, 12),
    min_history=st.integers(2, 6),
)
def test_rolling_sharpe_matches_numpy_on_the_last_window(data, length, min_history):
    ring = np.zeros((1, 1, length))
    for i, x in enumerate(data):
        ring[0, 0, i % length] = x
    got = rolling_sharpe(ring, np.array([len(data)]), 252.0, min_history)[0, 0]
    last = np.array(data[-length:]) if data else np.array([])
    if last.size < max(min_history, 2):
        assert np.isnan(got)
    elif np.std(last, ddof=1) <= 1e-15:
        assert got == 0.0
    else:
        assert got == pytest.approx(last.mean() / last.std(ddof=1) * np.sqrt(252.0), rel=1e-9, abs=1e-9)


def test_sticky_best_hysteresis():
    scores = np.array([[1.0, 1.4], [1.0, 1.6], [1.0, 1.6], [np.nan, np.nan], [np.nan, 0.1]])
    current = np.zeros(5, dtype=np.int64)
    since = np.array([30, 30, 3, 30, 30])
    # margin 0.5: 1.4 does not beat 1.0 by enough; 1.6 does, unless held for < min_hold; unknown scores keep
    np.testing.assert_array_equal(sticky_best(scores, current, since, 0.5, 21), [0, 1, 0, 0, 1])


def test_episode_rows_restart_on_new_keys_and_falling_progress():
    rows = EpisodeRows({"x": ((2,), 7.0)})
    slots, starts = rows.rows(["a", "b"], np.array([0.0, 0.0]))
    assert starts.tolist() == [True, True]
    rows["x"][slots] = 1.0
    slots, starts = rows.rows(["b", "a"], np.array([0.1, np.nan]))  # NaN progress never restarts
    assert starts.tolist() == [False, False] and np.all(rows["x"][slots] == 1.0)
    slots, starts = rows.rows(["a", "c"] + [f"k{i}" for i in range(10)], np.r_[0.0, np.zeros(11)])
    assert starts[0] and np.all(rows["x"][slots[0]] == 7.0)  # a's progress fell back: a new episode
    assert rows.rows(["b"], np.array([0.2]))[1].tolist() == [False]  # survived the growth


# ---------------------------------------------------------------------------------------------- blend
def test_blend_targets_the_weighted_mean_of_the_members_targets():
    cfg = small_config(n_assets=4)
    sim = Simulation(cfg)
    env = env_of(sim)
    obs, _ = sim.reset(seeds=[1])
    for _ in range(3):
        obs, _ = sim.step(np.zeros((1, 1, sim.n_action)))
    row = obs[0]
    am = ActionMapping.from_env(env)
    layout = ObservationLayout.from_env(env)
    held = sanitize_weights(layout.weights(layout.batch(row)))
    targets = [
        am.to_weights(make_baseline(b, env)(row), held) for b in ("equal_weight", "risk_parity", "cash")
    ]
    ens = EnsemblePolicy(["equal_weight", "risk_parity", "cash"], "blend", weights=[2, 1, 1]).build(env)
    got = am.to_weights(ens(row), held)
    np.testing.assert_allclose(got, 0.5 * targets[0] + 0.25 * targets[1] + 0.25 * targets[2], atol=2e-6)
    assert ens.last_choice.tolist() == [-1]


def test_blend_with_discrete_actions_steps_toward_the_blend():
    cfg = small_config(n_assets=3, action_type="discrete")
    sim = Simulation(cfg)
    env = env_of(sim)
    obs, _ = sim.reset(seeds=[0])  # all cash
    # a member's discrete target is one step from the held weights: the blend is a weighted vote
    ens = EnsemblePolicy(["equal_weight", "cash"], "blend", weights=[2, 1]).build(env)
    act = ens(obs[0])
    assert act.dtype == np.int64 and act.shape == (1, 3)
    assert act.tolist() == [[2, 2, 2]]  # 2/3 of the weight buys one step: 2/3 step > half a step: buy
    tie = EnsemblePolicy(["equal_weight", "cash"], "blend").build(env)
    assert tie(obs[0]).tolist() == [[1, 1, 1]]  # half buys, half holds: half a step is not more: hold
    ens_cash = EnsemblePolicy(["cash", "cash"], "blend").build(env)
    assert ens_cash(obs[0]).tolist() == [[1, 1, 1]]  # already all cash: hold


# ---------------------------------------------------------------------------------------------- switch
def trending_bars(cfg, up_until: int, drift: float = 0.01, noise: float = 0.002, seed: int = 0):
    """Prices that rise ``drift`` a bar (plus noise) until bar ``up_until`` and fall as fast after it."""
    rng = np.random.default_rng(seed)
    t = cfg.bars_per_episode
    step = np.where(np.arange(t) < up_until, drift, -drift)[:, None] + rng.normal(0, noise, (t, cfg.n_assets))
    close = 100.0 * np.exp(np.cumsum(step, axis=0))
    bars = np.zeros((t, 6, cfg.n_assets))
    bars[:, 3] = close
    bars[:, BAR_OPEN] = np.vstack([close[:1], close[:-1]])
    bars[:, BAR_HIGH] = np.maximum(bars[:, BAR_OPEN], close) * 1.001
    bars[:, BAR_LOW] = np.minimum(bars[:, BAR_OPEN], close) * 0.999
    bars[:, 4] = 1e7
    fill_log_returns(bars)
    return bars


def test_switch_follows_the_best_past_sharpe_with_hysteresis():
    """A market that rises, then falls: the switch starts with cash, moves to equal weight once its shadow's
    Sharpe is known to be better, and back to cash after the fall, with min_hold bars between switches."""
    cfg = small_config(episode_length=60, costs=CostModel.zero(), rebalance_rate=1.0)
    bars = trending_bars(cfg, up_until=cfg.warmup + 30)
    sim = Simulation(cfg, data=FixedMarket(bars))
    ens = EnsemblePolicy(
        ["cash", "equal_weight"], "switch", window=10, min_history=5, margin=0.5, min_hold=3
    ).build(env_of(sim))
    obs, _ = sim.reset(seeds=[0])
    choices = []
    for _ in range(cfg.episode_length):
        act = ens(obs[0], episode_keys=[0])
        choices.append(int(ens.last_choice[0]))
        obs, _ = sim.step(np.asarray(act, dtype=np.float64)[None])
    choices = np.array(choices)
    assert (choices[:5] == 0).all()  # the initial member until min_history shadow returns exist
    assert (choices[5:30] == 1).all()  # then the equal-weight shadow, which rose (cash's earned 0)
    assert choices[-1] == 0  # after the fall cash is better again
    switches = np.flatnonzero(np.diff(choices)) + 1
    assert len(switches) == 2 and np.all(np.diff(switches) >= 3)
    # the portfolio followed: invested in the rise, in cash at the end
    assert sim.observe()[0][0, 0, ObservationLayout.from_env(env_of(sim)).slices["weights"]][-1] > 0.99


def test_shadow_of_a_member_earns_what_it_holds():
    """The equal-weight shadow's recorded returns are the equal-weight portfolio's close-to-close returns
    (zero costs, full rebalancing): the mean of the assets' simple returns each bar."""
    cfg = small_config(episode_length=12, costs=CostModel.zero(), rebalance_rate=1.0)
    sim = Simulation(cfg)
    ens = EnsemblePolicy(["equal_weight", "cash"], "switch", window=20, min_history=2).build(env_of(sim))
    obs, _ = sim.reset(seeds=[5])
    for _ in range(cfg.episode_length):
        act = ens(obs[0], episode_keys=[0])
        obs, _ = sim.step(np.asarray(act, dtype=np.float64)[None])
    returns = ens.rows["returns"][0]  # (M, L)
    count = int(ens.rows["count"][0])
    bars = np.arange(cfg.warmup + 1, cfg.warmup + 1 + count)  # from the second observation on
    expected = np.expm1(sim.history[0][:, bars]).mean(axis=0)
    np.testing.assert_allclose(returns[0, :count], expected, rtol=1e-5, atol=1e-9)
    np.testing.assert_array_equal(returns[1, :count], 0.0)  # cash earns 0


# ---------------------------------------------------------------------------------------------- regime
def test_volatility_regime_hysteresis():
    source = VolatilityRegime(0.15, 0.20)
    calm, stressed = source.initial_probs(), np.array([0.0, 1.0])
    assert source.filter_step(calm, np.array([0.18])).tolist() == [1, 0]  # in the band: stays calm
    assert source.filter_step(calm, np.array([0.21])).tolist() == [0, 1]
    assert source.filter_step(stressed, np.array([0.16])).tolist() == [0, 1]  # in the band: stays stressed
    assert source.filter_step(stressed, np.array([0.14])).tolist() == [1, 0]
    assert source.filter_step(stressed, np.array([np.nan])).tolist() == [0, 1]
    with pytest.raises(ConfigError):
        VolatilityRegime(0.3, 0.2)


def test_sticky_regime_needs_the_switch_probability():
    probs = np.array([[0.4, 0.6], [0.2, 0.8], [np.nan, np.nan]])
    np.testing.assert_array_equal(sticky_regime(probs, np.zeros(3, dtype=np.int64), 0.7), [0, 1, 0])


def test_regime_ensemble_plays_the_member_of_the_volatility_regime():
    cfg = small_config(episode_length=80, n_assets=3)
    sim = Simulation(cfg)
    env = env_of(sim)
    layout = ObservationLayout.from_env(env)
    obs, _ = sim.reset(seeds=[11])
    vols = []  # choose thresholds inside this episode's range, so both regimes happen
    for _ in range(cfg.episode_length):
        vols.append(float(layout.feature(layout.batch(obs[0, 0]), "market_volatility")[0]))
        obs, _ = sim.step(np.zeros((1, 1, sim.n_action)))
    enter, exit_ = np.quantile(vols, [0.4, 0.6])
    ens = EnsemblePolicy(
        ["equal_weight", "cash"],
        "regime",
        regime="volatility",
        regime_options={"enter": enter, "exit": exit_},
    ).build(env)
    obs, _ = sim.reset(seeds=[11])
    stressed = False
    for t in range(cfg.episode_length):
        act = ens(obs[0], episode_keys=[0])
        x = vols[t]
        stressed = x >= enter if stressed else x > exit_
        assert ens.last_choice[0] == int(stressed), t
        obs, _ = sim.step(np.asarray(act, dtype=np.float64)[None])
    assert 0 < sum(vols[t] > exit_ for t in range(len(vols))) < len(vols)


class MarketReturnSource:
    """A causal two-state source on the market return: state 1 after a bar below ``-threshold``, state 0 after
    one above it; it records every signal it was fed."""

    def __init__(self, threshold=0.0):
        self.threshold = threshold
        self.seen: list[np.ndarray] = []

    def filter_step(self, probs, returns):
        self.seen.append(np.array(returns))
        x = float(returns[0])
        if x < -self.threshold:
            return np.array([0.0, 1.0])
        if x > self.threshold:
            return np.array([1.0, 0.0])
        return probs


def test_a_return_source_is_fed_the_market_return_bar_by_bar():
    """The gate warms the source up on the first observation's window, then feeds it each new bar's
    equal-weight market log return (what a Gaussian HMM filter would read)."""
    cfg = small_config(episode_length=6, n_assets=3, window=5)
    sim = Simulation(cfg)
    env = env_of(sim)
    source = MarketReturnSource()
    ens = EnsemblePolicy(["equal_weight", "cash"], "regime", regime=source, signal="market_return").build(env)
    obs, _ = sim.reset(seeds=[2])
    for _ in range(cfg.episode_length):
        act = ens(obs[0], episode_keys=[0])
        obs, _ = sim.step(np.asarray(act, dtype=np.float64)[None])
    assert len(source.seen) == cfg.window + cfg.episode_length - 1
    later = np.array([s[0] for s in source.seen[cfg.window :]])
    bars = np.arange(cfg.warmup + 1, cfg.warmup + cfg.episode_length)
    np.testing.assert_allclose(later, sim.history[0][:, bars].mean(axis=0), rtol=2e-6, atol=1e-9)
    assert np.all([s.shape == (1,) for s in source.seen])


def test_regime_gate_checks_the_number_of_states():
    layout = ObservationLayout(3, 5)
    with pytest.raises(ConfigError, match="2 regime probabilities"):
        RegimeGate(VolatilityRegime(), layout, 3)
    with pytest.raises(ConfigError, match="filter_step"):
        RegimeGate(object(), layout, 2)
    with pytest.raises(ConfigError, match="unknown regime signal"):
        RegimeGate(VolatilityRegime(), layout, 2, signal="price")


# ---------------------------------------------------------------------------------------------- causality
MODES = {
    "blend": {"mode": "blend"},
    "switch": {"mode": "switch", "window": 8, "min_history": 3, "margin": 0.0, "min_hold": 1},
    "regime_volatility": {
        "mode": "regime",
        "regime_options": {"enter": 0.1, "exit": 0.12},
        "regime_members": [0, 2],
    },
    "regime_returns": {
        "mode": "regime",
        "regime": "returns",
        "signal": "market_return",
        "regime_members": [0, 2],
    },
}


@PROPERTY
@given(
    seed=st.integers(0, 10_000),
    t=st.integers(0, 25),
    mode=st.sampled_from(sorted(MODES)),
    bump=st.one_of(st.floats(0.5, 0.9), st.floats(1.1, 2.0)),
)
def test_decisions_at_t_do_not_depend_on_bars_after_t(seed, t, mode, bump):
    """Perturb every price after decision bar d = warmup + t: the ensemble's actions at steps 0..t are
    unchanged (it reads observations only, and keeps no state that looks ahead)."""
    cfg = small_config(episode_length=30, n_assets=3, agents=["balanced_0", "aggressive_0"])
    bars = synthetic_bars(cfg, seed)
    changed = bars.copy()
    d = cfg.warmup + t
    changed[d + 1 :, :5, :] *= bump
    changed[d + 1 :, BAR_HIGH, :] = np.maximum(changed[d + 1 :, BAR_HIGH, :], changed[d + 1 :, BAR_OPEN, :])
    fill_log_returns(bars)
    fill_log_returns(changed)
    options = dict(MODES[mode])
    if options.get("regime") == "returns":
        options["regime"] = MarketReturnSource(0.002)
    runs = []
    for b in (bars, changed):
        sim = Simulation(cfg, data=FixedMarket(b))
        runs.append(play(sim, EnsemblePolicy(MEMBERS[:2] + ["cash"], **options).build(env_of(sim))))
    np.testing.assert_array_equal(runs[0][: t + 1], runs[1][: t + 1])


def test_the_causality_check_can_fail():
    """The switch's later decisions do depend on later bars (so the check above is not vacuous)."""
    cfg = small_config(episode_length=30, n_assets=3)
    bars = trending_bars(cfg, up_until=cfg.bars_per_episode)
    changed = trending_bars(cfg, up_until=cfg.warmup + 5)
    options = MODES["switch"]
    runs = []
    for b in (bars, changed):
        sim = Simulation(cfg, data=FixedMarket(b))
        runs.append(play(sim, EnsemblePolicy(["cash", "equal_weight"], **options).build(env_of(sim))))
    assert not np.array_equal(runs[0], runs[1])


# ---------------------------------------------------------------------------------------------- robustness
@pytest.mark.parametrize("mode", sorted(MODES))
def test_nan_observations_and_all_cash_do_not_crash(mode):
    cfg = small_config(n_assets=3, episode_length=20)
    sim = Simulation(cfg)
    env = env_of(sim)
    options = dict(MODES[mode])
    if options.get("regime") == "returns":
        options["regime"] = MarketReturnSource()
    ens = EnsemblePolicy(["equal_weight", "vol_timing", "cash"], **options).build(env)
    if "regime_members" in options:
        options["regime_members"] = [0, 1]
    cash_only = EnsemblePolicy(["cash", "cash"], **options).build(env)
    obs, _ = sim.reset(seeds=[4])  # the start is all cash
    row = obs[0, 0]
    assert row[ens.layout.slices["weights"]][-1] == 1.0
    all_nan = np.full_like(row, np.nan)
    part_nan = row.copy()
    part_nan[::3] = np.nan
    part_nan[ens.layout.slices["weights"]] = np.nan
    batch = np.stack([row, all_nan, part_nan])
    for step in range(4):
        batch[:, ens.layout.slices["progress"]] = step / 20
        for policy in (ens, cash_only):
            act = policy(batch, episode_keys=["ok", "nan", "part"])
            assert act.shape == (3, sim.n_action) and np.all(np.isfinite(act))
    held = np.zeros((1, 4))
    held[0, -1] = 1.0
    back = ActionMapping.from_env(env).to_weights(cash_only(row[None], episode_keys=["ok"]), held)
    np.testing.assert_allclose(back, held, atol=1e-6)  # all-cash members: the ensemble stays in cash
    assert ens(row).shape == (sim.n_action,)  # one observation in, one action out


def test_missing_members_and_bad_specs_are_load_errors(tmp_path):
    with pytest.raises(PolicyLoadError, match="member 1"):
        load_policy("ensemble:blend:equal_weight,no_such_baseline_or_module")
    with pytest.raises(PolicyLoadError, match="does not exist"):
        load_policy(f"ensemble:switch:equal_weight,{tmp_path / 'missing.zip'}")
    with pytest.raises(PolicyLoadError, match="MODE"):
        load_policy("ensemble:average:equal_weight,cash")
    with pytest.raises(PolicyLoadError, match="unknown option"):
        load_policy("ensemble:switch:equal_weight,cash?windw=10")
    with pytest.raises(PolicyLoadError, match="only apply to the blend"):
        load_policy("ensemble:switch:equal_weight=2,cash")
    with pytest.raises(PolicyLoadError, match="regime source"):
        load_policy("ensemble:regime:equal_weight,cash?regime=hmm")
    with pytest.raises(PolicyLoadError, match="does not exist"):
        load_policy(f"ensemble:{tmp_path / 'nope.json'}")
    with pytest.raises(ConfigError, match="weights"):
        EnsemblePolicy(["equal_weight", "cash"], weights=[1.0])
    with pytest.raises(ConfigError, match="no ensemble member named"):
        EnsemblePolicy(["equal_weight", "cash"], "switch", initial="momentum")
    with pytest.raises(ConfigError, match="mode"):
        EnsemblePolicy(["equal_weight"], "vote")


def test_spec_strings(tmp_path):
    loaded = load_policy("ensemble:blend:equal_weight=3,risk_parity=1")
    assert loaded.kind == "ensemble" and loaded.name == "blend(equal_weight,risk_parity)"
    spec = json.loads(loaded.spec.split(":", 1)[1])
    assert spec["weights"] == [0.75, 0.25] and spec["members"] == [
        "baseline:equal_weight",
        "baseline:risk_parity",
    ]
    again = load_policy(loaded.spec)  # the recorded spec loads the same ensemble
    assert again.spec == loaded.spec
    switch = parse_ensemble_spec("ensemble:switch:equal_weight,risk_parity,vol_timing?window=40&margin=0.25")
    assert (switch.window, switch.margin, switch.initial) == (40, 0.25, 0)
    regime = parse_ensemble_spec("ensemble:regime:equal_weight,cash?enter=0.1&exit=0.3&regime_members=1|0")
    assert isinstance(regime.regime_source, VolatilityRegime) and regime.regime_source.exit == 0.3
    assert regime.regime_members == [1, 0]
    path = tmp_path / "ens.json"
    path.write_text(json.dumps({"mode": "blend", "members": [{"spec": "cash", "weight": 1}, "equal_weight"]}))
    with pytest.raises(PolicyLoadError):  # mixing objects and strings is not the object form
        load_policy(f"ensemble:{path}")
    path.write_text(json.dumps({"mode": "switch", "members": ["cash", "equal_weight"], "min_hold": 5}))
    assert load_policy(f"ensemble:{path}").name == "switch(cash,equal_weight)"
    ens = EnsemblePolicy(["equal_weight", "cash"], "blend", name="half")
    assert load_policy(ens).name == "half" and load_policy(ens).kind == "ensemble"
    nested = EnsemblePolicy([ens, "risk_parity"], "switch")
    assert nested.members[0].kind == "ensemble"


# ---------------------------------------------------------------------------------------------- evaluate
def test_policy_caller_passes_episode_keys_to_stateful_policies_only():
    seen = []

    def stateless(obs):
        return np.zeros((obs.shape[0], 2))

    class Stateful:
        stateful = True

        def __call__(self, obs, episode_keys=None):
            seen.append(list(episode_keys))
            if len(episode_keys) > 1 and "bad" in episode_keys:
                raise RuntimeError("batch")
            if episode_keys == ["bad"]:
                raise RuntimeError("row")
            return np.zeros((obs.shape[0], 2))

    assert PolicyCaller(stateless, 2)(np.zeros((2, 3)), ["a", "b"])[1] == [None, None]
    caller = PolicyCaller(Stateful(), 2)
    assert caller(np.zeros((2, 3)), ["a", "b"])[1] == [None, None]
    _, errs = caller(np.zeros((2, 3)), ["a", "bad"])  # retried row by row, each with its own key
    assert errs[0] is None and "row" in errs[1]
    assert seen == [["a", "b"], ["a", "bad"], ["a"], ["bad"]]


def test_rows_are_followed_by_their_keys_not_their_positions():
    cfg = small_config(n_assets=3, episode_length=12, agents=["balanced_0", "aggressive_0", "conservative_0"])
    sim = Simulation(cfg)
    env = env_of(sim)
    policy = EnsemblePolicy(MEMBERS, "switch", window=6, min_history=2, margin=0.0, min_hold=1)
    in_order, shuffled = policy.build(env), policy.build(env)
    rng = np.random.default_rng(0)
    obs, _ = sim.reset(seeds=[9])
    keys = ["a", "b", "c"]
    for _ in range(cfg.episode_length):
        want = in_order(obs[0], episode_keys=keys)
        order = rng.permutation(3)
        got = shuffled(obs[0][order], episode_keys=[keys[i] for i in order])
        np.testing.assert_array_equal(got, want[order])
        obs, _ = sim.step(np.asarray(want, dtype=np.float64)[None])


def test_evaluate_keeps_each_episodes_state_apart():
    """A stateful ensemble scores episode s the same whether it is played alone or in a batch with others
    (state is kept per episode and agent), on a single-agent and a two-focal-seat task."""
    spec = "ensemble:switch:equal_weight,risk_parity,vol_timing?window=10&min_history=3&min_hold=2&margin=0"
    for task, length in (("BullBear-v0", 30), ("Impact-v0", 12)):
        kwargs = {"episode_length": length, "bootstrap_reps": 20, "progress": False, "trajectories": 0}
        both = evaluate(task, spec, seeds=[101, 202], scenarios=None, **kwargs)
        alone = evaluate(task, spec, seeds=[202], **kwargs)
        assert both["aggregates"]["n_failed"] == 0
        pick = {(e["scenario"], e["seed"]): e["focal"]["sharpe_ratio"] for e in both["episodes"]}
        for e in alone["episodes"]:
            assert pick[(e["scenario"], 202)] == e["focal"]["sharpe_ratio"]
        assert both["policy"]["kind"] == "ensemble"


def test_evaluate_scores_every_mode():
    for spec in (
        "ensemble:blend:equal_weight,risk_parity,vol_timing",
        "ensemble:regime:equal_weight,cash",
    ):
        doc = evaluate("Crash-v0", spec, n_seeds=2, episode_length=15, bootstrap_reps=20, progress=False)
        assert doc["aggregates"]["n_failed"] == 0 and np.isfinite(doc["aggregates"]["score"]["mean"]["point"])
