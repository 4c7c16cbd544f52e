"""Batched vector envs: K environments in ONE :class:`~wealtharena_env.sim.Simulation`, one kernel call per
step.

* :class:`PortfolioVectorEnv` — a :class:`gymnasium.vector.VectorEnv` of K single-agent portfolio envs
  (``gymnasium.make_vec("WealthArena/Portfolio-v0", num_envs=K)``).
* :class:`ArenaVecEnv` — K multi-agent arenas as arrays ``(K, A, ...)`` for trainers that batch agents
  themselves (CleanRL-style parameter sharing).

Both follow Gymnasium 1.x ``NEXT_STEP`` autoreset: the step after environment ``k``'s episode ended resets
environment ``k`` (continuing its own generator, never reseeding it), returns its reset observation and reset
info, reward 0, ``terminated = truncated = False``, and ignores its action. Environment ``k`` of a vector
seeded ``s`` (``reset(seed=s)`` seeds environment ``k`` with ``s + k``) is bit-identical to a single
:class:`~wealtharena_env.envs.portfolio.PortfolioEnv` / :class:`~wealtharena_env.envs.arena.ArenaEnv` seeded
``s + k`` and reset without a seed after each episode.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from gymnasium.spaces import Space
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from wealtharena_env.config import AgentProfile, ArenaConfig, RiskProfile, arena_config
from wealtharena_env.envs._common import (
    action_space,
    check_render_mode,
    check_reset_options,
    observation_space,
    pop_data_kwargs,
    render_text,
)
from wealtharena_env.errors import ActionError, ConfigError
from wealtharena_env.outputs import check_info_level
from wealtharena_env.sim import Simulation


# ---------------------------------------------------------------------------------------------- engine glue
def _step_with_autoreset(sim: Simulation, reset_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step every environment except those in ``reset_mask``, which start a new episode instead.

    One kernel call over the whole batch (``Simulation.step(reset_mask=...)``): the new episodes of the
    ``reset_mask`` environments are drawn from their own generators (a Python loop over those environments
    only, since the market source needs their ``numpy.random.Generator``).
    """
    return sim.step(reset_mask=reset_mask if np.count_nonzero(reset_mask) else None)


def _seed_list(seed: int | Sequence[int | None] | None, num_envs: int) -> list[int | None]:
    """Gymnasium's vector seeding: ``None`` -> all unseeded, ``s`` -> ``[s, s + 1, ...]``, or a list of K."""
    if seed is None:
        return [None] * num_envs
    if isinstance(seed, bool):  # an int to Python, but not a seed
        raise TypeError(f"seed must be an int, a sequence of {num_envs} seeds or None, got {seed!r}.")
    if isinstance(seed, (int, np.integer)):
        return [int(seed) + k for k in range(num_envs)]
    seeds = list(seed)
    if len(seeds) != num_envs:
        raise ConfigError(
            f"reset got {len(seeds)} seeds for {num_envs} environments; give one int or {num_envs}."
        )
    return [None if s is None else int(s) for s in seeds]


def _reset_mask_option(options: dict | None, num_envs: int) -> np.ndarray | None:
    check_reset_options(options, ("reset_mask",))
    if not options or "reset_mask" not in options:
        return None
    mask = options["reset_mask"]
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.shape != (num_envs,):
        raise ConfigError(
            f"options['reset_mask'] must be a bool numpy array of shape ({num_envs},), got {mask!r}."
        )
    if not mask.any():
        raise ConfigError("options['reset_mask'] selects no environment.")
    return mask


def _write_actions(sim: Simulation, actions: Any, expected: tuple[int, ...]) -> None:
    """Copy a batch of raw actions into the simulation's action buffer, marking every agent as acting.

    Values are not checked (NaN / inf / out of range are sanitised and counted by the kernels); a wrong
    shape or a non-numeric batch raises :class:`~wealtharena_env.errors.ActionError`.
    """
    if type(actions) is np.ndarray and actions.shape == expected and actions.dtype.kind in "fiub":
        array = actions  # numeric already: cast while copying into the buffer
    else:
        try:
            array = np.asarray(actions, dtype=np.float64)
        except (ValueError, TypeError) as exc:
            raise ActionError(f"actions must be numeric of shape {expected}: {exc}") from None
        if array.shape != expected:
            raise ActionError(f"actions must have shape {expected}, got {array.shape}.")
    buffer = sim.actions
    target = buffer[..., :-1]
    target[...] = array.reshape(target.shape)
    buffer[..., -1] = 1.0


