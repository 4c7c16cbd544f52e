"""Reading an observation vector from the policy side: named slices and the returns it reveals.

Policies that combine other policies (:mod:`.ensemble`), gate them by a regime (:mod:`.regime_gate`) or
assign them to agents (:mod:`.assignment`) see only observations, like every leaderboard policy. This module
names the entries they read (the layout of :mod:`wealtharena_env.kernels.features`) and recovers the last
bar's log returns from two consecutive observations, causally:

* the return window holds standardized returns ``z_t = r_t / sigma(t-1)`` (the EWMA daily volatility known
  before bar ``t``), its last row being the latest bar;
* the previous observation's volatility entries are ``sigma(t-1) sqrt(P)`` (annualised);

so ``r_t = z_t sigma(t-1) sqrt(P) / sqrt(P)`` exactly, unless an entry was clipped to the observation's bound
(``|z| > observation_clip``, a move of more than 10 standard deviations by default). At an episode's first
observation ``sigma(t-1)`` is unknown; :meth:`ObservationLayout.window_log_returns` approximates the whole
window with the current volatility instead (what the baselines do).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wealtharena_env.errors import ConfigError
from wealtharena_env.kernels.features import observation_slices


def env_simulation(env: Any, what: str) -> Any:
    """The ``Simulation`` under any of the package's envs (wrapped or not) or anything holding a ``sim``; a
    ``ConfigError`` saying that ``what`` needs one otherwise."""
    sim = getattr(getattr(env, "unwrapped", env), "sim", None)
    if sim is None:
        raise ConfigError(f"{what} needs a wealtharena env (with .sim), got {type(env).__name__}.")
    return sim


@dataclass(frozen=True)
class ObservationLayout:
    """Where each named feature sits in the observation vector of one env configuration.

    Attributes:
        n_assets: ``N``, assets in the market.
        window: ``W``, bars in the return window.
        n_indicators: ``K``, indicator features per asset (0 for the default feature set).
        periods_per_year: ``P``, for annualising.
        n_regimes: ``S``, filtered regime probabilities (0 without ``ArenaConfig.regime_model``).
    """

    n_assets: int
    window: int
    n_indicators: int = 0
    periods_per_year: float = 252.0
    n_regimes: int = 0
    slices: dict[str, slice] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        slices = observation_slices(self.n_assets, self.window, self.n_indicators, self.n_regimes)
        object.__setattr__(self, "slices", slices)

    @classmethod
    def from_env(cls, env: Any) -> ObservationLayout:
        """The layout of any of the package's envs (wrapped or not), or of anything holding a ``sim``."""
        sim = env_simulation(env, "an observation layout")
        return cls(
            int(sim.n_assets),
            int(sim.config.window),
            int(sim.n_indicators),
            float(sim.config.market.periods_per_year),
            int(sim.n_regimes),
        )

    @property
    def size(self) -> int:
        """``D``, entries of one observation."""
        return self.slices["breaker"].stop

    def batch(self, observations: Any) -> np.ndarray:
        """``(K, D)`` float64 from a batch ``(K, D)`` or one observation ``(D,)``; a clear error otherwise."""
        obs = np.asarray(observations, dtype=np.float64)
        if obs.ndim == 1:
            obs = obs[None, :]
        if obs.ndim != 2 or obs.shape[1] != self.size:
            raise ConfigError(
                f"expected observations of shape (K, {self.size}) or ({self.size},) for {self.n_assets} "
                f"assets and a window of {self.window}, got {np.shape(observations)}."
            )
        return obs

    def feature(self, obs: np.ndarray, name: str) -> np.ndarray:
        """``(K,)`` the scalar feature ``name`` (``market_volatility``, ``progress``, ...)."""
        if name not in self.slices or self.slices[name].stop - self.slices[name].start != 1:
            scalars = [k for k, s in self.slices.items() if s.stop - s.start == 1]
            raise ConfigError(f"unknown scalar observation feature {name!r}; choose one of {scalars}.")
        return obs[:, self.slices[name]][:, 0]

    def weights(self, obs: np.ndarray) -> np.ndarray:
        """``(K, N + 1)`` the agent's held weights (assets, then cash), as observed (may hold NaN)."""
        return obs[:, self.slices["weights"]]

    def with_weights(self, obs: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """A copy of ``obs`` whose held weights are ``weights`` (what a policy holding them would see)."""
        out = np.array(obs, dtype=np.float64, copy=True)
        out[:, self.slices["weights"]] = weights
        return out

    def annual_volatility(self, obs: np.ndarray) -> np.ndarray:
        """``(K, N)`` each asset's annualised EWMA volatility ``sigma_i(t) sqrt(P)``."""
        return obs[:, self.slices["volatility"]]

    def standardized_window(self, obs: np.ndarray) -> np.ndarray:
        """``(K, W, N)`` the standardized returns of the window, oldest bar first."""
        return obs[:, self.slices["returns_window"]].reshape(-1, self.window, self.n_assets)

    def latest_log_returns(self, obs: np.ndarray, previous_annual_volatility: np.ndarray) -> np.ndarray:
        """``(K, N)`` the latest bar's log returns, given the previous observation's volatility entries."""
        return latest_log_returns(
            self.standardized_window(obs)[:, -1, :], previous_annual_volatility, self.periods_per_year
        )

    def window_log_returns(self, obs: np.ndarray) -> np.ndarray:
        """``(K, W, N)`` approximate log returns of the whole window: ``z`` times the *current* volatility
        (the volatility before each bar is not in one observation)."""
        daily = self.annual_volatility(obs) / np.sqrt(self.periods_per_year)
        return self.standardized_window(obs) * daily[:, None, :]


def latest_log_returns(
    standardized: np.ndarray, previous_annual_volatility: np.ndarray, periods_per_year: float
) -> np.ndarray:
    """``r_t = z_t * sigma_prev / sqrt(P)``: the log return of the bar whose standardized return is ``z_t``,
    from the annualised volatility ``sigma_prev`` of the observation before it (both ``(K, N)``)."""
    return standardized * previous_annual_volatility / np.sqrt(periods_per_year)


def sanitize_weights(weights: np.ndarray) -> np.ndarray:
    """``(K, N + 1)`` long-only weights summing to 1: non-finite and negative entries become 0, each row is
    renormalised, and a row with nothing left is all cash (the last entry)."""
    w = np.where(np.isfinite(weights), weights, 0.0)
    w = np.maximum(w, 0.0)
    total = w.sum(axis=1, keepdims=True)
    out = np.divide(w, total, out=np.zeros_like(w), where=total > 0.0)
    out[total[:, 0] <= 0.0, -1] = 1.0
    return out


def drift_weights(weights: np.ndarray, simple_returns: np.ndarray) -> np.ndarray:
    """``w'_i = w_i (1 + R_i) / sum_j w_j (1 + R_j)`` (cash earns 0): weights ``(..., N + 1)`` after one bar
    of simple asset returns ``R`` ``(..., N)``. A value that fell to 0 or below leaves the row all cash."""
    growth = np.concatenate([1.0 + simple_returns, np.ones(simple_returns.shape[:-1] + (1,))], axis=-1)
    grown = weights * growth
    total = grown.sum(axis=-1, keepdims=True)
    cash = np.zeros_like(grown)
    cash[..., -1] = 1.0
    return np.where(total > 0.0, grown / np.where(total > 0.0, total, 1.0), cash)


__all__ = [
    "ObservationLayout",
    "drift_weights",
    "latest_log_returns",
    "sanitize_weights",
]
