"""Performance-metric kernels: batched metrics over return series.

Axis order and units
--------------------
``returns`` is a float64 array of shape ``(B, T)``: ``B`` independent series (envs x agents flattened,
or episodes) and ``T`` periods of **simple** returns per period (``0.01`` = +1 %, i.e.
``r_t = V_t / V_{t-1} - 1``). Log returns convert with :func:`log_to_simple`; the inverse is
:func:`simple_to_log`. Every metric returns a ``(B,)`` float64 array, one value per series; durations are
in periods (float64 so that NaN can mark an undefined value). Each series is computed independently, so a
``(B, T)`` call equals ``B`` separate ``(1, T)`` calls bit for bit.

A benchmark ``benchmark`` is ``(B, T)`` (one benchmark per series) or ``(T,)`` (one benchmark broadcast to
every series), in the same units as ``returns``.

Conventions (arguments of every kernel that needs them)
-------------------------------------------------------
- ``periods_per_year`` (default 252): annualisation factor ``P``. Means are annualised by ``x P`` and
  standard deviations by ``x sqrt(P)``; growth is annualised by compounding over ``T / P`` years.
- ``risk_free`` (default 0): the risk-free rate **per period**, a scalar. Excess return
  ``x_t = r_t - risk_free``. (An annual rate ``R`` converts as ``(1 + R) ** (1 / P) - 1``.)
- ``ddof`` (default 1): delta degrees of freedom of every standard deviation,
  ``std = sqrt(sum (x - mean)^2 / (T - ddof))``; 1 = sample, 0 = population.
- ``level`` (default 0.95): confidence level of VaR / CVaR; the tail probability is ``p = 1 - level``.
  VaR and CVaR are reported as **positive loss fractions** (0.02 = a 2 % loss).
- Historical quantile: linear interpolation between order statistics (NumPy's default ``"linear"``,
  Hyndman-Fan type 7): with sorted returns ``s_0 <= ... <= s_{T-1}``, ``h = (T - 1) p``,
  ``k = floor(h)``, ``q = s_k + (h - k)(s_{k+1} - s_k)``. Historical CVaR is the mean of the ``k + 1``
  smallest returns ``s_0..s_k`` (the returns at or below the VaR quantile).
- Equity curve: ``E_0 = 1``, ``E_t = E_{t-1} (1 + r_t)``; running peak ``M_t = max(E_0..E_t)``;
  drawdown ``D_t = 1 - E_t / M_t`` (a positive fraction of the peak).

Undefined values (NaN) -- never an exception, never a spurious inf
-------------------------------------------------------------------
- A series containing any NaN gives NaN for **every** metric of that series (NaN is not skipped); for
  the benchmark metrics, a NaN in the series or in its benchmark.
  +/-inf returns are not meaningful; they give whatever IEEE arithmetic gives, never a crash.
- ``T == 0``: every metric is NaN except the drawdown family (0: no drawdown in an empty series).
- A standard deviation needs ``T - ddof >= 1``; otherwise it, and every ratio using it, is NaN.
- A series whose values are all equal has a standard deviation of exactly 0 (not rounding noise).
- A ratio whose denominator is 0 is NaN: Sharpe (zero variance), Sortino (no period below the target),
  Calmar (no drawdown), information ratio (zero tracking error), beta / alpha / correlation (constant
  benchmark, or for correlation a constant series), win rate (no non-zero period).
- Exception (flat series): when **every** excess return ``x_t = r_t - risk_free`` is exactly 0 (holding
  cash at the risk-free rate: no excess return, no risk), the Sharpe and Sortino ratios are **0**, not
  NaN -- the risk-free asset sits at Sharpe 0 on the capital market line, and a policy that holds cash
  must score as such rather than as "undefined". A constant **non-zero** excess series stays NaN: its
  ratio is ``+/-c / 0``, the limit of ``mean / std`` as the risk vanishes is unbounded, and no finite
  value would be honest (an inf would swamp every mean it enters). Sharpe still needs
  ``T - ddof >= 1`` (a 1-period series is NaN with ``ddof = 1``) and ``T == 0`` is NaN.
- Exception: profit factor is ``+inf`` when there are gains but no losses (the usual reporting
  convention), NaN when there are neither gains nor losses.
- CAGR is NaN when the compounded equity becomes negative (a return below -100 %), and -1 when it
  reaches exactly 0. It may overflow to +inf for absurd growth.

All kernels are pure ``@njit(cache=True, error_model="numpy")`` functions (a division by zero can never
raise inside a kernel; the cases above are handled explicitly); :func:`summary_metrics` (plain Python)
computes every metric in one call of the fused kernel :func:`summary_kernel`, which uses the same per-series
helpers as the individual kernels and therefore agrees with them exactly.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "BENCHMARK_METRIC_NAMES",
    "RELATIVE_METRIC_NAMES",
    "SUMMARY_METRIC_NAMES",
    "alpha",
    "annual_volatility",
    "average_turnover",
    "beta",
    "cagr",
    "calmar_ratio",
    "correlation",
    "down_capture",
    "downside_deviation",
    "drawdown_series",
    "excess_return",
    "gaussian_cvar",
    "gaussian_var",
    "historical_cvar",
    "historical_var",
    "information_ratio",
    "log_to_simple",
    "max_drawdown",
    "max_drawdown_duration",
    "max_drawdown_episode_length",
    "normal_ppf",
    "profit_factor",
    "relative_metrics",
    "relative_metrics_kernel",
    "sharpe_ratio",
    "simple_to_log",
    "sortino_ratio",
    "summary_kernel",
    "summary_metrics",
    "total_return",
    "tracking_error",
    "turnover_from_weights",
    "up_capture",
    "win_rate",
]

#: Metrics computed from ``returns`` alone, in the row order of :func:`summary_kernel`'s output.
SUMMARY_METRIC_NAMES: tuple[str, ...] = (
    "total_return",
    "cagr",
    "annual_volatility",
    "sharpe_ratio",
    "sortino_ratio",
    "max_drawdown",
    "max_drawdown_duration",
    "max_drawdown_episode_length",
    "calmar_ratio",
    "historical_var",
    "historical_cvar",
    "gaussian_var",
    "gaussian_cvar",
    "win_rate",
    "profit_factor",
)
#: Metrics relative to a benchmark, following :data:`SUMMARY_METRIC_NAMES` in :func:`summary_kernel`.
BENCHMARK_METRIC_NAMES: tuple[str, ...] = (
    "beta",
    "alpha",
    "correlation",
    "tracking_error",
    "information_ratio",
)
#: Metrics of a series against a market benchmark, in the row order of :func:`relative_metrics_kernel`.
RELATIVE_METRIC_NAMES: tuple[str, ...] = (
    "excess_return",
    "beta",
    "alpha",
    "tracking_error",
    "information_ratio",
    "up_capture",
    "down_capture",
)
_N_BASE = len(SUMMARY_METRIC_NAMES)
_N_ALL = _N_BASE + len(BENCHMARK_METRIC_NAMES)

_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)


# ----------------------------------------------------------------------------------------------------
# Conversions
# ----------------------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def log_to_simple(log_returns):
    """Simple returns from log returns: ``r = exp(l) - 1`` (``expm1``, exact for tiny ``l``). Any shape."""
    return np.expm1(log_returns)


@njit(cache=True, error_model="numpy")
def simple_to_log(returns):
    """Log returns from simple returns: ``l = log(1 + r)`` (``log1p``); ``r = -1`` gives ``-inf``,
    ``r < -1`` gives NaN. Any shape."""
    return np.log1p(returns)


# ----------------------------------------------------------------------------------------------------
# Validation (raises from inside the kernel: arguments are scalars, checked once per call)
# ----------------------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _check_ppy(periods_per_year):
    if not (periods_per_year > 0.0) or not np.isfinite(periods_per_year):
        raise ValueError("periods_per_year must be a finite number > 0 (e.g. 252 for daily bars)")


@njit(cache=True, error_model="numpy")
def _check_ddof(ddof):
    if ddof < 0:
        raise ValueError("ddof must be >= 0 (1 = sample standard deviation, 0 = population)")


@njit(cache=True, error_model="numpy")
def _check_level(level):
    if not (level > 0.0 and level < 1.0):
        raise ValueError("level must lie strictly between 0 and 1 (e.g. 0.95 for 95 % VaR)")


@njit(cache=True, error_model="numpy")
def _check_returns(returns):
    if returns.ndim != 2:
        raise ValueError("returns must be a 2-D (B, T) array; use returns[None, :] for one series")


@njit(cache=True, error_model="numpy")
def _benchmark_2d(returns, benchmark):
    """View ``benchmark`` as (B_b, T) with B_b in {1, B}; raise on a shape mismatch."""
    bm = np.atleast_2d(benchmark)
    if bm.ndim != 2 or bm.shape[1] != returns.shape[1]:
        raise ValueError("benchmark must be (B, T) or (T,) with the same T as returns")
    if bm.shape[0] != 1 and bm.shape[0] != returns.shape[0]:
        raise ValueError("benchmark must be (B, T) with the same B as returns, or (T,) / (1, T) to broadcast")
    return bm


# ----------------------------------------------------------------------------------------------------
# Per-series helpers (1-D in, scalars out). Every public kernel and the fused kernel call these, which
# is what makes the fused summary agree with the individual kernels exactly.
# ----------------------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _has_nan(x):
    for t in range(x.shape[0]):
        if np.isnan(x[t]):
            return True
    return False


@njit(cache=True, error_model="numpy")
def _mean_std(x, shift, ddof):
    """(mean, std) of ``x_t - shift``; for a constant series the mean is exactly its value and the std
    exactly 0 (so deviations from the mean, and covariances with it, are exactly 0); std NaN if
    ``T - ddof < 1``; mean NaN if ``T == 0``."""
    n = x.shape[0]
    if n == 0:
        return np.nan, np.nan
    s = 0.0
    first = x[0] - shift
    constant = True
    for t in range(n):
        v = x[t] - shift
        s += v
        if v != first:
            constant = False
    m = first if constant else s / n  # n equal values: their mean is the value (s / n may round off it)
    if n - ddof < 1:
        return m, np.nan
    if constant:
        return m, 0.0
    ss = 0.0
    for t in range(n):
        d = (x[t] - shift) - m
        ss += d * d
    return m, math.sqrt(ss / (n - ddof))


@njit(cache=True, error_model="numpy")
def _downside_dev_row(x, target):
    """``sqrt(mean(min(x_t - target, 0)^2))`` over ALL periods; NaN if ``T == 0``."""
    n = x.shape[0]
    if n == 0:
        return np.nan
    ss = 0.0
    for t in range(n):
        d = x[t] - target
        if d < 0.0:
            ss += d * d
    return math.sqrt(ss / n)


@njit(cache=True, error_model="numpy")
def _log_growth(x):
    """``sum_t log(1 + r_t)`` (log of the final equity)."""
    s = 0.0
    for t in range(x.shape[0]):
        s += math.log1p(x[t]) if x[t] >= -1.0 else np.nan
    return s


@njit(cache=True, error_model="numpy")
def _div(a, b):
    """``a / b``, NaN when ``b == 0`` or either is NaN."""
    if b == 0.0 or np.isnan(b) or np.isnan(a):
        return np.nan
    return a / b


@njit(cache=True, error_model="numpy")
def _all_equal(x, value):
    """True when every ``x_t`` equals ``value`` exactly (``-0.0 == 0.0``); True for ``T == 0``."""
    for t in range(x.shape[0]):
        if x[t] - value != 0.0:
            return False
    return True


@njit(cache=True, error_model="numpy")
def _flat_ratio(mean, scale, x, risk_free):
    """``mean / scale`` of a Sharpe-type ratio of the excess returns ``x - risk_free``.

    NaN when ``scale`` is 0 or either is NaN, except for a flat series (``T >= 1`` and every excess return
    exactly 0: cash at the risk-free rate), whose ratio is 0. The all-zero check runs only when ``scale``
    is 0, so it costs nothing on ordinary series.
    """
    if scale == 0.0 and not np.isnan(mean) and x.shape[0] > 0 and _all_equal(x, risk_free):
        return 0.0
    return _div(mean, scale)


@njit(cache=True, error_model="numpy")
def _total_return_row(x):
    if x.shape[0] == 0:
        return np.nan
    return math.expm1(_log_growth(x))


@njit(cache=True, error_model="numpy")
def _cagr_row(x, periods_per_year):
    n = x.shape[0]
    if n == 0:
        return np.nan
    g = _log_growth(x)
    if np.isnan(g):
        return np.nan
    return math.expm1(g * (periods_per_year / n))


@njit(cache=True, error_model="numpy")
def _drawdown_row(x):
    """(max drawdown, longest underwater run, max-drawdown episode length) of one series."""
    n = x.shape[0]
    equity = 1.0
    peak = 1.0
    peak_idx = 0
    run = 0
    longest = 0
    mdd = 0.0
    mdd_peak_idx = 0
    mdd_recovery_idx = -1
    for t in range(1, n + 1):
        equity = equity * (1.0 + x[t - 1])
        if equity >= peak:
            if run > 0 and peak_idx == mdd_peak_idx and mdd_recovery_idx < 0 and mdd > 0.0:
                mdd_recovery_idx = t
            peak = equity
            peak_idx = t
            run = 0
        else:
            run += 1
            longest = max(longest, run)
            dd = 1.0 - equity / peak
            if dd > mdd:
                mdd = dd
                mdd_peak_idx = peak_idx
                mdd_recovery_idx = -1
    if mdd > 0.0:
        end = mdd_recovery_idx if mdd_recovery_idx >= 0 else n
        episode = float(end - mdd_peak_idx)
    else:
        episode = 0.0
    return mdd, float(longest), episode


@njit(cache=True, error_model="numpy")
def _hist_var_cvar_row(x, p):
    """(VaR, CVaR) as positive losses at tail probability ``p`` (type-7 quantile, mean of k+1 worst)."""
    n = x.shape[0]
    if n == 0:
        return np.nan, np.nan
    s = np.sort(x)
    h = (n - 1) * p
    k = min(int(h), n - 1)  # h >= 0, so int() is floor()
    frac = h - k
    if k + 1 < n:
        q = s[k] + frac * (s[k + 1] - s[k])
    else:
        q = s[k]
    tail = 0.0
    for i in range(k + 1):
        tail += s[i]
    return -q, -(tail / (k + 1))


@njit(cache=True, error_model="numpy")
def _normal_ppf_scalar(p):
    # Acklam's rational approximation (relative error < 1.2e-9), then one Halley step on
    # Phi(x) - p with Phi from erfc, which brings it to full double precision.
    if not (p > 0.0 and p < 1.0):
        if p == 0.0:
            return -np.inf
        if p == 1.0:
            return np.inf
        return np.nan
    # Symmetry: work in the lower tail (1 - p is exact for p in [0.5, 1]) so that the refinement below
    # never subtracts two numbers close to 1.
    upper = p > 0.5
    if upper:
        p = 1.0 - p
    a0, a1, a2 = -3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02
    a3, a4, a5 = 1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00
    b0, b1, b2 = -5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02
    b3, b4 = 6.680131188771972e01, -1.328068155288572e01
    c0, c1, c2 = -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00
    c3, c4, c5 = -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00
    d0, d1, d2, d3 = 7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00
    p_low = 0.02425
    if p < p_low:
        q = math.sqrt(-2.0 * math.log(p))
        x = (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / (
            (((d0 * q + d1) * q + d2) * q + d3) * q + 1.0
        )
    else:
        q = p - 0.5
        r = q * q
        x = (
            (((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5)
            * q
            / (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1.0)
        )
    # One Halley step on e = Phi(x) - p, with Phi(x) = erfc(-x / sqrt(2)) / 2.
    e = 0.5 * math.erfc(-x / _SQRT2) - p
    u = e * _SQRT2PI * math.exp(0.5 * x * x)
    x = x - u / (1.0 + 0.5 * x * u)
    return -x if upper else x


@njit(cache=True, error_model="numpy")
def _gauss_var_cvar(mean, std, p):
    """Gaussian (VaR, CVaR) as positive losses: ``-(mu + z sigma)``, ``-(mu - sigma phi(z) / p)``."""
    z = _normal_ppf_scalar(p)
    phi = math.exp(-0.5 * z * z) / _SQRT2PI
    return -(mean + z * std), -(mean - std * phi / p)


@njit(cache=True, error_model="numpy")
def _win_profit_row(x):
    """(win rate, profit factor)."""
    wins = 0
    nonzero = 0
    gains = 0.0
    losses = 0.0
    for t in range(x.shape[0]):
        v = x[t]
        if v > 0.0:
            wins += 1
            nonzero += 1
            gains += v
        elif v < 0.0:
            nonzero += 1
            losses += v
    wr = wins / nonzero if nonzero > 0 else np.nan
    if losses < 0.0:
        pf = gains / (-losses)
    elif gains > 0.0:
        pf = np.inf
    else:
        pf = np.nan
    return wr, pf


@njit(cache=True, error_model="numpy")
def _correlation_row(x, y):
    """Pearson correlation, clipped to [-1, 1]; NaN if either series is constant."""
    n = x.shape[0]
    mx, _ = _mean_std(x, 0.0, 0)
    my, _ = _mean_std(y, 0.0, 0)
    sxy = 0.0
    sxx = 0.0
    syy = 0.0
    x_const = True
    y_const = True
    for t in range(n):
        dx = x[t] - mx
        dy = y[t] - my
        sxy += dx * dy
        sxx += dx * dx
        syy += dy * dy
        if x[t] != x[0]:
            x_const = False
        if y[t] != y[0]:
            y_const = False
    if x_const or y_const or sxx == 0.0 or syy == 0.0:
        return np.nan
    c = sxy / (math.sqrt(sxx) * math.sqrt(syy))  # no under/overflow of sxx * syy
    # clip rounding overshoot; an explicit test, since min/max would turn a NaN (inf inputs) into -1
    if c > 1.0:
        return 1.0
    if c < -1.0:
        return -1.0
    return c


@njit(cache=True, error_model="numpy")
def _benchmark_row(x, y, periods_per_year, risk_free, ddof):
    """(beta, alpha, correlation, tracking error, information ratio) of ``x`` against ``y``."""
    n = x.shape[0]
    if n == 0 or _has_nan(x) or _has_nan(y):
        return np.nan, np.nan, np.nan, np.nan, np.nan
    mx, _ = _mean_std(x, risk_free, 0)
    my, _ = _mean_std(y, risk_free, 0)
    # beta and alpha on the excess returns x - rf, y - rf
    sxy = 0.0
    syy = 0.0
    y_const = True
    for t in range(n):
        dx = (x[t] - risk_free) - mx
        dy = (y[t] - risk_free) - my
        sxy += dx * dy
        syy += dy * dy
        if y[t] - risk_free != y[0] - risk_free:
            y_const = False
    if y_const:
        syy = 0.0
    b = _div(sxy, syy)
    a = (mx - b * my) * periods_per_year
    # correlation on the raw returns (shift-invariant; does not depend on rf even by rounding)
    c = _correlation_row(x, y)
    # active return a_t = r_t - rb_t
    s = 0.0
    first = x[0] - y[0]
    constant = True
    for t in range(n):
        v = x[t] - y[t]
        s += v
        if v != first:
            constant = False
    ma = s / n
    if n - ddof < 1:
        te = np.nan
    elif constant:
        te = 0.0
    else:
        ss = 0.0
        for t in range(n):
            d = (x[t] - y[t]) - ma
            ss += d * d
        te = math.sqrt(ss / (n - ddof)) * math.sqrt(periods_per_year)
    ir = _div(ma * periods_per_year, te)
    return b, a, c, te, ir


@njit(cache=True, error_model="numpy")
def _summary_row(x, periods_per_year, risk_free, ddof, p, out, b):
    """Fill ``out[0:_N_BASE, b]`` with every returns-only metric of series ``x``."""
    if _has_nan(x):
        for k in range(_N_BASE):
            out[k, b] = np.nan
        return
    sqrt_ppy = math.sqrt(periods_per_year)
    tot = _total_return_row(x)
    cg = _cagr_row(x, periods_per_year)
    m_raw, sd_raw = _mean_std(x, 0.0, ddof)
    m_ex, sd_ex = _mean_std(x, risk_free, ddof)
    dd_dev = _downside_dev_row(x, risk_free)
    mdd, longest, episode = _drawdown_row(x)
    hv, hc = _hist_var_cvar_row(x, p)
    gv, gc = _gauss_var_cvar(m_raw, sd_raw, p)
    wr, pf = _win_profit_row(x)
    out[0, b] = tot
    out[1, b] = cg
    out[2, b] = sd_raw * sqrt_ppy
    out[3, b] = _flat_ratio(m_ex, sd_ex, x, risk_free) * sqrt_ppy
    out[4, b] = _flat_ratio(m_ex, dd_dev, x, risk_free) * sqrt_ppy
    out[5, b] = mdd
    out[6, b] = longest
    out[7, b] = episode
    out[8, b] = _div(cg, mdd)
    out[9, b] = hv
    out[10, b] = hc
    out[11, b] = gv
    out[12, b] = gc
    out[13, b] = wr
    out[14, b] = pf


# ----------------------------------------------------------------------------------------------------
# Fused kernel
# ----------------------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def summary_kernel(returns, benchmark, has_benchmark, periods_per_year, risk_free, ddof, level):
    """Every metric of every series in one call.

    ``returns`` (B, T) simple returns; ``benchmark`` (B, T) or (T,) (ignored, but still shape-checked,
    when ``has_benchmark`` is False -- pass ``returns`` itself). Returns a (K, B) float64 array whose rows
    follow :data:`SUMMARY_METRIC_NAMES` then, if ``has_benchmark``, :data:`BENCHMARK_METRIC_NAMES`.
    Values equal the individual kernels' exactly (same per-series helpers).
    """
    _check_returns(returns)
    _check_ppy(periods_per_year)
    _check_ddof(ddof)
    _check_level(level)
    bm = _benchmark_2d(returns, benchmark)
    p = 1.0 - level
    n_series = returns.shape[0]
    k_out = _N_ALL if has_benchmark else _N_BASE
    out = np.empty((k_out, n_series), dtype=np.float64)
    for b in range(n_series):
        x = returns[b]
        _summary_row(x, periods_per_year, risk_free, ddof, p, out, b)
        if has_benchmark:
            y = bm[b] if bm.shape[0] > 1 else bm[0]
            bt, al, co, te, ir = _benchmark_row(x, y, periods_per_year, risk_free, ddof)
            out[_N_BASE + 0, b] = bt
            out[_N_BASE + 1, b] = al
            out[_N_BASE + 2, b] = co
            out[_N_BASE + 3, b] = te
            out[_N_BASE + 4, b] = ir
    return out


# ----------------------------------------------------------------------------------------------------
# Individual kernels: (B, T) in, (B,) out
# ----------------------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def total_return(returns):
    """Compounded total return ``prod_t (1 + r_t) - 1``, computed as ``expm1(sum_t log1p(r_t))``.

    Units: fraction (0.5 = +50 %). NaN for ``T == 0``, a NaN input or a return below -1.
    """
    _check_returns(returns)
    out = np.empty(returns.shape[0])
    for b in range(returns.shape[0]):
        x = returns[b]
        out[b] = np.nan if _has_nan(x) else _total_return_row(x)
    return out


@njit(cache=True, error_model="numpy")
def cagr(returns, periods_per_year=252.0):
    """Compound annual growth rate ``(prod_t (1 + r_t)) ** (P / T) - 1``.

    Computed as ``expm1((P / T) sum_t log1p(r_t))`` (no overflow of the equity, exact for tiny returns).
    ``P = periods_per_year``, so ``T / P`` is the length in years. Units: fraction per year.
    NaN for ``T == 0`` or a return below -1 (negative equity); -1 if the equity hits exactly 0.
    """
    _check_returns(returns)
    _check_ppy(periods_per_year)
    out = np.empty(returns.shape[0])
    for b in range(returns.shape[0]):
        x = returns[b]
        out[b] = np.nan if _has_nan(x) else _cagr_row(x, periods_per_year)
    return out


@njit(cache=True, error_model="numpy")
def annual_volatility(returns, periods_per_year=252.0, ddof=1):
    """Annualised volatility ``std(r, ddof) * sqrt(P)``. Units: fraction per sqrt(year).

    NaN if ``T - ddof < 1``; exactly 0 for a constant series.
    """
    _check_returns(returns)
    _check_ppy(periods_per_year)
    _check_ddof(ddof)
    out = np.empty(returns.shape[0])
    sqrt_ppy = math.sqrt(periods_per_year)
    for b in range(returns.shape[0]):
        x = returns[b]
        if _has_nan(x):
            out[b] = np.nan
        else:
            _, sd = _mean_std(x, 0.0, ddof)
            out[b] = sd * sqrt_ppy
    return out


@njit(cache=True, error_model="numpy")
def sharpe_ratio(returns, periods_per_year=252.0, risk_free=0.0, ddof=1):
    """Annualised Sharpe ratio ``mean(x) / std(x, ddof) * sqrt(P)`` with ``x_t = r_t - risk_free``.

    Dimensionless (per sqrt(year)).

    * **0 for a flat series**: every excess return exactly 0 (cash at the risk-free rate: no excess
      return and no risk -- the Sharpe ratio of the risk-free asset itself). A policy that holds cash
      scores 0, so on a task where everything loses money it ranks above the losers.
    * **NaN for any other constant series** (zero variance, non-zero mean: ``+/-c / 0`` is unbounded, and
      no finite number would be honest), if ``T - ddof < 1`` (the std is undefined, even for zeros) or if
      the series holds a NaN.
    """
    _check_returns(returns)
    _check_ppy(periods_per_year)
    _check_ddof(ddof)
    out = np.empty(returns.shape[0])
    sqrt_ppy = math.sqrt(periods_per_year)
    for b in range(returns.shape[0]):
        x = returns[b]
        if _has_nan(x):
            out[b] = np.nan
        else:
            m, sd = _mean_std(x, risk_free, ddof)
            out[b] = _flat_ratio(m, sd, x, risk_free) * sqrt_ppy
    return out


@njit(cache=True, error_model="numpy")
def downside_deviation(returns, periods_per_year=252.0, risk_free=0.0):
    """Annualised downside deviation ``sqrt(mean_t(min(r_t - risk_free, 0)^2)) * sqrt(P)``.

    The mean runs over ALL ``T`` periods (periods above the target count as 0), not only the losing ones.
    Units: fraction per sqrt(year). NaN for ``T == 0``.
    """
    _check_returns(returns)
    _check_ppy(periods_per_year)
    out = np.empty(returns.shape[0])
    sqrt_ppy = math.sqrt(periods_per_year)
    for b in range(returns.shape[0]):
        x = returns[b]
        out[b] = np.nan if _has_nan(x) else _downside_dev_row(x, risk_free) * sqrt_ppy
    return out


@njit(cache=True, error_model="numpy")
def sortino_ratio(returns, periods_per_year=252.0, risk_free=0.0):
    """Annualised Sortino ratio ``mean(x) / DD * sqrt(P)``, ``x_t = r_t - risk_free``,
    ``DD = sqrt(mean_t(min(x_t, 0)^2))`` over ALL periods (the target is ``risk_free``).

    Equivalently ``(mean(x) P) / (DD sqrt(P))``. Dimensionless. 0 for a flat series (every excess return
    exactly 0: cash at the risk-free rate, as :func:`sharpe_ratio`); NaN if no period is below the target
    otherwise (DD = 0 with gains only: unbounded) or ``T == 0``. The mean in the numerator has no ddof
    (``ddof`` does not apply here).
    """
    _check_returns(returns)
    _check_ppy(periods_per_year)
    out = np.empty(returns.shape[0])
    sqrt_ppy = math.sqrt(periods_per_year)
    for b in range(returns.shape[0]):
        x = returns[b]
        if _has_nan(x):
            out[b] = np.nan
        else:
            m, _ = _mean_std(x, risk_free, 1)
            out[b] = _flat_ratio(m, _downside_dev_row(x, risk_free), x, risk_free) * sqrt_ppy
    return out


@njit(cache=True, error_model="numpy")
def drawdown_series(returns):
    """Drawdown curve ``D_t = 1 - E_t / max(E_0..E_t)``, ``E_0 = 1``, ``E_t = prod_{s<=t}(1 + r_s)``.

    Returns (B, T): ``D[:, t]`` is the drawdown after period ``t`` (positive fraction, 0 at a peak).
    """
    _check_returns(returns)
    n_series, n = returns.shape
    out = np.empty((n_series, n))
    for b in range(n_series):
        equity = 1.0
        peak = 1.0
        for t in range(n):
            equity = equity * (1.0 + returns[b, t])
            if equity >= peak:
                peak = equity
                out[b, t] = 0.0
            else:
                out[b, t] = 1.0 - equity / peak
    return out


@njit(cache=True, error_model="numpy")
def max_drawdown(returns):
    """Maximum drawdown ``max_t D_t`` of the compounded equity curve starting at ``E_0 = 1``.

    ``D_t = 1 - E_t / M_t``, ``M_t = max(E_0..E_t)``. A positive fraction of the peak (0.25 = the equity
    fell 25 % below its running peak); 0 if the equity never falls below a previous peak (including
    ``T == 0``). Can exceed 1 only if a return is below -100 %.
    """
    _check_returns(returns)
    out = np.empty(returns.shape[0])
    for b in range(returns.shape[0]):
        x = returns[b]
        if _has_nan(x):
            out[b] = np.nan
        else:
            mdd, _, _ = _drawdown_row(x)
            out[b] = mdd
    return out


@njit(cache=True, error_model="numpy")
def max_drawdown_duration(returns):
    """Longest number of consecutive periods spent strictly below a previous peak (``E_t < M_t``).

    Units: periods. A drawdown still open at the end counts up to the last period. 0 without drawdown.
    """
    _check_returns(returns)
    out = np.empty(returns.shape[0])
    for b in range(returns.shape[0]):
        x = returns[b]
        if _has_nan(x):
            out[b] = np.nan
        else:
            _, longest, _ = _drawdown_row(x)
            out[b] = longest
    return out


@njit(cache=True, error_model="numpy")
def max_drawdown_episode_length(returns):
    """Length of the maximum-drawdown episode, peak to recovery: ``t_recovery - t_peak`` in periods.

    ``t_peak`` is the last time the equity stood at its running peak before the max-drawdown trough (the
    first trough if several are equally deep), ``t_recovery`` the first later time with
    ``E_t >= M_{t_peak}``. If the equity has not recovered by the end, ``t_recovery = T`` (a lower bound).
    On the curve ``E_0..E_T``, index 0 is the start. 0 without drawdown.
    """
    _check_returns(returns)
    out = np.empty(returns.shape[0])
    for b in range(returns.shape[0]):
        x = returns[b]
        if _has_nan(x):
            out[b] = np.nan
        else:
            _, _, episode = _drawdown_row(x)
            out[b] = episode
    return out


@njit(cache=True, error_model="numpy")
def calmar_ratio(returns, periods_per_year=252.0):
    """Calmar ratio ``CAGR / |max drawdown|`` (both as fractions; dimensionless).

    Uses :func:`cagr` and :func:`max_drawdown` over the whole series (not a trailing 36-month window).
    NaN if there is no drawdown (max drawdown = 0).
    """
    _check_returns(returns)
    _check_ppy(periods_per_year)
    out = np.empty(returns.shape[0])
    for b in range(returns.shape[0]):
        x = returns[b]
        if _has_nan(x):
            out[b] = np.nan
        else:
            mdd, _, _ = _drawdown_row(x)
            out[b] = _div(_cagr_row(x, periods_per_year), mdd)
    return out


@njit(cache=True, error_model="numpy")
def _historical_pair(returns, level):
    """(B, 2): historical VaR and CVaR of every row (NaN rows give NaN); see :func:`historical_var`."""
    _check_returns(returns)
    _check_level(level)
    p = 1.0 - level
    out = np.empty((returns.shape[0], 2))
    for b in range(returns.shape[0]):
        x = returns[b]
        if _has_nan(x):
            out[b, 0] = np.nan
            out[b, 1] = np.nan
        else:
            out[b, 0], out[b, 1] = _hist_var_cvar_row(x, p)
    return out


@njit(cache=True, error_model="numpy")
def historical_var(returns, level=0.95):
    """Historical Value-at-Risk ``-q_p(r)``, ``p = 1 - level``, as a positive loss fraction.

    ``q_p`` is the type-7 (linear interpolation, NumPy default) empirical quantile: sorted returns
    ``s``, ``h = (T - 1) p``, ``k = floor(h)``, ``q = s_k + (h - k)(s_{k+1} - s_k)``. Units: fraction per
    period. Negative when even the tail quantile is a gain. NaN for ``T == 0``.
    """
    return _historical_pair(returns, level)[:, 0].copy()


@njit(cache=True, error_model="numpy")
def historical_cvar(returns, level=0.95):
    """Historical CVaR (expected shortfall) ``-mean(s_0..s_k)``, ``k = floor((T - 1)(1 - level))``.

    The mean of the ``k + 1`` smallest returns: those at or below the type-7 VaR quantile. Positive loss
    fraction per period. NaN for ``T == 0``.
    """
    return _historical_pair(returns, level)[:, 1].copy()


@njit(cache=True, error_model="numpy")
def normal_ppf(p):
    """Standard normal quantile ``Phi^{-1}(p)`` for a scalar ``p`` in (0, 1) (full double precision)."""
    return _normal_ppf_scalar(p)


@njit(cache=True, error_model="numpy")
def _gaussian_pair(returns, level, ddof):
    """(B, 2): Gaussian VaR and CVaR of every row (NaN rows give NaN); see :func:`gaussian_var`."""
    _check_returns(returns)
    _check_level(level)
    _check_ddof(ddof)
    p = 1.0 - level
    out = np.empty((returns.shape[0], 2))
    for b in range(returns.shape[0]):
        x = returns[b]
        if _has_nan(x):
            out[b, 0] = np.nan
            out[b, 1] = np.nan
        else:
            m, sd = _mean_std(x, 0.0, ddof)
            out[b, 0], out[b, 1] = _gauss_var_cvar(m, sd, p)
    return out


@njit(cache=True, error_model="numpy")
def gaussian_var(returns, level=0.95, ddof=1):
    """Parametric (Gaussian) VaR ``-(mu + z_p sigma)``, ``z_p = Phi^{-1}(1 - level)`` (-1.645 at 95 %).

    ``mu = mean(r)``, ``sigma = std(r, ddof)``, per period (not annualised). Positive loss fraction.
    NaN if ``T - ddof < 1``.
    """
    return _gaussian_pair(returns, level, ddof)[:, 0].copy()


@njit(cache=True, error_model="numpy")
def gaussian_cvar(returns, level=0.95, ddof=1):
    """Parametric (Gaussian) CVaR ``-(mu - sigma phi(z_p) / p)``, ``p = 1 - level``, ``phi`` the normal pdf.

    The expected loss beyond the Gaussian VaR (2.063 sigma - mu at 95 %). Positive loss fraction per
    period. NaN if ``T - ddof < 1``.
    """
    return _gaussian_pair(returns, level, ddof)[:, 1].copy()


@njit(cache=True, error_model="numpy")
def _win_profit_pair(returns):
    """(B, 2): win rate and profit factor of every row (NaN rows give NaN); see :func:`win_rate`."""
    _check_returns(returns)
    out = np.empty((returns.shape[0], 2))
    for b in range(returns.shape[0]):
        x = returns[b]
        if _has_nan(x):
            out[b, 0] = np.nan
            out[b, 1] = np.nan
        else:
            out[b, 0], out[b, 1] = _win_profit_row(x)
    return out


@njit(cache=True, error_model="numpy")
def win_rate(returns):
    """Win rate ``#{t: r_t > 0} / #{t: r_t != 0}``: the fraction of winning periods among periods that
    moved. Zero-return periods (flat, no position) are excluded. NaN if every return is 0 (or ``T == 0``).
    """
    return _win_profit_pair(returns)[:, 0].copy()


@njit(cache=True, error_model="numpy")
def profit_factor(returns):
    """Profit factor ``sum(r_t | r_t > 0) / |sum(r_t | r_t < 0)|`` (simple per-period returns).

    +inf with gains and no losses, NaN with neither, 0 with losses only.
    """
    return _win_profit_pair(returns)[:, 1].copy()


@njit(cache=True, error_model="numpy")
def turnover_from_weights(weights):
    """Per-period turnover ``tau_t = 0.5 * sum_i |w_{t,i} - w_{t-1,i}|`` from (B, T, N) weights.

    ``weights[b, t]`` are the portfolio weights held after the rebalance of period ``t``. The series
    starts from cash, ``w_{-1} = 0``, so ``tau_0 = 0.5 sum_i |w_{0,i}|`` counts the initial build-up
    (drop it with ``[:, 1:]``). Drift between rebalances is not modelled: pass the per-period turnover
    series to :func:`average_turnover` directly if you have it. Returns (B, T), a fraction of value
    (1.0 = the whole portfolio replaced once).
    """
    if weights.ndim != 3:
        raise ValueError("weights must be a 3-D (B, T, N) array")
    n_series, n, n_assets = weights.shape
    out = np.empty((n_series, n))
    for b in range(n_series):
        for t in range(n):
            s = 0.0
            for i in range(n_assets):
                prev = weights[b, t - 1, i] if t > 0 else 0.0
                s += abs(weights[b, t, i] - prev)
            out[b, t] = 0.5 * s
    return out


@njit(cache=True, error_model="numpy")
def average_turnover(turnover):
    """Mean per-period turnover ``mean_t tau_t`` of a (B, T) turnover series (multiply by
    ``periods_per_year`` for annual turnover). NaN for ``T == 0`` or a NaN input."""
    _check_returns(turnover)
    out = np.empty(turnover.shape[0])
    for b in range(turnover.shape[0]):
        m, _ = _mean_std(turnover[b], 0.0, 0)
        out[b] = m
    return out


@njit(cache=True, error_model="numpy")
def beta(returns, benchmark, risk_free=0.0):
    """Beta ``cov(x, y) / var(y)``, ``x = r - risk_free``, ``y = r_b - risk_free`` (ddof cancels).

    ``benchmark`` is (B, T) or (T,). Dimensionless. NaN if the benchmark is constant.
    """
    _check_returns(returns)
    bm = _benchmark_2d(returns, benchmark)
    out = np.empty(returns.shape[0])
    for b in range(returns.shape[0]):
        y = bm[b] if bm.shape[0] > 1 else bm[0]
        v, _, _, _, _ = _benchmark_row(returns[b], y, 1.0, risk_free, 1)
        out[b] = v
    return out


@njit(cache=True, error_model="numpy")
def alpha(returns, benchmark, periods_per_year=252.0, risk_free=0.0):
    """Annualised Jensen's alpha ``(mean(r - rf) - beta * mean(r_b - rf)) * P`` (linear, not compounded).

    Units: fraction per year. NaN if the benchmark is constant.
    """
    _check_returns(returns)
    _check_ppy(periods_per_year)
    bm = _benchmark_2d(returns, benchmark)
    out = np.empty(returns.shape[0])
    for b in range(returns.shape[0]):
        y = bm[b] if bm.shape[0] > 1 else bm[0]
        _, v, _, _, _ = _benchmark_row(returns[b], y, periods_per_year, risk_free, 1)
        out[b] = v
    return out


@njit(cache=True, error_model="numpy")
def correlation(returns, benchmark):
    """Pearson correlation ``cov(r, r_b) / (std(r) std(r_b))`` of the raw returns, clipped to [-1, 1].

    Dimensionless; ``ddof`` cancels. NaN if either series is constant.
    """
    _check_returns(returns)
    bm = _benchmark_2d(returns, benchmark)
    out = np.empty(returns.shape[0])
    for b in range(returns.shape[0]):
        y = bm[b] if bm.shape[0] > 1 else bm[0]
        _, _, v, _, _ = _benchmark_row(returns[b], y, 1.0, 0.0, 1)
        out[b] = v
    return out


@njit(cache=True, error_model="numpy")
def tracking_error(returns, benchmark, periods_per_year=252.0, ddof=1):
    """Annualised tracking error ``std(r - r_b, ddof) * sqrt(P)``. Units: fraction per sqrt(year).

    NaN if ``T - ddof < 1``; exactly 0 if the active return is constant.
    """
    _check_returns(returns)
    _check_ppy(periods_per_year)
    _check_ddof(ddof)
    bm = _benchmark_2d(returns, benchmark)
    out = np.empty(returns.shape[0])
    for b in range(returns.shape[0]):
        y = bm[b] if bm.shape[0] > 1 else bm[0]
        _, _, _, v, _ = _benchmark_row(returns[b], y, periods_per_year, 0.0, ddof)
        out[b] = v
    return out


@njit(cache=True, error_model="numpy")
def information_ratio(returns, benchmark, periods_per_year=252.0, ddof=1):
    """Information ratio ``mean(r - r_b) * P / TE`` with ``TE`` the annualised tracking error.

    Equals ``mean(a) / std(a, ddof) * sqrt(P)`` for the active return ``a = r - r_b``. Dimensionless.
    NaN if the tracking error is 0 or undefined.
    """
    _check_returns(returns)
    _check_ppy(periods_per_year)
    _check_ddof(ddof)
    bm = _benchmark_2d(returns, benchmark)
    out = np.empty(returns.shape[0])
    for b in range(returns.shape[0]):
        y = bm[b] if bm.shape[0] > 1 else bm[0]
        _, _, _, _, v = _benchmark_row(returns[b], y, periods_per_year, 0.0, ddof)
        out[b] = v
    return out


# ----------------------------------------------------------------------------------------------------
# Relative to a market benchmark (capture ratios, excess return, and the fused relative kernel)
# ----------------------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _capture_row(x, y):
    """(up capture, down capture) of ``x`` against ``y``: ``mean(x_t | y_t > 0) / mean(y_t | y_t > 0)`` and
    ``mean(x_t | y_t < 0) / mean(y_t | y_t < 0)``; NaN without such periods or with a NaN in either."""
    if _has_nan(x) or _has_nan(y):
        return np.nan, np.nan
    up_x = 0.0
    up_y = 0.0
    n_up = 0
    down_x = 0.0
    down_y = 0.0
    n_down = 0
    for t in range(x.shape[0]):
        if y[t] > 0.0:
            up_x += x[t]
            up_y += y[t]
            n_up += 1
        elif y[t] < 0.0:
            down_x += x[t]
            down_y += y[t]
            n_down += 1
    up = _div(up_x / n_up, up_y / n_up) if n_up > 0 else np.nan
    down = _div(down_x / n_down, down_y / n_down) if n_down > 0 else np.nan
    return up, down


@njit(cache=True, error_model="numpy")
def _excess_return_row(x, y):
    """``total_return(x) - total_return(y)``; NaN with a NaN in either or ``T == 0``."""
    if x.shape[0] == 0 or _has_nan(x) or _has_nan(y):
        return np.nan
    return _total_return_row(x) - _total_return_row(y)


@njit(cache=True, error_model="numpy")
def up_capture(returns, benchmark):
    """Up-market capture ratio ``mean(r_t : b_t > 0) / mean(b_t : b_t > 0)`` (arithmetic means of simple
    returns over the periods where the benchmark rose).

    1 = the series gained as much as the benchmark on its up periods, on average; a series twice the
    benchmark has 2. Dimensionless. NaN if the benchmark never rose (or a NaN in either series).
    ``benchmark`` is (B, T) or (T,).
    """
    _check_returns(returns)
    bm = _benchmark_2d(returns, benchmark)
    out = np.empty(returns.shape[0])
    for b in range(returns.shape[0]):
        y = bm[b] if bm.shape[0] > 1 else bm[0]
        up, _ = _capture_row(returns[b], y)
        out[b] = up
    return out


@njit(cache=True, error_model="numpy")
def down_capture(returns, benchmark):
    """Down-market capture ratio ``mean(r_t : b_t < 0) / mean(b_t : b_t < 0)`` (arithmetic means over the
    periods where the benchmark fell).

    Below 1 = the series lost less than the benchmark on its down periods (lower is better; negative = it
    gained on them on average). Dimensionless. NaN if the benchmark never fell (or a NaN in either series).
    ``benchmark`` is (B, T) or (T,).
    """
    _check_returns(returns)
    bm = _benchmark_2d(returns, benchmark)
    out = np.empty(returns.shape[0])
    for b in range(returns.shape[0]):
        y = bm[b] if bm.shape[0] > 1 else bm[0]
        _, down = _capture_row(returns[b], y)
        out[b] = down
    return out


@njit(cache=True, error_model="numpy")
def excess_return(returns, benchmark):
    """Excess total return ``prod_t(1 + r_t) - prod_t(1 + b_t)`` (compounded over the series; a fraction of
    the initial value, not annualised). NaN for ``T == 0`` or a NaN in either series."""
    _check_returns(returns)
    bm = _benchmark_2d(returns, benchmark)
    out = np.empty(returns.shape[0])
    for b in range(returns.shape[0]):
        y = bm[b] if bm.shape[0] > 1 else bm[0]
        out[b] = _excess_return_row(returns[b], y)
    return out


@njit(cache=True, error_model="numpy")
def relative_metrics_kernel(returns, benchmark, periods_per_year, risk_free, ddof):
    """Every metric of :data:`RELATIVE_METRIC_NAMES` of every series against its benchmark, in one call.

    ``returns`` (B, T), ``benchmark`` (B, T) or (T,). Returns a (7, B) float64 array whose rows are
    :func:`excess_return`, :func:`beta`, :func:`alpha` (annualised, linear: ``(mean(x) - beta mean(y)) P``),
    :func:`tracking_error` (``std(r - b, ddof) sqrt(P)``), :func:`information_ratio` (``mean(r - b) P / TE``),
    :func:`up_capture` and :func:`down_capture` -- equal to the individual kernels' values exactly (same
    per-series helpers).
    """
    _check_returns(returns)
    _check_ppy(periods_per_year)
    _check_ddof(ddof)
    bm = _benchmark_2d(returns, benchmark)
    out = np.empty((7, returns.shape[0]), dtype=np.float64)
    for b in range(returns.shape[0]):
        x = returns[b]
        y = bm[b] if bm.shape[0] > 1 else bm[0]
        bt, al, _, te, ir = _benchmark_row(x, y, periods_per_year, risk_free, ddof)
        up, down = _capture_row(x, y)
        out[0, b] = _excess_return_row(x, y)
        out[1, b] = bt
        out[2, b] = al
        out[3, b] = te
        out[4, b] = ir
        out[5, b] = up
        out[6, b] = down
    return out


# ----------------------------------------------------------------------------------------------------
# Convenience (plain Python)
# ----------------------------------------------------------------------------------------------------
def summary_metrics(
    returns,
    benchmark=None,
    periods_per_year: float = 252,
    risk_free: float = 0.0,
    ddof: int = 1,
    *,
    level: float = 0.95,
    turnover=None,
) -> dict[str, np.ndarray]:
    """Every metric of every series, by name, from one call of :func:`summary_kernel`.

    Args:
        returns: (B, T) or (T,) simple returns per period (a (T,) input is treated as B = 1).
        benchmark: optional (B, T) or (T,) benchmark simple returns; adds :data:`BENCHMARK_METRIC_NAMES`.
        periods_per_year: annualisation factor P (252 daily, 52 weekly, 12 monthly).
        risk_free: risk-free rate per period.
        ddof: delta degrees of freedom of standard deviations (1 = sample).
        level: VaR / CVaR confidence level.
        turnover: optional (B, T) per-period turnover; adds ``"average_turnover"``.

    Returns:
        ``{name: (B,) float64 array}`` with the keys of :data:`SUMMARY_METRIC_NAMES` (+ benchmark metrics,
        + ``"average_turnover"``). The keys are the names of the individual kernels, which give identical
        values.
    """
    r = np.ascontiguousarray(returns, dtype=np.float64)
    if r.ndim == 1:
        r = r[None, :]
    if r.ndim != 2:
        raise ValueError(f"returns must be (B, T) or (T,), got shape {np.shape(returns)}")
    has_benchmark = benchmark is not None
    bm = np.ascontiguousarray(benchmark, dtype=np.float64) if has_benchmark else r
    if bm.ndim == 1:
        bm = bm[None, :]
    if has_benchmark and (bm.ndim != 2 or bm.shape[1] != r.shape[1] or bm.shape[0] not in (1, r.shape[0])):
        raise ValueError(
            f"benchmark must be (B, T) = {r.shape} or (T,) = ({r.shape[1]},), got shape {np.shape(benchmark)}"
        )
    out = summary_kernel(
        r, bm, has_benchmark, float(periods_per_year), float(risk_free), int(ddof), float(level)
    )
    names = SUMMARY_METRIC_NAMES + (BENCHMARK_METRIC_NAMES if has_benchmark else ())
    result = {name: out[k] for k, name in enumerate(names)}
    if turnover is not None:
        tv = np.ascontiguousarray(turnover, dtype=np.float64)
        if tv.ndim == 1:
            tv = tv[None, :]
        if tv.ndim != 2 or tv.shape[0] != r.shape[0]:
            raise ValueError(
                f"turnover must be (B, T') with B = {r.shape[0]}, got shape {np.shape(turnover)}"
            )
        result["average_turnover"] = average_turnover(tv)
    return result


def relative_metrics(
    returns, benchmark, periods_per_year: float = 252, risk_free: float = 0.0, ddof: int = 1
) -> dict[str, np.ndarray]:
    """:data:`RELATIVE_METRIC_NAMES` of every series against ``benchmark``, from one call of
    :func:`relative_metrics_kernel`.

    Args:
        returns: (B, T) or (T,) simple returns per period.
        benchmark: (B, T) or (T,) benchmark simple returns over the same periods.
        periods_per_year: annualisation factor P of alpha, tracking error and information ratio.
        risk_free: risk-free rate per period (beta and alpha only).
        ddof: delta degrees of freedom of the tracking error.

    Returns:
        ``{name: (B,) float64 array}``; each key is the name of the individual kernel that gives the
        identical value.
    """
    r = np.ascontiguousarray(returns, dtype=np.float64)
    if r.ndim == 1:
        r = r[None, :]
    bm = np.ascontiguousarray(benchmark, dtype=np.float64)
    if bm.ndim == 1:
        bm = bm[None, :]
    if r.ndim != 2 or bm.ndim != 2 or bm.shape[1] != r.shape[1] or bm.shape[0] not in (1, r.shape[0]):
        raise ValueError(
            f"returns must be (B, T) or (T,) and benchmark (B, T) or (T,) with the same T; got shapes "
            f"{np.shape(returns)} and {np.shape(benchmark)}"
        )
    out = relative_metrics_kernel(r, bm, float(periods_per_year), float(risk_free), int(ddof))
    return {name: out[k] for k, name in enumerate(RELATIVE_METRIC_NAMES)}
