"""Thin API adapters over :class:`wealtharena_env.sim.Simulation`."""

from wealtharena_env.envs.arena import ArenaEnv
from wealtharena_env.envs.portfolio import PortfolioEnv

__all__ = ["ArenaEnv", "PortfolioEnv"]
