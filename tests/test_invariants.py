"""DESIGN.md invariants as property tests: batch invariance, determinism, no look-ahead, accounting,
sanitised actions."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest
from conftest_market import FixedMarket
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wealtharena_env.config import CostModel, arena_config
from wealtharena_env.kernels import step as ks
from wealtharena_env.kernels.market import (
    BAR_CLOSE,
    BAR_HIGH,
    BAR_OPEN,
    fill_log_returns,
)
from wealtharena_env.market_sources import SyntheticMarket
from wealtharena_env.sim import Simulation

PROPERTY = settings(deadline=None, max_examples=15, suppress_health_check=[HealthCheck.too_slow])


def small_config(**kw):
    base = {"n_assets": 3, "episode_length": 6, "window": 4, "warmup": 60}
    base.update(kw)
    return arena_config(**base)


def random_actions(rng, sim, scale=1.0):
    return rng.uniform(-scale, scale, (sim.batch_size, sim.n_agents, sim.n_action))


# ----------------------------------------------------------------------------- batch invariance
@PROPERTY
@given(
    seeds=st.lists(st.integers(0, 2**31 - 1), min_size=2, max_size=4),
    action_seed=st.integers(0, 1000),
    impact=st.sampled_from([0.0, 1.0]),
    action_type=st.sampled_from(["continuous", "discrete"]),
)
def test_batch_env_equals_single_env_bit_for_bit(seeds, action_seed, impact, action_type):
    cfg = small_config(impact=impact, action_type=action_type)
    batch = Simulation(cfg, batch_size=len(seeds))
    singles = [Simulation(cfg, batch_size=1) for _ in seeds]
    rng = np.random.default_rng(action_seed)
    obs_b, info_b = batch.reset(seeds=seeds)
    for k, s in enumerate(singles):
        obs_s, info_s = s.reset(seeds=[seeds[k]])
        np.testing.assert_array_equal(obs_b[k], obs_s[0])
        np.testing.assert_array_equal(info_b[k], info_s[0])
    for episode in range(2):  # across a reset without seed (the generators keep running)
        if episode:
            obs_b, info_b = batch.reset()
            for k, s in enumerate(singles):
                obs_s, info_s = s.reset()
                np.testing.assert_array_equal(obs_b[k], obs_s[0])
        for _ in range(cfg.episode_length):
            if action_type == "continuous":
                acts = random_actions(rng, batch, 2.0)
                acts[rng.random(acts.shape) < 0.05] = np.nan
            else:
                acts = rng.integers(-1, 4, (batch.batch_size, batch.n_agents, batch.n_action)).astype(float)
            obs_b, info_b = batch.step(acts)
            for k, s in enumerate(singles):
                obs_s, info_s = s.step(acts[k : k + 1])
                np.testing.assert_array_equal(obs_b[k], obs_s[0])
                np.testing.assert_array_equal(info_b[k], info_s[0])


# slow: loads the prange driver (~11 s); tests/test_kernel_options.py checks threaded == serial, fast
@pytest.mark.slow
@pytest.mark.parametrize(("batch_size", "n_slots"), [(70, None), (1, None), (3, 2), (5, 4), (4, 7)])
def test_parallel_kernel_equals_serial_kernel(batch_size, n_slots):
    """The prange driver (blocks of environments, one scratch slot each) equals the serial one bit for bit,
    with autoresets in the same call, for any split of the batch into blocks (fewer, as many or more slots
    than environments or threads)."""
    cfg = small_config(n_assets=5, episode_length=10, impact=0.5)
    seeds = list(range(batch_size))
    serial = Simulation(cfg, batch_size=batch_size, parallel=False)
    threaded = Simulation(cfg, batch_size=batch_size, parallel=True)
    if n_slots is not None:
        threaded.scratch = np.zeros((n_slots, *threaded.scratch.shape[1:]))
    a, _ = serial.reset(seeds=seeds)
    b, _ = threaded.reset(seeds=seeds)
    np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(0)
    for t in range(2 * cfg.episode_length + 1):
        acts = random_actions(rng, serial)
        mask = serial.steps >= cfg.episode_length
        mask[: t % 2] = True  # also autoreset environment 0 every other step, mid-episode
        serial.actions[..., :-1] = acts
        serial.actions[..., -1] = 1.0
        threaded.actions[...] = serial.actions
        (oa, ia), (ob, ib) = serial.step(reset_mask=mask), threaded.step(reset_mask=mask)
        np.testing.assert_array_equal(oa, ob)
        np.testing.assert_array_equal(ia, ib)


def test_partial_reset_leaves_other_envs_untouched():
    cfg = small_config()
    sim = Simulation(cfg, batch_size=3)
    sim.reset(seeds=[1, 2, 3])
    rng = np.random.default_rng(0)
    for _ in range(3):
        sim.step(random_actions(rng, sim))
    before = sim.observe()
    obs, _ = sim.reset(seeds=[None, 9, None], mask=np.array([False, True, False]))
    np.testing.assert_array_equal(obs[[0, 2]], before[0][[0, 2]])
    fresh = Simulation(cfg, batch_size=1)
    np.testing.assert_array_equal(obs[1], fresh.reset(seeds=[9])[0][0])


# ----------------------------------------------------------------------------- determinism
TRAJECTORY_SCRIPT = """
import hashlib, numpy as np
from wealtharena_env import arena_v0
env = arena_v0.parallel_env(n_assets=6, episode_length=30, impact=0.3, info_level="full")
h = hashlib.sha256()
obs, _ = env.reset(seed=1234)
rng = np.random.default_rng(7)
while env.agents:
    acts = {a: rng.uniform(-1, 1, 7).astype(np.float32) for a in env.agents}
    obs, rew, term, trunc, info = env.step(acts)
    for a in sorted(obs):
        h.update(obs[a].tobytes()); h.update(np.float64(rew[a]).tobytes())
        h.update(np.asarray(info[a]["weights"]).tobytes())
