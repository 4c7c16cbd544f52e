"""The docs cannot rot: every code block of README.md and docs/ that claims to run is run.

``python`` blocks of one page run in order in one fresh interpreter (like a notebook: a block may use the
names an earlier block of the same page defined), in a temporary working directory with a temporary data
cache. ``bash`` blocks run when every command in them is a quick, side-effect-free ``wealtharena`` command
(demo, list, tasks, help, version); install commands (``pip install ...``) are never run here
(tests/test_packaging.py installs the built wheel instead), nor is the test suite itself
(``python -m pytest``). Any other command makes the test fail until the block is marked.

A block is not run when the last non-blank line before its fence is a marker comment:

* ``<!-- skip: reason -->`` — not runnable as written (needs network, a user's file, a long run...);
* ``<!-- requires: torch stable_baselines3 -->`` — runs only when these modules import (skipped otherwise).

Blocks in pages whose authors have not added markers yet are listed in :data:`NOT_RUNNABLE` with the reason.

Also here: the env cards equal what docs/gen_env_cards.py generates, ``mkdocs build --strict`` passes,
README's links resolve, and the command line's help is complete (``wealtharena`` and
``python -m wealtharena_env``).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

#: Pages whose code blocks are checked.
PAGES = sorted([ROOT / "README.md", *DOCS.glob("*.md"), *DOCS.glob("envs/*.md")])

#: Blocks that cannot run as written, in pages whose owners have not marked them (yet): (page, text in the
#: block) -> why. A marker comment before the block does the same and is preferred.
NOT_RUNNABLE: dict[tuple[str, str], str] = {
    ("docs/data.md", 'load_market_data("prices.csv.gz")'): "reads the user's own file prices.csv.gz",
    ("docs/data.md", "from_yfinance("): "downloads from Yahoo Finance (network)",
    (
        "docs/indicators.md",
        "ind.rsi(close, 14)",
    ): "fragment: close, close_TN and index_close_T are the user's arrays",
    ("docs/metrics.md", "summary_metrics(returns, benchmark=None"): "a signature, not code",
    ("docs/benchmarks.md", "python benchmarks/bench_step.py"): (
        "the benchmarks take minutes and need the peers of benchmarks/requirements.txt"
    ),
    (
        "docs/leaderboard.md",
        "--policy my_package.agents:act",
    ): "placeholders for the user's own policies and files",
    ("docs/leaderboard.md", "--policy baselines --data"): (
        "the full baseline evaluation (about 30 s, reads ../shared/data, writes "
        "docs/results/leaderboard.html)"
    ),
}

#: ``wealtharena`` subcommands that are quick and write nothing (bash blocks made only of these run).
SAFE_SUBCOMMANDS = {"demo", "list", "tasks"}
#: Set-up commands: installing packages, or running this very test suite. Documented, never run here.
INSTALL = re.compile(r"^(python -m )?(pip install|pytest)\b")

PYTHON_TIMEOUT = 600  # seconds per page (the first run on a machine compiles the Numba kernels)
BASH_TIMEOUT = 300

MARKER = re.compile(r"^<!--\s*(skip|requires)\s*:?\s*(.*?)\s*-->$")
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")


@dataclass(frozen=True)
class Block:
    page: str  # relative to the repository
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    marker: tuple[str, str] | None  # ("skip", reason) or ("requires", "module ...")

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def extract_blocks(path: Path) -> list[Block]:
    """Fenced code blocks of a Markdown page, with the marker comment just before each (if any)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    page = path.relative_to(ROOT).as_posix()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, lang = match.groups()
        start = i
        body = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        i += 1  # closing fence
        previous = next((lines[k].strip() for k in range(start - 1, -1, -1) if lines[k].strip()), "")
        marker = MARKER.match(previous)
        code = textwrap.dedent("\n".join(line.removeprefix(indent) for line in body))
        blocks.append(
            Block(
                page,
                start + 1,
                lang.lower(),
                code + "\n",
                (marker.group(1), marker.group(2)) if marker else None,
            )
        )
    return blocks


