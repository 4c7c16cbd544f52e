"""Observation kernels: per-asset and market-wide features (shared by all agents) and per-agent features.

Axis order: ``bars[t, field, i]`` as in :mod:`wealtharena_env.kernels.market`; ``history[i, t]`` the same log
returns asset-major (rows ``N .. N+2``: the market series of :func:`market_series_update`; rows
``N+3 .. N+2+S``: the filtered regime probabilities of :func:`regime_series_update`); observations are
float32 vectors. Everything written for bar ``d`` reads only bars ``<= d`` (no look-ahead).

Observation layout for ``N`` assets, a window of ``W`` bars, ``K`` indicator features per asset (``K = 0``
for the ``"default"`` feature set, ``len(INDICATOR_FEATURES)`` for ``"full"``) and ``S`` regime probabilities
(``S = 0`` without a regime model), ``D = (W + 3 + K) N + 13 + S``::

    [0, W N)                 standardized log return z of bar d-W+1+k, asset i, at k*N + i (oldest bar first):
                             z_t = r_t / sigma_i(t-1), the return in units of the EWMA daily volatility
                             known before the bar
    [W N, (W+1) N)           annualised EWMA volatility sigma_i(d) * sqrt(P)
    [(W+1) N, (W+2) N)       window momentum z-score: sum of the window's z / sqrt(W)
    [(W+2) N, (W+2+K) N)     indicator features, feature k of asset i at (W+2+k) N + i
                             (``INDICATOR_FEATURES``)
    M = (W+2+K) N + 0        market trend: sum of the window's equal-weight market log returns
                             / (sigma_m sqrt(W))
    M + 1                    market volatility: annualised EWMA volatility of the equal-weight portfolio
    M + 2                    volatility percentile: share of the rolling W-bar volatilities of the market
                             return over the last L bars (L = warmup) at or below the current one, in (0, 1]
    M + 3                    cross-sectional dispersion: standard deviation across assets of bar d's log
                             returns, annualised (* sqrt(P))
    [M + 4, M + 4 + S)       filtered regime probabilities P(regime_d = s | bars <= d) of the arena's
                             regime model (:mod:`.regime`; S = 0: none), states ordered as the model's
    G = M + 4 + S
    [G, G + N + 1)           the agent's portfolio weights (N assets, then cash) at the close of bar d
    G + N + 1 + 0            the agent's drawdown from its peak value, 1 - V / max V
             + 1             the agent's annualised EWMA volatility of portfolio log returns
             + 2             episode progress t / episode_length, in [0, 1]
             + 3             one-day parametric VaR of the held weights (fraction of value, z * sigma_p)
             + 4             one-day parametric CVaR of the held weights
             + 5             ex-ante volatility of the held weights / the agent's volatility budget
             + 6             drawdown / the agent's max_drawdown limit
             + 7             drawdown-breaker cooldown remaining / cooldown (0 = not tripped)

Every entry is clipped to ``[-clip, clip]``. The market state (trend, volatility, its percentile, dispersion)
is the regime estimate an agent can use without a model of the regimes; the regime probabilities are the
estimate of a fitted model (``ArenaConfig.regime_model``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from wealtharena_env.kernels import STEP_KERNEL_OPTIONS
from wealtharena_env.kernels import indicators as ki
from wealtharena_env.kernels.regime import filter_first, filter_step, unpack_regime_model

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
AGENT_FEATURE_NAMES = (
    "drawdown",
    "portfolio_volatility",
    "progress",
    "var",
    "cvar",
    "volatility_vs_budget",
    "drawdown_vs_limit",
    "breaker",
)


class AgentReadings(NamedTuple):
    """One agent's 8 scalar features before clipping (module docstring, offsets ``AGENT_*``)."""

    drawdown: float  # 1 - V / max V
    annual_volatility: float  # EWMA volatility of the agent's daily log returns * sqrt(P)
    progress: float  # t / episode_length
    var: float  # one-day parametric VaR of the held weights
    cvar: float  # one-day parametric CVaR of the held weights
    volatility_vs_budget: float  # ex-ante annualised volatility / the volatility budget
    drawdown_vs_limit: float  # drawdown / max_drawdown
    breaker: float  # cooldown remaining / cooldown


