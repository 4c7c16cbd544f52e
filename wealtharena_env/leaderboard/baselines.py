"""Baseline policies that work in every env: they read only the observation vector.

A policy maps a batch of observations ``(K, D)`` to a batch of actions ``(K, n_action)``. Baselines are
built for an observation layout (``n_assets``, ``window``) and action type; :func:`make_baseline` takes
them from an env. Each baseline computes target weights ``w`` (N assets then cash, ``w >= 0``, summing to
1) and turns them into actions:

* continuous actions with the ``exponential`` mapping (the env's default), with its floor
  ``f = exp(T (d - 1))`` (``d`` the env's ``action_dead_zone``; ``d = 0``: ``f = exp(-T)``):
  ``a_j = -1`` where ``w_j = 0`` and ``a_j = log(w_j (exp(T) - f) / max_k w_k + f) / T`` elsewhere, its exact
  inverse;
* continuous actions with the ``simplex`` mapping: ``a = w`` (exact: the mapping returns ``w``);
* continuous actions with the ``softmax`` mapping: ``a_j = max(1 + log(w_j / max_k w_k) / T, -1)``, the
  exact inverse of the softmax for every weight within a factor ``exp(2 T)`` of the largest one (smaller
  weights, zeros included, get ``a_j = -1``, a target of at most ``exp(-2 T)`` times the largest, which the
  no-trade band then leaves untraded);
* discrete actions: buy where ``w_i`` exceeds the current weight by more than half a step, sell where it
  is below by more than half a step, hold otherwise.

Returns in the observation are standardized (``z = r / sigma``); the baselines that need a covariance
recover returns as ``z * sigma`` with each asset's current daily volatility.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from wealtharena_env.errors import ConfigError
from wealtharena_env.kernels.features import observation_slices
from wealtharena_env.leaderboard.observation import env_simulation


def weights_to_actions(
    weights: np.ndarray,
    current: np.ndarray,
    *,
    action_type: str = "continuous",
    action_mapping: str = "exponential",
    temperature: float = 3.0,
    dead_zone: float = 0.0,
    discrete_step: float = 0.05,
) -> np.ndarray:
    """Actions ``(K, n_action)`` whose mapped targets are the weights ``(K, N + 1)`` (module docstring):
    the inverse of the env's action mapping (exact for ``exponential`` and ``simplex``; ``softmax`` within a
    factor ``exp(2 T)`` of the largest weight), or for discrete actions the buy / hold / sell per asset that
    moves the held weights ``current`` ``(K, N + 1)`` toward them."""
    if action_type == "discrete":
        n_assets = weights.shape[1] - 1
        delta = weights[:, :n_assets] - current[:, :n_assets]
        half = 0.5 * discrete_step
        return np.where(delta > half, 2, np.where(delta < -half, 0, 1)).astype(np.int64)
    if action_mapping == "exponential":  # the exact inverse, zeros included
        top = np.max(weights, axis=1, keepdims=True)
        floor = np.exp(temperature * (dead_zone - 1.0))  # d = 0: exp(-T)
        weights = np.maximum(weights, 0.0)
        actions = np.log(weights * ((np.exp(temperature) - floor) / top) + floor) / temperature
        return np.where(weights == 0.0, -1.0, actions).astype(np.float32)
    if action_mapping == "softmax":
        top = np.max(weights, axis=1, keepdims=True)
        with np.errstate(divide="ignore"):
            logits = 1.0 + np.log(weights / top) / temperature
        return np.maximum(logits, -1.0).astype(np.float32)
    return weights.astype(np.float32)


class BaselinePolicy:
    """Base class: subclasses implement :meth:`target_weights` on a batch of observations."""

    name = "baseline"
    #: :func:`make_baseline` passes the env's risk limits (``max_position``, ``volatility_budget``: the
    #: strictest over its agents) to baselines that set this.
    uses_risk_limits = False

    def __init__(
        self,
        n_assets: int,
        window: int,
        action_type: str = "continuous",
        action_mapping: str = "exponential",
        softmax_temperature: float = 3.0,
        discrete_step: float = 0.05,
        periods_per_year: int = 252,
        seed: int | None = None,
        n_indicators: int = 0,
        action_dead_zone: float = 0.0,
        n_regimes: int = 0,
    ):
        self.n_assets = n_assets
        self.window = window
        self.action_type = action_type
        self.action_mapping = action_mapping
        self.softmax_temperature = softmax_temperature
        self.action_dead_zone = action_dead_zone
        self.discrete_step = discrete_step
        self.periods_per_year = periods_per_year
        self.slices = observation_slices(n_assets, window, n_indicators, n_regimes)
        self.rng = np.random.default_rng(seed)

    # -------------------------------------------------------------- observation accessors
    def returns_window(self, obs: np.ndarray) -> np.ndarray:
        """Approximate daily log returns (K, W, N): standardized window times current daily volatility."""
        z = obs[:, self.slices["returns_window"]].reshape(-1, self.window, self.n_assets).astype(np.float64)
        return z * self.daily_volatility(obs)[:, None, :]

    def daily_volatility(self, obs: np.ndarray) -> np.ndarray:
        return obs[:, self.slices["volatility"]].astype(np.float64) / np.sqrt(self.periods_per_year)

    def current_weights(self, obs: np.ndarray) -> np.ndarray:
        return obs[:, self.slices["weights"]].astype(np.float64)

    # -------------------------------------------------------------- policy
    def target_weights(self, obs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        obs = np.asarray(observations)
        single = obs.ndim == 1
        if single:
            obs = obs[None, :]
        weights = self.target_weights(obs)
        actions = self.weights_to_actions(weights, obs)
        return actions[0] if single else actions

    def weights_to_actions(self, weights: np.ndarray, obs: np.ndarray) -> np.ndarray:
        return weights_to_actions(
            weights,
            self.current_weights(obs),
            action_type=self.action_type,
            action_mapping=self.action_mapping,
            temperature=self.softmax_temperature,
            dead_zone=self.action_dead_zone,
            discrete_step=self.discrete_step,
        )

    @staticmethod
    def normalise(risky: np.ndarray, invested: np.ndarray | float = 1.0) -> np.ndarray:
        """``(K, N)`` non-negative scores -> weights investing ``invested`` pro rata, rest in cash."""
        risky = np.maximum(np.nan_to_num(risky, nan=0.0, posinf=0.0, neginf=0.0), 0.0)
        total = risky.sum(axis=1, keepdims=True)
        invested = np.broadcast_to(np.asarray(invested, dtype=np.float64), (risky.shape[0],))[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            w = np.where(total > 0, risky / np.where(total > 0, total, 1.0) * invested, 0.0)
        # cash >= 0 exactly: a fully invested 1 - sum(w) can round to -1e-16 (a log of it is NaN)
        return np.concatenate([w, np.maximum(1.0 - w.sum(axis=1, keepdims=True), 0.0)], axis=1)


class Cash(BaselinePolicy):
    """Holds cash only: ``w = (0, ..., 0, 1)``."""

    name = "cash"

    def target_weights(self, obs):
        w = np.zeros((obs.shape[0], self.n_assets + 1))
        w[:, -1] = 1.0
        return w


class RandomPolicy(BaselinePolicy):
    """Uniformly random weights on the simplex (Dirichlet(1)), or uniform discrete choices."""

    name = "random"

    def target_weights(self, obs):
        return self.rng.dirichlet(np.ones(self.n_assets + 1), size=obs.shape[0])

    def weights_to_actions(self, weights, obs):
        if self.action_type == "discrete":
            return self.rng.integers(0, 3, size=(obs.shape[0], self.n_assets))
        return super().weights_to_actions(weights, obs)


class BuyAndHold(BaselinePolicy):
    """Invests its cash in equal parts and never sells: ``w*_i = w_i + w_cash / N``, ``w*_cash = 0``.

    From all cash that is equal weight; once invested the target is the held portfolio (no trade). With the
    env's partial rebalancing (``rebalance_rate < 1``) the cash goes in over several steps instead of one,
    and the held weights drift with prices as buy-and-hold's should.
    """

    name = "buy_and_hold"

    def target_weights(self, obs):
        current = np.clip(self.current_weights(obs), 0.0, None)
        cash = current[:, -1:]
        risky = current[:, :-1] + cash / self.n_assets
        return self.normalise(risky, np.minimum(risky.sum(axis=1), 1.0))


class EqualWeight(BaselinePolicy):
    """``w_i = 1 / N``, rebalanced every step."""

    name = "equal_weight"

    def target_weights(self, obs):
        return self.normalise(np.ones((obs.shape[0], self.n_assets)))


class Momentum(BaselinePolicy):
    """Equal weights on the ``top_k`` assets with the highest positive window momentum; cash otherwise."""

    name = "momentum"

    def __init__(self, *args: Any, top_k: int | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.top_k = top_k or max(1, self.n_assets // 3)

    def target_weights(self, obs):
        momentum = obs[:, self.slices["momentum"]].astype(np.float64)
        rank = np.argsort(np.argsort(-momentum, axis=1), axis=1)
        chosen = (rank < self.top_k) & (momentum > 0)
        return self.normalise(chosen.astype(np.float64))


class MeanReversion(BaselinePolicy):
    """Equal weights on the ``top_k`` assets that fell most over the last ``lookback`` bars (losers
    rebound)."""

    name = "mean_reversion"

    def __init__(self, *args: Any, top_k: int | None = None, lookback: int = 5, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.top_k = top_k or max(1, self.n_assets // 3)
        self.lookback = min(lookback, self.window)

    def target_weights(self, obs):
        z = obs[:, self.slices["returns_window"]].reshape(-1, self.window, self.n_assets)
        recent = z[:, -self.lookback :, :].sum(axis=1)
        rank = np.argsort(np.argsort(recent, axis=1), axis=1)
        chosen = (rank < self.top_k) & (recent < 0)
        return self.normalise(chosen.astype(np.float64))


def _window_covariance(returns: np.ndarray, shrinkage: float) -> np.ndarray:
    """(K, W, N) -> (K, N, N) sample covariance shrunk toward its diagonal by ``shrinkage``."""
    centred = returns - returns.mean(axis=1, keepdims=True)
    cov = np.einsum("kwi,kwj->kij", centred, centred) / max(returns.shape[1] - 1, 1)
    diag = np.einsum("kii->ki", cov)
    shrunk = (1.0 - shrinkage) * cov
    idx = np.arange(cov.shape[1])
    shrunk[:, idx, idx] = diag + 1e-12
    return shrunk


class MinimumVariance(BaselinePolicy):
    """Long-only minimum variance: ``w ∝ max(Σ^-1 1, 0)`` with Σ the shrunk window covariance."""

    name = "min_variance"

    def __init__(self, *args: Any, shrinkage: float = 0.5, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.shrinkage = shrinkage

    def target_weights(self, obs):
        cov = _window_covariance(self.returns_window(obs), self.shrinkage)
        raw = np.linalg.solve(cov, np.ones(cov.shape[:2])[..., None])[..., 0]
        return self.normalise(raw)


class RiskParity(BaselinePolicy):
    """Naive risk parity: ``w_i ∝ 1 / sigma_i`` (inverse EWMA volatility), fully invested."""

    name = "risk_parity"

    def target_weights(self, obs):
        return self.normalise(1.0 / np.maximum(self.daily_volatility(obs), 1e-8))


class VolatilityTarget(BaselinePolicy):
    """Equal weights scaled so the window's ex-ante portfolio volatility is at most ``target`` (annual)."""

    name = "vol_target"

    def __init__(self, *args: Any, target: float = 0.10, shrinkage: float = 0.5, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.target = target
        self.shrinkage = shrinkage

    def target_weights(self, obs):
        cov = _window_covariance(self.returns_window(obs), self.shrinkage)
        equal = np.full((obs.shape[0], self.n_assets), 1.0 / self.n_assets)
        vol = np.sqrt(np.einsum("ki,kij,kj->k", equal, cov, equal) * self.periods_per_year)
        invested = np.minimum(1.0, self.target / np.maximum(vol, 1e-12))
        return self.normalise(np.ones_like(equal), invested)


def james_stein_means(returns: np.ndarray) -> np.ndarray:
    """``(K, W, N)`` returns -> ``(K, N)`` window means shrunk toward their cross-sectional mean.

    The positive-part James-Stein estimator toward the grand mean ``m = mean_i mu_i`` of the sample means
    ``mu_i = mean_t r_ti``::

        mu_JS = m + (1 - c) (mu - m),   c = min(1, (N - 3) s^2 / sum_i (mu_i - m)^2),   s^2 = mean_i var_i / W

    ``s^2`` is the (pooled) variance of one sample mean (``var_i`` the sample variance of asset ``i`` over the
    window). The cross-sectional dispersion of the means is kept only in so far as it exceeds what noise
    alone would give; the grand mean (the market's direction over the window) is kept as it is. With
    ``N <= 3`` (James-Stein needs more than 3 means) or no dispersion the means are returned unshrunk or at
    their grand mean, respectively. NaN / inf returns count as 0.
    """
    r = np.nan_to_num(np.asarray(returns, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    n_obs, n_assets = r.shape[1], r.shape[2]
    means = r.mean(axis=1)
    grand = means.mean(axis=1, keepdims=True)
    spread = means - grand
    if n_assets <= 3 or n_obs < 2:
        return means
    noise = r.var(axis=1, ddof=1).mean(axis=1) / n_obs  # (K,) variance of one sample mean
    dispersion = np.sum(spread * spread, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        shrink = np.where(dispersion > 0.0, (n_assets - 3) * noise / dispersion, 1.0)
    keep = 1.0 - np.clip(shrink, 0.0, 1.0)
    return grand + keep[:, None] * spread


def _pseudo_inverse(cov: np.ndarray) -> np.ndarray:
    """``(K, N, N)`` symmetric matrices -> their Moore-Penrose pseudo-inverses; a matrix whose
    decomposition fails (overflowing entries) gets 0 (no position from it) instead of failing the batch."""
    try:
        return np.linalg.pinv(cov, hermitian=True)
    except np.linalg.LinAlgError:
        out = np.zeros_like(cov)
        for k in range(cov.shape[0]):
            try:
                out[k] = np.linalg.pinv(cov[k], hermitian=True)
            except np.linalg.LinAlgError:
                pass
        return out


def kelly_weights(
    means: np.ndarray,
    covariance: np.ndarray,
    fraction: float,
    max_position: float = 1.0,
    volatility_budget: float = math.inf,
    periods_per_year: float = 252.0,
) -> np.ndarray:
    """Long-only fractional Kelly weights ``(K, N)`` from means ``(K, N)`` and covariances ``(K, N, N)``.

    1. ``k = max(f Sigma^+ mu, 0)``: the fractional Kelly bets, long only (``Sigma^+`` the Moore-Penrose
       pseudo-inverse, so a singular covariance is no error: directions without variance get no weight;
       NaN / inf inputs count as 0);
    2. no leverage and the position cap: ``w_i = min(max_position, lambda k_i)`` with ``lambda`` the largest
       number in ``[0, 1]`` for which ``sum_i w_i <= 1`` (found by bisection). When the bets add up to at
       most 1 that is ``lambda = 1``: every asset gets its bet, capped, the rest is cash. When they add up to
       more, the portfolio is fully invested in the Kelly proportions, and what a capped asset cannot take
       goes to the other assets with a bet, never beyond their own bet;
    3. volatility budget: if ``sqrt(w' Sigma w P) > volatility_budget``, ``w`` is scaled down to it.

    The rest of the portfolio (``1 - sum w >= 0``) is cash.
    """
    mu = np.nan_to_num(np.asarray(means, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    cov = np.nan_to_num(np.asarray(covariance, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    raw = fraction * np.einsum("kij,kj->ki", _pseudo_inverse(cov), mu)
    bets = np.maximum(np.nan_to_num(raw, nan=0.0, posinf=0.0, neginf=0.0), 0.0)

    def invested(scale: np.ndarray) -> np.ndarray:
        return np.minimum(bets * scale[:, None], max_position).sum(axis=1)

    low = np.zeros(bets.shape[0])
    high = np.ones(bets.shape[0])
    over = invested(high) > 1.0
    for _ in range(60 if over.any() else 0):  # invested(scale) is continuous and increasing in scale
        mid = 0.5 * (low + high)
        fits = invested(mid) <= 1.0
        low = np.where(fits, mid, low)
        high = np.where(fits, high, mid)
    scale = np.where(over, low, 1.0)
    w = np.minimum(bets * scale[:, None], max_position)
    if math.isfinite(volatility_budget):
        variance = np.maximum(np.einsum("ki,kij,kj->k", w, cov, w), 0.0) * periods_per_year
        vol = np.sqrt(variance)
        with np.errstate(divide="ignore", invalid="ignore"):
            shrink = np.where(vol > volatility_budget, volatility_budget / vol, 1.0)
        w = w * shrink[:, None]
    return w


class FractionalKelly(BaselinePolicy):
    """Fractional Kelly: mean-variance growth-optimal weights ``w = f Sigma^-1 mu``, long-only, no leverage.

    Estimates, from the observation's window of returns only (``z * sigma``, see the module docstring):

    * ``Sigma``: the window's sample covariance with its off-diagonal entries shrunk toward 0 by
      ``shrinkage`` (default 0.5), as :class:`MinimumVariance` and :class:`VolatilityTarget` use;
    * ``mu``: the window's mean returns shrunk toward their cross-sectional mean by the positive-part
      James-Stein estimator (:func:`james_stein_means`): the tilt between assets survives only where it
      stands out of the noise, and the market's direction over the window is kept.

    The weights are :func:`kelly_weights`: ``f Sigma^+ mu`` with the fraction ``f`` (default 0.5, "half
    Kelly": half the growth-optimal bet, about three quarters of its growth rate for a quarter of its
    variance), clipped at 0, scaled to a sum of at most 1 (no leverage) with at most ``max_position`` per
    asset (what a capped asset cannot take goes to the other assets with a positive bet) and scaled down to
    the ``volatility_budget``; the rest is cash. Built by :func:`make_baseline`, the cap
    and budget are the env's risk profile's (the strictest over its agents), so the risk layer has nothing to
    clip; ``None`` leaves them out.

    On daily bars full Kelly asks for several times the portfolio (``mu / sigma^2`` is of order 1-10 for
    typical drifts and volatilities), so the no-leverage scaling usually binds and ``f`` matters only when
    the estimated edge is small; when every shrunk mean is at or below 0 the policy holds cash. An
    observation with NaN entries, an all-zero window (flat prices or an all-cash start) and a singular
    covariance all give valid weights (cash where there is no estimate).
    """

    name = "kelly"
    uses_risk_limits = True

    def __init__(
        self,
        *args: Any,
        fraction: float = 0.5,
        shrinkage: float = 0.5,
        max_position: float | None = None,
        volatility_budget: float | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        if not (math.isfinite(fraction) and fraction > 0.0):
            raise ConfigError(
                f"kelly: fraction must be a finite number > 0 (0.5 = half Kelly), got {fraction!r}."
            )
        if not 0.0 <= shrinkage <= 1.0:
            raise ConfigError(f"kelly: shrinkage must lie in [0, 1], got {shrinkage!r}.")
        for label, value in (("max_position", max_position), ("volatility_budget", volatility_budget)):
            if value is not None and not value > 0.0:
                raise ConfigError(f"kelly: {label} must be > 0 (or None: no limit), got {value!r}.")
        self.fraction = float(fraction)
        self.shrinkage = float(shrinkage)
        self.max_position = 1.0 if max_position is None else float(max_position)
        self.volatility_budget = math.inf if volatility_budget is None else float(volatility_budget)

    def target_weights(self, obs):
        returns = np.nan_to_num(self.returns_window(obs), nan=0.0, posinf=0.0, neginf=0.0)
        cov = _window_covariance(returns, self.shrinkage)
        w = kelly_weights(
            james_stein_means(returns),
            cov,
            self.fraction,
            self.max_position,
            self.volatility_budget,
            self.periods_per_year,
        )
        return np.concatenate([w, np.maximum(1.0 - w.sum(axis=1, keepdims=True), 0.0)], axis=1)


class _MarketTiming(BaselinePolicy):
    """Equal weight, switched between *invested* and *de-risked* by a market-state feature, with hysteresis.

    The rule is causal and stateless: it reads a risk signal ``x`` computed from one market-state feature of
    the observation (:meth:`signal`, oriented so that larger means riskier) and the agent's own weights, also
    in the observation, and nothing else. Its state — am I invested? — is read from the held weights:
    *invested* when the held risky weight exceeds the midpoint between full investment and
    ``derisked_exposure``. With thresholds ``enter <= exit``::

        invested  and x >  exit    -> de-risk: equal weights scaled to derisked_exposure, the rest in cash
        de-risked and x <  enter   -> invest:  equal weights, fully invested
        otherwise                  -> keep the state (invested: equal weights, rebalanced as equal_weight
                                      does; de-risked: the de-risked equal weights)

    The band ``[enter, exit]`` is the no-trade band of the timing decision: a signal that wanders around one
    threshold does not switch the portfolio back and forth. While invested the rule trades exactly like
    ``equal_weight``, so its difference from ``equal_weight`` is the timing and nothing else. When the risk
    layer de-risks the portfolio on its own (volatility budget, drawdown breaker) the held weights can say
    "de-risked" too; the rule then re-invests once ``x < enter``. When the env rebalances part of the way each
    step (``rebalance_rate < 1``) a switch takes several steps and the state flips when the held risky weight
    crosses the midpoint; a no-trade band (``rebalance_band``) can leave positions smaller than the band in
    place when de-risking.
    """

    #: (enter, exit) thresholds of the oriented signal when none are given
    default_thresholds: tuple[float, float] = (0.0, 0.0)

    def __init__(
        self,
        *args: Any,
        enter: float | None = None,
        exit: float | None = None,
        derisked_exposure: float = 0.0,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.enter = float(self.default_thresholds[0] if enter is None else enter)
        self.exit = float(self.default_thresholds[1] if exit is None else exit)
        if not (math.isfinite(self.enter) and math.isfinite(self.exit) and self.enter <= self.exit):
            raise ConfigError(
                f"{self.name}: needs finite thresholds with enter <= exit (the band between them is "
                f"the no-trade band), got enter={self.enter}, exit={self.exit}."
            )
        if not 0.0 <= derisked_exposure < 1.0:
            raise ConfigError(
                f"{self.name}: derisked_exposure must lie in [0, 1), got {derisked_exposure!r}."
            )
        self.derisked_exposure = float(derisked_exposure)

    def feature(self, obs: np.ndarray, name: str) -> np.ndarray:
        """``(K,)`` the market-state feature ``name`` of each observation."""
        return obs[:, self.slices[name]].astype(np.float64)[:, 0]

    def signal(self, obs: np.ndarray) -> np.ndarray:
        """``(K,)`` the risk signal: larger means riskier."""
        raise NotImplementedError

    def invested(self, obs: np.ndarray) -> np.ndarray:
        """``(K,)`` bool, the rule's decision: True = equal weights fully invested, False = de-risked."""
        x = self.signal(obs)
        held = self.current_weights(obs)[:, : self.n_assets].sum(axis=1)
        was_invested = held > 0.5 * (1.0 + self.derisked_exposure)
        return np.where(was_invested, ~(x > self.exit), x < self.enter)

    def target_weights(self, obs):
        exposure = np.where(self.invested(obs), 1.0, self.derisked_exposure)
        return self.normalise(np.ones((obs.shape[0], self.n_assets)), exposure)


class VolatilityTiming(_MarketTiming):
    """Equal weight while the market is calm, cash while its volatility is high.

    Signal: the ``market_volatility`` feature (annualised EWMA volatility of the equal-weight market,
    half-life ``volatility_halflife`` = 20 bars). De-risks to cash when it rises above ``exit`` (default 0.20,
    20 % a year) and re-invests in equal weights when it falls below ``enter`` (default 0.15): 15-20 % is the
    no-trade band. The thresholds were fixed a priori (the "VIX 20" rule of thumb: 20 % annual volatility
    marks a stressed equity market), not tuned on any seed. State machine: :class:`_MarketTiming`.
    """

    name = "vol_timing"
    default_thresholds = (0.15, 0.20)

    def signal(self, obs):
        return self.feature(obs, "market_volatility")


class TrendTiming(_MarketTiming):
    """Equal weight while the market trends up, cash while it trends down (time-series momentum).

    Signal: minus the ``market_trend`` feature (the window's equal-weight market log return in units of its
    volatility, ``sum_k m_k / (sigma_m sqrt(W))``, W = 20 bars: a z-score, about N(0, 1) without drift).
    De-risks to cash when the trend falls below ``-band`` and re-invests when it rises above ``+band``
    (default ``band = 0.5``): ``[-0.5, 0.5]`` is the no-trade band. The band was fixed a priori (half a
    standard deviation of the driftless z-score), not tuned on any seed. State machine:
    :class:`_MarketTiming`.
    """

    name = "trend_timing"

    def __init__(self, *args: Any, band: float = 0.5, **kwargs: Any):
        kwargs.setdefault("enter", -band)  # re-invest when -trend < -band, i.e. trend > band
        kwargs.setdefault("exit", band)  # de-risk when -trend > band, i.e. trend < -band
        super().__init__(*args, **kwargs)

    def signal(self, obs):
        return -self.feature(obs, "market_trend")


BASELINES: dict[str, type[BaselinePolicy]] = {
    cls.name: cls
    for cls in (
        Cash,
        RandomPolicy,
        BuyAndHold,
        EqualWeight,
        Momentum,
        MeanReversion,
        MinimumVariance,
        RiskParity,
        VolatilityTarget,
        FractionalKelly,
        VolatilityTiming,
        TrendTiming,
    )
}


def make_baseline(name: str, env: Any, seed: int | None = None, **kwargs: Any) -> BaselinePolicy:
    """Baseline ``name`` for the observation/action layout of ``env`` (any of our envs, wrapped or not)."""
    if name not in BASELINES:
        raise ConfigError(f"unknown baseline {name!r}; choose one of {sorted(BASELINES)}.")
    sim = env_simulation(env, "make_baseline")
    cfg = sim.config
    cls = BASELINES[name]
    if cls.uses_risk_limits:
        kwargs.setdefault("max_position", min(float(a.risk.max_position) for a in cfg.agents))
        kwargs.setdefault("volatility_budget", min(float(a.risk.volatility_budget) for a in cfg.agents))
    return cls(
        sim.n_assets,
        cfg.window,
        action_type=cfg.action_type,
        action_mapping=cfg.action_mapping,
        softmax_temperature=cfg.softmax_temperature,
        discrete_step=cfg.discrete_step,
        periods_per_year=cfg.market.periods_per_year,
        seed=seed,
        n_indicators=sim.n_indicators,
        action_dead_zone=cfg.action_dead_zone,
        n_regimes=sim.n_regimes,
        **kwargs,
    )


PolicyFn = Callable[[np.ndarray], np.ndarray]

__all__ = [
    "BASELINES",
    "BaselinePolicy",
    "james_stein_means",
    "kelly_weights",
    "make_baseline",
    "PolicyFn",
    "weights_to_actions",
] + [cls.__name__ for cls in BASELINES.values()]
