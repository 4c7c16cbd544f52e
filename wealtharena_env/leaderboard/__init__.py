"""Baselines, tasks, evaluation and the leaderboard."""
