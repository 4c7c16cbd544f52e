"""Execution kernels: actions -> target weights -> orders -> fills, with exact cash accounting.

Axis order: one agent's vectors are indexed by asset ``i = 0..N-1``; weight vectors have N + 1 entries,
the last one being cash. Units: shares for quantities, currency for cash and values, fractions for
weights and slippage. Weights are long-only: ``w_i >= 0`` and ``sum(w) == 1`` including cash.

Orders are decided on bar ``d`` (prices the agent has seen) and filled at the next bar's price; see
:func:`rebalance_to_targets`. Sanitisation never raises: bad entries are repaired and *counted*; the
counts are returned upward and reported in ``info``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from wealtharena_env.kernels import STEP_KERNEL_OPTIONS


class OrderBar(NamedTuple):
    """Where :func:`rebalance_to_targets` sizes and fills one agent's orders, per asset (N each)."""

    decision_prices: np.ndarray  # P^d_i, the decision bar's close (orders are sized on it)
    fill_prices: np.ndarray  # P_i, the next bar's open (or close): where the orders fill
    impact_scale: np.ndarray  # slippage's impact scale (:func:`impact_scales`)
    max_shares: np.ndarray  # the participation limit in shares


class ExecutionCosts(NamedTuple):
    """Costs and lot rounding of :func:`rebalance_to_targets`."""

    commission: float  # c, fraction of the filled notional
    half_spread: float  # fraction of the price
    lot_size: float  # shares per lot; 0 = fractional shares


DUST = 1e-10
#: a partial rebalancing step that would leave a gap this small (fraction of value) goes all the way
SNAP = 1e-4

# continuous action mappings (``mapping`` argument of :func:`continuous_action_to_weights`)
MAPPING_SIMPLEX = 0
MAPPING_SOFTMAX = 1
MAPPING_EXPONENTIAL = 2


@njit(**STEP_KERNEL_OPTIONS)
def portfolio_weights(
    holdings: np.ndarray, cash: float, prices: np.ndarray, weights_out: np.ndarray
) -> float:
    """Write ``w_i = q_i P_i / V`` and ``w_cash = cash / V`` into ``weights_out``; return ``V``.

    ``V = cash + sum_i q_i P_i``. When ``V <= 0`` the weights are all zero but cash's (set to 1).
    """
    n = holdings.shape[0]
    value = cash
    for i in range(n):
        value += holdings[i] * prices[i]
    if value > 0.0:
        inv = 1.0 / value
        for i in range(n):
            weights_out[i] = holdings[i] * prices[i] * inv
        weights_out[n] = cash * inv
    else:
        for i in range(n):
            weights_out[i] = 0.0
        weights_out[n] = 1.0
    return value


@njit(**STEP_KERNEL_OPTIONS)
def continuous_action_to_weights(
    action: np.ndarray, mapping: int, temperature: float, dead_zone: float, weights_out: np.ndarray
) -> tuple[int, int]:
    """Map a Box action ``a`` in [-1, 1]^(N+1) (last entry = cash) to long-only target weights.

    Sanitisation first: entries outside [-1, 1] (including +/-inf) are clipped and counted; a NaN entry
    makes the whole action invalid (the caller holds the current portfolio) and is counted.

    * ``MAPPING_SIMPLEX``: ``w_j = max(a_j, 0) / sum_k max(a_k, 0)``; if no entry is positive, cash only.
    * ``MAPPING_SOFTMAX``: ``w_j = exp(T a_j) / sum_k exp(T a_k)`` with inverse temperature ``T``.
    * ``MAPPING_EXPONENTIAL``: with the floor ``f = exp(T (d - 1))`` of the dead zone ``d`` (0 <= d < 1),
      ``w_j = max(exp(T a_j) - f, 0) / sum_k max(exp(T a_k) - f, 0)``: a softmax shifted so that every
      ``a_j <= -1 + d`` is exactly 0 (``d = 0``: ``f = exp(-T)``, only ``a_j = -1`` is 0). The zero action is
      equal weight over the N + 1 slots; every weight vector (zeros included, cash only included) is reached
      exactly, by ``a_j = -1`` where ``w_j = 0`` and ``a_j = log(w_j (exp(T) - f) / max_k w_k + f) / T``
      elsewhere; all entries in the dead zone means cash only.

    ``dead_zone`` (``d``) is read by the exponential mapping only (the configuration rejects a non-zero
    value with the other mappings).

    Returns ``(n_nan, n_clipped)``. When ``n_nan > 0`` ``weights_out`` is left untouched.
    """
    m = action.shape[0]
    n_nan = 0
    n_clipped = 0
    for j in range(m):
        x = action[j]
        if np.isnan(x):
            n_nan += 1
        elif x > 1.0 or x < -1.0:
            n_clipped += 1
    if n_nan > 0:
        return n_nan, n_clipped
    floor = np.exp(temperature * (dead_zone - 1.0))  # d = 0: exp(-T), bit for bit
    top = -np.inf  # the largest entry: the softmax is computed relative to it
    if mapping == MAPPING_SOFTMAX:
        for j in range(m):
            top = max(top, min(max(action[j], -1.0), 1.0))
    total = 0.0
    for j in range(m):  # a non-negative score per slot, then normalised
        x = min(max(action[j], -1.0), 1.0)
        if mapping == MAPPING_EXPONENTIAL:
            score = max(np.exp(temperature * x) - floor, 0.0)
        elif mapping == MAPPING_SOFTMAX:
            score = np.exp(temperature * (x - top))
        else:
            score = max(x, 0.0)
        weights_out[j] = score
        total += score
    if total <= 0.0:  # nothing positive: cash only
        for j in range(m - 1):
            weights_out[j] = 0.0
        weights_out[m - 1] = 1.0
    else:
        for j in range(m):
            weights_out[j] /= total
    return n_nan, n_clipped