print(h.hexdigest())
"""


def test_deterministic_across_processes():
    runs = [
        subprocess.run([sys.executable, "-c", TRAJECTORY_SCRIPT], capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    digests = {r.stdout.strip() for r in runs}
    assert len(digests) == 1 and len(digests.pop()) == 64
    namespace: dict = {}
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(TRAJECTORY_SCRIPT, namespace)  # noqa: S102 - the test's own constant script, as the subprocess runs it
    assert buffer.getvalue().strip() == runs[0].stdout.strip()


def test_different_seeds_differ():
    cfg = small_config()
    a = Simulation(cfg).reset(seeds=[1])[0]
    b = Simulation(cfg).reset(seeds=[2])[0]
    assert not np.array_equal(a, b)


# ----------------------------------------------------------------------------- no look-ahead
def synthetic_bars(cfg, seed):
    bars = np.zeros((cfg.bars_per_episode, 6, cfg.n_assets))
    SyntheticMarket(cfg.market).sample(np.random.default_rng(seed), bars)
    return bars


@PROPERTY
@given(
    seed=st.integers(0, 10_000),
    t=st.integers(0, 5),
    impact=st.sampled_from([0.0, 2.0]),
    feature_set=st.sampled_from(["default", "full"]),
    fill=st.sampled_from(["open", "close"]),
    bump=st.one_of(st.floats(0.5, 0.95), st.floats(1.05, 2.0)),
)
def test_no_look_ahead(seed, t, impact, feature_set, fill, bump):
    """Perturb every price after decision bar d = warmup + t: obs_0..obs_t and every step before t are
    unchanged."""
    cfg = small_config(impact=impact, costs=CostModel(fill_price=fill), feature_set=feature_set)
    bars = synthetic_bars(cfg, seed)
    changed = bars.copy()
    d = cfg.warmup + t
    changed[d + 1 :, :5, :] *= bump
    changed[d + 1 :, [BAR_HIGH], :] = np.maximum(
        changed[d + 1 :, [BAR_HIGH], :], changed[d + 1 :, [BAR_OPEN], :]
    )
    fill_log_returns(changed)
    fill_log_returns(bars)
    sims = [Simulation(cfg, data=FixedMarket(b)) for b in (bars, changed)]
    rng = np.random.default_rng(seed)
    acts = [random_actions(rng, sims[0]) for _ in range(cfg.episode_length)]
    (o0, i0), (o1, i1) = sims[0].reset(seeds=[0]), sims[1].reset(seeds=[0])
    np.testing.assert_array_equal(o0, o1)
    for k in range(t):
        (o0, i0), (o1, i1) = sims[0].step(acts[k]), sims[1].step(acts[k])
        np.testing.assert_array_equal(o0, o1)  # obs_{k+1}, k + 1 <= t
        np.testing.assert_array_equal(i0, i1)
    # The decision at t fills at bar d + 1, which was changed: its outcome may (and does) differ.
    (o0, i0), (o1, i1) = sims[0].step(acts[t]), sims[1].step(acts[t])
    assert not np.array_equal(i0[..., ks.IN_VALUE], i1[..., ks.IN_VALUE])


def test_orders_fill_at_next_bar_open_not_at_seen_close():
    cfg = small_config(
        n_assets=1,
        costs=CostModel.zero(),
        risk_enabled=False,  # execution mechanics only
        action_mapping="simplex",
        rebalance_rate=1.0,
        rebalance_band=0.0,
    )
    bars = synthetic_bars(cfg, 0)
    d = cfg.warmup
    bars[d, BAR_CLOSE, 0] = 100.0
    bars[d + 1, :4, 0] = [110.0, 121.0, 105.0, 120.0]  # open, high, low, close
    fill_log_returns(bars)
    sim = Simulation(cfg, data=FixedMarket(bars))
    sim.reset(seeds=[0])
    acts = np.zeros((1, sim.n_agents, 2))
    acts[..., 0] = 1.0  # all in the asset
    _, info = sim.step(acts)
    cash0 = sim.agent_params[0]["initial_cash"]
    shares = sim.holdings[0, 0, 0]
    # sized on the seen close (cash0 / 100 shares) but the buy was scaled to the cash available at the open
    assert shares == pytest.approx(cash0 / 110.0, rel=1e-9)
    assert info[0, 0, ks.IN_VALUE] == pytest.approx(shares * 120.0 + sim.agent_state[0, 0]["cash"], rel=1e-12)


# ----------------------------------------------------------------------------- accounting
@PROPERTY
@given(seed=st.integers(0, 10_000), impact=st.sampled_from([0.0, 0.5]))
def test_zero_costs_conserve_value_and_rewards_telescope(seed, impact):
    cfg = small_config(n_assets=4, impact=impact, costs=CostModel.zero(), episode_length=12)
    sim = Simulation(cfg)
    _, info = sim.reset(seeds=[seed])
    rng = np.random.default_rng(seed)
    v0 = info[0, :, ks.IN_VALUE].copy()
    total_reward = np.zeros(sim.n_agents)
    for _ in range(cfg.episode_length):
        # value at the fill price just before trading == just after trading (no costs): trades only exchange
        # cash for shares at that price
        f = cfg.warmup + int(sim.clock[0, 0]) + 1
        cash, holdings = sim.agent_state[0]["cash"].copy(), sim.holdings[0].copy()
        _, info = sim.step(random_actions(rng, sim))
        fill = sim.bar(f)[BAR_OPEN]  # drawn (and, with impact, scaled) when reached; fills never move it
        np.testing.assert_allclose(
            sim.agent_state[0]["cash"] + sim.holdings[0] @ fill, cash + holdings @ fill, rtol=1e-12
        )
        assert np.all(info[0, :, ks.IN_COST] == 0.0)
        total_reward += info[0, :, ks.IN_LOG_RETURN]
        assert np.all(info[0, :, ks.IN_CASH] >= 0.0)
        assert np.all(sim.holdings >= 0.0)
    np.testing.assert_allclose(total_reward, np.log(info[0, :, ks.IN_VALUE] / v0), rtol=0, atol=1e-10)


@PROPERTY
@given(
    seed=st.integers(0, 10_000),
    commission=st.floats(0, 50),
    spread=st.floats(0, 50),
    impact_coef=st.floats(0, 2),
    lot=st.sampled_from([0.0, 1.0, 10.0]),
)
def test_costs_are_nonnegative_and_are_what_value_loses(seed, commission, spread, impact_coef, lot):
    """Mark to market at the fill price around a fill: value lost == costs reported, to rounding."""
    costs = CostModel(
        commission_bps=commission, half_spread_bps=spread, impact_coefficient=impact_coef, lot_size=lot
    )
    cfg = small_config(n_assets=4, costs=costs, episode_length=8)
    sim = Simulation(cfg)
    sim.reset(seeds=[seed])
    rng = np.random.default_rng(seed)
    paid = np.zeros(sim.n_agents)
    for _ in range(cfg.episode_length):
        f = cfg.warmup + int(sim.clock[0, 0]) + 1
        cash, holdings = sim.agent_state[0]["cash"].copy(), sim.holdings[0].copy()
        _, info = sim.step(random_actions(rng, sim))
        fill = sim.bar(f)[BAR_OPEN]  # drawn by the step (the bar is reached); fills never move the open
        before = cash + holdings @ fill
        after = sim.agent_state[0]["cash"] + sim.holdings[0] @ fill
        cost = info[0, :, ks.IN_COST]
        assert np.all(cost >= 0.0)
        np.testing.assert_allclose(before - after, cost, rtol=1e-9, atol=1e-6)
        assert np.all(sim.agent_state[0]["cash"] >= 0.0)
        assert np.all(sim.holdings[0] >= 0.0)
        if lot > 0:
            np.testing.assert_allclose(sim.holdings[0] / lot, np.round(sim.holdings[0] / lot), atol=1e-6)
        paid += cost
    np.testing.assert_allclose(sim.agent_state[0]["cost_total"], paid, rtol=1e-12)


# ----------------------------------------------------------------------------- bad actions
BAD_VALUES = st.sampled_from([np.nan, np.inf, -np.inf, 1e300, -1e300, 5.0, -7.0, 0.3])


@PROPERTY
@given(
    values=st.lists(BAD_VALUES, min_size=5, max_size=5),
    action_type=st.sampled_from(["continuous", "discrete"]),
)
def test_bad_actions_never_crash_and_are_counted(values, action_type):
    cfg = small_config(n_assets=4, action_type=action_type)
    sim = Simulation(cfg)
    sim.reset(seeds=[0])
    acts = np.zeros((1, sim.n_agents, sim.n_action))
    acts[0, 0] = values[: sim.n_action]
    before = sim.holdings.copy()
    _, info = sim.step(acts)
    row = info[0, 0]
    n_nan = sum(np.isnan(v) for v in values[: sim.n_action])
    assert row[ks.IN_NAN_ACTIONS] == n_nan
    if action_type == "continuous":
        n_clip = sum((not np.isnan(v)) and abs(v) > 1 for v in values[: sim.n_action])
        assert row[ks.IN_CLIPPED_ACTIONS] == n_clip
        if n_nan:
            np.testing.assert_array_equal(sim.holdings[0, 0], before[0, 0])  # NaN -> hold
    else:
        n_bad = sum((not np.isnan(v)) and v not in (0.0, 1.0, 2.0) for v in values[: sim.n_action])
        assert row[ks.IN_CLIPPED_ACTIONS] == n_bad
    assert np.all(np.isfinite(info)) and np.all(sim.holdings >= 0)
    weights = row[ks.IN_WEIGHTS : ks.IN_WEIGHTS + sim.n_assets + 1]
    assert np.all(weights >= -1e-12) and abs(weights.sum() - 1.0) < 1e-9


def test_env_reports_sanitised_actions_in_info():
    from wealtharena_env import arena_v0

    env = arena_v0.parallel_env(n_assets=3, episode_length=5, info_level="full")
    env.reset(seed=0)
    acts = {a: np.array([np.nan, 0, 0, 1], dtype=np.float32) for a in env.agents}
    acts["balanced_0"] = np.array([np.inf, -np.inf, 3, 0], dtype=np.float32)
    _, _, _, _, infos = env.step(acts)
    assert infos["conservative_0"]["nan_actions"] == 1 and infos["conservative_0"]["cost"] == 0.0
    assert infos["balanced_0"]["clipped_actions"] == 3 and infos["balanced_0"]["nan_actions"] == 0


def test_trajectory_digest_is_stable_within_process():
    cfg = small_config()
    digests = set()
    for _ in range(2):
        sim = Simulation(cfg)
        obs, _ = sim.reset(seeds=[5])
        h = hashlib.sha256(obs.tobytes())
        rng = np.random.default_rng(1)
        for _ in range(cfg.episode_length):
            obs, info = sim.step(random_actions(rng, sim))
            h.update(obs.tobytes())
            h.update(info.tobytes())
        digests.add(h.hexdigest())
    assert len(digests) == 1


@settings(deadline=None, max_examples=8)
@given(seed=st.integers(0, 2**32 - 1))
def test_impact_arena_stays_finite_under_herding(seed):
    """Every agent piles into the same asset every step: prices move but stay within the impact bound,
    cash never goes negative, everything stays finite."""
    from wealtharena_env import impact_arena_v0

    env = impact_arena_v0.parallel_env(
        n_assets=4, episode_length=120, impact=5.0, risk_enabled=False, info_level="full"
    )
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    while env.agents:
        target = int(rng.integers(0, 4))
        action = np.zeros(5, dtype=np.float32)
        action[target] = 1.0
        obs, rewards, _, _, infos = env.step({a: action for a in env.agents})
        cum = env.sim.cumulative_impact[0]
        assert np.all(np.abs(cum) <= env.config.market.max_impact + 1e-12)
        for a in infos:
            assert np.isfinite(rewards[a]) and np.all(np.isfinite(obs[a]))
            assert infos[a]["cash"] >= 0.0 and infos[a]["portfolio_value"] > 0.0


# ----------------------------------------------------------------------------- outputs fully written
@PROPERTY
@given(seed=st.integers(0, 2**16), n_assets=st.integers(1, 6), scale=st.sampled_from([1.0, 5.0]))
def test_step_writes_every_output_column(seed, n_assets, scale):
    """Simulation.step hands the kernel uninitialised output arrays: every obs and info entry must be written
    (unused risk-event slots as 0), whatever the prior content of the memory. The scratch slots are work space
    only (shared by every environment of a block): filled with NaN or 0 before the call, same results."""
    sim = Simulation(small_config(n_assets=n_assets, episode_length=5), batch_size=2)
    sim.reset(seeds=[seed, seed + 1])
    rng = np.random.default_rng(seed)
    for _ in range(4):
        sim.actions[..., :-1] = random_actions(rng, sim, scale)
        sim.actions[..., -1] = 1.0
        state = (
            sim.bars,
            sim.returns,
            sim.zret,
            sim.positions,
            sim.agent_state,
            sim.asset_state,
            sim.market,
            sim.clock,
        )
        saved = [a.copy() for a in state]
        outputs = []
        for fill in (np.nan, 0.0):
            for array, copy in zip(state, saved):
                array[...] = copy
            sim.scratch[...] = fill
            obs = np.full((2, sim.n_agents, sim.obs_size), fill, dtype=np.float32)
            info = np.full((2, sim.n_agents, sim.info_size), fill)
            assert ks.step_batch(*sim.step_arguments(sim._no_reset, obs, info)) == 0
            outputs.append((obs, info))
        (obs_nan, info_nan), (obs_zero, info_zero) = outputs
        assert not np.isnan(obs_nan).any() and not np.isnan(info_nan).any()
        np.testing.assert_array_equal(obs_nan, obs_zero)
        np.testing.assert_array_equal(info_nan, info_zero)


@PROPERTY
@given(seed=st.integers(0, 2**16), n_assets=st.integers(1, 6), table=st.booleans())
def test_a_full_reset_writes_every_output_entry(seed, n_assets, table):
    """Simulation.reset of every environment hands the reset kernel uninitialised outputs (nothing is
    observed first): every obs and info entry must be written, with or without the risk-event table,
    whatever the prior content of the memory."""
    sim = Simulation(small_config(n_assets=n_assets, episode_length=5), batch_size=2, risk_event_table=table)
    sim.reset(seeds=[seed, seed + 1])
    sim.step()
    mask = np.ones(2, dtype=bool)
    outputs = []
    for fill in (np.nan, 0.0):
        sim._draw_episodes([0, 1], [seed, seed + 1])  # the same episodes again
        obs = np.full((2, sim.n_agents, sim.obs_size), fill, dtype=np.float32)
        info = np.full((2, sim.n_agents, sim.info_size), fill)
        ks.reset_batch(mask, sim._state_arrays, sim._config_arrays, (obs, info), sim.scratch)
        outputs.append((obs, info))
    (obs_nan, info_nan), (obs_zero, info_zero) = outputs
    assert not np.isnan(obs_nan).any() and not np.isnan(info_nan).any()
    np.testing.assert_array_equal(obs_nan, obs_zero)
    np.testing.assert_array_equal(info_nan, info_zero)
    obs, info = sim.reset(seeds=[seed, seed + 1])  # the public path: the same outputs
    np.testing.assert_array_equal(obs, obs_zero)
    np.testing.assert_array_equal(info, info_zero)


@pytest.mark.slow  # three failing typings of the whole step kernel, never cached (~19 s)
def test_state_is_typed_so_swapped_or_untyped_arrays_do_not_compile():
    """agent_state, market, params and agent_params are typed records (booleans and enums with their own
    types): a plain float array in their place, or two arguments swapped, is a typing error, not wrong
    numbers."""
    from numba.core.errors import TypingError

    sim = Simulation(small_config(n_assets=2, episode_length=5))
    sim.reset(seeds=[0])
    assert sim.agent_state.dtype == ks.AGENT_STATE_DTYPE and sim.agent_state.dtype["terminated"] == np.bool_
    assert sim.params.dtype["action_mapping"] == np.int64 and sim.params.dtype["risk_enabled"] == np.bool_
    limits = sim.agent_params.dtype["limits"]
    assert limits["trim"] == np.bool_ and limits["breach"] == np.int64 and limits["var_lookback"] == np.int64
    obs, info = sim.observe()
    mask, state, config, actions, outputs, scratch = sim.step_arguments(
        np.zeros(0, dtype=np.bool_), obs, info
    )
    untyped = sim.kernel_state._replace(agent_state=np.zeros((1, sim.n_agents, 30)))  # floats for the records
    swapped = ks.EnvConfig(params=config[1], agent_params=config[0])  # params <-> agent_params
    untyped_market = sim.kernel_state._replace(market=np.zeros((1, 5)))  # floats for the market records
    for bad in (
        (mask, tuple(untyped), config, actions, outputs, scratch),
        (mask, state, tuple(swapped), actions, outputs, scratch),
        (mask, tuple(untyped_market), config, actions, outputs, scratch),
    ):
        with pytest.raises(
            (TypingError, KeyError)
        ):  # numba's record typing raises KeyError for a missing field
            ks.step_batch(*bad)


def test_step_takes_any_reset_mask_layout_and_rejects_a_wrong_shape():
    """A strided (non-contiguous) reset mask gives the results of its contiguous copy; a wrongly shaped one
    raises before the kernel runs."""
    from wealtharena_env.errors import ConfigError

    cfg = small_config(n_assets=2, episode_length=5)
    a, b = Simulation(cfg, batch_size=3), Simulation(cfg, batch_size=3)
    a.reset(seeds=[1, 2, 3])
    b.reset(seeds=[1, 2, 3])
    rng = np.random.default_rng(0)
    for t in range(4):
        actions = random_actions(rng, a)
        mask = np.zeros(6, dtype=bool)[::2] if t == 2 else None  # a strided (non-contiguous) mask view
        got = a.step(actions, reset_mask=mask)
        want = b.step(actions, reset_mask=None if mask is None else mask.copy())
        for x, y in zip(got, want):
            np.testing.assert_array_equal(x, y)
    with pytest.raises(ConfigError, match="reset_mask"):
        a.step(random_actions(rng, a), reset_mask=np.zeros(2, dtype=bool))
