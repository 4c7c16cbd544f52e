"""League-style co-player sampling for training on multi-agent tasks (Impact-v0), evaluation held out.

In a multi-agent task the learner plays its focal seats while co-players fill the others. Training against
one fixed population overfits to it; a league draws the co-players of every training episode from a
population of populations, and prioritised fictitious self-play (PFSP, as in AlphaStar) draws more often the
ones the learner still loses to. :class:`CoPlayerSampler` does both:

* ``weighting="uniform"``: every population with probability ``1 / n`` (one ``rng.integers(n)`` per draw);
* ``weighting="pfsp"``: ``p_j ∝ exp(-x_j / temperature)``, a softmax of the negative win rate
  ``x_j = (wins_j + 1/2) / (games_j + 1)`` of the learner against population ``j`` (a population never played
  counts as a coin flip, 1/2); :meth:`CoPlayerSampler.record` adds a result (1 win, 1/2 tie, 0 loss).

**The evaluation stays held out.** The co-player populations a task evaluates on
(``Task.scenarios[*].background``, :mod:`.tasks`) must never be trained against: the sampler refuses, with a
:class:`~wealtharena_env.errors.ConfigError`, any population that *is* one (same name, or the same policy in
every seat) and, by default (``hold_out="policies"``), any population that seats a policy an evaluation
population uses (the held-out co-players are the policies, as in Melting Pot, not only their combinations).
The task's published ``training_backgrounds`` and the learner's own snapshots (``path/model.zip``, any spec
:func:`~.policies.load_policy` takes) are what it is for. Without a task, the evaluation populations of every
published task are held out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from wealtharena_env.errors import ConfigError
from wealtharena_env.leaderboard.tasks import TASKS, Background, Task, get_task

WEIGHTINGS = ("uniform", "pfsp")
HOLD_OUT = ("policies", "populations")


def _policy_key(spec: Any) -> str:
    """A seat's policy as compared with the evaluation populations' (``baseline:x`` is ``x``)."""
    text = str(spec).strip()
    return text.split(":", 1)[1] if text.startswith("baseline:") else text


def held_out_backgrounds(task: Task | str | None = None) -> list[Background]:
    """The evaluation co-player populations of ``task`` (default: of every published task)."""
    tasks = [get_task(task) if isinstance(task, str) else task] if task is not None else list(TASKS.values())
    out: list[Background] = []
    for t in tasks:
        assert t is not None
        out.extend(s.background for s in t.scenarios if s.background is not None)
    return out


def pfsp_probabilities(wins: np.ndarray, games: np.ndarray, temperature: float) -> np.ndarray:
    """``p_j ∝ exp(-x_j / temperature)`` with ``x_j = (wins_j + 1/2) / (games_j + 1)`` (module docstring)."""
    rate = (np.asarray(wins, dtype=np.float64) + 0.5) / (np.asarray(games, dtype=np.float64) + 1.0)
    logits = -rate / temperature
    weights = np.exp(logits - logits.max())
    return weights / weights.sum()


class CoPlayerSampler:
    """Draws the co-player population of each training episode, uniformly or by PFSP, never an evaluation one.

    Arguments:
        populations: the training populations: :class:`~.tasks.Background` s or ``(name, {seat: spec})``
            pairs (a spec is a baseline name or anything :func:`~.policies.load_policy` takes).
        task: the task whose evaluation populations are held out (a :class:`~.tasks.Task` or its key;
            default: every published task's).
        weighting: ``"uniform"`` or ``"pfsp"``.
        temperature: PFSP's softmax temperature (smaller: the hardest populations dominate more; 0.25 makes a
            population the learner beats 30 % of the time ~5x as likely as one it beats 70 % of the time).
        hold_out: ``"policies"`` (default) refuses a population seating any policy of an evaluation
            population; ``"populations"`` only one equal to an evaluation population.

    :meth:`sample` returns a :class:`~.tasks.Background`; :meth:`add` grows the league (e.g. a snapshot of
    the learner), checked like the initial populations.
    """

    def __init__(
        self,
        populations: Sequence[Background | tuple[str, Mapping[str, Any]]],
        *,
        task: Task | str | None = None,
        weighting: str = "uniform",
        temperature: float = 0.25,
        hold_out: str = "policies",
    ):
        if weighting not in WEIGHTINGS:
            raise ConfigError(f"unknown weighting {weighting!r}; choose one of {list(WEIGHTINGS)}.")
        if hold_out not in HOLD_OUT:
            raise ConfigError(f"unknown hold_out {hold_out!r}; choose one of {list(HOLD_OUT)}.")
        if not (np.isfinite(temperature) and temperature > 0):
            raise ConfigError(f"temperature must be finite and > 0, got {temperature!r}.")
        self.weighting = weighting
        self.temperature = float(temperature)
        self.hold_out = hold_out
        self.held_out = held_out_backgrounds(task)
        self.populations: list[Background] = []
        self.wins = np.zeros(0)
        self.games = np.zeros(0)
        for population in populations:
            self.add(population)
        if not self.populations:
            raise ConfigError("a co-player sampler needs at least one training population.")

    def _as_background(self, population: Background | tuple[str, Mapping[str, Any]]) -> Background:
        if isinstance(population, Background):
            return population
        try:
            name, mapping = population
            return Background(str(name), tuple((str(a), str(p)) for a, p in dict(mapping).items()))
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"a population is a Background or a (name, {{seat: policy}}) pair, got {population!r}."
            ) from exc

    def check(self, population: Background) -> None:
        """Raise :class:`~wealtharena_env.errors.ConfigError` if ``population`` is (or, with
        ``hold_out="policies"``, seats a policy of) an evaluation population."""
        seats = {a: _policy_key(p) for a, p in population.seats}
        for held in self.held_out:
            held_seats = {a: _policy_key(p) for a, p in held.seats}
            if population.name == held.name or seats == held_seats:
                raise ConfigError(
                    f"co-player population {population.name!r} is the evaluation population {held.name!r}; "
                    "evaluation populations stay held out: train against the task's training_backgrounds."
                )
        if self.hold_out == "policies":
            held_policies = {_policy_key(p) for held in self.held_out for _, p in held.seats}
            leaked = sorted(set(seats.values()) & held_policies)
            if leaked:
                raise ConfigError(
                    f"co-player population {population.name!r} seats {leaked}, which evaluation populations "
                    f"use (held out: {sorted(held_policies)}); train against other policies, or pass "
                    "hold_out='populations' to hold out only the evaluation populations themselves."
                )

    def add(self, population: Background | tuple[str, Mapping[str, Any]]) -> Background:
        """Add a population to the league (refused if held out or if its name is taken)."""
        background = self._as_background(population)
        if not background.seats:
            raise ConfigError(f"co-player population {background.name!r} seats nobody.")
        if any(p.name == background.name for p in self.populations):
            raise ConfigError(f"the league already has a population named {background.name!r}.")
        self.check(background)
        self.populations.append(background)
        self.wins = np.append(self.wins, 0.0)
        self.games = np.append(self.games, 0.0)
        return background

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.populations]

    def probabilities(self) -> np.ndarray:
        """``(n,)`` each population's probability of being drawn next."""
        n = len(self.populations)
        if self.weighting == "uniform":
            return np.full(n, 1.0 / n)
        return pfsp_probabilities(self.wins, self.games, self.temperature)

    def sample(self, rng: np.random.Generator) -> Background:
        """One population, drawn with ``rng``."""
        if self.weighting == "uniform":
            return self.populations[int(rng.integers(len(self.populations)))]
        cumulative = np.cumsum(self.probabilities())
        index = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
        return self.populations[min(index, len(self.populations) - 1)]

    def record(self, name: str, result: float) -> None:
        """Add one game against population ``name``: ``result`` 1 (the learner won), 1/2 (tie) or 0 (lost),
        or any value in between (a share of focal seats that won)."""
        if name not in self.names:
            raise ConfigError(f"no population named {name!r} in the league {self.names}.")
        if not (np.isfinite(result) and 0.0 <= result <= 1.0):
            raise ConfigError(f"a result lies in [0, 1] (1 win, 0 loss), got {result!r}.")
        j = self.names.index(name)
        self.wins[j] += float(result)
        self.games[j] += 1.0

    def win_rates(self) -> dict[str, float]:
        """The learner's smoothed win rate against each population (1/2 before any game)."""
        rate = (self.wins + 0.5) / (self.games + 1.0)
        return dict(zip(self.names, rate.tolist()))


__all__ = ["HOLD_OUT", "WEIGHTINGS", "CoPlayerSampler", "held_out_backgrounds", "pfsp_probabilities"]