class FeatureSettings(NamedTuple):
    """The observation's settings that :func:`write_market_features` reads."""

    window: int  # W, bars in the return window
    lookback: int  # L >= W, bars of the volatility percentile (the warm-up)
    periods_per_year: float  # P, for annualising
    bound: float  # every entry is clipped to [-bound, bound]


MARKET_FEATURE_NAMES = ("market_trend", "market_volatility", "volatility_percentile", "dispersion")
N_MARKET_FEATURES = 4

#: The per-asset technical indicators of the ``"full"`` feature set, each mapped to a scale-free number near
#: [-1, 1] (``kernels.indicators`` computes them; NaN during an indicator's warm-up becomes 0).
INDICATOR_FEATURES = (
    "rsi_14",  # (RSI - 50) / 50
    "macd_hist",  # MACD histogram (12, 26, 9) / close, in percent
    "bollinger_b",  # (%B(20, 2) - 0.5) * 2
    "natr_14",  # NATR / 2 (NATR in percent of close)
    "stoch_k",  # (slow %K(5, 3, 3) - 50) / 50
    "willr_14",  # (Williams %R + 50) / 50
    "cci_14",  # CCI / 100
    "adx_14",  # ADX / 25 - 1
    "mfi_14",  # (MFI - 50) / 50
    "roc_10",  # rate of change in percent / 10
    "zscore_20",  # rolling z-score of the close over 20 bars
    "cmf_20",  # Chaikin money flow over 20 bars
)
FEATURE_SETS = {"default": 0, "full": len(INDICATOR_FEATURES)}


@njit(**STEP_KERNEL_OPTIONS)
def shared_size(n_assets: int, window: int, n_indicators: int = 0, n_regimes: int = 0) -> int:
    """Entries every agent of an environment shares: ``(W + 2 + K) N + 4 + S``."""
    return (window + 2 + n_indicators) * n_assets + N_MARKET_FEATURES + n_regimes


def observation_size(n_assets: int, window: int, n_indicators: int = 0, n_regimes: int = 0) -> int:
    """``D = (W + 3 + K) N + 13 + S``: window returns, volatility, momentum, K indicators per asset, 4 market
    features, S regime probabilities, weights + cash, 8 agent scalars."""
    return shared_size(n_assets, window, n_indicators, n_regimes) + n_assets + 1 + N_AGENT_SCALARS


def observation_slices(
    n_assets: int, window: int, n_indicators: int = 0, n_regimes: int = 0
) -> dict[str, slice]:
    """Named slices of the observation vector (documentation, baselines and tests; not used in kernels).
    ``"regime_probabilities"`` is empty without a regime model (``n_regimes = 0``)."""
    n, w, k = n_assets, window, n_indicators
    market = (w + 2 + k) * n
    start_regimes = market + N_MARKET_FEATURES
    start_weights = start_regimes + n_regimes
    end_weights = start_weights + n + 1
    out = {
        "returns_window": slice(0, w * n),
        "volatility": slice(w * n, (w + 1) * n),
        "momentum": slice((w + 1) * n, (w + 2) * n),
        "indicators": slice((w + 2) * n, market),
    }
    for j, name in enumerate(MARKET_FEATURE_NAMES):
        out[name] = slice(market + j, market + j + 1)
    out["regime_probabilities"] = slice(start_regimes, start_weights)
    out["weights"] = slice(start_weights, end_weights)
    for k, name in enumerate(AGENT_FEATURE_NAMES):
        out[name] = slice(end_weights + k, end_weights + k + 1)
    return out


@njit(**STEP_KERNEL_OPTIONS)
def ewma_variance_update(previous: float, value: float, decay: float) -> float:
    """``var_t = decay * var_{t-1} + (1 - decay) * x_t^2`` (zero-mean EWMA, RiskMetrics style)."""
    return decay * previous + (1.0 - decay) * value * value


@njit(**STEP_KERNEL_OPTIONS)
def clip(value: float, bound: float) -> float:
    """``min(max(value, -bound), bound)``."""
    return min(max(value, -bound), bound)


