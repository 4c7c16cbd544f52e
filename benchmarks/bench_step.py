"""Microseconds per step of our envs and of peer trading envs, measured side by side in one process.

    python benchmarks/bench_step.py            # full run (~1-2 min)
    python benchmarks/bench_step.py --quick    # fewer steps and repeats

What is timed is what a user pays: ``env.step(action)`` through the public API with actions sampled in
advance (dict building included for PettingZoo), and ``reset()`` whenever an episode ends (amortised into
the per-step time). Each row: warm-up, then ``--repeats`` timed blocks; the median is reported with the
min-max spread. Peers that are not installed are reported as such.

FinRL's StockTradingEnv (FinRL 0.3.7) runs on 30 assets with FinRL's 8 default indicators (a state of
301 floats) and no turbulence threshold, as in FinRL's training setup. ``finrl/__init__.py`` imports
alpaca-trade-api and FinRL's data processors, so when ``import finrl...`` fails, the module file
``finrl/meta/env_stock_trading/env_stocktrading.py`` (it imports only gymnasium, matplotlib, numpy, pandas
and stable-baselines3) is loaded on its own from the installed package, without running
``finrl/__init__.py``. Install: see benchmarks/requirements.txt.

"agent-asset-steps/s" = steps/s x agents x assets (a single-asset, single-agent env counts 1 per step;
PettingZoo's rock-paper-scissors counts its 2 agents).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np
from _common import Timing, fmt_rate, fmt_us, machine_summary, measure, price_frame, print_table

N_ACTIONS = 64  # pre-sampled actions, cycled
FINRL_NOTE = (
    "; FinRL's StockTradingEnv module (loaded without finrl/__init__.py) needs finrl, "
    "stable-baselines3 (torch) and matplotlib: pip install torch==2.13.0 (first, CPU wheel), then "
    "pip install finrl==0.3.7 --no-deps && pip install stable-baselines3 matplotlib"
)


# ---------------------------------------------------------------------------------------------- ours
def ours_arena(n_assets: int = 30, info_level: str = "lean"):
    import wealtharena_env  # noqa: F401
    from wealtharena_env import arena_v0

    env = arena_v0.parallel_env(n_assets=n_assets, info_level=info_level)
    env.reset(seed=0)
    for i, a in enumerate(env.possible_agents):
        env.action_space(a).seed(i)
    actions = [{a: env.action_space(a).sample() for a in env.possible_agents} for _ in range(N_ACTIONS)]

    def run(n: int) -> None:
        for k in range(n):
            if not env.agents:
                env.reset()
            env.step(actions[k % N_ACTIONS])

    return (
        run,
        len(env.possible_agents) * n_assets,
        (
            f"PettingZoo parallel_env, {len(env.possible_agents)} agents x "
            f"{n_assets} assets, info_level={info_level!r}"
        ),
    )


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


# finrl.config.INDICATORS, FinRL's default technical indicators (computed there with stockstats).
FINRL_INDICATORS = ["macd", "boll_ub", "boll_lb", "rsi_30", "cci_30", "dx_30", "close_30_sma", "close_60_sma"]


def _finrl_stock_trading_env():
    """FinRL's StockTradingEnv class and how it was loaded.

    ``import finrl.meta.env_stock_trading.env_stocktrading`` first runs ``finrl/__init__.py`` (finrl.test,
    train, trade: alpaca-trade-api, FinRL's data processors, ...). When that fails, the module file of the
    installed package is executed on its own: it imports only gymnasium, matplotlib, numpy, pandas and
    stable-baselines3. An ImportError from there (finrl, matplotlib, stable_baselines3 or torch missing)
    propagates: the row is reported as not installed.
    """
    try:
        from finrl.meta.env_stock_trading.env_stocktrading import StockTradingEnv

        return StockTradingEnv, "via import finrl"
    except ImportError:
        pass
    import importlib.metadata
    import importlib.util
    from pathlib import Path

    relative = "meta/env_stock_trading/env_stocktrading.py"
    path = None
    spec = importlib.util.find_spec("finrl")  # top-level: locates the package, does not execute __init__
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / relative
    else:
        try:
            path = Path(importlib.metadata.distribution("FinRL").locate_file(f"finrl/{relative}"))
        except importlib.metadata.PackageNotFoundError:
            pass
    if path is None or not path.is_file():
        raise ModuleNotFoundError(f"No module named 'finrl' (or no finrl/{relative})", name="finrl")
    spec = importlib.util.spec_from_file_location("_finrl_env_stocktrading", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.StockTradingEnv, "module file loaded without finrl/__init__"


def _finrl_frame(n_assets: int):
    """``price_frame`` in FinRL's long layout: date, tic, OHLCV and FINRL_INDICATORS; index = day number.

    Only days every ticker has are kept (StockTradingEnv's state has one close per ticker per day). The
    indicators are pandas stand-ins for FinRL's stockstats ones (same names and count, so the same state
    size); their values do not change what a step costs.
    """
    import pandas as pd

    frames, source = price_frame(n_assets)
    days = sorted(set.intersection(*(set(f.index) for f in frames.values())))
    parts = []
    for tic, f in frames.items():
        g = f.loc[days].rename_axis("date").reset_index()
        g["tic"] = tic
        c, h, lo = g["close"], g["high"], g["low"]
        g["macd"] = c.ewm(span=12, adjust=False).mean() - c.ewm(span=26, adjust=False).mean()
        mid, sd = c.rolling(20, min_periods=1).mean(), c.rolling(20, min_periods=2).std()
        g["boll_ub"], g["boll_lb"] = mid + 2 * sd, mid - 2 * sd
        move = c.diff()
        gain = move.clip(lower=0).ewm(alpha=1 / 30, adjust=False).mean()
        loss = (-move).clip(lower=0).ewm(alpha=1 / 30, adjust=False).mean()
        g["rsi_30"] = 100 - 100 / (1 + gain / loss)
        tp = (h + lo + c) / 3
        tp_sd = tp.rolling(30, min_periods=2).std()
        g["cci_30"] = (tp - tp.rolling(30, min_periods=1).mean()) / (0.015 * tp_sd)
        true_range = pd.concat([h - lo, (h - c.shift()).abs(), (lo - c.shift()).abs()], axis=1).max(axis=1)
        up, down = h.diff(), -lo.diff()
        atr = true_range.ewm(alpha=1 / 30, adjust=False).mean()
        plus = 100 * up.where((up > down) & (up > 0), 0.0).ewm(alpha=1 / 30, adjust=False).mean() / atr
        minus = 100 * down.where((down > up) & (down > 0), 0.0).ewm(alpha=1 / 30, adjust=False).mean() / atr
        g["dx_30"] = 100 * (plus - minus).abs() / (plus + minus)
        g["close_30_sma"] = c.rolling(30, min_periods=1).mean()
        g["close_60_sma"] = c.rolling(60, min_periods=1).mean()
        g[FINRL_INDICATORS] = g[FINRL_INDICATORS].bfill().fillna(0.0)
        parts.append(g)
    df = pd.concat(parts).sort_values(["date", "tic"], ignore_index=True)
    df.index = df["date"].factorize()[0]  # as FinRL's data_split: df.loc[day] is one row per ticker
    return df, source


def peer_finrl(n_assets: int = 30):
    StockTradingEnv, how = _finrl_stock_trading_env()
    df, source = _finrl_frame(n_assets)
    n = df["tic"].nunique()
    # FinRL's tutorial settings; turbulence_threshold=None (its training env): the risk column is never read.
    # print_verbosity: FinRL prints a summary at the end of every print_verbosity-th episode; keep the table
    # clean.
    env = StockTradingEnv(
        df=df,
        stock_dim=n,
        hmax=100,
        initial_amount=1_000_000,
        num_stock_shares=[0] * n,
        buy_cost_pct=[0.001] * n,
        sell_cost_pct=[0.001] * n,
        reward_scaling=1e-4,
        state_space=1 + 2 * n + len(FINRL_INDICATORS) * n,
        action_space=n,
        tech_indicator_list=FINRL_INDICATORS,
        turbulence_threshold=None,
        print_verbosity=10**9,
    )
    try:
        import importlib.metadata

        version = f" {importlib.metadata.version('FinRL')}"
    except Exception:  # noqa: BLE001 - the version is only a label
        version = ""
    days = df.index.nunique()
    return _gym_runner(
        env,
        n,
        f"FinRL{version} StockTradingEnv on {source}, 1 x {n}, "
        f"{len(FINRL_INDICATORS)} indicators, {days}-day episodes; {how}",
    )


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
def _in_episode(step, reset, steps: int, repeats: int, excluded=lambda: 0.0) -> tuple[float, float, float]:
    """Median/min/max µs per call of ``step`` over blocks of ``steps`` calls, each after an untimed ``reset``;
    ``excluded()`` is the time (s) of the block to leave out (read after it, reset to 0 by ``reset``)."""
    per_step = []
    for r in range(repeats + 1):  # the first block is the warm-up
        reset(r)
        t0 = time.thread_time()
        for _ in range(steps):
            step()
        if r:
            per_step.append((time.thread_time() - t0 - excluded()) / steps * 1e6)
    return statistics.median(per_step), min(per_step), max(per_step)


def _adapter_only(sim, step, reset, steps: int, repeats: int) -> tuple[float, float, float]:
    """Median/min/max µs per call of ``step`` minus the time spent inside ``sim.step`` during those calls.

    ``sim.step`` is wrapped by a timer (an instance attribute, removed afterwards), so the kernel work is the
    one of the very actions the env passed; the wrapper's own call overhead is counted as adapter time.
    """
    inner = sim.step
    inside = [0.0]
    clock = time.thread_time

    def timed_step(*args, **kwargs):
        t0 = clock()
        result = inner(*args, **kwargs)
        inside[0] += clock() - t0
        return result

    def reset_block(r: int) -> None:
        reset(r)
        inside[0] = 0.0

    sim.step = timed_step
    try:
        return _in_episode(step, reset_block, steps, repeats, excluded=lambda: inside[0])
    finally:
        del sim.step


def portfolio_breakdown(repeats: int) -> list[Timing]:
    """One Portfolio-v0 step (1 agent x 1 asset): Simulation.step, the env, its adapter, gymnasium.make's
    wrappers."""
    import gymnasium as gym

    wrapped = gym.make("WealthArena/Portfolio-v0", n_assets=1)
    env = wrapped.unwrapped
    env.reset(seed=0)
    sim = env.sim
    steps = min(250, sim.config.episode_length)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(8)]
    counter = {"k": 0}

    def reset_sim(r: int) -> None:
        sim.reset(seeds=[r])
        sim.actions[..., :-1] = actions[0]
        sim.actions[..., -1] = 1.0

    def env_step() -> None:
        counter["k"] += 1
        env.step(actions[counter["k"] & 7])

    def wrapped_step() -> None:
        counter["k"] += 1
        wrapped.step(actions[counter["k"] & 7])

    out = [
        Timing(
            "Simulation.step() (output allocation + kernel)",
            *_in_episode(sim.step, reset_sim, steps, repeats),
            1,
        ),
        Timing(
            "PortfolioEnv.step (unwrapped)",
            *_in_episode(env_step, lambda r: env.reset(seed=r), steps, repeats),
            1,
        ),
        Timing(
            "  adapter: PortfolioEnv.step minus the Simulation.step inside it",
            *_adapter_only(sim, env_step, lambda r: env.reset(seed=r), steps, repeats),
            1,
        ),
        Timing(
            f"gymnasium.make(...).step ({type(wrapped).__name__} around the env)",
            *_in_episode(wrapped_step, lambda r: wrapped.reset(seed=r), steps, repeats),
            1,
        ),
    ]
    return out


def arena_breakdown(repeats: int) -> list[Timing]:
    """Where the time of one ArenaEnv step (5 agents x 30 assets) goes: kernel, Simulation, adapter.

    Timed inside episodes (blocks of 250 steps after an untimed reset), so no reset is included.
    """
    from wealtharena_env import arena_v0
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
        t0 = time.thread_time()
        result = kernel(*args)
        kernel_times.append(time.thread_time() - t0)
        return result

    def kernel_reset(r: int) -> None:
        sim._step_kernel = kernel
        reset_sim(r)

    def kernel_only() -> None:
        sim._step_kernel = timed_kernel
        sim.step()

    # The five dicts of a step from a fresh (obs, info) pair of a step with random actions (risk events
    # included), as ArenaEnv.step builds them.
    sample_obs, sample_info = sim.step(rng.uniform(-1, 1, (1, sim.n_agents, sim.n_action)))
    all_agents = range(len(names))

    def write_actions() -> None:
        env._write_actions(acts)

    full = arena_v0.parallel_env(n_assets=30, info_level="full")._infos

    def build_dicts() -> None:
        env._infos.parallel_step(sample_obs[0], sample_info[0], all_agents, names)

    def build_full_dicts() -> None:
        full.parallel_step(sample_obs[0], sample_info[0], all_agents, names)

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
        (
            "ArenaVecEnv(num_envs=1).step (arrays in/out)",
            lambda: vec.step(vec_actions),
            lambda r: vec.reset(seed=r),
        ),
        ("ArenaEnv.step (PettingZoo dicts in/out)", env_step, lambda r: env.reset(seed=r)),
        (
            "  adapter: ArenaEnv.step minus the Simulation.step inside it (timed around it)",
            env_step,
            lambda r: env.reset(seed=r),
        ),
        ("  adapter part: actions dict -> buffer (ArenaEnv._write_actions)", write_actions, reset_sim),
        (
            "  adapter part: the five step dicts, lean info (InfoDecoder.parallel_step)",
            build_dicts,
            reset_sim,
        ),
        ("  adapter part: the five step dicts, full info, risk events decoded", build_full_dicts, reset_sim),
    ]
    out = []
    for name, fn, reset in cases:
        if name.startswith("  adapter: "):  # the same env.step calls, less the time inside sim.step
            med, lo, hi = _adapter_only(env.sim, fn, reset, steps, repeats)
            out.append(Timing(name, med, lo, hi, units))
            continue
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
    ("ours: Arena-v0 5 agents x 30 assets, full info", lambda: ours_arena(info_level="full")),
    ("ours: Portfolio-v0 1 asset", ours_portfolio),
    ("gym-anytrading stocks-v0", peer_anytrading),
    ("Gym-Trading-Env TradingEnv", peer_gym_trading_env),
    ("FinRL StockTradingEnv 30 assets", peer_finrl),
    ("PettingZoo rps_v2 (reference)", peer_rps),
)


REFCOUNT_CHILD = r"""
import json, sys, time
import numpy as np
from wealtharena_env.config import AgentProfile, arena_config
from wealtharena_env.kernels import REFCOUNTED_KERNELS
from wealtharena_env.sim import Simulation
repeats = int(sys.argv[1])
out = {"refcounted": REFCOUNTED_KERNELS}
for k, n, a in ((1, 1, 1), (1, 30, 5), (1024, 1, 1), (256, 30, 5)):
    agents = tuple(AgentProfile(f"a{i}") for i in range(a))
    sim = Simulation(arena_config(n_assets=n, agents=agents), batch_size=k, risk_event_table=False)
    rng = np.random.default_rng(0)
    steps = 200 if k == 1 else 20
    actions = rng.uniform(-1.0, 1.0, (steps, k, a, sim.n_action))
    obs = np.empty((k, a, sim.obs_size), np.float32)
    info = np.empty((k, a, sim.info_size))
    arguments = sim.step_arguments(sim._no_reset, obs, info)
    times = []
    for r in range(repeats + 1):
        sim.reset(seeds=list(range(k)))
        elapsed = 0.0
        for s in range(steps):
            sim.actions[..., :-1] = actions[s]
            sim.actions[..., -1] = 1.0
            t0 = time.thread_time()
            sim._step_kernel(*arguments)
            elapsed += time.thread_time() - t0
        if r:
            times.append(elapsed / steps / k * 1e6)
    out[f"{n} x {a}, K = {k}"] = sorted(times)
print(json.dumps(out))
"""


def refcount_comparison(repeats: int) -> list[list[str]]:
    """The step kernel (the call inside Simulation.step, dispatch included) per environment-step, as built
    (``_nrt=False``) and with Numba's reference counting (``WEALTHARENA_REFCOUNTED_KERNELS=1``, its own cache
    directory: the first run compiles it, ~20 s), each in a fresh process."""
    results = []
    for refcounted in (False, True):
        env = {**os.environ, "WEALTHARENA_REFCOUNTED_KERNELS": "1" if refcounted else "0"}
        done = subprocess.run(
            [sys.executable, "-c", REFCOUNT_CHILD, str(repeats)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    rows = []
    for key in results[0]:
        if key == "refcounted":
            continue
        plain, counted = (statistics.median(r[key]) for r in results)
        rows.append([key, f"{plain:.3f}", f"{counted:.3f}", f"{counted / plain:.2f}x"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=2000, help="steps per timed repeat")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="500 steps x 3 repeats")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.repeats = 500, 3
    print(f"Machine: {machine_summary()}")
    print(
        f"Method: {args.steps} steps per repeat, {args.repeats} repeats after a warm-up; median (min-max) of "
        "thread CPU time."
    )

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
                missing.append(
                    (name, f"not installed ({exc.name or exc})" + FINRL_NOTE * (factory is peer_finrl))
                )
                continue
            except Exception as exc:  # noqa: BLE001 - a peer that installs but fails here is reported, not fatal
                missing.append((name, f"failed: {type(exc).__name__}: {exc}"[:120]))
                continue
            med, lo, hi = measure(run, args.steps, args.repeats)
        timings.append(Timing(name, med, lo, hi, units, note))

    rows = [
        [
            t.name,
            fmt_us(t.us_per_step),
            f"{fmt_us(t.us_min)}-{fmt_us(t.us_max)}",
            fmt_rate(t.steps_per_s),
            str(t.units_per_step),
            fmt_rate(t.units_per_s),
            t.note,
        ]
        for t in timings
    ]
    rows += [[name, "-", "-", "-", "-", "-", why] for name, why in missing]
    print_table(
        ["env", "µs/step (median)", "min-max", "steps/s", "agent x asset", "agent-asset-steps/s", "setup"],
        rows,
        "Per-step cost (reset amortised)",
    )

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
    print_table(
        ["component (5 agents x 30 assets, one env, in-episode)", "µs/step (median)", "min-max"],
        [[t.name, fmt_us(t.us_per_step), f"{fmt_us(t.us_min)}-{fmt_us(t.us_max)}"] for t in parts],
        "Where the time of one Arena-v0 step goes",
    )
    kernel, sim, full, adapter = (
        parts[0].us_per_step,
        parts[1].us_per_step,
        parts[3].us_per_step,
        parts[4].us_per_step,
    )
    print(
        f"\nArenaEnv.step {fmt_us(full)} µs = Simulation.step {fmt_us(sim)} µs (kernel {fmt_us(kernel)} µs) "
        f"+ PettingZoo dict adapter {fmt_us(full - sim)} µs ({fmt_us(adapter)} µs timed around the "
        "Simulation.step of the same calls); the issue's target is <= 10 µs per 5 x 30 step."
    )
    single = portfolio_breakdown(args.repeats)
    print_table(
        ["component (1 agent x 1 asset, one env, in-episode)", "µs/step (median)", "min-max"],
        [[t.name, fmt_us(t.us_per_step), f"{fmt_us(t.us_min)}-{fmt_us(t.us_max)}"] for t in single],
        "Where the time of one Portfolio-v0 step goes",
    )
    if not args.quick:
        print_table(
            [
                "step kernel per environment-step (env, batch)",
                "µs, as built (_nrt=False)",
                "µs, reference counted",
                "slower",
            ],
            refcount_comparison(args.repeats),
            "What compiling the step path without reference counting buys (fresh process each; thread CPU)",
        )


if __name__ == "__main__":
    main()