def why_not_run(block: Block) -> str | None:
    """The reason a block is not run (None: run it). ``requires`` markers skip when a module is missing."""
    if block.marker is not None:
        kind, value = block.marker
        if kind == "skip":
            return value or "marked <!-- skip -->"
        missing = [
            name for name in re.split(r"[\s,]+", value) if name and importlib.util.find_spec(name) is None
        ]
        if missing:
            return f"needs {', '.join(missing)}"
    for (page, text), reason in NOT_RUNNABLE.items():
        if block.page == page and text in block.code:
            return reason
    return None


ALL_BLOCKS = [block for page in PAGES for block in extract_blocks(page)]
PYTHON_PAGES = sorted({b.page for b in ALL_BLOCKS if b.lang in ("python", "py")})
BASH_BLOCKS = [b for b in ALL_BLOCKS if b.lang in ("bash", "sh", "shell", "console")]


def _environment(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "WEALTHARENA_CACHE_DIR": str(tmp_path / "cache"),
            "MPLBACKEND": "Agg",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")])),
            "COLUMNS": "100",
        }
    )
    return env


RUNNER = r"""
import json, sys, traceback
blocks = json.load(open(sys.argv[1]))
namespace = {"__name__": "__main__"}
for block in blocks:
    print(f"--- {block['where']}", flush=True)
    try:
        exec(compile(block["code"], block["where"], "exec"), namespace)
    except BaseException:
        traceback.print_exc()
        print(f"FAILED at {block['where']}", file=sys.stderr, flush=True)
        sys.exit(1)
"""


def test_blocks_are_found():
    """The extractor sees README's blocks (a guard against a silently empty parametrization)."""
    readme = [b for b in ALL_BLOCKS if b.page == "README.md"]
    assert any(b.lang == "python" for b in readme)
    assert any("wealtharena demo" in b.code for b in readme)
    languages = {b.lang for b in ALL_BLOCKS}
    assert languages <= {"python", "bash", "text", ""}, (
        f"a code block language this test does not handle: {languages}"
    )


