"""Risk kernels: the limits every agent is held to, applied to its target weights before execution.

Axis order: one agent's weight vectors have N + 1 entries (N assets, then cash); ``cov`` is the (N, N) EWMA
covariance of the assets' daily log returns; ``history`` is an (N, T) history of log returns, asset-major,
oldest first (C-contiguous: the VaR's inner loops run over contiguous time). Weights are
fractions of the portfolio value at the decision bar's prices; volatilities are daily unless named annual.

:func:`apply_risk_layer` applies the rules in this documented order, each on the output of the previous:

1. stop-loss / take-profit: a held position whose decision-bar close is at or beyond its threshold from
   the average entry price is closed (target 0) or trimmed (``target <= (1 - trim) * current``);
2. position cap: ``w_i <- min(w_i, max_position)``;
3. correlation cap: assets whose weight would increase are taken largest target first; an increase is
   refused (``w_i <- current_i``) when the asset's EWMA correlation with any other asset held in the
   result (a position already held, or a new one accepted before it) exceeds ``max_correlation``; so every
   increased position is at most that correlated with every other position held after the step;
4. volatility budget: risky weights scaled by ``budget / sigma_annual`` when the ex-ante volatility
   ``sigma_annual = sqrt(w' C w * P)`` exceeds the budget;
5. VaR budget, then CVaR budget: risky weights scaled so the one-day parametric (``z sigma``) and historical
   VaR (and then CVaR) of the target portfolio are within their limits (both are positively homogeneous,
   so one scale factor is exact);
6. leverage cap: risky weights scaled so ``sum_i |w_i| <= max_leverage``;
7. drawdown breaker: during a cooldown, or when the drawdown at the decision bar reaches ``max_drawdown``
   (``breach`` "liquidate" or "terminate"), every risky weight is set to 0.

Cash takes whatever the rules remove. Every intervention is written as an event ``(rule, asset, removed
weight)``; portfolio-wide rules use asset ``-1``. After execution the step kernel adds a
``participation_cap`` event for every position that ended above its target because the participation limit
cut its sell (e.g. on a zero-volume bar); its "removed weight" is negative: minus the weight left above the
target, which the next bars retry. Scalings use a factor ``(1 - 1e-12)`` below the exact one so
the limit holds after rounding.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numba import njit

from wealtharena_env.kernels import STEP_KERNEL_OPTIONS


class HeldPositions(NamedTuple):
    """One agent's book at the decision bar, as :func:`apply_risk_layer` reads it."""

    weights: np.ndarray  # (N + 1) the weights held (cash last)
    shares: np.ndarray  # (N) shares held
    close: np.ndarray  # (N) the decision bar's closes
    average_cost: np.ndarray  # (N) average entry price of each position (stop-loss / take-profit)


class AssetRisk(NamedTuple):
    """The market's risk statistics at the decision bar, shared by every agent of the bar."""

    cov: np.ndarray  # (N, N) EWMA covariance of the daily log returns
    factors: np.ndarray | None  # (3 k + 1, N) its factor model (:func:`factor_variance`; None: exact)
    asset_stats: np.ndarray  # (4, N) :func:`asset_statistics`
    history: np.ndarray  # (N, T) log returns, asset-major
    bar: int  # the decision bar
    periods_per_year: float


class BreakerState(NamedTuple):
    """The drawdown breaker's inputs."""

    drawdown: float  # 1 - V / peak at the decision bar
    cooldown_remaining: float  # bars of cooldown left (0: not tripped)


class EventLog(NamedTuple):
    """Where the risk layer records events: 3 floats per event, and a count per rule for the episode."""

    events: np.ndarray
    counts: np.ndarray


# Rule codes of risk events (index into RULE_NAMES).
RULE_POSITION_CAP = 0
RULE_CORRELATION_CAP = 1
RULE_VOLATILITY_BUDGET = 2
RULE_VAR_BUDGET = 3
RULE_CVAR_BUDGET = 4
RULE_LEVERAGE_CAP = 5
RULE_STOP_LOSS = 6
RULE_TAKE_PROFIT = 7
RULE_DRAWDOWN_BREAKER = 8
RULE_BREAKER_COOLDOWN = 9
RULE_PARTICIPATION_CAP = 10  # reported after execution (kernels.step), not a rule of this layer
N_RULES = 11
RULE_NAMES = (
    "position_cap",
    "correlation_cap",
    "volatility_budget",
    "var_budget",
    "cvar_budget",
    "leverage_cap",
    "stop_loss",
    "take_profit",
    "drawdown_breaker",
    "breaker_cooldown",
    "participation_cap",
)

