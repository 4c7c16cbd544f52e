"""Risk layer and composite reward: limits hold on every step, exits trigger exactly, reward = sum of terms,
golden differential Sharpe and VaR / CVaR, and profiles that mean something."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest_market import FixedMarket
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wealtharena_env import arena_v0
from wealtharena_env.config import (
    RISK_PROFILES,
    AgentProfile,
    CostModel,
    MarketConfig,
    RiskLimits,
    arena_config,
)
from wealtharena_env.kernels import reward as kr
from wealtharena_env.kernels import risk as kk
from wealtharena_env.kernels import step as ks
from wealtharena_env.kernels.market import BAR_CLOSE, BAR_OPEN, BAR_VOLUME, fill_log_returns
from wealtharena_env.market_sources import SyntheticMarket
from wealtharena_env.sim import Simulation

PROPERTY = settings(deadline=None, max_examples=12, suppress_health_check=[HealthCheck.too_slow])
TOL = 1e-9
EXACT = None  # no factor model: the risk layer reads the covariance itself (risk.factor_variance)
NO_LIMITS = RiskLimits(
    max_position=1.0,
    max_correlation=math.inf,
    volatility_budget=math.inf,
    var_limit=math.inf,
    cvar_limit=math.inf,
    stop_loss=math.inf,
    take_profit=math.inf,
    max_drawdown=math.inf,
)

BAD = st.sampled_from([np.nan, np.inf, -np.inf, 1e300, -1e300, -0.5, 0.0, 0.2, 0.7, 1.0, 3.0])


#: Actions traded straight to their simplex targets (no softmax, no partial rebalancing, no band): the
#: tests below check the risk layer and execution against exact target weights.
DIRECT = {"action_mapping": "simplex", "rebalance_rate": 1.0, "rebalance_band": 0.0}


def limits_of(sim, a):
    return sim.agent_params[a]["limits"]


def check_limits_after_step(sim, before_shares, cov_d, d, a, tol=TOL, factors_d=EXACT):
    """The post-trade portfolio, valued at the decision bar's prices, satisfies every limit of agent a
    (volatility, VaR and CVaR by the risk model's variance: ``factors_d`` its factor model at the decision
    bar, or the covariance itself)."""
    lim = limits_of(sim, a)
    close = sim.bar(d)[BAR_CLOSE]
    shares = sim.holdings[0, a]
    cash_before_value = None
    del cash_before_value
    value_d = sim._value_before[a]
    w = shares * close / value_d
    assert np.all(w >= -tol)
    # position cap and leverage
    assert w.max() <= lim["max_position"] + tol
    assert w.sum() <= lim["max_leverage"] + tol
    # volatility budget by the kernel's own estimator (EWMA covariance at the decision bar, or its factor
    # model, checked against numpy's product of the model's matrices)
    if factors_d is not None:
        k = (factors_d.shape[0] - 1) // 3
        q, m, specific = factors_d[:k], factors_d[k : 2 * k, :k], factors_d[2 * k]
        model = q.T @ m @ q + np.diag(specific)
        sigma = math.sqrt(max(w @ model @ w, 0.0))
    else:
        sigma = math.sqrt(max(w @ cov_d @ w, 0.0))
    ppy = sim.config.market.periods_per_year
    assert sigma * math.sqrt(ppy) <= lim["volatility_budget"] * (1 + 1e-9) + tol
    # VaR / CVaR budgets (parametric and historical)
    lookback = int(lim["var_lookback"])
    history = np.ascontiguousarray(
        sim.history[0, :, d - lookback + 1 : d + 1]
    )  # (N, L) log returns of the bars
    hv, hc = kk.historical_var_cvar(
        np.append(w, 0.0), history, 0, history.shape[1], lim["tail_probability"], np.zeros(lookback + 16)
    )
    assert max(hv, lim["var_z"] * sigma) <= lim["var_limit"] * (1 + 1e-9) + tol
    assert max(hc, lim["cvar_factor"] * sigma) <= lim["cvar_limit"] * (1 + 1e-9) + tol
    # correlation cap: every increased position is not too correlated with any other held position
    increased = np.flatnonzero(shares > before_shares * (1 + 1e-12) + 1e-12)
    held = np.flatnonzero(shares > 0)
    sd = np.sqrt(np.diag(cov_d))
    for i in increased:
        for j in held:
            if j != i:
                assert cov_d[i, j] / (sd[i] * sd[j]) <= lim["max_correlation"] + 1e-9
    # drawdown breaker (liquidate): in breach or cooldown -> no risky position
    if sim._drawdown_before[a] >= lim["max_drawdown"] or sim._cooldown_before[a] > 0:
        assert np.all(shares == 0)


def stepped(sim, actions):
    """Step and remember what the checks need from before the step."""
    d = sim.config.warmup + int(sim.clock[0, 0])
    before = sim.holdings[0].copy()
    cov = sim.covariance[0].copy()
    sim._factors_before = None if sim.risk_factors is None else sim.risk_factors[0].copy()
    close = sim.bar(d)[BAR_CLOSE]
    sim._value_before = sim.agent_state[0]["cash"] + sim.holdings[0] @ close
    sim._drawdown_before = sim.agent_state[0]["drawdown"].copy()
    sim._cooldown_before = sim.agent_state[0]["cooldown"].copy()
    _obs, info = sim.step(actions)
    return d, before, cov, info


@PROPERTY
@given(
    seed=st.integers(0, 100_000),
    values=st.lists(BAD, min_size=8, max_size=8),
    impact=st.sampled_from([0.0, 1.0]),
    crash=st.booleans(),
    lot=st.sampled_from([0.0, 0.0, 1.0, 0.3, 7.5, 100.0]),
    risk_factors=st.sampled_from([0, 0, 1, 3]),
)
def test_every_limit_holds_after_every_step(seed, values, impact, crash, lot, risk_factors):
    """Hostile actions, price impact, crashes, lot sizes (whole and fractional) and the factor risk model:
    after every step every agent's portfolio satisfies every limit of its profile."""
    market = MarketConfig(n_assets=7, impact=impact, initial_regime=2 if crash else -1)
    cfg = arena_config(
        market=market, episode_length=25, costs=CostModel(lot_size=lot), risk_factors=risk_factors
    )
    sim = Simulation(cfg)
    sim.reset(seeds=[seed])
    rng = np.random.default_rng(seed)
    for _ in range(cfg.episode_length):
        acts = rng.uniform(-1, 1, (1, sim.n_agents, sim.n_action))
        acts[0, 0] = values  # arbitrary, hostile actions for one agent
        acts[0, 1] = rng.choice(values, sim.n_action)
        acts[0, 3] = np.abs(acts[0, 3]) * 1e6  # "all in" of an aggressive agent
        d, before, cov, info = stepped(sim, acts)
        assert np.all(np.isfinite(info))
        assert np.all(info[0, :, ks.IN_N_EVENTS] <= ks.max_events(sim.n_assets))  # every event has a slot
        for a in range(sim.n_agents):
            check_limits_after_step(sim, before[a], cov, d, a, factors_d=sim._factors_before)


