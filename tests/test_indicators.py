"""Tests of wealtharena_env.kernels.indicators.

1. Golden values against TA-Lib (the C library through its python wheel) for every indicator TA-Lib
   also has, on real Dow-30 bars (skipped when /work/shared/data is absent) and on seeded synthetic
   random walks (always run). The comparison covers the whole array: the NaN warm-up must be identical
   and the values must agree to rtol=1e-6 with atol = 1e-9 x the series' own scale. TA-Lib's default
   "unstable period" is 0, and the kernels reproduce TA-Lib's seeding, so no extra settling window is
   needed for any recursive indicator (EMA family, KAMA, T3, RSI, CMO, ATR, ADX, ...).
2. Hand-checked / plain-numpy reference values for the indicators TA-Lib lacks.
3. A hypothesis property test of no look-ahead over every registered indicator.
4. Registry checks: size, docstrings with formulas, lookbacks, panel helpers, errors.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wealtharena_env.errors import ConfigError, WealthArenaDataError
from wealtharena_env.kernels import indicators as ind

talib = pytest.importorskip("talib")

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DOW30 = DATA_DIR / "dow30_yahoo_2015_2020.csv.gz"
REAL_TICKERS = ("AAPL", "JPM", "XOM", "KO")
SYNTHETIC_SEEDS = (0, 1)
DATASETS = [f"synthetic-{s}" for s in SYNTHETIC_SEEDS] + [f"dow30-{t}" for t in REAL_TICKERS]


# --------------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------------


def synthetic_ohlcv(seed: int, T: int = 600) -> dict[str, np.ndarray]:
    """Geometric random walk with consistent OHLC (L <= O, C <= H), volume and a correlated market."""
    rng = np.random.default_rng(seed)
    market_ret = rng.normal(0.0003, 0.01, T)
    ret = 0.8 * market_ret + rng.normal(0.0, 0.012, T)
    close = 50.0 * np.exp(np.cumsum(ret))
    open_ = close * np.exp(rng.normal(0.0, 0.004, T))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.006, T)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.006, T)))
    volume = rng.integers(100_000, 5_000_000, T).astype(np.float64)
    market = 2000.0 * np.exp(np.cumsum(market_ret))
    return {"open": open_, "high": high, "low": low, "close": close, "volume": volume, "market": market}


@functools.lru_cache(maxsize=1)
def _dow30_wide():
    import pandas as pd

    df = pd.read_csv(DOW30, parse_dates=["date"])
    wide = {
        f: df.pivot(index="date", columns="ticker", values=f).dropna()
        for f in ("open", "high", "low", "close", "volume")
    }
    return wide


def real_ohlcv(ticker: str) -> dict[str, np.ndarray]:
    """One Dow-30 ticker's raw OHLCV; `market` is the equal-weighted mean close of all 29 tickers."""
    wide = _dow30_wide()
    out = {f: wide[f][ticker].to_numpy(dtype=np.float64, copy=True) for f in wide}
    out["market"] = wide["close"].mean(axis=1).to_numpy(dtype=np.float64, copy=True)
    return out


@pytest.fixture(scope="module", params=DATASETS)
def bars(request) -> dict[str, np.ndarray]:
    kind, _, which = request.param.partition("-")
    if kind == "synthetic":
        return synthetic_ohlcv(int(which))
    if not DOW30.exists():
        pytest.skip(f"shared real data not found at {DOW30} (only present in CI / the dev checkout)")
    return real_ohlcv(which)


# --------------------------------------------------------------------------------------------------
# 1. golden tests against TA-Lib
# --------------------------------------------------------------------------------------------------


def _tup(x):
    return x if isinstance(x, tuple) else (x,)


