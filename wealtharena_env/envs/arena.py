"""The multi-agent arena as a native PettingZoo ``ParallelEnv`` (the AEC form is its conversion)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from wealtharena_env.config import ArenaConfig, arena_config
from wealtharena_env.envs._common import (
    action_space,
    available_render_modes,
    check_render_mode,
    check_reset_options,
    copy_action,
    observation_space,
    pop_data_kwargs,
    render_env,
)
from wealtharena_env.errors import ActionError, ConfigError
from wealtharena_env.outputs import check_info_level
from wealtharena_env.sim import Simulation


class ArenaEnv(ParallelEnv):
    """Several agents trade one shared market of N assets, each with its own portfolio and risk profile.

    ## Description
    Every agent starts with cash only and, at each bar, chooses target portfolio weights. Orders decided on
    bar ``d`` (after seeing bars ``<= d``) fill at bar ``d + 1``'s open (configurable: close) with commission,
    half-spread and square-root market-impact slippage. The market is the seeded synthetic one of
    :class:`~wealtharena_env.config.MarketConfig` (regimes, GARCH volatility, Student-t shocks, jumps) or
    historical bars (``data=``). With ``impact > 0`` (``ImpactArena-v0``) the agents' aggregate net order flow
    moves prices permanently, so their trades affect each other.

    ## Agents
    ``conservative_0, conservative_1, balanced_0, aggressive_0, aggressive_1`` by default (``agents=``).

    ## Action Space
    Continuous (default): ``Box(-1, 1, (N + 1,), float32)``, one entry per asset and a last one for cash,
    mapped to long-only target weights by ``w*_j = (exp(T a_j) - f) / sum_k (exp(T a_k) - f)``,
    ``f = exp(-T)`` with no dead zone (``action_mapping="exponential"``, ``T = softmax_temperature`` = 3): a
    softmax shifted so that ``a_j = -1`` is exactly 0 — the zero action is equal weight over the assets and
    cash, every weight vector (cash only included) is reachable, all entries at -1 is cash. ``"softmax"``
    (``exp(T a_j) / sum_k exp(T a_k)``) and ``"simplex"`` (``max(a_j, 0) / sum_k max(a_k, 0)``) are the
    alternatives. ``action_dead_zone=d`` (default 0.3; exponential mapping only) widens the exact zero to
    every ``a_j <= -1 + d`` (``w*_j ∝ max(exp(T a_j) - exp(T (d - 1)), 0)``), so that a policy whose outputs
    never reach -1 exactly (a squashed Gaussian) can hold exactly nothing of an asset; the zero action stays
    equal weight. The portfolio then moves ``rebalance_rate`` (0.1) of the way from its current weights to the
    target (a residual gap below 1e-4 is closed at once): the held weights are a moving average of the
    policy's targets, so noise in its outputs costs little (``rebalance_rate=1`` trades to the target at
    once); ``rebalance_band`` (default 0) adds a no-trade band. The risk layer acts after this and can still
    force a trade (a stop-loss, a cap). Every live agent needs an entry in the actions dict (``None`` holds
    its portfolio); a missing one is an
    :class:`~wealtharena_env.errors.ActionError` unless the env is built with ``allow_missing_actions=True``,
    when it holds. Discrete (``action_type="discrete"``):
    ``MultiDiscrete([3] * N)``, per asset 0 = sell, 1 = hold, 2 = buy ``discrete_step`` of portfolio value.
    NaN actions hold the portfolio; out-of-range values are clipped; both are counted in ``info``.

    ## Observation Space
    ``Box(-clip, clip, (D,), float32)`` with ``D = (W + 3) N + 13`` (W = ``window``, default 20), or
    ``D = (W + 3 + 12) N + 13`` with ``feature_set="full"`` (12 technical indicators per asset), plus S with
    a regime model of S states (``regime_model=``):

    | slice                        | content                                                                 |
    |------------------------------|-------------------------------------------------------------------------|
    | ``[0, W N)``                 | standardized log returns ``r_t / sigma_{t-1}`` of the last W bars       |
    |                              | (oldest first, asset-minor)                                             |
    | ``[W N, (W+1) N)``           | annualised EWMA volatility per asset                                    |
    | ``[(W+1) N, (W+2) N)``       | window momentum z-score per asset (sum of the window's z / sqrt(W))     |
    | ``[(W+2) N, (W+2+K) N)``     | ``feature_set="full"`` only: K = 12 indicator features per asset (RSI,  |
    |                              | MACD histogram, Bollinger %B, NATR, stochastic %K, Williams %R, CCI,    |
    |                              | ADX, MFI, ROC, z-score, CMF), scaled near [-1, 1]                       |
    | ``M = (W+2+K) N`` .. ``M+3`` | market state: trend z-score, annualised volatility and its percentile   |
    |                              | over the warm-up span, cross-sectional dispersion                       |
    | ``[M+4, G)``, ``G = M+4+S``  | ``regime_model=`` only: the S filtered probabilities of the regimes of  |
    |                              | a fitted Gaussian HMM given the bars up to the current one (causal;     |
    |                              | docs/regimes.md)                                                        |
    | ``[G, G+N+1)``               | the agent's weights: N assets, then cash                                |
    | ``G+N+1`` .. ``G+N+3``       | the agent's drawdown, annualised portfolio volatility, episode progress |
    | ``G+N+4`` .. ``G+N+8``       | risk state: one-day VaR and CVaR of the held weights, volatility /      |
    |                              | budget, drawdown / limit, breaker cooldown                              |

    ``env.unwrapped.sim.observation_slices`` gives these slices by name.

    ## Rewards
    The composite reward ``sum_k weight_k * term_k`` of the agent's
    :class:`~wealtharena_env.config.RewardWeights` (profile presets): profit (log return of value net of every
    cost), risk (half the ex-ante variance of the held weights), cost, stability (turnover), differential
    Sharpe ratio, momentum, diversification and drawdown-breach terms, each in daily-return units
    (docs/reward.md). By default it is the mean-variance utility
    ``log return - lambda w'Cw / 2 - kappa cost / V`` with the profile's risk aversion ``lambda``
    (conservative 10, balanced 4, aggressive 1.5). ``reward_mode="log_return"`` gives the plain
    ``log(V_{t+1} / V_t)``. Every term is in ``info[agent]["reward_terms"]``.

    ## Starting State
    Each agent holds ``initial_cash`` (1,000,000) in cash. The first decision is on bar ``warmup`` (60) of a
    freshly drawn path, after ``warmup`` bars of history.

    ## Episode End
    Truncation: every agent after ``episode_length`` decisions (252, ``max_cycles`` is an alias), with
    ``info[agent]["TimeLimit.truncated"] = True``. Termination: only for an agent whose risk limits say
    ``breach="terminate"``, when its drawdown reaches ``max_drawdown`` (it is liquidated and leaves
    ``env.agents``). By default breaches de-risk the agent (to cash for a cooldown) and keep it alive.

    ## Info
    ``info_level="lean"`` (default), per agent: ``portfolio_value``, ``step_return`` (``V_{t+1} / V_t - 1``,
    net of costs), ``cost`` (paid this step), ``turnover`` (traded notional / value), ``drawdown`` and
    ``risk_event_count`` (interventions of the risk layer this step). ``info_level="full"`` adds ``reward``,
    ``cash``, ``weights`` (N + 1), ``nan_actions`` / ``clipped_actions`` (sanitised entries this step),
    ``buy_fill_fraction`` (< 1 when buys were scaled down to the cash available), ``volatility`` / ``var`` /
    ``cvar`` (ex-ante, of the held weights), ``breaker_cooldown``, ``regime`` (the synthetic market's true
    regime of the current bar: 0 bull, 1 bear, 2 high volatility; -1 for historical data — never in the
    observation), ``reward_terms`` (every term of the reward)
    and ``risk_events`` (each intervention: rule, asset, weight removed — docs/risk.md); it costs a few
    microseconds per agent and step. Both levels: ``TimeLimit.truncated`` on truncation, and at the end of an
    agent's episode ``episode`` (totals and risk-event counts per rule). ``env.sim.info(i, level="full")``
    reads the full info of agent ``i`` whatever the level, but for ``risk_events``: a lean env keeps no
    table of the events, only their count.

    ## Arguments
    ``config`` (:class:`~wealtharena_env.config.ArenaConfig`), ``data`` (historical data; default: the
    synthetic market), ``info_level`` (``"lean"`` or ``"full"``), ``allow_missing_actions``, ``render_mode``
    (``"human"`` prints, ``"ansi"`` returns the table, ``"rgb_array"`` an image of equity curves and weights —
    needs the ``plot`` extra), ``max_cycles`` / ``episode_length``, ``n_assets``, ``agents``, ``impact`` and
    any other ``ArenaConfig`` field as keyword.

    ```python
    from wealtharena_env import arena_v0
    env = arena_v0.parallel_env(n_assets=10)
    obs, infos = env.reset(seed=42)
    while env.agents:
        actions = {a: env.action_space(a).sample() for a in env.agents}
        obs, rewards, terminations, truncations, infos = env.step(actions)
    ```

    ## Version History
    * v0: initial release (long-only weights with a cash slot, risk layer per profile, composite reward,
      synthetic or historical market).
    * v0, before the first release (2026-12): the exponential action mapping with partial rebalancing, and a
      mean-variance composite reward, by default (trained agents churned and sat in cash under the
      old defaults; docs/training.md has the ablation). The ID keeps v0: nothing was published yet.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "wealtharena_arena_v0",
        "render_modes": available_render_modes(),
        "is_parallelizable": True,
        "render_fps": 4,
    }

    def __init__(
        self,
        config: ArenaConfig | None = None,
        *,
        data: Any = None,
        render_mode: str | None = None,
        max_cycles: int | None = None,
        info_level: str = "lean",
        allow_missing_actions: bool = False,
        **kwargs: Any,
    ):
        check_render_mode(self.metadata, render_mode)
        if max_cycles is not None and kwargs.get("episode_length") not in (None, max_cycles):
            raise ConfigError("give either max_cycles or episode_length (they are the same), not both.")
        if max_cycles is not None:
            kwargs["episode_length"] = max_cycles
        data_kwargs = pop_data_kwargs(kwargs, data)
        config = arena_config(base=config, **kwargs)
        self.sim = Simulation(
            config,
            batch_size=1,
            data=data,
            track_values=render_mode == "rgb_array",
            risk_event_table=check_info_level(info_level) == "full",
            **data_kwargs,
        )
        self.config = self.sim.config
        self.render_mode = render_mode
        self.possible_agents = list(self.config.agent_names)
        self.agents: list[str] = []
        self._index = {name: i for i, name in enumerate(self.possible_agents)}
        obs_space = observation_space(self.sim)
        act_space = action_space(self.config, self.sim.n_assets)
        self.observation_spaces = {a: obs_space for a in self.possible_agents}
        self.action_spaces = {a: act_space for a in self.possible_agents}
        self._n_action = self.sim.n_action
        self._n_assets = self.sim.n_assets
        self._infos = self.sim.decoder(info_level)
        self.allow_missing_actions = bool(allow_missing_actions)
        self.info_level = self._infos.level
        self._all_index = range(len(self.possible_agents))

    @property
    def max_cycles(self) -> int:
        return self.config.episode_length

    @max_cycles.setter
    def max_cycles(self, value: int) -> None:
        """Change the episode length (``pettingzoo.test.parallel_api_test`` assigns it); between episodes
        only."""
        if self.agents:
            raise ConfigError(
                "max_cycles can only change between episodes: set it before reset() or after the "
                "episode ended."
            )
        config = self.config.replace(episode_length=value)
        self.sim.close()
        self.sim = Simulation(
            config,
            batch_size=1,
            data=self.sim.source,
            track_values=self.sim.value_history is not None,
            risk_event_table=self.sim.risk_event_table,
        )
        self.config = self.sim.config

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict | None = None):
        check_reset_options(options)
        obs, info = self.sim.reset(seeds=[seed])
        self.agents = self.possible_agents[:]
        observations = dict(zip(self.possible_agents, obs[0]))
        infos = self._infos.agents(info[0], self._all_index, self.possible_agents)
        if self.render_mode == "human":
            self.render()
        return observations, infos

    def _write_actions(self, actions: dict[str, Any]) -> None:
        """Copy the actions into the simulation's action buffer and mark which agents acted (the last
        column: 1 for the agents that gave an action; None or no entry: the agent holds)."""
        buffer = self.sim.actions[0]
        buffer[:, self._n_action] = 0.0
        index = self._index
        n_action = self._n_action
        for agent, action in actions.items():
            i = index.get(agent)
            if i is None:
                raise ActionError(f"unknown agent {agent!r}; the agents are {self.possible_agents}.")
            if action is not None:
                copy_action(buffer[i], action, agent, n_action)
        if not self.allow_missing_actions and len(actions) < len(self.agents):
            missing = [a for a in self.agents if a not in actions]
            if missing:
                raise ActionError(
                    f"step() got no action for the live agent(s) {missing}; give one for every agent "
                    "in env.agents (None holds an agent's portfolio), or build the env with "
                    "allow_missing_actions=True to let missing agents hold."
                )

    def step(self, actions: dict[str, Any]):
        if not self.agents:
            raise ConfigError("step() called with no live agents: the episode is over, call reset() first.")
        self._write_actions(actions)
        sim = self.sim
        obs, info = sim.step()
        row = info[0]
        names = self.possible_agents
        live = self.agents
        if len(live) == len(names):  # every agent live
            live_index: list[int] | range = self._all_index
            live_names = names
        else:
            live_index = [i for i, a in enumerate(names) if a in live]
            live_names = [names[i] for i in live_index]
        observations, rewards, terminations, truncations, infos = self._infos.parallel_step(
            obs[0], row, live_index, live_names
        )
        if True in terminations.values() or True in truncations.values():
            for i, a in zip(live_index, live_names):
                if truncations[a]:
                    infos[a]["TimeLimit.truncated"] = True
                if truncations[a] or terminations[a]:
                    infos[a]["episode"] = sim.episode_summary(i)
            self.agents = [a for a in live_names if not (terminations[a] or truncations[a])]
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, infos

    def render(self) -> Any:
        return render_env(self.sim, self.possible_agents, self.render_mode)

    def close(self) -> None:
        pass

    def state(self) -> np.ndarray:
        """Global state: the concatenation of every agent's observation at the current bar."""
        return self.sim.observe()[0][0].reshape(-1)


def pettingzoo_constructors(defaults: dict[str, Any]):
    """``(parallel_env, raw_env, env)`` constructors of an arena version with the given default arguments.

    ``parallel_env`` is the native ParallelEnv, ``raw_env`` its AEC conversion without PettingZoo's
    order-enforcing wrapper, ``env`` the order-enforced AEC env. User keywords override ``defaults``.
    """
    from pettingzoo.utils.conversions import parallel_to_aec, parallel_to_aec_wrapper

    def parallel_env(**kwargs: Any) -> ArenaEnv:
        return ArenaEnv(**{**defaults, **kwargs})

    def raw_env(**kwargs: Any):
        return parallel_to_aec_wrapper(parallel_env(**kwargs))

    def env(**kwargs: Any):
        return parallel_to_aec(parallel_env(**kwargs))

    return parallel_env, raw_env, env
