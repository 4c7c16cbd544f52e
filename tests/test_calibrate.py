"""Calibrating the synthetic market to real data (wealtharena_env.calibration).

The real-data tests read ``<repo>/../shared/data`` (present in CI) and skip cleanly without it. Run
``pytest tests/test_calibrate.py -s`` to print the real-vs-synthetic tables.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from conftest import shared_file

from wealtharena_env.calibration import calibrate, compare_stylized_facts, stylized_facts
from wealtharena_env.config import MarketConfig
from wealtharena_env.data import MarketData, load_market_data
from wealtharena_env.errors import ConfigError, WealthArenaDataError
from wealtharena_env.market_sources import SyntheticMarket

DOW_TICKERS = ["AAPL", "JPM", "KO", "XOM", "MSFT", "PG", "BA", "WMT"]


@functools.cache
def spy() -> MarketData:
    # Unadjusted Alpha Vantage bars; SPY had no split in 1999-2024, so close-to-close returns are clean
    # (dividends, ~1.5 %/yr, are missing from the drift only).
    return load_market_data(shared_file("etf15_alphavantage_1999_2024.csv.gz"), tickers=["SPY"])


@functools.cache
def dow() -> MarketData:
    # Yahoo adj_close; end before 2020-01-10, whose DIS/CBOE rows have open > high.
    return load_market_data(
        shared_file("dow30_yahoo_2015_2020.csv.gz"), tickers=DOW_TICKERS, end="2020-01-10"
    )


def synthetic_data(config: MarketConfig, n_bars: int, seed: int) -> MarketData:
    bars = np.empty((n_bars, 6, config.n_assets))
    SyntheticMarket(config).sample(np.random.default_rng(seed), bars)
    return MarketData(
        open=bars[:, 0],
        high=bars[:, 1],
        low=bars[:, 2],
        close=bars[:, 3],
        volume=bars[:, 4],
        dates=pd.bdate_range("2000-01-03", periods=n_bars).to_numpy(),
        tickers=tuple(f"S{i}" for i in range(config.n_assets)),
        source="synthetic",
    )


def show(title: str, config: MarketConfig, frame: pd.DataFrame) -> None:
    print(f"\n{title}\n{config}\n{frame.attrs['markdown']}")


# ----------------------------------------------------------------------------- real data (issue 4, item 8)
def test_spy_calibration_reproduces_the_stylized_facts():
    data = spy()
    config = calibrate(data)
    frame = compare_stylized_facts(data, config, n_seeds=20)
    show(f"SPY {data!r}", config, frame)
    real, synth = frame["real"], frame["synthetic"]
    assert config.n_assets == 1 and config.periods_per_year == 252
    assert abs(synth["annual_volatility"] / real["annual_volatility"] - 1.0) < 0.20
    assert 0.5 < synth["kurtosis"] / real["kurtosis"] < 2.0
    assert abs(synth["abs_autocorr_1"] - real["abs_autocorr_1"]) < 0.1
    # the regimes come out ordered: calm bull, bear, high volatility
    assert config.regime_volatility[0] < config.regime_volatility[1] < config.regime_volatility[2]
    assert config.regime_drift[0] > config.regime_drift[1]


def test_dow_multi_asset_calibration_reproduces_correlation():
    data = dow()
    config = calibrate(data)
    frame = compare_stylized_facts(data, config, n_seeds=20)
    show(f"Dow {data!r}", config, frame)
    real, synth = frame["real"], frame["synthetic"]
    assert config.n_assets == len(DOW_TICKERS)
    assert abs(synth["mean_correlation"] - real["mean_correlation"]) < 0.15
    assert abs(synth["annual_volatility"] / real["annual_volatility"] - 1.0) < 0.20
    assert 0.5 < synth["kurtosis"] / real["kurtosis"] < 2.0
    assert abs(synth["abs_autocorr_1"] - real["abs_autocorr_1"]) < 0.1
    # several assets: each keeps its own volatility (no random dispersion) and the
    # correlation is a factor model
    assert config.asset_volatility_dispersion == 0.0 and config.asset_volatility is not None
    assert config.n_factors >= 1 and config.tickers == tuple(DOW_TICKERS)
    # the common-parameter market is still there on request
    common = calibrate(data, per_asset=False)
    assert 0.0 < common.asset_volatility_dispersion < 1.0 and common.factor_loadings is None


# ----------------------------------------------------------------------------- known parameters
@pytest.mark.parametrize("rho", [0.0, 0.4])
def test_recovers_known_garch_dof_correlation_and_bar_parameters(rho):
    """One regime, 4 assets x 3,000 bars, a=0.08, b=0.90, dof=5, no jumps. Tolerances (about 3 standard
    errors, checked over seeds 0-4): a + b within 0.02, a within 0.03, dof within 1 (20 %), correlation
    within 0.05, volume_sensitivity within 0.05, overnight_fraction within 0.02, no jumps found."""
    truth = MarketConfig(
        n_assets=4,
        regime_correlation=(rho,) * 3,
        regime_transition=((1, 0, 0), (0, 1, 0), (0, 0, 1)),
        initial_regime=0,
        garch_alpha=0.08,
        garch_beta=0.90,
        student_t_dof=5.0,
        jump_intensity=0.0,
    )
    fit = calibrate(synthetic_data(truth, 3000, seed=0), n_regimes=1, per_asset=False)
    print(
        f"\nrho={rho}: a={fit.garch_alpha:.3f} b={fit.garch_beta:.3f} dof={fit.student_t_dof:.2f} "
        f"corr={fit.regime_correlation[0]:.3f}"
    )
    assert abs(fit.garch_alpha + fit.garch_beta - 0.98) < 0.02
    assert abs(fit.garch_alpha - 0.08) < 0.03
    assert abs(fit.student_t_dof - 5.0) < 1.0
    assert abs(fit.regime_correlation[0] - rho) < 0.05
    assert abs(fit.volume_sensitivity - 0.4) < 0.05
    assert abs(fit.overnight_fraction - 0.3) < 0.02
    assert fit.jump_intensity == 0.0


def test_finds_jumps_roughly():
    """Jumps of -5 % (std 2 %), 6 per asset-year, on a thin-tailed diffusion. The Student-t absorbs part of
    them, so this is only rough: the intensity is biased low (1.8-4.3 for the true 6 over seeds 0-7 of two
    random streams), so within a factor 4; mean within 0.03, dof well above 2."""
    truth = MarketConfig(
        n_assets=4,
        regime_correlation=(0.3,) * 3,
        regime_transition=((1, 0, 0), (0, 1, 0), (0, 0, 1)),
        initial_regime=0,
        garch_alpha=0.05,
        garch_beta=0.90,
        student_t_dof=8.0,
        jump_intensity=6.0,
        jump_mean=-0.05,
        jump_std=0.02,
    )
    fit = calibrate(synthetic_data(truth, 3000, seed=0), n_regimes=1)
    print(
        f"\njumps: intensity={fit.jump_intensity:.2f} mean={fit.jump_mean:.3f} std={fit.jump_std:.3f} "
        f"dof={fit.student_t_dof:.2f}"
    )
    assert 1.5 < fit.jump_intensity < 24.0
    assert abs(fit.jump_mean + 0.05) < 0.03
    assert fit.student_t_dof > 3.5


def test_three_regimes_are_found_and_ordered():
    fit = calibrate(synthetic_data(MarketConfig(n_assets=4), 5000, seed=0))
    vol = fit.regime_volatility
    assert vol[0] < vol[1] < vol[2]
    assert fit.regime_drift[0] > fit.regime_drift[1]
    assert all(0.8 < fit.regime_transition[k][k] < 1.0 for k in range(3))
    assert fit.regime_correlation[0] < fit.regime_correlation[2]


@pytest.mark.parametrize("n_regimes", [1, 2])
def test_fewer_regimes_leave_unused_slots_unreachable(n_regimes):
    fit = calibrate(synthetic_data(MarketConfig(n_assets=3), 1500, seed=1), n_regimes=n_regimes)
    matrix = np.array(fit.regime_transition)
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0)
    unused = [1, 2] if n_regimes == 1 else [1]
    assert np.all(matrix[:, unused][[k for k in range(3) if k not in unused]] == 0.0)
    bars = np.empty((300, 6, 3))
    regimes = SyntheticMarket(fit).sample(np.random.default_rng(0), bars)
    assert not np.isin(regimes, unused).any()


def test_calibration_is_deterministic_and_keeps_base_impact():
    data = synthetic_data(MarketConfig(n_assets=2), 800, seed=3)
    base = MarketConfig(impact=0.2, max_impact=0.5)
    a = calibrate(data, seed=7, base=base)
    assert a == calibrate(data, seed=7, base=base)
    assert (a.impact, a.max_impact) == (0.2, 0.5)


def test_bad_input_gets_a_clear_error():
    data = synthetic_data(MarketConfig(n_assets=2), 100, seed=0)
    with pytest.raises(WealthArenaDataError, match="at least 250 returns"):
        calibrate(data)
    long = synthetic_data(MarketConfig(n_assets=2), 400, seed=0)
    with pytest.raises(ConfigError, match="n_regimes"):
        calibrate(long, n_regimes=4)
    with pytest.raises(ConfigError, match="jump_threshold"):
        calibrate(long, jump_threshold=0.0)
    with pytest.raises(ConfigError, match="MarketData"):
        calibrate(np.zeros((400, 2)))
    with pytest.raises(WealthArenaDataError, match="NaN"):
        stylized_facts(np.full((100, 2), np.nan))


# ----------------------------------------------------------------------------- stylized facts
def test_stylized_facts_of_gaussian_noise():
    rng = np.random.default_rng(0)
    cov = np.array([[1.0, 0.5], [0.5, 1.0]]) * 0.01**2
    r = rng.multivariate_normal([0.0, 0.0], cov, size=200_000)
    facts = stylized_facts(r)
    assert abs(facts["annual_volatility"] - 0.01 * np.sqrt(252)) < 0.002
    assert abs(facts["kurtosis"] - 3.0) < 0.05
    assert np.all(np.abs(facts["abs_autocorr"]) < 0.01) and facts["abs_autocorr"].shape == (20,)
    assert np.all(np.abs(facts["leverage"]) < 0.01)
    assert abs(facts["mean_correlation"] - 0.5) < 0.01
    assert np.isnan(stylized_facts(r[:, 0])["mean_correlation"])


def test_stylized_facts_see_clustering_and_leverage():
    # variance driven by the sign of yesterday's return: a leverage effect by construction
    rng = np.random.default_rng(1)
    n = 100_000
    z = rng.standard_normal(n)
    r = np.empty(n)
    r[0] = z[0]
    for t in range(1, n):
        r[t] = z[t] * (2.0 if r[t - 1] < 0 else 0.5)
    facts = stylized_facts(r)
    assert facts["leverage_1"] < -0.2
    assert facts["kurtosis"] > 3.5


def test_compare_frame_and_markdown():
    config = MarketConfig(n_assets=3)
    data = synthetic_data(config, 600, seed=0)
    frame = compare_stylized_facts(data, config, n_seeds=3, n_bars=400)
    assert list(frame.columns) == ["real", "synthetic", "synthetic_std", "synthetic_median", "ratio"]
    assert "kurtosis" in frame.index and "mean_correlation" in frame.index
    assert frame.attrs["n_seeds"] == 3 and frame.attrs["n_bars"] == 400
    assert frame.attrs["markdown"].startswith("| fact | real | synthetic |")
    assert frame.loc["kurtosis"].notna().all()
