"""Where Numba caches the kernels' machine code: a per-user directory, never the installed package.

Numba's default cache sits beside the source, in ``site-packages/wealtharena_env/__pycache__``. pip does not
know those files, so uninstalling leaves the folder behind, and it then shadows a later editable install of
the same package (``cannot import name '__version__' from 'wealtharena_env' (unknown location)``) — the
README's two set-up commands broke each other. Numba's cache is also keyed by each function's own file only,
so a kernel compiled against an older version of a function in another file could be reused.

:func:`use_per_user_numba_cache` therefore points ``NUMBA_CACHE_DIR`` (unless the user set it) at
``<user cache>/wealtharena-env/numba/<version>-<digest>``, the digest being a hash of every kernel source
file: another version of the kernels compiles into a fresh directory, and nothing is ever deleted. The user
cache is ``$XDG_CACHE_HOME`` or ``~/.cache`` (Linux), ``~/Library/Caches`` (macOS), ``%LOCALAPPDATA%``
(Windows). A ``NUMBA_CACHE_DIR`` you set is used as it is (then clear it yourself after changing kernel
sources). The variable applies to the whole process, so other Numba code of the same process caches there too.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
from pathlib import Path
from typing import Any

from wealtharena_env._version import __version__

_PACKAGE = Path(__file__).resolve().parent


@functools.lru_cache(maxsize=1)
def kernels_digest() -> str:
    """SHA-256 (12 hex digits) of the paths and bytes of every package source file that compiles with
    Numba (and of the build switch ``WEALTHARENA_REFCOUNTED_KERNELS``, see ``kernels.REFCOUNTED_KERNELS``)."""
    digest = hashlib.sha256()
    if os.environ.get("WEALTHARENA_REFCOUNTED_KERNELS") == "1":  # kernels.REFCOUNTED_KERNELS: another build
        digest.update(b"refcounted kernels\0")
    for source in sorted(_PACKAGE.rglob("*.py")):
        text = source.read_bytes()
        if b"njit" in text:
            digest.update(source.relative_to(_PACKAGE).as_posix().encode())
            digest.update(text)
    return digest.hexdigest()[:12]


def user_cache_root() -> Path:
    """The platform's per-user cache directory."""
    if os.name == "nt":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def default_numba_cache_dir() -> Path:
    return user_cache_root() / "wealtharena-env" / "numba" / f"{__version__}-{kernels_digest()}"


#: Where the reference-counted build (``kernels.REFCOUNTED_KERNELS``) caches inside a ``NUMBA_CACHE_DIR`` that
#: is set: Numba's cache index does not tell the two builds apart, so they must never share a directory.
REFCOUNTED_SUBDIRECTORY = "refcounted-kernels"


def use_per_user_numba_cache() -> Path | None:
    """Set ``NUMBA_CACHE_DIR`` to :func:`default_numba_cache_dir` unless it is set; return the directory used
    (``None`` when the user's own setting stays). The reference-counted build
    (``WEALTHARENA_REFCOUNTED_KERNELS=1``) gets a digest of its own, or, under a set ``NUMBA_CACHE_DIR`` (a
    user's, or inherited from a parent process), its sub-directory ``REFCOUNTED_SUBDIRECTORY``."""
    user_dir = os.environ.get("NUMBA_CACHE_DIR")
    if user_dir:
        if os.environ.get("WEALTHARENA_REFCOUNTED_KERNELS") != "1" or Path(user_dir).name == (
            REFCOUNTED_SUBDIRECTORY
        ):
            return None
        path = Path(user_dir) / REFCOUNTED_SUBDIRECTORY
    else:
        path = default_numba_cache_dir()
    os.environ["NUMBA_CACHE_DIR"] = str(path)
    # Any: numba's config module sets its attributes from the environment at import, undeclared
    numba_config: Any = sys.modules.get("numba.core.config")
    if numba_config is not None:  # numba was imported first: it read the variable already
        numba_config.CACHE_DIR = str(path)
    return path


#: Roughly how long the first compile takes (2 cores, 2026-12): shown in the notice.
FIRST_COMPILE_ESTIMATE = "20-60 s"
_compile_state = {"state": "unchecked"}  # unchecked -> compiling (notice shown) -> done


def compiled_marker() -> Path:
    """The file that says this version's kernels were compiled into the Numba cache in use."""
    cache = os.environ.get("NUMBA_CACHE_DIR") or str(default_numba_cache_dir())
    return Path(cache) / f"wealtharena-{__version__}-{kernels_digest()}.compiled"


def announce_first_compile() -> bool:
    """Before the kernels are first used in this process: unless this version's kernels are already in the
    Numba cache, print one line to stderr saying that they compile once, and roughly how long it takes.

    Called by :class:`~wealtharena_env.sim.Simulation` before its first kernel call; :func:`mark_compiled` is
    called after its first step, so the notice shows once per version and cache directory. Returns whether
    this process is compiling (the notice was shown).
    """
    if _compile_state["state"] != "unchecked":
        return _compile_state["state"] == "compiling"
    marker = compiled_marker()
    if marker.exists():
        _compile_state["state"] = "done"
        return False
    _compile_state["state"] = "compiling"
    print(
        f"wealtharena-env: compiling its Numba kernels for this version, once ({FIRST_COMPILE_ESTIMATE}; "
        f"later runs load them from {marker.parent}) ...",
        file=sys.stderr,
        flush=True,
    )
    return True


def mark_compiled() -> None:
    """Record that this version's kernels are compiled (after a first step), so no later run shows the
    notice."""
    if _compile_state["state"] != "compiling":
        return
    _compile_state["state"] = "done"
    marker = compiled_marker()
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:  # a read-only cache: Numba cannot cache there either; the notice shows again next time
        pass
