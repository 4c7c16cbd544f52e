"""``--env-kwargs '{"reward": {...}}'`` of the training examples (examples/common.py): reward weights for
single-agent tasks and for every agent of an arena, per profile, and ``target_risk`` scaled by each profile's
risk aversion.

Fast (no training): these parse and build env keyword arguments, and build one arena."""

from __future__ import annotations

import json

import pytest

from wealtharena_env.config import REWARD_PRESETS


@pytest.fixture()
def common(examples_path):
    import common as module

    return module


def rewards(kwargs) -> dict[str, object]:
    return {a.name: a.reward for a in kwargs["agents"]}


def test_multi_agent_reward_applies_to_every_agent_s_own_preset(common):
    task = common.resolve_task("Impact-v0")
    kwargs = common.train_kwargs(task, None, '{"reward": {"risk": 0, "target_risk": 20}}')
    assert "reward" not in kwargs
    got = rewards(kwargs)
    assert list(got) == ["conservative_0", "conservative_1", "balanced_0", "aggressive_0", "aggressive_1"]
    for name, reward in got.items():
        preset = REWARD_PRESETS[name.rsplit("_", 1)[0]]
        assert reward == preset.replace(
            risk=0, target_risk=20
        )  # the rest of each preset stays (cost 2 / 1 / 0.5)
    assert {a.risk_profile for a in kwargs["agents"]} == {"conservative", "balanced", "aggressive"}
    # the task's own kwargs stay; the agents keep their risk limits
    assert kwargs["impact"] == 0.1 and kwargs["n_assets"] == 10
    assert all(a.risk is not None for a in kwargs["agents"])


def test_target_risk_per_risk_aversion_scales_by_each_profile_s_risk_weight_before_the_override(common):
    task = common.resolve_task("Impact-v0")
    kwargs = common.train_kwargs(task, None, {"reward": {"risk": 0, "target_risk_per_risk_aversion": 5}})
    got = {name: (r.risk, r.target_risk) for name, r in rewards(kwargs).items()}
    assert got == {
        "conservative_0": (0, 50.0),
        "conservative_1": (0, 50.0),
        "balanced_0": (0, 20.0),
        "aggressive_0": (0, 7.5),
        "aggressive_1": (0, 7.5),
    }
    # single-agent tasks take it too (the agent's profile: balanced by default)
    single = common.train_kwargs(
        common.resolve_task("Crash-v0"), None, {"reward": {"risk": 0, "target_risk_per_risk_aversion": 5}}
    )
    assert single["agents"][0].reward == REWARD_PRESETS["balanced"].replace(risk=0, target_risk=20.0)


def test_per_profile_reward_overrides_merge_over_the_common_fields(common):
    task = common.resolve_task("Impact-v0")
    over = {
        "risk": 0,
        "target_risk": 1,
        "conservative": {"target_risk": 50, "cost": 3},
        "aggressive": {"momentum": 0},
    }
    got = rewards(common.train_kwargs(task, None, {"reward": over}))
    assert got["conservative_1"] == REWARD_PRESETS["conservative"].replace(risk=0, target_risk=50, cost=3)
    assert got["balanced_0"] == REWARD_PRESETS["balanced"].replace(risk=0, target_risk=1)
    assert got["aggressive_0"] == REWARD_PRESETS["aggressive"].replace(risk=0, target_risk=1, momentum=0)
    # target_risk and target_risk_per_risk_aversion are two spellings of one weight: a profile's own, in
    # either spelling, replaces the common one
    got = rewards(
        common.train_kwargs(
            task, None, {"reward": {"target_risk_per_risk_aversion": 5, "aggressive": {"target_risk": 1}}}
        )
    )
    assert got["aggressive_0"].target_risk == 1 and got["balanced_0"].target_risk == 20.0
    got = rewards(
        common.train_kwargs(
            task, None, {"reward": {"target_risk": 1, "aggressive": {"target_risk_per_risk_aversion": 2}}}
        )
    )
    assert got["aggressive_0"].target_risk == 3.0 and got["conservative_0"].target_risk == 1
    with pytest.raises(SystemExit, match='"aggressive": give "target_risk" or'):
        common.train_kwargs(
            task, None, {"reward": {"aggressive": {"target_risk": 1, "target_risk_per_risk_aversion": 2}}}
        )
    # the scaled form per profile, with a common risk
    got = rewards(
        common.train_kwargs(
            task, None, {"reward": {"risk": 0, "aggressive": {"target_risk_per_risk_aversion": 2}}}
        )
    )
    assert got["aggressive_1"].target_risk == 3.0 and got["balanced_0"].target_risk == 0.0


