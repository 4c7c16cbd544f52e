"""The arena's reset and step over a batch of environments: one compiled call per batch step.

State arrays (all owned by :class:`wealtharena_env.sim.Simulation`, which hands them to the kernels grouped
by name: :class:`EnvState`, :class:`EnvConfig`, :class:`StepOutputs`), with B environments, A agents,
N assets and T bars per episode:

* ``bars``         (B, R, 6, N) float64 — OHLCV + log return per bar (see :mod:`.market`), bar ``t`` in row
                   ``t % R``: ``R = T`` rows hold the whole episode (historical data, users' sources, the
                   ``"full"`` feature set), or, with ``params[0].market_by_bar``, ``R = 2`` rows are a ring:
                   a reset draws the warm-up bars aside (their log returns go to ``history``, the current bar
                   to its row) and each step draws the bar it reaches (:func:`step_env`) over the older row.
                   A step reads only its decision bar ``d`` and its fill bar ``d + 1``; bars after the
                   current one are never read before they are reached (and, with price impact, are
                   rewritten when they are reached).
* ``history``      (B, N + 3 + S, T) float64 — the bars' log returns again, asset-major, for the historical
                   VaR (its inner loops then run over contiguous time), then the market series of the
                   market-state features (:func:`.features.market_series_update`), then the S filtered regime
                   probabilities of the regime model (:func:`.features.regime_series_update`; S = 0 without
                   one); filled as bars are reached.
* ``indicators``   (B, T, K, N) float32 — the indicator features of the ``"full"`` feature set (K = 0
                   otherwise), computed when an episode is drawn.
* ``zret``         (B, W, N) float32 — a ring (bar ``t`` in row ``t % W``) of the standardized, clipped log
                   returns ``z_t = r_t / sigma_{t-1}`` of the last W bars reached (the observation window is a
                   copy of it, oldest first).
* ``positions``    (B, A, 2, N) float64 — shares held (``POS_SHARES``) and their average entry price
                   (``POS_ENTRY``, the volume-weighted fill price of the buys since the position opened).
* ``agent_state``  (B, A) ``AGENT_STATE_DTYPE`` records — cash, value, peak, EWMA return variance, breaker
                   cooldown, differential-Sharpe moments, totals and per-rule risk-event counts.
* ``asset_state``  (B, N + 1 + mk.N_ASSET_ROWS, N) float64 — rows ``[:N]`` the EWMA covariance of the assets'
                   daily log returns (C-contiguous, so its loops vectorize), row ``N`` the cumulative log
                   price impact of the agents' flow, rows ``N + 1:`` the synthetic path's per-asset state
                   (:mod:`.market` ``ASSET_*``) when its bars are drawn as they are reached.
* ``market``       (B,) ``MARKET_STATE_DTYPE`` records — each environment's synthetic-market stream and
                   regime.
* ``regimes``      (B, T) int8 — the synthetic market's true regime of each bar reached (-1 where the
                   source has none: historical data, replays). Written to the full info only (``IN_REGIME``),
                   never read by a feature.
* ``clock``        (B, CLK_*) int64 — decisions taken so far in the episode.
* ``params``       (1,) ``PARAMS_DTYPE`` — the scalar configuration (costs, episode, features), ``params[0]``.
* ``agent_params`` (A,) ``AGENT_PARAMS_DTYPE`` records — per-agent configuration: initial cash, risk limits
                   (``limits``, a ``LIMITS_DTYPE`` record of :mod:`.risk`), reward weights (``reward``,
                   indexed by ``TERM_*`` of :mod:`.reward`), the differential Sharpe rate.
* ``regime_model`` (S, 1 + S + 2 D) float64 — the packed regime model (:mod:`.regime`), None without one.
* ``scratch``      (L, N_SCRATCH, S) float64, ``S >= max(4 N + 2, W, var_lookback) + 16`` — work space (no
                   allocation per step) in L slots, not per environment: the serial drivers use slot 0 for
                   every environment, the ``prange`` driver one slot per block of environments. It carries
                   nothing from one environment or call to the next (every entry is written before it is
                   read), so it stays in cache however large the batch.

Outputs written per call: ``obs_out`` (B, A, D) float32 and ``info_out`` (B, A, info_width(N)) float64 whose
first column is the reward (layout: ``IN_*`` scalars, ``N_TERMS`` reward terms, N + 1 weights, then, if the
rows are wide enough, up to ``max_events(N)`` risk events of 3 floats; every column is written, unused event
slots with 0, so the outputs need no zeroing beforehand; rows without the event table,
``info_width(N, False)``, get the events' count only). Environment ``b`` reads and writes only index ``b``
of every batch array, so a batch of B environments is bit-identical to B single environments (batch
invariance).

Timing: decision ``t`` is taken on bar ``d = warmup + t`` after the agent saw bars ``<= d``; its orders fill
at bar ``d + 1``'s open (or close); rewards and the next observation are at bar ``d + 1``'s close.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from wealtharena_env.kernels import STEP_KERNEL_OPTIONS
from wealtharena_env.kernels import market as mk
from wealtharena_env.kernels import reward as kr
from wealtharena_env.kernels import risk as kk
from wealtharena_env.kernels.execution import (
    ExecutionCosts,
    OrderBar,
    continuous_action_to_weights,
    discrete_action_to_weights,
    impact_scales,
    portfolio_weights,
    rebalance_to_targets,
    rebalance_toward,
)
from wealtharena_env.kernels.features import (
    AgentReadings,
    FeatureSettings,
    ewma_variance_update,
    market_series_update,
    regime_series_update,
    shared_size,
    standardized_return,
    write_agent_features,
    write_market_features,
)
from wealtharena_env.kernels.market import BAR_CLOSE, BAR_HIGH, BAR_LOGRET, BAR_LOW, BAR_OPEN, BAR_VOLUME
from wealtharena_env.kernels.rng import STATE_WORDS


class EnvState(NamedTuple):
    """Every environment's state, batch first (the arrays of the module docstring, owned by the
    ``Simulation``)."""

    bars: np.ndarray  # (B, R, 6, N) float64
    history: np.ndarray  # (B, N + 3, T) float64
    zret: np.ndarray  # (B, W, N) float32
    indicators: np.ndarray  # (B, T, K, N) float32
    positions: np.ndarray  # (B, A, 2, N) float64
    agent_state: np.ndarray  # (B, A) AGENT_STATE_DTYPE
    asset_state: np.ndarray  # (B, N + 1 + N_ASSET_ROWS, N) float64
    market: np.ndarray  # (B,) MARKET_STATE_DTYPE
    clock: np.ndarray  # (B, N_CLOCK) int64
    # (B, 3 k + 1, N) float64: the covariance's factor model (risk.factor_variance), or None: the covariance
    # itself (then no factor-model code is compiled: Numba prunes the `is None` branches by type)
    risk_factors: np.ndarray | None
    regimes: np.ndarray  # (B, T) int8, the true regime of each bar (-1: unknown)


#: The packed regime model of an arena without one (None: no filter code is compiled).
NO_REGIME_MODEL = None


class EnvConfig(NamedTuple):
    """The configuration the kernels read: the scalar record, the agents' records and the packed regime
    model (:mod:`.regime`; None without one)."""

    params: np.ndarray  # (1,) PARAMS_DTYPE
    agent_params: np.ndarray  # (A,) AGENT_PARAMS_DTYPE
    regime_model: np.ndarray | None = NO_REGIME_MODEL  # (S, 1 + S + 2 D) float64, or None


class StepOutputs(NamedTuple):
    """What a reset or step writes: observations and the info rows (whose first column is the reward)."""

    obs: np.ndarray  # (B, A, D) float32
    info: np.ndarray  # (B, A, info_width(N)) float64


# positions axis 2
POS_SHARES = 0
POS_ENTRY = 1

# clock columns
CLK_STEP = 0
N_CLOCK = 1

#: One agent's state, ``agent_state[b, a]`` (a record; numba reads its fields by name).
AGENT_STATE_DTYPE = np.dtype(
    [
        ("cash", np.float64),
        ("value", np.float64),  # portfolio value at the last close
        ("peak", np.float64),  # peak value (the drawdown's reference)
        ("return_variance", np.float64),  # EWMA variance of the agent's daily log returns
        ("cost_total", np.float64),
        ("terminated", np.bool_),
        ("nan_total", np.int64),
        ("clipped_total", np.int64),
        ("turnover_total", np.float64),
        ("cooldown", np.int64),  # breaker cooldown bars remaining
        ("dsr_mean", np.float64),  # differential Sharpe ratio moments
        ("dsr_second", np.float64),
        ("drawdown", np.float64),
        ("restart_peak", np.bool_),  # the cooldown ended: the peak restarts at the next value
        ("event_counts", np.int64, (kk.N_RULES,)),  # risk events per rule this episode
    ]
)

#: The scalar configuration (one record, ``params[0]``).
PARAMS_DTYPE = np.dtype(
    [
        ("commission", np.float64),
        ("half_spread", np.float64),
        ("impact_coefficient", np.float64),
        ("fill_on_close", np.bool_),
        ("lot_size", np.float64),
        ("permanent_impact", np.float64),
        ("ewma_decay", np.float64),
        ("discrete_actions", np.bool_),
        ("action_mapping", np.int64),  # execution.MAPPING_*
        ("softmax_temperature", np.float64),
        ("action_dead_zone", np.float64),  # exponential mapping: a_j <= -1 + d maps to weight 0
        ("discrete_step", np.float64),
        ("obs_clip", np.float64),
        ("periods_per_year", np.float64),
        ("episode_length", np.int64),
        ("warmup", np.int64),
        ("window", np.int64),
        ("risk_enabled", np.bool_),
        ("log_return_reward", np.bool_),
        ("max_participation", np.float64),
        ("max_impact", np.float64),
        ("rebalance_rate", np.float64),
        ("rebalance_band", np.float64),
        ("risk_factor_refresh", np.int64),  # bars between two refreshes of its factors
        # the synthetic market drawn bar by bar (see MARKET_STATE_DTYPE); False: every bar is in ``bars`` at
        # reset
        ("market_by_bar", np.bool_),
        ("market_scalars", np.float64, (mk.N_MARKET_SCALARS,)),  # kernels.market.P_*
        ("regime_params", np.float64, (mk.N_REGIMES, 3)),  # kernels.market.REGIME_* columns
        ("regime_transition", np.float64, (mk.N_REGIMES, mk.N_REGIMES)),
    ]
)

#: One environment's synthetic-market generator, ``market[b]``, when its bars are drawn as they are reached
#: (``market_by_bar``): the random stream (:mod:`.rng`) and the regime of the last bar drawn. The path's
#: per-asset state (``kernels.market.ASSET_*`` rows) is in ``asset_state[b, N + 1:]``.
MARKET_STATE_DTYPE = np.dtype(
    [
        ("stream", np.uint64, (STATE_WORDS,)),
        ("regime", np.int64),
    ]
)

#: One agent's configuration: initial cash, the differential Sharpe rate, risk limits (``LIMITS_DTYPE`` of
#: :mod:`.risk`), reward weights (``TERM_*`` of :mod:`.reward`).
AGENT_PARAMS_DTYPE = np.dtype(
    [
        ("initial_cash", np.float64),
        ("sharpe_rate", np.float64),
        ("limits", kk.LIMITS_DTYPE),
        ("reward", np.float64, (kr.N_TERMS,)),
    ]
)

# info_out columns. The first N_INFO_HEAD are the "head" the adapters read every step, in this order: the
# reward, the episode flags, then the lean info (wealtharena_env.outputs decodes them; keep the order).
IN_REWARD = 0
IN_TERMINATED = 1
IN_TRUNCATED = 2
IN_VALUE = 3
IN_STEP_RETURN = 4  # V_f / V_d - 1: the step's simple return, net of every cost
IN_COST = 5
IN_TURNOVER = 6
IN_DRAWDOWN = 7
IN_N_EVENTS = 8
N_INFO_HEAD = 9
IN_CASH = 9
IN_NAN_ACTIONS = 10
IN_CLIPPED_ACTIONS = 11
IN_BUY_FILL_FRACTION = 12
IN_LOG_RETURN = 13
IN_VOLATILITY = 14  # ex-ante annualised volatility of the held weights
IN_VAR = 15  # parametric one-day VaR of the held weights
IN_CVAR = 16  # parametric one-day CVaR of the held weights
IN_COOLDOWN = 17  # breaker cooldown bars remaining
IN_REGIME = 18  # the synthetic market's true regime of the current bar (-1: unknown); full info only
IN_TERMS = 19  # kr.N_TERMS columns
IN_WEIGHTS = IN_TERMS + kr.N_TERMS  # N + 1 columns, then the events

# scratch rows
SCR_WEIGHTS = 0
SCR_TARGET = 1
SCR_EXECUTED = 2
SCR_IMPACT_SCALE = 3
SCR_FLOW = 4
# rows SCR_SIGMA .. SCR_MOST_CORRELATED: the risk layer's asset statistics (the asset_stats of
# kernels.risk.apply_risk_layer)
SCR_SIGMA = 5  # sqrt(diag(cov)) at the decision bar
SCR_MAX_CORRELATION = 6  # each asset's largest EWMA correlation with another asset at the decision bar
SCR_MAX_LOSS = 7  # each asset's largest one-bar loss over the longest VaR lookback of the agents
SCR_MOST_CORRELATED = 8  # the asset each one has its largest EWMA correlation with (-1: none)
SCR_TRAILING = 9  # mean log return over the window ending at the decision bar
SCR_WORK = 10
SCR_MAX_SHARES = 11  # participation limit in shares per asset on the decision bar
SCR_SLIPPAGE = 12  # slippage of each full-size order (execution work space)
N_SCRATCH = 13


#: A position more than this weight above its target after execution is reported (``participation_cap``):
#: well above the float dust of an order (``execution.DUST``) and of a value computed two ways.
UNFILLED_TOLERANCE = 1e-9


@njit(**STEP_KERNEL_OPTIONS)
def max_events(n_assets: int) -> int:
    """Risk events one agent can produce in one step: ``3 N + 6``.

    Per asset at most two of the three per-asset rules of the risk layer fire: an exit (stop-loss /
    take-profit) leaves the target at or below the current weight, so no correlation-cap event can follow it
    (that rule only judges increases), only a position-cap one; without an exit, the position cap and the
    correlation cap. After execution, one ``participation_cap`` event per asset whose sell the participation
    limit cut. Then at most five portfolio-wide rules (volatility, VaR, CVaR, leverage, and the breaker or its
    cooldown), + 1 spare.
    """
    return 3 * n_assets + 6


def info_width(n_assets: int, risk_event_table: bool = True) -> int:
    """Columns of ``info_out``: scalars, reward terms, N + 1 weights, then 3 floats per possible event when
    the rows hold the table of risk events (without it the kernels still count the events, in
    ``IN_N_EVENTS`` and the agent state's per-rule counts: :func:`.risk.record_event` writes an event only
    where it fits)."""
    return IN_WEIGHTS + n_assets + 1 + (3 * max_events(n_assets) if risk_event_table else 0)


@njit(inline="always", **STEP_KERNEL_OPTIONS)
def _clear_agent_state(state) -> None:
    """Every field of one agent's state record to 0 / False."""
    state.cash = 0.0
    state.value = 0.0
    state.peak = 0.0
    state.return_variance = 0.0
    state.cost_total = 0.0
    state.terminated = False
    state.nan_total = 0
    state.clipped_total = 0
    state.turnover_total = 0.0
    state.cooldown = 0
    state.dsr_mean = 0.0
    state.dsr_second = 0.0
    state.drawdown = 0.0
    state.restart_peak = False
    for k in range(state.event_counts.shape[0]):
        state.event_counts[k] = 0


