"""Tests of wealtharena_env.kernels.metrics.

1. Golden values computed by hand on small fixed series (the arithmetic is in the comments).
2. Plain-NumPy reference twins (arch-style oracles) against the Numba kernels on hypothesis inputs.
3. An independent library (empyrical-reloaded) on real SPY / AAPL series, with convention conversions.
4. Batch invariance: a (B, T) call equals B separate (1, T) calls bit for bit, and the fused
   ``summary_metrics`` equals the individual kernels exactly.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from wealtharena_env.kernels import metrics as M

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# Standard normal table values (Abramowitz & Stegun 26.2): z_0.05 and phi(z_0.05) / 0.05.
Z05 = -1.6448536269514722
PHI_Z05_OVER_P = 0.10313564037537128 / 0.05  # = 2.0627128075074257


def rel(x, rtol=1e-12, atol=1e-15):
    return pytest.approx(x, rel=rtol, abs=atol, nan_ok=True)


def a2(x):
    return np.ascontiguousarray(np.atleast_2d(np.asarray(x, dtype=np.float64)))


# ====================================================================================================
# 1. Golden values by hand
# ====================================================================================================
# Series A (T = 6):
#   r      = [0.10, -0.20, 0.25, -0.10, 0.05, 0.02]
#   sum    = 0.12, mean = 0.02
#   r-mean = [0.08, -0.22, 0.23, -0.12, 0.03, 0.00]
#   squares= [0.0064, 0.0484, 0.0529, 0.0144, 0.0009, 0]  -> sum 0.123
#   var    = 0.123 / 5 = 0.0246 (ddof 1),  0.123 / 6 = 0.0205 (ddof 0)
#   equity E_0..E_6 = 1, 1.1, 0.88, 1.1, 0.99, 1.0395, 1.06029
#     (1.1*0.8 = 0.88; *1.25 = 1.1; *0.9 = 0.99; *1.05 = 1.0395; *1.02 = 1.06029)
#   running peak    = 1, 1.1, 1.1,  1.1, 1.1,  1.1,    1.1
#   drawdown        = 0, 0,   0.2,  0,   0.1,  0.055,  0.0361 (1 - 1.06029/1.1)
#   max drawdown 0.2 at t=2; peak t=1, recovery t=3 (E_3 = 1.1 >= 1.1) -> episode length 2
#   underwater runs: {t=2} (1 period), {t=4,5,6} (3 periods, still open) -> longest 3
A = [0.10, -0.20, 0.25, -0.10, 0.05, 0.02]
# Benchmark for A:
#   rb      = [0.05, -0.10, 0.10, 0.00, 0.05, -0.04], sum 0.06, mean 0.01
#   rb-mean = [0.04, -0.11, 0.09, -0.01, 0.04, -0.05]
#   sxy = 0.08*0.04 + 0.22*0.11 + 0.23*0.09 + 0.12*0.01 + 0.03*0.04 + 0 = 0.0032+0.0242+0.0207+0.0012+0.0012
#       = 0.0505
#   syy = 0.0016+0.0121+0.0081+0.0001+0.0016+0.0025 = 0.026
#   active a = r - rb = [0.05, -0.10, 0.15, -0.10, 0.00, 0.06], mean 0.01
#   a-mean = [0.04, -0.11, 0.14, -0.11, -0.01, 0.05], squares sum = 0.0016+0.0121+0.0196+0.0121+0.0001+0.0025
#          = 0.048 -> var 0.048 / 5 = 0.0096
AB = [0.05, -0.10, 0.10, 0.00, 0.05, -0.04]


def test_golden_return_metrics_series_a():
    r = a2(A)
    # total return = E_6 - 1 = 0.06029
    assert M.total_return(r)[0] == rel(0.06029)
    # CAGR with P = 12 (monthly): T/P = 0.5 years -> 1.06029^2 - 1 = 1 + 2*0.06029 + 0.06029^2 - 1
    #   = 0.12058 + 0.0036348841 = 0.1242148841
    assert M.cagr(r, 12.0)[0] == rel(0.1242148841)
    # CAGR with P = 6: exactly one year -> total return
    assert M.cagr(r, 6.0)[0] == rel(0.06029)
    # volatility = sqrt(0.0246) * sqrt(252) = sqrt(6.1992); population: sqrt(0.0205 * 252) = sqrt(5.166)
    assert M.annual_volatility(r, 252.0, 1)[0] == rel(math.sqrt(6.1992))
    assert M.annual_volatility(r, 252.0, 0)[0] == rel(math.sqrt(5.166))
    # Sharpe (rf 0) = 0.02 / sqrt(0.0246) * sqrt(252) = 0.02 * sqrt(252 / 0.0246)
    assert M.sharpe_ratio(r, 252.0, 0.0, 1)[0] == rel(0.02 * math.sqrt(252 / 0.0246))
    # Sharpe (rf 0.01): excess mean 0.01, same std -> 0.01 * sqrt(252 / 0.0246)
    assert M.sharpe_ratio(r, 252.0, 0.01, 1)[0] == rel(0.01 * math.sqrt(252 / 0.0246))
    # Sortino (rf 0): downside terms (-0.20)^2 + (-0.10)^2 = 0.05 over ALL 6 periods
    #   DD = sqrt(0.05 / 6); Sortino = 0.02 / DD * sqrt(252)
    assert M.sortino_ratio(r, 252.0, 0.0)[0] == rel(0.02 / math.sqrt(0.05 / 6) * math.sqrt(252))
    assert M.downside_deviation(r, 252.0, 0.0)[0] == rel(math.sqrt(0.05 / 6 * 252))
    # Sortino (rf 0.01): excess [0.09,-0.21,0.24,-0.11,0.04,0.01], mean 0.01,
    #   downside 0.21^2 + 0.11^2 = 0.0441 + 0.0121 = 0.0562 over 6
    assert M.sortino_ratio(r, 252.0, 0.01)[0] == rel(0.01 / math.sqrt(0.0562 / 6) * math.sqrt(252))
    # Drawdowns (see the table above)
    assert M.max_drawdown(r)[0] == rel(0.2)
    assert M.max_drawdown_duration(r)[0] == 3.0
    assert M.max_drawdown_episode_length(r)[0] == 2.0
    np.testing.assert_allclose(
        M.drawdown_series(r)[0], [0, 0.2, 0, 0.1, 0.055, 1 - 1.06029 / 1.1], rtol=1e-12, atol=1e-15
    )
    # Calmar (P = 12) = 0.1242148841 / 0.2
    assert M.calmar_ratio(r, 12.0)[0] == rel(0.1242148841 / 0.2)
    # Historical VaR 95 %: sorted s = [-0.20, -0.10, 0.02, 0.05, 0.10, 0.25], h = 5 * 0.05 = 0.25, k = 0
    #   q = -0.20 + 0.25 * (-0.10 + 0.20) = -0.175 -> VaR 0.175; CVaR = -mean(s_0) = 0.20
    assert M.historical_var(r, 0.95)[0] == rel(0.175)
    assert M.historical_cvar(r, 0.95)[0] == rel(0.20)
    # level 0.6: p = 0.4, h = 5 * 0.4 = 2, k = 2 -> q = s_2 = 0.02 -> VaR = -0.02 (the tail is a gain);
    #   CVaR = -mean(-0.20, -0.10, 0.02) = 0.28 / 3
    assert M.historical_var(r, 0.6)[0] == rel(-0.02)
    assert M.historical_cvar(r, 0.6)[0] == rel(0.28 / 3)
    # Gaussian VaR = -(mu + z sigma) = 1.6448536269514722 * sqrt(0.0246) - 0.02
    # Gaussian CVaR = -(mu - sigma phi(z) / p) = 2.0627128075074257 * sqrt(0.0246) - 0.02
    assert M.gaussian_var(r, 0.95, 1)[0] == rel(-Z05 * math.sqrt(0.0246) - 0.02)
    assert M.gaussian_cvar(r, 0.95, 1)[0] == rel(PHI_Z05_OVER_P * math.sqrt(0.0246) - 0.02)
    assert M.gaussian_cvar(r, 0.95, 0)[0] == rel(PHI_Z05_OVER_P * math.sqrt(0.0205) - 0.02)
    # Win rate: 4 positive (0.10, 0.25, 0.05, 0.02) of 6 non-zero = 2/3
    assert M.win_rate(r)[0] == rel(4 / 6)
    # Profit factor: gains 0.10+0.25+0.05+0.02 = 0.42, losses |-0.20-0.10| = 0.30 -> 1.4
    assert M.profit_factor(r)[0] == rel(1.4)


def test_golden_benchmark_metrics_series_a():
    r, rb = a2(A), a2(AB)
    # beta = sxy / syy = 0.0505 / 0.026
    assert M.beta(r, rb)[0] == rel(0.0505 / 0.026)
    # alpha = (mean r - beta mean rb) * 252 = (0.02 - 0.0505/0.026 * 0.01) * 252
    assert M.alpha(r, rb, 252.0, 0.0)[0] == rel((0.02 - 0.0505 / 0.026 * 0.01) * 252)
    # with rf = 0.01 the benchmark's excess mean is 0 and beta is unchanged: alpha = (0.01 - 0) * 252
    assert M.alpha(r, rb, 252.0, 0.01)[0] == rel(2.52)
    assert M.beta(r, rb, 0.01)[0] == rel(0.0505 / 0.026)
    # correlation = 0.0505 / sqrt(0.123 * 0.026)
    assert M.correlation(r, rb)[0] == rel(0.0505 / math.sqrt(0.123 * 0.026))
    # tracking error = sqrt(0.0096) * sqrt(252) = sqrt(2.4192); IR = 0.01 * 252 / sqrt(2.4192)
    assert M.tracking_error(r, rb, 252.0, 1)[0] == rel(math.sqrt(2.4192))
    assert M.information_ratio(r, rb, 252.0, 1)[0] == rel(2.52 / math.sqrt(2.4192))
    # population (ddof 0): var 0.048 / 6 = 0.008
    assert M.tracking_error(r, rb, 252.0, 0)[0] == rel(math.sqrt(0.008 * 252))
    # a (T,) benchmark broadcasts to every series
    both = a2([A, AB])
    np.testing.assert_array_equal(M.beta(both, np.asarray(AB)), [M.beta(r, rb)[0], 1.0])


def test_golden_win_rate_excludes_zero_periods():
    # r = [0.01, 0, -0.02, 0, 0.03]: 2 wins among 3 non-zero periods; PF = (0.01 + 0.03) / 0.02 = 2
    r = a2([0.01, 0.0, -0.02, 0.0, 0.03])
    assert M.win_rate(r)[0] == rel(2 / 3)
    assert M.profit_factor(r)[0] == rel(2.0)


def test_golden_turnover():
    # weights (B=1, T=3, N=2): [0.5, 0.5] -> [0.7, 0.3] -> [0.7, 0.3], starting from cash (w_-1 = 0)
    #   tau_0 = 0.5 * (0.5 + 0.5) = 0.5; tau_1 = 0.5 * (0.2 + 0.2) = 0.2; tau_2 = 0
    #   average = 0.7 / 3
    w = np.array([[[0.5, 0.5], [0.7, 0.3], [0.7, 0.3]]])
    tau = M.turnover_from_weights(w)
    np.testing.assert_allclose(tau, [[0.5, 0.2, 0.0]], rtol=1e-12, atol=1e-15)
    assert M.average_turnover(tau)[0] == rel(0.7 / 3)
    # long/short flip: [1, 0] -> [-1, 0]: 0.5 * 2 = 1.0 (the whole book replaced once)
    assert M.turnover_from_weights(np.array([[[1.0, 0.0], [-1.0, 0.0]]]))[0, 1] == 1.0


def test_golden_edge_cases():
    const = [0.01] * 5
    zeros = [0.0] * 5
    r = a2([const, zeros])
    out = M.summary_metrics(r)
    # constant 1 %: zero variance -> vol 0, Sharpe NaN; no period below 0 -> Sortino NaN
    assert out["annual_volatility"][0] == 0.0
    assert np.isnan(out["sharpe_ratio"][0]) and np.isnan(out["sortino_ratio"][0])
    # never below a peak: max drawdown 0, durations 0, Calmar NaN
    assert out["max_drawdown"][0] == 0.0 and out["max_drawdown_duration"][0] == 0.0
    assert out["max_drawdown_episode_length"][0] == 0.0 and np.isnan(out["calmar_ratio"][0])
    # VaR of a constant gain is a negative loss: -0.01; Gaussian VaR with sigma 0 is -mu
    assert out["historical_var"][0] == rel(-0.01) and out["historical_cvar"][0] == rel(-0.01)
    assert out["gaussian_var"][0] == rel(-0.01) and out["gaussian_cvar"][0] == rel(-0.01)
    # all wins, no losses: win rate 1, profit factor +inf
    assert out["win_rate"][0] == 1.0 and out["profit_factor"][0] == np.inf
    # CAGR of 1 % per period over 5 periods with P = 252: 1.01^252 - 1
    assert out["cagr"][0] == rel(1.01**252 - 1, rtol=1e-12)
    # all zeros (cash): CAGR 0, Sharpe and Sortino 0 (a flat series), Calmar, win rate and profit factor
    # NaN, VaR 0
    assert out["cagr"][1] == 0.0 and out["total_return"][1] == 0.0
    assert out["sharpe_ratio"][1] == 0.0 and out["sortino_ratio"][1] == 0.0
    for name in ("calmar_ratio", "win_rate", "profit_factor"):
        assert np.isnan(out[name][1]), name
    assert out["historical_var"][1] == 0.0 and out["max_drawdown"][1] == 0.0


def test_flat_zero_series_has_sharpe_and_sortino_zero():
    # cash: every excess return exactly 0 (also -0.0, and r == rf exactly) -> Sharpe 0 and Sortino 0, in the
    # individual kernels and the fused summary alike, for any P and ddof
    for r, rf in ((np.zeros((3, 10)), 0.0), (np.full((2, 10), -0.0), 0.0), (np.full((1, 10), 1e-4), 1e-4)):
        for ddof in (0, 1):
            np.testing.assert_array_equal(M.sharpe_ratio(r, 252.0, rf, ddof), np.zeros(r.shape[0]))
            out = M.summary_metrics(r, periods_per_year=12, risk_free=rf, ddof=ddof)
            np.testing.assert_array_equal(out["sharpe_ratio"], np.zeros(r.shape[0]))
            np.testing.assert_array_equal(out["sortino_ratio"], np.zeros(r.shape[0]))
        np.testing.assert_array_equal(M.sortino_ratio(r, 252.0, rf), np.zeros(r.shape[0]))
    # the std still needs T - ddof >= 1, and an empty series is NaN
    assert np.isnan(M.sharpe_ratio(np.zeros((1, 1)), 252.0, 0.0, 1)[0])
    assert M.sharpe_ratio(np.zeros((1, 1)), 252.0, 0.0, 0)[0] == 0.0
    assert np.isnan(M.sharpe_ratio(np.zeros((1, 0)))[0]) and np.isnan(M.sortino_ratio(np.zeros((1, 0)))[0])


def test_constant_nonzero_series_stays_undefined():
    # a constant non-zero excess return has zero variance and a non-zero mean: +/-c / 0 -> NaN, never +/-inf
    for r, rf in (
        (np.full((1, 8), 0.01), 0.0),
        (np.full((1, 8), -0.002), 0.0),
        (np.zeros((1, 8)), 1e-4),
        (np.full((1, 8), 5e-324), 0.0),
    ):
        assert np.isnan(M.sharpe_ratio(r, 252.0, rf)[0])
        out = M.summary_metrics(r, risk_free=rf)
        assert np.isnan(out["sharpe_ratio"][0])
    # Sortino: gains only (no period below the target) stays NaN; losses only is finite (-sqrt(P))
    assert np.isnan(M.sortino_ratio(np.full((1, 8), 0.01))[0])
    assert M.sortino_ratio(np.full((1, 8), -0.01))[0] == rel(-math.sqrt(252))
    # cash earning nothing while the risk-free rate is positive: a constant loss against the target, so the
    # downside deviation is not 0 and Sortino is finite (-sqrt(P)), unlike Sharpe
    assert M.sortino_ratio(np.zeros((1, 8)), 252.0, 1e-4)[0] == rel(-math.sqrt(252), rtol=1e-9)


def test_golden_single_period_and_empty():
    one = a2([-0.05])
    out = M.summary_metrics(one)
    # one period: sample std undefined -> NaN; population std 0
    assert np.isnan(out["annual_volatility"][0]) and np.isnan(out["sharpe_ratio"][0])
    assert M.annual_volatility(one, 252.0, 0)[0] == 0.0
    # a 5 % loss: max drawdown 0.05, still under water at the end -> both durations 1
    assert out["max_drawdown"][0] == rel(0.05)
    assert out["max_drawdown_duration"][0] == 1.0 and out["max_drawdown_episode_length"][0] == 1.0
    # VaR = CVaR = 0.05; Sortino = -0.05 / sqrt(0.05^2 / 1) * sqrt(252) = -sqrt(252)
    assert out["historical_var"][0] == rel(0.05) and out["historical_cvar"][0] == rel(0.05)
    assert out["sortino_ratio"][0] == rel(-math.sqrt(252))
    # CAGR: 0.95^252 - 1; Calmar = that / 0.05
    assert out["cagr"][0] == rel(0.95**252 - 1)
    # empty series: NaN everywhere except the drawdown family (0)
    empty = np.empty((2, 0))
    out = M.summary_metrics(empty, np.empty(0))
    for name, v in out.items():
        if name.startswith("max_drawdown"):
            np.testing.assert_array_equal(v, [0.0, 0.0])
        else:
            assert np.isnan(v).all(), name


def test_golden_total_loss_and_nan():
    # a -100 % period: equity 0 -> max drawdown 1, total return -1, CAGR -1
    r = a2([0.1, -1.0, 0.5])
    assert M.max_drawdown(r)[0] == 1.0
    assert M.total_return(r)[0] == -1.0 and M.cagr(r)[0] == -1.0
    # below -100 % (leveraged bankruptcy): CAGR NaN, drawdown > 1
    r = a2([-1.5, 0.1])
    assert np.isnan(M.cagr(r)[0]) and M.max_drawdown(r)[0] == rel(1.55)
    # any NaN in a series -> every metric of that series NaN; the other series unaffected
    r = a2([[0.01, np.nan, 0.02], [0.01, -0.01, 0.02]])
    out = M.summary_metrics(r, r[1])
    for name, v in out.items():
        assert np.isnan(v[0]), name
        assert not np.isnan(v[1]) or name in ("information_ratio", "correlation", "beta", "alpha"), name


def test_infinite_inputs_never_crash():
    # +/-inf returns are not meaningful; the kernels must still return (IEEE results), never raise
    x = a2([[np.inf, 0.1, -0.1], [-np.inf, 0.1, 0.2], [0.1, np.inf, -np.inf]])
    out = M.summary_metrics(x, x[0])
    assert all(v.shape == (3,) for v in out.values())
    # a correlation involving inf is NaN (not clipped to -1)
    assert np.isnan(out["correlation"]).all()
    assert np.isnan(out["sharpe_ratio"]).all()


def test_log_simple_round_trip():
    # log(1.1) -> 0.1 ; log1p(-0.5) = -log 2
    np.testing.assert_allclose(M.log_to_simple(np.array([math.log(1.1)])), [0.1], rtol=1e-15)
    np.testing.assert_allclose(M.simple_to_log(np.array([[-0.5]])), [[-math.log(2)]], rtol=1e-15)
    x = np.random.default_rng(1).normal(0, 0.02, (3, 50))
    np.testing.assert_allclose(M.log_to_simple(M.simple_to_log(x)), x, rtol=1e-14)
    # a CAGR computed from log returns converted to simple equals the log-growth annualised
    lr = a2(np.full(252, math.log(1.1) / 252))
    assert M.cagr(M.log_to_simple(lr))[0] == rel(0.1, rtol=1e-12)


def test_normal_ppf_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    for p in (1e-12, 1e-6, 0.001, 0.01, 0.02425, 0.05, 0.2, 0.5, 0.8, 0.975, 0.99, 1 - 1e-9):
        assert M.normal_ppf(p) == rel(stats.norm.ppf(p), rtol=1e-13)
    assert M.normal_ppf(0.05) == rel(Z05, rtol=1e-15)


def test_bad_arguments_raise_clear_errors():
    r = a2(A)
    with pytest.raises(ValueError, match="periods_per_year"):
        M.sharpe_ratio(r, 0.0)
    with pytest.raises(ValueError, match="level"):
        M.historical_var(r, 1.5)
    with pytest.raises(ValueError, match="ddof"):
        M.annual_volatility(r, 252.0, -1)
    with pytest.raises(ValueError, match="benchmark"):
        M.beta(r, np.zeros(5))
    with pytest.raises(ValueError, match="benchmark"):
        M.beta(a2([A, A, A]), a2([A, A]))
    with pytest.raises(ValueError, match="returns"):
        M.summary_metrics(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="benchmark"):
        M.summary_metrics(r, np.zeros(3))


# ====================================================================================================
# 2. Plain-NumPy reference twins (oracles) against the kernels
# ====================================================================================================
def _std(x, ddof):
    if x.size - ddof < 1:
        return np.nan
    if x.size and np.ptp(x) == 0:
        return 0.0
    return float(np.std(x, ddof=ddof))


def _conditioned(v):
    """True unless ``v`` is nearly-but-not-exactly constant: then its deviations from the mean are
    rounding noise (std <~ 1e-7 max|v|), and any two correct summation orders (the kernel's sequential
    sum, NumPy's pairwise sum) legitimately disagree on ratios that divide by that std."""
    if v.size == 0 or np.ptp(v) == 0:
        return True
    return float(np.std(v)) > 1e-7 * float(np.max(np.abs(v)))


def _ratio(a, b):
    return np.nan if (b == 0 or np.isnan(b) or np.isnan(a)) else a / b


def ref_sharpe(r, ppy, rf, ddof):
    x = r - rf
    if x.size == 0:
        return np.nan
    sd = _std(x, ddof)
    if sd == 0 and np.all(x == 0):  # flat series (cash at the risk-free rate): Sharpe 0 by definition
        return 0.0
    return _ratio(float(np.mean(x)), sd) * math.sqrt(ppy)


def ref_sortino(r, ppy, rf):
    x = r - rf
    if x.size == 0:
        return np.nan
    if np.all(x == 0):  # flat series: Sortino 0 by definition
        return 0.0
    dd = math.sqrt(float(np.mean(np.minimum(x, 0.0) ** 2)))
    return _ratio(float(np.mean(x)), dd) * math.sqrt(ppy)


def ref_cagr(r, ppy):
    if r.size == 0 or (r < -1).any():
        return np.nan
    with np.errstate(divide="ignore"):
        return float(np.expm1(np.sum(np.log1p(r)) * ppy / r.size))


def ref_drawdown(r):
    """(max drawdown, longest underwater run, max-drawdown episode length) from the equity curve."""
    equity = np.concatenate([[1.0], np.cumprod(1.0 + r)])
    peak = np.maximum.accumulate(equity)
    dd = np.where(equity < peak, 1.0 - equity / peak, 0.0)
    mdd = float(dd.max())
    under = (equity < peak).astype(int)
    longest, run = 0, 0
    for u in under:
        run = run + 1 if u else 0
        longest = max(longest, run)
    if mdd <= 0:
        return mdd, float(longest), 0.0
    trough = int(np.argmax(dd))
    at_peak = np.nonzero(equity[: trough + 1] >= peak[: trough + 1])[0]
    p_idx = int(at_peak[-1])
    later = np.nonzero(equity[trough:] >= equity[p_idx])[0]
    end = trough + int(later[0]) if later.size else r.size
    return mdd, float(longest), float(end - p_idx)


def ref_hist_var_cvar(r, level):
    if r.size == 0:
        return np.nan, np.nan
    p = 1.0 - level
    q = float(np.quantile(r, p, method="linear"))
    k = math.floor((r.size - 1) * p)
    return -q, -float(np.mean(np.sort(r)[: k + 1]))


def ref_benchmark(r, rb, ppy, rf, ddof):
    x, y = r - rf, rb - rf
    if x.size == 0:
        return (np.nan,) * 5
    dx, dy = x - x.mean(), y - y.mean()
    syy = 0.0 if np.ptp(y) == 0 else float(np.sum(dy * dy))
    # a constant series covaries with nothing: exactly 0 (x.mean() of n equal values can round off the value,
    # and the rounding over a near-zero syy made a beta of 1e54)
    sxy = 0.0 if np.ptp(x) == 0 else float(np.sum(dx * dy))
    b = _ratio(sxy, syy)
    a = (x.mean() - b * y.mean()) * ppy
    # correlation of the raw returns
    dx, dy = r - r.mean(), rb - rb.mean()
    sxx = 0.0 if np.ptp(r) == 0 else float(np.sum(dx * dx))
    syy = 0.0 if np.ptp(rb) == 0 else float(np.sum(dy * dy))
    sxy = float(np.sum(dx * dy))
    c = np.nan if syy == 0 or sxx == 0 else float(np.clip(sxy / (math.sqrt(sxx) * math.sqrt(syy)), -1, 1))
    act = r - rb
    te = _std(act, ddof) * math.sqrt(ppy)
    return b, a, c, te, _ratio(float(np.mean(act)) * ppy, te)


def ref_win_profit(r):
    nz = np.count_nonzero(r)
    wr = np.nan if nz == 0 else np.sum(r > 0) / nz
    gains, losses = r[r > 0].sum(), -r[r < 0].sum()
    pf = gains / losses if losses > 0 else (np.inf if gains > 0 else np.nan)
    return wr, pf


SPECIAL = [0.0, -0.0, 1e-300, -1e-300, 5e-324, 1e-12, -0.5, 0.5]
ret_values = st.one_of(
    st.floats(-0.99, 1.0, allow_nan=False, allow_infinity=False),
    st.sampled_from(SPECIAL),
)
returns_2d = st.integers(1, 3).flatmap(
    lambda b: st.integers(0, 40).flatmap(lambda t: hnp.arrays(np.float64, (b, t), elements=ret_values))
)
CLOSE = {"rtol": 1e-9, "atol": 1e-12, "equal_nan": True}
HYP = settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])


