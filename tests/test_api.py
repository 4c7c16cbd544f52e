"""API conformance: pettingzoo.test over every registered PettingZoo ID, gymnasium's check_env."""

from __future__ import annotations

import gymnasium
import numpy as np
import pettingzoo
import pytest
from gymnasium.utils.env_checker import check_env

import wealtharena_env
from wealtharena_env import arena_v0, impact_arena_v0
from wealtharena_env.errors import ConfigError
from wealtharena_env.registration import GYMNASIUM_ENVS, PETTINGZOO_ENVS

MODULES = {"WealthArena/Arena-v0": arena_v0, "WealthArena/ImpactArena-v0": impact_arena_v0}
SHORT = {"episode_length": 25, "n_assets": 4}


@pytest.mark.parametrize("env_id", sorted(PETTINGZOO_ENVS))
def test_registry_make_after_import(env_id):
    par = pettingzoo.make("parallel", env_id, **SHORT)
    aec = pettingzoo.make("aec", env_id, **SHORT)
    obs, infos = par.reset(seed=0)
    assert set(obs) == set(par.possible_agents) == set(infos)
    aec.reset(seed=0)
    assert aec.agent_selection == par.possible_agents[0]


def test_gymnasium_make_after_import():
    env = gymnasium.make("WealthArena/Portfolio-v0", **SHORT)
    obs, _info = env.reset(seed=0)
    assert obs.shape == env.observation_space.shape and obs.dtype == np.float32


@pytest.mark.parametrize("env_id", sorted(PETTINGZOO_ENVS))
def test_parallel_api(env_id, pz_test):
    pz_test.parallel_api_test(MODULES[env_id].parallel_env(**SHORT), num_cycles=60)


@pytest.mark.parametrize("env_id", sorted(PETTINGZOO_ENVS))
def test_aec_api(env_id, pz_test):
    pz_test.api_test(MODULES[env_id].env(**SHORT), num_cycles=60)


@pytest.mark.parametrize("env_id", sorted(PETTINGZOO_ENVS))
def test_seed_on_aec_conversion(env_id, pz_test):
    # parallel_seed_test in pettingzoo 1.27 checks one step only: run seed_test on the AEC form too.
    pz_test.seed_test(lambda: MODULES[env_id].env(**SHORT), num_cycles=40)
    pz_test.parallel_seed_test(lambda: MODULES[env_id].parallel_env(**SHORT))


@pytest.mark.parametrize("env_id", sorted(PETTINGZOO_ENVS))
def test_max_cycles(env_id, pz_test):
    pz_test.max_cycles_test(MODULES[env_id])


@pytest.mark.parametrize("env_id", sorted(PETTINGZOO_ENVS))
def test_render(env_id, pz_test, capsys):
    pz_test.render_test(lambda render_mode=None: MODULES[env_id].env(render_mode=render_mode, **SHORT))
    assert "WealthArena" in capsys.readouterr().out  # "human" prints the table


@pytest.mark.parametrize("action_type", ["continuous", "discrete"])
def test_check_env_portfolio(action_type):
    env = gymnasium.make("WealthArena/Portfolio-v0", action_type=action_type, **SHORT)
    check_env(env.unwrapped)


def test_returned_arrays_are_fresh():
    """Scribbling on returned observations / infos must not change the env (Gymnasium 1.4 semantics)."""
    envs = [arena_v0.parallel_env(**SHORT, info_level="full") for _ in range(2)]
    outs = [env.reset(seed=1) for env in envs]
    for a in outs[0][0]:
        outs[0][0][a][:] = 123.0
        outs[0][1][a]["weights"][:] = -1.0
    rng = np.random.default_rng(0)
    actions = {a: rng.uniform(-1, 1, 5).astype(np.float32) for a in envs[0].possible_agents}
    steps = [env.step(actions) for env in envs]
    for a in actions:
        np.testing.assert_array_equal(steps[0][0][a], steps[1][0][a])
        assert steps[0][1][a] == steps[1][1][a]
        assert not np.shares_memory(steps[0][0][a], outs[0][0][a])
    single = gymnasium.make("WealthArena/Portfolio-v0", **SHORT).unwrapped
    o1, _ = single.reset(seed=3)
    o2, *_ = single.step(single.action_space.sample())
    assert not np.shares_memory(o1, o2)