@njit(inline="always", **STEP_KERNEL_OPTIONS)
def _clear_events(info: np.ndarray, n_assets: int, n_events: float) -> None:
    """Zero the event slots of one agent's info row after its ``n_events`` recorded events (the output
    arrays are not pre-zeroed: every column is written on every step)."""
    start = IN_WEIGHTS + n_assets + 1 + 3 * int(n_events)
    for k in range(start, info.shape[0]):
        info[k] = 0.0


@njit(inline="always", **STEP_KERNEL_OPTIONS)
def _blank_agent_info(info: np.ndarray, n_assets: int) -> None:
    """The info row of an agent that did not trade (a new episode, or terminated): zero scalars, terms and
    events, buy fill fraction 1 (the weights are written by the observation)."""
    for k in range(IN_WEIGHTS):
        info[k] = 0.0
    info[IN_BUY_FILL_FRACTION] = 1.0
    _clear_events(info, n_assets, 0.0)


@njit(inline="always", **STEP_KERNEL_OPTIONS)
def _observe_env(b: int, state: EnvState, config: EnvConfig, out: StepOutputs, scratch: np.ndarray) -> None:
    """Write observations and the valuation part of ``info`` of environment ``b`` at its current bar."""
    params = config.params
    agent_params = config.agent_params
    positions = state.positions
    agent_state = state.agent_state
    obs_out = out.obs
    info_out = out.info
    n_agents = positions.shape[1]
    n_assets = positions.shape[3]
    window = params[0].window
    bound = params[0].obs_clip
    periods = params[0].periods_per_year
    t = state.clock[b, CLK_STEP]
    bar = params[0].warmup + t
    cov = state.asset_state[b, :n_assets]
    factors = env_factors(state.risk_factors, b)
    shared = obs_out[b, 0]
    work = scratch[SCR_WORK]
    settings = FeatureSettings(window, params[0].warmup, periods, bound)
    write_market_features(
        state.zret[b], state.history[b], state.indicators[b], cov, bar, settings, work, shared
    )
    n_shared = shared_size(n_assets, window, state.indicators.shape[2], regime_states(config.regime_model))
    progress = t / params[0].episode_length
    weights = scratch[SCR_WEIGHTS, : n_assets + 1]
    bars = state.bars
    close = bars[b, bar % bars.shape[1], BAR_CLOSE]
    truncated = 1.0 if t >= params[0].episode_length else 0.0
    sqrt_periods = np.sqrt(periods)
    for a in range(n_agents):
        row = obs_out[b, a]
        if a > 0:
            for k in range(n_shared):
                row[k] = shared[k]
        agent = agent_state[b, a]
        limits = agent_params[a].limits
        value = portfolio_weights(positions[b, a, POS_SHARES], agent.cash, close, weights)
        peak = agent.peak
        drawdown = 1.0 - value / peak if peak > 0.0 else 0.0
        agent.drawdown = drawdown
        sigma = np.sqrt(kk.portfolio_variance(weights, cov, factors, work))
        var = limits.var_z * sigma
        cvar = limits.cvar_factor * sigma
        volatility = np.sqrt(agent.return_variance) * sqrt_periods
        cooldown = agent.cooldown
        readings = AgentReadings(
            drawdown,
            volatility,
            progress,
            var,
            cvar,
            sigma * sqrt_periods / limits.volatility_budget,
            drawdown / limits.max_drawdown,
            cooldown / limits.cooldown,
        )
        write_agent_features(weights, readings, bound, n_shared, row)
        info = info_out[b, a]
        info[IN_VALUE] = value
        info[IN_CASH] = agent.cash
        info[IN_DRAWDOWN] = drawdown
        info[IN_TERMINATED] = agent.terminated
        info[IN_TRUNCATED] = truncated
        info[IN_VOLATILITY] = sigma * sqrt_periods
        info[IN_VAR] = var
        info[IN_CVAR] = cvar
        info[IN_COOLDOWN] = cooldown
        info[IN_REGIME] = state.regimes[b, bar]
        for j in range(n_assets + 1):
            info[IN_WEIGHTS + j] = weights[j]