@HYP
@given(
    r=returns_2d,
    ppy=st.sampled_from([1.0, 12.0, 252.0]),
    rf=st.sampled_from([0.0, 1e-4, -0.01]),
    ddof=st.sampled_from([0, 1]),
)
@example(r=np.full((1, 5), 0.01), ppy=252.0, rf=0.0, ddof=1)  # constant
@example(r=np.zeros((2, 7)), ppy=252.0, rf=0.0, ddof=1)  # all zero
@example(r=np.array([[0.03]]), ppy=252.0, rf=0.0, ddof=1)  # single period
@example(r=np.array([[1e-300, -1e-300, 5e-324]]), ppy=252.0, rf=0.0, ddof=0)  # tiny
@example(r=np.array([[0.1, -0.1, 0.1, -0.1]]), ppy=252.0, rf=0.0, ddof=1)  # zero mean
def test_twin_return_metrics(r, ppy, rf, ddof):
    out = M.summary_metrics(r, periods_per_year=ppy, risk_free=rf, ddof=ddof)
    for b, row in enumerate(r):
        if _conditioned(row - rf):
            assert np.allclose(out["sharpe_ratio"][b], ref_sharpe(row, ppy, rf, ddof), **CLOSE)
        assert np.allclose(out["sortino_ratio"][b], ref_sortino(row, ppy, rf), **CLOSE)
        assert np.allclose(out["cagr"][b], ref_cagr(row, ppy), **CLOSE)
        sd = _std(row, ddof)
        assert np.allclose(out["annual_volatility"][b], sd * math.sqrt(ppy), **CLOSE)
        mdd, longest, episode = ref_drawdown(row)
        assert out["max_drawdown"][b] == mdd  # same sequential product: bit-identical
        assert out["max_drawdown_duration"][b] == longest
        assert out["max_drawdown_episode_length"][b] == episode
        v, c = ref_hist_var_cvar(row, 0.95)
        assert np.allclose([out["historical_var"][b], out["historical_cvar"][b]], [v, c], **CLOSE)
        wr, pf = ref_win_profit(row)
        assert np.allclose([out["win_rate"][b], out["profit_factor"][b]], [wr, pf], **CLOSE)


