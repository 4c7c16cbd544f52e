"""The per-step kernels are compiled without Numba's reference counting (kernels.STEP_KERNEL_OPTIONS).

With reference counting every array view a kernel takes costs an atomic increment and decrement of its
parent's counter (the step kernel of a 1-asset env 1.9-2.5x slower, of a 5 x 30 one 1.3x:
benchmarks/bench_step.py, and a cache line the prange threads fight over). Compiling
with ``_nrt=False`` also guarantees the step path never allocates: such a kernel fails to compile if it does.
"""

from __future__ import annotations

import numpy as np
import pytest
from numba.core.registry import CPUDispatcher

from wealtharena_env import arena_v0
from wealtharena_env.kernels import STEP_KERNEL_OPTIONS, execution, features, market, reward, risk, rng, step
from wealtharena_env.sim import Simulation

# Kernels outside the per-step path, or that need Numba's runtime: the prange driver (parfor scheduling
# allocates) and the indicator features (computed once per episode; they allocate their outputs). The
# synthetic market (kernels.market, kernels.rng) is on the step path: the steps draw the bars they reach.
RUNTIME_KERNELS = {"step_batch_parallel", "indicator_features", "_feature", "fill_log_returns"}


def _dispatchers(module):
    return {
        name: obj
        for name, obj in vars(module).items()
        if isinstance(obj, CPUDispatcher) and obj.py_func.__module__ == module.__name__
    }


def test_step_path_kernels_compile_without_reference_counting():
    assert STEP_KERNEL_OPTIONS["_nrt"] is False
    checked = 0
    for module in (step, risk, execution, features, reward, market, rng):
        for name, kernel in _dispatchers(module).items():
            if name in RUNTIME_KERNELS:
                continue
            assert kernel.targetoptions.get("_nrt") is False, f"{module.__name__}.{name} counts references"
            checked += 1
    assert checked >= 35
    assert step.step_batch_parallel.targetoptions.get("parallel") is True


def test_the_refcounted_build_switch_changes_the_options_and_the_cache_directory():
    """``WEALTHARENA_REFCOUNTED_KERNELS=1`` (the benchmark's comparison build) drops ``_nrt`` and gets a cache
    digest of its own, so the two builds never share compiled code; without it nothing changes."""
    import json
    import os
    import subprocess
    import sys

    probe = (
        "import json; from wealtharena_env.kernels import STEP_KERNEL_OPTIONS, REFCOUNTED_KERNELS; "
        "from wealtharena_env._numba_cache import kernels_digest; from numba.core import config; "
        "print(json.dumps([sorted(STEP_KERNEL_OPTIONS), REFCOUNTED_KERNELS, kernels_digest(), "
        "config.CACHE_DIR]))"
    )
    seen = {}
    for flag in ("0", "1"):
        for cache_dir in (None, "/tmp/wealtharena-user-cache"):  # the user's own NUMBA_CACHE_DIR, or none
            env = {**os.environ, "WEALTHARENA_REFCOUNTED_KERNELS": flag}
            env.pop("NUMBA_CACHE_DIR", None)
            if cache_dir:
                env["NUMBA_CACHE_DIR"] = cache_dir
            command = [sys.executable, "-c", probe]
            done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
            seen[flag, cache_dir] = json.loads(done.stdout.strip().splitlines()[-1])
    plain, counted = seen["0", None], seen["1", None]
    assert plain[:2] == [["_nrt", "cache", "error_model"], False]
    assert counted[:2] == [["cache", "error_model"], True]
    assert plain[2] != counted[2] and plain[2] in plain[3] and counted[2] in counted[3]
    # under a set NUMBA_CACHE_DIR the refcounted build caches in a sub-directory, never beside the other
    assert seen["0", "/tmp/wealtharena-user-cache"][3] == "/tmp/wealtharena-user-cache"
    assert seen["1", "/tmp/wealtharena-user-cache"][3] == "/tmp/wealtharena-user-cache/refcounted-kernels"


