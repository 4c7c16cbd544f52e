"""Map arena agents to RLlib policies by episode or by market regime (RLlib 2.60, new API stack).

RLlib's new API stack calls ``policy_mapping_fn(agent_id, episode, **kwargs)`` once per agent and episode,
when the agent first appears, and keeps the answer for the episode. So a mapping function assigns policies
(RLModules) *per episode*; this example shows the two useful ways, on top of :mod:`rllib_train`'s
``CoPlayerArena`` (the learning seats of ``Impact-v0`` against the task's published training co-players):

* ``--mapping episode`` (:class:`EpisodeRotation`): league-style rotation. Each episode draws one of several
  assignments ``{seat: module}`` with given weights, from a hash of the episode's ID (the same draw for every
  agent of the episode, in every process). The default trains a second ``"<profile>_alt"`` module per profile
  that drives the seat in a quarter of the episodes.
* ``--mapping regime`` (:class:`RegimeTaggedArena` and :func:`regime_mapping_fn`): one module per risk profile
  and market regime. The env tags each learning seat's agent ID with the regime of the episode's first
  observation (``balanced_0@stressed``), from a causal regime gate
  (:class:`~wealtharena_env.leaderboard.regime_gate.VolatilityRegime` by default: the market-volatility
  feature above 20 % a year; any ``filter_step(probs, x)`` source such as a fitted Gaussian HMM filter through
  ``--regime module:factory``), and the mapping function sends ``balanced_0@stressed`` to the module
  ``balanced_stressed``.

Within an episode the driver of a seat can change too, but on the policy side, not in RLlib's mapping:
:class:`~wealtharena_env.leaderboard.assignment.PolicyAssignment` switches policies by a schedule or a regime
step by step (evaluation, or co-players inside an env).

    python examples/rllib_assignment.py --mapping regime --iterations 20
    python examples/rllib_assignment.py --mapping episode --iterations 20 --num-env-runners 2

Every other option is :mod:`rllib_train`'s (``--task``, ``--algo``, ``--lr``, ...). The script trains and
prints the per-module returns; evaluate a module with
``wealtharena evaluate --policy <out>/checkpoint:<module>``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

if "numba" not in sys.modules:  # as in rllib_train.py: one Numba thread beside the learner
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # examples/common.py: tasks, tracking, evaluation
import rllib_train  # CoPlayerArena, build_config, parse_args, profile_of

REGIME_ENV_NAME = "wealtharena_arena_regimes"
REGIMES = ("calm", "stressed")
SEPARATOR = "@"


def tag(seat: str, regime: str) -> str:
    """``("balanced_0", "stressed")`` -> ``"balanced_0@stressed"``."""
    return f"{seat}{SEPARATOR}{regime}"


def seat_of(agent_id: str) -> str:
    """The arena seat of an (optionally regime-tagged) agent ID."""
    return str(agent_id).split(SEPARATOR, 1)[0]


def regime_of(agent_id: str) -> str | None:
    """The regime tag of an agent ID (``None`` when untagged)."""
    parts = str(agent_id).split(SEPARATOR, 1)
    return parts[1] if len(parts) == 2 else None


def episode_fraction(episode: Any) -> float:
    """A number in [0, 1) fixed by the episode's ID (``episode.id_``), the same in every process (Python's
    ``hash`` of a string is salted per process); 0 when there is no episode."""
    key = getattr(episode, "id_", None)
    if key is None:
        return 0.0
    digest = hashlib.sha256(str(key).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


class EpisodeRotation:
    """A ``policy_mapping_fn`` that draws one assignment ``{seat: module}`` per episode (league rotation).

    ``assignments[j]`` maps every seat to a module; episode ``e`` plays assignment ``j`` with probability
    ``weights[j]`` (normalised), drawn from :func:`episode_fraction` (so every agent of an episode agrees, in
    every env-runner process). Agent IDs may carry a regime tag (:func:`seat_of` strips it).
    """

    def __init__(self, assignments: Sequence[Mapping[str, str]], weights: Sequence[float] | None = None):
        if not assignments:
            raise ValueError("EpisodeRotation needs at least one assignment {seat: module}")
        self.assignments = [dict(a) for a in assignments]
        seats = set(self.assignments[0])
        if any(set(a) != seats for a in self.assignments):
            raise ValueError("every assignment must map the same seats")
        w = np.ones(len(assignments)) if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != (len(assignments),) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(f"weights must be {len(assignments)} non-negative numbers with a positive sum")
        self.cumulative = np.cumsum(w / w.sum())

    @property
    def modules(self) -> list[str]:
        return sorted({m for a in self.assignments for m in a.values()})

    def index(self, episode: Any) -> int:
        """The assignment episode ``episode`` plays."""
        j = int(np.searchsorted(self.cumulative, episode_fraction(episode), side="right"))
        return min(j, len(self.assignments) - 1)

    def __call__(self, agent_id: str, episode: Any = None, **kwargs: Any) -> str:
        return self.assignments[self.index(episode)][seat_of(agent_id)]


def regime_mapping_fn(agent_id: str, episode: Any = None, **kwargs: Any) -> str:
    """``balanced_0@stressed`` -> ``balanced_stressed``: one module per risk profile and regime (an untagged
    ID maps to its profile's module, as in rllib_train.py)."""
    profile = rllib_train.profile_of(seat_of(agent_id))
    regime = regime_of(agent_id)
    return profile if regime is None else f"{profile}_{regime}"


try:
    from ray.rllib.env.multi_agent_env import MultiAgentEnv
except ImportError:  # RLlib not installed: --help still works
    MultiAgentEnv = object


class RegimeTaggedArena(MultiAgentEnv):
    """``rllib_train.CoPlayerArena`` whose learning seats' agent IDs carry the regime of the episode's start.

    At every reset a causal regime gate (:class:`~wealtharena_env.leaderboard.regime_gate.RegimeGate`) reads
    the first observation (the market part, the same for every seat) and picks a regime of ``regimes``; each
    learning seat ``s`` plays the episode as agent ``s@regime`` (so :func:`regime_mapping_fn` gives it that
    regime's module). Actions come back under the tagged IDs and go to the seats; everything else is
    ``CoPlayerArena``'s.

    ``env_config`` keys besides ``CoPlayerArena``'s: ``regime`` (``"volatility"`` or ``"module:factory"``),
    ``regime_options`` (the source's keyword arguments), ``regimes`` (names, one per regime state),
    ``signal`` (the observation signal fed to the source).
    """

    def __init__(self, env_config: dict[str, Any] | None = None):
        super().__init__()
        from wealtharena_env.leaderboard.observation import ObservationLayout
        from wealtharena_env.leaderboard.regime_gate import RegimeGate, load_regime_source

        config = dict(env_config or {})
        self.regimes = tuple(config.pop("regimes", REGIMES))
        source = load_regime_source(
            config.pop("regime", "volatility"), **dict(config.pop("regime_options", {}))
        )
        signal = config.pop("signal", None)
        self.inner = rllib_train.CoPlayerArena(_EnvContext(config, env_config))
        self.seats = list(self.inner.possible_agents)
        self.gate = RegimeGate(source, ObservationLayout.from_env(self.inner.env), len(self.regimes), signal)
        self.possible_agents = [tag(s, r) for r in self.regimes for s in self.seats]
        self.observation_spaces = {a: self.inner.observation_spaces[seat_of(a)] for a in self.possible_agents}
        self.action_spaces = {a: self.inner.action_spaces[seat_of(a)] for a in self.possible_agents}
        self.regime = self.regimes[0]
        self.agents: list[str] = []

    def _tagged(self, data: dict[str, Any]) -> dict[str, Any]:
        return {(k if k == "__all__" else tag(k, self.regime)): v for k, v in data.items()}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, infos = self.inner.reset(seed=seed, options=options)
        first = np.asarray(next(iter(obs.values())), dtype=np.float64)[None, :]
        _, regime = self.gate.start(first)
        self.regime = self.regimes[int(regime[0])]
        self.agents = [tag(a, self.regime) for a in self.inner.agents]
        infos = {a: {**info, "regime": self.regime} for a, info in infos.items()}
        return self._tagged(obs), self._tagged(infos)

    def step(self, action_dict: dict[str, Any]):
        obs, rewards, terminated, truncated, infos = self.inner.step(
            {seat_of(a): act for a, act in action_dict.items()}
        )
        self.agents = [tag(a, self.regime) for a in self.inner.agents]
        return tuple(self._tagged(d) for d in (obs, rewards, terminated, truncated, infos))

    def close(self):
        self.inner.close()


class _EnvContext(dict):
    """The config dict handed to ``CoPlayerArena``, with RLlib's ``worker_index`` / ``vector_index`` (its
    seeding reads them)."""

    def __init__(self, config: dict[str, Any], original: Any):
        super().__init__(config)
        self.worker_index = int(getattr(original, "worker_index", 0) or 0)
        self.vector_index = int(getattr(original, "vector_index", 0) or 0)


def regime_env_creator(env_config: dict[str, Any]) -> RegimeTaggedArena:
    return RegimeTaggedArena(env_config)


def rotation_for(learners: Sequence[str], share: float = 0.25) -> EpisodeRotation:
    """The default rotation: each learning seat's profile module, and in ``share`` of the episodes a second
    module ``"<profile>_alt"`` for every seat."""
    main = {s: rllib_train.profile_of(s) for s in learners}
    alt = {s: f"{rllib_train.profile_of(s)}_alt" for s in learners}
    return EpisodeRotation([main, alt], [1.0 - share, share])


def build_config(args: argparse.Namespace, task, learners: list[str], populations: list, mapping: str):
    """``rllib_train.build_config`` with the mapping of this example: ``"episode"`` or ``"regime"``."""
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    profiles = sorted({rllib_train.profile_of(a) for a in learners})
    config = rllib_train.build_config(args, task, profiles, learners, populations)
    if mapping == "episode":
        mapping_fn: Any = rotation_for(learners)
        modules = mapping_fn.modules
    elif mapping == "regime":
        mapping_fn = regime_mapping_fn
        modules = sorted(f"{p}_{r}" for p in profiles for r in REGIMES)
        env_config = {**config.env_config, "regime": args.regime, "regimes": list(REGIMES)}
        config.environment(REGIME_ENV_NAME, env_config=env_config)
    else:
        raise ValueError(f"mapping must be 'episode' or 'regime', got {mapping!r}")
    return config.multi_agent(policies=set(modules), policy_mapping_fn=mapping_fn).rl_module(
        rl_module_spec=MultiRLModuleSpec(rl_module_specs={m: RLModuleSpec() for m in modules})
    )


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, str]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=False)
    parser.add_argument("--mapping", choices=("episode", "regime"), default="regime")
    parser.add_argument(
        "--regime", default="volatility", help="regime source: 'volatility' or 'module:factory' (e.g. an HMM)"
    )
    own, rest = parser.parse_known_args(argv)
    if "-h" in rest or "--help" in rest:
        parser.print_help()
    args = rllib_train.parse_args(rest)
    args.regime = own.regime
    return args, own.mapping


