"""Calibrating the synthetic market (:class:`~wealtharena_env.config.MarketConfig`) to real data.

Axis order: time first, asset second — returns are ``(T, N)`` daily (per-bar) **log** returns. Annual
figures use ``periods_per_year`` (``P``, 252 for daily bars).

:func:`calibrate` fits every parameter of the synthetic recursion of
:func:`wealtharena_env.kernels.market.simulate_market_path` to a :class:`MarketData`; each step mirrors a
part of that recursion, so the fitted pieces compose the way the kernel composes them::

    r_{t,i} = (mu_k + alpha_i)/P - s^2/2 + s z_{t,i} + J_{t,i},   s = sigma_k scale_i sqrt(h_{t,i}) / sqrt(P)

1. **Regimes** ``k``: a Gaussian hidden Markov model with ``n_regimes`` states fitted by EM
   (Baum-Welch, scaled forward-backward) to the market-wide return ``m_t = mean_i r_{t,i}``; the Viterbi
   path classifies each bar. The highest-volatility state is ``high_volatility``; of the others the one
   with the higher mean is ``bull``, the other ``bear``. ``regime_transition`` counts the Viterbi path's
   transitions (so the synthetic regimes last as long as the classified ones).
2. **Asset scales** ``scale_i``: each asset's volatility over the geometric mean of all assets'
   volatilities; ``asset_volatility_dispersion`` is the standard deviation of ``log scale_i``.
3. **GJR-GARCH(1,1) and Student-t**: returns standardised by their regime (``u = (r - mean_k) /
   (sigma_k scale_i)``; per asset, ``u = (r - mean_ki) / sd_ki``) follow ``u = sqrt(h) z`` with
   ``h_t = (1-a-b-g/2) + (a + g 1[u_{t-1} < 0]) u_{t-1}^2 + b h_{t-1}`` (``h_0 = 1``, ``E[h] = 1`` — the
   kernel's recursion; ``g``, the leverage effect, is 0 with ``asymmetric=False``). ``a``, ``b``, ``g`` and
   the dof ``nu`` are fitted jointly by maximum likelihood of the unit-variance Student-t
   (``scipy.optimize``, ``a, b, g >= 0``, ``a + b + g/2 <= 0.999``, ``nu > 2``), pooled over assets.
4. **Jumps**: GARCH-standardised residuals beyond ``jump_threshold`` (4 by default) in absolute value
   are counted; the fitted Student-t already predicts ``2 n F_nu(-threshold)`` of them, and only the
   *excess* count becomes jumps, and only when it is significant (the count exceeds the expected one by
   more than two Poisson standard deviations ``2 sqrt(expected)``; else there are no jumps). The
   ``excess`` largest exceedances are flagged as jumps, step 3 is refitted without them (they leave the
   likelihood and do not feed ``h``, as in the kernel) and the count is redone, until the flagged set is
   stable (at most :data:`MAX_JUMP_ROUNDS` rounds). ``jump_intensity = jumps / years / N``;
   ``jump_mean`` / ``jump_std`` are the mean and standard deviation of the flagged (regime-demeaned) returns.
5. **Regime volatility net of jumps**: the kernel adds the jump variance
   ``v_J = p (m^2 + s_J^2) - (p m)^2`` (``p = 1 - exp(-lambda/P)``) on top of the diffusion, so
   ``sigma_k^2 = P mean_i[(v_{k,i} - v_J) / scale_i^2]`` with ``v_{k,i}`` the variance of asset ``i`` in
   regime ``k``; the total annualised volatility then matches the data's.
6. **Drift**: ``mu_k = P mean_{k} + sigma_k^2 E[scale^2] / 2 - lambda m`` undoes the kernel's ``-s^2/2``
   and the jumps' mean; ``asset_drift_dispersion`` is the cross-sectional standard deviation of the
   assets' annual mean returns with the sampling noise ``sigma_i^2 / years`` subtracted.
7. **Correlation**: the mean pairwise correlation of the assets in regime ``k`` divided by the diffusion
   share of the variance (idiosyncratic jumps dilute it) and by ``E[sqrt(h_i h_j)]`` over the fitted
   GARCH paths (each asset's own multiplier dilutes it too). With one asset it is 0 (the shock is then a
   single Student-t). With ``N > 1`` the kernel's shock is a mix ``sqrt(rho) f + sqrt(1-rho) e`` of two
   independent Student-t draws whose excess kurtosis is ``(rho^2 + (1-rho)^2)`` times a single draw's,
   so the kernel's dof is lowered to ``4 + (nu - 4) (rho^2 + (1-rho)^2)`` (stationary average over regimes)
   when ``nu > 4``, which keeps the per-asset kurtosis.
7b. **Per asset** (``per_asset``, the default with several assets; the config then sets the opt-in
   fields of :class:`~wealtharena_env.config.MarketConfig`): each asset's own volatility per regime
   ``sqrt(P (v_ki - v_J))`` and drift ``P m_ki + sigma_ki^2 / 2 - lambda m`` (``asset_volatility``,
   ``asset_drift``; the random dispersions are then 0), and the correlation as a factor model
   ``z_i = c_k sum_j B_ij f_j + w_ik e_i``. ``K`` (at most ``max_factors``, default 5) is the fewest principal
   factors of the returns' correlation matrix that miss no off-diagonal entry by more than
   :data:`FACTOR_TOLERANCE`; ``c_k^2`` is the least-squares scale of regime ``k``'s off-diagonal correlations
   on ``B B'`` (the most correlated regime has ``c = 1``); and the loadings are refitted (iterated principal
   factors, communalities <= :data:`MAX_COMMUNALITY`) to the real correlation divided by what dilutes the
   kernel's: ``sum_k w_k c_k^2 s_ik s_jk / sqrt((sum_k w_k s_ik^2 + v_J)(sum_k w_k s_jk^2 + v_J))`` (regime
   weights ``w_k``, per-asset regime volatilities, idiosyncratic jumps) times ``E[sqrt(h_i h_j)]`` over the
   fitted GARCH paths. The dof is lowered for the mix as in step 7, with the mix ``sum_j (c_k B_ij)^4 +
   w_ik^4``, towards :data:`MIX_MIN_DOF` and only above it. ``asset_initial_price`` is each asset's first
   (adjusted) close, ``asset_base_volume`` its median volume, ``tickers`` the data's.
8. **Bars**: ``initial_price`` is the geometric mean of the assets' median close, ``base_volume`` the
   geometric mean of their median volume, ``volume_sensitivity`` the pooled slope of detrended log volume
   on ``|GARCH residual|``, ``overnight_fraction`` the slope of the close-to-open log return on the
   close-to-close one (clipped to [0, 1]).

:func:`stylized_facts` measures the facts a market simulator is judged by, and
:func:`compare_stylized_facts` puts the data's next to the calibrated market's (mean over seeds).

Example:
    >>> from wealtharena_env.calibration import calibrate, compare_stylized_facts
    >>> from wealtharena_env.data import load_market_data
    >>> data = load_market_data("prices.csv.gz", tickers=["SPY"])           # doctest: +SKIP
    >>> config = calibrate(data)                                             # doctest: +SKIP
    >>> print(compare_stylized_facts(data, config).attrs["markdown"])      # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from numba import njit

from wealtharena_env._progress import Progress
from wealtharena_env.config import MAX_MARKET_FACTORS, MarketConfig
from wealtharena_env.data.market_data import MarketData
from wealtharena_env.errors import ConfigError, WealthArenaDataError
from wealtharena_env.kernels.market import (
    BAR_CLOSE,
    BAR_HIGH,
    BAR_LOGRET,
    BAR_LOW,
    BAR_OPEN,
    BAR_VOLUME,
    N_BAR_FIELDS,
)
from wealtharena_env.market_sources import SyntheticMarket

__all__ = [
    "calibrate",
    "compare_assets",
    "compare_stylized_facts",
    "simulate_prices",
    "stylized_facts",
    "stylized_facts_markdown",
]

#: Fewest returns :func:`calibrate` accepts (about one year of daily bars).
MIN_RETURNS = 250
#: Rounds of "fit GARCH-t, flag the excess exceedances as jumps, refit without them" in :func:`calibrate`.
MAX_JUMP_ROUNDS = 6
#: Largest factor share of an asset's variance ``sum_j B_ij^2`` (and
#: ``c_k^2 sum_j B_ij^2``) in :func:`calibrate`.
MAX_COMMUNALITY = 0.995
#: :func:`calibrate` adds factors (up to ``max_factors``) until no off-diagonal correlation misses by more.
FACTOR_TOLERANCE = 0.05
#: The per-asset fit lowers the dof towards this for the factor mix (see step 7), never below it.
MIX_MIN_DOF = 6.0
#: Lags of the |r| autocorrelation and leverage-effect curves in :func:`stylized_facts`.
MAX_LAG = 20


def _scipy() -> Any:
    """``scipy`` (needed by :func:`calibrate` only; not a core dependency of wealtharena-env)."""
    try:
        import scipy.optimize
        import scipy.signal
        import scipy.special
        import scipy.stats
    except ImportError as exc:  # pragma: no cover - scipy ships with the test extras
        raise ImportError("calibrate() needs scipy (maximum-likelihood fits): pip install scipy") from exc
    return scipy


# ============================================================================ hidden Markov model
@njit(cache=True, error_model="numpy")
def _forward_backward(lik: np.ndarray, trans: np.ndarray, initial: np.ndarray):
    """Scaled forward-backward pass of a hidden Markov chain.

    ``lik[t, k]`` is the emission likelihood of bar ``t`` in state ``k`` (any positive per-row scale).
    Returns the posterior state probabilities ``gamma`` (T, K), the expected transition counts
    ``xi`` (K, K) and ``sum_t log c_t`` (the log-likelihood up to the per-row scales of ``lik``).
    """
    n, k = lik.shape
    alpha = np.empty((n, k))
    beta = np.empty((n, k))
    scale = np.empty(n)
    total = 0.0
    for j in range(k):
        alpha[0, j] = initial[j] * lik[0, j]
        total += alpha[0, j]
    scale[0] = total
    for j in range(k):
        alpha[0, j] /= total
    for t in range(1, n):
        total = 0.0
        for j in range(k):
            s = 0.0
            for i in range(k):
                s += alpha[t - 1, i] * trans[i, j]
            alpha[t, j] = s * lik[t, j]
            total += alpha[t, j]
        if total <= 0.0:
            total = 1e-300
        scale[t] = total
        for j in range(k):
            alpha[t, j] /= total
    for j in range(k):
        beta[n - 1, j] = 1.0
    xi = np.zeros((k, k))
    for t in range(n - 2, -1, -1):
        for i in range(k):
            s = 0.0
            for j in range(k):
                s += trans[i, j] * lik[t + 1, j] * beta[t + 1, j]
            beta[t, i] = s / scale[t + 1]
        for i in range(k):
            for j in range(k):
                xi[i, j] += alpha[t, i] * trans[i, j] * lik[t + 1, j] * beta[t + 1, j] / scale[t + 1]
    gamma = alpha * beta
    for t in range(n):
        s = 0.0
        for j in range(k):
            s += gamma[t, j]
        for j in range(k):
            gamma[t, j] /= s
    return gamma, xi, np.sum(np.log(scale))


@njit(cache=True, error_model="numpy")
def _viterbi(log_lik: np.ndarray, log_trans: np.ndarray, log_initial: np.ndarray) -> np.ndarray:
    """Most likely state path ``argmax_s P(s | x)`` (log-space dynamic programming)."""
    n, k = log_lik.shape
    score = np.empty((n, k))
    back = np.zeros((n, k), dtype=np.int64)
    for j in range(k):
        score[0, j] = log_initial[j] + log_lik[0, j]
    for t in range(1, n):
        for j in range(k):
            best = -np.inf
            arg = 0
            for i in range(k):
                v = score[t - 1, i] + log_trans[i, j]
                if v > best:
                    best = v
                    arg = i
            score[t, j] = best + log_lik[t, j]
            back[t, j] = arg
    path = np.empty(n, dtype=np.int64)
    path[n - 1] = np.argmax(score[n - 1])
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def _gaussian_log_lik(x: np.ndarray, means: np.ndarray, variances: np.ndarray) -> np.ndarray:
    return -0.5 * (
        np.log(2.0 * np.pi * variances)[None, :] + (x[:, None] - means[None, :]) ** 2 / variances[None, :]
    )


def _fit_hmm(
    x: np.ndarray,
    n_states: int,
    rng: np.random.Generator,
    *,
    n_starts: int = 4,
    max_iter: int = 300,
    tol: float = 1e-7,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian HMM fitted by EM (Baum-Welch) from ``n_starts`` starts; the best log-likelihood wins.

    Starts: the states cut the bars by quantiles of a 20-bar rolling volatility (first start), then random
    perturbations of it. Returns ``means, variances, transition, initial``.
    """
    n = x.shape[0]
    var_floor = 1e-4 * float(np.var(x)) + 1e-300
    rolling = pd.Series(x).rolling(20, min_periods=1).std().bfill().fillna(0.0).to_numpy()
    best: tuple[float, Any] = (-np.inf, None)
    for start in range(n_starts):
        key = rolling + (rng.normal(0.0, 0.3 * rolling.std() + 1e-12, n) if start else 0.0)
        cuts = np.quantile(key, np.linspace(0.0, 1.0, n_states + 1)[1:-1])
        labels = np.searchsorted(cuts, key)
        means = np.array(
            [x[labels == j].mean() if np.any(labels == j) else x.mean() for j in range(n_states)]
        )
        variances = np.array(
            [
                max(x[labels == j].var() if np.sum(labels == j) > 1 else x.var(), var_floor)
                for j in range(n_states)
            ]
        )
        trans = np.full((n_states, n_states), 0.02 / max(n_states - 1, 1))
        np.fill_diagonal(trans, 0.98 if n_states > 1 else 1.0)
        initial = np.full(n_states, 1.0 / n_states)
        previous = -np.inf
        loglik = -np.inf
        for _ in range(max_iter):
            log_lik = _gaussian_log_lik(x, means, variances)
            top = log_lik.max(axis=1)
            gamma, xi, log_scale = _forward_backward(np.exp(log_lik - top[:, None]), trans, initial)
            loglik = float(log_scale + top.sum())
            weight = gamma.sum(axis=0) + 1e-12
            means = (gamma * x[:, None]).sum(axis=0) / weight
            variances = np.maximum(
                (gamma * (x[:, None] - means[None, :]) ** 2).sum(axis=0) / weight, var_floor
            )
            trans = xi + 1e-12
            trans /= trans.sum(axis=1, keepdims=True)
            initial = gamma[0] + 1e-12
            initial /= initial.sum()
            if loglik - previous < tol * abs(loglik):
                break
            previous = loglik
        if loglik > best[0]:
            best = (loglik, (means, variances, trans, initial))
    return best[1]


