"""The info contract: lean info by default, ``info_level="full"`` for every detail, one decoder of the
kernels' layout (``wealtharena_env.outputs``) under every adapter, no generated code and no kernel columns
above the Simulation."""

from __future__ import annotations

import copy
import math
import pickle
import re
from pathlib import Path

import gymnasium
import numpy as np
import pytest
from pettingzoo.utils.conversions import parallel_to_aec

import wealtharena_env
from wealtharena_env import arena_v0
from wealtharena_env.envs import PortfolioEnv
from wealtharena_env.envs.vector import ArenaVecEnv, PortfolioVectorEnv
from wealtharena_env.errors import ConfigError
from wealtharena_env.outputs import FULL_KEYS, LEAN_KEYS

PACKAGE = Path(wealtharena_env.__file__).parent
SHORT = {"n_assets": 4, "episode_length": 12}

#: The full info's keys before the lean contract (2026-12), which the full level must keep.
PREVIOUS_FULL_KEYS = (
    "reward",
    "portfolio_value",
    "cash",
    "cost",
    "turnover",
    "drawdown",
    "nan_actions",
    "clipped_actions",
    "buy_fill_fraction",
    "volatility",
    "var",
    "cvar",
    "breaker_cooldown",
    "weights",
    "reward_terms",
    "risk_events",
)
EPISODE_KEYS = ("TimeLimit.truncated", "episode")


def _actions(rng: np.random.Generator, agents, n_action: int) -> dict:
    out = {}
    for a in agents:
        act = rng.uniform(-1.5, 1.5, n_action).astype(np.float32)  # out of range entries: clipped and counted
        if rng.random() < 0.1:
            act[0] = np.nan
        out[a] = act
    return out


def _run_parallel(info_level: str, seed: int = 3, **kwargs):
    env = arena_v0.parallel_env(**SHORT, info_level=info_level, **kwargs)
    rng = np.random.default_rng(seed)
    steps = [env.reset(seed=seed)]
    while env.agents:
        steps.append(env.step(_actions(rng, env.agents, SHORT["n_assets"] + 1)))
    return env, steps


def _reference_full_info(sim, agent: int) -> dict:
    """The full info of one agent rebuilt independently from the kernels' documented columns."""
    from wealtharena_env.kernels import reward as kr
    from wealtharena_env.kernels import risk as kk
    from wealtharena_env.kernels import step as ks

    row = sim.last_info[0, agent]
    n = sim.n_assets
    events = []
    for k in range(int(row[ks.IN_N_EVENTS])):
        rule, asset, removed = row[ks.IN_WEIGHTS + n + 1 + 3 * k : ks.IN_WEIGHTS + n + 4 + 3 * k]
        events.append(
            {
                "rule": kk.RULE_NAMES[int(rule)],
                "asset": sim.tickers[int(asset)] if 0 <= asset < n else "portfolio",
                "weight_removed": float(removed),
            }
        )
    floats = {
        key: float(row[col])
        for key, col in (
            ("reward", ks.IN_REWARD),
            ("portfolio_value", ks.IN_VALUE),
            ("cash", ks.IN_CASH),
            ("cost", ks.IN_COST),
            ("turnover", ks.IN_TURNOVER),
            ("drawdown", ks.IN_DRAWDOWN),
            ("buy_fill_fraction", ks.IN_BUY_FILL_FRACTION),
            ("volatility", ks.IN_VOLATILITY),
            ("var", ks.IN_VAR),
            ("cvar", ks.IN_CVAR),
            ("step_return", ks.IN_STEP_RETURN),
        )
    }
    ints = {
        key: int(row[col])
        for key, col in (
            ("nan_actions", ks.IN_NAN_ACTIONS),
            ("clipped_actions", ks.IN_CLIPPED_ACTIONS),
            ("breaker_cooldown", ks.IN_COOLDOWN),
            ("risk_event_count", ks.IN_N_EVENTS),
            ("regime", ks.IN_REGIME),
        )
    }
    return {
        **floats,
        **ints,
        "weights": row[ks.IN_WEIGHTS : ks.IN_WEIGHTS + n + 1],
        "reward_terms": {name: float(row[ks.IN_TERMS + j]) for j, name in enumerate(kr.TERM_NAMES)},
        "risk_events": events,
    }


def _assert_same(a, b, where: str) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
    else:
        assert type(a) is type(b) and (a == b or (math.isnan(a) and math.isnan(b))), (where, a, b)


