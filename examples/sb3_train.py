"""Train PPO, A2C or SAC from Stable-Baselines3 on WealthArena, save the model, evaluate it on a leaderboard
task.

Single agent (``WealthArena/Portfolio-v0`` tasks: ``ToyDrift-v0``, ``Calm-v0``, ``Regimes-v0``, ...)::

    python examples/sb3_train.py --algo ppo --task Calm-v0 --timesteps 200000

Multi-agent (``Impact-v0``: five agents on ``WealthArena/ImpactArena-v0``) with **parameter sharing**:
SuperSuit turns the PettingZoo parallel env into a vector env with one row per agent, so one policy acts for
every agent and learns from all of their experience; at evaluation it plays the task's focal seats against the
held-out background populations::

    python examples/sb3_train.py --algo ppo --task Impact-v0 --timesteps 200000 --n-envs 2

Outputs in ``<out>/<run-name>/``: ``model.zip`` (load with ``PPO.load``), ``results.json`` (the leaderboard
results document: ``wealtharena leaderboard <out>/*/results.json``), ``config.json`` and TensorBoard logs
(``tensorboard --logdir runs``). ``--track mlflow`` / ``--track wandb`` add MLflow (local SQLite store) or
Weights & Biases (offline) tracking. The same evaluation from the shell::

    wealtharena evaluate --task Calm-v0 --policy ppo:runs/ppo_Calm-v0_s0/model.zip

Two SuperSuit traps are handled here: SB3 seeds its env with ``env.seed(seed)``, which SuperSuit's vector env
does not implement (``PPO(seed=...)`` crashes), so the vector env is seeded with ``reset(seed=...)`` and the
library RNGs with ``set_random_seed``; and agents that reach the time limit carry
``info["TimeLimit.truncated"] = True`` (set by the env), so SB3 bootstraps the value of a truncated episode
instead of treating the time limit as a terminal state.
"""

from __future__ import annotations

import argparse
import json
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

ALGOS = ("ppo", "a2c", "sac")

#: Defaults per algorithm, small enough for a laptop; override any with
#: --hyperparams '{"learning_rate": 1e-3}'.
#: ``net_arch`` is a shortcut for ``policy_kwargs["net_arch"]``; ``policy_kwargs`` passes anything else to the
#: policy (``'{"policy_kwargs": {"log_std_init": -1, "activation_fn": "tanh"}}'``; its keys win).
DEFAULT_HYPERPARAMS: dict[str, dict[str, Any]] = {
    # PPO: large rollouts (8 envs x 1024 steps), few epochs and a small learning rate: daily returns are
    # mostly noise, and smaller, better-averaged updates keep the policy from learning to react to it (the
    # ablation in docs/training.md: turnover 6.9 % -> 1.7 % per step on Calm-v0 at the same Sharpe or better).
    "ppo": {
        "learning_rate": 1e-4,
        "n_steps": 1024,
        "batch_size": 1024,
        "n_epochs": 5,
        "gamma": 0.99,
        "gae_lambda": 0.95,
        "clip_range": 0.2,
        "ent_coef": 0.0,
        "net_arch": [64, 64],
        "policy_kwargs": {"log_std_init": -1.0},
    },
    # A2C: the same reasoning as PPO's (larger, better-averaged updates: 8 x 128 steps at 1e-4, not 8 x 16 at
    # 7e-4)
    "a2c": {
        "learning_rate": 1e-4,
        "n_steps": 128,
        "gamma": 0.99,
        "gae_lambda": 0.95,
        "ent_coef": 0.0,
        "net_arch": [64, 64],
        "policy_kwargs": {"log_std_init": -1.0},
    },
    "sac": {
        "learning_rate": 3e-4,
        "buffer_size": 100_000,
        "learning_starts": 1_000,
        "batch_size": 256,
        "gamma": 0.99,
        "tau": 0.005,
        "train_freq": 1,
        "gradient_steps": 1,
        "net_arch": [64, 64],
    },
}