def _classify_regimes(x: np.ndarray, n_regimes: int, rng: np.random.Generator) -> np.ndarray:
    """Viterbi path of a Gaussian HMM on ``x``, relabelled to 0 = bull, 1 = bear, 2 = high_volatility.

    With 2 states the calmer one is ``bull`` and the other ``high_volatility``; with 1 every bar is ``bull``.
    """
    if n_regimes == 1:
        return np.zeros(x.shape[0], dtype=np.int64)
    means, variances, trans, initial = _fit_hmm(x, n_regimes, rng)
    with np.errstate(divide="ignore"):
        path = _viterbi(_gaussian_log_lik(x, means, variances), np.log(trans), np.log(initial))
    order = np.argsort(variances)
    if n_regimes == 2:
        label = {int(order[0]): 0, int(order[1]): 2}
    else:
        calm = sorted(order[:2], key=lambda j: -means[j])
        label = {int(calm[0]): 0, int(calm[1]): 1, int(order[2]): 2}
    return np.array([label[int(s)] for s in path], dtype=np.int64)


def _count_transitions(regimes: np.ndarray) -> np.ndarray:
    """Row-stochastic 3x3 matrix of the path's transition counts; a state never left or never visited
    gets a row that stays put (it is then unreachable or absorbing only if the data says so)."""
    counts = np.zeros((3, 3))
    np.add.at(counts, (regimes[:-1], regimes[1:]), 1.0)
    rows = counts.sum(axis=1)
    out = np.eye(3)
    visited = np.unique(regimes)
    for k in range(3):
        if rows[k] > 0:
            out[k] = counts[k] / rows[k]
        elif k not in visited:
            # An unused regime: leaves at once to the most common regime, and nothing enters it.
            out[k] = 0.0
            out[k, int(np.bincount(regimes, minlength=3).argmax())] = 1.0
    return out


