"""The batched vector envs: Gymnasium vector conventions, NEXT_STEP autoreset, batch invariance, SuperSuit."""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space
from hypothesis import given, settings
from hypothesis import strategies as st

import wealtharena_env  # noqa: F401  (registers the IDs)
from wealtharena_env import ArenaEnv, ConfigError, PortfolioEnv, arena_v0
from wealtharena_env.envs import ArenaVecEnv, PortfolioVectorEnv

INFO_FLOAT_KEYS = ("reward", "portfolio_value", "cash", "cost", "turnover", "drawdown", "buy_fill_fraction")
INFO_INT_KEYS = ("nan_actions", "clipped_actions")


def _random_actions(rng: np.random.Generator, shape: tuple[int, ...], bad: bool = False) -> np.ndarray:
    actions = rng.uniform(-1.5, 1.5, shape).astype(np.float32)
    if bad:  # NaN / inf / huge entries are sanitised by the kernels: they must stay batch-invariant too
        flat = actions.reshape(-1)
        idx = rng.integers(0, flat.size, max(1, flat.size // 4))
        flat[idx] = rng.choice(np.array([np.nan, np.inf, -np.inf, 1e30], dtype=np.float32), idx.size)
    return actions


def _assert_infos_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key, value in a.items():
        if isinstance(value, dict):
            _assert_infos_equal(value, b[key])
        elif value.dtype == object:
            assert b[key].dtype == object and value.tolist() == b[key].tolist(), key
        else:
            assert value.dtype == b[key].dtype, key
            np.testing.assert_array_equal(value, b[key], err_msg=key)


def _decode_events(infos: dict, index, tickers) -> list[dict]:
    """The single env's ``risk_events`` list from the vector env's numeric event table."""
    from wealtharena_env.kernels.risk import RULE_NAMES

    count = int(infos["risk_event_count"][index])
    table = infos["risk_event_table"][index][:count]
    return [
        {"rule": RULE_NAMES[int(r)], "asset": tickers[int(a)] if a >= 0 else "portfolio", "weight_removed": w}
        for r, a, w in table.tolist()
    ]


# ---------------------------------------------------------------------------------------------- conventions
def test_check_env_single_portfolio_env():
    from gymnasium.utils.env_checker import check_env

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check_env(PortfolioEnv(n_assets=2, episode_length=8), skip_render_check=True)


def test_make_vec_uses_vector_entry_point():
    envs = gymnasium.make_vec("WealthArena/Portfolio-v0", num_envs=3, n_assets=2, episode_length=5)
    assert isinstance(envs, PortfolioVectorEnv)
    assert envs.num_envs == 3
    assert envs.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    assert envs.spec is not None and envs.spec.id == "WealthArena/Portfolio-v0"
    assert envs.sim.n_assets == 2 and envs.config.episode_length == 5
    sync = gymnasium.make_vec("WealthArena/Portfolio-v0", num_envs=2, vectorization_mode="sync", n_assets=2)
    assert isinstance(sync, gymnasium.vector.SyncVectorEnv)


def test_spaces_dtypes_and_fresh_arrays():
    k = 4
    envs = PortfolioVectorEnv(num_envs=k, n_assets=3, episode_length=5)
    single = PortfolioEnv(n_assets=3, episode_length=5)
    assert envs.single_observation_space == single.observation_space
    assert envs.single_action_space == single.action_space
    assert envs.observation_space == batch_space(envs.single_observation_space, k)
    assert envs.action_space == batch_space(envs.single_action_space, k)
    obs, _ = envs.reset(seed=1)
    assert obs.shape == (k, envs.single_observation_space.shape[0]) and obs.dtype == np.float32
    assert obs in envs.observation_space
    envs.action_space.seed(0)
    obs2, rewards, terminations, truncations, _ = envs.step(envs.action_space.sample())
    assert obs2 in envs.observation_space and obs2.dtype == np.float32
    assert rewards.shape == (k,) and rewards.dtype == np.float64
    assert terminations.shape == truncations.shape == (k,)
    assert terminations.dtype == truncations.dtype == np.bool_
    assert not np.shares_memory(obs, obs2)
    before = obs2.copy()
    envs.step(envs.action_space.sample())
    np.testing.assert_array_equal(obs2, before)  # returned arrays are not reused by the next step


def test_batched_spaces_are_built_on_first_use():
    """The (K, [A,] ...) spaces hold bounds at batch shape (144 MB at 4096 x 5 x 30): built when first read,
    equal to gymnasium's batch_space, kept, replaceable, and carried by copies."""
    import copy
    import pickle

    envs = ArenaVecEnv(num_envs=3, n_assets=4, episode_length=5)
    assert "_observation_space" not in vars(envs) and "_action_space" not in vars(envs)
    envs.reset(seed=0)
    envs.step(np.zeros((3, envs.num_agents, 5), dtype=np.float32))
    assert "_observation_space" not in vars(envs)  # stepping never needs them
    expected = batch_space(batch_space(envs.single_observation_space, envs.num_agents), 3)
    assert envs.observation_space == expected and envs.observation_space is envs.observation_space
    assert envs.action_space == batch_space(batch_space(envs.single_action_space, envs.num_agents), 3)
    for clone in (copy.deepcopy(envs), pickle.loads(pickle.dumps(envs))):
        assert clone.observation_space == expected
    envs.observation_space = envs.single_observation_space  # a wrapper may replace it
    assert envs.observation_space is envs.single_observation_space


def test_info_masks_and_keys():
    k, n = 3, 2
    envs = PortfolioVectorEnv(num_envs=k, n_assets=n, episode_length=5, info_level="full")
    for _, infos in (envs.reset(seed=0), envs.step(np.zeros((k, n + 1)))[3:]):
        for key in INFO_FLOAT_KEYS + INFO_INT_KEYS + ("weights", "reward_terms"):
            assert key in infos and f"_{key}" in infos
            assert infos[f"_{key}"].dtype == np.bool_ and infos[f"_{key}"].all()
        for key in INFO_FLOAT_KEYS:
            assert infos[key].shape == (k,) and infos[key].dtype == np.float64
        for key in INFO_INT_KEYS:
            assert infos[key].dtype == np.int64
        assert infos["weights"].shape == (k, n + 1)
        np.testing.assert_allclose(infos["weights"].sum(axis=1), 1.0)
    nan_step = envs.step(np.full((k, n + 1), np.nan))[4]
    np.testing.assert_array_equal(nan_step["nan_actions"], n + 1)


def test_next_step_autoreset_semantics():
    k, n, length = 3, 2, 3
    envs = PortfolioVectorEnv(num_envs=k, n_assets=n, episode_length=length, info_level="full")
    twin = PortfolioVectorEnv(num_envs=k, n_assets=n, episode_length=length, info_level="full")
    envs.reset(seed=7)
    twin.reset(seed=7)
    rng = np.random.default_rng(0)
    for t in range(length):
        actions = _random_actions(rng, (k, n + 1))
        out = envs.step(actions)
        twin.step(actions)
        assert out[3].all() == (t == length - 1)
        assert not out[2].any()
    # The autoreset step ignores the actions (any garbage gives the same result) and reports a fresh episode.
    obs, rewards, terminations, truncations, infos = envs.step(np.full((k, n + 1), np.nan))
    obs_twin, *_ = twin.step(np.ones((k, n + 1)))
    np.testing.assert_array_equal(obs, obs_twin)
    np.testing.assert_array_equal(rewards, 0.0)
    assert not terminations.any() and not truncations.any()
    np.testing.assert_array_equal(infos["portfolio_value"], 1_000_000.0)
    np.testing.assert_array_equal(infos["nan_actions"], 0)
    np.testing.assert_array_equal(envs.sim.steps, 0)
    # ... and it is the observation a single env gives on its second (unseeded) reset.
    for i in range(k):
        single = PortfolioEnv(n_assets=n, episode_length=length)
        single.reset(seed=7 + i)
        for _ in range(length):
            single.step(np.zeros(n + 1, dtype=np.float32))
        np.testing.assert_array_equal(single.reset()[0], obs[i])
    # the next step is an ordinary step again
    _, rewards, *_ = envs.step(_random_actions(rng, (k, n + 1)))
    np.testing.assert_array_equal(envs.sim.steps, 1)


@pytest.mark.parametrize("info_level", ["lean", "full"])
@pytest.mark.parametrize("risk_profile", ["balanced", "conservative"])
def test_matches_gymnasium_sync_vector_env_exactly(risk_profile, info_level):
    """Gymnasium's own SyncVectorEnv over single envs is the reference: obs, rewards, flags and infos
    (risk events and end-of-episode summaries included)."""
    k, n = 3, 3
    kwargs = {"n_assets": n, "episode_length": 4, "risk_profile": risk_profile, "info_level": info_level}
    ours = gymnasium.make_vec("WealthArena/Portfolio-v0", num_envs=k, decode_risk_events=True, **kwargs)
    ref = gymnasium.make_vec("WealthArena/Portfolio-v0", num_envs=k, vectorization_mode="sync", **kwargs)
    obs_a, info_a = ours.reset(seed=11)
    obs_b, info_b = ref.reset(seed=11)
    np.testing.assert_array_equal(obs_a, obs_b)
    _assert_infos_equal(info_a, info_b)
    rng = np.random.default_rng(3)
    events = episodes = 0
    for _ in range(11):  # crosses two autoresets
        actions = _random_actions(rng, (k, n + 1), bad=True)
        a, b = ours.step(actions), ref.step(actions)
        for x, y in zip(a[:4], b[:4]):
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)
        _assert_infos_equal(a[4], b[4])
        events += int(a[4]["risk_event_count"].sum())
        if info_level == "full":
            assert sum(len(e) for e in a[4]["risk_events"]) == int(a[4]["risk_event_count"].sum())
        episodes += int("episode" in a[4])
    assert events > 0 and episodes == 2  # the decoded paths were exercised


def test_seeding():
    k = 3
    a = PortfolioVectorEnv(num_envs=k, n_assets=2)
    b = PortfolioVectorEnv(num_envs=k, n_assets=2)
    np.testing.assert_array_equal(a.reset(seed=5)[0], b.reset(seed=[5, 6, 7])[0])
    np.testing.assert_array_equal(a.reset(seed=5)[0], b.reset(seed=5)[0])
    assert not np.array_equal(a.reset(seed=5)[0], b.reset(seed=6)[0])
    obs = a.reset(seed=[3, None, 3])[0]
    np.testing.assert_array_equal(obs[0], obs[2])
    with pytest.raises(ConfigError, match="seeds"):
        a.reset(seed=[1, 2])


def test_reset_mask_option():
    k, n = 3, 2
    envs = PortfolioVectorEnv(num_envs=k, n_assets=n, episode_length=6)
    envs.reset(seed=0)
    for _ in range(2):
        obs_before, *_ = envs.step(np.ones((k, n + 1)))
    mask = np.array([False, True, False])
    obs, infos = envs.reset(seed=[None, 42, None], options={"reset_mask": mask})
    np.testing.assert_array_equal(obs[~mask], obs_before[~mask])
    np.testing.assert_array_equal(obs[1], PortfolioEnv(n_assets=n, episode_length=6).reset(seed=42)[0])
    np.testing.assert_array_equal(infos["_portfolio_value"], mask)
    np.testing.assert_array_equal(envs.sim.steps, [2, 0, 2])


def test_errors():
    with pytest.raises(ConfigError, match="num_envs"):
        PortfolioVectorEnv(num_envs=0)
    envs = PortfolioVectorEnv(num_envs=2, n_assets=2)
    with pytest.raises(ConfigError, match="reset"):
        envs.step(np.zeros((2, 3)))
    envs.reset(seed=0)
    with pytest.raises(ConfigError, match="shape"):
        envs.step(np.zeros((3, 3)))
    with pytest.raises(ConfigError, match="render_mode"):
        PortfolioVectorEnv(num_envs=2, render_mode="rgb_array")
    with pytest.raises(ConfigError, match="one agent"):
        PortfolioVectorEnv(num_envs=2, agents=["balanced_0", "aggressive_0"])


def test_discrete_actions_and_render():
    k, n = 2, 3
    envs = PortfolioVectorEnv(
        num_envs=k, n_assets=n, episode_length=5, action_type="discrete", render_mode="ansi"
    )
    single = PortfolioEnv(n_assets=n, episode_length=5, action_type="discrete")
    assert envs.single_action_space == single.action_space
    assert envs.action_space == batch_space(single.action_space, k) and envs.action_space.shape == (k, n)
    envs.reset(seed=2)
    single.reset(seed=3)
    envs.action_space.seed(1)
    actions = envs.action_space.sample()
    obs, rewards, *_ = envs.step(actions)
    obs1, reward1, *_ = single.step(actions[1])
    np.testing.assert_array_equal(obs[1], obs1)
    assert rewards[1] == reward1
    texts = envs.render()
    assert isinstance(texts, tuple) and len(texts) == k and "step 1/5" in texts[0]


# ----------------------------------------------------------------------------------------- batch invariance
def _run_single_portfolio(seed: int, actions: np.ndarray, **kwargs):
    """A single env fed ``actions`` (T, n_action); reset without a seed after each episode, as a vector
    does."""
    env = PortfolioEnv(**kwargs)
    obs, info = env.reset(seed=seed)
    out = []
    done = False
    for action in actions:
        if done:
            obs, info = env.reset()
            out.append((obs, 0.0, False, False, info))
            done = False
        else:
            obs, reward, terminated, truncated, info = env.step(action)
            out.append((obs, reward, terminated, truncated, info))
            done = terminated or truncated
    return out


@settings(deadline=None, max_examples=25)
@given(
    k=st.integers(1, 4),
    n_assets=st.integers(1, 3),
    length=st.integers(5, 10),
    seed=st.integers(0, 2**31 - 1),
    bad=st.booleans(),
    parallel=st.booleans(),
    data=st.data(),
)
def test_portfolio_vector_batch_invariance_across_autoresets(k, n_assets, length, seed, bad, parallel, data):
    n_steps = data.draw(st.integers(length + 2, 2 * length + 3), label="n_steps")  # at least one autoreset
    envs = PortfolioVectorEnv(
        num_envs=k, n_assets=n_assets, episode_length=length, parallel=parallel, info_level="full"
    )
    rng = np.random.default_rng(seed)
    actions = _random_actions(rng, (n_steps, k, n_assets + 1), bad=bad)
    obs0, _ = envs.reset(seed=seed)
    results = [envs.step(actions[t]) for t in range(n_steps)]
    for i in range(k):
        single = PortfolioEnv(n_assets=n_assets, episode_length=length)
        np.testing.assert_array_equal(single.reset(seed=seed + i)[0], obs0[i])
        expected = _run_single_portfolio(
            seed + i, actions[:, i], n_assets=n_assets, episode_length=length, info_level="full"
        )
        for t, (obs, reward, terminated, truncated, info) in enumerate(expected):
            v_obs, v_rew, v_term, v_trunc, v_info = results[t]
            np.testing.assert_array_equal(v_obs[i], obs, err_msg=f"env {i} step {t}")
            assert v_rew[i] == reward and v_term[i] == terminated and v_trunc[i] == truncated
            assert v_info["portfolio_value"][i] == info["portfolio_value"]
            assert v_info["cost"][i] == info["cost"]
            assert v_info["nan_actions"][i] == info["nan_actions"]
            np.testing.assert_array_equal(v_info["weights"][i], info["weights"])
            assert v_info["reward_terms"]["profit"][i] == info["reward_terms"]["profit"]
            assert _decode_events(v_info, i, envs.sim.tickers) == info["risk_events"]
            assert ("episode" in info) == bool("episode" in v_info and v_info["_episode"][i])


@settings(deadline=None, max_examples=15)
@given(
    k=st.integers(1, 3),
    n_assets=st.integers(1, 4),
    n_agents=st.integers(1, 3),
    length=st.integers(5, 8),
    seed=st.integers(0, 2**31 - 1),
    parallel=st.booleans(),
)
def test_arena_vec_env_equals_arena_env_across_autoresets(k, n_assets, n_agents, length, seed, parallel):
    agents = [f"balanced_{j}" for j in range(n_agents)]
    envs = ArenaVecEnv(
        num_envs=k,
        n_assets=n_assets,
        agents=agents,
        episode_length=length,
        parallel=parallel,
        info_level="full",
    )
    assert envs.possible_agents == agents and envs.agents == agents
    n_steps = 2 * length + 3  # two autoresets
    rng = np.random.default_rng(seed)
    actions = _random_actions(rng, (n_steps, k, n_agents, n_assets + 1), bad=True)
    obs0, _ = envs.reset(seed=seed)
    assert obs0.shape == (k, n_agents, envs.single_observation_space.shape[0]) and obs0.dtype == np.float32
    results = [envs.step(actions[t]) for t in range(n_steps)]
    tickers = envs.sim.tickers
    for i in range(k):
        single = ArenaEnv(n_assets=n_assets, agents=agents, episode_length=length, info_level="full")
        obs, _ = single.reset(seed=seed + i)
        for j, name in enumerate(agents):
            np.testing.assert_array_equal(obs0[i, j], obs[name])
        for t in range(n_steps):
            v_obs, v_rew, v_term, v_trunc, v_info = results[t]
            if not single.agents:
                obs, infos = single.reset()
                rewards = dict.fromkeys(agents, 0.0)
                terms = truncs = dict.fromkeys(agents, False)
            else:
                obs, rewards, terms, truncs, infos = single.step(
                    {a: actions[t, i, j] for j, a in enumerate(agents)}
                )
            for j, name in enumerate(agents):
                np.testing.assert_array_equal(
                    v_obs[i, j], obs[name], err_msg=f"env {i} step {t} agent {name}"
                )
                assert v_rew[i, j] == rewards[name]
                assert v_term[i, j] == terms[name] and v_trunc[i, j] == truncs[name]
                assert v_info["portfolio_value"][i, j] == infos[name]["portfolio_value"]
                np.testing.assert_array_equal(v_info["weights"][i, j], infos[name]["weights"])
                assert _decode_events(v_info, (i, j), tickers) == infos[name]["risk_events"]
                if "episode" in infos[name]:
                    assert v_info["_episode"][i]
                    assert v_info["episode"]["costs"][i, j] == infos[name]["episode"]["costs"]
                    assert v_info["episode"]["turnover"][i, j] == infos[name]["episode"]["turnover"]
                else:
                    assert "episode" not in v_info or not v_info["_episode"][i]


def test_arena_vec_env_shapes_and_errors():
    k, n = 2, 3
    envs = ArenaVecEnv(num_envs=k, n_assets=n, episode_length=5, info_level="full")
    a = envs.num_agents
    d = envs.single_observation_space.shape[0]
    assert envs.observation_space.shape == (k, a, d)
    assert envs.action_space.shape == (k, a, n + 1)
    with pytest.raises(ConfigError, match="reset"):
        envs.step(np.zeros((k, a, n + 1)))
    obs, infos = envs.reset(seed=0)
    assert obs in envs.observation_space
    assert infos["portfolio_value"].shape == (k, a) and infos["_portfolio_value"].shape == (k,)
    envs.action_space.seed(0)
    obs, rewards, terms, truncs, infos = envs.step(envs.action_space.sample())
    assert rewards.shape == terms.shape == truncs.shape == (k, a) and rewards.dtype == np.float64
    assert terms.dtype == np.bool_ and infos["weights"].shape == (k, a, n + 1)
    with pytest.raises(ConfigError, match="shape"):
        envs.step(np.zeros((k, n + 1)))


# ---------------------------------------------------------------------------------------------- SuperSuit
def test_supersuit_concat_vec_envs_path():
    supersuit = pytest.importorskip("supersuit")
    length = 5
    env = arena_v0.parallel_env(n_assets=3, episode_length=length)
    n_agents = len(env.possible_agents)
    vec = supersuit.pettingzoo_env_to_vec_env_v1(env)
    vec = supersuit.concat_vec_envs_v1(vec, num_vec_envs=2, num_cpus=0, base_class="gymnasium")
    assert vec.num_envs == 2 * n_agents
    obs, _ = vec.reset(seed=0)
    assert obs.shape == (2 * n_agents, env.observation_space(env.possible_agents[0]).shape[0])
    vec.action_space.seed(0)
    seen_truncation = 0
    for t in range(2 * length + 2):  # a full episode, the reset, and most of a second episode
        actions = np.stack([vec.action_space.sample() for _ in range(vec.num_envs)])
        obs, rewards, terminations, truncations, infos = vec.step(actions)
        assert obs.shape[0] == rewards.shape[0] == 2 * n_agents and np.isfinite(rewards).all()
        assert not np.any(terminations)
        if np.any(truncations):
            assert np.all(truncations) and t % length == length - 1
            seen_truncation += 1
            assert all(info["TimeLimit.truncated"] and "terminal_observation" in info for info in infos)
    assert seen_truncation == 2
    vec.close()
