"""Rendered images and report PNGs: shape, dtype, not blank."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from wealtharena_env import arena_v0
from wealtharena_env.analytics import PLOT_NAMES, write_report
from wealtharena_env.leaderboard.evaluate import evaluate
from wealtharena_env.leaderboard.results import write_results
from wealtharena_env.render import DEFAULT_SIZE, render_rgb_array


def _not_blank(img: np.ndarray) -> None:
    assert img.std() > 5.0  # more than a flat background
    assert len(np.unique(img.reshape(-1, img.shape[-1]), axis=0)) > 20  # several colours


def test_render_rgb_array_shape_dtype_not_blank():
    env = arena_v0.parallel_env(n_assets=5, episode_length=12)
    blank = render_rgb_array(env.sim, env.possible_agents)  # before reset: a message, no crash
    assert blank.shape == (DEFAULT_SIZE[1], DEFAULT_SIZE[0], 3) and blank.dtype == np.uint8
    env.reset(seed=3)
    first = render_rgb_array(env.sim, env.possible_agents)
    for _ in range(6):
        _obs, *_ = env.step({a: env.action_space(a).sample() for a in env.agents})
        img = render_rgb_array(env.sim, env.possible_agents)
    assert img.shape == (400, 800, 3) and img.dtype == np.uint8 and img.flags["C_CONTIGUOUS"]
    _not_blank(img)
    assert not np.array_equal(first, img)
    small = render_rgb_array(env.sim, env.possible_agents, size=(320, 200))
    assert small.shape == (200, 320, 3)


def test_render_a_batch_member():
    from wealtharena_env.config import arena_config
    from wealtharena_env.sim import Simulation

    sim = Simulation(arena_config(n_assets=3, episode_length=5), batch_size=2)
    sim.reset(seeds=[1, 2])
    for _ in range(3):
        sim.step(np.random.default_rng(0).uniform(0, 1, (2, sim.n_agents, sim.n_action)))
    a = render_rgb_array(sim, [f"agent{i}" for i in range(sim.n_agents)], env_index=0)
    b = render_rgb_array(sim, [f"agent{i}" for i in range(sim.n_agents)], env_index=1)
    assert a.shape == b.shape and not np.array_equal(a, b)


def test_report_writes_pngs_and_tear_sheet(tmp_path):
    import matplotlib.image as mpimg

    doc = evaluate(
        "Impact-v0",
        "momentum",
        n_seeds=2,
        episode_length=12,
        bootstrap_reps=50,
        progress=False,
        trajectories=1,
    )
    path = write_results(doc, tmp_path / "impact.json")
    index = write_report(path, tmp_path / "report")
    html = index.read_text()
    assert "Impact-v0" in html and "vs_momentum_herd" in html
    for name in PLOT_NAMES:
        png = tmp_path / "report" / f"{name}.png"
        assert png.exists(), name
        assert f"{name}.png" in html
        img = mpimg.imread(png)
        assert img.ndim == 3 and img.shape[2] in (3, 4) and img.dtype == np.float32
        assert img.shape[0] >= 200 and img.shape[1] >= 400
        _not_blank((img[..., :3] * 255).astype(np.uint8))


def test_report_without_trajectories(tmp_path):
    doc = evaluate(
        "Calm-v0",
        "equal_weight",
        n_seeds=2,
        episode_length=8,
        bootstrap_reps=20,
        progress=False,
        trajectories=0,
    )
    index = write_report(doc, tmp_path)
    assert "No trajectories" in index.read_text()
    assert (tmp_path / "agents.png").exists() and (tmp_path / "scores.png").exists()
    assert not (tmp_path / "equity.png").exists()


def test_a_seat_played_by_several_populations_is_labelled_with_all_of_them():
    """On Impact-v0 a background seat is played by a different baseline in each scenario: its averaged row
    names every population's baseline, not only the first one's."""
    from wealtharena_env.analytics.report import agent_summary

    def episode(role_b: str, sharpe: float) -> dict:
        return {
            "status": "ok",
            "agents": {
                "focal_0": {"role": "focal", "sharpe_ratio": 1.0},
                "seat_1": {"role": f"background:{role_b}", "sharpe_ratio": sharpe},
            },
        }

    doc = {
        "episodes": [
            episode("momentum", 0.2),
            episode("buy_and_hold", 0.4),
            episode("momentum", 0.6),
            {"status": "failed", "agents": {}},
        ]
    }
    summary = agent_summary(doc)
    assert summary["seat_1"]["role"] == "background: momentum / buy_and_hold"
    assert summary["seat_1"]["sharpe_ratio"] == pytest.approx(0.4)
    assert summary["focal_0"]["role"] == "focal"