@njit(**STEP_KERNEL_OPTIONS)
def fit_buys_into_cash(target: np.ndarray, current: np.ndarray) -> None:
    """Scale the buys of ``target`` (N risky weights, then cash; in place) so that they fit the cash there is,
    then give cash the rest.

    With ``kept = sum_i min(w*_i, w_i)`` and ``increase = sum_i max(w*_i - w_i, 0)``: if
    ``kept + increase > 1``, every increase is scaled by ``(1 - kept) / increase`` (sells and holds are kept
    in full); then ``w*_cash = max(1 - sum_i w*_i, 0)``.
    """
    n = target.shape[0] - 1
    kept = 0.0
    increase = 0.0
    for i in range(n):
        if target[i] > current[i]:
            kept += current[i]
            increase += target[i] - current[i]
        else:
            kept += target[i]
    if kept + increase > 1.0 and increase > 0.0:
        scale = max(1.0 - kept, 0.0) / increase
        for i in range(n):
            if target[i] > current[i]:
                target[i] = current[i] + (target[i] - current[i]) * scale
    total = 0.0
    for i in range(n):
        total += target[i]
    target[n] = max(1.0 - total, 0.0)


@njit(**STEP_KERNEL_OPTIONS)
def discrete_action_to_weights(
    action: np.ndarray, current_weights: np.ndarray, step: float, weights_out: np.ndarray
) -> tuple[int, int]:
    """Map a MultiDiscrete action (0 = sell, 1 = hold, 2 = buy per asset) to target weights.

    ``w*_i = max(0, w_i + (a_i - 1) * step)``. Sells and holds are kept in full; if the buys would need more
    than the cash available (``sum_i w*_i > 1``), every buy's increase is scaled by the same factor
    ``(1 - sum_i min(w*_i, w_i)) / sum_i max(w*_i - w_i, 0)``. Cash gets ``1 - sum_i w*_i``.

    NaN entries hold that asset; entries that are not 0, 1 or 2 are rounded and clipped to [0, 2]. Both
    are counted: returns ``(n_nan, n_clipped)``.
    """
    n = action.shape[0]
    n_nan = 0
    n_clipped = 0
    for i in range(n):
        x = action[i]
        if np.isnan(x):
            n_nan += 1
            x = 1.0
        else:
            r = np.rint(min(max(x, 0.0), 2.0)) if np.isfinite(x) else (2.0 if x > 0 else 0.0)
            if r != x:
                n_clipped += 1
            x = r
        target = current_weights[i] + (x - 1.0) * step
        target = max(target, 0.0)
        weights_out[i] = target
    fit_buys_into_cash(weights_out, current_weights)
    return n_nan, n_clipped