@pytest.mark.parametrize("page", PYTHON_PAGES)
def test_python_blocks_run(page: str, tmp_path: Path):
    import json

    blocks = [b for b in ALL_BLOCKS if b.page == page and b.lang in ("python", "py")]
    runnable = [b for b in blocks if why_not_run(b) is None]
    if not runnable:
        pytest.skip("; ".join(f"{b.where}: {why_not_run(b)}" for b in blocks))
    spec = tmp_path / "blocks.json"
    spec.write_text(json.dumps([{"where": b.where, "code": b.code} for b in runnable]))
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, str(spec)],
        cwd=tmp_path,
        env=_environment(tmp_path),
        capture_output=True,
        text=True,
        check=False,
        timeout=PYTHON_TIMEOUT,
    )
    assert result.returncode == 0, (
        f"a code block of {page} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    )


def _bash_commands(code: str) -> list[str]:
    """The commands of a bash block (comments dropped, backslash continuations joined, ``&&`` split)."""
    text = re.sub(r"\\\n\s*", " ", code)
    commands = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        commands += [part.strip() for part in line.split("&&") if part.strip()]
    return commands


def _is_safe(command: str) -> bool:
    words = shlex.split(command)
    if words[:1] == ["wealtharena"]:
        args = words[1:]
    elif words[:3] == ["python", "-m", "wealtharena_env"]:
        args = words[3:]
    else:
        return False
    return (
        not args or args[0] in SAFE_SUBCOMMANDS or "--help" in args or "-h" in args or args == ["--version"]
    )


@pytest.mark.parametrize("block", BASH_BLOCKS, ids=[b.where for b in BASH_BLOCKS])
def test_bash_blocks_run(block: Block, tmp_path: Path):
    reason = why_not_run(block)
    if reason is not None:
        pytest.skip(reason)
    commands = [c for c in _bash_commands(block.code) if not INSTALL.match(c)]
    unsafe = [c for c in commands if not _is_safe(c)]
    assert not unsafe, (
        f"{block.where}: commands this test does not know to be quick and harmless: {unsafe}; "
        "mark the block <!-- skip: reason --> or add the command to SAFE_SUBCOMMANDS"
    )
    if not commands:
        pytest.skip("set-up commands only (tests/test_packaging.py installs the built wheel)")
    env = _environment(tmp_path)
    for command in commands:
        words = shlex.split(command)
        if words[0] == "wealtharena":  # the console script, or the same program when it is not on PATH
            words = [
                shutil.which("wealtharena") or sys.executable,
                *([] if shutil.which("wealtharena") else ["-m", "wealtharena_env"]),
                *words[1:],
            ]
        elif words[0] == "python":
            words[0] = sys.executable
        result = subprocess.run(
            words, cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=BASH_TIMEOUT
        )
        assert result.returncode == 0, f"{block.where}: `{command}` failed:\n{result.stdout}\n{result.stderr}"
        assert result.stdout.strip(), f"{block.where}: `{command}` printed nothing"


def test_every_block_is_run_or_has_a_reason():
    """A summary a reviewer can read: which blocks are not run, and why (printed with -s / -rA)."""
    for block in ALL_BLOCKS:
        if block.lang in ("python", "py", "bash", "sh", "shell", "console"):
            reason = why_not_run(block)
            if reason is not None:
                print(f"not run: {block.where}: {reason}")
    pages = {b.page for b in ALL_BLOCKS}
    for page, text in NOT_RUNNABLE:  # an entry whose page vanished is stale
        assert page not in {p.relative_to(ROOT).as_posix() for p in PAGES} or page in pages, page


# ---------------------------------------------------------------------------------------------- README
def test_readme_keeps_the_set_up_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "```bash\npip install . && wealtharena demo\n```" in readme
    assert '```bash\npip install -e ".[test]" && python -m pytest\n```' in readme


def test_readme_and_docs_relative_links_resolve():
    """Every relative link / image of README.md points at a file of the repository (PyPI shows README too)."""
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r'<img[^>]+src="([^"]+)"', text)
    assert any("arena_render.png" in t for t in targets), "README should show docs/results/arena_render.png"
    for target in targets:
        if re.match(r"[a-z]+://|#|mailto:", target):
            continue
        path = (ROOT / target.split("#")[0]).resolve()
        assert path.exists(), f"README.md links to {target}, which does not exist"


# ---------------------------------------------------------------------------------------------- env cards
def _gen_env_cards():
    spec = importlib.util.spec_from_file_location("gen_env_cards", DOCS / "gen_env_cards.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_env_cards"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_env_cards_equal_the_generated_ones():
    gen = _gen_env_cards()
    for path, text in gen.render_all().items():
        assert path.exists(), f"{path} is missing: run `python docs/gen_env_cards.py`"
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.relative_to(ROOT)} differs from the env docstring: run `python docs/gen_env_cards.py`"
        )


def test_every_registered_id_has_a_card():
    gen = _gen_env_cards()
    missing = gen.registered_ids() - gen.card_ids()
    assert not missing, (
        f"registered IDs without an env card (add them to CARDS in docs/gen_env_cards.py): {missing}"
    )
    unknown = gen.card_ids() - gen.registered_ids()
    assert not unknown, f"env cards for IDs that are not registered: {unknown}"


def test_sphinx_roles_become_markdown():
    gen = _gen_env_cards()
    text = "see :class:`~wealtharena_env.sim.Simulation`, :func:`load_policy` and :mod:`.risk`"
    assert gen.roles_to_markdown(text) == (
        "see [`Simulation`][wealtharena_env.sim.Simulation], `load_policy` and `risk`"
    )


# ---------------------------------------------------------------------------------------------- site
@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path: Path):
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        if importlib.util.find_spec(module.split(".")[0]) is None:
            pytest.skip(f"{module} is not installed (pip install -e '.[docs]')")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "index.html").exists()
    assert (tmp_path / "site" / "envs" / "arena" / "index.html").exists()
    assert (tmp_path / "site" / "api" / "envs" / "index.html").exists()


