"""Code habits checked on every run: ruff (the rules of pyproject.toml's [tool.ruff]) over the package, the tests,
the benchmarks and the examples. ruff comes with the test extra (``pip install -e ".[test]"``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_passes_on_the_package_tests_benchmarks_and_examples():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "wealtharena_env", "tests",
                             "benchmarks", "examples"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert "No module named ruff" not in result.stderr, "ruff is missing: pip install -e '.[test]'"
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