@njit(**STEP_KERNEL_OPTIONS)
def rebalance_toward(target: np.ndarray, current: np.ndarray, rate: float, band: float) -> int:
    """Partial rebalancing with a no-trade band: move each risky weight part of the way to its target, and
    not at all where the gap is inside the band. In place on ``target`` (N risky weights, then cash).

    With the gap ``g_i = w*_i - w_i`` of asset ``i``::

        w*_i <- 0                    if w*_i == 0 and |g_i| <= band   (an exit is never left unfinished)
        w*_i <- w_i                  elif |g_i| <= band                (no trade inside the band)
        w*_i <- w*_i                 elif (1 - rate) |g_i| <= SNAP     (a residual gap of dust is closed)
        w*_i <- w_i + rate * g_i     otherwise                         (rate = 1: the whole way)

    ``SNAP = 1e-4`` of value, so a partial move reaches its target in finitely many steps.

    If the risky weights then sum above 1 (positions kept inside the band while others grow), every increase
    is scaled by ``(1 - sum_i min(w*_i, w_i)) / sum_i max(w*_i - w_i, 0)``, as the discrete mapping does.
    Cash gets ``1 - sum_i w*_i``. Returns the number of assets left untouched by the band.

    Why: a policy's output is noisy (exploration noise, noisy inputs); mapped straight to target weights,
    every wiggle is a trade that pays costs. The band is the no-trade region of rebalancing under
    proportional costs; the rate turns the target into an exponential moving average of the policy's outputs.
    """
    n = target.shape[0] - 1
    held = 0
    for i in range(n):
        w = current[i]
        gap = target[i] - w
        if abs(gap) <= band:
            if target[i] != 0.0:
                target[i] = w
                held += 1
        elif (1.0 - rate) * abs(gap) > SNAP:
            target[i] = w + rate * gap
    fit_buys_into_cash(target, current)
    return held


@njit(**STEP_KERNEL_OPTIONS)
def impact_scales(
    impact_coefficient: float, daily_volatility: np.ndarray, volume: np.ndarray, out: np.ndarray
) -> None:
    """``out_i = k * sigma_i / sqrt(max(volume_i, 1))``: the square-root impact per sqrt(share) of asset i."""
    for i in range(daily_volatility.shape[0]):
        out[i] = impact_coefficient * daily_volatility[i] / np.sqrt(max(volume[i], 1.0))


@njit(**STEP_KERNEL_OPTIONS)
def slippage_fraction(shares: float, half_spread: float, impact_scale: float) -> float:
    """Slippage as a fraction of price: ``half_spread + k * sigma * sqrt(|shares| / max(volume, 1))``,
    with ``impact_scale = k * sigma / sqrt(max(volume, 1))`` from :func:`impact_scales`."""
    return half_spread + impact_scale * np.sqrt(abs(shares))


#: Relative tolerance of the lot rounding of sells: an order within 1e-9 lots of a whole number of lots is
#: that number (float noise must not add a lot).
LOT_TOLERANCE = 1e-9


