"""Execution kernels against plain-NumPy reference twins, on hypothesis inputs (NaN / inf included)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from wealtharena_env.kernels.execution import (
    DUST,
    MAPPING_EXPONENTIAL,
    MAPPING_SIMPLEX,
    MAPPING_SOFTMAX,
    SNAP,
    ExecutionCosts,
    OrderBar,
    continuous_action_to_weights,
    discrete_action_to_weights,
    impact_scales,
    rebalance_to_targets,
    rebalance_toward,
)

PROPERTY = settings(deadline=None, max_examples=200)
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True, width=64)


def reference_simplex(a):
    x = np.clip(a, 0.0, 1.0)
    if x.sum() <= 0:
        w = np.zeros_like(x)
        w[-1] = 1.0
        return w
    return x / x.sum()


def reference_softmax(a, temperature):
    x = temperature * np.clip(a, -1.0, 1.0)
    e = np.exp(x - x.max())
    return e / e.sum()


def reference_exponential(a, temperature, dead_zone=0.0):
    x = np.exp(temperature * np.clip(a, -1.0, 1.0)) - np.exp(temperature * (dead_zone - 1.0))
    x = np.maximum(x, 0.0)
    if x.sum() <= 0:
        return np.eye(a.shape[0])[-1]
    return x / x.sum()


def exponential_inverse(w, temperature, dead_zone=0.0):
    """The action the exponential mapping turns into ``w`` (the formula of its docstring): -1 where
    ``w_j = 0``."""
    floor = np.exp(temperature * (dead_zone - 1.0))
    with np.errstate(divide="ignore"):
        a = np.log(w * (np.exp(temperature) - floor) / w.max() + floor) / temperature
    return np.where(w == 0.0, -1.0, a)


@PROPERTY
@given(
    arrays(np.float64, st.integers(2, 8), elements=ANY_FLOAT),
    st.sampled_from([0, 1, 2]),
    st.floats(0.1, 20),
    st.sampled_from([0.0, 0.05, 0.1, 0.5, 0.99]),
)
def test_continuous_mapping_matches_reference(action, mapping, temperature, dead_zone):
    """The dead zone is read by the exponential mapping only (the config rejects it with the others)."""
    out = np.full(action.shape[0], -99.0)
    n_nan, n_clip = continuous_action_to_weights(action, mapping, temperature, dead_zone, out)
    assert n_nan == np.isnan(action).sum()
    assert n_clip == (np.abs(action[~np.isnan(action)]) > 1).sum()
    if n_nan:
        assert np.all(out == -99.0)  # untouched: the caller holds
        return
    expected = {
        MAPPING_SIMPLEX: reference_simplex,
        MAPPING_SOFTMAX: lambda a: reference_softmax(a, temperature),
        MAPPING_EXPONENTIAL: lambda a: reference_exponential(a, temperature, dead_zone),
    }[mapping](action)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-15)
    assert np.all(out >= 0) and out.sum() == pytest.approx(1.0, abs=1e-12)


@PROPERTY
@given(
    st.integers(1, 9).flatmap(lambda n: arrays(np.float64, n + 1, elements=st.floats(0, 1))),
    st.floats(0.5, 8.0),
)
def test_exponential_mapping_reaches_every_weight_vector_exactly(raw, temperature):
    w = raw / raw.sum() if raw.sum() > 0 else np.eye(raw.shape[0])[-1]
    out = np.empty_like(w)
    continuous_action_to_weights(
        exponential_inverse(w, temperature), MAPPING_EXPONENTIAL, temperature, 0.0, out
    )
    np.testing.assert_allclose(out, w, rtol=1e-9, atol=1e-12)
    assert np.all(out[w == 0] == 0.0)  # zeros are exact: cash only is cash only


@PROPERTY
@given(
    st.integers(1, 9).flatmap(
        lambda n: arrays(
            np.float64, n + 1, elements=st.sampled_from([0.0, 0.0, 1e-6, 0.01, 0.3, 1.0]) | st.floats(0, 1)
        )
    ),
    st.floats(0.5, 8.0),
    st.floats(0.0, 0.95),
)
def test_exponential_mapping_with_a_dead_zone_reaches_every_weight_vector_exactly(
    raw, temperature, dead_zone
):
    """The inverse of the docstring (-1 where w_j = 0) round-trips every weight vector, zeros included."""
    w = raw / raw.sum() if raw.sum() > 0 else np.eye(raw.shape[0])[-1]
    out = np.empty_like(w)
    continuous_action_to_weights(
        exponential_inverse(w, temperature, dead_zone), MAPPING_EXPONENTIAL, temperature, dead_zone, out
    )
    np.testing.assert_allclose(out, w, rtol=1e-9, atol=1e-12)
    assert np.all(out[w == 0] == 0.0)


@pytest.mark.parametrize("dead_zone", [0.05, 0.1, 0.5])
def test_exponential_mapping_dead_zone_entries_are_exactly_zero(dead_zone):
    rng = np.random.default_rng(0)
    out = np.empty(6)
    for _ in range(200):
        action = rng.uniform(-1.0, 1.0, 6)
        inside = rng.random(6) < 0.5
        action[inside] = rng.uniform(-1.0, -1.0 + dead_zone, inside.sum())
        action[np.flatnonzero(inside)[:1]] = -1.0 + dead_zone  # the edge belongs to the dead zone
        continuous_action_to_weights(action, MAPPING_EXPONENTIAL, 3.0, dead_zone, out)
        inside = action <= -1.0 + dead_zone
        if inside.all():
            np.testing.assert_array_equal(out, [0, 0, 0, 0, 0, 1])  # all in the dead zone: cash only
            continue
        assert np.all(out[inside] == 0.0)
        assert np.all(out[~inside] > 0.0)  # outside the dead zone every entry keeps a positive weight
        assert out.sum() == pytest.approx(1.0, abs=1e-12)
    # a tanh-squashed policy a hair above -1 holds exactly nothing with a dead zone, a sliver without
    near = np.r_[np.full(5, -1.0 + 1e-6), 1.0]
    continuous_action_to_weights(near, MAPPING_EXPONENTIAL, 3.0, dead_zone, out)
    np.testing.assert_array_equal(out, [0, 0, 0, 0, 0, 1])
    continuous_action_to_weights(near, MAPPING_EXPONENTIAL, 3.0, 0.0, out)
    assert np.all(out[:5] > 0.0)
    continuous_action_to_weights(np.full(6, -1.0 + dead_zone), MAPPING_EXPONENTIAL, 3.0, dead_zone, out)
    np.testing.assert_array_equal(out, [0, 0, 0, 0, 0, 1])  # all in the dead zone: cash only


@pytest.mark.parametrize("dead_zone", [0.0, 0.05, 0.5, 0.99])
def test_exponential_mapping_zero_action_is_equal_weight_with_any_dead_zone(dead_zone):
    out = np.empty(5)
    continuous_action_to_weights(np.zeros(5), MAPPING_EXPONENTIAL, 3.0, dead_zone, out)
    np.testing.assert_allclose(out, 0.2, rtol=1e-15)


def test_exponential_mapping_zero_dead_zone_is_the_plain_mapping_bit_for_bit():
    """d = 0 is today's mapping: its floor exp(T (0 - 1)) is exp(-T) exactly."""
    rng = np.random.default_rng(1)
    for temperature in (0.5, 3.0, 5.0, 8.0):
        assert np.exp(temperature * (0.0 - 1.0)) == np.exp(-temperature)
        out = np.empty(5)
        for _ in range(50):
            action = rng.uniform(-1.2, 1.2, 5)
            continuous_action_to_weights(action, MAPPING_EXPONENTIAL, temperature, 0.0, out)
            scores = np.maximum(np.exp(temperature * np.clip(action, -1, 1)) - np.exp(-temperature), 0.0)
            np.testing.assert_allclose(out, scores / scores.sum(), rtol=1e-14, atol=1e-300)


