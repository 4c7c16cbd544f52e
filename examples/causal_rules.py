"""Is there something to learn? Simple causal rules against equal weight on every synthetic task.

For each single-agent synthetic task of the leaderboard (``Calm-v0``, ``Regimes-v0``, ``Crash-v0``,
``HighCorrelation-v0``, ``BullBear-v0``) this plays ``equal_weight``, ``risk_parity``, the causal timing
rules ``vol_timing`` and ``trend_timing`` (``wealtharena_env.leaderboard.baselines``: they read only the
observation) and ``cash`` (stepping aside altogether, Sharpe 0: a rule that gains only by avoiding the market
does no better than it) with the leaderboard's own evaluation — every evaluation seed, every scenario,
full-length episodes — and prints one Markdown table:

* **Sharpe**: mean episode Sharpe ratio with its 95 % stratified-bootstrap interval (strata = scenarios);
* **turnover**: mean traded fraction of the portfolio per step;
* **P(>EW)**: probability of improvement over ``equal_weight`` with its 95 % interval
  (``aggregate.probability_of_improvement_ci``, strata = scenarios): seeds compared *unpaired*, as the
  leaderboard does;
* **paired**: on a single-agent task every entry sees the *same* market path for the same (seed, scenario),
  so the episodes pair up. ``wins`` is the share of episodes where the rule's Sharpe is above equal
  weight's (ties — the rule never left equal weight — are counted apart), ``ΔSharpe`` the mean paired
  difference with its 95 % stratified-bootstrap interval. Pairing removes the market path's luck, which
  dominates an unpaired comparison of one-year episodes.

    python examples/causal_rules.py                                  # the full protocol (~20 s on 2 cores)
    python examples/causal_rules.py --tasks Calm-v0 --seeds 4        # a quick look (not the protocol)
    python examples/causal_rules.py --output causal_rules.md --json causal_rules.json

No training, no tuning: the rules' thresholds are fixed in ``baselines.py`` and the evaluation seeds are
played once.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

if "numba" not in sys.modules:  # only before numba reads it (changing it later makes numba raise)
    os.environ.setdefault(
        "NUMBA_NUM_THREADS", "1"
    )  # serial kernels: shared cores, no spinning OpenMP workers

import numpy as np

import wealtharena_env
from wealtharena_env.leaderboard import aggregate as agg
from wealtharena_env.leaderboard.evaluate import evaluate
from wealtharena_env.leaderboard.tasks import get_task, list_tasks

#: The reference and the entries compared with it (the reference first).
REFERENCE = "equal_weight"
ENTRIES = ("equal_weight", "risk_parity", "vol_timing", "trend_timing", "cash")


def synthetic_tasks() -> list[str]:
    """Keys of the single-agent synthetic tasks (where entries share the market path of a seed)."""
    return [t.key for t in list_tasks() if t.historical is None and not t.is_multi_agent]


def episode_scores(doc: dict[str, Any], metric: str = "sharpe_ratio") -> dict[str, dict[int, float]]:
    """``{scenario: {seed: focal metric}}`` of a results document (failed episodes: NaN)."""
    out: dict[str, dict[int, float]] = {s["name"]: {} for s in doc["task"]["scenarios"]}
    for ep in doc["episodes"]:
        value = ep["focal"][metric] if ep["status"] == "ok" and ep["focal"][metric] is not None else np.nan
        out[ep["scenario"]][int(ep["seed"])] = float(value)
    return out


def compare(
    entry: dict[str, dict[int, float]], reference: dict[str, dict[int, float]], reps: int
) -> dict[str, Any]:
    """Unpaired probability of improvement and paired statistics of ``entry`` against ``reference``."""
    scenarios = list(reference)
    x = {s: [entry[s][k] for k in sorted(entry[s])] for s in scenarios}
    y = {s: [reference[s][k] for k in sorted(reference[s])] for s in scenarios}
    poi = agg.probability_of_improvement_ci(x, y, reps=reps)
    diffs = {
        s: [entry[s][k] - reference[s][k] for k in sorted(reference[s]) if k in entry[s]] for s in scenarios
    }
    flat = np.array([d for s in scenarios for d in diffs[s]], dtype=np.float64)
    flat = flat[np.isfinite(flat)]
    delta = agg.bootstrap_ci(diffs, "mean", reps=reps)
    return {
        "p_improvement": poi.as_dict(),
        "paired_n": int(flat.size),
        "paired_wins": float(np.mean(flat > 0)) if flat.size else float("nan"),
        "paired_ties": int(np.count_nonzero(flat == 0)),
        "paired_delta": delta.as_dict(),
    }


def run(
    tasks: list[str],
    entries: tuple[str, ...] = ENTRIES,
    n_seeds: int | None = None,
    episode_length: int | None = None,
    reps: int = agg.DEFAULT_REPS,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Evaluate every entry on every task; one row per (task, entry) with its scores and comparisons."""
    rows = []
    for key in tasks:
        task = get_task(key)
        docs = {}
        for name in entries:
            start = time.perf_counter()
            docs[name] = evaluate(
                task,
                name,
                n_seeds=n_seeds,
                episode_length=episode_length,
                trajectories=0,
                bootstrap_reps=reps,
                progress=False,
            )
            if progress:
                print(
                    f"  {task.key:<20} {name:<14} {time.perf_counter() - start:5.1f}s",
                    file=sys.stderr,
                    flush=True,
                )
        ref = episode_scores(docs[REFERENCE])
        for name in entries:
            a = docs[name]["aggregates"]
            row = {
                "task": task.key,
                "fingerprint": task.fingerprint(),
                "entry": name,
                "n_episodes": a["n_episodes"],
                "n_failed": a["n_failed"],
                "official": docs[name]["budget"]["official"],
                "sharpe": a["score"]["mean"],
                "turnover": a["metrics"]["average_turnover"]["point"],
                "by_scenario": {s: v["score"]["point"] for s, v in a["by_scenario"].items()},
            }
            if name != REFERENCE:
                row.update(compare(episode_scores(docs[name]), ref, reps))
            rows.append(row)
    return rows