def main(argv: list[str] | None = None) -> int:
    import pettingzoo
    import ray
    from ray.tune.registry import register_env

    args, mapping = parse_args(argv)
    task = common.resolve_task(args.task)
    if not common.is_multi_agent(task):
        raise SystemExit(f"{task.key} is single-agent; this example maps the seats of a multi-agent task")
    probe = pettingzoo.make("parallel", task.env_id, **common.train_kwargs(task, args.episode_length, None))
    agents = list(probe.possible_agents)
    probe.close()
    _, learners, populations = rllib_train.training_setup(task, agents, args.co_players, args.learn_seats)
    ray.init(num_cpus=args.num_cpus, include_dashboard=False, logging_level="ERROR")
    register_env(rllib_train.ENV_NAME, rllib_train.env_creator)
    register_env(REGIME_ENV_NAME, regime_env_creator)
    algo = build_config(args, task, learners, populations, mapping).build_algo()
    log = rllib_train.ReturnLog()
    for iteration in range(1, args.iterations + 1):
        print(log.line(log.update(iteration, algo.train()), args.reward_scale))
    run_dir = common.run_dir_for(args, f"rllib-{mapping}", task)
    algo.save_to_path(str((run_dir / "checkpoint").resolve()))
    print(f"checkpoint: {run_dir / 'checkpoint'}")
    algo.stop()
    ray.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