# ============================================================================ GARCH(1,1) with Student-t
def _garch_variance(u: np.ndarray, a: float, b: float, g: float = 0.0) -> np.ndarray:
    """``h_0 = 1``, ``h_t = (1 - a - b - g/2) + (a + g 1[u_{t-1} < 0]) u_{t-1}^2 + b h_{t-1}`` along axis 0
    (the kernel's GJR recursion written in ``u = sqrt(h) z``; a linear filter in the driving term)."""
    drive = np.empty_like(u)
    drive[0] = 1.0
    previous = u[:-1]
    drive[1:] = (1.0 - a - b - 0.5 * g) + (a + g * (previous < 0.0)) * previous**2
    return _scipy().signal.lfilter([1.0], [1.0, -b], drive, axis=0)


def _t_log_density(z2: np.ndarray, dof: float) -> np.ndarray:
    """Log density of a unit-variance Student-t at ``z`` given ``z^2``."""
    const = math.lgamma(0.5 * (dof + 1.0)) - math.lgamma(0.5 * dof) - 0.5 * math.log(math.pi * (dof - 2.0))
    return const - 0.5 * (dof + 1.0) * np.log1p(z2 / (dof - 2.0))


def _fit_garch_t(
    u: np.ndarray, jumps: np.ndarray | None = None, *, asymmetric: bool = True
) -> tuple[float, float, float, float]:
    """Maximum-likelihood GJR-GARCH(1,1) ``(a, b, g)`` with unit-variance
    Student-t(``dof``) shocks on ``u`` (T, N).

    Bars flagged in ``jumps`` leave the likelihood and feed ``u^2 = 1`` to the variance recursion (the
    kernel's jumps do not move ``h``).

    Optimised over unconstrained ``x``: persistence ``a + b + g/2 = 0.999 sigmoid(x0)``, shared out as
    ``(a, g/2, b) ∝ (exp(x1), exp(x2), 1)`` (``g = 0`` when not ``asymmetric``) and ``dof = 2.05 + exp(x3)``,
    so ``a, b, g >= 0``, ``a + b + g/2 < 1`` and ``dof > 2`` hold everywhere; Nelder-Mead from a few starts,
    then BFGS polishing from the best. Returns ``(a, b, g, dof)``.
    """
    scipy = _scipy()
    special, optimize = scipy.special, scipy.optimize
    keep = np.ones(u.shape, dtype=bool) if jumps is None else ~jumps
    u = np.where(keep, u, 1.0)
    u2 = u**2

    def unpack(x: np.ndarray) -> tuple[float, float, float, float]:
        p = 0.999 * special.expit(x[0])
        ea = math.exp(min(max(x[1], -30.0), 30.0))
        eg = math.exp(min(max(x[2], -30.0), 30.0)) if asymmetric else 0.0
        total = 1.0 + ea + eg
        return p * ea / total, p / total, 2.0 * p * eg / total, 2.05 + math.exp(min(x[3], 6.0))

    def nll(x: np.ndarray) -> float:
        a, b, g, dof = unpack(x)
        h = np.maximum(_garch_variance(u, a, b, g), 1e-12)
        return float(-np.sum((_t_log_density(u2 / h, dof) - 0.5 * np.log(h))[keep]))

    def pack(p: float, a_share: float, g_share: float, dof: float) -> np.ndarray:
        b_share = 1.0 - a_share - g_share
        return np.array(
            [
                special.logit(p / 0.999),
                math.log(a_share / b_share),
                math.log(max(g_share, 1e-9) / b_share),
                math.log(dof - 2.05),
            ]
        )

    starts = [pack(0.97, 0.05, 0.03, 6.0), pack(0.9, 0.12, 0.05, 4.0), pack(0.5, 0.2, 0.05, 12.0)]
    best = None
    for start in starts:
        res = optimize.minimize(
            nll, start, method="Nelder-Mead", options={"xatol": 1e-5, "fatol": 1e-6, "maxiter": 3000}
        )
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None  # three starts
    polish = optimize.minimize(nll, best.x, method="BFGS")
    if np.all(np.isfinite(polish.x)) and polish.fun < best.fun:
        best = polish
    return unpack(best.x)


# ============================================================================ calibration
def _log_returns(data: MarketData) -> np.ndarray:
    close = np.asarray(data.adj_close if data.adj_close is not None else data.close, dtype=np.float64)
    return np.diff(np.log(close), axis=0)


def _infer_periods_per_year(dates: np.ndarray, n_bars: int, default: int) -> int:
    span_years = float((dates[-1] - dates[0]) / np.timedelta64(1, "D")) / 365.25
    if span_years < 0.5 or n_bars < 2:
        return default
    estimate = (n_bars - 1) / span_years
    for usual in (
        252,
        365,
        52,
        12,
    ):  # trading days (weekdays incl. holidays: 261), calendar days, weeks, months
        if abs(estimate / usual - 1.0) < 0.1:
            return usual
    return max(1, round(estimate))


def _mean_offdiagonal_corr(x: np.ndarray) -> float:
    n = x.shape[1]
    if n < 2 or x.shape[0] < 3:
        return float("nan")
    sd = x.std(axis=0)
    keep = sd > 0
    if keep.sum() < 2:
        return float("nan")
    c = np.corrcoef(x[:, keep], rowvar=False)
    m = c.shape[0]
    return float((c.sum() - m) / (m * (m - 1)))