@njit(**STEP_KERNEL_OPTIONS)
def reset_env(b: int, state: EnvState, config: EnvConfig, out: StepOutputs, scratch: np.ndarray) -> None:
    """Start environment ``b``'s episode on its warm-up bars ``0..warmup``: their log returns are copied from
    ``bars[b]`` into ``history[b]`` when ``bars`` holds them (whole episodes), or were written into
    ``history[b]`` by the draw when ``bars`` is a ring shorter than the warm-up (the synthetic market drawn
    bar by bar), whose row ``warmup % R`` then holds the current bar.

    Agents hold only cash. The EWMA covariance starts at the mean of ``r r'`` over bars ``1..W`` (which
    also standardizes those first W warm-up bars) and is updated through the rest of the warm-up:
    ``C <- decay C + (1 - decay) r r'``. All of it is history before the first decision. The differential
    Sharpe moments start at ``A = 0`` and ``B`` = the mean asset variance.
    """
    params = config.params
    agent_params = config.agent_params
    bars = state.bars
    history = state.history
    zret = state.zret
    positions = state.positions
    agent_state = state.agent_state
    asset_state = state.asset_state
    n_agents = positions.shape[1]
    n_assets = positions.shape[3]
    window = params[0].window
    warmup = params[0].warmup
    decay = params[0].ewma_decay
    bound = params[0].obs_clip
    state.clock[b, CLK_STEP] = 0
    if bars.shape[1] > warmup:
        for i in range(n_assets):
            for t in range(warmup + 1):
                history[b, i, t] = bars[b, t, BAR_LOGRET, i]
    cov = asset_state[b, :n_assets]
    for i in range(n_assets):
        for j in range(n_assets):
            total = 0.0
            for t in range(1, window + 1):
                total += history[b, i, t] * history[b, j, t]
            cov[i, j] = total / window
        cov[i, i] = max(cov[i, i], 1e-12)
        asset_state[b, n_assets, i] = 0.0
    for i in range(n_assets):
        zret[b, 0, i] = 0.0
    for t in range(warmup + 1):
        market_series_update(history[b], n_assets, t, window)
        regime_series_update(history[b], n_assets, t, config.regime_model)
    # bar t's returns, contiguous (the flow row is free during a reset)
    returns = scratch[SCR_FLOW, :n_assets]
    z_rows = zret.shape[1]
    for t in range(1, warmup + 1):
        for i in range(n_assets):
            returns[i] = history[b, i, t]
        for i in range(n_assets):
            zret[b, t % z_rows, i] = standardized_return(returns[i], cov[i, i], bound)
        if t > window:
            kk.ewma_covariance_update(cov, returns, decay)
    # the clock (0 since the top of the reset) rather than a constant 0: one compiled version of the callee
    _update_risk_factors(
        env_factors(state.risk_factors, b), cov, state.clock[b, CLK_STEP], params[0].risk_factor_refresh
    )
    mean_variance = 0.0
    for i in range(n_assets):
        mean_variance += cov[i, i] / n_assets
    for a in range(n_agents):
        positions[b, a] = 0.0
        _clear_agent_state(agent_state[b, a])
        cash = agent_params[a].initial_cash
        agent_state[b, a].cash = cash
        agent_state[b, a].value = cash
        agent_state[b, a].peak = cash
        agent_state[b, a].dsr_second = mean_variance
        _blank_agent_info(out.info[b, a], n_assets)
    _observe_env(b, state, config, out, scratch)


