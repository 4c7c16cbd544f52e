"""Gaussian hidden Markov model of returns: the causal forward filter and Baum-Welch fitting.

Axis order: observations ``x[t, d]``, time first (T bars, D series: ``D = 1`` for one series such as the
equal-weight market log return, ``D = N`` for the assets' log returns side by side); probabilities
``p[t, s]`` over S hidden states (regimes). Returns are log returns per bar (no annualisation).

**Model** (:class:`GaussianHMMParams`): initial probabilities ``pi`` (S,), the transition matrix ``A``
(S, S) with ``A[i, j] = P(s_t = j | s_{t-1} = i)`` (rows sum to 1), and per state a Gaussian emission with
means ``mu`` (S, D) and a *diagonal* covariance, the variances ``v`` (S, D): the D series are independent
given the state (their correlation is not modelled; with D = 1 this is exact)::

    log N(x; mu_s, v_s) = -1/2 sum_d [ log(2 pi v_sd) + (x_d - mu_sd)^2 / v_sd ]

**Forward filter** (causal: uses bars ``<= t`` only), ``p_t(s) = P(s_t = s | x_1 .. x_t)``::

    q_1(s) = pi_s,   q_t(s) = sum_j p_{t-1}(j) A[j, s]                  predicted (prior) probabilities
    p_t(s) = q_t(s) N(x_t; mu_s, v_s) / c_t,   c_t = sum_k q_k N(x_t; mu_k, v_k)
    log L = sum_t log c_t                                                the log-likelihood

computed in log space so that long series and far-out returns never underflow: with
``l_s = log q_t(s) + log N(x_t; mu_s, v_s)`` and ``m = max_s l_s``,
``p_t(s) = exp(l_s - m) / sum_k exp(l_k - m)`` and ``log c_t = m + log sum_k exp(l_k - m)``.
:func:`filter_step` is one step of it (the per-bar kernel the arena runs inside its step);
:func:`forward_filter` runs it over a series.

**Baum-Welch** (:func:`baum_welch`): expectation-maximisation over one or several independent sequences,
with a log-space forward-backward pass (:func:`forward_backward`). Smoothed probabilities
(:func:`forward_backward`) and Viterbi paths (:func:`viterbi`) read the whole series, future bars included:
they serve fitting and diagnostics only and never reach an observation.

**Packed layout** (what the arena's kernels receive, :func:`unpack_regime_model`): one C-contiguous
float64 array ``(S, 1 + S + 2 D)``, per state ``s`` its row ``[pi_s, A[s, 0..S-1], mu[s, 0..D-1],
v[s, 0..D-1]]``; an arena without a model passes None (its filter code is then not compiled).
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import numpy as np
from numba import njit

from wealtharena_env.kernels import STEP_KERNEL_OPTIONS

LOG_2PI = float(np.log(2.0 * np.pi))


class GaussianHMMParams(NamedTuple):
    """A Gaussian HMM with diagonal covariances (module docstring): arrays, float64."""

    initial: np.ndarray  # (S,) pi, sums to 1
    transition: np.ndarray  # (S, S) A[i, j] = P(s_t = j | s_{t-1} = i), rows sum to 1
    means: np.ndarray  # (S, D) mu
    variances: np.ndarray  # (S, D) v > 0 (diagonal covariance)


class EMSettings(NamedTuple):
    """Stopping rule and safeguard of :func:`baum_welch`."""

    max_iter: int  # most E-steps
    tol: float  # stop when the log-likelihood per observation improves by less than this
    variance_floor: np.ndarray  # (D,) lower bound of every state's variance of series d


class RegimeParameters(Protocol):
    """The four parameters of a Gaussian HMM, as arrays or nested sequences: a :class:`GaussianHMMParams`,
    or the configuration's ``RegimeModel`` (``ArenaConfig.regime_model``)."""

    @property
    def initial(self) -> Any: ...

    @property
    def transition(self) -> Any: ...

    @property
    def means(self) -> Any: ...

    @property
    def variances(self) -> Any: ...


def pack_regime_model(params: RegimeParameters) -> np.ndarray:
    """The packed ``(S, 1 + S + 2 D)`` array of ``params`` (module docstring), C-contiguous float64."""
    initial = np.asarray(params.initial, dtype=np.float64)
    transition = np.asarray(params.transition, dtype=np.float64)
    means = np.asarray(params.means, dtype=np.float64)
    variances = np.asarray(params.variances, dtype=np.float64)
    return np.ascontiguousarray(np.hstack([initial[:, None], transition, means, variances]))