def _geometric_mean(values: np.ndarray) -> float:
    values = values[np.isfinite(values) & (values > 0)]
    return float(np.exp(np.mean(np.log(values)))) if values.size else float("nan")


def calibrate(
    data: MarketData,
    *,
    n_regimes: int = 3,
    seed: int = 0,
    jump_threshold: float = 4.0,
    periods_per_year: int | None = None,
    base: MarketConfig | None = None,
    progress: bool | None = None,
    per_asset: bool | None = None,
    max_factors: int = 5,
    asymmetric: bool = True,
) -> MarketConfig:
    """Fit a :class:`~wealtharena_env.config.MarketConfig` to the daily log returns of ``data``.

    Uses ``adj_close`` when the data has it (dividends and splits), else ``close``. The steps and the
    formulas are in the module docstring; every field of the kernel's recursion is fitted except
    ``impact`` and ``max_impact`` (agents' own price impact), which come from ``base``.

    Args:
        data: a :class:`MarketData` with at least :data:`MIN_RETURNS` + 1 bars.
        n_regimes: hidden states of the regime model: 3 (bull, bear, high_volatility), 2 (bull,
            high_volatility; ``bear`` is then never entered) or 1 (no regimes: all clustering is GARCH).
        seed: seed of the random restarts of the regime model's EM (the fit is deterministic given it).
        jump_threshold: |GARCH-standardised residual| beyond which a return may be a jump.
        periods_per_year: bars per year; ``None`` infers it from the dates (bars per year of the span, snapped
            to 252, 365, 52 or 12 when within 10 %, so weekday calendars with holidays give 252).
        base: the config whose ``impact`` / ``max_impact`` (and nothing else) the result keeps;
            default ``MarketConfig()``.
        progress: show the fit's stages on stderr (default ``None``: only when stderr is a terminal; a fit on
            years of many tickers takes 10-30 s).
        per_asset: fit each asset's own volatility and drift per regime, its first price and base volume,
            and the assets' correlation matrix as a factor model (``factor_loadings``,
            ``regime_factor_scale``); the result then draws no random per-asset volatility or drift (both
            dispersions 0). Default ``None``: on when the data has several assets. ``False``: the
            common-parameter market (equicorrelation).
        max_factors: most factors of the correlation model (1 to 8); :func:`calibrate` adds factors until no
            off-diagonal correlation misses by more than :data:`FACTOR_TOLERANCE`.
        asymmetric: fit the GJR term ``garch_gamma`` (the leverage effect);
            ``False`` fits ``garch_gamma = 0``.

    Returns:
        A validated ``MarketConfig`` with ``n_assets = data.n_assets`` and ``initial_regime = -1``.

    Raises:
        WealthArenaDataError: too few bars, or prices that give non-finite returns.
        ConfigError: ``n_regimes`` not in {1, 2, 3}, or ``jump_threshold`` not > 0.
    """
    if not isinstance(data, MarketData):
        raise ConfigError(
            f"calibrate() needs a MarketData (see wealtharena_env.data.load_market_data), got "
            f"{type(data).__name__}."
        )
    if n_regimes not in (1, 2, 3) or isinstance(n_regimes, bool):
        raise ConfigError(
            f"n_regimes must be 1, 2 or 3 (MarketConfig has 3 regime slots), got {n_regimes!r}."
        )
    if not (
        isinstance(jump_threshold, (int, float)) and math.isfinite(jump_threshold) and jump_threshold > 0
    ):
        raise ConfigError(f"jump_threshold must be a finite number > 0, got {jump_threshold!r}.")
    if (
        not isinstance(max_factors, int)
        or isinstance(max_factors, bool)
        or not 1 <= max_factors <= MAX_MARKET_FACTORS
    ):
        raise ConfigError(
            f"max_factors must be an integer from 1 to {MAX_MARKET_FACTORS}, got {max_factors!r}."
        )
    base = MarketConfig() if base is None else base
    r = _log_returns(data)
    n_obs, n_assets = r.shape
    if n_obs < MIN_RETURNS:
        raise WealthArenaDataError(
            f"calibrate() needs at least {MIN_RETURNS} returns ({MIN_RETURNS + 1} bars); "
            f"{data!r} has {n_obs}. "
            "Load a longer date range."
        )
    if not np.all(np.isfinite(r)):
        raise WealthArenaDataError(
            "calibrate(): the closes give non-finite log returns; validate the data first."
        )
    if periods_per_year is None:
        periods_per_year = _infer_periods_per_year(data.dates, data.n_steps, base.periods_per_year)
    rng = np.random.default_rng(seed)
    bar = Progress(2 + MAX_JUMP_ROUNDS, f"calibrating {n_assets} assets", progress, unit="stage")
    try:
        return _calibrate(
            data,
            r,
            n_regimes,
            jump_threshold,
            float(periods_per_year),
            base,
            rng,
            bar,
            per_asset=n_assets > 1 if per_asset is None else bool(per_asset) and n_assets > 1,
            max_factors=max_factors,
            asymmetric=bool(asymmetric),
        )
    finally:
        bar.close()


