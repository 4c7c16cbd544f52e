"""The one atomic-write helper (wealtharena_env._files) that results, boards, reports and the cache use."""

from __future__ import annotations

import os
import stat

import pytest

from wealtharena_env._files import atomic_write


def test_writes_text_and_bytes_and_creates_parents(tmp_path):
    target = tmp_path / "a" / "b" / "board.md"
    assert atomic_write(target, "héllo\n") == target
    assert target.read_text(encoding="utf-8") == "héllo\n"
    atomic_write(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert [p.name for p in target.parent.iterdir()] == ["board.md"]  # no temporary file left


def test_permissions_follow_the_umask_like_a_plain_open(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_write(tmp_path / "x.json", "{}")
        with open(tmp_path / "plain.json", "w") as fh:
            fh.write("{}")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "x.json").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "plain.json").stat().st_mode) == 0o640


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "results.json"
    target.write_text("old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_every_writer_of_the_package_uses_it():
    """No module writes files through its own temp-file-and-rename code."""
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "wealtharena_env"
    offenders = [
        str(p.relative_to(package))
        for p in package.rglob("*.py")
        if p.name != "_files.py" and ("mkstemp(" in p.read_text() or "os.replace(" in p.read_text())
    ]
    assert offenders == []