@HYP
@given(
    data=st.data(),
    ppy=st.sampled_from([12.0, 252.0]),
    rf=st.sampled_from([0.0, 2e-4]),
    ddof=st.sampled_from([0, 1]),
    broadcast=st.booleans(),
)
def test_twin_benchmark_metrics(data, ppy, rf, ddof, broadcast):
    r = data.draw(returns_2d)
    shape = (r.shape[1],) if broadcast else r.shape
    rb = data.draw(hnp.arrays(np.float64, shape, elements=ret_values))
    out = M.summary_metrics(r, rb, periods_per_year=ppy, risk_free=rf, ddof=ddof)
    for b, row in enumerate(r):
        y = rb if broadcast else rb[b]
        ref = ref_benchmark(row, y, ppy, rf, ddof)
        got = [out[n][b] for n in M.BENCHMARK_METRIC_NAMES]
        # beta, alpha divide by var(rb - rf); correlation by std(r) std(rb); IR by std(r - rb)
        ok = [_conditioned(y - rf), _conditioned(y - rf), _conditioned(row) and _conditioned(y), True]
        ok.append(_conditioned(row - y))
        assert np.allclose(np.where(ok, got, 0.0), np.where(ok, ref, 0.0), **CLOSE), (got, ref)


@HYP
@given(
    base=hnp.arrays(np.float64, (2, 30), elements=st.floats(-1.0, 1.0)),
    scale=st.sampled_from([1e-150, 1e-8, 1.0, 1e8, 1e150]),
)
def test_twin_huge_and_tiny_values(base, scale):
    # huge/tiny magnitudes: scale-free ratios match the twins; scale-carrying metrics match after / scale
    r = base * scale
    out = M.summary_metrics(r, r[0], periods_per_year=252.0)
    for b, row in enumerate(r):
        if _conditioned(row):
            assert np.allclose(out["sharpe_ratio"][b], ref_sharpe(row, 252.0, 0.0, 1), **CLOSE)
        assert np.allclose(out["sortino_ratio"][b], ref_sortino(row, 252.0, 0.0), **CLOSE)
        assert np.allclose(
            out["annual_volatility"][b] / scale, _std(row, 1) * math.sqrt(252) / scale, **CLOSE
        )
        v, c = ref_hist_var_cvar(row, 0.95)
        assert np.allclose(out["historical_var"][b] / scale, v / scale, **CLOSE)
        assert np.allclose(out["historical_cvar"][b] / scale, c / scale, **CLOSE)
        wr, pf = ref_win_profit(row)
        assert np.allclose([out["win_rate"][b], out["profit_factor"][b]], [wr, pf], **CLOSE)
        ref = ref_benchmark(row, r[0], 252.0, 0.0, 1)
        if _conditioned(r[0]):
            assert np.allclose(out["beta"][b], ref[0], **CLOSE)
            if _conditioned(row):
                assert np.allclose(out["correlation"][b], ref[2], **CLOSE)
        if _conditioned(row - r[0]):
            assert np.allclose(out["information_ratio"][b], ref[4], **CLOSE)
    # nothing raised, no warning; the outputs are NaN or finite except documented infinities
    assert not np.isinf(out["sharpe_ratio"]).any()


