"""Microseconds per step of our envs and of peer trading envs, measured side by side in one process.

    python benchmarks/bench_step.py            # full run (~1-2 min)
    python benchmarks/bench_step.py --quick    # fewer steps and repeats

What is timed is what a user pays: ``env.step(action)`` through the public API with actions sampled in
advance (dict building included for PettingZoo), and ``reset()`` whenever an episode ends (amortised into
the per-step time). Each row: warm-up, then ``--repeats`` timed blocks; the median is reported with the
min-max spread. Peers that are not installed are reported as such.

"agent-asset-steps/s" = steps/s x agents x assets (a single-asset, single-agent env counts 1 per step;
PettingZoo's rock-paper-scissors counts its 2 agents).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
from _common import Timing, fmt_rate, fmt_us, machine_summary, measure, price_frame, print_table

N_ACTIONS = 64  # pre-sampled actions, cycled
FINRL_NOTE = ("; skipped: importing finrl.meta.env_stock_trading.env_stocktrading needs stable-baselines3 + torch, "
              "alpaca-trade-api and FinRL's data processors (heavy extras)")


# ---------------------------------------------------------------------------------------------- ours
def ours_arena(n_assets: int = 30):
    import wealtharena_env  # noqa: F401
    from wealtharena_env import arena_v0

    env = arena_v0.parallel_env(n_assets=n_assets)
    env.reset(seed=0)
    for i, a in enumerate(env.possible_agents):
        env.action_space(a).seed(i)
    actions = [{a: env.action_space(a).sample() for a in env.possible_agents} for _ in range(N_ACTIONS)]

    def run(n: int) -> None:
        for k in range(n):
            if not env.agents:
                env.reset()
            env.step(actions[k % N_ACTIONS])

    return run, len(env.possible_agents) * n_assets, f"PettingZoo parallel_env, {len(env.possible_agents)} agents x {n_assets} assets"


def ours_portfolio(n_assets: int = 1):
    import gymnasium as gym

    import wealtharena_env  # noqa: F401

    env = gym.make("WealthArena/Portfolio-v0", n_assets=n_assets)
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(N_ACTIONS)]
    state = {"done": False}

    def run(n: int) -> None:
        for k in range(n):
            if state["done"]:
                env.reset()
            _, _, terminated, truncated, _ = env.step(actions[k % N_ACTIONS])
            state["done"] = terminated or truncated

    return run, n_assets, f"gymnasium.make, 1 agent x {n_assets} asset(s)"


# ---------------------------------------------------------------------------------------------- peers
def _gym_runner(env, units: int, note: str):
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(N_ACTIONS)]
    state = {"done": False}

    def run(n: int) -> None:
        for k in range(n):
            if state["done"]:
                env.reset()
            _, _, terminated, truncated, _ = env.step(actions[k % N_ACTIONS])
            state["done"] = terminated or truncated

    return run, units, note


def peer_anytrading():
    import gym_anytrading  # noqa: F401  (registers stocks-v0)
    import gymnasium as gym

    env = gym.make("stocks-v0")  # STOCKS_GOOGL shipped with the package, window 30
    return _gym_runner(env, 1, "gym-anytrading stocks-v0 (STOCKS_GOOGL), 1 x 1")


def peer_gym_trading_env():
    import gym_trading_env  # noqa: F401  (registers TradingEnv)
    import gymnasium as gym

    frames, source = price_frame(1)
    df = next(iter(frames.values())).copy()
    df["feature_close"] = df["close"].pct_change()
    df["feature_open"] = df["open"] / df["close"]
    df["feature_high"] = df["high"] / df["close"]
    df["feature_low"] = df["low"] / df["close"]
    df["feature_volume"] = df["volume"] / df["volume"].rolling(7 * 24).max()
    df = df.dropna()
    env = gym.make("TradingEnv", df=df, positions=[-1, 0, 1], trading_fees=0.0001, verbose=0)
    return _gym_runner(env, 1, f"Gym-Trading-Env TradingEnv on {source}, 1 x 1")


def peer_finrl(n_assets: int = 30):
    # Importing FinRL's env imports finrl/__init__, which pulls stable-baselines3 (torch), alpaca-trade-api,
    # the WRDS / Yahoo / Alpaca data processors, ...: we only run it where it is already installed.
    import pandas as pd
    from finrl.meta.env_stock_trading.env_stocktrading import StockTradingEnv

    frames, source = price_frame(n_assets)
    parts = []
    for tic, f in frames.items():
        g = f.reset_index().rename(columns={"index": "date", "Date": "date"})
        g.columns = ["date", *g.columns[1:]]
        g["tic"] = tic
        g["macd"] = g["close"].ewm(span=12).mean() - g["close"].ewm(span=26).mean()
        parts.append(g)
    df = pd.concat(parts).sort_values(["date", "tic"])
    df.index = df["date"].factorize()[0]
    n = len(frames)
    indicators = ["macd"]
    state_space = 1 + 2 * n + len(indicators) * n
    env = StockTradingEnv(df=df, stock_dim=n, hmax=100, initial_amount=1_000_000, num_stock_shares=[0] * n,
                          buy_cost_pct=[0.001] * n, sell_cost_pct=[0.001] * n, reward_scaling=1e-4,
                          state_space=state_space, action_space=n, tech_indicator_list=indicators)
    return _gym_runner(env, n, f"FinRL StockTradingEnv on {source}, 1 x {n}")


def peer_rps():
    from pettingzoo.classic import rps_v2

    env = rps_v2.parallel_env()
    env.reset(seed=0)
    for i, a in enumerate(env.possible_agents):
        env.action_space(a).seed(i)
    actions = [{a: env.action_space(a).sample() for a in env.possible_agents} for _ in range(N_ACTIONS)]

    def run(n: int) -> None:
        for k in range(n):
            if not env.agents:
                env.reset()
            env.step(actions[k % N_ACTIONS])

    return run, len(env.possible_agents), "PettingZoo classic rps_v2 parallel_env (reference), 2 agents"


# ---------------------------------------------------------------------------------------------- breakdown
def _in_episode(step, reset, steps: int, repeats: int) -> tuple[float, float, float]:
    """Median/min/max µs per call of ``step`` over blocks of ``steps`` calls, each after an untimed ``reset``."""
    per_step = []
    for r in range(repeats + 1):  # the first block is the warm-up
        reset(r)
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        if r:
            per_step.append((time.perf_counter() - t0) / steps * 1e6)
    return statistics.median(per_step), min(per_step), max(per_step)


def arena_breakdown(repeats: int) -> list[Timing]:
    """Where the time of one ArenaEnv step (5 agents x 30 assets) goes: kernel, Simulation, adapter.

    Timed inside episodes (blocks of 250 steps after an untimed reset), so no reset is included.
    """
    from wealtharena_env import arena_v0
    from wealtharena_env.envs._common import agent_info, write_action
    from wealtharena_env.envs.vector import ArenaVecEnv

    env = arena_v0.parallel_env(n_assets=30)
    env.reset(seed=0)
    sim = env.sim
    steps = min(250, sim.config.episode_length)
    rng = np.random.default_rng(0)
    names = env.possible_agents
    acts = {a: rng.uniform(-1, 1, sim.n_action).astype(np.float32) for a in names}
    units = sim.n_agents * sim.n_assets

    def reset_sim(r: int) -> None:
        sim.reset(seeds=[r])
        sim.actions[..., :-1] = rng.uniform(-1, 1, sim.actions[..., :-1].shape)
        sim.actions[..., -1] = 1.0

    # The kernel alone: time the very call Simulation.step makes, by wrapping it (robust to its signature).
    kernel = sim._step_kernel
    kernel_times: list[float] = []

    def timed_kernel(*args):
        t0 = time.perf_counter()
        result = kernel(*args)
        kernel_times.append(time.perf_counter() - t0)
        return result

    def kernel_reset(r: int) -> None:
        sim._step_kernel = kernel
        reset_sim(r)

    def kernel_only() -> None:
        sim._step_kernel = timed_kernel
        sim.step()

    info = sim.observe()[1]
    row = info[0]

    def write_actions() -> None:
        buffer = sim.actions[0]
        for i, a in enumerate(names):
            write_action(buffer[i], acts[a], a, sim.n_action)

    def build_infos() -> None:
        {a: agent_info(row[i], sim.tickers) for i, a in enumerate(names)}

    vec = ArenaVecEnv(num_envs=1, n_assets=30)
    vec_actions = rng.uniform(-1, 1, (1, vec.num_agents, sim.n_action)).astype(np.float32)
    full_actions = [{a: rng.uniform(-1, 1, sim.n_action).astype(np.float32) for a in names} for _ in range(8)]
    counter = {"k": 0}

    def env_step() -> None:
        counter["k"] += 1
        env.step(full_actions[counter["k"] & 7])

    cases = [
        ("kernel only (the kernel call inside Simulation.step, timed around it)", kernel_only, kernel_reset),
        ("Simulation.step() (output allocation + kernel)", sim.step, reset_sim),
        ("ArenaVecEnv(num_envs=1).step (arrays in/out)", lambda: vec.step(vec_actions), lambda r: vec.reset(seed=r)),
        ("ArenaEnv.step (PettingZoo dicts in/out)", env_step, lambda r: env.reset(seed=r)),
        ("  adapter part: 5 x write_action (dict -> buffer)", write_actions, reset_sim),
        ("  adapter part: 5 x agent_info (info dicts)", build_infos, reset_sim),
    ]
    out = []
    for name, fn, reset in cases:
        if fn is kernel_only:
            per_block = []
            for r in range(repeats + 1):
                kernel_reset(r)
                kernel_times.clear()
                for _ in range(steps):
                    kernel_only()
                if r:
                    per_block.append(sum(kernel_times) / len(kernel_times) * 1e6)
            sim._step_kernel = kernel
            out.append(Timing(name, statistics.median(per_block), min(per_block), max(per_block), units))
            continue
        med, lo, hi = _in_episode(fn, reset, steps, repeats)
        out.append(Timing(name, med, lo, hi, units))
    return out


# ---------------------------------------------------------------------------------------------- main
ENVS = (
    ("ours: Arena-v0 5 agents x 30 assets", ours_arena),
    ("ours: Portfolio-v0 1 asset", ours_portfolio),
    ("gym-anytrading stocks-v0", peer_anytrading),
    ("Gym-Trading-Env TradingEnv", peer_gym_trading_env),
    ("FinRL StockTradingEnv 30 assets", peer_finrl),
    ("PettingZoo rps_v2 (reference)", peer_rps),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000, help="steps per timed repeat")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="500 steps x 3 repeats")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.repeats = 500, 3
    print(f"Machine: {machine_summary()}")
    print(f"Method: {args.steps} steps per repeat, {args.repeats} repeats after a warm-up; median (min-max).")

    timings: list[Timing] = []
    missing: list[tuple[str, str]] = []
    for name, factory in ENVS:
        # catch_warnings restores the global filters afterwards: Gym-Trading-Env's import turns every
        # warning into an error process-wide (warnings.filterwarnings("error")).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                run, units, note = factory()
            except ImportError as exc:
                missing.append((name, f"not installed ({exc.name or exc})" + FINRL_NOTE * (factory is peer_finrl)))
                continue
            except Exception as exc:  # noqa: BLE001 - a peer that installs but fails here is reported, not fatal
                missing.append((name, f"failed: {type(exc).__name__}: {exc}"[:120]))
                continue
            med, lo, hi = measure(run, args.steps, args.repeats)
        timings.append(Timing(name, med, lo, hi, units, note))

    rows = [[t.name, fmt_us(t.us_per_step), f"{fmt_us(t.us_min)}-{fmt_us(t.us_max)}", fmt_rate(t.steps_per_s),
             str(t.units_per_step), fmt_rate(t.units_per_s), t.note] for t in timings]
    rows += [[name, "-", "-", "-", "-", "-", why] for name, why in missing]
    print_table(["env", "µs/step (median)", "min-max", "steps/s", "agent x asset", "agent-asset-steps/s", "setup"],
                rows, "Per-step cost (reset amortised)")

    ours = [t for t in timings if t.name.startswith("ours")]
    peers = [t for t in timings if not t.name.startswith("ours")]
    if ours and peers:
        headers = ["ours \\ peer", *[p.name for p in peers]]
        table = []
        for o in ours:
            cells = [o.name]
            for p in peers:
                per_step = p.us_per_step / o.us_per_step
                per_unit = o.units_per_s / p.units_per_s
                cells.append(f"{per_step:.2f}x step, {per_unit:.1f}x a-a-step")
            table.append(cells)
        print_table(headers, table, "Ratios: how many times faster ours is (per step; per agent-asset-step)")

    parts = arena_breakdown(args.repeats)
    print_table(["component (5 agents x 30 assets, one env, in-episode)", "µs/step (median)", "min-max"],
                [[t.name, fmt_us(t.us_per_step), f"{fmt_us(t.us_min)}-{fmt_us(t.us_max)}"] for t in parts],
                "Where the time of one Arena-v0 step goes")
    kernel, sim, full = parts[0].us_per_step, parts[1].us_per_step, parts[3].us_per_step
    print(f"\nArenaEnv.step {fmt_us(full)} µs = Simulation.step {fmt_us(sim)} µs (kernel {fmt_us(kernel)} µs) "
          f"+ PettingZoo dict adapter {fmt_us(full - sim)} µs; the issue's target is <= 10 µs per 5 x 30 step.")


if __name__ == "__main__":
    main()
