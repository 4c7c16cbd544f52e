"""The fractional Kelly baseline: its maths by hand, robustness (NaN, all cash, singular covariances), the
risk profile's limits, and a run on a task."""

from __future__ import annotations

import math

import gymnasium
import numpy as np
import pytest

import wealtharena_env  # noqa: F401  (registers the env IDs)
from wealtharena_env.errors import ConfigError
from wealtharena_env.leaderboard.baselines import (
    BASELINES,
    FractionalKelly,
    james_stein_means,
    kelly_weights,
    make_baseline,
)
from wealtharena_env.leaderboard.evaluate import evaluate

COV = np.array([[[1e-4, 0.0], [0.0, 4e-4]]])


# ============================================================================================== maths
def test_kelly_weights_by_hand():
    # f Sigma^-1 mu = 0.5 (0.5, 0.25) = (0.25, 0.125): a small edge, bets below 1 in total, rest cash
    np.testing.assert_allclose(kelly_weights(np.array([[5e-5, 1e-4]]), COV, 0.5), [[0.25, 0.125]], rtol=1e-12)
    np.testing.assert_allclose(
        kelly_weights(np.array([[5e-5, 1e-4]]), COV, 0.5, max_position=0.2), [[0.2, 0.125]], rtol=1e-12
    )
    # a large edge: bets (5, 1.25) -> fully invested in the Kelly proportions (0.8, 0.2)
    big = np.array([[1e-3, 1e-3]])
    np.testing.assert_allclose(kelly_weights(big, COV, 0.5), [[0.8, 0.2]], rtol=1e-12)
    # capped at 0.5: min(0.5, 5 l) + min(0.5, 1.25 l) = 1 -> l = 0.4 -> (0.5, 0.5)
    np.testing.assert_allclose(kelly_weights(big, COV, 0.5, max_position=0.5), [[0.5, 0.5]], rtol=1e-12)
    # a cap every asset hits: (0.3, 0.3), the rest in cash
    np.testing.assert_allclose(kelly_weights(big, COV, 0.5, max_position=0.3), [[0.3, 0.3]], rtol=1e-12)
    # volatility budget: (0.8, 0.2) has variance 0.64e-4 + 0.04 * 4e-4 = 8e-5 a day, sqrt(8e-5 * 252) a year
    scaled = kelly_weights(big, COV, 0.5, volatility_budget=0.1)
    np.testing.assert_allclose(scaled, np.array([[0.8, 0.2]]) * 0.1 / math.sqrt(8e-5 * 252), rtol=1e-12)
    # long only: a negative mean gets nothing; all negative is all cash
    np.testing.assert_allclose(kelly_weights(np.array([[-1e-3, 1e-4]]), COV, 0.5), [[0.0, 0.125]], rtol=1e-12)
    assert np.all(kelly_weights(np.array([[-1e-3, -1e-4]]), COV, 0.5) == 0.0)


def test_the_fraction_scales_the_bets_until_the_portfolio_is_full():
    mu = np.array([[5e-5, 1e-4]])
    half, full = kelly_weights(mu, COV, 0.5), kelly_weights(mu, COV, 1.0)
    np.testing.assert_allclose(full, 2 * half, rtol=1e-12)
    assert kelly_weights(mu, COV, 4.0).sum() == pytest.approx(1.0, rel=1e-12)


def test_james_stein_shrinks_the_means_toward_their_cross_sectional_mean():
    rng = np.random.default_rng(0)
    noise = rng.normal(0.0, 0.01, (1, 20, 8))
    # pure noise around a common mean: the dispersion of the means is about what noise gives -> shrunk hard
    pure = james_stein_means(noise + 0.002)
    raw = (noise + 0.002).mean(axis=1)
    grand = raw.mean(axis=1, keepdims=True)
    assert np.abs(pure - grand).sum() < 0.5 * np.abs(raw - grand).sum()
    np.testing.assert_allclose(pure.mean(axis=1), grand[:, 0], rtol=1e-12)  # the grand mean is kept
    # a dispersion far above the noise survives almost untouched
    signal = noise + np.linspace(-0.05, 0.05, 8)
    np.testing.assert_allclose(james_stein_means(signal), signal.mean(axis=1), rtol=0.01)
    # the formula on a hand-sized case: N = 4, W = 2
    r = np.array([[[0.01, 0.00, 0.03, -0.01], [0.03, 0.02, 0.01, 0.01]]])
    means = r.mean(axis=1)  # (0.02, 0.01, 0.02, 0.0), grand 0.0125
    spread = means - 0.0125
    noise_var = r.var(axis=1, ddof=1).mean() / 2  # variances (2, 2, 2, 2) e-4 -> 1e-4
    c = (4 - 3) * noise_var / np.sum(spread**2)
    np.testing.assert_allclose(james_stein_means(r), 0.0125 + (1 - c) * spread, rtol=1e-12)
    # three assets or fewer: James-Stein does not apply, the means stay
    np.testing.assert_allclose(james_stein_means(r[:, :, :3]), r[:, :, :3].mean(axis=1), rtol=1e-12)


