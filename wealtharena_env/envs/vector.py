"""Batched vector envs: K environments in ONE :class:`~wealtharena_env.sim.Simulation`, one kernel call per step.

* :class:`PortfolioVectorEnv` — a :class:`gymnasium.vector.VectorEnv` of K single-agent portfolio envs
  (``gymnasium.make_vec("WealthArena/Portfolio-v0", num_envs=K)``).
* :class:`ArenaVecEnv` — K multi-agent arenas as arrays ``(K, A, ...)`` for trainers that batch agents
  themselves (CleanRL-style parameter sharing).

Both follow Gymnasium 1.x ``NEXT_STEP`` autoreset: the step after environment ``k``'s episode ended resets
environment ``k`` (continuing its own generator, never reseeding it), returns its reset observation and reset
info, reward 0, ``terminated = truncated = False``, and ignores its action. Environment ``k`` of a vector seeded
``s`` (``reset(seed=s)`` seeds environment ``k`` with ``s + k``) is bit-identical to a single
:class:`~wealtharena_env.envs.portfolio.PortfolioEnv` / :class:`~wealtharena_env.envs.arena.ArenaEnv` seeded
``s + k`` and reset without a seed after each episode.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from wealtharena_env.config import AgentProfile, ArenaConfig, arena_config
from wealtharena_env.envs._common import DATA_KWARGS, action_space, observation_space, render_text
from wealtharena_env.errors import ConfigError
from wealtharena_env.kernels import step as ks
from wealtharena_env.sim import Simulation

# Scalar info keys, their info-array column and the dtype a gymnasium SyncVectorEnv would give them.
_INFO_COLUMNS: tuple[tuple[str, int, type], ...] = (
    ("reward", ks.IN_REWARD, np.float64),
    ("portfolio_value", ks.IN_VALUE, np.float64),
    ("cash", ks.IN_CASH, np.float64),
    ("cost", ks.IN_COST, np.float64),
    ("turnover", ks.IN_TURNOVER, np.float64),
    ("drawdown", ks.IN_DRAWDOWN, np.float64),
    ("nan_actions", ks.IN_NAN_ACTIONS, np.int64),
    ("clipped_actions", ks.IN_CLIPPED_ACTIONS, np.int64),
    ("buy_fill_fraction", ks.IN_BUY_FILL_FRACTION, np.float64),
)


# ---------------------------------------------------------------------------------------------- engine glue
_SIM_STEP_RESETS = "reset_mask" in inspect.signature(Simulation.step).parameters


def _step_with_autoreset(sim: Simulation, reset_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step every environment except those in ``reset_mask``, which start a new episode instead.

    One step-kernel call over the whole batch (environments whose episode is over are skipped by the
    kernel and leave their state untouched), then the new episodes of the ``reset_mask`` environments are
    drawn from their own generators (a Python loop over those environments only: the market source needs
    their ``numpy.random.Generator``) and reset by one ``reset_batch`` call writing only their rows.

    This is the ``Simulation`` API the vector envs need: when ``Simulation.step`` accepts ``reset_mask``
    (reset those environments from their own generators, step the others, one kernel call), it is used;
    until then the fallback below reads the simulation's arrays directly.
    """
    if _SIM_STEP_RESETS:
        return sim.step(reset_mask=reset_mask)
    b, a = sim.batch_size, sim.n_agents
    obs = np.empty((b, a, sim.obs_size), dtype=np.float32)
    info = np.empty((b, a, sim.info_size))
    any_reset = bool(reset_mask.any())
    if any_reset:
        # An episode may end by termination before the time limit: make the kernel skip it all the same.
        sim.clock[reset_mask, ks.CLK_STEP] = sim.config.episode_length
    finished = sim._step_kernel(sim.bars, sim.zret, sim.holdings, sim.agent_state, sim.asset_state, sim.clock,
                                sim.actions, sim.params, obs, info, sim.scratch)
    n_reset = int(reset_mask.sum()) if any_reset else 0
    if finished != n_reset:  # pragma: no cover - guarded by the adapters' own bookkeeping
        raise ConfigError(f"{finished - n_reset} environment(s) stepped past the end of their episode.")
    if any_reset:
        for k in np.flatnonzero(reset_mask):
            rng = sim._rngs[k]
            if rng is None:  # pragma: no cover - every environment is reset before its first step
                rng = sim._rngs[k] = np.random.default_rng()
            regimes = sim.source.sample(rng, sim.bars[k])
            sim.regimes[k] = regimes if regimes is not None else -1
            sim._started[k] = True
        ks.reset_batch(reset_mask, sim.bars, sim.zret, sim.holdings, sim.agent_state, sim.asset_state, sim.clock,
                       sim.params, sim.agent_params, obs, info, sim.scratch)
    return obs, info