@HYP
@given(
    w=st.integers(1, 3).flatmap(
        lambda b: st.integers(0, 12).flatmap(
            lambda t: st.integers(1, 4).flatmap(
                lambda n: hnp.arrays(np.float64, (b, t, n), elements=st.floats(-2.0, 2.0))
            )
        )
    )
)
def test_twin_turnover(w):
    prev = np.concatenate([np.zeros_like(w[:, :1]), w[:, :-1]], axis=1)
    ref = 0.5 * np.abs(w - prev).sum(axis=2)
    tau = M.turnover_from_weights(w)
    np.testing.assert_allclose(tau, ref, rtol=1e-12, atol=1e-15)
    avg = M.average_turnover(tau)
    if w.shape[1]:
        np.testing.assert_allclose(avg, ref.mean(axis=1), rtol=1e-12, atol=1e-15)
    else:
        assert np.isnan(avg).all()


def test_gaussian_var_cvar_against_scipy_integral():
    stats = pytest.importorskip("scipy.stats")
    r = np.random.default_rng(7).normal(0.0004, 0.013, (2, 300))
    gv, gc = M.gaussian_var(r, 0.95, 1), M.gaussian_cvar(r, 0.95, 1)
    for b, row in enumerate(r):
        mu, sd = row.mean(), row.std(ddof=1)
        q = stats.norm.ppf(0.05, loc=mu, scale=sd)
        assert gv[b] == rel(-q, rtol=1e-12)
        # expected shortfall by numerical integration of x over the tail below q
        es = stats.norm.expect(lambda x: x, loc=mu, scale=sd, ub=q, conditional=True)
        assert gc[b] == rel(-es, rtol=1e-8)
    assert M.gaussian_var(r, 0.99, 0)[0] == rel(
        -(r[0].mean() + stats.norm.ppf(0.01) * r[0].std()), rtol=1e-12
    )


