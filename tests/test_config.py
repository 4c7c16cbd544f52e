"""Configuration validation: clear ConfigErrors, early."""

from __future__ import annotations

import numpy as np
import pytest

from wealtharena_env import arena_v0
from wealtharena_env.config import (
    REWARD_PRESETS,
    RISK_PRESETS,
    AgentProfile,
    ArenaConfig,
    CostModel,
    MarketConfig,
    RewardWeights,
    RiskLimits,
    arena_config,
    default_agents,
)
from wealtharena_env.errors import ConfigError
from wealtharena_env.sim import Simulation


@pytest.mark.parametrize(
    "factory, match",
    [
        (lambda: MarketConfig(n_assets=0), "n_assets"),
        (lambda: MarketConfig(regime_volatility=(0.1, -0.2, 0.3)), "regime_volatility"),
        (lambda: MarketConfig(regime_correlation=(0.1, 1.0, 0.3)), r"\[0, 1\)"),
        (lambda: MarketConfig(regime_transition=((0.5, 0.5, 0.1), (0, 1, 0), (0, 0, 1))), "row 0"),
        (lambda: MarketConfig(garch_alpha=0.5, garch_beta=0.6), "stationary"),
        (lambda: MarketConfig(student_t_dof=2.0), "dof"),
        (lambda: MarketConfig(initial_price=float("nan")), "finite"),
        (lambda: MarketConfig(impact=-1.0), "impact"),
        (lambda: CostModel(commission_bps=-1), "commission_bps"),
        (lambda: CostModel(fill_price="vwap"), "fill_price"),
        (lambda: AgentProfile(name=""), "name"),
        (lambda: AgentProfile(name="x", risk_profile="yolo"), "risk_profile"),
        (lambda: AgentProfile(name="x", initial_cash=0), "initial_cash"),
        (lambda: ArenaConfig(agents=()), "at least one"),
        (lambda: ArenaConfig(agents=(AgentProfile("a"), AgentProfile("a"))), "duplicate"),
        (lambda: ArenaConfig(window=30, warmup=10), "warmup"),
        (lambda: ArenaConfig(episode_length=0), "episode_length"),
        (lambda: ArenaConfig(action_type="both"), "action_type"),
        (lambda: arena_config(not_a_field=1), "unknown arena argument"),
        (lambda: ArenaConfig(warmup=30), "var_lookback"),
        (lambda: RiskLimits(max_position=0.0), "max_position"),
        (lambda: RiskLimits(max_position=float("nan")), "max_position"),
        (lambda: RiskLimits(max_position=0.5, max_leverage=0.4), "cannot exceed max_leverage"),
        (lambda: RiskLimits(var_limit=0.05, cvar_limit=0.04), "cvar_limit"),
        (lambda: RiskLimits(breach="explode"), "breach"),
        (lambda: RiskLimits(exit_mode="sell"), "exit_mode"),
        (lambda: RiskLimits(max_drawdown=1.5), "max_drawdown"),
        (lambda: RiskLimits(cooldown=0), "cooldown"),
        (lambda: RewardWeights(risk=-1.0), "penalty terms carry their sign"),
        (lambda: RewardWeights(sharpe_rate=1.0), "sharpe_rate"),
        (lambda: ArenaConfig(reward_mode="sharpe"), "reward_mode"),
        (lambda: ArenaConfig(action_dead_zone=-0.01), r"action_dead_zone must lie in \[0, 1\)"),
        (lambda: ArenaConfig(action_dead_zone=1.0), r"action_dead_zone must lie in \[0, 1\)"),
        (lambda: ArenaConfig(action_dead_zone=float("nan")), "action_dead_zone must be a finite number"),
        (lambda: ArenaConfig(action_dead_zone=float("inf")), "action_dead_zone must be a finite number"),
        (lambda: ArenaConfig(action_dead_zone="0.1"), "action_dead_zone must be a finite number"),
        (
            lambda: ArenaConfig(action_dead_zone=0.05, action_mapping="softmax"),
            "action_dead_zone=0.05 needs action_mapping='exponential'",
        ),
        (
            lambda: ArenaConfig(action_dead_zone=0.05, action_mapping="simplex"),
            "action_dead_zone=0.05 needs action_mapping='exponential'",
        ),
    ],
)
def test_bad_config_raises_config_error_naming_the_field(factory, match):
    with pytest.raises(ConfigError, match=match):
        factory()


def test_config_error_is_value_error():
    with pytest.raises(ValueError):
        MarketConfig(n_assets=-3)


def test_default_agents_and_sizes():
    cfg = ArenaConfig()
    assert cfg.agent_names == (
        "conservative_0",
        "conservative_1",
        "balanced_0",
        "aggressive_0",
        "aggressive_1",
    )
    assert cfg.n_assets == 10 and cfg.episode_length == 252
    assert [a.risk_profile for a in default_agents()] == ["conservative"] * 2 + ["balanced"] + [
        "aggressive"
    ] * 2


def test_env_keywords_build_the_config():
    env = arena_v0.parallel_env(
        n_assets=7, agents=["aggressive_0", "balanced_3"], max_cycles=9, window=5, warmup=60
    )
    assert env.config.n_assets == 7 and env.config.episode_length == 9
    assert env.possible_agents == ["aggressive_0", "balanced_3"]
    assert env.config.agents[0].risk_profile == "aggressive"
    assert env.observation_space("aggressive_0").shape == ((5 + 3) * 7 + 13,)
    with pytest.raises(ConfigError, match="either max_cycles or episode_length"):
        arena_v0.parallel_env(max_cycles=3, episode_length=4)
    with pytest.raises(ConfigError, match="render_mode"):
        arena_v0.parallel_env(render_mode="rgb")