def _merge_info(
    out: dict[str, Any], values: dict[str, Any], index: int | tuple[int, int], shape: tuple[int, ...]
) -> None:
    """Add one environment's (or one agent's) info dict at ``index`` of arrays shaped ``shape``.

    The rule of gymnasium's ``VectorEnv._add_info``: numbers go into zero-initialised arrays of their type,
    nested dicts recurse, anything else into an object array; ``_key`` masks are over environments.
    """
    env = index if isinstance(index, int) else index[0]
    for key, value in values.items():
        if isinstance(value, dict):
            array: Any = out.get(key, {})
            _merge_info(array, value, index, shape)
        else:
            array = out.get(key)
            if array is None:
                if type(value) in (int, float, bool) or isinstance(value, np.number):
                    array = np.zeros(shape, dtype=type(value))
                elif isinstance(value, np.ndarray):
                    array = np.zeros((*shape, *value.shape), dtype=value.dtype)
                else:
                    array = np.full(shape, None, dtype=object)
            array[index] = value
        mask = out.get("_" + key)
        if mask is None:
            mask = np.zeros(shape[0], dtype=np.bool_)
        mask[env] = True
        out[key], out["_" + key] = array, mask


def _portfolio_config(
    config: ArenaConfig | None, risk_profile: RiskProfile, initial_cash: float, kwargs: dict[str, Any]
) -> ArenaConfig:
    """The one-agent config :class:`~wealtharena_env.envs.portfolio.PortfolioEnv` builds from the same
    arguments."""
    if config is None or "agents" not in kwargs and len(config.agents) != 1:
        kwargs.setdefault(
            "agents", (AgentProfile("agent", risk_profile=risk_profile, initial_cash=initial_cash),)
        )
    config = arena_config(base=config, **kwargs)
    if config.n_agents != 1:
        raise ConfigError(
            f"PortfolioVectorEnv has exactly one agent per env, the config has {config.n_agents}; "
            "use ArenaVecEnv."
        )
    return config


def _check_num_envs(num_envs: Any) -> int:
    if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
        raise ConfigError(f"num_envs must be an integer >= 1, got {num_envs!r}.")
    return int(num_envs)


def _episode_kwargs(
    kwargs: dict[str, Any], max_episode_steps: int | None, max_cycles: int | None = None
) -> None:
    for name, value in (("max_episode_steps", max_episode_steps), ("max_cycles", max_cycles)):
        if value is None:
            continue
        if kwargs.get("episode_length") not in (None, value):
            raise ConfigError(f"give either {name} or episode_length (they are the same), not both.")
        kwargs["episode_length"] = value


class _BatchedSpaces:
    """``observation_space`` and ``action_space``, the single spaces batched over ``_batch_sizes`` (innermost
    first), built on first use: gymnasium's ``Box`` holds its bounds and two boolean masks at the full
    batch shape (144 MB for 4096 x 5 agents x 30 assets), which a trainer reading the single spaces never
    needs."""

    single_observation_space: Space
    single_action_space: Space
    _batch_sizes: tuple[int, ...]

    def _batched(self, key: str, single: Space) -> Space:
        """The space stored under ``key``, or ``single`` batched over ``_batch_sizes`` (then stored)."""
        space = self.__dict__.get(key)
        if space is None:
            space = single
            for size in self._batch_sizes:
                space = batch_space(space, size)
            self.__dict__[key] = space
        return space

    @property
    def observation_space(self) -> Space:
        return self._batched("_observation_space", self.single_observation_space)

    @observation_space.setter
    def observation_space(self, space: Space) -> None:
        self.__dict__["_observation_space"] = space

    @property
    def action_space(self) -> Space:
        return self._batched("_action_space", self.single_action_space)

    @action_space.setter
    def action_space(self, space: Space) -> None:
        self.__dict__["_action_space"] = space