@njit(**STEP_KERNEL_OPTIONS)
def standardized_return(log_return: float, previous_variance: float, bound: float) -> float:
    """``z_t = clip(r_t / sigma_{t-1})``: a bar's log return in units of the EWMA volatility known before
    it."""
    return clip(log_return / np.sqrt(previous_variance), bound)


#: Rows after the N asset rows of ``history`` (per-bar market series written by :func:`market_series_update`).
MARKET_RETURN = 0
MARKET_WINDOW_SUM = 1
MARKET_WINDOW_ENERGY = 2
N_MARKET_SERIES = 3
#: The S rows after them (``N + REGIME_PROBABILITIES + s``) hold the filtered probability of regime ``s`` per
#: bar (:func:`regime_series_update`), when the arena has a regime model.
REGIME_PROBABILITIES = N_MARKET_SERIES


@njit(**STEP_KERNEL_OPTIONS)
def market_series_update(history: np.ndarray, n_assets: int, bar: int, window: int) -> None:
    """Write bar ``bar``'s market series into rows ``N + MARKET_*`` of ``history`` (N asset rows first), once,
    when the bar is reached (so each observation reads them in O(L) instead of O(L N))::

        m_t = (sum_i r_{t,i}) / N                           equal-weight market log return (asset order)
        S_t = sum_{k=t-W+1..t} m_k                          its W-bar sum (oldest first), from t = W - 1 on
        E_t = sum_{k=t-W+1..t} m_k^2                        its W-bar energy (sum of squares)
    """
    total = 0.0
    for i in range(n_assets):
        total += history[i, bar]
    market = history[n_assets + MARKET_RETURN]
    market[bar] = total / n_assets
    if bar >= window - 1:
        level = 0.0
        energy = 0.0
        for k in range(bar - window + 1, bar + 1):
            level += market[k]
            energy += market[k] * market[k]
        history[n_assets + MARKET_WINDOW_SUM, bar] = level
        history[n_assets + MARKET_WINDOW_ENERGY, bar] = energy


@njit(**STEP_KERNEL_OPTIONS)
def regime_series_update(
    history: np.ndarray, n_assets: int, bar: int, packed_model: np.ndarray | None
) -> None:
    """Write bar ``bar``'s filtered regime probabilities into rows ``N + REGIME_PROBABILITIES + s`` of
    ``history``, once, when the bar is reached (after :func:`market_series_update`), from the packed model
    (:func:`.regime.unpack_regime_model`; None: no model, nothing to do — the branch is pruned by type, so
    an arena without a model compiles none of the filter)::

        x_t = (m_t)               D = 1: the equal-weight market log return (row N + MARKET_RETURN)
        x_t = (r_{t,1..N})        D = N: the assets' log returns
        p_0 = pi                                  bar 0 has no return (the prior)
        p_1 = filter_first(x_1),  p_t = filter_step(p_{t-1}, x_t)   (t >= 2)

    so bar t's probabilities read bars ``1..t`` of the episode only (:mod:`.regime`).
    """
    if packed_model is None:
        return
    n_states = packed_model.shape[0]
    model = unpack_regime_model(packed_model)
    first = n_assets + REGIME_PROBABILITIES
    probabilities = history[first : first + n_states]
    if model.means.shape[1] == 1:
        x = history[n_assets + MARKET_RETURN : n_assets + MARKET_RETURN + 1, bar]
    else:
        x = history[:n_assets, bar]
    if bar == 0:
        for s in range(n_states):
            probabilities[s, 0] = model.initial[s]
    elif bar == 1:
        filter_first(x, model, probabilities[:, 1])
    else:
        filter_step(probabilities[:, bar - 1], x, model, probabilities[:, bar])


