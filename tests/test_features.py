"""Observation features: layout, market state, the "full" indicator set, against direct computations."""

from __future__ import annotations

import numpy as np
import pytest

from wealtharena_env import arena_v0
from wealtharena_env.kernels import indicators as ki
from wealtharena_env.kernels.features import INDICATOR_FEATURES, observation_size
from wealtharena_env.kernels.market import BAR_CLOSE


@pytest.mark.parametrize("feature_set, k", [("default", 0), ("full", len(INDICATOR_FEATURES))])
def test_sizes_and_slices_tile_the_observation(feature_set, k):
    env = arena_v0.parallel_env(n_assets=30, feature_set=feature_set, episode_length=5)
    obs, _ = env.reset(seed=0)
    d = obs["balanced_0"].shape[0]
    assert d == observation_size(30, 20, k) == (20 + 3 + k) * 30 + 13
    covered = np.zeros(d, dtype=int)
    for sl in env.sim.observation_slices.values():
        covered[sl] += 1
    assert np.all(covered == 1)  # every entry belongs to exactly one named slice
    if feature_set == "full":
        assert d >= 200 + 30 * 20  # well over 200 features for 30 assets


def test_market_state_features_match_direct_computation():
    env = arena_v0.parallel_env(n_assets=6, episode_length=30)
    env.reset(seed=4)
    rng = np.random.default_rng(0)
    for _ in range(10):
        obs, *_ = env.step({a: rng.uniform(-1, 1, 7).astype(np.float32) for a in env.agents})
    sim, sl = env.sim, env.sim.observation_slices
    d = sim.config.warmup + int(sim.clock[0, 0])
    x = obs["balanced_0"]
    cov = sim.covariance[0]
    ppy = sim.config.market.periods_per_year
    sigma_m = np.sqrt(cov.mean())
    np.testing.assert_allclose(x[sl["market_volatility"]], sigma_m * np.sqrt(ppy), rtol=1e-5)
    r = sim.history[0, :, : d + 1]  # (N, d+1) log returns up to the decision bar
    np.testing.assert_allclose(x[sl["dispersion"]], r[:, d].std() * np.sqrt(ppy), rtol=1e-5)
    m = r.mean(axis=0)
    w = sim.config.window
    np.testing.assert_allclose(
        x[sl["market_trend"]], m[d - w + 1 :].sum() / (sigma_m * np.sqrt(w)), rtol=1e-4
    )
    lookback = sim.config.warmup
    window_ss = np.array([np.sum(m[k - w + 1 : k + 1] ** 2) for k in range(d - lookback + w, d + 1)])
    np.testing.assert_allclose(
        x[sl["volatility_percentile"]], np.mean(window_ss <= window_ss[-1] * (1 + 1e-12)), rtol=1e-6
    )
    assert 0 < x[sl["volatility_percentile"]][0] <= 1


def test_full_feature_set_matches_the_indicator_library():
    env = arena_v0.parallel_env(n_assets=3, episode_length=20, feature_set="full")
    env.reset(seed=9)
    for _ in range(5):
        obs, *_ = env.step({a: np.ones(4, dtype=np.float32) for a in env.agents})
    sim, sl = env.sim, env.sim.observation_slices
    d = sim.config.warmup + int(sim.clock[0, 0])
    block = obs["aggressive_0"][sl["indicators"]].reshape(len(INDICATOR_FEATURES), 3)
    close = np.ascontiguousarray(sim.bars[0, :, BAR_CLOSE, 1])
    high = np.ascontiguousarray(sim.bars[0, :, 1, 1])
    low = np.ascontiguousarray(sim.bars[0, :, 2, 1])
    expected_rsi = (ki.rsi(close, 14)[d] - 50) / 50
    expected_cci = ki.cci(high, low, close, 14)[d] / 100
    np.testing.assert_allclose(
        block[INDICATOR_FEATURES.index("rsi_14"), 1], expected_rsi, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        block[INDICATOR_FEATURES.index("cci_14"), 1], np.clip(expected_cci, -10, 10), rtol=1e-5, atol=1e-6
    )
    assert np.all(np.isfinite(block)) and np.all(np.abs(block) <= 10)


def test_baselines_read_the_full_layout():
    from wealtharena_env.leaderboard.baselines import make_baseline

    env = arena_v0.parallel_env(n_assets=4, episode_length=5, feature_set="full", action_mapping="simplex")
    obs, _ = env.reset(seed=0)
    policy = make_baseline("buy_and_hold", env)
    action = policy(obs["balanced_0"])
    np.testing.assert_allclose(
        action, [0.25, 0.25, 0.25, 0.25, 0.0]
    )  # all cash read from the "weights" slice