@settings(deadline=None, max_examples=30)
@given(lot=st.sampled_from([0.3, 0.7, 1.0, 2.5, 13.0]), seed=st.integers(0, 1000))
def test_a_stop_loss_exit_with_lots_closes_the_position_and_fires_once(lot, seed):
    """With lot sizes (fractional ones too) a full exit leaves no lot behind: the stop-loss fires once, the
    position is 0, and the asset can be bought again afterwards."""
    limits = NO_LIMITS.replace(stop_loss=0.05)
    cfg = arena_config(
        n_assets=1,
        episode_length=12,
        agents=(AgentProfile("a", risk=limits),),
        costs=CostModel(lot_size=lot),
        **DIRECT,
    )
    rng = np.random.default_rng(seed)
    closes = [100.0, 100.0, 80.0, 80.0, 80.0, 80.0, 81.0, 82.0, 83.0, 84.0, 85.0, 86.0, 87.0]
    bars = one_asset_bars(cfg, closes, opens=[c * rng.uniform(0.999, 1.001) for c in closes])
    sim = Simulation(cfg, data=FixedMarket(bars))
    sim.reset(seeds=[seed])
    fired = []
    for step in range(cfg.episode_length):
        _, info = sim.step(np.array([[[1.0, 0.0]]]))  # all in, every step
        events = int(info[0, 0, ks.IN_N_EVENTS])
        rules = [kk.RULE_NAMES[int(info[0, 0, ks.IN_WEIGHTS + 2 + 3 * k])] for k in range(events)]
        fired.append("stop_loss" in rules)
        if step == 2:  # decided on the bar that fell 20 %: the whole position goes
            assert fired[-1] and sim.holdings[0, 0, 0] == 0.0
    assert sum(fired) == 1, fired
    assert sim.holdings[0, 0, 0] > 0.0  # bought back (a new entry price: no stop until it falls 5 %)
    assert sim.holdings[0, 0, 0] / lot == pytest.approx(round(sim.holdings[0, 0, 0] / lot), abs=1e-6)