def test_exponential_mapping_zero_action_is_equal_weight_and_minus_one_is_cash():
    out = np.empty(5)
    continuous_action_to_weights(np.zeros(5), MAPPING_EXPONENTIAL, 3.0, 0.0, out)
    np.testing.assert_allclose(out, 0.2, rtol=1e-15)
    continuous_action_to_weights(np.r_[-np.ones(4), 0.3], MAPPING_EXPONENTIAL, 3.0, 0.0, out)
    np.testing.assert_array_equal(out, [0, 0, 0, 0, 1])
    continuous_action_to_weights(
        -np.ones(5), MAPPING_EXPONENTIAL, 3.0, 0.0, out
    )  # nothing positive: cash only
    np.testing.assert_array_equal(out, [0, 0, 0, 0, 1])


def reference_rebalance_toward(target, current, rate, band):
    """Plain-NumPy twin of ``rebalance_toward``."""
    t, w = target[:-1].astype(np.float64), current[:-1].astype(np.float64)
    gap = t - w
    inside = (np.abs(gap) <= band) & (t != 0.0)
    finish = (np.abs(gap) <= band) | ((1.0 - rate) * np.abs(gap) <= SNAP)
    out = np.where(inside, w, np.where(finish, t, w + rate * gap))
    up = out > w
    kept = np.where(up, w, out).sum()
    increase = (out - w)[up].sum()
    if kept + increase > 1.0 and increase > 0:
        out[up] = w[up] + (out[up] - w[up]) * max(1.0 - kept, 0.0) / increase
    return np.append(out, max(1.0 - out.sum(), 0.0)), int(inside.sum())


