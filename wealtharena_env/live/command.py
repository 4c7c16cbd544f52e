"""``wealtharena trade``: the command line of :mod:`wealtharena_env.live.runner`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wealtharena_env.errors import ConfigError


def _split(values: list[str] | None) -> list[str]:
    return [v for item in values or [] for v in item.replace(",", " ").split()]


def add_trade_parser(sub: Any, handler: Callable[[argparse.Namespace], int]) -> None:
    """Add the ``trade`` subcommand to the CLI's subparsers."""
    tr = sub.add_parser(
        "trade",
        help="paper or live trading of a policy through the env's kernels, with a crash-safe journal",
        description="Load any policy the leaderboard accepts, decide at every bar on the observation the env "
        "computes, pass the targets through each agent's risk layer (the env's kernel) and send the netted "
        "difference to a broker. Every bar, decision, risk event, order, fill and reconciliation goes to an "
        "append-only SQLite journal; re-running the same command after a crash resumes without sending any "
        "order twice. --bars FILE replays recorded bars as if live; without it bars are polled from "
        "Yahoo Finance (the 'data' extra). See docs/live.md.",
    )
    tr.add_argument(
        "--policy", required=True, help="baseline name, module:callable, SB3 .zip or RLlib checkpoint"
    )
    tr.add_argument(
        "--broker",
        choices=("sim", "paper", "alpaca"),
        default="paper",
        help="sim: the env's own execution model; paper: a local paper account file; alpaca: Alpaca "
        "(paper account unless --live; needs the 'live' extra and APCA_API_KEY_ID / APCA_API_SECRET_KEY)",
    )
    tr.add_argument(
        "--tickers", nargs="+", default=None, help="tickers to trade (default: every ticker of --bars)"
    )
    tr.add_argument(
        "--agents",
        nargs="+",
        default=["balanced_0"],
        help="agents '<profile>_<k>', each with its own ledger and risk profile (default balanced_0)",
    )
    tr.add_argument("--bars", default=None, help="a recorded bar file (CSV/Parquet) replayed bar by bar")
    tr.add_argument("--journal", default=None, help="journal file (default: <run-id>.journal.sqlite)")
    tr.add_argument("--run-id", default="run", help="the run's name in client order IDs (default 'run')")
    tr.add_argument(
        "--paper-account", default=None, help="paper account file (default: <run-id>.paper.sqlite)"
    )
    tr.add_argument("--initial-cash", type=float, default=1_000_000.0, help="each agent's starting cash")
    tr.add_argument("--episode-length", type=int, default=None, help="bars to trade at most (default: all)")
    tr.add_argument("--warmup", type=int, default=None, help="history bars before the first decision")
    tr.add_argument("--dry-run", action="store_true", help="journal the orders without sending them")
    tr.add_argument("--live", action="store_true", help="Alpaca's live account (real money); default: paper")
    tr.add_argument("--max-bars", type=int, default=None, help="stop after this many new bars")
    tr.add_argument(
        "--bar-interval", type=float, default=0.0, help="seconds to pause after each bar (replay)"
    )
    tr.add_argument("--poll-interval", type=float, default=60.0, help="seconds between polls of a live feed")
    tr.add_argument("--max-wait", type=float, default=None, help="stop after this many seconds without a bar")
    tr.add_argument("--interval", default="1d", help="bar interval of a live feed (default 1d)")
    tr.add_argument(
        "--feed",
        choices=("yfinance", "alpaca"),
        default="yfinance",
        help="where live bars come from without --bars: Yahoo Finance (no key; the 'data' extra) or Alpaca's "
        "market data (the 'live' extra and its keys)",
    )
    tr.add_argument("--quiet", "-q", action="store_true", help="no progress line per bar")
    tr.set_defaults(func=handler)


def run_trade(args: argparse.Namespace) -> int:
    from wealtharena_env.config import AgentProfile, arena_config
    from wealtharena_env.live.brokers import PaperBroker, SimBroker
    from wealtharena_env.live.runner import Runner

    tickers = _split(args.tickers) or None
    agent_names = _split(args.agents)
    profiles = []
    for name in agent_names:
        prefix = name.rsplit("_", 1)[0]
        if prefix not in ("conservative", "balanced", "aggressive"):
            raise ConfigError(
                f"agent {name!r}: names are '<profile>_<k>' with profile conservative, balanced or "
                "aggressive."
            )
        profiles.append(AgentProfile(name, prefix, initial_cash=args.initial_cash))  # type: ignore[arg-type]
    if args.bars is not None:
        from wealtharena_env.market_sources import ReplayMarket

        market: Any = ReplayMarket(args.bars, data_options={"tickers": tickers} if tickers else None)
    else:
        if not tickers:
            raise ConfigError("trading live needs --tickers (or --bars FILE to replay recorded bars).")
        if args.feed == "alpaca":
            from wealtharena_env.live.alpaca import AlpacaFeed

            market = AlpacaFeed(tickers, interval=args.interval)
        else:
            from wealtharena_env.live.feeds import YFinanceFeed

            market = YFinanceFeed(tickers, interval=args.interval)
    overrides: dict[str, Any] = {}
    if args.warmup is not None:
        overrides["warmup"] = args.warmup
    config = arena_config(
        n_assets=market.n_assets,
        agents=tuple(profiles),
        episode_length=args.episode_length or 100_000,  # a replay is cut to its bars by the runner
        **overrides,
    )
    journal = args.journal or f"{args.run_id}.journal.sqlite"
    total_cash = args.initial_cash * len(profiles)
    broker: Any
    if args.broker == "sim":
        broker = SimBroker(cash=total_cash)
    elif args.broker == "paper":
        broker = PaperBroker(
            args.paper_account or f"{args.run_id}.paper.sqlite",
            initial_cash=total_cash,
            commission_bps=config.costs.commission_bps,
            half_spread_bps=config.costs.half_spread_bps,
        )
    else:
        from wealtharena_env.live.alpaca import AlpacaBroker

        broker = AlpacaBroker(paper=not args.live)
    runner = Runner(
        args.policy,
        market,
        broker,
        journal,
        config,
        run_id=args.run_id,
        dry_run=args.dry_run,
        progress=None if args.quiet else sys.stderr,
        poll_interval=args.poll_interval,
        max_wait=args.max_wait,
        bar_interval=args.bar_interval,
    )
    try:
        if runner.resumed:
            print(f"resuming run {args.run_id!r} from {Path(journal)}", file=sys.stderr)
        summary = runner.run(max_bars=args.max_bars)
    finally:
        runner.close()
    state = "finished" if summary.finished else "stopped (re-run the same command to resume)"
    values = ", ".join(f"{a} {v:,.2f}" for a, v in summary.values.items())
    print(
        f"{state}: {summary.bars} bars, {summary.orders} orders, {summary.refused_bars} refused bars, "
        f"{summary.policy_errors} policy errors; values {values}; journal {journal}"
    )
    return 0


__all__ = ["add_trade_parser", "run_trade"]