@njit(**STEP_KERNEL_OPTIONS)
def regime_states(packed_model: np.ndarray | None) -> int:
    """S, the states of the packed regime model (0 without one)."""
    if packed_model is None:
        return 0
    return packed_model.shape[0]


@njit(**STEP_KERNEL_OPTIONS)
def env_factors(risk_factors: np.ndarray | None, b: int) -> np.ndarray | None:
    """Environment ``b``'s factor model, ``risk_factors[b]``, or None without one (pruned by type)."""
    if risk_factors is None:
        return None
    return risk_factors[b]


@njit(**STEP_KERNEL_OPTIONS)
def _update_risk_factors(factors: np.ndarray | None, cov: np.ndarray, steps: int, refresh: int) -> None:
    """After the covariance update of decision ``steps`` of the episode (0: the reset's warm-up): the factor
    model's specific variances, and every ``refresh`` steps one warm-started sweep of its factors
    (:func:`.risk.refresh_risk_factors`; the reset starts them afresh with ``RESET_FACTOR_SWEEPS``). Nothing
    with the exact covariance (``factors`` None: the branch is pruned by type, nothing of the factor model is
    compiled). One call site per kernel, with run-time arguments: Numba compiles a callee once per distinct
    argument type, and a constant argument is a type of its own."""
    if factors is not None:
        restart = steps == 0
        if restart or steps % refresh == 0:
            sweeps = kk.RESET_FACTOR_SWEEPS if restart else 1
            kk.refresh_risk_factors(cov, factors, sweeps, restart)
        else:
            kk.update_specific_variances(cov, factors)