def test_threaded_driver_matches_serial_driver():
    # both drivers call advance_env (one non-refcounted call per environment), the prange one from threads:
    # both must give the same bits
    config = arena_v0.parallel_env(n_assets=4, episode_length=30).unwrapped.config
    sims = [Simulation(config, batch_size=3, parallel=p) for p in (False, True)]
    outs = []
    for sim in sims:
        sim.reset(seeds=[1, 2, 3])
        rng = np.random.default_rng(5)
        trace = []
        for _ in range(30):
            obs, info = sim.step(rng.uniform(-1, 1, (3, sim.n_agents, sim.n_action)))
            trace.append((obs, info))
        outs.append(trace)
    for (o1, i1), (o2, i2) in zip(*outs):
        np.testing.assert_array_equal(o1, o2)
        np.testing.assert_array_equal(i1, i2)


def test_threaded_episode_draws_are_the_serial_draws():
    # a threaded Simulation draws the new episodes of >= PARALLEL_DRAW_MIN environments on Python threads;
    # every environment uses only its own generator and rows, so the bits are those of the serial draws
    from wealtharena_env.sim import PARALLEL_DRAW_MIN

    config = arena_v0.parallel_env(n_assets=3, episode_length=12).unwrapped.config
    batch = PARALLEL_DRAW_MIN + 4
    sims = [Simulation(config, batch_size=batch, parallel=p) for p in (False, True)]
    outs = []
    for sim in sims:
        trace = [sim.reset(seeds=11)]
        for t in range(30):  # episodes of 12 steps: autoresets of every environment at once
            mask = sim.steps >= config.episode_length
            sim.actions[..., -1] = 1.0
            sim.actions[..., :-1] = 0.25
            trace.append(sim.step(reset_mask=mask if mask.any() else None))
        trace.append((sim.bars.copy(), sim.market.copy(), sim.asset_state.copy()))
        outs.append(trace)
    assert sims[1]._draw_pool is not None and sims[0]._draw_pool is None
    for first, second in zip(*outs):
        for x, y in zip(first, second):
            np.testing.assert_array_equal(x, y)


def test_a_users_market_source_is_drawn_on_the_calling_thread():
    import threading

    from wealtharena_env.market_sources import SyntheticMarket
    from wealtharena_env.sim import PARALLEL_DRAW_MIN

    config = arena_v0.parallel_env(n_assets=2, episode_length=10).unwrapped.config
    threads = set()

    class RecordingSource:
        def __init__(self):
            self.inner = SyntheticMarket(config.market)
            self.n_assets, self.tickers = self.inner.n_assets, self.inner.tickers

        def sample(self, rng, bars_out):
            threads.add(threading.get_ident())
            return self.inner.sample(rng, bars_out)

    sim = Simulation(config, batch_size=PARALLEL_DRAW_MIN + 2, data=RecordingSource(), parallel=True)
    sim.reset(seeds=0)
    assert threads == {threading.get_ident()}


def test_threads_are_opt_in():
    # serial by default, whatever the batch size: with a learner busy on the cores (every RL run), OpenMP's
    # workers stall and a threaded step gets 10-30x slower than a serial one
    config = arena_v0.parallel_env(n_assets=30, episode_length=5).unwrapped.config
    assert Simulation(config, batch_size=256)._step_kernel is step.step_batch
    assert Simulation(config, batch_size=256, parallel=True)._step_kernel is step.step_batch_parallel
    from wealtharena_env.envs.vector import PortfolioVectorEnv

    assert PortfolioVectorEnv(num_envs=1024, n_assets=1).sim._step_kernel is step.step_batch


