"""Evaluate a policy on a leaderboard task and write a schema-versioned results JSON.

Protocol
--------
For each scenario of the task, the env is built from the task's registered env ID, and its Simulation is
played as one batch of K environments, environment ``k`` reset with evaluation seed ``k`` (bit for bit what
K single envs reset with those seeds play); the policy is called once per step on the **batch** of every
focal agent's observation ``(K, D)`` (a policy that only accepts one observation ``(D,)`` is detected and
called row by row; a stateful policy, such as an ensemble, is also told each row's episode and agent, see
:mod:`.policies`). Non-focal seats are played by the scenario's background population. Each episode's
focal score is the mean over focal agents of the task's primary metric (Sharpe ratio of daily simple returns
of portfolio value, net of all costs, annualised with 252 periods, risk-free 0, sample std; 0 for an episode
held in cash, whose returns are all exactly 0); the task score is the mean over every evaluation episode,
with a 95 % stratified-bootstrap interval (strata = scenarios, 2000 replicates, seed 0) and the IQM.

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
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from wealtharena_env._progress import Progress
from wealtharena_env.envs._common import copy_action
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
from wealtharena_env.outputs import InfoDecoder
from wealtharena_env.sim import Simulation

#: Per-agent metrics recorded per episode, besides
#: :data:`~wealtharena_env.kernels.metrics.SUMMARY_METRIC_NAMES`.
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
    else:  # cut to the task's range before validation: bars outside it cannot fail the load
        full = load_market_data(data, tickers=list(spec.tickers), start=spec.start, end=spec.end, **options)
    missing = [t for t in spec.tickers if t not in full.tickers]
    if missing:
        raise ConfigError(f"task {task.key} needs tickers {missing}, which the data does not hold.")
    full = full.select(list(spec.tickers))
    return resolve_split(full, (spec.date_splits(), spec.eval_split))


# =============================================================================================== evaluation
@dataclass
class _Episode:
    """What one evaluation episode (environment ``index`` of the scenario's batch) has recorded so far."""

    index: int
    seed: int
    live: list[str]  # its agents still playing (terminated or truncated agents leave)
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
                f"policy {policy.spec} was trained on {what} of shape {got}, but {task.key} gives {what} "
                f"of shape {want}: it was trained on another task or env configuration (train it on "
                f"{task.key}, e.g. examples/sb3_train.py --task {task.key})."
            )


def _benchmark_returns(sim: Simulation, index: int, n_steps: int) -> np.ndarray:
    """Equal-weight, daily-rebalanced, cost-free benchmark over episode ``index``'s decision bars."""
    w = sim.config.warmup
    close = sim.closes(index, w, w + n_steps + 1)
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


def _new_episode(
    index: int,
    seed: int,
    agents: list[str],
    focal: list[str],
    roles: dict[str, str],
    scenario: Scenario,
    record: bool,
    values: np.ndarray,
    weights: np.ndarray,
) -> _Episode:
    """Episode ``index`` after its reset: ``values`` (K, A) and ``weights`` (K, A, N + 1) of the reset's
    info."""
    traj: dict[str, Any] | None = None
    if record:
        traj = {
            "scenario": scenario.name,
            "seed": seed,
            "agents": {
                a: {
                    "role": roles[a],
                    "equity": [1.0],
                    "cost": [],
                    "weights": [[round_float(w) for w in weights[index, k].tolist()]] if a in focal else None,
                    "risk_events": {},
                }
                for k, a in enumerate(agents)
            },
        }
    return _Episode(
        index=index,
        seed=seed,
        live=list(agents),
        values={a: [float(values[index, k])] for k, a in enumerate(agents)},
        costs=dict.fromkeys(agents, 0.0),
        turnover={a: [] for a in agents},
        rewards=dict.fromkeys(agents, 0.0),
        nan_actions=dict.fromkeys(agents, 0),
        clipped_actions=dict.fromkeys(agents, 0),
        risk_events=dict.fromkeys(agents, 0),
        trajectory=traj,
    )


