"""Learning curves: evaluation Sharpe on a task's held-out seeds against environment steps, per recipe.

Trains the Stable-Baselines3 recipes of ``sb3_train.py`` (PPO, A2C, SAC, with its default hyperparameters and
env settings) on a single-agent task and, every ``--eval-every`` steps, plays the deterministic policy on the
task's evaluation seeds with the leaderboard's evaluation. The baselines (equal weight, risk parity by
default) are scored once on the same seeds and drawn as horizontal lines with their 95 % CI band.

    python examples/learning_curves.py --task Calm-v0 --algos ppo a2c sac --timesteps 300000 \\
        --csv docs/results/learning_curves_calm.csv --png docs/results/learning_curves_calm.png

``--from-csv`` redraws the picture from a CSV without training. The CSV has one row per (algo, seed, steps):
mean Sharpe, its 95 % bootstrap CI over the evaluation episodes, mean turnover per step, wall time.
"""

from __future__ import annotations

import os
import sys

# Numba's worker threads would fight torch's learner for the cores: keep the env serial.
if "numba" not in sys.modules:  # only before numba reads them (changing them later makes numba raise)
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import csv
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

FIELDS = ("task", "algo", "seed", "steps", "sharpe", "low", "high", "turnover", "seconds")


def score(task, policy, n_seeds: int | None) -> dict[str, float]:
    """Mean focal Sharpe (95 % CI) and mean turnover of ``policy`` on the task's evaluation seeds."""
    from wealtharena_env.leaderboard.evaluate import evaluate

    doc = evaluate(task, policy, n_seeds=n_seeds, trajectories=0, bootstrap_reps=500, progress=False)
    mean = doc["aggregates"]["score"]["mean"]
    turnover = [ep["focal"]["average_turnover"] for ep in doc["episodes"] if ep["status"] == "ok"]
    return {
        "sharpe": mean["point"],
        "low": mean["low"],
        "high": mean["high"],
        "turnover": float(np.mean(turnover)) if turnover else float("nan"),
    }


