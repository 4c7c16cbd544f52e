"""``render_mode="rgb_array"``: draw an arena's current state as an RGB image (matplotlib Agg, no window).

:func:`render_rgb_array` draws, for environment ``env_index`` of a :class:`~wealtharena_env.sim.Simulation`:

* left: each agent's equity (portfolio value / initial cash) so far in the episode, against the
  equal-weight, daily-rebalanced, cost-free benchmark of the assets (dashed);
* right: each agent's current weights (assets, then cash in grey) as horizontal stacked bars.

The equity curves are the episode's whole value history, which the Simulation records when it is built with
``track_values=True`` (the envs do so for ``render_mode="rgb_array"``); for a Simulation without it, the
curves are made of the values seen by the calls to this function. matplotlib is imported lazily (extra
``plot``); no pyplot state or window is created, so it is safe in headless training jobs and threads.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Default image size in pixels (width, height) and resolution.
DEFAULT_SIZE = (800, 400)
DPI = 100

_HISTORY: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _import_matplotlib():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        from gymnasium.error import DependencyNotInstalled

        raise DependencyNotInstalled(
            "render_mode='rgb_array' needs matplotlib: pip install 'wealtharena-env[plot]'"
        ) from exc
    return Figure, FigureCanvasAgg


def _history(
    sim: Any, env_index: int, step: int, values: np.ndarray, initial: np.ndarray
) -> tuple[list, list]:
    per_sim = _HISTORY.setdefault(sim, {})
    steps, vals = per_sim.get(env_index, ([], []))
    if not steps or step < steps[-1] or step == 0:
        steps, vals = [0], [initial.copy()]
    if step != steps[-1]:
        steps.append(step)
        vals.append(values.copy())
    per_sim[env_index] = (steps, vals)
    return steps, vals


def render_rgb_array(
    sim: Any, agent_names: Sequence[str], env_index: int = 0, size: tuple[int, int] = DEFAULT_SIZE
) -> np.ndarray:
    """The current state of environment ``env_index`` of ``sim`` as an ``(H, W, 3)`` uint8 image.

    Args:
        sim: a :class:`~wealtharena_env.sim.Simulation`.
        agent_names: labels of the agents, in the simulation's agent order.
        env_index: which environment of the batch to draw.
        size: ``(width, height)`` in pixels (default 800 x 400).
    """
    Figure, FigureCanvasAgg = _import_matplotlib()
    width, height = size
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    canvas = FigureCanvasAgg(fig)
    started = bool(getattr(sim, "_started", np.ones(sim.batch_size, dtype=bool))[env_index])
    cfg = sim.config
    if not started:
        fig.text(
            0.5, 0.5, "WealthArena: call reset() to start an episode", ha="center", va="center", fontsize=14
        )
    else:
        step = int(sim.steps[env_index])
        initial = sim.initial_cash
        values = np.array(sim.portfolio_values[env_index], dtype=np.float64)
        history = getattr(sim, "value_history", None)
        if history is not None:  # the whole episode, recorded by the Simulation
            steps, vals = list(range(step + 1)), history[env_index, :, : step + 1].T
        else:  # a Simulation built without track_values: the values seen at the renders so far
            steps, vals = _history(sim, env_index, step, values, initial)
        close = np.asarray(sim.closes(env_index), dtype=np.float64)
        bench = (
            np.concatenate([[1.0], np.cumprod((close[1:] / close[:-1]).mean(axis=1))])
            if len(close)
            else [1.0]
        )
        ax_eq, ax_w = fig.add_axes((0.08, 0.13, 0.46, 0.75)), fig.add_axes((0.72, 0.13, 0.26, 0.75))
        equity = np.asarray(vals) / initial[None, :]
        for a, name in enumerate(agent_names):
            ax_eq.plot(
                steps, equity[:, a], lw=1.6, label=str(name), marker="o" if len(steps) < 3 else None, ms=3
            )
        ax_eq.plot(np.arange(len(bench)), bench, "k--", lw=1.0, label="equal weight")
        ax_eq.axhline(1.0, color="#999", lw=0.6)
        ax_eq.set_xlim(0, max(cfg.episode_length, 1))
        ax_eq.set_xlabel("step")
        ax_eq.set_ylabel("equity (x initial)")
        ax_eq.set_title(f"WealthArena  step {step}/{cfg.episode_length}", fontsize=11)
        ax_eq.legend(fontsize=7, loc="upper left", ncol=2)
        ax_eq.grid(alpha=0.3)
        price = close[-1]
        n = sim.n_assets
        weights = np.zeros((len(agent_names), n + 1))
        for a in range(len(agent_names)):
            value = values[a]
            if value > 0:
                weights[a, :n] = sim.holdings[env_index, a] * price / value
                weights[a, n] = sim.cash[env_index, a] / value
        from matplotlib import colormaps

        cmap = colormaps["tab20"]
        left = np.zeros(len(agent_names))
        ypos = np.arange(len(agent_names))
        for j in range(n + 1):
            color = "#bbbbbb" if j == n else cmap(j % 20)
            w = np.clip(weights[:, j], 0.0, None)
            ax_w.barh(ypos, w, left=left, color=color, edgecolor="white", linewidth=0.3)
            left += w
        # a long label ("conservative_0 (min_variance)") breaks before its parenthesis, so it stays clear of
        # the equity chart
        ax_w.set_yticks(ypos, [str(a).replace(" (", "\n(") for a in agent_names], fontsize=7)
        ax_w.invert_yaxis()
        ax_w.set_xlim(0, max(1.0, float(left.max()) if left.size else 1.0))
        ax_w.set_xlabel("weight (assets, cash in grey)")
        ax_w.set_title("current weights", fontsize=11)
    canvas.draw()
    image = np.asarray(canvas.buffer_rgba())[..., :3].copy()
    return image


__all__ = ["DEFAULT_SIZE", "render_rgb_array"]
