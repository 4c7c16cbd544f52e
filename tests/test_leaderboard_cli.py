"""CLI smoke tests: `wealtharena tasks | evaluate | leaderboard | report | download` via cli.main([...])."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from wealtharena_env import cli

FAST = ["--seeds", "2", "--episode-length", "12", "--bootstrap-reps", "50", "-q"]


@pytest.mark.parametrize(
    "command", ["evaluate", "leaderboard", "report", "tasks", "download", "demo", "list"]
)
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: wealtharena {command}" in out
    for action in cli.build_parser()._subparsers._group_actions[0].choices[command]._actions:
        if action.help and action.option_strings:
            assert action.option_strings[-1] in out


def test_tasks_lists_the_suite(capsys):
    assert cli.main(["tasks"]) == 0
    out = capsys.readouterr().out
    for key in (
        "Calm-v0",
        "Regimes-v0",
        "Crash-v0",
        "HighCorrelation-v0",
        "BullBear-v0",
        "Impact-v0",
        "Dow30-v0",
    ):
        assert key in out
    assert "[held out]" in out and "evaluation seeds" in out
    assert cli.main(["tasks", "Calm-v0", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[0]["key"] == "Calm-v0" and len(data[0]["fingerprint"]) == 16
    assert cli.main(["tasks", "Nope-v0"]) == 2


def test_evaluate_leaderboard_report(tmp_path, capsys):
    out_dir = tmp_path / "results"
    code = cli.main(
        [
            "evaluate",
            "--task",
            "Calm-v0",
            "--policy",
            "equal_weight",
            "cash",
            "--output-dir",
            str(out_dir),
            *FAST,
        ]
    )
    assert code == 0
    files = sorted(p.name for p in out_dir.glob("*.json"))
    assert files == ["Calm-v0__cash.json", "Calm-v0__equal_weight.json"]
    printed = capsys.readouterr().out
    assert "Calm-v0" in printed and "mean sharpe_ratio" in printed
    md, page, marl = tmp_path / "board.md", tmp_path / "board.html", tmp_path / "marl.json"
    assert (
        cli.main(
            [
                "leaderboard",
                str(out_dir / "*.json"),
                "--markdown",
                str(md),
                "--html",
                str(page),
                "--marl-eval",
                str(marl),
            ]
        )
        == 0
    )
    text = md.read_text()
    assert re.search(r"\| 1 \| equal_weight \|", text) and "| 2 | cash |" in text
    assert "<table>" in page.read_text()
    assert set(json.loads(marl.read_text())["wealtharena"]["Calm-v0"]) == {"equal_weight", "cash"}
    assert cli.main(["leaderboard", str(out_dir)]) == 0  # a directory works too; prints Markdown
    assert "equal_weight" in capsys.readouterr().out
    pytest.importorskip("matplotlib")
    report_dir = tmp_path / "report"
    assert cli.main(["report", str(out_dir / "Calm-v0__equal_weight.json"), "-o", str(report_dir)]) == 0
    assert (report_dir / "index.html").exists() and (report_dir / "equity.png").exists()


def test_evaluate_reports_failures_with_exit_status(tmp_path, capsys):
    policy = tmp_path / "bad_policy.py"
    policy.write_text("def act(obs):\n    raise RuntimeError('kaboom')\n")
    out = tmp_path / "bad.json"
    code = cli.main(["evaluate", "--task", "Calm-v0", "--policy", f"{policy}:act", "-o", str(out), *FAST])
    assert code == 1
    err = capsys.readouterr().err
    assert "FAILED calm seed" in err and "kaboom" in err
    doc = json.loads(out.read_text())
    assert doc["aggregates"]["n_failed"] == 2 and "kaboom" in doc["failures"][0]["message"]


def test_cli_errors_are_clear(tmp_path, capsys):
    assert cli.main(["evaluate", "--task", "Calm-v0", "--policy", "nope", "-q"]) == 2
    assert "cannot interpret policy" in capsys.readouterr().err
    assert cli.main(["leaderboard", str(tmp_path / "none*.json")]) == 2
    assert "no results files" in capsys.readouterr().err
    bogus = tmp_path / "x.json"
    bogus.write_text("{}")
    assert cli.main(["leaderboard", str(bogus)]) == 2
    assert "not a wealtharena results file" in capsys.readouterr().err


def test_download_calls_download_to_cache(monkeypatch, capsys):
    from wealtharena_env.data import loaders

    calls = []

    def fake(tickers, start, end, interval, cache_dir, progress):
        calls.append((tickers, start, end, interval, cache_dir, progress))
        return {t: 10 for t in tickers}

    monkeypatch.setattr(loaders, "download_to_cache", fake)
    assert (
        cli.main(["download", "AAPL,MSFT", "SPY", "--start", "2020-01-01", "--end", "2020-02-01", "-q"]) == 0
    )
    assert calls == [(["AAPL", "MSFT", "SPY"], "2020-01-01", "2020-02-01", "1d", None, False)]
    assert "AAPL" in capsys.readouterr().out


def test_import_stays_light():
    code = (
        "import sys, wealtharena_env, wealtharena_env.cli, wealtharena_env.leaderboard.evaluate, "
        "wealtharena_env.leaderboard.board, wealtharena_env.analytics, wealtharena_env.render; "
        "heavy = [m for m in ('torch', 'ray', 'matplotlib', 'yfinance', 'stable_baselines3') if m in "
        "sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