def test_types_and_spaces_are_stable():
    env = arena_v0.parallel_env(**SHORT)
    obs, _ = env.reset(seed=0)
    for a in env.possible_agents:
        assert env.observation_space(a) is env.observation_space(a)
        assert env.action_space(a) is env.action_space(a)
        assert obs[a].dtype == env.observation_space(a).dtype
    obs, rewards, terms, truncs, _infos = env.step({a: env.action_space(a).sample() for a in env.agents})
    for a in env.possible_agents:
        assert type(rewards[a]) is float
        assert type(terms[a]) is bool and type(truncs[a]) is bool
        assert env.observation_space(a).contains(obs[a])


def test_truncation_marks_timelimit_and_removes_agents():
    env = arena_v0.parallel_env(**SHORT)
    env.reset(seed=0)
    for _ in range(SHORT["episode_length"]):
        _obs, _rewards, terms, truncs, infos = env.step({a: env.action_space(a).sample() for a in env.agents})
    assert all(truncs.values()) and not any(terms.values())
    assert all(info["TimeLimit.truncated"] is True for info in infos.values())
    assert env.agents == []
    with pytest.raises(ConfigError, match="reset"):
        env.step({})


def test_bad_action_shape_is_a_clear_error():
    env = arena_v0.parallel_env(**SHORT)
    env.reset(seed=0)
    with pytest.raises(ConfigError, match="shape"):
        env.step({"balanced_0": np.zeros(2)})
    with pytest.raises(ConfigError, match="unknown agent"):
        env.step({"nobody": np.zeros(5)})


def test_agents_missing_from_actions_hold():
    env = arena_v0.parallel_env(
        **SHORT,
        action_mapping="simplex",
        rebalance_rate=1.0,
        rebalance_band=0.0,
        info_level="full",
        allow_missing_actions=True,
    )
    env.reset(seed=0)
    act = np.array([1, 1, 1, 1, 0], dtype=np.float32)
    _, _, _, _, infos = env.step({"balanced_0": act})
    # 25% per asset asked, capped at balanced's 15% per position: 40% stays in cash, plus what the volatility
    # budget (whether it binds depends on the market drawn) takes off
    events = infos["balanced_0"]["risk_events"]
    budget = sum(e["weight_removed"] for e in events if e["rule"] == "volatility_budget")
    assert infos["balanced_0"]["weights"][-1] == pytest.approx(0.4 + budget, abs=0.02)
    assert {e["rule"] for e in events} >= {"position_cap"}
    assert infos["conservative_0"]["weights"][-1] == 1.0 and infos["conservative_0"]["cost"] == 0.0


def test_public_api_exports():
    assert wealtharena_env.__version__
    for name in (
        "ArenaEnv",
        "PortfolioEnv",
        "ArenaConfig",
        "Simulation",
        "ConfigError",
        "WealthArenaDataError",
    ):
        assert hasattr(wealtharena_env, name)
    assert issubclass(wealtharena_env.ConfigError, ValueError)
    assert issubclass(wealtharena_env.WealthArenaDataError, ValueError)
    assert set(GYMNASIUM_ENVS) <= set(gymnasium.registry)


def test_unknown_id_is_a_clear_error():
    with pytest.raises(Exception, match="Arena-v9|not found|version"):
        pettingzoo.make("parallel", "WealthArena/Arena-v9")


def test_silent_coercions_are_errors_or_work():
    """A string agent name that names no profile and max_cycles set on a live env are ConfigErrors; reset
    options the env does not take are named in a warning (the conformance tests pass arbitrary ones);
    max_cycles set between episodes changes the episode length."""
    from wealtharena_env.config import AgentProfile
    from wealtharena_env.envs.vector import ArenaVecEnv

    for name in ("conservativ_1", "agent_x", "agent"):
        with pytest.raises(ConfigError, match=f"agent name '{name}' does not name a risk profile"):
            arena_v0.parallel_env(agents=[name, "balanced_0"])
    env = arena_v0.parallel_env(
        agents=[AgentProfile("agent_x", "conservative"), "balanced_0"], n_assets=2, episode_length=5
    )
    assert env.config.agents[0].risk_profile == "conservative"
    with pytest.warns(UserWarning, match="ignored the options \\['start'\\]"):
        env.reset(seed=0, options={"start": 3})
    with pytest.warns(UserWarning, match="ignored the options \\['x'\\]"):
        gymnasium.make("WealthArena/Portfolio-v0", **SHORT).unwrapped.reset(seed=0, options={"x": 1})
    with pytest.warns(UserWarning, match="takes only \\['reset_mask'\\]"):
        ArenaVecEnv(num_envs=2, n_assets=2).reset(seed=0, options={"mask": np.ones(2, bool)})
    env.reset(seed=0)
    with pytest.raises(ConfigError, match="between episodes"):
        env.max_cycles = 3
    while env.agents:
        env.step({a: env.action_space(a).sample() for a in env.agents})
    env.max_cycles = 3
    env.reset(seed=1)
    steps = 0
    while env.agents:
        env.step({a: env.action_space(a).sample() for a in env.agents})
        steps += 1
    assert steps == 3 and env.max_cycles == 3