def _record_step(
    ep: _Episode,
    step: int,
    agents: list[str],
    focal: list[str],
    info: dict[str, Any],
    raw: np.ndarray,
    decoder: InfoDecoder,
) -> None:
    """Add one step of episode ``ep`` for its live agents: ``info`` the step's full vector info (arrays
    (K, A)), ``raw`` its (K, A, I) info array (decoded for the risk-event names of recorded trajectories)."""
    i = ep.index
    for a in ep.live:
        k = agents.index(a)
        ep.values[a].append(float(info["portfolio_value"][i, k]))
        cost = float(info["cost"][i, k])
        ep.costs[a] += cost
        ep.turnover[a].append(float(info["turnover"][i, k]))
        ep.rewards[a] += float(info["reward"][i, k])
        nan_actions = int(info["nan_actions"][i, k])
        clipped_actions = int(info["clipped_actions"][i, k])
        ep.nan_actions[a] += nan_actions
        ep.clipped_actions[a] += clipped_actions
        ep.risk_events[a] += int(info["risk_event_count"][i, k])
        if ep.trajectory is not None:
            t = ep.trajectory["agents"][a]
            t["equity"].append(round_float(ep.values[a][-1] / ep.values[a][0]))
            t["cost"].append(round_float(cost))
            if a in focal:
                t["weights"].append([round_float(w) for w in info["weights"][i, k].tolist()])
            names = [event["rule"] for event in decoder.risk_events(raw[i, k])]
            if nan_actions:
                names.append("nan_action")
            if clipped_actions:
                names.append("clipped_action")
            for name in names:
                t["risk_events"].setdefault(name, []).append(step + 1)


def _episode_dates(sim: Simulation, index: int, seed: int) -> np.ndarray | None:
    """The dates of episode ``index``'s bars (warm-up included) on historical data, ``None`` otherwise.

    The episode's first bar is :meth:`HistoricalMarket.start_bar` of a fresh generator seeded ``seed`` (what
    the reset drew); the warm-up bars, which no trade changes, are checked against the data's bars."""
    from wealtharena_env.market_sources import HistoricalMarket

    source = sim.source
    dates = getattr(getattr(source, "data", None), "dates", None)
    if not isinstance(source, HistoricalMarket) or dates is None:
        return None
    length = sim.bars.shape[1]
    start = source.start_bar(np.random.default_rng(seed), length)
    warm = sim.config.warmup + 1
    closes = np.asarray(source.data.close)[start : start + warm]
    if not np.array_equal(sim.closes(index, 0, warm), closes):
        raise RuntimeError(
            f"episode of seed {seed}: its bars are not the data's from bar {start} (a bug in the evaluation: "
            "please report it)"
        )
    return np.asarray(dates)[start : start + length]


def _market_benchmark_record(
    ep: _Episode, sim: Simulation, focal: list[str], agents: list[str], benchmarks: Any, ppy: float
) -> dict[str, Any]:
    """``{ticker: relative_record | None}`` of one finished episode against every market benchmark (None:
    the ETF's bars do not cover the episode)."""
    from wealtharena_env.leaderboard import market_benchmarks as mb

    dates = _episode_dates(sim, ep.index, ep.seed)
    if dates is None:
        return {}
    cfg = sim.config
    bench = mb.benchmark_returns(
        benchmarks,
        dates,
        cfg.costs,
        cfg.warmup,
        cfg.window,
        0.5 ** (1.0 / cfg.volatility_halflife),
        float(sim.initial_cash[agents.index(focal[0])]),
    )
    focal_returns = []
    for a in focal:
        values = np.asarray(ep.values[a], dtype=np.float64)
        focal_returns.append(values[1:] / values[:-1] - 1.0)
    out: dict[str, Any] = {}
    for ticker, (returns, filled) in bench.items():
        if returns is None:
            out[ticker] = None
            continue
        out[ticker] = {**mb.relative_record(focal_returns, returns, ppy), "filled_bars": filled}
    return out