BREACH_LIQUIDATE = 0
BREACH_TERMINATE = 1
BREACH_PENALIZE = 2

#: One agent's limits as the kernels read them (a record packed from ``config.RiskLimits`` by the Simulation;
#: booleans, enums and counts with their own types).
LIMITS_DTYPE = np.dtype(
    [
        ("max_position", np.float64),  # largest weight of one asset
        (
            "max_correlation",
            np.float64,
        ),  # largest EWMA correlation of a new position with a held one (1: off)
        ("volatility_budget", np.float64),  # annualised ex-ante volatility of the target
        ("var_limit", np.float64),  # one-day VaR (fraction of value; inf: off)
        ("cvar_limit", np.float64),  # one-day CVaR (inf: off)
        ("max_leverage", np.float64),  # sum of |risky weights|
        ("stop_loss", np.float64),  # exit when close <= entry * (1 - stop_loss)
        ("take_profit", np.float64),  # exit when close >= entry * (1 + take_profit)
        ("trim", np.bool_),  # exits trim the position (True) or close it (False)
        ("trim_fraction", np.float64),  # share of the position a trim sells
        ("max_drawdown", np.float64),  # the breaker's drawdown
        ("breach", np.int64),  # BREACH_*: what the breaker does
        ("cooldown", np.int64),  # bars the breaker keeps the agent flat (liquidate mode)
        ("var_z", np.float64),  # standard normal quantile z at the risk level
        ("cvar_factor", np.float64),  # phi(z) / (1 - level): parametric CVaR = factor * sigma
        ("tail_probability", np.float64),  # 1 - level
        ("var_lookback", np.int64),  # bars of history of the historical VaR / CVaR
    ]
)

# Risk-layer outcome flags (returned).
OUT_TRIPPED = 1
OUT_TERMINATE = 2

SAFETY = 1.0 - 1e-12


@njit(inline="always", **STEP_KERNEL_OPTIONS)  # called with constant rules: one compile per rule otherwise
def record_event(events: np.ndarray, count: int, rule: int, asset: int, removed: float) -> int:
    """Write event ``(rule, asset, removed weight)`` at slot ``count`` of ``events`` (3 floats a slot) if it
    fits; return ``count + 1``."""
    if 3 * count + 2 < events.shape[0]:
        events[3 * count] = rule
        events[3 * count + 1] = asset
        events[3 * count + 2] = removed
    return count + 1


@njit(**STEP_KERNEL_OPTIONS)
def ewma_covariance_update(cov: np.ndarray, returns: np.ndarray, decay: float) -> None:
    """``C <- decay * C + (1 - decay) * r r'`` in place (zero-mean EWMA covariance, RiskMetrics style)."""
    n = returns.shape[0]
    keep = 1.0 - decay
    for i in range(n):
        ri = keep * returns[i]
        for j in range(n):
            cov[i, j] = decay * cov[i, j] + ri * returns[j]


@njit(fastmath={"reassoc"}, **STEP_KERNEL_OPTIONS)
def portfolio_variance(
    weights: np.ndarray, cov: np.ndarray, factors: np.ndarray | None, work: np.ndarray
) -> float:
    """``w' C w`` over the N risky weights (``weights`` may carry the cash slot last; it is ignored), from
    the risk model: the EWMA covariance ``cov`` itself when ``factors`` is None, else its rank-k factor model
    (:func:`factor_variance`, O(N k) instead of O(N^2); ``work`` holds its k exposures).

    Exact: ``sum_i w_i (sum_j C_ij w_j)``; the inner sums may be reassociated (``fastmath={"reassoc"}``) so
    they vectorize: the result is identical for every environment of a batch and every run on a machine,
    and may differ in the last bits across CPUs.
    """
    if factors is not None:  # None: the branch is pruned by type, the factor code is not compiled
        return factor_variance(weights, factors, work)
    n = cov.shape[0]
    total = 0.0
    for i in range(n):
        wi = weights[i]
        if wi == 0.0:
            continue
        row = cov[i]
        s = 0.0
        for j in range(n):
            s += row[j] * weights[j]
        total += wi * s
    return max(total, 0.0)


