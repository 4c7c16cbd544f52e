"""Shared test helpers."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest

#: the project's examples/ folder.
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

#: ../shared/data next to the checkout (present in CI, absent in users' checkouts).
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_file(name: str) -> Path:
    """Path of a file of ../shared/data, or skip the test when the folder is absent."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is not available (../shared/data is only present in the project's CI)")
    return path


@pytest.fixture()
def examples_path():
    """``examples/`` on ``sys.path`` for in-process unit tests of the example modules."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        yield EXAMPLES
    finally:
        sys.path.remove(str(EXAMPLES))


@pytest.fixture(scope="session")
def pz_test():
    """``pettingzoo.test`` (its import raises a DeprecationWarning in pettingzoo 1.27)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import pettingzoo.test as module
    return module


def pytest_addoption(parser):
    parser.addoption(
        "--run-live",
        action="store_true",
        default=False,
        help="run the opt-in smoke test against a real Alpaca paper account (needs APCA_API_KEY_ID / "
        "APCA_API_SECRET_KEY)",
    )
