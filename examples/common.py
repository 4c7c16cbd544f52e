"""Plumbing shared by the training examples: tasks, experiment tracking, evaluation and results.

Nothing here trains anything; each example keeps its algorithm in its own file. This module

* resolves a task: a published leaderboard task (``Calm-v0``, ``Regimes-v0``, ``Impact-v0``, ... — see
  ``wealtharena tasks``) or :data:`TOY_DRIFT`, a sanity-check task with a clear optimum;
* builds the training keyword arguments of a task (its first scenario's env kwargs, optionally with shorter
  episodes and the user's ``--env-kwargs`` merged over them) and records them with the run;
* tracks experiments: TensorBoard by default, plus MLflow (a local SQLite store) or Weights & Biases
  (offline mode) with ``--track``;
* evaluates a trained policy on the task's held-out evaluation seeds with the leaderboard's evaluation
  (:func:`wealtharena_env.leaderboard.evaluate.evaluate`, the code behind ``wealtharena evaluate``) and writes
  the results JSON.

Training uses seeds from the task's published training range (``range(0, 100_000)``); evaluation uses the
task's fixed evaluation seeds (all >= 10**9), so the policy is always scored on markets it never saw.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

import wealtharena_env  # noqa: F401  (registers every env ID)
from wealtharena_env.config import MarketConfig
from wealtharena_env.leaderboard.evaluate import evaluate
from wealtharena_env.leaderboard.results import write_results
from wealtharena_env.leaderboard.tasks import TASKS, Scenario, Task, get_task
from wealtharena_env.registration import PETTINGZOO_ENVS

# ---------------------------------------------------------------------------------------------- tasks
#: A bull market that never leaves its regime: +80 %/yr drift, 8 % volatility, no jumps, one asset
#: (``asset_drift_dispersion=0``: its drift is exactly the regime's).
TOY_DRIFT_MARKET = MarketConfig(
    n_assets=1,
    initial_regime=0,
    regime_transition=((1.0, 0.0, 0.0), (0.012, 0.983, 0.005), (0.020, 0.030, 0.950)),
    regime_drift=(0.80, -0.18, -0.40),
    regime_volatility=(0.08, 0.24, 0.48),
    jump_intensity=0.0,
    asset_drift_dispersion=0.0,
)

#: A task with a clear optimum, for checking that a training pipeline learns at all: one agent, one asset
#: that rises steadily against cash, 32-step episodes, plain log-return reward, no risk layer. The best
#: policy holds the asset and no cash and does not churn (mean evaluation return ~0.093 on the 16 evaluation
#: seeds = buy-and-hold); the random baseline (Dirichlet weights over the asset and cash) keeps half of its
#: value in cash on average and pays costs for trading every step (~0.041).
#: It is not a leaderboard task (``published`` is false in its results); the CLI does not know it.
TOY_DRIFT = Task(
    name="ToyDrift",
    version=0,
    env_id="WealthArena/Portfolio-v0",
    env_kwargs=tuple(
        sorted(
            {
                "n_assets": 1,
                "episode_length": 32,
                "market": TOY_DRIFT_MARKET,
                "reward_mode": "log_return",
                "risk_enabled": False,
                # trade to the target at once: the optimum (all in the asset) is then reachable from the first
                # step, so a pipeline that learns gets the whole gain in 32 steps (partial rebalancing would
                # take ~20 of them)
                "rebalance_rate": 1.0,
            }.items()
        )
    ),
    scenarios=(Scenario("toy_drift", description="one asset with +80%/yr drift and 8% volatility"),),
    description="Sanity-check task: the optimum is to hold the asset. Not a leaderboard task.",
)

EXAMPLE_TASKS: dict[str, Task] = {TOY_DRIFT.key: TOY_DRIFT}


def resolve_task(key: str) -> Task:
    """``ToyDrift-v0`` or a published leaderboard task (``Calm-v0``, ``Impact-v0``, ...)."""
    for k, task in EXAMPLE_TASKS.items():
        if key.lower() in (k.lower(), task.name.lower()):
            return task
    return get_task(key)


def is_published(task: Task) -> bool:
    return TASKS.get(task.key) is task


def is_multi_agent(task: Task) -> bool:
    """True when the task's env is a PettingZoo arena (trained with parameter sharing)."""
    return task.env_id in PETTINGZOO_ENVS


