"""Code habits checked on every run: ruff (the rules of pyproject.toml's [tool.ruff]) over the package, the
tests, the benchmarks and the examples, and mypy (pyproject.toml's [tool.mypy]) over the package, which ships
``py.typed``. Both come with the test extra (``pip install -e ".[test]"``)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_passes_on_the_package_tests_benchmarks_and_examples():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "wealtharena_env",
            "tests",
            "benchmarks",
            "examples",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "No module named ruff" not in result.stderr, "ruff is missing: pip install -e '.[test]'"
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_ruff_format_is_clean():
    """``ruff format --check`` over the same trees (ruff is pinned in the test extra: formatters change
    between versions)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "format",
            "--check",
            "--no-cache",
            "wealtharena_env",
            "tests",
            "benchmarks",
            "examples",
            "docs/gen_env_cards.py",
            "docs/gen_arena_render.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "No module named ruff" not in result.stderr, "ruff is missing: pip install -e '.[test]'"
    assert result.returncode == 0, (
        "run `ruff format` on these files:\n" + result.stdout[-6000:] + result.stderr[-2000:]
    )


def test_mypy_passes_on_the_package():
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (it comes with the test extra: pip install -e '.[test]')")
    # The [tool.mypy] settings apply (run from the root). The installed packages are this interpreter's: mypy
    # would otherwise look for a `python3.11` (the configured python_version) when the tests run on another
    # Python. The cache (.mypy_cache, git-ignored) makes a repeat run take seconds.
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--python-executable", sys.executable],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