# ------------------------------------------------------------------------------------------ factor model
def risk_factor_rows(rank: int) -> int:
    """Rows of one environment's factor model of rank ``k >= 1`` (:func:`factor_variance`): ``3 k + 1``."""
    return 3 * rank + 1


#: Subspace-iteration sweeps of a reset (the warm-up's covariance, from a fixed starting basis); every later
#: refresh warm-starts from the previous basis with one sweep.
RESET_FACTOR_SWEEPS = 12


@njit(fastmath={"reassoc"}, **STEP_KERNEL_OPTIONS)
def factor_variance(weights: np.ndarray, factors: np.ndarray, work: np.ndarray) -> float:
    """``w' (Q' M Q + diag(D)) w = u' M u + sum_i D_i w_i^2`` with ``u = Q w`` (in ``work[:k]``), O(N k).

    ``factors`` (3 k + 1, N): rows ``0..k-1`` the orthonormal factor directions ``Q`` (k, N) of the EWMA
    covariance (its top eigenvectors, :func:`refresh_risk_factors`), rows ``k..2k-1`` their covariance
    ``M = Q C Q'`` (k, k) in the first k columns, row ``2 k`` the specific variances ``D``
    (:func:`update_specific_variances`), rows ``2k+1..3k`` the refresh's work space.
    """
    rank = (factors.shape[0] - 1) // 3
    n = factors.shape[1]
    u = work
    for f in range(rank):
        row = factors[f]
        s = 0.0
        for i in range(n):
            s += row[i] * weights[i]
        u[f] = s
    total = 0.0
    for f in range(rank):
        row = factors[rank + f]
        s = 0.0
        for g in range(rank):
            s += row[g] * u[g]
        total += u[f] * s
    specific = factors[2 * rank]
    for i in range(n):
        total += specific[i] * weights[i] * weights[i]
    return max(total, 0.0)


@njit(**STEP_KERNEL_OPTIONS)
def refresh_risk_factors(cov: np.ndarray, factors: np.ndarray, sweeps: int, restart: bool) -> None:
    """Track the top-k eigenvectors of ``cov`` by subspace iteration, then refit ``M`` and ``D``.

    ``sweeps`` times: ``Y = Q C`` (k, N), then ``Q <-`` Gram-Schmidt(``Y``) (rows orthonormal; a row that
    vanishes is replaced by the unit vector of the asset the other rows cover least). ``restart``
    starts from the fixed basis ``Q_fi = cos(pi f (i + 1/2) / N)`` (normalized) instead of the previous
    ``Q``. Then ``M = Q C Q'`` (k, k) and :func:`update_specific_variances`. O(sweeps N^2 k + N^2 k).
    """
    rank = (factors.shape[0] - 1) // 3
    n = cov.shape[0]
    basis = factors[:rank]
    if restart:
        for f in range(rank):
            for i in range(n):
                basis[f, i] = np.cos(np.pi * f * (i + 0.5) / n)
        _orthonormalize(basis)
    product = factors[2 * rank + 1 :]
    for _ in range(sweeps):
        _times_covariance(basis, cov, product)
        for f in range(rank):
            for i in range(n):
                basis[f, i] = product[f, i]
        _orthonormalize(basis)
    _times_covariance(basis, cov, product)
    for f in range(rank):
        for g in range(rank):
            s = 0.0
            for i in range(n):
                s += basis[f, i] * product[g, i]
            factors[rank + f, g] = s
    for f in range(rank):  # symmetric up to rounding: make it exactly so
        for g in range(f):
            mean = 0.5 * (factors[rank + f, g] + factors[rank + g, f])
            factors[rank + f, g] = mean
            factors[rank + g, f] = mean
    update_specific_variances(cov, factors)


@njit(fastmath={"reassoc"}, **STEP_KERNEL_OPTIONS)
def _times_covariance(basis: np.ndarray, cov: np.ndarray, out: np.ndarray) -> None:
    """``out = basis C`` (k, N) for the symmetric ``C``."""
    rank, n = basis.shape
    for f in range(rank):
        for j in range(n):
            out[f, j] = 0.0
        for i in range(n):
            q = basis[f, i]
            if q == 0.0:
                continue
            row = cov[i]
            for j in range(n):
                out[f, j] += q * row[j]


