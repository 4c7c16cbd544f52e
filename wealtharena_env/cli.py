"""The ``wealtharena`` command line (also ``python -m wealtharena_env``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

#: Which baseline each default agent plays in ``wealtharena demo``.
DEMO_POLICIES = {
    "conservative": ("min_variance", "risk_parity"),
    "balanced": ("equal_weight",),
    "aggressive": ("momentum", "buy_and_hold"),
}


def run_demo(seed: int = 0, n_assets: int = 10, episode_length: int = 252, impact: bool = False,
             out=sys.stdout) -> dict[str, dict[str, float]]:
    """Play one episode of the default 5-agent arena with baseline policies; print and return a table."""
    from wealtharena_env import arena_v0, impact_arena_v0
    from wealtharena_env.kernels import metrics
    from wealtharena_env.leaderboard.baselines import make_baseline

    module = impact_arena_v0 if impact else arena_v0
    env = module.parallel_env(n_assets=n_assets, episode_length=episode_length)
    obs, infos = env.reset(seed=seed)
    policies = {}
    counters: dict[str, int] = {}
    for agent in env.possible_agents:
        profile = env.config.agents[env.possible_agents.index(agent)].risk_profile
        choices = DEMO_POLICIES[profile]
        k = counters.get(profile, 0)
        counters[profile] = k + 1
        policies[agent] = make_baseline(choices[k % len(choices)], env, seed=seed)
    log_returns = {a: [] for a in env.possible_agents}
    costs = dict.fromkeys(env.possible_agents, 0.0)
    events = dict.fromkeys(env.possible_agents, 0)
    last = infos
    while env.agents:
        actions = {a: policies[a](obs[a]) for a in env.agents}
        obs, rewards, terminations, truncations, infos = env.step(actions)
        for a, info in infos.items():
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
    header = (f"{'agent':<16}{'policy':<15}{'final value':>15}{'return':>9}{'ann.vol':>9}{'sharpe':>8}"
              f"{'max dd':>8}{'costs':>12}{'events':>8}")
    lines = [f"WealthArena/{'ImpactArena' if impact else 'Arena'}-v0 demo: seed {seed}, {n_assets} assets, "
             f"{episode_length} steps, {len(names)} agents", header, "-" * len(header)]
    for k, a in enumerate(names):
        row = {"final_value": float(last[a]["portfolio_value"]), "total_return": float(total[k]),
               "annual_volatility": float(vol[k]), "sharpe": float(sharpe[k]), "max_drawdown": float(mdd[k]),
               "costs": float(costs[a]), "risk_events": int(events[a])}
        table[a] = row
        lines.append(f"{a:<16}{policies[a].name:<15}{row['final_value']:>15,.2f}{row['total_return']:>9.2%}"
                     f"{row['annual_volatility']:>9.2%}{row['sharpe']:>8.2f}{row['max_drawdown']:>8.2%}"
                     f"{row['costs']:>12,.2f}{row['risk_events']:>8d}")
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


def build_parser() -> argparse.ArgumentParser:
    from wealtharena_env import __version__

    parser = argparse.ArgumentParser(
        prog="wealtharena",
        description="Multi-agent portfolio-trading environments for reinforcement learning.",
    )
    parser.add_argument("--version", action="version", version=f"wealtharena-env {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="play one episode of the 5-agent arena with baseline policies",
                          description="Play one full episode of WealthArena/Arena-v0 (synthetic market) with a "
                                      "baseline policy per agent and print a per-agent table: final value, total "
                                      "return, annualised volatility, Sharpe, max drawdown, costs, risk events.")
    demo.add_argument("--seed", type=int, default=0, help="market seed (default 0)")
    demo.add_argument("--n-assets", type=int, default=10, help="number of assets (default 10)")
    demo.add_argument("--episode-length", type=int, default=252, help="decisions per episode (default 252)")
    demo.add_argument("--impact", action="store_true", help="play ImpactArena-v0 (agents' trades move prices)")
    demo.set_defaults(func=_cmd_demo)
    lst = sub.add_parser("list", help="list the registered environment IDs",
                         description="List every registered environment ID and its API.")
    lst.set_defaults(func=_cmd_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    from wealtharena_env.errors import ConfigError, WealthArenaDataError

    try:
        return int(args.func(args) or 0)
    except (ConfigError, WealthArenaDataError) as exc:
        print(f"wealtharena {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