def test_bad_actions_raise_action_error_a_config_error():
    from wealtharena_env import ActionError
    from wealtharena_env.envs.vector import PortfolioVectorEnv

    env = arena_v0.parallel_env(**SHORT)
    env.reset(seed=0)
    for bad in ({"balanced_0": np.zeros(2)}, {"nobody": np.zeros(5)}, {"balanced_0": np.array(["a"] * 5)}):
        with pytest.raises(ActionError) as caught:
            env.step(bad)
        assert isinstance(caught.value, ConfigError) and isinstance(caught.value, ValueError)
    vec = PortfolioVectorEnv(num_envs=2, n_assets=2)
    vec.reset(seed=0)
    with pytest.raises(ActionError, match="shape"):
        vec.step(np.zeros((3, 3)))


def test_base_install_without_matplotlib_neither_advertises_nor_half_serves_rgb_array(monkeypatch):
    """Without the plot extra, "rgb_array" is not in metadata["render_modes"] (so check_env / render_test pass
    on a base install), and rendering an image anyway raises Gymnasium's DependencyNotInstalled with the
    hint."""
    import sys

    from gymnasium.error import DependencyNotInstalled

    from wealtharena_env.envs._common import available_render_modes
    from wealtharena_env.render import render_rgb_array

    assert available_render_modes(lambda name: False) == ["human", "ansi"]
    assert available_render_modes(lambda name: True)[-1] == "rgb_array"
    env = arena_v0.parallel_env(**SHORT)
    env.reset(seed=0)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails as on a base install
    with pytest.raises(DependencyNotInstalled, match=r"pip install 'wealtharena-env\[plot\]'"):
        render_rgb_array(env.sim, env.possible_agents)


def test_rendering_once_draws_the_whole_episode_from_the_simulations_value_history():
    """With render_mode="rgb_array" the Simulation records every step's portfolio values, so one render at
    step k draws the episode from its start (it used to draw a straight line from the start to step k); a new
    episode, or an autoreset of one environment of a batch, clears that environment's history."""
    from wealtharena_env.config import arena_config
    from wealtharena_env.sim import Simulation

    env = arena_v0.parallel_env(**SHORT, render_mode="rgb_array")
    _, infos = env.reset(seed=4)
    seen = [[infos[a]["portfolio_value"] for a in env.possible_agents]]
    rng = np.random.default_rng(1)
    for _ in range(7):
        _, _, _, _, infos = env.step({a: rng.uniform(-1, 1, 5).astype(np.float32) for a in env.agents})
        seen.append([infos[a]["portfolio_value"] for a in env.possible_agents])
    history = env.sim.value_history[0]
    np.testing.assert_array_equal(history[:, :8].T, np.array(seen))
    assert np.isnan(history[:, 8:]).all()
    assert env.render().shape == (400, 800, 3)
    env.reset(seed=5)
    assert np.isnan(env.sim.value_history[0, :, 1:]).all()
    assert arena_v0.parallel_env(**SHORT).sim.value_history is None  # training does not pay for it
    sim = Simulation(arena_config(n_assets=2, episode_length=3), batch_size=2, track_values=True)
    sim.reset(seeds=[0, 1])
    for _ in range(3):
        sim.step(np.zeros((2, sim.n_agents, sim.n_action)))
    sim.step(np.zeros((2, sim.n_agents, sim.n_action)), reset_mask=np.array([True, True]))
    assert not np.isnan(sim.value_history[:, :, 0]).any() and np.isnan(sim.value_history[:, :, 1:]).all()


def test_a_live_agent_without_an_action_is_an_error_unless_allowed():
    from wealtharena_env import ActionError

    env = arena_v0.parallel_env(**SHORT)
    env.reset(seed=0)
    with pytest.raises(ActionError, match=r"no action for the live agent\(s\) \['conservative_1'"):
        env.step({a: np.zeros(5, np.float32) for a in env.agents if a != "conservative_1"})
    env.step(
        {a: None if a == "conservative_1" else np.zeros(5, np.float32) for a in env.agents}
    )  # None holds