def regime_model_views(packed: np.ndarray) -> GaussianHMMParams:
    """:func:`unpack_regime_model` for Python callers: the same views, made by NumPy from its Python body (so
    a kernel called with them is compiled for the same array types as inside the arena's step)."""
    return unpack_regime_model.py_func(packed)


@njit(inline="always", **STEP_KERNEL_OPTIONS)
def unpack_regime_model(packed: np.ndarray) -> GaussianHMMParams:
    """Views of a packed ``(S, 1 + S + 2 D)`` model (module docstring) as :class:`GaussianHMMParams`:
    ``pi = packed[:, 0]``, ``A = packed[:, 1:1+S]``, ``mu = packed[:, 1+S:1+S+D]``, ``v = packed[:, 1+S+D:]``
    with ``D = (columns - 1 - S) / 2``. For kernels only (compiled without reference counting, it cannot
    hand views back to Python: use :func:`regime_model_views` there)."""
    n_states = packed.shape[0]
    n_features = (packed.shape[1] - 1 - n_states) // 2
    first_mean = 1 + n_states
    first_variance = first_mean + n_features
    return GaussianHMMParams(
        packed[:, 0],
        packed[:, 1:first_mean],
        packed[:, first_mean:first_variance],
        packed[:, first_variance : first_variance + n_features],
    )


@njit(**STEP_KERNEL_OPTIONS)
def gaussian_log_density(x: np.ndarray, mean: np.ndarray, variance: np.ndarray) -> float:
    """``log N(x; mu, diag(v)) = -1/2 sum_d [log(2 pi v_d) + (x_d - mu_d)^2 / v_d]`` for one state's
    ``mean`` and ``variance`` rows (D,)."""
    total = 0.0
    for d in range(x.shape[0]):
        diff = x[d] - mean[d]
        total += LOG_2PI + np.log(variance[d]) + diff * diff / variance[d]
    return -0.5 * total


@njit(**STEP_KERNEL_OPTIONS)
def normalize_log_weights(log_weights: np.ndarray, out: np.ndarray) -> float:
    """``out_s = exp(l_s - m) / sum_k exp(l_k - m)`` with ``m = max_s l_s``; return
    ``log sum_s exp(l_s) = m + log sum_k exp(l_k - m)``. Entries ``-inf`` get probability 0. ``out`` may be
    ``log_weights`` itself. When no entry is finite (all ``-inf`` or NaN: nothing to weigh), ``out`` is
    uniform and the return value is ``-inf``."""
    top = -np.inf
    for s in range(log_weights.shape[0]):
        if log_weights[s] > top:  # noqa: PLR1730 - a NaN entry never wins (max() need not skip it)
            top = log_weights[s]
    if not (top > -np.inf and np.isfinite(top)):
        for s in range(out.shape[0]):
            out[s] = 1.0 / out.shape[0]
        return -np.inf
    total = 0.0
    for s in range(log_weights.shape[0]):
        e = np.exp(log_weights[s] - top) if log_weights[s] > -np.inf else 0.0
        out[s] = e
        total += e
    for s in range(out.shape[0]):
        out[s] /= total
    return top + np.log(total)


@njit(**STEP_KERNEL_OPTIONS)
def regime_predict(previous: np.ndarray, transition: np.ndarray, out: np.ndarray) -> None:
    """The predicted probabilities ``q(s) = sum_j p(j) A[j, s]`` of the next bar (``out`` must not be
    ``previous``)."""
    n_states = out.shape[0]
    for s in range(n_states):
        out[s] = 0.0
    for j in range(n_states):
        weight = previous[j]
        if weight == 0.0:
            continue
        for s in range(n_states):
            out[s] += weight * transition[j, s]


@njit(**STEP_KERNEL_OPTIONS)
def regime_update(predicted: np.ndarray, x: np.ndarray, model: GaussianHMMParams, out: np.ndarray) -> float:
    """Bayes' update of the predicted probabilities ``q`` by the bar's returns ``x`` (D,)::

        p(s) = q(s) N(x; mu_s, v_s) / c,   c = sum_k q(k) N(x; mu_k, v_k)

    in log space (``l_s = log q(s) + log N(x; mu_s, v_s)``, :func:`normalize_log_weights`). Returns
    ``log c``, the bar's contribution to the log-likelihood. ``out`` may be ``predicted`` itself (updated in
    place). A bar with a non-finite return carries no information: ``p = q`` and ``log c = 0``.
    """
    n_states = predicted.shape[0]
    finite = True
    for d in range(x.shape[0]):
        if not np.isfinite(x[d]):
            finite = False
    if not finite:
        for s in range(n_states):
            out[s] = predicted[s]
        return 0.0
    for s in range(n_states):
        q = predicted[s]
        if q > 0.0:
            out[s] = np.log(q) + gaussian_log_density(x, model.means[s], model.variances[s])
        else:
            out[s] = -np.inf
    return normalize_log_weights(out, out)