@PROPERTY
@given(
    st.integers(2, 9).flatmap(lambda n: st.tuples(simplex_point(n), simplex_point(n))), st.floats(0.05, 1.0)
)
def test_partial_rebalancing_reaches_its_target_exactly_in_finitely_many_steps(pair, rate):
    target, current = pair
    w = current.copy()
    for _ in range(400):
        step = target.copy()
        rebalance_toward(step, w, rate, 0.0)
        w = step
    # exactly, but for the last bit when the target's own weights sum one ulp above 1 (the kernel then scales
    # every increase to keep cash >= 0)
    np.testing.assert_allclose(w[:-1], target[:-1], rtol=0, atol=1e-12)


def simplex_point(n):
    return arrays(np.float64, n, elements=st.floats(0, 1)).map(
        lambda x: x / x.sum() if x.sum() > 0 else np.eye(n)[-1]
    )


@PROPERTY
@given(
    st.integers(2, 9).flatmap(lambda n: st.tuples(simplex_point(n), simplex_point(n))),
    st.floats(0.01, 1.0),
    st.sampled_from([0.0, 1e-3, 0.02, 0.1, 0.5]),
)
def test_rebalance_toward_matches_reference_and_stays_on_the_simplex(pair, rate, band):
    target, current = pair
    got = target.copy()
    held = rebalance_toward(got, current, rate, band)
    expected, expected_held = reference_rebalance_toward(target, current, rate, band)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    assert held == expected_held
    assert np.all(got >= 0) and got.sum() == pytest.approx(1.0, abs=1e-12)
    risky_gap = np.abs(got[:-1] - current[:-1])
    inside = (np.abs(target[:-1] - current[:-1]) <= band) & (target[:-1] != 0.0)
    assert np.all(risky_gap[inside] == 0.0)  # no trade inside the band (but exits to 0 are finished)
    # every risky weight moves toward its target and never past it
    assert np.all(risky_gap <= np.abs(target[:-1] - current[:-1]) + 1e-15)
    assert np.all((got[:-1] - current[:-1]) * (target[:-1] - current[:-1]) >= 0)


