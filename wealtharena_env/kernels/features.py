"""Observation kernels: per-asset market features (shared by all agents) and per-agent features.

Axis order: ``bars[t, field, i]`` as in :mod:`wealtharena_env.kernels.market`; observations are float32
vectors. Everything written for bar ``d`` reads only bars ``<= d`` (no look-ahead).

Observation layout for ``N`` assets and a window of ``W`` bars (``D = (W + 3) N + 9`` entries)::

    [0, W N)              standardized log return z of bar d-W+1+k, asset i, at k*N + i (oldest bar first):
                          z_t = r_t / sigma_i(t-1), the return in units of the EWMA daily volatility
                          known before the bar
    [W N, (W+1) N)        annualised EWMA volatility sigma_i(d) * sqrt(P)
    [(W+1) N, (W+2) N)    window momentum z-score: sum of the window's z / sqrt(W)
    [(W+2) N, (W+3) N+1)  the agent's portfolio weights (N assets, then cash) at the close of bar d
    (W+3) N + 1           the agent's drawdown from its peak value, 1 - V / max V
    (W+3) N + 2           the agent's annualised EWMA volatility of portfolio log returns
    (W+3) N + 3           episode progress t / episode_length, in [0, 1]
    (W+3) N + 4           one-day parametric VaR of the held weights (fraction of value, z * sigma_p)
    (W+3) N + 5           one-day parametric CVaR of the held weights
    (W+3) N + 6           ex-ante volatility of the held weights / the agent's volatility budget
    (W+3) N + 7           drawdown / the agent's max_drawdown limit
    (W+3) N + 8           drawdown-breaker cooldown remaining / cooldown (0 = not tripped)

Every entry is clipped to ``[-clip, clip]``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Per-agent feature offsets after the weights (relative to the end of the weights block).
AGENT_DRAWDOWN = 0
AGENT_VOLATILITY = 1
AGENT_PROGRESS = 2
AGENT_VAR = 3
AGENT_CVAR = 4
AGENT_VOLATILITY_VS_BUDGET = 5
AGENT_DRAWDOWN_VS_LIMIT = 6
AGENT_BREAKER = 7
N_AGENT_SCALARS = 8
AGENT_FEATURE_NAMES = ("drawdown", "portfolio_volatility", "progress", "var", "cvar", "volatility_vs_budget",
                       "drawdown_vs_limit", "breaker")


def observation_size(n_assets: int, window: int) -> int:
    """``D = (W + 3) N + 9``: window returns, volatility, momentum, weights + cash, 8 agent scalars."""
    return (window + 3) * n_assets + 1 + N_AGENT_SCALARS


def observation_slices(n_assets: int, window: int) -> dict[str, slice]:
    """Named slices of the observation vector (documentation and tests; not used in kernels)."""
    n, w = n_assets, window
    start_weights = (w + 2) * n
    end_weights = start_weights + n + 1
    out = {
        "returns_window": slice(0, w * n),
        "volatility": slice(w * n, (w + 1) * n),
        "momentum": slice((w + 1) * n, (w + 2) * n),
        "weights": slice(start_weights, end_weights),
    }
    for k, name in enumerate(AGENT_FEATURE_NAMES):
        out[name] = slice(end_weights + k, end_weights + k + 1)
    return out


@njit(cache=True, error_model="numpy")
def ewma_variance_update(previous: float, value: float, decay: float) -> float:
    """``var_t = decay * var_{t-1} + (1 - decay) * x_t^2`` (zero-mean EWMA, RiskMetrics style)."""
    return decay * previous + (1.0 - decay) * value * value


@njit(cache=True, error_model="numpy")
def clip(value: float, bound: float) -> float:
    """``min(max(value, -bound), bound)``."""
    return min(max(value, -bound), bound)


@njit(cache=True, error_model="numpy")
def standardized_return(log_return: float, previous_variance: float, bound: float) -> float:
    """``z_t = clip(r_t / sigma_{t-1})``: a bar's log return in units of the EWMA volatility known before it."""
    return clip(log_return / np.sqrt(previous_variance), bound)


@njit(cache=True, error_model="numpy")
def write_market_features(
    zret: np.ndarray, bar: int, window: int, cov: np.ndarray, periods_per_year: float,
    bound: float, out: np.ndarray,
) -> None:
    """Write the shared (per-asset) part of the observation for decision bar ``bar`` into ``out[: (W+2) N]``.

    ``zret`` (T, N) float32 holds standardized returns ``z_t = clip(r_t / sigma_{t-1})``; ``cov`` the EWMA
    covariance after bar ``bar`` (``sigma_i^2 = cov[i, i]``). Layout::

        out[k N + i]       = z_{bar-W+1+k, i}                      k = 0..W-1 (oldest first)
        out[W N + i]       = clip(sigma_i * sqrt(P))               annualised volatility
        out[(W+1) N + i]   = clip(sum_k z_{bar-W+1+k, i} / sqrt(W)) window momentum z-score
    """
    n = zret.shape[1]
    first = bar - window + 1
    momentum = out[(window + 1) * n:(window + 2) * n]
    for i in range(n):
        momentum[i] = 0.0
    for k in range(window):
        row = zret[first + k]
        base = k * n
        for i in range(n):
            z = row[i]
            out[base + i] = z
            momentum[i] += z
    scale = 1.0 / np.sqrt(window)
    annual = np.sqrt(periods_per_year)
    for i in range(n):
        out[window * n + i] = clip(np.sqrt(cov[i, i]) * annual, bound)
        momentum[i] = clip(momentum[i] * scale, bound)


@njit(cache=True, error_model="numpy")
def write_agent_features(
    weights: np.ndarray, drawdown: float, annual_volatility: float, progress: float, var: float, cvar: float,
    volatility_vs_budget: float, drawdown_vs_limit: float, breaker: float, bound: float, offset: int,
    out: np.ndarray,
) -> None:
    """Write one agent's weights (N + 1) and its 8 scalars (module docstring) into ``out[offset:]``."""
    m = weights.shape[0]
    for j in range(m):
        out[offset + j] = clip(weights[j], bound)
    base = offset + m
    out[base + AGENT_DRAWDOWN] = clip(drawdown, bound)
    out[base + AGENT_VOLATILITY] = clip(annual_volatility, bound)
    out[base + AGENT_PROGRESS] = clip(progress, bound)
    out[base + AGENT_VAR] = clip(var, bound)
    out[base + AGENT_CVAR] = clip(cvar, bound)
    out[base + AGENT_VOLATILITY_VS_BUDGET] = clip(volatility_vs_budget, bound)
    out[base + AGENT_DRAWDOWN_VS_LIMIT] = clip(drawdown_vs_limit, bound)
    out[base + AGENT_BREAKER] = clip(breaker, bound)
