"""Shared pieces of the env adapters: spaces, actions and the text render. No maths, no kernel layout here."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from gymnasium import spaces

from wealtharena_env.config import ArenaConfig
from wealtharena_env.data.loaders import POLICY_OPTIONS
from wealtharena_env.errors import ActionError, ConfigError
from wealtharena_env.sim import Simulation

#: Env keyword arguments that go to the historical-data source rather than to ArenaConfig.
DATA_KWARGS = ("split", "splits", "adjust", "data_options")
#: Keyword arguments of the data loader (``wealtharena_env.data.load_market_data``) the envs accept directly,
#: as if given in ``data_options``.
LOADER_KWARGS = ("tickers", "start", "end", *POLICY_OPTIONS)


def pop_data_kwargs(kwargs: dict[str, Any], data: Any) -> dict[str, Any]:
    """Remove the historical-data arguments from an env's ``kwargs`` and return them for the Simulation.

    The loader's options (:data:`LOADER_KWARGS`) join ``data_options``; with ``data=``, an explicit
    ``n_assets=k`` keeps the first ``k`` tickers of the data (an error if it has fewer).
    """
    out = {k: kwargs.pop(k) for k in DATA_KWARGS if k in kwargs}
    loader = {k: kwargs.pop(k) for k in LOADER_KWARGS if k in kwargs}
    if loader:
        both = set(loader) & set(out.get("data_options") or {})
        if both:
            raise ConfigError(f"{sorted(both)} given both directly and in data_options; give each once.")
        out["data_options"] = {**(out.get("data_options") or {}), **loader}
    if data is not None and kwargs.get("n_assets") is not None:
        out["n_assets"] = kwargs.pop("n_assets")
    return out


def available_render_modes(has_module: Any = None) -> list[str]:
    """The render modes this installation can serve: ``"rgb_array"`` only when matplotlib (the ``plot`` extra)
    is importable, so conformance checks on a base install do not ask for an image they cannot get."""
    import importlib.util

    find = has_module or (lambda name: importlib.util.find_spec(name) is not None)
    return ["human", "ansi", "rgb_array"] if find("matplotlib") else ["human", "ansi"]


def check_reset_options(options: dict | None, accepted: tuple[str, ...] = ()) -> None:
    """``reset(options=...)``: keys the env does not take are ignored with a warning that names them (not an
    error: PettingZoo's and Gymnasium's conformance tests pass arbitrary options)."""
    unknown = sorted(set(options or {}) - set(accepted))
    if unknown:
        takes = f"only {list(accepted)}" if accepted else "no options"
        warnings.warn(
            f"reset() ignored the options {unknown}: this env takes {takes}; the market and episode are "
            "set by the constructor's arguments.",
            UserWarning,
            stacklevel=3,
        )


def check_render_mode(metadata: dict[str, Any], render_mode: str | None) -> None:
    """Raise :class:`ConfigError` unless ``render_mode`` is None or one of ``metadata["render_modes"]``."""
    if render_mode is not None and render_mode not in metadata["render_modes"]:
        raise ConfigError(
            f"render_mode must be one of {metadata['render_modes']} or None, got {render_mode!r}."
        )


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


def action_space(config: ArenaConfig, n_assets: int) -> spaces.Box | spaces.MultiDiscrete:
    if config.action_type == "continuous":
        return spaces.Box(low=-1.0, high=1.0, shape=(n_assets + 1,), dtype=np.float32)
    return spaces.MultiDiscrete(np.full(n_assets, 3, dtype=np.int64))


def copy_action(buffer: np.ndarray, action: Any, agent: Any, n_action: int) -> None:
    """Copy one agent's action into its row of the simulation's action buffer and mark it as acted (last
    column): directly for a NumPy array of the right shape (the common case, checked cheaply), otherwise
    through :func:`write_action`, which converts or raises the
    :class:`~wealtharena_env.errors.ActionError`."""
    if type(action) is np.ndarray and action.shape == (n_action,):
        try:
            buffer[:n_action] = action
            buffer[n_action] = 1.0
            return
        except (ValueError, TypeError):  # e.g. strings: write_action raises the ConfigError
            pass
    write_action(buffer, action, agent, n_action)


def write_action(buffer: np.ndarray, action: Any, agent: Any, n_action: int) -> None:
    """Copy one agent's action into its row of the simulation's action buffer (last column = acted).

    Values are not checked here (NaN / inf / out of range are sanitised and counted by the kernels);
    a wrong shape or a non-numeric action is a programming error and raises
    :class:`~wealtharena_env.errors.ActionError`.
    """
    if getattr(action, "shape", None) != (n_action,):
        try:
            array = np.asarray(action, dtype=np.float64)
        except (ValueError, TypeError) as exc:
            raise ActionError(
                f"action for agent {agent!r} must be numeric of shape ({n_action},): {exc}"
            ) from None
        if array.shape != (n_action,):
            raise ActionError(f"action for agent {agent!r} must have shape ({n_action},), got {array.shape}.")
        action = array
    try:
        buffer[:n_action] = action
    except (ValueError, TypeError) as exc:
        raise ActionError(
            f"action for agent {agent!r} must be numeric of shape ({n_action},): {exc}"
        ) from None
    buffer[n_action] = 1.0


def render_text(sim: Simulation, names: list[str] | tuple[str, ...], env_index: int = 0) -> str:
    """A plain-text table of the agents' portfolios at the current bar of environment ``env_index``."""
    cfg = sim.config
    step = int(sim.steps[env_index])
    lines = [f"WealthArena  step {step}/{cfg.episode_length}  assets {sim.n_assets}  agents {sim.n_agents}"]
    lines.append(
        f"{'agent':<16}{'value':>14}{'return':>9}{'cash':>7}{'drawdown':>10}{'costs':>11}  top holding"
    )
    close = sim.closes(env_index)[-1]
    values, cash, peaks, costs = (
        x[env_index] for x in (sim.portfolio_values, sim.cash, sim.peak_values, sim.total_costs)
    )
    initial = sim.initial_cash
    for a, name in enumerate(names):
        value = values[a]
        positions = sim.holdings[env_index, a] * close
        top = int(np.argmax(positions)) if positions.size else 0
        top_text = (
            f"{sim.tickers[top]} {positions[top] / value:6.1%}" if value > 0 and positions[top] > 0 else "-"
        )
        lines.append(
            f"{name:<16}{value:>14,.2f}{value / initial[a] - 1:>9.2%}{cash[a] / value:>7.0%}"
            f"{1 - value / peaks[a]:>10.2%}{costs[a]:>11,.2f}  {top_text}"
        )
    return "\n".join(lines)
