"""A trained agent must do what the baselines do where there is little to learn — and fail loudly if the
cause of issue 14 is put back.

Issue 14 found why trained agents lost to equal weight: continuous actions mapped to targets that were traded
in full every step, so the policy's noise became 30-70 % turnover per step (and a reward whose optimum was
cash; ``tests/test_risk.py`` pins the reward). This slow test trains a fixed-seed SB3 PPO (the
``examples/sb3_train.py`` recipe) on a small Calm-v0 (5 assets, 63-step episodes, 40 000 steps, ~35 s) and
plays it on the task's 16 evaluation seeds:

* it beats the ``random`` baseline's mean Sharpe,
* it comes within ``SHARPE_MARGIN`` of ``equal_weight``'s mean Sharpe,
* its turnover is at most ``TURNOVER_FACTOR`` times equal weight's.

With the old mapping put back (``action_mapping="simplex", rebalance_rate=1``) the same run fails all three
(measured 2026-12-06: Sharpe -1.07 against random -0.32 and equal weight 1.16, turnover 32 % against 1.6 %);
the second test checks that, so the first one can fail.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

SHARPE_MARGIN = 0.5
TURNOVER_FACTOR = 2.5
TIMESTEPS = 40_000


def train_and_score(env_overrides: dict) -> dict[str, tuple[float, float]]:
    """``{entry: (mean Sharpe, mean turnover)}`` for the trained PPO, equal_weight and random."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.utils import set_random_seed
    from stable_baselines3.common.vec_env import VecNormalize

    from wealtharena_env.leaderboard.evaluate import evaluate
    from wealtharena_env.leaderboard.tasks import get_task

    torch.set_num_threads(1)
    task = get_task("Calm-v0")
    kwargs = {**task.kwargs, "n_assets": 5, "episode_length": 63, **env_overrides}
    small = dataclasses.replace(task, env_kwargs=tuple(sorted(kwargs.items())))
    set_random_seed(0)
    env = VecNormalize(
        make_vec_env(task.env_id, n_envs=8, seed=0, env_kwargs=kwargs), norm_obs=False, norm_reward=True
    )
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=256,
        batch_size=256,
        n_epochs=10,
        learning_rate=3e-4,
        seed=0,
        policy_kwargs={"net_arch": [64, 64], "log_std_init": -1.0},
        device="cpu",
        verbose=0,
    )
    model.learn(TIMESTEPS)

    def trained(obs: np.ndarray) -> np.ndarray:
        return model.predict(obs, deterministic=True)[0]

    out = {}
    for name, policy in (("ppo", trained), ("equal_weight", "equal_weight"), ("random", "random")):
        doc = evaluate(small, policy, trajectories=0, bootstrap_reps=100, progress=False)
        episodes = [e for e in doc["episodes"] if e["status"] == "ok"]
        out[name] = (
            doc["aggregates"]["score"]["mean"]["point"],
            float(np.mean([e["focal"]["average_turnover"] for e in episodes])),
        )
    return out


def learnt(scores: dict[str, tuple[float, float]]) -> dict[str, bool]:
    (ppo, ppo_turnover), (ew, ew_turnover), (rnd, _) = scores["ppo"], scores["equal_weight"], scores["random"]
    return {
        "beats random": ppo > rnd,
        "near equal weight": ppo >= ew - SHARPE_MARGIN,
        "turnover": ppo_turnover <= TURNOVER_FACTOR * ew_turnover,
    }


@pytest.mark.slow
def test_ppo_on_a_small_calm_market_beats_random_and_stays_near_equal_weight():
    scores = train_and_score({})
    print(scores)
    assert learnt(scores) == {"beats random": True, "near equal weight": True, "turnover": True}, scores


@pytest.mark.slow
def test_the_same_check_fails_with_the_old_action_mapping_put_back():
    scores = train_and_score({"action_mapping": "simplex", "rebalance_rate": 1.0})
    print(scores)
    assert not any(learnt(scores).values()), scores