#: Per-task recipe changes over DEFAULT_HYPERPARAMS (then --hyperparams over both). ToyDrift-v0 is a 32-step
#: sanity check meant to learn in ~20 000 steps: PPO's small rollouts update often enough to get there.
#: Calm-v0 SAC: a short discount (gamma 0.9) keeps the deterministic policy's turnover under 2x equal weight's
#: (1.6x at 60 000 steps, Sharpe unchanged; gamma 0.99 traded 2.35x; docs/training.md).
TASK_HYPERPARAMS: dict[str, dict[str, dict[str, Any]]] = {
    "ToyDrift-v0": {"ppo": {"learning_rate": 3e-4, "n_steps": 256, "batch_size": 256, "n_epochs": 10}},
    "Calm-v0": {"sac": {"gamma": 0.9}},
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--algo", choices=ALGOS, default="ppo", help="SB3 algorithm (default ppo)")
    parser.add_argument(
        "--timesteps",
        type=int,
        default=100_000,
        help="environment steps to train for (agent steps in multi-agent tasks)",
    )
    parser.add_argument(
        "--n-envs",
        type=int,
        default=8,
        help="parallel environments (multi-agent: arenas, each contributing one row per agent)",
    )
    parser.add_argument(
        "--hyperparams",
        default="{}",
        help="JSON object overriding the algorithm's defaults, e.g. '{\"learning_rate\": 1e-3}'; "
        '\'{"policy_kwargs": {"log_std_init": -1}}\' reaches the policy (net_arch is a '
        "shortcut for policy_kwargs.net_arch)",
    )
    parser.add_argument(
        "--device", default="cpu", help="torch device (default cpu: small MLPs are faster there)"
    )
    parser.add_argument(
        "--no-normalize-reward",
        dest="normalize_reward",
        action="store_false",
        help="train on raw rewards (default: VecNormalize scales rewards, not observations)",
    )
    parser.add_argument(
        "--normalize-obs",
        action="store_true",
        help="VecNormalize also standardises observations (running mean / std); the statistics are "
        "saved in vecnormalize.pkl beside model.zip, where `wealtharena evaluate` finds them",
    )
    parser.add_argument(
        "--select-every",
        type=int,
        default=0,
        metavar="STEPS",
        help="checkpoint selection: every STEPS environment steps, score the deterministic policy on "
        "validation seeds (the last --validation-seeds of the task's training range; never evaluation "
        "seeds) in the task's non-held-out scenarios, keep the best in best/, and evaluate that one "
        "(default 0: off, the final model is evaluated)",
    )
    parser.add_argument(
        "--validation-seeds",
        type=int,
        default=16,
        help="validation seeds per checkpoint with --select-every (default 16)",
    )
    parser.add_argument(
        "--eval-with-cli",
        action="store_true",
        help="evaluate by running `wealtharena evaluate` (published tasks; default: in-process)",
    )
    common.add_common_args(parser)
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------------------------- envs
def make_single_agent_env(task, args: argparse.Namespace):
    """``n_envs`` copies of the task's Gymnasium env in a DummyVecEnv (with Monitor), seeded seed, seed+1,
    ..."""
    from stable_baselines3.common.env_util import make_vec_env

    kwargs = common.train_kwargs(task, args.episode_length, args.env_kwargs)
    return make_vec_env(task.env_id, n_envs=args.n_envs, seed=args.seed, env_kwargs=kwargs)


def make_multi_agent_env(task, args: argparse.Namespace):
    """The task's PettingZoo arena as an SB3 vector env with one row per agent (parameter sharing).

    ``pettingzoo_env_to_vec_env_v1`` makes one arena a vector env over its agents; ``concat_vec_envs_v1``
    stacks ``n_envs`` arenas. Agents stay alive for the whole episode (the env's default), which SuperSuit's
    vector env requires, so its broken ``black_death_v3`` wrapper is not needed.
    """
    import pettingzoo
    import supersuit as ss
    from stable_baselines3.common.vec_env import VecMonitor

    kwargs = common.train_kwargs(task, args.episode_length, args.env_kwargs)
    arena = pettingzoo.make("parallel", task.env_id, **kwargs)
    venv = ss.pettingzoo_env_to_vec_env_v1(arena)
    venv = ss.concat_vec_envs_v1(venv, args.n_envs, num_cpus=0, base_class="stable_baselines3")
    # SuperSuit's SB3 wrapper has no working seed(): seed the inner ConcatVecEnv (arena i gets seed + i);
    # SB3's later unseeded reset() continues each arena's own generator.
    venv.venv.reset(seed=args.seed)
    return VecMonitor(venv)


# ---------------------------------------------------------------------------------------------- tracking glue
def tracker_output_format(tracker: common.Tracker):
    """An SB3 logger output that forwards every scalar SB3 logs to MLflow / W&B."""
    from stable_baselines3.common.logger import KVWriter

    class TrackerWriter(KVWriter):
        def write(self, key_values: dict[str, Any], key_excluded: dict[str, Any], step: int = 0) -> None:
            tracker.log(
                {
                    k: v
                    for k, v in key_values.items()
                    if not (key_excluded.get(k) and "mlflow" in key_excluded[k])
                },
                step,
            )

        def close(self) -> None:
            pass

    return TrackerWriter()


# ---------------------------------------------------------------------------------------------- selection
def validation_scenarios(task) -> list[str]:
    """The scenarios a checkpoint is validated in: the task's in-distribution ones (the held-out markets
    stay unseen until the evaluation)."""
    return [s.name for s in task.scenarios if not s.held_out] or [task.scenarios[0].name]


def checkpoint_selector(task, args: argparse.Namespace, run_dir: Path):
    """An SB3 callback that keeps the checkpoint with the best validation score.

    Every ``args.select_every`` environment steps (and at the end) it saves the model and its frozen
    observation statistics to ``checkpoints/latest/``, plays them with the leaderboard's evaluation on
    :meth:`Task.validation_seeds` in :func:`validation_scenarios` (``budget.official`` false) and, when the
    mean primary metric beats the best so far, copies them to ``best/``. Every score goes to
    ``validation.csv``. The evaluation seeds are never played, so the final evaluation of ``best/`` stays
    held out.
    """
    import shutil

    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.vec_env import VecNormalize

    from wealtharena_env.leaderboard.evaluate import evaluate

    seeds = task.validation_seeds(args.validation_seeds)
    scenarios = validation_scenarios(task)
    latest, best = run_dir / "checkpoints" / "latest", run_dir / "best"
    log_path = run_dir / "validation.csv"

    class CheckpointSelector(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.best_score = -np.inf
            self.best_step = -1
            self.next_check = args.select_every
            self.scores: list[tuple[int, float]] = []

        def _on_step(self) -> bool:
            if self.num_timesteps >= self.next_check:
                self.next_check += args.select_every
                self.validate()
            return True

        def _on_training_end(self) -> None:
            if not self.scores or self.scores[-1][0] != self.num_timesteps:
                self.validate()

        def validate(self) -> None:
            # Loading a model initialises networks from torch's global generator: keep the training's
            # random streams as they were, so that selection does not change what is trained.
            import random

            import torch

            saved = (torch.get_rng_state(), np.random.get_state(), random.getstate())
            try:
                self._validate()
            finally:
                torch.set_rng_state(saved[0])
                np.random.set_state(saved[1])
                random.setstate(saved[2])

        def _validate(self) -> None:
            latest.mkdir(parents=True, exist_ok=True)
            self.model.save(latest / "model.zip")
            env = self.model.get_env()
            if isinstance(env, VecNormalize):
                env.save(str(latest / "vecnormalize.pkl"))
            doc = evaluate(
                task,
                f"{args.algo}:{latest / 'model.zip'}",
                seeds=seeds,
                scenarios=scenarios,
                bootstrap_reps=1,
                trajectories=0,
                progress=False,
            )
            mean = doc["aggregates"]["score"]["mean"]["point"]
            score = float(mean) if mean is not None else -np.inf
            self.scores.append((self.num_timesteps, score))
            if score > self.best_score:
                self.best_score, self.best_step = score, self.num_timesteps
                if best.exists():
                    shutil.rmtree(best)
                shutil.copytree(latest, best)
            with open(log_path, "w") as fh:
                fh.write("step,validation_score\n")
                fh.writelines(f"{step},{value:.6f}\n" for step, value in self.scores)
            print(
                f"validation at {self.num_timesteps} steps: {score:.4f} "
                f"(best {self.best_score:.4f} at {self.best_step})",
                flush=True,
            )

    return CheckpointSelector()


# ---------------------------------------------------------------------------------------------- train
#: ``policy_kwargs["activation_fn"]`` by name (JSON cannot hold a class).
ACTIVATIONS = {
    "tanh": "Tanh",
    "relu": "ReLU",
    "elu": "ELU",
    "leaky_relu": "LeakyReLU",
    "silu": "SiLU",
    "gelu": "GELU",
}


def parse_hyperparams(text: str) -> dict[str, Any]:
    """``--hyperparams``: a JSON object."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"--hyperparams must be a JSON object, got {text!r}: {exc}") from None
    if not isinstance(value, dict):
        raise SystemExit(f"--hyperparams must be a JSON object (name -> value), got {text!r}")
    return value


def merge_hyperparams(*layers: dict[str, Any]) -> dict[str, Any]:
    """Later layers win key by key; their ``policy_kwargs`` are merged into the earlier ones' key by key too
    (``--hyperparams '{"policy_kwargs": {"ortho_init": false}}'`` keeps the recipe's ``log_std_init``)."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if key == "policy_kwargs" and isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
    return merged


def split_policy_kwargs(hyperparams: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(algorithm kwargs, policy_kwargs)`` from the merged hyperparameters.

    ``policy_kwargs`` is the user's (``log_std_init``, ``ortho_init``, ``activation_fn`` by name, ...) and its
    keys win; ``net_arch`` at the top level is a shortcut that fills ``policy_kwargs["net_arch"]`` when the
    user's ``policy_kwargs`` does not set it.
    """
    params = dict(hyperparams)
    policy_kwargs = params.pop("policy_kwargs", None) or {}
    if not isinstance(policy_kwargs, dict):
        raise SystemExit(f"--hyperparams: policy_kwargs must be a JSON object, got {policy_kwargs!r}")
    policy_kwargs = dict(policy_kwargs)
    net_arch = params.pop("net_arch", None)
    if net_arch is not None:
        policy_kwargs.setdefault("net_arch", net_arch)
    activation = policy_kwargs.get("activation_fn")
    if isinstance(activation, str):
        import torch

        name = ACTIVATIONS.get(activation.lower(), activation)
        if not isinstance(getattr(torch.nn, name, None), type):
            raise SystemExit(
                f"--hyperparams: unknown activation_fn {activation!r}; use one of {sorted(ACTIVATIONS)}"
            )
        policy_kwargs["activation_fn"] = getattr(torch.nn, name)
    return params, policy_kwargs


def build_model(
    algo: str,
    env,
    hyperparams: dict[str, Any],
    args: argparse.Namespace,
    seed: int | None,
    tensorboard_log: str | None,
):
    import stable_baselines3 as sb3

    params, policy_kwargs = split_policy_kwargs(hyperparams)
    cls = {"ppo": sb3.PPO, "a2c": sb3.A2C, "sac": sb3.SAC}[algo]
    return cls(
        "MlpPolicy",
        env,
        policy_kwargs=policy_kwargs,
        seed=seed,
        device=args.device,
        tensorboard_log=tensorboard_log,
        verbose=0,
        **params,
    )


def train(args: argparse.Namespace, evaluate: bool = True) -> dict[str, Any]:
    """Train, save, evaluate. Returns ``{"model": path, "results": path, "summary": {...}}``.

    With ``evaluate=False`` (hyperparameter search: never look at the evaluation seeds) the model is only
    trained and saved; ``results`` and ``summary`` are ``None``.
    """
    import torch
    from stable_baselines3.common.logger import configure
    from stable_baselines3.common.utils import set_random_seed

    torch.set_num_threads(1)  # small MLPs: threads only add overhead (and the machine may be shared)
    task = common.resolve_task(args.task)
    multi_agent = common.is_multi_agent(task)
    hyperparams = merge_hyperparams(
        DEFAULT_HYPERPARAMS[args.algo],
        TASK_HYPERPARAMS.get(task.key, {}).get(args.algo, {}),
        parse_hyperparams(args.hyperparams),
    )
    run_dir = common.run_dir_for(args, args.algo, task)
    env_record = common.env_kwargs_record(task, args.episode_length, args.env_kwargs, warn=evaluate)
    config = {
        "algo": args.algo,
        "task": task.key,
        "multi_agent": multi_agent,
        "timesteps": args.timesteps,
        "n_envs": args.n_envs,
        "seed": args.seed,
        "normalize_reward": args.normalize_reward,
        "normalize_obs": args.normalize_obs,
        "episode_length": args.episode_length,
        "hyperparams": hyperparams,
        "select_every": args.select_every,
        "validation_seeds": args.validation_seeds if args.select_every > 0 else None,
        **env_record,
    }
    common.write_json(run_dir / "config.json", config)
    tracker = common.Tracker(
        args.track, run_dir, run_dir.name, config, tensorboard=False, mlflow_uri=args.mlflow_uri
    )

    set_random_seed(args.seed)
    if multi_agent:
        env = make_multi_agent_env(task, args)
        seed = None  # PPO(seed=...) would call the SuperSuit vec env's missing seed(); seeded above instead
    else:
        env = make_single_agent_env(task, args)
        seed = args.seed
    if args.normalize_reward or args.normalize_obs:
        # Daily log returns are ~1e-3: scaling rewards by a running std of the discounted return makes the
        # value function learnable (it matters a lot here). Observations are left alone unless --normalize-obs
        # (then `wealtharena evaluate` applies the statistics saved in vecnormalize.pkl beside model.zip).
        from stable_baselines3.common.vec_env import VecNormalize

        env = VecNormalize(
            env,
            norm_obs=args.normalize_obs,
            norm_reward=args.normalize_reward,
            gamma=hyperparams.get("gamma", 0.99),
        )
    model = build_model(args.algo, env, hyperparams, args, seed, None)
    formats = ["stdout", "csv"] + (["tensorboard"] if args.track != "none" else [])
    logger = configure(str(run_dir / "logs"), formats)
    if args.track in ("mlflow", "wandb"):
        logger.output_formats.append(tracker_output_format(tracker))
    model.set_logger(logger)
    if multi_agent:
        model.action_space.seed(args.seed)

    selector = checkpoint_selector(task, args, run_dir) if args.select_every > 0 else None
    start = time.perf_counter()
    model.learn(
        total_timesteps=args.timesteps,
        log_interval=1 if args.algo != "a2c" else 100,
        progress_bar=show_progress_bar(),
        callback=selector,
    )
    train_seconds = time.perf_counter() - start
    model_path = run_dir / "model.zip"
    model.save(model_path)
    print(
        f"trained {args.algo} on {task.key} for {args.timesteps} steps in {train_seconds:.1f}s "
        f"-> {model_path}"
    )
    if args.normalize_reward or args.normalize_obs:
        env.save(str(run_dir / "vecnormalize.pkl"))  # reward statistics, to continue training later
    env.close()
    if selector is not None:
        model_path = run_dir / "best" / "model.zip"
        print(f"selected the checkpoint at {selector.best_step} steps (validation {selector.best_score:.4f})")
    if not evaluate:
        tracker.close()
        return {"model": model_path, "results": None, "summary": None, "run_dir": run_dir}

    # The evaluation loads the saved file, exactly as `wealtharena evaluate --policy ppo:model.zip` does.
    doc = common.evaluate_policy(
        task,
        f"{args.algo}:{model_path}",
        run_dir / "results.json",
        n_seeds=args.eval_seeds,
        episode_length=args.eval_episode_length,
        entry=f"sb3-{args.algo}",
        use_cli=args.eval_with_cli,
    )
    summary = common.summarize(doc)
    tracker.log(
        {
            "eval/mean_return": summary["mean_return"],
            "eval/mean_total_return": summary["mean_total_return"],
            "eval/mean_sharpe": summary["mean_sharpe"]
            if summary["mean_sharpe"] is not None
            else float("nan"),
        },
        step=args.timesteps,
    )
    tracker.log_artifact(run_dir / "results.json")
    tracker.close()
    selection = {}
    if selector is not None:
        selection = {
            "selected_step": selector.best_step,
            "validation_score": selector.best_score,
            "validation_scenarios": validation_scenarios(task),
        }
    common.write_json(
        run_dir / "summary.json", {**summary, "train_seconds": train_seconds, **selection, **env_record}
    )
    return {"model": model_path, "results": run_dir / "results.json", "summary": summary, "run_dir": run_dir}


def show_progress_bar() -> bool:
    """SB3's progress bar on an interactive terminal (it needs tqdm and rich); quiet in logs and CI."""
    import importlib.util

    return sys.stderr.isatty() and all(importlib.util.find_spec(m) is not None for m in ("tqdm", "rich"))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.timesteps < 1 or args.n_envs < 1:
        raise SystemExit("--timesteps and --n-envs must be >= 1")
    train(args)
    return 0


if __name__ == "__main__":
    np.set_printoptions(precision=4, suppress=True)
    sys.exit(main())