@pytest.mark.parametrize("lot", [0.1, 0.3, 0.7, 1.0, 2.5])
def test_lot_rounding_never_leaves_exposure_above_the_target(lot):
    """Sells round up to whole lots (at most the position), buys down; a target of 0 closes the position in
    full — for every position size, including those whose share count is not an exact float multiple of the
    lot."""
    from wealtharena_env.kernels import execution as kx

    for k in range(1, 1500):
        holdings = np.array([k * lot, 0.0])  # bought in whole lots: k lots, with the float product's rounding
        prices = np.array([37.3, 50.0])
        cash = 1000.0
        value = cash + holdings @ prices
        for target_fraction in (0.0, 0.37, 0.5):
            target = np.array([target_fraction * holdings[0] * prices[0] / value, 0.2, 0.0])
            target[-1] = 1.0 - target[:2].sum()
            h = holdings.copy()
            kx.rebalance_to_targets(
                target,
                h,
                cash,
                kx.OrderBar(prices, prices, np.zeros(2), np.full(2, 1e12)),
                kx.ExecutionCosts(0.0, 0.0, lot),
                np.zeros(2),
                np.zeros(2),
            )
            if target_fraction == 0.0:
                assert h[0] == 0.0, (k, lot)
            else:
                assert h[0] * prices[0] <= target[0] * value * (1 + 1e-12), (k, lot, target_fraction)
                assert h[0] / lot == pytest.approx(round(h[0] / lot), abs=1e-6)
            assert h[1] * prices[1] <= target[1] * value * (1 + 1e-12)


@PROPERTY
@given(
    seed=st.integers(0, 100_000),
    values=st.lists(BAD, min_size=6, max_size=6),
    lot=st.sampled_from([0.0, 1.0, 0.3]),
    every=st.sampled_from([2, 3, 7]),
)
def test_limits_hold_or_the_shortfall_is_reported_on_zero_volume_bars(seed, values, lot, every):
    """On bars without volume (a forward-filled calendar, a halted stock) the participation limit holds sells
    back: then every position left above a limit is reported as a ``participation_cap`` event with the weight
    left over, and no event claims a removal beyond what the trades did."""
    market = MarketConfig(n_assets=5)
    cfg = arena_config(market=market, episode_length=30, costs=CostModel(lot_size=lot))
    bars = np.zeros((cfg.bars_per_episode, 6, 5))
    SyntheticMarket(market).sample(np.random.default_rng(seed), bars)
    bars[cfg.warmup :: every, BAR_VOLUME] = 0.0  # every `every`-th decision bar has no volume
    sim = Simulation(cfg, data=FixedMarket(bars))
    sim.reset(seeds=[seed])
    rng = np.random.default_rng(seed)
    reported = 0
    for _ in range(cfg.episode_length):
        acts = rng.uniform(-1, 1, (1, sim.n_agents, sim.n_action))
        acts[0, 0] = values
        acts[0, 3] = np.abs(acts[0, 3]) * 1e6
        d, before, cov, info = stepped(sim, acts)
        for a in range(sim.n_agents):
            row = info[0, a]
            events = [
                (
                    kk.RULE_NAMES[int(row[ks.IN_WEIGHTS + 6 + 3 * k])],
                    int(row[ks.IN_WEIGHTS + 7 + 3 * k]),
                    row[ks.IN_WEIGHTS + 8 + 3 * k],
                )
                for k in range(int(row[ks.IN_N_EVENTS]))
            ]
            short = {asset: -removed for rule, asset, removed in events if rule == "participation_cap"}
            assert all(left > 0 for left in short.values())
            reported += len(short)
            if bars[d, BAR_VOLUME].min() > 0:
                check_limits_after_step(sim, before[a], cov, d, a)
                assert not short
                continue
            # nothing traded on a zero-volume bar: every position that had to shrink is reported, by asset
            close = sim.bar(d)[BAR_CLOSE]
            w = sim.holdings[0, a] * close / sim._value_before[a]
            lim = limits_of(sim, a)
            for i in np.flatnonzero(w > lim["max_position"] + TOL):
                assert i in short and short[i] >= w[i] - lim["max_position"] - TOL, (i, w[i], short)
            if w.sum() > lim["max_leverage"] + TOL or sim._drawdown_before[a] >= lim["max_drawdown"]:
                assert short or not np.any(w > TOL)
    assert reported > 0  # the zero-volume path was exercised


def one_asset_bars(cfg, closes, opens=None):
    bars = np.zeros((cfg.bars_per_episode, 6, 1))
    SyntheticMarket(cfg.market).sample(np.random.default_rng(0), bars)
    start = cfg.warmup
    for k, c in enumerate(closes):
        bars[start + k, BAR_CLOSE, 0] = c
        o = c if opens is None else opens[k]
        bars[start + k, BAR_OPEN, 0] = o
        bars[start + k, 1, 0] = max(o, c)
        bars[start + k, 2, 0] = min(o, c)
    fill_log_returns(bars)
    return bars