def _calibrate(
    data: MarketData,
    r: np.ndarray,
    n_regimes: int,
    jump_threshold: float,
    P: float,
    base: MarketConfig,
    rng: np.random.Generator,
    bar: Progress,
    per_asset: bool,
    max_factors: int,
    asymmetric: bool,
) -> MarketConfig:
    """:func:`calibrate` after its checks, reporting its stages to ``bar``."""
    n_obs, n_assets = r.shape
    years = n_obs / P
    # 1. regimes on the market-wide (equal-weight) return
    bar.update(0, stage="regimes (EM)")
    regimes = _classify_regimes(r.mean(axis=1), n_regimes, rng)
    bar.update(1, stage="GARCH-t and jumps")
    present = [k for k in range(3) if np.any(regimes == k)]
    transition = _count_transitions(regimes)

    # 2. asset volatility scales (geometric mean 1, like the kernel's exp(N(0, d)))
    asset_sd = r.std(axis=0)
    if np.any(asset_sd <= 0):
        bad = [data.tickers[i] for i in np.flatnonzero(asset_sd <= 0)]
        raise WealthArenaDataError(f"calibrate(): constant prices (zero return variance) for {bad}.")
    log_sd = np.log(asset_sd)
    scale = np.exp(log_sd - log_sd.mean())
    vol_dispersion = float(log_sd.std()) if n_assets > 1 else 0.0

    # per-regime moments (k, i)
    mean_ki = np.zeros((3, n_assets))
    var_ki = np.zeros((3, n_assets))
    for k in present:
        rk = r[regimes == k]
        mean_ki[k] = rk.mean(axis=0)
        var_ki[k] = rk.var(axis=0) if rk.shape[0] > 1 else r.var(axis=0)
    var_ki = np.maximum(var_ki, 1e-12)
    # total (diffusion + jumps) regime volatility of a unit-scale asset, per bar
    total_var_k = (var_ki / scale[None, :] ** 2).mean(axis=1)

    # 3. GARCH(1,1)-t on regime-standardised returns (per asset and regime with per_asset)
    if per_asset:
        u = (r - mean_ki[regimes]) / np.sqrt(var_ki[regimes])
    else:
        u = (r - mean_ki[regimes]) / (np.sqrt(total_var_k[regimes])[:, None] * scale[None, :])
    # 4. jumps: exceedances beyond what the fitted Student-t predicts, refitted without them until stable
    jumps = np.zeros(u.shape, dtype=bool)
    for _ in range(MAX_JUMP_ROUNDS):
        bar.update(1)
        garch_a, garch_b, garch_g, dof = _fit_garch_t(u, jumps, asymmetric=asymmetric)
        h = _garch_variance(np.where(jumps, 1.0, u), garch_a, garch_b, garch_g)
        e = u / np.sqrt(h)
        t_threshold = jump_threshold * math.sqrt(dof / (dof - 2.0))  # the threshold in raw-t units
        expected = 2.0 * e.size * float(_scipy().stats.t.sf(t_threshold, dof))
        count = int((np.abs(e) > jump_threshold).sum())
        # only an excess beyond Poisson noise (2 standard deviations of the expected count) is a jump
        excess = count - math.ceil(expected) if count > expected + 2.0 * math.sqrt(expected) else 0
        found = np.zeros(u.shape, dtype=bool)
        if excess >= 2:
            found.flat[np.argsort(np.abs(e), axis=None)[::-1][:excess]] = True
        if np.array_equal(found, jumps):
            break
        jumps = found
    if jumps.sum() >= 2:
        jump_returns = (r - mean_ki[regimes])[jumps]
        jump_intensity = float(jumps.sum()) / years / n_assets
        jump_mean = float(jump_returns.mean())
        jump_std = float(jump_returns.std(ddof=1))
    else:
        jump_intensity, jump_mean, jump_std = 0.0, 0.0, 0.0
    jump_prob = 1.0 - math.exp(-jump_intensity / P)
    jump_var = jump_prob * (jump_mean**2 + jump_std**2) - (jump_prob * jump_mean) ** 2

    # 5. regime volatility net of the jump variance (per bar, then annual)
    diffusion_var_k = np.maximum(total_var_k - (jump_var / scale**2).mean(), 0.25 * total_var_k)
    regime_vol = np.sqrt(diffusion_var_k * P)

    # 6. drifts
    mean_scale2 = math.exp(2.0 * vol_dispersion**2)
    regime_drift = P * mean_ki.mean(axis=1) + 0.5 * regime_vol**2 * mean_scale2 - jump_intensity * jump_mean
    asset_mean = r.mean(axis=0) * P
    if n_assets > 1:
        noise = float(np.mean(asset_sd**2 * P) / years)
        drift_dispersion = math.sqrt(max(float(asset_mean.var(ddof=1)) - noise, 0.0))
    else:
        drift_dispersion = 0.0

    # 7. correlations (diluted by idiosyncratic jumps) and the dof of the factor/idiosyncratic mix
    corr = np.zeros(3)
    weights = np.bincount(regimes, minlength=3) / n_obs
    structure: dict[str, Any] = {}
    if n_assets > 1 and per_asset:
        structure, mix = _fit_asset_structure(
            data,
            r,
            regimes,
            present,
            weights,
            mean_ki,
            var_ki,
            h,
            jumps,
            jump_var,
            jump_intensity,
            jump_mean,
            P,
            max_factors,
        )
        # (only where the Student-t's kurtosis 3 + 6 / (dof - 4) is moderate: near dof 4 it explodes, and the
        # correction with it; there the mixed shock keeps the fitted dof)
        if dof > MIX_MIN_DOF:
            dof = MIX_MIN_DOF + (dof - MIX_MIN_DOF) * mix
        vol_dispersion, drift_dispersion = 0.0, 0.0
        # regime_correlation (unused by a factor model) reports the mean off-diagonal
        # shock correlation per regime
        loadings = np.array(structure["factor_loadings"])
        mean_offdiagonal = float(np.mean(_offdiagonal(loadings @ loadings.T)))
        corr = np.clip(np.array(structure["regime_factor_scale"]) ** 2 * mean_offdiagonal, 0.0, 0.99)
    elif n_assets > 1:
        # each asset has its own GARCH multiplier, so corr(r_i, r_j) = rho E[sqrt(h_i h_j)] (E[h] = 1)
        root_h = np.sqrt(h / h.mean(axis=0))
        cross = root_h.T @ root_h / n_obs
        garch_dilution = float((cross.sum() - np.trace(cross)) / (n_assets * (n_assets - 1)))
        for k in present:
            c = _mean_offdiagonal_corr(r[regimes == k])
            if math.isfinite(c):
                corr[k] = c * total_var_k[k] / diffusion_var_k[k] / garch_dilution
        corr = np.clip(corr, 0.0, 0.99)
        mix = float(np.sum(weights * (corr**2 + (1.0 - corr) ** 2)))
        if dof > 4.0:
            dof = 4.0 + (dof - 4.0) * mix
    for k in range(3):
        if k not in present:  # an unused slot copies the calmest used regime
            fill = present[0]
            regime_drift[k], regime_vol[k], corr[k] = regime_drift[fill], regime_vol[fill], corr[fill]

    # 8. bars: price level, volume, overnight share
    bar.update(bar.total - bar.n, stage="bars")
    adjusted = data.adjusted()
    close = np.asarray(adjusted.close)
    volume = np.asarray(adjusted.volume)
    initial_price = _geometric_mean(np.median(close, axis=0))
    base_volume = _geometric_mean(np.median(volume, axis=0))
    volume_sensitivity = base.volume_sensitivity
    with np.errstate(divide="ignore"):
        log_volume = np.where(volume > 0, np.log(np.where(volume > 0, volume, 1.0)), np.nan)
    trend = pd.DataFrame(log_volume).rolling(20, min_periods=5).mean().shift(1).to_numpy()
    y = (log_volume - trend)[1:]
    xv = np.abs(e)
    ok = np.isfinite(y)
    if ok.sum() > 50:
        yc = y[ok] - y[ok].mean()
        xc = xv[ok] - xv[ok].mean()
        volume_sensitivity = float(np.clip(np.sum(xc * yc) / np.sum(xc * xc), 0.0, 3.0))
    overnight = np.log(np.asarray(adjusted.open)[1:] / close[:-1])
    cc = r - r.mean(axis=0)
    overnight_fraction = float(
        np.clip(np.sum(cc * (overnight - overnight.mean(axis=0))) / np.sum(cc * cc), 0.0, 1.0)
    )
    if structure:
        first = close[0]
        median_volume = np.median(volume, axis=0)
        fallback = base_volume if math.isfinite(base_volume) else base.base_volume
        structure["asset_initial_price"] = tuple(float(p) for p in first)
        structure["asset_base_volume"] = tuple(float(v) if v > 0 else float(fallback) for v in median_volume)
        structure["tickers"] = tuple(str(t) for t in data.tickers)

    config = replace(
        base,
        n_assets=n_assets,
        regime_drift=(float(regime_drift[0]), float(regime_drift[1]), float(regime_drift[2])),
        regime_volatility=(float(regime_vol[0]), float(regime_vol[1]), float(regime_vol[2])),
        regime_correlation=(float(corr[0]), float(corr[1]), float(corr[2])),
        regime_transition=tuple(tuple(float(p) for p in row) for row in transition),
        initial_regime=-1,
        garch_alpha=float(garch_a),
        garch_beta=float(garch_b),
        garch_gamma=float(garch_g),
        student_t_dof=float(max(dof, 2.05)),
        jump_intensity=float(jump_intensity),
        jump_mean=float(jump_mean),
        jump_std=float(jump_std),
        asset_volatility_dispersion=float(vol_dispersion),
        asset_drift_dispersion=float(drift_dispersion),
        initial_price=initial_price if math.isfinite(initial_price) else base.initial_price,
        base_volume=base_volume if math.isfinite(base_volume) else base.base_volume,
        volume_sensitivity=volume_sensitivity,
        overnight_fraction=overnight_fraction,
        periods_per_year=round(P),
        **structure,
    )
    return config


