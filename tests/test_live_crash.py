"""Crash safety of the trading runner (issue 18): SIGKILL at random points, restart, same end state."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_historical import synthetic_frame

ROOT = Path(__file__).resolve().parents[1]
KILLS = 24


def _command(tmp: Path, name: str, bars: Path) -> list[str]:
    return [
        sys.executable, "-m", "wealtharena_env", "trade", "--policy", "momentum", "--broker", "paper",
        "--bars", str(bars), "--agents", "balanced_0", "aggressive_1", "conservative_2",
        "--journal", str(tmp / f"{name}.journal.sqlite"),
        "--paper-account", str(tmp / f"{name}.paper.sqlite"),
        "--run-id", "crash", "--bar-interval", "0.02", "-q",
    ]  # fmt: skip


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _journal(path: Path) -> list[tuple]:
    """The journal's entries without their wall-clock times (none while the file is being created)."""
    if not path.exists():
        return []
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT bar, kind, key, payload FROM entries ORDER BY seq").fetchall()
    except sqlite3.OperationalError:  # the runner was killed before it created the table
        return []
    finally:
        db.close()


def _account(path: Path) -> tuple[list, list, float, list]:
    db = sqlite3.connect(path)
    orders = db.execute("SELECT * FROM orders ORDER BY seq").fetchall()
    positions = db.execute("SELECT symbol, qty FROM positions ORDER BY symbol").fetchall()
    cash = db.execute("SELECT value FROM account WHERE key = 'cash'").fetchone()[0]
    submissions = db.execute("SELECT client_order_id, accepted FROM submissions ORDER BY seq").fetchall()
    db.close()
    return orders, positions, cash, submissions


@pytest.mark.slow
def test_killed_runner_restarts_to_the_uninterrupted_result(tmp_path):
    bars = tmp_path / "bars.csv"
    synthetic_frame(n_days=200).to_csv(bars, index=False)
    done = subprocess.run(
        _command(tmp_path, "clean", bars),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    started = time.perf_counter()
    subprocess.run(
        _command(tmp_path, "probe", bars), env=_env(), capture_output=True, timeout=300, check=True
    )
    span = time.perf_counter() - started  # one full run, startup included

    rng = np.random.default_rng(18)
    journal = tmp_path / "killed.journal.sqlite"
    kills = 0
    mid_run = 0  # kills that landed after trading began and before it ended
    runs = 0
    while True:
        runs += 1
        assert runs < 200, "the runner never finished"
        before = len(_journal(journal))
        proc = subprocess.Popen(
            _command(tmp_path, "killed", bars), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        if kills < KILLS:
            # wait until the restarted runner has journaled something new (it is trading, past its replay of
            # the journal), then kill it at a random moment within the next bars
            deadline = time.perf_counter() + 3 * span
            while proc.poll() is None and time.perf_counter() < deadline:
                if len(_journal(journal)) > before:
                    break
                time.sleep(0.01)
            try:
                proc.wait(timeout=float(rng.uniform(0.0, 0.3)))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                after = len(_journal(journal))
                mid_run += after > before
                continue
        _out, err = proc.communicate(timeout=300)
        if proc.returncode == 0:
            break
        raise AssertionError(f"the restarted runner failed: {err.decode()[-2000:]}")
    assert kills == KILLS and mid_run >= 20, (kills, mid_run)  # >= 20 kills landed mid-trading

    clean = _journal(tmp_path / "clean.journal.sqlite")
    killed = _journal(journal)
    assert [r[:3] for r in killed] == [r[:3] for r in clean]
    assert killed == clean  # every bar, decision, order, fill, step and reconciliation, bit for bit
    orders, positions, cash, submissions = _account(tmp_path / "killed.paper.sqlite")
    clean_orders, clean_positions, clean_cash, clean_submissions = _account(tmp_path / "clean.paper.sqlite")
    assert orders == clean_orders and positions == clean_positions and cash == clean_cash
    sent = [cid for cid, _ in submissions]
    assert len(sent) == len(set(sent)) and all(ok for _, ok in submissions)  # no ID ever reached it twice
    assert [c for c, _ in clean_submissions] == sent