def _seed_list(seed: int | Sequence[int | None] | None, num_envs: int) -> list[int | None]:
    """Gymnasium's vector seeding: ``None`` -> all unseeded, ``s`` -> ``[s, s + 1, ...]``, or a list of K."""
    if seed is None:
        return [None] * num_envs
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return [int(seed) + k for k in range(num_envs)]
    seeds = list(seed)
    if len(seeds) != num_envs:
        raise ConfigError(f"reset got {len(seeds)} seeds for {num_envs} environments; give one int or {num_envs}.")
    return [None if s is None else int(s) for s in seeds]


def _reset_mask_option(options: dict | None, num_envs: int) -> np.ndarray | None:
    if not options or "reset_mask" not in options:
        return None
    mask = options["reset_mask"]
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.shape != (num_envs,):
        raise ConfigError(f"options['reset_mask'] must be a bool numpy array of shape ({num_envs},), got {mask!r}.")
    if not mask.any():
        raise ConfigError("options['reset_mask'] selects no environment.")
    return mask


def _write_actions(sim: Simulation, actions: Any, expected: tuple[int, ...]) -> None:
    """Copy a batch of raw actions into the simulation's action buffer, marking every agent as acting.

    Values are not checked (NaN / inf / out of range are sanitised and counted by the kernels); a wrong
    shape or a non-numeric batch raises :class:`ConfigError`.
    """
    try:
        array = np.asarray(actions, dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"actions must be numeric of shape {expected}: {exc}") from None
    if array.shape != expected:
        raise ConfigError(f"actions must have shape {expected}, got {array.shape}.")
    sim.actions[..., :-1] = array.reshape(sim.actions[..., :-1].shape)
    sim.actions[..., -1] = 1.0


def _batched_infos(info: np.ndarray, n_assets: int, present: np.ndarray | None, squeeze: bool) -> dict[str, Any]:
    """Gymnasium's vector-info dict from the ``(K, A, I)`` info array (agent axis dropped if ``squeeze``).

    Each key maps to an array with the environment axis first, paired with a ``_key`` bool mask (which
    environments carry it: all of them, or ``present`` after a partial reset). ``info`` must be a fresh
    array owned by the caller: the float entries are views of it (no copy), so every call returns new
    memory; each mask is its own row of one fresh bool block.
    """
    num_envs = info.shape[0]
    if present is not None:
        info[~present] = 0.0  # environments not reset carry no info (zeros, as gymnasium's SyncVectorEnv)
    rows = info[:, 0, :] if squeeze else info
    masks = np.ones((len(_INFO_COLUMNS) + 3, num_envs), dtype=np.bool_)
    if present is not None:
        masks[:] = present
    out: dict[str, Any] = {}
    for j, (name, col, dtype) in enumerate(_INFO_COLUMNS):
        values = rows[..., col]
        out[name] = values if dtype is np.float64 else values.astype(dtype)
        out["_" + name] = masks[j]
    j = len(_INFO_COLUMNS)
    out["weights"] = rows[..., ks.IN_WEIGHTS: ks.IN_WEIGHTS + n_assets + 1]
    out["_weights"] = masks[j]
    out["reward_terms"] = {"profit": rows[..., ks.IN_LOG_RETURN], "_profit": masks[j + 1]}
    out["_reward_terms"] = masks[j + 2]
    return out


def _portfolio_config(config: ArenaConfig | None, risk_profile: str, initial_cash: float,
                      kwargs: dict[str, Any]) -> ArenaConfig:
    """The one-agent config :class:`~wealtharena_env.envs.portfolio.PortfolioEnv` builds from the same arguments."""
    if config is None or "agents" not in kwargs and len(config.agents) != 1:
        kwargs.setdefault("agents", (AgentProfile("agent", risk_profile=risk_profile, initial_cash=initial_cash),))  # type: ignore[arg-type]
    config = arena_config(base=config, **kwargs)
    if config.n_agents != 1:
        raise ConfigError(f"PortfolioVectorEnv has exactly one agent per env, the config has {config.n_agents}; "
                          "use ArenaVecEnv.")
    return config


def _check_num_envs(num_envs: Any) -> int:
    if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
        raise ConfigError(f"num_envs must be an integer >= 1, got {num_envs!r}.")
    return int(num_envs)


def _episode_kwargs(kwargs: dict[str, Any], max_episode_steps: int | None, max_cycles: int | None = None) -> None:
    for name, value in (("max_episode_steps", max_episode_steps), ("max_cycles", max_cycles)):
        if value is None:
            continue
        if kwargs.get("episode_length") not in (None, value):
            raise ConfigError(f"give either {name} or episode_length (they are the same), not both.")
        kwargs["episode_length"] = value