@njit(**STEP_KERNEL_OPTIONS)
def _orthonormalize(basis: np.ndarray) -> None:
    """Modified Gram-Schmidt on the rows of ``basis`` (k, N), k <= N, in place."""
    rank, n = basis.shape
    for f in range(rank):
        for g in range(f):
            s = 0.0
            for i in range(n):
                s += basis[f, i] * basis[g, i]
            for i in range(n):
                basis[f, i] -= s * basis[g, i]
        norm = 0.0
        for i in range(n):
            norm += basis[f, i] * basis[f, i]
        if norm < 1e-24:  # degenerate: restart the row from the unit vector least covered by the others
            best, best_cover = 0, np.inf
            for i in range(n):
                cover = 0.0
                for g in range(f):
                    cover += basis[g, i] * basis[g, i]
                if cover < best_cover:
                    best, best_cover = i, cover
            for i in range(n):
                basis[f, i] = 0.0
            basis[f, best] = 1.0
            for g in range(f):
                s = basis[g, best]
                for i in range(n):
                    basis[f, i] -= s * basis[g, i]
            norm = 0.0
            for i in range(n):
                norm += basis[f, i] * basis[f, i]
        scale = 1.0 / np.sqrt(norm)
        for i in range(n):
            basis[f, i] *= scale


@njit(**STEP_KERNEL_OPTIONS)
def update_specific_variances(cov: np.ndarray, factors: np.ndarray) -> None:
    """``D_i = max(C_ii - (Q' M Q)_ii, 0)``: each asset's variance not explained by the factors, so the
    model's own variance of every asset is ``C_ii`` (exactly, while ``D_i > 0``). O(N k^2); run after every
    covariance update, with ``Q`` and ``M`` from the last :func:`refresh_risk_factors`."""
    rank = (factors.shape[0] - 1) // 3
    n = cov.shape[0]
    specific = factors[2 * rank]
    for i in range(n):
        explained = 0.0
        for f in range(rank):
            s = 0.0
            for g in range(rank):
                s += factors[rank + f, g] * factors[g, i]
            explained += factors[f, i] * s
        specific[i] = max(cov[i, i] - explained, 0.0)


@njit(**STEP_KERNEL_OPTIONS)
def historical_var_cvar(
    weights: np.ndarray,
    history: np.ndarray,
    start: int,
    length: int,
    tail_probability: float,
    work: np.ndarray,
) -> tuple[float, float]:
    """One-day historical VaR and CVaR (positive loss fractions) of ``weights`` over ``L = length`` bars.

    ``history[i, start + k]`` (``history`` (N, T) C-contiguous) is asset i's log return on the k-th of those
    L bars (asset-major so the portfolio returns ``x_k = sum_i w_i r_{k,i}`` accumulate in ``work[:L]`` with a
    contiguous, vectorizable inner loop; log returns are a first-order approximation of the portfolio's simple
    return). With the sorted
    ``s_0 <= ... <= s_{L-1}``, ``h = (L - 1) p``, ``k = floor(h)``: ``VaR = -(s_k + (h - k)(s_{k+1} - s_k))``
    (linear interpolation, NumPy's default) and ``CVaR = -mean(s_0..s_k)``; both floored at 0. Only the
    ``k + 2`` smallest values are kept (insertion). ``work`` needs ``L + k + 2`` entries.
    """
    n = history.shape[0]
    for t in range(length):
        work[t] = 0.0
    for i in range(n):
        wi = weights[i]
        if wi == 0.0:
            continue
        row = history[i, start : start + length]
        for t in range(length):
            work[t] += wi * row[t]
    h = (length - 1) * tail_probability
    k = int(np.floor(h))
    m = min(k + 2, length)
    smallest = work[length : length + m]  # the m smallest, ascending (no allocation)
    for j in range(m):
        smallest[j] = np.inf
    for t in range(length):
        x = work[t]
        if x < smallest[m - 1]:
            pos = m - 1
            while pos > 0 and smallest[pos - 1] > x:
                smallest[pos] = smallest[pos - 1]
                pos -= 1
            smallest[pos] = x
    upper = smallest[k + 1] if k + 1 < m else smallest[k]
    quantile = smallest[k] + (h - k) * (upper - smallest[k])
    tail = 0.0
    for j in range(k + 1):
        tail += smallest[j]
    return max(-quantile, 0.0), max(-tail / (k + 1), 0.0)