@njit(**STEP_KERNEL_OPTIONS)
def filter_step(previous: np.ndarray, x: np.ndarray, model: GaussianHMMParams, out: np.ndarray) -> float:
    """One bar of the forward filter: from ``p_{t-1}`` (``previous``, S) and bar t's returns ``x`` (D,) to
    ``p_t`` (``out``, S; must not be ``previous``)::

        q_t(s) = sum_j p_{t-1}(j) A[j, s]
        p_t(s) = q_t(s) N(x_t; mu_s, v_s) / c_t

    Returns ``log c_t`` (:func:`regime_predict`, then :func:`regime_update` in place). Allocates nothing:
    the arena calls it inside its step kernel, once per bar.
    """
    regime_predict(previous, model.transition, out)
    return regime_update(out, x, model, out)


@njit(**STEP_KERNEL_OPTIONS)
def filter_first(x: np.ndarray, model: GaussianHMMParams, out: np.ndarray) -> float:
    """The filter's first bar: ``p_1(s) = pi_s N(x_1; mu_s, v_s) / c_1`` (the prior is ``pi``, not
    ``pi A``); returns ``log c_1``."""
    for s in range(out.shape[0]):
        out[s] = model.initial[s]
    return regime_update(out, x, model, out)


@njit(cache=True, error_model="numpy")
def forward_filter(x: np.ndarray, model: GaussianHMMParams, out: np.ndarray) -> float:
    """Filtered probabilities of a whole series ``x`` (T, D) into ``out`` (T, S), built on the step
    kernel::

        out[0] = filter_first(x[0]),   out[t] = filter_step(out[t-1], x[t])   (t >= 1)

    so ``out[t]`` depends on ``x[0..t]`` only. Returns the log-likelihood ``sum_t log c_t``.
    """
    n_bars = x.shape[0]
    if n_bars == 0:
        return 0.0
    loglik = filter_first(x[0], model, out[0])
    for t in range(1, n_bars):
        loglik += filter_step(out[t - 1], x[t], model, out[t])
    return loglik


@njit(cache=True, error_model="numpy")
def log_emissions(x: np.ndarray, model: GaussianHMMParams, out: np.ndarray) -> None:
    """``out[t, s] = log N(x_t; mu_s, v_s)`` for a series ``x`` (T, D), ``out`` (T, S)."""
    for t in range(x.shape[0]):
        for s in range(out.shape[1]):
            out[t, s] = gaussian_log_density(x[t], model.means[s], model.variances[s])


@njit(cache=True, error_model="numpy")
def _log_sum_exp(values: np.ndarray) -> float:
    """``log sum_k exp(values_k)``, stable (``-inf`` when every entry is ``-inf``)."""
    top = -np.inf
    for k in range(values.shape[0]):
        if values[k] > top:  # noqa: PLR1730 - a NaN entry never wins (max() need not skip it)
            top = values[k]
    if not top > -np.inf:
        return -np.inf
    total = 0.0
    for k in range(values.shape[0]):
        total += np.exp(values[k] - top)
    return top + np.log(total)