def test_full_info_keeps_every_previous_key_and_equals_an_independent_decoding():
    env = arena_v0.parallel_env(**SHORT, info_level="full")
    rng = np.random.default_rng(0)
    env.reset(seed=5)
    events = 0
    while env.agents:
        _, _, _, _, infos = env.step(_actions(rng, env.agents, SHORT["n_assets"] + 1))
        for i, name in enumerate(env.possible_agents):
            if name not in infos:
                continue
            info = {k: v for k, v in infos[name].items() if k not in EPISODE_KEYS}
            assert tuple(info) == FULL_KEYS
            assert set(PREVIOUS_FULL_KEYS) | {"step_return", "risk_event_count", "regime"} == set(info)
            reference = _reference_full_info(env.sim, i)
            assert info.keys() == reference.keys()
            for key, value in info.items():
                _assert_same(value, reference[key], f"{name}.{key}")
            events += len(info["risk_events"])
    assert events > 0  # the event decoding was exercised


@pytest.mark.parametrize("kwargs", [{}, {"impact": 0.5}, {"reward_mode": "log_return"}])
def test_lean_info_values_equal_the_full_infos_parallel_and_aec(kwargs):
    _, lean = _run_parallel("lean", **kwargs)
    _, full = _run_parallel("full", **kwargs)
    assert len(lean) == len(full) == SHORT["episode_length"] + 1
    for t, (a, b) in enumerate(zip(lean, full)):
        for x, y in zip(a[:-1], b[:-1]):  # observations, rewards, flags: identical whatever the level
            _assert_same(x, y, f"step {t}")
        for name, info in a[-1].items():
            assert set(info) - set(EPISODE_KEYS) == set(LEAN_KEYS), (t, name)
            for key, value in info.items():
                _assert_same(value, b[-1][name][key], f"step {t} {name} {key}")
    # the AEC form hands out the same lean dicts
    aec = parallel_to_aec(arena_v0.parallel_env(**SHORT))
    aec.reset(seed=1)
    for agent in aec.agent_iter(max_iter=10):
        *_, info = aec.last()
        assert set(info) - set(EPISODE_KEYS) <= set(LEAN_KEYS)
        aec.step(
            None if aec.terminations[agent] or aec.truncations[agent] else aec.action_space(agent).sample()
        )


def test_lean_info_of_the_gymnasium_and_vector_envs_equals_the_full_info():
    rng = np.random.default_rng(1)
    actions = rng.uniform(-1, 1, (30, 3, 5)).astype(np.float32)
    for make in (
        lambda level: PortfolioVectorEnv(num_envs=3, info_level=level, **SHORT),
        lambda level: ArenaVecEnv(num_envs=3, info_level=level, agents=("balanced_0",), **SHORT),
    ):
        lean, full = make("lean"), make("full")
        a, b = lean.reset(seed=2)[1], full.reset(seed=2)[1]
        for t in range(31):
            assert {k for k in a if not k.startswith("_")} - {"episode"} == set(LEAN_KEYS)
            for key, value in a.items():
                _assert_same(value, b[key], f"step {t} {key}")
            if t < 30:
                act = actions[t] if isinstance(lean, PortfolioVectorEnv) else actions[t][:, None, :]
                a, b = lean.step(act)[4], full.step(act)[4]
    single_lean = gymnasium.make("WealthArena/Portfolio-v0", **SHORT)
    single_full = gymnasium.make("WealthArena/Portfolio-v0", info_level="full", **SHORT)
    _, a = single_lean.reset(seed=4)
    _, b = single_full.reset(seed=4)
    for t in range(SHORT["episode_length"]):
        assert set(a) - set(EPISODE_KEYS) == set(LEAN_KEYS)
        assert all(_assert_same(v, b[k], f"{t} {k}") is None for k, v in a.items())
        a = single_lean.step(actions[t, 0])[4]
        b = single_full.step(actions[t, 0])[4]
    assert "episode" in a and a["episode"] == b["episode"]


def test_step_return_is_the_net_simple_return_of_the_portfolio_value():
    _, steps = _run_parallel("full")
    values = {a: [steps[0][1][a]["portfolio_value"]] for a in steps[0][1]}
    for _, rewards, _, _, infos in steps[1:]:
        for a, info in infos.items():
            assert info["step_return"] == pytest.approx(
                info["portfolio_value"] / values[a][-1] - 1.0, rel=1e-12, abs=1e-15
            )
            assert math.log1p(info["step_return"]) == pytest.approx(info["reward_terms"]["profit"], abs=1e-12)
            values[a].append(info["portfolio_value"])