@njit(**STEP_KERNEL_OPTIONS)
def write_market_features(
    zret: np.ndarray,
    history: np.ndarray,
    indicators: np.ndarray,
    cov: np.ndarray,
    bar: int,
    settings: FeatureSettings,
    work: np.ndarray,
    out: np.ndarray,
) -> None:
    """Write the shared part of the observation for decision bar ``bar`` into ``out[:shared_size]``.

    ``zret`` (R, N) float32 holds standardized returns ``z_t = clip(r_t / sigma_{t-1})``, bar ``t`` in row
    ``t % R`` (``R >= window``: a ring of the last bars, or one row per bar); ``history``
    (N + N_MARKET_SERIES, T) the log returns, then the market series of :func:`market_series_update`
    (written once per bar as it is reached; ``lookback >= window``), then the S regime probabilities of
    :func:`regime_series_update` (S = rows - N - N_MARKET_SERIES, may be 0); ``indicators`` (T, K, N)
    float32 the indicator features (K may be 0); ``cov`` the EWMA covariance after bar ``bar``
    (``sigma_i^2 = cov[i, i]``); ``work`` scratch of at least N.
    Layout and formulas in the module docstring::

        out[k N + i]       = z_{bar-W+1+k, i}                      k = 0..W-1 (oldest first)
        out[W N + i]       = clip(sigma_i * sqrt(P))               annualised volatility
        out[(W+1) N + i]   = clip(sum_k z_{bar-W+1+k, i} / sqrt(W)) window momentum z-score
        market return      m_t = mean_i r_{t,i};  sigma_m^2 = mean_ij cov_ij
        out[M + 4 + s]     = p_bar(s)                               filtered regime probabilities
    """
    window = settings.window
    lookback = settings.lookback
    bound = settings.bound
    n = zret.shape[1]
    n_ind = indicators.shape[1]
    first = bar - window + 1
    momentum = out[(window + 1) * n : (window + 2) * n]
    for i in range(n):
        momentum[i] = 0.0
    rows = zret.shape[0]
    ring = first % rows  # bar first + k is row (first + k) % R, stepped without a division per bar
    for k in range(window):
        row = zret[ring]
        ring = ring + 1 if ring + 1 < rows else 0
        base = k * n
        for i in range(n):
            z = row[i]
            out[base + i] = z
            momentum[i] += z
    scale = 1.0 / np.sqrt(window)
    annual = np.sqrt(settings.periods_per_year)
    # sigma_m^2 = mean_ij C_ij: column sums accumulate side by side in work[:N] (a vectorizable pass per row)
    for j in range(n):
        work[j] = 0.0
    for i in range(n):
        out[window * n + i] = clip(np.sqrt(cov[i, i]) * annual, bound)
        momentum[i] = clip(momentum[i] * scale, bound)
        row = cov[i]
        for j in range(n):
            work[j] += row[j]
    market_var = 0.0
    for j in range(n):
        market_var += work[j]
    market_var /= n * n
    base = (window + 2) * n
    for k in range(n_ind):
        row32 = indicators[bar, k]
        for i in range(n):
            out[base + k * n + i] = row32[i]
    # market state from the per-bar market series (rows N.. of history, see market_series_update)
    market_returns = history[n + MARKET_RETURN]
    energy = history[n + MARKET_WINDOW_ENERGY]
    trend = history[n + MARKET_WINDOW_SUM, bar]
    sigma_m = np.sqrt(max(market_var, 1e-18))
    # share of the W-bar windows ending in the last L bars whose energy is at or below the current one
    current = energy[bar]
    first = bar - lookback + window
    below = 1 if energy[first] <= current else 0
    threshold = current * (1.0 + 1e-12)
    for t in range(first + 1, bar + 1):
        if energy[t] <= threshold:
            below += 1
    count = lookback - window + 1
    mean_r = market_returns[bar]
    spread = 0.0
    for i in range(n):
        dev = history[i, bar] - mean_r
        spread += dev * dev
    market = base + n_ind * n
    out[market] = clip(trend / (sigma_m * np.sqrt(window)), bound)
    out[market + 1] = clip(sigma_m * annual, bound)
    out[market + 2] = below / count
    out[market + 3] = clip(np.sqrt(spread / n) * annual, bound)
    first_regime = n + REGIME_PROBABILITIES
    for s in range(history.shape[0] - first_regime):
        out[market + N_MARKET_FEATURES + s] = history[first_regime + s, bar]


@njit(cache=True, error_model="numpy")
def _feature(values: np.ndarray, shift: float, scale: float, bound: float, out: np.ndarray) -> None:
    """``out_t = clip((values_t - shift) * scale)``, 0 where ``values_t`` is NaN (an indicator's warm-up)."""
    for t in range(values.shape[0]):
        v = values[t]
        out[t] = 0.0 if np.isnan(v) else clip((v - shift) * scale, bound)