@njit(**STEP_KERNEL_OPTIONS)
def scale_risky(weights: np.ndarray, factor: float) -> float:
    """Multiply the N risky weights by ``factor``, give the difference to cash; return the weight removed."""
    n = weights.shape[0] - 1
    removed = 0.0
    for i in range(n):
        new = weights[i] * factor
        removed += weights[i] - new
        weights[i] = new
    weights[n] += removed
    return removed


@njit(**STEP_KERNEL_OPTIONS)
def risky_sum(weights: np.ndarray) -> float:
    """``sum_i |w_i|`` over the N risky weights (gross exposure)."""
    total = 0.0
    for i in range(weights.shape[0] - 1):
        total += abs(weights[i])
    return total


@njit(**STEP_KERNEL_OPTIONS)
def _correlation_cap(
    target: np.ndarray,
    current: np.ndarray,
    cov: np.ndarray,
    asset_stats: np.ndarray,
    max_corr: float,
    log: EventLog,
    count: int,
    work: np.ndarray,
) -> int:
    """Rule 3 of the module docstring; returns the new event count (``asset_stats`` as in
    :func:`apply_risk_layer`: rows sigma_i and max_correlation_i are read).

    The held set starts with the positions the target keeps (``current_i > 0`` and ``target_i > 0``); the
    candidates (assets whose weight increases: new positions, and held ones that pass the screen below; a held
    one that does not can neither be refused nor join the set) are taken by decreasing target (insertion sort
    into ``order``). A candidate ``i`` is refused when ``C_ji - (max_corr sigma_j) sigma_i > 0`` for a held
    ``j != i``; an accepted new position joins the held set. Only candidates whose largest correlation with
    any asset (``max_correlation_i``, :func:`asset_statistics`) reaches ``max_corr - 1e-9`` are compared with
    the held set: for the others no pair can exceed the cap. The asset a candidate is most correlated with
    (``asset_stats[3]``) is compared first: when it is held and the pair exceeds the cap, the candidate is
    refused without scanning the held set (the scan would refuse it too, so the outcome is the same, and the
    common case is O(1) instead of O(held)). ``work[:4N]`` holds the held set, ``order``, the candidates'
    targets (the sort's keys) and a held flag per asset; no allocation on the step path.
    """
    n = cov.shape[0]
    sigma = asset_stats[0]
    max_correlation = asset_stats[1]
    events = log.events
    counts = log.counts
    most_correlated = asset_stats[3]
    held = work[:n]
    order = work[n : 2 * n]
    keys = work[2 * n : 3 * n]
    is_held = work[3 * n : 4 * n]
    n_held = 0
    n_candidates = 0
    threshold = max_corr - 1e-9
    for i in range(n):
        is_held[i] = 0.0
        if current[i] > 0.0 and target[i] > 0.0:
            held[n_held] = i
            is_held[i] = 1.0
            n_held += 1
        key = target[i]
        # an increase of a held position below the screen can be neither refused nor join the held set: it
        # changes nothing, so it is left out of the (quadratic) insertion sort
        if key > current[i] and (max_correlation[i] >= threshold or current[i] <= 0.0):
            pos = n_candidates
            while pos > 0 and keys[pos - 1] < key:
                order[pos] = order[pos - 1]
                keys[pos] = keys[pos - 1]
                pos -= 1
            order[pos] = i
            keys[pos] = key
            n_candidates += 1
    for k in range(n_candidates):
        i = int(order[k])
        refused = False
        if max_correlation[i] >= threshold:
            sigma_i = sigma[i]
            j = int(most_correlated[i])
            if j >= 0 and j != i and is_held[j] > 0.0 and cov[j, i] - (max_corr * sigma[j]) * sigma_i > 0.0:
                refused = True
            else:
                for h in range(n_held):
                    j = int(held[h])
                    if j != i and cov[j, i] - (max_corr * sigma[j]) * sigma_i > 0.0:
                        refused = True
                        break
        if refused:
            removed = target[i] - current[i]
            target[i] = current[i]
            target[n] += removed
            count = record_event(events, count, RULE_CORRELATION_CAP, i, removed)
            counts[RULE_CORRELATION_CAP] += 1
        elif current[i] <= 0.0:  # a new position joins the held set
            held[n_held] = i
            is_held[i] = 1.0
            n_held += 1
    return count


