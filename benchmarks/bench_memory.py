"""Peak resident memory of a batched arena, each configuration in a fresh subprocess.

    python benchmarks/bench_memory.py                 # ArenaVecEnv 5 agents x 30 assets, K = 1024 and 4096
    python benchmarks/bench_memory.py --k 256 4096

Each child process imports the package, builds ``ArenaVecEnv(num_envs=K, n_assets=30)`` (5 agents, lean info,
the default), resets it and takes 5 steps with random actions (drawn with NumPy from the single action space's
bounds, so the batched spaces are not built), then reports its peak RSS (``ru_maxrss``) after each phase.
Kernels load from the Numba cache (one priming run first). The row "import only" is the interpreter with the
package and its dependencies imported: the part of the peak that is not the environments'.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from _common import machine_summary, print_table

CHILD = r"""
import json, resource, sys
import numpy as np
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
import wealtharena_env
from wealtharena_env.envs.vector import ArenaVecEnv
out = {"import": peak_mb()}
k = int(sys.argv[1])
if k:
    env = ArenaVecEnv(num_envs=k, n_assets=30)
    out["construct"] = peak_mb()
    env.reset(seed=0)
    out["reset"] = peak_mb()
    rng = np.random.default_rng(0)
    shape = (k, env.num_agents, *env.single_action_space.shape)
    for _ in range(5):
        result = env.step(rng.uniform(-1.0, 1.0, shape).astype(np.float32))
    out["5 steps"] = peak_mb()
    out["state"] = sum(
        a.nbytes for a in env.sim.kernel_state if a is not None
    ) / 2**20
print(json.dumps(out))
"""


def run(k: int) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", CHILD, str(k)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--k", type=int, nargs="+", default=[1024, 4096], help="batch sizes")
    args = parser.parse_args()
    print(machine_summary())
    run(1)  # primes the Numba cache (compiles on a first run)
    base = run(0)
    rows = [["import only", "-", f"{base['import']:,.0f}", "-", "-", "-", "-"]]
    for k in args.k:
        r = run(k)
        rows.append(
            [
                f"ArenaVecEnv 5 x 30, K = {k}",
                f"{r['state']:,.0f}",
                f"{r['import']:,.0f}",
                f"{r['construct']:,.0f}",
                f"{r['reset']:,.0f}",
                f"{r['5 steps']:,.0f}",
                f"{r['5 steps'] / 1024:.2f}",
            ]
        )
    print_table(
        [
            "run",
            "state arrays MiB",
            "peak MiB after import",
            "after construct",
            "after reset",
            "after 5 steps",
            "peak GiB",
        ],
        rows,
        title="Peak resident memory (ru_maxrss), fresh process per row",
    )


if __name__ == "__main__":
    main()
