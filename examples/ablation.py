"""Ablation: which env setting decides whether PPO learns a portfolio task?

Trains Stable-Baselines3 PPO (parameter for parameter the recipe of ``sb3_train.py``) on a task under named
settings — reward, action mapping, no-trade band / partial rebalancing, policy initialisation — and scores
each trained policy on the task's evaluation seeds with the leaderboard's evaluation, *played with the same
env settings it was trained with* (a task copy whose env kwargs carry the setting; such results are not
official leaderboard entries). Prints one markdown row per (setting, training seed) and a summary per
setting: mean Sharpe with a 95 % bootstrap CI over evaluation episodes, mean turnover per step, cash weight,
wall time.

    python examples/ablation.py --task Calm-v0 --timesteps 300000 --settings defaults log_return simplex
    python examples/ablation.py --list

The ``legacy_*`` settings reproduce the reward and mapping of wealtharena-env before the 2026-12 defaults;
they need that code (``git worktree add ../legacy <commit>`` and ``PYTHONPATH=../legacy``), see
docs/training.md.
"""

from __future__ import annotations

import os
import sys

# Numba's worker threads would fight torch's learner for the cores: keep the env serial.
if "numba" not in sys.modules:  # only before numba reads them (changing them later makes numba raise)
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

#: The short-horizon PPO of the target-risk runs: obs normalisation, 8 x 256-step rollouts, 10 epochs,
#: lr 3e-4, gamma = GAE lambda = 0.9 (the effect of a decision is immediate).
_PPO_SHORT_HORIZON: dict[str, Any] = {
    "_norm_obs": True,
    "learning_rate": 3e-4,
    "n_steps": 256,
    "batch_size": 256,
    "n_epochs": 10,
    "gamma": 0.9,
    "gae_lambda": 0.9,
}
#: The PPO target-risk recipe of docs/training.md (risk term on the requested target, lambda x 5,
#: entropy 0.005).
_PPO_TARGET_RISK: dict[str, Any] = {"_target_risk": 5.0, **_PPO_SHORT_HORIZON, "ent_coef": 0.005}
#: The SAC target-risk recipe of docs/training.md (sb3_train.py's SAC, lambda x 5, obs normalisation,
#: gamma 0.9).
_SAC_TARGET_RISK: dict[str, Any] = {"_algo": "sac", "_target_risk": 5.0, "_norm_obs": True, "gamma": 0.9}