@njit(cache=True, error_model="numpy")
def forward_backward(
    log_b: np.ndarray, model: GaussianHMMParams, gamma: np.ndarray, xi_sum: np.ndarray
) -> float:
    """Smoothed state probabilities of one sequence and its expected transitions (log space).

    ``log_b`` (T, S) the log emissions (:func:`log_emissions`); writes ``gamma`` (T, S) and *adds* the
    sequence's expected transition counts into ``xi_sum`` (S, S); returns the log-likelihood. With the
    normalised forward probabilities ``a_t = p_t`` (the filter, :func:`regime_update` on ``log_b``), ``log
    c_t`` their log normalisers, and the scaled backward variables ``b_t``::

        log b_{T-1}(i) = 0
        log b_t(i) = log sum_j exp(log A_ij + log_b[t+1, j] + log b_{t+1}(j)) - log c_{t+1}
        gamma_t(i) = a_t(i) b_t(i)                                       P(s_t = i | x_1..x_T)
        xi_sum[i, j] += sum_t a_t(i) exp(log A_ij + log_b[t+1, j] + log b_{t+1}(j) - log c_{t+1})

    ``gamma`` reads future bars: for fitting and diagnostics only, never an observation.
    """
    n_bars, n_states = log_b.shape
    if n_bars == 0:
        return 0.0
    log_a = np.empty((n_states, n_states))
    for i in range(n_states):
        for j in range(n_states):
            p = model.transition[i, j]
            log_a[i, j] = np.log(p) if p > 0.0 else -np.inf
    alpha = gamma  # the forward pass writes the filtered probabilities into gamma first
    log_c = np.empty(n_bars)
    predicted = np.empty(n_states)
    for t in range(n_bars):
        if t == 0:
            for s in range(n_states):
                predicted[s] = model.initial[s]
        else:
            regime_predict(alpha[t - 1], model.transition, predicted)
        for s in range(n_states):
            q = predicted[s]
            alpha[t, s] = np.log(q) + log_b[t, s] if q > 0.0 else -np.inf
        log_c[t] = normalize_log_weights(alpha[t], alpha[t])
    log_beta = np.zeros((n_bars, n_states))
    terms = np.empty(n_states)
    for t in range(n_bars - 2, -1, -1):
        for i in range(n_states):
            for j in range(n_states):
                terms[j] = log_a[i, j] + log_b[t + 1, j] + log_beta[t + 1, j]
            log_beta[t, i] = _log_sum_exp(terms) - log_c[t + 1]
    for t in range(n_bars - 1):
        for i in range(n_states):
            a = alpha[t, i]
            if a == 0.0:
                continue
            for j in range(n_states):
                if log_a[i, j] > -np.inf:
                    xi_sum[i, j] += a * np.exp(
                        log_a[i, j] + log_b[t + 1, j] + log_beta[t + 1, j] - log_c[t + 1]
                    )
    loglik = 0.0
    for t in range(n_bars):
        loglik += log_c[t]
        total = 0.0
        for s in range(n_states):
            g = alpha[t, s] * np.exp(log_beta[t, s]) if alpha[t, s] > 0.0 else 0.0
            gamma[t, s] = g
            total += g
        for s in range(n_states):
            gamma[t, s] /= total
    return loglik


@njit(cache=True, error_model="numpy")
def expectation_step(
    x: np.ndarray, lengths: np.ndarray, model: GaussianHMMParams, gamma: np.ndarray, xi_sum: np.ndarray
) -> float:
    """E-step over independent sequences: ``x`` (T, D) holds them one after the other, ``lengths`` (K,)
    their lengths (summing to T). Writes ``gamma`` (T, S), sets ``xi_sum`` (S, S) to the expected
    transition counts (:func:`forward_backward` per sequence) and returns the total log-likelihood."""
    log_b = np.empty(gamma.shape)
    log_emissions(x, model, log_b)
    xi_sum[:, :] = 0.0
    loglik = 0.0
    start = 0
    for k in range(lengths.shape[0]):
        stop = start + lengths[k]
        loglik += forward_backward(log_b[start:stop], model, gamma[start:stop], xi_sum)
        start = stop
    return loglik


@njit(cache=True, error_model="numpy")
def maximization_step(
    x: np.ndarray,
    lengths: np.ndarray,
    gamma: np.ndarray,
    xi_sum: np.ndarray,
    variance_floor: np.ndarray,
    model: GaussianHMMParams,
) -> None:
    """M-step: the parameters that maximise the expected complete-data log-likelihood, written into
    ``model``::

        pi_s = (1/K) sum_k gamma^(k)_0(s)                     (first bar of each of the K sequences)
        A[i, j] = xi_sum[i, j] / sum_j' xi_sum[i, j']
        w_s = sum_t gamma_t(s),   mu_sd = sum_t gamma_t(s) x_td / w_s
        v_sd = max(sum_t gamma_t(s) (x_td - mu_sd)^2 / w_s, variance_floor_d)

    A state that no bar visits (``w_s`` or a row of ``xi_sum`` of 0) keeps its previous parameters. The floor
    keeps a state from collapsing onto a few bars (the likelihood is unbounded there); clamping at it is
    still the constrained maximum, so the log-likelihood never decreases.
    """
    n_states = gamma.shape[1]
    n_features = x.shape[1]
    n_sequences = lengths.shape[0]
    for s in range(n_states):
        model.initial[s] = 0.0
    start = 0
    for k in range(n_sequences):
        for s in range(n_states):
            model.initial[s] += gamma[start, s] / n_sequences
        start += lengths[k]
    for i in range(n_states):
        row = 0.0
        for j in range(n_states):
            row += xi_sum[i, j]
        if row > 0.0:
            for j in range(n_states):
                model.transition[i, j] = xi_sum[i, j] / row
    for s in range(n_states):
        weight = 0.0
        for t in range(x.shape[0]):
            weight += gamma[t, s]
        if not weight > 1e-300:
            continue
        for d in range(n_features):
            total = 0.0
            for t in range(x.shape[0]):
                total += gamma[t, s] * x[t, d]
            mean = total / weight
            spread = 0.0
            for t in range(x.shape[0]):
                diff = x[t, d] - mean
                spread += gamma[t, s] * diff * diff
            model.means[s, d] = mean
            model.variances[s, d] = max(spread / weight, variance_floor[d])


