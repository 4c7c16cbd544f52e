"""The ``wealtharena`` command line (also ``python -m wealtharena_env``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: Which baseline each default agent plays in ``wealtharena demo``.
DEMO_POLICIES = {
    "conservative": ("min_variance", "risk_parity"),
    "balanced": ("equal_weight",),
    "aggressive": ("momentum", "buy_and_hold"),
}


def run_demo(
    seed: int = 0, n_assets: int = 10, episode_length: int = 252, impact: bool = False, out=sys.stdout
) -> dict[str, dict[str, float]]:
    """Play one episode of the default 5-agent arena with baseline policies; print and return a table."""
    from wealtharena_env import arena_v0, impact_arena_v0
    from wealtharena_env.kernels import metrics
    from wealtharena_env.leaderboard.baselines import make_baseline

    module = impact_arena_v0 if impact else arena_v0
    # the full info (risk events included): the demo tallies them
    env = module.parallel_env(n_assets=n_assets, episode_length=episode_length, info_level="full")
    obs, infos = env.reset(seed=seed)
    policies = {}
    counters: dict[str, int] = {}
    for agent in env.possible_agents:
        profile = env.config.agents[env.possible_agents.index(agent)].risk_profile
        choices = DEMO_POLICIES[profile]
        k = counters.get(profile, 0)
        counters[profile] = k + 1
        policies[agent] = make_baseline(choices[k % len(choices)], env, seed=seed)
    names = env.possible_agents
    log_returns: dict[str, list[float]] = {a: [] for a in env.possible_agents}
    costs = dict.fromkeys(env.possible_agents, 0.0)
    events = dict.fromkeys(env.possible_agents, 0)
    last = infos
    while env.agents:
        actions = {a: policies[a](obs[a]) for a in env.agents}
        obs, _rewards, _terminations, _truncations, infos = env.step(actions)
        for a in infos:
            info = env.sim.info(names.index(a))  # the full record (a full-info env)
            log_returns[a].append(info["reward_terms"]["profit"])
            costs[a] += info["cost"]
            events[a] += info["nan_actions"] + info["clipped_actions"] + len(info.get("risk_events", ()))
            last[a] = info
    names = env.possible_agents
    simple = metrics.log_to_simple(np.array([log_returns[a] for a in names], dtype=np.float64))
    ppy = float(env.config.market.periods_per_year)
    vol = metrics.annual_volatility(simple, ppy)
    sharpe = metrics.sharpe_ratio(simple, ppy)
    mdd = metrics.max_drawdown(simple)
    total = metrics.total_return(simple)
    table = {}
    header = (
        f"{'agent':<16}{'policy':<15}{'final value':>15}{'return':>9}{'ann.vol':>9}{'sharpe':>8}"
        f"{'max dd':>8}{'costs':>12}{'events':>8}"
    )
    lines = [
        (
            f"WealthArena/{'ImpactArena' if impact else 'Arena'}-v0 demo: seed {seed}, {n_assets} assets, "
            f"{episode_length} steps, {len(names)} agents"
        ),
        header,
        "-" * len(header),
    ]
    for k, a in enumerate(names):
        row = {
            "final_value": float(last[a]["portfolio_value"]),
            "total_return": float(total[k]),
            "annual_volatility": float(vol[k]),
            "sharpe": float(sharpe[k]),
            "max_drawdown": float(mdd[k]),
            "costs": float(costs[a]),
            "risk_events": int(events[a]),
        }
        table[a] = row
        lines.append(
            f"{a:<16}{policies[a].name:<15}{row['final_value']:>15,.2f}{row['total_return']:>9.2%}"
            f"{row['annual_volatility']:>9.2%}{row['sharpe']:>8.2f}{row['max_drawdown']:>8.2%}"
            f"{row['costs']:>12,.2f}{row['risk_events']:>8d}"
        )
    lines.append("Past performance of a simulated market says nothing about real returns.")
    print("\n".join(lines), file=out)
    return table


def _cmd_demo(args: argparse.Namespace) -> int:
    run_demo(seed=args.seed, n_assets=args.n_assets, episode_length=args.episode_length, impact=args.impact)
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from wealtharena_env.registration import GYMNASIUM_ENVS, PETTINGZOO_ENVS

    for env_id in PETTINGZOO_ENVS:
        print(f"{env_id:<32} pettingzoo (aec, parallel)")
    for env_id in GYMNASIUM_ENVS:
        print(f"{env_id:<32} gymnasium")
    return 0


def _cmd_tasks(args: argparse.Namespace) -> int:
    import json

    from wealtharena_env.leaderboard.tasks import SUITE_VERSION, get_task, list_tasks

    tasks = [get_task(k) for k in args.task] if args.task else list_tasks()
    if args.json:
        print(
            json.dumps(
                [t.describe() | {"fingerprint": t.fingerprint()} for t in tasks], indent=1, default=str
            )
        )
        return 0
    print(f"WealthArena task suite {SUITE_VERSION}")
    for t in tasks:
        print(f"\n{t.key:<20} {t.env_id}   fingerprint {t.fingerprint()}")
        print(f"  {t.description}")
        print(
            f"  focal agents: {', '.join(t.focal_agents)}; episode length {t.episode_length}; "
            f"primary metric: mean focal {t.primary_metric}"
        )
        print(
            f"  training seeds: range({t.train_seeds.start}, {t.train_seeds.stop}); evaluation seeds "
            f"({len(t.eval_seeds)}): {t.eval_seeds[0]}, {t.eval_seeds[1]}, ... (disjoint)"
        )
        for b in t.training_backgrounds:
            print(f"  training co-players {b.name}: " + ", ".join(f"{a}={p}" for a, p in b.seats))
        for s in t.scenarios:
            print(f"  scenario {s.name}{' [held out]' if s.held_out else ''}: {s.description}")
        if t.historical is not None:
            h = t.historical
            print(
                f"  data: {', '.join(h.tickers)}; train {h.train[0]}..{h.train[1]}, validation "
                f"{h.validation[0]}..{h.validation[1]}, test {h.test[0]}..{h.test[1]} "
                f"(evaluated: {h.eval_split})"
            )
    return 0


def _default_output(task_key: str, entry: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in entry)
    return f"results/{task_key}__{safe}.json"


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import time

    from wealtharena_env.leaderboard.baselines import BASELINES
    from wealtharena_env.leaderboard.evaluate import evaluate
    from wealtharena_env.leaderboard.policies import load_policy
    from wealtharena_env.leaderboard.results import write_results
    from wealtharena_env.leaderboard.tasks import get_task, list_tasks

    tasks = list_tasks() if args.task == ["all"] else [get_task(k) for k in args.task]
    policies = sorted(BASELINES) if args.policy == ["baselines"] else args.policy
    if args.output and (len(tasks) > 1 or len(policies) > 1):
        print(
            "wealtharena evaluate: error: --output names one file; with several tasks or policies use "
            "--output-dir",
            file=sys.stderr,
        )
        return 2
    status = 0
    for spec in policies:
        loaded = load_policy(spec, name=args.name if len(policies) == 1 else None)
        for task in tasks:
            if task.historical is not None and args.data is None and args.skip_historical:
                print(f"skipping {task.key}: historical task and no --data given", file=sys.stderr)
                continue
            start = time.perf_counter()
            doc = evaluate(
                task,
                loaded,
                entry=args.name if len(policies) == 1 else None,
                n_seeds=args.seeds,
                episode_length=args.episode_length,
                data=_task_data(task, args.data),
                benchmark_data=_benchmark_source(args.benchmark_data),
                policy_seed=args.policy_seed,
                trajectories=args.trajectories,
                bootstrap_reps=args.bootstrap_reps,
                progress=False if args.quiet else None,  # None: a bar only on a terminal
            )
            path = args.output or str(
                Path(args.output_dir) / Path(_default_output(task.key, doc["entry"])).name
            )
            write_results(doc, path)
            a = doc["aggregates"]
            s = a["score"]["mean"]

            def f(x):
                return "nan" if x is None else f"{x:.3f}"

            print(
                f"{task.key:<20} {doc['entry']:<16} mean {a['primary_metric']} {f(s['point'])} "
                f"[{f(s['low'])}, {f(s['high'])}]  IQM {f(a['score']['iqm']['point'])}  "
                f"episodes {a['n_ok']}/{a['n_episodes']} ok  ({time.perf_counter() - start:.1f}s) -> {path}"
            )
            for ticker, m in (a.get("market_benchmarks") or {}).items():
                iv = m["metrics"]
                print(
                    f"{'':<20} vs {ticker:<4} (buy and hold, same bars and costs): excess return "
                    f"{f(iv['excess_return']['point'])}, beta {f(iv['beta']['point'])}, alpha "
                    f"{f(iv['alpha']['point'])}, information ratio {f(iv['information_ratio']['point'])}, "
                    f"up/down capture {f(iv['up_capture']['point'])}/{f(iv['down_capture']['point'])}"
                )
            if a["n_failed"]:
                status = 1
                for fail in doc["failures"][:5]:
                    print(
                        f"  FAILED {fail['scenario']} seed {fail['seed']} step {fail['step']}: "
                        f"{fail['message']}",
                        file=sys.stderr,
                    )
                if len(doc["failures"]) > 5:
                    print(
                        f"  ... and {len(doc['failures']) - 5} more (see the results file)", file=sys.stderr
                    )
    return status


def _task_data(task, paths: list[str] | None) -> str | None:
    """The ``--data`` file of a historical task: the only one given, or the first of several that holds the
    task's tickers (a ``ConfigError`` naming each file's problem when none does); None for synthetic tasks."""
    if task.historical is None or not paths:
        return None
    if len(paths) == 1:
        return paths[0]
    from wealtharena_env.errors import ConfigError, WealthArenaDataError
    from wealtharena_env.leaderboard.evaluate import load_task_data

    problems = []
    for path in paths:
        try:
            load_task_data(task, path)
        except (ConfigError, WealthArenaDataError) as exc:
            problems.append(f"{path}: {str(exc).splitlines()[0]}")
            continue
        return path
    raise ConfigError(f"no --data file holds the data of {task.key}: " + "; ".join(problems))


def _benchmark_source(value: str | None) -> str | bool | None:
    """``--benchmark-data``: a path, ``none`` (no market benchmarks: False) or not given (None)."""
    if value is not None and value.lower() == "none":
        return False
    return value


def _expand(paths: Sequence[str]) -> list[Path]:
    import glob

    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            out.extend(sorted(path.glob("*.json")))
        elif any(ch in p for ch in "*?["):
            out.extend(Path(m) for m in sorted(glob.glob(p)))
        else:
            out.append(path)
    return out


def _cmd_leaderboard(args: argparse.Namespace) -> int:
    import json

    from wealtharena_env.errors import ConfigError
    from wealtharena_env.leaderboard.aggregate import to_marl_eval
    from wealtharena_env.leaderboard.board import build_board, to_html, to_markdown
    from wealtharena_env.leaderboard.results import read_results

    paths = _expand(args.results)
    if not paths:
        raise ConfigError(f"no results files matched {args.results}.")
    docs = [read_results(p) for p in paths]
    groups = build_board(docs, [p.name for p in paths])
    text = to_markdown(groups)
    if args.markdown:
        _write_text(args.markdown, text)
    else:
        print(text)
    if args.html:
        _write_text(args.html, to_html(groups, title=args.title))
    if args.marl_eval:
        _write_text(args.marl_eval, json.dumps(to_marl_eval(docs), separators=(",", ":")) + "\n")
    return 0


def _write_text(path: str, text: str) -> None:
    from wealtharena_env._files import atomic_write

    print(f"wrote {atomic_write(path, text)}", file=sys.stderr)


def _is_sqlite(path: str) -> bool:
    """Whether ``path`` is a SQLite file (a trading journal) rather than a results JSON."""
    if not Path(path).is_file():
        return False
    with open(path, "rb") as fh:
        return fh.read(16) == b"SQLite format 3\x00"


def _cmd_report(args: argparse.Namespace) -> int:
    from wealtharena_env.analytics.report import write_report

    out = args.output_dir or str(Path(args.results).with_suffix("")) + "_report"
    if _is_sqlite(args.results):
        from wealtharena_env.analytics.report import write_journal_report

        index = write_journal_report(args.results, out)
    else:
        index = write_report(args.results, out)
    print(f"wrote {index} (and the PNGs next to it)")
    return 0


def _cmd_trade(args: argparse.Namespace) -> int:
    from wealtharena_env.live.command import run_trade

    return run_trade(args)


def _cmd_download(args: argparse.Namespace) -> int:
    from wealtharena_env.data.loaders import download_to_cache

    tickers = [t for item in args.tickers for t in item.replace(",", " ").split()]
    counts = download_to_cache(
        tickers, args.start, args.end, args.interval, args.cache_dir, False if args.quiet else None
    )
    for ticker, n in counts.items():
        print(f"{ticker:<10} {n:>7d} bars")
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    import dataclasses
    import json
    from typing import Any

    from wealtharena_env.calibration import calibrate, compare_assets, compare_stylized_facts, simulate_prices
    from wealtharena_env.data import load_market_data

    options: dict[str, Any] = {"on_bad_rows": args.on_bad_rows}
    if args.tickers:
        options["tickers"] = [t for item in args.tickers for t in item.replace(",", " ").split()]
    for name in ("start", "end"):
        if getattr(args, name):
            options[name] = getattr(args, name)
    data = load_market_data(args.data, **options)
    config = calibrate(
        data,
        n_regimes=args.n_regimes,
        per_asset=False if args.common else None,
        max_factors=args.max_factors,
        progress=False if args.quiet else None,
    )
    print(f"{data!r}\n")
    print(compare_stylized_facts(data, config, n_seeds=args.seeds).attrs["markdown"])
    comparison = compare_assets(data, config, n_seeds=args.seeds)
    print()
    print(comparison["assets"].round(3).to_string())
    if config.n_assets > 1:
        print(
            f"\ncorrelation: largest |synthetic - real| {comparison['max_correlation_error']:.3f}, "
            f"mean {comparison['mean_correlation_error']:.3f}"
        )
    if args.save_config:
        _write_text(args.save_config, json.dumps(dataclasses.asdict(config), indent=1) + "\n")
    if args.simulate:
        frame = simulate_prices(config, args.n_bars or data.n_steps, seed=args.seed)
        from wealtharena_env._files import atomic_write

        buffer = frame.to_csv(index=False, date_format="%Y-%m-%d")
        payload: str | bytes = buffer
        if args.simulate.endswith(".gz"):
            import gzip

            payload = gzip.compress(buffer.encode("utf-8"), mtime=0)
        print(f"wrote {atomic_write(args.simulate, payload)}", file=sys.stderr)
    if args.report:
        from wealtharena_env.analytics.calibration_report import write_calibration_report

        print(
            f"wrote {write_calibration_report(data, config, args.report, n_seeds=args.seeds)}",
            file=sys.stderr,
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    from wealtharena_env import __version__

    parser = argparse.ArgumentParser(
        prog="wealtharena",
        description="Multi-agent portfolio-trading environments for reinforcement learning.",
    )
    parser.add_argument("--version", action="version", version=f"wealtharena-env {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo",
        help="play one episode of the 5-agent arena with baseline policies",
        description="Play one full episode of WealthArena/Arena-v0 (synthetic market) with a "
        "baseline policy per agent and print a per-agent table: final value, total "
        "return, annualised volatility, Sharpe, max drawdown, costs, risk events.",
    )
    demo.add_argument("--seed", type=int, default=0, help="market seed (default 0)")
    demo.add_argument("--n-assets", type=int, default=10, help="number of assets (default 10)")
    demo.add_argument("--episode-length", type=int, default=252, help="decisions per episode (default 252)")
    demo.add_argument(
        "--impact", action="store_true", help="play ImpactArena-v0 (agents' trades move prices)"
    )
    demo.set_defaults(func=_cmd_demo)
    lst = sub.add_parser(
        "list",
        help="list the registered environment IDs",
        description="List every registered environment ID and its API.",
    )
    lst.set_defaults(func=_cmd_list)

    tasks = sub.add_parser(
        "tasks",
        help="list the leaderboard tasks and their protocols",
        description="List the leaderboard's task suite: env ID, scenarios (held-out regimes and "
        "co-player populations), focal agents, training and evaluation seeds, "
        "historical data splits and each task's fingerprint.",
    )
    tasks.add_argument("task", nargs="*", help="task keys to show (default: all), e.g. Calm-v0")
    tasks.add_argument("--json", action="store_true", help="print the full task definitions as JSON")
    tasks.set_defaults(func=_cmd_tasks)

    ev = sub.add_parser(
        "evaluate",
        help="evaluate a policy on leaderboard tasks and write results JSON",
        description="Play a task's evaluation seeds (every scenario) with a policy and write a "
        "schema-versioned results JSON (atomically). Exit status 1 when some episodes "
        "failed (they are listed in the file), 2 on a usage or configuration error.",
        epilog="Policies: a baseline name (cash, random, buy_and_hold, equal_weight, momentum, "
        "mean_reversion, min_variance, risk_parity, vol_target, kelly, vol_timing, trend_timing) or "
        "'baselines' for all; "
        "'module:callable' or 'path/to/file.py:callable' (called on (K, D) observation "
        "batches, or on single observations); 'path/to/model.zip' (Stable-Baselines3, "
        "'sac:model.zip' forces the algorithm); an RLlib checkpoint directory.",
    )
    ev.add_argument(
        "--task",
        nargs="+",
        required=True,
        metavar="TASK",
        help="task key(s), e.g. Calm-v0 Impact-v0, or 'all'",
    )
    ev.add_argument("--policy", nargs="+", required=True, metavar="POLICY", help="policy spec(s); see below")
    ev.add_argument("--name", default=None, help="entry name on the leaderboard (default: the policy's name)")
    ev.add_argument("--output", "-o", default=None, help="results file (one task and one policy only)")
    ev.add_argument(
        "--output-dir",
        default="results",
        help="directory of results files <task>__<entry>.json (default: results)",
    )
    ev.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="play only the first N evaluation seeds (reduced budget, recorded in the results)",
    )
    ev.add_argument(
        "--episode-length",
        type=int,
        default=None,
        help="shorter episodes than the task's (reduced budget, recorded in the results)",
    )
    ev.add_argument(
        "--data",
        nargs="+",
        default=None,
        metavar="PATH",
        help="historical tasks: a CSV/Parquet file holding the task's tickers, or several files (each "
        "historical task uses the first that holds its tickers; default: download with yfinance into the "
        "cache)",
    )
    ev.add_argument(
        "--benchmark-data",
        default=None,
        metavar="PATH",
        help="historical tasks: a CSV/Parquet file of daily SPY, QQQ, IWM bars for the market benchmarks "
        "(buy and hold over the same bars, at the same costs); default: --data if it holds them, else "
        "yfinance through the cache; 'none' turns them off. Missing benchmark data is a warning, never an "
        "error",
    )
    ev.add_argument(
        "--skip-historical",
        action="store_true",
        help="skip historical tasks when --data is not given (instead of downloading)",
    )
    ev.add_argument(
        "--trajectories",
        type=int,
        default=1,
        help="record equity/weights/risk-event series of the first N seeds per scenario for "
        "`wealtharena report` (default 1; 0 = none, smaller files)",
    )
    ev.add_argument(
        "--policy-seed",
        type=int,
        default=0,
        help="seed of stochastic baselines and background populations (default 0)",
    )
    ev.add_argument(
        "--bootstrap-reps",
        type=int,
        default=2000,
        help="bootstrap replicates of the confidence intervals (default 2000)",
    )
    ev.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    ev.set_defaults(func=_cmd_evaluate)

    lb = sub.add_parser(
        "leaderboard",
        help="rank results files per task (Markdown, HTML, marl-eval JSON)",
        description="Rank entries per task (and budget) by the mean focal Sharpe ratio over the "
        "evaluation episodes, with 95% stratified-bootstrap intervals, IQM, "
        "probability of improvement over equal_weight, per-scenario scores and "
        "secondary metrics. Prints Markdown unless --markdown is given.",
    )
    lb.add_argument("results", nargs="+", help="results files, directories or glob patterns (results/*.json)")
    lb.add_argument("--markdown", default=None, help="write the Markdown table to this file")
    lb.add_argument("--html", default=None, help="write a static HTML page to this file")
    lb.add_argument(
        "--marl-eval", default=None, help="write the results in marl-eval's JSON layout to this file"
    )
    lb.add_argument("--title", default="WealthArena leaderboard", help="title of the HTML page")
    lb.set_defaults(func=_cmd_leaderboard)

    rp = sub.add_parser(
        "report",
        help="tear sheet of a results file: PNG plots and an HTML page",
        description="Write equity vs benchmark, drawdown, weights, risk events, per-agent and "
        "per-scenario plots (PNG) and an HTML tear sheet for one results file. "
        "Needs matplotlib (pip install 'wealtharena-env[plot]').",
    )
    rp.add_argument(
        "results",
        help="a results JSON written by `wealtharena evaluate`, or a journal written by `wealtharena trade`",
    )
    rp.add_argument(
        "--output-dir",
        "-o",
        default=None,
        help="directory for the PNGs and index.html (default: <results>_report next to the file)",
    )
    rp.set_defaults(func=_cmd_report)

    cal = sub.add_parser(
        "calibrate",
        help="fit the synthetic market to data; real vs simulated stylized facts (--report out.html)",
        description="Fit a MarketConfig to a data file (wealtharena_env.calibration.calibrate): regimes, "
        "GJR-GARCH-t, jumps and, on several assets, each asset's own volatility and the correlation matrix "
        "(factor model). Prints the real vs simulated stylized facts and per-asset table; --report writes "
        "them as an HTML page with plots (plots need matplotlib: pip install 'wealtharena-env[plot]').",
    )
    cal.add_argument("data", help="a CSV/Parquet file (long or wide layout) that load_market_data reads")
    cal.add_argument(
        "--tickers", nargs="+", default=None, help="keep these tickers (space or comma separated)"
    )
    cal.add_argument("--start", default=None, help="first date, YYYY-MM-DD")
    cal.add_argument("--end", default=None, help="end date (exclusive), YYYY-MM-DD")
    cal.add_argument(
        "--on-bad-rows",
        default="repair",
        choices=("raise", "drop", "repair"),
        help="what the loader does with bad rows (default repair: splits adjusted, bad prints dropped)",
    )
    cal.add_argument("--n-regimes", type=int, default=3, choices=(1, 2, 3), help="hidden regimes (default 3)")
    cal.add_argument("--max-factors", type=int, default=5, help="most factors of the correlation model (1-8)")
    cal.add_argument(
        "--common", action="store_true", help="common parameters (equicorrelation) instead of per-asset ones"
    )
    cal.add_argument(
        "--seeds", type=int, default=20, help="simulated paths compared with the data (default 20)"
    )
    cal.add_argument("--report", default=None, help="write the real vs simulated HTML report to this file")
    cal.add_argument("--save-config", default=None, help="write the fitted MarketConfig as JSON to this file")
    cal.add_argument(
        "--simulate", default=None, help="write a simulated panel (long CSV, .gz compresses) to this file"
    )
    cal.add_argument(
        "--n-bars", type=int, default=None, help="bars of --simulate (default: as many as the data)"
    )
    cal.add_argument("--seed", type=int, default=0, help="seed of --simulate (default 0)")
    cal.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    cal.set_defaults(func=_cmd_calibrate)

    from wealtharena_env.live.command import add_trade_parser

    add_trade_parser(sub, _cmd_trade)

    dl = sub.add_parser(
        "download",
        help="download market data into the local cache (yfinance)",
        description="Fetch daily (or other interval) bars for tickers from Yahoo Finance into the "
        "local cache, so later runs work offline. Needs the 'data' extra "
        "(pip install 'wealtharena-env[data]').",
    )
    dl.add_argument(
        "tickers", nargs="+", help="ticker symbols (space or comma separated), e.g. AAPL MSFT SPY"
    )
    dl.add_argument("--start", required=True, help="first date, YYYY-MM-DD")
    dl.add_argument("--end", default=None, help="end date (exclusive), YYYY-MM-DD (default: today)")
    dl.add_argument("--interval", default="1d", help="bar interval understood by yfinance (default 1d)")
    dl.add_argument(
        "--cache-dir",
        default=None,
        help="cache directory or redis:// URL (default: $WEALTHARENA_CACHE_DIR or the user cache dir)",
    )
    dl.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    dl.set_defaults(func=_cmd_download)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    from wealtharena_env.errors import ConfigError, LiveTradingError, WealthArenaDataError

    try:
        return int(args.func(args) or 0)
    except ImportError as exc:
        print(f"wealtharena {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (ConfigError, WealthArenaDataError, LiveTradingError) as exc:
        print(f"wealtharena {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