def _f(x: float | None, digits: int = 2) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _pct(x: float | None) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.1%}"


def _ci(d: dict[str, Any], digits: int = 2) -> str:
    return f"{_f(d['point'], digits)} [{_f(d['low'], digits)}, {_f(d['high'], digits)}]"


def to_markdown(rows: list[dict[str, Any]]) -> str:
    """The table of :func:`run`'s rows."""
    lines = [
        (
            f"| task | entry | Sharpe [95 % CI] | turnover | P(>{REFERENCE}) [95 % CI] | paired wins | "
            "paired ΔSharpe [95 % CI] |"
        ),
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if r["entry"] == REFERENCE:
            poi, wins, delta = "ref", "ref", "ref"
        else:
            poi = _ci(r["p_improvement"])
            wins = f"{r['paired_wins']:.0%}" + (f" ({r['paired_ties']} ties)" if r["paired_ties"] else "")
            d = r["paired_delta"]
            delta = f"{d['point']:+.2f} [{d['low']:+.2f}, {d['high']:+.2f}]"
        lines.append(
            f"| {r['task']} | {r['entry']} | {_ci(r['sharpe'])} | {_pct(r['turnover'])} | {poi} | {wins} "
            f"| {delta} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--tasks",
        nargs="+",
        default=None,
        help=f"task keys (default: every single-agent synthetic task: {', '.join(synthetic_tasks())})",
    )
    parser.add_argument(
        "--entries",
        nargs="+",
        default=list(ENTRIES),
        help=f"baselines to compare with {REFERENCE} (default: %(default)s)",
    )
    parser.add_argument(
        "--seeds", type=int, default=None, help="first N evaluation seeds only (default: all 16)"
    )
    parser.add_argument(
        "--episode-length", type=int, default=None, help="shorter episodes (default: the task's)"
    )
    parser.add_argument("--bootstrap-reps", type=int, default=agg.DEFAULT_REPS, help="bootstrap replicates")
    parser.add_argument("--output", help="also write the Markdown table to this file")
    parser.add_argument(
        "--json", help="also write the rows (every figure, per scenario) as JSON to this file"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no per-evaluation timings on stderr")
    args = parser.parse_args(argv)
    entries = tuple(dict.fromkeys([REFERENCE, *args.entries]))
    start = time.perf_counter()
    rows = run(
        args.tasks or synthetic_tasks(),
        entries,
        args.seeds,
        args.episode_length,
        args.bootstrap_reps,
        progress=not args.quiet,
    )
    elapsed = time.perf_counter() - start
    budget = "full protocol" if all(r["official"] for r in rows) else "SMALLER BUDGET (not the protocol)"
    seeds = args.seeds or len(get_task(rows[0]["task"]).eval_seeds) if rows else 0
    header = (
        f"wealtharena-env {wealtharena_env.__version__}, {_dt.date.today().isoformat()}: {budget}, "
        f"{seeds} evaluation seeds x every scenario per task, {elapsed:.0f} s\n\n"
    )
    table = to_markdown(rows)
    print(header + table, end="")
    if args.output:
        Path(args.output).write_text(header + table, encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, default=float) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
