"""Kernels take a handful of named arguments (issue 15): at most 8 each, grouped in named tuples.

Long positional lists of same-typed arrays are how two arguments get swapped without an error; the state,
configuration and outputs of the step travel as ``kernels.step.EnvState`` / ``EnvConfig`` / ``StepOutputs``,
the risk layer's inputs as ``HeldPositions`` / ``AssetRisk`` / ``BreakerState`` / ``EventLog``, execution's as
``OrderBar`` / ``ExecutionCosts``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import numpy as np
from numba.core.registry import CPUDispatcher

from wealtharena_env import kernels
from wealtharena_env.config import AgentProfile, ArenaConfig, MarketConfig
from wealtharena_env.kernels import step as ks
from wealtharena_env.sim import Simulation

MAX_ARGUMENTS = 8


def _kernels():
    for info in pkgutil.iter_modules(kernels.__path__):
        module = importlib.import_module(f"{kernels.__name__}.{info.name}")
        for name, obj in vars(module).items():
            if isinstance(obj, CPUDispatcher) and obj.py_func.__module__ == module.__name__:
                yield f"{module.__name__}.{name}", obj


def test_every_kernel_takes_at_most_eight_arguments():
    found = dict(_kernels())
    assert len(found) >= 60, sorted(found)  # the walk finds the kernels (not an empty, always-passing loop)
    too_long = {
        name: len(inspect.signature(kernel.py_func).parameters)
        for name, kernel in found.items()
        if len(inspect.signature(kernel.py_func).parameters) > MAX_ARGUMENTS
    }
    assert not too_long, f"kernels with more than {MAX_ARGUMENTS} arguments: {too_long}"


def test_the_simulation_hands_the_kernels_its_arrays_by_name():
    """The plain tuples the step kernels receive are the named tuples' fields in order: each field is the very
    array the Simulation exposes under that name."""
    config = ArenaConfig(market=MarketConfig(n_assets=3), agents=(AgentProfile("balanced_0"),))
    sim = Simulation(config, batch_size=2)
    obs = np.zeros((2, 1, sim.obs_size), dtype=np.float32)
    info = np.zeros((2, 1, sim.info_size))
    mask, state, cfg, actions, outputs, scratch = sim.step_arguments(sim._no_reset, obs, info)
    named = ks.EnvState(*state)
    assert named.bars is sim.bars and named.history is sim.returns and named.zret is sim.zret
    assert named.positions is sim.positions and named.agent_state is sim.agent_state
    assert named.asset_state is sim.asset_state and named.market is sim.market and named.clock is sim.clock
    assert named.indicators is sim.indicators and named.risk_factors is sim.risk_factors
    assert ks.EnvConfig(*cfg) == (sim.params, sim.agent_params) or (
        ks.EnvConfig(*cfg).params is sim.params and ks.EnvConfig(*cfg).agent_params is sim.agent_params
    )
    assert actions is sim.actions and scratch is sim.scratch and mask is sim._no_reset
    assert ks.StepOutputs(*outputs).obs is obs and ks.StepOutputs(*outputs).info is info


def test_named_and_plain_tuples_give_the_same_step():
    """The step kernel takes its groups as named tuples (as a user calling it would) or as plain tuples (as
    the Simulation does): same bits."""
    config = ArenaConfig(market=MarketConfig(n_assets=3), agents=(AgentProfile("balanced_0"),))
    results = []
    for named in (False, True):
        sim = Simulation(config, batch_size=2)
        sim.reset(seeds=[3, 4])
        sim.actions[..., :-1] = np.linspace(-1, 1, sim.n_action)
        sim.actions[..., -1] = 1.0
        obs = np.zeros((2, 1, sim.obs_size), dtype=np.float32)
        info = np.zeros((2, 1, sim.info_size))
        mask, state, cfg, actions, _outputs, scratch = sim.step_arguments(sim._no_reset, obs, info)
        if named:
            state, cfg, outputs = sim.kernel_state, sim.kernel_config, ks.StepOutputs(obs, info)
        else:
            outputs = (obs, info)
        assert ks.step_batch(mask, state, cfg, actions, outputs, scratch) == 0
        results.append((obs, info, sim.positions.copy()))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    assert np.abs(results[0][2]).sum() > 0  # the agents traded
