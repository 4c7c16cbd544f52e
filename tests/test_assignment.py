"""Dynamic policy assignment in the arena, the league's co-player sampler, and the RLlib mapping example."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest

from wealtharena_env import arena_v0
from wealtharena_env.errors import ConfigError
from wealtharena_env.leaderboard.assignment import PolicyAssignment
from wealtharena_env.leaderboard.baselines import make_baseline
from wealtharena_env.leaderboard.league import CoPlayerSampler, held_out_backgrounds, pfsp_probabilities
from wealtharena_env.leaderboard.observation import ObservationLayout
from wealtharena_env.leaderboard.tasks import (
    IMPACT_EVAL_BACKGROUNDS,
    IMPACT_TRAINING_BACKGROUNDS,
    Background,
    get_task,
)


def arena(**kw):
    return arena_v0.parallel_env(n_assets=4, episode_length=kw.pop("episode_length", 16), **kw)


# ---------------------------------------------------------------------------------------------- assignment
def test_schedule_switches_an_agents_policy_mid_episode():
    env = arena()
    agents = env.possible_agents
    switch_at = 6
    control = PolicyAssignment(
        env,
        {"ew": "equal_weight", "cash": "cash"},
        schedule={0: dict.fromkeys(agents, "ew"), switch_at: {"balanced_0": "cash"}},
    )
    ew, cash = make_baseline("equal_weight", env), make_baseline("cash", env)
    obs, _ = env.reset(seed=3)
    cash_weight = []
    while env.agents:
        actions = control.act(obs)
        t = control.step - 1
        for a in env.agents:
            want = cash if (a == "balanced_0" and t >= switch_at) else ew
            np.testing.assert_array_equal(actions[a], want(obs[a]))
        obs, *_ = env.step(actions)
        if obs:
            weights = env.unwrapped.sim.observation_slices["weights"]
            cash_weight.append(float(obs["balanced_0"][weights][-1]))
    assert [h["balanced_0"] for h in control.history] == ["ew"] * switch_at + ["cash"] * (16 - switch_at)
    assert all(h["aggressive_0"] == "ew" for h in control.history)
    assert cash_weight[-1] > cash_weight[switch_at - 1] + 0.2  # the seat went to cash after the switch
    assert control.mapping_at(0)["balanced_0"] == "ew" and control.mapping_at(99)["balanced_0"] == "cash"
    # a new episode restarts the schedule by itself (the progress feature fell back)
    obs, _ = env.reset(seed=4)
    control.act(obs)
    assert control.step == 1 and control.history == [dict.fromkeys(agents, "ew")]


def test_regime_assignment_follows_the_volatility_regime():
    env = arena(episode_length=60)
    agents = env.possible_agents
    layout = ObservationLayout.from_env(env)
    obs, _ = env.reset(seed=21)
    vols = []
    while env.agents:  # the market does not depend on the actions (no impact): record its volatility
        vols.append(float(layout.feature(layout.batch(obs[agents[0]]), "market_volatility")[0]))
        obs, *_ = env.step({a: None for a in env.agents})
    enter, exit_ = np.quantile(vols, [0.4, 0.6])
    calm = dict.fromkeys(agents, "ew")
    stressed = {**calm, "conservative_0": "cash", "conservative_1": "cash"}
    control = PolicyAssignment(
        env,
        {"ew": "equal_weight", "cash": "cash"},
        by_regime=[calm, stressed],
        regime_options={"enter": enter, "exit": exit_},
    )
    obs, _ = env.reset(seed=21)
    while env.agents:
        obs, *_ = env.step(control.act(obs))
    oracle, state = [], False
    for x in vols:
        state = x >= enter if state else x > exit_
        oracle.append(int(state))
    assert control.regimes == oracle and 0 < sum(oracle) < len(oracle)
    for regime, mapping in zip(control.regimes, control.history):
        assert mapping == (stressed if regime else calm)


def test_assignment_batches_each_policy_and_passes_agent_keys():
    calls = []

    class Recorder:
        stateful = True

        def __call__(self, obs, episode_keys=None):
            calls.append((obs.shape[0], list(episode_keys)))
            return np.zeros((obs.shape[0], 5), dtype=np.float32)

    env = arena()
    agents = env.possible_agents
    control = PolicyAssignment(
        env,
        {"rec": Recorder(), "ew": "equal_weight"},
        schedule={0: {**dict.fromkeys(agents, "rec"), "balanced_0": "ew"}},
    )
    obs, _ = env.reset(seed=0)
    control.act(obs)
    assert calls == [(4, [a for a in agents if a != "balanced_0"])]  # one batch for the four seats


def test_failing_policy_holds_and_is_recorded():
    def broken(obs):
        raise RuntimeError("boom")

    broken.batched = False
    env = arena()
    control = PolicyAssignment(
        env,
        {"ew": "equal_weight", "bad": broken},
        schedule={0: {**dict.fromkeys(env.possible_agents, "ew"), "balanced_0": "bad"}},
    )
    obs, _ = env.reset(seed=0)
    actions = control.act(obs)
    assert actions["balanced_0"] is None and control.errors[0][:2] == (0, "balanced_0")
    env.step(actions)  # None holds: the env accepts it


def test_nan_observations_keep_the_regime_and_give_actions():
    env = arena()
    agents = env.possible_agents
    calm = dict.fromkeys(agents, "ew")
    control = PolicyAssignment(
        env, {"ew": "equal_weight", "vt": "vol_timing"}, by_regime=[calm, dict.fromkeys(agents, "vt")]
    )
    obs, _ = env.reset(seed=1)
    control.act(obs)
    before = list(control.regimes)
    nan_obs = {a: np.full_like(o, np.nan) for a, o in obs.items()}
    actions = control.act(nan_obs)
    assert control.regimes == before * 2  # a NaN signal leaves the regime where it was
    assert set(actions) == set(agents) and all(np.all(np.isfinite(act)) for act in actions.values())
    assert control.step == 2  # NaN progress is not a new episode


def test_assignment_configuration_errors():
    env = arena()
    agents = env.possible_agents
    policies = {"ew": "equal_weight"}
    with pytest.raises(ConfigError, match="exactly one"):
        PolicyAssignment(env, policies)
    with pytest.raises(ConfigError, match="step 0"):
        PolicyAssignment(env, policies, schedule={3: dict.fromkeys(agents, "ew")})
    with pytest.raises(ConfigError, match="without a policy"):
        PolicyAssignment(env, policies, schedule={0: {"balanced_0": "ew"}})
    with pytest.raises(ConfigError, match="unknown policies"):
        PolicyAssignment(env, policies, schedule={0: dict.fromkeys(agents, "rp")})
    with pytest.raises(ConfigError, match="unknown agents"):
        PolicyAssignment(env, policies, schedule={0: {**dict.fromkeys(agents, "ew"), "nobody": "ew"}})
    with pytest.raises(ConfigError, match="2 regime probabilities"):
        PolicyAssignment(env, policies, by_regime=[dict.fromkeys(agents, "ew")] * 3)
    with pytest.raises(ConfigError, match="unknown baseline|cannot interpret"):
        PolicyAssignment(env, {"x": "no_such_policy"}, schedule={0: dict.fromkeys(agents, "x")})


# ---------------------------------------------------------------------------------------------- league
def test_sampler_refuses_the_evaluation_populations():
    task = get_task("Impact-v0")
    for held in IMPACT_EVAL_BACKGROUNDS:
        with pytest.raises(ConfigError, match="held out"):
            CoPlayerSampler([held], task=task, hold_out="populations")
        renamed = Background("mine", held.seats)  # the same co-players under another name
        with pytest.raises(ConfigError, match="evaluation population"):
            CoPlayerSampler([renamed], task=task, hold_out="populations")
    seats = [a for a, _ in IMPACT_TRAINING_BACKGROUNDS[0].seats]
    mixed = ("mixed", {seats[0]: "momentum", seats[1]: "equal_weight", seats[2]: "random"})
    with pytest.raises(ConfigError, match="momentum"):  # a held-out co-player policy in one seat
        CoPlayerSampler([mixed], task=task)
    assert CoPlayerSampler([mixed], task=task, hold_out="populations").names == ["mixed"]
    prefixed = ("prefixed", {seats[0]: "baseline:momentum", seats[1]: "random", seats[2]: "random"})
    with pytest.raises(ConfigError, match="momentum"):
        CoPlayerSampler([prefixed])  # default: every published task's evaluation populations
    sampler = CoPlayerSampler(IMPACT_TRAINING_BACKGROUNDS, task="Impact-v0")
    with pytest.raises(ConfigError, match="held out"):
        sampler.add(IMPACT_EVAL_BACKGROUNDS[0])
    sampler.add(("snapshot_1", dict.fromkeys(seats, "runs/ppo/model.zip")))  # the learner's own snapshot
    assert sampler.names[-1] == "snapshot_1"
    assert {b.name for b in held_out_backgrounds("Impact-v0")} == {b.name for b in IMPACT_EVAL_BACKGROUNDS}


def test_uniform_sampling_draws_like_one_integer_per_episode():
    sampler = CoPlayerSampler(IMPACT_TRAINING_BACKGROUNDS)
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    drawn = [sampler.sample(a).name for _ in range(50)]
    assert drawn == [IMPACT_TRAINING_BACKGROUNDS[int(b.integers(2))].name for _ in range(50)]
    np.testing.assert_allclose(sampler.probabilities(), [0.5, 0.5])


def test_pfsp_prefers_the_populations_the_learner_loses_to():
    seats = [a for a, _ in IMPACT_TRAINING_BACKGROUNDS[0].seats]
    league = [(name, dict.fromkeys(seats, name)) for name in ("equal_weight", "random", "trend_timing")]
    sampler = CoPlayerSampler(league, weighting="pfsp", temperature=0.25)
    np.testing.assert_allclose(sampler.probabilities(), 1 / 3)  # unplayed: coin flips
    for _ in range(9):
        sampler.record("equal_weight", 0.0)  # loses every game
        sampler.record("random", 1.0)  # wins every game
    rates = sampler.win_rates()
    assert rates["equal_weight"] == pytest.approx(0.05) and rates["random"] == pytest.approx(0.95)
    p = sampler.probabilities()
    expected = np.exp(-np.array([0.05, 0.95, 0.5]) / 0.25)
    np.testing.assert_allclose(p, expected / expected.sum())
    rng = np.random.default_rng(0)
    counts = Counter(sampler.sample(rng).name for _ in range(4000))
    for j, name in enumerate(sampler.names):
        assert counts[name] / 4000 == pytest.approx(p[j], abs=0.03)
    assert counts["equal_weight"] > counts["trend_timing"] > counts["random"]
    with pytest.raises(ConfigError):
        sampler.record("random", 1.5)
    with pytest.raises(ConfigError):
        sampler.record("nobody", 1.0)
    np.testing.assert_allclose(pfsp_probabilities([0, 0], [0, 0], 1.0), [0.5, 0.5])


# ---------------------------------------------------------------------------------------------- RLlib example
class FakeEpisode(SimpleNamespace):
    """What RLlib's mapping function reads of a MultiAgentEpisode: its ``id_``."""


