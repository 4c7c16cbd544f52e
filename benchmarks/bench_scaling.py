"""How the engine's step cost scales with the number of assets N, agents A and environments K.

    python benchmarks/bench_scaling.py                      # N sweep, A sweep, K sweep (~2-4 min)
    python benchmarks/bench_scaling.py --quick              # fewer sizes and steps
    python benchmarks/bench_scaling.py --png docs/results/scaling.png

Each row times ``Simulation.step`` (output allocation + the compiled step, serial) inside episodes, on the
thread's CPU time, with random actions (the risk layer busy) and the default profiles; it reports
microseconds per batch step and nanoseconds per agent-asset (per env), the unit in which a linear engine is
flat. With the exact covariance (the default) the per-agent work is O(N^2) in the portfolio variance
(``w' C w``, at the decision bar and again in the observation), so ns per agent-asset grows with N; the
factor risk model (``ArenaConfig.risk_factors = k``, the second N sweep) makes it O(N k), leaving the
per-environment covariance update and correlation screen as the only O(N^2) work.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _common import machine_summary, print_table


def step_cost(
    n_assets: int, n_agents: int, num_envs: int, steps: int, repeats: int, risk_factors: int = 0
) -> float:
    """Median microseconds per ``Simulation.step`` (thread CPU time), in-episode."""
    from wealtharena_env.config import arena_config, default_agents
    from wealtharena_env.sim import Simulation

    agents = (
        default_agents()[:n_agents]
        if n_agents <= 5
        else tuple(
            f"{p}_{k}" for k in range((n_agents + 2) // 3) for p in ("conservative", "balanced", "aggressive")
        )[:n_agents]
    )
    cfg = arena_config(
        n_assets=n_assets, agents=agents, episode_length=max(steps + 1, 20), risk_factors=risk_factors
    )
    sim = Simulation(cfg, batch_size=num_envs)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (8, num_envs, sim.n_agents, sim.n_action))
    per_step = []
    for r in range(repeats + 1):
        sim.reset(seeds=r * num_envs)
        t0 = time.thread_time()
        for s in range(steps):
            sim.step(actions[s & 7])
        if r:  # the first block warms up (and compiles)
            per_step.append((time.thread_time() - t0) / steps * 1e6)
    return statistics.median(per_step)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--png", default=None, help="also draw the three curves into this PNG (matplotlib)")
    args = parser.parse_args()
    steps, repeats = (40, 2) if args.quick else (100, 3)
    factors = 5
    sweeps = {
        "N (A = 5, K = 1)": [
            (n, 5, 1, 0) for n in ((5, 30, 100, 300) if args.quick else (5, 10, 30, 100, 300, 500))
        ],
        f"N (A = 5, K = 1), risk_factors = {factors}": [
            (n, 5, 1, factors) for n in ((30, 100, 300) if args.quick else (30, 100, 300, 500))
        ],
        "A (N = 30, K = 1)": [(30, a, 1, 0) for a in ((1, 5, 10) if args.quick else (1, 2, 5, 10, 20))],
        "K (N = 30, A = 5)": [(30, 5, k, 0) for k in ((1, 16) if args.quick else (1, 16, 64, 256))],
    }
    print(f"Machine: {machine_summary()}")
    print(
        f"Method: Simulation.step, serial, in-episode, random actions; median of {repeats} blocks of {steps} "
        "steps (thread CPU time)."
    )
    curves = {}
    for title, sizes in sweeps.items():
        rows, points = [], []
        for n, a, k, rank in sizes:
            us = step_cost(n, a, k, steps, repeats, rank)
            ns = us * 1e3 / (n * a * k)
            rows.append([str(n), str(a), str(k), f"{us:,.1f}", f"{ns:,.2f}"])
            points.append(((n, a, k), ns))
        print_table(["N", "A", "K", "µs / batch step", "ns / agent-asset"], rows, f"Scaling in {title}")
        curves[title] = points
    for title, points in curves.items():
        if title.startswith("N"):
            by_n = {p[0][0]: p[1] for p in points}
            largest = max(by_n)
            print(
                f"\n{title}: ns per agent-asset at N = {largest} / at N = 30: {by_n[largest] / by_n[30]:.2f}"
            )
    if args.png:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(11, 3.4), dpi=110)
        FigureCanvasAgg(fig)
        panels: dict[str, list[tuple[str, list]]] = {}
        for title, points in curves.items():  # both N sweeps share the first panel
            panels.setdefault(title.split(" ")[0], []).append((title, points))
        for j, (axis_name, lines) in enumerate(panels.items()):
            ax = fig.add_subplot(1, len(panels), j + 1)
            axis = "NAK".index(axis_name)  # which of (n, a, k) varies
            for title, points in lines:
                label = "exact covariance" if "risk_factors" not in title else title.split(", ")[-1]
                xs = [p[0][axis] for p in points]
                ax.plot(xs, [p[1] for p in points], "o-", label=label if len(lines) > 1 else None)
            if len(lines) > 1:
                ax.legend(fontsize=8)
            ax.set_xscale("log")
            ax.set_xlabel(axis_name)
            ax.set_ylabel("ns per agent-asset-step")
            ax.set_title(f"Scaling in {lines[0][0]}", fontsize=9)
            ax.grid(alpha=0.3)
            ax.set_ylim(bottom=0)
        fig.tight_layout()
        fig.savefig(args.png)
        print(f"\nwrote {args.png}")


if __name__ == "__main__":
    main()