#: name -> (env kwargs over the task's, PPO overrides, one line of what it tests)
SETTINGS: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {
    "defaults": ({}, {}, "the env's defaults and the sb3_train.py PPO recipe"),
    # the action mapping, one change at a time from the defaults
    "full_rebalance": ({"rebalance_rate": 1.0}, {}, "trade all the way to the target every step"),
    "band_0.02": ({"rebalance_band": 0.02}, {}, "partial rebalancing with a 0.02 no-trade band"),
    "softmax_band": (
        {"action_mapping": "softmax", "rebalance_band": 0.02},
        {},
        "softmax mapping (T = 3), partial rebalancing, 0.02 no-trade band",
    ),
    "softmax_full_band": (
        {"action_mapping": "softmax", "rebalance_rate": 1.0, "rebalance_band": 0.02},
        {},
        "softmax mapping (T = 3) traded in full, 0.02 no-trade band",
    ),
    "rate_0.05": ({"rebalance_rate": 0.05}, {}, "slower partial rebalancing"),
    "rate_0.25": ({"rebalance_rate": 0.25}, {}, "faster partial rebalancing"),
    "simplex": (
        {"action_mapping": "simplex", "rebalance_band": 0.0, "rebalance_rate": 1.0},
        {},
        "w = max(a, 0) / sum max(a, 0) traded in full (the old mapping)",
    ),
    "temperature_5": ({"softmax_temperature": 5.0}, {}, "mapping temperature 5"),
    # the reward
    "log_return": ({"reward_mode": "log_return"}, {}, "plain log-return reward"),
    "stability_0.001": ({"reward": {"stability": 0.001}}, {}, "+ turnover penalty 10 bp per unit turnover"),
    "benchmark": (
        {"reward": {"benchmark": 1.0}},
        {},
        "+ the benchmark control variate (excess log return over equal weight)",
    ),
    "benchmark_fast": (
        {"reward": {"benchmark": 1.0}},
        {"n_steps": 256, "batch_size": 256, "n_epochs": 10, "learning_rate": 3e-4},
        "benchmark control variate, rollouts of 8 x 256 steps, 10 epochs, learning rate 3e-4",
    ),
    "benchmark_full_gamma_0.9": (
        {"rebalance_rate": 1.0, "reward": {"benchmark": 1.0}},
        {"gamma": 0.9, "learning_rate": 3e-4},
        "benchmark control variate, full rebalancing, discount 0.9, learning rate 3e-4",
    ),
    "full_gamma_0.9": (
        {"rebalance_rate": 1.0},
        {"gamma": 0.9, "learning_rate": 3e-4},
        "full rebalancing, discount 0.9, learning rate 3e-4",
    ),
    # the risk layer flattens the held-weight reward in volatile markets (BullBear-v0, Crash-v0): every target
    # above the volatility budget is scaled to the same held weights, so asking for more cash changes nothing
    # until the target itself is under budget. `_target_risk: k` trains with the reward term
    # target_risk = k x the risk aversion in place of the held-weight risk term (training only, scored on the
    # task's env). Measured 2026-12-06 on BullBear-v0 and Crash-v0 (docs/training.md), then with an
    # equivalent reward wrapper.
    "bench_norm_fast": (
        {"reward": {"benchmark": 1.0}},
        {"_norm_obs": True, "learning_rate": 3e-4, "n_steps": 256, "batch_size": 256, "n_epochs": 10},
        "benchmark control variate, obs normalisation, rollouts of 8 x 256, 10 epochs, lr 3e-4",
    ),
    "target_risk_1_gamma_0.9": (
        {},
        {"_target_risk": 1.0, **_PPO_SHORT_HORIZON},
        (
            "risk term on the requested target (lambda x 1), obs normalisation, gamma = GAE lambda = 0.9, "
            "8 x 256, lr 3e-4"
        ),
    ),
    "target_risk_5_gamma_0.9": (
        {},
        {"_target_risk": 5.0, **_PPO_SHORT_HORIZON},
        (
            "risk term on the requested target (lambda x 5), obs normalisation, gamma = GAE lambda = 0.9, "
            "8 x 256, lr 3e-4"
        ),
    ),
    "target_risk_10_gamma_0.9": (
        {},
        {"_target_risk": 10.0, **_PPO_SHORT_HORIZON},
        (
            "risk term on the requested target (lambda x 10), obs normalisation, gamma = GAE lambda = 0.9, "
            "8 x 256, lr 3e-4"
        ),
    ),
    "target_risk_5_gamma_0.9_ent_0.005": (
        {},
        _PPO_TARGET_RISK,
        "target_risk_5_gamma_0.9 + entropy bonus 0.005 (keeps exploration from collapsing)",
    ),
    "sac_target_risk_5_gamma_0.9": (
        {},
        _SAC_TARGET_RISK,
        (
            "SAC (sb3_train.py defaults) with the risk term on the requested target (lambda x 5), "
            "obs normalisation, discount 0.9 (run with --timesteps 500000)"
        ),
    ),
    # a dead zone at the bottom of the exponential mapping (issue 14): every a_j <= -1 + d is exactly
    # weight 0, so a tanh-squashed (SAC) or Gaussian policy that never quite reaches -1 can still hold
    # exactly nothing (an exactly flat portfolio has Sharpe 0; ~1e-4 of risky weight scores the market's
    # Sharpe). Played with the same dead zone. The env's default is 0.3 since env defaults version 3, so the
    # settings above play with it; _deadzone_0 is sac_target_risk_5_gamma_0.9 as it was measured before (no
    # dead zone).
    **{
        f"sac_target_risk_5_gamma_0.9_deadzone_{d}": (
            {"action_dead_zone": float(d)},
            _SAC_TARGET_RISK,
            f"sac_target_risk_5_gamma_0.9 with action_dead_zone {d} (run with --timesteps 500000)",
        )
        for d in ("0", "0.05", "0.1", "0.3")
    },
    "target_risk_5_gamma_0.9_ent_0.005_deadzone_0.05": (
        {"action_dead_zone": 0.05},
        _PPO_TARGET_RISK,
        "target_risk_5_gamma_0.9_ent_0.005 with action_dead_zone 0.05",
    ),
    # observation
    "window_5": ({"window": 5}, {}, "5-bar return window in the observation (not 20)"),
    # the learner
    "init_std_1": ({}, {"policy_kwargs": {"log_std_init": 0.0}}, "SB3's default initial std 1 (not 0.37)"),
    "gamma_0.9": ({}, {"gamma": 0.9}, "discount 0.9"),
    "lr_1e-4": ({}, {"learning_rate": 1e-4}, "smaller learning rate"),
    "big_batch": (
        {},
        {"n_steps": 1024, "batch_size": 1024, "n_epochs": 5, "learning_rate": 1e-4},
        "rollouts of 8 x 1024 steps, 5 epochs of minibatches of 1024, learning rate 1e-4 (the recipe now)",
    ),
    "small_batch": (
        {},
        {"n_steps": 256, "batch_size": 256, "n_epochs": 10, "learning_rate": 3e-4},
        "the recipe before: rollouts of 8 x 256 steps, 10 epochs, learning rate 3e-4",
    ),
    "norm_obs": ({}, {"_norm_obs": True}, "VecNormalize also standardises observations (running mean / std)"),
    "norm_obs_big_batch": (
        {},
        {"_norm_obs": True, "n_steps": 1024, "batch_size": 1024, "n_epochs": 5, "learning_rate": 1e-4},
        "norm_obs and big_batch",
    ),
    "untrained": ({}, {}, "the initial policy (train with --timesteps 2048: one rollout, one update)"),
    # the code before the 2026-12 defaults (run with PYTHONPATH pointing at a checkout of it)
    "legacy_defaults": ({}, {"policy_kwargs": {"log_std_init": 0.0}}, "previous reward and simplex mapping"),
    "legacy_softmax": (
        {"action_mapping": "softmax"},
        {"policy_kwargs": {"log_std_init": 0.0}},
        "previous reward, softmax mapping (T = 5)",
    ),
    "legacy_no_stability": (
        {"reward": {"stability": 0.0}},
        {"policy_kwargs": {"log_std_init": 0.0}},
        "previous reward without its turnover term",
    ),
    "legacy_log_return": (
        {"reward_mode": "log_return"},
        {"policy_kwargs": {"log_std_init": 0.0}},
        "previous simplex mapping, log-return reward",
    ),
}


