"""Evaluate a policy on a leaderboard task and write a schema-versioned results JSON.

Protocol
--------
For each scenario of the task, one environment per evaluation seed is created from the task's registered
env ID and reset with that seed; the environments are stepped in lock-step and the policy is called once
per step on the **batch** of every focal agent's observation ``(K, D)`` (a policy that only accepts one
observation ``(D,)`` is detected and called row by row). Non-focal seats are played by the scenario's
background population. Each episode's focal score is the mean over focal agents of the task's primary
metric (Sharpe ratio of daily simple returns of portfolio value, net of all costs, annualised with 252
periods, risk-free 0, sample std; 0 for an episode held in cash, whose returns are all exactly 0); the
task score is the mean over every evaluation episode, with a 95 % stratified-bootstrap interval (strata =
scenarios, 2000 replicates, seed 0) and the IQM.

A broken policy (it raises, returns the wrong shape, or NaN / inf) fails only the episodes it broke:
each failure is recorded with the step, agent and message, the episode is stopped and excluded from the
aggregates, and the run goes on. ``n_failed`` and ``failures`` say what failed.

Policies are loaded by :mod:`.policies` (:func:`~.policies.load_policy`); the results document and its file
format are :mod:`.results`.
"""

from __future__ import annotations

import datetime as _dt
import math
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from wealtharena_env._progress import Progress
from wealtharena_env.errors import ConfigError
from wealtharena_env.leaderboard import aggregate as agg
from wealtharena_env.leaderboard.policies import LoadedPolicy, PolicyCaller, PolicyLoadError, load_policy
from wealtharena_env.leaderboard.results import (
    SCHEMA,
    SCHEMA_VERSION,
    clean_json,
    round_float,
)
from wealtharena_env.leaderboard.tasks import SUITE_VERSION, Scenario, Task, get_task

#: Per-agent metrics recorded per episode, besides :data:`~wealtharena_env.kernels.metrics.SUMMARY_METRIC_NAMES`.
EXTRA_METRICS = (
    "final_value",
    "total_cost",
    "average_turnover",
    "episode_reward",
    "nan_actions",
    "clipped_actions",
    "risk_events",
)

#: Focal metrics aggregated with intervals in ``aggregates["metrics"]``.
AGGREGATED_METRICS = (
    "sharpe_ratio",
    "total_return",
    "cagr",
    "annual_volatility",
    "sortino_ratio",
    "max_drawdown",
    "calmar_ratio",
    "historical_cvar",
    "win_rate",
    "average_turnover",
    "total_cost",
    "information_ratio",
    "tracking_error",
    "risk_events",
)


# =============================================================================================== envs
class _GymAdapter:
    """A single-agent Gymnasium env seen through the parallel API (agent ``"agent"``)."""

    def __init__(self, env: Any):
        self.env = env
        self.possible_agents = ["agent"]
        self.agents: list[str] = []
        self.unwrapped = env.unwrapped

    def action_space(self, agent: str):
        return self.env.action_space

    def observation_space(self, agent: str):
        return self.env.observation_space

    def reset(self, seed: int):
        obs, info = self.env.reset(seed=seed)
        self.agents = ["agent"]
        return {"agent": obs}, {"agent": info}

    def step(self, actions: dict[str, Any]):
        obs, reward, terminated, truncated, info = self.env.step(actions["agent"])
        if terminated or truncated:
            self.agents = []
        return {"agent": obs}, {"agent": reward}, {"agent": terminated}, {"agent": truncated}, {"agent": info}

    def close(self) -> None:
        self.env.close()


def make_task_env(task: Task, scenario: Scenario, episode_length: int | None = None, data: Any = None) -> Any:
    """One environment of ``scenario``, built from the task's registered ID (parallel API for both kinds)."""
    from wealtharena_env.registration import PETTINGZOO_ENVS

    kwargs = task.scenario_kwargs(scenario, episode_length)
    if data is not None:
        kwargs["data"] = data
    if task.env_id in PETTINGZOO_ENVS:
        import pettingzoo

        return pettingzoo.make("parallel", task.env_id, **kwargs)
    import gymnasium

    return _GymAdapter(gymnasium.make(task.env_id, disable_env_checker=True, **kwargs))