# id -> (ours(d), talib(d)); d has open/high/low/close/volume/market
GOLDEN = {
    # moving averages
    "SMA-10": (lambda d: ind.sma(d["close"], 10), lambda d: talib.SMA(d["close"], 10)),
    "SMA-30": (lambda d: ind.sma(d["close"], 30), lambda d: talib.SMA(d["close"], 30)),
    "EMA-10": (lambda d: ind.ema(d["close"], 10), lambda d: talib.EMA(d["close"], 10)),
    "EMA-30": (lambda d: ind.ema(d["close"], 30), lambda d: talib.EMA(d["close"], 30)),
    "RMA-14": (lambda d: ind.wilder_ma(d["close"], 14), lambda d: talib.RMA(d["close"], 14)),
    "WMA-10": (lambda d: ind.wma(d["close"], 10), lambda d: talib.WMA(d["close"], 10)),
    "WMA-30": (lambda d: ind.wma(d["close"], 30), lambda d: talib.WMA(d["close"], 30)),
    "DEMA-10": (lambda d: ind.dema(d["close"], 10), lambda d: talib.DEMA(d["close"], 10)),
    "DEMA-30": (lambda d: ind.dema(d["close"], 30), lambda d: talib.DEMA(d["close"], 30)),
    "TEMA-10": (lambda d: ind.tema(d["close"], 10), lambda d: talib.TEMA(d["close"], 10)),
    "TEMA-30": (lambda d: ind.tema(d["close"], 30), lambda d: talib.TEMA(d["close"], 30)),
    "TRIMA-10": (lambda d: ind.trima(d["close"], 10), lambda d: talib.TRIMA(d["close"], 10)),
    "TRIMA-15": (lambda d: ind.trima(d["close"], 15), lambda d: talib.TRIMA(d["close"], 15)),
    "TRIMA-30": (lambda d: ind.trima(d["close"], 30), lambda d: talib.TRIMA(d["close"], 30)),
    "KAMA-10": (lambda d: ind.kama(d["close"], 10), lambda d: talib.KAMA(d["close"], 10)),
    "KAMA-30": (lambda d: ind.kama(d["close"], 30), lambda d: talib.KAMA(d["close"], 30)),
    "T3-5": (lambda d: ind.t3(d["close"], 5, 0.7), lambda d: talib.T3(d["close"], 5, 0.7)),
    "T3-8-0.5": (lambda d: ind.t3(d["close"], 8, 0.5), lambda d: talib.T3(d["close"], 8, 0.5)),
    "HMA-20": (lambda d: ind.hma(d["close"], 20), lambda d: talib.HMA(d["close"], 20)),
    "HMA-9": (lambda d: ind.hma(d["close"], 9), lambda d: talib.HMA(d["close"], 9)),
    "ZLEMA-30": (lambda d: ind.zlema(d["close"], 30), lambda d: talib.ZLEMA(d["close"], 30)),
    "ZLEMA-10": (lambda d: ind.zlema(d["close"], 10), lambda d: talib.ZLEMA(d["close"], 10)),
    "VWMA-20": (
        lambda d: ind.vwma(d["close"], d["volume"], 20),
        lambda d: talib.VWMA(d["close"], d["volume"], 20),
    ),
    "BBANDS-20": (
        lambda d: ind.bbands(d["close"], 20, 2.0, 2.0),
        lambda d: talib.BBANDS(d["close"], 20, 2.0, 2.0, 0),
    ),
    "BBANDS-5-asym": (
        lambda d: ind.bbands(d["close"], 5, 1.5, 2.5),
        lambda d: talib.BBANDS(d["close"], 5, 1.5, 2.5, 0),
    ),
    "KC-20-10": (
        lambda d: ind.keltner_channels(d["high"], d["low"], d["close"], 20, 10, 2.0),
        lambda d: talib.KC(d["high"], d["low"], d["close"], 20, 10, 2.0),
    ),
    "KC-10-20": (
        lambda d: ind.keltner_channels(d["high"], d["low"], d["close"], 10, 20, 1.5),
        lambda d: talib.KC(d["high"], d["low"], d["close"], 10, 20, 1.5),
    ),
    "DONCHIAN-20": (
        lambda d: ind.donchian_channels(d["high"], d["low"], 20),
        lambda d: talib.DONCHIAN(d["high"], d["low"], 20),
    ),
    "MIDPOINT-14": (lambda d: ind.midpoint(d["close"], 14), lambda d: talib.MIDPOINT(d["close"], 14)),
    "MIDPRICE-14": (
        lambda d: ind.midprice(d["high"], d["low"], 14),
        lambda d: talib.MIDPRICE(d["high"], d["low"], 14),
    ),
    # momentum
    "RSI-14": (lambda d: ind.rsi(d["close"], 14), lambda d: talib.RSI(d["close"], 14)),
    "RSI-5": (lambda d: ind.rsi(d["close"], 5), lambda d: talib.RSI(d["close"], 5)),
    "CMO-14": (lambda d: ind.cmo(d["close"], 14), lambda d: talib.CMO(d["close"], 14)),
    "MACD-12-26-9": (lambda d: ind.macd(d["close"], 12, 26, 9), lambda d: talib.MACD(d["close"], 12, 26, 9)),
    "MACD-5-35-5": (lambda d: ind.macd(d["close"], 5, 35, 5), lambda d: talib.MACD(d["close"], 5, 35, 5)),
    "PPO-sma": (lambda d: ind.ppo(d["close"], 12, 26, 0), lambda d: talib.PPO(d["close"], 12, 26, 0)),
    "PPO-ema": (lambda d: ind.ppo(d["close"], 12, 26, 1), lambda d: talib.PPO(d["close"], 12, 26, 1)),
    "APO-sma": (lambda d: ind.apo(d["close"], 12, 26, 0), lambda d: talib.APO(d["close"], 12, 26, 0)),
    "APO-ema": (lambda d: ind.apo(d["close"], 10, 20, 1), lambda d: talib.APO(d["close"], 10, 20, 1)),
    "MOM-10": (lambda d: ind.mom(d["close"], 10), lambda d: talib.MOM(d["close"], 10)),
    "ROC-10": (lambda d: ind.roc(d["close"], 10), lambda d: talib.ROC(d["close"], 10)),
    "ROCP-10": (lambda d: ind.rocp(d["close"], 10), lambda d: talib.ROCP(d["close"], 10)),
    "ROCR-10": (lambda d: ind.rocr(d["close"], 10), lambda d: talib.ROCR(d["close"], 10)),
    "ROCR100-10": (lambda d: ind.rocr100(d["close"], 10), lambda d: talib.ROCR100(d["close"], 10)),
    "STOCH-5-3-3": (
        lambda d: ind.stoch(d["high"], d["low"], d["close"], 5, 3, 3),
        lambda d: talib.STOCH(d["high"], d["low"], d["close"], 5, 3, 0, 3, 0),
    ),
    "STOCH-14-3-5": (
        lambda d: ind.stoch(d["high"], d["low"], d["close"], 14, 3, 5),
        lambda d: talib.STOCH(d["high"], d["low"], d["close"], 14, 3, 0, 5, 0),
    ),
    "STOCHF-5-3": (
        lambda d: ind.stochf(d["high"], d["low"], d["close"], 5, 3),
        lambda d: talib.STOCHF(d["high"], d["low"], d["close"], 5, 3, 0),
    ),
    "STOCHRSI-14-5-3": (
        lambda d: ind.stochrsi(d["close"], 14, 5, 3),
        lambda d: talib.STOCHRSI(d["close"], 14, 5, 3, 0),
    ),
    "STOCHRSI-10-10-4": (
        lambda d: ind.stochrsi(d["close"], 10, 10, 4),
        lambda d: talib.STOCHRSI(d["close"], 10, 10, 4, 0),
    ),
    "WILLR-14": (
        lambda d: ind.willr(d["high"], d["low"], d["close"], 14),
        lambda d: talib.WILLR(d["high"], d["low"], d["close"], 14),
    ),
    "CCI-14": (
        lambda d: ind.cci(d["high"], d["low"], d["close"], 14),
        lambda d: talib.CCI(d["high"], d["low"], d["close"], 14),
    ),
    "CCI-20": (
        lambda d: ind.cci(d["high"], d["low"], d["close"], 20),
        lambda d: talib.CCI(d["high"], d["low"], d["close"], 20),
    ),
    "ULTOSC-7-14-28": (
        lambda d: ind.ultosc(d["high"], d["low"], d["close"], 7, 14, 28),
        lambda d: talib.ULTOSC(d["high"], d["low"], d["close"], 7, 14, 28),
    ),
    "ULTOSC-unsorted": (
        lambda d: ind.ultosc(d["high"], d["low"], d["close"], 20, 5, 10),
        lambda d: talib.ULTOSC(d["high"], d["low"], d["close"], 20, 5, 10),
    ),
    "TRIX-30": (lambda d: ind.trix(d["close"], 30), lambda d: talib.TRIX(d["close"], 30)),
    "TRIX-9": (lambda d: ind.trix(d["close"], 9), lambda d: talib.TRIX(d["close"], 9)),
    "AROON-14": (
        lambda d: ind.aroon(d["high"], d["low"], 14),
        lambda d: talib.AROON(d["high"], d["low"], 14),
    ),
    "AROON-25": (
        lambda d: ind.aroon(d["high"], d["low"], 25),
        lambda d: talib.AROON(d["high"], d["low"], 25),
    ),
    "AROONOSC-14": (
        lambda d: ind.aroonosc(d["high"], d["low"], 14),
        lambda d: talib.AROONOSC(d["high"], d["low"], 14),
    ),
    "ADX-14": (
        lambda d: ind.adx(d["high"], d["low"], d["close"], 14),
        lambda d: talib.ADX(d["high"], d["low"], d["close"], 14),
    ),
    "ADX-7": (
        lambda d: ind.adx(d["high"], d["low"], d["close"], 7),
        lambda d: talib.ADX(d["high"], d["low"], d["close"], 7),
    ),
    "ADXR-14": (
        lambda d: ind.adxr(d["high"], d["low"], d["close"], 14),
        lambda d: talib.ADXR(d["high"], d["low"], d["close"], 14),
    ),
    "DX-14": (
        lambda d: ind.dx(d["high"], d["low"], d["close"], 14),
        lambda d: talib.DX(d["high"], d["low"], d["close"], 14),
    ),
    "PLUS_DI-14": (
        lambda d: ind.plus_di(d["high"], d["low"], d["close"], 14),
        lambda d: talib.PLUS_DI(d["high"], d["low"], d["close"], 14),
    ),
    "MINUS_DI-14": (
        lambda d: ind.minus_di(d["high"], d["low"], d["close"], 14),
        lambda d: talib.MINUS_DI(d["high"], d["low"], d["close"], 14),
    ),
    # period 1: TA-Lib returns the raw ratio +DM/TR (0..1) instead of percent; we stay in percent
    "PLUS_DI-1": (
        lambda d: ind.plus_di(d["high"], d["low"], d["close"], 1),
        lambda d: 100.0 * talib.PLUS_DI(d["high"], d["low"], d["close"], 1),
    ),
    "MINUS_DI-1": (
        lambda d: ind.minus_di(d["high"], d["low"], d["close"], 1),
        lambda d: 100.0 * talib.MINUS_DI(d["high"], d["low"], d["close"], 1),
    ),
    "PLUS_DM-14": (
        lambda d: ind.plus_dm(d["high"], d["low"], 14),
        lambda d: talib.PLUS_DM(d["high"], d["low"], 14),
    ),
    "MINUS_DM-14": (
        lambda d: ind.minus_dm(d["high"], d["low"], 14),
        lambda d: talib.MINUS_DM(d["high"], d["low"], 14),
    ),
    "MINUS_DM-1": (
        lambda d: ind.minus_dm(d["high"], d["low"], 1),
        lambda d: talib.MINUS_DM(d["high"], d["low"], 1),
    ),
    "BOP": (
        lambda d: ind.bop(d["open"], d["high"], d["low"], d["close"]),
        lambda d: talib.BOP(d["open"], d["high"], d["low"], d["close"]),
    ),
    "MFI-14": (
        lambda d: ind.mfi(d["high"], d["low"], d["close"], d["volume"], 14),
        lambda d: talib.MFI(d["high"], d["low"], d["close"], d["volume"], 14),
    ),
    "ER-10": (lambda d: ind.efficiency_ratio(d["close"], 10), lambda d: talib.ER(d["close"], 10)),
    # volatility
    "TRANGE": (
        lambda d: ind.true_range(d["high"], d["low"], d["close"]),
        lambda d: talib.TRANGE(d["high"], d["low"], d["close"]),
    ),
    "ATR-14": (
        lambda d: ind.atr(d["high"], d["low"], d["close"], 14),
        lambda d: talib.ATR(d["high"], d["low"], d["close"], 14),
    ),
    "ATR-5": (
        lambda d: ind.atr(d["high"], d["low"], d["close"], 5),
        lambda d: talib.ATR(d["high"], d["low"], d["close"], 5),
    ),
    "NATR-14": (
        lambda d: ind.natr(d["high"], d["low"], d["close"], 14),
        lambda d: talib.NATR(d["high"], d["low"], d["close"], 14),
    ),
    "STDDEV-5": (lambda d: ind.rolling_std(d["close"], 5, 1.0), lambda d: talib.STDDEV(d["close"], 5, 1.0)),
    "STDDEV-20-2": (
        lambda d: ind.rolling_std(d["close"], 20, 2.0),
        lambda d: talib.STDDEV(d["close"], 20, 2.0),
    ),
    "VAR-5": (lambda d: ind.rolling_var(d["close"], 5), lambda d: talib.VAR(d["close"], 5, 1.0)),
    "AVGDEV-14": (
        lambda d: ind.mean_absolute_deviation(d["close"], 14),
        lambda d: talib.AVGDEV(d["close"], 14),
    ),
    # volume
    "OBV": (lambda d: ind.obv(d["close"], d["volume"]), lambda d: talib.OBV(d["close"], d["volume"])),
    "AD": (
        lambda d: ind.ad(d["high"], d["low"], d["close"], d["volume"]),
        lambda d: talib.AD(d["high"], d["low"], d["close"], d["volume"]),
    ),
    "ADOSC-3-10": (
        lambda d: ind.adosc(d["high"], d["low"], d["close"], d["volume"], 3, 10),
        lambda d: talib.ADOSC(d["high"], d["low"], d["close"], d["volume"], 3, 10),
    ),
    "ADOSC-5-20": (
        lambda d: ind.adosc(d["high"], d["low"], d["close"], d["volume"], 5, 20),
        lambda d: talib.ADOSC(d["high"], d["low"], d["close"], d["volume"], 5, 20),
    ),
    "CMF-20": (
        lambda d: ind.cmf(d["high"], d["low"], d["close"], d["volume"], 20),
        lambda d: talib.CMF(d["high"], d["low"], d["close"], d["volume"], 20),
    ),
    "VWAP-cumulative": (
        lambda d: ind.cumulative_vwap(d["high"], d["low"], d["close"], d["volume"]),
        lambda d: talib.VWAP(d["high"], d["low"], d["close"], d["volume"]),
    ),
    # statistics
    "CORREL-30": (
        lambda d: ind.rolling_correlation(d["close"], d["market"], 30),
        lambda d: talib.CORREL(d["close"], d["market"], 30),
    ),
    "BETA-5": (
        lambda d: ind.price_beta(d["close"], d["market"], 5),
        lambda d: talib.BETA(d["market"], d["close"], 5),
    ),
    "BETA-60": (
        lambda d: ind.price_beta(d["close"], d["market"], 60),
        lambda d: talib.BETA(d["market"], d["close"], 60),
    ),
    "LINEARREG-14": (
        lambda d: ind.linear_regression(d["close"], 14),
        lambda d: talib.LINEARREG(d["close"], 14),
    ),
    "LINEARREG_SLOPE-14": (
        lambda d: ind.linear_regression_slope(d["close"], 14),
        lambda d: talib.LINEARREG_SLOPE(d["close"], 14),
    ),
    "LINEARREG_INTERCEPT-14": (
        lambda d: ind.linear_regression_intercept(d["close"], 14),
        lambda d: talib.LINEARREG_INTERCEPT(d["close"], 14),
    ),
    "LINEARREG_ANGLE-14": (
        lambda d: ind.linear_regression_angle(d["close"], 14),
        lambda d: talib.LINEARREG_ANGLE(d["close"], 14),
    ),
    "TSF-14": (lambda d: ind.time_series_forecast(d["close"], 14), lambda d: talib.TSF(d["close"], 14)),
    "SUM-30": (lambda d: ind.rolling_sum(d["close"], 30), lambda d: talib.SUM(d["close"], 30)),
    "MAX-30": (lambda d: ind.rolling_max(d["close"], 30), lambda d: talib.MAX(d["close"], 30)),
    "MIN-30": (lambda d: ind.rolling_min(d["close"], 30), lambda d: talib.MIN(d["close"], 30)),
    # price transforms
    "MEDPRICE": (lambda d: ind.medprice(d["high"], d["low"]), lambda d: talib.MEDPRICE(d["high"], d["low"])),
    "TYPPRICE": (
        lambda d: ind.typprice(d["high"], d["low"], d["close"]),
        lambda d: talib.TYPPRICE(d["high"], d["low"], d["close"]),
    ),
    "WCLPRICE": (
        lambda d: ind.wclprice(d["high"], d["low"], d["close"]),
        lambda d: talib.WCLPRICE(d["high"], d["low"], d["close"]),
    ),
    "AVGPRICE": (
        lambda d: ind.avgprice(d["open"], d["high"], d["low"], d["close"]),
        lambda d: talib.AVGPRICE(d["open"], d["high"], d["low"], d["close"]),
    ),
}


