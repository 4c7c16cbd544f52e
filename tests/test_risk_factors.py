"""The factor risk model (``ArenaConfig.risk_factors``): its kernels against numpy, its recovery of a
covariance that is exactly factor-plus-diagonal, and the env's guarantees with it (determinism, batch
invariance; the limits holding is part of ``test_risk.test_every_limit_holds_after_every_step``)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wealtharena_env.config import ArenaConfig, MarketConfig
from wealtharena_env.errors import ConfigError
from wealtharena_env.kernels import risk as kk
from wealtharena_env.sim import Simulation


def model_matrix(factors: np.ndarray) -> np.ndarray:
    """``Q' M Q + diag(D)`` from a factor model's rows (numpy, the reference)."""
    k = (factors.shape[0] - 1) // 3
    q, m, specific = factors[:k], factors[k : 2 * k, :k], factors[2 * k]
    return q.T @ m @ q + np.diag(specific)


def factor_plus_diagonal(n: int, k: int, seed: int) -> np.ndarray:
    """A covariance that is exactly k factors plus a diagonal, with well separated factor variances."""
    rng = np.random.default_rng(seed)
    loadings = rng.normal(size=(n, k)) * (0.5 ** np.arange(k))  # factor scales 1, 0.5, 0.25, ...
    loadings[:, 0] = 0.5 + np.abs(loadings[:, 0])  # a market factor every asset loads on
    return 1e-4 * (loadings @ loadings.T + np.diag(rng.uniform(0.01, 0.02, n)))


@settings(deadline=None, max_examples=25)
@given(n=st.integers(2, 40), k=st.integers(1, 4), seed=st.integers(0, 10_000))
def test_factor_variance_is_the_model_matrix_quadratic_form(n, k, seed):
    k = min(k, n - 1)
    rng = np.random.default_rng(seed)
    factors = np.zeros((kk.risk_factor_rows(k), n))
    a = rng.normal(size=(n, n))
    cov = a @ a.T / n
    kk.refresh_risk_factors(cov, factors, 3, True)
    weights = np.append(rng.uniform(-1, 1, n), 0.4)  # the cash slot is ignored
    expected = max(weights[:n] @ model_matrix(factors) @ weights[:n], 0.0)
    got = kk.portfolio_variance(weights, cov, factors, np.zeros(k))
    assert got == pytest.approx(expected, rel=1e-10, abs=1e-18)
    # without a factor model (None) it is the covariance itself
    exact = kk.portfolio_variance(weights, cov, None, np.zeros(1))
    assert exact == pytest.approx(weights[:n] @ cov @ weights[:n], rel=1e-10)


@pytest.mark.parametrize("n,k", [(12, 1), (30, 3), (100, 5)])
def test_the_refresh_recovers_a_factor_plus_diagonal_covariance(n, k):
    cov = factor_plus_diagonal(n, k, seed=n)
    factors = np.zeros((kk.risk_factor_rows(k), n))
    kk.refresh_risk_factors(cov, factors, kk.RESET_FACTOR_SWEEPS, True)
    q = factors[:k]
    np.testing.assert_allclose(q @ q.T, np.eye(k), atol=1e-12)  # orthonormal directions
    np.testing.assert_allclose(np.diag(model_matrix(factors)), np.diag(cov), rtol=1e-12)  # own variances
    top = np.linalg.eigh(cov)[0][::-1][:k]
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(factors[k : 2 * k, :k]))[::-1], top, rtol=1e-3)
    rng = np.random.default_rng(0)
    for _ in range(20):
        w = rng.dirichlet(np.ones(n))
        exact = w @ cov @ w
        # principal components of factors-plus-diagonal are the factors up to O(D / factor variance)
        assert kk.factor_variance(w, factors, np.zeros(k)) == pytest.approx(exact, rel=0.05)
        assert (w**2) @ np.diag(cov) < 0.5 * exact  # while ignoring the correlations would be far off


def test_warm_started_sweeps_track_a_moving_covariance():
    """One sweep per refresh from the previous basis follows a slowly rotating covariance as well as a
    restart does."""
    n, k = 40, 2
    factors = np.zeros((kk.risk_factor_rows(k), n))
    cov = factor_plus_diagonal(n, k, seed=1)
    kk.refresh_risk_factors(cov, factors, kk.RESET_FACTOR_SWEEPS, True)
    for step in range(30):
        cov = 0.9 * cov + 0.1 * factor_plus_diagonal(n, k, seed=100 + step // 10)
        kk.refresh_risk_factors(cov, factors, 1, False)
    fresh = np.zeros_like(factors)
    kk.refresh_risk_factors(cov, fresh, 50, True)
    w = np.full(n, 1.0 / n)
    tracked = kk.factor_variance(w, factors, np.zeros(k))
    assert tracked == pytest.approx(kk.factor_variance(w, fresh, np.zeros(k)), rel=0.05)


def test_a_vanishing_direction_is_replaced_not_divided_by_zero():
    """A covariance of rank below k (one asset never moves): the basis stays orthonormal and finite."""
    n, k = 5, 3
    cov = np.zeros((n, n))
    cov[0, 0] = 1e-4
    factors = np.zeros((kk.risk_factor_rows(k), n))
    kk.refresh_risk_factors(cov, factors, kk.RESET_FACTOR_SWEEPS, True)
    assert np.all(np.isfinite(factors))
    np.testing.assert_allclose(factors[:k] @ factors[:k].T, np.eye(k), atol=1e-12)
    w = np.full(n, 0.2)
    assert kk.factor_variance(w, factors, np.zeros(k)) == pytest.approx(0.04 * 1e-4, rel=1e-9)


def _play(config: ArenaConfig, seeds: list[int], steps: int = 40):
    sim = Simulation(config, batch_size=len(seeds))
    obs, _ = sim.reset(seeds=seeds)
    rngs = [np.random.default_rng(seed) for seed in seeds]  # each env's actions from its own generator
    out = [obs]
    for _ in range(steps):
        obs, info = sim.step(np.stack([r.normal(size=(sim.n_agents, sim.n_action)) for r in rngs]))
        out.append(obs)
        out.append(info)
    return out, sim


def test_the_env_with_factors_is_deterministic_and_batch_invariant():
    config = ArenaConfig(market=MarketConfig(n_assets=12), risk_factors=3, risk_factor_refresh=5)
    batched, sim = _play(config, [3, 4, 5])
    again, _ = _play(config, [3, 4, 5])
    for x, y in zip(batched, again):
        np.testing.assert_array_equal(x, y)
    single, _ = _play(config, [4])
    for x, y in zip(batched, single):
        np.testing.assert_array_equal(x[1:2], y)
    assert np.all(np.isfinite(sim.risk_factors))
    # the observation's volatility reading is the model's: differs from the exact covariance's
    exact, exact_sim = _play(ArenaConfig(market=MarketConfig(n_assets=12)), [4])
    assert exact_sim.risk_factors is None  # no factor model without risk_factors: nothing compiled for it
    assert not np.array_equal(exact[-2], single[-2])


def test_risk_factors_are_validated_and_absent_from_the_default_repr():
    assert "risk_factors" not in repr(ArenaConfig())  # golden configuration hashes unchanged
    assert "risk_factors=2" in repr(ArenaConfig(risk_factors=2))
    for bad in (-1, 1.5, True):
        with pytest.raises(ConfigError, match="risk_factors"):
            ArenaConfig(risk_factors=bad)
    with pytest.raises(ConfigError, match="below the number of assets"):
        ArenaConfig(market=MarketConfig(n_assets=3), risk_factors=3)
    with pytest.raises(ConfigError, match="risk_factor_refresh"):
        ArenaConfig(risk_factor_refresh=0)
