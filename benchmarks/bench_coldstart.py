"""Time from ``import wealtharena_env`` to the first finished reset + step, in a fresh subprocess.

    python benchmarks/bench_coldstart.py              # 3 warm and 2 cold runs per env
    python benchmarks/bench_coldstart.py --repeats 5

* **warm**: ``NUMBA_CACHE_DIR`` points at a temporary directory filled by one priming run, so every
  ``@njit(cache=True)`` kernel loads from the cache (what a user sees from the second run on);
* **cold**: ``NUMBA_CACHE_DIR`` points at a new empty directory for every run, so every kernel the first
  reset + step needs is compiled (what a user sees on the very first run after installing).

Each run is a new ``python -c`` process; the interpreter start-up itself is measured separately (an empty
``python -c pass``) and is not included in the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine_summary, print_table

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, time
t0 = time.perf_counter()
import wealtharena_env
t_import = time.perf_counter()
{body}
t_done = time.perf_counter()
print(json.dumps({{"import": t_import - t0, "first_step": t_done - t_import, "total": t_done - t0}}))
"""

BODIES = {
    "Arena-v0 parallel_env (5 agents x 10 assets)": (
        "env = wealtharena_env.arena_v0.parallel_env()\n"
        "obs, info = env.reset(seed=0)\n"
        "env.step({a: env.action_space(a).sample() for a in env.agents})"
    ),
    "Portfolio-v0 gymnasium.make (1 agent x 10 assets)": (
        "import gymnasium\n"
        "env = gymnasium.make('WealthArena/Portfolio-v0')\n"
        "env.reset(seed=0)\n"
        "env.step(env.action_space.sample())"
    ),
    "Portfolio-v0 make_vec num_envs=64 (prange kernel)": (
        "import gymnasium\n"
        "envs = gymnasium.make_vec('WealthArena/Portfolio-v0', num_envs=64)\n"
        "envs.reset(seed=0)\n"
        "envs.step(envs.action_space.sample())"
    ),
}


def run_child(body: str, cache_dir: str) -> dict[str, float]:
    env = {
        **os.environ,
        "NUMBA_CACHE_DIR": cache_dir,
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    out = subprocess.run(
        [sys.executable, "-c", CHILD.format(body=body)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"child failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def interpreter_startup(repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="warm runs per env (cold runs: max(1, repeats - 1))"
    )
    args = parser.parse_args()
    print(f"Machine: {machine_summary()}")
    print(f"python -c pass (interpreter start-up, not included below): {interpreter_startup(5) * 1e3:.0f} ms")
    rows = []
    for name, body in BODIES.items():
        with tempfile.TemporaryDirectory(prefix="numba-warm-") as warm:
            run_child(body, warm)  # prime the cache
            warm_runs = [run_child(body, warm) for _ in range(args.repeats)]
        cold_runs = []
        for _ in range(max(1, args.repeats - 1)):
            with tempfile.TemporaryDirectory(prefix="numba-cold-") as cold:
                cold_runs.append(run_child(body, cold))
        for label, runs in (("warm cache", warm_runs), ("cold cache", cold_runs)):
            rows.append(
                [
                    name,
                    label,
                    f"{statistics.median(r['import'] for r in runs):.2f}",
                    f"{statistics.median(r['first_step'] for r in runs):.2f}",
                    f"{statistics.median(r['total'] for r in runs):.2f}",
                    f"{min(r['total'] for r in runs):.2f}-{max(r['total'] for r in runs):.2f}",
                    str(len(runs)),
                ]
            )
    print_table(
        [
            "env",
            "Numba cache",
            "import s",
            "construct + reset + step s",
            "total s (median)",
            "min-max",
            "runs",
        ],
        rows,
        "Cold start: import wealtharena_env -> first finished reset + step (fresh process)",
    )


if __name__ == "__main__":
    main()