def _principal_factors(corr: np.ndarray, k: int, iterations: int = 200) -> np.ndarray:
    """Loadings ``B`` (N, k) of a ``k``-factor model ``corr ~ B B' + diag(1 - rowsum B^2)``: iterated
    principal factors (the top ``k`` eigenpairs of ``corr`` with its diagonal replaced by the communalities
    ``sum_j B_ij^2``, started at 1, until they settle), communalities capped at :data:`MAX_COMMUNALITY`; each
    column's sign makes its loadings sum >= 0."""
    reduced = corr.copy()
    loadings = np.zeros((corr.shape[0], k))
    for _ in range(iterations):
        values, vectors = np.linalg.eigh(reduced)
        top = np.argsort(values)[::-1][:k]
        loadings = vectors[:, top] * np.sqrt(np.maximum(values[top], 0.0))
        share = (loadings**2).sum(axis=1)
        too_big = share > MAX_COMMUNALITY
        loadings[too_big] *= np.sqrt(MAX_COMMUNALITY / share[too_big])[:, None]
        communality = (loadings**2).sum(axis=1)
        if np.max(np.abs(communality - np.diag(reduced))) < 1e-8:
            break
        np.fill_diagonal(reduced, communality)
    signs = np.where(loadings.sum(axis=0) < 0, -1.0, 1.0)
    return loadings * signs


def _offdiagonal(matrix: np.ndarray) -> np.ndarray:
    return matrix[~np.eye(matrix.shape[0], dtype=bool)]


def _fit_asset_structure(
    data: MarketData,
    r: np.ndarray,
    regimes: np.ndarray,
    present: list[int],
    weights: np.ndarray,
    mean_ki: np.ndarray,
    var_ki: np.ndarray,
    h: np.ndarray,
    jumps: np.ndarray,
    jump_var: float,
    jump_intensity: float,
    jump_mean: float,
    P: float,
    max_factors: int,
) -> tuple[dict[str, Any], float]:
    """The per-asset fields of :func:`calibrate` (``per_asset``): own regime volatilities and drifts, factor
    loadings and per-regime factor weights; and the kurtosis ``mix`` of the factor/idiosyncratic shock (the
    share of a single Student-t draw's excess kurtosis that the mixed shock keeps)."""
    n_assets = r.shape[1]
    # own volatility per regime, net of the jump variance; own drift undoes -s^2/2 and the jumps' mean
    diffusion_var = np.maximum(var_ki - jump_var, 0.25 * var_ki)
    own_vol = np.sqrt(diffusion_var * P)
    own_drift = P * mean_ki + 0.5 * own_vol**2 - jump_intensity * jump_mean
    fill = present[0]
    for k in range(3):
        if k not in present:
            own_vol[k], own_drift[k] = own_vol[fill], own_drift[fill]
    # factors of the returns' correlation, chosen by its fit: fewest factors (<= max_factors) such that no
    # off-diagonal entry misses by more than FACTOR_TOLERANCE
    corr = np.corrcoef(r, rowvar=False)
    n_max = min(max_factors, n_assets - 1) if n_assets > 2 else 1
    n_factors = n_max
    for k in range(1, n_max + 1):
        loadings = _principal_factors(corr, k)
        if np.max(np.abs(_offdiagonal(corr - loadings @ loadings.T))) <= FACTOR_TOLERANCE:
            n_factors = k
            break
    loadings = _principal_factors(corr, n_factors)
    # per regime: the factor part's weight c_k^2 by least squares of the regime's off-diagonal correlations
    template = _offdiagonal(loadings @ loadings.T)
    c2 = np.ones(3)
    for k in present:
        rows = regimes == k
        if rows.sum() > n_assets + 10:
            target = _offdiagonal(np.corrcoef(r[rows], rowvar=False))
            c2[k] = max(float(np.dot(template, target) / np.dot(template, template)), 0.0)
    for k in range(3):
        if k not in present:
            c2[k] = c2[fill]
    # the most correlated regime has c = 1: the loadings carry its correlation, the others scale it down
    c2 /= max(float(c2.max()), 1e-12)
    # What the kernel's returns' correlation is, given shocks correlated c_k^2 M_ij in regime k:
    #   corr(r_i, r_j) = M_ij G_ij sum_k w_k c_k^2 s_ik s_jk
    #                    / sqrt((sum_k w_k s_ik^2 + v_J)(sum_k w_k s_jk^2 + v_J))
    # (w_k the regime's share of bars, s_ik the diffusion volatility per bar, v_J the
    # idiosyncratic jump variance, G_ij = E[sqrt(h_i h_j)] the dilution by each asset's own GARCH
    # multiplier, measured on the fitted h).
    # So the loadings fit M = corr / dilution, not corr itself.
    s_ik = np.sqrt(diffusion_var)
    cross = np.einsum("k,ki,kj->ij", weights * c2, s_ik, s_ik)
    total = (weights[:, None] * diffusion_var).sum(axis=0) + jump_var
    root_h = np.sqrt(np.maximum(h, 1e-12) / np.maximum(h, 1e-12).mean(axis=0))
    garch = root_h.T @ root_h / h.shape[0]
    dilution = cross / np.sqrt(np.outer(total, total)) * garch
    target = np.clip(corr / np.maximum(dilution, 0.05), -0.99, 0.99)
    np.fill_diagonal(target, 1.0)
    loadings = _principal_factors(target, n_factors)
    # cap c_k^2 sum_j B_ij^2 (the factors' share of an asset's shock variance)
    share = float((loadings**2).sum(axis=1).max())
    c2 = np.minimum(c2, MAX_COMMUNALITY / share)
    c = np.sqrt(c2)
    # kurtosis of z_i = c_k sum_j B_ij f_j + w_ik e_i: (sum_j (c_k B_ij)^4 + w_ik^4) times a single draw's
    b4 = (loadings**4).sum(axis=1)
    w2 = 1.0 - c2[:, None] * (loadings**2).sum(axis=1)[None, :]
    mix_k = (c2[:, None] ** 2 * b4[None, :] + w2**2).mean(axis=1)
    mix = float(np.sum(weights * mix_k))
    structure = {
        "factor_loadings": tuple(tuple(float(x) for x in row) for row in loadings),
        "regime_factor_scale": (float(c[0]), float(c[1]), float(c[2])),
        "asset_volatility": tuple(tuple(float(own_vol[k, i]) for k in range(3)) for i in range(n_assets)),
        "asset_drift": tuple(tuple(float(own_drift[k, i]) for k in range(3)) for i in range(n_assets)),
    }
    return structure, mix


# ============================================================================ stylized facts
def _lagged_corr(x: np.ndarray, y: np.ndarray, lag: int) -> np.ndarray:
    """Per-column Pearson correlation of ``x[t]`` with ``y[t + lag]`` (NaN for a constant column)."""
    a = x[:-lag] - x[:-lag].mean(axis=0)
    b = y[lag:] - y[lag:].mean(axis=0)
    den = np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))
    out = np.full(x.shape[1], np.nan)
    ok = den > 0
    out[ok] = (a * b).sum(axis=0)[ok] / den[ok]
    return out