def setting_env_kwargs(task, name: str) -> dict[str, Any]:
    env_over, _, _ = SETTINGS[name]
    kwargs = dict(env_over)
    if "reward" in kwargs:  # reward weights changed from the balanced profile's
        from wealtharena_env.config import REWARD_PRESETS, AgentProfile

        kwargs["agents"] = (
            AgentProfile("agent", reward=REWARD_PRESETS["balanced"].replace(**kwargs.pop("reward"))),
        )
    return kwargs


def train_and_score(
    task,
    name: str,
    seed: int,
    timesteps: int,
    n_envs: int,
    eval_seeds: int | None,
    save_dir: str | None = None,
) -> dict[str, Any]:
    import sb3_train  # the recipe's hyperparameters
    import torch
    from stable_baselines3 import PPO, SAC
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.utils import set_random_seed
    from stable_baselines3.common.vec_env import VecNormalize

    torch.set_num_threads(1)
    env_over = setting_env_kwargs(task, name)
    _, ppo_over, _ = SETTINGS[name]
    algo = ppo_over.get("_algo", "ppo")  # "sac": SB3 SAC with sb3_train.py's SAC defaults
    hyper = sb3_train.merge_hyperparams(
        sb3_train.DEFAULT_HYPERPARAMS[algo], {k: v for k, v in ppo_over.items() if k != "_algo"}
    )
    norm_obs = bool(hyper.pop("_norm_obs", False))
    target_risk = float(hyper.pop("_target_risk", 0.0))
    hyper, policy_kwargs = sb3_train.split_policy_kwargs(hyper)
    train_kwargs = {**common.train_kwargs(task), **env_over}
    set_random_seed(seed)
    if target_risk > 0:  # the risk term on the requested target instead of the held weights (docs/reward.md)
        from wealtharena_env.config import REWARD_PRESETS, AgentProfile

        base = REWARD_PRESETS["balanced"]
        train_kwargs["agents"] = (
            AgentProfile("agent", reward=base.replace(risk=0.0, target_risk=target_risk * base.risk)),
        )
    env = make_vec_env(task.env_id, n_envs=n_envs, seed=seed, env_kwargs=train_kwargs)
    env = VecNormalize(env, norm_obs=norm_obs, norm_reward=True, gamma=hyper.get("gamma", 0.99))
    model = {"ppo": PPO, "sac": SAC}[algo](
        "MlpPolicy", env, policy_kwargs=policy_kwargs, seed=seed, device="cpu", verbose=0, **hyper
    )
    start = time.perf_counter()
    model.learn(total_timesteps=timesteps)
    train_seconds = time.perf_counter() - start
    played = dataclasses.replace(task, env_kwargs=tuple(sorted({**task.kwargs, **env_over}.items())))

    env.training = False  # frozen observation statistics at evaluation

    def policy(obs: np.ndarray) -> np.ndarray:
        return model.predict(env.normalize_obs(obs) if norm_obs else obs, deterministic=True)[0]

    from wealtharena_env.leaderboard.evaluate import evaluate

    doc = evaluate(played, policy, entry=f"ppo-{name}", n_seeds=eval_seeds, trajectories=0, progress=False)
    if save_dir is not None:  # the model, its observation statistics and the evaluation, for a later look
        from wealtharena_env.leaderboard.evaluate import write_results

        run = Path(save_dir) / f"{task.key}_{name}_seed{seed}"
        run.mkdir(parents=True, exist_ok=True)
        model.save(run / "model.zip")
        env.save(str(run / "vecnormalize.pkl"))
        write_results(doc, run / "results.json")
    return row_from_doc(doc, name, seed, train_seconds)


