"""Reports and plots built on :mod:`wealtharena_env.kernels.metrics` (matplotlib: extra ``plot``).

``from wealtharena_env.analytics import write_report`` — matplotlib is imported only when a plot is drawn.
"""

from wealtharena_env.analytics.report import PLOT_NAMES, agent_summary, write_report

__all__ = ["PLOT_NAMES", "agent_summary", "write_report"]