@njit(inline="always", **STEP_KERNEL_OPTIONS)
def _risk_statistics(
    b: int, d: int, history: np.ndarray, cov: np.ndarray, agent_params: np.ndarray, scratch: np.ndarray
) -> None:
    """The risk layer's asset statistics at decision bar ``d`` (:func:`.risk.asset_statistics`, rows
    ``SCR_SIGMA .. SCR_MOST_CORRELATED``): correlations if an agent has a correlation cap (the most
    correlated asset above the lowest cap), losses over the longest lookback of the agents with a finite VaR
    or CVaR limit."""
    floor = np.inf  # the lowest correlation cap of the agents
    lookback = 0
    for a in range(agent_params.shape[0]):
        limits = agent_params[a].limits
        floor = min(floor, limits.max_correlation)
        if np.isfinite(limits.var_limit) or np.isfinite(limits.cvar_limit):
            lookback = max(lookback, limits.var_lookback)
    n = cov.shape[0]
    kk.asset_statistics(
        cov,
        history[b, :n],
        d,
        lookback,
        floor,
        scratch[SCR_SIGMA : SCR_MOST_CORRELATED + 1, :n],
    )


@njit(inline="always", **STEP_KERNEL_OPTIONS)
def _trade_agent(
    b: int,
    a: int,
    d: int,
    state: EnvState,
    config: EnvConfig,
    actions: np.ndarray,
    info: np.ndarray,
    scratch: np.ndarray,
) -> None:
    """One agent's decision on bar ``d``: sanitise and map its action, apply the risk layer, trade at bar
    ``d + 1``'s fill price. Reads the step's shared rows of ``scratch`` (sigma, trailing returns, impact
    scales, participation limits) written by :func:`step_env`, and adds the agent's executed shares to the
    flow row."""
    params = config.params
    agent_params = config.agent_params
    bars = state.bars
    positions = state.positions
    n_assets = positions.shape[3]
    cov = state.asset_state[b, :n_assets]
    factors = env_factors(state.risk_factors, b)
    n_action = actions.shape[2] - 1
    agent = state.agent_state[b, a]
    shares = positions[b, a, POS_SHARES]
    entry = positions[b, a, POS_ENTRY]
    weights = scratch[SCR_WEIGHTS, : n_assets + 1]
    target = scratch[SCR_TARGET, : n_assets + 1]
    executed = scratch[SCR_EXECUTED, :n_assets]
    rows = bars.shape[1]
    close = bars[b, d % rows, BAR_CLOSE]
    bar_f = bars[b, (d + 1) % rows]
    fill_prices = bar_f[BAR_CLOSE] if params[0].fill_on_close else bar_f[BAR_OPEN]
    cash = agent.cash
    value_d = portfolio_weights(shares, cash, close, weights)
    n_nan = 0
    n_clipped = 0
    mapped = False
    requested_variance = 0.0  # of the target the action asks for (the target-risk term; only if weighted)
    if actions[b, a, n_action] != 0.0:
        if params[0].discrete_actions:
            n_nan, n_clipped = discrete_action_to_weights(
                actions[b, a, :n_action], weights, params[0].discrete_step, target
            )
            mapped = True
        else:
            n_nan, n_clipped = continuous_action_to_weights(
                actions[b, a, :n_action],
                params[0].action_mapping,
                params[0].softmax_temperature,
                params[0].action_dead_zone,
                target,
            )
            mapped = n_nan == 0
    if not mapped:  # no action, or a NaN continuous action: hold (the risk layer still applies)
        for j in range(n_assets + 1):
            target[j] = weights[j]
    if agent_params[a].reward[kr.TERM_TARGET_RISK] != 0.0:  # the target asked for, before it is approached
        requested_variance = kk.portfolio_variance(target, cov, factors, scratch[SCR_WORK])
    partial = params[0].rebalance_rate < 1.0 or params[0].rebalance_band > 0.0
    if mapped and not params[0].discrete_actions and partial:
        rebalance_toward(target, weights, params[0].rebalance_rate, params[0].rebalance_band)
    n_events = 0
    events = info[IN_WEIGHTS + n_assets + 1 :]
    if params[0].risk_enabled:
        n_events, flags, cooldown, sigma_target = kk.apply_risk_layer(
            target,
            kk.HeldPositions(weights, shares, close, entry),
            kk.AssetRisk(
                cov,
                factors,
                scratch[SCR_SIGMA : SCR_MOST_CORRELATED + 1, :n_assets],
                state.history[b, :n_assets],
                d,
                params[0].periods_per_year,
            ),
            agent_params[a].limits,
            kk.BreakerState(agent.drawdown, agent.cooldown),
            kk.EventLog(events, agent.event_counts),
            scratch[SCR_WORK],
        )
        if agent.cooldown > 0 and cooldown == 0.0:
            agent.restart_peak = True  # the cooldown ends with this step: the peak restarts at its value
        agent.cooldown = cooldown
        if flags & kk.OUT_TERMINATE:
            agent.terminated = True
        target_variance = sigma_target * sigma_target
    else:
        target_variance = kk.portfolio_variance(target, cov, factors, scratch[SCR_WORK])
    cash, cost, traded, fill_fraction = rebalance_to_targets(
        target,
        shares,
        cash,
        OrderBar(
            close, fill_prices, scratch[SCR_IMPACT_SCALE, :n_assets], scratch[SCR_MAX_SHARES, :n_assets]
        ),
        ExecutionCosts(params[0].commission, params[0].half_spread, params[0].lot_size),
        executed,
        scratch[SCR_SLIPPAGE, :n_assets],
    )
    flow = scratch[SCR_FLOW]
    for i in range(n_assets):
        q = executed[i]
        flow[i] += q
        if q > 0.0:  # average entry price of the position (reference fill price of the buys)
            held_before = shares[i] - q
            entry[i] = (held_before * entry[i] + q * fill_prices[i]) / shares[i]
        elif shares[i] <= 0.0:
            entry[i] = 0.0
    if value_d > 0.0:  # positions left above their target: a sell the participation limit cut (reported)
        counts = agent.event_counts
        for i in range(n_assets):
            above = shares[i] * close[i] / value_d - target[i]
            if above > UNFILLED_TOLERANCE:
                n_events = kk.record_event(events, n_events, kk.RULE_PARTICIPATION_CAP, i, -above)
                counts[kk.RULE_PARTICIPATION_CAP] += 1
    agent.cash = cash
    agent.cost_total += cost
    agent.nan_total += n_nan
    agent.clipped_total += n_clipped
    turnover = traded / value_d if value_d > 0.0 else 0.0
    agent.turnover_total += turnover
    info[IN_COST] = cost
    info[IN_TURNOVER] = turnover
    info[IN_NAN_ACTIONS] = n_nan
    info[IN_CLIPPED_ACTIONS] = n_clipped
    info[IN_BUY_FILL_FRACTION] = fill_fraction
    info[IN_N_EVENTS] = n_events
    # terms known at decision time (the rest after valuation)
    terms = info[IN_TERMS : IN_TERMS + kr.N_TERMS]
    terms[kr.TERM_COST] = -cost / value_d if value_d > 0.0 else 0.0
    terms[kr.TERM_STABILITY] = -turnover
    trailing = scratch[SCR_TRAILING]
    momentum = 0.0
    for i in range(n_assets):
        momentum += target[i] * trailing[i]
    terms[kr.TERM_MOMENTUM] = momentum
    sigma = scratch[SCR_SIGMA]
    mean_sigma = 0.0  # the assets' mean daily volatility at bar d (the diversification term's scale)
    for i in range(n_assets):
        mean_sigma += sigma[i]
    mean_sigma /= n_assets
    terms[kr.TERM_DIVERSIFICATION] = kr.herfindahl_diversification(target) * mean_sigma
    # ex-ante daily variance of the weights the agent chose to hold (after its risk layer), at bar d
    terms[kr.TERM_RISK] = -0.5 * target_variance
    terms[kr.TERM_TARGET_RISK] = -0.5 * requested_variance if requested_variance > 0.0 else 0.0