def test_rebalance_toward_full_rate_without_band_is_the_identity():
    target = np.array([0.2, 0.5, 0.3])
    got = target.copy()
    assert rebalance_toward(got, np.array([0.6, 0.1, 0.3]), 1.0, 0.0) == 0
    np.testing.assert_array_equal(got[:-1], target[:-1])
    assert got[-1] == pytest.approx(target[-1], abs=1e-15)


def test_rebalance_toward_scales_increases_when_held_weights_leave_no_room():
    # asset 0 is held at 0.60 (target 0.59, inside the band), asset 1 wants 0.41 -> 0.0 + 0.41 fits exactly;
    # asset 0 held at 0.70 with target 0.69 leaves 0.30 for asset 1, which wanted 0.31
    got = np.array([0.69, 0.31, 0.0])
    rebalance_toward(got, np.array([0.70, 0.0, 0.30]), 1.0, 0.02)
    np.testing.assert_allclose(got, [0.70, 0.30, 0.0], atol=1e-15)


def reference_discrete(action, current, step):
    a = np.where(np.isnan(action), 1.0, np.rint(np.clip(np.nan_to_num(action, posinf=2.0, neginf=0.0), 0, 2)))
    target = np.maximum(current[:-1] + (a - 1.0) * step, 0.0)
    up = target > current[:-1]
    kept = np.where(up, current[:-1], target).sum()
    increase = (target - current[:-1])[up].sum()
    if kept + increase > 1.0 and increase > 0:
        target[up] = current[:-1][up] + (target[up] - current[:-1][up]) * max(1.0 - kept, 0.0) / increase
    return np.append(target, max(1.0 - target.sum(), 0.0))


@PROPERTY
@given(
    arrays(np.float64, st.integers(1, 6), elements=st.one_of(ANY_FLOAT, st.sampled_from([0.0, 1.0, 2.0]))),
    st.integers(0, 10_000),
    st.floats(0.01, 0.5),
)
def test_discrete_mapping_matches_reference(action, seed, step):
    current = np.random.default_rng(seed).dirichlet(np.ones(action.shape[0] + 1))
    out = np.zeros(action.shape[0] + 1)
    n_nan, n_clip = discrete_action_to_weights(action, current, step, out)
    assert n_nan == np.isnan(action).sum()
    finite_or_inf = action[~np.isnan(action)]
    assert n_clip == np.sum(~np.isin(finite_or_inf, [0.0, 1.0, 2.0]))
    np.testing.assert_allclose(out, reference_discrete(action, current, step), rtol=1e-12, atol=1e-15)
    assert np.all(out >= 0) and out.sum() == pytest.approx(1.0, abs=1e-9)


def reference_rebalance(
    target, holdings, cash, p_dec, p_fill, scale, max_shares, commission, half_spread, lot
):
    """Straightforward NumPy version of rebalance_to_targets (same documented rules)."""
    holdings = holdings.copy()
    value = cash + holdings @ p_dec
    wanted = target[:-1] * value / p_dec - holdings
    orders = np.clip(wanted, -max_shares, max_shares)
    if lot > 0:  # sells round up (exposure <= target) unless that breaks the cap; the rest toward zero
        rounded_up = -np.ceil(-orders / lot - 1e-9) * lot
        up = (orders < 0) & (rounded_up >= -max_shares)
        orders = np.where(up, rounded_up, np.trunc(orders / lot) * lot)
    orders[np.abs(orders) * p_dec <= DUST * value] = 0.0
    close = (target[:-1] <= 0) & (wanted >= -max_shares)  # a target of 0 sells everything
    orders[close] = -holdings[close]
    orders = np.maximum(orders, -holdings)
    slip = half_spread + scale * np.sqrt(np.abs(orders))
    sells = orders < 0
    notional = -orders[sells] * p_fill[sells]
    sell_cost = notional * slip[sells] + commission * notional * (1 - slip[sells])
    cash = cash + (notional - sell_cost).sum()
    holdings[sells] += orders[sells]
    buys = orders > 0
    need = (orders[buys] * p_fill[buys] * (1 + slip[buys]) * (1 + commission)).sum()
    f = 1.0
    if need > cash * (1 - 1e-12):
        f = max(cash, 0.0) / need * (1 - 1e-12)
    q = orders[buys] * f
    if lot > 0:
        q = np.floor(q / lot) * lot
    s2 = half_spread + scale[buys] * np.sqrt(q)
    buy_notional = q * p_fill[buys]
    buy_cost = buy_notional * s2 + commission * buy_notional * (1 + s2)
    cash -= (buy_notional + buy_cost).sum()
    holdings[buys] += q
    return cash, sell_cost.sum() + buy_cost.sum(), holdings