def _episode_record(
    ep: _Episode,
    scenario: Scenario,
    sim: Simulation,
    agents: list[str],
    focal: list[str],
    roles: dict[str, str],
    ppy: float,
    benchmarks: Any = None,
) -> dict[str, Any]:
    """The results record of one finished episode: status, focal and per-agent metrics, the benchmark's, the
    market benchmarks' (historical tasks with ``benchmarks``), and its trajectory (``"_trajectory"``) if it
    was recorded."""
    from wealtharena_env.kernels import metrics as km

    n_steps = len(ep.values[agents[0]]) - 1
    bench = _benchmark_returns(sim, ep.index, n_steps)
    record: dict[str, Any] = {
        "scenario": scenario.name,
        "seed": ep.seed,
        "status": "failed" if ep.error else "ok",
        "error": ep.error,
        "focal": None,
        "benchmark": None,
        "agents": None,
    }
    if ep.error is None:
        per_agent = {a: {"role": roles[a], **_agent_metrics(ep, a, bench, ppy)} for a in agents}
        metric_names = [m for m in per_agent[focal[0]] if m not in ("role",)]
        record["focal"] = {m: float(np.mean([per_agent[a][m] for a in focal])) for m in metric_names}
        bsum = km.summary_metrics(bench, None, ppy)
        record["benchmark"] = {
            m: float(bsum[m][0])
            for m in ("total_return", "sharpe_ratio", "max_drawdown", "annual_volatility")
        }
        record["agents"] = per_agent
    if benchmarks is not None:
        record["market_benchmarks"] = (
            _market_benchmark_record(ep, sim, focal, agents, benchmarks, ppy) if ep.error is None else None
        )
    if ep.trajectory is not None:
        ep.trajectory["benchmark_equity"] = [1.0] + [round_float(v) for v in np.cumprod(1.0 + bench).tolist()]
        ep.trajectory["status"] = record["status"]
        ep.trajectory["tickers"] = list(sim.tickers)
        record["_trajectory"] = ep.trajectory
    return record


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
    benchmarks: Any = None,
) -> list[dict[str, Any]]:
    """Play every evaluation seed of ``scenario`` at once: one batched Simulation (environment ``k`` = seed
    ``k``, bit for bit the single env reset with that seed), the policy called once per step on the live
    episodes' focal observations."""
    from wealtharena_env.leaderboard.baselines import make_baseline

    first = make_task_env(task, scenario, episode_length, data)  # spaces and configuration for the policies
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
    single = first.unwrapped.sim
    sim = Simulation(single.config, batch_size=len(seeds), data=single.source)
    first.close()
    decoder = sim.decoder("full")
    obs, raw = sim.reset(seeds=[int(s) for s in seeds])
    info = decoder.vector(raw, None, squeeze=False)
    episodes = [
        _new_episode(
            k,
            int(seed),
            agents,
            focal,
            roles,
            scenario,
            k < n_trajectories,
            info["portfolio_value"],
            info["weights"],
        )
        for k, seed in enumerate(seeds)
    ]
    step = 0
    while True:
        live = [ep for ep in episodes if not ep.done]
        if not live:
            break
        sim.actions[..., n_action] = 0.0  # agents without an action this step hold
        # focal agents: one batch over every live episode and focal seat
        rows = [(ep, a) for ep in live for a in focal if a in ep.live]
        if rows:
            acts, errs = focal_caller(
                np.stack([obs[ep.index, agents.index(a)] for ep, a in rows]),
                [(ep.index, a) for ep, a in rows],
            )
            for (ep, a), act, err in zip(rows, acts, errs):
                if err is not None and ep.error is None:
                    ep.error = {"step": step, "agent": a, "source": "policy", "message": f"policy {err}"}
                    ep.done = True
                if not ep.done:
                    copy_action(sim.actions[ep.index, agents.index(a)], act, a, n_action)
        live = [ep for ep in live if not ep.done]
        for a, caller in background_callers.items():
            rows_b = [ep for ep in live if a in ep.live]
            if not rows_b:
                continue
            k = agents.index(a)
            acts, errs = caller(np.stack([obs[ep.index, k] for ep in rows_b]))
            for ep, act, err in zip(rows_b, acts, errs):
                if err is not None:
                    raise RuntimeError(
                        f"background baseline {roles[a]} failed: {err}"
                    )  # our bug, not the entrant's
                copy_action(sim.actions[ep.index, k], act, a, n_action)
        try:
            obs, raw = sim.step()
        except Exception as exc:  # noqa: BLE001 - an env crash fails the episodes still playing, not the run
            for ep in live:
                ep.error = {
                    "step": step,
                    "agent": None,
                    "source": "env",
                    "message": f"environment raised {type(exc).__name__}: {exc} (a bug in the env, not in "
                    "the policy: please report it)",
                }
                ep.done = True
            break
        info = decoder.vector(raw, None, squeeze=False)
        _, terminated, truncated = decoder.outcomes(raw)
        ended = terminated | truncated
        for ep in live:
            _record_step(ep, step, agents, focal, info, raw, decoder)
            ep.live = [a for a in ep.live if not ended[ep.index, agents.index(a)]]
            if not ep.live:
                ep.done = True
        step += 1
        progress.update(1)
    progress.update(max(0, episode_length - step))
    ppy = float(sim.config.market.periods_per_year)
    out = [_episode_record(ep, scenario, sim, agents, focal, roles, ppy, benchmarks) for ep in episodes]
    sim.close()
    return out


