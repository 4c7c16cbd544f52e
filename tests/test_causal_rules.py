"""Causal timing rules (vol_timing, trend_timing), the BullBear-v0 task and examples/causal_rules.py.

No test here trains anything: the rules are fixed functions of the observation.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import wealtharena_env  # noqa: F401  (registers the env IDs)
from wealtharena_env.errors import ConfigError
from wealtharena_env.leaderboard.baselines import (
    BASELINES,
    TrendTiming,
    VolatilityTiming,
    make_baseline,
)
from wealtharena_env.leaderboard.evaluate import evaluate
from wealtharena_env.leaderboard.policies import load_policy
from wealtharena_env.leaderboard.tasks import TASKS, get_task
from wealtharena_env.market_sources import stationary_distribution

N, W = 4, 20
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "causal_rules.py"


def rule(cls, **kwargs):
    return cls(N, W, **kwargs)


def observation(
    policy,
    *,
    held_risky: float = 0.0,
    market_volatility: float = 0.10,
    market_trend: float = 0.0,
    fill: float = 0.0,
) -> np.ndarray:
    """A hand-made observation: every entry ``fill``, then the market state and the held weights set."""
    size = policy.slices["breaker"].stop
    obs = np.full(size, fill, dtype=np.float32)
    sl = policy.slices
    obs[sl["market_volatility"]] = market_volatility
    obs[sl["market_trend"]] = market_trend
    weights = np.full(N + 1, held_risky / N)
    weights[-1] = 1.0 - held_risky
    obs[sl["weights"]] = weights
    return obs


def invested_fraction(policy, obs) -> float:
    return float(1.0 - policy.target_weights(np.atleast_2d(obs))[0, -1])


# ============================================================================================== decisions
def test_registered_everywhere():
    assert BASELINES["vol_timing"] is VolatilityTiming and BASELINES["trend_timing"] is TrendTiming
    assert (
        load_policy("vol_timing").kind == "baseline"
        and load_policy("baseline:trend_timing").name == "trend_timing"
    )


@pytest.mark.parametrize("held", [0.0, 1.0])
def test_vol_timing_decisions(held):
    p = rule(VolatilityTiming)
    assert (p.enter, p.exit) == (0.15, 0.20)
    # high volatility: de-risked (all cash), whatever is held; low: invested in equal weights
    high = p.target_weights(observation(p, held_risky=held, market_volatility=0.35)[None])[0]
    np.testing.assert_allclose(high, [0, 0, 0, 0, 1])
    low = p.target_weights(observation(p, held_risky=held, market_volatility=0.08)[None])[0]
    np.testing.assert_allclose(low, [0.25, 0.25, 0.25, 0.25, 0])
    # inside the no-trade band [0.15, 0.20] the rule keeps its state, read from the held weights
    assert invested_fraction(p, observation(p, held_risky=held, market_volatility=0.17)) == held


def test_vol_timing_hysteresis():
    p = rule(VolatilityTiming)
    path = [0.10, 0.16, 0.19, 0.21, 0.19, 0.16, 0.14, 0.16, 0.19, 0.21]  # rise, fall, rise through the band
    held, decisions = 0.0, []
    for v in path:
        held = invested_fraction(p, observation(p, held_risky=held, market_volatility=v))
        decisions.append(held)
    assert decisions == [1, 1, 1, 0, 0, 0, 1, 1, 1, 0]  # two switches, none inside [0.15, 0.20]


@pytest.mark.parametrize("held", [0.0, 1.0])
def test_trend_timing_decisions(held):
    p = rule(TrendTiming)
    assert invested_fraction(p, observation(p, held_risky=held, market_trend=-1.5)) == 0.0
    assert invested_fraction(p, observation(p, held_risky=held, market_trend=1.5)) == 1.0
    assert (
        invested_fraction(p, observation(p, held_risky=held, market_trend=0.2)) == held
    )  # inside [-0.5, 0.5]
    wide = rule(TrendTiming, band=2.0)
    assert invested_fraction(wide, observation(wide, held_risky=held, market_trend=-1.5)) == held


def test_trend_timing_ignores_volatility_and_vol_timing_ignores_trend():
    vol, trend = rule(VolatilityTiming), rule(TrendTiming)
    for v in (0.05, 0.5):
        assert (
            invested_fraction(
                trend, observation(trend, held_risky=1.0, market_trend=1.0, market_volatility=v)
            )
            == 1.0
        )
    for t in (-3.0, 3.0):
        assert (
            invested_fraction(vol, observation(vol, held_risky=1.0, market_trend=t, market_volatility=0.1))
            == 1.0
        )


def test_partial_derisking():
    p = rule(VolatilityTiming, derisked_exposure=0.4)
    np.testing.assert_allclose(
        p.target_weights(observation(p, held_risky=1.0, market_volatility=0.3)[None])[0],
        [0.1, 0.1, 0.1, 0.1, 0.6],
    )
    # the state threshold is the midpoint 0.7: holding 0.4 (de-risked) inside the band stays at 0.4
    assert invested_fraction(p, observation(p, held_risky=0.4, market_volatility=0.17)) == pytest.approx(0.4)
    assert invested_fraction(p, observation(p, held_risky=0.9, market_volatility=0.17)) == pytest.approx(1.0)


def test_bad_parameters_are_config_errors():
    with pytest.raises(ConfigError, match="enter <= exit"):
        rule(VolatilityTiming, enter=0.3, exit=0.2)
    with pytest.raises(ConfigError, match="enter <= exit"):
        rule(TrendTiming, band=-1.0)
    with pytest.raises(ConfigError, match="derisked_exposure"):
        rule(VolatilityTiming, derisked_exposure=1.0)


# ============================================================================================== causality
@pytest.mark.parametrize("cls", [VolatilityTiming, TrendTiming])
def test_rules_read_only_their_feature_and_the_held_weights(cls):
    """Whatever the rest of the observation holds, the action is the same: the rule reads nothing else."""
    p = rule(cls)
    rng = np.random.default_rng(0)
    read = {"market_volatility" if cls is VolatilityTiming else "market_trend", "weights"}
    for signal in (-2.0, 0.0, 0.12, 0.17, 0.3, 2.0):
        for held in (0.0, 0.3, 1.0):
            base = observation(p, held_risky=held, market_volatility=signal, market_trend=signal)
            noisy = np.tile(base, (8, 1))
            mask = np.ones(base.size, dtype=bool)
            for name in read:
                mask[p.slices[name]] = False
            noisy[:, mask] = rng.uniform(-10, 10, size=(8, int(mask.sum())))
            np.testing.assert_array_equal(p(noisy), np.tile(p(base), (8, 1)))


@pytest.mark.parametrize("name", ["vol_timing", "trend_timing"])
def test_rules_are_stateless(name):
    """Same observation, same action: after other calls, in any batch order, alone or in a batch."""
    env = gym.make("WealthArena/Portfolio-v0", n_assets=N, episode_length=30, disable_env_checker=True)
    p = make_baseline(name, env)
    obs, _ = env.reset(seed=3)
    seen = [obs]
    for _ in range(25):
        obs, *_ = env.step(p(obs))
        seen.append(obs)
    batch = np.stack(seen)
    first = p(batch)
    order = np.random.default_rng(1).permutation(len(batch))
    np.testing.assert_array_equal(p(batch[order]), first[order])
    np.testing.assert_array_equal(np.stack([p(o) for o in seen]), first)
    np.testing.assert_array_equal(make_baseline(name, env, seed=99)(batch), first)


def test_actions_go_through_the_env_action_mapping():
    """The rules emit actions with weights_to_actions, for either action mapping: the env follows them (all
    the way, or part of the way each step when the env rebalances partially)."""
    for mapping in ("simplex", "softmax"):
        env = gym.make(
            "WealthArena/Portfolio-v0",
            n_assets=N,
            episode_length=70,
            action_mapping=mapping,
            disable_env_checker=True,
        )
        p = make_baseline("vol_timing", env)
        obs, _ = env.reset(seed=0)
        for market_volatility, check in (
            (0.05, lambda invested: invested > 0.5),
            (0.5, lambda invested: invested < 0.25),
        ):
            for _ in range(30):  # calm: invest in equal weights (capped by the risk layer); stressed: to cash
                forced = obs.copy()
                forced[p.slices["market_volatility"]] = market_volatility
                obs, *_ = env.step(p(forced))
            invested = float(obs[p.slices["weights"]][:N].sum())
            assert check(invested), (mapping, market_volatility, invested)


def test_discrete_actions_sell_when_derisking():
    p = rule(VolatilityTiming, action_type="discrete", discrete_step=0.05)
    np.testing.assert_array_equal(p(observation(p, held_risky=1.0, market_volatility=0.4)), [0, 0, 0, 0])
    np.testing.assert_array_equal(p(observation(p, held_risky=0.0, market_volatility=0.05)), [2, 2, 2, 2])


def test_rules_evaluate_on_a_small_budget():
    budget = {"n_seeds": 2, "episode_length": 15, "bootstrap_reps": 50, "progress": False, "trajectories": 0}
    for name in ("vol_timing", "trend_timing"):
        doc = evaluate("Crash-v0", name, **budget)
        assert doc["aggregates"]["n_failed"] == 0 and doc["policy"]["spec"] == f"baseline:{name}"


# ============================================================================================== BullBear-v0
def test_bull_bear_market_has_visible_persistent_regimes():
    task = get_task("BullBear-v0")
    assert task is TASKS["BullBear-v0"] and task.env_id == "WealthArena/Portfolio-v0" and task.version == 0
    markets = [task.kwargs["market"]] + [s.market for s in task.scenarios if s.market is not None]
    assert [s.held_out for s in task.scenarios] == [False, True, True]
    for m in markets:
        (mu_bull, mu_bear, _), (vol_bull, vol_bear, _) = m.regime_drift, m.regime_volatility
        assert mu_bull > 0 > mu_bear and vol_bear >= 3 * vol_bull  # the bear shows in volatility
        p = np.asarray(m.regime_transition)
        assert p[0, 0] >= 0.98 and p[1, 1] >= 0.98  # weeks to months
        pi = stationary_distribution(p)
        assert np.all(pi > 0) and np.allclose(pi @ p, pi)  # irreducible: one stationary distribution
    held = [s.market for s in task.scenarios if s.held_out]
    assert all(m != task.kwargs["market"] for m in held)


# ============================================================================================== the example
def _example():
    spec = importlib.util.spec_from_file_location("causal_rules_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_lists_the_single_agent_synthetic_tasks():
    tasks = _example().synthetic_tasks()
    assert {"Calm-v0", "Regimes-v0", "Crash-v0", "HighCorrelation-v0", "BullBear-v0"} == set(tasks)


def test_example_table_on_a_small_budget(tmp_path, capsys):
    example = _example()
    out, js = tmp_path / "table.md", tmp_path / "rows.json"
    assert (
        example.main(
            [
                "--tasks",
                "Crash-v0",
                "--seeds",
                "2",
                "--episode-length",
                "12",
                "--bootstrap-reps",
                "30",
                "--output",
                str(out),
                "--json",
                str(js),
                "-q",
            ]
        )
        == 0
    )
    text = out.read_text()
    assert "SMALLER BUDGET" in text and "| task | entry | Sharpe" in text
    for name in ("equal_weight", "risk_parity", "vol_timing", "trend_timing", "cash"):
        assert f"| Crash-v0 | {name} |" in text
    rows = __import__("json").loads(js.read_text())
    ew = next(r for r in rows if r["entry"] == "equal_weight")
    assert ew["n_episodes"] == 4  # 2 seeds x 2 scenarios
    for r in rows:
        if r["entry"] != "equal_weight":
            assert r["paired_n"] == 4 and 0.0 <= r["paired_wins"] <= 1.0
            assert r["paired_delta"]["low"] <= r["paired_delta"]["point"] <= r["paired_delta"]["high"]
    assert text in capsys.readouterr().out


def test_paired_comparison_of_identical_entries():
    example = _example()
    scores = {"a": {1: 0.5, 2: -0.2}, "b": {1: 1.0, 2: 0.1}}
    same = example.compare(scores, scores, reps=50)
    assert same["paired_wins"] == 0.0 and same["paired_ties"] == 4 and same["paired_delta"]["point"] == 0.0
    assert same["p_improvement"]["point"] == 0.5
    better = example.compare(
        {s: {k: v + 1.0 for k, v in d.items()} for s, d in scores.items()}, scores, reps=50
    )
    assert better["paired_wins"] == 1.0 and better["paired_delta"]["point"] == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["equal_weight", "risk_parity", "vol_timing", "cash"])
def test_baselines_take_the_same_weights_with_an_action_dead_zone(name):
    """The baselines invert the mapping with the env's dead zone (w = 0 -> a = -1): the same held weights with
    d = 0 and d = 0.05 on a BullBear-v0 episode (exact zeros stay exact; float32 actions round the rest
    alike)."""
    task = get_task("BullBear-v0")
    held = {}
    for dead_zone in (0.0, 0.05):
        env = gym.make(
            task.env_id,
            **{
                **task.scenario_kwargs(task.scenarios[0]),
                "episode_length": 60,
                "action_dead_zone": dead_zone,
            },
            disable_env_checker=True,
        )
        p = make_baseline(name, env)
        assert p.action_dead_zone == dead_zone
        obs, _ = env.reset(seed=7)
        weights, done = [], False
        while not done:
            obs, _, terminated, truncated, _ = env.step(p(obs))
            weights.append(env.unwrapped.sim.info(0)["weights"].copy())  # held, float64, N assets then cash
            done = terminated or truncated
        held[dead_zone] = np.array(weights)
    np.testing.assert_allclose(held[0.05], held[0.0], rtol=1e-7, atol=1e-8)  # the d = 0 inverse: off by 2e-5
    np.testing.assert_array_equal(held[0.05] == 0.0, held[0.0] == 0.0)
    if name in ("vol_timing", "cash"):
        assert (held[0.0][:, :N] == 0.0).all(axis=1).any()  # exactly flat at times: the zeros were exercised
