"""Synthetic market sanity: reproducible, consistent OHLCV, fat tails, volatility clustering, regimes."""

from __future__ import annotations

import numpy as np
import pytest

from wealtharena_env.config import MarketConfig
from wealtharena_env.kernels.market import BAR_CLOSE, BAR_HIGH, BAR_LOGRET, BAR_LOW, BAR_OPEN, BAR_VOLUME
from wealtharena_env.market_sources import SyntheticMarket, stationary_distribution


def path(seed, n_bars=4000, **kw):
    cfg = MarketConfig(**{"n_assets": 5, **kw})
    bars = np.zeros((n_bars, 6, cfg.n_assets))
    regimes = SyntheticMarket(cfg).sample(np.random.default_rng(seed), bars)
    return bars, regimes


def test_seeded_paths_are_reproducible_and_seed_dependent():
    a, ra = path(11, 500)
    b, rb = path(11, 500)
    c, _ = path(12, 500)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ra, rb)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ohlcv_consistency(seed):
    bars, _ = path(seed)
    o, h, l, c, _v = (bars[:, k] for k in (BAR_OPEN, BAR_HIGH, BAR_LOW, BAR_CLOSE, BAR_VOLUME))
    assert np.all(np.isfinite(bars)) and np.all(bars[:, :5] > 0)
    assert np.all(l <= o) and np.all(l <= c) and np.all(o <= h) and np.all(c <= h)
    np.testing.assert_allclose(bars[1:, BAR_LOGRET], np.log(c[1:] / c[:-1]), rtol=1e-12, atol=1e-14)


def test_fat_tails_and_volatility_clustering_on_long_paths():
    kurtosis, acf = [], []
    for seed in range(4):
        bars, _ = path(seed, 6000)
        r = bars[1:, BAR_LOGRET]
        for i in range(r.shape[1]):
            x = r[:, i] - r[:, i].mean()
            kurtosis.append(np.mean(x**4) / np.mean(x**2) ** 2)
            a = np.abs(x)
            acf.append(np.corrcoef(a[1:], a[:-1])[0, 1])
    assert np.mean(kurtosis) > 3.0 and min(kurtosis) > 3.0
    assert np.mean(acf) > 0.05 and min(acf) > 0.0


def test_volume_rises_with_absolute_return():
    bars, _ = path(3)
    z = np.abs(bars[1:, BAR_LOGRET]) / bars[1:, BAR_LOGRET].std(axis=0)
    lv = np.log(bars[1:, BAR_VOLUME])
    corr = [np.corrcoef(z[:, i], lv[:, i])[0, 1] for i in range(z.shape[1])]
    assert min(corr) > 0.2


def test_regimes_follow_the_chain_and_differ():
    cfg = MarketConfig()
    pi = stationary_distribution(np.array(cfg.regime_transition))
    counts = np.zeros(3)
    vols = [[], [], []]
    corrs = [[], [], []]
    for seed in range(6):
        bars, regimes = path(seed, 8000)
        counts += np.bincount(regimes, minlength=3)
        r = bars[1:, BAR_LOGRET]
        for k in range(3):
            sel = r[regimes[1:] == k]
            if len(sel) > 60:
                vols[k].append(sel.std(axis=0).mean())
                c = np.corrcoef(sel.T)
                corrs[k].append(c[np.triu_indices(5, 1)].mean())
    np.testing.assert_allclose(counts / counts.sum(), pi, atol=0.08)
    assert np.mean(vols[0]) < np.mean(vols[1]) < np.mean(vols[2])
    assert np.mean(corrs[0]) < np.mean(corrs[2])


def test_initial_regime_is_respected():
    _, regimes = path(0, 10, initial_regime=2)
    assert regimes[0] == 2


def test_no_jumps_and_gaussian_like_when_disabled():
    bars, _ = path(
        0,
        3000,
        jump_intensity=0.0,
        student_t_dof=200.0,
        garch_alpha=0.0,
        garch_beta=0.0,
        regime_transition=((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
        initial_regime=0,
    )
    x = bars[1:, BAR_LOGRET, 0]
    x = x - x.mean()
    assert abs(np.mean(x**4) / np.mean(x**2) ** 2 - 3.0) < 0.4
    assert x.std() * np.sqrt(252) == pytest.approx(0.14, rel=0.5)
