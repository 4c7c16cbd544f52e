"""A bare Numba loop doing the arithmetic of one arena step, without any environment machinery.

It is the speed ceiling the batched envs are compared with: no Simulation, no adapters, no validation, no
info array, no episode resets (the price path is replayed). Per environment ``b`` and step ``t`` (decision
bar ``d``, fill bar ``f = d + 1``), for every agent ``a`` and asset ``i``:

* value ``V_d = cash + sum_i h_i close_{d,i}``; target weights ``w = max(x, 0) / sum max(x, 0)`` of the
  N + 1 raw action entries (all cash when none is positive);
* rebalance to ``w``: ``q_i = w_i V_d / close_{d,i} - h_i`` shares filled at ``open_{f,i}`` times
  ``1 +/- (half_spread + k sigma_i sqrt(|q_i| / volume_{d,i}))``, plus commission; cash and shares updated;
* per asset: standardized return ``z = r / sigma`` (clipped) and EWMA variance update;
* per agent: ``V_f``, reward ``log(V_f / V_d)``, EWMA variance of the reward, peak and drawdown;
* per agent-asset: position value, its running log return, EWMA variance and drawdown;
* the agent's observation, ``(W + 3) N + 4`` floats (the env's layout before its risk-state features) (market
  part computed once per environment and copied to every agent, as the env does): W x N window of z,
  volatility, momentum, weights, drawdown, volatility, progress.

``bare_step_serial`` loops over environments; ``bare_step_parallel`` is the same with ``prange``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

COMMISSION = 5e-4
HALF_SPREAD = 2e-4
IMPACT = 0.1
DECAY = 0.5 ** (1 / 20)
CLIP = 10.0
PERIODS = 252.0


class BareState:
    """Arrays of the bare loop for K environments, A agents, N assets, T bars, window W."""

    def __init__(
        self,
        k: int,
        a: int,
        n: int,
        episode_length: int = 252,
        warmup: int = 60,
        window: int = 20,
        seed: int = 0,
    ):
        rng = np.random.default_rng(seed)
        t = warmup + episode_length + 1
        logret = rng.normal(0.0003, 0.015, (k, t, n))
        close = 100.0 * np.exp(np.cumsum(logret, axis=1))
        # bars: open, close, volume (log returns are recomputed from closes inside the loop)
        self.bars = np.empty((k, t, 3, n))
        self.bars[:, :, 1] = close
        self.bars[:, :, 0] = close * np.exp(rng.normal(0.0, 0.003, (k, t, n)))
        self.bars[:, :, 2] = rng.uniform(5e5, 2e6, (k, t, n))
        self.z = np.zeros((k, t, n), dtype=np.float32)
        self.asset_var = np.full((k, n), 0.015**2)
        self.holdings = np.zeros((k, a, n))
        self.agent = np.zeros((k, a, 4))  # cash, value, peak, return variance
        self.agent[:, :, 0] = 1e6
        self.agent[:, :, 1] = 1e6
        self.agent[:, :, 2] = 1e6
        self.position = np.zeros((k, a, n, 4))  # value, return variance, peak value, drawdown
        self.clock = np.zeros(k, dtype=np.int64)
        self.actions = rng.uniform(-1.0, 1.0, (k, a, n + 1))
        self.obs = np.zeros((k, a, (window + 3) * n + 4), dtype=np.float32)
        self.reward = np.zeros((k, a))
        self.scratch = np.zeros((k, n + 1))
        self.config = np.array([episode_length, warmup, window], dtype=np.int64)

    def args(self):
        return (
            self.bars,
            self.z,
            self.asset_var,
            self.holdings,
            self.agent,
            self.position,
            self.clock,
            self.actions,
            self.obs,
            self.reward,
            self.scratch,
            self.config,
        )


@njit(cache=True, fastmath=False)
def _bare_env(b, bars, z, asset_var, holdings, agent, position, clock, actions, obs, reward, scratch, config):
    episode_length, warmup, window = config[0], config[1], config[2]
    n_agents, n_assets = holdings.shape[1], holdings.shape[2]
    t = clock[b]
    d = warmup + t
    f = d + 1
    w = scratch[b]
    for a in range(n_agents):
        h = holdings[b, a]
        cash = agent[b, a, 0]
        value_d = cash
        for i in range(n_assets):
            value_d += h[i] * bars[b, d, 1, i]
        total = 0.0
        for j in range(n_assets + 1):
            x = actions[b, a, j]
            x = max(0.0, x)
            w[j] = x
            total += x
        for j in range(n_assets + 1):
            w[j] = w[j] / total if total > 0.0 else (1.0 if j == n_assets else 0.0)
        for i in range(n_assets):
            q = w[i] * value_d / bars[b, d, 1, i] - h[i]
            if q != 0.0:
                slip = HALF_SPREAD + IMPACT * np.sqrt(asset_var[b, i]) * np.sqrt(abs(q) / bars[b, d, 2, i])
                px = bars[b, f, 0, i] * (1.0 + slip if q > 0.0 else 1.0 - slip)
                cash -= q * px + COMMISSION * abs(q) * px
                h[i] += q
        agent[b, a, 0] = cash
    momentum_scale = 1.0 / np.sqrt(window)
    for i in range(n_assets):
        r = np.log(bars[b, f, 1, i] / bars[b, d, 1, i])
        zz = r / np.sqrt(asset_var[b, i])
        z[b, f, i] = min(max(zz, -CLIP), CLIP)
        asset_var[b, i] = DECAY * asset_var[b, i] + (1.0 - DECAY) * r * r
    for a in range(n_agents):
        h = holdings[b, a]
        value = agent[b, a, 0]
        for i in range(n_assets):
            pv = h[i] * bars[b, f, 1, i]
            value += pv
            prev = position[b, a, i, 0]
            pr = np.log(pv / prev) if pv > 0.0 and prev > 0.0 else 0.0
            position[b, a, i, 0] = pv
            position[b, a, i, 1] = DECAY * position[b, a, i, 1] + (1.0 - DECAY) * pr * pr
            position[b, a, i, 2] = max(position[b, a, i, 2], pv)
            position[b, a, i, 3] = 1.0 - pv / position[b, a, i, 2] if position[b, a, i, 2] > 0.0 else 0.0
        lr = np.log(value / agent[b, a, 1])
        reward[b, a] = lr
        agent[b, a, 1] = value
        agent[b, a, 2] = max(agent[b, a, 2], value)
        agent[b, a, 3] = DECAY * agent[b, a, 3] + (1.0 - DECAY) * lr * lr
        o = obs[b, a]
        n_shared = (window + 2) * n_assets
        if a == 0:  # market part of the observation: computed once, copied to the other agents
            k = 0
            for s in range(f - window + 1, f + 1):
                for i in range(n_assets):
                    o[k] = z[b, s, i]
                    k += 1
            for i in range(n_assets):
                o[k] = min(np.sqrt(asset_var[b, i] * PERIODS), CLIP)
                k += 1
            for i in range(n_assets):
                o[k + i] = 0.0
            for s in range(window):
                for i in range(n_assets):
                    o[k + i] += o[s * n_assets + i]
            for i in range(n_assets):
                o[k + i] = min(max(o[k + i] * momentum_scale, -CLIP), CLIP)
        else:
            o[:n_shared] = obs[b, 0, :n_shared]
        k = n_shared
        for i in range(n_assets):
            o[k] = h[i] * bars[b, f, 1, i] / value
            k += 1
        o[k] = agent[b, a, 0] / value
        o[k + 1] = 1.0 - value / agent[b, a, 2]
        o[k + 2] = min(np.sqrt(agent[b, a, 3] * PERIODS), CLIP)
        o[k + 3] = (t + 1) / episode_length
    clock[b] = t + 1 if t + 1 < episode_length else 0  # replay the path instead of resetting


@njit(cache=True)
def bare_step_serial(
    bars, z, asset_var, holdings, agent, position, clock, actions, obs, reward, scratch, config
):
    for b in range(bars.shape[0]):
        _bare_env(
            b, bars, z, asset_var, holdings, agent, position, clock, actions, obs, reward, scratch, config
        )


@njit(cache=True, parallel=True)
def bare_step_parallel(
    bars, z, asset_var, holdings, agent, position, clock, actions, obs, reward, scratch, config
):
    for b in prange(bars.shape[0]):
        _bare_env(
            b, bars, z, asset_var, holdings, agent, position, clock, actions, obs, reward, scratch, config
        )


__all__ = ["BareState", "bare_step_parallel", "bare_step_serial"]
