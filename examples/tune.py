"""Hyperparameter search with Optuna over the Stable-Baselines3 PPO example, on a small budget.

Each trial trains ``examples/sb3_train.py``'s PPO with sampled hyperparameters and is scored on
**validation seeds**: seeds carved out of the task's published training range (the last ones), never the
task's evaluation seeds — tuning on the evaluation seeds would leak the test set into the model. Only the
best trial's model is then evaluated once on the evaluation seeds.

    python examples/tune.py --task ToyDrift-v0 --trials 12 --timesteps 20000
    python examples/tune.py --task Calm-v0 --trials 30 --timesteps 200000 --storage sqlite:///runs/optuna.db

Outputs in ``<out>/<run-name>/``: ``trial_<n>/`` (each trial's SB3 run), ``trials.csv`` (every trial's
parameters and validation score), ``best.json`` (best parameters, score, and the command line that retrains
them), ``model.zip`` (the best trial's model) and ``results.json`` (its leaderboard evaluation).
``--storage`` makes the study persistent and resumable (and shareable by several workers running this
script at once).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

# Numba's OpenMP workers spin beside the learner (steps 4-5x slower on shared cores); values you set win.
if "numba" not in sys.modules:  # only before numba reads them (changing them later makes numba raise)
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # examples/common.py: tasks, tracking, evaluation
import sb3_train  # the training function being tuned

from wealtharena_env.leaderboard.evaluate import evaluate

#: The search space: SB3 PPO hyperparameters that matter most on small budgets.
SEARCH_SPACE = {
    "learning_rate": ("float_log", 1e-4, 3e-3),
    "n_steps": ("categorical", [64, 128, 256, 512]),
    "batch_size": ("categorical", [64, 128, 256]),
    "n_epochs": ("categorical", [3, 5, 10]),
    "gamma": ("categorical", [0.9, 0.95, 0.99]),
    "gae_lambda": ("float", 0.8, 1.0),
    "clip_range": ("float", 0.1, 0.3),
    "ent_coef": ("float_log", 1e-6, 1e-2),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=12, help="Optuna trials (default 12)")
    parser.add_argument("--timesteps", type=int, default=20_000, help="training steps per trial")
    parser.add_argument("--n-envs", type=int, default=8, help="parallel environments per trial")
    parser.add_argument(
        "--validation-seeds",
        type=int,
        default=8,
        help="episodes scoring a trial, on the last seeds of the training range",
    )
    parser.add_argument(
        "--objective",
        choices=("return", "sharpe"),
        default="return",
        help="validation score: mean episode return (default) or mean Sharpe ratio (the "
        "leaderboard's primary metric)",
    )
    parser.add_argument("--storage", default=None, help="Optuna storage URL (default: in memory)")
    parser.add_argument("--study-name", default=None, help="Optuna study name (default: the run name)")
    common.add_common_args(parser)
    return parser.parse_args(argv)


def validation_task(task, n_seeds: int):
    """``task`` with its evaluation seeds replaced by the last ``n_seeds`` seeds of its training range.

    The training range shrinks accordingly, so training (seeds from 0 up) and validation never share a seed.
    """
    seeds = task.train_seeds
    cut = seeds.stop - n_seeds
    return dataclasses.replace(
        task,
        name=f"{task.name}Validation",
        train_seeds=range(seeds.start, cut),
        eval_seeds=tuple(range(cut, seeds.stop)),
    )


def sample(trial) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, (kind, *spec) in SEARCH_SPACE.items():
        if kind == "float_log":
            params[name] = trial.suggest_float(name, spec[0], spec[1], log=True)
        elif kind == "float":
            params[name] = trial.suggest_float(name, spec[0], spec[1])
        else:
            params[name] = trial.suggest_categorical(name, spec[0])
    return params


def main(argv: list[str] | None = None) -> int:
    import optuna

    args = parse_args(argv)
    task = common.resolve_task(args.task)
    if common.is_multi_agent(task):
        raise SystemExit("tune.py searches the single-agent SB3 PPO example; pick a Portfolio-v0 task.")
    run_dir = common.run_dir_for(args, "optuna-ppo", task)
    validation = validation_task(task, args.validation_seeds)
    metric = "episode_reward" if args.objective == "return" else "sharpe_ratio"
    env_record = common.env_kwargs_record(task, args.episode_length, args.env_kwargs)
    tracker = common.Tracker(
        args.track, run_dir, run_dir.name, {**vars(args), **env_record}, mlflow_uri=args.mlflow_uri
    )

    def objective(trial) -> float:
        params = sample(trial)
        trial_args = sb3_train.parse_args(
            [
                "--algo",
                "ppo",
                "--task",
                task.key,
                "--timesteps",
                str(args.timesteps),
                "--n-envs",
                str(args.n_envs),
                "--seed",
                str(args.seed),
                "--out",
                str(run_dir),
                "--run-name",
                f"trial_{trial.number}",
                "--track",
                "none",
                "--hyperparams",
                json.dumps(params),
                "--env-kwargs",
                json.dumps(args.env_kwargs),
                *(["--episode-length", str(args.episode_length)] if args.episode_length else []),
            ]
        )
        out = sb3_train.train(trial_args, evaluate=False)
        doc = evaluate(validation, f"ppo:{out['model']}", progress=False, trajectories=0, bootstrap_reps=200)
        score = common.focal_mean(doc, metric)
        trial.set_user_attr("run_dir", str(out["run_dir"]))
        tracker.log({"optuna/validation_score": score}, trial.number)
        print(f"trial {trial.number}: validation {args.objective} {score:.4f} with {json.dumps(params)}")
        return score if math.isfinite(score) else float("-inf")  # NaN (all episodes failed) ranks last

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        study_name=args.study_name or run_dir.name,
        storage=args.storage,
        load_if_exists=args.storage is not None,
        sampler=optuna.samplers.TPESampler(seed=args.seed, n_startup_trials=min(5, args.trials)),
    )
    start = time.perf_counter()
    study.optimize(objective, n_trials=args.trials)
    study.trials_dataframe().to_csv(run_dir / "trials.csv", index=False)
    best = study.best_trial
    print(
        f"best trial {best.number}: validation {args.objective} {best.value:.4f} with {best.params} "
        f"({args.trials} trials in {time.perf_counter() - start:.1f}s)"
    )

    # The best trial's model, evaluated once on the task's evaluation seeds.
    best_dir = Path(best.user_attrs["run_dir"])
    shutil.copyfile(best_dir / "model.zip", run_dir / "model.zip")
    doc = common.evaluate_policy(
        task,
        f"ppo:{run_dir / 'model.zip'}",
        run_dir / "results.json",
        n_seeds=args.eval_seeds,
        episode_length=args.eval_episode_length,
        entry="sb3-ppo-optuna",
    )
    summary = common.summarize(doc)
    retrain = (
        f"python examples/sb3_train.py --algo ppo --task {task.key} --timesteps {args.timesteps} "
        f"--n-envs {args.n_envs} --hyperparams '{json.dumps(best.params)}'"
        + (f" --env-kwargs '{json.dumps(args.env_kwargs)}'" if args.env_kwargs else "")
        + (f" --episode-length {args.episode_length}" if args.episode_length else "")
    )
    common.write_json(
        run_dir / "best.json",
        {
            "trial": best.number,
            "validation_objective": args.objective,
            "validation_score": best.value,
            "params": best.params,
            "evaluation": summary,
            "retrain": retrain,
            **env_record,
        },
    )
    tracker.log(
        {"optuna/best_validation_score": best.value, "eval/mean_return": summary["mean_return"]}, args.trials
    )
    tracker.log_artifact(run_dir / "best.json")
    tracker.close()
    print(f"retrain with: {retrain}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
