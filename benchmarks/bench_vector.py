"""Batched vector envs at K = 1, 64, 1024 next to a bare Numba loop doing the same arithmetic, in one run.

    python benchmarks/bench_vector.py            # full run (~2-3 min on 2 cores)
    python benchmarks/bench_vector.py --quick    # K = 1, 64 only, 3 repeats
    python benchmarks/bench_vector.py --sizes 1 64 1024 --repeats 5

Rows (batches of 64 envs or more run twice: serially — the default — and with ``parallel=True``, ``prange``
threads, which only pay when the cores are free; compare threaded with threaded, serial with serial):
* ``PortfolioVectorEnv`` (``gymnasium.make_vec("WealthArena/Portfolio-v0", num_envs=K, n_assets=1)``);
* ``ArenaVecEnv`` with 5 agents x 30 assets, and at the largest K also with ``risk_enabled=False`` (what the
  risk rules cost: the bare loop has none of them);
* the bare loop of :mod:`bare_loop` (5 x 30), serial and ``prange``, one call per step over K envs;
* gym-anytrading ``stocks-v0`` (one env) for the ratio (b).

Each timed block of the vector envs is ``episode_length + 1`` steps (or a multiple): a full episode and
the NEXT_STEP autoreset step, so the new episodes' sampling (market path generation) is amortised into the
per-step time exactly as a trainer pays it. ``reset ms`` is ``envs.reset()`` of all K environments alone.
Actions are sampled in advance. Median over repeats (min-max shown).

Targets of the engine issue (docs/benchmarks.md, "Targets of the engine issue"):
(a) ArenaVecEnv K=1024, 5 x 30, serial: agent-asset-steps/s >= 1/2 of the bare serial loop's;
(b) Portfolio-v0 vector env, K=1024, serial: env-steps/s >= 25 x gym-anytrading's single-env steps/s (an
    earlier issue asked 100 x; the threaded row has no target).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

from _common import Timing, fmt_rate, fmt_us, machine_summary, measure, print_table
from bare_loop import BareState, bare_step_parallel, bare_step_serial

EPISODE = 252  # default episode_length
IN_EPISODE = 100  # steps of an in-episode timing block


def _blocks(k: int, units: int) -> int:
    """Steps per timed block: one episode + autoreset, repeated for small batches to reach ~0.1 s."""
    episodes = max(1, min(8, 20_000 // max(1, k * units)))
    return episodes * (EPISODE + 1)


def vector_row(kind: str, k: int, repeats: int, parallel: bool | None = None) -> tuple[Timing, Timing, float]:
    """(with autoreset amortised, in-episode steps only, median ms of ``reset()`` of all K envs)."""
    import gymnasium as gym

    import wealtharena_env  # noqa: F401
    from wealtharena_env.envs.vector import ArenaVecEnv

    if kind == "portfolio":
        envs = gym.make_vec("WealthArena/Portfolio-v0", num_envs=k, n_assets=1, parallel=parallel)
        units = 1
        name = "PortfolioVectorEnv 1x1"
    else:  # "arena", or "arena_norisk": the same env with its risk layer off (what the risk rules cost)
        envs = ArenaVecEnv(num_envs=k, n_assets=30, parallel=parallel, risk_enabled=kind == "arena")
        units = envs.num_agents * envs.sim.n_assets
        name = "ArenaVecEnv 5x30" + (" risk layer off" if kind == "arena_norisk" else "")
    threads = "prange" if envs.sim._step_kernel.__name__.endswith("parallel") else "serial"
    name = f"{name} ({threads}{', the default' if parallel is None else ''}), K={k}"
    envs.action_space.seed(0)
    actions = [envs.action_space.sample() for _ in range(4)]

    # 1. in-episode steps only: reset (not timed), then IN_EPISODE steps timed
    clock = time.perf_counter if threads == "prange" else time.thread_time  # threads: wall time
    resets, in_episode = [], []
    envs.reset(seed=0)
    for s in range(IN_EPISODE):  # warm-up
        envs.step(actions[s & 3])
    for r in range(repeats):
        t0 = clock()
        envs.reset(seed=r)
        resets.append(clock() - t0)
        t0 = clock()
        for s in range(IN_EPISODE):
            envs.step(actions[s & 3])
        in_episode.append((clock() - t0) / IN_EPISODE * 1e6)
    step_only = Timing(name, statistics.median(in_episode), min(in_episode), max(in_episode), units * k)

    # 2. whole episodes, the NEXT_STEP autoreset step included
    envs.reset(seed=0)

    def run(n: int) -> None:
        for s in range(n):
            envs.step(actions[s & 3])

    med, lo, hi = measure(run, _blocks(k, units), repeats, warmup_steps=EPISODE + 1, clock=clock)
    envs.close()
    return Timing(name, med, lo, hi, units * k), step_only, statistics.median(resets) * 1e3


def bare_row(parallel: bool, k: int, repeats: int, a: int = 5, n: int = 30) -> Timing:
    state = BareState(k, a, n)
    fn = bare_step_parallel if parallel else bare_step_serial
    args = state.args()

    def run(steps: int) -> None:
        for _ in range(steps):
            fn(*args)

    med, lo, hi = measure(
        run,
        _blocks(k, a * n),
        repeats,
        warmup_steps=5,
        clock=time.perf_counter if parallel else time.thread_time,
    )
    return Timing(f"bare loop {'prange' if parallel else 'serial'} {a}x{n}, K={k}", med, lo, hi, a * n * k)


def anytrading_row(repeats: int) -> Timing | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import gym_anytrading  # noqa: F401
            import gymnasium as gym

            env = gym.make("stocks-v0")
    except ImportError:
        return None
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(64)]
    state = {"done": False}

    def run(n: int) -> None:
        for s in range(n):
            if state["done"]:
                env.reset()
            _, _, te, tr, _ = env.step(actions[s & 63])
            state["done"] = te or tr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        med, lo, hi = measure(run, 5000, repeats)
    return Timing("gym-anytrading stocks-v0, single env", med, lo, hi, 1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 64, 1024])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="K = 1, 64 and 3 repeats")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.repeats = [1, 64], 3
    print(f"Machine: {machine_summary()}")

    rows: list[tuple[Timing, str, str]] = []
    found: dict[str, Timing] = {}
    for k in args.sizes:
        for kind in ("portfolio", "arena"):
            # the default (serial) and, for large batches, threads
            for parallel in (None, True) if k >= 64 else (None,):
                t, step_only, reset_ms = vector_row(kind, k, args.repeats, parallel)
                rows.append((t, fmt_us(step_only.us_per_step), f"{reset_ms:,.1f}"))
                found[f"{kind}{k}{'' if parallel is None else 'T'}"] = t
        if k == max(args.sizes):
            t, step_only, reset_ms = vector_row("arena_norisk", k, args.repeats)
            rows.append((t, fmt_us(step_only.us_per_step), f"{reset_ms:,.1f}"))
            found[f"arena_norisk{k}"] = t
        for parallel in (False, True):
            t = bare_row(parallel, k, args.repeats)
            rows.append((t, "-", "-"))
            found[f"bare{'P' if parallel else 'S'}{k}"] = t
    any_t = anytrading_row(args.repeats)
    if any_t is not None:
        rows.append((any_t, "-", "-"))

    print(f"(machine after the first prange call: {machine_summary()})")
    print_table(
        [
            "run",
            "µs/step (median)",
            "min-max",
            "µs per env-step",
            "env-steps/s",
            "agent-asset-steps/s",
            "µs/step in-episode",
            "reset ms (all K)",
        ],
        [
            [
                t.name,
                fmt_us(t.us_per_step),
                f"{fmt_us(t.us_min)}-{fmt_us(t.us_max)}",
                fmt_us(t.us_per_step / _envs(t)),
                fmt_rate(t.steps_per_s * _envs(t)),
                fmt_rate(t.units_per_s),
                step_only,
                reset,
            ]
            for t, step_only, reset in rows
        ],
        "Vector envs vs the bare loop (autoreset amortised)",
    )

    ratios = []
    kmax = max(args.sizes)
    serial, par = found.get(f"bareS{kmax}"), found.get(f"bareP{kmax}")
    arena, arena_threads = found.get(f"arena{kmax}"), found.get(f"arena{kmax}T")
    if arena and serial:  # serial against serial, threaded against threaded
        ratios.append(
            [
                (
                    f"(a) ArenaVecEnv K={kmax} 5x30 (serial, the default) / bare serial loop, "
                    "agent-asset-steps/s"
                ),
                _ratio(arena.units_per_s / serial.units_per_s),
                ">= 0.5",
            ]
        )
    if arena_threads and par:
        ratios.append(
            [
                f"    ArenaVecEnv K={kmax} 5x30 (parallel=True) / bare prange loop, agent-asset-steps/s",
                _ratio(arena_threads.units_per_s / par.units_per_s),
                "-",
            ]
        )
    norisk = found.get(f"arena_norisk{kmax}")
    if norisk and serial:
        ratios.append(
            [
                f"    ArenaVecEnv K={kmax} 5x30, risk layer off (serial) / bare serial loop",
                _ratio(norisk.units_per_s / serial.units_per_s),
                "-",
            ]
        )
    for key, label, target in (
        (f"portfolio{kmax}", "serial, the default", ">= 25"),
        (f"portfolio{kmax}T", "parallel=True", "-"),
    ):
        port = found.get(key)
        if port and any_t:
            ratios.append(
                [
                    f"(b) Portfolio-v0 vector K={kmax} ({label}) env-steps/s / gym-anytrading steps/s",
                    _ratio(port.steps_per_s * _envs(port) / any_t.steps_per_s),
                    target,
                ]
            )
    if ratios:
        print_table(["ratio", "measured", "target"], ratios, "Targets")


def _ratio(x: float) -> str:
    return f"{x:.2f}" if x < 10 else f"{x:.0f}"


def _envs(t: Timing) -> int:
    """K of a row (the number after 'K=')."""
    return int(t.name.rsplit("K=", 1)[1]) if "K=" in t.name else 1


if __name__ == "__main__":
    main()