def _market_strata(
    scenarios: Sequence[Scenario], covered: list[dict[str, Any]], ticker: str, part: str, metric: str
) -> dict[str, list[float]]:
    """Scenario -> the episodes' ``market_benchmarks[ticker][part][metric]`` values (None left out)."""
    out: dict[str, list[float]] = {s.name: [] for s in scenarios}
    for ep in covered:
        value = ep["market_benchmarks"][ticker][part][metric]
        if value is not None:
            out[ep["scenario"]].append(value)
    return out


def _market_aggregates(
    scenarios: Sequence[Scenario], episodes: list[dict[str, Any]], tickers: Sequence[str], reps: int
) -> dict[str, Any]:
    """Per market benchmark: the focal relative metrics' means with intervals (strata = scenarios), the ETF's
    own mean return, Sharpe, drawdown and volatility, and the episodes it covered."""
    from wealtharena_env.kernels.metrics import RELATIVE_METRIC_NAMES

    out: dict[str, Any] = {}
    for ticker in tickers:
        covered = [
            ep for ep in episodes if ep["status"] == "ok" and (ep.get("market_benchmarks") or {}).get(ticker)
        ]
        if not covered:
            continue
        out[ticker] = {
            "metrics": {
                m: agg.bootstrap_ci(
                    _market_strata(scenarios, covered, ticker, "focal", m), "mean", reps=reps
                ).as_dict()
                for m in RELATIVE_METRIC_NAMES
            },
            "benchmark": {},
            "n_episodes": len(covered),
            "filled_bars": int(sum(ep["market_benchmarks"][ticker]["filled_bars"] for ep in covered)),
        }
        for m in ("total_return", "sharpe_ratio", "max_drawdown", "annual_volatility"):
            values = [
                v for vs in _market_strata(scenarios, covered, ticker, "benchmark", m).values() for v in vs
            ]
            finite = [v for v in values if math.isfinite(v)]
            out[ticker]["benchmark"][m] = float(np.mean(finite)) if finite else None
    return out


