"""The training examples run end to end, write a model and a results JSON, and PPO really learns.

Every example is run as a user runs it — ``python examples/<script>.py`` in a subprocess — with a tiny budget
(seconds of training, a few short evaluation episodes). The learning tests train PPO (Stable-Baselines3 and
the CleanRL-style script) on ``ToyDrift-v0`` (examples/common.py: one asset with a +80 %/yr drift and 8 %
volatility against cash, 32-step episodes, log-return reward, no risk layer), whose optimum — hold the asset,
do not churn — is worth a mean evaluation return of ~0.093 on the 16 held-out evaluation seeds, while the
random baseline gets ~0.041. A trained policy must beat the random baseline by :data:`LEARNING_MARGIN`.

Optional dependencies are only guards here (``pytest.importorskip``): CI installs them (the ``sb3`` and
``rllib`` extras), so these tests run there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

#: Mean evaluation return (sum of daily log returns over a 32-step episode, mean over the 16 evaluation seeds)
#: a trained PPO must exceed the random baseline's by. Measured: PPO ~0.093 (SB3 and CleanRL, seeds 0-3),
#: random ~0.041, optimum (hold the asset) ~0.093; so the margin asks for well over half of the possible gain.
LEARNING_MARGIN = 0.03

#: Hang guard per example run (the examples take 5-60 s each on 2 cores).
TIMEOUT = 600


def run_example(script: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``examples/<script>`` with ``args`` in a fresh interpreter; fail with its output if it fails."""
    start = time.perf_counter()
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "WANDB_MODE": "offline", "WANDB_SILENT": "true",
                **(env or {})}
    proc = subprocess.run([sys.executable, str(EXAMPLES / script), *args], check=False, capture_output=True,
                          text=True, timeout=TIMEOUT, cwd=ROOT, env=full_env)
    elapsed = time.perf_counter() - start
    print(f"{script} {' '.join(args)}: {elapsed:.1f}s")
    if proc.returncode != 0:
        pytest.fail(f"{script} exited with {proc.returncode} after {elapsed:.1f}s\n--- stdout\n{proc.stdout[-4000:]}"
                    f"\n--- stderr\n{proc.stderr[-6000:]}")
    return proc


def check_results(path: Path, task: str, n_seeds: int) -> dict:
    """A complete, schema-valid results document for ``task`` with every episode played."""
    from wealtharena_env.leaderboard.evaluate import read_results

    assert path.is_file(), f"no results JSON at {path}"
    doc = read_results(path)
    assert doc["task"]["key"] == task
    agg = doc["aggregates"]
    assert agg["n_failed"] == 0, doc["failures"]
    assert agg["n_ok"] == n_seeds * len(doc["task"]["scenarios"])
    assert doc["budget"]["n_seeds"] == n_seeds
    return doc


def mean_return(doc: dict) -> float:
    values = [ep["focal"]["episode_reward"] for ep in doc["episodes"]]
    return sum(values) / len(values)


def one_run_dir(out: Path) -> Path:
    runs = [p for p in out.iterdir() if p.is_dir() and (p / "results.json").exists()]
    assert len(runs) == 1, f"expected one run folder with results.json in {out}, found {runs}"
    return runs[0]