def test_simulation_rejects_bad_calls():
    sim = Simulation(arena_config(n_assets=2, episode_length=3, window=2))
    with pytest.raises(ConfigError, match="reset"):
        sim.step(np.zeros((1, 5, 3)))
    sim.reset(seeds=[0])
    with pytest.raises(ConfigError, match="shape"):
        sim.step(np.zeros((1, 5, 2)))
    with pytest.raises(ConfigError, match="seeds"):
        sim.reset(seeds=[1, 2])
    with pytest.raises(ConfigError, match="batch_size"):
        Simulation(sim.config, batch_size=0)


def test_profiles_are_ordered_and_balanced_has_the_reference_values():
    balanced = RISK_PRESETS["balanced"]
    assert (
        balanced.max_position,
        balanced.volatility_budget,
        balanced.stop_loss,
        balanced.take_profit,
        balanced.max_drawdown,
        balanced.var_limit,
        balanced.max_correlation,
        balanced.max_leverage,
    ) == (0.15, 0.12, 0.08, 0.20, 0.15, 0.05, 0.70, 1.0)
    tighter = (
        "max_position",
        "volatility_budget",
        "var_limit",
        "cvar_limit",
        "max_drawdown",
        "max_correlation",
        "stop_loss",
    )
    for field in tighter:
        c, b, a = (getattr(RISK_PRESETS[p], field) for p in ("conservative", "balanced", "aggressive"))
        assert c < b < a, field
    assert RewardWeights() == REWARD_PRESETS["balanced"]
    assert (
        RewardWeights().profit,
        RewardWeights().risk,
        RewardWeights().cost,
        RewardWeights().stability,
        RewardWeights().sharpe,
        RewardWeights().momentum,
        RewardWeights().diversification,
    ) == (1.0, 4.0, 1.0, 0.0, 0.0, 0.0, 0.0)


def test_any_risk_field_is_overridable_per_agent():
    custom = AgentProfile("balanced_0", risk=RISK_PRESETS["balanced"].replace(max_position=0.5))
    env = arena_v0.parallel_env(
        agents=(custom, AgentProfile("aggressive_0", "aggressive")),
        n_assets=3,
        episode_length=3,
        action_mapping="simplex",
        rebalance_rate=1.0,
        rebalance_band=0.0,
        info_level="full",
    )
    env.reset(seed=0)
    _, _, _, _, infos = env.step({a: np.array([1, 0, 0, 0], dtype=np.float32) for a in env.agents})
    assert infos["balanced_0"]["weights"][0] > 0.4  # 50% cap (up to volatility / VaR scaling)
    assert infos["aggressive_0"]["weights"][0] < 0.31


def _preset_table(presets, header):
    import dataclasses

    names = [f.name for f in dataclasses.fields(presets["balanced"])]
    lines = [header, "|---|---:|---:|---:|"]
    for name in names:
        cells = []
        for p in ("conservative", "balanced", "aggressive"):
            v = getattr(presets[p], name)
            cells.append(f"{v:g}" if presets is REWARD_PRESETS else str(v))
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def test_preset_tables_in_docs_and_docstrings_match_the_code():
    from pathlib import Path

    import wealtharena_env.config as config_module

    root = Path(__file__).resolve().parents[1]
    risk = _preset_table(RISK_PRESETS, "| field | conservative | balanced (reference) | aggressive |")
    reward = _preset_table(REWARD_PRESETS, "| weight | conservative | balanced (default) | aggressive |")
    assert risk in (root / "docs" / "risk.md").read_text()
    assert reward in (root / "docs" / "reward.md").read_text()
    source = Path(config_module.__file__).read_text()
    for table in (risk, reward):
        for line in table.splitlines():
            assert "#:     " + line in source


def test_action_dead_zone_reaches_the_kernel_params():
    from wealtharena_env.config import DEFAULT_ACTION_DEAD_ZONE
    from wealtharena_env.sim import pack_params

    assert ArenaConfig().action_dead_zone == DEFAULT_ACTION_DEAD_ZONE == 0.3
    assert pack_params(ArenaConfig())["action_dead_zone"][0] == 0.3
    assert pack_params(ArenaConfig(action_dead_zone=0.0))["action_dead_zone"][0] == 0.0
    assert pack_params(ArenaConfig(action_dead_zone=0.05))["action_dead_zone"][0] == 0.05
    # only the exponential mapping has a dead zone: the others default to 0 (also when replaced into a config
    # that had the exponential default), 0 is fine with any mapping, and discrete actions ignore it
    assert ArenaConfig(action_mapping="softmax").action_dead_zone == 0.0
    assert ArenaConfig().replace(action_mapping="simplex").action_dead_zone == 0.0
    assert ArenaConfig(action_mapping="simplex").replace(action_mapping="exponential").action_dead_zone == 0.3
    ArenaConfig(action_mapping="softmax", action_dead_zone=0.0)
    ArenaConfig(action_type="discrete", action_dead_zone=0.1)
    env = arena_v0.parallel_env(n_assets=3, episode_length=3, action_dead_zone=0.1)
    assert env.config.action_dead_zone == 0.1