def load_task_data(task: Task, data: Any = None):
    """The evaluation split of a historical task as ``MarketData`` (``data``: a path / MarketData / frame
    holding the task's tickers; default: download them with yfinance through the cache)."""
    if task.historical is None:
        return None
    from wealtharena_env.data import load_market_data, resolve_split

    spec = task.historical
    options = dict(spec.load_options)
    if data is None:
        full = load_market_data(list(spec.tickers), start=spec.start, end=spec.end, **options)
    else:
        full = load_market_data(data, tickers=list(spec.tickers), **options)
    missing = [t for t in spec.tickers if t not in full.tickers]
    if missing:
        raise ConfigError(f"task {task.key} needs tickers {missing}, which the data does not hold.")
    full = full.select(list(spec.tickers))
    return resolve_split(full, (spec.date_splits(), spec.eval_split))


# =============================================================================================== evaluation
@dataclass
class _Episode:
    env: Any
    seed: int
    values: dict[str, list[float]]
    costs: dict[str, float]
    turnover: dict[str, list[float]]
    rewards: dict[str, float]
    nan_actions: dict[str, int]
    clipped_actions: dict[str, int]
    risk_events: dict[str, int]
    trajectory: dict[str, Any] | None
    error: dict[str, Any] | None = None
    done: bool = False


def _risk_event_names(info: dict[str, Any]) -> list[str]:
    events = info.get("risk_events") or ()
    out = []
    for e in events:
        if isinstance(e, dict):
            out.append(str(e.get("rule") or e.get("type") or e.get("name") or e.get("event") or "risk_event"))
        else:
            out.append(str(e))
    return out


def _check_policy_shapes(policy: LoadedPolicy, task: Task, env: Any, agent: str) -> None:
    """Once, before any episode: a policy whose recorded observation or action shape does not fit the task's
    env is a :class:`PolicyLoadError` naming both shapes (not one failed episode per seed)."""
    obs_shape = tuple(env.observation_space(agent).shape)
    act_shape = tuple(env.action_space(agent).shape)
    for what, want, got in (
        ("observations", obs_shape, policy.observation_shape),
        ("actions", act_shape, policy.action_shape),
    ):
        if got is not None and got != want:
            raise PolicyLoadError(
                f"policy {policy.spec} was trained on {what} of shape {got}, but {task.key} gives {what} of shape "
                f"{want}: it was trained on another task or env configuration (train it on {task.key}, e.g. "
                f"examples/sb3_train.py --task {task.key})."
            )


def _full_info(env: Any, agents: list[str], agent: str) -> dict[str, Any]:
    """The full info dict of ``agent`` after the env's last reset / step, read from its Simulation (so the
    evaluation does not depend on the ``info_level`` the task's env was built with)."""
    return env.unwrapped.sim.info(agents.index(agent), level="full")


def _benchmark_returns(env: Any, n_steps: int) -> np.ndarray:
    """Equal-weight, daily-rebalanced, cost-free benchmark over the episode's decision bars."""
    sim = env.unwrapped.sim
    w = sim.config.warmup
    close = sim.closes(0, w, w + n_steps + 1)
    return (close[1:] / close[:-1]).mean(axis=1) - 1.0