@pytest.fixture(scope="module")
def random_baseline_return() -> float:
    """The random baseline's mean evaluation return on ToyDrift-v0's 16 evaluation seeds."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        import common
    finally:
        sys.path.remove(str(EXAMPLES))
    from wealtharena_env.leaderboard.evaluate import evaluate

    doc = evaluate(common.TOY_DRIFT, "random", progress=False, bootstrap_reps=100)
    return mean_return(doc)


# ---------------------------------------------------------------------------------------------- optional deps
def test_import_never_pulls_optional_dependencies():
    code = (
        "import sys, gymnasium, pettingzoo\n"
        "import wealtharena_env\n"
        "gymnasium.make('WealthArena/Portfolio-v0', n_assets=2).reset(seed=0)\n"
        "gymnasium.make_vec('WealthArena/Portfolio-v0', num_envs=2, n_assets=2).reset(seed=0)\n"
        "pettingzoo.make('parallel', 'WealthArena/Arena-v0', n_assets=2).reset(seed=0)\n"
        "import wealtharena_env.leaderboard.evaluate, wealtharena_env.cli\n"
        "heavy = ('torch', 'ray', 'yfinance', 'stable_baselines3', 'supersuit', 'tensorflow', 'jax')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True,
                          timeout=TIMEOUT, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", f"importing wealtharena_env pulled in optional packages: {proc.stdout}"


# ---------------------------------------------------------------------------------------------- SB3
@pytest.mark.parametrize("algo", ["ppo", "a2c", "sac"])
def test_sb3_single_agent_smoke(tmp_path, algo):
    pytest.importorskip("torch")
    pytest.importorskip("stable_baselines3")
    extra = {"ppo": ["--hyperparams", '{"n_steps": 64, "batch_size": 64}'],
             "a2c": ["--track", "mlflow"] if _has("mlflow") else [],
             "sac": ["--hyperparams", '{"learning_starts": 200}'] + (["--track", "wandb"] if _has("wandb") else [])}
    run_example("sb3_train.py", "--algo", algo, "--task", "ToyDrift-v0", "--timesteps", "600", "--n-envs", "2",
                "--eval-seeds", "2", "--out", str(tmp_path), *extra[algo])
    run = tmp_path / f"{algo}_ToyDrift-v0_s0"
    assert (run / "model.zip").is_file()
    doc = check_results(run / "results.json", "ToyDrift-v0", 2)
    assert doc["policy"]["kind"] == "sb3"
    assert doc["task"]["published"] is False  # an example task, not a leaderboard task
    assert list((run / "logs").glob("events.out.tfevents.*")), "no TensorBoard event file"
    if "mlflow" in extra[algo]:
        assert (tmp_path / "mlflow.db").is_file()
    if "wandb" in extra[algo]:
        assert list((run / "wandb").glob("offline-run-*")), "no offline W&B run"


def test_sb3_multi_agent_supersuit_smoke_with_cli_evaluation(tmp_path):
    """Parameter sharing through SuperSuit on ImpactArena; evaluated by running `wealtharena evaluate`."""
    pytest.importorskip("torch")
    pytest.importorskip("stable_baselines3")
    pytest.importorskip("supersuit")
    proc = run_example("sb3_train.py", "--algo", "ppo", "--task", "Impact-v0", "--timesteps", "640", "--n-envs", "1",
                       "--episode-length", "16", "--hyperparams", '{"n_steps": 64, "batch_size": 64}',
                       "--eval-seeds", "1", "--eval-episode-length", "8", "--eval-with-cli", "--out", str(tmp_path))
    assert "wealtharena evaluate --task Impact-v0 --policy ppo:" in proc.stdout
    run = tmp_path / "ppo_Impact-v0_s0"
    assert (run / "model.zip").is_file()
    doc = check_results(run / "results.json", "Impact-v0", 1)
    assert doc["task"]["published"] is True
    assert doc["entry"] == "sb3-ppo"


# ---------------------------------------------------------------------------------------------- CleanRL
def test_cleanrl_ppo_multi_agent_smoke_and_cli_policy(tmp_path):
    """CleanRL PPO on ArenaVecEnv rows; the saved model evaluated with `--policy examples/cleanrl_ppo.py:policy`."""
    pytest.importorskip("torch")
    run_example("cleanrl_ppo.py", "--task", "Impact-v0", "--episode-length", "16", "--num-envs", "1",
                "--num-steps", "32", "--num-minibatches", "2", "--update-epochs", "2", "--total-timesteps", "320",
                "--eval-seeds", "1", "--eval-episode-length", "8", "--out", str(tmp_path))
    run = one_run_dir(tmp_path)
    assert (run / "model.pt").is_file()
    check_results(run / "results.json", "Impact-v0", 1)
    assert list((run / "tb").glob("events.out.tfevents.*")), "no TensorBoard event file"
    out = tmp_path / "cli.json"
    proc = subprocess.run(
        [sys.executable, "-m", "wealtharena_env", "evaluate", "--task", "Impact-v0", "--policy",
         f"{EXAMPLES / 'cleanrl_ppo.py'}:policy", "--seeds", "1", "--episode-length", "4", "-o", str(out), "-q"],
        check=False, capture_output=True, text=True, timeout=TIMEOUT, cwd=ROOT,
        env={**os.environ, "WEALTHARENA_MODEL": str(run / "model.pt")})
    assert proc.returncode == 0, proc.stderr
    check_results(out, "Impact-v0", 1)


def test_cleanrl_sac_smoke(tmp_path):
    pytest.importorskip("torch")
    run_example("cleanrl_sac.py", "--task", "ToyDrift-v0", "--num-envs", "2", "--total-timesteps", "400",
                "--learning-starts", "200", "--batch-size", "64", "--eval-seeds", "2", "--out", str(tmp_path))
    run = one_run_dir(tmp_path)
    assert (run / "model.pt").is_file()
    check_results(run / "results.json", "ToyDrift-v0", 2)


# ---------------------------------------------------------------------------------------------- Optuna
def test_tune_smoke(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("stable_baselines3")
    pytest.importorskip("optuna")
    run_example("tune.py", "--task", "ToyDrift-v0", "--trials", "2", "--timesteps", "512", "--n-envs", "2",
                "--validation-seeds", "2", "--eval-seeds", "2", "--out", str(tmp_path))
    run = tmp_path / "optuna-ppo_ToyDrift-v0_s0"
    assert (run / "model.zip").is_file()
    check_results(run / "results.json", "ToyDrift-v0", 2)
    best = json.loads((run / "best.json").read_text())
    assert set(best["params"]) >= {"learning_rate", "gamma", "n_steps"}
    assert (run / "trials.csv").read_text().count("\n") == 3  # header + 2 trials


# ---------------------------------------------------------------------------------------------- RLlib
RLLIB_SMALL = ["--task", "Impact-v0", "--episode-length", "16", "--iterations", "1", "--num-cpus", "2",
               "--eval-seeds", "1", "--eval-episode-length", "8"]


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["ppo", "appo", "sac"])
def test_rllib_multi_agent_smoke(tmp_path, algo):
    """One policy per risk profile; results for each focal profile's policy."""
    pytest.importorskip("torch")
    pytest.importorskip("ray.rllib")
    extra = {"ppo": ["--train-batch-size", "160", "--minibatch-size", "80", "--num-epochs", "1"],
             "appo": ["--train-batch-size", "160", "--minibatch-size", "80", "--num-epochs", "1",
                      "--rollout-fragment-length", "16"],
             "sac": ["--minibatch-size", "32", "--learning-starts", "32", "--rollout-fragment-length", "16",
                     "--min-steps-per-iteration", "64"]}[algo]
    run_example("rllib_train.py", "--algo", algo, *RLLIB_SMALL, *extra, "--out", str(tmp_path))
    run = tmp_path / f"rllib-{algo}_Impact-v0_s0"
    modules = run / "checkpoint" / "learner_group" / "learner" / "rl_module"
    assert {p.name for p in modules.iterdir() if p.is_dir()} == {"conservative", "balanced", "aggressive"}
    doc = check_results(run / "results.json", "Impact-v0", 1)
    assert doc["entry"] == f"rllib-{algo}-balanced"  # the policy of the first focal seat, balanced_0
    check_results(run / "results_aggressive.json", "Impact-v0", 1)
    summary = json.loads((run / "summary.json").read_text())
    assert set(summary["policies"]) == {"balanced", "aggressive"}


