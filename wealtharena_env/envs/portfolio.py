"""One agent alone on the market, as a Gymnasium ``Env`` (``WealthArena/Portfolio-v0``)."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym

from wealtharena_env.config import AgentProfile, ArenaConfig, RiskProfile, arena_config
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
from wealtharena_env.errors import ConfigError
from wealtharena_env.outputs import check_info_level
from wealtharena_env.sim import Simulation


class PortfolioEnv(gym.Env):
    """A single agent allocating a portfolio across N assets: the arena with one agent.

    ## Description
    The same market, execution and accounting as :class:`~wealtharena_env.envs.arena.ArenaEnv`, with one
    agent. Orders decided on bar ``d`` fill at bar ``d + 1``'s open (configurable: close) with commission,
    half-spread and square-root impact slippage.

    ## Action Space
    ``Box(-1, 1, (N + 1,), float32)`` (N assets then cash) mapped to long-only target weights by the
    exponential mapping ``w_j ∝ max(exp(3 a_j) - exp(3 (d - 1)), 0)`` with the dead zone ``d`` =
    ``action_dead_zone`` = 0.3 (the zero action is equal weight over assets and cash; every ``a_j <= -0.7`` is
    exactly 0) or, with ``action_mapping="softmax"`` / ``"simplex"``, the alternatives of
    :class:`~wealtharena_env.envs.arena.ArenaEnv`; the portfolio moves ``rebalance_rate`` (0.1) of the way to
    the target each step. With
    ``action_type="discrete"``, ``MultiDiscrete([3] * N)`` (sell / hold / buy per asset).

    ## Observation Space
    ``Box(-clip, clip, ((W + 3) N + 13,), float32)`` (``(W + 3 + 12) N + 13`` with ``feature_set="full"``;
    S more with a regime model of S states, ``regime_model=``): standardized return window, volatility,
    momentum, market state, the filtered regime probabilities (with ``regime_model=``), the agent's weights
    and cash, drawdown, portfolio volatility, episode progress and risk state — the table of
    :class:`~wealtharena_env.envs.arena.ArenaEnv`.

    ## Rewards
    The composite reward of the agent's profile (by default the mean-variance utility ``log return -
    lambda w'Cw / 2 - kappa cost / V``; all terms in docs/reward.md), or ``log(V_{t+1} / V_t)`` with
    ``reward_mode="log_return"``. With ``info_level="full"`` the terms are in ``info["reward_terms"]``, risk
    interventions in ``info["risk_events"]``.

    ## Starting State
    ``initial_cash`` (1,000,000) in cash, first decision after ``warmup`` bars of history.

    ## Episode End
    Truncated after ``episode_length`` steps (252). Terminated only when the profile's risk limits say
    ``breach="terminate"`` and the drawdown reaches ``max_drawdown``.

    ## Info
    ``info_level="lean"`` (default): ``portfolio_value``, ``step_return``, ``cost``, ``turnover``,
    ``drawdown``, ``risk_event_count``; ``info_level="full"`` adds the weights, reward terms, risk events,
    risk measures and the synthetic market's true ``regime`` of :class:`~wealtharena_env.envs.arena.ArenaEnv`;
    ``episode`` (totals) when the episode ends.

    ## Arguments
    ``config``, ``data``, ``info_level``, ``render_mode`` (``"human"``, ``"ansi"``, ``"rgb_array"`` with the
    ``plot`` extra), ``risk_profile``, ``initial_cash``, ``n_assets``, ``episode_length`` and any other
    ``ArenaConfig`` field as keyword.

    ```python
    import gymnasium as gym
    import wealtharena_env  # registers the IDs
    env = gym.make("WealthArena/Portfolio-v0", n_assets=5)
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    ```

    ## Version History
    * v0: initial release.
    * v0, before the first release (2026-12): the exponential action mapping with partial rebalancing, and a
      mean-variance composite reward, by default (trained agents churned and sat in cash under the
      old defaults; docs/training.md has the ablation). The ID keeps v0: nothing was published yet.
    """

    # gymnasium.Env declares metadata an instance variable; it is class-level data (read from the class)
    metadata: ClassVar[dict[str, Any]] = {"render_modes": available_render_modes(), "render_fps": 4}  # type: ignore[misc]

    def __init__(
        self,
        config: ArenaConfig | None = None,
        *,
        data: Any = None,
        render_mode: str | None = None,
        risk_profile: RiskProfile = "balanced",
        initial_cash: float = 1_000_000.0,
        info_level: str = "lean",
        **kwargs: Any,
    ):
        check_render_mode(self.metadata, render_mode)
        data_kwargs = pop_data_kwargs(kwargs, data)
        if config is None or "agents" not in kwargs and len(config.agents) != 1:
            kwargs.setdefault(
                "agents", (AgentProfile("agent", risk_profile=risk_profile, initial_cash=initial_cash),)
            )
        config = arena_config(base=config, **kwargs)
        if config.n_agents != 1:
            raise ConfigError(
                f"PortfolioEnv has exactly one agent, the config has {config.n_agents}; use ArenaEnv."
            )
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
        self.observation_space = observation_space(self.sim)
        self.action_space = action_space(self.config, self.sim.n_assets)
        self._n_action = self.sim.n_action
        self._infos = self.sim.decoder(info_level)
        self.info_level = self._infos.level
        self._done = True

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        check_reset_options(options)
        obs, info = self.sim.reset(seeds=[seed])
        self._done = False
        if self.render_mode == "human":
            self.render()
        return obs[0, 0], self._infos.agent(info[0, 0])

    def step(self, action: Any):
        if self._done:
            raise ConfigError("step() called after the episode ended; call reset() first.")
        sim = self.sim
        copy_action(sim.actions[0, 0], action, "agent", self._n_action)
        obs, info = sim.step()
        out, reward, terminated, truncated = self._infos.first(info)
        if terminated or truncated:
            self._done = True
            out["episode"] = sim.episode_summary(0)
        if self.render_mode == "human":
            self.render()
        return obs[0, 0], reward, terminated, truncated, out

    def render(self) -> Any:
        return render_env(self.sim, self.config.agent_names, self.render_mode)