def _agent_metrics(ep: _Episode, agent: str, benchmark: np.ndarray, ppy: float) -> dict[str, Any]:
    from wealtharena_env.kernels import metrics as km

    values = np.asarray(ep.values[agent], dtype=np.float64)
    returns = values[1:] / values[:-1] - 1.0
    bench = benchmark[: returns.size]
    turnover = np.asarray(ep.turnover[agent], dtype=np.float64)
    summary = km.summary_metrics(returns, bench, ppy, turnover=turnover[None, :] if turnover.size else None)
    out: dict[str, Any] = {name: float(v[0]) for name, v in summary.items()}
    out.setdefault("average_turnover", float("nan"))
    out["final_value"] = float(values[-1])
    out["total_cost"] = float(ep.costs[agent])
    out["episode_reward"] = float(ep.rewards[agent])
    out["nan_actions"] = int(ep.nan_actions[agent])
    out["clipped_actions"] = int(ep.clipped_actions[agent])
    out["risk_events"] = int(ep.risk_events[agent])
    out["steps"] = int(returns.size)
    return out


def _run_scenario(
    task: Task,
    scenario: Scenario,
    policy: LoadedPolicy,
    seeds: Sequence[int],
    episode_length: int,
    data: Any,
    policy_seed: int,
    n_trajectories: int,
    progress: Progress,
) -> list[dict[str, Any]]:
    from wealtharena_env.leaderboard.baselines import make_baseline

    envs = [make_task_env(task, scenario, episode_length, data) for _ in seeds]
    first = envs[0]
    agents = list(first.possible_agents)
    focal = [a for a in task.focal_agents if a in agents]
    if len(focal) != len(task.focal_agents):
        raise ConfigError(
            f"task {task.key}: focal agents {task.focal_agents} are not all in the env's agents {agents}."
        )
    background = scenario.background.mapping if scenario.background is not None else {}
    roles = {a: "focal" if a in focal else f"background:{background.get(a, 'cash')}" for a in agents}
    n_action = int(np.prod(first.action_space(focal[0]).shape))
    _check_policy_shapes(policy, task, first, focal[0])
    focal_caller = PolicyCaller(policy.build(first, policy_seed), n_action)
    background_callers = {
        a: PolicyCaller(make_baseline(background.get(a, "cash"), first, seed=policy_seed + 1 + i), n_action)
        for i, a in enumerate(agents)
        if a not in focal
    }
    episodes: list[_Episode] = []
    obs_now: list[dict[str, Any]] = []
    for k, (env, seed) in enumerate(zip(envs, seeds)):
        obs, infos = env.reset(seed=int(seed))
        traj: dict[str, Any] | None = None
        if k < n_trajectories:
            traj = {
                "scenario": scenario.name,
                "seed": int(seed),
                "agents": {
                    a: {
                        "role": roles[a],
                        "equity": [1.0],
                        "cost": [],
                        "weights": [] if a in focal else None,
                        "risk_events": {},
                    }
                    for a in agents
                },
            }
            for a in focal:
                weights = _full_info(env, agents, a)["weights"]
                traj["agents"][a]["weights"].append([round_float(w) for w in weights.tolist()])
        episodes.append(
            _Episode(
                env=env,
                seed=int(seed),
                values={a: [float(infos[a]["portfolio_value"])] for a in agents},
                costs=dict.fromkeys(agents, 0.0),
                turnover={a: [] for a in agents},
                rewards=dict.fromkeys(agents, 0.0),
                nan_actions=dict.fromkeys(agents, 0),
                clipped_actions=dict.fromkeys(agents, 0),
                risk_events=dict.fromkeys(agents, 0),
                trajectory=traj,
            )
        )
        obs_now.append(obs)
    step = 0
    while True:
        live = [i for i, ep in enumerate(episodes) if not ep.done]
        if not live:
            break
        actions: list[dict[str, Any]] = [{} for _ in episodes]
        # focal agents: one batch over every live episode and focal seat
        rows = [(i, a) for i in live for a in focal if a in episodes[i].env.agents]
        if rows:
            batch = np.stack([np.asarray(obs_now[i][a]) for i, a in rows])
            acts, errs = focal_caller(batch)
            for (i, a), act, err in zip(rows, acts, errs):
                if err is not None and episodes[i].error is None:
                    episodes[i].error = {
                        "step": step,
                        "agent": a,
                        "source": "policy",
                        "message": f"policy {err}",
                    }
                    episodes[i].done = True
                actions[i][a] = act
        live = [i for i in live if not episodes[i].done]
        for a, caller in background_callers.items():
            rows_b = [i for i in live if a in episodes[i].env.agents]
            if not rows_b:
                continue
            acts, errs = caller(np.stack([np.asarray(obs_now[i][a]) for i in rows_b]))
            for i, act, err in zip(rows_b, acts, errs):
                if err is not None:
                    raise RuntimeError(
                        f"background baseline {roles[a]} failed: {err}"
                    )  # our bug, not the entrant's
                actions[i][a] = act
        for i in live:
            ep = episodes[i]
            try:
                obs, rewards, _terms, _truncs, infos = ep.env.step(actions[i])
            except Exception as exc:  # noqa: BLE001 - an env crash fails this episode, not the run
                ep.error = {
                    "step": step,
                    "agent": None,
                    "source": "env",
                    "message": f"environment raised {type(exc).__name__}: {exc} (a bug in the env, not in "
                    "the policy: please report it)",
                }
                ep.done = True
                continue
            obs_now[i] = obs
            for a in infos:
                info = _full_info(
                    ep.env, agents, a
                )  # the simulation's full record, whatever the env's info level
                ep.values[a].append(float(info["portfolio_value"]))
                ep.costs[a] += float(info.get("cost", 0.0))
                ep.turnover[a].append(float(info.get("turnover", 0.0)))
                ep.rewards[a] += float(rewards.get(a, 0.0))
                ep.nan_actions[a] += int(info.get("nan_actions", 0))
                ep.clipped_actions[a] += int(info.get("clipped_actions", 0))
                names = _risk_event_names(info)
                ep.risk_events[a] += len(names)
                if ep.trajectory is not None:
                    t = ep.trajectory["agents"][a]
                    t["equity"].append(round_float(ep.values[a][-1] / ep.values[a][0]))
                    t["cost"].append(round_float(float(info.get("cost", 0.0))))
                    if a in focal:
                        t["weights"].append([round_float(w) for w in info["weights"].tolist()])
                    if int(info.get("nan_actions", 0)):
                        names.append("nan_action")
                    if int(info.get("clipped_actions", 0)):
                        names.append("clipped_action")
                    for name in names:
                        t["risk_events"].setdefault(name, []).append(step + 1)
            if not ep.env.agents:
                ep.done = True
        step += 1
        progress.update(1)
    progress.update(max(0, episode_length - step))
    ppy = float(first.unwrapped.sim.config.market.periods_per_year)
    out = []
    for ep in episodes:
        n_steps = len(ep.values[agents[0]]) - 1
        bench = _benchmark_returns(ep.env, n_steps)
        record: dict[str, Any] = {
            "scenario": scenario.name,
            "seed": ep.seed,
            "status": "failed" if ep.error else "ok",
            "error": ep.error,
        }
        if ep.error is None:
            from wealtharena_env.kernels import metrics as km

            per_agent = {a: {"role": roles[a], **_agent_metrics(ep, a, bench, ppy)} for a in agents}
            metric_names = [m for m in per_agent[focal[0]] if m not in ("role",)]
            record["focal"] = {m: float(np.mean([per_agent[a][m] for a in focal])) for m in metric_names}
            bsum = km.summary_metrics(bench, None, ppy)
            record["benchmark"] = {
                m: float(bsum[m][0])
                for m in ("total_return", "sharpe_ratio", "max_drawdown", "annual_volatility")
            }
            record["agents"] = per_agent
        else:
            record["focal"] = None
            record["benchmark"] = None
            record["agents"] = None
        if ep.trajectory is not None:
            ep.trajectory["benchmark_equity"] = [1.0] + [
                round_float(v) for v in np.cumprod(1.0 + bench).tolist()
            ]
            ep.trajectory["status"] = record["status"]
            ep.trajectory["tickers"] = list(first.unwrapped.sim.tickers)
            record["_trajectory"] = ep.trajectory
        out.append(record)
        ep.env.close()
    return out


