"""Synthetic market kernel: regime-switching, GJR-GARCH(1,1), Student-t factors, jumps, consistent OHLCV bars.

Axis order: time first, then field, then asset: ``bars[t, field, i]``. Fields (see ``BAR_*`` constants):
open, high, low, close (currency units), volume (shares) and the close-to-close log return of the bar
(``log(close_t / close_{t-1})``; 0 on the first bar).

Every random number comes from the episode's own :mod:`~wealtharena_env.kernels.rng` stream, drawn inside
the kernel bar by bar in a fixed order, so a path is a deterministic function of the stream's key and the
parameters, identical across processes, threads and batch positions.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from wealtharena_env.kernels import STEP_KERNEL_OPTIONS, rng

# Bar fields (axis 1 of a bar array).
BAR_OPEN = 0
BAR_HIGH = 1
BAR_LOW = 2
BAR_CLOSE = 3
BAR_VOLUME = 4
BAR_LOGRET = 5
N_BAR_FIELDS = 6

N_REGIMES = 3
# Rows of an episode's per-asset state (``asset_state``, shape (N_ASSET_ROWS, N)).
ASSET_H = 0  # GARCH variance multiplier h_i
ASSET_PRICE0 = 1  # first price
ASSET_VOLUME0 = 2  # base volume
ASSET_CLOSE = 3  # the path's last close (before any price impact the arena applies to its bars)
ASSET_VOL = 4  # 3 rows: sigma_k * scale_i for each regime k (3 regimes)
ASSET_MEAN = 7  # 3 rows: (mu_k + alpha_i) / P for each regime k
ASSET_FACTOR_DRAW = 10  # the bar's factor draws: f_j in column j < P_N_FACTORS (so K <= N)
# Parameter rows (written by the caller before a path starts, read only when a scalar flag below says so):
ASSET_OWN_VOL = 11  # 3 rows: asset i's own annual volatility in regime k (P_OWN_VOLS)
ASSET_OWN_DRIFT = 14  # 3 rows: asset i's own annual drift in regime k (P_OWN_DRIFTS)
ASSET_OWN_PRICE = 17  # asset i's first price (P_OWN_LEVELS)
ASSET_OWN_VOLUME = 18  # asset i's base volume (P_OWN_LEVELS)
MAX_FACTORS = 8
ASSET_LOADING = 19  # MAX_FACTORS rows: loading B_ij of asset i on factor j (j < P_N_FACTORS)
ASSET_FACTOR_SCALE = ASSET_LOADING + MAX_FACTORS  # 3 rows: c_ik, the factor part's weight in regime k
ASSET_IDIO = ASSET_FACTOR_SCALE + N_REGIMES  # 3 rows: w_ik = sqrt(1 - c_ik^2 sum_j B_ij^2)
N_ASSET_ROWS = ASSET_IDIO + N_REGIMES
#: the first parameter row: rows ``[ASSET_PARAMETERS:]`` are the caller's, the kernel never writes them
ASSET_PARAMETERS = ASSET_OWN_VOL

# Regime parameter columns (``regime_params``, shape (N_REGIMES, 3)).
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
P_VOL_DISPERSION = 11  # std of log(scale_i)
P_DRIFT_DISPERSION = 12  # std of alpha_i
P_GARCH_GAMMA = 13  # GJR asymmetry g (0: symmetric GARCH)
P_N_FACTORS = 14  # K: 0 = equicorrelation (REGIME_CORR), 1..MAX_FACTORS = factor model (ASSET_LOADING rows)
P_OWN_VOLS = 15  # 1: volatilities from the ASSET_OWN_VOL rows instead of REGIME_VOL
P_OWN_DRIFTS = 16  # 1: drifts from the ASSET_OWN_DRIFT rows instead of REGIME_DRIFT
P_OWN_LEVELS = 17  # 1: first price and base volume from the ASSET_OWN_PRICE / ASSET_OWN_VOLUME rows
N_MARKET_SCALARS = 18


class MarketDynamics(NamedTuple):
    """What drives a path from bar to bar: the scalars (``P_*``), the regimes' parameters (``REGIME_*``
    columns, one row per regime) and the regime transition matrix."""

    scalars: np.ndarray  # (N_MARKET_SCALARS,)
    regime_params: np.ndarray  # (N_REGIMES, 3)
    transition: np.ndarray  # (N_REGIMES, N_REGIMES), rows sum to 1


@njit(nogil=True, **STEP_KERNEL_OPTIONS)
def next_regime(previous: int, uniform: float, transition: np.ndarray) -> int:
    """Inverse-CDF draw of the next regime: the first j with ``uniform < sum_{k<=j} P[previous, k]``."""
    cumulative = 0.0
    n = transition.shape[1]
    for j in range(n):
        cumulative += transition[previous, j]
        if uniform < cumulative:
            return j
    return n - 1


@njit(nogil=True, **STEP_KERNEL_OPTIONS)
def draw_asset_parameters(
    stream: np.ndarray, scalars: np.ndarray, regime_params: np.ndarray, asset_state: np.ndarray
) -> None:
    """Draw one episode's asset parameters from ``stream`` into ``asset_state`` (N_ASSET_ROWS, N).

    Per asset ``i``, in this order: one :func:`~wealtharena_env.kernels.rng.normal_pair` ``(a_i, b_i)`` and
    two uniforms ``c_i, d_i``; with the dispersions ``s_vol``, ``s_drift``::

        scale_i = exp(s_vol * a_i)          volatility scale
        alpha_i = s_drift * b_i             annual excess drift
        price0_i = initial_price * exp(c_i - 0.5),   volume0_i = base_volume * exp(d_i - 0.5)

    and, for each regime ``k``, ``sigma_k * scale_i`` and ``(mu_k + alpha_i) / P`` (rows ``ASSET_VOL + k`` and
    ``ASSET_MEAN + k``); ``h_i = 1`` (the GARCH multiplier); the last close ``price0_i``.

    The asset's own parameters replace the common ones when the scalar flags say so (the draws are the same,
    so the stream advances alike): ``P_OWN_VOLS``: ``sigma_k`` is asset ``i``'s own ``sigma_ik`` (row
    ``ASSET_OWN_VOL + k``); ``P_OWN_DRIFTS``: ``mu_k`` is its own ``mu_ik`` (row ``ASSET_OWN_DRIFT + k``);
    ``P_OWN_LEVELS``: ``price0_i`` and ``volume0_i`` are rows ``ASSET_OWN_PRICE`` and ``ASSET_OWN_VOLUME``
    (``c_i``, ``d_i`` unused).
    """
    n_assets = asset_state.shape[1]
    n_regimes = regime_params.shape[0]
    periods = scalars[P_PERIODS_PER_YEAR]
    own_vols = scalars[P_OWN_VOLS] > 0.0
    own_drifts = scalars[P_OWN_DRIFTS] > 0.0
    own_levels = scalars[P_OWN_LEVELS] > 0.0
    for i in range(n_assets):
        a, b = rng.normal_pair(stream)
        c = rng.uniform(stream)
        d = rng.uniform(stream)
        scale = np.exp(scalars[P_VOL_DISPERSION] * a)
        alpha = scalars[P_DRIFT_DISPERSION] * b
        if own_levels:
            asset_state[ASSET_PRICE0, i] = asset_state[ASSET_OWN_PRICE, i]
            asset_state[ASSET_VOLUME0, i] = asset_state[ASSET_OWN_VOLUME, i]
        else:
            asset_state[ASSET_PRICE0, i] = scalars[P_INITIAL_PRICE] * np.exp(c - 0.5)
            asset_state[ASSET_VOLUME0, i] = scalars[P_BASE_VOLUME] * np.exp(d - 0.5)
        asset_state[ASSET_CLOSE, i] = asset_state[ASSET_PRICE0, i]
        asset_state[ASSET_H, i] = 1.0
        for k in range(n_regimes):
            sigma = asset_state[ASSET_OWN_VOL + k, i] if own_vols else regime_params[k, REGIME_VOL]
            mu = asset_state[ASSET_OWN_DRIFT + k, i] if own_drifts else regime_params[k, REGIME_DRIFT]
            asset_state[ASSET_VOL + k, i] = sigma * scale
            asset_state[ASSET_MEAN + k, i] = (mu + alpha) / periods


@njit(nogil=True, **STEP_KERNEL_OPTIONS)
def simulate_bar(
    t: int,
    regime: int,
    stream: np.ndarray,
    scalars: np.ndarray,
    regime_params: np.ndarray,
    asset_state: np.ndarray,
    bars_out: np.ndarray,
    full_bar: bool = True,
) -> None:
    """Draw the next bar of every asset in regime ``regime`` into row ``t`` of ``bars_out``, from the path's
    last closes (row ``ASSET_CLOSE`` of ``asset_state``, which equal ``bars_out[t - 1]``'s unless the arena
    moved that bar's prices by its agents' impact), advancing them and the GARCH multipliers ``h_i`` (``t`` is
    only the row: a ring of rows works as well as one row per bar).

    Draws, in this order: the market factor's Student-t ``f``; then per asset ``i``: a Student-t ``e_i``, a
    uniform ``U_i``, a normal ``n_i`` only when ``U_i < jump_prob`` (the first of a normal pair), and two
    normal pairs ``(g_i, x_i)``, ``(y_i, v_i)``. With ``P`` bars per year and ``rho_k``, ``sigma_k``, ``mu_k``
    the regime's correlation, volatility and drift::

        u = sqrt((dof - 2) / dof)                              scales a Student-t draw to unit variance
        z_i = sqrt(rho_k) * u * f + sqrt(1 - rho_k) * u * e_i
        s_i = sigma_k * scale_i * sqrt(h_i) / sqrt(P)          daily volatility
        J_i = jump_mean + jump_std * n_i  if U_i < jump_prob, else 0
        r_i = (mu_k + alpha_i) / P - s_i^2 / 2 + s_i * z_i + J_i          close-to-close log return
        h_i <- (1 - a - b - g/2) + (a + g 1[z_i < 0]) * z_i^2 * h_i + b * h_i   GJR-GARCH(1,1), E[h] = 1
        close_t = close_{t-1} * exp(r_i)
        open_t  = close_{t-1} * exp(overnight_fraction * r_i + 0.1 * s_i * g_i)
        high_t  = max(open_t, close_t) * exp(0.5 * s_i * |x_i|)
        low_t   = min(open_t, close_t) * exp(-0.5 * s_i * |y_i|)
        volume_t = volume0_i * exp(volume_sensitivity * (|r_i - mean| / s_i - 0.8) + 0.25 * v_i)

    so ``low <= min(open, close) <= max(open, close) <= high`` holds by construction and volume rises with
    the size of the move. ``g`` is ``P_GARCH_GAMMA`` (0: the symmetric GARCH(1,1); the update is then the
    plain ``(1 - a - b) + a z^2 h + b h``); ``sigma_k``, ``mu_k`` may be asset ``i``'s own
    (:func:`draw_asset_parameters`).

    **Factor model** (``K = P_N_FACTORS``, ``1 <= K <= min(MAX_FACTORS, N)``): the market factor ``f`` is
    replaced by ``K`` factors, drawn first (``K`` Student-t ``f_1..f_K``, kept in row ``ASSET_FACTOR_DRAW``),
    and with asset ``i``'s loadings ``B_ij`` (rows ``ASSET_LOADING + j``) and its regime weights ``c_ik`` (row
    ``ASSET_FACTOR_SCALE + k``), ``w_ik`` (row ``ASSET_IDIO + k``)::

        z_i = c_ik * sum_j B_ij * u * f_j + w_ik * u * e_i,      w_ik = sqrt(1 - c_ik^2 sum_j B_ij^2)

    so ``Var z_i = 1`` and ``corr(z_i, z_l) = c_ik c_lk sum_j B_ij B_lj`` (``Sigma = C B B' C + diag(w^2)``),
    ``O(N K)`` per bar; the rest of the bar is as above.
    """
    n_assets = bars_out.shape[2]
    garch_a = scalars[P_GARCH_ALPHA]
    garch_b = scalars[P_GARCH_BETA]
    garch_omega = 1.0 - garch_a - garch_b
    dof = scalars[P_DOF]
    t_scale = np.sqrt((dof - 2.0) / dof)
    jump_prob = scalars[P_JUMP_PROB]
    vol_sens = scalars[P_VOLUME_SENSITIVITY]
    overnight = scalars[P_OVERNIGHT_FRACTION]
    sqrt_periods = np.sqrt(scalars[P_PERIODS_PER_YEAR])
    garch_g = scalars[P_GARCH_GAMMA]
    if garch_g > 0.0:
        garch_omega -= 0.5 * garch_g
    n_factors = int(scalars[P_N_FACTORS])
    common_part = 0.0
    w_idio = 0.0
    if n_factors == 0:
        rho = regime_params[regime, REGIME_CORR]
        common_part = np.sqrt(rho) * t_scale * rng.student_t(stream, dof)
        w_idio = np.sqrt(1.0 - rho) * t_scale
    else:  # the factors, into the path state's draw row (the step kernels run without the allocator)
        for j in range(n_factors):
            asset_state[ASSET_FACTOR_DRAW, j] = t_scale * rng.student_t(stream, dof)
    for i in range(n_assets):
        if n_factors == 0:
            z = common_part + w_idio * rng.student_t(stream, dof)
        else:
            common = 0.0
            for j in range(n_factors):
                common += asset_state[ASSET_LOADING + j, i] * asset_state[ASSET_FACTOR_DRAW, j]
            z = asset_state[ASSET_FACTOR_SCALE + regime, i] * common + asset_state[
                ASSET_IDIO + regime, i
            ] * t_scale * rng.student_t(stream, dof)
        jump = 0.0
        if rng.uniform(stream) < jump_prob:
            jump = scalars[P_JUMP_MEAN] + scalars[P_JUMP_STD] * rng.normal_pair(stream)[0]
        gap, up = rng.normal_pair(stream)
        down, noise = rng.normal_pair(stream)
        h = asset_state[ASSET_H, i]
        s = asset_state[ASSET_VOL + regime, i] * np.sqrt(h) / sqrt_periods
        mean = asset_state[ASSET_MEAN + regime, i] - 0.5 * s * s
        r = mean + s * z + jump
        if garch_g > 0.0 and z < 0.0:
            asset_state[ASSET_H, i] = garch_omega + (garch_a + garch_g) * z * z * h + garch_b * h
        else:
            asset_state[ASSET_H, i] = garch_omega + garch_a * z * z * h + garch_b * h

        prev_close = asset_state[ASSET_CLOSE, i]
        close = prev_close * np.exp(r)
        asset_state[ASSET_CLOSE, i] = close
        bars_out[t, BAR_LOGRET, i] = r
        if not full_bar:  # only the log return (and the path's close) of a bar nobody reads as OHLCV
            continue
        open_ = prev_close * np.exp(overnight * r + 0.1 * s * gap)
        bars_out[t, BAR_OPEN, i] = open_
        bars_out[t, BAR_CLOSE, i] = close
        bars_out[t, BAR_HIGH, i] = max(open_, close) * np.exp(0.5 * s * abs(up))
        bars_out[t, BAR_LOW, i] = min(open_, close) * np.exp(-0.5 * s * abs(down))
        bars_out[t, BAR_VOLUME, i] = asset_state[ASSET_VOLUME0, i] * np.exp(
            vol_sens * (abs(r - mean) / s - 0.8) + 0.25 * noise
        )


@njit(nogil=True, **STEP_KERNEL_OPTIONS)
def start_market_path(
    stream: np.ndarray,
    scalars: np.ndarray,
    regime_params: np.ndarray,
    initial_regime_probs: np.ndarray,
    asset_state: np.ndarray,
    bars_out: np.ndarray,
) -> int:
    """Start a path: :func:`draw_asset_parameters` into ``asset_state``, bar 0 into ``bars_out[0]``
    (``open = high = low = close = price0_i``, volume ``volume0_i``, log return 0), and return the first
    regime, drawn from ``initial_regime_probs`` by inverse CDF of one uniform.

    The parameter rows ``asset_state[ASSET_PARAMETERS:]`` (own volatilities, drifts, levels, factor loadings
    and weights) are the caller's: it writes them before the path starts, and they are read only when the
    scalars' flags (``P_OWN_*``, ``P_N_FACTORS``) say so."""
    draw_asset_parameters(stream, scalars, regime_params, asset_state)
    for i in range(bars_out.shape[2]):
        p0 = asset_state[ASSET_PRICE0, i]
        bars_out[0, BAR_OPEN, i] = p0
        bars_out[0, BAR_CLOSE, i] = p0
        bars_out[0, BAR_HIGH, i] = p0
        bars_out[0, BAR_LOW, i] = p0
        bars_out[0, BAR_VOLUME, i] = asset_state[ASSET_VOLUME0, i]
        bars_out[0, BAR_LOGRET, i] = 0.0
    return next_regime(0, rng.uniform(stream), initial_regime_probs.reshape((1, -1)))


@njit(nogil=True, **STEP_KERNEL_OPTIONS)
def advance_market_path(
    t: int,
    regime: int,
    stream: np.ndarray,
    dynamics: MarketDynamics,
    asset_state: np.ndarray,
    bars_out: np.ndarray,
    full_bar: bool = True,
) -> int:
    """Draw bar ``t >= 1``: the next regime (inverse CDF of one uniform on row ``regime`` of
    ``dynamics.transition``), then :func:`simulate_bar` in it; return the new regime."""
    regime = next_regime(regime, rng.uniform(stream), dynamics.transition)
    simulate_bar(t, regime, stream, dynamics.scalars, dynamics.regime_params, asset_state, bars_out, full_bar)
    return regime


@njit(nogil=True, **STEP_KERNEL_OPTIONS)
def simulate_market_path(
    stream: np.ndarray,
    dynamics: MarketDynamics,
    initial_regime_probs: np.ndarray,
    asset_state: np.ndarray,
    bars_out: np.ndarray,
    regimes_out: np.ndarray,
    full_from: int = 0,
) -> None:
    """Fill ``bars_out`` (T, 6, N) and ``regimes_out`` (T,) with the first T bars of a synthetic OHLCV path
    drawn from ``stream`` (a :mod:`~wealtharena_env.kernels.rng` stream, advanced in place):
    :func:`start_market_path`, then :func:`advance_market_path` for each bar ``t >= 1``; ``asset_state``
    (N_ASSET_ROWS, N) ends with the path's state after bar T - 1. The draws run bar by bar, so the path
    continues with :func:`advance_market_path` from there exactly as if T had been longer: the arena draws the
    warm-up bars here and the rest as it reaches them (:func:`wealtharena_env.kernels.step.step_env`).

    Bars ``1 <= t < full_from`` get only their log return (open, high, low and volume are not computed: the
    same draws, the same path, less work for a warm-up whose OHLCV nobody reads); bar 0 and bars
    ``>= full_from`` are whole.
    """
    regime = start_market_path(
        stream, dynamics.scalars, dynamics.regime_params, initial_regime_probs, asset_state, bars_out
    )
    regimes_out[0] = regime
    for t in range(1, bars_out.shape[0]):
        regime = advance_market_path(t, regime, stream, dynamics, asset_state, bars_out, t >= full_from)
        regimes_out[t] = regime


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
