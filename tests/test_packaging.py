"""Release readiness: ``python -m build`` and ``twine check`` pass, the version is single-sourced, the wheel
and sdist hold what they should, and both install into a fresh virtual environment with only the core
dependencies, where ``wealtharena demo`` runs.

Everything happens in temporary directories: the checkout is copied (without caches, venvs and build output)
and built there, so the test never writes into the working tree. Building and installing use PyPI (build
isolation downloads setuptools; the fresh venvs download numpy, pandas, numba, gymnasium and pettingzoo, or
take them from pip's cache). Those tests are marked ``slow`` (about 2 minutes together: most of it is
downloading and the first compilation of the Numba kernels in the fresh install); slow tests still run in CI.

Also here (fast): the GitHub workflows run README's test command and publish by trusted publishing on ``v*``
tags.
"""

from __future__ import annotations

import email.parser
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = None
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "wealtharena_env"

slow = pytest.mark.slow

#: Not part of a build: caches, virtual environments, previous build output, run artefacts.
_IGNORE_ANYWHERE = shutil.ignore_patterns(
    ".git",
    ".venv*",
    "__pycache__",
    "*.py[cod]",
    "*.nbi",
    "*.nbc",
    "*.egg-info",
    ".pytest_cache",
    ".hypothesis",
    ".ruff_cache",
    ".benchmarks",
)
_IGNORE_AT_ROOT = {"venv", "build", "dist", "site", "results", "runs"}


def _copy_ignore(directory: str, names: list[str]) -> set[str]:
    ignored = set(_IGNORE_ANYWHERE(directory, names))
    if Path(directory).resolve() == ROOT:
        ignored |= _IGNORE_AT_ROOT & set(names)
    return ignored


#: Extras that must NOT come with a core install.
NOT_CORE = (
    "matplotlib",
    "yfinance",
    "torch",
    "stable_baselines3",
    "ray",
    "redis",
    "pyarrow",
    "mkdocs",
    "alpaca",
)
CORE = ("numpy", "pandas", "numba", "gymnasium", "pettingzoo")


