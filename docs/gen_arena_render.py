"""Draw docs/results/arena_render.png, the README's picture: Arena-v0's five agents playing the demo's
baseline policies for half an episode, rendered once with ``render_mode="rgb_array"``.

    python docs/gen_arena_render.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "results" / "arena_render.png"


def main() -> None:
    from matplotlib.image import imsave

    from wealtharena_env import arena_v0
    from wealtharena_env.cli import DEMO_POLICIES
    from wealtharena_env.leaderboard.baselines import make_baseline
    from wealtharena_env.render import render_rgb_array

    env = arena_v0.parallel_env(n_assets=10, episode_length=126, render_mode="rgb_array")
    obs, _ = env.reset(seed=7)
    policies, counters = {}, {}
    for i, agent in enumerate(env.possible_agents):
        profile = env.config.agents[i].risk_profile
        k = counters.get(profile, 0)
        counters[profile] = k + 1
        choices = DEMO_POLICIES[profile]
        policies[agent] = make_baseline(choices[k % len(choices)], env, seed=7)
    while env.agents:
        obs, *_ = env.step({a: policies[a](obs[a]) for a in env.agents})
    labels = [f"{a} ({policies[a].name})" for a in env.possible_agents]
    image = render_rgb_array(env.sim, labels)
    imsave(OUT, np.ascontiguousarray(image))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
