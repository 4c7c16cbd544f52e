"""Shared pieces of the env adapters: spaces, info dicts and the text render. No maths here."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
from gymnasium import spaces

from wealtharena_env.config import ArenaConfig
from wealtharena_env.errors import ConfigError
from wealtharena_env.kernels import reward as kr
from wealtharena_env.kernels import risk as kk
from wealtharena_env.kernels import step as ks
from wealtharena_env.sim import Simulation

#: Env keyword arguments that go to the historical-data loader rather than to ArenaConfig.
DATA_KWARGS = ("split", "splits", "adjust", "data_options")

# Keys of the scalar part of an agent's info, in info-array column order.
_SCALAR_INFO = (
    ("reward", ks.IN_REWARD),
    ("portfolio_value", ks.IN_VALUE),
    ("cash", ks.IN_CASH),
    ("cost", ks.IN_COST),
    ("turnover", ks.IN_TURNOVER),
    ("drawdown", ks.IN_DRAWDOWN),
    ("nan_actions", ks.IN_NAN_ACTIONS),
    ("clipped_actions", ks.IN_CLIPPED_ACTIONS),
    ("buy_fill_fraction", ks.IN_BUY_FILL_FRACTION),
    ("volatility", ks.IN_VOLATILITY),
    ("var", ks.IN_VAR),
    ("cvar", ks.IN_CVAR),
    ("breaker_cooldown", ks.IN_COOLDOWN),
)


def check_render_mode(metadata: dict[str, Any], render_mode: str | None) -> None:
    """Raise :class:`ConfigError` unless ``render_mode`` is None or one of ``metadata["render_modes"]``."""
    if render_mode is not None and render_mode not in metadata["render_modes"]:
        raise ConfigError(f"render_mode must be one of {metadata['render_modes']} or None, got {render_mode!r}.")


def render_env(sim: Simulation, names: list[str] | tuple[str, ...], render_mode: str | None) -> Any:
    """What a single env's ``render()`` returns: None, the text table (``"ansi"``; ``"human"`` prints it), or
    an RGB image (``"rgb_array"``, matplotlib from the ``plot`` extra, imported lazily)."""
    if render_mode is None:
        return None
    if render_mode == "rgb_array":
        from wealtharena_env.render import render_rgb_array

        return render_rgb_array(sim, names)
    text = render_text(sim, names)
    if render_mode == "ansi":
        return text
    print(text)
    return None


def observation_space(sim: Simulation) -> spaces.Box:
    bound = np.float32(sim.config.observation_clip)
    return spaces.Box(low=-bound, high=bound, shape=(sim.obs_size,), dtype=np.float32)


def action_space(config: ArenaConfig, n_assets: int) -> spaces.Space:
    if config.action_type == "continuous":
        return spaces.Box(low=-1.0, high=1.0, shape=(n_assets + 1,), dtype=np.float32)
    return spaces.MultiDiscrete(np.full(n_assets, 3, dtype=np.int64))


#: Scalar info keys whose values are Python ints (counts); the others are Python floats.
_INT_INFO = frozenset({"nan_actions", "clipped_actions", "breaker_cooldown"})


def _info_literal() -> str:
    """Source of the dict display of one agent's info, from the unpacked scalar columns ``c0, c1, ...``.

    Generated from :data:`_SCALAR_INFO` and ``kernels.reward.TERM_NAMES`` so that the keys follow the kernels'
    column layout; ``w`` (weights view) and ``events`` (the risk-event list expression) are filled in by the
    caller's code.
    """
    scalars = [f"{name!r}: int(c{col})" if name in _INT_INFO else f"{name!r}: c{col}" for name, col in _SCALAR_INFO]
    terms = ", ".join(f"{name!r}: c{ks.IN_TERMS + j}" for j, name in enumerate(kr.TERM_NAMES))
    return "{" + ", ".join(scalars) + ", 'weights': w, 'reward_terms': {" + terms + "}, 'risk_events': events}"


def _compile_info_builders() -> tuple[Any, Any, Any, Any]:
    """``(build_step, build_agents, build_first, build_row)``: see :class:`InfoBuilder`.

    One dict display per agent (the keys are constants, the values locals unpacked from one ``tolist()``
    row) costs a fraction of building the dict key by key; the source is generated once, here, so that it
    follows the column constants of ``kernels/step.py``.
    """
    columns = ", ".join(f"c{j}" for j in range(ks.IN_WEIGHTS)) + ","
    n_events = f"c{ks.IN_N_EVENTS}"
    literal = _info_literal()
    reward, terminated, truncated = f"c{ks.IN_REWARD}", f"c{ks.IN_TERMINATED} > 0.0", f"c{ks.IN_TRUNCATED} > 0.0"
    source = f"""