@pytest.mark.parametrize("impact", [0.0, 2.0])
def test_the_market_drawn_bar_by_bar_is_the_path_drawn_up_front(impact):
    """A synthetic episode is drawn as it is reached: a reset draws the warm-up bars (their returns kept in
    the history), each step the bar it reaches into a ring of two rows, and nothing beyond (so no look-ahead
    is possible); the episode is the path that SyntheticMarket.sample draws from the same generator, whatever
    the agents' price impact did to the bars."""
    from wealtharena_env.kernels import market as mk
    from wealtharena_env.market_sources import SyntheticMarket

    config = arena_v0.parallel_env(n_assets=3, episode_length=70, impact=impact).unwrapped.config
    sim = Simulation(config)
    assert sim.market_by_bar and sim.bars.shape[1] == 2
    sim.reset(seeds=[5])
    up_front = np.empty((config.bars_per_episode, mk.N_BAR_FIELDS, 3))
    SyntheticMarket(config.market).sample(np.random.default_rng(5), up_front)
    for t in (config.warmup - 1, config.warmup):
        np.testing.assert_array_equal(sim.bar(t), up_front[t])
    np.testing.assert_array_equal(
        sim.history[0, :, : config.warmup + 1], up_front[: config.warmup + 1, mk.BAR_LOGRET].T
    )
    rng = np.random.default_rng(0)
    for t in range(config.episode_length):
        before = sim.bars[0].copy()
        sim.actions[..., :-1] = rng.uniform(-1, 1, sim.actions[..., :-1].shape)
        sim.actions[..., -1] = 1.0
        sim.step()
        f = config.warmup + t + 1
        changed = np.flatnonzero(np.any(sim.bars[0] != before, axis=(1, 2)))
        assert set(changed) <= {f % sim.bars.shape[1]}  # one row drawn per step: the bar reached
        if impact == 0.0:
            np.testing.assert_array_equal(sim.bar(f), up_front[f])
    path_state = sim.asset_state[0, sim.n_assets + 1 :]
    np.testing.assert_array_equal(path_state[mk.ASSET_CLOSE], up_front[-1, mk.BAR_CLOSE])
    if impact == 0.0:
        # the closes of the whole episode, rebuilt from the current close and the log returns
        np.testing.assert_allclose(sim.closes(0, 0), up_front[:, mk.BAR_CLOSE], rtol=1e-12)
    else:
        assert np.abs(sim.cumulative_impact[0]).max() > 0.0  # the agents moved the prices they traded at
    with pytest.raises(Exception, match="not held"):
        sim.bar(config.warmup)  # overwritten by the ring


def test_closes_of_whole_and_ring_episodes_agree():
    """Simulation.closes gives the same prices (to rounding) whether the episode is held whole (from data) or
    in a ring (drawn bar by bar), and refuses bars not yet reached."""
    from wealtharena_env.kernels import market as mk
    from wealtharena_env.market_sources import SyntheticMarket

    config = arena_v0.parallel_env(n_assets=2, episode_length=30).unwrapped.config
    path = np.empty((config.bars_per_episode, mk.N_BAR_FIELDS, 2))
    SyntheticMarket(config.market).sample(np.random.default_rng(3), path)

    class Fixed:
        n_assets, tickers = 2, ("ASSET_00", "ASSET_01")

        def sample(self, rng, bars_out):
            bars_out[:] = path

    ring, whole = Simulation(config), Simulation(config, data=Fixed())
    assert ring.market_by_bar and not whole.market_by_bar
    ring.reset(seeds=[3])
    whole.reset(seeds=[3])
    for _ in range(12):
        ring.step(np.zeros((1, ring.n_agents, ring.n_action)))
        whole.step(np.zeros((1, whole.n_agents, whole.n_action)))
    np.testing.assert_allclose(ring.closes(0), whole.closes(0), rtol=1e-12)
    np.testing.assert_allclose(ring.closes(0, 5, 40), whole.closes(0, 5, 40), rtol=1e-12)
    with pytest.raises(Exception, match="reached"):
        ring.closes(0, 0, config.warmup + 14)


def test_the_full_feature_set_and_historical_data_draw_whole_episodes():
    """The "full" feature set's indicators need the whole path at reset, and data or a user's source fills the
    episode at once: those Simulations do not draw bar by bar."""
    full = arena_v0.parallel_env(n_assets=2, episode_length=10, feature_set="full").unwrapped.config
    assert not Simulation(full).market_by_bar
    sim = Simulation(arena_v0.parallel_env(n_assets=2, episode_length=10).unwrapped.config)
    assert sim.market_by_bar and sim.params[0]["market_by_bar"]