def test_rllib_episode_rotation_maps_every_agent_of_an_episode_alike(examples_path):
    pytest.importorskip("ray.rllib")
    import rllib_assignment as ra

    learners = ["balanced_0", "aggressive_0"]
    rotation = ra.rotation_for(learners, share=0.25)
    assert rotation.modules == ["aggressive", "aggressive_alt", "balanced", "balanced_alt"]
    picks = []
    for i in range(2000):
        episode = FakeEpisode(id_=f"episode-{i}")
        modules = [rotation(a, episode) for a in learners]
        assert modules in (["balanced", "aggressive"], ["balanced_alt", "aggressive_alt"])
        assert rotation("balanced_0", episode) == modules[0]  # the same answer every time it is asked
        assert rotation("balanced_0@stressed", episode) == modules[0]  # regime tags are ignored
        picks.append(modules[0].endswith("_alt"))
    assert np.mean(picks) == pytest.approx(0.25, abs=0.03)
    assert rotation("balanced_0", None) == "balanced"  # no episode: the first assignment
    with pytest.raises(ValueError):
        ra.EpisodeRotation([{"a": "x"}, {"b": "y"}])


def test_rllib_regime_mapping_and_tagged_arena(examples_path):
    pytest.importorskip("ray.rllib")
    import common
    import rllib_assignment as ra
    import rllib_train

    assert ra.regime_mapping_fn("balanced_0@stressed", None) == "balanced_stressed"
    assert ra.regime_mapping_fn("conservative_1@calm", FakeEpisode(id_="x")) == "conservative_calm"
    assert ra.regime_mapping_fn("aggressive_0") == "aggressive"
    task = common.resolve_task("Impact-v0")
    agents = ["conservative_0", "conservative_1", "balanced_0", "aggressive_0", "aggressive_1"]
    _, learners, populations = rllib_train.training_setup(task, agents, None, None)
    args, _ = ra.parse_args(["--episode-length", "5"])
    config = ra.build_config(args, task, learners, populations, "regime")
    assert config.policy_mapping_fn is ra.regime_mapping_fn
    assert set(config.policies) == {f"{p}_{r}" for p in ("aggressive", "balanced") for r in ra.REGIMES}
    env_config = dict(config.env_config)
    seen = set()
    for threshold in (0.0, 10.0):  # every market is stressed / calm
        env = ra.RegimeTaggedArena({**env_config, "regime_options": {"enter": threshold, "exit": threshold}})
        assert set(env.possible_agents) == {ra.tag(s, r) for s in learners for r in ra.REGIMES}
        for k in range(2):
            obs, infos = env.reset(seed=k)
            regime = "stressed" if threshold == 0.0 else "calm"
            assert set(obs) == {ra.tag(s, regime) for s in learners} and env.regime == regime
            assert all(info["regime"] == regime for info in infos.values())
            for _ in range(5):
                obs, rew, term, trunc, _ = env.step(
                    {a: np.zeros(env.action_spaces[a].shape, np.float32) for a in env.agents}
                )
                assert set(obs) == set(rew) == {ra.tag(s, regime) for s in learners}
            assert trunc["__all__"] and not term["__all__"]  # the episode ends by its time limit
            seen.add(regime)
        env.close()
    assert seen == set(ra.REGIMES)
    episode = ra.build_config(args, task, learners, populations, "episode")
    assert isinstance(episode.policy_mapping_fn, ra.EpisodeRotation)
    assert set(episode.policies) == set(episode.policy_mapping_fn.modules)


def test_rllib_co_player_arena_refuses_evaluation_populations(examples_path):
    pytest.importorskip("ray.rllib")
    import common
    import rllib_train

    task = common.resolve_task("Impact-v0")
    agents = ["conservative_0", "conservative_1", "balanced_0", "aggressive_0", "aggressive_1"]
    _, learners, populations = rllib_train.training_setup(task, agents, None, None)
    args = rllib_train.parse_args(["--episode-length", "4"])
    config = rllib_train.build_config(args, task, ["aggressive", "balanced"], learners, populations)
    held = IMPACT_EVAL_BACKGROUNDS[0]
    with pytest.raises(ConfigError, match="held out"):
        rllib_train.CoPlayerArena({**config.env_config, "co_players": [[held.name, held.mapping]]})