@PROPERTY
@given(
    st.integers(1, 6),
    st.integers(0, 100_000),
    st.floats(0, 0.01),
    st.floats(0, 0.01),
    st.floats(0, 1),
    st.sampled_from([0.0, 1.0, 100.0]),
)
@example(
    4, 1000, 0.0, 0.0, 0.0, 100.0
)  # a sell whose rounding up to whole lots would break the participation cap
def test_rebalance_matches_reference_and_accounting_is_exact(n, seed, commission, half_spread, k, lot):
    rng = np.random.default_rng(seed)
    target = rng.dirichlet(np.ones(n + 1))
    holdings = rng.uniform(0, 5000, n) * (rng.random(n) < 0.7)
    cash = float(rng.uniform(0, 1e6))
    p_dec = rng.uniform(5, 500, n)
    p_fill = p_dec * np.exp(rng.normal(0, 0.05, n))
    vol = rng.uniform(0.005, 0.05, n)
    volume = rng.uniform(1e3, 1e7, n)
    scale = np.zeros(n)
    impact_scales(k, vol, volume, scale)
    h = holdings.copy()
    executed = np.zeros(n)
    max_shares = np.where(rng.random(n) < 0.3, rng.uniform(0, 3000, n), np.inf)
    new_cash, cost, _traded, fraction = rebalance_to_targets(
        target,
        h,
        cash,
        OrderBar(p_dec, p_fill, scale, max_shares),
        ExecutionCosts(commission, half_spread, lot),
        executed,
        np.zeros(n),
    )
    ref_cash, ref_cost, ref_h = reference_rebalance(
        target, holdings, cash, p_dec, p_fill, scale, max_shares, commission, half_spread, lot
    )
    assert np.all(np.abs(executed) <= max_shares + 1e-9)
    np.testing.assert_allclose([new_cash, cost], [ref_cash, ref_cost], rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(h, ref_h, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(executed, h - holdings, rtol=1e-9, atol=1e-9)
    assert new_cash >= 0 and np.all(h >= 0) and cost >= 0 and 0 <= fraction <= 1
    before = cash + holdings @ p_fill
    after = new_cash + h @ p_fill
    assert before - after == pytest.approx(cost, rel=1e-9, abs=1e-6)
    if commission == 0 and half_spread == 0 and k == 0:
        assert after == pytest.approx(before, rel=1e-12)


def test_hand_checked_rebalance():
    # 1 asset, 1000 cash, price 10 -> 100 shares target at decision; fill at 10 with 10 bp commission,
    # 0 slippage.
    h = np.zeros(1)
    executed = np.zeros(1)
    cash, cost, traded, _f = rebalance_to_targets(
        np.array([0.5, 0.5]),
        h,
        1000.0,
        OrderBar(np.array([10.0]), np.array([10.0]), np.zeros(1), np.array([np.inf])),
        ExecutionCosts(0.001, 0.0, 0.0),
        executed,
        np.zeros(1),
    )
    assert h[0] == pytest.approx(50.0) and traded == pytest.approx(500.0)
    assert cost == pytest.approx(0.5)  # 10 bp of 500
    assert cash == pytest.approx(1000.0 - 500.0 - 0.5)