def test_rllib_a2c_points_to_sb3():
    proc = subprocess.run([sys.executable, str(EXAMPLES / "rllib_train.py"), "--algo", "a2c"], check=False,
                          capture_output=True, text=True, timeout=TIMEOUT, cwd=ROOT)
    assert proc.returncode != 0
    assert "no A2C" in proc.stderr and "sb3_train.py --algo a2c" in proc.stderr


# ---------------------------------------------------------------------------------------------- learning
@pytest.mark.slow
def test_sb3_ppo_learns_toy_drift(tmp_path, random_baseline_return):
    pytest.importorskip("torch")
    pytest.importorskip("stable_baselines3")
    run_example("sb3_train.py", "--algo", "ppo", "--task", "ToyDrift-v0", "--timesteps", "20480", "--n-envs", "8",
                "--seed", "0", "--track", "none", "--out", str(tmp_path))
    doc = check_results(tmp_path / "ppo_ToyDrift-v0_s0" / "results.json", "ToyDrift-v0", 16)
    trained = mean_return(doc)
    print(f"SB3 PPO {trained:.4f} vs random {random_baseline_return:.4f} (margin {trained - random_baseline_return:.4f})")
    assert trained > random_baseline_return + LEARNING_MARGIN


@pytest.mark.slow
def test_cleanrl_ppo_learns_toy_drift(tmp_path, random_baseline_return):
    pytest.importorskip("torch")
    run_example("cleanrl_ppo.py", "--task", "ToyDrift-v0", "--total-timesteps", "20480", "--num-envs", "8",
                "--seed", "1", "--track", "none", "--out", str(tmp_path))
    doc = check_results(one_run_dir(tmp_path) / "results.json", "ToyDrift-v0", 16)
    trained = mean_return(doc)
    print(f"CleanRL PPO {trained:.4f} vs random {random_baseline_return:.4f} "
          f"(margin {trained - random_baseline_return:.4f})")
    assert trained > random_baseline_return + LEARNING_MARGIN


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