@pytest.mark.parametrize("kind", ["stop_loss", "take_profit"])
@pytest.mark.parametrize("exit_mode", ["close", "trim"])
def test_exits_trigger_exactly_when_price_crosses_the_threshold(kind, exit_mode):
    limits = NO_LIMITS.replace(stop_loss=0.08, take_profit=0.20, exit_mode=exit_mode, trim_fraction=0.5)
    cfg = arena_config(
        market=MarketConfig(n_assets=1),
        agents=(AgentProfile("solo", risk=limits),),
        **DIRECT,
        episode_length=9,
        costs=CostModel.zero(),
    )
    # entry at the open of bar warmup+1 = 100; then closes walk toward the threshold, crossing on bar +5
    if kind == "stop_loss":
        closes = [100, 100, 97, 94, 92.01, 92.0, 90, 89, 88, 88]  # threshold 92.0 = 100 * (1 - 0.08)
    else:
        closes = [100, 100, 105, 110, 119.99, 120.0, 125, 126, 127, 127]  # threshold 120.0
    bars = one_asset_bars(cfg, closes, opens=[100] * len(closes))
    sim = Simulation(cfg, data=FixedMarket(bars))
    sim.reset(seeds=[0])
    fired = []
    for t in range(cfg.episode_length):
        shares_before = sim.holdings[0, 0, 0]
        _, info = sim.step(np.array([[[1.0, 0.0]]]))  # keeps asking for 100% in the asset
        events = int(info[0, 0, ks.IN_N_EVENTS])
        rules = [int(info[0, 0, ks.IN_WEIGHTS + 2 + 3 * k]) for k in range(events)]
        fired.append(kk.RULE_NAMES.index(kind) in rules)
        if fired[-1]:
            kept = sim.holdings[0, 0, 0] / shares_before
            assert kept == pytest.approx(0.5 if exit_mode == "trim" else 0.0, abs=1e-12)
        if t == 0:
            assert sim.average_cost[0, 0, 0] == pytest.approx(100.0)
    # decisions are on bars warmup + t: the close crosses on warmup + 5
    assert fired[:5] == [False] * 5 and fired[5] is True


def test_reward_is_the_weighted_sum_of_its_terms_and_log_mode_is_plain():
    env = arena_v0.parallel_env(n_assets=5, episode_length=40, info_level="full")
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    weights = {p.name: p.reward for p in env.config.agents}
    while env.agents:
        _obs, rewards, _, _, infos = env.step(
            {a: rng.uniform(-1, 1, 6).astype(np.float32) for a in env.agents}
        )
        for a, info in infos.items():
            terms = info["reward_terms"]
            assert set(terms) == set(kr.TERM_NAMES)
            expected = sum(getattr(weights[a], k) * v for k, v in terms.items())
            assert rewards[a] == pytest.approx(expected, rel=1e-12, abs=1e-15)
            assert (
                terms["risk"] <= 0 and terms["cost"] <= 0 and terms["stability"] <= 0 and terms["breach"] <= 0
            )
            assert terms["diversification"] >= 0
            assert terms["profit"] == pytest.approx(
                math.log(info["portfolio_value"])
                - math.log(info["portfolio_value"] / math.exp(terms["profit"]))
            )
    plain = arena_v0.parallel_env(n_assets=5, episode_length=5, reward_mode="log_return", info_level="full")
    plain.reset(seed=3)
    _, rewards, _, _, infos = plain.step({a: np.ones(6, dtype=np.float32) for a in plain.agents})
    for a in rewards:
        assert rewards[a] == infos[a]["reward_terms"]["profit"]


def test_risk_term_is_half_the_ex_ante_variance_of_the_held_target_and_diversification_scales_with_it():
    cfg = arena_config(n_assets=3, episode_length=5, risk_enabled=False, agents=("balanced_0",), **DIRECT)
    sim = Simulation(cfg)
    sim.reset(seeds=[4])
    for target in ([0.2, 0.3, 0.1, 0.4], [0.02, 0.03, 0.01, 0.94], [0.0, 0.0, 0.0, 1.0]):
        w = np.array(target)
        cov = sim.asset_state[0, :3].copy()  # the EWMA covariance known at the decision bar
        sigma = np.sqrt(np.diag(cov)).mean()
        _, info = sim.step(w[None, None, :])
        terms = info[0, 0, ks.IN_TERMS : ks.IN_TERMS + kr.N_TERMS]
        assert terms[kr.TERM_RISK] == pytest.approx(-0.5 * w[:3] @ cov @ w[:3], rel=1e-12, abs=1e-18)
        u = w[:3] / w[:3].sum() if w[:3].sum() > 0 else w[:3]
        expected = (1 - (u**2).sum()) * w[:3].sum() * sigma if w[:3].sum() > 0 else 0.0
        assert terms[kr.TERM_DIVERSIFICATION] == pytest.approx(expected, rel=1e-12, abs=1e-18)


