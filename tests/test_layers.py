"""DESIGN.md's layering, checked on the imports: data flows down, nothing flows up."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "wealtharena_env"

#: what each lower layer may import from the package (besides itself)
ALLOWED = {
    "kernels": {"wealtharena_env.kernels", "wealtharena_env.errors"},
    "data": {
        "wealtharena_env.data",
        "wealtharena_env.config",
        "wealtharena_env.errors",
        "wealtharena_env._files",
        "wealtharena_env._progress",
        "wealtharena_env.kernels",
    },
    "config": {"wealtharena_env.config", "wealtharena_env.errors"},
}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n == "wealtharena_env" or n.startswith("wealtharena_env.")}


def _layer_files(layer: str) -> list[Path]:
    folder = PACKAGE / layer
    return sorted(folder.rglob("*.py")) if folder.is_dir() else [PACKAGE / f"{layer}.py"]


def test_lower_layers_import_nothing_above_them():
    offenders = []
    for layer, allowed in ALLOWED.items():
        for path in _layer_files(layer):
            for name in _imports(path):
                if not any(name == a or name.startswith(a + ".") for a in allowed):
                    offenders.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert offenders == [], "\n".join(offenders)


def test_each_sources_module_names_its_layer():
    """One module of market sources (the Simulation's) and one of data loaders: no two modules named alike."""
    names = [p.stem for p in PACKAGE.rglob("*.py") if p.stem != "__init__"]
    assert "sources" not in names
    assert (PACKAGE / "market_sources.py").is_file() and (PACKAGE / "data" / "loaders.py").is_file()


def test_only_the_alpaca_adapter_imports_alpaca_py():
    """alpaca-py is the optional ``[live]`` extra: one module imports it, and only when it is used."""
    importers = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if (isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "alpaca")
        or (isinstance(node, ast.Import) and any(a.name.split(".")[0] == "alpaca" for a in node.names))
    ]
    assert set(importers) == {"live/alpaca.py"}
    import subprocess
    import sys

    code = (
        "import sys, wealtharena_env, wealtharena_env.live.runner, wealtharena_env.live.command, "
        "wealtharena_env.cli; print(any(m.split('.')[0] == 'alpaca' for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_nothing_below_the_live_layer_imports_it():
    """live/ sits above sim.py like the envs: only the CLI and the analytics (reports of journals)
    import it."""
    users = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "live" not in path.relative_to(PACKAGE).parts[:1]
        and any(n == "wealtharena_env.live" or n.startswith("wealtharena_env.live.") for n in _imports(path))
    }
    assert users <= {"cli.py", "analytics/report.py"}, users