# ---------------------------------------------------------------------------------------------- CLI help
def _parser() -> argparse.ArgumentParser:
    from wealtharena_env.cli import build_parser

    return build_parser()


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_cli_help_is_complete():
    """Every command has a one-line help and a description; every option and argument says what it does."""
    parser = _parser()
    assert parser.description
    commands = _subparsers(parser)
    assert {"demo", "list", "tasks", "evaluate", "leaderboard", "report", "download"} <= set(commands)
    choices = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))._choices_actions
    assert all(c.help for c in choices), "a command without a one-line help in `wealtharena --help`"
    for name, sub in commands.items():
        assert sub.description, f"`wealtharena {name} --help` has no description"
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help and action.help is not argparse.SUPPRESS, (
                f"`wealtharena {name}`: {action.option_strings or action.dest} has no help text"
            )


def test_cli_help_has_no_format_leftovers():
    for name, sub in {"": _parser(), **_subparsers(_parser())}.items():
        text = sub.format_help()
        assert "%%" not in text and "%(" not in text, (
            f"`wealtharena {name} --help` shows a format leftover:\n{text}"
        )


def _run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        args,
        cwd=tmp_path,
        env=_environment(tmp_path),
        capture_output=True,
        text=True,
        check=False,
        timeout=BASH_TIMEOUT,
    )


@pytest.mark.parametrize(
    "command",
    [[], ["demo"], ["list"], ["tasks"], ["evaluate"], ["leaderboard"], ["report"], ["download"]],
    ids=lambda c: " ".join(c) or "wealtharena",
)
def test_help_of_the_console_script_and_the_module_agree(command: list[str], tmp_path: Path):
    script = shutil.which("wealtharena")
    if script is None:
        pytest.skip("the `wealtharena` console script is not on PATH (pip install -e .)")
    by_script = _run([script, *command, "--help"], tmp_path)
    by_module = _run([sys.executable, "-m", "wealtharena_env", *command, "--help"], tmp_path)
    assert by_script.returncode == 0 and by_module.returncode == 0, by_script.stderr + by_module.stderr
    assert by_script.stdout == by_module.stdout
    assert by_script.stdout.startswith("usage: wealtharena")


def test_module_runs_like_the_console_script(tmp_path: Path):
    from wealtharena_env import __version__

    by_module = _run([sys.executable, "-m", "wealtharena_env", "--version"], tmp_path)
    assert by_module.returncode == 0 and by_module.stdout.strip() == f"wealtharena-env {__version__}"
    demo = ["demo", "--episode-length", "20", "--n-assets", "4"]
    by_module = _run([sys.executable, "-m", "wealtharena_env", *demo], tmp_path)
    assert by_module.returncode == 0, by_module.stderr
    script = shutil.which("wealtharena")
    if script is not None:
        by_script = _run([script, *demo], tmp_path)
        assert by_script.returncode == 0, by_script.stderr
        assert by_script.stdout == by_module.stdout
    no_args = _run([sys.executable, "-m", "wealtharena_env"], tmp_path)
    assert no_args.returncode == 0 and no_args.stdout.startswith("usage: wealtharena")


# ---------------------------------------------------------------------------------------------- CHANGELOG
def test_changelog_follows_keep_a_changelog():
    """An ``[Unreleased]`` section first, then ``[x.y.z] - YYYY-MM-DD`` releases, newest first; only the
    standard subsections, each with at least one entry."""
    lines = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "# Changelog"
    versions = [line for line in lines if line.startswith("## ")]
    assert versions and versions[0] == "## [Unreleased]", versions[:1]
    released = versions[1:]
    for line in released:
        assert re.fullmatch(r"## \[\d+\.\d+\.\d+([a-z0-9.]*)\] - \d{4}-\d{2}-\d{2}", line), line
    assert released == sorted(
        released, key=lambda v: [int(x) for x in re.findall(r"\d+", v)[:3]], reverse=True
    )
    allowed = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
    section = None
    for i, line in enumerate(lines):
        if line.startswith("### "):
            assert line[4:] in allowed, f"CHANGELOG.md:{i + 1}: {line!r} is not a Keep a Changelog section"
            section = line
            entries = next((ln for ln in lines[i + 1 :] if ln.strip()), "")
            assert entries.startswith("- "), f"CHANGELOG.md:{i + 1}: {section} has no entries"