# ---------------------------------------------------------------------------------------------- Portfolio
class PortfolioVectorEnv(VectorEnv):
    """K single-agent portfolio envs (``WealthArena/Portfolio-v0``) stepped by one kernel call.

    ## Description
    The vectorised form of :class:`~wealtharena_env.envs.portfolio.PortfolioEnv`: the same market,
    execution, accounting and reward, for ``num_envs`` independent environments held in one
    :class:`~wealtharena_env.sim.Simulation` (batch size K). Batches of ``PARALLEL_THRESHOLD`` (64) or more
    step on threads (``prange``); results are bit-identical either way. Served by
    ``gymnasium.make_vec("WealthArena/Portfolio-v0", num_envs=K, **env_kwargs)``.

    ## Action Space
    ``batch_space(single_action_space, K)``: ``Box(-1, 1, (K, N + 1), float32)`` (continuous) or
    ``MultiDiscrete`` of shape ``(K, N)`` (``action_type="discrete"``); the per-env space is that of
    ``PortfolioEnv``.

    ## Observation Space
    ``Box(-clip, clip, (K, (W + 3) N + 4), float32)``; row ``k`` is environment ``k``'s observation (the
    table in :class:`~wealtharena_env.envs.arena.ArenaEnv`). Every call returns fresh arrays.

    ## Rewards
    ``(K,)`` float64, ``log(V_{t+1} / V_t)`` per environment (0 on an autoreset step).

    ## Starting State
    As ``PortfolioEnv``. ``reset(seed=s)`` seeds environment ``k`` with ``s + k``; ``seed=[s_0, ...]`` one
    seed each; ``options={"reset_mask": mask}`` resets only the masked environments.

    ## Episode End
    ``terminations`` / ``truncations`` are ``(K,)`` bool. Autoreset is ``AutoresetMode.NEXT_STEP``
    (``metadata["autoreset_mode"]``): the step after an env's episode ended resets it, returns its reset
    observation and reset info, reward 0, both flags False, and ignores its action.

    ## Info
    Gymnasium's vector-info convention: ``infos[key]`` is an array over environments and ``infos["_" + key]``
    a bool mask of the environments that carry it. Keys: ``reward``, ``portfolio_value``, ``cash``, ``cost``,
    ``turnover``, ``drawdown``, ``buy_fill_fraction`` (float64, (K,)), ``nan_actions``, ``clipped_actions``
    (int64, (K,)), ``weights`` (float64, (K, N + 1)), ``reward_terms`` ({"profit": (K,)}) — exactly what a
    ``SyncVectorEnv`` of ``PortfolioEnv`` returns.

    ## Arguments
    ``num_envs`` (K), ``config``, ``data``, ``render_mode`` (``"ansi"``: ``render()`` returns one text table
    per env; ``"human"`` prints them), ``risk_profile``, ``initial_cash``, ``parallel`` (force threads on or
    off), ``max_episode_steps`` (alias of ``episode_length``) and any ``ArenaConfig`` field as keyword.

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

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["human", "ansi"], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        config: ArenaConfig | None = None,
        *,
        data: Any = None,
        render_mode: str | None = None,
        risk_profile: str = "balanced",
        initial_cash: float = 1_000_000.0,
        parallel: bool | None = None,
        max_episode_steps: int | None = None,
        **kwargs: Any,
    ):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}.")
        self.num_envs = _check_num_envs(num_envs)
        _episode_kwargs(kwargs, max_episode_steps)
        data_kwargs = {k: kwargs.pop(k) for k in DATA_KWARGS if k in kwargs}
        config = _portfolio_config(config, risk_profile, initial_cash, kwargs)
        self.sim = Simulation(config, batch_size=self.num_envs, data=data, parallel=parallel, **data_kwargs)
        self.config = self.sim.config
        self.render_mode = render_mode
        self.single_observation_space = observation_space(self.sim)
        self.single_action_space = action_space(self.config, self.sim.n_assets)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._action_shape = (self.num_envs, *self.single_action_space.shape)
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
        return obs.reshape(self.num_envs, -1), _batched_infos(info, self.sim.n_assets, mask, True)

    def step(self, actions: Any):
        if not self._ready:
            raise ConfigError("step() called before reset(); call reset() first.")
        _write_actions(self.sim, actions, self._action_shape)
        reset_mask = self._autoreset
        obs, info = _step_with_autoreset(self.sim, reset_mask)
        rows = info[:, 0, :]
        rewards = rows[:, ks.IN_REWARD].copy()
        terminations = rows[:, ks.IN_TERMINATED] > 0
        truncations = rows[:, ks.IN_TRUNCATED] > 0
        if reset_mask.any():
            rewards[reset_mask] = 0.0
            terminations[reset_mask] = False
            truncations[reset_mask] = False
        self._autoreset = terminations | truncations
        infos = _batched_infos(info, self.sim.n_assets, None, True)
        if self.render_mode == "human":
            self.render()
        return obs.reshape(self.num_envs, -1), rewards, terminations, truncations, infos

    def render(self) -> tuple[str, ...] | None:
        if self.render_mode is None or not self._ready:
            return None
        texts = tuple(render_text(self.sim, self.config.agent_names, k) for k in range(self.num_envs))
        if self.render_mode == "ansi":
            return texts
        print("\n\n".join(texts))
        return None


# ---------------------------------------------------------------------------------------------- Arena
class ArenaVecEnv:
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
    ``(K, A, D)`` float32 (fresh each call), ``D = (W + 3) N + 4``; :attr:`single_observation_space` is one
    agent's ``Box``, :attr:`observation_space` the ``(K, A, D)`` one.

    ## Rewards
    ``(K, A)`` float64 log returns net of costs (0 on an autoreset step).

    ## Episode End
    ``terminations`` / ``truncations`` ``(K, A)`` bool. An environment ends when all its agents are
    terminated or truncated, and autoresets on the next step (``AutoresetMode.NEXT_STEP``): reset
    observation and info, rewards 0, flags False, actions ignored.

    ## Info
    ``infos[key]`` ``(K, A)`` arrays (``weights`` ``(K, A, N + 1)``) with ``infos["_" + key]`` ``(K,)``
    masks, the keys of :class:`PortfolioVectorEnv`.

    ## Arguments
    ``num_envs`` (K), ``config``, ``data``, ``render_mode`` (``"ansi"``/``"human"``), ``max_cycles`` /
    ``episode_length``, ``parallel``, ``n_assets``, ``agents``, ``impact`` and any ``ArenaConfig`` field.

    ```python
    from wealtharena_env.envs.vector import ArenaVecEnv
    envs = ArenaVecEnv(num_envs=8, n_assets=30)
    obs, infos = envs.reset(seed=0)                    # obs (8, 5, D)
    obs, rewards, terms, truncs, infos = envs.step(envs.action_space.sample())
    ```

    ## Version History
    * v0: initial release.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["human", "ansi"], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        config: ArenaConfig | None = None,
        *,
        data: Any = None,
        render_mode: str | None = None,
        max_cycles: int | None = None,
        parallel: bool | None = None,
        **kwargs: Any,
    ):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}.")
        self.num_envs = _check_num_envs(num_envs)
        _episode_kwargs(kwargs, None, max_cycles)
        data_kwargs = {k: kwargs.pop(k) for k in DATA_KWARGS if k in kwargs}
        config = arena_config(base=config, **kwargs)
        self.sim = Simulation(config, batch_size=self.num_envs, data=data, parallel=parallel, **data_kwargs)
        self.config = self.sim.config
        self.render_mode = render_mode
        self.possible_agents = list(self.config.agent_names)
        self.agents = self.possible_agents[:]
        self.num_agents = len(self.possible_agents)
        self.single_observation_space = observation_space(self.sim)
        self.single_action_space = action_space(self.config, self.sim.n_assets)
        self.observation_space = batch_space(batch_space(self.single_observation_space, self.num_agents), self.num_envs)
        self.action_space = batch_space(batch_space(self.single_action_space, self.num_agents), self.num_envs)
        self._action_shape = (self.num_envs, self.num_agents, *self.single_action_space.shape)
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
        else:
            self._autoreset[mask] = False
        self._ready = True
        if self.render_mode == "human":
            self.render()
        return obs, _batched_infos(info, self.sim.n_assets, mask, False)

    def step(self, actions: Any):
        """Step every environment (autoresetting those that ended on the previous step)."""
        if not self._ready:
            raise ConfigError("step() called before reset(); call reset() first.")
        _write_actions(self.sim, actions, self._action_shape)
        reset_mask = self._autoreset
        obs, info = _step_with_autoreset(self.sim, reset_mask)
        rewards = info[:, :, ks.IN_REWARD].copy()
        terminations = info[:, :, ks.IN_TERMINATED] > 0
        truncations = info[:, :, ks.IN_TRUNCATED] > 0
        if reset_mask.any():
            rewards[reset_mask] = 0.0
            terminations[reset_mask] = False
            truncations[reset_mask] = False
        # An environment is over when every agent is terminated or truncated. The time limit truncates all
        # agents of an environment together, so only a termination before it needs the per-agent reduction.
        done = truncations[:, 0].copy()
        if terminations.any():
            done |= (terminations | truncations).all(axis=1)
        self._autoreset = done
        infos = _batched_infos(info, self.sim.n_assets, None, False)
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
        self.closed = True

    def __repr__(self) -> str:
        return (f"ArenaVecEnv(num_envs={self.num_envs}, agents={self.num_agents}, "
                f"assets={self.sim.n_assets})")


__all__ = ["ArenaVecEnv", "PortfolioVectorEnv"]