@pytest.mark.parametrize("action_type", ["continuous", "discrete"])
def test_target_risk_term_charges_the_requested_target_and_is_off_by_default(action_type):
    """``target_risk`` is -v'Cv/2 of the target the action asks for (mapped, before partial rebalancing and
    the risk layer), C the covariance known at the decision bar; weighted into the reward; 0 unless
    weighted."""
    from wealtharena_env.config import REWARD_PRESETS
    from wealtharena_env.kernels import execution as kx

    reward = REWARD_PRESETS["balanced"].replace(target_risk=7.0)
    agents = (AgentProfile("charged", "balanced", reward=reward), AgentProfile("plain", "balanced"))
    cfg = arena_config(n_assets=3, episode_length=6, agents=agents, action_type=action_type)
    sim = Simulation(cfg)
    sim.reset(seeds=[2])
    rng = np.random.default_rng(0)
    for step in range(6):
        cov = sim.covariance[0].copy()
        held = sim.info(0)["weights"].copy()
        if action_type == "continuous":
            actions = rng.uniform(-1, 1, (1, 2, 4))
            requested = np.empty(4)
            kx.continuous_action_to_weights(
                actions[0, 0],
                kx.MAPPING_EXPONENTIAL,
                cfg.softmax_temperature,
                cfg.action_dead_zone,
                requested,
            )
        else:
            actions = rng.integers(0, 3, (1, 2, 3)).astype(np.float64)
            requested = np.empty(4)
            kx.discrete_action_to_weights(actions[0, 0], held, cfg.discrete_step, requested)
        sim.step(actions)
        charged, plain = sim.info(0), sim.info(1)
        expected = -0.5 * requested[:3] @ cov @ requested[:3]
        assert charged["reward_terms"]["target_risk"] == pytest.approx(expected, rel=1e-12, abs=1e-20), step
        assert plain["reward_terms"]["target_risk"] == 0.0
        total = sum(getattr(reward, k) * v for k, v in charged["reward_terms"].items())
        assert charged["reward"] == pytest.approx(total, rel=1e-12, abs=1e-15)
        if action_type == "continuous" and step == 0:  # partial rebalancing: the held risk is far smaller
            assert charged["reward_terms"]["risk"] > 2 * expected


def _asset_stats(
    cov: np.ndarray, history: np.ndarray, bar: int, lookback: int, floor: float = -np.inf
) -> np.ndarray:
    out = np.empty((4, cov.shape[0]))
    kk.asset_statistics(cov, history, bar, lookback, floor, out)
    return out


def test_asset_statistics_equal_numpy():
    rng = np.random.default_rng(4)
    n = 7
    factors = rng.normal(size=(n, n)) * 0.01
    cov = factors @ factors.T + np.diag(rng.uniform(1e-5, 4e-4, n))
    history = rng.normal(0, 0.02, (n, 90))
    stats = _asset_stats(cov, history, 80, 30)
    sigma = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sigma, sigma)
    np.fill_diagonal(corr, -np.inf)
    np.testing.assert_allclose(stats[0], sigma, rtol=1e-15)
    np.testing.assert_allclose(stats[1], corr.max(axis=1), rtol=1e-14)
    np.testing.assert_array_equal(stats[2], np.maximum(-history[:, 51:81].min(axis=1), 0.0))
    scaled = cov * (1.0 / sigma)[None, :]  # C_ij / sigma_j, the kernel's own products
    np.fill_diagonal(scaled, -np.inf)
    np.testing.assert_array_equal(stats[3], scaled.argmax(axis=1))
    assert np.all(stats[3] != np.arange(n))


