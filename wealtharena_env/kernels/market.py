"""Synthetic market kernel: regime-switching, GARCH(1,1), Student-t, jumps, consistent OHLCV bars.

Axis order: time first, then field, then asset: ``bars[t, field, i]``. Fields (see ``BAR_*`` constants):
open, high, low, close (currency units), volume (shares) and the close-to-close log return of the bar
(``log(close_t / close_{t-1})``; 0 on the first bar).

The kernel is pure: every random number is drawn beforehand by the caller from a seeded
``numpy.random.Generator`` and passed in (Student-t, uniform and normal shock arrays, each one contiguous so
that the generator can draw straight into it), so a path is a deterministic function of the seed and the
parameters, identical across processes and batch positions.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Bar fields (axis 1 of a bar array).
BAR_OPEN = 0
BAR_HIGH = 1
BAR_LOW = 2
BAR_CLOSE = 3
BAR_VOLUME = 4
BAR_LOGRET = 5
N_BAR_FIELDS = 6

# Normal shock fields (axis 1 of the ``normal_shocks`` array, shape (T, N_NORMAL, N)), all N(0, 1).
NORMAL_JUMP_SIZE = 0  # size of a jump (when one happens)
NORMAL_GAP = 1  # overnight noise
NORMAL_HIGH = 2  # intraday excursion above max(open, close)
NORMAL_LOW = 3  # intraday excursion below min(open, close)
NORMAL_VOLUME = 4  # volume noise
N_NORMAL = 5

# Asset parameter rows (``asset_params``, shape (N_ASSET_PARAMS, N): one contiguous row per parameter).
ASSET_VOL_SCALE = 0
ASSET_ALPHA = 1  # annual excess drift
ASSET_PRICE_FACTOR = 2  # first price = P_INITIAL_PRICE * factor
ASSET_VOLUME_FACTOR = 3  # base volume = P_BASE_VOLUME * factor
N_ASSET_PARAMS = 4

# Regime parameter columns (``regime_params``, shape (3, 3)).
REGIME_DRIFT = 0
REGIME_VOL = 1
REGIME_CORR = 2

# Scalar parameters (``scalars`` vector).
P_GARCH_ALPHA = 0
P_GARCH_BETA = 1
P_DOF = 2
P_JUMP_PROB = 3  # per bar
P_JUMP_MEAN = 4
P_JUMP_STD = 5
P_VOLUME_SENSITIVITY = 6
P_OVERNIGHT_FRACTION = 7
P_PERIODS_PER_YEAR = 8
P_INITIAL_PRICE = 9
P_BASE_VOLUME = 10
N_MARKET_SCALARS = 11


@njit(cache=True, error_model="numpy")
def next_regime(previous: int, uniform: float, transition: np.ndarray) -> int:
    """Inverse-CDF draw of the next regime: the first j with ``uniform < sum_{k<=j} P[previous, k]``."""
    cumulative = 0.0
    n = transition.shape[1]
    for j in range(n):
        cumulative += transition[previous, j]
        if uniform < cumulative:
            return j
    return n - 1


@njit(cache=True, error_model="numpy", nogil=True)
def simulate_market_path(
    student_t: np.ndarray,
    factor_t: np.ndarray,
    jump_uniform: np.ndarray,
    regime_uniform: np.ndarray,
    normal_shocks: np.ndarray,
    asset_params: np.ndarray,
    regime_params: np.ndarray,
    transition: np.ndarray,
    initial_regime_probs: np.ndarray,
    scalars: np.ndarray,
    bars_out: np.ndarray,
    regimes_out: np.ndarray,
) -> None:
    """Fill ``bars_out`` (T, 6, N) and ``regimes_out`` (T,) with one synthetic OHLCV path.

    Shocks (drawn by the caller, one per bar ``t`` and asset ``i``; entries of bar 0 are not read except
    ``regime_uniform[0]``): ``student_t`` (T, N) raw Student-t(dof) draws ``e_{t,i}``, ``factor_t`` (T,) raw
    Student-t(dof) draws ``f_t`` of the market factor, ``jump_uniform`` (T, N) U(0, 1) draws ``U_{t,i}``,
    ``regime_uniform`` (T,) U(0, 1) draws driving the regime chain, ``normal_shocks`` (T, N_NORMAL, N) N(0, 1)
    draws ``n, g, x, y, v`` (``NORMAL_*`` fields). ``asset_params`` (N_ASSET_PARAMS, N): ``scale_i``,
    ``alpha_i`` and the factors of ``price0_i = initial_price * c_i`` and ``volume0_i = base_volume * d_i``
    (``ASSET_*`` rows).

    With ``P`` bars per year, regime ``k`` on bar ``t`` (drawn from ``transition`` by inverse CDF; the first
    regime from ``initial_regime_probs``), asset ``i``::

        u = sqrt((dof - 2) / dof)                              scales a Student-t draw to unit variance
        z_i = sqrt(rho_k) * u * f_t + sqrt(1 - rho_k) * u * e_{t,i}
        s_i = sigma_k * scale_i * sqrt(h_i) / sqrt(P)          daily volatility (GARCH multiplier h_i)
        J_i = jump_mean + jump_std * n_{t,i}  if U_{t,i} < jump_prob, else 0
        r_i = (mu_k + alpha_i) / P - s_i^2 / 2 + s_i * z_i + J_i          close-to-close log return
        h_i <- (1 - a - b) + a * z_i^2 * h_i + b * h_i                    GARCH(1,1), E[h] = 1
        close_t = close_{t-1} * exp(r_i)
        open_t  = close_{t-1} * exp(overnight_fraction * r_i + 0.1 * s_i * g_{t,i})
        high_t  = max(open_t, close_t) * exp(0.5 * s_i * |x_{t,i}|)
        low_t   = min(open_t, close_t) * exp(-0.5 * s_i * |y_{t,i}|)
        volume_t = volume0_i * exp(volume_sensitivity * (|r_i - mean| / s_i - 0.8) + 0.25 * v_{t,i})

    so ``low <= min(open, close) <= max(open, close) <= high`` holds by construction and volume rises with
    the size of the move. Bar 0 has ``open = close = price0_i``, ``log return = 0``, ``h = 1``. The regime
    chain is drawn first; the per-regime weights ``sqrt(rho_k) * u``, ``sqrt(1 - rho_k) * u`` and the per
    regime-and-asset ``sigma_k * scale_i`` and ``(mu_k + alpha_i) / P`` are computed once, with the same
    operations in the same order as written above (so the same bits as evaluating them on every bar).
    """
    n_bars = bars_out.shape[0]
    n_assets = bars_out.shape[2]
    n_regimes = regime_params.shape[0]
    garch_a = scalars[P_GARCH_ALPHA]
    garch_b = scalars[P_GARCH_BETA]
    garch_omega = 1.0 - garch_a - garch_b
    dof = scalars[P_DOF]
    t_scale = np.sqrt((dof - 2.0) / dof)
    jump_prob = scalars[P_JUMP_PROB]
    jump_mean = scalars[P_JUMP_MEAN]
    jump_std = scalars[P_JUMP_STD]
    vol_sens = scalars[P_VOLUME_SENSITIVITY]
    overnight = scalars[P_OVERNIGHT_FRACTION]
    periods = scalars[P_PERIODS_PER_YEAR]
    sqrt_periods = np.sqrt(periods)

    regime = next_regime(0, regime_uniform[0], initial_regime_probs.reshape((1, -1)))
    regimes_out[0] = regime
    for t in range(1, n_bars):
        regime = next_regime(regime, regime_uniform[t], transition)
        regimes_out[t] = regime

    w_common = np.empty(n_regimes)
    w_idio = np.empty(n_regimes)
    vol = np.empty((n_regimes, n_assets))  # sigma_k * scale_i
    base_mean = np.empty((n_regimes, n_assets))  # (mu_k + alpha_i) / P
    for k in range(n_regimes):
        rho = regime_params[k, REGIME_CORR]
        w_common[k] = np.sqrt(rho) * t_scale
        w_idio[k] = np.sqrt(1.0 - rho) * t_scale
        for i in range(n_assets):
            vol[k, i] = regime_params[k, REGIME_VOL] * asset_params[ASSET_VOL_SCALE, i]
            base_mean[k, i] = (regime_params[k, REGIME_DRIFT] + asset_params[ASSET_ALPHA, i]) / periods

    h = np.ones(n_assets)
    volume0 = np.empty(n_assets)
    for i in range(n_assets):
        p0 = scalars[P_INITIAL_PRICE] * asset_params[ASSET_PRICE_FACTOR, i]
        volume0[i] = scalars[P_BASE_VOLUME] * asset_params[ASSET_VOLUME_FACTOR, i]
        bars_out[0, BAR_OPEN, i] = p0
        bars_out[0, BAR_CLOSE, i] = p0
        bars_out[0, BAR_HIGH, i] = p0
        bars_out[0, BAR_LOW, i] = p0
        bars_out[0, BAR_VOLUME, i] = volume0[i]
        bars_out[0, BAR_LOGRET, i] = 0.0

    for t in range(1, n_bars):
        k = regimes_out[t]
        common_part = w_common[k] * factor_t[t]
        wi = w_idio[k]
        for i in range(n_assets):
            z = common_part + wi * student_t[t, i]
            s = vol[k, i] * np.sqrt(h[i]) / sqrt_periods
            mean = base_mean[k, i] - 0.5 * s * s
            jump = 0.0
            if jump_uniform[t, i] < jump_prob:
                jump = jump_mean + jump_std * normal_shocks[t, NORMAL_JUMP_SIZE, i]
            r = mean + s * z + jump
            h[i] = garch_omega + garch_a * z * z * h[i] + garch_b * h[i]

            prev_close = bars_out[t - 1, BAR_CLOSE, i]
            close = prev_close * np.exp(r)
            open_ = prev_close * np.exp(overnight * r + 0.1 * s * normal_shocks[t, NORMAL_GAP, i])
            top = max(open_, close)
            bottom = min(open_, close)
            bars_out[t, BAR_OPEN, i] = open_
            bars_out[t, BAR_CLOSE, i] = close
            bars_out[t, BAR_HIGH, i] = top * np.exp(0.5 * s * abs(normal_shocks[t, NORMAL_HIGH, i]))
            bars_out[t, BAR_LOW, i] = bottom * np.exp(-0.5 * s * abs(normal_shocks[t, NORMAL_LOW, i]))
            size = abs(r - mean) / s
            bars_out[t, BAR_VOLUME, i] = volume0[i] * np.exp(
                vol_sens * (size - 0.8) + 0.25 * normal_shocks[t, NORMAL_VOLUME, i]
            )
            bars_out[t, BAR_LOGRET, i] = r


@njit(cache=True, error_model="numpy")
def fill_log_returns(bars: np.ndarray) -> None:
    """Write ``bars[t, LOGRET, i] = log(close_t / close_{t-1})`` in place (0 on the first bar).

    Used for historical bars, whose returns are not produced by :func:`simulate_market_path`.
    """
    n_bars = bars.shape[0]
    for i in range(bars.shape[2]):
        bars[0, BAR_LOGRET, i] = 0.0
        for t in range(1, n_bars):
            bars[t, BAR_LOGRET, i] = np.log(bars[t, BAR_CLOSE, i] / bars[t - 1, BAR_CLOSE, i])