# ====================================================================================================
# 3. Independent library on real data: empyrical-reloaded
# ====================================================================================================
def _load_close(filename, ticker, column):
    path = DATA_DIR / filename
    if not path.exists():
        pytest.skip(f"shared data not present: {path}")
    pd = pytest.importorskip("pandas")
    df = pd.read_csv(path, parse_dates=["date"])
    s = df.loc[df["ticker"] == ticker].set_index("date")[column].sort_index()
    return s


@pytest.fixture(scope="module")
def spy_aapl():
    """SPY daily close returns 1999-2024 (unadjusted: SPY had no split; dividends missing, which is fine
    for comparing arithmetic) and AAPL adj_close returns aligned with SPY over 2015-2020."""
    spy = _load_close("etf15_alphavantage_1999_2024.csv.gz", "SPY", "close")
    aapl = _load_close("dow30_yahoo_2015_2020.csv.gz", "AAPL", "adj_close")
    spy_r = spy.pct_change().iloc[1:]
    both = spy.to_frame("spy").join(aapl.to_frame("aapl"), how="inner").pct_change().iloc[1:]
    assert len(spy_r) > 6000 and len(both) > 1200
    return spy_r.to_numpy(), both["aapl"].to_numpy(), both["spy"].to_numpy()


@pytest.fixture(scope="module")
def ep():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return pytest.importorskip("empyrical")