@settings(deadline=None, max_examples=200)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 12),
    profile=st.sampled_from(RISK_PROFILES),
    correlation=st.floats(0.0, 0.95),
    tails=st.sampled_from([0.005, 0.02, 0.06]),
)
def test_risk_layer_screens_never_change_the_outcome(seed, n, profile, correlation, tails):
    """The screens of apply_risk_layer (skip the correlation cap when no increased asset is correlated enough,
    refuse a candidate at once when its most correlated asset is held and too correlated, skip the
    historical VaR when its bound is below the limits) give the same target, events, counts, flags and
    sigma_p, bit for bit, as running every rule (statistics that never screen anything out)."""
    rng = np.random.default_rng(seed)
    lim = Simulation(arena_config(n_assets=n, agents=(AgentProfile("a", profile),))).agent_params[0]["limits"]
    common = rng.normal(size=n)
    loadings = np.sqrt(correlation) * np.outer(common, common) / max(np.abs(common).max() ** 2, 1e-12)
    vol = rng.uniform(0.005, 0.03, n)
    cov = (loadings + np.diag(np.maximum(1 - np.diag(loadings), 1e-3))) * np.outer(vol, vol)
    history = rng.standard_t(3, size=(n, 80)) * tails
    close = rng.uniform(50, 150, n)
    current = rng.dirichlet(np.ones(n + 1) * rng.choice([0.3, 5.0]))
    target = rng.dirichlet(np.ones(n + 1) * rng.choice([0.3, 5.0]))
    drawdown, cooldown = rng.choice([0.0, 0.05, 0.4]), rng.choice([0.0, 0.0, 2.0])
    entry = close * rng.uniform(0.8, 1.2, n)
    screened = _asset_stats(cov, history, 70, 60, lim["max_correlation"])  # as the step kernel computes them
    unscreened = _asset_stats(cov, history, 70, 60)
    unscreened[1] = np.inf  # every asset "could be" too correlated
    unscreened[3] = -1.0  # and the held set is scanned without checking the most correlated asset first
    unscreened[2] = 1e300  # the historical VaR "could" bind (finite: 0 x inf would be NaN)
    outs = []
    for stats in (screened, unscreened):
        t = target.copy()
        events, counts = np.zeros(3 * (2 * n + 6)), np.zeros(kk.N_RULES)
        result = kk.apply_risk_layer(
            t,
            kk.HeldPositions(current, current[:n] * 1e6 / close, close, entry),
            kk.AssetRisk(cov, EXACT, stats, history, 70, 252.0),
            lim,
            kk.BreakerState(drawdown, cooldown),
            kk.EventLog(events, counts),
            np.zeros(128),
        )
        outs.append((t, events, counts, result))
    (t1, e1, c1, r1), (t2, e2, c2, r2) = outs
    np.testing.assert_array_equal(t1, t2)
    np.testing.assert_array_equal(e1, e2)
    np.testing.assert_array_equal(c1, c2)
    assert r1 == r2


def test_risk_layer_returns_the_volatility_of_its_final_target():
    """The sigma_p the risk layer returns (the reward's risk term reuses it) is sqrt(w'Cw) of the target it
    leaves, whichever rules scaled it; every scaling rule fires somewhere in the sweep."""
    n = 10
    fired = np.zeros(kk.N_RULES)
    limits = {
        p: Simulation(arena_config(n_assets=n, agents=(AgentProfile("a", p),))).agent_params[0]["limits"]
        for p in ("conservative", "balanced", "aggressive")
    }
    for seed in range(150):
        rng = np.random.default_rng(seed)
        factors = rng.normal(size=(n, n)) * rng.uniform(0.002, 0.03)
        cov = factors @ factors.T + np.diag(rng.uniform(1e-5, 4e-4, n))
        close = rng.uniform(50, 150, n)
        history = rng.standard_t(2, size=(n, 80)) * rng.uniform(
            0.005, 0.06
        )  # fat tails: historical VaR binds
        for profile, lim in limits.items():
            target = rng.dirichlet(np.ones(n + 1) * rng.choice([0.3, 5.0]))
            current = rng.dirichlet(np.ones(n + 1))
            _, _, _, sigma_p = kk.apply_risk_layer(
                target,
                kk.HeldPositions(current, current[:n] * 1e6 / close, close, close * rng.uniform(0.8, 1.2, n)),
                kk.AssetRisk(cov, EXACT, _asset_stats(cov, history, 70, 60), history, 70, 252.0),
                lim,
                kk.BreakerState(rng.choice([0.0, 0.05, 0.4]), rng.choice([0.0, 0.0, 2.0])),
                kk.EventLog(np.zeros(3 * (2 * n + 6)), fired),
                np.zeros(96),
            )
            assert sigma_p**2 == pytest.approx(target[:n] @ cov @ target[:n], rel=1e-9, abs=1e-18), (
                seed,
                profile,
            )
    # the leverage cap binds only on a calm, broad portfolio: conservative's 0.8 against 10 x 0.09
    target = np.r_[np.full(n, 0.09), 0.1]
    calm = np.diag(np.full(n, 1e-6))
    close = np.full(n, 100.0)
    _, _, _, sigma_p = kk.apply_risk_layer(
        target,
        kk.HeldPositions(target.copy(), target[:n] * 1e6 / close, close, close),
        kk.AssetRisk(
            calm, EXACT, _asset_stats(calm, np.zeros((n, 80)), 70, 60), np.zeros((n, 80)), 70, 252.0
        ),
        limits["conservative"],
        kk.BreakerState(0.0, 0.0),
        kk.EventLog(np.zeros(3 * (2 * n + 6)), fired),
        np.zeros(96),
    )
    assert sigma_p**2 == pytest.approx(target[:n] @ calm @ target[:n], rel=1e-9)
    scaling = (
        "volatility_budget",
        "var_budget",
        "cvar_budget",
        "leverage_cap",
        "drawdown_breaker",
        "breaker_cooldown",
    )
    assert all(fired[kk.RULE_NAMES.index(rule)] > 0 for rule in scaling), dict(zip(kk.RULE_NAMES, fired))