def train_curve(task, algo: str, seed: int, args: argparse.Namespace, writer: csv.DictWriter, fh) -> None:
    import sb3_train
    import torch
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.utils import set_random_seed
    from stable_baselines3.common.vec_env import VecNormalize

    torch.set_num_threads(1)
    train_args = sb3_train.parse_args(
        [
            "--algo",
            algo,
            "--task",
            task.key,
            "--seed",
            str(seed),
            "--n-envs",
            str(args.n_envs),
            "--track",
            "none",
        ]
    )
    hyperparams = sb3_train.merge_hyperparams(
        sb3_train.DEFAULT_HYPERPARAMS[algo], sb3_train.TASK_HYPERPARAMS.get(task.key, {}).get(algo, {})
    )
    set_random_seed(seed)
    env = sb3_train.make_single_agent_env(task, train_args)
    env = VecNormalize(env, norm_obs=False, norm_reward=True, gamma=hyperparams.get("gamma", 0.99))
    model = sb3_train.build_model(algo, env, hyperparams, train_args, seed, None)
    start = time.perf_counter()
    excluded = [0.0]  # evaluation time, not training time

    def policy(obs: np.ndarray) -> np.ndarray:
        return model.predict(obs, deterministic=True)[0]

    def record(steps: int) -> None:
        t0 = time.perf_counter()
        row = {
            "task": task.key,
            "algo": algo,
            "seed": seed,
            "steps": steps,
            **score(task, policy, args.eval_seeds),
            "seconds": round(t0 - start - excluded[0], 1),
        }
        excluded[0] += time.perf_counter() - t0
        writer.writerow(row)
        fh.flush()
        print(
            f"{algo} seed {seed} {steps:>8d} steps: Sharpe {row['sharpe']:.2f} "
            f"[{row['low']:.2f}, {row['high']:.2f}], turnover {100 * row['turnover']:.1f} %, "
            f"{row['seconds']:.0f} s",
            flush=True,
        )

    class EvalEvery(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.next_eval = args.eval_every

        def _on_step(self) -> bool:
            if self.num_timesteps >= self.next_eval:
                record(self.num_timesteps)
                self.next_eval += args.eval_every
            return True

    record(0)
    model.learn(total_timesteps=budget(args, algo), callback=EvalEvery())
    if model.num_timesteps % args.eval_every:
        record(model.num_timesteps)
    if args.save_dir:
        path = Path(args.save_dir) / f"{algo}_{task.key}_s{seed}.zip"
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save(path)
        print(f"saved {path} (wealtharena evaluate --task {task.key} --policy {algo}:{path})")
    env.close()


def budget(args: argparse.Namespace, algo: str) -> int:
    """``--timesteps``, or the algorithm's own budget from ``--timesteps-per-algo sac=50000``."""
    for item in args.timesteps_per_algo:
        name, _, value = item.partition("=")
        if name == algo:
            return int(value)
    return args.timesteps


def plot(rows: list[dict[str, Any]], baselines: dict[str, dict[str, float]], path: Path, title: str) -> None:
    """Two panels: mean Sharpe (with the evaluation's 95 % CI, or the range over seeds) and turnover per step,
    against environment steps; the baselines as horizontal lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax_turn) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110, gridspec_kw={"width_ratios": [3, 2]})
    colors = {"ppo": "tab:blue", "a2c": "tab:orange", "sac": "tab:green"}
    for algo in sorted({r["algo"] for r in rows}):
        mine = [r for r in rows if r["algo"] == algo]
        steps = sorted({int(r["steps"]) for r in mine})
        seeds = sorted({int(r["seed"]) for r in mine})

        def at(field: str, s: int, mine: list[dict[str, Any]] = mine) -> list[float]:
            return [float(r[field]) for r in mine if int(r["steps"]) == s]

        mean = np.array([np.mean(at("sharpe", s)) for s in steps])
        color = colors.get(algo)
        label = f"{algo.upper()} ({len(seeds)} seed{'s' * (len(seeds) > 1)})"
        ax.plot(steps, mean, marker="o", ms=3, color=color, label=label)
        if len(seeds) > 1:
            lo, hi = (
                np.array([min(at("sharpe", s)) for s in steps]),
                np.array([max(at("sharpe", s)) for s in steps]),
            )
        else:
            lo, hi = np.array([at("low", s)[0] for s in steps]), np.array([at("high", s)[0] for s in steps])
        ax.fill_between(steps, lo, hi, color=color, alpha=0.08, linewidth=0)
        ax_turn.plot(
            steps,
            [100 * np.mean(at("turnover", s)) for s in steps],
            marker="o",
            ms=3,
            color=color,
            label=label,
        )
    styles = ["--", ":", "-."]
    for k, (name, b) in enumerate(baselines.items()):
        ax.axhline(
            b["sharpe"],
            color="black",
            linestyle=styles[k % 3],
            linewidth=1,
            label=f"{name} {b['sharpe']:.2f} [{b['low']:.2f}, {b['high']:.2f}]",
        )
        ax_turn.axhline(100 * b["turnover"], color="black", linestyle=styles[k % 3], linewidth=1, label=name)
    from matplotlib.ticker import FuncFormatter

    # "300k", not "300000": full numbers ran into each other on the narrow turnover panel
    steps_format = FuncFormatter(lambda x, _: f"{x / 1e6:g}M" if x >= 1e6 else f"{x / 1e3:g}k" if x else "0")
    for a in (ax, ax_turn):
        a.xaxis.set_major_formatter(steps_format)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("mean Sharpe, 16 evaluation seeds (band: 95 % CI)")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="best", fontsize=7)
    ax.grid(alpha=0.3)
    ax_turn.set_xlabel("environment steps")
    ax_turn.set_ylabel("mean turnover per step (%)")
    ax_turn.set_ylim(bottom=0)
    ax_turn.set_title("turnover", fontsize=10)
    ax_turn.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="Calm-v0", help="a single-agent task (Calm-v0, Regimes-v0, ...)")
    parser.add_argument("--algos", nargs="+", default=["ppo", "a2c", "sac"], choices=("ppo", "a2c", "sac"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds")
    parser.add_argument("--timesteps", type=int, default=300_000)
    parser.add_argument(
        "--timesteps-per-algo",
        nargs="*",
        default=[],
        metavar="ALGO=STEPS",
        help="a budget per algorithm, e.g. sac=50000 (SAC updates every step: slower per step)",
    )
    parser.add_argument(
        "--append", action="store_true", help="add rows to an existing --csv (other algos, seeds)"
    )
    parser.add_argument(
        "--save-dir", default=None, help="save each trained model here (for wealtharena evaluate)"
    )
    parser.add_argument("--eval-every", type=int, default=25_000)
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument(
        "--eval-seeds", type=int, default=None, help="first N evaluation seeds (default all 16)"
    )
    parser.add_argument("--baselines", nargs="*", default=["equal_weight", "risk_parity"])
    parser.add_argument(
        "--csv", default=None, help="CSV of the curves (default runs/learning_curves_<task>.csv)"
    )
    parser.add_argument("--png", default=None, help="the picture (default: the CSV's path with .png)")
    parser.add_argument("--from-csv", action="store_true", help="only redraw the picture from --csv")
    args = parser.parse_args(argv)
    task = common.resolve_task(args.task)
    if common.is_multi_agent(task):
        raise SystemExit(f"{task.key} is multi-agent: use rllib_train.py / cleanrl_ppo.py for it")
    csv_path = Path(args.csv or f"runs/learning_curves_{task.key}.csv")
    png_path = Path(args.png) if args.png else csv_path.with_suffix(".png")
    baselines = {name: score(task, name, args.eval_seeds) for name in args.baselines}
    if not args.from_csv:
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        append = args.append and csv_path.exists()
        with open(csv_path, "a" if append else "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=FIELDS)
            if not append:
                writer.writeheader()
            for algo in args.algos:
                for seed in args.seeds:
                    train_curve(task, algo, seed, args, writer, fh)
    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for name, b in baselines.items():
        print(
            f"{name}: Sharpe {b['sharpe']:.2f} [{b['low']:.2f}, {b['high']:.2f}], "
            f"turnover {100 * b['turnover']:.2f} %"
        )
    plot(rows, baselines, png_path, f"{task.key}: SB3 recipes (sb3_train.py defaults)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