RF = 1e-4  # per-period risk-free rate used in the comparisons


def test_empyrical_return_metrics_on_spy(spy_aapl, ep):
    r, _, _ = spy_aapl
    x = a2(r)
    # CAGR: empyrical.annual_return = (prod(1 + r)) ** (252 / T) - 1 (ours via log1p sums)
    assert M.cagr(x)[0] == rel(ep.annual_return(r), rtol=1e-10)
    # volatility: both std(ddof=1) * sqrt(252)
    assert M.annual_volatility(x)[0] == rel(ep.annual_volatility(r), rtol=1e-12)
    # Sharpe: both mean(r - rf) / std(r - rf, ddof=1) * sqrt(252)
    assert M.sharpe_ratio(x, 252.0, RF)[0] == rel(ep.sharpe_ratio(r, risk_free=RF), rtol=1e-11)
    # Sortino: empyrical's required_return is our risk_free; both use the downside deviation over all
    # periods, sqrt(mean(min(r - rf, 0)^2))
    assert M.sortino_ratio(x, 252.0, RF)[0] == rel(ep.sortino_ratio(r, required_return=RF), rtol=1e-11)
    assert M.downside_deviation(x, 252.0, RF)[0] == rel(ep.downside_risk(r, required_return=RF), rtol=1e-12)
    # max drawdown: empyrical reports it as a NEGATIVE number; ours is the positive fraction
    assert M.max_drawdown(x)[0] == rel(-ep.max_drawdown(r), rtol=1e-12)
    assert M.calmar_ratio(x)[0] == rel(ep.calmar_ratio(r), rtol=1e-10)
    # historical VaR: empyrical returns the 5 % percentile (negative = loss, NumPy linear interpolation);
    # CVaR: mean of the floor((T-1) * 0.05) + 1 smallest returns, negative. Ours are positive losses.
    assert M.historical_var(x, 0.95)[0] == rel(-ep.value_at_risk(r, cutoff=0.05), rtol=1e-12)
    assert M.historical_cvar(x, 0.95)[0] == rel(-ep.conditional_value_at_risk(r, cutoff=0.05), rtol=1e-12)
    # a 2-D (T, B) input to empyrical is column-wise; ours is (B, T) row-wise
    two = np.stack([r, r[::-1]])
    np.testing.assert_allclose(M.sharpe_ratio(two), ep.sharpe_ratio(two.T), rtol=1e-11)
    # win rate / profit factor: no empyrical function; pandas-free arithmetic on the real series
    assert M.win_rate(x)[0] == rel(np.sum(r > 0) / np.sum(r != 0))
    assert M.profit_factor(x)[0] == rel(r[r > 0].sum() / -r[r < 0].sum(), rtol=1e-11)


