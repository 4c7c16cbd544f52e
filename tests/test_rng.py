"""The kernels' random streams (wealtharena_env.kernels.rng) against independent oracles and distributions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from wealtharena_env.config import MarketConfig
from wealtharena_env.kernels import market as mk
from wealtharena_env.kernels import rng
from wealtharena_env.market_sources import SyntheticMarket

MASK = (1 << 64) - 1


def splitmix64_oracle(key: int, n: int) -> list[int]:
    """SplitMix64 written from its definition with Python integers."""
    z, out = key, []
    for _ in range(n):
        z = (z + 0x9E3779B97F4A7C15) & MASK
        x = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
        out.append(x ^ (x >> 31))
    return out


def xoshiro_oracle(state: list[int]) -> int:
    """One xoshiro256** step written from its definition with Python integers (state updated in place)."""

    def rotl(x: int, k: int) -> int:
        return ((x << k) | (x >> (64 - k))) & MASK

    result = (rotl((state[1] * 5) & MASK, 7) * 9) & MASK
    t = (state[1] << 17) & MASK
    state[2] ^= state[0]
    state[3] ^= state[1]
    state[1] ^= state[2]
    state[0] ^= state[3]
    state[2] ^= t
    state[3] = rotl(state[3], 45)
    return result


def test_published_reference_values():
    # SplitMix64 seeded with 0 (its first output is the widely quoted 0xE220A8397B1DCDAF) and xoshiro256**
    # from the state (1, 2, 3, 4) (the reference implementation's first outputs)
    assert int(rng.new_stream(0)[0]) == 0xE220A8397B1DCDAF
    state = np.array([1, 2, 3, 4], dtype=np.uint64)
    assert [int(rng.next_u64(state)) for _ in range(4)] == [11520, 0, 1509978240, 1215971899390074240]


@pytest.mark.parametrize("key", [0, 1, 12345, (1 << 64) - 1, 0x9E3779B97F4A7C15])
def test_streams_match_an_independent_python_implementation(key):
    state = rng.new_stream(key)
    oracle = splitmix64_oracle(key, 4)
    assert [int(w) for w in state] == oracle
    assert [int(rng.next_u64(state)) for _ in range(500)] == [xoshiro_oracle(oracle) for _ in range(500)]
    u = rng.uniform(state)
    assert u == (xoshiro_oracle(oracle) >> 11) / 2.0**53


def test_uniforms_are_uniform_on_the_unit_interval():
    out = np.empty(200_000)
    rng.fill_uniform(rng.new_stream(7), out)
    assert out.min() >= 0.0 and out.max() < 1.0
    assert stats.kstest(out, "uniform").pvalue > 1e-3


def test_normals_are_standard_normal():
    out = np.empty(200_001)  # odd: the last pair's second draw is dropped
    rng.fill_normal(rng.new_stream(8), out)
    assert stats.kstest(out, "norm").pvalue > 1e-3
    assert abs(out.mean()) < 0.01 and abs(out.var() - 1.0) < 0.015
    assert abs(np.corrcoef(out[0:-1:2], out[1::2])[0, 1]) < 0.01  # the two draws of a pair


@pytest.mark.parametrize("dof", [2.5, 4.0, 5.0, 30.0])
def test_student_t_draws_follow_the_t_distribution(dof):
    out = np.empty(200_000)
    rng.fill_student_t(rng.new_stream(int(dof * 10)), dof, out)
    assert stats.kstest(out, "t", args=(dof,)).pvalue > 1e-3


def test_student_t_with_huge_dof_is_normal():
    out = np.empty(200_000)
    rng.fill_student_t(rng.new_stream(9), 1e9, out)
    assert np.all(np.isfinite(out))
    assert stats.kstest(out, "norm").pvalue > 1e-3


def test_streams_are_reproducible_and_key_dependent():
    a, b, c = np.empty(100), np.empty(100), np.empty(100)
    rng.fill_normal(rng.new_stream(42), a)
    rng.fill_normal(rng.new_stream(42), b)
    rng.fill_normal(rng.new_stream(43), c)
    np.testing.assert_array_equal(a, b)
    assert not np.any(a == c)


def test_key_from_is_the_generators_full_range_uint64_draw():
    """The key is the draw ``integers(0, 2**64, dtype=uint64)`` gives (the episodes' streams did not change
    when key_from switched to the bit generator's raw output), and it advances the generator as that draw
    does."""
    ours, reference = np.random.default_rng(11), np.random.default_rng(11)
    keys = [rng.key_from(ours) for _ in range(64)]
    expected = [int(reference.integers(0, 1 << 64, dtype=np.uint64)) for _ in range(64)]
    assert keys == expected
    assert ours.random() == reference.random()


def test_key_from_a_generator_is_reproducible():
    assert rng.key_from(np.random.default_rng(5)) == rng.key_from(np.random.default_rng(5))
    g = np.random.default_rng(5)
    assert rng.key_from(g) != rng.key_from(g)


def test_a_path_drawn_bar_by_bar_is_the_path_drawn_at_once():
    """The draw order is bar-major: asset parameters, the first regime, then per bar its regime and
    ``simulate_bar``; a generator that produces bars one at a time (the arena's step kernel) gets the same
    path from the same key."""
    config = MarketConfig(n_assets=4)
    market = SyntheticMarket(config)
    n_bars = 300
    at_once = np.empty((n_bars, mk.N_BAR_FIELDS, 4))
    regimes_at_once = np.empty(n_bars, dtype=np.int64)
    mk.simulate_market_path(
        rng.new_stream(11),
        market.dynamics,
        market._initial_probs,
        np.empty((mk.N_ASSET_ROWS, 4)),
        at_once,
        regimes_at_once,
    )

    stream = rng.new_stream(11)
    bars = np.full((n_bars, mk.N_BAR_FIELDS, 4), np.nan)
    asset_state = np.empty((mk.N_ASSET_ROWS, 4))
    regime = mk.start_market_path(
        stream, market._scalars, market._regime_params, market._initial_probs, asset_state, bars
    )
    regimes = [regime]
    for t in range(1, n_bars):
        assert np.isnan(bars[t:]).all()  # nothing beyond the bars drawn
        regime = mk.advance_market_path(t, regime, stream, market.dynamics, asset_state, bars)
        regimes.append(regime)
    np.testing.assert_array_equal(bars, at_once)
    np.testing.assert_array_equal(regimes, regimes_at_once)


def test_a_warm_up_drawn_returns_only_is_the_same_path():
    """``full_from`` skips the open, high, low and volume of the bars before it (a warm-up whose OHLCV is not
    kept) but makes the same draws: the same log returns, regimes, path state and stream, and the same whole
    bars from ``full_from`` on."""
    market = SyntheticMarket(MarketConfig(n_assets=5, garch_beta=0.85, garch_gamma=0.05))
    n_bars, full_from = 61, 59
    outs = []
    for start in (0, full_from):
        stream = rng.new_stream(7)
        state = np.zeros((mk.N_ASSET_ROWS, 5))
        bars = np.full((n_bars, mk.N_BAR_FIELDS, 5), np.nan)
        regimes = np.empty(n_bars, dtype=np.int64)
        mk.simulate_market_path(stream, market.dynamics, market._initial_probs, state, bars, regimes, start)
        outs.append((stream, state, bars, regimes))
    (s0, a0, b0, r0), (s1, a1, b1, r1) = outs
    np.testing.assert_array_equal(s0, s1)
    np.testing.assert_array_equal(a0, a1)
    np.testing.assert_array_equal(r0, r1)
    np.testing.assert_array_equal(b0[:, mk.BAR_LOGRET], b1[:, mk.BAR_LOGRET])
    np.testing.assert_array_equal(b0[full_from:], b1[full_from:])
    np.testing.assert_array_equal(b0[0], b1[0])
    assert np.isnan(b1[1:full_from, mk.BAR_OPEN]).all()  # not computed
    assert not np.isnan(b0[1:full_from, mk.BAR_OPEN]).any()
