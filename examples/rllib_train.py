"""Train RLlib (new API stack) on the multi-agent arena: one policy per risk profile; PPO, APPO or SAC.

Every learning agent of the arena is mapped to the policy of its risk profile by name (``policy_mapping_fn``:
``balanced_0`` -> ``"balanced"``, ``conservative_0`` and ``conservative_1`` -> ``"conservative"``, ...), so
the profiles — which differ in risk limits and in the risk aversion of their reward — learn different policies
while agents of the same profile share theirs. Actions are continuous (``Box``), so all three algorithms
apply: ``--algo ppo`` (default), ``--algo appo`` (asynchronous PPO: env runners sample while the learner
trains — the one to scale out) and ``--algo sac`` (off-policy, with RLlib's
``MultiAgentEpisodeReplayBuffer``). RLlib 2.60 has no A2C (it was removed with the old API stack):
use ``examples/sb3_train.py --algo a2c``.

**Who sits in the other seats.** ``Impact-v0`` is scored on its focal seats (``balanced_0``, ``aggressive_0``)
while the three other seats are played by *held-out* background populations of baselines. Training all five
seats by self-play prepares the focal policies for co-players that look like themselves, which the evaluation
never shows them (and makes the two conservative seats twins). So by default (``--co-players training``) the
script trains against the co-populations the task publishes for training (``IMPACT_TRAINING_BACKGROUNDS``:
every background seat ``equal_weight``, or every one ``random``): :class:`CoPlayerArena` is an RLlib
``MultiAgentEnv`` around the PettingZoo parallel env in which RLlib sees and trains only the learning seats
(``--learn-seats``, default the task's focal seats) while each other seat is played by a baseline
(:func:`~wealtharena_env.leaderboard.baselines.make_baseline`) of a population drawn afresh, uniformly, at
every episode. Co-players are part of the environment: their actions never enter a training batch. This is the
Melting Pot protocol (train with published co-players, evaluate with held-out ones), and it is cheaper than
self-play: the learner updates two seats' experience instead of five.
``--learn-seats balanced_0 aggressive_0 conservative_0`` also trains a conservative policy (``conservative_1``
and ``aggressive_1`` stay baselines). ``--co-players self-play`` restores the old setup: all five seats learn
(three policies, shared within a profile). Each episode is seeded from the task's published training seeds
(never an evaluation seed).

**Defaults** (chosen on Impact-v0 on 2 busy cores: ~7 min of training, 7.5 min with the evaluation;
docs/results/rllib_impact.md has the runs and the ablation behind them):

* *Rewards relative to the market.* The reward a learner sees is the env's composite reward (log return less
  the profile's risk and cost penalties) minus the log return of the equal-weight market over the same step
  (``--reward-benchmark equal_weight``), times 100 (``--reward-scale``: daily-return units are ~1e-3). The
  market's move is the same whatever the seat does (its own impact aside), so subtracting it changes no
  policy gradient in expectation, but it takes the market's common noise out of the returns PPO credits to
  each action: for a seat near equal weight the per-step standard deviation of the reward falls from 0.70 %
  to 0.27 % (aggressive seat) and from 0.55 % to 0.47 % (balanced seat, whose risk layer keeps ~25 % in
  cash). The logged episode returns are therefore *excess* utilities over the market's log return.
* *A policy that starts near equal weight.* The last layer of each policy's mean is scaled by 0.01
  (``--init-action-gain``), so the initial policy plays ~the zero action — equal weight over the assets and
  cash under the env's action mapping — whatever it observes, and its log standard deviation starts at -1
  (std 0.37, ``--init-log-std``). With RLlib's initialisation (std 1, an observation-dependent mean) the
  trained policies churned ~4 % a step, three times equal weight, and the aggressive one lost to random.
* PPO with 4,000 env steps per iteration from 4 arenas sampled together (``--envs-per-env-runner 4``: one
  batched forward pass for 4 arenas), 100 iterations (400 k env steps, 800 k focal-agent steps), learning
  rate 1e-4 (3e-4 raised the turnover to ~3.6 % for no gain), 4 epochs of 1,000-step minibatches, ``gamma``
  0.95 and GAE ``lambda`` 0.9 (with ``rebalance_rate`` 0.1 an action acts for ~10 steps; a longer horizon only
  adds the market's noise), entropy coefficient 0.

    python examples/rllib_train.py --task Impact-v0

What it reaches (2026-12-06, full protocol, paired over the 64 evaluation episodes, on the synthetic market's
previous random stream): both focal policies beat ``random`` (balanced +0.07 Sharpe [+0.05, +0.10], aggressive
+0.06 [+0.02, +0.10]) and tie ``equal_weight`` (+0.02 [-0.00, +0.04], +0.00 [-0.03, +0.04]) at 1.5-1.8x its
turnover. They do so by *staying* near where they start: against ``neutral`` (the zero action) they differ by
+0.01 and -0.01, within noise. The edge a policy could still find on this task is small (the best baseline,
``risk_parity``, scores ~0.08 above equal weight) and PPO does not find it in this budget; nor does a
conservative policy learn to hold more cash than an aggressive one (the risk layer, not the policy, carries
the profiles' differences). With the risk charged on the requested target instead
(``--env-kwargs '{"reward": {"risk": 0, "target_risk_per_risk_aversion": 2}}'``, below;
``--gamma 0.9 --lambda 0.9 --entropy-coeff 0.005``) it does: on today's random stream, two training seeds,
every profile's policy beats ``random``, the conservative one holds 51-59 % cash against the aggressive one's
23-26 % (mean max drawdown 6.8-7.5 % against 11.3-11.8 %), and the conservative one pays 0.06-0.07 Sharpe
against equal weight (docs/results/rllib_impact.md).

**Logged returns.** RLlib reports returns of *completed* episodes only. With 252-step episodes, an iteration
that samples fewer steps per arena than an episode's length completes no episode at all (e.g. 32 env runners
x 4 arenas sharing a 2,000-step batch: ~16 steps per arena per iteration, a first episode after ~16
iterations), and the console printed ``nan`` for every policy. The script now warns when an iteration samples
fewer steps per arena than an episode, prints ``no episode completed yet`` instead of ``nan``, and logs the
latest completed-episode returns per policy with the number of episodes completed so far (also in
``summary.json``'s ``training_curve``). They are sums of the *scaled training reward* (see above), per
policy; the leaderboard evaluation at the end scores the portfolios instead.

**On a Ray cluster** the same script scales out: start Ray on the nodes (``ray start --head`` on one,
``ray start --address=<head-ip>:6379`` on the others, with ``wealtharena-env`` installed on every node),
then run the script on the head node with ``--address auto`` and more env runners (each is one process
sampling its own arenas; ``--envs-per-env-runner`` arenas each)::

    python examples/rllib_train.py --address auto --num-env-runners 32 --envs-per-env-runner 4 --algo appo

or from outside the cluster through Ray Client (``--address ray://<head-ip>:10001``). Without ``--address``
the script starts a local Ray instance with ``--num-cpus`` CPUs. The driver waits ``--sample-timeout-s``
(default 300 s, RLlib's is 60) for each remote env runner's samples: a fresh runner compiles the env's Numba
kernels in its first sample. Every Ray worker gets this process's ``NUMBA_NUM_THREADS`` / ``OMP_WAIT_POLICY``.
Ray 2.60's ``ray start`` enables token authentication when ``~/.ray/auth_token`` exists; a driver given an
explicit address (``--address <ip>:<port>`` or ``RAY_ADDRESS``) then needs ``RAY_AUTH_MODE=token`` in its
environment (``--address auto`` on the head node finds the token itself).
``--env-kwargs '{"reward_mode": "log_return"}'`` changes the training env (as in every example).

**Reward weights per profile.** ``--env-kwargs '{"reward": {...}}'`` changes the reward weights of every agent
of the arena, each starting from its own profile's preset (``REWARD_PRESETS``):
``{"risk": 0, "target_risk": 20}`` for every profile;
``{"conservative": {...}, "balanced": {...}, "aggressive": {...}}`` per profile (over the common fields);
``{"risk": 0, "target_risk_per_risk_aversion": 5}`` charges the risk of the *requested* target at 5 x each
profile's own risk aversion (conservative 50, balanced 20, aggressive 7.5) instead of the risk held after the
risk layer (docs/reward.md, docs/training.md). Training only: the evaluation scores returns, not rewards.

**Evaluation.** The leaderboard gives one policy every focal seat, so each trained profile's policy is
evaluated on its own with :func:`~wealtharena_env.leaderboard.evaluate.evaluate` (what
``wealtharena evaluate --policy <run>/checkpoint:<profile>`` runs) on the task's held-out seeds and background
populations, and so are the ``--compare`` entries on the same seeds (default ``equal_weight``, ``random`` and
``neutral``, the zero action the initialised policies play). Because every entry plays the same markets, the
comparison table also gives *paired* differences of the focal Sharpe ratio (per scenario and seed,
stratified-bootstrap 95 % CI) and the probability of improvement.

Outputs in ``<out>/<run-name>/``: ``checkpoint/`` (``Algorithm.from_checkpoint``; each policy's RLModule under
``checkpoint/learner_group/learner/rl_module/<profile>``), ``results.json`` (leaderboard results of the policy
of the task's first focal seat; every other trained profile's policy in ``results_<profile>.json``, the
baselines in ``results_baseline_<name>.json``), ``comparison.md`` (the table), ``config.json``,
``summary.json`` (with the per-iteration training curve) and TensorBoard logs (``--track mlflow`` /
``--track wandb`` add MLflow / W&B).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

# Numba's OpenMP workers spin beside the learner (steps 4-5x slower on shared cores); values you set win.
if "numba" not in sys.modules:  # only before numba reads them (changing them later makes numba raise)
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # examples/common.py: tasks, tracking, evaluation

ALGOS = ("ppo", "appo", "sac")
ENV_NAME = "wealtharena_arena"
CO_PLAYERS = ("training", "self-play")

#: Default ``sample_timeout_s`` of the env runners. RLlib's 60 s lost whole samples on the cluster path ("No
#: samples returned from remote workers"): the first ``sample()`` of every new env-runner process compiles the
#: env's Numba kernels when the node's cache is cold (~35 s for one process on 2 busy cores, longer with many
#: runners compiling at once on a node), and a busy node steps slower still.
SAMPLE_TIMEOUT_S = 300.0

#: Environment variables every Ray worker gets (env runners, learners, possibly on other nodes): one Numba
#: thread and passive OpenMP waiting, as in this process (see the top of the file).
WORKER_ENV_VARS = ("NUMBA_NUM_THREADS", "OMP_WAIT_POLICY")

#: Baselines evaluated beside the trained policies by default (same seeds, same scenarios). ``neutral`` is not
#: a leaderboard baseline: it always plays the zero action (equal weight over the assets and cash, the centre
#: of the env's action mapping), which is what the initialised policies play (``--init-action-gain``): the gap
#: between a trained policy and ``neutral`` is what training added.
COMPARE = ("equal_weight", "random", "neutral")
NEUTRAL = "neutral"


def neutral_policy(n_action: int):
    """The zero action for every observation (the env's default mapping: equal weight over the N assets
    and cash)."""

    def policy(obs: np.ndarray) -> np.ndarray:
        return np.zeros((np.asarray(obs).shape[0], n_action), dtype=np.float32)

    return policy


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--algo", choices=ALGOS + ("a2c",), default="ppo", help="RLlib algorithm (default ppo)"
    )
    parser.add_argument(
        "--co-players",
        choices=CO_PLAYERS,
        default=None,
        help="who plays the seats that do not learn: 'training' = baselines of the task's published "
        "training co-populations, drawn per episode (default when the task has them, as "
        "Impact-v0 does); 'self-play' = every seat learns",
    )
    parser.add_argument(
        "--learn-seats",
        nargs="+",
        default=None,
        help="with --co-players training: the seats RLlib trains (default: the task's focal seats; "
        "add conservative_0 to train a conservative policy too)",
    )
    parser.add_argument(
        "--iterations", type=int, default=100, help="training iterations (algo.train() calls)"
    )
    parser.add_argument(
        "--timesteps",
        type=int,
        default=None,
        help="stop after this many sampled env steps (default: only --iterations)",
    )
    parser.add_argument(
        "--train-batch-size", type=int, default=4000, help="env steps per learner update (PPO/APPO)"
    )
    parser.add_argument("--minibatch-size", type=int, default=1000, help="PPO/APPO minibatch, SAC batch size")
    parser.add_argument("--num-epochs", type=int, default=4, help="PPO epochs per batch")
    parser.add_argument("--lr", type=float, default=1e-4, help="learning rate (SAC: actor, critic and alpha)")
    parser.add_argument("--gamma", type=float, default=0.95)
    parser.add_argument("--lambda", dest="lambda_", type=float, default=0.9, help="GAE lambda (PPO/APPO)")
    parser.add_argument("--entropy-coeff", type=float, default=0.0, help="entropy bonus (PPO/APPO)")
    parser.add_argument("--clip-param", type=float, default=0.2, help="PPO clip of the probability ratio")
    parser.add_argument(
        "--vf-clip-param",
        type=float,
        default=10.0,
        help="PPO clip of the value loss (in scaled reward units)",
    )
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 64], help="MLP hidden sizes")
    parser.add_argument(
        "--init-log-std",
        type=float,
        default=-1.0,
        help="PPO/APPO: initial log standard deviation of the Gaussian policy (RLlib's is ~0: a "
        "std of 1 on the action mapping's logits (temperature 3) draws wildly different portfolios "
        "every step); 'nan' keeps RLlib's initialisation",
    )
    parser.add_argument(
        "--init-action-gain",
        type=float,
        default=0.01,
        help="PPO/APPO: the last layer of the policy's mean is scaled by this at the start, so the "
        "initial policy plays ~the zero action (equal weight over assets and cash) whatever "
        "it observes; 1 keeps RLlib's initialisation",
    )
    parser.add_argument(
        "--reward-scale",
        type=float,
        default=100.0,
        help="training rewards are multiplied by this (the reward is in daily-return units, ~1e-3)",
    )
    parser.add_argument(
        "--reward-benchmark",
        choices=("equal_weight", "none"),
        default="equal_weight",
        help="training rewards are the env's reward minus the log return of this benchmark over "
        "the same step (a control variate: the market's noise, shared by every portfolio, "
        "leaves the learner's returns; the policy gradient keeps its expectation)",
    )
    parser.add_argument("--learning-starts", type=int, default=1000, help="SAC: env steps before learning")
    parser.add_argument(
        "--rollout-fragment-length",
        type=int,
        default=None,
        help="env steps per sampling call (default: 'auto' for PPO, 50 for APPO, 1 for SAC, "
        "i.e. one SAC update per sampled step)",
    )
    parser.add_argument(
        "--min-steps-per-iteration",
        type=int,
        default=None,
        help="env steps an iteration samples at least (default: the algorithm's; SAC 100)",
    )
    parser.add_argument(
        "--address",
        default=None,
        help="Ray cluster to join: 'auto' (on a cluster node) or 'ray://<head>:10001' "
        "(default: start a local Ray)",
    )
    parser.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray (default: all)")
    parser.add_argument(
        "--num-env-runners",
        type=int,
        default=0,
        help="sampling processes (0: sample in the driver; APPO uses at least 1)",
    )
    parser.add_argument(
        "--envs-per-env-runner",
        type=int,
        default=4,
        help="arenas per env runner, stepped together (one batched forward pass)",
    )
    parser.add_argument(
        "--num-learners", type=int, default=0, help="learner processes (0: learn in the driver)"
    )
    parser.add_argument(
        "--sample-timeout-s",
        type=float,
        default=SAMPLE_TIMEOUT_S,
        help="seconds the driver waits for a remote env runner's sample() before discarding it "
        f"(default {SAMPLE_TIMEOUT_S:g}; RLlib's 60 is too short for the first sample of a "
        "fresh runner, which compiles the Numba kernels)",
    )
    parser.add_argument(
        "--compare",
        nargs="*",
        default=list(COMPARE),
        help="baselines evaluated on the same seeds for the comparison table (any `wealtharena "
        f"evaluate` baseline, or '{NEUTRAL}': always the zero action, what the initialised "
        f"policies play) (default: {' '.join(COMPARE)}; none: --compare)",
    )
    common.add_common_args(parser)
    parser.set_defaults(task="Impact-v0")
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------------------------- env
def profile_of(agent_id: str) -> str:
    """``"conservative_1"`` -> ``"conservative"``: the policy (RLModule) of an agent is its risk profile."""
    return agent_id.rsplit("_", 1)[0]


def policy_mapping_fn(agent_id, episode=None, **kwargs) -> str:
    return profile_of(agent_id)


try:
    from ray.rllib.env.multi_agent_env import MultiAgentEnv
except ImportError:  # RLlib not installed: --help still works, main() fails on `import ray` with the reason
    MultiAgentEnv = object


class CoPlayerArena(MultiAgentEnv):
    """An RLlib ``MultiAgentEnv``: a PettingZoo arena in which some seats learn and the others are baselines.

    RLlib sees only the learning seats (``learners``): their observations, scaled rewards, terminations and
    infos. Every other seat is played inside the env by a baseline policy of a co-population drawn uniformly
    at each reset from ``co_players`` (a list of ``{seat: baseline name}`` mappings, e.g. the task's published
    training backgrounds). With no co-players every seat learns (self-play).

    ``env_config`` keys: ``env_id`` (registered PettingZoo ID), ``reward_scale``, ``learners`` (seats RLlib
    trains; default all), ``co_players`` (list of ``[name, {seat: baseline}]``), ``seed`` (base seed),
    ``train_seeds`` (``[start, stop)``: the published training seeds each episode's market is drawn from); the
    rest are the env's keyword arguments.

    Seeding: the generator of episode seeds and population draws is seeded by the seed RLlib passes at the
    first reset (or ``seed``), the env runner's ``worker_index`` and the arena's ``vector_index``, so every
    arena of a run plays its own reproducible sequence of training markets and co-players.
    """

    def __init__(self, env_config: dict[str, Any] | None = None):
        super().__init__()
        import pettingzoo

        import wealtharena_env  # noqa: F401  (registers the IDs in this process: env runners on other nodes)
        from wealtharena_env.leaderboard.league import CoPlayerSampler

        env_config = env_config if env_config is not None else {}
        self._stream = (
            int(getattr(env_config, "worker_index", 0) or 0),
            int(getattr(env_config, "vector_index", 0) or 0),
        )
        config = dict(env_config)
        env_id = config.pop("env_id")
        self.reward_scale = float(config.pop("reward_scale", 1.0))
        self.reward_benchmark = config.pop("reward_benchmark", None) or None
        if self.reward_benchmark not in (None, "equal_weight"):
            raise ValueError(
                f"reward_benchmark must be None or 'equal_weight', got {self.reward_benchmark!r}"
            )
        learners = config.pop("learners", None)
        populations = config.pop("co_players", None) or []
        self._base_seed = int(config.pop("seed", 0) or 0)
        self.train_seeds = tuple(config.pop("train_seeds", (0, 100_000)))
        self.env = pettingzoo.make("parallel", env_id, **config)
        seats = list(self.env.possible_agents)
        self.learners = list(seats if learners is None else learners)
        unknown = [a for a in self.learners if a not in seats]
        if unknown or not self.learners:
            raise ValueError(
                f"learning seats {self.learners} must be a non-empty subset of the env's agents {seats}"
            )
        self.populations = [(str(name), dict(mapping)) for name, mapping in populations]
        others = [a for a in seats if a not in self.learners]
        for name, mapping in self.populations:
            missing = [a for a in others if a not in mapping]
            if missing:
                raise ValueError(
                    f"co-population {name!r} has no baseline for seats {missing}, which do not learn "
                    f"(learning seats: {self.learners}); add them to the learning seats or the population"
                )
        if others and not self.populations:
            raise ValueError(f"seats {others} do not learn and no co-population plays them")
        # draws a population per episode (uniformly) and refuses the evaluation populations (held out)
        self.sampler = CoPlayerSampler(self.populations) if self.populations else None
        self.possible_agents = list(self.learners)
        self.agents = list(self.learners)
        self.observation_spaces = {a: self.env.observation_space(a) for a in self.learners}
        self.action_spaces = {a: self.env.action_space(a) for a in self.learners}
        self._rng: np.random.Generator | None = None
        self._co: dict[str, Any] = {}
        self._obs: dict[str, Any] = {}
        self._t = 0
        self.population = None

    def _generator(self, seed: int | None) -> np.random.Generator:
        base = self._base_seed if seed is None else int(seed)
        return np.random.default_rng([abs(base), *self._stream])

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        from wealtharena_env.leaderboard.baselines import make_baseline

        if seed is not None or self._rng is None:
            self._rng = self._generator(seed)
        episode_seed = int(self._rng.integers(*self.train_seeds))
        self._co = {}
        self.population = None
        if self.sampler is not None:
            drawn = self.sampler.sample(self._rng)
            self.population, mapping = drawn.name, drawn.mapping
            self._co = {
                a: make_baseline(mapping[a], self.env, seed=episode_seed + 1 + i)
                for i, a in enumerate(self.env.possible_agents)
                if a not in self.learners
            }
        obs, infos = self.env.reset(seed=episode_seed)
        self._obs = obs
        self._t = 0
        self.agents = [a for a in self.learners if a in obs]
        infos = {
            a: {**infos.get(a, {}), "train_seed": episode_seed, "co_players": self.population}
            for a in self.agents
        }
        return {a: obs[a] for a in self.agents}, infos

    def step(self, action_dict: dict[str, Any]):
        actions = dict(action_dict)
        for a, policy in self._co.items():
            if a in self.env.agents:
                actions[a] = policy(np.asarray(self._obs[a]))
        obs, rewards, terminations, truncations, infos = self.env.step(actions)
        self._obs = obs
        benchmark = self.benchmark_log_return(self._t) if self.reward_benchmark else 0.0
        self._t += 1
        stepped = [a for a in self.agents if a in obs]
        out_obs = {a: obs[a] for a in stepped}
        out_rew = {a: (float(rewards[a]) - benchmark) * self.reward_scale for a in stepped}
        out_term = {a: bool(terminations[a]) for a in stepped}
        out_trunc = {a: bool(truncations[a]) for a in stepped}
        out_info = {a: infos[a] for a in stepped}
        self.agents = [a for a in stepped if not (out_term[a] or out_trunc[a]) and a in self.env.agents]
        over = not self.agents
        out_term["__all__"] = over and not any(out_trunc.values())
        out_trunc["__all__"] = over and any(out_trunc.values())
        return out_obs, out_rew, out_term, out_trunc, out_info

    def benchmark_log_return(self, t: int) -> float:
        """Log return of the equal-weight, daily-rebalanced, cost-free market over decision step ``t`` (the
        leaderboard's benchmark: mean close-to-close simple return of the N assets)."""
        sim = self.env.unwrapped.sim
        start = sim.config.warmup + t
        close = sim.closes(0, start, start + 2)
        return float(np.log(np.mean(close[1] / close[0])))

    def close(self):
        self.env.close()


def env_creator(env_config: dict[str, Any]):
    """RLlib's env factory (runs in every env runner process, possibly on other nodes)."""
    return CoPlayerArena(env_config)


def training_setup(task, agents: list[str], co_players: str | None, learn_seats: list[str] | None):
    """``(mode, learners, populations)`` of a run: which seats learn and who plays the others."""
    if co_players is None:
        co_players = "training" if task.training_backgrounds else "self-play"
    if co_players == "self-play":
        if learn_seats is not None:
            raise SystemExit("--learn-seats goes with --co-players training (in self-play every seat learns)")
        return co_players, list(agents), []
    if not task.training_backgrounds:
        raise SystemExit(f"{task.key} publishes no training co-populations; use --co-players self-play")
    learners = list(learn_seats) if learn_seats else list(task.focal_agents)
    unknown = [a for a in learners if a not in agents]
    if unknown:
        raise SystemExit(f"--learn-seats {unknown} are not agents of {task.key} ({agents})")
    populations = [[b.name, b.mapping] for b in task.training_backgrounds]
    for name, mapping in populations:
        missing = [a for a in agents if a not in learners and a not in mapping]
        if missing:
            raise SystemExit(
                f"seats {missing} neither learn nor are played by the training population {name!r}; "
                "add them to --learn-seats"
            )
    return co_players, learners, populations


# ---------------------------------------------------------------------------------------------- config
def build_config(
    args: argparse.Namespace,
    task,
    profiles: list[str],
    learners: list[str] | None = None,
    populations: list | None = None,
):
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    env_config = {
        "env_id": task.env_id,
        "reward_scale": args.reward_scale,
        "reward_benchmark": None if args.reward_benchmark == "none" else args.reward_benchmark,
        "learners": learners,
        "co_players": populations or [],
        "seed": args.seed,
        "train_seeds": [task.train_seeds.start, task.train_seeds.stop],
        **common.train_kwargs(task, args.episode_length, args.env_kwargs),
    }
    if args.algo == "sac":
        from ray.rllib.algorithms.sac import SACConfig

        config = SACConfig().training(
            actor_lr=args.lr,
            critic_lr=args.lr,
            alpha_lr=args.lr,
            gamma=args.gamma,
            train_batch_size_per_learner=args.minibatch_size,
            num_steps_sampled_before_learning_starts=args.learning_starts,
            # multi-agent SAC on the new API stack needs the multi-agent episode buffer
            replay_buffer_config={"type": "MultiAgentEpisodeReplayBuffer", "capacity": 100_000},
        )
        model_config = DefaultModelConfig(fcnet_hiddens=list(args.hidden), head_fcnet_hiddens=[])
    else:
        if args.algo == "appo":
            from ray.rllib.algorithms.appo import APPOConfig as AlgoConfig
        else:
            from ray.rllib.algorithms.ppo import PPOConfig as AlgoConfig
        config = AlgoConfig().training(
            lr=args.lr,
            gamma=args.gamma,
            train_batch_size_per_learner=args.train_batch_size,
            minibatch_size=args.minibatch_size,
            num_epochs=args.num_epochs,
            lambda_=args.lambda_,
            entropy_coeff=args.entropy_coeff,
        )
        if args.algo == "ppo":
            config.training(clip_param=args.clip_param, vf_clip_param=args.vf_clip_param)
        model_config = DefaultModelConfig(
            fcnet_hiddens=list(args.hidden), fcnet_activation="tanh", vf_share_layers=False
        )
    runners = args.num_env_runners
    fragment: int | str = args.rollout_fragment_length or {"ppo": "auto", "appo": 50, "sac": 1}[args.algo]
    if args.algo == "appo":
        runners = max(runners, 1)  # APPO samples asynchronously in remote env runners
        # APPO's minibatches are whole rollout fragments
        config.training(
            minibatch_size=max(int(fragment), args.minibatch_size // int(fragment) * int(fragment))
        )
    if args.min_steps_per_iteration is not None:
        config.reporting(min_sample_timesteps_per_iteration=args.min_steps_per_iteration)
    return (
        config.environment(ENV_NAME, env_config=env_config)
        .env_runners(
            num_env_runners=runners,
            num_envs_per_env_runner=args.envs_per_env_runner,
            rollout_fragment_length=fragment,
            sample_timeout_s=args.sample_timeout_s,
        )
        .learners(num_learners=args.num_learners)
        .multi_agent(policies=set(profiles), policy_mapping_fn=policy_mapping_fn)
        .rl_module(
            rl_module_spec=MultiRLModuleSpec(rl_module_specs={p: RLModuleSpec() for p in profiles}),
            model_config=model_config,
        )
        .debugging(seed=args.seed)
    )


def init_policy_heads(algo, profiles: list[str], log_std: float, gain: float) -> bool:
    """Start every profile's Gaussian policy near the env's neutral action with a small, state-free spread.

    The policy head of RLlib's default PPO module is one linear layer whose outputs are the action means and
    the log standard deviations. Its mean rows are scaled by ``gain`` and their biases zeroed (the initial
    mean is ~0 whatever the observation: the mapped target is equal weight over the assets and cash), and its
    log-std rows get zero weights and bias ``log_std``. Done in the learner, then synced to the env runners.
    Returns False (nothing changed) for modules of another shape (e.g. SAC's) or with ``log_std`` NaN and
    ``gain`` 1.
    """
    if not math.isfinite(log_std) and gain == 1.0:
        return False

    def apply(learner) -> bool:
        import torch

        done = True
        for profile in profiles:
            head = getattr(learner.module[profile], "pi", None)
            layers = [m for m in head.modules() if isinstance(m, torch.nn.Linear)] if head is not None else []
            if not layers or layers[-1].out_features % 2:
                done = False
                continue
            last = layers[-1]
            n = last.out_features // 2
            with torch.no_grad():
                last.weight[:n] *= gain
                last.bias[:n] = 0.0
                if math.isfinite(log_std):
                    last.weight[n:] = 0.0
                    last.bias[n:] = log_std
                old = getattr(learner.module[profile], "_old_pi", None)  # APPO's target copy of the head
                if old is not None:
                    old.load_state_dict(head.state_dict())
        return done

    done = all(result.get() for result in algo.learner_group.foreach_learner(apply))
    algo.env_runner_group.sync_weights(
        from_worker_or_learner_group=algo.learner_group, inference_only=True, timeout_seconds=None
    )
    return done


def steps_per_arena(args: argparse.Namespace) -> float:
    """Env steps one arena samples per training iteration (PPO/APPO: the batch shared by every arena)."""
    arenas = max(args.num_env_runners, 1 if args.algo == "appo" else 0, 1) * max(args.envs_per_env_runner, 1)
    if args.algo == "sac":
        return max(args.min_steps_per_iteration or 100, 1) / arenas
    return args.train_batch_size / arenas


# ---------------------------------------------------------------------------------------------- metrics
def _scalars(result: dict[str, Any], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in result.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_scalars(value, f"{name}/"))
        elif isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool):
            out[name] = float(value)
    return out


def _finite(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


class ReturnLog:
    """Per-policy episode returns from RLlib's results, robust to iterations that complete no episode.

    RLlib (new API stack) puts ``episode_return_mean`` and ``module_episode_returns_mean`` (means over the
    *completed* episodes it reports for the iteration) under ``result["env_runners"]`` only once an episode
    has completed; before that the keys are absent (and an iteration may complete none when it samples fewer
    steps per arena than an episode's length). This keeps the latest finite value of each and the number of
    episodes completed.
    """

    def __init__(self) -> None:
        self.episode_return: float | None = None
        self.per_policy: dict[str, float] = {}
        self.episodes = 0
        self.history: list[dict[str, Any]] = []

    def update(self, iteration: int, result: dict[str, Any]) -> dict[str, Any]:
        runner = result.get("env_runners", {}) or {}
        new = int(_finite(runner.get("num_episodes")) or 0)
        lifetime = _finite(runner.get("num_episodes_lifetime"))
        self.episodes = int(lifetime) if lifetime is not None else self.episodes + new
        value = _finite(runner.get("episode_return_mean"))
        if value is not None:
            self.episode_return = value
        for module, v in (runner.get("module_episode_returns_mean") or {}).items():
            v = _finite(v)
            if v is not None:
                self.per_policy[str(module)] = v
        row = {
            "iteration": iteration,
            "env_steps": int(result.get("num_env_steps_sampled_lifetime", 0) or 0),
            "episodes_completed": self.episodes,
            "episodes_this_iteration": new,
            "episode_return_mean": self.episode_return,
            "policy_episode_return_mean": dict(sorted(self.per_policy.items())),
        }
        self.history.append(row)
        return row

    def line(self, row: dict[str, Any], scale: float) -> str:
        if self.episode_return is None:
            return (
                f"iteration {row['iteration']}: env steps {row['env_steps']}, no episode completed yet "
                "(RLlib reports returns of completed episodes only)"
            )
        per = {k: round(v, 3) for k, v in sorted(self.per_policy.items())}
        return (
            f"iteration {row['iteration']}: env steps {row['env_steps']}, "
            f"episodes {row['episodes_completed']} (+{row['episodes_this_iteration']}), "
            f"episode return mean {self.episode_return:.3f} (training reward x{scale:g}), "
            f"per policy {json.dumps(per)}"
        )


# ---------------------------------------------------------------------------------------------- evaluation
def module_policy(module_dir: Path):
    """Load one profile's RLModule from a checkpoint: a deterministic policy on observation batches."""
    import torch
    from ray.rllib.core.rl_module.rl_module import RLModule

    module = RLModule.from_checkpoint(
        str(Path(module_dir).expanduser().resolve())
    )  # pyarrow: absolute paths only
    dist_cls = module.get_inference_action_dist_cls()

    def policy(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = module.forward_inference({"obs": torch.as_tensor(np.asarray(obs, dtype=np.float32))})
        if "actions" in out:  # modules that act directly
            action = out["actions"]
        else:
            action = dist_cls.from_logits(out["action_dist_inputs"]).to_deterministic().sample()
        return np.clip(action.cpu().numpy(), -1.0, 1.0)

    return policy


def _focal_by_episode(doc: dict[str, Any], metric: str) -> dict[tuple[str, int], float]:
    return {
        (ep["scenario"], int(ep["seed"])): float(ep["focal"][metric])
        for ep in doc["episodes"]
        if ep["status"] == "ok" and ep["focal"].get(metric) is not None and math.isfinite(ep["focal"][metric])
    }


def _seat_mean(doc: dict[str, Any], seat: str, metric: str) -> float | None:
    values = [
        ep["agents"][seat][metric]
        for ep in doc["episodes"]
        if ep["status"] == "ok"
        and ep.get("agents")
        and seat in ep["agents"]
        and ep["agents"][seat].get(metric) is not None
    ]
    values = [v for v in values if math.isfinite(v)]
    return float(np.mean(values)) if values else None


def paired_difference(
    doc: dict[str, Any], other: dict[str, Any], metric: str = "sharpe_ratio"
) -> dict[str, Any]:
    """Mean per-episode difference of the focal ``metric`` between two results documents played on the same
    scenarios and seeds, with a stratified-bootstrap 95 % CI (strata: scenarios), and the probability of
    improvement ``P(doc > other)`` (unpaired, rliable's definition)."""
    from wealtharena_env.leaderboard import aggregate as agg

    mine, theirs = _focal_by_episode(doc, metric), _focal_by_episode(other, metric)
    keys = sorted(set(mine) & set(theirs))
    scenarios = sorted({s for s, _ in keys})
    diffs = {s: [mine[k] - theirs[k] for k in keys if k[0] == s] for s in scenarios}
    ci = agg.bootstrap_ci(diffs, "mean")
    poi = agg.probability_of_improvement(
        {s: [mine[k] for k in keys if k[0] == s] for s in scenarios},
        {s: [theirs[k] for k in keys if k[0] == s] for s in scenarios},
    )
    wins = float(np.mean([mine[k] > theirs[k] for k in keys])) if keys else float("nan")
    return {"mean": ci.point, "low": ci.low, "high": ci.high, "n": ci.n, "poi": poi, "paired_win_rate": wins}


def entry_row(
    name: str, doc: dict[str, Any], references: dict[str, dict[str, Any]], seat: str | None = None
) -> dict[str, Any]:
    """One line of the comparison table: focal Sharpe (mean, 95 % CI), turnover, drawdown, paired deltas."""
    agg_ = doc["aggregates"]
    sharpe = agg_["score"]["mean"]
    metrics = agg_["metrics"]
    row = {
        "entry": name,
        "sharpe": sharpe["point"],
        "sharpe_low": sharpe["low"],
        "sharpe_high": sharpe["high"],
        "turnover": metrics["average_turnover"]["point"],
        "max_drawdown": metrics["max_drawdown"]["point"],
        "annual_volatility": metrics["annual_volatility"]["point"],
        "total_return": metrics["total_return"]["point"],
        "episodes": agg_["n_ok"],
        "seat_sharpe": {s: _seat_mean(doc, s, "sharpe_ratio") for s in doc["task"]["focal_agents"]},
        "seat_max_drawdown": {s: _seat_mean(doc, s, "max_drawdown") for s in doc["task"]["focal_agents"]},
        "vs": {},
    }
    for ref, ref_doc in references.items():
        if ref_doc is not doc:
            row["vs"][ref] = paired_difference(doc, ref_doc)
    return row


def _fmt(x: float | None, spec: str = ".3f") -> str:
    return "n/a" if x is None or not math.isfinite(x) else format(x, spec)


def comparison_table(rows: list[dict[str, Any]], references: list[str]) -> str:
    """Markdown table of :func:`entry_row` rows."""
    head = ["entry", "focal Sharpe [95% CI]", "turnover/step", "max drawdown", "ann. vol"]
    head += [f"ΔSharpe vs {r} [95% CI], P(>)" for r in references]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [
            row["entry"],
            (
                f"{_fmt(row['sharpe'], '.2f')} [{_fmt(row['sharpe_low'], '.2f')}, "
                f"{_fmt(row['sharpe_high'], '.2f')}]"
            ),
            _fmt(row["turnover"] * 100, ".2f") + " %",
            _fmt(row["max_drawdown"] * 100, ".1f") + " %",
            _fmt(row["annual_volatility"] * 100, ".1f") + " %",
        ]
        for ref in references:
            d = row["vs"].get(ref)
            cells.append(
                "–" if d is None else f"{d['mean']:+.2f} [{d['low']:+.2f}, {d['high']:+.2f}], {d['poi']:.2f}"
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.algo == "a2c":
        raise SystemExit(
            "RLlib 2.60 has no A2C (it left with the old API stack). Use Stable-Baselines3's: "
            "python examples/sb3_train.py --algo a2c --task " + args.task
        )
    if args.iterations < 1:
        raise SystemExit("--iterations must be >= 1")
    task = common.resolve_task(args.task)
    if not common.is_multi_agent(task):
        raise SystemExit(
            f"{task.key} is a single-agent task; this example trains the multi-agent arena "
            "(--task Impact-v0). For single-agent tasks see sb3_train.py and cleanrl_ppo.py."
        )
    import pettingzoo
    import ray
    from ray.tune.registry import register_env

    kwargs = common.train_kwargs(task, args.episode_length, args.env_kwargs)
    probe = pettingzoo.make("parallel", task.env_id, **kwargs)
    agents = list(probe.possible_agents)
    episode_length = int(probe.unwrapped.sim.config.episode_length)
    n_action = int(np.prod(probe.action_space(agents[0]).shape))
    probe.close()
    mode, learners, populations = training_setup(task, agents, args.co_players, args.learn_seats)
    profiles = sorted({profile_of(a) for a in learners})
    focal_profiles = list(dict.fromkeys(profile_of(a) for a in task.focal_agents))
    missing = [p for p in focal_profiles if p not in profiles]
    if missing:
        raise SystemExit(
            f"no learning seat has the profile of the focal seats' {missing}: add one to --learn-seats"
        )
    # focal profiles first (results.json is the first focal seat's), then any other trained profile
    evaluated = focal_profiles + [p for p in profiles if p not in focal_profiles]
    per_arena = steps_per_arena(args)
    if per_arena < episode_length:
        print(
            f"note: each arena samples ~{per_arena:.0f} env steps per iteration, fewer than an episode "
            f"({episode_length}): the first episodes complete after ~{math.ceil(episode_length / per_arena)} "
            "iterations, and RLlib reports episode returns only from then on",
            file=sys.stderr,
        )

    run_dir = common.run_dir_for(args, f"rllib-{args.algo}", task)
    env_record = common.env_kwargs_record(task, args.episode_length, args.env_kwargs)
    co_record = {
        "co_players": mode,
        "learners": learners,
        "co_populations": {name: mapping for name, mapping in populations},
        "policies": {a: profile_of(a) for a in learners},
    }
    config_record = {**vars(args), "agents": agents, **co_record, **env_record}
    common.write_json(run_dir / "config.json", config_record)
    tracker = common.Tracker(args.track, run_dir, run_dir.name, config_record, mlflow_uri=args.mlflow_uri)
    print(
        f"{task.key}: learning seats {learners} -> policies {profiles}; "
        + (
            f"other seats played by {', '.join(n for n, _ in populations)} (drawn per episode)"
            if populations
            else "self-play"
        )
    )

    runtime_env = {"env_vars": {k: os.environ[k] for k in WORKER_ENV_VARS if k in os.environ}}
    if args.address:
        ray.init(address=args.address, runtime_env=runtime_env)
    else:
        ray.init(
            num_cpus=args.num_cpus,
            include_dashboard=False,
            configure_logging=True,
            logging_level="ERROR",
            runtime_env=runtime_env,
        )
    print(f"Ray resources: {ray.cluster_resources()}")
    register_env(ENV_NAME, env_creator)
    algo = build_config(args, task, profiles, learners, populations).build_algo()
    if args.algo != "sac" and init_policy_heads(algo, profiles, args.init_log_std, args.init_action_gain):
        print(
            f"policy heads initialised: action mean ~0 (gain {args.init_action_gain:g}), log std "
            f"{args.init_log_std:g}"
        )

    start = time.perf_counter()
    sampled = 0
    returns = ReturnLog()
    for iteration in range(1, args.iterations + 1):
        result = algo.train()
        sampled = int(result.get("num_env_steps_sampled_lifetime", sampled))
        metrics = _scalars({k: result[k] for k in ("env_runners", "learners") if k in result})
        row = returns.update(iteration, result)
        row["seconds"] = round(time.perf_counter() - start, 1)
        metrics.update({f"train/episode_return_mean/{p}": v for p, v in returns.per_policy.items()})
        tracker.log(metrics, sampled)
        print(returns.line(row, args.reward_scale), flush=True)
        if args.timesteps is not None and sampled >= args.timesteps:
            break
    train_seconds = time.perf_counter() - start
    checkpoint = Path(algo.save_to_path(str((run_dir / "checkpoint").resolve())))
    algo.stop()
    print(
        f"trained {args.algo} for {iteration} iterations ({sampled} env steps) in {train_seconds:.1f}s "
        f"-> {checkpoint}"
    )

    # The leaderboard protocol gives one policy every focal seat: evaluate each trained profile's
    # policy there.
    start_eval = time.perf_counter()
    summaries, docs = {}, {}
    for i, profile in enumerate(evaluated):
        module_dir = checkpoint / "learner_group" / "learner" / "rl_module" / profile
        output = run_dir / ("results.json" if i == 0 else f"results_{profile}.json")
        doc = common.evaluate_policy(
            task,
            module_policy(module_dir),
            output,
            n_seeds=args.eval_seeds,
            episode_length=args.eval_episode_length,
            entry=f"rllib-{args.algo}-{profile}",
        )
        docs[f"rllib-{args.algo}-{profile}"] = doc
        summaries[profile] = common.summarize(doc)
        tracker.log(
            {
                f"eval/{profile}/mean_return": summaries[profile]["mean_return"],
                f"eval/{profile}/mean_total_return": summaries[profile]["mean_total_return"],
            },
            sampled,
        )
        tracker.log_artifact(output)
    baselines = {}
    for name in args.compare:
        output = run_dir / f"results_baseline_{name}.json"
        policy = neutral_policy(n_action) if name == NEUTRAL else name
        baselines[name] = common.evaluate_policy(
            task, policy, output, n_seeds=args.eval_seeds, episode_length=args.eval_episode_length, entry=name
        )
    rows = [entry_row(name, doc, baselines) for name, doc in {**docs, **baselines}.items()]
    table = comparison_table(rows, list(baselines))
    (run_dir / "comparison.md").write_text(
        f"{task.key}: {rows[0]['episodes']} evaluation episodes per entry; {args.algo}, co-players {mode}, "
        f"{iteration} iterations, {sampled} env steps, {train_seconds:.0f} s of training\n\n" + table,
        encoding="utf-8",
    )
    print(table)
    tracker.close()
    common.write_json(
        run_dir / "summary.json",
        {
            "train_seconds": train_seconds,
            "eval_seconds": time.perf_counter() - start_eval,
            "env_steps": sampled,
            "iterations": iteration,
            "checkpoint": str(checkpoint),
            **co_record,
            "policies": summaries,
            "comparison": rows,
            "training_curve": returns.history,
            **env_record,
        },
    )
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
