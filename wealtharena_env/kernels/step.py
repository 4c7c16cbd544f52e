"""The arena's reset and step over a batch of environments: one compiled call per batch step.

State arrays (all owned by :class:`wealtharena_env.sim.Simulation`), with B environments, A agents,
N assets and T bars per episode:

* ``bars``         (B, T, 6, N) float64 — OHLCV + log return per bar (see :mod:`.market`); bars after the
                   current one are never read before they are reached (and, with price impact, are
                   rewritten when they are reached).
* ``holdings``     (B, A, N) float64 — shares held.
* ``agent_state``  (B, A, AG_*) float64 — cash, value, peak value, EWMA return variance, totals.
* ``zret``         (B, T, N) float32 — standardized, clipped log returns ``z_t = r_t / sigma_{t-1}`` of the
                   bars reached so far (the observation window is a copy of W rows of it).
* ``asset_state``  (B, N, AS_*) float64 — EWMA daily variance, cumulative log price impact.
* ``clock``        (B, CLK_*) int64 — decisions taken so far in the episode.
* ``params``       (P_*,) float64 — the scalar configuration (costs, episode, features).
* ``agent_params`` (A, AP_*) float64 — per-agent configuration (initial cash).
* ``scratch``      (B, 5, N + 1) float64 — per-environment work space (no allocation per step).

Outputs written per call: ``obs_out`` (B, A, D) float32 and ``info_out`` (B, A, IN_* + N + 1) float64,
whose first column is the reward. Environment ``b`` reads and writes only index ``b`` of every array, so
a batch of B environments is bit-identical to B single environments (batch invariance).

Timing: decision ``t`` is taken on bar ``d = warmup + t`` after the agent saw bars ``<= d``; its orders fill
at bar ``d + 1``'s open (or close); rewards and the next observation are at bar ``d + 1``'s close.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from wealtharena_env.kernels.execution import (
    continuous_action_to_weights,
    discrete_action_to_weights,
    impact_scales,
    portfolio_weights,
    rebalance_to_targets,
)
from wealtharena_env.kernels.features import (
    ewma_variance_update,
    initial_variance,
    standardized_return,
    write_agent_features,
    write_market_features,
)
from wealtharena_env.kernels.market import BAR_CLOSE, BAR_HIGH, BAR_LOGRET, BAR_LOW, BAR_OPEN, BAR_VOLUME

# agent_state columns
AG_CASH = 0
AG_VALUE = 1
AG_PEAK = 2
AG_RETURN_VARIANCE = 3
AG_COST_TOTAL = 4
AG_TERMINATED = 5
AG_NAN_TOTAL = 6
AG_CLIPPED_TOTAL = 7
AG_TURNOVER_TOTAL = 8
N_AGENT_STATE = 9

# asset_state columns
AS_VARIANCE = 0
AS_CUM_IMPACT = 1
N_ASSET_STATE = 2

# clock columns
CLK_STEP = 0
N_CLOCK = 1

# params entries
P_COMMISSION = 0
P_HALF_SPREAD = 1
P_IMPACT_COEFFICIENT = 2
P_FILL_ON_CLOSE = 3
P_LOT_SIZE = 4
P_PERMANENT_IMPACT = 5
P_EWMA_DECAY = 6
P_DISCRETE_ACTIONS = 7
P_SOFTMAX = 8
P_SOFTMAX_TEMPERATURE = 9
P_DISCRETE_STEP = 10
P_OBS_CLIP = 11
P_PERIODS_PER_YEAR = 12
P_EPISODE_LENGTH = 13
P_WARMUP = 14
P_WINDOW = 15
N_PARAMS = 16

# agent_params columns
AP_INITIAL_CASH = 0
N_AGENT_PARAMS = 1

# info_out columns (then N + 1 portfolio weights from IN_WEIGHTS on)
IN_REWARD = 0
IN_VALUE = 1
IN_CASH = 2
IN_COST = 3
IN_TURNOVER = 4
IN_DRAWDOWN = 5
IN_NAN_ACTIONS = 6
IN_CLIPPED_ACTIONS = 7
IN_TERMINATED = 8
IN_TRUNCATED = 9
IN_BUY_FILL_FRACTION = 10
IN_LOG_RETURN = 11
IN_WEIGHTS = 12

# scratch rows
SCR_WEIGHTS = 0
SCR_TARGET = 1
SCR_EXECUTED = 2
SCR_IMPACT_SCALE = 3
SCR_FLOW = 4
N_SCRATCH = 5


def info_width(n_assets: int) -> int:
    """Columns of ``info_out``: the scalar fields then the N + 1 weights."""
    return IN_WEIGHTS + n_assets + 1


@njit(cache=True)
def _observe_env(
    b: int, bars: np.ndarray, zret: np.ndarray, holdings: np.ndarray, agent_state: np.ndarray, asset_state: np.ndarray,
    clock: np.ndarray, params: np.ndarray, obs_out: np.ndarray, info_out: np.ndarray, scratch: np.ndarray,
) -> None:
    """Write observations and the valuation part of ``info`` of environment ``b`` at its current bar."""
    n_agents = holdings.shape[1]
    n_assets = holdings.shape[2]
    window = int(params[P_WINDOW])
    bound = params[P_OBS_CLIP]
    periods = params[P_PERIODS_PER_YEAR]
    t = clock[b, CLK_STEP]
    bar = int(params[P_WARMUP]) + t
    shared = obs_out[b, 0]
    write_market_features(zret[b], bar, window, asset_state[b, :, AS_VARIANCE], periods, bound, shared)
    n_shared = (window + 2) * n_assets
    progress = t / params[P_EPISODE_LENGTH]
    weights = scratch[b, SCR_WEIGHTS]
    close = bars[b, bar, BAR_CLOSE]
    for a in range(n_agents):
        if a > 0:
            obs_out[b, a, :n_shared] = shared[:n_shared]
        value = portfolio_weights(holdings[b, a], agent_state[b, a, AG_CASH], close, weights)
        peak = agent_state[b, a, AG_PEAK]
        drawdown = 1.0 - value / peak if peak > 0.0 else 0.0
        volatility = np.sqrt(agent_state[b, a, AG_RETURN_VARIANCE] * periods)
        write_agent_features(weights, drawdown, volatility, progress, bound, n_shared, obs_out[b, a])
        info = info_out[b, a]
        info[IN_VALUE] = value
        info[IN_CASH] = agent_state[b, a, AG_CASH]
        info[IN_DRAWDOWN] = drawdown
        info[IN_TERMINATED] = agent_state[b, a, AG_TERMINATED]
        info[IN_TRUNCATED] = 1.0 if t >= int(params[P_EPISODE_LENGTH]) else 0.0
        for j in range(n_assets + 1):
            info[IN_WEIGHTS + j] = weights[j]


@njit(cache=True)
def reset_env(
    b: int, bars: np.ndarray, zret: np.ndarray, holdings: np.ndarray, agent_state: np.ndarray, asset_state: np.ndarray,
    clock: np.ndarray, params: np.ndarray, agent_params: np.ndarray, obs_out: np.ndarray,
    info_out: np.ndarray, scratch: np.ndarray,
) -> None:
    """Start environment ``b``'s episode on its (already filled) ``bars[b]``.

    Agents hold only cash. Each asset's EWMA variance starts at the mean squared log return of bars
    ``1..W`` (which also standardizes those first W warm-up bars) and is updated through the rest of the
    warm-up: ``var <- decay var + (1 - decay) r^2``. All of it is history before the first decision.
    """
    n_agents = holdings.shape[1]
    n_assets = holdings.shape[2]
    window = int(params[P_WINDOW])
    warmup = int(params[P_WARMUP])
    decay = params[P_EWMA_DECAY]
    bound = params[P_OBS_CLIP]
    clock[b, CLK_STEP] = 0
    for i in range(n_assets):
        var = initial_variance(bars[b], 1, window, i)
        zret[b, 0, i] = 0.0
        for t in range(1, warmup + 1):
            r = bars[b, t, BAR_LOGRET, i]
            zret[b, t, i] = standardized_return(r, var, bound)
            if t > window:
                var = ewma_variance_update(var, r, decay)
        asset_state[b, i, AS_VARIANCE] = var
        asset_state[b, i, AS_CUM_IMPACT] = 0.0
    for a in range(n_agents):
        holdings[b, a, :] = 0.0
        agent_state[b, a, :] = 0.0
        cash = agent_params[a, AP_INITIAL_CASH]
        agent_state[b, a, AG_CASH] = cash
        agent_state[b, a, AG_VALUE] = cash
        agent_state[b, a, AG_PEAK] = cash
        info_out[b, a, :] = 0.0
        info_out[b, a, IN_BUY_FILL_FRACTION] = 1.0
    _observe_env(b, bars, zret, holdings, agent_state, asset_state, clock, params, obs_out, info_out, scratch)


@njit(cache=True)
def step_env(
    b: int, bars: np.ndarray, zret: np.ndarray, holdings: np.ndarray, agent_state: np.ndarray, asset_state: np.ndarray,
    clock: np.ndarray, actions: np.ndarray, params: np.ndarray, obs_out: np.ndarray, info_out: np.ndarray,
    scratch: np.ndarray,
) -> bool:
    """Advance environment ``b`` by one decision; return False (and change nothing) if its episode is over.

    ``actions[b, a, :-1]`` is agent ``a``'s raw action (N + 1 Box entries, or N discrete choices as
    floats); ``actions[b, a, -1]`` is 1 when the agent acted and 0 when it did not (it then holds).

    1. With permanent impact ``k > 0``: bar ``f = d + 1`` is first scaled by ``exp(C_i)``, the cumulative
       impact so far; after all fills, ``C_i += k * flow_i / volume_{f,i}`` (net shares traded by all
       agents over the bar's volume) moves the high, low and close of bar ``f`` and every later bar.
    2. Each agent's action is sanitised and mapped to target weights (:mod:`.execution`), then traded
       at bar ``f``'s fill price with costs; a NaN action (or no action) holds the portfolio.
    3. The reward is ``log(V_f / V_d)``: the log return of the portfolio value over the bar, net of costs.
    """
    n_agents = holdings.shape[1]
    n_assets = holdings.shape[2]
    t = clock[b, CLK_STEP]
    if t >= int(params[P_EPISODE_LENGTH]):
        return False
    d = int(params[P_WARMUP]) + t
    f = d + 1
    bar_d = bars[b, d]
    bar_f = bars[b, f]
    impact = params[P_PERMANENT_IMPACT]
    if impact > 0.0:
        for i in range(n_assets):
            m = np.exp(asset_state[b, i, AS_CUM_IMPACT])
            bar_f[BAR_OPEN, i] *= m
            bar_f[BAR_HIGH, i] *= m
            bar_f[BAR_LOW, i] *= m
            bar_f[BAR_CLOSE, i] *= m
    fill_prices = bar_f[BAR_CLOSE] if params[P_FILL_ON_CLOSE] > 0.0 else bar_f[BAR_OPEN]
    decision_close = bar_d[BAR_CLOSE]
    decision_volume = bar_d[BAR_VOLUME]
    weights = scratch[b, SCR_WEIGHTS]
    target = scratch[b, SCR_TARGET]
    executed = scratch[b, SCR_EXECUTED]
    impact_scale = scratch[b, SCR_IMPACT_SCALE]
    flow = scratch[b, SCR_FLOW]
    for i in range(n_assets):
        flow[i] = 0.0
        impact_scale[i] = np.sqrt(asset_state[b, i, AS_VARIANCE])
    impact_scales(params[P_IMPACT_COEFFICIENT], impact_scale[:n_assets], decision_volume, impact_scale)
    n_action = actions.shape[2] - 1
    discrete = params[P_DISCRETE_ACTIONS] > 0.0
    use_softmax = params[P_SOFTMAX] > 0.0
    commission = params[P_COMMISSION]
    half_spread = params[P_HALF_SPREAD]
    lot = params[P_LOT_SIZE]
    for a in range(n_agents):
        info = info_out[b, a]
        h = holdings[b, a]
        cash = agent_state[b, a, AG_CASH]
        value_d = portfolio_weights(h, cash, decision_close, weights)
        n_nan = 0
        n_clipped = 0
        hold = True
        if actions[b, a, n_action] != 0.0 and agent_state[b, a, AG_TERMINATED] == 0.0:
            if discrete:
                n_nan, n_clipped = discrete_action_to_weights(
                    actions[b, a, :n_action], weights, params[P_DISCRETE_STEP], target)
                hold = n_nan == n_action
            else:
                n_nan, n_clipped = continuous_action_to_weights(
                    actions[b, a, :n_action], use_softmax, params[P_SOFTMAX_TEMPERATURE], target)
                hold = n_nan > 0
        cost = 0.0
        traded = 0.0
        fill_fraction = 1.0
        if not hold:
            cash, cost, traded, fill_fraction = rebalance_to_targets(
                target, h, cash, decision_close, fill_prices, impact_scale, commission, half_spread, lot, executed)
            for i in range(n_assets):
                flow[i] += executed[i]
        agent_state[b, a, AG_CASH] = cash
        agent_state[b, a, AG_COST_TOTAL] += cost
        agent_state[b, a, AG_NAN_TOTAL] += n_nan
        agent_state[b, a, AG_CLIPPED_TOTAL] += n_clipped
        turnover = traded / value_d if value_d > 0.0 else 0.0
        agent_state[b, a, AG_TURNOVER_TOTAL] += turnover
        info[IN_COST] = cost
        info[IN_TURNOVER] = turnover
        info[IN_NAN_ACTIONS] = n_nan
        info[IN_CLIPPED_ACTIONS] = n_clipped
        info[IN_BUY_FILL_FRACTION] = fill_fraction
    if impact > 0.0:
        for i in range(n_assets):
            shift = impact * flow[i] / max(bar_f[BAR_VOLUME, i], 1.0)
            asset_state[b, i, AS_CUM_IMPACT] += shift
            m = np.exp(shift)
            bar_f[BAR_HIGH, i] = max(bar_f[BAR_HIGH, i] * m, bar_f[BAR_OPEN, i])
            bar_f[BAR_LOW, i] = min(bar_f[BAR_LOW, i] * m, bar_f[BAR_OPEN, i])
            bar_f[BAR_CLOSE, i] *= m
            bar_f[BAR_HIGH, i] = max(bar_f[BAR_HIGH, i], bar_f[BAR_CLOSE, i])
            bar_f[BAR_LOW, i] = min(bar_f[BAR_LOW, i], bar_f[BAR_CLOSE, i])
            bar_f[BAR_LOGRET, i] = np.log(bar_f[BAR_CLOSE, i] / bar_d[BAR_CLOSE, i])
    decay = params[P_EWMA_DECAY]
    bound = params[P_OBS_CLIP]
    for i in range(n_assets):
        r = bar_f[BAR_LOGRET, i]
        zret[b, f, i] = standardized_return(r, asset_state[b, i, AS_VARIANCE], bound)
        asset_state[b, i, AS_VARIANCE] = ewma_variance_update(asset_state[b, i, AS_VARIANCE], r, decay)
    close_f = bar_f[BAR_CLOSE]
    for a in range(n_agents):
        value_prev = agent_state[b, a, AG_VALUE]
        value = portfolio_weights(holdings[b, a], agent_state[b, a, AG_CASH], close_f, weights)
        log_return = np.log(value / value_prev) if value > 0.0 and value_prev > 0.0 else 0.0
        agent_state[b, a, AG_VALUE] = value
        if value > agent_state[b, a, AG_PEAK]:
            agent_state[b, a, AG_PEAK] = value
        agent_state[b, a, AG_RETURN_VARIANCE] = ewma_variance_update(
            agent_state[b, a, AG_RETURN_VARIANCE], log_return, decay)
        info_out[b, a, IN_REWARD] = log_return
        info_out[b, a, IN_LOG_RETURN] = log_return
    clock[b, CLK_STEP] = t + 1
    _observe_env(b, bars, zret, holdings, agent_state, asset_state, clock, params, obs_out, info_out, scratch)
    return True


@njit(cache=True)
def step_batch(
    bars: np.ndarray, zret: np.ndarray, holdings: np.ndarray, agent_state: np.ndarray, asset_state: np.ndarray,
    clock: np.ndarray, actions: np.ndarray, params: np.ndarray, obs_out: np.ndarray, info_out: np.ndarray,
    scratch: np.ndarray,
) -> int:
    """:func:`step_env` for every environment of the batch, serially (best for small batches).

    Returns the number of environments that could not step because their episode was over.
    """
    finished = 0
    for b in range(bars.shape[0]):
        if not step_env(b, bars, zret, holdings, agent_state, asset_state, clock, actions, params, obs_out, info_out,
                        scratch):
            finished += 1
    return finished


@njit(cache=True, parallel=True)
def step_batch_parallel(
    bars: np.ndarray, zret: np.ndarray, holdings: np.ndarray, agent_state: np.ndarray, asset_state: np.ndarray,
    clock: np.ndarray, actions: np.ndarray, params: np.ndarray, obs_out: np.ndarray, info_out: np.ndarray,
    scratch: np.ndarray,
) -> int:
    """:func:`step_env` for every environment, spread over threads with ``prange`` (large batches).

    Each environment touches only its own index, so results equal :func:`step_batch` bit for bit.
    """
    finished = 0
    for b in prange(bars.shape[0]):
        if not step_env(b, bars, zret, holdings, agent_state, asset_state, clock, actions, params, obs_out, info_out,
                        scratch):
            finished += 1
    return finished


@njit(cache=True)
def reset_batch(
    mask: np.ndarray, bars: np.ndarray, zret: np.ndarray, holdings: np.ndarray, agent_state: np.ndarray, asset_state: np.ndarray,
    clock: np.ndarray, params: np.ndarray, agent_params: np.ndarray, obs_out: np.ndarray, info_out: np.ndarray,
    scratch: np.ndarray,
) -> None:
    """:func:`reset_env` for every environment ``b`` with ``mask[b]`` true."""
    for b in range(bars.shape[0]):
        if mask[b]:
            reset_env(b, bars, zret, holdings, agent_state, asset_state, clock, params, agent_params, obs_out,
                      info_out, scratch)