@njit(fastmath={"nnan", "nsz"}, **STEP_KERNEL_OPTIONS)
def _scaled_max(row: np.ndarray, scale: np.ndarray, skip: int) -> float:
    """``max_{j != skip} row_j scale_j`` (``-inf`` when empty), of non-NaN values, in four interleaved
    running maxima (LLVM does not vectorize a max reduction by itself; four independent ones run ~3.5x
    faster at N = 500). Each product is rounded once and a maximum is exact, so the result is the plain
    loop's whatever the order."""
    m0 = m1 = m2 = m3 = -np.inf
    for segment in range(2):  # j < skip, then j > skip
        j = 0 if segment == 0 else skip + 1
        stop = skip if segment == 0 else row.shape[0]
        while j + 4 <= stop:
            v0 = row[j] * scale[j]
            v1 = row[j + 1] * scale[j + 1]
            v2 = row[j + 2] * scale[j + 2]
            v3 = row[j + 3] * scale[j + 3]
            m0 = max(m0, v0)
            m1 = max(m1, v1)
            m2 = max(m2, v2)
            m3 = max(m3, v3)
            j += 4
        while j < stop:
            m0 = max(m0, row[j] * scale[j])
            j += 1
    return max(max(m0, m1), max(m2, m3))


@njit(fastmath={"nnan", "nsz"}, **STEP_KERNEL_OPTIONS)
def _window_min(values: np.ndarray) -> float:
    """``min(values)`` of a non-empty array of non-NaN values; the fast-math flags let the reduction
    vectorize."""
    low = values[0]
    for k in range(1, values.shape[0]):
        low = min(low, values[k])
    return low


@njit(**STEP_KERNEL_OPTIONS)
def asset_statistics(
    cov: np.ndarray, history: np.ndarray, bar: int, lookback: int, correlation_floor: float, out: np.ndarray
) -> None:
    """The ``asset_stats`` (4, N) of :func:`apply_risk_layer`, written to ``out``, shared by every agent of a
    bar:

    * ``out[0, i] = sigma_i = sqrt(C_ii)``;
    * ``out[1, i] = max_{j != i} C_ij / (sigma_i sigma_j)``, the asset's largest EWMA correlation with another
      (``-inf`` when ``correlation_floor >= 1`` or N = 1: no agent has a correlation cap), computed as
      ``(max_j C_ij / sigma_j) / sigma_i`` up to rounding (the risk layer's screen allows a 1e-9 margin);
    * ``out[2, i] = max(0, -min_k r_{k,i})`` over bars ``bar - lookback + 1 .. bar`` of ``history`` (N, T):
      the asset's worst one-bar log loss (0 for ``lookback = 0``: no agent has a finite VaR or CVaR limit);
    * ``out[3, i]``: the first ``j`` at which that largest correlation is reached, for the assets whose
      largest correlation reaches ``correlation_floor - 1e-9`` (the lowest cap of the agents: no other asset
      can be refused by a cap), which the correlation cap checks first; -1 for the others.

    O(N^2) for the correlations and O(N L) for the losses, once per environment and bar instead of per agent.
    """
    n = cov.shape[0]
    sigma = out[0]
    max_correlation = out[1]
    max_loss = out[2]
    most_correlated = out[3]
    for i in range(n):
        sigma[i] = np.sqrt(cov[i, i])
        max_correlation[i] = -np.inf
        most_correlated[i] = -1.0
    if correlation_floor < 1.0 and n > 1:
        inverse = max_loss  # 1 / sigma_j, until the losses overwrite it below
        for j in range(n):
            inverse[j] = 1.0 / sigma[j]
        threshold = correlation_floor - 1e-9
        for i in range(n):
            row = cov[i]
            top = _scaled_max(row[:n], inverse, i)
            max_correlation[i] = top * inverse[i]
            if max_correlation[i] >= threshold:
                for j in range(n):  # where the maximum is
                    if j != i and row[j] * inverse[j] == top:
                        most_correlated[i] = j
                        break
    for i in range(n):
        max_loss[i] = (
            max(-_window_min(history[i, bar - lookback + 1 : bar + 1]), 0.0) if lookback > 0 else 0.0
        )


