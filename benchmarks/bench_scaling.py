"""How the engine's step cost scales with the number of assets N, agents A and environments K.

    python benchmarks/bench_scaling.py                      # N sweep, A sweep, K sweep (~2-4 min)
    python benchmarks/bench_scaling.py --quick              # fewer sizes and steps
    python benchmarks/bench_scaling.py --png docs/results/scaling.png

Each row times ``Simulation.step`` (output allocation + the compiled step, serial) inside episodes, on the
thread's CPU time, with random actions (the risk layer busy) and the default profiles; it reports
microseconds per batch step and nanoseconds per agent-asset (per env), the unit in which a linear engine is
flat. The risk layer's per-agent work is O(N^2) in the portfolio variance (``w' C w``, at the decision bar and
again in the observation) and in the correlation cap's screen, so ns per agent-asset grows with N.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _common import machine_summary, print_table


def step_cost(n_assets: int, n_agents: int, num_envs: int, steps: int, repeats: int) -> float:
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
    cfg = arena_config(n_assets=n_assets, agents=agents, episode_length=max(steps + 1, 20))
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
    sweeps = {
        "N (A = 5, K = 1)": [
            (n, 5, 1) for n in ((5, 30, 100, 300) if args.quick else (5, 10, 30, 100, 300, 500))
        ],
        "A (N = 30, K = 1)": [(30, a, 1) for a in ((1, 5, 10) if args.quick else (1, 2, 5, 10, 20))],
        "K (N = 30, A = 5)": [(30, 5, k) for k in ((1, 16) if args.quick else (1, 16, 64, 256))],
    }
    print(f"Machine: {machine_summary()}")
    print(
        f"Method: Simulation.step, serial, in-episode, random actions; median of {repeats} blocks of {steps} "
        "steps (thread CPU time)."
    )
    curves = {}
    for title, sizes in sweeps.items():
        rows, points = [], []
        for n, a, k in sizes:
            us = step_cost(n, a, k, steps, repeats)
            ns = us * 1e3 / (n * a * k)
            rows.append([str(n), str(a), str(k), f"{us:,.1f}", f"{ns:,.2f}"])
            points.append(((n, a, k), ns))
        print_table(["N", "A", "K", "µs / batch step", "ns / agent-asset"], rows, f"Scaling in {title}")
        curves[title] = points
    if args.png:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(11, 3.4), dpi=110)
        FigureCanvasAgg(fig)
        for j, (title, points) in enumerate(curves.items()):
            ax = fig.add_subplot(1, 3, j + 1)
            axis = j  # which of (n, a, k) varies
            xs = [p[0][axis] for p in points]
            ax.plot(xs, [p[1] for p in points], "o-")
            ax.set_xscale("log")
            ax.set_xlabel(title.split(" ")[0])
            ax.set_ylabel("ns per agent-asset-step")
            ax.set_title(f"Scaling in {title}", fontsize=9)
            ax.grid(alpha=0.3)
            ax.set_ylim(bottom=0)
        fig.tight_layout()
        fig.savefig(args.png)
        print(f"\nwrote {args.png}")


if __name__ == "__main__":
    main()