def _aggregate(task: Task, episodes: list[dict[str, Any]], reps: int) -> dict[str, Any]:
    primary = task.primary_metric
    by_scen: dict[str, list[dict[str, Any]]] = {s.name: [] for s in task.scenarios}
    for ep in episodes:
        by_scen[ep["scenario"]].append(ep)

    def strata(metric: str) -> dict[str, list[float]]:
        return {
            name: [ep["focal"][metric] for ep in eps if ep["status"] == "ok"] for name, eps in by_scen.items()
        }

    score = strata(primary)
    aggregates: dict[str, Any] = {
        "primary_metric": primary,
        "score": {
            "mean": agg.bootstrap_ci(score, "mean", reps=reps).as_dict(),
            "iqm": agg.bootstrap_ci(score, "iqm", reps=reps).as_dict(),
            "median": agg.bootstrap_ci(score, "median", reps=reps).as_dict(),
        },
        "confidence": 0.95,
        "bootstrap": {
            "method": "stratified percentile",
            "strata": "scenario",
            "reps": reps,
            "seed": agg.DEFAULT_SEED,
        },
        "metrics": {m: agg.bootstrap_ci(strata(m), "mean", reps=reps).as_dict() for m in AGGREGATED_METRICS},
        "by_scenario": {},
        "held_out": None,
        "benchmark": {},
        "n_episodes": len(episodes),
        "n_ok": sum(ep["status"] == "ok" for ep in episodes),
        "n_failed": sum(ep["status"] != "ok" for ep in episodes),
    }
    for s in task.scenarios:
        eps = by_scen[s.name]
        ok = [ep for ep in eps if ep["status"] == "ok"]
        aggregates["by_scenario"][s.name] = {
            "held_out": s.held_out,
            "background": s.background.name if s.background is not None else None,
            "n_ok": len(ok),
            "n_failed": len(eps) - len(ok),
            "score": agg.bootstrap_ci({s.name: score[s.name]}, "mean", reps=reps).as_dict(),
            "metrics": {
                m: (float(np.mean([ep["focal"][m] for ep in ok])) if ok else None)
                for m in ("total_return", "max_drawdown", "annual_volatility", "average_turnover")
            },
        }
    held = {s.name: score[s.name] for s in task.scenarios if s.held_out}
    if held and len(held) < len(task.scenarios):
        aggregates["held_out"] = agg.bootstrap_ci(held, "mean", reps=reps).as_dict()
    ok = [ep for ep in episodes if ep["status"] == "ok"]
    for m in ("total_return", "sharpe_ratio", "max_drawdown", "annual_volatility"):
        vals = [
            ep["benchmark"][m]
            for ep in ok
            if ep["benchmark"][m] is not None and math.isfinite(ep["benchmark"][m])
        ]
        aggregates["benchmark"][m] = float(np.mean(vals)) if vals else None
    return aggregates