def row_from_doc(doc: dict[str, Any], name: str, seed: int, train_seconds: float) -> dict[str, Any]:
    sharpe = [ep["focal"]["sharpe_ratio"] for ep in doc["episodes"] if ep["status"] == "ok"]
    turnover = [ep["focal"]["average_turnover"] for ep in doc["episodes"] if ep["status"] == "ok"]
    score = doc["aggregates"]["score"]["mean"]
    return {
        "setting": name,
        "seed": seed,
        "sharpe": score["point"],
        "low": score["low"],
        "high": score["high"],
        "sharpe_per_episode": sharpe,
        "turnover": float(np.mean(turnover)),
        "train_seconds": train_seconds,
    }


def baseline_rows(
    task, names: list[str], eval_seeds: int | None, settings: list[str]
) -> list[dict[str, Any]]:
    from wealtharena_env.leaderboard.evaluate import evaluate

    rows = []
    for baseline in names:
        played = dataclasses.replace(
            task, env_kwargs=tuple(sorted({**task.kwargs, **setting_env_kwargs(task, settings[0])}.items()))
        )
        doc = evaluate(played, baseline, n_seeds=eval_seeds, trajectories=0, progress=False)
        rows.append(row_from_doc(doc, f"baseline:{baseline}", 0, 0.0))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="Calm-v0")
    parser.add_argument("--settings", nargs="+", default=["defaults"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds")
    parser.add_argument("--timesteps", type=int, default=300_000)
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--eval-seeds", type=int, default=None)
    parser.add_argument("--baselines", nargs="*", default=[], help="also score these baselines (same env)")
    parser.add_argument("--out", default=None, help="append rows as JSON lines to this file")
    parser.add_argument(
        "--save-dir",
        default=None,
        help="save each trained model (model.zip, vecnormalize.pkl) and its evaluation (results.json) "
        "in <save-dir>/<task>_<setting>_seed<seed>/",
    )
    parser.add_argument("--list", action="store_true", help="list the settings and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, (env_over, ppo_over, what) in SETTINGS.items():
            print(f"{name:22s} {what}  env={env_over} ppo={ppo_over}")
        return 0
    unknown = [s for s in args.settings if s not in SETTINGS]
    if unknown:
        raise SystemExit(f"unknown setting(s) {unknown}; --list shows them")
    task = common.resolve_task(args.task)
    rows = baseline_rows(task, args.baselines, args.eval_seeds, args.settings) if args.baselines else []
    for name in args.settings:
        for seed in args.seeds:
            rows.append(
                train_and_score(task, name, seed, args.timesteps, args.n_envs, args.eval_seeds, args.save_dir)
            )
            r = rows[-1]
            print(
                f"| {task.key} | {name} | {seed} | {r['sharpe']:.2f} [{r['low']:.2f}, {r['high']:.2f}] | "
                f"{100 * r['turnover']:.1f} % | {r['train_seconds']:.0f} s |",
                flush=True,
            )
            if args.out:
                with open(args.out, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"task": task.key, "timesteps": args.timesteps, **r}) + "\n")
    for r in rows:
        if r["setting"].startswith("baseline:"):
            print(
                f"| {task.key} | {r['setting']} | - | {r['sharpe']:.2f} [{r['low']:.2f}, {r['high']:.2f}] | "
                f"{100 * r['turnover']:.1f} % | - |"
            )
            if args.out:
                with open(args.out, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"task": task.key, **r}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