def test_per_profile_only(common):
    task = common.resolve_task("Impact-v0")
    got = rewards(
        common.train_kwargs(task, None, {"reward": {"conservative": {"target_risk": 50, "risk": 0}}})
    )
    assert got["conservative_0"] == REWARD_PRESETS["conservative"].replace(target_risk=50, risk=0)
    assert (
        got["balanced_0"] == REWARD_PRESETS["balanced"]
        and got["aggressive_1"] == REWARD_PRESETS["aggressive"]
    )


def test_single_agent_reward_override_keeps_its_profile_and_cash(common):
    task = common.resolve_task("Crash-v0")
    kwargs = common.train_kwargs(
        task,
        None,
        {"reward": {"risk": 0, "target_risk": 20}, "risk_profile": "aggressive", "initial_cash": 5e5},
    )
    (agent,) = kwargs["agents"]
    assert agent.risk_profile == "aggressive" and agent.initial_cash == 5e5
    assert agent.reward == REWARD_PRESETS["aggressive"].replace(risk=0, target_risk=20)
    # the per-profile form picks the single agent's profile
    (agent,) = common.train_kwargs(
        task, None, {"reward": {"balanced": {"risk": 1}, "aggressive": {"risk": 9}}}
    )["agents"]
    assert agent.reward.risk == 1


def test_named_agents_of_an_arena_get_their_profile_s_override(common):
    task = common.resolve_task("Impact-v0")
    kwargs = common.train_kwargs(
        task,
        None,
        {"agents": ["balanced_0", "conservative_0"], "reward": {"conservative": {"target_risk": 50}}},
    )
    assert [(a.name, a.reward.target_risk) for a in kwargs["agents"]] == [
        ("balanced_0", 0.0),
        ("conservative_0", 50),
    ]


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ([1, 2], "must be a JSON object of reward weights"),
        ({"riskk": 0}, "riskk"),
        ({"conservative": 3}, '"conservative" must be a JSON object'),
        ({"risk": -1}, "risk must be >= 0"),
        ({"target_risk_per_risk_aversion": "5"}, "must be a number"),
        ({"target_risk": 2, "target_risk_per_risk_aversion": 5}, "not both"),
    ],
)
def test_bad_reward_overrides_are_usage_errors(common, over, match):
    for key in ("Impact-v0", "Crash-v0"):
        with pytest.raises(SystemExit, match=match):
            common.train_kwargs(common.resolve_task(key), None, {"reward": over})


def test_reward_override_is_training_only_and_recorded(common):
    task = common.resolve_task("Impact-v0")
    over = {"reward": {"risk": 0, "target_risk_per_risk_aversion": 5}}
    assert "reward" in common.TRAINING_ONLY_ENV_KWARGS
    assert common.unreproduced_env_kwargs(task, over) == []  # the evaluation needs nothing: it scores returns
    record = common.env_kwargs_record(task, None, over, warn=False)
    assert record["env_kwargs_override"] == over and record["env_kwargs_not_evaluated"] == []
    text = json.dumps(record, default=common._json_default)  # config.json / summary.json
    agents = json.loads(text)["env_kwargs"]["agents"]
    assert [(a["name"], a["reward"]["target_risk"]) for a in agents][:3] == [
        ("conservative_0", 50.0),
        ("conservative_1", 50.0),
        ("balanced_0", 20.0),
    ]


def test_the_arena_is_built_with_the_overridden_rewards(common):
    import pettingzoo

    task = common.resolve_task("Impact-v0")
    kwargs = common.train_kwargs(task, 8, {"reward": {"risk": 0, "target_risk_per_risk_aversion": 5}})
    env = pettingzoo.make("parallel", task.env_id, **kwargs)
    agents = env.unwrapped.sim.config.agents
    assert {a.name: a.reward.target_risk for a in agents} == {
        "conservative_0": 50.0,
        "conservative_1": 50.0,
        "balanced_0": 20.0,
        "aggressive_0": 7.5,
        "aggressive_1": 7.5,
    }
    env.close()


def test_rllib_env_config_carries_the_overridden_rewards(common):
    pytest.importorskip("ray.rllib")
    import rllib_train

    task = common.resolve_task("Impact-v0")
    args = rllib_train.parse_args(
        [
            "--env-kwargs",
            '{"reward": {"risk": 0, "target_risk_per_risk_aversion": 5}}',
            "--learn-seats",
            "balanced_0",
            "aggressive_0",
            "conservative_0",
        ]
    )
    config = rllib_train.build_config(args, task, ["aggressive", "balanced", "conservative"])
    assert "reward" not in config.env_config
    assert {a.name: a.reward.target_risk for a in config.env_config["agents"]}["conservative_0"] == 50.0