def test_singular_and_broken_inputs_give_finite_weights():
    mu = np.array([[1e-3, 1e-3, 5e-4]])
    singular = np.array([[[1e-4, 1e-4, 0.0], [1e-4, 1e-4, 0.0], [0.0, 0.0, 0.0]]])  # twins and a flat asset
    w = kelly_weights(mu, singular, 0.5, max_position=0.6)
    assert np.all(np.isfinite(w)) and np.all(w >= 0) and w.sum() <= 1 + 1e-12
    assert w[0, 0] == pytest.approx(w[0, 1])  # the twins share the bet
    broken = kelly_weights(np.array([[np.nan, np.inf]]), np.full((1, 2, 2), np.nan), 0.5)
    assert np.all(broken == 0.0)
    huge = kelly_weights(np.array([[1.0, 1.0]]), np.full((1, 2, 2), 1e300), 0.5)
    assert np.all(np.isfinite(huge)) and np.all(huge >= 0) and huge.sum() <= 1 + 1e-12


# ============================================================================================== the baseline
@pytest.fixture(scope="module")
def env():
    e = gymnasium.make("WealthArena/Portfolio-v0", n_assets=5, episode_length=40)
    yield e
    e.close()


def _valid(policy, obs):
    w = policy.target_weights(obs)
    assert w.shape == (obs.shape[0], policy.n_assets + 1)
    assert np.all(np.isfinite(w)) and np.all(w >= 0.0)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert np.all(w[:, :-1] <= policy.max_position + 1e-12)
    actions = policy(obs)
    assert np.all(np.isfinite(actions)) and np.all(np.abs(actions) <= 1.0)
    return w


def test_registered_and_built_with_the_envs_risk_limits(env):
    assert BASELINES["kelly"] is FractionalKelly
    policy = make_baseline("kelly", env)
    assert policy.max_position == 0.15 and policy.volatility_budget == 0.12 and policy.fraction == 0.5
    conservative = gymnasium.make("WealthArena/Portfolio-v0", n_assets=5, risk_profile="conservative")
    assert make_baseline("kelly", conservative).max_position == 0.10
    assert make_baseline("kelly", env, fraction=0.25, max_position=None).max_position == 1.0
    with pytest.raises(ConfigError, match="fraction"):
        make_baseline("kelly", env, fraction=0.0)


def test_nan_all_cash_and_singular_observations(env):
    policy = make_baseline("kelly", env)
    obs, _ = env.reset(seed=3)
    obs = np.stack([obs] * 5).astype(np.float32)
    slices = policy.slices
    obs[1, :] = np.nan  # a broken observation
    obs[2, :] = 0.0  # all cash, flat history: no estimate at all
    window = obs[3, slices["returns_window"]].reshape(policy.window, policy.n_assets)
    window[:, 1] = window[:, 0]  # two assets that move as one: a singular covariance
    obs[3, slices["returns_window"]] = window.ravel()
    obs[3, slices["volatility"]][1] = obs[3, slices["volatility"]][0]
    obs[4, slices["volatility"]] = 0.0  # no volatility: every return is 0
    w = _valid(policy, obs)
    assert w[1, -1] == 1.0 and w[2, -1] == 1.0 and w[4, -1] == 1.0  # no estimate -> cash
    assert w[3, 0] == pytest.approx(w[3, 1])


def test_batch_rows_equal_single_observations(env):
    policy = make_baseline("kelly", env)
    obs, _ = env.reset(seed=8)
    rows = [obs]
    for _ in range(6):
        obs, *_ = env.step(policy(obs))
        rows.append(obs)
    batch = np.stack(rows)
    w = _valid(policy, batch)
    for k, row in enumerate(rows):
        np.testing.assert_array_equal(policy.target_weights(row[None]), w[k : k + 1])


def test_kelly_plays_a_task_within_the_position_cap():
    doc = evaluate("Calm-v0", "kelly", n_seeds=2, episode_length=30, bootstrap_reps=50, progress=False)
    assert doc["aggregates"]["n_ok"] == 2 and doc["failures"] == []
    weights = np.array(doc["trajectories"][0]["agents"]["agent"]["weights"], dtype=np.float64)
    assert np.all(weights[:, :-1] <= 0.15 + 1e-6)  # never above the balanced profile's position cap
    assert weights[:, :-1].sum(axis=1).max() > 0.1  # and it does invest