def assert_matches_talib(ours, theirs, label: str) -> None:
    ours, theirs = _tup(ours), _tup(theirs)
    assert len(ours) == len(theirs), f"{label}: {len(ours)} outputs vs TA-Lib's {len(theirs)}"
    for k, (a, b) in enumerate(zip(ours, theirs)):
        b = np.asarray(b, dtype=np.float64)
        assert a.shape == b.shape and a.dtype == np.float64
        # identical warm-up: NaN exactly where TA-Lib has NaN
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=f"{label}[{k}] warm-up differs")
        finite = b[np.isfinite(b)]
        scale = float(np.max(np.abs(finite))) if finite.size else 1.0
        np.testing.assert_allclose(
            a, b, rtol=1e-6, atol=1e-9 * max(scale, 1.0), err_msg=f"{label}[{k}] differs from TA-Lib"
        )


@pytest.mark.parametrize("case", sorted(GOLDEN))
def test_matches_talib(bars, case):
    ours_fn, talib_fn = GOLDEN[case]
    try:
        expected = talib_fn(bars)
    except AttributeError as exc:  # HMA, ZLEMA, KC, DONCHIAN, CMF, VWAP, ... are new in TA-Lib 0.6-0.8
        pytest.skip(f"the installed TA-Lib lacks this function: {exc}")
    assert_matches_talib(ours_fn(bars), expected, case)