@njit(inline="always", **STEP_KERNEL_OPTIONS)
def step_env(
    b: int, state: EnvState, config: EnvConfig, actions: np.ndarray, out: StepOutputs, scratch: np.ndarray
) -> bool:
    """Advance environment ``b`` by one decision; return False (and change nothing) if its episode is over.

    ``actions[b, a, :-1]`` is agent ``a``'s raw action (N + 1 Box entries, or N discrete choices as
    floats); ``actions[b, a, -1]`` is 1 when the agent acted and 0 when it did not (it then holds).

    0. With ``market_by_bar``, bar ``f = d + 1`` is drawn now (:func:`.market.advance_market_path`, from
       ``market[b]``'s stream and the path state in ``asset_state[b, N + 1:]``).
    1. With permanent impact ``k > 0``: bar ``f = d + 1`` is first scaled by ``exp(C_i)``, the cumulative
       impact so far; after all fills, ``C_i <- clip(C_i + k * flow_i / volume_{f,i}, -max_impact,
       max_impact)`` (net shares traded by all agents over the bar's volume) moves the high, low and close of
       bar ``f`` and every later bar.
    2. Each live agent's action is sanitised and mapped to target weights (:mod:`.execution`), passed
       through its risk layer (:mod:`.risk`) and traded at bar ``f``'s fill price with costs.
    3. The reward is the weighted sum of the terms of :mod:`.reward` (or the plain log return).

    ``scratch`` here (and in the other per-environment functions) is one slot ``(N_SCRATCH, S)`` of the
    drivers' scratch array, work space only.
    """
    params = config.params
    agent_params = config.agent_params
    bars = state.bars
    history = state.history
    positions = state.positions
    agent_state = state.agent_state
    asset_state = state.asset_state
    market = state.market
    info_out = out.info
    n_agents = positions.shape[1]
    n_assets = positions.shape[3]
    t = state.clock[b, CLK_STEP]
    if t >= params[0].episode_length:
        return False
    d = params[0].warmup + t
    f = d + 1
    rows = bars.shape[1]  # bar t is row t % rows: every bar of the episode, or a ring of the last rows
    if params[0].market_by_bar:
        market[b].regime = mk.advance_market_path(
            f % rows,
            market[b].regime,
            market[b].stream,
            mk.MarketDynamics(params[0].market_scalars, params[0].regime_params, params[0].regime_transition),
            asset_state[b, n_assets + 1 :],
            bars[b],
        )
        state.regimes[b, f] = market[b].regime
    bar_d = bars[b, d % rows]
    bar_f = bars[b, f % rows]
    cov = asset_state[b, :n_assets]
    impact = params[0].permanent_impact
    if impact > 0.0:
        for i in range(n_assets):
            m = np.exp(asset_state[b, n_assets, i])
            bar_f[BAR_OPEN, i] *= m
            bar_f[BAR_HIGH, i] *= m
            bar_f[BAR_LOW, i] *= m
            bar_f[BAR_CLOSE, i] *= m
    impact_scale = scratch[SCR_IMPACT_SCALE, :n_assets]
    flow = scratch[SCR_FLOW]
    sigma = scratch[SCR_SIGMA]
    trailing = scratch[SCR_TRAILING]
    window = params[0].window
    max_shares = scratch[SCR_MAX_SHARES]
    participation = params[0].max_participation
    for i in range(n_assets):
        max_shares[i] = participation * bar_d[BAR_VOLUME, i]
        flow[i] = 0.0
        sigma[i] = np.sqrt(cov[i, i])
        trailing[i] = 0.0
    # trailing mean log return per asset over the window; bars outer so the assets' sums run side by side
    for k in range(d - window + 1, d + 1):
        for i in range(n_assets):
            trailing[i] += history[b, i, k]
    for i in range(n_assets):
        trailing[i] /= window
    impact_scales(params[0].impact_coefficient, sigma[:n_assets], bar_d[BAR_VOLUME], impact_scale)
    if params[0].risk_enabled:
        _risk_statistics(b, d, history, cov, agent_params, scratch)
    for a in range(n_agents):
        info = info_out[b, a]
        if agent_state[b, a].terminated:
            _blank_agent_info(info, n_assets)
            continue
        _trade_agent(b, a, d, state, config, actions, info, scratch)
        _clear_events(info, n_assets, min(info[IN_N_EVENTS], max_events(n_assets)))
    if impact > 0.0:
        max_impact = params[0].max_impact
        for i in range(n_assets):
            before = asset_state[b, n_assets, i]
            after = min(
                max(before + impact * flow[i] / max(bar_f[BAR_VOLUME, i], 1.0), -max_impact), max_impact
            )
            asset_state[b, n_assets, i] = after
            shift = after - before
            m = np.exp(shift)
            bar_f[BAR_HIGH, i] = max(bar_f[BAR_HIGH, i] * m, bar_f[BAR_OPEN, i])
            bar_f[BAR_LOW, i] = min(bar_f[BAR_LOW, i] * m, bar_f[BAR_OPEN, i])
            bar_f[BAR_CLOSE, i] *= m
            bar_f[BAR_HIGH, i] = max(bar_f[BAR_HIGH, i], bar_f[BAR_CLOSE, i])
            bar_f[BAR_LOW, i] = min(bar_f[BAR_LOW, i], bar_f[BAR_CLOSE, i])
            bar_f[BAR_LOGRET, i] = np.log(bar_f[BAR_CLOSE, i] / bar_d[BAR_CLOSE, i])
    decay = params[0].ewma_decay
    bound = params[0].obs_clip
    returns_f = bar_f[BAR_LOGRET]
    for i in range(n_assets):
        state.zret[b, f % state.zret.shape[1], i] = standardized_return(returns_f[i], cov[i, i], bound)
        history[b, i, f] = returns_f[i]
    market_series_update(history[b], n_assets, f, window)
    regime_series_update(history[b], n_assets, f, config.regime_model)
    kk.ewma_covariance_update(cov, returns_f, decay)
    _update_risk_factors(env_factors(state.risk_factors, b), cov, t + 1, params[0].risk_factor_refresh)
    close_f = bar_f[BAR_CLOSE]
    close_d = bar_d[BAR_CLOSE]
    benchmark_growth = 0.0  # equal-weight portfolio of the assets over bar d -> f (no action changes it)
    for i in range(n_assets):
        benchmark_growth += close_f[i] / close_d[i]
    benchmark_return = np.log(benchmark_growth / n_assets)
    weights = scratch[SCR_WEIGHTS, : n_assets + 1]
    log_mode = params[0].log_return_reward
    for a in range(n_agents):
        agent = agent_state[b, a]
        info = info_out[b, a]
        value_prev = agent.value
        value = portfolio_weights(positions[b, a, POS_SHARES], agent.cash, close_f, weights)
        log_return = np.log(value / value_prev) if value > 0.0 and value_prev > 0.0 else 0.0
        info[IN_STEP_RETURN] = value / value_prev - 1.0 if value_prev > 0.0 else 0.0
        agent.value = value
        agent.peak = max(agent.peak, value)
        limits = agent_params[a].limits
        if agent.restart_peak:
            agent.peak = value
            agent.restart_peak = False
        drawdown = 1.0 - value / agent.peak
        agent.drawdown = drawdown
        agent.return_variance = ewma_variance_update(agent.return_variance, log_return, decay)
        terms = info[IN_TERMS : IN_TERMS + kr.N_TERMS]  # agents done before this step: zeroed above
        terms[kr.TERM_PROFIT] = log_return
        dsr, agent.dsr_mean, agent.dsr_second = kr.differential_sharpe(
            log_return, agent.dsr_mean, agent.dsr_second, agent_params[a].sharpe_rate
        )
        terms[kr.TERM_SHARPE] = agent_params[a].sharpe_rate * dsr
        terms[kr.TERM_BREACH] = 0.0
        terms[kr.TERM_BENCHMARK] = -benchmark_return
        if limits.breach == kk.BREACH_PENALIZE:
            terms[kr.TERM_BREACH] = -max(drawdown - limits.max_drawdown, 0.0)
        info[IN_LOG_RETURN] = log_return
        if log_mode:
            info[IN_REWARD] = log_return
        else:
            info[IN_REWARD] = kr.weighted_reward(terms, agent_params[a].reward)
    state.clock[b, CLK_STEP] = t + 1
    _observe_env(b, state, config, out, scratch)
    return True