def test_a_lean_env_keeps_no_risk_event_table_but_counts_the_same_events():
    """A lean env's Simulation holds narrower info rows (no table of risk events); its full info is the full
    env's but for ``risk_events``, its lean info, per-step event counts and per-rule totals are the full env's
    (the same random actions: many risk events)."""
    from wealtharena_env.kernels import step as ks

    lean_env, lean_steps = _run_parallel("lean")
    full_env, full_steps = _run_parallel("full")
    n = lean_env.sim.n_assets
    assert lean_env.sim.info_size == ks.IN_WEIGHTS + n + 1 < full_env.sim.info_size
    assert full_env.sim.info_size == ks.info_width(n)
    assert sum(info["risk_event_count"] for step in full_steps[1:] for info in step[-1].values()) > 0
    for lean_step, full_step in zip(lean_steps[1:], full_steps[1:]):
        for name, info in lean_step[-1].items():
            assert info["risk_event_count"] == len(full_step[-1][name]["risk_events"])
    for i, name in enumerate(lean_env.possible_agents):
        _assert_same(
            lean_env.sim.info(i, level="lean"),
            {k: v for k, v in lean_steps[-1][-1][name].items() if k not in EPISODE_KEYS},
            name,
        )
        _assert_same(lean_env.sim.episode_summary(i), full_env.sim.episode_summary(i), name)
        full_info = {k: v for k, v in full_steps[-1][-1][name].items() if k not in EPISODE_KEYS}
        _assert_same(full_env.sim.info(i), full_info, name)
        del full_info["risk_events"]
        _assert_same(lean_env.sim.info(i), full_info, name)


def test_an_unknown_info_level_is_a_config_error():
    for make in (
        lambda: arena_v0.parallel_env(info_level="verbose"),
        lambda: PortfolioEnv(info_level="all"),
        lambda: PortfolioVectorEnv(num_envs=2, info_level=None),
        lambda: ArenaVecEnv(num_envs=2, info_level="FULL"),
    ):
        with pytest.raises(ConfigError, match="info_level"):
            make()


@pytest.mark.parametrize("clone", ["deepcopy", "pickle"])
def test_a_copy_mid_episode_steps_like_the_original(clone):
    """Adapters hold no views of the simulation's buffers: a copy writes its actions into its own buffer."""
    env = arena_v0.parallel_env(**SHORT, info_level="full")
    rng = np.random.default_rng(9)
    env.reset(seed=7)
    for _ in range(3):
        env.step(_actions(rng, env.agents, SHORT["n_assets"] + 1))
    twin = copy.deepcopy(env) if clone == "deepcopy" else pickle.loads(pickle.dumps(env))
    for _ in range(4):
        actions = _actions(rng, env.agents, SHORT["n_assets"] + 1)
        a, b = env.step(actions), twin.step(actions)
        for x, y in zip(a, b):
            _assert_same(x, y, clone)
    single = PortfolioEnv(**SHORT)
    single.reset(seed=1)
    single.step(np.zeros(5, dtype=np.float32))
    twin_single = copy.deepcopy(single) if clone == "deepcopy" else pickle.loads(pickle.dumps(single))
    act = np.array([1, -1, 0.5, 0, -0.5], dtype=np.float32)
    for x, y in zip(single.step(act), twin_single.step(act)):
        _assert_same(x, y, clone)


#: Modules above the Simulation: adapters, rendering, CLI, leaderboard, analytics, live trading.
ADAPTER_MODULES = sorted(
    [
        *PACKAGE.glob("envs/*.py"),
        PACKAGE / "render.py",
        PACKAGE / "cli.py",
        *PACKAGE.glob("leaderboard/*.py"),
        *PACKAGE.glob("analytics/*.py"),
        *PACKAGE.glob("live/*.py"),
        PACKAGE / "arena_v0.py",
        PACKAGE / "impact_arena_v0.py",
        PACKAGE / "registration.py",
    ]
)
KERNEL_COLUMN = re.compile(r"\b(?:IN|AG|AP|P|CLK|POS|SCR|RL|BAR)_[A-Z][A-Z_]*\b")


@pytest.mark.parametrize("path", ADAPTER_MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_above_the_simulation_reads_kernel_columns(path):
    source = path.read_text()
    assert not re.search(r"kernels(?:\.| import )(?:step|market)\b", source), (
        f"{path.name} imports kernels.step"
    )
    assert not KERNEL_COLUMN.findall(source), (
        f"{path.name} uses kernel columns {set(KERNEL_COLUMN.findall(source))}"
    )


def test_the_package_generates_no_code_and_uses_no_private_numba_api():
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text()
        assert not re.search(r"\bexec\(|\beval\(", source), path
        assert ".entry_point" not in source and ".overloads[" not in source, path