@njit(**STEP_KERNEL_OPTIONS)
def rebalance_to_targets(
    target_weights: np.ndarray,
    holdings: np.ndarray,
    cash: float,
    bar: OrderBar,
    costs: ExecutionCosts,
    executed_out: np.ndarray,
    slippage_out: np.ndarray,
) -> tuple[float, float, float, float]:
    """Trade ``holdings`` toward ``target_weights``; update ``holdings`` in place (``bar``: :class:`OrderBar`,
    ``costs``: :class:`ExecutionCosts`).

    Orders are sized on the decision bar: ``V_d = cash + sum_i q_i P^d_i`` and
    ``order_i = w*_i V_d / P^d_i - q_i``, cut to ``|order_i| <= max_shares_i`` (the participation limit). With
    ``lot_size > 0`` buys are rounded down to whole lots and sells up (``-ceil(-order / lot) * lot``, at most
    the position), so that no position ends above its target; a sell whose rounding up would break the
    participation cap is rounded toward zero instead (it stays within the cap; the step reports the weight
    left). A target of 0 sells the whole position, whatever its lots, unless the participation cap holds it
    back.

    They fill at ``P_i = fill_prices[i]`` (the next bar). Sells fill first at ``P_i (1 - s_i)``; buys at
    ``P_i (1 + s_i)``, with ``s_i`` from :func:`slippage_fraction` (``impact_scale`` from
    :func:`impact_scales`, on the decision bar's volatility and volume) and commission ``c`` on the filled
    notional. If the buys need more cash than is available they are all scaled by one factor
    ``f = cash / need < 1`` (so cash never goes negative). Exactly::

        cost_i = |q_i| P_i s_i + c |q_i| P_i (1 +/- s_i)
        cash'  = cash - sum_i q_i P_i - sum_i cost_i
        cash' + sum_i q'_i P_i = cash + sum_i q_i P_i - sum_i cost_i      (value loses exactly the costs)

    Orders worth at most ``DUST * V_d`` are float dust of an unchanged weight and are not sent.
    ``executed_out[i]`` receives the executed signed shares; ``slippage_out`` (N) is work space (the
    slippage of each full-size order, sized in one branch-free pass). Returns
    ``(cash', total_cost, traded_notional, buy_fill_fraction f)``.
    """
    decision_prices = bar.decision_prices
    fill_prices = bar.fill_prices
    impact_scale = bar.impact_scale
    max_shares = bar.max_shares
    commission = costs.commission
    half_spread = costs.half_spread
    lot_size = costs.lot_size
    n = holdings.shape[0]
    value = cash
    for i in range(n):
        value += holdings[i] * decision_prices[i]
    dust = DUST * value
    # Size every order on the decision bar (branch-free, so the pass vectorizes) with its slippage.
    for i in range(n):
        wanted = target_weights[i] * value / decision_prices[i] - holdings[i]
        order = min(max(wanted, -max_shares[i]), max_shares[i])
        if lot_size > 0.0:
            lots = order / lot_size
            rounded_up = -np.ceil(-lots - LOT_TOLERANCE) * lot_size  # the tolerance keeps an exact multiple
            if order < 0.0 and rounded_up >= -max_shares[i]:
                # a sell: whole lots rounded up, so that the position ends at or below its target (the risk
                # layer's limits hold), unless that would break the participation cap
                order = rounded_up
            else:  # buys (and sells the cap holds back) round toward zero: never past the target or the cap
                order = np.trunc(lots) * lot_size
        order = 0.0 if abs(order) * decision_prices[i] <= dust else order  # float dust, not a trade
        if target_weights[i] <= 0.0 and wanted >= -max_shares[i]:
            order = -holdings[
                i
            ]  # a target of 0 closes the position in full (fractional lots and dust included)
        order = max(order, -holdings[i])
        executed_out[i] = order
        slippage_out[i] = slippage_fraction(order, half_spread, impact_scale[i])
    total_cost = 0.0
    traded = 0.0
    # Execute the sells; add up the cash the buys need at full size (slippage only shrinks when scaled down).
    need = 0.0
    for i in range(n):
        order = executed_out[i]
        if order < 0.0:
            q = -order
            slip = slippage_out[i]
            notional = q * fill_prices[i]
            fee = commission * notional * (1.0 - slip)
            cost = notional * slip + fee
            cash += notional - cost
            holdings[i] -= q
            total_cost += cost
            traded += notional
    for i in range(n):
        q = executed_out[i]
        if q > 0.0:
            need += q * fill_prices[i] * (1.0 + slippage_out[i]) * (1.0 + commission)
    scale = 1.0
    if need > cash * (1.0 - 1e-12):
        # 1e-12 of headroom keeps cash >= 0 through the rounding of the subtractions below.
        scale = max(cash, 0.0) / need * (1.0 - 1e-12)
    resized = scale != 1.0 or lot_size > 0.0  # then the buys' sizes (and slippage) change
    for i in range(n):
        q = executed_out[i]
        if q > 0.0:
            slip = slippage_out[i]
            if resized:
                q *= scale
                if lot_size > 0.0:
                    q = np.floor(q / lot_size) * lot_size
                executed_out[i] = q
                if q <= 0.0:
                    executed_out[i] = 0.0
                    continue
                slip = slippage_fraction(q, half_spread, impact_scale[i])
            price = fill_prices[i]
            notional = q * price
            fee = commission * notional * (1.0 + slip)
            cost = notional * slip + fee
            cash -= notional + cost
            holdings[i] += q
            total_cost += cost
            traded += notional
    return cash, total_cost, traded, scale