@njit(**STEP_KERNEL_OPTIONS)
def advance_env(
    b: int,
    reset_mask: np.ndarray,
    state: EnvState,
    config: EnvConfig,
    actions: np.ndarray,
    out: StepOutputs,
    scratch: np.ndarray,
) -> bool:
    """Reset environment ``b`` (``reset_mask[b]``) or step it (:func:`step_env`); False if it could not step.

    One call per environment from either driver, compiled without reference counting (the ``prange`` driver
    itself needs Numba's runtime; the per-environment work does not).
    """
    if reset_mask.shape[0] > 0 and reset_mask[b]:
        reset_env(b, state, config, out, scratch)
        return True
    return step_env(b, state, config, actions, out, scratch)


@njit(**STEP_KERNEL_OPTIONS)
def step_batch(
    reset_mask: np.ndarray,
    state_arrays: tuple,
    config_arrays: tuple,
    actions: np.ndarray,
    outputs: tuple,
    scratch: np.ndarray,
) -> int:
    """:func:`step_env` for every environment of the batch, serially (best for small batches).

    ``state_arrays``, ``config_arrays`` and ``outputs`` are the fields of :class:`EnvState`,
    :class:`EnvConfig` and :class:`StepOutputs` in their order, as the named tuples or as plain tuples
    (``Simulation`` passes plain ones: Numba reads the types of a plain tuple's arrays faster). Environments
    with ``reset_mask[b]`` true (an empty mask means none) are reset instead (their new bars must already be
    in ``bars[b]``): this serves Gymnasium's next-step autoreset in the same call. Returns the number of
    environments that could not step because their episode was over.
    """
    state = EnvState(*state_arrays)
    config = EnvConfig(*config_arrays)
    out = StepOutputs(*outputs)
    finished = 0
    work = scratch[0]
    for b in range(state.bars.shape[0]):
        if not advance_env(b, reset_mask, state, config, actions, out, work):
            finished += 1
    return finished