#: Env keyword arguments that only shape *training*: the reward the learner sees and the training episodes.
#: The evaluation plays the task's env as published and scores the portfolio's returns, not the reward, so
#: changing these needs nothing at evaluation. Any other env keyword argument (``action_mapping``,
#: ``risk_enabled``, ``window``, ``n_assets``, ...) changes how actions are read, what is observed or how the
#: market moves, and the leaderboard evaluation does not reproduce it: see :func:`unreproduced_env_kwargs`.
TRAINING_ONLY_ENV_KWARGS = frozenset(
    {"reward_mode", "reward", "episode_length", "max_cycles", "info_level", "render_mode", "parallel"}
)


def parse_env_kwargs(text: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """``--env-kwargs``: a JSON object of env keyword arguments (``'{"reward_mode": "log_return"}'``)."""
    if text is None:
        return {}
    if isinstance(text, Mapping):
        return dict(text)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SystemExit(
            f'--env-kwargs must be a JSON object such as \'{{"reward_mode": "log_return"}}\', '
            f"got {text!r}: {exc}"
        ) from None
    if not isinstance(value, dict):
        raise SystemExit(f"--env-kwargs must be a JSON object (env keyword argument -> value), got {text!r}")
    return value


def _env_kwargs_arg(text: str) -> dict[str, Any]:
    """argparse ``type`` of ``--env-kwargs`` (a usage error, not a traceback, on bad JSON)."""
    import argparse

    try:
        return parse_env_kwargs(text)
    except SystemExit as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def train_kwargs(
    task: Task, episode_length: int | None = None, env_kwargs: str | Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Env keyword arguments for training on ``task``: its first scenario (the in-distribution market), with
    ``env_kwargs`` (``--env-kwargs``, a mapping or its JSON text) merged over them; ``episode_length``
    (``--episode-length``) is applied last."""
    if task.historical is not None:
        raise SystemExit(f"{task.key} is a historical task; these examples train on the synthetic tasks.")
    kwargs = {**task.scenario_kwargs(task.scenarios[0]), **parse_env_kwargs(env_kwargs)}
    if episode_length is not None:
        kwargs["episode_length"] = int(episode_length)
    if "reward" in kwargs:
        kwargs = _reward_override(task, kwargs)
    return kwargs


#: ``--env-kwargs {"reward": {...}}``: a key that scales ``target_risk`` by each agent's own risk aversion
#: (the ``risk`` weight of its reward *before* the override): ``{"risk": 0,
#: "target_risk_per_risk_aversion": 5}`` gives conservative agents ``target_risk`` 50, balanced 20,
#: aggressive 7.5.
TARGET_RISK_PER_RISK_AVERSION = "target_risk_per_risk_aversion"


def reward_overrides(over: Any, profile: str) -> dict[str, float]:
    """The reward-weight changes ``--env-kwargs {"reward": over}`` makes for an agent of risk ``profile``.

    ``over`` maps :class:`~wealtharena_env.config.RewardWeights` fields to values (they apply to every agent)
    and may also map a risk profile name (``"conservative"``, ``"balanced"``, ``"aggressive"``) to such an
    object (it applies to that profile's agents only, over the common fields). So
    ``{"risk": 0, "conservative": {"target_risk": 50}}`` sets ``risk`` 0 for everyone and ``target_risk`` 50
    for conservative agents. :data:`TARGET_RISK_PER_RISK_AVERSION` is another spelling of ``target_risk`` (see
    :func:`reward_for`): one object may not give both, and a profile's own (either spelling) replaces the
    common one.
    """
    from wealtharena_env.config import RISK_PROFILES

    if not isinstance(over, Mapping):
        raise SystemExit(f'--env-kwargs "reward" must be a JSON object of reward weights, got {over!r}')
    common_fields = {k: v for k, v in over.items() if k not in RISK_PROFILES}
    mine = over.get(profile, {})
    for name in RISK_PROFILES:
        if name in over and not isinstance(over[name], Mapping):
            raise SystemExit(
                f'--env-kwargs "reward": "{name}" must be a JSON object of reward weights for the '
                f"{name} profile's agents, got {over[name]!r}"
            )
    spellings = ("target_risk", TARGET_RISK_PER_RISK_AVERSION)  # two spellings of one weight
    for level, fields in (("", common_fields), (f'"{profile}": ', mine)):
        if all(k in fields for k in spellings):
            raise SystemExit(
                f'--env-kwargs "reward": {level}give "target_risk" or "{TARGET_RISK_PER_RISK_AVERSION}", '
                "not both"
            )
    if any(k in mine for k in spellings):  # the profile's own target risk replaces the common one
        common_fields = {k: v for k, v in common_fields.items() if k not in spellings}
    return {**common_fields, **mine}


def reward_for(base: Any, over: Any, profile: str) -> Any:
    """``base`` (a :class:`~wealtharena_env.config.RewardWeights`, the agent's reward without the override)
    with the fields :func:`reward_overrides` gives for ``profile`` replaced;
    ``target_risk_per_risk_aversion: k`` becomes ``target_risk = k * base.risk`` (the risk aversion before the
    override, so ``{"risk": 0, "target_risk_per_risk_aversion": 5}`` moves each agent's risk charge from the
    held weights to the requested target, 5 times over)."""
    changes = reward_overrides(over, profile)
    if TARGET_RISK_PER_RISK_AVERSION in changes:
        scale = changes.pop(TARGET_RISK_PER_RISK_AVERSION)
        if isinstance(scale, bool) or not isinstance(scale, (int, float)):
            raise SystemExit(
                f'--env-kwargs "reward": "{TARGET_RISK_PER_RISK_AVERSION}" must be a number, got {scale!r}'
            )
        changes["target_risk"] = float(scale) * base.risk
    try:
        return base.replace(**changes)
    except TypeError as exc:
        raise SystemExit(
            f'--env-kwargs "reward": {exc} (the weights are the fields of RewardWeights, a risk '
            f'profile name or "{TARGET_RISK_PER_RISK_AVERSION}")'
        ) from None
    except ValueError as exc:  # ConfigError: a negative or non-finite weight
        raise SystemExit(f'--env-kwargs "reward": {exc}') from None


def _reward_override(task: Task, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``"reward": {...}`` in ``--env-kwargs``: every agent's reward weights, its own preset with the given
    fields replaced (e.g. ``{"risk": 0, "target_risk": 20}``; per profile ``{"conservative": {...}, ...}``;
    the target risk scaled by each agent's risk aversion ``{"target_risk_per_risk_aversion": 5}``:
    :func:`reward_for`, docs/training.md). The agents become explicit
    :class:`~wealtharena_env.config.AgentProfile` objects (``agents``) carrying those weights: for a
    single-agent task the one agent of profile ``risk_profile`` (default balanced); for an arena every agent
    of ``agents`` (default the arena's five), seats played by baselines included (their reward is unused).
    Training only: the evaluation scores the portfolio's returns, not the reward."""
    from wealtharena_env.config import REWARD_PRESETS, AgentProfile, arena_config

    kwargs = dict(kwargs)
    over = kwargs.pop("reward")
    if not isinstance(over, Mapping):
        raise SystemExit(f'--env-kwargs "reward" must be a JSON object of reward weights, got {over!r}')
    if not is_multi_agent(task):
        profile = kwargs.get("risk_profile", "balanced")
        if profile not in REWARD_PRESETS:
            raise SystemExit(
                f"--env-kwargs: unknown risk_profile {profile!r} (one of {sorted(REWARD_PRESETS)})"
            )
        reward = reward_for(REWARD_PRESETS[profile], over, profile)
        kwargs["agents"] = (
            AgentProfile(
                "agent", profile, initial_cash=kwargs.pop("initial_cash", 1_000_000.0), reward=reward
            ),
        )
        return kwargs
    # names ("balanced_0") or AgentProfile objects, as the arena takes them; the arena's default five
    # otherwise
    agents = arena_config(agents=kwargs.get("agents")).agents
    kwargs["agents"] = tuple(
        dataclasses.replace(a, reward=reward_for(a.reward, over, a.risk_profile)) for a in agents
    )
    return kwargs


def unreproduced_env_kwargs(task: Task, env_kwargs: str | Mapping[str, Any] | None) -> list[str]:
    """The keys of ``env_kwargs`` that the evaluation will not play with.

    The leaderboard evaluation (:func:`~wealtharena_env.leaderboard.evaluate.evaluate`) builds the task's env
    as published; it takes no env keyword arguments. A training-only key (:data:`TRAINING_ONLY_ENV_KWARGS`) or
    a value equal to the task's own is harmless; any other key means the trained policy is scored on an env
    that reads its actions or builds its observations differently from the one it learnt on.
    """
    published = task.scenario_kwargs(task.scenarios[0])
    return sorted(
        k
        for k, v in parse_env_kwargs(env_kwargs).items()
        if k not in TRAINING_ONLY_ENV_KWARGS and not (k in published and published[k] == v)
    )


def env_kwargs_record(
    task: Task, episode_length: int | None, env_kwargs: str | Mapping[str, Any] | None, *, warn: bool = True
) -> dict[str, Any]:
    """What a run records about its env (in ``config.json`` and ``summary.json``): ``env_kwargs``, the full
    training env kwargs; ``env_kwargs_override``, what ``--env-kwargs`` gave; ``env_kwargs_not_evaluated``,
    the keys the evaluation does not reproduce (warned about on stderr with ``warn``)."""
    override = parse_env_kwargs(env_kwargs)
    keys = check_env_kwargs(task, override) if warn else unreproduced_env_kwargs(task, override)
    return {
        "env_kwargs": train_kwargs(task, episode_length, override),
        "env_kwargs_override": override,
        "env_kwargs_not_evaluated": keys,
    }


def check_env_kwargs(task: Task, env_kwargs: str | Mapping[str, Any] | None) -> list[str]:
    """Warn (once, on stderr) about env keyword arguments the evaluation will not reproduce; return their keys
    (recorded in ``config.json`` and ``summary.json`` as ``env_kwargs_not_evaluated``)."""
    keys = unreproduced_env_kwargs(task, env_kwargs)
    if keys:
        print(
            f"warning: --env-kwargs {keys} change the env beyond the reward; the evaluation plays {task.key} "
            "as published (it takes no env arguments), so the policy is scored on an env it was not trained "
            "on. That is your responsibility; config.json and summary.json record the training env kwargs.",
            file=sys.stderr,
        )
    return keys


# ---------------------------------------------------------------------------------------------- tracking
def _flat(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{name}."))
        elif isinstance(value, (int, float, str, bool)) or value is None:
            out[name] = value
        else:
            out[name] = str(value)
    return out


class Tracker:
    """Experiment tracking: TensorBoard (``run_dir/tb``) plus, optionally, MLflow or W&B.

    Args:
        kind: ``"tensorboard"`` (default: TensorBoard only), ``"mlflow"`` or ``"wandb"`` (both in addition to
            TensorBoard).
        run_dir: the run's output folder.
        run_name: the run's name in the tracker.
        config: hyperparameters, logged once.
        tensorboard: write TensorBoard event files here (False when the trainer writes its own, as SB3 does).
        mlflow_uri: MLflow tracking URI (default: a SQLite file ``<run_dir>/../mlflow.db`` — MLflow >= 3
            refuses the old ``./mlruns`` directory store unless ``MLFLOW_ALLOW_FILE_STORE=true``).
        project: the MLflow experiment / W&B project.

    W&B runs in offline mode (nothing leaves the machine; ``wandb sync <run_dir>/wandb/offline-run-*``
    uploads later) unless ``WANDB_MODE`` is set.
    """

    def __init__(
        self,
        kind: str,
        run_dir: Path,
        run_name: str,
        config: Mapping[str, Any],
        *,
        tensorboard: bool = True,
        mlflow_uri: str | None = None,
        project: str = "wealtharena",
    ):
        if kind not in ("tensorboard", "mlflow", "wandb", "none"):
            raise SystemExit(f"--track must be tensorboard, mlflow or wandb, got {kind!r}")
        self.kind = kind
        self.run_dir = Path(run_dir)
        self.writer = None
        self._mlflow = None
        self._wandb = None
        params = _flat(config)
        if tensorboard and kind != "none":
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard not installed: keep training, say so once
                warnings.warn(
                    "TensorBoard is not installed (pip install tensorboard); not writing event files.",
                    stacklevel=2,
                )
            else:
                self.writer = SummaryWriter(str(self.run_dir / "tb"))
                self.writer.add_text("hyperparameters", "\n".join(f"- {k}: {v}" for k, v in params.items()))
        if kind == "mlflow":
            import mlflow

            uri = mlflow_uri or f"sqlite:///{(self.run_dir.parent / 'mlflow.db').resolve()}"
            mlflow.set_tracking_uri(uri)
            experiment = mlflow.get_experiment_by_name(project)
            if experiment is None:
                artifacts = (self.run_dir.parent / "mlartifacts").resolve().as_uri()
                experiment_id = mlflow.create_experiment(project, artifact_location=artifacts)
            else:
                experiment_id = experiment.experiment_id
            mlflow.start_run(run_name=run_name, experiment_id=experiment_id)
            mlflow.log_params({k: ("" if v is None else v) for k, v in params.items()})
            self._mlflow = mlflow
            print(f"MLflow run '{run_name}' in {uri} (browse: mlflow ui --backend-store-uri {uri})")
        elif kind == "wandb":
            import wandb

            os.environ.setdefault("WANDB_MODE", "offline")
            os.environ.setdefault("WANDB_SILENT", "true")
            self._wandb = wandb.init(
                project=project, name=run_name, config=params, dir=str(self.run_dir), reinit="finish_previous"
            )
            print(f"W&B run '{run_name}' ({os.environ['WANDB_MODE']}) in {self.run_dir / 'wandb'}")

    def log(self, metrics: Mapping[str, Any], step: int) -> None:
        """Log scalar metrics (non-finite and non-numeric values are skipped)."""
        clean = {
            k: float(v)
            for k, v in metrics.items()
            if isinstance(v, (int, float, np.floating, np.integer))
            and not isinstance(v, bool)
            and np.isfinite(v)
        }
        if not clean:
            return
        if self.writer is not None:
            for key, value in clean.items():
                self.writer.add_scalar(key, value, step)
        if self._mlflow is not None:
            self._mlflow.log_metrics({k.replace("@", "_"): v for k, v in clean.items()}, step=step)
        if self._wandb is not None:
            self._wandb.log(clean, step=step)

    def log_artifact(self, path: Path) -> None:
        if self._mlflow is not None:
            self._mlflow.log_artifact(str(path))
        if self._wandb is not None:
            self._wandb.save(
                str(Path(path).resolve()), base_path=str(Path(path).resolve().parent), policy="now"
            )

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self._mlflow is not None:
            self._mlflow.end_run()
        if self._wandb is not None:
            self._wandb.finish()


def add_common_args(parser: Any) -> None:
    """Arguments every example shares (task, seeds, budget of the evaluation, output, tracking)."""
    parser.add_argument(
        "--task",
        default=TOY_DRIFT.key,
        help="a leaderboard task (Calm-v0, Regimes-v0, Crash-v0, HighCorrelation-v0, BullBear-v0, Impact-v0; "
        f"see `wealtharena tasks`) or {TOY_DRIFT.key} (default), a sanity task with a clear "
        "optimum",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="training seed (from the published training range)"
    )
    parser.add_argument(
        "--episode-length", type=int, default=None, help="training episode length (default: the task's)"
    )
    parser.add_argument(
        "--env-kwargs",
        type=_env_kwargs_arg,
        default={},
        help="JSON object of env keyword arguments merged over the task's training env kwargs, "
        'e.g. \'{"reward_mode": "log_return"}\' (recorded in config.json; the evaluation '
        "plays the task's env as published, so arguments beyond the reward are not "
        "reproduced there); '{\"reward\": {...}}' sets reward weights over each agent's "
        'profile preset: \'{"reward": {"risk": 0, "target_risk_per_risk_aversion": 5}}\', '
        'or per profile \'{"reward": {"conservative": {...}, ...}}\'',
    )
    parser.add_argument(
        "--eval-seeds",
        type=int,
        default=None,
        help="evaluate on the first N of the task's 16 evaluation seeds (default: all)",
    )
    parser.add_argument(
        "--eval-episode-length",
        type=int,
        default=None,
        help="evaluation episode length (default: the task's; shorter = unofficial)",
    )
    parser.add_argument("--out", default="runs", help="output folder (one sub-folder per run)")
    parser.add_argument(
        "--run-name", default=None, help="the run's folder name (default: <algo>_<task>_s<seed>)"
    )
    parser.add_argument(
        "--track",
        default="tensorboard",
        choices=("tensorboard", "mlflow", "wandb", "none"),
        help="experiment tracking in addition to the console: tensorboard (default), mlflow "
        "(local SQLite store, plus TensorBoard), wandb (offline, plus TensorBoard), none",
    )
    parser.add_argument("--mlflow-uri", default=None, help="MLflow tracking URI (default: sqlite in --out)")


def run_dir_for(args: Any, algo: str, task: Task) -> Path:
    name = args.run_name or f"{algo}_{task.key}_s{args.seed}"
    path = Path(args.out) / name
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---------------------------------------------------------------------------------------------- evaluation
def focal_mean(doc: Mapping[str, Any], metric: str) -> float:
    """Mean of a focal metric over the successful evaluation episodes of a results document."""
    values = [
        ep["focal"][metric]
        for ep in doc["episodes"]
        if ep["status"] == "ok" and ep["focal"][metric] is not None
    ]
    return float(np.mean(values)) if values else float("nan")


def summarize(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The numbers worth printing from a results document."""
    agg = doc["aggregates"]
    return {
        "task": doc["task"]["key"],
        "entry": doc["entry"],
        "episodes_ok": agg["n_ok"],
        "episodes": agg["n_episodes"],
        "mean_return": focal_mean(doc, "episode_reward"),
        "mean_total_return": focal_mean(doc, "total_return"),
        "mean_sharpe": agg["score"]["mean"]["point"],
        "official_budget": doc["budget"]["official"],
    }


def evaluate_policy(
    task: Task,
    policy: str | Callable,
    output: Path,
    *,
    n_seeds: int | None = None,
    episode_length: int | None = None,
    entry: str | None = None,
    use_cli: bool = False,
    bootstrap_reps: int = 1000,
) -> dict[str, Any]:
    """Play ``task``'s evaluation seeds with ``policy`` and write the results JSON to ``output``.

    ``policy`` is anything ``wealtharena evaluate --policy`` takes (``ppo:model.zip``, ``module:callable``,
    a baseline name, an RLlib checkpoint) or a Python callable on observation batches. With ``use_cli`` (a
    published task and a policy spec) the evaluation runs the ``wealtharena evaluate`` command itself, exactly
    as a leaderboard submission would; otherwise it calls the same evaluation in-process.
    """
    output = Path(output)
    start = time.perf_counter()
    if use_cli and isinstance(policy, str) and is_published(task):
        cmd = [
            sys.executable,
            "-m",
            "wealtharena_env",
            "evaluate",
            "--task",
            task.key,
            "--policy",
            policy,
            "--output",
            str(output),
            "--quiet",
            "--bootstrap-reps",
            str(bootstrap_reps),
        ]
        if n_seeds is not None:
            cmd += ["--seeds", str(n_seeds)]
        if episode_length is not None:
            cmd += ["--episode-length", str(episode_length)]
        if entry:
            cmd += ["--name", entry]
        print("$ " + shlex.join(["wealtharena", *cmd[3:]]))
        subprocess.run(cmd, check=True)
        from wealtharena_env.leaderboard.results import read_results

        doc = read_results(output)
    else:
        doc = evaluate(
            task,
            policy,
            entry=entry,
            n_seeds=n_seeds,
            episode_length=episode_length,
            trajectories=1,
            bootstrap_reps=bootstrap_reps,
            progress=False,
        )
        write_results(doc, output)
    summary = summarize(doc)
    print(
        f"evaluation {summary['task']} [{summary['entry']}]: mean return {summary['mean_return']:.4f}, "
        f"mean total return {summary['mean_total_return']:.4f}, mean Sharpe {summary['mean_sharpe']}, "
        f"{summary['episodes_ok']}/{summary['episodes']} episodes ok ({time.perf_counter() - start:.1f}s) "
        f"-> {output}"
    )
    return doc


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as pretty JSON atomically (temp file + rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_json_default) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _json_default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return repr(value)


__all__ = [
    "EXAMPLE_TASKS",
    "TARGET_RISK_PER_RISK_AVERSION",
    "TOY_DRIFT",
    "TOY_DRIFT_MARKET",
    "TRAINING_ONLY_ENV_KWARGS",
    "Tracker",
    "add_common_args",
    "check_env_kwargs",
    "env_kwargs_record",
    "evaluate_policy",
    "focal_mean",
    "is_multi_agent",
    "is_published",
    "parse_env_kwargs",
    "resolve_task",
    "reward_for",
    "reward_overrides",
    "run_dir_for",
    "summarize",
    "train_kwargs",
    "unreproduced_env_kwargs",
    "write_json",
]
