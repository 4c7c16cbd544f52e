"""Shared pieces of the env adapters: spaces, info dicts and the text render. No maths here."""

from __future__ import annotations

from operator import itemgetter
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


_SCALAR_GETTER = itemgetter(*(col for _, col in _SCALAR_INFO))
_SCALAR_KEYS = tuple(name for name, _ in _SCALAR_INFO)


def _info_dict(
    values: list[float], weights: np.ndarray, events: np.ndarray, assets: tuple[str, ...],
    # bound once as fast locals (this runs for every agent on every step)
    keys: tuple[str, ...] = _SCALAR_KEYS, getter: Any = _SCALAR_GETTER,
    term_names: tuple[str, ...] = kr.TERM_NAMES,
    rule_names: tuple[str, ...] = kk.RULE_NAMES, in_nan: int = ks.IN_NAN_ACTIONS,
    in_clipped: int = ks.IN_CLIPPED_ACTIONS, in_cooldown: int = ks.IN_COOLDOWN, in_terms: int = ks.IN_TERMS,
    in_events: int = ks.IN_N_EVENTS,
) -> dict[str, Any]:
    """One agent's info dict from its scalar columns (a list), its weights row and its info row's event block.

    ``assets`` is the tickers followed by ``"portfolio"`` (event asset index -1 picks the last entry).
    """
    agent = dict(zip(keys, getter(values)))
    agent["nan_actions"] = int(values[in_nan])
    agent["clipped_actions"] = int(values[in_clipped])
    agent["breaker_cooldown"] = int(values[in_cooldown])
    agent["weights"] = weights
    agent["reward_terms"] = dict(zip(term_names, values[in_terms:]))
    n_events = int(values[in_events])
    if n_events:
        flat = events[: 3 * n_events].tolist()
        agent["risk_events"] = [
            {"rule": rule_names[int(flat[k])], "asset": assets[int(flat[k + 1])], "weight_removed": flat[k + 2]}
            for k in range(0, len(flat), 3)
        ]
    else:
        agent["risk_events"] = []
    return agent


def agent_infos(
    info: np.ndarray, tickers: tuple[str, ...], indices: list[int] | range, scalars: list[list[float]] | None = None
) -> list[dict[str, Any]]:
    """The info dicts of the agents ``indices`` of one environment, from its (A, I) info array (fresh per step).

    ``scalars`` may pass ``info[:, :IN_WEIGHTS].tolist()`` when the caller already has it.

    ``risk_events`` lists every intervention of the risk layer this step as dicts ``{"rule", "asset",
    "weight_removed"}`` (``asset`` is a ticker, or ``"portfolio"`` for portfolio-wide rules).
    """
    end_weights = ks.IN_WEIGHTS + len(tickers) + 1
    if scalars is None:
        scalars = info[:, : ks.IN_WEIGHTS].tolist()
    weights = info[:, ks.IN_WEIGHTS:end_weights]
    events = info[:, end_weights:]
    assets = (*tickers, "portfolio")
    build = _info_dict
    return [build(scalars[i], weights[i], events[i], assets) for i in indices]


def agent_info(row: np.ndarray, tickers: tuple[str, ...]) -> dict[str, Any]:
    """The info dict of one agent from its row of the info array (see :func:`agent_infos`)."""
    end_weights = ks.IN_WEIGHTS + len(tickers) + 1
    return _info_dict(row[: ks.IN_WEIGHTS].tolist(), row[ks.IN_WEIGHTS:end_weights], row[end_weights:],
                      (*tickers, "portfolio"))


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
