"""Technical indicators as pure Numba kernels.

Conventions
-----------
* **Inputs** are 1-D ``float64`` arrays of length ``T`` (time on axis 0, oldest bar first): ``open``,
  ``high``, ``low``, ``close`` in price units, ``volume`` in shares (or contracts). Multi-input kernels
  expect equal lengths.
* **Outputs** are fresh 1-D ``float64`` arrays of length ``T``. The first ``lookback`` entries are NaN
  (the warm-up); every later entry is finite for finite inputs. Kernels with several outputs return a
  tuple of such arrays, all with the same warm-up.
* **Lookback** is the number of leading NaNs. Where TA-Lib has the indicator, the lookback, the
  seeding and the smoothing are TA-Lib's (default "unstable period" 0): e.g. EMA is seeded with the SMA
  of its first ``n`` inputs, RSI/ATR/ADX use Wilder smoothing seeded with a plain average, STDDEV is the
  population standard deviation, BETA regresses simple returns computed from prices. Each docstring
  states its lookback; ``INDICATORS[name].lookback(**params)`` returns it as a number.
* **No look-ahead**: the output at ``t`` depends only on inputs at indices ``<= t``.
* **Degenerate denominators** (zero range, zero volume, zero variance) give the documented neutral value
  (mostly 0) instead of inf/NaN. Zero is tested exactly (``== 0.0``); TA-Lib uses ``|x| < 1e-8``
  instead, which only differs on such degenerate windows.
* **NaN inputs are not supported**: outputs over windows that contain a NaN are unspecified (mostly
  NaN; recursive indicators stay NaN afterwards). Validate data at the edge (the loaders do).
* Percent-valued oscillators (RSI, STOCH, WILLR, MFI, ...) are in percent (0..100 or -100..0), price
  overlays (SMA, BBANDS, KAMA, ...) in price units, volatilities per bar (not annualised).

Panels
------
``*_panel`` kernels apply an indicator column-wise to ``(T, N)`` arrays (``N`` assets) and return
``(T, N)``. :func:`compute_indicator_panel` does the same for any registered indicator by name.

Registry
--------
``INDICATORS`` maps a lowercase name to an :class:`IndicatorSpec` (kernel, inputs, default parameters,
outputs, lookback) so feature builders can enumerate indicators without knowing each signature.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
from numba import njit

from wealtharena_env.errors import ConfigError, WealthArenaDataError

# --------------------------------------------------------------------------------------------------
# internal helpers
# --------------------------------------------------------------------------------------------------


@njit(cache=True)
def _nans(n):
    """Return a float64 array of length n filled with NaN (helper; out = NaN)."""
    out = np.empty(n, dtype=np.float64)
    out[:] = np.nan
    return out


@njit(cache=True)
def _check_period(period, minimum):
    """Raise ValueError unless period >= minimum (helper)."""
    if period < minimum:
        raise ValueError("indicator period is below its minimum (see the kernel docstring)")


@njit(cache=True)
def _sma_from(x, first, period):
    """SMA_t = (1/n) * sum_{i=t-n+1..t} x_i for t >= first+n-1; x is only read from index first."""
    T = x.shape[0]
    out = _nans(T)
    for t in range(first + period - 1, T):
        s = 0.0
        for i in range(t - period + 1, t + 1):
            s += x[i]
        out[t] = s / period
    return out


@njit(cache=True)
def _ema_from(x, first, period, k):
    """EMA_t = EMA_{t-1} + k*(x_t - EMA_{t-1}), seeded at t0 = first+n-1 with mean(x[first..t0])."""
    T = x.shape[0]
    out = _nans(T)
    seed_end = first + period - 1
    if first < 0 or seed_end >= T:
        return out
    s = 0.0
    for i in range(first, seed_end + 1):
        s += x[i]
    prev = s / period
    out[seed_end] = prev
    for t in range(seed_end + 1, T):
        prev = (x[t] - prev) * k + prev
        out[t] = prev
    return out


@njit(cache=True)
def _window_max(x, t, period):
    """max_{i=t-n+1..t} x_i (helper)."""
    m = x[t - period + 1]
    for i in range(t - period + 2, t + 1):
        m = max(m, x[i])
    return m


@njit(cache=True)
def _window_min(x, t, period):
    """min_{i=t-n+1..t} x_i (helper)."""
    m = x[t - period + 1]
    for i in range(t - period + 2, t + 1):
        m = min(m, x[i])
    return m


@njit(cache=True)
def _window_var(x, t, period):
    """Population variance of x[t-n+1..t]: var = (1/n) * sum (x_i - mean)^2 (two-pass, helper)."""
    s = 0.0
    for i in range(t - period + 1, t + 1):
        s += x[i]
    mean = s / period
    ss = 0.0
    for i in range(t - period + 1, t + 1):
        d = x[i] - mean
        ss += d * d
    return ss / period


@njit(cache=True)
def _true_range_raw(high, low, close):
    """TR_t = max(H_t, C_{t-1}) - min(L_t, C_{t-1}) for t >= 1; TR_0 = NaN (helper)."""
    T = close.shape[0]
    tr = _nans(T)
    for t in range(1, T):
        hi = max(close[t - 1], high[t])
        lo = min(close[t - 1], low[t])
        tr[t] = hi - lo
    return tr


@njit(cache=True)
def _wilder_atr_seeded_at(tr, seed_end, period):
    """ATR_t0 = mean(TR[t0-n+1..t0]) at t0 = seed_end, then ATR_t = (ATR_{t-1}*(n-1) + TR_t)/n."""
    T = tr.shape[0]
    out = _nans(T)
    if seed_end >= T or seed_end - period + 1 < 1:
        return out
    s = 0.0
    for i in range(seed_end - period + 1, seed_end + 1):
        s += tr[i]
    prev = s / period
    out[seed_end] = prev
    for t in range(seed_end + 1, T):
        prev = (prev * (period - 1) + tr[t]) / period
        out[t] = prev
    return out


@njit(cache=True)
def _directional_movement(high, low):
    """+DM_t = up if up > down and up > 0 else 0, -DM_t = down if down > up and down > 0 else 0,
    with up = H_t - H_{t-1}, down = L_{t-1} - L_t, for t >= 1 (helper)."""
    T = high.shape[0]
    pdm = np.zeros(T)
    mdm = np.zeros(T)
    for t in range(1, T):
        up = high[t] - high[t - 1]
        down = low[t - 1] - low[t]
        if up > down and up > 0.0:
            pdm[t] = up
        elif down > up and down > 0.0:
            mdm[t] = down
    return pdm, mdm


@njit(cache=True)
def _wilder_sum(x, period):
    """S_{n-1} = sum_{i=1..n-1} x_i, then S_t = S_{t-1} - S_{t-1}/n + x_t (Wilder running sum, helper).
    Returns S with NaN before index n-1."""
    T = x.shape[0]
    out = _nans(T)
    if period - 1 >= T:
        return out
    s = 0.0
    for i in range(1, period):
        s += x[i]
    out[period - 1] = s
    for t in range(period, T):
        s = s - s / period + x[t]
        out[t] = s
    return out


@njit(cache=True)
def _directional_indicators(high, low, close, period):
    """+DI_t = 100*S(+DM)_t/S(TR)_t and -DI_t = 100*S(-DM)_t/S(TR)_t with Wilder sums S (helper).
    Valid from t = n (t = 1 when n = 1); 0 where S(TR) = 0."""
    T = close.shape[0]
    pdi = _nans(T)
    mdi = _nans(T)
    pdm, mdm = _directional_movement(high, low)
    tr = _true_range_raw(high, low, close)
    if period == 1:
        for t in range(1, T):
            if tr[t] != 0.0:
                pdi[t] = 100.0 * (pdm[t] / tr[t])
                mdi[t] = 100.0 * (mdm[t] / tr[t])
            else:
                pdi[t] = 0.0
                mdi[t] = 0.0
        return pdi, mdi
    spdm = _wilder_sum(pdm, period)
    smdm = _wilder_sum(mdm, period)
    str_ = _wilder_sum(tr, period)
    for t in range(period, T):
        if str_[t] != 0.0:
            pdi[t] = 100.0 * (spdm[t] / str_[t])
            mdi[t] = 100.0 * (smdm[t] / str_[t])
        else:
            pdi[t] = 0.0
            mdi[t] = 0.0
    return pdi, mdi


@njit(cache=True)
def _typical_price(high, low, close):
    """TP_t = (H_t + L_t + C_t) / 3 (helper)."""
    return (high + low + close) / 3.0


@njit(cache=True)
def _close_location_value(high, low, close):
    """CLV_t = ((C_t - L_t) - (H_t - C_t)) / (H_t - L_t), 0 when H_t = L_t (helper, in [-1, 1])."""
    T = close.shape[0]
    out = np.zeros(T)
    for t in range(T):
        rng = high[t] - low[t]
        if not rng <= 0.0:
            out[t] = ((close[t] - low[t]) - (high[t] - close[t])) / rng
    return out


# --------------------------------------------------------------------------------------------------
# moving averages (price units)
# --------------------------------------------------------------------------------------------------


@njit(cache=True)
def sma(x, period=30):
    """Simple moving average. SMA_t = (1/n) * sum_{i=0..n-1} x_{t-i}. Units of x. Lookback n-1.
    TA-Lib: SMA."""
    _check_period(period, 1)
    return _sma_from(x, 0, period)


@njit(cache=True)
def ema(x, period=30):
    """Exponential moving average. EMA_t = a*x_t + (1-a)*EMA_{t-1}, a = 2/(n+1), seeded at t = n-1 with
    the SMA of the first n values. Units of x. Lookback n-1. TA-Lib: EMA."""
    _check_period(period, 1)
    return _ema_from(x, 0, period, 2.0 / (period + 1.0))


@njit(cache=True)
def wilder_ma(x, period=30):
    """Wilder's moving average (RMA, SMMA). RMA_t = RMA_{t-1} + (x_t - RMA_{t-1})/n, seeded at t = n-1
    with the SMA of the first n values. Units of x. Lookback n-1. TA-Lib: RMA."""
    _check_period(period, 1)
    return _ema_from(x, 0, period, 1.0 / period)


@njit(cache=True)
def wma(x, period=30):
    """Linearly weighted moving average. WMA_t = sum_{i=0..n-1} (n-i)*x_{t-i} / (n(n+1)/2).
    Units of x. Lookback n-1. TA-Lib: WMA."""
    _check_period(period, 1)
    T = x.shape[0]
    out = _nans(T)
    denom = period * (period + 1) / 2.0
    for t in range(period - 1, T):
        s = 0.0
        for i in range(period):
            s += (period - i) * x[t - i]
        out[t] = s / denom
    return out


@njit(cache=True)
def dema(x, period=30):
    """Double EMA. DEMA = 2*E1 - E2 with E1 = EMA(x, n), E2 = EMA(E1, n) (each EMA seeded with the SMA
    of its first n inputs). Units of x. Lookback 2(n-1). TA-Lib: DEMA."""
    _check_period(period, 1)
    k = 2.0 / (period + 1.0)
    e1 = _ema_from(x, 0, period, k)
    e2 = _ema_from(e1, period - 1, period, k)
    return 2.0 * e1 - e2


@njit(cache=True)
def tema(x, period=30):
    """Triple EMA. TEMA = 3*E1 - 3*E2 + E3 with E1 = EMA(x), E2 = EMA(E1), E3 = EMA(E2), all with period
    n and SMA seeding. Units of x. Lookback 3(n-1). TA-Lib: TEMA."""
    _check_period(period, 1)
    k = 2.0 / (period + 1.0)
    e1 = _ema_from(x, 0, period, k)
    e2 = _ema_from(e1, period - 1, period, k)
    e3 = _ema_from(e2, 2 * (period - 1), period, k)
    return 3.0 * e1 - 3.0 * e2 + e3


@njit(cache=True)
def trima(x, period=30):
    """Triangular moving average. TRIMA_t = sum_{i=0..n-1} w_i*x_{t-i} / sum w_i with triangular weights
    w_i = min(i+1, n-i) (1,2,..,2,1), i.e. an SMA of an SMA. Units of x. Lookback n-1. TA-Lib: TRIMA."""
    _check_period(period, 1)
    T = x.shape[0]
    out = _nans(T)
    wsum = 0.0
    for i in range(period):
        wsum += min(i + 1, period - i)
    for t in range(period - 1, T):
        s = 0.0
        for i in range(period):
            s += min(i + 1, period - i) * x[t - i]
        out[t] = s / wsum
    return out


@njit(cache=True)
def kama(x, period=30):
    """Kaufman adaptive moving average. ER_t = |x_t - x_{t-n}| / sum_{i=t-n+1..t} |x_i - x_{i-1}|
    (ER = 1 when the sum is 0), sc_t = (ER_t*(2/3 - 2/31) + 2/31)^2,
    KAMA_t = KAMA_{t-1} + sc_t*(x_t - KAMA_{t-1}), started with KAMA_{n-1} = x_{n-1}. Units of x.
    Lookback n. TA-Lib: KAMA."""
    _check_period(period, 1)
    T = x.shape[0]
    out = _nans(T)
    if period >= T:
        return out
    fast = 2.0 / 3.0
    slow = 2.0 / 31.0
    prev = x[period - 1]
    for t in range(period, T):
        noise = 0.0
        for i in range(t - period + 1, t + 1):
            noise += abs(x[i] - x[i - 1])
        signal = abs(x[t] - x[t - period])
        if noise == 0.0 or noise <= signal:
            er = 1.0
        else:
            er = signal / noise
        sc = er * (fast - slow) + slow
        sc = sc * sc
        prev = (x[t] - prev) * sc + prev
        out[t] = prev
    return out


@njit(cache=True)
def t3(x, period=5, vfactor=0.7):
    """Tillson T3. Six chained EMAs e1..e6 (period n, each seeded with the SMA of its first n inputs);
    T3 = c1*e6 + c2*e5 + c3*e4 + c4*e3 with v = vfactor, c1 = -v^3, c2 = 3v^2 + 3v^3,
    c3 = -6v^2 - 3v - 3v^3, c4 = 1 + 3v + v^3 + 3v^2. Units of x. Lookback 6(n-1). TA-Lib: T3."""
    _check_period(period, 1)
    k = 2.0 / (period + 1.0)
    e1 = _ema_from(x, 0, period, k)
    e2 = _ema_from(e1, period - 1, period, k)
    e3 = _ema_from(e2, 2 * (period - 1), period, k)
    e4 = _ema_from(e3, 3 * (period - 1), period, k)
    e5 = _ema_from(e4, 4 * (period - 1), period, k)
    e6 = _ema_from(e5, 5 * (period - 1), period, k)
    v = vfactor
    c1 = -v * v * v
    c2 = 3.0 * v * v + 3.0 * v * v * v
    c3 = -6.0 * v * v - 3.0 * v - 3.0 * v * v * v
    c4 = 1.0 + 3.0 * v + v * v * v + 3.0 * v * v
    return c1 * e6 + c2 * e5 + c3 * e4 + c4 * e3


@njit(cache=True)
def hma(x, period=20):
    """Hull moving average. HMA = WMA(2*WMA(x, n//2) - WMA(x, n), floor(sqrt(n))). Units of x.
    Lookback (n-1) + (floor(sqrt(n))-1). TA-Lib: HMA."""
    _check_period(period, 2)
    half = period // 2
    root = int(math.sqrt(period))  # floor for period >= 1
    raw = 2.0 * wma(x, half) - wma(x, period)
    T = x.shape[0]
    out = _nans(T)
    denom = root * (root + 1) / 2.0
    for t in range(period - 1 + root - 1, T):
        s = 0.0
        for i in range(root):
            s += (root - i) * raw[t - i]
        out[t] = s / denom
    return out


@njit(cache=True)
def zlema(x, period=30):
    """Zero-lag EMA. With lag = (n-1)//2, y_t = 2*x_t - x_{t-lag} and ZLEMA = EMA(y, n) seeded with the
    SMA of the first n values of y. Units of x. Lookback lag + n - 1. TA-Lib: ZLEMA."""
    _check_period(period, 1)
    T = x.shape[0]
    lag = (period - 1) // 2
    y = _nans(T)
    for t in range(lag, T):
        y[t] = 2.0 * x[t] - x[t - lag]
    return _ema_from(y, lag, period, 2.0 / (period + 1.0))


@njit(cache=True)
def vwma(close, volume, period=30):
    """Volume-weighted moving average. VWMA_t = sum C_i*V_i / sum V_i over the last n bars (the plain
    mean of C when the volume sum is 0). Price units. Lookback n-1. TA-Lib: VWMA."""
    _check_period(period, 1)
    T = close.shape[0]
    out = _nans(T)
    for t in range(period - 1, T):
        num = 0.0
        den = 0.0
        plain = 0.0
        for i in range(t - period + 1, t + 1):
            num += close[i] * volume[i]
            den += volume[i]
            plain += close[i]
        out[t] = num / den if den != 0.0 else plain / period
    return out


# --------------------------------------------------------------------------------------------------
# momentum
# --------------------------------------------------------------------------------------------------


@njit(cache=True)
def rsi(close, period=14):
    """Relative strength index (Wilder). G_t = max(dC_t, 0), L_t = max(-dC_t, 0); AG_n = mean(G_1..G_n),
    AG_t = (AG_{t-1}*(n-1) + G_t)/n (same for AL); RSI_t = 100*AG_t/(AG_t + AL_t), 0 when both are 0.
    Percent (0..100). Lookback n. TA-Lib: RSI."""
    _check_period(period, 1)
    T = close.shape[0]
    out = _nans(T)
    if period >= T:
        return out
    gain = 0.0
    loss = 0.0
    for t in range(1, period + 1):
        d = close[t] - close[t - 1]
        if d > 0.0:
            gain += d
        else:
            loss -= d
    gain /= period
    loss /= period
    s = gain + loss
    out[period] = 100.0 * (gain / s) if s != 0.0 else 0.0
    for t in range(period + 1, T):
        d = close[t] - close[t - 1]
        g = max(0.0, d)
        lo = -d if d < 0.0 else 0.0
        gain = (gain * (period - 1) + g) / period
        loss = (loss * (period - 1) + lo) / period
        s = gain + loss
        out[t] = 100.0 * (gain / s) if s != 0.0 else 0.0
    return out


@njit(cache=True)
def cmo(close, period=14):
    """Chande momentum oscillator with Wilder-smoothed gains/losses (as TA-Lib):
    CMO_t = 100*(AG_t - AL_t)/(AG_t + AL_t), AG/AL as in RSI; 0 when AG + AL = 0. Percent (-100..100).
    Lookback n. TA-Lib: CMO."""
    _check_period(period, 1)
    T = close.shape[0]
    out = _nans(T)
    if period >= T:
        return out
    gain = 0.0
    loss = 0.0
    for t in range(1, period + 1):
        d = close[t] - close[t - 1]
        if d > 0.0:
            gain += d
        else:
            loss -= d
    gain /= period
    loss /= period
    s = gain + loss
    out[period] = 100.0 * ((gain - loss) / s) if s != 0.0 else 0.0
    for t in range(period + 1, T):
        d = close[t] - close[t - 1]
        g = max(0.0, d)
        lo = -d if d < 0.0 else 0.0
        gain = (gain * (period - 1) + g) / period
        loss = (loss * (period - 1) + lo) / period
        s = gain + loss
        out[t] = 100.0 * ((gain - loss) / s) if s != 0.0 else 0.0
    return out


@njit(cache=True)
def macd(close, fast=12, slow=26, signal=9):
    """Moving average convergence/divergence. MACD = EMA_fast - EMA_slow, SIGNAL = EMA(MACD, signal),
    HIST = MACD - SIGNAL. Seeding as TA-Lib: both EMAs start at t = slow-1 (the fast EMA is seeded with
    the SMA of the `fast` bars ending at slow-1), the signal EMA with the SMA of the first `signal` MACD
    values. fast and slow are swapped if fast > slow. Price units. Returns (macd, signal, hist), all with
    lookback (slow-1) + (signal-1). TA-Lib: MACD."""
    _check_period(fast, 1)
    _check_period(slow, 1)
    _check_period(signal, 1)
    if fast > slow:
        fast, slow = slow, fast
    slow_ema = _ema_from(close, 0, slow, 2.0 / (slow + 1.0))
    fast_ema = _ema_from(close, slow - fast, fast, 2.0 / (fast + 1.0))
    line = fast_ema - slow_ema
    sig = _ema_from(line, slow - 1, signal, 2.0 / (signal + 1.0))
    hist = line - sig
    lookback = slow - 1 + signal - 1
    T = close.shape[0]
    for t in range(min(lookback, T)):
        line[t] = np.nan
    return line, sig, hist


@njit(cache=True)
def _price_oscillator_mas(close, fast, slow, ma_type):
    """Fast and slow moving averages for APO/PPO (ma_type 0 = SMA, 1 = EMA; helper)."""
    if ma_type == 0:
        return _sma_from(close, 0, fast), _sma_from(close, 0, slow)
    f = _ema_from(close, 0, fast, 2.0 / (fast + 1.0))
    s = _ema_from(close, 0, slow, 2.0 / (slow + 1.0))
    return f, s


@njit(cache=True)
def apo(close, fast=12, slow=26, ma_type=1):
    """Absolute price oscillator. APO_t = MA_fast_t - MA_slow_t, MA = SMA (ma_type 0) or EMA (ma_type 1,
    each EMA seeded with the SMA of its own first values); fast/slow swapped if fast > slow.
    Price units. Lookback slow-1. TA-Lib: APO."""
    _check_period(fast, 1)
    _check_period(slow, 1)
    if fast > slow:
        fast, slow = slow, fast
    f, s = _price_oscillator_mas(close, fast, slow, ma_type)
    return f - s


@njit(cache=True)
def ppo(close, fast=12, slow=26, ma_type=1):
    """Percentage price oscillator. PPO_t = 100*(MA_fast_t - MA_slow_t)/MA_slow_t (0 when MA_slow = 0),
    MA as in APO. Percent. Lookback slow-1. TA-Lib: PPO."""
    _check_period(fast, 1)
    _check_period(slow, 1)
    if fast > slow:
        fast, slow = slow, fast
    f, s = _price_oscillator_mas(close, fast, slow, ma_type)
    T = close.shape[0]
    out = _nans(T)
    for t in range(slow - 1, T):
        out[t] = ((f[t] - s[t]) / s[t]) * 100.0 if s[t] != 0.0 else 0.0
    return out


@njit(cache=True)
def mom(x, period=10):
    """Momentum. MOM_t = x_t - x_{t-n}. Units of x. Lookback n. TA-Lib: MOM."""
    _check_period(period, 1)
    T = x.shape[0]
    out = _nans(T)
    for t in range(period, T):
        out[t] = x[t] - x[t - period]
    return out


@njit(cache=True)
def roc(x, period=10):
    """Rate of change. ROC_t = 100*(x_t/x_{t-n} - 1) (0 when x_{t-n} = 0). Percent. Lookback n.
    TA-Lib: ROC."""
    _check_period(period, 1)
    T = x.shape[0]
    out = _nans(T)
    for t in range(period, T):
        p = x[t - period]
        out[t] = (x[t] / p - 1.0) * 100.0 if p != 0.0 else 0.0
    return out


@njit(cache=True)
def rocp(x, period=10):
    """Rate of change as a fraction. ROCP_t = (x_t - x_{t-n})/x_{t-n} (0 when x_{t-n} = 0).
    Dimensionless. Lookback n. TA-Lib: ROCP."""
    _check_period(period, 1)
    T = x.shape[0]
    out = _nans(T)
    for t in range(period, T):
        p = x[t - period]
        out[t] = (x[t] - p) / p if p != 0.0 else 0.0
    return out


@njit(cache=True)
def rocr(x, period=10):
    """Rate of change ratio. ROCR_t = x_t/x_{t-n} (0 when x_{t-n} = 0). Dimensionless. Lookback n.
    TA-Lib: ROCR."""
    _check_period(period, 1)
    T = x.shape[0]
    out = _nans(T)
    for t in range(period, T):
        p = x[t - period]
        out[t] = x[t] / p if p != 0.0 else 0.0
    return out


@njit(cache=True)
def rocr100(x, period=10):
    """Rate of change ratio in percent. ROCR100_t = 100*x_t/x_{t-n} (0 when x_{t-n} = 0). Percent.
    Lookback n. TA-Lib: ROCR100."""
    _check_period(period, 1)
    T = x.shape[0]
    out = _nans(T)
    for t in range(period, T):
        p = x[t - period]
        out[t] = (x[t] / p) * 100.0 if p != 0.0 else 0.0
    return out


@njit(cache=True)
def _fast_k_from(high, low, close, first, period):
    """%K_t = 100*(C_t - LL_t)/(HH_t - LL_t) over the last n bars (0 when HH = LL), for
    t >= first+n-1 (helper)."""
    T = close.shape[0]
    out = _nans(T)
    for t in range(first + period - 1, T):
        hh = _window_max(high, t, period)
        ll = _window_min(low, t, period)
        rng = hh - ll
        out[t] = 100.0 * ((close[t] - ll) / rng) if rng != 0.0 else 0.0
    return out


@njit(cache=True)
def stoch(high, low, close, fastk_period=5, slowk_period=3, slowd_period=3):
    """Slow stochastic. fastK_t = 100*(C_t - LL_k)/(HH_k - LL_k) over fastk_period bars (0 if flat),
    slowK = SMA(fastK, slowk_period), slowD = SMA(slowK, slowd_period). Percent. Returns (slowk, slowd),
    both with lookback (fastk-1) + (slowk-1) + (slowd-1). TA-Lib: STOCH with SMA smoothing."""
    _check_period(fastk_period, 1)
    _check_period(slowk_period, 1)
    _check_period(slowd_period, 1)
    fk = _fast_k_from(high, low, close, 0, fastk_period)
    sk = _sma_from(fk, fastk_period - 1, slowk_period)
    sd = _sma_from(sk, fastk_period - 1 + slowk_period - 1, slowd_period)
    lookback = fastk_period - 1 + slowk_period - 1 + slowd_period - 1
    for t in range(min(lookback, close.shape[0])):
        sk[t] = np.nan
    return sk, sd


@njit(cache=True)
def stochf(high, low, close, fastk_period=5, fastd_period=3):
    """Fast stochastic. fastK_t = 100*(C_t - LL)/(HH - LL) over fastk_period bars (0 if flat),
    fastD = SMA(fastK, fastd_period). Percent. Returns (fastk, fastd), both with lookback
    (fastk-1) + (fastd-1). TA-Lib: STOCHF with SMA smoothing."""
    _check_period(fastk_period, 1)
    _check_period(fastd_period, 1)
    fk = _fast_k_from(high, low, close, 0, fastk_period)
    fd = _sma_from(fk, fastk_period - 1, fastd_period)
    for t in range(min(fastk_period - 1 + fastd_period - 1, close.shape[0])):
        fk[t] = np.nan
    return fk, fd


@njit(cache=True)
def stochrsi(close, period=14, fastk_period=5, fastd_period=3):
    """Stochastic RSI. R = RSI(close, period); fastK_t = 100*(R_t - min R)/(max R - min R) over
    fastk_period values (0 if flat); fastD = SMA(fastK, fastd_period). Percent. Returns (fastk, fastd),
    both with lookback period + (fastk-1) + (fastd-1). TA-Lib: STOCHRSI with SMA smoothing."""
    _check_period(period, 1)
    _check_period(fastk_period, 1)
    _check_period(fastd_period, 1)
    r = rsi(close, period)
    fk = _fast_k_from(r, r, r, period, fastk_period)
    fd = _sma_from(fk, period + fastk_period - 1, fastd_period)
    for t in range(min(period + fastk_period - 1 + fastd_period - 1, close.shape[0])):
        fk[t] = np.nan
    return fk, fd


@njit(cache=True)
def willr(high, low, close, period=14):
    """Williams %R. WILLR_t = -100*(HH_t - C_t)/(HH_t - LL_t) over the last n bars (0 if flat).
    Percent (-100..0). Lookback n-1. TA-Lib: WILLR."""
    _check_period(period, 1)
    T = close.shape[0]
    out = _nans(T)
    for t in range(period - 1, T):
        hh = _window_max(high, t, period)
        ll = _window_min(low, t, period)
        rng = hh - ll
        out[t] = -100.0 * ((hh - close[t]) / rng) if rng != 0.0 else 0.0
    return out


@njit(cache=True)
def cci(high, low, close, period=14):
    """Commodity channel index. TP = (H+L+C)/3, MA_t = mean(TP over n), MD_t = mean(|TP_i - MA_t|) over n,
    CCI_t = (TP_t - MA_t)/(0.015*MD_t) (0 when MD = 0). Dimensionless. Lookback n-1. TA-Lib: CCI."""
    _check_period(period, 1)
    tp = _typical_price(high, low, close)
    T = close.shape[0]
    out = _nans(T)
    for t in range(period - 1, T):
        s = 0.0
        for i in range(t - period + 1, t + 1):
            s += tp[i]
        mean = s / period
        md = 0.0
        for i in range(t - period + 1, t + 1):
            md += abs(tp[i] - mean)
        md /= period
        dev = tp[t] - mean
        out[t] = dev / (0.015 * md) if (md != 0.0 and dev != 0.0) else 0.0
    return out


@njit(cache=True)
def ultosc(high, low, close, period1=7, period2=14, period3=28):
    """Ultimate oscillator. BP_t = C_t - min(L_t, C_{t-1}), TR_t = max(H_t, C_{t-1}) - min(L_t, C_{t-1});
    A_k = sum BP / sum TR over p_k bars; with the periods sorted p1 <= p2 <= p3,
    ULTOSC = 100*(4*A_1 + 2*A_2 + A_3)/7 (a term is 0 when its TR sum is 0). Percent.
    Lookback max(p1, p2, p3). TA-Lib: ULTOSC."""
    _check_period(period1, 1)
    _check_period(period2, 1)
    _check_period(period3, 1)
    p = np.empty(3, dtype=np.int64)
    p[0] = min(period1, period2, period3)
    p[2] = max(period1, period2, period3)
    p[1] = period1 + period2 + period3 - p[0] - p[2]
    T = close.shape[0]
    bp = np.zeros(T)
    tr = np.zeros(T)
    for t in range(1, T):
        lo = min(close[t - 1], low[t])
        hi = max(close[t - 1], high[t])
        bp[t] = close[t] - lo
        tr[t] = hi - lo
    out = _nans(T)
    weights = np.array([4.0, 2.0, 1.0])
    for t in range(p[2], T):
        acc = 0.0
        for k in range(3):
            sb = 0.0
            st = 0.0
            for i in range(t - p[k] + 1, t + 1):
                sb += bp[i]
                st += tr[i]
            if st != 0.0:
                acc += weights[k] * (sb / st)
        out[t] = 100.0 * (acc / 7.0)
    return out


@njit(cache=True)
def trix(close, period=30):
    """TRIX. E3 = EMA(EMA(EMA(close, n), n), n) (SMA-seeded), TRIX_t = 100*(E3_t/E3_{t-1} - 1)
    (0 when E3_{t-1} = 0). Percent per bar. Lookback 3(n-1) + 1. TA-Lib: TRIX."""
    _check_period(period, 1)
    k = 2.0 / (period + 1.0)
    e1 = _ema_from(close, 0, period, k)
    e2 = _ema_from(e1, period - 1, period, k)
    e3 = _ema_from(e2, 2 * (period - 1), period, k)
    T = close.shape[0]
    out = _nans(T)
    for t in range(3 * (period - 1) + 1, T):
        prev = e3[t - 1]
        out[t] = (e3[t] / prev - 1.0) * 100.0 if prev != 0.0 else 0.0
    return out


@njit(cache=True)
def aroon(high, low, period=14):
    """Aroon. Over the n+1 bars t-n..t, with d_hi = bars since the highest high and d_lo = bars since the
    lowest low (ties: the most recent), UP_t = 100*(n - d_hi)/n, DOWN_t = 100*(n - d_lo)/n. Percent.
    Returns (aroon_down, aroon_up) (TA-Lib's order). Lookback n. TA-Lib: AROON."""
    _check_period(period, 1)
    T = high.shape[0]
    down = _nans(T)
    up = _nans(T)
    for t in range(period, T):
        hi_idx = t - period
        lo_idx = t - period
        for i in range(t - period + 1, t + 1):
            if high[i] >= high[hi_idx]:
                hi_idx = i
            if low[i] <= low[lo_idx]:
                lo_idx = i
        up[t] = 100.0 * (period - (t - hi_idx)) / period
        down[t] = 100.0 * (period - (t - lo_idx)) / period
    return down, up


@njit(cache=True)
def aroonosc(high, low, period=14):
    """Aroon oscillator. AROONOSC_t = UP_t - DOWN_t (see aroon). Percent (-100..100). Lookback n.
    TA-Lib: AROONOSC."""
    down, up = aroon(high, low, period)
    return up - down


@njit(cache=True)
def plus_dm(high, low, period=14):
    """Smoothed plus directional movement (Wilder sum). +DM_t = H_t - H_{t-1} if that exceeds
    L_{t-1} - L_t and 0, else 0; S_{n-1} = sum_{i=1..n-1} +DM_i, S_t = S_{t-1} - S_{t-1}/n + +DM_t.
    Price units. Lookback n-1 (raw +DM with lookback 1 when n = 1). TA-Lib: PLUS_DM."""
    _check_period(period, 1)
    pdm, _ = _directional_movement(high, low)
    if period == 1:
        pdm[0] = np.nan
        return pdm
    return _wilder_sum(pdm, period)


@njit(cache=True)
def minus_dm(high, low, period=14):
    """Smoothed minus directional movement (Wilder sum). -DM_t = L_{t-1} - L_t if that exceeds
    H_t - H_{t-1} and 0, else 0; S_{n-1} = sum_{i=1..n-1} -DM_i, S_t = S_{t-1} - S_{t-1}/n + -DM_t.
    Price units. Lookback n-1 (raw -DM with lookback 1 when n = 1). TA-Lib: MINUS_DM."""
    _check_period(period, 1)
    _, mdm = _directional_movement(high, low)
    if period == 1:
        mdm[0] = np.nan
        return mdm
    return _wilder_sum(mdm, period)


@njit(cache=True)
def plus_di(high, low, close, period=14):
    """Plus directional indicator. +DI_t = 100*S(+DM)_t/S(TR)_t with Wilder sums
    S_t = S_{t-1} - S_{t-1}/n + x_t seeded with the sum of bars 1..n-1 (0 when S(TR) = 0). Percent.
    Lookback n. TA-Lib: PLUS_DI."""
    _check_period(period, 1)
    pdi, _ = _directional_indicators(high, low, close, period)
    return pdi


@njit(cache=True)
def minus_di(high, low, close, period=14):
    """Minus directional indicator. -DI_t = 100*S(-DM)_t/S(TR)_t with Wilder sums (see plus_di).
    Percent. Lookback n. TA-Lib: MINUS_DI."""
    _check_period(period, 1)
    _, mdi = _directional_indicators(high, low, close, period)
    return mdi


@njit(cache=True)
def _dx_series(high, low, close, period):
    """DX_t = 100*|+DI_t - -DI_t|/(+DI_t + -DI_t); where +DI + -DI = 0 the previous DX is repeated
    (0 at the first bar). Valid from t = max(n, 1) (helper)."""
    pdi, mdi = _directional_indicators(high, low, close, period)
    T = close.shape[0]
    out = _nans(T)
    first = max(1, period)
    prev = 0.0
    for t in range(first, T):
        s = pdi[t] + mdi[t]
        if s != 0.0:
            prev = 100.0 * (abs(mdi[t] - pdi[t]) / s)
        out[t] = prev
    return out


@njit(cache=True)
def dx(high, low, close, period=14):
    """Directional movement index. DX_t = 100*|+DI_t - -DI_t|/(+DI_t + -DI_t) (previous value repeated
    when the sum is 0). Percent. Lookback n. TA-Lib: DX."""
    _check_period(period, 1)
    return _dx_series(high, low, close, period)


@njit(cache=True)
def adx(high, low, close, period=14):
    """Average directional index (Wilder). ADX_{2n-1} = mean(DX_n..DX_{2n-1}),
    ADX_t = (ADX_{t-1}*(n-1) + DX_t)/n. Percent. Lookback 2n-1. TA-Lib: ADX."""
    _check_period(period, 2)
    d = _dx_series(high, low, close, period)
    T = close.shape[0]
    out = _nans(T)
    start = 2 * period - 1
    if start >= T:
        return out
    s = 0.0
    for t in range(period, start + 1):
        s += d[t]
    prev = s / period
    out[start] = prev
    for t in range(start + 1, T):
        prev = (prev * (period - 1) + d[t]) / period
        out[t] = prev
    return out


@njit(cache=True)
def adxr(high, low, close, period=14):
    """Average directional movement rating. ADXR_t = (ADX_t + ADX_{t-(n-1)})/2. Percent.
    Lookback 3n-2. TA-Lib: ADXR."""
    _check_period(period, 2)
    a = adx(high, low, close, period)
    T = close.shape[0]
    out = _nans(T)
    for t in range(3 * period - 2, T):
        out[t] = (a[t] + a[t - (period - 1)]) / 2.0
    return out


@njit(cache=True)
def bop(open_, high, low, close):
    """Balance of power. BOP_t = (C_t - O_t)/(H_t - L_t) (0 when H_t <= L_t). Dimensionless (-1..1).
    Lookback 0. TA-Lib: BOP."""
    T = close.shape[0]
    out = np.empty(T)
    for t in range(T):
        rng = high[t] - low[t]
        out[t] = 0.0 if rng <= 0.0 else (close[t] - open_[t]) / rng
    return out


@njit(cache=True)
def mfi(high, low, close, volume, period=14):
    """Money flow index. TP = (H+L+C)/3, MF_t = TP_t*V_t counted as positive if TP_t > TP_{t-1}, negative
    if TP_t < TP_{t-1}, neither on a tie (|TP_t - TP_{t-1}| <= 1e-12*|TP_t|: prices quoted to a few
    decimals tie exactly, which float rounding of (H+L+C)/3 would otherwise break);
    MFI_t = 100*sum(pos MF)/(sum(pos MF) + sum(neg MF)) over the last n bars (0 when both sums are 0).
    Percent. Lookback n. TA-Lib: MFI."""
    _check_period(period, 1)
    tp = _typical_price(high, low, close)
    T = close.shape[0]
    pos = np.zeros(T)
    neg = np.zeros(T)
    for t in range(1, T):
        move = tp[t] - tp[t - 1]
        tie = abs(move) <= 1e-12 * abs(tp[t])
        if move > 0.0 and not tie:
            pos[t] = tp[t] * volume[t]
        elif move < 0.0 and not tie:
            neg[t] = tp[t] * volume[t]
    out = _nans(T)
    for t in range(period, T):
        sp = 0.0
        sn = 0.0
        for i in range(t - period + 1, t + 1):
            sp += pos[i]
            sn += neg[i]
        s = sp + sn
        out[t] = 100.0 * (sp / s) if s != 0.0 else 0.0
    return out


@njit(cache=True)
def efficiency_ratio(close, period=10):
    """Kaufman efficiency ratio. ER_t = |C_t - C_{t-n}| / sum_{i=t-n+1..t} |C_i - C_{i-1}| (1 when the
    path length is 0). Dimensionless (0..1). Lookback n. TA-Lib: ER."""
    _check_period(period, 1)
    T = close.shape[0]
    out = _nans(T)
    for t in range(period, T):
        path = 0.0
        for i in range(t - period + 1, t + 1):
            path += abs(close[i] - close[i - 1])
        net = abs(close[t] - close[t - period])
        out[t] = net / path if path != 0.0 else 1.0
    return out


# --------------------------------------------------------------------------------------------------
# volatility
# --------------------------------------------------------------------------------------------------


@njit(cache=True)
def true_range(high, low, close):
    """True range. TR_t = max(H_t, C_{t-1}) - min(L_t, C_{t-1}). Price units. Lookback 1.
    TA-Lib: TRANGE."""
    return _true_range_raw(high, low, close)


@njit(cache=True)
def atr(high, low, close, period=14):
    """Average true range (Wilder). ATR_n = mean(TR_1..TR_n), ATR_t = (ATR_{t-1}*(n-1) + TR_t)/n.
    Price units. Lookback n. TA-Lib: ATR."""
    _check_period(period, 1)
    tr = _true_range_raw(high, low, close)
    return _wilder_atr_seeded_at(tr, period, period)


@njit(cache=True)
def natr(high, low, close, period=14):
    """Normalised ATR. NATR_t = 100*ATR_t/C_t (0 when C_t = 0). Percent of price. Lookback n.
    TA-Lib: NATR."""
    a = atr(high, low, close, period)
    T = close.shape[0]
    out = _nans(T)
    for t in range(period, T):
        out[t] = (a[t] / close[t]) * 100.0 if close[t] != 0.0 else 0.0
    return out


@njit(cache=True)
def rolling_var(x, period=5):
    """Rolling population variance. VAR_t = (1/n) * sum_{i=t-n+1..t} (x_i - mean_t)^2. Units of x squared.
    Lookback n-1. TA-Lib: VAR."""
    _check_period(period, 1)
    T = x.shape[0]
    out = _nans(T)
    for t in range(period - 1, T):
        out[t] = _window_var(x, t, period)
    return out


@njit(cache=True)
def rolling_std(x, period=5, nbdev=1.0):
    """Rolling population standard deviation times nbdev. STD_t = nbdev*sqrt(VAR_t), VAR as in
    rolling_var. Units of x. Lookback n-1. TA-Lib: STDDEV."""
    _check_period(period, 1)
    T = x.shape[0]
    out = _nans(T)
    for t in range(period - 1, T):
        out[t] = math.sqrt(_window_var(x, t, period)) * nbdev
    return out


@njit(cache=True)
def bbands(close, period=20, nbdev_up=2.0, nbdev_dn=2.0):
    """Bollinger bands. MID = SMA(C, n), UPPER = MID + nbdev_up*STD, LOWER = MID - nbdev_dn*STD with STD
    the population standard deviation over the same n bars. Price units. Returns (upper, middle,
    lower), lookback n-1. TA-Lib: BBANDS with SMA."""
    _check_period(period, 1)
    T = close.shape[0]
    up = _nans(T)
    mid = _sma_from(close, 0, period)
    lo = _nans(T)
    for t in range(period - 1, T):
        sd = math.sqrt(_window_var(close, t, period))
        up[t] = mid[t] + nbdev_up * sd
        lo[t] = mid[t] - nbdev_dn * sd
    return up, mid, lo


@njit(cache=True)
def bbands_percent_b(close, period=20, nbdev=2.0):
    """Bollinger %B. %B_t = (C_t - LOWER_t)/(UPPER_t - LOWER_t) with symmetric bands of nbdev
    population standard deviations around SMA(C, n); 0.5 when the band width is 0. Dimensionless (0 at
    the lower band, 1 at the upper band). Lookback n-1."""
    up, _, lo = bbands(close, period, nbdev, nbdev)
    T = close.shape[0]
    out = _nans(T)
    for t in range(period - 1, T):
        w = up[t] - lo[t]
        out[t] = (close[t] - lo[t]) / w if w != 0.0 else 0.5
    return out


@njit(cache=True)
def bbands_bandwidth(close, period=20, nbdev=2.0):
    """Bollinger band width. BW_t = (UPPER_t - LOWER_t)/MID_t (0 when MID_t = 0), bands as in
    bbands_percent_b. Dimensionless. Lookback n-1."""
    up, mid, lo = bbands(close, period, nbdev, nbdev)
    T = close.shape[0]
    out = _nans(T)
    for t in range(period - 1, T):
        out[t] = (up[t] - lo[t]) / mid[t] if mid[t] != 0.0 else 0.0
    return out


@njit(cache=True)
def keltner_channels(high, low, close, period=20, atr_period=10, multiplier=2.0):
    """Keltner channels. MID = EMA(TP, n) with TP = (H+L+C)/3, UPPER/LOWER = MID +/- multiplier*ATR with
    Wilder's ATR(atr_period). Both recursions start at the first output bar t0 = max(n-1, atr_period):
    the EMA is seeded with the mean TP and the ATR with the mean TR of their own windows ending at t0
    (TA-Lib's KC convention). Price units. Returns (upper, middle, lower), lookback
    max(n-1, atr_period). TA-Lib: KC."""
    _check_period(period, 1)
    _check_period(atr_period, 1)
    tp = _typical_price(high, low, close)
    lookback = max(period - 1, atr_period)
    mid = _ema_from(tp, lookback - period + 1, period, 2.0 / (period + 1.0))
    tr = _true_range_raw(high, low, close)
    a = _wilder_atr_seeded_at(tr, lookback, atr_period)
    T = close.shape[0]
    up = _nans(T)
    lo = _nans(T)
    for t in range(min(lookback, T)):
        mid[t] = np.nan
    for t in range(lookback, T):
        up[t] = mid[t] + multiplier * a[t]
        lo[t] = mid[t] - multiplier * a[t]
    return up, mid, lo


@njit(cache=True)
def donchian_channels(high, low, period=20):
    """Donchian channels. UPPER_t = max(H over n bars), LOWER_t = min(L over n bars),
    MID_t = (UPPER_t + LOWER_t)/2. Price units. Returns (upper, middle, lower), lookback n-1.
    TA-Lib: DONCHIAN."""
    _check_period(period, 1)
    T = high.shape[0]
    up = _nans(T)
    mid = _nans(T)
    lo = _nans(T)
    for t in range(period - 1, T):
        hh = _window_max(high, t, period)
        ll = _window_min(low, t, period)
        up[t] = hh
        lo[t] = ll
        mid[t] = (hh + ll) / 2.0
    return up, mid, lo


@njit(cache=True)
def atr_bands(high, low, close, period=14, multiplier=2.0):
    """ATR bands around the close. UPPER_t = C_t + multiplier*ATR_t, LOWER_t = C_t - multiplier*ATR_t with
    Wilder's ATR(n). Price units. Returns (upper, lower), lookback n."""
    a = atr(high, low, close, period)
    return close + multiplier * a, close - multiplier * a


@njit(cache=True)
def ulcer_index(close, period=14):
    """Ulcer index. D_t = 100*(C_t - max(C over n bars))/max(C over n bars) (percent drawdown from the
    rolling high), UI_t = sqrt(mean(D^2 over the last n bars)). Percent. Lookback 2(n-1)."""
    _check_period(period, 1)
    T = close.shape[0]
    dd = _nans(T)
    for t in range(period - 1, T):
        m = _window_max(close, t, period)
        dd[t] = 100.0 * (close[t] - m) / m if m != 0.0 else 0.0
    out = _nans(T)
    for t in range(2 * (period - 1), T):
        s = 0.0
        for i in range(t - period + 1, t + 1):
            s += dd[i] * dd[i]
        out[t] = math.sqrt(s / period)
    return out


@njit(cache=True)
def parkinson_volatility(high, low, period=20):
    """Parkinson range volatility per bar. sigma_t = sqrt( sum ln(H_i/L_i)^2 / (4*ln(2)*n) ) over the last
    n bars. Log-return units per bar (multiply by sqrt(252) for annual daily data). Lookback n-1."""
    _check_period(period, 1)
    T = high.shape[0]
    out = _nans(T)
    c = 1.0 / (4.0 * math.log(2.0))
    for t in range(period - 1, T):
        s = 0.0
        for i in range(t - period + 1, t + 1):
            r = math.log(high[i] / low[i])
            s += r * r
        out[t] = math.sqrt(c * s / period)
    return out


@njit(cache=True)
def garman_klass_volatility(open_, high, low, close, period=20):
    """Garman-Klass volatility per bar. sigma_t = sqrt( mean( 0.5*ln(H/L)^2 - (2*ln(2) - 1)*ln(C/O)^2 ) )
    over the last n bars (the mean is floored at 0). Log-return units per bar. Lookback n-1."""
    _check_period(period, 1)
    T = close.shape[0]
    out = _nans(T)
    c = 2.0 * math.log(2.0) - 1.0
    for t in range(period - 1, T):
        s = 0.0
        for i in range(t - period + 1, t + 1):
            hl = math.log(high[i] / low[i])
            co = math.log(close[i] / open_[i])
            s += 0.5 * hl * hl - c * co * co
        m = s / period
        out[t] = 0.0 if m <= 0.0 else math.sqrt(m)
    return out


@njit(cache=True)
def rogers_satchell_volatility(open_, high, low, close, period=20):
    """Rogers-Satchell volatility per bar. sigma_t = sqrt( mean( ln(H/C)*ln(H/O) + ln(L/C)*ln(L/O) ) ) over
    the last n bars (the mean is floored at 0). Log-return units per bar. Lookback n-1."""
    _check_period(period, 1)
    T = close.shape[0]
    out = _nans(T)
    for t in range(period - 1, T):
        s = 0.0
        for i in range(t - period + 1, t + 1):
            s += math.log(high[i] / close[i]) * math.log(high[i] / open_[i]) + math.log(
                low[i] / close[i]
            ) * math.log(low[i] / open_[i])
        m = s / period
        out[t] = 0.0 if m <= 0.0 else math.sqrt(m)
    return out


@njit(cache=True)
def log_returns(close):
    """Log returns. r_t = ln(C_t/C_{t-1}). Log units per bar. Lookback 1."""
    T = close.shape[0]
    out = _nans(T)
    for t in range(1, T):
        out[t] = math.log(close[t] / close[t - 1])
    return out


@njit(cache=True)
def simple_returns(close):
    """Simple returns. R_t = (C_t - C_{t-1})/C_{t-1} (0 when C_{t-1} = 0). Fraction per bar. Lookback 1."""
    T = close.shape[0]
    out = _nans(T)
    for t in range(1, T):
        p = close[t - 1]
        out[t] = (close[t] - p) / p if p != 0.0 else 0.0
    return out


@njit(cache=True)
def realized_volatility(close, period=20):
    """Realised volatility per bar. sigma_t = population std of the last n log returns
    r_i = ln(C_i/C_{i-1}): sigma_t = sqrt((1/n) * sum (r_i - mean r)^2). Log units per bar. Lookback n."""
    _check_period(period, 1)
    r = log_returns(close)
    T = close.shape[0]
    out = _nans(T)
    for t in range(period, T):
        out[t] = math.sqrt(_window_var(r, t, period))
    return out


# --------------------------------------------------------------------------------------------------
# volume
# --------------------------------------------------------------------------------------------------


@njit(cache=True)
def obv(close, volume):
    """On-balance volume. OBV_0 = V_0, OBV_t = OBV_{t-1} + sign(C_t - C_{t-1})*V_t. Volume units.
    Lookback 0. TA-Lib: OBV."""
    T = close.shape[0]
    out = np.empty(T)
    if T == 0:
        return out
    acc = volume[0]
    out[0] = acc
    for t in range(1, T):
        if close[t] > close[t - 1]:
            acc += volume[t]
        elif close[t] < close[t - 1]:
            acc -= volume[t]
        out[t] = acc
    return out


@njit(cache=True)
def ad(high, low, close, volume):
    """Chaikin accumulation/distribution line. AD_t = AD_{t-1} + CLV_t*V_t, AD_{-1} = 0, with
    CLV_t = ((C_t - L_t) - (H_t - C_t))/(H_t - L_t) (0 when H_t = L_t). Volume units. Lookback 0.
    TA-Lib: AD."""
    clv = _close_location_value(high, low, close)
    T = close.shape[0]
    out = np.empty(T)
    acc = 0.0
    for t in range(T):
        acc += clv[t] * volume[t]
        out[t] = acc
    return out


@njit(cache=True)
def adosc(high, low, close, volume, fast=3, slow=10):
    """Chaikin A/D oscillator. ADOSC = EMA(AD, fast) - EMA(AD, slow), a = 2/(n+1), both EMAs seeded with
    AD_0 (TA-Lib's convention, no SMA seed). Volume units. Lookback max(fast, slow) - 1. TA-Lib: ADOSC."""
    _check_period(fast, 1)
    _check_period(slow, 1)
    a = ad(high, low, close, volume)
    T = close.shape[0]
    out = _nans(T)
    if T == 0:
        return out
    kf = 2.0 / (fast + 1.0)
    ks = 2.0 / (slow + 1.0)
    ef = a[0]
    es = a[0]
    lookback = max(fast, slow) - 1
    for t in range(1, T):
        ef = (a[t] - ef) * kf + ef
        es = (a[t] - es) * ks + es
        if t >= lookback:
            out[t] = ef - es
    if lookback == 0:
        out[0] = 0.0
    return out


@njit(cache=True)
def cmf(high, low, close, volume, period=20):
    """Chaikin money flow. CMF_t = sum(CLV_i*V_i)/sum(V_i) over the last n bars, CLV as in ad
    (0 when the volume sum is 0). Dimensionless (-1..1). Lookback n-1. TA-Lib: CMF."""
    _check_period(period, 1)
    clv = _close_location_value(high, low, close)
    T = close.shape[0]
    out = _nans(T)
    for t in range(period - 1, T):
        num = 0.0
        den = 0.0
        for i in range(t - period + 1, t + 1):
            num += clv[i] * volume[i]
            den += volume[i]
        out[t] = num / den if den != 0.0 else 0.0
    return out


@njit(cache=True)
def vwap(high, low, close, volume, period=20):
    """Rolling volume-weighted average price. VWAP_t = sum(TP_i*V_i)/sum(V_i) over the last n bars,
    TP = (H+L+C)/3 (the plain mean of TP when the volume sum is 0). Price units. Lookback n-1.
    It is :func:`vwma` of the typical price."""
    return vwma(_typical_price(high, low, close), volume, period)


@njit(cache=True)
def cumulative_vwap(high, low, close, volume):
    """Cumulative (anchored at bar 0) VWAP. VWAP_t = sum_{i<=t} TP_i*V_i / sum_{i<=t} V_i, TP = (H+L+C)/3
    (TP_t while the cumulative volume is 0). Price units. Lookback 0. TA-Lib: VWAP."""
    tp = _typical_price(high, low, close)
    T = close.shape[0]
    out = np.empty(T)
    num = 0.0
    den = 0.0
    for t in range(T):
        num += tp[t] * volume[t]
        den += volume[t]
        out[t] = num / den if den != 0.0 else tp[t]
    return out


# --------------------------------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------------------------------


@njit(cache=True)
def rolling_zscore(x, period=20):
    """Rolling z-score. Z_t = (x_t - mean_t)/std_t with the population mean and std of x over the last n
    bars (0 when std_t = 0). Dimensionless. Lookback n-1."""
    _check_period(period, 1)
    T = x.shape[0]
    out = _nans(T)
    for t in range(period - 1, T):
        s = 0.0
        for i in range(t - period + 1, t + 1):
            s += x[i]
        mean = s / period
        sd = math.sqrt(_window_var(x, t, period))
        out[t] = (x[t] - mean) / sd if sd != 0.0 else 0.0
    return out


@njit(cache=True)
def _window_cov(x, y, t, period):
    """Population (co)variances over x[t-n+1..t], y[t-n+1..t]: returns (cov_xy, var_x, var_y) (helper)."""
    sx = 0.0
    sy = 0.0
    for i in range(t - period + 1, t + 1):
        sx += x[i]
        sy += y[i]
    mx = sx / period
    my = sy / period
    cxy = 0.0
    vx = 0.0
    vy = 0.0
    for i in range(t - period + 1, t + 1):
        dx_ = x[i] - mx
        dy_ = y[i] - my
        cxy += dx_ * dy_
        vx += dx_ * dx_
        vy += dy_ * dy_
    return cxy / period, vx / period, vy / period


@njit(cache=True)
def rolling_correlation(x, y, period=30):
    """Rolling Pearson correlation. RHO_t = cov(x, y)/sqrt(var(x)*var(y)) over the last n bars (0 when a
    variance is 0). Dimensionless (-1..1). Lookback n-1. TA-Lib: CORREL."""
    _check_period(period, 1)
    T = x.shape[0]
    out = _nans(T)
    for t in range(period - 1, T):
        c, vx, vy = _window_cov(x, y, t, period)
        d = vx * vy
        out[t] = c / math.sqrt(d) if d != 0.0 else 0.0
    return out


@njit(cache=True)
def rolling_beta(asset_returns, market_returns, period=60):
    """Rolling beta of asset returns on market returns. BETA_t = cov(r_a, r_m)/var(r_m) over the last n
    bars (0 when var(r_m) = 0). Dimensionless. Lookback n-1 (add the returns' own lookback)."""
    _check_period(period, 1)
    T = asset_returns.shape[0]
    out = _nans(T)
    for t in range(period - 1, T):
        c, vm, _ = _window_cov(market_returns, asset_returns, t, period)
        out[t] = c / vm if vm != 0.0 else 0.0
    return out


@njit(cache=True)
def price_beta(asset_price, market_price, period=5):
    """Beta from prices (TA-Lib's BETA(market, asset)). With simple returns r_t = (P_t - P_{t-1})/P_{t-1}
    of both series, BETA_t = cov(r_a, r_m)/var(r_m) over the last n returns (0 when var = 0).
    Dimensionless. Lookback n. TA-Lib: BETA(market, asset)."""
    _check_period(period, 1)
    ra = simple_returns(asset_price)
    rm = simple_returns(market_price)
    T = asset_price.shape[0]
    out = _nans(T)
    for t in range(period, T):
        c, vm, _ = _window_cov(rm, ra, t, period)
        out[t] = c / vm if vm != 0.0 else 0.0
    return out


@njit(cache=True)
def return_correlation(asset_price, market_price, period=30):
    """Rolling correlation of simple returns. RHO_t = corr(r_a, r_m) over the last n returns,
    r_t = (P_t - P_{t-1})/P_{t-1} (0 when a variance is 0). Dimensionless. Lookback n."""
    _check_period(period, 1)
    ra = simple_returns(asset_price)
    rm = simple_returns(market_price)
    T = asset_price.shape[0]
    out = _nans(T)
    for t in range(period, T):
        c, va, vm = _window_cov(ra, rm, t, period)
        d = va * vm
        out[t] = c / math.sqrt(d) if d != 0.0 else 0.0
    return out


@njit(cache=True)
def _linreg_fit(x, t, period):
    """Least-squares line through (j, x_{t-n+1+j}), j = 0..n-1: returns (slope m, intercept b at j = 0)
    with m = (n*Sjy - Sj*Sy)/(n*Sjj - Sj^2), b = (Sy - m*Sj)/n (helper; m = 0 for n = 1)."""
    sj = period * (period - 1) / 2.0
    sjj = period * (period - 1) * (2.0 * period - 1) / 6.0
    sy = 0.0
    sjy = 0.0
    for j in range(period):
        y = x[t - period + 1 + j]
        sy += y
        sjy += j * y
    den = period * sjj - sj * sj
    m = (period * sjy - sj * sy) / den if den != 0.0 else 0.0
    b = (sy - m * sj) / period
    return m, b


@njit(cache=True)
def linear_regression(x, period=14):
    """Rolling linear-regression end point. With the least-squares line y = b + m*j through the last n
    values (j = 0 oldest .. n-1 newest), LINEARREG_t = b + m*(n-1). Units of x. Lookback n-1.
    TA-Lib: LINEARREG."""
    _check_period(period, 1)
    T = x.shape[0]
    out = _nans(T)
    for t in range(period - 1, T):
        m, b = _linreg_fit(x, t, period)
        out[t] = b + m * (period - 1)
    return out


@njit(cache=True)
def linear_regression_slope(x, period=14):
    """Rolling linear-regression slope. m = (n*Sjy - Sj*Sy)/(n*Sjj - Sj^2) over the last n values,
    j = 0..n-1. Units of x per bar. Lookback n-1. TA-Lib: LINEARREG_SLOPE."""
    _check_period(period, 1)
    T = x.shape[0]
    out = _nans(T)
    for t in range(period - 1, T):
        m, _ = _linreg_fit(x, t, period)
        out[t] = m
    return out


@njit(cache=True)
def linear_regression_intercept(x, period=14):
    """Rolling linear-regression intercept at the oldest bar of the window. b = (Sy - m*Sj)/n with
    j = 0..n-1. Units of x. Lookback n-1. TA-Lib: LINEARREG_INTERCEPT."""
    _check_period(period, 1)
    T = x.shape[0]
    out = _nans(T)
    for t in range(period - 1, T):
        _, b = _linreg_fit(x, t, period)
        out[t] = b
    return out


@njit(cache=True)
def linear_regression_angle(x, period=14):
    """Rolling linear-regression angle. ANGLE_t = atan(m)*180/pi with m the regression slope per bar.
    Degrees. Lookback n-1. TA-Lib: LINEARREG_ANGLE."""
    _check_period(period, 1)
    T = x.shape[0]
    out = _nans(T)
    for t in range(period - 1, T):
        m, _ = _linreg_fit(x, t, period)
        out[t] = math.atan(m) * (180.0 / math.pi)
    return out


@njit(cache=True)
def time_series_forecast(x, period=14):
    """Time-series forecast (regression line extrapolated one bar ahead). TSF_t = b + m*n. Units of x.
    Lookback n-1. TA-Lib: TSF."""
    _check_period(period, 1)
    T = x.shape[0]
    out = _nans(T)
    for t in range(period - 1, T):
        m, b = _linreg_fit(x, t, period)
        out[t] = b + m * period
    return out


@njit(cache=True)
def rolling_skewness(x, period=20):
    """Rolling population skewness. SKEW_t = m3/m2^1.5 with central moments m_k = mean((x_i - mean)^k)
    over the last n values (0 when m2 = 0). Dimensionless. Lookback n-1."""
    _check_period(period, 1)
    T = x.shape[0]
    out = _nans(T)
    for t in range(period - 1, T):
        s = 0.0
        for i in range(t - period + 1, t + 1):
            s += x[i]
        mean = s / period
        m2 = 0.0
        m3 = 0.0
        for i in range(t - period + 1, t + 1):
            d = x[i] - mean
            m2 += d * d
            m3 += d * d * d
        m2 /= period
        m3 /= period
        out[t] = m3 / (m2 * math.sqrt(m2)) if m2 != 0.0 else 0.0
    return out


@njit(cache=True)
def rolling_kurtosis(x, period=20):
    """Rolling population excess kurtosis. KURT_t = m4/m2^2 - 3 with central moments over the last n
    values (0 when m2 = 0). Dimensionless. Lookback n-1."""
    _check_period(period, 1)
    T = x.shape[0]
    out = _nans(T)
    for t in range(period - 1, T):
        s = 0.0
        for i in range(t - period + 1, t + 1):
            s += x[i]
        mean = s / period
        m2 = 0.0
        m4 = 0.0
        for i in range(t - period + 1, t + 1):
            d = x[i] - mean
            d2 = d * d
            m2 += d2
            m4 += d2 * d2
        m2 /= period
        m4 /= period
        out[t] = m4 / (m2 * m2) - 3.0 if m2 != 0.0 else 0.0
    return out


@njit(cache=True)
def return_skewness(close, period=20):
    """Rolling skewness of log returns. SKEW_t = m3/m2^1.5 of r_i = ln(C_i/C_{i-1}) over the last n returns
    (0 when m2 = 0). Dimensionless. Lookback n."""
    r = log_returns(close)
    out = rolling_skewness(r, period)
    return out


@njit(cache=True)
def return_kurtosis(close, period=20):
    """Rolling excess kurtosis of log returns. KURT_t = m4/m2^2 - 3 of r_i = ln(C_i/C_{i-1}) over the last n
    returns (0 when m2 = 0). Dimensionless. Lookback n."""
    r = log_returns(close)
    return rolling_kurtosis(r, period)


@njit(cache=True)
def mean_absolute_deviation(x, period=14):
    """Rolling mean absolute deviation. AVGDEV_t = (1/n) * sum |x_i - mean_t| over the last n values.
    Units of x. Lookback n-1. TA-Lib: AVGDEV."""
    _check_period(period, 1)
    T = x.shape[0]
    out = _nans(T)
    for t in range(period - 1, T):
        s = 0.0
        for i in range(t - period + 1, t + 1):
            s += x[i]
        mean = s / period
        a = 0.0
        for i in range(t - period + 1, t + 1):
            a += abs(x[i] - mean)
        out[t] = a / period
    return out


@njit(cache=True)
def rolling_sum(x, period=30):
    """Rolling sum. SUM_t = sum_{i=t-n+1..t} x_i. Units of x. Lookback n-1. TA-Lib: SUM."""
    _check_period(period, 1)
    T = x.shape[0]
    out = _nans(T)
    for t in range(period - 1, T):
        s = 0.0
        for i in range(t - period + 1, t + 1):
            s += x[i]
        out[t] = s
    return out


@njit(cache=True)
def rolling_max(x, period=30):
    """Rolling maximum. MAX_t = max_{i=t-n+1..t} x_i. Units of x. Lookback n-1. TA-Lib: MAX."""
    _check_period(period, 1)
    T = x.shape[0]
    out = _nans(T)
    for t in range(period - 1, T):
        out[t] = _window_max(x, t, period)
    return out


@njit(cache=True)
def rolling_min(x, period=30):
    """Rolling minimum. MIN_t = min_{i=t-n+1..t} x_i. Units of x. Lookback n-1. TA-Lib: MIN."""
    _check_period(period, 1)
    T = x.shape[0]
    out = _nans(T)
    for t in range(period - 1, T):
        out[t] = _window_min(x, t, period)
    return out


@njit(cache=True)
def midpoint(x, period=14):
    """Midpoint of the window. MIDPOINT_t = (max x + min x)/2 over the last n values. Units of x.
    Lookback n-1. TA-Lib: MIDPOINT."""
    _check_period(period, 1)
    T = x.shape[0]
    out = _nans(T)
    for t in range(period - 1, T):
        out[t] = (_window_max(x, t, period) + _window_min(x, t, period)) / 2.0
    return out


@njit(cache=True)
def midprice(high, low, period=14):
    """Midpoint price. MIDPRICE_t = (max H + min L)/2 over the last n bars. Price units. Lookback n-1.
    TA-Lib: MIDPRICE."""
    _check_period(period, 1)
    T = high.shape[0]
    out = _nans(T)
    for t in range(period - 1, T):
        out[t] = (_window_max(high, t, period) + _window_min(low, t, period)) / 2.0
    return out


@njit(cache=True)
def medprice(high, low):
    """Median price. MEDPRICE_t = (H_t + L_t)/2. Price units. Lookback 0. TA-Lib: MEDPRICE."""
    return (high + low) / 2.0


@njit(cache=True)
def typprice(high, low, close):
    """Typical price. TYPPRICE_t = (H_t + L_t + C_t)/3. Price units. Lookback 0. TA-Lib: TYPPRICE."""
    return _typical_price(high, low, close)


@njit(cache=True)
def wclprice(high, low, close):
    """Weighted close price. WCLPRICE_t = (H_t + L_t + 2*C_t)/4. Price units. Lookback 0.
    TA-Lib: WCLPRICE."""
    return (high + low + 2.0 * close) / 4.0


@njit(cache=True)
def avgprice(open_, high, low, close):
    """Average price. AVGPRICE_t = (O_t + H_t + L_t + C_t)/4. Price units. Lookback 0. TA-Lib: AVGPRICE."""
    return (open_ + high + low + close) / 4.0


# --------------------------------------------------------------------------------------------------
# (T, N) panels
# --------------------------------------------------------------------------------------------------


@njit(cache=True)
def sma_panel(x_TN, period=30):
    """Column-wise SMA of a (T, N) panel: out[:, j] = sma(x[:, j], n). Lookback n-1."""
    T, N = x_TN.shape
    out = np.empty((T, N))
    for j in range(N):
        out[:, j] = sma(x_TN[:, j].copy(), period)
    return out


@njit(cache=True)
def ema_panel(x_TN, period=30):
    """Column-wise EMA of a (T, N) panel: out[:, j] = ema(x[:, j], n), EMA_t = a*x_t + (1-a)*EMA_{t-1}.
    Lookback n-1."""
    T, N = x_TN.shape
    out = np.empty((T, N))
    for j in range(N):
        out[:, j] = ema(x_TN[:, j].copy(), period)
    return out


@njit(cache=True)
def rsi_panel(close_TN, period=14):
    """Column-wise RSI of a (T, N) panel: out[:, j] = rsi(close[:, j], n), RSI = 100*AG/(AG + AL).
    Lookback n."""
    T, N = close_TN.shape
    out = np.empty((T, N))
    for j in range(N):
        out[:, j] = rsi(close_TN[:, j].copy(), period)
    return out


@njit(cache=True)
def macd_hist_panel(close_TN, fast=12, slow=26, signal=9):
    """Column-wise MACD histogram of a (T, N) panel: HIST = MACD - EMA(MACD, signal).
    Lookback (slow-1) + (signal-1)."""
    T, N = close_TN.shape
    out = np.empty((T, N))
    for j in range(N):
        _, _, h = macd(close_TN[:, j].copy(), fast, slow, signal)
        out[:, j] = h
    return out


@njit(cache=True)
def atr_panel(high_TN, low_TN, close_TN, period=14):
    """Column-wise Wilder ATR of (T, N) panels: ATR_t = (ATR_{t-1}*(n-1) + TR_t)/n. Lookback n."""
    T, N = close_TN.shape
    out = np.empty((T, N))
    for j in range(N):
        out[:, j] = atr(high_TN[:, j].copy(), low_TN[:, j].copy(), close_TN[:, j].copy(), period)
    return out


@njit(cache=True)
def natr_panel(high_TN, low_TN, close_TN, period=14):
    """Column-wise NATR of (T, N) panels: NATR_t = 100*ATR_t/C_t. Lookback n."""
    T, N = close_TN.shape
    out = np.empty((T, N))
    for j in range(N):
        out[:, j] = natr(high_TN[:, j].copy(), low_TN[:, j].copy(), close_TN[:, j].copy(), period)
    return out


@njit(cache=True)
def bbands_percent_b_panel(close_TN, period=20, nbdev=2.0):
    """Column-wise Bollinger %B of a (T, N) panel: %B = (C - LOWER)/(UPPER - LOWER). Lookback n-1."""
    T, N = close_TN.shape
    out = np.empty((T, N))
    for j in range(N):
        out[:, j] = bbands_percent_b(close_TN[:, j].copy(), period, nbdev)
    return out


@njit(cache=True)
def rolling_std_panel(x_TN, period=20, nbdev=1.0):
    """Column-wise rolling population std of a (T, N) panel: STD = nbdev*sqrt(mean((x - mean)^2)).
    Lookback n-1."""
    T, N = x_TN.shape
    out = np.empty((T, N))
    for j in range(N):
        out[:, j] = rolling_std(x_TN[:, j].copy(), period, nbdev)
    return out


@njit(cache=True)
def zscore_panel(x_TN, period=20):
    """Column-wise rolling z-score of a (T, N) panel: Z = (x - mean)/std over n bars. Lookback n-1."""
    T, N = x_TN.shape
    out = np.empty((T, N))
    for j in range(N):
        out[:, j] = rolling_zscore(x_TN[:, j].copy(), period)
    return out


# --------------------------------------------------------------------------------------------------
# registry (plain Python, outside the kernels)
# --------------------------------------------------------------------------------------------------

_INPUT_NAMES = ("open", "high", "low", "close", "volume", "market")


@dataclass(frozen=True)
class IndicatorSpec:
    """How to call one indicator kernel.

    Attributes:
        name: lowercase registry key.
        func: the ``@njit`` kernel; called as ``func(*inputs, *params.values())``.
        inputs: the series it reads, in call order, among ``open, high, low, close, volume, market``
            (``market`` is a benchmark price series, e.g. an index close).
        params: default parameters, in call order (read-only mapping).
        outputs: output names; ``len(outputs)`` is the number of arrays returned.
        lookback_fn: ``lookback_fn(**params) -> int`` number of leading NaNs.
        category: overlap / momentum / volatility / volume / statistics / price.
        talib: name of the TA-Lib function it matches ("" if none).
    """

    name: str
    func: Callable[..., Any]
    inputs: tuple[str, ...]
    params: Mapping[str, Any]
    outputs: tuple[str, ...]
    lookback_fn: Callable[..., int]
    category: str
    talib: str = ""

    @property
    def n_outputs(self) -> int:
        """Number of arrays the kernel returns."""
        return len(self.outputs)

    def resolve_params(self, **params: Any) -> dict[str, Any]:
        """Defaults overridden by ``params``, each cast to its default's type; unknown names raise."""
        unknown = set(params) - set(self.params)
        if unknown:
            raise ConfigError(
                f"indicator {self.name!r} got unknown parameter(s) {sorted(unknown)}; "
                f"expected some of {list(self.params)}"
            )
        out: dict[str, Any] = {}
        for key, default in self.params.items():
            value = params.get(key, default)
            try:
                cast = type(default)(value)
            except (TypeError, ValueError) as exc:
                raise ConfigError(
                    f"indicator {self.name!r}: parameter {key}={value!r} is not a valid "
                    f"{type(default).__name__}"
                ) from exc
            if isinstance(default, int) and cast != value:
                raise ConfigError(f"indicator {self.name!r}: parameter {key}={value!r} must be an integer")
            if isinstance(default, int) and key.endswith("period") and cast < 1:
                raise ConfigError(f"indicator {self.name!r}: parameter {key}={value!r} must be >= 1")
            out[key] = cast
        return out

    def lookback(self, **params: Any) -> int:
        """Number of leading NaN outputs for these parameters (defaults for the rest)."""
        return int(self.lookback_fn(**self.resolve_params(**params)))


def _spec(name, func, inputs, params, outputs, lookback, category, talib=""):
    return IndicatorSpec(
        name=name,
        func=func,
        inputs=tuple(inputs),
        params=MappingProxyType(dict(params)),
        outputs=tuple(outputs),
        lookback_fn=lookback,
        category=category,
        talib=talib,
    )


_C = ("close",)
_HL = ("high", "low")
_HLC = ("high", "low", "close")
_HLCV = ("high", "low", "close", "volume")
_OHLC = ("open", "high", "low", "close")
_R = ("real",)


def _hma_lookback(period):
    return period - 1 + math.isqrt(period) - 1


_SPECS = [
    # overlap studies / moving averages
    _spec("sma", sma, _C, {"period": 30}, _R, lambda period: period - 1, "overlap", "SMA"),
    _spec("ema", ema, _C, {"period": 30}, _R, lambda period: period - 1, "overlap", "EMA"),
    _spec("wilder_ma", wilder_ma, _C, {"period": 30}, _R, lambda period: period - 1, "overlap", "RMA"),
    _spec("wma", wma, _C, {"period": 30}, _R, lambda period: period - 1, "overlap", "WMA"),
    _spec("dema", dema, _C, {"period": 30}, _R, lambda period: 2 * (period - 1), "overlap", "DEMA"),
    _spec("tema", tema, _C, {"period": 30}, _R, lambda period: 3 * (period - 1), "overlap", "TEMA"),
    _spec("trima", trima, _C, {"period": 30}, _R, lambda period: period - 1, "overlap", "TRIMA"),
    _spec("kama", kama, _C, {"period": 30}, _R, lambda period: period, "overlap", "KAMA"),
    _spec(
        "t3",
        t3,
        _C,
        {"period": 5, "vfactor": 0.7},
        _R,
        lambda period, vfactor: 6 * (period - 1),
        "overlap",
        "T3",
    ),
    _spec("hma", hma, _C, {"period": 20}, _R, _hma_lookback, "overlap", "HMA"),
    _spec(
        "zlema",
        zlema,
        _C,
        {"period": 30},
        _R,
        lambda period: (period - 1) // 2 + period - 1,
        "overlap",
        "ZLEMA",
    ),
    _spec(
        "vwma", vwma, ("close", "volume"), {"period": 30}, _R, lambda period: period - 1, "overlap", "VWMA"
    ),
    _spec(
        "bbands",
        bbands,
        _C,
        {"period": 20, "nbdev_up": 2.0, "nbdev_dn": 2.0},
        ("upper", "middle", "lower"),
        lambda period, nbdev_up, nbdev_dn: period - 1,
        "overlap",
        "BBANDS",
    ),
    _spec(
        "keltner",
        keltner_channels,
        _HLC,
        {"period": 20, "atr_period": 10, "multiplier": 2.0},
        ("upper", "middle", "lower"),
        lambda period, atr_period, multiplier: max(period - 1, atr_period),
        "overlap",
        "KC",
    ),
    _spec(
        "donchian",
        donchian_channels,
        _HL,
        {"period": 20},
        ("upper", "middle", "lower"),
        lambda period: period - 1,
        "overlap",
        "DONCHIAN",
    ),
    _spec("midpoint", midpoint, _C, {"period": 14}, _R, lambda period: period - 1, "overlap", "MIDPOINT"),
    _spec("midprice", midprice, _HL, {"period": 14}, _R, lambda period: period - 1, "overlap", "MIDPRICE"),
    # momentum
    _spec("rsi", rsi, _C, {"period": 14}, _R, lambda period: period, "momentum", "RSI"),
    _spec(
        "macd",
        macd,
        _C,
        {"fast": 12, "slow": 26, "signal": 9},
        ("macd", "signal", "hist"),
        lambda fast, slow, signal: max(fast, slow) - 1 + signal - 1,
        "momentum",
        "MACD",
    ),
    _spec(
        "ppo",
        ppo,
        _C,
        {"fast": 12, "slow": 26, "ma_type": 1},
        _R,
        lambda fast, slow, ma_type: max(fast, slow) - 1,
        "momentum",
        "PPO",
    ),
    _spec(
        "apo",
        apo,
        _C,
        {"fast": 12, "slow": 26, "ma_type": 1},
        _R,
        lambda fast, slow, ma_type: max(fast, slow) - 1,
        "momentum",
        "APO",
    ),
    _spec("mom", mom, _C, {"period": 10}, _R, lambda period: period, "momentum", "MOM"),
    _spec("roc", roc, _C, {"period": 10}, _R, lambda period: period, "momentum", "ROC"),
    _spec("rocp", rocp, _C, {"period": 10}, _R, lambda period: period, "momentum", "ROCP"),
    _spec("rocr", rocr, _C, {"period": 10}, _R, lambda period: period, "momentum", "ROCR"),
    _spec("rocr100", rocr100, _C, {"period": 10}, _R, lambda period: period, "momentum", "ROCR100"),
    _spec(
        "stoch",
        stoch,
        _HLC,
        {"fastk_period": 5, "slowk_period": 3, "slowd_period": 3},
        ("slowk", "slowd"),
        lambda fastk_period, slowk_period, slowd_period: fastk_period + slowk_period + slowd_period - 3,
        "momentum",
        "STOCH",
    ),
    _spec(
        "stochf",
        stochf,
        _HLC,
        {"fastk_period": 5, "fastd_period": 3},
        ("fastk", "fastd"),
        lambda fastk_period, fastd_period: fastk_period + fastd_period - 2,
        "momentum",
        "STOCHF",
    ),
    _spec(
        "stochrsi",
        stochrsi,
        _C,
        {"period": 14, "fastk_period": 5, "fastd_period": 3},
        ("fastk", "fastd"),
        lambda period, fastk_period, fastd_period: period + fastk_period + fastd_period - 2,
        "momentum",
        "STOCHRSI",
    ),
    _spec("willr", willr, _HLC, {"period": 14}, _R, lambda period: period - 1, "momentum", "WILLR"),
    _spec("cci", cci, _HLC, {"period": 14}, _R, lambda period: period - 1, "momentum", "CCI"),
    _spec("cmo", cmo, _C, {"period": 14}, _R, lambda period: period, "momentum", "CMO"),
    _spec(
        "ultosc",
        ultosc,
        _HLC,
        {"period1": 7, "period2": 14, "period3": 28},
        _R,
        lambda period1, period2, period3: max(period1, period2, period3),
        "momentum",
        "ULTOSC",
    ),
    _spec("trix", trix, _C, {"period": 30}, _R, lambda period: 3 * (period - 1) + 1, "momentum", "TRIX"),
    _spec(
        "aroon",
        aroon,
        _HL,
        {"period": 14},
        ("aroon_down", "aroon_up"),
        lambda period: period,
        "momentum",
        "AROON",
    ),
    _spec("aroonosc", aroonosc, _HL, {"period": 14}, _R, lambda period: period, "momentum", "AROONOSC"),
    _spec("adx", adx, _HLC, {"period": 14}, _R, lambda period: 2 * period - 1, "momentum", "ADX"),
    _spec("adxr", adxr, _HLC, {"period": 14}, _R, lambda period: 3 * period - 2, "momentum", "ADXR"),
    _spec("dx", dx, _HLC, {"period": 14}, _R, lambda period: max(period, 1), "momentum", "DX"),
    _spec("plus_di", plus_di, _HLC, {"period": 14}, _R, lambda period: max(period, 1), "momentum", "PLUS_DI"),
    _spec(
        "minus_di", minus_di, _HLC, {"period": 14}, _R, lambda period: max(period, 1), "momentum", "MINUS_DI"
    ),
    _spec(
        "plus_dm", plus_dm, _HL, {"period": 14}, _R, lambda period: max(period - 1, 1), "momentum", "PLUS_DM"
    ),
    _spec(
        "minus_dm",
        minus_dm,
        _HL,
        {"period": 14},
        _R,
        lambda period: max(period - 1, 1),
        "momentum",
        "MINUS_DM",
    ),
    _spec("bop", bop, _OHLC, {}, _R, lambda: 0, "momentum", "BOP"),
    _spec("mfi", mfi, _HLCV, {"period": 14}, _R, lambda period: period, "momentum", "MFI"),
    _spec(
        "efficiency_ratio", efficiency_ratio, _C, {"period": 10}, _R, lambda period: period, "momentum", "ER"
    ),
    # volatility
    _spec("trange", true_range, _HLC, {}, _R, lambda: 1, "volatility", "TRANGE"),
    _spec("atr", atr, _HLC, {"period": 14}, _R, lambda period: period, "volatility", "ATR"),
    _spec("natr", natr, _HLC, {"period": 14}, _R, lambda period: period, "volatility", "NATR"),
    _spec(
        "stddev",
        rolling_std,
        _C,
        {"period": 5, "nbdev": 1.0},
        _R,
        lambda period, nbdev: period - 1,
        "volatility",
        "STDDEV",
    ),
    _spec("var", rolling_var, _C, {"period": 5}, _R, lambda period: period - 1, "volatility", "VAR"),
    _spec(
        "bbands_percent_b",
        bbands_percent_b,
        _C,
        {"period": 20, "nbdev": 2.0},
        _R,
        lambda period, nbdev: period - 1,
        "volatility",
    ),
    _spec(
        "bbands_bandwidth",
        bbands_bandwidth,
        _C,
        {"period": 20, "nbdev": 2.0},
        _R,
        lambda period, nbdev: period - 1,
        "volatility",
    ),
    _spec(
        "atr_bands",
        atr_bands,
        _HLC,
        {"period": 14, "multiplier": 2.0},
        ("upper", "lower"),
        lambda period, multiplier: period,
        "volatility",
    ),
    _spec("ulcer_index", ulcer_index, _C, {"period": 14}, _R, lambda period: 2 * (period - 1), "volatility"),
    _spec(
        "parkinson_volatility",
        parkinson_volatility,
        _HL,
        {"period": 20},
        _R,
        lambda period: period - 1,
        "volatility",
    ),
    _spec(
        "garman_klass_volatility",
        garman_klass_volatility,
        _OHLC,
        {"period": 20},
        _R,
        lambda period: period - 1,
        "volatility",
    ),
    _spec(
        "rogers_satchell_volatility",
        rogers_satchell_volatility,
        _OHLC,
        {"period": 20},
        _R,
        lambda period: period - 1,
        "volatility",
    ),
    _spec(
        "realized_volatility",
        realized_volatility,
        _C,
        {"period": 20},
        _R,
        lambda period: period,
        "volatility",
    ),
    # volume
    _spec("obv", obv, ("close", "volume"), {}, _R, lambda: 0, "volume", "OBV"),
    _spec("ad", ad, _HLCV, {}, _R, lambda: 0, "volume", "AD"),
    _spec(
        "adosc",
        adosc,
        _HLCV,
        {"fast": 3, "slow": 10},
        _R,
        lambda fast, slow: max(fast, slow) - 1,
        "volume",
        "ADOSC",
    ),
    _spec("cmf", cmf, _HLCV, {"period": 20}, _R, lambda period: period - 1, "volume", "CMF"),
    _spec("vwap", vwap, _HLCV, {"period": 20}, _R, lambda period: period - 1, "volume"),
    _spec("cumulative_vwap", cumulative_vwap, _HLCV, {}, _R, lambda: 0, "volume", "VWAP"),
    # statistics
    _spec("zscore", rolling_zscore, _C, {"period": 20}, _R, lambda period: period - 1, "statistics"),
    _spec(
        "correl",
        rolling_correlation,
        ("close", "market"),
        {"period": 30},
        _R,
        lambda period: period - 1,
        "statistics",
        "CORREL",
    ),
    _spec(
        "beta",
        price_beta,
        ("close", "market"),
        {"period": 5},
        _R,
        lambda period: period,
        "statistics",
        "BETA",
    ),
    _spec(
        "return_correlation",
        return_correlation,
        ("close", "market"),
        {"period": 30},
        _R,
        lambda period: period,
        "statistics",
    ),
    _spec(
        "linearreg",
        linear_regression,
        _C,
        {"period": 14},
        _R,
        lambda period: period - 1,
        "statistics",
        "LINEARREG",
    ),
    _spec(
        "linearreg_slope",
        linear_regression_slope,
        _C,
        {"period": 14},
        _R,
        lambda period: period - 1,
        "statistics",
        "LINEARREG_SLOPE",
    ),
    _spec(
        "linearreg_intercept",
        linear_regression_intercept,
        _C,
        {"period": 14},
        _R,
        lambda period: period - 1,
        "statistics",
        "LINEARREG_INTERCEPT",
    ),
    _spec(
        "linearreg_angle",
        linear_regression_angle,
        _C,
        {"period": 14},
        _R,
        lambda period: period - 1,
        "statistics",
        "LINEARREG_ANGLE",
    ),
    _spec(
        "tsf", time_series_forecast, _C, {"period": 14}, _R, lambda period: period - 1, "statistics", "TSF"
    ),
    _spec("skew", return_skewness, _C, {"period": 20}, _R, lambda period: period, "statistics"),
    _spec("kurtosis", return_kurtosis, _C, {"period": 20}, _R, lambda period: period, "statistics"),
    _spec(
        "avgdev",
        mean_absolute_deviation,
        _C,
        {"period": 14},
        _R,
        lambda period: period - 1,
        "statistics",
        "AVGDEV",
    ),
    _spec("sum", rolling_sum, _C, {"period": 30}, _R, lambda period: period - 1, "statistics", "SUM"),
    _spec("max", rolling_max, _C, {"period": 30}, _R, lambda period: period - 1, "statistics", "MAX"),
    _spec("min", rolling_min, _C, {"period": 30}, _R, lambda period: period - 1, "statistics", "MIN"),
    _spec("log_return", log_returns, _C, {}, _R, lambda: 1, "statistics"),
    _spec("simple_return", simple_returns, _C, {}, _R, lambda: 1, "statistics"),
    # price transforms
    _spec("medprice", medprice, _HL, {}, _R, lambda: 0, "price", "MEDPRICE"),
    _spec("typprice", typprice, _HLC, {}, _R, lambda: 0, "price", "TYPPRICE"),
    _spec("wclprice", wclprice, _HLC, {}, _R, lambda: 0, "price", "WCLPRICE"),
    _spec("avgprice", avgprice, _OHLC, {}, _R, lambda: 0, "price", "AVGPRICE"),
]

INDICATORS: dict[str, IndicatorSpec] = {s.name: s for s in _SPECS}
"""Every indicator by lowercase name (see :class:`IndicatorSpec`)."""


def _as_panel(name: str, key: str, arr: Any) -> np.ndarray:
    a = np.asarray(arr, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise WealthArenaDataError(
            f"indicator {name!r}: input {key!r} must be a (T,) or (T, N) array, got shape {a.shape}"
        )
    return a


def compute_indicator_panel(
    name: str,
    open: Any = None,
    high: Any = None,
    low: Any = None,
    close: Any = None,
    volume: Any = None,
    *,
    market: Any = None,
    **params: Any,
) -> np.ndarray | tuple[np.ndarray, ...]:
    """Compute a registered indicator column-wise on (T, N) panels.

    Args:
        name: a key of :data:`INDICATORS` (case-insensitive).
        open, high, low, close, volume: (T, N) (or (T,)) float arrays; only those in
            ``INDICATORS[name].inputs`` are needed.
        market: benchmark price series for ``beta``/``correl``/``return_correlation``: (T,) (shared by
            every column) or (T, N).
        **params: overrides of ``INDICATORS[name].params``.

    Returns:
        A (T, N) float64 array, or a tuple of them for multi-output indicators (in
        ``INDICATORS[name].outputs`` order). A (T,) input gives (T, 1) outputs.

    Raises:
        ConfigError: unknown indicator or parameter.
        WealthArenaDataError: a required input is missing or shapes disagree.
    """
    key = name.lower()
    if key not in INDICATORS:
        raise ConfigError(f"unknown indicator {name!r}; expected one of {sorted(INDICATORS)}")
    spec = INDICATORS[key]
    resolved = spec.resolve_params(**params)
    given = {"open": open, "high": high, "low": low, "close": close, "volume": volume, "market": market}
    panels = []
    for inp in spec.inputs:
        if given[inp] is None:
            raise WealthArenaDataError(
                f"indicator {key!r} needs input(s) {list(spec.inputs)}; {inp!r} was not given"
            )
        panels.append(_as_panel(key, inp, given[inp]))
    T = panels[0].shape[0]
    N = max(p.shape[1] for p in panels)
    for inp, p in zip(spec.inputs, panels):
        if p.shape[0] != T or p.shape[1] not in (1, N):
            raise WealthArenaDataError(
                f"indicator {key!r}: input {inp!r} has shape {p.shape}, expected ({T}, {N})"
                + (" or (T,)" if inp == "market" else "")
            )
        if p.shape[1] == 1 and N > 1 and inp != "market":
            raise WealthArenaDataError(
                f"indicator {key!r}: input {inp!r} has 1 column but other inputs have {N}"
            )
    outs = [np.empty((T, N)) for _ in spec.outputs]
    args = tuple(resolved.values())
    for j in range(N):
        # fresh writeable C-contiguous columns: one compiled signature per kernel
        cols = [np.array(p[:, j if p.shape[1] > 1 else 0], dtype=np.float64, order="C") for p in panels]
        res = spec.func(*cols, *args)
        if spec.n_outputs == 1:
            outs[0][:, j] = res
        else:
            for k in range(spec.n_outputs):
                outs[k][:, j] = res[k]
    return outs[0] if spec.n_outputs == 1 else tuple(outs)


__all__ = [
    "INDICATORS",
    "IndicatorSpec",
    "ad",
    "adosc",
    "adx",
    "adxr",
    "apo",
    "aroon",
    "aroonosc",
    "atr",
    "atr_bands",
    "atr_panel",
    "avgprice",
    "bbands",
    "bbands_bandwidth",
    "bbands_percent_b",
    "bbands_percent_b_panel",
    "bop",
    "cci",
    "cmf",
    "cmo",
    "compute_indicator_panel",
    "cumulative_vwap",
    "dema",
    "donchian_channels",
    "dx",
    "efficiency_ratio",
    "ema",
    "ema_panel",
    "garman_klass_volatility",
    "hma",
    "kama",
    "keltner_channels",
    "linear_regression",
    "linear_regression_angle",
    "linear_regression_intercept",
    "linear_regression_slope",
    "log_returns",
    "macd",
    "macd_hist_panel",
    "mean_absolute_deviation",
    "medprice",
    "mfi",
    "midpoint",
    "midprice",
    "minus_di",
    "minus_dm",
    "mom",
    "natr",
    "natr_panel",
    "obv",
    "parkinson_volatility",
    "plus_di",
    "plus_dm",
    "ppo",
    "price_beta",
    "realized_volatility",
    "return_correlation",
    "return_kurtosis",
    "return_skewness",
    "roc",
    "rocp",
    "rocr",
    "rocr100",
    "rogers_satchell_volatility",
    "rolling_beta",
    "rolling_correlation",
    "rolling_kurtosis",
    "rolling_max",
    "rolling_min",
    "rolling_skewness",
    "rolling_std",
    "rolling_std_panel",
    "rolling_sum",
    "rolling_var",
    "rolling_zscore",
    "rsi",
    "rsi_panel",
    "simple_returns",
    "sma",
    "sma_panel",
    "stoch",
    "stochf",
    "stochrsi",
    "t3",
    "tema",
    "time_series_forecast",
    "trima",
    "trix",
    "true_range",
    "typprice",
    "ulcer_index",
    "ultosc",
    "vwap",
    "vwma",
    "wclprice",
    "wilder_ma",
    "willr",
    "wma",
    "zlema",
    "zscore_panel",
]