def _aggregate(
    task: Task,
    scenarios: Sequence[Scenario],
    episodes: list[dict[str, Any]],
    reps: int,
    market_tickers: Sequence[str] | None = None,
) -> dict[str, Any]:
    primary = task.primary_metric
    by_scen: dict[str, list[dict[str, Any]]] = {s.name: [] for s in scenarios}
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
    for s in scenarios:
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
    held = {s.name: score[s.name] for s in scenarios if s.held_out}
    if held and len(held) < len(scenarios):
        aggregates["held_out"] = agg.bootstrap_ci(held, "mean", reps=reps).as_dict()
    ok = [ep for ep in episodes if ep["status"] == "ok"]
    for m in ("total_return", "sharpe_ratio", "max_drawdown", "annual_volatility"):
        vals = [
            ep["benchmark"][m]
            for ep in ok
            if ep["benchmark"][m] is not None and math.isfinite(ep["benchmark"][m])
        ]
        aggregates["benchmark"][m] = float(np.mean(vals)) if vals else None
    if market_tickers is not None:
        aggregates["market_benchmarks"] = _market_aggregates(scenarios, episodes, market_tickers, reps)
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
    seeds: Sequence[int] | None = None,
    scenarios: Sequence[str] | None = None,
    benchmark_data: Any = None,
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
        seeds: play these seeds instead of the evaluation seeds — validation during training, on seeds of
            the task's training range such as :meth:`Task.validation_seeds`; they must not be evaluation
            seeds, and the result is not official (``budget.official`` false).
        scenarios: play only the scenarios of these names (e.g. ``["in_distribution"]`` for a validation
            that does not look at the held-out markets); the result is then not official.
        benchmark_data: historical tracks: the daily bars of the market benchmarks
            (``market_benchmarks.MARKET_BENCHMARKS``: SPY, QQQ, IWM) as a
            path / MarketData / frame; ``None``: ``data`` when it holds them, else Yahoo Finance through the
            cache; ``False``: no market benchmarks. Missing benchmark data is a warning and leaves the
            columns out, never an error (:mod:`~wealtharena_env.leaderboard.market_benchmarks`).
    """
    import wealtharena_env
    from wealtharena_env.leaderboard.tasks import TASKS

    task = get_task(task) if isinstance(task, str) else task
    loaded = policy if isinstance(policy, LoadedPolicy) else load_policy(policy)
    official_seeds = seeds is None
    if seeds is not None:
        seeds = [int(s) for s in seeds]
        leaked = sorted(set(seeds) & set(task.eval_seeds))
        if not seeds or leaked:
            raise ConfigError(
                f"seeds must be a non-empty list of non-evaluation seeds (validation); got {len(seeds)} "
                f"seeds, of which evaluation seeds: {leaked}."
            )
    else:
        seeds = list(task.eval_seeds)
    played = list(task.scenarios)
    if scenarios is not None:
        known = [s.name for s in task.scenarios]
        unknown = [name for name in scenarios if name not in known]
        if unknown or not scenarios:
            raise ConfigError(f"scenarios must name some of {task.key}'s scenarios {known}; got {scenarios}.")
        played = [s for s in task.scenarios if s.name in scenarios]
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
    benchmarks = None
    if task.historical is not None and benchmark_data is not False:
        from wealtharena_env.leaderboard.market_benchmarks import (
            MAX_FILLED_BARS,
            MarketBenchmarkWarning,
            load_market_benchmarks,
        )

        benchmarks = load_market_benchmarks(benchmark_data, data, task.historical.start, task.historical.end)
    bar = Progress(len(played) * length, f"{task.key} {loaded.name}", progress)
    episodes: list[dict[str, Any]] = []
    try:
        for scenario in played:
            episodes.extend(
                _run_scenario(
                    task,
                    scenario,
                    loaded,
                    seeds,
                    length,
                    market_data,
                    policy_seed,
                    trajectories,
                    bar,
                    benchmarks,
                )
            )
    finally:
        bar.close()
    trajs = [ep.pop("_trajectory") for ep in episodes if "_trajectory" in ep]
    failures = [
        {"scenario": ep["scenario"], "seed": ep["seed"], **ep["error"]} for ep in episodes if ep["error"]
    ]
    market_record = None
    if benchmarks is not None:
        market_record = benchmarks.describe()
        uncovered = {
            t: sum(
                1
                for ep in episodes
                if ep["status"] == "ok" and (ep["market_benchmarks"] or {}).get(t) is None
            )
            for t in benchmarks.tickers
        }
        uncovered = {t: n for t, n in uncovered.items() if n}
        market_record["uncovered_episodes"] = uncovered
        if uncovered:
            warnings.warn(
                MarketBenchmarkWarning(
                    f"{task.key}: the market benchmark bars do not cover every episode's dates (more than "
                    f"{MAX_FILLED_BARS} dates in a row missing, or the data starts too late): "
                    + ", ".join(f"{t} misses {n} episode(s)" for t, n in uncovered.items())
                    + "; those episodes are left out of the benchmark columns."
                ),
                stacklevel=2,
            )
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
                for s in played
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
            "n_scenarios": len(played),
            "official": official_seeds
            and len(seeds) == len(task.eval_seeds)
            and length == task.episode_length
            and len(played) == len(task.scenarios),
        },
        "data": data_record,
        "market_benchmark_data": market_record,
        "aggregates": _aggregate(
            task, played, episodes, bootstrap_reps, benchmarks.tickers if benchmarks is not None else None
        ),
        "failures": failures,
        "episodes": episodes,
        "trajectories": trajs,
    }
    return clean_json(doc)


__all__ = ["AGGREGATED_METRICS", "EXTRA_METRICS", "evaluate", "load_task_data", "make_task_env"]