def stylized_facts(
    returns: np.ndarray, *, periods_per_year: int = 252, max_lag: int = MAX_LAG
) -> dict[str, Any]:
    """The stylized facts of a ``(T, N)`` (or ``(T,)``) array of per-bar log returns.

    Per-asset figures are averaged over the assets (constant columns are skipped).

    Returns:
        A dict with

        * ``n_obs``, ``n_assets``;
        * ``annual_return``: ``P mean(r)``; ``annual_volatility``: ``sqrt(P) std(r)``;
        * ``skewness``; ``kurtosis``: ``E[(r - m)^4] / var^2`` (**non-excess**: 3 for a Gaussian);
        * ``autocorr_1``: ``corr(r_t, r_{t+1})``, the lag-1 autocorrelation of the returns (near 0: no linear
            predictability);
        * ``abs_autocorr``: ``corr(|r_t|, |r_{t+k}|)`` for ``k = 1..max_lag`` (array, volatility clustering)
            and ``abs_autocorr_1`` (lag 1);
        * ``leverage``: ``corr(r_t, |r_{t+k}|)`` for ``k = 1..max_lag`` (array; negative = falls raise later
            volatility, the leverage effect) and ``leverage_1`` (lag 1);
        * ``mean_correlation``: the mean pairwise Pearson correlation of the assets (NaN for one asset).
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim == 1:
        r = r[:, None]
    if r.ndim != 2:
        raise ConfigError(f"returns must be (T,) or (T, N) log returns, got shape {r.shape}.")
    if r.shape[0] < max_lag + 3 or r.shape[1] < 1:
        raise WealthArenaDataError(
            f"stylized_facts() needs more than {max_lag + 2} returns, got shape {r.shape}."
        )
    if not np.all(np.isfinite(r)):
        raise WealthArenaDataError("stylized_facts(): returns contain NaN or inf.")
    sd = r.std(axis=0)
    r = r[:, sd > 0]
    if r.shape[1] == 0:
        raise WealthArenaDataError("stylized_facts(): every return column is constant.")
    x = r - r.mean(axis=0)
    var = (x * x).mean(axis=0)
    a = np.abs(r)
    abs_ac = np.array([np.nanmean(_lagged_corr(a, a, k)) for k in range(1, max_lag + 1)])
    lev = np.array([np.nanmean(_lagged_corr(r, a, k)) for k in range(1, max_lag + 1)])
    return {
        "n_obs": int(r.shape[0]),
        "n_assets": int(r.shape[1]),
        "annual_return": float(np.mean(r.mean(axis=0)) * periods_per_year),
        "annual_volatility": float(np.mean(np.sqrt(var * periods_per_year))),
        "autocorr_1": float(np.nanmean(_lagged_corr(r, r, 1))),
        "skewness": float(np.mean((x**3).mean(axis=0) / var**1.5)),
        "kurtosis": float(np.mean((x**4).mean(axis=0) / var**2)),
        "abs_autocorr": abs_ac,
        "abs_autocorr_1": float(abs_ac[0]),
        "leverage": lev,
        "leverage_1": float(lev[0]),
        "mean_correlation": _mean_offdiagonal_corr(r),
    }


#: Rows of :func:`compare_stylized_facts` (scalar facts; ``abs_autocorr_5`` / ``_20`` are lags 5 and 20).
FACT_ROWS: tuple[str, ...] = (
    "annual_return",
    "annual_volatility",
    "skewness",
    "kurtosis",
    "autocorr_1",
    "abs_autocorr_1",
    "abs_autocorr_5",
    "abs_autocorr_20",
    "leverage_1",
    "mean_correlation",
)


def _scalar_facts(facts: dict[str, Any]) -> dict[str, float]:
    out = {name: facts[name] for name in FACT_ROWS if name in facts}
    out["abs_autocorr_5"] = float(facts["abs_autocorr"][min(4, len(facts["abs_autocorr"]) - 1)])
    out["abs_autocorr_20"] = float(facts["abs_autocorr"][-1])
    return {name: out[name] for name in FACT_ROWS}


def synthetic_returns(config: MarketConfig, n_bars: int, seed: int) -> np.ndarray:
    """``(n_bars, N)`` log returns of one seeded path of the synthetic market (bar 0, whose return is 0 by
    construction, is simulated and dropped)."""
    bars = np.empty((n_bars + 1, N_BAR_FIELDS, config.n_assets))
    SyntheticMarket(config).sample(np.random.default_rng(seed), bars)
    return bars[1:, BAR_LOGRET, :].copy()


def compare_stylized_facts(
    data: MarketData | np.ndarray,
    config: MarketConfig,
    n_seeds: int = 20,
    n_bars: int | None = None,
    *,
    seed: int = 0,
) -> pd.DataFrame:
    """Stylized facts of the real data next to those of the synthetic market of ``config``.

    Args:
        data: a :class:`MarketData` (log returns of ``adj_close`` when present, else ``close``) or a
            ``(T, N)`` array of log returns.
        config: the synthetic market (usually ``calibrate(data)``).
        n_seeds: synthetic paths, seeded ``seed, seed + 1, ...``; the synthetic columns summarise them.
        n_bars: returns per synthetic path (default: as many as the data has).

    Returns:
        A DataFrame indexed by fact (:data:`FACT_ROWS`) with columns ``real``, ``synthetic`` (mean over
        seeds), ``synthetic_std`` and ``synthetic_median`` (across seeds) and ``ratio`` (synthetic / real).
        ``frame.attrs["markdown"]`` holds a Markdown table of it (:func:`stylized_facts_markdown`).
    """
    if not isinstance(n_seeds, int) or n_seeds < 1:
        raise ConfigError(f"n_seeds must be an integer >= 1, got {n_seeds!r}.")
    real_r = _log_returns(data) if isinstance(data, MarketData) else np.asarray(data, dtype=np.float64)
    if real_r.ndim == 1:
        real_r = real_r[:, None]
    periods = config.periods_per_year
    n_bars = real_r.shape[0] if n_bars is None else int(n_bars)
    real = _scalar_facts(stylized_facts(real_r, periods_per_year=periods))
    synthetic = pd.DataFrame(
        [
            _scalar_facts(
                stylized_facts(synthetic_returns(config, n_bars, seed + s), periods_per_year=periods)
            )
            for s in range(n_seeds)
        ]
    )
    frame = pd.DataFrame(
        {
            "real": pd.Series(real),
            "synthetic": synthetic.mean(),
            "synthetic_std": synthetic.std(ddof=1) if n_seeds > 1 else np.nan,
            "synthetic_median": synthetic.median(),
        }
    ).loc[list(FACT_ROWS)]
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["ratio"] = np.where(frame["real"] != 0, frame["synthetic"] / frame["real"], np.nan)
    frame.index.name = "fact"
    frame.attrs["n_seeds"] = n_seeds
    frame.attrs["n_bars"] = n_bars
    frame.attrs["markdown"] = stylized_facts_markdown(frame)
    return frame


def stylized_facts_markdown(frame: pd.DataFrame, digits: int = 3) -> str:
    """A Markdown table of a :func:`compare_stylized_facts` frame (no extra dependency)."""
    columns = list(frame.columns)
    lines = ["| fact | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for name, row in frame.iterrows():
        cells = ["" if not np.isfinite(v) else f"{v:.{digits}f}" for v in row.to_numpy(dtype=float)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ============================================================================ per asset
def _kurtosis(x: np.ndarray) -> np.ndarray:
    c = x - x.mean(axis=0)
    return (c**4).mean(axis=0) / np.maximum((c**2).mean(axis=0), 1e-300) ** 2


def compare_assets(
    data: MarketData | np.ndarray,
    config: MarketConfig,
    n_seeds: int = 20,
    n_bars: int | None = None,
    *,
    seed: int = 0,
    tickers: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """Each asset of the real data next to the same asset of the synthetic market of ``config``.

    Simulates ``n_seeds`` paths (seeds ``seed, seed + 1, ...``, as long as the data unless ``n_bars``) and
    averages per asset over them (the kurtosis: median, as one crash day dominates a path's).

    Returns:
        A dict with ``assets``, a DataFrame indexed by ticker with ``real_volatility``,
        ``synthetic_volatility`` and ``volatility_ratio`` (annual), ``real_kurtosis``, ``synthetic_kurtosis``
        (non-excess), ``real_autocorr_1``, ``synthetic_autocorr_1`` (lag-1 autocorrelation of the returns),
        ``real_leverage_1``, ``synthetic_leverage_1`` (``corr(r_t, |r_{t+1}|)``); ``real_correlation`` and
        ``synthetic_correlation`` (N, N) matrices; ``max_correlation_error`` and ``mean_correlation_error``
        (largest and mean absolute off-diagonal difference); ``real_facts`` / ``synthetic_facts``: the
        :func:`stylized_facts` of the data and of each path (a list).
    """
    if not isinstance(n_seeds, int) or n_seeds < 1:
        raise ConfigError(f"n_seeds must be an integer >= 1, got {n_seeds!r}.")
    real_r = _log_returns(data) if isinstance(data, MarketData) else np.asarray(data, dtype=np.float64)
    if real_r.ndim == 1:
        real_r = real_r[:, None]
    if real_r.shape[1] != config.n_assets:
        raise ConfigError(
            f"compare_assets(): the data has {real_r.shape[1]} assets, the config {config.n_assets}; "
            "compare a config with the data it was fitted to."
        )
    if tickers is None:
        tickers = tuple(data.tickers) if isinstance(data, MarketData) else SyntheticMarket(config).tickers
    periods = config.periods_per_year
    n_bars = real_r.shape[0] if n_bars is None else int(n_bars)
    paths = [synthetic_returns(config, n_bars, seed + s) for s in range(n_seeds)]

    def per_asset(x: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "volatility": x.std(axis=0) * math.sqrt(periods),
            "kurtosis": _kurtosis(x),
            "autocorr_1": _lagged_corr(x, x, 1),
            "leverage_1": _lagged_corr(x, np.abs(x), 1),
        }

    real = per_asset(real_r)
    synthetic = [per_asset(x) for x in paths]
    frame = pd.DataFrame(index=pd.Index(list(tickers), name="ticker"))
    for name in ("volatility", "kurtosis", "autocorr_1", "leverage_1"):
        stack = np.array([s[name] for s in synthetic])
        frame[f"real_{name}"] = real[name]
        frame[f"synthetic_{name}"] = np.median(stack, axis=0) if name == "kurtosis" else stack.mean(axis=0)
    frame.insert(2, "volatility_ratio", frame["synthetic_volatility"] / frame["real_volatility"])
    n = real_r.shape[1]
    real_corr = np.corrcoef(real_r, rowvar=False).reshape(n, n)
    synthetic_corr = np.mean([np.corrcoef(x, rowvar=False).reshape(n, n) for x in paths], axis=0)
    error = np.abs(_offdiagonal(synthetic_corr - real_corr)) if n > 1 else np.zeros(1)
    return {
        "assets": frame,
        "real_correlation": real_corr,
        "synthetic_correlation": synthetic_corr,
        "max_correlation_error": float(error.max()),
        "mean_correlation_error": float(error.mean()),
        "real_facts": stylized_facts(real_r, periods_per_year=periods),
        "synthetic_facts": [stylized_facts(x, periods_per_year=periods) for x in paths],
        "n_seeds": n_seeds,
        "n_bars": n_bars,
    }


#: pandas frequencies of simulate_prices' dates, by bars per year (others: business days)
_FREQUENCIES = {252: "B", 365: "D", 52: "W-FRI", 12: "BME"}


def simulate_prices(
    config: MarketConfig,
    n_bars: int,
    *,
    seed: int = 0,
    start: str | pd.Timestamp = "2000-01-03",
    layout: str = "long",
) -> pd.DataFrame:
    """A simulated OHLCV panel of the synthetic market of ``config`` (synthetic data for backtests).

    With a config from :func:`calibrate`, the panel has the fitted data's tickers, first prices and volume
    levels, each asset's own volatility, the correlation matrix (factor model), regimes, GARCH clustering,
    leverage effect and fat tails; every ``seed`` gives a new path.

    Args:
        config: the market (``calibrate(data)``, or any :class:`~wealtharena_env.config.MarketConfig`).
        n_bars: bars per asset (>= 1); the first bar is the start (open = high = low = close).
        seed: seed of the path (the same seed gives the same panel, on any machine).
        start: the first date; the dates follow ``config.periods_per_year`` (252: business days, 365:
            calendar days, 52: weeks, 12: month ends).
        layout: ``"long"`` (default): one row per (date, ticker) with columns ``date, ticker, open, high,
            low, close, volume``, sorted by ticker then date, the layout of the project's data files, which
            :func:`wealtharena_env.data.load_market_data` reads back; ``"wide"``: a DataFrame indexed by date
            with columns ``(field, ticker)``.

    Returns:
        The panel; volume is rounded to whole shares (int64).
    """
    if not isinstance(config, MarketConfig):
        raise ConfigError(f"simulate_prices() needs a MarketConfig, got {type(config).__name__}.")
    if not isinstance(n_bars, (int, np.integer)) or isinstance(n_bars, bool) or n_bars < 1:
        raise ConfigError(f"n_bars must be an integer >= 1, got {n_bars!r}.")
    if layout not in ("long", "wide"):
        raise ConfigError(f"layout must be 'long' or 'wide', got {layout!r}.")
    source = SyntheticMarket(config)
    bars = np.empty((int(n_bars), N_BAR_FIELDS, config.n_assets))
    source.sample(np.random.default_rng(seed), bars)
    dates = pd.date_range(
        pd.Timestamp(start),
        periods=int(n_bars),
        freq=_FREQUENCIES.get(config.periods_per_year, "B"),
        name="date",
    )
    fields = {"open": BAR_OPEN, "high": BAR_HIGH, "low": BAR_LOW, "close": BAR_CLOSE, "volume": BAR_VOLUME}
    tickers = list(source.tickers)
    if layout == "wide":
        columns = pd.MultiIndex.from_product([list(fields), tickers], names=["field", "ticker"])
        values = np.concatenate([bars[:, f, :] for f in fields.values()], axis=1)
        wide = pd.DataFrame(values, index=dates, columns=columns)
        wide["volume"] = np.round(wide["volume"]).astype(np.int64)
        return wide
    n_assets = config.n_assets
    frame = pd.DataFrame(
        {
            "date": np.tile(dates.to_numpy(), n_assets),
            "ticker": np.repeat(tickers, int(n_bars)),
            **{name: bars[:, f, :].T.reshape(-1) for name, f in fields.items()},
        }
    )
    frame["volume"] = np.round(frame["volume"]).astype(np.int64)
    return frame