def test_default_reward_prefers_investing_in_a_calm_market_and_cash_in_a_crash():
    """The default reward agrees with the leaderboard's metric: in a calm bull market an equal-weight
    portfolio earns more reward than cash, in a persistent high-volatility bear market less. (Under the old
    default, a risk term linear in volatility and a turnover penalty made cash the optimum of the reward in
    every market.)"""
    import dataclasses

    from wealtharena_env.leaderboard.tasks import CALM_MARKET, CRASH_MARKET

    crash = dataclasses.replace(
        CRASH_MARKET, regime_transition=((0.995, 0.004, 0.001), (0.012, 0.983, 0.005), (0.0, 0.0, 1.0))
    )
    for market, invest_wins in ((CALM_MARKET, True), (crash, False)):
        cfg = arena_config(
            market=market, episode_length=252, agents=("balanced_0", "balanced_1"), risk_enabled=False
        )
        sim = Simulation(cfg, batch_size=16)
        sim.reset(seeds=list(range(100, 116)))
        total = np.zeros((16, 2))
        acts = np.zeros((16, 2, cfg.n_assets + 1))
        acts[:, 0, : cfg.n_assets] = 1.0  # agent 0: equal weight (softmax of equal logits, cash at -1)
        acts[:, 0, cfg.n_assets] = -1.0
        acts[:, 1, : cfg.n_assets] = -1.0  # agent 1: cash
        acts[:, 1, cfg.n_assets] = 1.0
        for _ in range(cfg.episode_length):
            _, info = sim.step(acts)
            total += info[:, :, ks.IN_REWARD]
        mean_invested, mean_cash = total.mean(axis=0)
        assert bool(mean_invested > mean_cash) == invest_wins, (market.regime_drift, mean_invested, mean_cash)


# ------------------------------------------------------------------------------------------- golden values
def dsr_from_definition(returns, eta, a0, b0):
    """Moody & Saffell (2001): D_t = (B_{t-1} dA_t - A_{t-1} dB_t / 2) / (B_{t-1} - A_{t-1}^2)^{3/2}."""
    a, b, out = a0, b0, []
    for r in returns:
        da, db = r - a, r * r - b
        out.append((b * da - 0.5 * a * db) / (b - a * a) ** 1.5)
        a, b = a + eta * da, b + eta * db
    return np.array(out)


def test_differential_sharpe_against_its_definition_and_as_derivative_of_the_moving_sharpe():
    rng = np.random.default_rng(5)
    returns = rng.normal(0.0005, 0.01, 300)
    eta, a0, b0 = 0.02, 0.0, 1e-4
    a, b, ours = a0, b0, []
    for r in returns:
        d, a, b = kr.differential_sharpe(r, a, b, eta)
        ours.append(d)
    np.testing.assert_allclose(ours, np.clip(dsr_from_definition(returns, eta, a0, b0), -10, 10), rtol=1e-12)
    # D_t is the derivative dS_t/d(eta) at eta -> 0 of the moving Sharpe S = A / sqrt(B - A^2)
    small = 1e-7
    a, b = 0.0004, 1.2e-4
    for r in returns[:20]:
        s_before = a / math.sqrt(b - a * a)
        d, a2, b2 = kr.differential_sharpe(r, a, b, small)
        s_after = a2 / math.sqrt(b2 - a2 * a2)
        assert (s_after - s_before) / small == pytest.approx(d, rel=1e-4)
        a, b = a + 0.02 * (r - a), b + 0.02 * (r * r - b)


