"""Copies of an env (``copy.deepcopy`` or ``pickle``, mid-episode) step exactly like the original.

The adapters keep views of the simulation's action buffer between steps; a copy must write its actions into
its own buffer, not into a stale copy of the original's views.
"""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from wealtharena_env.envs.arena import ArenaEnv
from wealtharena_env.envs.portfolio import PortfolioEnv
from wealtharena_env.envs.vector import ArenaVecEnv, PortfolioVectorEnv

SHORT = {"n_assets": 3, "episode_length": 8}


def _arena_actions(env, rng):
    return {a: rng.uniform(-1, 1, 4).astype(np.float32) for a in env.possible_agents}


CASES = {
    "arena": (lambda: ArenaEnv(**SHORT), _arena_actions),
    "portfolio": (lambda: PortfolioEnv(**SHORT), lambda env, rng: rng.uniform(-1, 1, 4).astype(np.float32)),
    "portfolio_vector": (
        lambda: PortfolioVectorEnv(num_envs=2, **SHORT),
        lambda env, rng: rng.uniform(-1, 1, (2, 4)).astype(np.float32),
    ),
    "arena_vector": (
        lambda: ArenaVecEnv(num_envs=2, **SHORT),
        lambda env, rng: rng.uniform(-1, 1, (2, 5, 4)).astype(np.float32),
    ),
}


def _flatten(out):
    """Every number of a step's outputs, in order (dict keys included)."""
    if isinstance(out, dict):
        return [x for k, v in out.items() for x in (k, *_flatten(v))]
    if isinstance(out, (list, tuple)):
        return [x for v in out for x in _flatten(v)]
    if isinstance(out, np.ndarray):
        return out.tolist()
    return [out]


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
@pytest.mark.parametrize("name", list(CASES))
def test_copies_step_like_the_original(name, how):
    make, actions = CASES[name]
    rng = np.random.default_rng(0)
    env = make()
    env.reset(seed=0)
    env.step(actions(env, rng))  # the adapter has bound its views, the Simulation its kernel's entry point
    twin = copy.deepcopy(env) if how == "deepcopy" else pickle.loads(pickle.dumps(env))
    for _ in range(5):
        a = actions(env, rng)
        assert _flatten(twin.step(copy.deepcopy(a))) == _flatten(env.step(copy.deepcopy(a)))