@njit(**STEP_KERNEL_OPTIONS)
def apply_risk_layer(
    target: np.ndarray,
    held: HeldPositions,
    market: AssetRisk,
    limits: Any,  # a LIMITS_DTYPE record (numba reads its fields by name)
    breaker: BreakerState,
    log: EventLog,
    work: np.ndarray,
) -> tuple[int, int, float, float]:
    """Apply the rules of the module docstring to ``target`` (N + 1) in place.

    ``held`` (:class:`HeldPositions`): the weights held at the decision bar, and the shares, decision-bar
    closes and average entry prices the stop-loss and take-profit read; ``market`` (:class:`AssetRisk`): the
    EWMA covariance ``cov`` (N, N), ``asset_stats`` (4, N) with rows ``sigma_i = sqrt(C_ii)``,
    ``max_correlation_i = max_{j != i} C_ij / (sigma_i sigma_j)`` and ``max_loss_i = max(0, -min_k r_{k,i})``
    over the VaR window (a superset of it is fine), shared by the agents of a bar, the log returns
    ``history`` (N, T) of which bars ``bar - L + 1 .. bar`` (L = ``var_lookback``) give the historical VaR,
    and the periods per year; ``limits``: the agent's ``LIMITS_DTYPE`` record; ``breaker``
    (:class:`BreakerState`): the drawdown and the cooldown bars remaining. Events go to ``log.events`` (3
    floats each) and ``log.counts[rule]``; ``work`` is scratch space of at least ``max(4 N, L + k + 2)`` (k of
    :func:`historical_var_cvar`).

    Returns ``(n_events, flags, cooldown_remaining', sigma_p)`` with flags ``OUT_TRIPPED`` / ``OUT_TERMINATE``
    and ``sigma_p = sqrt(w' C w)`` of the final target: the rules after the volatility budget only scale the
    risky weights, so it is the budget's ``sigma_p`` times their factors (the reward reuses it instead of a
    second O(N^2) product).

    Two screens skip work that cannot change the result (the outcome is the same bit for bit):

    * the correlation cap compares with the held set only the increased assets with ``max_correlation_i >=
      max_corr - 1e-9``: below that, no ``C_ij > max_corr sigma_i sigma_j`` can hold, whatever the held set;
    * the historical VaR / CVaR are computed only if ``B = sum_i w_i max_loss_i`` (long weights) reaches
      ``(1 - 1e-9)`` times the smaller limit: both are at most the worst portfolio loss of the window,
      ``max_k sum_i w_i (-r_{k,i}) <= B``, so below it neither can bind and only the parametric measures
      count.
    """
    current = held.weights
    holdings = held.shares
    close = held.close
    average_cost = held.average_cost
    cov = market.cov
    factors = market.factors
    asset_stats = market.asset_stats
    history = market.history
    bar = market.bar
    drawdown = breaker.drawdown
    cooldown_remaining = breaker.cooldown_remaining
    events = log.events
    counts = log.counts
    n = cov.shape[0]
    max_correlation = asset_stats[1]
    max_loss = asset_stats[2]
    count = 0
    flags = 0
    # 1. stop-loss / take-profit on held positions
    stop = limits.stop_loss
    take = limits.take_profit
    trim = limits.trim
    keep = 1.0 - limits.trim_fraction
    for i in range(n):
        if holdings[i] > 0.0 and average_cost[i] > 0.0:
            rule = -1
            if close[i] <= average_cost[i] * (1.0 - stop):
                rule = RULE_STOP_LOSS
            elif close[i] >= average_cost[i] * (1.0 + take):
                rule = RULE_TAKE_PROFIT
            if rule >= 0:
                ceiling = current[i] * keep if trim else 0.0
                removed = max(target[i] - ceiling, 0.0)
                if removed > 0.0:
                    target[i] = ceiling
                    target[n] += removed
                count = record_event(events, count, rule, i, removed)
                counts[rule] += 1
    # 2. position cap
    cap = limits.max_position
    for i in range(n):
        if target[i] > cap:
            removed = target[i] - cap
            target[i] = cap
            target[n] += removed
            count = record_event(events, count, RULE_POSITION_CAP, i, removed)
            counts[RULE_POSITION_CAP] += 1
    # 3. correlation cap: increases, largest target first, against the assets held in the result
    max_corr = limits.max_correlation
    if max_corr < 1.0 and n > 1:
        suspect = False
        for i in range(n):
            if target[i] > current[i] and max_correlation[i] >= max_corr - 1e-9:
                suspect = True
                break
        if suspect:
            count = _correlation_cap(target, current, cov, asset_stats, max_corr, log, count, work)
    # 4. volatility budget
    budget = limits.volatility_budget
    sigma_p = np.sqrt(portfolio_variance(target, cov, factors, work))
    annual = sigma_p * np.sqrt(market.periods_per_year)
    if annual > budget:
        factor = budget / annual * SAFETY
        removed = scale_risky(target, factor)
        sigma_p *= factor
        count = record_event(events, count, RULE_VOLATILITY_BUDGET, -1, removed)
        counts[RULE_VOLATILITY_BUDGET] += 1
    # 5. VaR then CVaR budgets (parametric and historical; both homogeneous of degree 1 in the weights)
    var_limit = limits.var_limit
    cvar_limit = limits.cvar_limit
    if np.isfinite(var_limit) or np.isfinite(cvar_limit):
        bound = 0.0  # the window's worst portfolio loss is at most this (module docstring)
        for i in range(n):
            if target[i] < 0.0:
                bound = np.inf  # the bound holds for long weights only
                break
            bound += target[i] * max_loss[i]
        hist_var = 0.0
        hist_cvar = 0.0
        if bound >= (1.0 - 1e-9) * min(var_limit, cvar_limit):
            lookback = limits.var_lookback
            hist_var, hist_cvar = historical_var_cvar(
                target, history, bar - lookback + 1, lookback, limits.tail_probability, work
            )
        par_var = limits.var_z * sigma_p
        par_cvar = limits.cvar_factor * sigma_p
        worst = max(hist_var, par_var)
        if worst > var_limit:
            factor = var_limit / worst * SAFETY
            removed = scale_risky(target, factor)
            sigma_p *= factor
            hist_cvar *= factor
            par_cvar *= factor
            count = record_event(events, count, RULE_VAR_BUDGET, -1, removed)
            counts[RULE_VAR_BUDGET] += 1
        worst = max(hist_cvar, par_cvar)
        if worst > cvar_limit:
            factor = cvar_limit / worst * SAFETY
            removed = scale_risky(target, factor)
            sigma_p *= factor
            count = record_event(events, count, RULE_CVAR_BUDGET, -1, removed)
            counts[RULE_CVAR_BUDGET] += 1
    # 6. leverage cap
    gross = risky_sum(target)
    if gross > limits.max_leverage:
        factor = limits.max_leverage / gross * SAFETY
        removed = scale_risky(target, factor)
        sigma_p *= factor
        count = record_event(events, count, RULE_LEVERAGE_CAP, -1, removed)
        counts[RULE_LEVERAGE_CAP] += 1
    # 7. drawdown breaker
    breach = limits.breach
    if cooldown_remaining > 0.0:
        removed = scale_risky(target, 0.0)
        sigma_p = 0.0
        count = record_event(events, count, RULE_BREAKER_COOLDOWN, -1, removed)
        counts[RULE_BREAKER_COOLDOWN] += 1
        cooldown_remaining -= 1.0
    elif drawdown >= limits.max_drawdown and breach != BREACH_PENALIZE:
        removed = scale_risky(target, 0.0)
        sigma_p = 0.0
        count = record_event(events, count, RULE_DRAWDOWN_BREAKER, -1, removed)
        counts[RULE_DRAWDOWN_BREAKER] += 1
        flags |= OUT_TRIPPED
        if breach == BREACH_TERMINATE:
            flags |= OUT_TERMINATE
        else:
            cooldown_remaining = float(limits.cooldown)
    return count, flags, cooldown_remaining, sigma_p
