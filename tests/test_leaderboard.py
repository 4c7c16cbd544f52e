"""Leaderboard: task suite, aggregation, evaluation (determinism, broken policies), board."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest

from wealtharena_env.errors import ConfigError
from wealtharena_env.leaderboard import aggregate as agg
from wealtharena_env.leaderboard.board import build_board, to_html, to_markdown
from wealtharena_env.leaderboard.evaluate import evaluate
from wealtharena_env.leaderboard.policies import PolicyCaller, PolicyLoadError, load_policy
from wealtharena_env.leaderboard.results import (
    SCHEMA_VERSION,
    dumps_results,
    read_results,
    round_float,
    write_results,
)
from wealtharena_env.leaderboard.tasks import (
    EVAL_SEEDS,
    IMPACT_EVAL_BACKGROUNDS,
    IMPACT_TRAINING_BACKGROUNDS,
    TASKS,
    TRAIN_SEEDS,
    Scenario,
    Task,
    get_task,
)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FAST = {"n_seeds": 2, "episode_length": 15, "bootstrap_reps": 100, "progress": False}

# Pinned fingerprints of the published tasks: a published task never changes. If this fails, you changed
# a task's definition: restore it, or publish a new version (name-v1) and pin that. They include
# ENV_DEFAULTS_VERSION (3 since 2026-12-06: episodes drawn in the kernel from a new random stream).
PUBLISHED = {
    "Calm-v0": "bf334f447c530955",
    "Regimes-v0": "4565258085e0b869",
    "Crash-v0": "25a9431564fdab11",
    "HighCorrelation-v0": "a1e967bf83309d46",
    "BullBear-v0": "3c690267d2d0dd81",
    "Impact-v0": "6ba6c8e36f31ce72",
    "Dow30-v0": "9e87e14e958aa4c5",
    "M6Crash-v0": "5e6ccadc5c2a4027",
}


# ============================================================================================== tasks
def test_suite_has_every_track():
    assert {
        "Calm-v0",
        "Regimes-v0",
        "Crash-v0",
        "HighCorrelation-v0",
        "BullBear-v0",
        "Impact-v0",
        "Dow30-v0",
        "M6Crash-v0",
    } <= set(TASKS)
    assert get_task("calm").key == "Calm-v0"
    with pytest.raises(ConfigError, match="unknown task"):
        get_task("Nope-v9")


@pytest.mark.parametrize("key", sorted(PUBLISHED))
def test_published_tasks_are_immutable(key):
    assert TASKS[key].fingerprint() == PUBLISHED[key]
    with pytest.raises(dataclasses.FrozenInstanceError):
        TASKS[key].eval_seeds = (1, 2)  # type: ignore[misc]


@pytest.mark.parametrize("key", sorted(TASKS))
def test_evaluation_seeds_disjoint_from_training_seeds(key):
    task = TASKS[key]
    assert len(task.eval_seeds) == len(set(task.eval_seeds)) >= 8
    assert not set(task.eval_seeds) & set(task.train_seeds)
    assert min(task.eval_seeds) >= task.train_seeds.stop or max(task.eval_seeds) < task.train_seeds.start


def test_task_rejects_overlapping_seeds_and_training_backgrounds():
    with pytest.raises(ConfigError, match="also training seeds"):
        Task("X", 0, "WealthArena/Portfolio-v0", (), (Scenario("s"),), eval_seeds=(5, TRAIN_SEEDS.stop + 1))
    train = IMPACT_TRAINING_BACKGROUNDS[0]
    with pytest.raises(ConfigError, match="training background"):
        Task(
            "X",
            0,
            "WealthArena/ImpactArena-v0",
            (),
            (Scenario("s", background=train),),
            training_backgrounds=IMPACT_TRAINING_BACKGROUNDS,
        )


def test_held_out_regimes_and_co_players():
    regimes = TASKS["Regimes-v0"]
    train_market = regimes.kwargs["market"]
    held = [s for s in regimes.scenarios if s.held_out]
    assert held and all(s.market is not None and s.market != train_market for s in held)
    crash = TASKS["Crash-v0"]
    assert crash.kwargs["market"].initial_regime == 2
    impact = TASKS["Impact-v0"]
    eval_pops = {s.background.name for s in impact.scenarios}
    assert eval_pops == {b.name for b in IMPACT_EVAL_BACKGROUNDS}
    assert not eval_pops & {b.name for b in impact.training_backgrounds}
    for s in impact.scenarios:
        assert set(s.background.mapping).isdisjoint(impact.focal_agents)


def test_eval_seeds_constant():
    assert EVAL_SEEDS[0] == 1_000_003_017 and len(EVAL_SEEDS) == 16


# ============================================================================================== aggregate
def test_interquartile_mean_hand_computed():
    # n = 8: cut 2 from each end -> mean(3, 4, 5, 6) = 4.5
    assert agg.interquartile_mean([8, 1, 7, 2, 6, 3, 5, 4]) == 4.5
    # n = 5: cut 1 from each end -> mean(2, 3, 100)... sorted [1, 2, 3, 100, 200] -> mean(2, 3, 100) = 35
    assert agg.interquartile_mean([200, 1, 3, 2, 100]) == 35.0
    # n = 3: nothing cut
    assert agg.interquartile_mean([1.0, 2.0, 6.0]) == 3.0
    assert agg.interquartile_mean([1.0, np.nan, 2.0, 6.0]) == 3.0  # NaN dropped
    assert np.isnan(agg.interquartile_mean([]))
    rows = np.array([[8, 1, 7, 2, 6, 3, 5, 4], [1, 1, 1, 1, 1, 1, 1, 9]], dtype=float)
    np.testing.assert_allclose(agg.interquartile_mean(rows, axis=1), [4.5, 1.0])


def test_bootstrap_is_deterministic_and_stratified():
    strata = {"a": [0.0, 0.0, 0.0], "b": [10.0, 10.0]}
    # resampling within strata keeps every replicate's pooled mean at (0*3 + 10*2) / 5 = 4
    boot = agg.stratified_bootstrap(strata, "mean", reps=50, seed=1)
    np.testing.assert_allclose(boot, 4.0)
    x = {"s1": [0.1, 0.5, -0.2, 0.3, 0.9], "s2": [1.0, 1.2, 0.7]}
    a = agg.bootstrap_ci(x, "mean", reps=300, seed=7)
    b = agg.bootstrap_ci(x, "mean", reps=300, seed=7)
    assert a == b
    assert a.low <= a.point <= a.high and a.n == 8 and a.n_strata == 2
    assert a.point == pytest.approx(np.mean([0.1, 0.5, -0.2, 0.3, 0.9, 1.0, 1.2, 0.7]))
    c = agg.bootstrap_ci(x, "mean", reps=300, seed=8)
    assert (c.low, c.high) != (a.low, a.high)
    iqm = agg.bootstrap_ci(x, "iqm", reps=100)
    assert iqm.point == pytest.approx(agg.interquartile_mean([0.1, 0.5, -0.2, 0.3, 0.9, 1.0, 1.2, 0.7]))
    empty = agg.bootstrap_ci({"a": [np.nan]})
    assert np.isnan(empty.point) and empty.n == 0


def test_probability_of_improvement_toy():
    # x always above y: 1; identical: 0.5; hand count: x = [1, 3], y = [2, 2] -> pairs (1>2 no, 1>2 no,
    # 3>2 yes, 3>2 yes) = 2/4 = 0.5; with a tie: x = [2], y = [2, 1] -> (0.5 + 1) / 2 = 0.75
    assert agg.probability_of_improvement([[5, 6, 7]], [[1, 2, 3]]) == 1.0
    assert agg.probability_of_improvement([[1, 2]], [[1, 2]]) == 0.5
    assert agg.probability_of_improvement([[1, 3]], [[2, 2]]) == 0.5
    assert agg.probability_of_improvement([[2]], [[2, 1]]) == 0.75
    # mean over strata: stratum 1 -> 1.0, stratum 2 -> 0.0
    assert agg.probability_of_improvement({"a": [3], "b": [0]}, {"a": [1], "b": [1]}) == 0.5
    iv = agg.probability_of_improvement_ci({"a": [3, 4, 5]}, {"a": [0, 1, 2]}, reps=50)
    assert iv.point == iv.low == iv.high == 1.0
    with pytest.raises(ConfigError):
        agg.probability_of_improvement([[1], [2]], [[1]])


def test_performance_profile():
    np.testing.assert_allclose(
        agg.performance_profile([[0.0, 1.0, 2.0, 3.0]], [-1, 0.5, 2.5, 9]), [1.0, 0.75, 0.25, 0.0]
    )


# ============================================================================================== evaluate
@pytest.fixture(scope="module")
def calm_doc():
    return evaluate("Calm-v0", "equal_weight", trajectories=1, **FAST)


def _strip_time(text: str) -> str:
    return re.sub(r'"created_utc":"[^"]*"', '"created_utc":""', text)


def test_results_document(calm_doc, tmp_path):
    doc = calm_doc
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["task"]["key"] == "Calm-v0" and doc["task"]["fingerprint"] == PUBLISHED["Calm-v0"]
    assert doc["seeds"]["evaluation"] == list(EVAL_SEEDS[:2])
    assert doc["budget"] == {"n_seeds": 2, "episode_length": 15, "n_scenarios": 1, "official": False}
    assert doc["package"]["version"] and doc["versions"]["numpy"]
    assert len(doc["episodes"]) == 2 and all(ep["status"] == "ok" for ep in doc["episodes"])
    ep = doc["episodes"][0]
    agent = ep["agents"]["agent"]
    for key in (
        "sharpe_ratio",
        "total_return",
        "max_drawdown",
        "cagr",
        "historical_var",
        "beta",
        "final_value",
        "total_cost",
        "average_turnover",
        "risk_events",
    ):
        assert key in agent
    assert ep["focal"]["sharpe_ratio"] == agent["sharpe_ratio"]
    assert agent["steps"] == 15
    s = doc["aggregates"]["score"]["mean"]
    assert s["low"] <= s["point"] <= s["high"]
    assert s["point"] == pytest.approx(
        np.mean([e["focal"]["sharpe_ratio"] for e in doc["episodes"]]), rel=1e-9
    )
    traj = doc["trajectories"][0]
    assert len(traj["agents"]["agent"]["equity"]) == 16 and len(traj["benchmark_equity"]) == 16
    path = write_results(doc, tmp_path / "sub" / "r.json")
    assert read_results(path)["entry"] == "equal_weight"
    assert not list((tmp_path / "sub").glob("*.tmp"))
    json.loads(path.read_text())  # strict JSON (no NaN)


def test_same_policy_twice_is_byte_identical(calm_doc):
    again = evaluate("Calm-v0", "equal_weight", trajectories=1, **FAST)
    assert _strip_time(dumps_results(again)) == _strip_time(dumps_results(calm_doc))
    rand1 = evaluate("Impact-v0", "random", n_seeds=2, episode_length=8, bootstrap_reps=50, progress=False)
    rand2 = evaluate("Impact-v0", "random", n_seeds=2, episode_length=8, bootstrap_reps=50, progress=False)
    assert _strip_time(dumps_results(rand1)) == _strip_time(dumps_results(rand2))


def test_multi_agent_focal_and_backgrounds():
    doc = evaluate(
        "Impact-v0",
        "momentum",
        n_seeds=2,
        episode_length=10,
        bootstrap_reps=50,
        progress=False,
        trajectories=0,
    )
    assert len(doc["episodes"]) == 2 * 4
    by = doc["aggregates"]["by_scenario"]
    assert set(by) == {f"vs_{b.name}" for b in IMPACT_EVAL_BACKGROUNDS}
    assert by["vs_momentum_herd"]["background"] == "momentum_herd"
    ep = doc["episodes"][0]
    roles = {a: m["role"] for a, m in ep["agents"].items()}
    assert roles["balanced_0"] == roles["aggressive_0"] == "focal"
    assert roles["conservative_0"] == "background:momentum"
    assert ep["focal"]["sharpe_ratio"] == pytest.approx(
        (ep["agents"]["balanced_0"]["sharpe_ratio"] + ep["agents"]["aggressive_0"]["sharpe_ratio"]) / 2
    )


def _raises(obs):
    raise RuntimeError("boom")


def _wrong_shape(obs):
    return np.zeros((obs.shape[0], 3))


def _nan(obs):
    return np.full((obs.shape[0], 11), np.nan)


@pytest.mark.parametrize(
    "policy, message",
    [
        (_raises, "raised RuntimeError: boom"),
        (_wrong_shape, "returned an action of shape (2, 3) for 2 observation(s); expected (2, 11)"),
        (_nan, "non-finite"),
    ],
)
def test_broken_policy_is_reported_per_episode(policy, message):
    doc = evaluate(
        "Calm-v0", policy, entry="broken", n_seeds=2, episode_length=5, bootstrap_reps=20, progress=False
    )
    assert doc["aggregates"]["n_failed"] == 2 and doc["aggregates"]["n_ok"] == 0
    assert len(doc["failures"]) == 2
    for ep, fail in zip(doc["episodes"], doc["failures"]):
        assert ep["status"] == "failed" and ep["focal"] is None
        assert message in ep["error"]["message"] and fail["step"] == 0 and fail["agent"] == "agent"
        assert fail["source"] == "policy"
    assert doc["aggregates"]["score"]["mean"]["point"] is None
    json.loads(dumps_results(doc))


def test_partially_broken_policy_only_fails_its_episodes():
    calls = {"n": 0}

    def flaky(obs):
        calls["n"] += 1
        out = np.zeros((obs.shape[0], 11))
        out[:, -1] = 1.0
        if calls["n"] == 3:  # step 2: NaN for the second episode of the batch only
            out[1, 0] = np.nan
        if calls["n"] == 5 and obs.shape[0] > 1:  # step 4: the batch call raises; rows one by one succeed
            raise ValueError("transient")
        return out

    doc = evaluate(
        "Calm-v0", flaky, entry="flaky", n_seeds=3, episode_length=8, bootstrap_reps=20, progress=False
    )
    assert [ep["status"] for ep in doc["episodes"]] == ["ok", "failed", "ok"]
    err = doc["episodes"][1]["error"]
    assert err["step"] == 2 and "non-finite" in err["message"] and err["agent"] == "agent"
    assert doc["aggregates"]["n_failed"] == 1 and doc["aggregates"]["n_ok"] == 2
    assert doc["failures"] == [{"scenario": "calm", "seed": EVAL_SEEDS[1], **err}]
    assert all(ep["agents"]["agent"]["steps"] == 8 for ep in doc["episodes"] if ep["status"] == "ok")


def test_single_observation_policy_is_detected():
    def single(obs):
        if obs.ndim != 1:
            raise ValueError("one observation please")
        return np.r_[np.ones(10), -1.0]  # equal weight, no cash: the equal_weight baseline's own action

    caller = PolicyCaller(single, 11)
    acts, errs = caller(np.zeros((3, 5), dtype=np.float32))
    assert caller.mode == "single" and errs == [None] * 3 and acts.shape == (3, 11)
    doc = evaluate(
        "Calm-v0", single, entry="single", n_seeds=2, episode_length=5, bootstrap_reps=20, progress=False
    )
    ew = evaluate("Calm-v0", "equal_weight", n_seeds=2, episode_length=5, bootstrap_reps=20, progress=False)
    assert doc["aggregates"]["n_ok"] == 2
    assert [e["focal"]["sharpe_ratio"] for e in doc["episodes"]] == [
        e["focal"]["sharpe_ratio"] for e in ew["episodes"]
    ]


def test_policy_specs(tmp_path):
    assert load_policy("momentum").kind == "baseline"
    assert load_policy("baseline:cash").name == "cash"
    with pytest.raises(PolicyLoadError, match="unknown baseline"):
        load_policy("baseline:nope")
    with pytest.raises(PolicyLoadError, match="cannot interpret"):
        load_policy("nope")
    with pytest.raises(PolicyLoadError, match="importing"):
        load_policy("no_such_module_xyz:f")
    with pytest.raises(PolicyLoadError, match="does not exist"):
        load_policy(str(tmp_path / "model.zip"))
    f = tmp_path / "my_policy.py"
    f.write_text(
        "import numpy as np\n\ndef act(obs):\n    return np.tile(np.r_[-np.ones(10), 1.0], (len(obs), 1))\n"
    )
    loaded = load_policy(f"{f}:act")
    assert loaded.kind == "callable" and loaded.name == "act"
    doc = evaluate("Calm-v0", loaded, n_seeds=2, episode_length=5, bootstrap_reps=20, progress=False)
    assert doc["entry"] == "act" and doc["aggregates"]["n_ok"] == 2
    # all cash: under the exponential mapping an entry of -1 is a weight of exactly 0
    assert all(e["agents"]["agent"]["total_return"] == 0.0 for e in doc["episodes"])


def test_rllib_without_ray_is_a_clear_error(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    (tmp_path / "ckpt").mkdir()
    with pytest.raises(PolicyLoadError, match="ray is not installed"):
        load_policy(str(tmp_path / "ckpt"))


def test_rllib_checkpoint_path_is_made_absolute(tmp_path, monkeypatch):
    # RLlib reads checkpoints through pyarrow, which rejects a relative path ("URI has empty scheme")
    from wealtharena_env.leaderboard.policies import _checkpoint_path

    monkeypatch.chdir(tmp_path)
    assert _checkpoint_path("runs/ppo/checkpoint") == tmp_path.resolve() / "runs" / "ppo" / "checkpoint"
    assert _checkpoint_path("~/ckpt") == Path.home().resolve() / "ckpt"
    assert _checkpoint_path(tmp_path / "ckpt") == tmp_path.resolve() / "ckpt"


def test_rllib_checkpoint_given_as_a_relative_path(tmp_path, monkeypatch):
    # `wealtharena evaluate --policy runs/.../checkpoint` from the run's parent folder: an RLModule checkpoint
    # (as algo.save_to_path writes under learner_group/learner/rl_module/<module_id>) loads and plays
    pytest.importorskip("torch")
    pytest.importorskip("ray.rllib")
    from ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module import DefaultPPOTorchRLModule
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    from wealtharena_env.leaderboard.evaluate import make_task_env

    task = get_task("Calm-v0")
    env = make_task_env(task, task.scenarios[0], 5)
    spec = RLModuleSpec(
        module_class=DefaultPPOTorchRLModule,
        observation_space=env.unwrapped.observation_space,
        action_space=env.unwrapped.action_space,
        model_config=DefaultModelConfig(fcnet_hiddens=[8]),
    )
    env.close()
    modules = tmp_path / "runs" / "ckpt" / "learner_group" / "learner" / "rl_module"
    spec.build().save_to_path(str(modules / "default_policy"))
    monkeypatch.chdir(tmp_path)
    for spec in ("runs/ckpt", "runs/ckpt:default_policy"):
        loaded = load_policy(spec)
        assert loaded.kind == "rllib"
        doc = evaluate(task, loaded, n_seeds=1, episode_length=5, bootstrap_reps=20, progress=False)
        assert doc["aggregates"]["n_ok"] == 1, doc["failures"]


def test_sb3_zip_policy(tmp_path):
    pytest.importorskip("torch")
    sb3 = pytest.importorskip("stable_baselines3")
    import gymnasium

    import wealtharena_env  # noqa: F401

    env = gymnasium.make("WealthArena/Portfolio-v0", n_assets=10, episode_length=5)
    model = sb3.PPO("MlpPolicy", env, n_steps=8, batch_size=8, device="cpu", seed=0)
    model.save(tmp_path / "ppo_model.zip")
    loaded = load_policy(str(tmp_path / "ppo_model.zip"))
    assert loaded.kind == "sb3" and loaded.spec == "sb3:ppo:ppo_model.zip"
    doc = evaluate("Calm-v0", loaded, n_seeds=2, episode_length=5, bootstrap_reps=20, progress=False)
    assert doc["aggregates"]["n_ok"] == 2


def test_historical_task_records_data_hash():
    path = SHARED_DATA / "dow30_yahoo_2015_2020.csv.gz"
    if not path.exists():
        pytest.skip(f"shared market data not available at {path}")
    doc = evaluate("Dow30-v0", "equal_weight", data=path, benchmark_data=False, **FAST)
    data = doc["data"]
    assert len(data["content_hash"]) == 64
    assert data["first_date"] >= "2019-01-01" and data["last_date"] < "2020-01-11" and data["split"] == "test"
    assert data["tickers"] == list(TASKS["Dow30-v0"].historical.tickers)
    assert doc["aggregates"]["n_ok"] == 2


# ============================================================================================ board + export
def test_board_ranks_by_mean_sharpe(calm_doc):
    cash = evaluate("Calm-v0", "cash", **FAST)
    rnd = evaluate("Calm-v0", "random", **FAST)
    groups = build_board([cash, calm_doc, rnd])
    assert len(groups) == 1
    rows = groups[0].rows
    points = [r.score["point"] for r in rows]
    assert None not in points and points == sorted(points, reverse=True)
    cash_row = next(r for r in rows if r.entry == "cash")
    assert cash_row.score["point"] == 0.0  # holding cash scores Sharpe 0 (not undefined, not last by rule)
    ew = next(r for r in rows if r.entry == "equal_weight")
    assert ew.p_improvement is None
    assert all(r.p_improvement is not None for r in rows if r.entry == "random")
    md = to_markdown(groups)
    assert "| 1 |" in md and "equal_weight" in md and "Calm-v0" in md and "reduced budget" in md
    page = to_html(groups)
    assert page.startswith("<!DOCTYPE html>") and "<table>" in page and "equal_weight" in page
    # a different budget is a different table
    other = evaluate("Calm-v0", "cash", n_seeds=1, episode_length=15, bootstrap_reps=20, progress=False)
    assert len(build_board([calm_doc, other])) == 2


def test_cash_baseline_scores_sharpe_zero():
    # a cash-only policy's returns are all exactly 0: its Sharpe is 0 (kernels/metrics.py), a finite score
    doc = evaluate(get_task("Crash-v0"), "cash", n_seeds=2, episode_length=20)
    a = doc["aggregates"]
    assert a["n_ok"] == a["n_episodes"] == 4  # 2 seeds x 2 scenarios
    for name in ("mean", "iqm", "median"):
        assert a["score"][name] == {"point": 0.0, "low": 0.0, "high": 0.0, "n": 4, "n_strata": 2}, name
    assert all(s["score"]["point"] == 0.0 for s in a["by_scenario"].values())
    assert a["metrics"]["sortino_ratio"]["point"] == 0.0
    for ep in doc["episodes"]:
        assert ep["focal"]["sharpe_ratio"] == 0.0 and ep["focal"]["total_return"] == 0.0


def test_cash_outranks_a_losing_entry_on_the_board():
    # Stepping aside must beat losing money: cash (Sharpe 0) is ranked on its score like any entry, above an
    # entry whose every episode has a negative Sharpe, is compared with equal_weight, and prints as numbers.
    import copy

    from wealtharena_env.leaderboard.evaluate import _aggregate

    budget = {"n_seeds": 2, "episode_length": 20, "bootstrap_reps": 100, "progress": False}
    cash = evaluate("Crash-v0", "cash", **budget)
    ew = evaluate("Crash-v0", "equal_weight", **budget)
    loser = copy.deepcopy(ew)  # equal weight's episodes, each made to lose: Sharpe -|s| - 0.1
    loser["entry"] = "loser"
    for ep in loser["episodes"]:
        ep["focal"]["sharpe_ratio"] = -abs(ep["focal"]["sharpe_ratio"]) - 0.1
    crash = get_task("Crash-v0")
    loser["aggregates"] = _aggregate(crash, crash.scenarios, loser["episodes"], 100)
    groups = build_board([loser, ew, cash])
    rows = groups[0].rows
    order = [r.entry for r in rows]
    assert order.index("cash") < order.index("loser")
    points = [r.score["point"] for r in rows]
    assert None not in points and points == sorted(points, reverse=True)
    cash_row, ew_row = rows[order.index("cash")], rows[order.index("equal_weight")]
    assert cash_row.p_improvement == agg.probability_of_improvement(cash_row.strata, ew_row.strata)
    assert rows[order.index("loser")].p_improvement is not None
    md = to_markdown(groups)
    assert re.search(r"\| cash \| 0\.00 \| \[0\.00, 0\.00\] \| 0\.00 \| \d\.\d\d \| 0\.00 \| 0\.00 \|", md), (
        md
    )
    assert "nan" not in md.lower()
    assert "<td>0.00</td><td>[0.00, 0.00]</td>" in to_html(groups)


def test_marl_eval_export(calm_doc):
    out = agg.to_marl_eval([calm_doc, calm_doc])
    runs = out["wealtharena"]["Calm-v0"]["equal_weight"]
    assert set(runs) == {"run_0", "run_1"}
    step = runs["run_0"]["step_0"]
    assert step["step_count"] == 15 and len(step["sharpe_ratio"]) == 2
    assert runs["run_0"]["absolute_metrics"]["sharpe_ratio"] == step["sharpe_ratio"]
    json.dumps(out, allow_nan=False)


def test_policy_file_with_a_dataclass_loads(tmp_path):
    """A policy file is registered in sys.modules while it runs (dataclasses need it)."""
    from wealtharena_env.leaderboard.policies import _import_callable

    path = tmp_path / "my_policy.py"
    path.write_text(
        "from __future__ import annotations\nfrom dataclasses import dataclass\n\n"
        "@dataclass\nclass Args:\n    scale: float = 1.0\n\n"
        "def policy(obs):\n    return obs[..., :2] * Args().scale\n"
    )
    assert callable(_import_callable(f"{path}:policy"))


@pytest.mark.parametrize("algo", ["PPO", "A2C"])
def test_sb3_zip_without_prefix_is_recognised(tmp_path, algo):
    pytest.importorskip("torch")
    sb3 = pytest.importorskip("stable_baselines3")
    import gymnasium

    from wealtharena_env.leaderboard.policies import load_policy

    env = gymnasium.make("WealthArena/Portfolio-v0", n_assets=2, episode_length=8)
    model = getattr(sb3, algo)("MlpPolicy", env, n_steps=8, device="cpu")
    model.save(tmp_path / "model.zip")
    loaded = load_policy(str(tmp_path / "model.zip"))
    assert f"sb3:{algo.lower()}:" in loaded.spec


def test_a_model_trained_on_another_shape_is_refused_once_naming_both_shapes(tmp_path):
    pytest.importorskip("torch")
    sb3 = pytest.importorskip("stable_baselines3")
    import gymnasium

    from wealtharena_env.leaderboard.evaluate import evaluate
    from wealtharena_env.leaderboard.policies import PolicyLoadError

    env = gymnasium.make("WealthArena/Portfolio-v0", n_assets=2, episode_length=8)
    sb3.PPO("MlpPolicy", env, n_steps=8, device="cpu").save(tmp_path / "model.zip")
    task = "Calm-v0"
    with pytest.raises(
        PolicyLoadError,
        match=r"trained on observations of shape \(\d+,\), but Calm-v0 gives "
        r"observations of shape \(\d+,\)",
    ):
        evaluate(task, f"ppo:{tmp_path / 'model.zip'}", n_seeds=2, episode_length=10, progress=False)


def test_sb3_observation_statistics_beside_a_model_are_applied(tmp_path):
    pytest.importorskip("stable_baselines3")
    import gymnasium as gym
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from wealtharena_env.leaderboard.policies import _sb3_observation_normalizer

    assert (
        _sb3_observation_normalizer(tmp_path / "vecnormalize.pkl")(np.ones(3)) is not None
    )  # no file: identity
    venv = VecNormalize(
        DummyVecEnv([lambda: gym.make("WealthArena/Portfolio-v0", n_assets=2, episode_length=5)]),
        norm_obs=True,
        norm_reward=True,
        clip_obs=5.0,
    )
    dim = venv.observation_space.shape[0]
    venv.obs_rms.mean = np.linspace(-1, 1, dim)
    venv.obs_rms.var = np.linspace(0.5, 2, dim)
    venv.save(str(tmp_path / "vecnormalize.pkl"))
    obs = np.random.default_rng(0).normal(size=(4, dim)).astype(np.float32) * 3
    got = _sb3_observation_normalizer(tmp_path / "vecnormalize.pkl")(obs)
    expected = np.clip((obs - venv.obs_rms.mean) / np.sqrt(venv.obs_rms.var + venv.epsilon), -5, 5)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    venv.norm_obs = False  # reward-only statistics: observations pass through
    venv.save(str(tmp_path / "vecnormalize.pkl"))
    np.testing.assert_array_equal(_sb3_observation_normalizer(tmp_path / "vecnormalize.pkl")(obs), obs)


def test_batched_evaluation_plays_what_single_envs_play():
    """evaluate() plays each scenario's seeds as one batched Simulation: every episode's final value, cost and
    turnover equal those of a single env built from the task's registered ID, reset with that seed and stepped
    with the same deterministic policy (the background seats' baselines included)."""
    from wealtharena_env.leaderboard.baselines import make_baseline
    from wealtharena_env.leaderboard.evaluate import make_task_env

    for key, policy in (("Impact-v0", "risk_parity"), ("Regimes-v0", "momentum")):
        task = TASKS[key]
        doc = evaluate(
            key, policy, n_seeds=3, episode_length=25, trajectories=0, bootstrap_reps=50, progress=False
        )
        checked = 0
        for record in doc["episodes"]:
            scenario = next(s for s in task.scenarios if s.name == record["scenario"])
            background = scenario.background.mapping if scenario.background is not None else {}
            env = make_task_env(task, scenario, 25)
            obs, _ = env.reset(seed=record["seed"])
            players = {
                a: make_baseline(policy if a in task.focal_agents else background.get(a, "cash"), env)
                for a in env.possible_agents
            }
            if any(p.name == "random" for p in players.values()):
                continue  # a random background draws per batch row: its draws depend on the batch
            cost = dict.fromkeys(env.possible_agents, 0.0)
            while env.agents:
                actions = {a: players[a](obs[a][None, :])[0] for a in env.agents}
                obs, _, _, _, infos = env.step(actions)
                for a, info in infos.items():
                    cost[a] += info["cost"]
            sim = env.unwrapped.sim
            for k, a in enumerate(env.possible_agents):
                # the results document keeps 10 significant digits (results.round_float)
                assert record["agents"][a]["final_value"] == round_float(float(sim.portfolio_values[0, k])), a
                assert record["agents"][a]["total_cost"] == round_float(cost[a]), (key, a)
            checked += 1
        assert checked >= 3, key


def test_validation_seeds_and_scenarios_are_played_and_never_official():
    """``evaluate(seeds=..., scenarios=...)``: validation on training seeds (``Task.validation_seeds``) in
    the in-distribution scenario only; the result says it is not official, and evaluation seeds are
    refused."""
    task = get_task("BullBear-v0")
    seeds = task.validation_seeds(3)
    assert seeds == (99_997, 99_998, 99_999) and not set(seeds) & set(task.eval_seeds)
    doc = evaluate(
        task, "equal_weight", seeds=seeds, scenarios=["bull_bear"], episode_length=10, bootstrap_reps=20
    )
    assert doc["seeds"]["evaluation"] == list(seeds)
    assert {ep["scenario"] for ep in doc["episodes"]} == {"bull_bear"}
    assert {ep["seed"] for ep in doc["episodes"]} == set(seeds)
    assert list(doc["aggregates"]["by_scenario"]) == ["bull_bear"]
    assert doc["budget"]["official"] is False and doc["budget"]["n_scenarios"] == 1
    full = evaluate(task, "equal_weight", n_seeds=1, episode_length=10, bootstrap_reps=20)
    assert len({ep["scenario"] for ep in full["episodes"]}) == len(task.scenarios)
    with pytest.raises(ConfigError, match="non-evaluation seeds"):
        evaluate(task, "equal_weight", seeds=[task.eval_seeds[0]], episode_length=10)
    with pytest.raises(ConfigError, match="scenarios must name"):
        evaluate(task, "equal_weight", seeds=seeds, scenarios=["nope"], episode_length=10)