def build_step(obs, info, scalars, indices, keys, end, decode):
    weights = info[:, {ks.IN_WEIGHTS}:end]
    observations = {{}}
    rewards = {{}}
    terminations = {{}}
    truncations = {{}}
    infos = {{}}
    for i, key in zip(indices, keys):
        {columns} = scalars[i]
        observations[key] = obs[i]
        rewards[key] = {reward}
        terminations[key] = {terminated}
        truncations[key] = {truncated}
        w = weights[i]
        events = decode(info[i, end:end + 3 * int({n_events})].tolist()) if {n_events} else []
        infos[key] = {literal}
    return observations, rewards, terminations, truncations, infos


def build_agents(info, scalars, indices, keys, end, decode):
    weights = info[:, {ks.IN_WEIGHTS}:end]
    infos = {{}}
    for i, key in zip(indices, keys):
        {columns} = scalars[i]
        w = weights[i]
        events = decode(info[i, end:end + 3 * int({n_events})].tolist()) if {n_events} else []
        infos[key] = {literal}
    return infos


def build_first(end, decode, info):
    {columns} = info[0, 0, :{ks.IN_WEIGHTS}].tolist()
    w = info[0, 0, {ks.IN_WEIGHTS}:end]
    events = decode(info[0, 0, end:end + 3 * int({n_events})].tolist()) if {n_events} else []
    return {literal}, {reward}, {terminated}, {truncated}


def build_row(row, end, decode):
    {columns} = row[:{ks.IN_WEIGHTS}].tolist()
    w = row[{ks.IN_WEIGHTS}:end]
    events = decode(row[end:end + 3 * int({n_events})].tolist()) if {n_events} else []
    return {literal}, {reward}, {terminated}, {truncated}
"""
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<{__name__} info builders>", "exec"), namespace)  # noqa: S102 - constant source
    return namespace["build_step"], namespace["build_agents"], namespace["build_first"], namespace["build_row"]


_build_step, _build_agents, _build_first, _build_row = _compile_info_builders()


class InfoBuilder:
    """Builds the agents' info dicts from a Simulation's info array; one per env (it binds the tickers).

    ``risk_events`` lists every intervention of the risk layer this step as dicts ``{"rule", "asset",
    "weight_removed"}`` (``asset`` is a ticker, or ``"portfolio"`` for portfolio-wide rules); it is decoded
    only for agents whose event count is not 0. Every call returns new dicts and lists; ``weights`` is a
    view of the (fresh) info array.
    """

    __slots__ = ("tickers", "end_weights", "decode", "first")

    def __init__(self, tickers: tuple[str, ...]):
        self.tickers = tickers
        self.end_weights = ks.IN_WEIGHTS + len(tickers) + 1
        assets = (*tickers, "portfolio")
        # float code (as the info array stores it) -> name; plain dicts (their lookups are the fast ones)
        asset_of = {float(k): name for k, name in enumerate(assets)}
        asset_of[-1.0] = "portfolio"
        rule_of = {float(k): name for k, name in enumerate(kk.RULE_NAMES)}
        rule_names = tuple(kk.RULE_NAMES)

        def decode(flat: list[float]) -> list[dict[str, Any]]:
            """``[rule, asset, weight_removed] * n`` (floats) -> the ``risk_events`` list."""
            it = iter(flat)
            try:
                return [{"rule": rule_of[r], "asset": asset_of[a], "weight_removed": w}
                        for r, a, w in zip(it, it, it)]
            except KeyError:  # a code that is not a table entry: index the names as integers
                it = iter(flat)
                return [{"rule": rule_names[int(r)], "asset": assets[int(a)], "weight_removed": w}
                        for r, a, w in zip(it, it, it)]

        self.decode = decode
        #: ``first(info)``: ``(info dict, reward, terminated, truncated)`` of agent 0 of environment 0 of a
        #: (B, A, I) info array, read in place (single-agent envs; a partial of the generated builder, so no
        #: Python frame of its own).
        self.first = partial(_build_first, self.end_weights, decode)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return InfoBuilder, (self.tickers,)  # pickle / deepcopy rebuild it (the decoder is a closure)

    def step(
        self, obs: np.ndarray, info: np.ndarray, scalars: list[list[float]], indices: Any, keys: Any
    ) -> tuple[dict[Any, np.ndarray], dict[Any, float], dict[Any, bool], dict[Any, bool], dict[Any, dict[str, Any]]]:
        """``(observations, rewards, terminations, truncations, infos)`` dicts of a parallel env's step for the
        agents ``indices`` (``keys`` their dict keys, in the same order), from one environment's (A, D) obs
        and (A, I) info arrays (both fresh per step) and ``scalars = info[:, :IN_WEIGHTS].tolist()``."""
        return _build_step(obs, info, scalars, indices, keys, self.end_weights, self.decode)

    def agents(
        self, info: np.ndarray, scalars: list[list[float]], indices: Any, keys: Any
    ) -> dict[Any, dict[str, Any]]:
        """``{key: info dict}`` of the agents ``indices`` (``keys`` their dict keys, in the same order) of one
        environment, from its (A, I) info array (fresh per step) and ``scalars = info[:, :IN_WEIGHTS].tolist()``."""
        return _build_agents(info, scalars, indices, keys, self.end_weights, self.decode)

    def row(self, row: np.ndarray) -> dict[str, Any]:
        """The info dict of one agent from its row of the info array."""
        return _build_row(row, self.end_weights, self.decode)[0]


def episode_summary(sim: Simulation, agent_index: int, env_index: int = 0) -> dict[str, Any]:
    """Totals of one agent's episode so far: costs, turnover, sanitised actions, risk events per rule."""
    state = sim.agent_state[env_index, agent_index]
    counts = state[ks.AG_EVENT_COUNTS: ks.AG_EVENT_COUNTS + kk.N_RULES]
    return {
        "costs": float(state[ks.AG_COST_TOTAL]),
        "turnover": float(state[ks.AG_TURNOVER_TOTAL]),
        "nan_actions": int(state[ks.AG_NAN_TOTAL]),
        "clipped_actions": int(state[ks.AG_CLIPPED_TOTAL]),
        "risk_event_counts": {name: int(c) for name, c in zip(kk.RULE_NAMES, counts)},
    }