def test_every_talib_equivalent_in_registry_has_a_golden_case():
    covered = {case.split("-")[0] for case in GOLDEN}
    claimed = {spec.talib for spec in ind.INDICATORS.values() if spec.talib}
    assert claimed <= covered, f"registered TA-Lib equivalents without a golden test: {claimed - covered}"


# --------------------------------------------------------------------------------------------------
# 2. hand-checked values (indicators TA-Lib lacks, plus small hand examples of a few it has)
# --------------------------------------------------------------------------------------------------

nan = np.nan


def test_zscore_by_hand():
    x = np.array([1.0, 2.0, 3.0, 4.0, 4.0, 4.0])
    z = ind.rolling_zscore(x, 4)
    # window [1,2,3,4]: mean 2.5, population std sqrt(1.25); window [2,3,4,4]: mean 3.25, var 0.6875
    # window [3,4,4,4]: mean 3.75, var (0.5625 + 3*0.0625)/4 = 0.1875
    expected = [nan, nan, nan, 1.5 / math.sqrt(1.25), 0.75 / math.sqrt(0.6875), 0.25 / math.sqrt(0.1875)]
    np.testing.assert_allclose(z, expected, rtol=1e-12)
    assert ind.rolling_zscore(np.full(5, 7.0), 3)[2:].tolist() == [0.0, 0.0, 0.0]  # flat window -> 0