@njit(cache=True, error_model="numpy", nogil=True)
def indicator_features(bars: np.ndarray, bound: float, out: np.ndarray) -> None:
    """Fill ``out`` (T, K, N) float32 with the ``INDICATOR_FEATURES`` of every asset of ``bars`` (T, 6, N).

    Each indicator (``kernels.indicators``, TA-Lib conventions) at bar t reads bars <= t only, so computing
    the whole episode at once leaves no look-ahead. With permanent price impact they are computed on the
    market's own (pre-impact) bars.
    """
    n_bars = bars.shape[0]
    tmp = np.empty(n_bars)
    for i in range(bars.shape[2]):
        h = np.ascontiguousarray(bars[:, 1, i])
        lo = np.ascontiguousarray(bars[:, 2, i])
        c = np.ascontiguousarray(bars[:, 3, i])
        v = np.ascontiguousarray(bars[:, 4, i])
        _feature(ki.rsi(c, 14), 50.0, 1.0 / 50.0, bound, tmp)
        out[:, 0, i] = tmp
        hist = ki.macd(c, 12, 26, 9)[2]
        for t in range(n_bars):
            hist[t] = hist[t] / c[t] * 100.0
        _feature(hist, 0.0, 1.0, bound, tmp)
        out[:, 1, i] = tmp
        _feature(ki.bbands_percent_b(c, 20, 2.0), 0.5, 2.0, bound, tmp)
        out[:, 2, i] = tmp
        _feature(ki.natr(h, lo, c, 14), 0.0, 0.5, bound, tmp)
        out[:, 3, i] = tmp
        _feature(ki.stoch(h, lo, c, 5, 3, 3)[0], 50.0, 1.0 / 50.0, bound, tmp)
        out[:, 4, i] = tmp
        _feature(ki.willr(h, lo, c, 14), -50.0, 1.0 / 50.0, bound, tmp)
        out[:, 5, i] = tmp
        _feature(ki.cci(h, lo, c, 14), 0.0, 0.01, bound, tmp)
        out[:, 6, i] = tmp
        _feature(ki.adx(h, lo, c, 14), 25.0, 1.0 / 25.0, bound, tmp)
        out[:, 7, i] = tmp
        _feature(ki.mfi(h, lo, c, v, 14), 50.0, 1.0 / 50.0, bound, tmp)
        out[:, 8, i] = tmp
        _feature(ki.roc(c, 10), 0.0, 0.1, bound, tmp)
        out[:, 9, i] = tmp
        _feature(ki.rolling_zscore(c, 20), 0.0, 1.0, bound, tmp)
        out[:, 10, i] = tmp
        _feature(ki.cmf(h, lo, c, v, 20), 0.0, 1.0, bound, tmp)
        out[:, 11, i] = tmp


@njit(**STEP_KERNEL_OPTIONS)
def write_agent_features(
    weights: np.ndarray, readings: AgentReadings, bound: float, offset: int, out: np.ndarray
) -> None:
    """Write one agent's weights (N + 1) and its 8 scalars (module docstring, :class:`AgentReadings`) into
    ``out[offset:]``, each clipped to ``[-bound, bound]``."""
    m = weights.shape[0]
    for j in range(m):
        out[offset + j] = clip(weights[j], bound)
    base = offset + m
    out[base + AGENT_DRAWDOWN] = clip(readings.drawdown, bound)
    out[base + AGENT_VOLATILITY] = clip(readings.annual_volatility, bound)
    out[base + AGENT_PROGRESS] = clip(readings.progress, bound)
    out[base + AGENT_VAR] = clip(readings.var, bound)
    out[base + AGENT_CVAR] = clip(readings.cvar, bound)
    out[base + AGENT_VOLATILITY_VS_BUDGET] = clip(readings.volatility_vs_budget, bound)
    out[base + AGENT_DRAWDOWN_VS_LIMIT] = clip(readings.drawdown_vs_limit, bound)
    out[base + AGENT_BREAKER] = clip(readings.breaker, bound)
