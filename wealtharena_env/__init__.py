"""wealtharena-env: multi-agent portfolio-trading environments for reinforcement learning."""

from wealtharena_env._version import __version__
from wealtharena_env.errors import ConfigError, WealthArenaDataError

__all__ = ["__version__", "ConfigError", "WealthArenaDataError"]