def test_donchian_by_hand():
    high = np.array([10.0, 12.0, 11.0, 9.0, 13.0])
    low = np.array([8.0, 9.0, 7.0, 8.0, 10.0])
    up, mid, lo = ind.donchian_channels(high, low, 3)
    np.testing.assert_array_equal(up, [nan, nan, 12.0, 12.0, 13.0])
    np.testing.assert_array_equal(lo, [nan, nan, 7.0, 7.0, 7.0])
    np.testing.assert_array_equal(mid, [nan, nan, 9.5, 9.5, 10.0])


def test_cmf_and_vwap_by_hand():
    high = np.array([10.0, 11.0, 12.0])
    low = np.array([8.0, 9.0, 10.0])
    close = np.array([9.5, 9.0, 12.0])
    volume = np.array([100.0, 200.0, 300.0])
    # CLV: (1.5-0.5)/2 = 0.5, (0-2)/2 = -1, (2-0)/2 = 1
    cmf = ind.cmf(high, low, close, volume, 2)
    np.testing.assert_allclose(cmf, [nan, (50 - 200) / 300, (-200 + 300) / 500], rtol=1e-12)
    # TP: 27.5/3, 29/3, 34/3
    vw = ind.vwap(high, low, close, volume, 2)
    tp = (high + low + close) / 3
    np.testing.assert_allclose(
        vw, [nan, (tp[0] * 100 + tp[1] * 200) / 300, (tp[1] * 200 + tp[2] * 300) / 500], rtol=1e-12
    )
    # zero volume falls back to the plain mean of TP
    assert ind.vwap(high, low, close, np.zeros(3), 2)[2] == pytest.approx((tp[1] + tp[2]) / 2)
    assert ind.cmf(high, low, close, np.zeros(3), 2)[2] == 0.0