def evaluate(
    task: Task | str,
    policy: str | Callable | LoadedPolicy,
    *,
    entry: str | None = None,
    n_seeds: int | None = None,
    episode_length: int | None = None,
    data: Any = None,
    policy_seed: int = 0,
    trajectories: int = 1,
    bootstrap_reps: int = agg.DEFAULT_REPS,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Play the task's evaluation seeds with ``policy``; return the results document (see module docstring).

    Args:
        task: a :class:`Task` or its key (``"Calm-v0"``).
        policy: a spec for :func:`load_policy`, a callable, or a :class:`LoadedPolicy`.
        entry: the leaderboard entry's name (default: the policy's name).
        n_seeds: play only the first ``n_seeds`` evaluation seeds (a smaller budget; recorded).
        episode_length: shorter episodes than the task's (a smaller budget; recorded).
        data: historical tracks: the data (path, MarketData, frame) holding the task's tickers;
            default: download with yfinance through the cache.
        policy_seed: seed of stochastic baselines (the random baseline, background populations).
        trajectories: record equity / weights / risk-event series of the first this-many seeds of every
            scenario (for ``wealtharena report``); 0 records none.
        bootstrap_reps: bootstrap replicates of the intervals.
        progress: show a progress bar on stderr (default ``None``: only when stderr is a terminal).
    """
    import wealtharena_env
    from wealtharena_env.leaderboard.tasks import TASKS

    task = get_task(task) if isinstance(task, str) else task
    loaded = policy if isinstance(policy, LoadedPolicy) else load_policy(policy)
    seeds = list(task.eval_seeds)
    if n_seeds is not None:
        if not 1 <= n_seeds <= len(seeds):
            raise ConfigError(f"n_seeds must be in [1, {len(seeds)}], got {n_seeds}.")
        seeds = seeds[:n_seeds]
    length = task.episode_length if episode_length is None else int(episode_length)
    if length < 1 or length > task.episode_length:
        raise ConfigError(
            f"episode_length must be in [1, {task.episode_length}] for {task.key}, got {length}."
        )
    market_data = load_task_data(task, data)
    data_record = None
    if market_data is not None:
        data_record = {
            "content_hash": market_data.content_hash(),
            "tickers": list(market_data.tickers),
            "first_date": str(np.datetime_as_string(np.asarray(market_data.dates)[0], unit="D")),
            "last_date": str(np.datetime_as_string(np.asarray(market_data.dates)[-1], unit="D")),
            "n_bars": int(market_data.n_steps),
            "split": task.historical.eval_split if task.historical else None,
        }
    bar = Progress(len(task.scenarios) * length, f"{task.key} {loaded.name}", progress)
    episodes: list[dict[str, Any]] = []
    try:
        for scenario in task.scenarios:
            episodes.extend(
                _run_scenario(
                    task, scenario, loaded, seeds, length, market_data, policy_seed, trajectories, bar
                )
            )
    finally:
        bar.close()
    trajs = [ep.pop("_trajectory") for ep in episodes if "_trajectory" in ep]
    failures = [
        {"scenario": ep["scenario"], "seed": ep["seed"], **ep["error"]} for ep in episodes if ep["error"]
    ]
    env_version = task.env_id.rsplit("-", 1)[-1]
    import numba

    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "package": {"name": "wealtharena-env", "version": wealtharena_env.__version__},
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "numba": numba.__version__,
        },
        "task": {
            "key": task.key,
            "name": task.name,
            "version": task.version,
            "suite_version": SUITE_VERSION,
            "fingerprint": task.fingerprint(),
            "published": TASKS.get(task.key) is task,
            "env_id": task.env_id,
            "env_version": env_version,
            "primary_metric": task.primary_metric,
            "focal_agents": list(task.focal_agents),
            "scenarios": [
                {
                    "name": s.name,
                    "held_out": s.held_out,
                    "background": s.background.mapping if s.background is not None else None,
                    "description": s.description,
                }
                for s in task.scenarios
            ],
        },
        "entry": entry or loaded.name,
        "policy": {"spec": loaded.spec, "kind": loaded.kind, "name": loaded.name, "seed": policy_seed},
        "seeds": {
            "evaluation": seeds,
            "training": {"start": task.train_seeds.start, "stop": task.train_seeds.stop},
        },
        "budget": {
            "n_seeds": len(seeds),
            "episode_length": length,
            "n_scenarios": len(task.scenarios),
            "official": len(seeds) == len(task.eval_seeds) and length == task.episode_length,
        },
        "data": data_record,
        "aggregates": _aggregate(task, episodes, bootstrap_reps),
        "failures": failures,
        "episodes": episodes,
        "trajectories": trajs,
    }
    return clean_json(doc)


__all__ = ["AGGREGATED_METRICS", "EXTRA_METRICS", "evaluate", "load_task_data", "make_task_env"]
