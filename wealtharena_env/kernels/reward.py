"""Reward kernels: the terms of the composite reward and their weighted sum.

Every term is in daily-return units so the weights compare like with like; the risk term is a *variance*
(quadratic in the invested fraction) while profit is linear in it, so the composite reward is a mean-variance
utility whose optimum invests ``x* ~ mu / (lambda sigma^2)`` of the portfolio (``lambda`` the risk weight):
fully invested in a calm bull market, in cash when the drift is negative or the volatility extreme.

====================  ========================================================================  ==========
term                  formula (per agent, per step t, decided on bar d, valued on bar f = d+1)    sign
====================  ========================================================================  ==========
profit                ``log(V_f / V_d)`` (net of every cost)                                    either
risk                  ``-w' C w / 2``: half the ex-ante daily variance of the weights held
                      after the risk layer, C the EWMA covariance known at bar d               <= 0
cost                  ``-cost_t / V_d`` (commission + slippage; profit already pays it once)    <= 0
stability             ``-turnover_t`` (traded notional / V_d)                                  <= 0
sharpe                ``eta * D_t``, D_t the differential Sharpe ratio (Moody & Saffell 2001)  either
momentum              ``sum_i w_i * mean(r_{d-W+1..d, i})``, target weights times the trailing
                      mean daily log return of each asset                                       either
diversification       ``(1 - sum_i u_i^2) * sum_i w_i * mean_i sigma_i``, u the risky weights
                      normalised to sum 1, times the invested fraction (0 in cash), sigma_i each
                      asset's EWMA daily volatility                                             >= 0
breach                ``-max(DD_f - max_drawdown, 0)`` when ``breach="penalize"``, else 0      <= 0
benchmark             ``-log(mean_i P_f,i / P_d,i)``: minus the log return of an equal-weight
                      portfolio of the assets over the same bar; no action changes it          either
target_risk           ``-v' C v / 2``: half the ex-ante daily variance of the target the action
                      asks for (``v``, mapped from the action, before partial rebalancing and
                      the risk layer); computed only when its weight is not 0                  <= 0
====================  ========================================================================  ==========

The benchmark term is a control variate (off by default): the market's common move is most of the noise of a
daily return, and no action of the agent changes the benchmark's return, so adding it (weight 1: the reward
is the *excess* log return over equal weight) leaves every policy's ranking, and the optimal policy,
unchanged, while the noise of the reward falls from the portfolio's volatility to its tracking error.

The target-risk term (off by default) charges the risk the agent *asks for*. The risk term charges the risk it
holds after partial rebalancing and the risk layer, and in a volatile market the risk layer scales every
request down to nearly the same held weights: the reward then barely depends on how much the policy wanted
to invest, and a policy gradient gets little signal about the cash decision. The target-risk term restores an
immediate signal; it changes nothing when the agent asks for what it holds.

``reward = sum_k weight_k * term_k`` (``composite``) or ``reward = profit`` (``log_return`` mode).

Differential Sharpe ratio, with ``A``, ``B`` exponential moving estimates of the first and second moments
of the returns ``R_t`` at rate ``eta``::

    dA = R_t - A_{t-1},  dB = R_t^2 - B_{t-1}
    D_t = (B_{t-1} dA - A_{t-1} dB / 2) / (B_{t-1} - A_{t-1}^2)^(3/2)        (0 if the variance is <= 1e-14)
    A_t = A_{t-1} + eta dA,  B_t = B_{t-1} + eta dB

``eta * D_t`` is the first-order change of the exponential moving Sharpe ratio ``A / sqrt(B - A^2)`` caused
by ``R_t``; D_t is clipped to [-10, 10].
"""

from __future__ import annotations

import numpy as np
from numba import njit

from wealtharena_env.kernels import STEP_KERNEL_OPTIONS

TERM_PROFIT = 0
TERM_RISK = 1
TERM_COST = 2
TERM_STABILITY = 3
TERM_SHARPE = 4
TERM_MOMENTUM = 5
TERM_DIVERSIFICATION = 6
TERM_BREACH = 7
TERM_BENCHMARK = 8
TERM_TARGET_RISK = 9
N_TERMS = 10
TERM_NAMES = (
    "profit",
    "risk",
    "cost",
    "stability",
    "sharpe",
    "momentum",
    "diversification",
    "breach",
    "benchmark",
    "target_risk",
)

DSR_CLIP = 10.0


@njit(**STEP_KERNEL_OPTIONS)
def differential_sharpe(ret: float, mean: float, second: float, rate: float) -> tuple[float, float, float]:
    """Return ``(D_t, A_t, B_t)`` from ``R_t = ret``, ``A_{t-1} = mean``, ``B_{t-1} = second`` (module
    docstring)."""
    d_mean = ret - mean
    d_second = ret * ret - second
    variance = second - mean * mean
    d = 0.0
    if variance > 1e-14:
        d = (second * d_mean - 0.5 * mean * d_second) / variance**1.5
        d = min(max(d, -DSR_CLIP), DSR_CLIP)
    return d, mean + rate * d_mean, second + rate * d_second


@njit(**STEP_KERNEL_OPTIONS)
def herfindahl_diversification(weights: np.ndarray) -> float:
    """``(1 - sum_i u_i^2) * sum_i w_i`` with ``u_i = w_i / sum_j w_j`` over the N risky weights: one minus
    the Herfindahl index of the risky sleeve, times the invested fraction (a 1 %-invested sleeve earns 1 % of
    a fully invested one's bonus); 0 when nothing is held."""
    n = weights.shape[0] - 1
    total = 0.0
    for i in range(n):
        total += weights[i]
    if total <= 0.0:
        return 0.0
    hhi = 0.0
    for i in range(n):
        u = weights[i] / total
        hhi += u * u
    return (1.0 - hhi) * min(total, 1.0)


@njit(**STEP_KERNEL_OPTIONS)
def weighted_reward(terms: np.ndarray, weights: np.ndarray) -> float:
    """``sum_k weights_k * terms_k``."""
    total = 0.0
    for k in range(terms.shape[0]):
        total += weights[k] * terms[k]
    return total