def test_empyrical_benchmark_metrics_on_aapl_vs_spy(spy_aapl, ep):
    _, r, rb = spy_aapl
    x, y = a2(r), a2(rb)
    emp_alpha, emp_beta = ep.alpha_beta(r, rb, risk_free=RF)
    assert M.beta(x, y, RF)[0] == rel(emp_beta, rtol=1e-11)
    assert M.beta(x, y, RF)[0] == rel(ep.beta(r, rb, risk_free=RF), rtol=1e-11)
    # empyrical compounds the daily alpha: (1 + a_daily) ** 252 - 1; ours is linear a_daily * 252.
    # Convert ours to empyrical's convention rather than loosening the tolerance.
    ours = M.alpha(x, y, 252.0, RF)[0]
    assert (1.0 + ours / 252.0) ** 252 - 1.0 == rel(emp_alpha, rtol=1e-10)
    # information ratio: empyrical.excess_sharpe = mean(r - rb) / std(r - rb, ddof=1), not annualised;
    # ours = mean(r - rb) * 252 / (std * sqrt(252)) = excess_sharpe * sqrt(252)
    assert M.information_ratio(x, y)[0] == rel(ep.excess_sharpe(r, rb) * math.sqrt(252), rtol=1e-11)
    # tracking error and correlation: no empyrical function; NumPy
    assert M.tracking_error(x, y)[0] == rel(np.std(r - rb, ddof=1) * math.sqrt(252), rtol=1e-12)
    assert M.correlation(x, y)[0] == rel(np.corrcoef(r, rb)[0, 1], rtol=1e-12)
    # a (T,) benchmark against several series (AAPL and AAPL shifted) equals the per-series values
    two = np.stack([r, r * 0.5 + 1e-3])
    np.testing.assert_allclose(
        M.beta(two, rb, RF),
        [ep.beta(two[0], rb, risk_free=RF), ep.beta(two[1], rb, risk_free=RF)],
        rtol=1e-11,
    )