def copy_action(entries: np.ndarray, row: np.ndarray, action: Any, agent: Any, n_action: int) -> None:
    """Copy one agent's action into ``entries`` (a cached view of ``row[:n_action]``, its row of the action
    buffer): directly for a NumPy array of the right shape (the common case, checked cheaply), otherwise
    through :func:`write_action`, which converts or raises the :class:`ConfigError`. The caller marks the
    agent as having acted."""
    if type(action) is np.ndarray and action.shape == entries.shape:
        try:
            entries[...] = action
            return
        except (ValueError, TypeError):  # e.g. strings: write_action raises the ConfigError
            pass
    write_action(row, action, agent, n_action)


def write_action(buffer: np.ndarray, action: Any, agent: Any, n_action: int) -> None:
    """Copy one agent's action into its row of the simulation's action buffer (last column = acted).

    Values are not checked here (NaN / inf / out of range are sanitised and counted by the kernels);
    a wrong shape or a non-numeric action is a programming error and raises :class:`ConfigError`.
    """
    if getattr(action, "shape", None) != (n_action,):
        try:
            array = np.asarray(action, dtype=np.float64)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"action for agent {agent!r} must be numeric of shape ({n_action},): {exc}") from None
        if array.shape != (n_action,):
            raise ConfigError(f"action for agent {agent!r} must have shape ({n_action},), got {array.shape}.")
        action = array
    try:
        buffer[:n_action] = action
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"action for agent {agent!r} must be numeric of shape ({n_action},): {exc}") from None
    buffer[n_action] = 1.0


def render_text(sim: Simulation, names: list[str] | tuple[str, ...], env_index: int = 0) -> str:
    """A plain-text table of the agents' portfolios at the current bar of environment ``env_index``."""
    cfg = sim.config
    step = int(sim.clock[env_index, ks.CLK_STEP])
    lines = [f"WealthArena  step {step}/{cfg.episode_length}  assets {sim.n_assets}  agents {sim.n_agents}"]
    lines.append(f"{'agent':<16}{'value':>14}{'return':>9}{'cash':>7}{'drawdown':>10}{'costs':>11}  top holding")
    bar = cfg.warmup + step
    close = sim.bars[env_index, bar, 3]
    for a, name in enumerate(names):
        state = sim.agent_state[env_index, a]
        value = state[ks.AG_VALUE]
        initial = sim.agent_params[a, ks.AP_INITIAL_CASH]
        positions = sim.holdings[env_index, a] * close
        top = int(np.argmax(positions)) if positions.size else 0
        top_text = f"{sim.tickers[top]} {positions[top] / value:6.1%}" if value > 0 and positions[top] > 0 else "-"
        lines.append(
            f"{name:<16}{value:>14,.2f}{value / initial - 1:>9.2%}{state[ks.AG_CASH] / value:>7.0%}"
            f"{1 - value / state[ks.AG_PEAK]:>10.2%}{state[ks.AG_COST_TOTAL]:>11,.2f}  {top_text}"
        )
    return "\n".join(lines)