@njit(cache=True, error_model="numpy")
def baum_welch(
    x: np.ndarray, lengths: np.ndarray, model: GaussianHMMParams, settings: EMSettings, history: np.ndarray
) -> int:
    """Fit ``model`` (its arrays are updated in place from the starting values they hold) to the
    sequences of ``x`` (T, D) (``lengths`` (K,), see :func:`expectation_step`) by expectation-maximisation.

    Iteration ``k``: the E-step gives ``log L_k`` of the current parameters (``history[k]``); stop when
    ``(log L_k - log L_{k-1}) / T < tol`` or after ``max_iter`` E-steps, else apply the M-step
    (:func:`maximization_step`). The parameters returned are those whose log-likelihood is the last entry
    written, ``history[n - 1]``, where ``n`` (the return value) is the number of E-steps.
    EM never lowers the likelihood: ``history`` is non-decreasing (to rounding).
    """
    n_bars = x.shape[0]
    n_states = model.initial.shape[0]
    gamma = np.empty((n_bars, n_states))
    xi_sum = np.zeros((n_states, n_states))
    previous = -np.inf
    n_iter = 0
    for k in range(settings.max_iter):
        loglik = expectation_step(x, lengths, model, gamma, xi_sum)
        history[k] = loglik
        n_iter = k + 1
        if k > 0 and (loglik - previous) / n_bars < settings.tol:
            break
        if k == settings.max_iter - 1:
            break
        maximization_step(x, lengths, gamma, xi_sum, settings.variance_floor, model)
        previous = loglik
    return n_iter


@njit(cache=True, error_model="numpy")
def viterbi(x: np.ndarray, model: GaussianHMMParams, labels: np.ndarray) -> float:
    """The most likely state path of a series ``x`` (T, D) into ``labels`` (T,) int64; returns its log
    probability ``log P(x, s*)``::

        delta_0(s) = log pi_s + log N(x_0; s)
        delta_t(s) = max_j [delta_{t-1}(j) + log A[j, s]] + log N(x_t; s),   back_t(s) = the argmax j
        s*_{T-1} = argmax_s delta_{T-1}(s),   s*_t = back_{t+1}(s*_{t+1})

    Reads the whole series (future bars included): diagnostics only, never an observation.
    """
    n_bars = x.shape[0]
    n_states = model.initial.shape[0]
    if n_bars == 0:
        return 0.0
    log_b = np.empty((n_bars, n_states))
    log_emissions(x, model, log_b)
    delta = np.empty((n_bars, n_states))
    back = np.zeros((n_bars, n_states), dtype=np.int64)
    for s in range(n_states):
        p = model.initial[s]
        delta[0, s] = (np.log(p) if p > 0.0 else -np.inf) + log_b[0, s]
    for t in range(1, n_bars):
        for s in range(n_states):
            best = -np.inf
            arg = 0
            for j in range(n_states):
                p = model.transition[j, s]
                if p > 0.0 and delta[t - 1, j] > -np.inf:
                    value = delta[t - 1, j] + np.log(p)
                    if value > best:
                        best = value
                        arg = j
            delta[t, s] = best + log_b[t, s]
            back[t, s] = arg
    best = -np.inf
    state = 0
    for s in range(n_states):
        if delta[n_bars - 1, s] > best:
            best = delta[n_bars - 1, s]
            state = s
    labels[n_bars - 1] = state
    for t in range(n_bars - 1, 0, -1):
        state = back[t, state]
        labels[t - 1] = state
    return best