def test_keltner_by_hand():
    # constant bars: TR = H - L = 2 every bar, TP constant -> bands are TP +/- mult*2
    T = 12
    high, low, close = np.full(T, 11.0), np.full(T, 9.0), np.full(T, 10.0)
    up, mid, lo = ind.keltner_channels(high, low, close, 4, 3, 1.5)
    lb = max(4 - 1, 3)
    assert np.isnan(mid[:lb]).all() and np.isnan(up[:lb]).all()
    np.testing.assert_allclose(mid[lb:], 10.0)
    np.testing.assert_allclose(up[lb:], 13.0)
    np.testing.assert_allclose(lo[lb:], 7.0)


def test_percent_b_bandwidth_and_atr_bands_by_hand():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    sd = math.sqrt(2.0 / 3.0)  # population std of [1,2,3], [2,3,4], ...
    pb = ind.bbands_percent_b(x, 3, 2.0)
    np.testing.assert_allclose(pb[2:], (1.0 + 2 * sd) / (4 * sd), rtol=1e-12)  # (x - (m - 2sd)) / 4sd
    bw = ind.bbands_bandwidth(x, 3, 2.0)
    np.testing.assert_allclose(bw[2:], 4 * sd / np.array([2.0, 3.0, 4.0]), rtol=1e-12)
    assert ind.bbands_percent_b(np.full(4, 3.0), 3, 2.0)[3] == 0.5
    d = synthetic_ohlcv(3, 60)
    up, lo = ind.atr_bands(d["high"], d["low"], d["close"], 10, 1.5)
    a = ind.atr(d["high"], d["low"], d["close"], 10)
    np.testing.assert_allclose(up, d["close"] + 1.5 * a)
    np.testing.assert_allclose(lo, d["close"] - 1.5 * a)


def _np_windows(x, n):
    return np.lib.stride_tricks.sliding_window_view(x, n)


def test_range_volatilities_against_numpy_reference():
    d = synthetic_ohlcv(4, 80)
    o, h, l, c = d["open"], d["high"], d["low"], d["close"]
    n = 10
    hl = np.log(h / l)
    co = np.log(c / o)
    park = np.sqrt((_np_windows(hl**2, n)).mean(axis=1) / (4 * np.log(2)))
    gk = np.sqrt(_np_windows(0.5 * hl**2 - (2 * np.log(2) - 1) * co**2, n).mean(axis=1))
    rs_terms = np.log(h / c) * np.log(h / o) + np.log(l / c) * np.log(l / o)
    rs = np.sqrt(_np_windows(rs_terms, n).mean(axis=1))
    r = np.diff(np.log(c))
    rv = _np_windows(r, n).std(axis=1)
    np.testing.assert_allclose(ind.parkinson_volatility(h, l, n)[n - 1 :], park, rtol=1e-12)
    np.testing.assert_allclose(ind.garman_klass_volatility(o, h, l, c, n)[n - 1 :], gk, rtol=1e-12)
    np.testing.assert_allclose(ind.rogers_satchell_volatility(o, h, l, c, n)[n - 1 :], rs, rtol=1e-12)
    np.testing.assert_allclose(ind.realized_volatility(c, n)[n:], rv, rtol=1e-10)
    assert np.isnan(ind.realized_volatility(c, n)[:n]).all()


def test_ulcer_index_by_hand():
    c = np.array([10.0, 8.0, 9.0, 10.0, 5.0])
    ui = ind.ulcer_index(c, 2)
    # drawdowns vs 2-bar max: t1: 8/10-1 = -20%, t2: 9/9 = 0, t3: 0, t4: 5/10-1 = -50%
    expected = [nan, nan, math.sqrt((400 + 0) / 2), 0.0, math.sqrt((0 + 2500) / 2)]
    np.testing.assert_allclose(ui, expected, rtol=1e-12)