def test_var_cvar_hand_computed():
    # 20 returns; p = 0.05: h = 19 * 0.05 = 0.95, k = 0 -> VaR = -(s0 + 0.95 (s1 - s0)), CVaR = -s0
    r = np.array(
        [
            0.01,
            -0.03,
            0.002,
            0.015,
            -0.01,
            0.004,
            -0.05,
            0.02,
            0.0,
            0.007,
            -0.004,
            0.011,
            0.003,
            -0.02,
            0.009,
            0.001,
            -0.006,
            0.013,
            0.005,
            -0.001,
        ]
    )
    var, cvar = kk.historical_var_cvar(np.array([1.0, 0.0]), r[None, :], 0, r.size, 0.05, np.zeros(36))
    assert var == pytest.approx(0.05 - 0.95 * 0.02)  # s0 = -0.05, s1 = -0.03 -> 0.031
    assert cvar == pytest.approx(0.05)
    assert var == pytest.approx(-np.quantile(r, 0.05))
    # the window is columns start .. start + length of a longer history: bars outside it are never read
    padded = np.concatenate([np.full(7, -9.0), r, np.full(5, -9.0)])[None, :]
    assert kk.historical_var_cvar(np.array([1.0, 0.0]), padded, 7, r.size, 0.05, np.zeros(36)) == (var, cvar)
    # 60 returns, p = 0.05: h = 2.95, k = 2: VaR interpolates s2..s3, CVaR = mean(s0, s1, s2)
    x = np.linspace(-0.03, 0.03, 60)
    var, cvar = kk.historical_var_cvar(np.array([0.5, 0.0]), x[None, :], 0, x.size, 0.05, np.zeros(76))
    s = np.sort(0.5 * x)
    assert var == pytest.approx(-(s[2] + 0.95 * (s[3] - s[2])))
    assert cvar == pytest.approx(-s[:3].mean())
    # parametric: z_0.95 = 1.6448536, CVaR factor phi(z) / 0.05 = 2.0627128
    sim = Simulation(arena_config(n_assets=2, episode_length=2))
    lim = limits_of(sim, 0)
    assert lim["var_z"] == pytest.approx(1.6448536269514722)
    assert lim["cvar_factor"] == pytest.approx(2.0627128075074257)


def test_breaker_modes():
    def run(breach):
        limits = NO_LIMITS.replace(max_drawdown=0.05, breach=breach, cooldown=3)
        cfg = arena_config(
            market=MarketConfig(n_assets=1),
            agents=(AgentProfile("solo", risk=limits),),
            **DIRECT,
            episode_length=9,
            costs=CostModel.zero(),
        )
        closes = [100, 100, 98, 96, 94, 93, 93, 93, 93, 93]  # -6% by bar +4
        sim = Simulation(cfg, data=FixedMarket(one_asset_bars(cfg, closes, opens=[100] + closes[:-1])))
        sim.reset(seeds=[0])
        history = []
        for _ in range(cfg.episode_length):
            _, info = sim.step(np.array([[[1.0, 0.0]]]))
            history.append(
                (
                    bool(sim.holdings[0, 0, 0] > 0),
                    info[0, 0, ks.IN_TERMINATED],
                    info[0, 0, ks.IN_TERMS + kr.TERM_BREACH],
                )
            )
        return history

    liquidate = run("liquidate")
    held = [h for h, _, _ in liquidate]
    assert held[:4] == [True] * 4 and held[4:8] == [False] * 4 and held[8] is True  # trip + 3 cooldown bars
    terminate = run("terminate")
    assert [t for _, t, _ in terminate][4] == 1.0 and not any(h for h, _, _ in terminate[4:])
    penalize = run("penalize")
    assert all(h for h, _, _ in penalize) and min(p for _, _, p in penalize) < 0


def test_terminated_agents_leave_the_parallel_env():
    limits = NO_LIMITS.replace(max_drawdown=0.01, breach="terminate")
    agents = (AgentProfile("fragile", risk=limits), AgentProfile("balanced_0"))
    env = arena_v0.parallel_env(
        agents=agents,
        n_assets=4,
        episode_length=60,
        market=MarketConfig(n_assets=4, initial_regime=2),
        info_level="full",
    )
    env.reset(seed=1)
    done_at = None
    while env.agents:
        _, _, terms, _truncs, infos = env.step({a: np.ones(5, dtype=np.float32) for a in env.agents})
        if terms.get("fragile"):
            done_at = infos["fragile"]
            assert "drawdown_breaker" in {e["rule"] for e in infos["fragile"]["risk_events"]}
            assert infos["fragile"]["episode"]["risk_event_counts"]["drawdown_breaker"] == 1
    assert done_at is not None


def test_conservative_agents_draw_down_less_than_aggressive_ones_in_crashes():
    """Same policy (all in, equal weights) for everyone over 20 crash seeds: only the profiles differ."""
    crash = MarketConfig(n_assets=10, initial_regime=2)
    drawdowns = {"conservative": [], "aggressive": []}
    for seed in range(20):
        env = arena_v0.parallel_env(market=crash, episode_length=126)
        env.reset(seed=1000 + seed)
        worst = dict.fromkeys(env.possible_agents, 0.0)
        while env.agents:
            _, _, _, _, infos = env.step({a: np.ones(11, dtype=np.float32) for a in env.agents})
            for a, info in infos.items():
                worst[a] = max(worst[a], info["drawdown"])
        for a, dd in worst.items():
            profile = a.rsplit("_", 1)[0]
            if profile in drawdowns:
                drawdowns[profile].append(dd)
    conservative, aggressive = np.mean(drawdowns["conservative"]), np.mean(drawdowns["aggressive"])
    print(
        f"mean max drawdown over 20 crash seeds: conservative {conservative:.4f}, aggressive {aggressive:.4f}"
    )
    assert conservative < aggressive