# ---------------------------------------------------------------------------------------------- Portfolio
class PortfolioVectorEnv(_BatchedSpaces, VectorEnv):
    """K single-agent portfolio envs (``WealthArena/Portfolio-v0``) stepped by one kernel call.

    ## Description
    The vectorised form of :class:`~wealtharena_env.envs.portfolio.PortfolioEnv`: the same market,
    execution, accounting and reward, for ``num_envs`` independent environments held in one
    :class:`~wealtharena_env.sim.Simulation` (batch size K). It steps serially unless ``parallel=True``
    (threads, ``prange``: they pay on idle cores for large batches, and stall 10-30x when another process —
    the learner — keeps a core busy); results are bit-identical either way. Served by
    ``gymnasium.make_vec("WealthArena/Portfolio-v0", num_envs=K, **env_kwargs)``.

    ## Action Space
    ``batch_space(single_action_space, K)``: ``Box(-1, 1, (K, N + 1), float32)`` (continuous) or
    ``MultiDiscrete`` of shape ``(K, N)`` (``action_type="discrete"``); the per-env space is that of
    ``PortfolioEnv``.

    ## Observation Space
    ``Box(-clip, clip, (K, D), float32)`` with ``D = (W + 3) N + 13`` (``(W + 3 + 12) N + 13`` with
    ``feature_set="full"``, S more with ``regime_model=``); row ``k`` is environment ``k``'s observation
    (the table in :class:`~wealtharena_env.envs.arena.ArenaEnv`). Every call returns fresh arrays.

    ## Rewards
    ``(K,)`` float64: each environment's composite reward (docs/reward.md), or ``log(V_{t+1} / V_t)`` with
    ``reward_mode="log_return"``; 0 on an autoreset step.

    ## Starting State
    As ``PortfolioEnv``. ``reset(seed=s)`` seeds environment ``k`` with ``s + k``; ``seed=[s_0, ...]`` one
    seed each; ``options={"reset_mask": mask}`` resets only the masked environments.

    ## Episode End
    ``terminations`` / ``truncations`` are ``(K,)`` bool. Autoreset is ``AutoresetMode.NEXT_STEP``
    (``metadata["autoreset_mode"]``): the step after an env's episode ended resets it, returns its reset
    observation and reset info, reward 0, both flags False, and ignores its action.

    ## Info
    Gymnasium's vector-info convention: ``infos[key]`` is an array over environments and ``infos["_" + key]``
    a bool mask of the environments that carry it — what a ``SyncVectorEnv`` of ``PortfolioEnv`` at the same
    ``info_level`` returns (a test checks it). ``info_level="lean"`` (default): ``portfolio_value``,
    ``step_return``, ``cost``, ``turnover``, ``drawdown`` as ``(K,)`` float arrays and ``risk_event_count``
    ``(K,)`` int. ``info_level="full"`` adds every key of the single env's full info (``reward``, ``cash``,
    ``nan_actions``, ``clipped_actions``, risk measures, ``regime``, ...), ``weights`` ``(K, N + 1)`` and
    ``reward_terms`` (a dict of ``(K,)`` arrays); its risk events are numeric (``risk_event_table``
    (K, max_events, 3): rule index into ``kernels.risk.RULE_NAMES``, asset index or -1, weight removed,
    valid for the first ``risk_event_count`` rows), or with ``decode_risk_events=True`` the single env's
    ``risk_events`` lists.
    On the step an episode ends, ``episode`` (the end-of-episode summary) for the environments that ended.

    ## Arguments
    ``num_envs`` (K), ``config``, ``data``, ``render_mode`` (``"ansi"``: ``render()`` returns one text table
    per env; ``"human"`` prints them), ``risk_profile``, ``initial_cash``, ``parallel`` (``True``: threads;
    default serial), ``max_episode_steps`` (alias of ``episode_length``), ``info_level``,
    ``decode_risk_events`` and any ``ArenaConfig`` field as keyword.

    ```python
    import gymnasium as gym
    import wealtharena_env  # registers the IDs
    envs = gym.make_vec("WealthArena/Portfolio-v0", num_envs=64, n_assets=1)
    obs, infos = envs.reset(seed=0)
    obs, rewards, terminations, truncations, infos = envs.step(envs.action_space.sample())
    ```

    ## Version History
    * v0: initial release.
    """

    # gymnasium's VectorEnv declares metadata an instance variable; it is class-level data (read from the
    # class)
    metadata: ClassVar[dict[str, Any]] = {  # type: ignore[misc]
        "render_modes": ["human", "ansi"],
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    def __init__(
        self,
        num_envs: int = 1,
        config: ArenaConfig | None = None,
        *,
        data: Any = None,
        render_mode: str | None = None,
        risk_profile: RiskProfile = "balanced",
        initial_cash: float = 1_000_000.0,
        parallel: bool | None = None,
        max_episode_steps: int | None = None,
        info_level: str = "lean",
        decode_risk_events: bool = False,
        **kwargs: Any,
    ):
        check_render_mode(self.metadata, render_mode)
        self.num_envs = _check_num_envs(num_envs)
        _episode_kwargs(kwargs, max_episode_steps)
        data_kwargs = pop_data_kwargs(kwargs, data)
        config = _portfolio_config(config, risk_profile, initial_cash, kwargs)
        self.sim = Simulation(
            config,
            batch_size=self.num_envs,
            data=data,
            parallel=parallel,
            risk_event_table=check_info_level(info_level) == "full",
            **data_kwargs,
        )
        self.config = self.sim.config
        self.render_mode = render_mode
        self.single_observation_space = observation_space(self.sim)
        self.single_action_space = action_space(self.config, self.sim.n_assets)
        self._batch_sizes = (self.num_envs,)  # observation_space, action_space: built on first use
        self._action_shape = (self.num_envs, *self.single_action_space.shape)
        self._infos = self.sim.decoder(info_level)
        self.info_level = self._infos.level
        self.decode_risk_events = bool(decode_risk_events)
        self._autoreset = np.zeros(self.num_envs, dtype=np.bool_)
        self._ready = False

    def reset(self, *, seed: int | Sequence[int | None] | None = None, options: dict | None = None):
        seeds = _seed_list(seed, self.num_envs)
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            self._np_random, self._np_random_seed = seeding.np_random(int(seed))
        mask = _reset_mask_option(options, self.num_envs)
        if mask is not None and not self._ready:
            raise ConfigError("options['reset_mask'] needs a first full reset() of every environment.")
        obs, info = self.sim.reset(seeds=seeds, mask=mask)
        if mask is None:
            self._autoreset[:] = False
        else:
            self._autoreset[mask] = False
        self._ready = True
        if self.render_mode == "human":
            self.render()
        return obs.reshape(self.num_envs, -1), self._infos.vector(info, mask, True, self.decode_risk_events)

    def step(self, actions: Any):
        if not self._ready:
            raise ConfigError("step() called before reset(); call reset() first.")
        _write_actions(self.sim, actions, self._action_shape)
        reset_mask = self._autoreset
        obs, info = _step_with_autoreset(self.sim, reset_mask)
        rewards, terminations, truncations = (x[:, 0] for x in self._infos.outcomes(info))
        if np.count_nonzero(reset_mask):
            rewards[reset_mask] = 0.0
            terminations[reset_mask] = False
            truncations[reset_mask] = False
        self._autoreset = terminations | truncations
        infos = self._infos.vector(info, None, True, self.decode_risk_events)
        for k in self._autoreset.nonzero()[0]:  # the single env's end-of-episode summary
            _merge_info(infos, {"episode": self.sim.episode_summary(0, int(k))}, int(k), (self.num_envs,))
        if self.render_mode == "human":
            self.render()
        return obs.reshape(self.num_envs, -1), rewards, terminations, truncations, infos

    def close_extras(self, **kwargs: Any) -> None:
        if getattr(self, "sim", None) is not None:  # __del__ also closes an env whose constructor raised
            self.sim.close()

    # gymnasium declares render() -> tuple[RenderFrame, ...] with RenderFrame a TypeVar bound to nothing,
    # which no concrete frame type (here the text tables) can match
    def render(self) -> tuple[str, ...] | None:  # type: ignore[override]
        if self.render_mode is None or not self._ready:
            return None
        texts = tuple(render_text(self.sim, self.config.agent_names, k) for k in range(self.num_envs))
        if self.render_mode == "ansi":
            return texts
        print("\n\n".join(texts))
        return None


# ---------------------------------------------------------------------------------------------- Arena
class ArenaVecEnv(_BatchedSpaces):
    """K multi-agent arenas as arrays, stepped by one kernel call: the batched form of ``ArenaEnv``.

    ## Description
    For trainers that batch agents themselves (CleanRL-style, parameter sharing): no dicts, every
    quantity is an array with the environment axis first and the agent axis second, in the order of
    :attr:`agents`. The market, execution, accounting and rewards are those of
    :class:`~wealtharena_env.envs.arena.ArenaEnv`.

    ## Agents
    :attr:`agents` / :attr:`possible_agents`: the agent names (``conservative_0, ...`` by default).

    ## Action Space
    ``step(actions)`` takes ``(K, A, N + 1)`` (continuous) or ``(K, A, N)`` (discrete) actions;
    :attr:`single_action_space` is one agent's space, :attr:`action_space` the batched ``(K, A, ...)`` one.

    ## Observation Space
    ``(K, A, D)`` float32 (fresh each call), ``D = sim.obs_size = (W + 3) N + 13`` (``(W + 3 + 12) N + 13``
    with ``feature_set="full"``, S more with ``regime_model=``); :attr:`single_observation_space` is one
    agent's ``Box``, :attr:`observation_space` the ``(K, A, D)`` one.

    ## Rewards
    ``(K, A)`` float64 log returns net of costs (0 on an autoreset step).

    ## Episode End
    ``terminations`` / ``truncations`` ``(K, A)`` bool. An environment ends when all its agents are
    terminated or truncated, and autoresets on the next step (``AutoresetMode.NEXT_STEP``): reset
    observation and info, rewards 0, flags False, actions ignored.

    ## Info
    ``infos[key]`` ``(K, A)`` arrays (``weights`` ``(K, A, N + 1)``) with ``infos["_" + key]`` ``(K,)``
    masks, the keys of :class:`PortfolioVectorEnv` at the same ``info_level``; ``episode`` carries each
    agent's summary on the step it ends. Agents that end before their environment (terminated) keep their rows
    (arrays cannot drop agents): their actions are ignored by the simulation until the environment resets.

    ## Arguments
    ``num_envs`` (K), ``config``, ``data``, ``render_mode`` (``"ansi"``/``"human"``), ``max_cycles`` /
    ``episode_length``, ``parallel``, ``info_level``, ``decode_risk_events``, ``n_assets``, ``agents``,
    ``impact`` and any ``ArenaConfig`` field.

    ```python
    from wealtharena_env.envs.vector import ArenaVecEnv
    envs = ArenaVecEnv(num_envs=8, n_assets=30)
    obs, infos = envs.reset(seed=0)                    # obs (8, 5, D)
    obs, rewards, terms, truncs, infos = envs.step(envs.action_space.sample())
    ```

    ## Version History
    * v0: initial release.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["human", "ansi"],
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    def __init__(
        self,
        num_envs: int = 1,
        config: ArenaConfig | None = None,
        *,
        data: Any = None,
        render_mode: str | None = None,
        max_cycles: int | None = None,
        parallel: bool | None = None,
        info_level: str = "lean",
        decode_risk_events: bool = False,
        **kwargs: Any,
    ):
        check_render_mode(self.metadata, render_mode)
        self.num_envs = _check_num_envs(num_envs)
        _episode_kwargs(kwargs, None, max_cycles)
        data_kwargs = pop_data_kwargs(kwargs, data)
        config = arena_config(base=config, **kwargs)
        self.sim = Simulation(
            config,
            batch_size=self.num_envs,
            data=data,
            parallel=parallel,
            risk_event_table=check_info_level(info_level) == "full",
            **data_kwargs,
        )
        self.config = self.sim.config
        self.render_mode = render_mode
        self.possible_agents = list(self.config.agent_names)
        self.agents = self.possible_agents[:]
        self.num_agents = len(self.possible_agents)
        self.single_observation_space = observation_space(self.sim)
        self.single_action_space = action_space(self.config, self.sim.n_assets)
        self._batch_sizes = (self.num_agents, self.num_envs)  # observation_space, action_space: on first use
        self._action_shape = (self.num_envs, self.num_agents, *self.single_action_space.shape)
        self._agent_ended = np.zeros((self.num_envs, self.num_agents), dtype=np.bool_)
        self._infos = self.sim.decoder(info_level)
        self.info_level = self._infos.level
        self.decode_risk_events = bool(decode_risk_events)
        self._autoreset = np.zeros(self.num_envs, dtype=np.bool_)
        self._ready = False
        self.closed = False

    def reset(self, *, seed: int | Sequence[int | None] | None = None, options: dict | None = None):
        """Reset every environment (or ``options["reset_mask"]``); return ``(obs (K, A, D), infos)``."""
        seeds = _seed_list(seed, self.num_envs)
        mask = _reset_mask_option(options, self.num_envs)
        if mask is not None and not self._ready:
            raise ConfigError("options['reset_mask'] needs a first full reset() of every environment.")
        obs, info = self.sim.reset(seeds=seeds, mask=mask)
        if mask is None:
            self._autoreset[:] = False
            self._agent_ended[:] = False
        else:
            self._autoreset[mask] = False
            self._agent_ended[mask] = False
        self._ready = True
        if self.render_mode == "human":
            self.render()
        return obs, self._infos.vector(info, mask, False, self.decode_risk_events)

    def step(self, actions: Any):
        """Step every environment (autoresetting those that ended on the previous step)."""
        if not self._ready:
            raise ConfigError("step() called before reset(); call reset() first.")
        _write_actions(self.sim, actions, self._action_shape)
        reset_mask = self._autoreset
        obs, info = _step_with_autoreset(self.sim, reset_mask)
        rewards, terminations, truncations = self._infos.outcomes(info)
        if np.count_nonzero(reset_mask):
            self._agent_ended[reset_mask] = False
            rewards[reset_mask] = 0.0
            terminations[reset_mask] = False
            truncations[reset_mask] = False
        # An environment is over when every agent is terminated or truncated. The time limit truncates all
        # agents of an environment together, so only a termination before it needs the per-agent reduction.
        done = truncations[:, 0].copy()
        any_terminated = np.count_nonzero(terminations) > 0
        if any_terminated:
            done |= (terminations | truncations).all(axis=1)
        self._autoreset = done
        infos = self._infos.vector(info, None, False, self.decode_risk_events)
        if any_terminated or np.count_nonzero(done):
            ended = (terminations | truncations) & ~self._agent_ended
            self._agent_ended |= ended
            shape = (self.num_envs, self.num_agents)
            for k, a in zip(
                *np.nonzero(ended)
            ):  # each agent's episode summary when it ends, as ArenaEnv gives it
                _merge_info(
                    infos, {"episode": self.sim.episode_summary(int(a), int(k))}, (int(k), int(a)), shape
                )
        if self.render_mode == "human":
            self.render()
        return obs, rewards, terminations, truncations, infos

    def render(self) -> tuple[str, ...] | None:
        if self.render_mode is None or not self._ready:
            return None
        texts = tuple(render_text(self.sim, self.possible_agents, k) for k in range(self.num_envs))
        if self.render_mode == "ansi":
            return texts
        print("\n\n".join(texts))
        return None

    def close(self) -> None:
        self.sim.close()
        self.closed = True

    def __repr__(self) -> str:
        return f"ArenaVecEnv(num_envs={self.num_envs}, agents={self.num_agents}, assets={self.sim.n_assets})"


__all__ = ["ArenaVecEnv", "PortfolioVectorEnv"]