def test_moments_beta_correlation_against_numpy_reference():
    d = synthetic_ohlcv(5, 120)
    c, m = d["close"], d["market"]
    n = 15
    r = np.diff(np.log(c))
    w = _np_windows(r, n)
    dev = w - w.mean(axis=1, keepdims=True)
    m2, m3, m4 = (dev**2).mean(1), (dev**3).mean(1), (dev**4).mean(1)
    np.testing.assert_allclose(ind.return_skewness(c, n)[n:], m3 / m2**1.5, rtol=1e-9)
    np.testing.assert_allclose(ind.return_kurtosis(c, n)[n:], m4 / m2**2 - 3, rtol=1e-9)
    np.testing.assert_allclose(ind.rolling_skewness(r, n)[n - 1 :], m3 / m2**1.5, rtol=1e-9)
    ra, rm = c[1:] / c[:-1] - 1, m[1:] / m[:-1] - 1
    wa, wm = _np_windows(ra, n), _np_windows(rm, n)
    cov = ((wa - wa.mean(1, keepdims=True)) * (wm - wm.mean(1, keepdims=True))).mean(1)
    beta = cov / wm.var(axis=1)
    corr = cov / (wa.std(axis=1) * wm.std(axis=1))
    np.testing.assert_allclose(ind.rolling_beta(ra, rm, n)[n - 1 :], beta, rtol=1e-9)
    np.testing.assert_allclose(ind.return_correlation(c, m, n)[n:], corr, rtol=1e-9)
    # a 2x-levered copy of the market has beta 2 and correlation 1
    np.testing.assert_allclose(ind.rolling_beta(2 * rm, rm, n)[n - 1 :], 2.0, rtol=1e-12)
    np.testing.assert_allclose(ind.rolling_correlation(2 * rm + 1, rm, n)[n - 1 :], 1.0, rtol=1e-12)


def test_returns_by_hand():
    c = np.array([100.0, 110.0, 99.0])
    np.testing.assert_allclose(ind.simple_returns(c), [nan, 0.1, -0.1], rtol=1e-12)
    np.testing.assert_allclose(ind.log_returns(c), [nan, math.log(1.1), math.log(0.9)], rtol=1e-12)


def test_rsi_and_obv_by_hand():
    c = np.array([1.0, 2.0, 1.5, 2.5, 2.5, 2.0])
    # n = 2: gains (1, 0), losses (0, 0.5) -> AG = 0.5, AL = 0.25 -> RSI = 66.67
    r = ind.rsi(c, 2)
    ag, al = 0.5, 0.25
    exp = [nan, nan, 100 * ag / (ag + al)]
    ag, al = (ag + 1.0) / 2, al / 2
    exp.append(100 * ag / (ag + al))
    ag, al = ag / 2, al / 2
    exp.append(100 * ag / (ag + al))
    ag, al = ag / 2, (al + 0.5) / 2
    exp.append(100 * ag / (ag + al))
    np.testing.assert_allclose(r, exp, rtol=1e-12)
    v = np.array([10.0, 20.0, 30.0, 40.0, 50.0, 60.0])
    np.testing.assert_array_equal(ind.obv(c, v), [10.0, 30.0, 0.0, 40.0, 40.0, -20.0])


# --------------------------------------------------------------------------------------------------
# 3. no look-ahead (hypothesis)
# --------------------------------------------------------------------------------------------------


def _small_params(spec) -> dict:
    """Shrink every integer period so that short series leave the warm-up."""
    return {k: min(v, 6) for k, v in spec.params.items() if isinstance(v, int) and k != "ma_type"}


def _random_bars(rng: np.random.Generator, T: int, N: int) -> dict[str, np.ndarray]:
    close = 20.0 * np.exp(np.cumsum(rng.normal(0, 0.02, (T, N)), axis=0))
    open_ = close * np.exp(rng.normal(0, 0.01, (T, N)))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.01, (T, N))))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.01, (T, N))))
    volume = rng.uniform(0.0, 1e6, (T, N)).round()
    market = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, T)))
    return {"open": open_, "high": high, "low": low, "close": close, "volume": volume, "market": market}


@settings(deadline=None, max_examples=25)
@given(
    seed=st.integers(0, 2**32 - 1),
    T=st.integers(2, 70),
    cut=st.floats(0.0, 1.0),
    which=st.sampled_from(["all", "close", "high", "volume", "market"]),
)
def test_no_look_ahead(seed, T, cut, which):
    """Changing any input after t leaves every indicator's outputs at <= t bit-identical."""
    rng = np.random.default_rng(seed)
    t = min(int(cut * (T - 1)), T - 2)
    base = _random_bars(rng, T, 2)
    other = _random_bars(rng, T, 2)
    changed = {k: v.copy() for k, v in base.items()}
    keys = list(base) if which == "all" else [which]
    for k in keys:
        changed[k][t + 1 :] = other[k][t + 1 :]
    for name, spec in ind.INDICATORS.items():
        p = _small_params(spec)
        a = _tup(ind.compute_indicator_panel(name, **base, **p))
        b = _tup(ind.compute_indicator_panel(name, **changed, **p))
        for k, (x, y) in enumerate(zip(a, b)):
            assert np.array_equal(x[: t + 1], y[: t + 1], equal_nan=True), (
                f"{name}[{k}] output at <= {t} changed when inputs after {t} changed ({which})"
            )