@njit(cache=True, parallel=True, error_model="numpy")
def step_batch_parallel(
    reset_mask: np.ndarray,
    state_arrays: tuple,
    config_arrays: tuple,
    actions: np.ndarray,
    outputs: tuple,
    scratch: np.ndarray,
) -> int:
    """:func:`step_batch` spread over threads with ``prange`` (large batches); identical results bit for bit.

    The environments are split into ``L = scratch.shape[0]`` contiguous blocks, block ``l`` stepping
    environments ``[l B / L, (l + 1) B / L)`` serially on scratch slot ``l``: the blocks run in parallel, and
    no two of them share a slot, whatever the number of threads.
    """
    state = EnvState(*state_arrays)
    config = EnvConfig(*config_arrays)
    out = StepOutputs(*outputs)
    n_envs = state.bars.shape[0]
    n_slots = scratch.shape[0]
    finished = np.zeros(n_slots, dtype=np.int64)
    for slot in prange(n_slots):
        work = scratch[slot]
        for b in range(slot * n_envs // n_slots, (slot + 1) * n_envs // n_slots):
            if not advance_env(b, reset_mask, state, config, actions, out, work):
                finished[slot] += 1
    return finished.sum()


@njit(**STEP_KERNEL_OPTIONS)
def reset_batch(
    mask: np.ndarray, state_arrays: tuple, config_arrays: tuple, outputs: tuple, scratch: np.ndarray
) -> None:
    """:func:`reset_env` for every environment ``b`` with ``mask[b]`` true (the tuples as in
    :func:`step_batch`)."""
    state = EnvState(*state_arrays)
    config = EnvConfig(*config_arrays)
    out = StepOutputs(*outputs)
    for b in range(state.bars.shape[0]):
        if mask[b]:
            reset_env(b, state, config, out, scratch[0])


@njit(**STEP_KERNEL_OPTIONS)
def observe_batch(state_arrays: tuple, config_arrays: tuple, outputs: tuple, scratch: np.ndarray) -> None:
    """Observation and valuation info of every environment at its current bar (no state change; tuples as in
    :func:`step_batch`)."""
    state = EnvState(*state_arrays)
    config = EnvConfig(*config_arrays)
    out = StepOutputs(*outputs)
    for b in range(state.bars.shape[0]):
        _observe_env(b, state, config, out, scratch[0])