def _version() -> str:
    text = (PACKAGE / "_version.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    assert match, 'wealtharena_env/_version.py must define __version__ = "..." (the single source)'
    return match.group(1)


def _clean_env() -> dict[str, str]:
    """The environment for child processes: nothing that points back into the checkout."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "NUMBA_CACHE_DIR", "PIP_REQUIRE_VIRTUALENV")
    }
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", MPLBACKEND="Agg", PYTHONNOUSERSITE="1")
    return env


def _run(
    args: list[str | Path], cwd: Path, timeout: float = 900, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env={**_clean_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, (
        f"`{' '.join(map(str, args))}` failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """sdist and wheel built by ``python -m build`` from a copy of the checkout (the wheel from the sdist)."""
    if importlib.util.find_spec("build") is None:
        pytest.skip("`build` is not installed (it is in the `test` extra)")
    tmp = tmp_path_factory.mktemp("build")
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=_copy_ignore)
    out = tmp / "dist"
    _run([sys.executable, "-m", "build", "--outdir", out, source], cwd=tmp)
    wheels, sdists = sorted(out.glob("*.whl")), sorted(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in out.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0], "dir": out}


@slow
def test_twine_check(dist: dict[str, Path]):
    if importlib.util.find_spec("twine") is None:
        pytest.skip("`twine` is not installed (it is in the `test` extra)")
    result = _run(
        [sys.executable, "-m", "twine", "check", "--strict", dist["wheel"], dist["sdist"]], cwd=dist["dir"]
    )
    assert result.stdout.count("PASSED") == 2, result.stdout


@slow
def test_version_is_single_sourced(dist: dict[str, Path]):
    version = _version()
    assert dist["wheel"].name.startswith(f"wealtharena_env-{version}-py3-none-any"), dist["wheel"].name
    assert dist["sdist"].name == f"wealtharena_env-{version}.tar.gz"
    if tomllib is None:
        pytest.skip("tomllib needs Python 3.11")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in pyproject["project"], "pyproject.toml must not repeat the version"
    assert "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "wealtharena_env._version.__version__"
    }
    import wealtharena_env

    assert wealtharena_env.__version__ == version


@slow
def test_wheel_contents(dist: dict[str, Path]):
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        names = set(wheel.namelist())
        info_dir = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
        metadata = email.parser.Parser().parsestr(wheel.read(f"{info_dir}/METADATA").decode())
        entry_points = wheel.read(f"{info_dir}/entry_points.txt").decode()
    modules = {p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}
    assert modules <= names, f"modules missing from the wheel: {sorted(modules - names)}"
    assert "wealtharena_env/py.typed" in names
    assert not [n for n in names if re.search(r"__pycache__|\.py[cod]$|\.nb[ic]$", n)], "caches in the wheel"
    assert not [n for n in names if n.startswith(("tests/", "docs/", "benchmarks/", "examples/"))]
    assert metadata["Name"] == "wealtharena-env"
    assert metadata["Version"] == _version()
    assert metadata["Requires-Python"]
    assert metadata.get("License-Expression") == "MIT" or metadata.get("License") == "MIT"
    assert metadata.get_content_type() == "text/markdown" or "markdown" in (
        metadata["Description-Content-Type"] or ""
    )
    requires = metadata.get_all("Requires-Dist") or []
    core = [r for r in requires if "extra ==" not in r]
    assert sorted(re.split(r"[<>=!~ ;\[]", r)[0].lower() for r in core) == sorted(CORE), core
    assert re.search(r"^wealtharena = wealtharena_env\.cli:main$", entry_points, re.MULTILINE), entry_points


@slow
def test_sdist_contents(dist: dict[str, Path]):
    with tarfile.open(dist["sdist"]) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    for required in (
        "pyproject.toml",
        "README.md",
        "LICENSE",
        "CHANGELOG.md",
        "wealtharena_env/py.typed",
        "wealtharena_env/_version.py",
        "wealtharena_env/cli.py",
        "docs/results/arena_render.png",
        "mkdocs.yml",
        "tests/test_docs.py",
    ):
        assert required in names, f"{required} is missing from the sdist"
    assert not [n for n in names if re.search(r"__pycache__|\.py[cod]$|\.nb[ic]$|(^|/)\.venv", n)], (
        "junk in the sdist"
    )


def _fresh_venv(path: Path) -> tuple[Path, Path]:
    """A new virtual environment (no system site-packages); returns its python and bin directory."""
    _run([sys.executable, "-m", "venv", path], cwd=path.parent, timeout=300)
    bindir = path / ("Scripts" if os.name == "nt" else "bin")
    return bindir / ("python.exe" if os.name == "nt" else "python"), bindir


def _installed(python: Path, cwd: Path) -> set[str]:
    code = (
        "import importlib.util, sys; names = sys.argv[1:]; "
        "print(' '.join(n for n in names if importlib.util.find_spec(n) is not None))"
    )
    return set(_run([python, "-c", code, *NOT_CORE, *CORE], cwd=cwd).stdout.split())


@slow
def test_wheel_installs_in_a_fresh_venv_and_runs_the_demo(dist: dict[str, Path], tmp_path: Path):
    python, bindir = _fresh_venv(tmp_path / "venv")
    _run([python, "-m", "pip", "install", "--quiet", dist["wheel"]], cwd=tmp_path)
    installed = _installed(python, tmp_path)
    assert set(CORE) <= installed, f"core dependencies missing: {set(CORE) - installed}"
    assert not installed & set(NOT_CORE), f"a core install pulled in extras: {installed & set(NOT_CORE)}"
    where = _run(
        [
            python,
            "-c",
            "import wealtharena_env, pathlib; print(pathlib.Path(wealtharena_env.__file__).parent)",
        ],
        cwd=tmp_path,
    ).stdout.strip()
    assert Path(where).is_relative_to(tmp_path / "venv"), f"imported {where}, not the installed wheel"
    assert (Path(where) / "py.typed").exists()
    script = bindir / ("wealtharena.exe" if os.name == "nt" else "wealtharena")
    assert _run([script, "--version"], cwd=tmp_path).stdout.strip() == f"wealtharena-env {_version()}"
    # a fresh user cache: the first run says, once, that it compiles the kernels; the next run loads them
    cache_home = {
        "XDG_CACHE_HOME": str(tmp_path / "user-cache"),
        "LOCALAPPDATA": str(tmp_path / "user-cache"),
    }
    first = _run([script, "demo", "--episode-length", "20"], cwd=tmp_path, timeout=600, env=cache_home)
    demo = first.stdout
    assert "WealthArena/Arena-v0 demo" in demo and "aggressive_1" in demo, demo
    assert first.stderr.count("compiling its Numba kernels for this version, once") == 1, first.stderr
    second = _run([script, "demo", "--episode-length", "20"], cwd=tmp_path, timeout=600, env=cache_home)
    assert "compiling" not in second.stderr and second.stdout == demo, second.stderr
    listing = _run([python, "-m", "wealtharena_env", "list"], cwd=tmp_path).stdout
    for env_id in ("WealthArena/Arena-v0", "WealthArena/ImpactArena-v0", "WealthArena/Portfolio-v0"):
        assert env_id in listing, listing


@slow
def test_sdist_installs_in_a_fresh_venv(dist: dict[str, Path], tmp_path: Path):
    python, bindir = _fresh_venv(tmp_path / "venv")
    _run([python, "-m", "pip", "install", "--quiet", dist["sdist"]], cwd=tmp_path)
    installed = _installed(python, tmp_path)
    assert not installed & set(NOT_CORE), f"a core install pulled in extras: {installed & set(NOT_CORE)}"
    script = bindir / ("wealtharena.exe" if os.name == "nt" else "wealtharena")
    assert _run([script, "--version"], cwd=tmp_path).stdout.strip() == f"wealtharena-env {_version()}"
    smoke = (
        "import gymnasium, pettingzoo, wealtharena_env; "
        "env = pettingzoo.make('parallel', 'WealthArena/Arena-v0', n_assets=3, episode_length=5); "
        "obs, infos = env.reset(seed=0); "
        "single = gymnasium.make('WealthArena/Portfolio-v0', n_assets=3); "
        "print(len(obs), single.observation_space.shape, wealtharena_env.__version__)"
    )
    out = _run([python, "-c", smoke], cwd=tmp_path, timeout=600).stdout
    assert out.split()[0] == "5" and _version() in out, out


# ---------------------------------------------------------------------------------------------- workflows
def _workflow(name: str) -> dict:
    yaml = pytest.importorskip("yaml")
    data = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def _readme_test_command() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"```bash\n(pip install -e .*python -m pytest)\n```", readme)
    assert match, "README.md has no test command block"
    return match.group(1)


def test_ci_workflow_runs_the_readme_test_command():
    ci = _workflow("ci.yml")
    assert {"push", "pull_request", "workflow_call"} <= set(ci["on"])
    steps = [step.get("run", "") for job in ci["jobs"].values() for step in job["steps"]]
    assert _readme_test_command() in steps
    assert (ROOT / ".ci" / "run").read_text(encoding="utf-8").rstrip().endswith(_readme_test_command())
    torch = [s for s in steps if "torch" in s]
    assert torch == ["pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"], torch


def test_release_workflow_publishes_by_trusted_publishing_on_version_tags():
    release = _workflow("release.yml")
    assert release["on"] == {"push": {"tags": ["v*"]}}
    jobs = release["jobs"]
    assert jobs["test"]["uses"] == "./.github/workflows/ci.yml"
    runs = " ".join(step.get("run", "") for step in jobs["build"]["steps"])
    assert "python -m build" in runs and "twine check --strict" in runs and "_version.py" in runs
    publish = jobs["publish"]
    assert set(publish["needs"]) == {"test", "build"}
    assert publish["permissions"] == {"id-token": "write"}
    assert any(step.get("uses", "").startswith("pypa/gh-action-pypi-publish@") for step in publish["steps"])
    assert not any("password" in step.get("with", {}) for step in publish["steps"]), (
        "trusted publishing: no token"
    )


@slow
def test_readme_set_up_commands_in_order_in_one_fresh_venv(tmp_path: Path):
    """README's `pip install . && wealtharena demo`, then `pip install -e .` in the same venv (the editable
    install of its second command; its test extras change nothing here), then the package from another
    folder. Numba's cache once landed in site-packages/wealtharena_env, which survived the uninstall and
    shadowed the editable install (`cannot import name '__version__' ... (unknown location)`)."""
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=_copy_ignore)
    python, bindir = _fresh_venv(tmp_path / "venv")
    cache_home = tmp_path / "cache"
    env = {**_clean_env(), "XDG_CACHE_HOME": str(cache_home)}

    def run(args: list[str | Path], cwd: Path) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
        )
        assert proc.returncode == 0, f"{args}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        return proc

    script = bindir / ("wealtharena.exe" if os.name == "nt" else "wealtharena")
    run([python, "-m", "pip", "install", "--quiet", "."], cwd=source)
    assert "aggressive_1" in run([script, "demo", "--episode-length", "10"], cwd=source).stdout
    site = Path(
        run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp_path
        ).stdout.strip()
    )
    assert not list((site / "wealtharena_env").rglob("*.nb[ic]")), (
        "Numba cache files inside the installed package"
    )
    assert list(cache_home.rglob("*.nbi")), "the kernels were not cached in the per-user cache"
    run([python, "-m", "pip", "install", "--quiet", "-e", "."], cwd=source)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert run([script, "--version"], cwd=elsewhere).stdout.strip() == f"wealtharena-env {_version()}"
    where = run(
        [python, "-c", "import wealtharena_env; print(wealtharena_env.__file__)"], cwd=elsewhere
    ).stdout
    assert Path(where.strip()).parent == source / "wealtharena_env", where