# --------------------------------------------------------------------------------------------------
# 4. registry and panels
# --------------------------------------------------------------------------------------------------


def test_registry_size_and_docstrings():
    assert len(ind.INDICATORS) >= 55
    for name, spec in ind.INDICATORS.items():
        assert name == name.lower()
        doc = spec.func.__doc__ or ""
        assert doc.strip(), f"{name}: kernel has no docstring"
        assert "=" in doc, f"{name}: docstring has no formula"
        assert "lookback" in doc.lower(), f"{name}: docstring does not state the lookback"
        assert set(spec.inputs) <= {"open", "high", "low", "close", "volume", "market"}
        assert spec.n_outputs == len(spec.outputs) >= 1


@pytest.mark.parametrize("name", sorted(ind.INDICATORS))
def test_registry_lookback_matches_output(name):
    """Defaults on a 400-bar random walk: NaN exactly during the documented lookback, finite after."""
    spec = ind.INDICATORS[name]
    d = synthetic_ohlcv(7, 400)
    outs = _tup(ind.compute_indicator_panel(name, **d))
    lb = spec.lookback()
    for k, out in enumerate(outs):
        assert out.shape == (400, 1) and out.dtype == np.float64
        assert np.isnan(out[:lb]).all(), f"{name}[{k}]: value inside the warm-up"
        assert np.isfinite(out[lb:]).all(), f"{name}[{k}]: NaN/inf after the lookback {lb}"


def test_panel_kernels_equal_column_wise_kernels():
    rng = np.random.default_rng(11)
    b = _random_bars(rng, 90, 3)
    h, l, c = b["high"], b["low"], b["close"]
    cols = range(c.shape[1])
    pairs = [
        (ind.sma_panel(c, 7), [ind.sma(c[:, j].copy(), 7) for j in cols]),
        (ind.ema_panel(c, 7), [ind.ema(c[:, j].copy(), 7) for j in cols]),
        (ind.rsi_panel(c, 7), [ind.rsi(c[:, j].copy(), 7) for j in cols]),
        (ind.macd_hist_panel(c, 5, 12, 4), [ind.macd(c[:, j].copy(), 5, 12, 4)[2] for j in cols]),
        (
            ind.atr_panel(h, l, c, 7),
            [ind.atr(h[:, j].copy(), l[:, j].copy(), c[:, j].copy(), 7) for j in cols],
        ),
        (
            ind.natr_panel(h, l, c, 7),
            [ind.natr(h[:, j].copy(), l[:, j].copy(), c[:, j].copy(), 7) for j in cols],
        ),
        (
            ind.bbands_percent_b_panel(c, 10, 2.0),
            [ind.bbands_percent_b(c[:, j].copy(), 10, 2.0) for j in cols],
        ),
        (ind.rolling_std_panel(c, 10, 1.0), [ind.rolling_std(c[:, j].copy(), 10, 1.0) for j in cols]),
        (ind.zscore_panel(c, 10), [ind.rolling_zscore(c[:, j].copy(), 10) for j in cols]),
    ]
    for panel, columns in pairs:
        np.testing.assert_array_equal(panel, np.column_stack(columns))
    hist = ind.compute_indicator_panel("macd", close=c, fast=5, slow=12, signal=4)[2]
    np.testing.assert_array_equal(hist, ind.macd_hist_panel(c, 5, 12, 4))


def test_compute_indicator_panel_errors():
    c = np.ones((10, 2))
    with pytest.raises(ConfigError, match="unknown indicator"):
        ind.compute_indicator_panel("no_such_thing", close=c)
    with pytest.raises(ConfigError, match="unknown parameter"):
        ind.compute_indicator_panel("sma", close=c, window=3)
    with pytest.raises(ConfigError, match="must be >= 1"):
        ind.compute_indicator_panel("sma", close=c, period=0)
    with pytest.raises(ConfigError, match="integer"):
        ind.compute_indicator_panel("sma", close=c, period=2.5)
    with pytest.raises(WealthArenaDataError, match="'high' was not given"):
        ind.compute_indicator_panel("atr", close=c)
    with pytest.raises(WealthArenaDataError, match="shape"):
        ind.compute_indicator_panel("atr", high=c, low=c[:5], close=c)
    with pytest.raises(WealthArenaDataError, match="'market' was not given"):
        ind.compute_indicator_panel("beta", close=c)
    with pytest.raises(ValueError):
        ind.sma(np.ones(5), 0)  # kernels refuse a non-positive period too
    assert ind.INDICATORS["macd"].lookback() == 33
    assert ind.INDICATORS["adx"].lookback(period=5) == 9


def test_short_series_are_all_nan_not_errors():
    d = synthetic_ohlcv(8, 5)
    for name in ind.INDICATORS:
        for out in _tup(ind.compute_indicator_panel(name, **d)):
            lb = ind.INDICATORS[name].lookback()
            assert np.isnan(out[: min(lb, 5)]).all()