# ====================================================================================================
# 4. Batch invariance and fused == individual
# ====================================================================================================
def _batch():
    rng = np.random.default_rng(42)
    r = rng.normal(3e-4, 0.015, (7, 64))
    r[1] = 0.0  # all zero
    r[2] = 0.004  # constant
    r[3, 10] = np.nan  # NaN row
    r[4, :5] = [-1.0, 0.1, 0.2, 0.3, 0.4]  # total loss
    r[5, ::2] = 0.0  # many flat periods
    bm = rng.normal(2e-4, 0.01, (7, 64))
    bm[6] = 0.001  # constant benchmark
    return r, bm


ARGS = [(252.0, 0.0, 1), (12.0, 1e-3, 0)]


def _individual(r, bm, ppy, rf, ddof, level=0.95):
    return {
        "total_return": M.total_return(r),
        "cagr": M.cagr(r, ppy),
        "annual_volatility": M.annual_volatility(r, ppy, ddof),
        "sharpe_ratio": M.sharpe_ratio(r, ppy, rf, ddof),
        "sortino_ratio": M.sortino_ratio(r, ppy, rf),
        "max_drawdown": M.max_drawdown(r),
        "max_drawdown_duration": M.max_drawdown_duration(r),
        "max_drawdown_episode_length": M.max_drawdown_episode_length(r),
        "calmar_ratio": M.calmar_ratio(r, ppy),
        "historical_var": M.historical_var(r, level),
        "historical_cvar": M.historical_cvar(r, level),
        "gaussian_var": M.gaussian_var(r, level, ddof),
        "gaussian_cvar": M.gaussian_cvar(r, level, ddof),
        "win_rate": M.win_rate(r),
        "profit_factor": M.profit_factor(r),
        "beta": M.beta(r, bm, rf),
        "alpha": M.alpha(r, bm, ppy, rf),
        "correlation": M.correlation(r, bm),
        "tracking_error": M.tracking_error(r, bm, ppy, ddof),
        "information_ratio": M.information_ratio(r, bm, ppy, ddof),
    }


@pytest.mark.parametrize("ppy,rf,ddof", ARGS)
@pytest.mark.parametrize("bm_1d", [False, True])
def test_fused_equals_individual_exactly(ppy, rf, ddof, bm_1d):
    r, bm = _batch()
    if bm_1d:
        bm = np.ascontiguousarray(bm[0])
    fused = M.summary_metrics(r, bm, periods_per_year=ppy, risk_free=rf, ddof=ddof)
    indiv = _individual(r, bm, ppy, rf, ddof)
    assert set(fused) == set(indiv) == set(M.SUMMARY_METRIC_NAMES + M.BENCHMARK_METRIC_NAMES)
    for name in fused:
        np.testing.assert_array_equal(fused[name], indiv[name], err_msg=name)  # bit for bit (NaN == NaN)
    # without a benchmark: only the returns-only metrics
    assert tuple(M.summary_metrics(r)) == M.SUMMARY_METRIC_NAMES
    # turnover passes through average_turnover
    tau = np.abs(np.random.default_rng(0).normal(0, 0.1, r.shape))
    avg = M.summary_metrics(r, turnover=tau)["average_turnover"]
    np.testing.assert_array_equal(avg, M.average_turnover(tau))
    np.testing.assert_allclose(avg, tau.mean(axis=1), rtol=1e-13)


@pytest.mark.parametrize("ppy,rf,ddof", ARGS)
def test_batched_equals_one_at_a_time(ppy, rf, ddof):
    r, bm = _batch()
    full = _individual(r, bm, ppy, rf, ddof)
    fused = M.summary_metrics(r, bm, periods_per_year=ppy, risk_free=rf, ddof=ddof)
    for b in range(r.shape[0]):
        one = _individual(r[b : b + 1], bm[b : b + 1], ppy, rf, ddof)
        fused_one = M.summary_metrics(r[b], bm[b], periods_per_year=ppy, risk_free=rf, ddof=ddof)
        for name in full:
            np.testing.assert_array_equal(full[name][b : b + 1], one[name], err_msg=name)
            np.testing.assert_array_equal(fused[name][b : b + 1], fused_one[name], err_msg=name)
    dd = M.drawdown_series(r)
    for b in range(r.shape[0]):
        np.testing.assert_array_equal(dd[b : b + 1], M.drawdown_series(r[b : b + 1]))
    # the drawdown curve's maximum is the max drawdown (where defined)
    ok = ~np.isnan(dd).any(axis=1)
    np.testing.assert_array_equal(dd[ok].max(axis=1), full["max_drawdown"][ok])
